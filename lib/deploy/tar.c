/* Bundles as .tar.gz, with libarchive: the only file that includes archive.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <capstan/file.h>

#include "bundle_internal.h"
#include "deploy.h"

static int add_entry(struct archive *a, const capstan_bundle *b, const capstan_bundle_file *f, time_t now)
{
	struct archive_entry *e = archive_entry_new();
	int ok;

	if (!e)
		return -1;
	archive_entry_set_pathname(e, f->path);
	archive_entry_set_size(e, (la_int64_t)f->data.len);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, f->mode);
	archive_entry_set_mtime(e, now, 0);
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
	time_t now = time(NULL);
	int rc = 0;

	*used = 0;
	for (size_t i = 0; i < b->count; i++)
		cap += b->files[i].data.len * 2 + 1024;
	if (!a || !(buf = malloc(cap))) {
		archive_write_free(a);
		return capstan_error_oom(ctx);
	}
	if (archive_write_add_filter_gzip(a) != ARCHIVE_OK || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_memory(a, buf, cap, used) != ARCHIVE_OK) {
		rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot start the archive: %s", archive_error_string(a));
		goto done;
	}
	for (size_t i = 0; rc == 0 && i < b->count; i++)
		if (add_entry(a, b, &b->files[i], now) < 0)
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
