/* Unit tests: the API's logic without the network. A home with prod and dev,
 * client certificates for the identities, an api: section, and requests
 * handed to capstan_api_handle as the server would. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include <capstan/api.h>

#include "unit.h"

static const char *const CONFIG =
	"environments:\n"
	"  prod: {}\n"
	"  dev: {}\n"
	"services:\n"
	"  etcd:\n"
	"    template: etcd\n"
	"    certs:\n"
	"      - { name: etcd-1, profile: peer, dns: [etcd-1.internal] }\n"
	"    hosts: { h1: [etcd-1] }\n"
	"api:\n"
	"  listen: 127.0.0.1:8443\n"
	"  http: 127.0.0.1:8080\n"
	"  public_url: http://ca.internal:8080\n"
	"  server: { env: prod, name: capstan-api }\n"
	"  clients:\n"
	"    - { env: prod, name: deploy-etcd, allow: [bundle], environments: [prod], services: [etcd] }\n"
	"    - { env: prod, name: ci-signer, allow: [sign], environments: [dev], profiles: [server, client],\n"
	"        dns: [\"*.dev.internal\"], ip: [10.0.0.0/8], max_days: 30 }\n"
	"    - { env: prod, name: ops, allow: [bundle, sign, revoke, list] }\n"
	"    - { env: prod, name: host-fetcher, allow: [bundle], hosts: [h1] }\n";

typedef struct {
	char *home, config[4200];
	capstan_ctx *ctx;
	capstan_api *api;
	capstan_cert *deploy, *signer, *ops, *nobody, *victim, *csr_client, *host_fetcher;
	EVP_PKEY *csr_key;
} fixture;

static fixture F;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	fclose(f);
}

static void tamper(const char *sql)
{
	char path[4096];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/capstan.db", F.home);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A CSR (PEM) for key with CN and, when dns is not NULL, one DNS SAN. */
static char *make_csr(EVP_PKEY *key, const char *cn, const char *dns)
{
	X509_REQ *r = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	assert_true(r && name && bio);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_REQ_set_subject_name(r, name);
	X509_REQ_set_pubkey(r, key);
	if (dns) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
		char value[300];
		snprintf(value, sizeof(value), "DNS:%s", dns);
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, value));
		X509_REQ_add_extensions(r, exts);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
	PEM_write_bio_X509_REQ(bio, r);
	len = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)len);
	BIO_free(bio);
	X509_NAME_free(name);
	X509_REQ_free(r);
	return out;
}

static capstan_cert *issue(const char *env, const char *name, capstan_profile profile, const char *csr)
{
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *cert = NULL;

	o.env = env;
	o.cn = csr ? NULL : name;
	o.name = name;
	o.profile = profile;
	if (csr) {
		o.csr = (const unsigned char *)csr;
		o.csr_len = strlen(csr);
	}
	assert_ok(F.ctx, capstan_issue(&cert, F.ctx, &o));
	return cert;
}

static int setup(void **state)
{
	capstan_config *config = NULL;
	capstan_apply_opts ao = CAPSTAN_APPLY_OPTS_INIT;
	capstan_cert *server;
	char *csr;
	size_t changes = 0;

	(void)state;
	F.ctx = unit_open_home(&F.home);
	snprintf(F.config, sizeof(F.config), "%s/capstan.yaml", F.home);
	write_file(F.config, CONFIG);
	assert_ok(F.ctx, capstan_config_load(&config, F.ctx, F.config));
	assert_ok(F.ctx, capstan_apply(&changes, F.ctx, config, &ao, NULL, NULL));
	capstan_config_free(config);
	server = issue("prod", "capstan-api", CAPSTAN_PROFILE_SERVER, NULL);
	capstan_cert_free(server);
	F.deploy = issue("prod", "deploy-etcd", CAPSTAN_PROFILE_CLIENT, NULL);
	F.signer = issue("prod", "ci-signer", CAPSTAN_PROFILE_CLIENT, NULL);
	F.ops = issue("prod", "ops", CAPSTAN_PROFILE_CLIENT, NULL);
	F.nobody = issue("prod", "nobody", CAPSTAN_PROFILE_CLIENT, NULL);
	F.victim = issue("prod", "victim", CAPSTAN_PROFILE_CLIENT, NULL);
	F.host_fetcher = issue("prod", "host-fetcher", CAPSTAN_PROFILE_CLIENT, NULL);
	F.csr_key = EVP_EC_gen("P-256");
	csr = make_csr(F.csr_key, "csr-client", NULL);
	F.csr_client = issue("prod", "csr-client", CAPSTAN_PROFILE_CLIENT, csr);
	free(csr);
	assert_ok(F.ctx, capstan_api_load(&F.api, F.ctx, F.config, NULL, NULL));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	capstan_api_free(F.api);
	capstan_cert_free(F.deploy);
	capstan_cert_free(F.signer);
	capstan_cert_free(F.ops);
	capstan_cert_free(F.nobody);
	capstan_cert_free(F.victim);
	capstan_cert_free(F.host_fetcher);
	capstan_cert_free(F.csr_client);
	EVP_PKEY_free(F.csr_key);
	capstan_ctx_free(F.ctx);
	unit_remove_home(F.home);
	return 0;
}

/* One request as the server hands it over; the answer in *r. */
static void call(capstan_api_response *r, const capstan_cert *who, const char *method, const char *path,
	const char *query, const char *body)
{
	capstan_api_request q = { .method = method, .path = path, .query = query, .tls = who != NULL };

	if (body) {
		q.body = (const unsigned char *)body;
		q.body_len = strlen(body);
	}
	if (who) {
		q.peer_der = who->der;
		q.peer_der_len = who->der_len;
	}
	capstan_api_handle(r, F.ctx, F.api, &q);
}

/* The answer's status, and that an error's body is {"error": "..."} mentioning want. */
static void expect(const capstan_cert *who, const char *method, const char *path, const char *query,
	const char *body, int status, const char *want)
{
	capstan_api_response r;

	call(&r, who, method, path, query, body);
	if (r.status != status)
		fail_msg("%s %s: %d, not %d: %s", method, path, r.status, status, r.body.data ? (char *)r.body.data : "");
	if (status >= 400) {
		json_t *doc = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
		const char *msg = json_string_value(json_object_get(doc, "error"));
		assert_non_null(msg);
		assert_null(strchr(msg, '\n'));
		if (want && !strstr(msg, want))
			fail_msg("%s %s: '%s' does not say '%s'", method, path, msg, want);
		json_decref(doc);
	}
	capstan_api_response_clear(&r);
}

static json_t *call_json(const capstan_cert *who, const char *method, const char *path, const char *query,
	const char *body, int status)
{
	capstan_api_response r;
	json_t *doc;

	call(&r, who, method, path, query, body);
	if (r.status != status)
		fail_msg("%s %s: %d, not %d: %s", method, path, r.status, status, r.body.data ? (char *)r.body.data : "");
	assert_string_equal(r.content_type, "application/json");
	doc = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
	assert_non_null(doc);
	capstan_api_response_clear(&r);
	return doc;
}

static void load_refuses(const char *yaml_api, const char *want)
{
	char path[4200], *text;
	capstan_api *api = NULL;
	const char *head = strstr(CONFIG, "api:\n");

	snprintf(path, sizeof(path), "%s/bad.yaml", F.home);
	assert_non_null(text = malloc(strlen(CONFIG) + strlen(yaml_api) + 1));
	memcpy(text, CONFIG, (size_t)(head - CONFIG));
	strcpy(text + (head - CONFIG), yaml_api);
	write_file(path, text);
	free(text);
	assert_int_equal(capstan_api_load(&api, F.ctx, path, NULL, NULL), CAPSTAN_EINVALID);
	assert_null(api);
	if (!strstr(capstan_error_message(F.ctx), want))
		fail_msg("'%s' does not say '%s'", capstan_error_message(F.ctx), want);
	assert_null(strchr(capstan_error_message(F.ctx), '\n'));
}

static void test_load(void **state)
{
	capstan_api *api = NULL;

	(void)state;
	assert_string_equal(capstan_api_listen(F.api), "127.0.0.1:8443");
	assert_string_equal(capstan_api_http(F.api), "127.0.0.1:8080");
	assert_string_equal(capstan_api_public_url(F.api), "http://ca.internal:8080");
	assert_string_equal(capstan_api_server_env(F.api), "prod");
	assert_string_equal(capstan_api_server_name(F.api), "capstan-api");
	/* NULL: $CAPSTAN_CONFIG, else the home's capstan.yaml; the options override. */
	unsetenv("CAPSTAN_CONFIG");
	assert_ok(F.ctx, capstan_api_load(&api, F.ctx, NULL, "[::1]:9443", NULL));
	assert_string_equal(capstan_api_listen(api), "[::1]:9443");
	capstan_api_free(api);
	load_refuses("api:\n  listen: x:1\n  server: { env: prod, name: capstan-api }\n  colour: red\n",
		"unknown key 'colour'");
	load_refuses("api:\n  listen: x:1\n  server: { env: prod, name: capstan-api }\n"
		"  clients:\n    - { env: prod, name: ops, allow: [bundle, fly] }\n", "api.clients[0].allow: bad action 'fly'");
	load_refuses("api:\n  listen: x:1\n  server: { env: prod, name: capstan-api }\n"
		"  clients:\n    - { env: prod, name: ops, allow: [sign], ip: [10.1.0.0/8] }\n", "api.clients[0].ip: bad CIDR");
	load_refuses("api:\n  listen: x:1\n  server: { env: prod, name: capstan-api }\n"
		"  clients:\n    - { env: prod, name: ops, allow: [sign], dns: [\"a*.dev\"] }\n", "api.clients[0].dns: bad DNS pattern");
	load_refuses("api:\n  listen: x:1\n  server: { env: prod, name: ops }\n", "api.server: prod/ops");
	load_refuses("api:\n  listen: x:1\n  server: { env: prod, name: gone }\n", "api.server: no certificate 'gone'");
	load_refuses("api:\n  server: { env: prod, name: capstan-api }\n", "api.listen: required");
	load_refuses("api:\n  listen: nowhere\n  server: { env: prod, name: capstan-api }\n", "api.listen: bad address");
}

static void test_identity(void **state)
{
	capstan_api_response r;
	char sql[256];
	capstan_cert *other;

	(void)state;
	call(&r, F.ops, "GET", "/v1/health", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.identity, "prod/ops");
	assert_non_null(strstr((char *)r.body.data, "\"status\":\"ok\""));
	capstan_api_response_clear(&r);
	/* Not someone: no certificate, a root, a revoked one, an expired one. */
	{
		capstan_api_request q = { .method = "GET", .path = "/v1/health", .tls = 1 };
		capstan_api_handle(&r, F.ctx, F.api, &q);
		assert_int_equal(r.status, 401);
		assert_string_equal(r.identity, "-");
		capstan_api_response_clear(&r);
	}
	assert_ok(F.ctx, capstan_cert_lookup(&other, F.ctx, "root-ca", "prod"));
	expect(other, "GET", "/v1/health", NULL, NULL, 401, "not an inventory line's");
	capstan_cert_free(other);
	other = issue("dev", "gone-soon", CAPSTAN_PROFILE_CLIENT, NULL);
	assert_ok(F.ctx, capstan_revoke(F.ctx, other, CAPSTAN_REASON_UNSPECIFIED));
	expect(other, "GET", "/v1/health", NULL, NULL, 401, "revoked");
	capstan_cert_free(other);
	other = issue("dev", "old", CAPSTAN_PROFILE_CLIENT, NULL);
	snprintf(sql, sizeof(sql), "UPDATE certs SET not_after = 1000 WHERE serial = '%s'", other->serial);
	tamper(sql);
	expect(other, "GET", "/v1/health", NULL, NULL, 401, "not valid now");
	/* 401 comes before the route's 404. */
	expect(other, "GET", "/v1/nothing", NULL, NULL, 401, NULL);
	capstan_cert_free(other);
}

static void test_routes(void **state)
{
	capstan_api_response r;
	const unsigned char *p;
	X509_CRL *crl;
	char body[70 * 1024];

	(void)state;
	expect(F.ops, "GET", "/v1/nothing", NULL, NULL, 404, "no such endpoint");
	expect(F.ops, "GET", "/v1//health", NULL, NULL, 404, NULL);
	expect(F.ops, "DELETE", "/v1/health", NULL, NULL, 405, "DELETE");
	expect(F.ops, "GET", "/v1/renew", NULL, NULL, 405, "POST");
	expect(F.ops, "GET", "/trust/prod.pem", NULL, NULL, 404, NULL);  /* not on the HTTPS listener */
	expect(NULL, "GET", "/v1/health", NULL, NULL, 404, NULL);        /* not on the plain one */
	expect(NULL, "POST", "/ocsp", NULL, NULL, 400, "OCSP request");
	expect(NULL, "GET", "/ocsp/not*base64", NULL, NULL, 400, "not base64");
	expect(NULL, "GET", "/crl/0123456789abcdef0123456789abcdef01234567.crl", NULL, NULL, 404, "key identifier");
	expect(NULL, "GET", "/trust/nope.pem", NULL, NULL, 404, "nope");
	expect(NULL, "POST", "/trust/prod.pem", NULL, NULL, 405, NULL);
	memset(body, ' ', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	expect(F.ops, "POST", "/v1/environments/dev/sign", NULL, body, 413, "64 KiB");

	call(&r, NULL, "GET", "/trust/prod.pem", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/pem-certificate-chain");
	assert_non_null(strstr((char *)r.body.data, "-----BEGIN CERTIFICATE-----"));
	capstan_api_response_clear(&r);
	call(&r, F.nobody, "GET", "/v1/environments/prod/trust", NULL, NULL);
	assert_int_equal(r.status, 200);
	capstan_api_response_clear(&r);
	expect(F.nobody, "GET", "/v1/environments/nope/trust", NULL, NULL, 404, "nope");

	call(&r, NULL, "GET", "/crl/prod.crl", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/pkix-crl");
	p = r.body.data;
	assert_non_null(crl = d2i_X509_CRL(NULL, &p, (long)r.body.len));
	X509_CRL_free(crl);
	capstan_api_response_clear(&r);
}

/* The bundle's ETag, after checking the answer is a tar.gz. */
static void bundle(const capstan_cert *who, const char *query, const char *inm, int status, char *etag)
{
	capstan_api_response r;
	capstan_api_request q = { .method = "GET", .path = "/v1/environments/prod/services/etcd/bundle",
		.query = query, .if_none_match = inm, .tls = 1, .peer_der = who->der, .peer_der_len = who->der_len };

	capstan_api_handle(&r, F.ctx, F.api, &q);
	if (r.status != status)
		fail_msg("bundle: %d, not %d: %s", r.status, status, r.body.data ? (char *)r.body.data : "");
	if (status == 200) {
		assert_string_equal(r.content_type, "application/gzip");
		assert_true(r.body.len > 100 && r.body.data[0] == 0x1f && r.body.data[1] == 0x8b);
	}
	if (status == 304)
		assert_int_equal(r.body.len, 0);
	assert_int_equal(r.etag[0], '"');
	strcpy(etag, r.etag);
	capstan_api_response_clear(&r);
}

static void test_bundle(void **state)
{
	char e1[96], e2[96], e3[96], e4[96];
	(void)state;
	bundle(F.deploy, "prefix=/etc/etcd/tls", NULL, 200, e1);
	bundle(F.deploy, "prefix=%2Fetc%2Fetcd%2Ftls", NULL, 200, e2);
	assert_string_equal(e1, e2); /* nothing changed: the same ETag */
	bundle(F.deploy, "prefix=/etc/etcd/tls", e1, 304, e3);
	assert_string_equal(e1, e3);
	bundle(F.deploy, "prefix=/opt/etcd", NULL, 200, e4);
	assert_string_not_equal(e1, e4); /* another prefix, another bundle */
	bundle(F.ops, "prefix=/etc/etcd/tls&keystores=1", NULL, 200, e4);
	assert_string_not_equal(e1, e4);
	expect(F.deploy, "GET", "/v1/environments/prod/services/etcd/bundle", NULL, NULL, 400, "prefix");
	expect(F.deploy, "GET", "/v1/environments/prod/services/etcd/bundle", "prefix=rel", NULL, 400, "prefix");
	expect(F.deploy, "GET", "/v1/environments/dev/services/etcd/bundle", "prefix=/x", NULL, 403,
		"prod/deploy-etcd may not fetch bundles in environment dev");
	expect(F.deploy, "GET", "/v1/environments/prod/services/spark/bundle", "prefix=/x", NULL, 403, "services");
	expect(F.nobody, "GET", "/v1/environments/prod/services/etcd/bundle", "prefix=/x", NULL, 403, "prod/nobody");
	expect(F.ops, "GET", "/v1/environments/prod/services/spark/bundle", "prefix=/x", NULL, 404, NULL);
	expect(F.ops, "GET", "/v1/environments/nope/services/etcd/bundle", "prefix=/x", NULL, 404, NULL);
	expect(F.deploy, "POST", "/v1/environments/prod/services/etcd/bundle", "prefix=/x", NULL, 405, NULL);
	/* hosts: per-host bundles, only these. */
	bundle(F.host_fetcher, "prefix=/x&host=h1", NULL, 200, e4);
	expect(F.host_fetcher, "GET", "/v1/environments/prod/services/etcd/bundle", "prefix=/x", NULL, 403, "per-host");
	expect(F.host_fetcher, "GET", "/v1/environments/prod/services/etcd/bundle", "prefix=/x&host=h2", NULL, 403,
		"host h2");
	/* A renewal changes the bundle, and so its ETag. */
	{
		capstan_cert *etcd = NULL, *renewed = NULL;
		assert_ok(F.ctx, capstan_cert_lookup(&etcd, F.ctx, "etcd-1", "prod"));
		assert_ok(F.ctx, capstan_renew(&renewed, F.ctx, etcd, 0));
		capstan_cert_free(etcd);
		capstan_cert_free(renewed);
	}
	bundle(F.deploy, "prefix=/etc/etcd/tls", e1, 200, e3);
	assert_string_not_equal(e1, e3);
}

/* A sign request's body: csr (JSON-escaped) and the rest as given. */
static char *sign_body(const char *csr, const char *rest)
{
	json_t *doc = json_pack("{s:s}", "csr", csr), *more = json_loads(rest, 0, NULL);
	char *out;

	assert_non_null(more);
	json_object_update(doc, more);
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	json_decref(more);
	return out;
}

static void sign_expect(const capstan_cert *who, const char *env, const char *cn, const char *dns, const char *rest,
	int status, const char *want)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	char *csr = make_csr(key, cn, dns), *body = sign_body(csr, rest), path[128];

	snprintf(path, sizeof(path), "/v1/environments/%s/sign", env);
	expect(who, "POST", path, NULL, body, status, want);
	free(csr);
	free(body);
	EVP_PKEY_free(key);
}

/* A user field of the audit log's last row for op and name. */
static void audit_user(const char *op, const char *name, const char *user)
{
	capstan_audit_iter *it = NULL;
	capstan_audit_entry *e = NULL;
	char *last = NULL;

	assert_ok(F.ctx, capstan_audit_iter_new(&it, F.ctx));
	while (capstan_audit_iter_next(&e, it) == 0) {
		if (strcmp(e->op, op) == 0 && e->name && strcmp(e->name, name) == 0) {
			free(last);
			last = strdup(e->user);
		}
		capstan_audit_entry_free(e);
	}
	capstan_audit_iter_free(it);
	if (!last || strcmp(last, user) != 0)
		fail_msg("the last %s of %s was by '%s', not '%s'", op, name, last ? last : "(none)", user);
	free(last);
}

static void test_sign(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	char *csr = make_csr(key, "web.dev.internal", NULL), *body = sign_body(csr, "{\"profile\": \"server\", \"days\": 90}");
	capstan_cert *cert = NULL;
	json_t *doc;
	const char *chain;

	(void)state;
	doc = call_json(F.signer, "POST", "/v1/environments/dev/sign", NULL, body, 201);
	assert_string_equal(json_string_value(json_object_get(doc, "env")), "dev");
	assert_string_equal(json_string_value(json_object_get(doc, "name")), "web.dev.internal");
	assert_non_null(json_string_value(json_object_get(doc, "serial")));
	assert_non_null(json_string_value(json_object_get(doc, "not_after")));
	assert_non_null(strstr(json_string_value(json_object_get(doc, "certificate")), "BEGIN CERTIFICATE"));
	chain = json_string_value(json_object_get(doc, "chain"));
	/* The chain verifies against dev's trust, and the lifetime was cut to max_days (30). */
	assert_ok(F.ctx, capstan_verify(&cert, F.ctx, "dev", (const unsigned char *)chain, strlen(chain)));
	assert_string_equal(cert->serial, json_string_value(json_object_get(doc, "serial")));
	assert_true(cert->not_after - time(NULL) <= 30 * 86400 + 60);
	assert_true(cert->not_after - time(NULL) >= 29 * 86400);
	assert_int_equal(cert->san_count, 1);
	assert_string_equal(cert->sans[0], "DNS:web.dev.internal");
	capstan_cert_free(cert);
	json_decref(doc);
	audit_user("issue", "web.dev.internal", "api:prod/ci-signer");
	/* The line has a valid certificate now. */
	expect(F.signer, "POST", "/v1/environments/dev/sign", NULL, body, 409, NULL);
	free(body);
	free(csr);
	EVP_PKEY_free(key);

	/* Outside the filters: 403 naming the identity and the rule. */
	sign_expect(F.signer, "dev", "x.prod.internal", NULL, "{\"profile\": \"server\"}", 403, "DNS name x.prod.internal");
	sign_expect(F.signer, "dev", "a.b.dev.internal", NULL, "{\"profile\": \"server\"}", 403, "dns patterns");
	sign_expect(F.signer, "dev", "c1.dev.internal", "ok.dev.internal", "{\"profile\": \"server\", \"ip\": [\"192.168.1.1\"]}", 403,
		"IP address 192.168.1.1");
	sign_expect(F.signer, "dev", "c2.dev.internal", NULL, "{\"profile\": \"server\", \"dns\": [\"evil.example\"]}", 403, "evil.example");
	sign_expect(F.signer, "dev", "c3.dev.internal", "evil.example", "{\"profile\": \"server\"}", 403, "evil.example"); /* the CSR's SAN */
	/* A CN capstan copies into the SAN is a name the certificate carries. */
	sign_expect(F.signer, "dev", "evil.example", NULL, "{\"profile\": \"server\", \"dns\": [\"ok.dev.internal\"]}", 403,
		"evil.example");
	sign_expect(F.signer, "dev", "p.dev.internal", NULL, "{\"profile\": \"peer\"}", 403, "profile peer");
	sign_expect(F.signer, "prod", "p.dev.internal", NULL, "{\"profile\": \"server\"}", 403, "environment prod");
	sign_expect(F.deploy, "prod", "p.dev.internal", NULL, "{\"profile\": \"server\"}", 403, "prod/deploy-etcd may not sign");
	/* Inside: an IP in 10/8 and a client certificate (whose CN is not copied). */
	sign_expect(F.signer, "dev", "ip-client", NULL, "{\"profile\": \"client\", \"ip\": [\"10.1.2.3\"]}", 201, NULL);
	/* Invalid bodies: 400 naming the field. */
	expect(F.signer, "POST", "/v1/environments/dev/sign", NULL, "{not json", 400, "body");
	expect(F.signer, "POST", "/v1/environments/dev/sign", NULL, "[1]", 400, "body");
	expect(F.signer, "POST", "/v1/environments/dev/sign", NULL, "{\"profile\": \"server\"}", 400, "csr: required");
	expect(F.signer, "POST", "/v1/environments/dev/sign", NULL,
		"{\"profile\": \"server\", \"csr\": \"-----BEGIN CERTIFICATE REQUEST-----\\nAAAA\\n-----END CERTIFICATE REQUEST-----\\n\"}",
		400, "csr");
	sign_expect(F.signer, "dev", "d.dev.internal", NULL, "{\"profile\": \"server\", \"days\": \"soon\"}", 400, "days");
	sign_expect(F.signer, "dev", "d.dev.internal", NULL, "{\"profile\": \"server\", \"dns\": \"one\"}", 400, "dns");
	sign_expect(F.ops, "dev", "d.dev.internal", NULL, "{\"profile\": \"wizard\"}", 400, "profile");
	sign_expect(F.ops, "dev", "d.dev.internal", NULL, "{\"profile\": \"server\", \"name\": \"a b\"}", 400, "name: ");
	sign_expect(F.ops, "dev", "d.dev.internal", NULL, "{\"profile\": \"server\", \"dns\": [\"-x-\"]}", 400, "dns: ");
	sign_expect(F.ops, "nope", "d.dev.internal", NULL, "{\"profile\": \"server\"}", 404, "nope");
}

/* A signing in the server's two halves: prepared (checked and signed), then
 * committed. What happens in between is taken into account. */
static capstan_api_change *prepare(const capstan_cert *who, const char *path, const char *body,
	capstan_api_response *r)
{
	capstan_api_request q = { .method = "POST", .path = path, .tls = 1, .body = (const unsigned char *)body,
		.body_len = strlen(body), .peer_der = who->der, .peer_der_len = who->der_len };

	return capstan_api_prepare(r, F.ctx, F.api, &q);
}

static void test_sign_split(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	char *csr = make_csr(key, "split.dev.internal", NULL), *body = sign_body(csr, "{\"profile\": \"server\"}");
	capstan_ca_rotate_opts ro = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_cert *inter = NULL, *cert = NULL, *victim;
	capstan_api_change *ch, *again;
	capstan_api_response r;
	capstan_api_request health = { .method = "GET", .path = "/v1/health", .tls = 1,
		.peer_der = F.ops->der, .peer_der_len = F.ops->der_len };
	json_t *doc;
	const char *chain;

	(void)state;
	/* Not a signing: left whole to capstan_api_handle. */
	assert_null(capstan_api_prepare(&r, F.ctx, F.api, &health));
	assert_int_equal(r.status, 0);
	/* A refusal is the answer already. */
	assert_null(prepare(F.deploy, "/v1/environments/dev/sign", body, &r));
	assert_int_equal(r.status, 403);
	capstan_api_response_clear(&r);

	/* The intermediate rotates between the halves: the commit signs again under the new one. */
	assert_non_null(ch = prepare(F.signer, "/v1/environments/dev/sign", body, &r));
	assert_non_null(again = prepare(F.signer, "/v1/environments/dev/sign", body, &r));
	ro.env = "dev";
	assert_ok(F.ctx, capstan_ca_rotate(NULL, &inter, F.ctx, &ro));
	capstan_api_commit(&r, F.ctx, ch);
	capstan_api_change_free(ch);
	assert_int_equal(r.status, 201);
	doc = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
	capstan_api_response_clear(&r);
	chain = json_string_value(json_object_get(doc, "chain"));
	assert_ok(F.ctx, capstan_verify(&cert, F.ctx, "dev", (const unsigned char *)chain, strlen(chain)));
	assert_int_equal(cert->issuer_id, inter->id);
	assert_string_equal(cert->issuer, inter->subject);
	capstan_cert_free(cert);
	json_decref(doc);
	/* The second of one name, prepared before the first committed: 409 at its commit. */
	capstan_api_commit(&r, F.ctx, again);
	capstan_api_change_free(again);
	assert_int_equal(r.status, 409);
	capstan_api_response_clear(&r);

	/* The caller revoked between the halves: nothing is recorded. */
	free(body);
	free(csr);
	csr = make_csr(key, "late.dev.internal", NULL);
	body = sign_body(csr, "{\"profile\": \"server\"}");
	assert_non_null(ch = prepare(F.ops, "/v1/environments/dev/sign", body, &r));
	victim = NULL;
	assert_ok(F.ctx, capstan_cert_lookup(&victim, F.ctx, "ops", "prod"));
	assert_ok(F.ctx, capstan_revoke(F.ctx, victim, CAPSTAN_REASON_KEY_COMPROMISE));
	capstan_cert_free(victim);
	capstan_api_commit(&r, F.ctx, ch);
	capstan_api_change_free(ch);
	assert_int_equal(r.status, 401);
	capstan_api_response_clear(&r);
	assert_int_equal(capstan_cert_lookup(&cert, F.ctx, "late.dev.internal", "dev"), CAPSTAN_ENOTFOUND);
	capstan_cert_free(inter);
	free(body);
	free(csr);
	EVP_PKEY_free(key);
}

static void test_revoke_list(void **state)
{
	json_t *list, *item;
	size_t i;
	int seen = 0;

	(void)state;
	list = call_json(F.ops, "GET", "/v1/environments/prod/certificates", NULL, NULL, 200);
	assert_true(json_is_array(list));
	json_array_foreach(list, i, item) {
		static const char *const fields[] = { "name", "env", "serial", "status", "kind", "profile", "subject",
			"issuer", "sans", "service", "key_type", "key_held", "not_before", "not_after", "lifetime",
			"renew_before", "fingerprint_sha256", NULL };
		for (size_t k = 0; fields[k]; k++)
			if (!json_object_get(item, fields[k]))
				fail_msg("a listed certificate has no %s", fields[k]);
		seen += strcmp(json_string_value(json_object_get(item, "name")), "victim") == 0;
	}
	assert_int_equal(seen, 1);
	json_decref(list);
	expect(F.ops, "GET", "/v1/environments/prod/certificates", "status=bogus", NULL, 400, "status");
	expect(F.ops, "GET", "/v1/environments/prod/certificates", "expiring_within=x", NULL, 400, "expiring_within");
	expect(F.ops, "GET", "/v1/environments/nope/certificates", NULL, NULL, 404, NULL);
	expect(F.signer, "GET", "/v1/environments/dev/certificates", NULL, NULL, 403, "list");

	expect(F.signer, "POST", "/v1/environments/prod/certificates/victim/revoke", NULL, "{}", 403, "revoke");
	expect(F.ops, "POST", "/v1/environments/prod/certificates/victim/revoke", NULL, "{\"reason\": \"bored\"}", 400,
		"reason");
	expect(F.ops, "POST", "/v1/environments/prod/certificates/victim/revoke", NULL, "", 400, "body");
	expect(F.ops, "POST", "/v1/environments/prod/certificates/ghost/revoke", NULL, "{}", 404, NULL);
	list = call_json(F.ops, "POST", "/v1/environments/prod/certificates/victim/revoke", NULL,
		"{\"reason\": \"keyCompromise\"}", 200);
	assert_string_equal(json_string_value(json_object_get(list, "status")), "revoked");
	assert_string_equal(json_string_value(json_object_get(list, "serial")), F.victim->serial);
	json_decref(list);
	audit_user("revoke", "victim", "api:prod/ops");
	expect(F.ops, "POST", "/v1/environments/prod/certificates/victim/revoke", NULL, "{}", 409, "already revoked");
	expect(F.victim, "GET", "/v1/health", NULL, NULL, 401, "revoked"); /* from the next request on */
	list = call_json(F.ops, "GET", "/v1/environments/prod/certificates", "status=revoked", NULL, 200);
	assert_int_equal(json_array_size(list), 1);
	assert_non_null(json_object_get(json_array_get(list, 0), "revoke_reason"));
	json_decref(list);
}

static void test_renew(void **state)
{
	capstan_cert *cert = NULL;
	json_t *doc;
	const char *pem;
	X509 *x;
	BIO *bio;

	(void)state;
	/* A CSR-issued identity renews: same key, new serial. */
	doc = call_json(F.csr_client, "POST", "/v1/renew", NULL, NULL, 201);
	assert_string_equal(json_string_value(json_object_get(doc, "name")), "csr-client");
	assert_string_not_equal(json_string_value(json_object_get(doc, "serial")), F.csr_client->serial);
	pem = json_string_value(json_object_get(doc, "certificate"));
	bio = BIO_new_mem_buf(pem, -1);
	assert_non_null(x = PEM_read_bio_X509(bio, NULL, NULL, NULL));
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), F.csr_key), 1);
	X509_free(x);
	BIO_free(bio);
	pem = json_string_value(json_object_get(doc, "chain"));
	assert_ok(F.ctx, capstan_verify(&cert, F.ctx, "prod", (const unsigned char *)pem, strlen(pem)));
	capstan_cert_free(cert);
	json_decref(doc);
	audit_user("renew", "csr-client", "api:prod/csr-client");
	/* The superseded certificate is still someone (unexpired, unrevoked). */
	expect(F.csr_client, "GET", "/v1/health", NULL, NULL, 200, NULL);
	/* Anyone renews itself, with no clients: entry. */
	doc = call_json(F.nobody, "POST", "/v1/renew", NULL, NULL, 201);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_bundle),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_revoke_list),
		cmocka_unit_test(test_renew),
		cmocka_unit_test(test_sign_split), /* last: it revokes ops */
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
