/* A bundle's file list: what the builders (bundle.c, bundle_extras.c) add to,
 * what the writers (bundle_write.c, tar.c) and callers read, and its freeing;
 * the audit rows of the keys it holds, which the writers record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/bundle.h>
#include <capstan/parse.h>
#include <capstan/template.h>

#include "base/base.h"
#include "bundle_internal.h"
#include "ca/ca.h"
#include "crypto/crypto.h"
#include "deploy.h"

void capstan_bundle_free(capstan_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->count; i++) {
		free(b->files[i].path);
		capstan_buf_free(&b->files[i].data);
	}
	free(b->files);
	free(b->names);
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

/* The bundle's file names in an open-addressing table of indexes + 1 (0:
 * free), kept at most half full: a bundle has files per certificate, and a
 * scan of the names before each added one was quadratic. */
static size_t name_hash(const char *s)
{
	size_t h = 14695981039346656037u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

/* The slot holding PATH, or the free slot where it would go; NULL when there is no table yet. */
static size_t *name_slot(const capstan_bundle *b, const char *path)
{
	size_t i;

	if (!b->names_size)
		return NULL;
	for (i = name_hash(path) & (b->names_size - 1); b->names[i]; i = (i + 1) & (b->names_size - 1))
		if (strcmp(b->files[b->names[i] - 1].path, path) == 0)
			return &b->names[i];
	return &b->names[i];
}

static int index_name(capstan_ctx *ctx, capstan_bundle *b, size_t file)
{
	if (2 * (file + 1) > b->names_size) {
		size_t size = b->names_size ? 2 * b->names_size : 64;
		size_t *old = b->names, old_size = b->names_size;
		if (!(b->names = calloc(size, sizeof(*b->names)))) {
			b->names = old;
			return capstan_error_oom(ctx);
		}
		b->names_size = size;
		for (size_t i = 0; i < old_size; i++)
			if (old[i])
				*name_slot(b, b->files[old[i] - 1].path) = old[i];
		free(old);
	}
	*name_slot(b, b->files[file].path) = file + 1;
	return 0;
}

int capstan_bundle_add(capstan_ctx *ctx, capstan_bundle *b, const char *path, unsigned mode, const void *data,
	size_t len)
{
	capstan_bundle_file *f;
	const char *why = NULL;

	/* File names come from templates too: no paths, nothing hidden. */
	if (capstan_check_identifier(path, &why) < 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "bad bundle file name '%s': %s", path, why);
	if (name_slot(b, path) && *name_slot(b, path))
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
	return index_name(ctx, b, b->count - 1);
}

int capstan_bundle_put_path(capstan_tvalue *map, const char *key, const char *dir, const char *file)
{
	char *path = capstan_aprintf("%s/%s", dir, file);
	int rc = path ? capstan_tv_put_string(map, key, path) : -1;

	free(path);
	return rc;
}

/* One row per certificate whose key the bundle holds (every one of its
 * "NAME SERIAL NOT_AFTER" lines; the "@trust" line holds none), all in one
 * transaction committed before the first byte is written. */
int capstan_bundle_record_keys(capstan_ctx *ctx, const capstan_bundle *b, const char *where)
{
	const char *line = b->certs ? b->certs : "";
	char name[256], serial[128], *detail;
	int rc;

	if (!(detail = capstan_aprintf("bundle of service %s, format key%s, to %s", b->service,
		      b->keystores ? " and pkcs12" : "", strcmp(where, "-") == 0 ? "stdout" : where)))
		return capstan_error_oom(ctx);
	if ((rc = capstan_store_begin(ctx)) < 0)
		goto done;
	for (; rc == 0 && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
		if (*line == '@' || sscanf(line, "%255s %127s", name, serial) != 2)
			continue;
		rc = capstan_audit_record(ctx, "export-key", b->env_name, name, serial, detail);
	}
	if (rc == 0)
		rc = capstan_store_commit(ctx); /* rolls back itself on failure */
	else
		capstan_store_rollback(ctx);
done:
	free(detail);
	return rc;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int capstan_bundle_digest(capstan_ctx *ctx, const capstan_bundle *b, const char *params, char hex[65])
{
	capstan_buf all = CAPSTAN_BUF_INIT;
	unsigned char md[CAPSTAN_SHA256_LEN];
	char head[64];
	int rc;

	/* Each part length-prefixed: no two different inputs run together the same. */
	snprintf(head, sizeof(head), "%zu:", strlen(params));
	if ((rc = capstan_buf_append(ctx, &all, head, strlen(head))) < 0 ||
	    (rc = capstan_buf_append(ctx, &all, params, strlen(params) + 1)) < 0 ||
	    (rc = capstan_buf_append(ctx, &all, b->certs ? b->certs : "", b->certs ? strlen(b->certs) + 1 : 1)) < 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < b->count; i++) {
		const capstan_bundle_file *f = &b->files[i];
		if (f->mode != 0644 || strcmp(f->path, "MANIFEST") == 0 || has_suffix(f->path, ".p12") ||
		    has_suffix(f->path, ".jks"))
			continue;
		snprintf(head, sizeof(head), "%zu:%o:%zu:", strlen(f->path), f->mode, f->data.len);
		if ((rc = capstan_buf_append(ctx, &all, head, strlen(head))) == 0 &&
		    (rc = capstan_buf_append(ctx, &all, f->path, strlen(f->path))) == 0)
			rc = capstan_buf_append(ctx, &all, f->data.data, f->data.len);
	}
	if (rc == 0 && (rc = capstan_sha256(ctx, all.data, all.len, md)) == 0)
		capstan_hex_encode(hex, md, CAPSTAN_SHA256_LEN);
done:
	capstan_buf_free(&all);
	return rc;
}

/* One "SHA256  FILE" line of a MANIFEST: the file it names must be in the
 * bundle, listed once, with that digest. */
static int manifest_line(capstan_ctx *ctx, const capstan_bundle *b, const char *line, size_t len,
	unsigned char *listed)
{
	unsigned char want[CAPSTAN_SHA256_LEN], md[CAPSTAN_SHA256_LEN];
	char hex[65], name[256];
	size_t *slot;
	int rc;

	if (len < 67 || len - 66 >= sizeof(name) || line[64] != ' ' || line[65] != ' ')
		return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's MANIFEST has a line that is not 'SHA256  FILE'");
	memcpy(hex, line, 64);
	hex[64] = '\0';
	memcpy(name, line + 66, len - 66);
	name[len - 66] = '\0';
	if (capstan_hex_decode(want, sizeof(want), hex) < 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's MANIFEST has a bad digest for '%s'", name);
	slot = name_slot(b, name);
	if (!slot || !*slot || strcmp(name, "MANIFEST") == 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's MANIFEST lists '%s', which the bundle lacks", name);
	if (listed[*slot - 1]++)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's MANIFEST lists '%s' twice", name);
	if ((rc = capstan_sha256(ctx, b->files[*slot - 1].data.data, b->files[*slot - 1].data.len, md)) < 0)
		return rc;
	if (!capstan_equal_ct(md, want, sizeof(md)))
		return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's file '%s' does not match its MANIFEST"
			" (SHA-256): it was changed on the way", name);
	return 0;
}

int capstan_bundle_check_manifest(capstan_ctx *ctx, const capstan_bundle *b)
{
	size_t *slot = name_slot(b, "MANIFEST"), heads = strlen(CAPSTAN_MANIFEST_HEAD);
	const capstan_buf *m;
	const char *p, *end, *sums;
	unsigned char *listed;
	int rc = 0;

	if (!slot || !*slot)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle has no MANIFEST");
	m = &b->files[*slot - 1].data;
	p = (const char *)m->data;
	end = p + m->len;
	if (m->len < heads || memcmp(p, CAPSTAN_MANIFEST_HEAD, heads) != 0 || memchr(p, '\0', m->len) ||
	    !(sums = strstr(p, CAPSTAN_MANIFEST_SUMS)))
		return capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's MANIFEST is not a capstan MANIFEST");
	if (!(listed = calloc(b->count, 1)))
		return capstan_error_oom(ctx);
	for (p = sums + strlen(CAPSTAN_MANIFEST_SUMS); rc == 0 && p < end; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		rc = manifest_line(ctx, b, p, len, listed);
		p += len + 1;
	}
	for (size_t i = 0; rc == 0 && i < b->count; i++)
		if (!listed[i] && i != *slot - 1)
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "the bundle's file '%s' is not in its MANIFEST",
				b->files[i].path);
	free(listed);
	return rc;
}
