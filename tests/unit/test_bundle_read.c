/*
 * Unit tests: a bundle read back from a server's tar.gz (tar.c's reader and
 * bundle_files.c's MANIFEST check, what fetch installs): what is accepted,
 * every kind of entry and MANIFEST mismatch that is refused, and a fetched
 * bundle written with the swap of bundle --out without any home.
 */
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "unit.h"
#include "deploy/deploy.h"

typedef struct {
	const char *name;
	const char *data;     /* NULL: a link or directory, by type */
	unsigned type;        /* AE_IFREG, AE_IFLNK, AE_IFDIR; 0: regular */
	unsigned mode;        /* 0: 0644 */
	const char *hardlink; /* a hard link to this name */
} entry;

/* "# capstan bundle: ..." then a "SHA256  NAME" line per name given. */
static char *manifest(const entry *files, size_t n, const char *skip, const char *extra)
{
	char *out = calloc(1, 8192);
	unsigned char md[32];
	unsigned int len;

	strcat(out, "# capstan bundle: environment dev, service etcd, template etcd\n"
		    "cert etcd-1 serial 01 not_after 2030-01-01T00:00:00Z\n# sha256 of each file\n");
	for (size_t i = 0; i < n; i++) {
		if (skip && strcmp(files[i].name, skip) == 0)
			continue;
		EVP_Digest(files[i].data, strlen(files[i].data), md, &len, EVP_sha256(), NULL);
		for (unsigned j = 0; j < len; j++)
			snprintf(out + strlen(out), 3, "%02x", md[j]);
		snprintf(out + strlen(out), 300, "  %s\n", files[i].name);
	}
	if (extra)
		strcat(out, extra);
	return out;
}

/* A tar.gz of the entries, in memory (*len bytes; free()). */
static unsigned char *make_tar(const entry *e, size_t n, size_t *len)
{
	size_t cap = 1 << 20;
	unsigned char *buf = malloc(cap);
	struct archive *a = archive_write_new();

	*len = 0;
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, len), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t size = e[i].data && !e[i].hardlink ? strlen(e[i].data) : 0;
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, e[i].type ? e[i].type : AE_IFREG);
		archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0644);
		archive_entry_set_size(ae, (la_int64_t)size);
		if (e[i].type == AE_IFLNK)
			archive_entry_set_symlink(ae, "/etc/shadow");
		if (e[i].hardlink)
			archive_entry_set_hardlink(ae, e[i].hardlink);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (size)
			assert_int_equal(archive_write_data(a, e[i].data, size), (la_ssize_t)size);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return buf;
}

static const entry good[] = {
	{ "ca.pem", "-----BEGIN CERTIFICATE-----\nx\n", 0, 0, NULL },
	{ "etcd-1-key.pem", "-----BEGIN PRIVATE KEY-----\nk\n", 0, 0600, NULL },
	{ "etcd-1.env", "ETCD_CERT_FILE=/etc/etcd/tls/etcd-1.pem\n", 0, 0, NULL },
};
#define NGOOD (sizeof(good) / sizeof(good[0]))

/* Reads a bundle of GOOD's files (file `change` altered after the MANIFEST
 * was made; `skip` left out of it; `extra` appended to it) plus more entries. */
static int read_case(capstan_ctx *ctx, capstan_bundle **b, const char *change, const char *skip, const char *extra,
	const entry *more, size_t nmore)
{
	entry all[16];
	char *m = manifest(good, NGOOD, skip, extra);
	size_t n = 0, len;
	unsigned char *tar;
	int rc;

	all[n++] = (entry){ "MANIFEST", m, 0, 0, NULL };
	for (size_t i = 0; i < NGOOD; i++) {
		all[n] = good[i];
		if (change && strcmp(good[i].name, change) == 0)
			all[n].data = "ETCD_CERT_FILE=/tmp/evil.pem\n";
		n++;
	}
	for (size_t i = 0; i < nmore; i++)
		all[n++] = more[i];
	tar = make_tar(all, n, &len);
	rc = capstan_bundle_from_tar(b, ctx, tar, len);
	free(tar);
	free(m);
	return rc;
}

static void refused(const char *desc, capstan_ctx *ctx, int rc, capstan_bundle *b, const char *want)
{
	if (rc == 0 || b || !strstr(capstan_error_message(ctx), want))
		fail_msg("%s: rc %d, message '%s', want '%s'", desc, rc, capstan_error_message(ctx), want);
}

static void test_accepts_a_whole_bundle(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_bundle *b = NULL;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, read_case(ctx, &b, NULL, NULL, NULL, NULL, 0));
	assert_int_equal(capstan_bundle_count(b), NGOOD + 1);
	assert_string_equal(capstan_bundle_path(b, 0), "MANIFEST");
	assert_string_equal(capstan_bundle_path(b, 2), "etcd-1-key.pem");
	capstan_bundle_free(b);
	capstan_ctx_free(ctx);
}

static void test_manifest_mismatches(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_bundle *b = NULL;
	const entry extra_file[] = { { "evil.sh", "id\n", 0, 0755, NULL } };
	const char *bad_hash = "0000000000000000000000000000000000000000000000000000000000000000  gone.pem\n";

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	refused("a file changed on the way", ctx, read_case(ctx, &b, "etcd-1.env", NULL, NULL, NULL, 0), b,
		"'etcd-1.env' does not match its MANIFEST");
	refused("a file the MANIFEST does not list", ctx, read_case(ctx, &b, NULL, "ca.pem", NULL, NULL, 0), b,
		"'ca.pem' is not in its MANIFEST");
	refused("an extra file", ctx, read_case(ctx, &b, NULL, NULL, NULL, extra_file, 1), b,
		"'evil.sh' is not in its MANIFEST");
	refused("a MANIFEST entry missing", ctx, read_case(ctx, &b, NULL, NULL, bad_hash, NULL, 0), b,
		"lists 'gone.pem', which the bundle lacks");
	refused("a line that is no digest", ctx, read_case(ctx, &b, NULL, NULL, "hello\n", NULL, 0), b,
		"not 'SHA256  FILE'");
	capstan_ctx_free(ctx);
}

static void test_refused_entries(void **state)
{
	static const struct {
		entry e;
		const char *want;
	} cases[] = {
		{ { "link.pem", NULL, AE_IFLNK, 0777, NULL }, "a symbolic link" },
		{ { "hard.pem", "", 0, 0, "ca.pem" }, "a hard link" },
		{ { "sub", NULL, AE_IFDIR, 0755, NULL }, "not a regular file" },
		{ { "/etc/passwd", "x", 0, 0, NULL }, "an absolute path" },
		{ { "../up", "x", 0, 0, NULL }, "'..'" },
		{ { "a/b", "x", 0, 0, NULL }, "flat" },
		{ { "suid", "x", 0, 04755, NULL }, "set-id" },
		{ { "shared", "x", 0, 0666, NULL }, "writable by others" },
		{ { "ca.pem", "again", 0, 0, NULL }, "two files named 'ca.pem'" },
		{ { ".hidden", "x", 0, 0, NULL }, "bad bundle file name" },
	};
	capstan_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		capstan_bundle *b = NULL;
		refused(cases[i].e.name, ctx, read_case(ctx, &b, NULL, NULL, NULL, &cases[i].e, 1), b, cases[i].want);
	}
	capstan_ctx_free(ctx);
}

static void test_not_a_bundle(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_bundle *b = NULL;
	const entry only[] = { { "ca.pem", "x", 0, 0, NULL } };
	const entry foreign[] = { { "MANIFEST", "abc  ca.pem\n", 0, 0, NULL }, { "ca.pem", "x", 0, 0, NULL } };
	unsigned char *tar;
	size_t len;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	refused("not gzip", ctx, capstan_bundle_from_tar(&b, ctx, "hello, world", 12), b, "tar.gz");
	tar = make_tar(only, 1, &len);
	refused("no MANIFEST", ctx, capstan_bundle_from_tar(&b, ctx, tar, len), b, "has no MANIFEST");
	refused("cut short", ctx, capstan_bundle_from_tar(&b, ctx, tar, len / 2), b, "tar");
	free(tar);
	tar = make_tar(foreign, 2, &len);
	refused("a MANIFEST capstan did not write", ctx, capstan_bundle_from_tar(&b, ctx, tar, len), b,
		"not a capstan MANIFEST");
	free(tar);
	capstan_ctx_free(ctx);
}

/* What fetch does with it: the swap of bundle --out, with no home at all. */
static void test_write_without_home(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_bundle *b = NULL;
	char tmpl[] = "/tmp/capstan-unit-read-XXXXXX", path[300], buf[100] = "";
	struct stat sb;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, read_case(ctx, &b, NULL, NULL, NULL, NULL, 0));
	snprintf(path, sizeof(path), "%s/deep/tls", tmpl);
	assert_ok(ctx, capstan_bundle_write_dir(ctx, b, path));
	assert_ok(ctx, capstan_bundle_write_dir(ctx, b, path)); /* over itself: an earlier bundle */
	snprintf(path, sizeof(path), "%s/deep/tls/etcd-1-key.pem", tmpl);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/deep/tls/etcd-1.env", tmpl);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, good[2].data);
	capstan_bundle_free(b);
	capstan_ctx_free(ctx);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmpl);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_a_whole_bundle),
		cmocka_unit_test(test_manifest_mismatches),
		cmocka_unit_test(test_refused_entries),
		cmocka_unit_test(test_not_a_bundle),
		cmocka_unit_test(test_write_without_home),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
