/*
 * Unit tests: bundle rendering (bundle.c, bundle_write.c, bundle_password.c,
 * bundle_extras.c): which files a target renders, their modes and contents,
 * the MANIFEST, hosts, left-out lines, keystore passwords, and writing into a
 * directory or a tar.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "unit.h"

static const char config_text[] =
	"environments:\n"
	"  dev: {}\n"
	"services:\n"
	"  etcd:\n"
	"    template: etcd\n"
	"    hosts: { node-a: [etcd-1, root], node-b: [etcd-2] }\n"
	"    certs:\n"
	"      - { name: etcd-1, profile: peer, dns: [etcd-1.internal], ip: [127.0.0.1] }\n"
	"      - { name: etcd-2, profile: peer, dns: [etcd-2.internal] }\n"
	"      - { name: root, profile: client }\n"
	"  hdfs:\n"
	"    template: hadoop\n"
	"    certs:\n"
	"      - { name: namenode, profile: peer, dns: [namenode.internal] }\n"
	"  web:\n"
	"    template: kubernetes\n"
	"    certs:\n"
	"      - { name: web, profile: server, dns: [web.internal] }\n";

/* Where configs say the files are: not where the test writes them. */
#define INSTALL_DIR "/etc/capstan/bundle"

typedef struct {
	char *home;
	capstan_ctx *ctx;
	char out[256];   /* a directory the test writes bundles under */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	capstan_config *config = NULL;
	capstan_apply_opts ao = CAPSTAN_APPLY_OPTS_INIT;
	size_t changes = 0;

	f->ctx = unit_open_home(&f->home);
	assert_ok(f->ctx, capstan_config_parse(&config, f->ctx, "unit.yaml", config_text, strlen(config_text)));
	assert_ok(f->ctx, capstan_apply(&changes, f->ctx, config, &ao, NULL, NULL));
	assert_true(changes > 0);
	capstan_config_free(config);
	snprintf(f->out, sizeof(f->out), "%.*s/out", (int)(strlen(f->home) - 5), f->home);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	capstan_ctx_free(f->ctx);
	unit_remove_home(f->home);
	free(f);
	return 0;
}

static capstan_bundle *build(fixture *f, const char *service, const char *host)
{
	capstan_bundle_opts o = CAPSTAN_BUNDLE_OPTS_INIT;
	capstan_bundle *b = NULL;

	o.env = "dev";
	o.service = service;
	o.host = host;
	o.dir = INSTALL_DIR;
	assert_ok(f->ctx, capstan_bundle_build(&b, f->ctx, &o));
	return b;
}

/* The bundle's paths, sorted, joined by spaces. */
static char *paths_of(const capstan_bundle *b)
{
	size_t n = capstan_bundle_count(b), len = 1;
	const char **p = calloc(n, sizeof(*p));
	char *out;

	for (size_t i = 0; i < n; i++) {
		p[i] = capstan_bundle_path(b, i);
		len += strlen(p[i]) + 1;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(p[j - 1], p[j]) > 0; j--) {
			const char *t = p[j];
			p[j] = p[j - 1];
			p[j - 1] = t;
		}
	out = calloc(1, len);
	for (size_t i = 0; i < n; i++) {
		strcat(out, p[i]);
		if (i + 1 < n)
			strcat(out, " ");
	}
	free(p);
	return out;
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
	char path[512];
	FILE *fp;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "rb");
	if (!fp)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	data = malloc((size_t)n + 1);
	assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
	data[n] = '\0';
	fclose(fp);
	if (len)
		*len = (size_t)n;
	return data;
}

static unsigned mode_of(const char *dir, const char *name)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (lstat(path, &sb) != 0)
		fail_msg("no %s", path);
	assert_true(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode));
	return sb.st_mode & 07777;
}

static int exists(const char *dir, const char *name)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &sb) == 0;
}

static void assert_file_is(const char *dir, const char *name, const capstan_buf *want)
{
	size_t len;
	char *got = read_file(dir, name, &len);

	assert_int_equal(len, want->len);
	assert_memory_equal(got, want->data, len);
	free(got);
}

static void export_of(fixture *f, const char *name, capstan_format fmt, capstan_buf *out)
{
	capstan_cert *c = NULL;

	assert_ok(f->ctx, capstan_cert_lookup(&c, f->ctx, name, "dev"));
	assert_ok(f->ctx, capstan_export(out, f->ctx, c, fmt, NULL));
	capstan_cert_free(c);
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];

	assert_int_equal(EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

/* Every file but the MANIFEST is listed in it once, with its SHA-256. */
static void check_manifest(const char *dir, const capstan_bundle *b)
{
	char *manifest = read_file(dir, "MANIFEST", NULL);
	size_t listed = 0;

	for (char *line = manifest; *line;) {
		char *end = strchr(line, '\n');
		assert_non_null(end);
		*end = '\0';
		if (strlen(line) > 66 && line[64] == ' ' && line[65] == ' ') {
			char hex[65];
			size_t len;
			char *data = read_file(dir, line + 66, &len);
			sha256_hex(data, len, hex);
			assert_memory_equal(line, hex, 64);
			assert_string_not_equal(line + 66, "MANIFEST");
			free(data);
			listed++;
		}
		line = end + 1;
	}
	assert_int_equal(listed, capstan_bundle_count(b) - 1);
	free(manifest);
}

static int count_crls(const char *pem, X509_NAME *issuer)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509_CRL *crl;
	int n = 0, by_issuer = 0;

	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
		n++;
		by_issuer += issuer && X509_NAME_cmp(X509_CRL_get_issuer(crl), issuer) == 0;
		X509_CRL_free(crl);
	}
	BIO_free(bio);
	assert_true(!issuer || by_issuer == 1);
	return n;
}

static void test_etcd_files_and_modes(void **state)
{
	fixture *f = *state;
	capstan_bundle *b = build(f, "etcd", NULL);
	char *paths = paths_of(b), dir[300], *env, *text;
	capstan_buf want = CAPSTAN_BUF_INIT;
	capstan_cert *inter = NULL;
	X509 *x;
	const char *keys[] = { "etcd-1-key.pem", "etcd-2-key.pem", "root-key.pem" };
	const char *open_files[] = { "ca.pem", "etcd-1.pem", "etcd-2.pem", "root.pem", "etcd-1.env", "etcd-2.env",
		"etcd-1.conf.yml", "etcd-2.conf.yml", "etcdctl-root.env", "crl.pem", "crl-all.pem", "MANIFEST" };

	assert_string_equal(paths, "MANIFEST ca.pem crl-all.pem crl.pem etcd-1-key.pem etcd-1.conf.yml etcd-1.env "
		"etcd-1.pem etcd-2-key.pem etcd-2.conf.yml etcd-2.env etcd-2.pem etcdctl-root.env root-key.pem root.pem");
	free(paths);
	assert_int_equal(capstan_bundle_warning_count(b), 0);

	snprintf(dir, sizeof(dir), "%s/etcd", f->out);
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, b, dir));
	assert_int_equal(mode_of(f->out, "etcd"), 0755);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(mode_of(dir, keys[i]), 0600);
	for (size_t i = 0; i < sizeof(open_files) / sizeof(open_files[0]); i++)
		assert_int_equal(mode_of(dir, open_files[i]), 0644);

	/* the inventory's certificates and keys, and the environment's trust */
	export_of(f, "etcd-1", CAPSTAN_FORMAT_CHAIN, &want);
	assert_file_is(dir, "etcd-1.pem", &want);
	capstan_buf_free(&want);
	export_of(f, "root", CAPSTAN_FORMAT_KEY, &want);
	assert_file_is(dir, "root-key.pem", &want);
	capstan_buf_free(&want);
	assert_ok(f->ctx, capstan_trust_pem(&want, f->ctx, "dev"));
	assert_file_is(dir, "ca.pem", &want);
	capstan_buf_free(&want);

	/* configs name where the files will be installed */
	env = read_file(dir, "etcd-1.env", NULL);
	assert_non_null(strstr(env, "\nETCD_CERT_FILE=" INSTALL_DIR "/etcd-1.pem\n"));
	assert_non_null(strstr(env, "\nETCD_KEY_FILE=" INSTALL_DIR "/etcd-1-key.pem\n"));
	assert_non_null(strstr(env, "\nETCD_TRUSTED_CA_FILE=" INSTALL_DIR "/ca.pem\n"));
	assert_non_null(strstr(env, "\nETCD_CLIENT_CRL_FILE=" INSTALL_DIR "/crl.pem\n"));
	assert_null(strstr(env, f->out));
	free(env);

	/* crl.pem: the current intermediate's CRL alone; crl-all.pem: its and the root's */
	assert_ok(f->ctx, capstan_cert_lookup(&inter, f->ctx, "intermediate-ca-1", "dev"));
	x = d2i_X509(NULL, &(const unsigned char *){ inter->der }, (long)inter->der_len);
	text = read_file(dir, "crl.pem", NULL);
	assert_int_equal(count_crls(text, X509_get_subject_name(x)), 1);
	free(text);
	text = read_file(dir, "crl-all.pem", NULL);
	assert_int_equal(count_crls(text, X509_get_subject_name(x)), 2);
	free(text);
	X509_free(x);
	capstan_cert_free(inter);

	check_manifest(dir, b);
	capstan_bundle_free(b);
}

/* What the ledger records: one "NAME SERIAL NOT_AFTER" line per certificate,
 * the trust bundle's digest, and when the CRLs need a new render. */
static void test_cert_lines(void **state)
{
	fixture *f = *state;
	capstan_bundle *b = build(f, "etcd", NULL);
	const char *lines = capstan_bundle_certs(b);
	const char *names[] = { "etcd-1", "etcd-2", "root" };
	capstan_buf trust = CAPSTAN_BUF_INIT;
	char want[200], hex[65];
	time_t now = time(NULL);

	for (size_t i = 0; i < 3; i++) {
		capstan_cert *c = NULL;
		assert_ok(f->ctx, capstan_cert_lookup(&c, f->ctx, names[i], "dev"));
		snprintf(want, sizeof(want), "%s %s %lld\n", names[i], c->serial, (long long)c->not_after);
		assert_non_null(strstr(lines, want));
		capstan_cert_free(c);
	}
	assert_ok(f->ctx, capstan_trust_pem(&trust, f->ctx, "dev"));
	sha256_hex(trust.data, trust.len, hex);
	snprintf(want, sizeof(want), "@trust %s 0\n", hex);
	assert_non_null(strstr(lines, want));
	capstan_buf_free(&trust);
	/* CRLs valid 7 days: re-render within the last third */
	assert_true(capstan_bundle_crl_refresh_at(b) > now + 4 * 86400);
	assert_true(capstan_bundle_crl_refresh_at(b) <= now + 5 * 86400);
	capstan_bundle_free(b);
}

static void test_hosts(void **state)
{
	fixture *f = *state;
	capstan_bundle *b = build(f, "etcd", "node-b");
	capstan_bundle_opts o = CAPSTAN_BUNDLE_OPTS_INIT;
	char *paths = paths_of(b);

	assert_string_equal(paths, "MANIFEST ca.pem crl-all.pem crl.pem etcd-2-key.pem etcd-2.conf.yml etcd-2.env etcd-2.pem");
	free(paths);
	capstan_bundle_free(b);
	b = build(f, "etcd", "node-a");
	paths = paths_of(b);
	assert_null(strstr(paths, "etcd-2"));
	assert_non_null(strstr(paths, "etcdctl-root.env"));
	free(paths);
	capstan_bundle_free(b);
	b = NULL;
	o.env = "dev";
	o.service = "etcd";
	o.host = "node-c";
	o.dir = INSTALL_DIR;
	assert_int_equal(capstan_bundle_build(&b, f->ctx, &o), CAPSTAN_ENOTFOUND);
	assert_non_null(strstr(capstan_error_message(f->ctx), "has no host 'node-c'"));
	o.host = NULL;
	o.service = "nothing";
	assert_int_equal(capstan_bundle_build(&b, f->ctx, &o), CAPSTAN_ENOTFOUND);
	assert_non_null(strstr(capstan_error_message(f->ctx), "no service 'nothing' in environment 'dev'"));
	assert_null(b);
}

static char *first_line(const char *dir, const char *name)
{
	char *text = read_file(dir, name, NULL);

	assert_non_null(strchr(text, '\n'));
	*strchr(text, '\n') = '\0';
	return text;
}

static int p12_opens(const char *dir, const char *name, const char *password)
{
	size_t len;
	char *data = read_file(dir, name, &len);
	const unsigned char *p = (const unsigned char *)data;
	PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
	int ok;

	assert_non_null(p12);
	ok = PKCS12_verify_mac(p12, password, -1) == 1;
	PKCS12_free(p12);
	free(data);
	return ok;
}

/* Keystores: each secret 0600 (stores' passwords, and configs that hold
 * one), the stores open with the password the bundle says, and the same
 * password comes back in every render until a new one is asked for. */
static void test_keystores_and_passwords(void **state)
{
	fixture *f = *state;
	capstan_bundle *b = build(f, "hdfs", NULL), *again;
	capstan_bundle_opts o = CAPSTAN_BUNDLE_OPTS_INIT;
	capstan_secret given = CAPSTAN_SECRET_INIT;
	char *paths = paths_of(b), dir[300], *pw, *pw2, *xml;

	assert_string_equal(paths, "MANIFEST ca.pem crl-all.pem crl.pem namenode-key.pem namenode.p12 namenode.password "
		"namenode.pem ssl-client.xml ssl-server.xml truststore.p12 truststore.password");
	free(paths);
	snprintf(dir, sizeof(dir), "%s/hdfs", f->out);
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, b, dir));
	assert_int_equal(mode_of(dir, "namenode.p12"), 0600);
	assert_int_equal(mode_of(dir, "namenode.password"), 0600);
	assert_int_equal(mode_of(dir, "truststore.password"), 0600);
	assert_int_equal(mode_of(dir, "ssl-server.xml"), 0600);
	assert_int_equal(mode_of(dir, "ssl-client.xml"), 0600);
	assert_int_equal(mode_of(dir, "truststore.p12"), 0644);
	assert_int_equal(mode_of(dir, "namenode.pem"), 0644);
	pw = first_line(dir, "namenode.password");
	assert_true(strlen(pw) >= 6);
	assert_true(p12_opens(dir, "namenode.p12", pw));
	assert_false(p12_opens(dir, "namenode.p12", "not-the-password"));
	pw2 = first_line(dir, "truststore.password");
	assert_string_equal(pw2, pw);
	assert_true(p12_opens(dir, "truststore.p12", pw));
	free(pw2);
	xml = read_file(dir, "ssl-server.xml", NULL);
	assert_non_null(strstr(xml, "<value>" INSTALL_DIR "/namenode.p12</value>"));
	assert_non_null(strstr(xml, pw));
	free(xml);
	check_manifest(dir, b);
	capstan_bundle_free(b);

	/* the stored password again */
	again = build(f, "hdfs", NULL);
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, again, dir));
	pw2 = first_line(dir, "namenode.password");
	assert_string_equal(pw2, pw);
	free(pw2);
	capstan_bundle_free(again);

	/* a given password is used for this render only */
	o.env = "dev";
	o.service = "hdfs";
	o.dir = INSTALL_DIR;
	assert_ok(f->ctx, capstan_secret_set(&given, f->ctx, "given-Pass.1", 12));
	o.password = &given;
	assert_ok(f->ctx, capstan_bundle_build(&again, f->ctx, &o));
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, again, dir));
	pw2 = first_line(dir, "namenode.password");
	assert_string_equal(pw2, "given-Pass.1");
	assert_true(p12_opens(dir, "namenode.p12", "given-Pass.1"));
	free(pw2);
	capstan_bundle_free(again);
	capstan_secret_free(&given);
	again = build(f, "hdfs", NULL);                 /* not stored: the service's is still its own */
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, again, dir));
	pw2 = first_line(dir, "namenode.password");
	assert_string_equal(pw2, pw);
	free(pw2);
	capstan_bundle_free(again);
	/* ...which must be fit for a configuration file */
	assert_ok(f->ctx, capstan_secret_set(&given, f->ctx, "has space", 9));
	again = NULL;
	assert_int_equal(capstan_bundle_build(&again, f->ctx, &o), CAPSTAN_EINVALID);
	capstan_secret_free(&given);
	o.password = NULL;

	/* a new one: written, then kept */
	o.new_password = 1;
	assert_ok(f->ctx, capstan_bundle_build(&again, f->ctx, &o));
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, again, dir));
	assert_ok(f->ctx, capstan_bundle_keep_password(f->ctx, again));
	pw2 = first_line(dir, "namenode.password");
	assert_string_not_equal(pw2, pw);
	capstan_bundle_free(again);
	again = build(f, "hdfs", NULL);
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, again, dir));
	free(pw);
	pw = first_line(dir, "namenode.password");
	assert_string_equal(pw, pw2);
	free(pw);
	free(pw2);
	capstan_bundle_free(again);

	/* a target without keystores has no password to change */
	o.service = "etcd";
	assert_int_equal(capstan_bundle_build(&again, f->ctx, &o), CAPSTAN_EINVALID);
}

/* Kubernetes: the Secret carries the key, so it is 0600; keystores only when asked. */
static void test_kubernetes(void **state)
{
	fixture *f = *state;
	capstan_bundle *b = build(f, "web", NULL);
	capstan_bundle_opts o = CAPSTAN_BUNDLE_OPTS_INIT;
	char *paths = paths_of(b), dir[300];

	assert_string_equal(paths, "MANIFEST ca.pem crl-all.pem crl.pem web-key.pem web-secret.yaml web.pem");
	free(paths);
	snprintf(dir, sizeof(dir), "%s/web", f->out);
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, b, dir));
	assert_int_equal(mode_of(dir, "web-secret.yaml"), 0600);
	capstan_bundle_free(b);
	o.env = "dev";
	o.service = "web";
	o.dir = INSTALL_DIR;
	o.keystores = 1;
	assert_ok(f->ctx, capstan_bundle_build(&b, f->ctx, &o));
	paths = paths_of(b);
	assert_string_equal(paths, "MANIFEST ca.pem crl-all.pem crl.pem truststore.p12 truststore.password web-key.pem "
		"web-secret.yaml web.p12 web.password web.pem");
	free(paths);
	capstan_bundle_free(b);
}

/* A revoked line is left out with a warning; the rest is rendered. A service
 * with nothing left is an error. */
static void test_left_out(void **state)
{
	fixture *f = *state;
	capstan_cert *c = NULL;
	capstan_bundle *b;
	capstan_bundle_opts o = CAPSTAN_BUNDLE_OPTS_INIT;
	char *paths;

	assert_ok(f->ctx, capstan_cert_lookup(&c, f->ctx, "etcd-2", "dev"));
	assert_ok(f->ctx, capstan_revoke(f->ctx, c, CAPSTAN_REASON_KEY_COMPROMISE));
	capstan_cert_free(c);
	b = build(f, "etcd", NULL);
	assert_int_equal(capstan_bundle_warning_count(b), 1);
	assert_non_null(strstr(capstan_bundle_warning(b, 0), "'etcd-2' is left out"));
	assert_non_null(strstr(capstan_bundle_warning(b, 0), "revoked"));
	paths = paths_of(b);
	assert_null(strstr(paths, "etcd-2"));
	assert_non_null(strstr(paths, "etcd-1.pem"));
	assert_null(strstr(capstan_bundle_certs(b), "etcd-2 "));
	free(paths);
	capstan_bundle_free(b);

	assert_ok(f->ctx, capstan_cert_lookup(&c, f->ctx, "web", "dev"));
	assert_ok(f->ctx, capstan_revoke(f->ctx, c, CAPSTAN_REASON_CESSATION_OF_OPERATION));
	capstan_cert_free(c);
	o.env = "dev";
	o.service = "web";
	o.dir = INSTALL_DIR;
	b = NULL;
	assert_int_equal(capstan_bundle_build(&b, f->ctx, &o), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(f->ctx), "'web' is left out"));
	assert_null(b);
}

static size_t count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* A second write replaces the directory whole (nothing of the old one stays),
 * leaves no temporary directory, and refuses a file in the way. */
static void test_write_dir_and_tar(void **state)
{
	fixture *f = *state;
	capstan_bundle *b = build(f, "web", NULL);
	char dir[300], stray[320], tar[320];
	FILE *fp;
	struct archive *a;
	struct archive_entry *e;
	size_t entries = 0;

	snprintf(dir, sizeof(dir), "%s/web", f->out);
	assert_ok(f->ctx, capstan_bundle_check_dir(f->ctx, dir));
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, b, dir));
	snprintf(stray, sizeof(stray), "%s/stray", dir);
	fp = fopen(stray, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_ok(f->ctx, capstan_bundle_write_dir(f->ctx, b, dir));
	assert_false(exists(dir, "stray"));
	assert_true(exists(dir, "web-secret.yaml"));
	assert_int_equal(count_entries(f->out, ".capstan-bundle-"), 0);
	assert_int_equal(count_entries(dir, ""), capstan_bundle_count(b) + 2); /* and . and .. */

	/* a file where the directory should be */
	assert_ok(f->ctx, capstan_bundle_check_dir(f->ctx, dir));
	snprintf(stray, sizeof(stray), "%s/web/web.pem", f->out);
	assert_int_equal(capstan_bundle_check_dir(f->ctx, stray), CAPSTAN_EINVALID);
	assert_int_equal(capstan_bundle_write_dir(f->ctx, b, stray), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(f->ctx), "is not a directory"));

	/* the tar holds the same files with the same modes */
	snprintf(tar, sizeof(tar), "%s/web.tar.gz", f->out);
	assert_ok(f->ctx, capstan_bundle_write_tar(f->ctx, b, tar));
	a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, tar, 10240), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e), *base = strrchr(name, '/');
		char *want, *got;
		size_t len;
		base = base ? base + 1 : name;
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		entries++;
		assert_int_equal(archive_entry_perm(e), mode_of(dir, base));
		want = read_file(dir, base, &len);
		assert_int_equal(archive_entry_size(e), (la_int64_t)len);
		got = malloc(len + 1);
		assert_int_equal(archive_read_data(a, got, len + 1), (la_ssize_t)len);
		assert_memory_equal(got, want, len);
		free(got);
		free(want);
	}
	archive_read_free(a);
	assert_int_equal(entries, capstan_bundle_count(b));
	capstan_bundle_free(b);
}

static void test_needs_unlock(void **state)
{
	fixture *f = *state;
	capstan_ctx *locked = NULL;
	capstan_bundle_opts o = CAPSTAN_BUNDLE_OPTS_INIT;
	capstan_bundle *b = NULL;

	assert_int_equal(capstan_ctx_new(&locked), 0);
	assert_ok(locked, capstan_home_open(locked, f->home, CAPSTAN_OPEN_EXISTING));
	o.env = "dev";
	o.service = "etcd";
	o.dir = INSTALL_DIR;
	assert_int_equal(capstan_bundle_build(&b, locked, &o), CAPSTAN_EAUTH);
	assert_null(b);
	capstan_ctx_free(locked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_etcd_files_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keystores_and_passwords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubernetes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_left_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_dir_and_tar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needs_unlock, setup, teardown),
	};
	return cmocka_run_group_tests_name("bundle", tests, NULL, NULL);
}
