/* Bundles as .tar.gz, with libarchive: the only file that includes archive.h.
 * Written the same way each time (file order, times and the gzip header are
 * functions of the bundle, not of the clock), and read back by fetch. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <capstan/file.h>

#include "bundle_internal.h"
#include "deploy.h"

static int add_entry(struct archive *a, const capstan_bundle *b, const capstan_bundle_file *f, time_t mtime)
{
	struct archive_entry *e = archive_entry_new();
	int ok;

	if (!e)
		return -1;
	archive_entry_set_pathname(e, f->path);
	archive_entry_set_size(e, (la_int64_t)f->data.len);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, f->mode);
	archive_entry_set_mtime(e, mtime, 0);
	/* tar -x as root on the host gives the files to the service's user by name. */
	if (b->chown) {
		if (b->uid != (uid_t)-1)
			archive_entry_set_uid(e, b->uid);
		if (b->gid != (gid_t)-1)
			archive_entry_set_gid(e, b->gid);
		if (b->owner[0])
			archive_entry_set_uname(e, b->owner);
		if (b->group[0])
			archive_entry_set_gname(e, b->group);
	}
	ok = archive_write_header(a, e) == ARCHIVE_OK &&
		archive_write_data(a, f->data.data, f->data.len) == (la_ssize_t)f->data.len;
	archive_entry_free(e);
	return ok ? 0 : -1;
}

/* The archive, gzip'd, into a buffer of its own (*out, *used: the caller's;
 * wiped and freed with free()). */
static int tar_build(capstan_ctx *ctx, const capstan_bundle *b, unsigned char **out, size_t *used)
{
	struct archive *a = archive_write_new();
	unsigned char *buf = NULL;
	size_t cap = 1024 * 1024;
	int rc = 0;

	*used = 0;
	for (size_t i = 0; i < b->count; i++)
		cap += b->files[i].data.len * 2 + 1024;
	if (!a || !(buf = malloc(cap))) {
		archive_write_free(a);
		return capstan_error_oom(ctx);
	}
	/* gzip's header holds no time ("!timestamp"): the same bundle is the same bytes. */
	if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_memory(a, buf, cap, used) != ARCHIVE_OK) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot start the archive: %s", archive_error_string(a));
		goto done;
	}
	for (size_t i = 0; rc == 0 && i < b->count; i++)
		if (add_entry(a, b, &b->files[i], (time_t)b->mtime) < 0)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot archive '%s': %s", b->files[i].path,
				archive_error_string(a));
	if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot finish the archive: %s", archive_error_string(a));
done:
	archive_write_free(a);
	if (rc < 0) {
		capstan_wipe(buf, *used);
		free(buf);
		buf = NULL;
	}
	*out = buf;
	return rc;
}

int capstan_bundle_write_tar(capstan_ctx *ctx, const capstan_bundle *b, const char *path)
{
	capstan_file *f = NULL;
	unsigned char *buf = NULL;
	size_t used = 0;
	int rc;

	/* Into memory first: the file is then written atomically (or to stdout). */
	if ((rc = tar_build(ctx, b, &buf, &used)) < 0)
		return rc;
	/* The archive holds keys: 0600, and recorded before they leave, but only
	 * once the target is known to take them (a link or a device is refused
	 * by capstan_file_begin, and a refusal changes nothing). */
	if ((rc = capstan_file_begin(&f, ctx, path, 0600)) == 0) {
		if ((rc = capstan_bundle_record_keys(ctx, b, path)) < 0)
			capstan_file_abort(f);
		else
			rc = capstan_file_commit(f, buf, used);
	}
	capstan_wipe(buf, used);
	free(buf);
	return rc;
}

int capstan_bundle_tar_memory(capstan_buf *out, capstan_ctx *ctx, const capstan_bundle *b, const char *where)
{
	unsigned char *buf = NULL;
	size_t used = 0;
	int rc;

	if ((rc = tar_build(ctx, b, &buf, &used)) < 0)
		return rc;
	/* The keys leave once recorded, as they do to a file. */
	if ((rc = capstan_bundle_record_keys(ctx, b, where)) == 0)
		rc = capstan_buf_append(ctx, out, buf, used);
	capstan_wipe(buf, used);
	free(buf);
	return rc;
}

/* Reading a bundle back (fetch): what a server sent is not trusted until its
 * MANIFEST says so, and a tar entry that is anything but a plain file of the
 * flat layout is refused before its data is read. */
#define MAX_READ_FILES 4096
#define MAX_READ_BYTES (256u * 1024 * 1024)

static int entry_refused(capstan_ctx *ctx, const char *path, const char *why)
{
	return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's tar entry '%s' is refused: %s", path ? path : "(no name)",
		why);
}

/* Checks one entry's kind, name and mode; 0 when it may be read. */
static int entry_check(capstan_ctx *ctx, struct archive_entry *e, const char *path)
{
	unsigned perm = (unsigned)archive_entry_perm(e);

	if (!path || !*path)
		return entry_refused(ctx, path, "it has no name");
	if (archive_entry_filetype(e) == AE_IFLNK || archive_entry_symlink(e))
		return entry_refused(ctx, path, "a symbolic link");
	if (archive_entry_hardlink(e))
		return entry_refused(ctx, path, "a hard link");
	if (archive_entry_filetype(e) != AE_IFREG)
		return entry_refused(ctx, path, "not a regular file");
	if (path[0] == '/')
		return entry_refused(ctx, path, "an absolute path");
	if (strstr(path, ".."))
		return entry_refused(ctx, path, "a '..' in its name");
	if (strchr(path, '/'))
		return entry_refused(ctx, path, "a bundle is flat: no directories");
	if (perm & 07022)
		return entry_refused(ctx, path, "its mode is set-id, sticky or writable by others");
	if (archive_entry_size(e) < 0 || (uint64_t)archive_entry_size(e) > MAX_READ_BYTES)
		return entry_refused(ctx, path, "too large");
	return 0;
}

static int read_entry(capstan_ctx *ctx, struct archive *a, struct archive_entry *e, capstan_bundle *b, size_t *total)
{
	const char *path = archive_entry_pathname(e), *uname = archive_entry_uname(e), *gname = archive_entry_gname(e);
	size_t size;
	unsigned char *data;
	la_ssize_t got;
	int rc;

	if ((rc = entry_check(ctx, e, path)) < 0)
		return rc;
	size = (size_t)archive_entry_size(e);
	if (b->count >= MAX_READ_FILES || size > MAX_READ_BYTES - *total)
		return entry_refused(ctx, path, "the bundle is too large");
	*total += size;
	if (!(data = malloc(size ? size : 1)))
		return capstan_error_oom(ctx);
	got = archive_read_data(a, data, size);
	if (got != (la_ssize_t)size)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's tar entry '%s' is cut short: %s", path,
			got < 0 ? archive_error_string(a) : "fewer bytes than its header says");
	else
		rc = capstan_bundle_add(ctx, b, path, (unsigned)archive_entry_perm(e) & 0777, data, size);
	capstan_wipe(data, size);
	free(data);
	/* The owner the server named (the service's owner:/group:), by name. */
	if (rc == 0 && uname && *uname && !b->owner[0])
		snprintf(b->owner, sizeof(b->owner), "%s", uname);
	if (rc == 0 && gname && *gname && !b->group[0])
		snprintf(b->group, sizeof(b->group), "%s", gname);
	return rc;
}

/* As root, the files go to the owner and group the server named, found by
 * name on this machine; as anyone else, they stay the caller's. */
static int resolve_read_owner(capstan_ctx *ctx, capstan_bundle *b)
{
	struct passwd *pw;
	struct group *gr;

	if (geteuid() != 0 || (!b->owner[0] && !b->group[0]))
		return 0;
	pw = b->owner[0] ? getpwnam(b->owner) : NULL;
	gr = b->group[0] ? getgrnam(b->group) : NULL;
	if ((b->owner[0] && !pw) || (b->group[0] && !gr))
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "the bundle's files are %s's: no such %s on this machine",
			b->owner[0] && !pw ? b->owner : b->group, b->owner[0] && !pw ? "user" : "group");
	b->uid = pw ? pw->pw_uid : (uid_t)-1;
	b->gid = gr ? gr->gr_gid : pw ? pw->pw_gid : (gid_t)-1;
	b->chown = 1;
	return 0;
}

int capstan_bundle_from_tar(capstan_bundle **out, capstan_ctx *ctx, const void *data, size_t len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	capstan_bundle *b = calloc(1, sizeof(*b));
	size_t total = 0;
	int rc = 0, r;

	*out = NULL;
	if (!a || !b) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	b->fetched = 1;
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK || archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the bundle is not a tar.gz: %s", archive_error_string(a));
		goto done;
	}
	while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		rc = read_entry(ctx, a, e, b, &total);
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the bundle is not a whole tar.gz: %s", archive_error_string(a));
	if (rc == 0 && (rc = capstan_bundle_check_manifest(ctx, b)) == 0)
		rc = resolve_read_owner(ctx, b);
done:
	archive_read_free(a);
	if (rc == 0)
		*out = b, b = NULL;
	capstan_bundle_free(b);
	return rc;
}
