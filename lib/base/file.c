/* Files written atomically and read with a size cap. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capstan/file.h>

#include "ctx.h"
#include "util.h"

struct capstan_file {
	capstan_ctx *ctx;
	char *path;
	char *dir;
	char *tmp;      /* NULL for standard output */
	int fd;
};

void capstan_file_abort(capstan_file *f)
{
	if (!f)
		return;
	if (f->tmp) {
		if (f->fd >= 0)
			close(f->fd);
		unlink(f->tmp);
	}
	free(f->tmp);
	free(f->dir);
	free(f->path);
	free(f);
}

const char *capstan_file_temp(const capstan_file *f)
{
	return f->tmp;
}

int capstan_file_begin(capstan_file **out, capstan_ctx *ctx, const char *path, unsigned mode)
{
	capstan_file *f = calloc(1, sizeof(*f));
	struct stat sb;
	char *copy;

	if (!f || !(f->path = strdup(path)) || !(copy = strdup(path))) {
		capstan_file_abort(f);
		return capstan_error_oom(ctx);
	}
	f->ctx = ctx;
	f->fd = STDOUT_FILENO;
	f->dir = strdup(dirname(copy));
	free(copy);
	if (!f->dir) {
		capstan_file_abort(f);
		return capstan_error_oom(ctx);
	}
	if (strcmp(path, "-") == 0) {
		*out = f;
		return 0;
	}
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		capstan_file_abort(f);
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is a directory", path);
	}
	/* A link planted in a shared directory (/tmp) points where its owner
	 * chose: whether the caller meant the link or its target, refuse it. */
	if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
		capstan_file_abort(f);
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is a symbolic link: give the file itself", path);
	}
	/* A file is replaced whole by a rename: a device or a pipe would be
	 * replaced too (root once turned /dev/null into a file that way). */
	if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		capstan_file_abort(f);
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is not a regular file (a device or a pipe): give a file,"
			" or - for standard output", path);
	}
	/* The temporary file lives beside the target so rename() is atomic, and is
	 * created 0600 by mkstemp, so a key is never readable by others, even briefly. */
	if (!(f->tmp = capstan_aprintf("%s/.capstan-tmp-XXXXXX", f->dir))) {
		capstan_file_abort(f);
		return capstan_error_oom(ctx);
	}
	if ((f->fd = mkstemp(f->tmp)) < 0) {
		int rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot write in '%s': %s", f->dir, strerror(errno));
		free(f->tmp);
		f->tmp = NULL;
		capstan_file_abort(f);
		return rc;
	}
	if (fchmod(f->fd, mode) < 0) {
		int rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot chmod '%s': %s", f->tmp, strerror(errno));
		capstan_file_abort(f);
		return rc;
	}
	*out = f;
	return 0;
}

int capstan_file_append(capstan_file *f, const void *data, size_t len)
{
	if (capstan_write_all(f->fd, data, len) == 0)
		return 0;
	if (!f->tmp)
		return capstan_error(f->ctx, CAPSTAN_ERROR, "cannot write to standard output: %s", strerror(errno));
	return capstan_error(f->ctx, CAPSTAN_ERROR, "cannot write '%s': %s", f->path, strerror(errno));
}

int capstan_file_commit(capstan_file *f, const void *data, size_t len)
{
	capstan_ctx *ctx = f->ctx;
	int rc = 0, fd = f->fd;

	if (!f->tmp) {
		if (capstan_write_all(STDOUT_FILENO, data, len) < 0)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot write to standard output: %s", strerror(errno));
		capstan_file_abort(f);
		return rc;
	}
	f->fd = -1; /* closed here, whatever happens */
	if (capstan_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot write '%s': %s", f->path, strerror(errno));
		close(fd);
	} else if (close(fd) < 0) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot write '%s': %s", f->path, strerror(errno));
	} else if (rename(f->tmp, f->path) < 0) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot replace '%s': %s", f->path, strerror(errno));
	} else {
		free(f->tmp);
		f->tmp = NULL; /* renamed: nothing left to remove */
		capstan_fsync_dir(f->dir);
	}
	capstan_file_abort(f);
	return rc;
}

int capstan_file_write(capstan_ctx *ctx, const char *path, const void *data, size_t len, unsigned mode)
{
	capstan_file *f = NULL;
	int rc;

	if ((rc = capstan_file_begin(&f, ctx, path, mode)) < 0)
		return rc;
	return capstan_file_commit(f, data, len);
}

int capstan_input_open(capstan_ctx *ctx, const char *path, int allow_pipe, struct stat *sb)
{
	/* O_NONBLOCK: opening a FIFO nobody writes to would wait forever. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), rc;

	if (fd < 0)
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, sb) < 0 || !(S_ISREG(sb->st_mode) || (allow_pipe && S_ISFIFO(sb->st_mode))))
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is not a regular file%s", path, allow_pipe ? " or a pipe" : "");
	else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot read '%s': %s", path, strerror(errno));
	else
		return fd;
	close(fd);
	return rc;
}

int capstan_file_read(capstan_buf *out, capstan_ctx *ctx, const char *path, size_t max_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct stat sb;
	int rc = 0, fd = capstan_input_open(ctx, path, 0, &sb);

	if (fd < 0)
		return fd;
	if ((size_t)sb.st_size > max_len) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is larger than %zu bytes", path, max_len);
		goto done;
	}
	if (!(buf = malloc((size_t)sb.st_size + 1))) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot read '%s': %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	out->data = buf;
	out->len = len;
	out->cap = 0;
	buf = NULL;
done:
	free(buf);
	close(fd);
	return rc;
}
