/* Buffers and secrets: everything the library hands out is wiped when freed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer.h"

#define MAX_SECRET_LEN 4096

/* explicit_bzero (glibc 2.25) is a memset the compiler may not drop as dead. */
void capstan_wipe(void *p, size_t len)
{
	if (p && len)
		explicit_bzero(p, len);
}

void capstan_buf_free(capstan_buf *buf)
{
	if (!buf)
		return;
	capstan_wipe(buf->data, buf->len);
	free(buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}

int capstan_buf_append(capstan_ctx *ctx, capstan_buf *buf, const void *data, size_t len)
{
	/* cap 0 with data: allocated by someone else, exactly len bytes as far as we know. */
	size_t have = buf->data ? (buf->cap > buf->len ? buf->cap : buf->len) : 0, want, size;
	unsigned char *grown;

	if (len > SIZE_MAX / 2 - buf->len - 1)
		return capstan_error_oom(ctx);
	want = buf->len + len + 1;
	if (want > have) {
		/* Doubling, so that n appends cost O(n); by hand rather than realloc,
		 * which would leave a copy of secret bytes behind. */
		size = have * 2 > want ? have * 2 : want;
		if (!(grown = malloc(size)))
			return capstan_error_oom(ctx);
		if (buf->len)
			memcpy(grown, buf->data, buf->len);
		capstan_wipe(buf->data, buf->len);
		free(buf->data);
		buf->data = grown;
		buf->cap = size;
	}
	if (len)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

int capstan_buf_set(capstan_ctx *ctx, capstan_buf *buf, const void *data, size_t len)
{
	capstan_buf_free(buf);
	return capstan_buf_append(ctx, buf, data, len);
}

int capstan_secret_set(capstan_secret *out, capstan_ctx *ctx, const char *s, size_t len)
{
	char *copy;

	if (len > MAX_SECRET_LEN)
		return capstan_error(ctx, CAPSTAN_EINVALID, "secret longer than %d bytes", MAX_SECRET_LEN);
	if (!(copy = malloc(len + 1)))
		return capstan_error_oom(ctx);
	memcpy(copy, s, len);
	copy[len] = '\0';
	capstan_secret_free(out);
	out->data = copy;
	out->len = len;
	return 0;
}

int capstan_secret_from_file(capstan_secret *out, capstan_ctx *ctx, const char *path)
{
	char line[MAX_SECRET_LEN + 2], iobuf[BUFSIZ];
	size_t len;
	struct stat sb;
	FILE *f;
	/* A pipe (a shell's <(pass show x)) is a fine way to hand over a secret:
	 * one with no writer reads as empty at once. A device is not. */
	int rc, empty, fd = capstan_input_open(ctx, path, 1, &sb);

	if (fd < 0)
		return fd;
	/* What was opened, not what the name pointed to a moment before: a file
	 * others could read has leaked its secret, one they could write gives
	 * them the choice of it. (A pipe, <(...), is the user's and 0600.) */
	if ((rc = capstan_private_check(ctx, CAPSTAN_FIELD_NONE, "secret file", path, &sb, 1)) < 0) {
		close(fd);
		return rc;
	}
	if (!(f = fdopen(fd, "r"))) {
		close(fd);
		return capstan_error_oom(ctx);
	}
	/* stdio's own buffer would keep a copy of the secret in freed memory. */
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	empty = !fgets(line, sizeof(line), f);
	fclose(f);
	capstan_wipe(iobuf, sizeof(iobuf));
	if (empty)
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is empty", path);
	len = strcspn(line, "\r\n");
	if (len == 0) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the first line of '%s' is empty", path);
	} else if (len > MAX_SECRET_LEN) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the first line of '%s' is longer than %d bytes",
			path, MAX_SECRET_LEN);
	} else {
		rc = capstan_secret_set(out, ctx, line, len);
	}
	capstan_wipe(line, sizeof(line));
	return rc;
}

void capstan_secret_free(capstan_secret *s)
{
	if (!s)
		return;
	capstan_wipe(s->data, s->len);
	free(s->data);
	s->data = NULL;
	s->len = 0;
}
