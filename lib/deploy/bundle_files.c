/* A bundle's file list: what the builders (bundle.c, bundle_extras.c) add to,
 * what the writers (bundle_write.c, tar.c) and callers read, and its freeing. */
#include <stdlib.h>
#include <string.h>

#include <capstan/bundle.h>
#include <capstan/parse.h>
#include <capstan/template.h>

#include "base/base.h"
#include "bundle_internal.h"

void capstan_bundle_free(capstan_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->count; i++) {
		free(b->files[i].path);
		capstan_buf_free(&b->files[i].data);
	}
	free(b->files);
	if (b->new_password)
		capstan_wipe(b->new_password, strlen(b->new_password));
	free(b->new_password);
	capstan_strlist_free(&b->warnings);
	free(b->certs);
	free(b);
}

size_t capstan_bundle_count(const capstan_bundle *b) { return b->count; }
const char *capstan_bundle_path(const capstan_bundle *b, size_t i) { return b->files[i].path; }
size_t capstan_bundle_warning_count(const capstan_bundle *b) { return b->warnings.count; }
const char *capstan_bundle_warning(const capstan_bundle *b, size_t i) { return b->warnings.items[i]; }
const char *capstan_bundle_certs(const capstan_bundle *b) { return b->certs ? b->certs : ""; }
int64_t capstan_bundle_crl_refresh_at(const capstan_bundle *b) { return b->crl_refresh_at; }

int capstan_bundle_add(capstan_ctx *ctx, capstan_bundle *b, const char *path, unsigned mode, const void *data,
	size_t len)
{
	capstan_bundle_file *f;
	const char *why = NULL;

	/* File names come from templates too: no paths, nothing hidden. */
	if (capstan_check_identifier(path, &why) < 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "bad bundle file name '%s': %s", path, why);
	for (size_t i = 0; i < b->count; i++)
		if (strcmp(b->files[i].path, path) == 0)
			return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle would have two files named '%s'", path);
	if (b->count == b->alloc) {
		size_t n = b->alloc ? b->alloc * 2 : 16;
		capstan_bundle_file *files = realloc(b->files, n * sizeof(*files));
		if (!files)
			return capstan_error_oom(ctx);
		b->files = files;
		b->alloc = n;
	}
	f = &b->files[b->count];
	memset(f, 0, sizeof(*f));
	f->mode = mode;
	if (!(f->path = strdup(path)) || capstan_buf_append(ctx, &f->data, data, len) < 0) {
		free(f->path);
		capstan_buf_free(&f->data);
		return capstan_error_oom(ctx);
	}
	b->count++;
	return 0;
}

int capstan_bundle_put_path(capstan_tvalue *map, const char *key, const char *dir, const char *file)
{
	char *path = capstan_aprintf("%s/%s", dir, file);
	int rc = path ? capstan_tv_put_string(map, key, path) : -1;

	free(path);
	return rc;
}
