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

static int write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int capstan_file_write(capstan_ctx *ctx, const char *path, const void *data, size_t len, unsigned mode)
{
	char *copy = NULL, *tmp = NULL, *dir;
	struct stat sb;
	int fd = -1, rc = 0;

	if (strcmp(path, "-") == 0)
		return write_all(STDOUT_FILENO, data, len) < 0 ?
			capstan_error(ctx, CAPSTAN_ERROR, "cannot write to standard output: %s", strerror(errno)) : 0;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is a directory", path);
	if (!(copy = strdup(path)))
		return capstan_error_oom(ctx);
	dir = dirname(copy);
	/* The temporary file lives beside the target so rename() is atomic, and is
	 * created 0600 by mkstemp, so a key is never readable by others, even briefly. */
	if (!(tmp = capstan_aprintf("%s/.capstan-tmp-XXXXXX", dir))) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot write in '%s': %s", dir, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto done;
	}
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot write '%s': %s", path, strerror(errno));
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot write '%s': %s", path, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot replace '%s': %s", path, strerror(errno));
		goto done;
	}
	free(tmp);
	tmp = NULL;
	fsync_dir(dir);
done:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(copy);
	return rc;
}

int capstan_file_read(capstan_ctx *ctx, capstan_buf *out, const char *path, size_t max_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *buf = NULL;
	size_t len = 0;
	struct stat sb;
	int rc = 0;

	if (fd < 0)
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is not a regular file", path);
		goto done;
	}
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
	buf = NULL;
done:
	free(buf);
	close(fd);
	return rc;
}
