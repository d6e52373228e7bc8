/* Writing a bundle into a directory: a new directory beside the target,
 * every file fsynced, then swapped in with one rename (RENAME_EXCHANGE when
 * the target exists), so a deploy script never sees half a bundle. */
#define _GNU_SOURCE /* renameat2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle_internal.h"
#include "base/base.h"

/* Removes a directory this file made (no subdirectories in a bundle),
 * through a descriptor opened without following a link: a planted symlink
 * is never a way into somebody else's files. */
static void remove_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(fd, e->d_name, 0);
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	rmdir(dir);
}

static int make_parents(capstan_ctx *ctx, const char *dir)
{
	char *copy = strdup(dir);
	int rc = 0;

	if (!copy)
		return capstan_error_oom(ctx);
	for (char *p = copy + 1; *p && rc == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		/* 0755 whatever the umask (capstan's is 077): the service's user must
		 * reach its bundle; the files inside keep their own modes. */
		if (mkdir(copy, 0755) == 0 ? chmod(copy, 0755) < 0 : errno != EEXIST)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot create '%s': %s", copy, strerror(errno));
		*p = '/';
	}
	free(copy);
	return rc;
}

static int write_files(capstan_ctx *ctx, const capstan_bundle *b, const char *tmp)
{
	for (size_t i = 0; i < b->count; i++) {
		const capstan_bundle_file *f = &b->files[i];
		char *path = capstan_aprintf("%s/%s", tmp, f->path);
		int fd = path ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, f->mode) : -1, rc = 0;
		if (fd < 0 || (b->chown && fchown(fd, b->uid, b->gid) < 0) || fchmod(fd, f->mode) < 0 ||
		    capstan_write_all(fd, f->data.data, f->data.len) < 0 || fsync(fd) < 0)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot write '%s': %s", path ? path : f->path, strerror(errno));
		if (fd >= 0 && close(fd) < 0 && rc == 0)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot write '%s': %s", path, strerror(errno));
		free(path);
		if (rc < 0)
			return rc;
	}
	return 0;
}

#define TMP_PREFIX ".capstan-bundle-"

/*
 * A bundle run killed before it finished leaves its ".capstan-bundle-PID-*"
 * directory beside the target, keys and all. The next run removes those whose
 * process is gone; a live one is another run at work, and is left alone.
 */
static void remove_stale_tmp(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char *end, *path;
		struct stat sb;
		long pid;
		if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(TMP_PREFIX), &end, 10);
		if (end == e->d_name + strlen(TMP_PREFIX) || *end != '-' || pid <= 0 ||
		    (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		/* Only a real directory of ours: not a link, not another user's. */
		if ((path = capstan_aprintf("%s/%s", parent, e->d_name)) && lstat(path, &sb) == 0 &&
		    S_ISDIR(sb.st_mode) && sb.st_uid == geteuid())
			remove_dir(path);
		free(path);
	}
	if (d)
		closedir(d);
}

#define MANIFEST_HEAD CAPSTAN_MANIFEST_HEAD

/*
 * The swap replaces the whole directory: only an empty one, or one holding a
 * bundle capstan wrote (a regular-file MANIFEST whose first line is ours), is
 * replaced; anything else is somebody's files, not ours to throw away.
 */
static int check_replaceable(capstan_ctx *ctx, const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), fd = -1, empty = 1, ours = 0;
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	char head[sizeof(MANIFEST_HEAD) - 1];
	struct dirent *e;
	struct stat sb;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot read '%s': %s", dir, strerror(errno));
	}
	while (empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	if (!empty && (fd = openat(dfd, "MANIFEST", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) >= 0)
		ours = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && read(fd, head, sizeof(head)) == (ssize_t)sizeof(head) &&
			memcmp(head, MANIFEST_HEAD, sizeof(head)) == 0;
	if (fd >= 0)
		close(fd);
	closedir(d);
	if (empty || ours)
		return 0;
	return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is a directory that holds files but no capstan MANIFEST:"
		" a bundle replaces the whole directory, so it is written only into an empty one or over an earlier bundle",
		dir);
}

int capstan_bundle_check_dir(capstan_ctx *ctx, const char *dir)
{
	struct stat sb;

	if (lstat(dir, &sb) < 0)
		return 0;
	if (!S_ISDIR(sb.st_mode))
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' exists and is not a directory", dir);
	return check_replaceable(ctx, dir);
}

int capstan_bundle_write_dir(capstan_ctx *ctx, const capstan_bundle *b, const char *dir)
{
	char *copy = strdup(dir), *parent, *tmp = NULL;
	struct stat sb;
	int rc, exists, tmp_fd = -1;

	if (!copy)
		return capstan_error_oom(ctx);
	parent = dirname(copy);
	if ((rc = make_parents(ctx, dir)) < 0)
		goto done;
	exists = lstat(dir, &sb) == 0;
	if (exists && !S_ISDIR(sb.st_mode)) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' exists and is not a directory", dir);
		goto done;
	}
	if (exists && (rc = check_replaceable(ctx, dir)) < 0)
		goto done;
	/* Another user who can write where the bundle goes could plant links there. */
	if (stat(parent, &sb) == 0 && sb.st_uid != geteuid() && sb.st_uid != 0 && !(sb.st_mode & S_ISVTX)) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "'%s' belongs to uid %u: a bundle is not written where another"
			" user could plant links (put it beside, not inside, a directory the service owns)", parent,
			(unsigned)sb.st_uid);
		goto done;
	}
	remove_stale_tmp(parent);
	if (!b->fetched && (rc = capstan_bundle_record_keys(ctx, b, dir)) < 0)
		goto done;
	/* Beside the target, so the swap is a rename within one file system. */
	if (!(tmp = capstan_aprintf("%s/" TMP_PREFIX "%ld-XXXXXX", parent, (long)getpid())) || !mkdtemp(tmp)) {
		rc = tmp ? capstan_error(ctx, CAPSTAN_ERROR, "cannot write in '%s': %s", parent, strerror(errno)) :
			capstan_error_oom(ctx);
		free(tmp);
		tmp = NULL;
		goto done;
	}
	/* The service's user owns its bundle directory, so it can read what is
	 * inside; changed through a descriptor, never through a path a link could replace. */
	if ((tmp_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fchmod(tmp_fd, 0755) < 0 ||
	    (b->chown && fchown(tmp_fd, b->uid, b->gid) < 0) ||
	    (rc = write_files(ctx, b, tmp)) < 0 || capstan_fsync_dir(tmp) < 0) {
		rc = rc < 0 ? rc : capstan_error(ctx, CAPSTAN_ERROR, "cannot write in '%s': %s", tmp, strerror(errno));
		goto done;
	}
	if (exists ? renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) < 0 : rename(tmp, dir) < 0) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot put the bundle in place at '%s': %s", dir, strerror(errno));
		goto done;
	}
	capstan_fsync_dir(parent);
	if (!exists) {
		free(tmp);
		tmp = NULL; /* renamed into place: nothing left to remove */
	}
	rc = 0;
done:
	if (tmp_fd >= 0)
		close(tmp_fd);
	if (tmp)
		remove_dir(tmp); /* the failed new bundle, or the old one after the swap */
	free(tmp);
	free(copy);
	return rc;
}
