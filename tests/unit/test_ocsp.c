/* Unit tests: the OCSP responder, CRLs by key identifier, and the revocation
 * URLs that certificates issued under a public URL carry. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include <capstan/ocsp.h>

#include "unit.h"

/* A home with dev (its intermediate rotated) and prod. */
typedef struct {
	char *home;
	capstan_ctx *ctx;
	capstan_cert *dev_root, *dev_old, *dev_new, *prod_root, *prod_inter;
	capstan_cert *a, *b, *c, *p;   /* a, b under dev's old intermediate; c under the new; p prod's */
} pki;

static capstan_cert *issue(capstan_ctx *ctx, const char *env, const char *cn)
{
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *c = NULL;

	o.env = env;
	o.cn = cn;
	o.profile = CAPSTAN_PROFILE_SERVER;
	assert_ok(ctx, capstan_issue(&c, ctx, &o));
	return c;
}

static void pki_new(pki *k)
{
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_ca_rotate_opts ro = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_cert *none = NULL;

	memset(k, 0, sizeof(*k));
	k->ctx = unit_open_home(&k->home);
	io.env = "dev";
	assert_ok(k->ctx, capstan_env_init(&k->dev_root, &k->dev_old, k->ctx, &io));
	io.env = "prod";
	assert_ok(k->ctx, capstan_env_init(&k->prod_root, &k->prod_inter, k->ctx, &io));
	k->a = issue(k->ctx, "dev", "a.dev");
	k->b = issue(k->ctx, "dev", "b.dev");
	ro.env = "dev";
	assert_ok(k->ctx, capstan_ca_rotate(&none, &k->dev_new, k->ctx, &ro));
	assert_null(none);
	k->c = issue(k->ctx, "dev", "c.dev");
	k->p = issue(k->ctx, "prod", "p.prod");
}

static void pki_free(pki *k)
{
	capstan_cert *all[] = { k->dev_root, k->dev_old, k->dev_new, k->prod_root, k->prod_inter, k->a, k->b, k->c, k->p };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		capstan_cert_free(all[i]);
	capstan_ctx_free(k->ctx);
	unit_remove_home(k->home);
}

static X509 *x509_of(const capstan_cert *c)
{
	const unsigned char *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->der_len);

	assert_non_null(x);
	return x;
}

static OCSP_CERTID *id_of(const capstan_cert *leaf, const capstan_cert *issuer, const EVP_MD *md)
{
	X509 *l = x509_of(leaf), *i = x509_of(issuer);
	OCSP_CERTID *id = OCSP_cert_to_id(md, l, i);

	assert_non_null(id);
	X509_free(l);
	X509_free(i);
	return id;
}

/* The DER of a request for these ids (taken), with a nonce when asked. */
static capstan_buf request_der(OCSP_CERTID **ids, size_t n, int nonce)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	capstan_buf out = CAPSTAN_BUF_INIT;
	int len;

	for (size_t i = 0; i < n; i++)
		assert_non_null(OCSP_request_add0_id(req, ids[i]));
	if (nonce)
		assert_int_equal(OCSP_request_add1_nonce(req, NULL, 16), 1);
	len = i2d_OCSP_REQUEST(req, &der);
	assert_true(len > 0);
	out.data = malloc((size_t)len);
	memcpy(out.data, der, (size_t)len);
	out.len = (size_t)len;
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	return out;
}

static OCSP_RESPONSE *respond(capstan_ctx *ctx, const capstan_buf *req)
{
	capstan_buf der = CAPSTAN_BUF_INIT;
	const unsigned char *p;
	OCSP_RESPONSE *resp;

	assert_ok(ctx, capstan_ocsp_respond(&der, ctx, req->data, req->len));
	p = der.data;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)der.len);
	assert_non_null(resp);
	capstan_buf_free(&der);
	return resp;
}

/* The basic response, verified against the root with the issuer as the
 * client has it (the certificate it asks about came with it). */
static OCSP_BASICRESP *verified(OCSP_RESPONSE *resp, const capstan_cert *root, const capstan_cert *issuer)
{
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 *r = x509_of(root);
	OCSP_BASICRESP *bs;

	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	assert_int_equal(X509_STORE_add_cert(store, r), 1);
	assert_true(sk_X509_push(untrusted, x509_of(issuer)) > 0);
	if (OCSP_basic_verify(bs, untrusted, store, 0) != 1)
		fail_msg("the response does not verify against %s", root->name);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(r);
	X509_STORE_free(store);
	return bs;
}

/* What one CertID's answer says (asked with SHA-1 or SHA-256); leaf NULL:
 * a serial the issuer never signed. */
static int status_of(pki *k, const capstan_cert *leaf, const capstan_cert *issuer, const capstan_cert *root,
	const EVP_MD *md, int *reason, time_t *revoked_at)
{
	OCSP_CERTID *id = leaf ? id_of(leaf, issuer, md) : NULL, *look;

	if (!leaf) {
		X509 *i = x509_of(issuer);
		ASN1_INTEGER *serial = ASN1_INTEGER_new();
		assert_int_equal(ASN1_INTEGER_set(serial, 0x4242), 1);
		assert_non_null(id = OCSP_cert_id_new(md, X509_get_subject_name(i), X509_get0_pubkey_bitstr(i), serial));
		ASN1_INTEGER_free(serial);
		X509_free(i);
	}
	look = OCSP_CERTID_dup(id);
	capstan_buf req = request_der(&id, 1, 1);
	OCSP_RESPONSE *resp = respond(k->ctx, &req);
	OCSP_BASICRESP *bs = verified(resp, root, issuer);
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	int status = -1;
	struct tm tm;

	assert_int_equal(OCSP_resp_find_status(bs, look, &status, reason, &rev, &thisupd, &nextupd), 1);
	assert_int_equal(OCSP_check_validity(thisupd, nextupd, 300, -1), 1);
	if (rev && revoked_at) {
		assert_int_equal(ASN1_TIME_to_tm(rev, &tm), 1);
		*revoked_at = timegm(&tm);
	}
	OCSP_CERTID_free(look);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	capstan_buf_free(&req);
	return status;
}

static void test_statuses(void **state)
{
	pki k;
	int reason = -2;
	time_t at = 0, now;

	(void)state;
	pki_new(&k);
	now = time(NULL);
	assert_ok(k.ctx, capstan_revoke(k.ctx, k.b, CAPSTAN_REASON_KEY_COMPROMISE));
	assert_int_equal(status_of(&k, k.a, k.dev_old, k.dev_root, EVP_sha1(), &reason, NULL), V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(status_of(&k, k.a, k.dev_old, k.dev_root, EVP_sha256(), &reason, NULL), V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(status_of(&k, k.b, k.dev_old, k.dev_root, EVP_sha256(), &reason, &at), V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_true(at >= now - 5 && at <= now + 5);
	/* the rotated intermediate's and the current one's, the other environment's */
	assert_int_equal(status_of(&k, k.c, k.dev_new, k.dev_root, EVP_sha1(), &reason, NULL), V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(status_of(&k, k.p, k.prod_inter, k.prod_root, EVP_sha1(), &reason, NULL), V_OCSP_CERTSTATUS_GOOD);
	/* an intermediate, answered for by its root's responder */
	assert_int_equal(status_of(&k, k.dev_old, k.dev_root, k.dev_root, EVP_sha1(), &reason, NULL), V_OCSP_CERTSTATUS_GOOD);
	/* a serial the CA never signed, and c's serial asked of the old intermediate */
	assert_int_equal(status_of(&k, NULL, k.dev_old, k.dev_root, EVP_sha1(), &reason, NULL), V_OCSP_CERTSTATUS_UNKNOWN);
	assert_int_equal(status_of(&k, NULL, k.dev_new, k.dev_root, EVP_sha256(), &reason, NULL), V_OCSP_CERTSTATUS_UNKNOWN);
	pki_free(&k);
}

static void test_nonce_and_errors(void **state)
{
	pki k;
	OCSP_CERTID *id;
	OCSP_REQUEST *parsed;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	capstan_buf req, bad = CAPSTAN_BUF_INIT;
	X509_NAME *name = X509_NAME_new();
	ASN1_BIT_STRING *key = ASN1_BIT_STRING_new();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	unsigned char junk[65];
	const unsigned char *p;

	(void)state;
	pki_new(&k);
	id = id_of(k.a, k.dev_old, EVP_sha1());
	req = request_der(&id, 1, 1);
	p = req.data;
	parsed = d2i_OCSP_REQUEST(NULL, &p, (long)req.len);
	resp = respond(k.ctx, &req);
	bs = verified(resp, k.dev_root, k.dev_old);
	assert_int_equal(OCSP_check_nonce(parsed, bs), 1);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(parsed);
	/* no nonce asked, none given */
	capstan_buf_free(&req);
	id = id_of(k.a, k.dev_old, EVP_sha1());
	req = request_der(&id, 1, 0);
	p = req.data;
	parsed = d2i_OCSP_REQUEST(NULL, &p, (long)req.len);
	resp = respond(k.ctx, &req);
	bs = verified(resp, k.dev_root, k.dev_old);
	assert_int_equal(OCSP_check_nonce(parsed, bs), 2);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(parsed);
	/* cut short, or not a request at all: malformed, and still an answer */
	bad.data = req.data;
	bad.len = req.len - 3;
	resp = respond(k.ctx, &bad);
	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	OCSP_RESPONSE_free(resp);
	bad.data = (unsigned char *)"GET / HTTP/1.0";
	bad.len = 14;
	resp = respond(k.ctx, &bad);
	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	OCSP_RESPONSE_free(resp);
	capstan_buf_free(&req);
	/* a CA the inventory does not have */
	assert_int_equal(RAND_bytes(junk, sizeof(junk)), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (unsigned char *)"stranger", -1, -1, 0), 1);
	assert_int_equal(ASN1_BIT_STRING_set(key, junk, sizeof(junk)), 1);
	assert_int_equal(ASN1_INTEGER_set(serial, 42), 1);
	id = OCSP_cert_id_new(EVP_sha1(), name, key, serial);
	req = request_der(&id, 1, 1);
	resp = respond(k.ctx, &req);
	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OCSP_RESPONSE_free(resp);
	capstan_buf_free(&req);
	X509_NAME_free(name);
	ASN1_BIT_STRING_free(key);
	ASN1_INTEGER_free(serial);
	pki_free(&k);
}

/* The responder certificate a response for a's status carries (the
 * caller's). With a nonce: an answer signed now, never one kept. */
static X509 *responder_of(capstan_ctx *ctx, const pki *k)
{
	OCSP_CERTID *id = id_of(k->a, k->dev_old, EVP_sha1());
	capstan_buf req = request_der(&id, 1, 1);
	OCSP_RESPONSE *resp = respond(ctx, &req);
	OCSP_BASICRESP *bs = verified(resp, k->dev_root, k->dev_old);
	const STACK_OF(X509) *certs = OCSP_resp_get0_certs(bs);
	X509 *x;

	assert_int_equal(sk_X509_num(certs), 1);
	x = X509_dup(sk_X509_value(certs, 0));
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	capstan_buf_free(&req);
	return x;
}

static void sql(const char *home, const char *statement)
{
	char path[4096];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/capstan.db", home);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, statement, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_responder(void **state)
{
	pki k;
	X509 *first, *again, *renewed;
	char cn[256];
	time_t now = time(NULL);
	int days = 0, secs = 0;

	(void)state;
	pki_new(&k);
	first = responder_of(k.ctx, &k);
	assert_true(X509_get_extension_flags(first) & EXFLAG_XKUSAGE);
	assert_true(X509_get_extended_key_usage(first) & XKU_OCSP_SIGN);
	assert_true(X509_get_ext_by_NID(first, NID_id_pkix_OCSP_noCheck, -1) >= 0);
	assert_int_equal(X509_check_ca(first), 0);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(first), NID_commonName, cn, sizeof(cn)) > 0);
	assert_non_null(strstr(cn, " OCSP Responder"));
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(first)), 1);
	assert_true(days >= 3 && days <= 4);
	/* reused while fresh */
	again = responder_of(k.ctx, &k);
	assert_int_equal(X509_cmp(first, again), 0);
	/* past two thirds of its life: replaced on the next answer */
	{
		char stmt[256];
		snprintf(stmt, sizeof(stmt), "UPDATE ocsp_responders SET not_before = %lld, not_after = %lld",
			(long long)(now - 3 * 86400), (long long)(now + 3600));
		sql(k.home, stmt);
	}
	renewed = responder_of(k.ctx, &k);
	assert_int_not_equal(X509_cmp(first, renewed), 0);
	X509_free(first);
	X509_free(again);
	X509_free(renewed);
	pki_free(&k);
}

/* A revocation committed by another process shows on the next answer. */
static void test_other_process(void **state)
{
	pki k;
	capstan_ctx *other = NULL;
	capstan_secret pass = CAPSTAN_SECRET_INIT;
	int reason;

	(void)state;
	pki_new(&k);
	assert_int_equal(status_of(&k, k.a, k.dev_old, k.dev_root, EVP_sha1(), &reason, NULL), V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(capstan_ctx_new(&other), 0);
	assert_ok(other, capstan_home_open(other, k.home, 0));
	assert_ok(other, capstan_secret_set(&pass, other, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE)));
	assert_ok(other, capstan_home_unlock(other, &pass));
	assert_ok(other, capstan_revoke(other, k.a, CAPSTAN_REASON_SUPERSEDED));
	assert_int_equal(status_of(&k, k.a, k.dev_old, k.dev_root, EVP_sha1(), &reason, NULL), V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_SUPERSEDED);
	capstan_secret_free(&pass);
	capstan_ctx_free(other);
	pki_free(&k);
}

/* The raw answer to req. */
static capstan_buf answer_der(capstan_ctx *ctx, const capstan_buf *req)
{
	capstan_buf der = CAPSTAN_BUF_INIT;

	assert_ok(ctx, capstan_ocsp_respond(&der, ctx, req->data, req->len));
	return der;
}

static int same_bytes(const capstan_buf *a, const capstan_buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* A nonce-less, one-CertID request is answered with the bytes kept from the
 * last answer (ECDSA signatures differ every time: equal bytes mean reused),
 * by the context and its clones, until the inventory says otherwise. */
static void test_answers_reused(void **state)
{
	pki k;
	capstan_ctx *clone = NULL;
	OCSP_CERTID *ids[2];
	capstan_buf plain, nonced, two, first, again, other;
	int reason;

	(void)state;
	pki_new(&k);
	ids[0] = id_of(k.a, k.dev_old, EVP_sha1());
	plain = request_der(ids, 1, 0);
	ids[0] = id_of(k.a, k.dev_old, EVP_sha1());
	nonced = request_der(ids, 1, 1);
	ids[0] = id_of(k.a, k.dev_old, EVP_sha1());
	ids[1] = id_of(k.b, k.dev_old, EVP_sha1());
	two = request_der(ids, 2, 0);
	first = answer_der(k.ctx, &plain);
	again = answer_der(k.ctx, &plain);
	assert_true(same_bytes(&first, &again));
	capstan_buf_free(&again);
	assert_ok(k.ctx, capstan_ctx_clone(&clone, k.ctx));
	again = answer_der(clone, &plain);
	assert_true(same_bytes(&first, &again)); /* the clone shares what was kept */
	capstan_buf_free(&again);
	/* A nonce to echo, or two CertIDs: signed every time. */
	again = answer_der(k.ctx, &nonced);
	other = answer_der(k.ctx, &nonced);
	assert_false(same_bytes(&again, &other));
	capstan_buf_free(&again);
	capstan_buf_free(&other);
	again = answer_der(k.ctx, &two);
	other = answer_der(k.ctx, &two);
	assert_false(same_bytes(&again, &other));
	capstan_buf_free(&again);
	capstan_buf_free(&other);
	/* Revoked (here, through the clone): the next answer says so. */
	assert_ok(clone, capstan_revoke(clone, k.a, CAPSTAN_REASON_KEY_COMPROMISE));
	again = answer_der(k.ctx, &plain);
	assert_false(same_bytes(&first, &again));
	assert_int_equal(status_of(&k, k.a, k.dev_old, k.dev_root, EVP_sha1(), &reason, NULL),
		V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	capstan_buf_free(&again);
	capstan_buf_free(&first);
	capstan_buf_free(&plain);
	capstan_buf_free(&nonced);
	capstan_buf_free(&two);
	capstan_ctx_free(clone);
	pki_free(&k);
}

/* A home that is not unlocked cannot sign: the error, and an internalError to send. */
static void test_locked(void **state)
{
	pki k;
	capstan_ctx *locked = NULL;
	OCSP_CERTID *id;
	capstan_buf req, der = CAPSTAN_BUF_INIT;
	const unsigned char *p;
	OCSP_RESPONSE *resp;

	(void)state;
	pki_new(&k);
	id = id_of(k.a, k.dev_old, EVP_sha1());
	req = request_der(&id, 1, 1);
	assert_int_equal(capstan_ctx_new(&locked), 0);
	assert_ok(locked, capstan_home_open(locked, k.home, 0));
	assert_true(capstan_ocsp_respond(&der, locked, req.data, req.len) < 0);
	assert_non_null(strstr(capstan_error_message(locked), "lock"));
	p = der.data;
	assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)der.len));
	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_INTERNALERROR);
	OCSP_RESPONSE_free(resp);
	capstan_buf_free(&der);
	capstan_buf_free(&req);
	capstan_ctx_free(locked);
	pki_free(&k);
}

static void write_pem(const char *path, const capstan_cert *c)
{
	FILE *f = fopen(path, "w");
	X509 *x = x509_of(c);

	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	X509_free(x);
}

/* openssl's own client reads and verifies what capstan answers. */
static void test_openssl_client(void **state)
{
	pki k;
	OCSP_CERTID *ids[2];
	capstan_buf req, der = CAPSTAN_BUF_INIT;
	char dir[4096], cmd[8192], out[8192] = "";
	FILE *f;
	size_t n;

	(void)state;
	pki_new(&k);
	assert_ok(k.ctx, capstan_revoke(k.ctx, k.b, CAPSTAN_REASON_CESSATION_OF_OPERATION));
	ids[0] = id_of(k.a, k.dev_old, EVP_sha1());
	ids[1] = id_of(k.b, k.dev_old, EVP_sha1());
	req = request_der(ids, 2, 0);
	assert_ok(k.ctx, capstan_ocsp_respond(&der, k.ctx, req.data, req.len));
	snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(k.home) - 5), k.home);
	snprintf(cmd, sizeof(cmd), "%s/resp.der", dir);
	assert_non_null(f = fopen(cmd, "wb"));
	assert_int_equal(fwrite(der.data, 1, der.len, f), der.len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/root.pem", dir);
	write_pem(cmd, k.dev_root);
	snprintf(cmd, sizeof(cmd), "%s/inter.pem", dir);
	write_pem(cmd, k.dev_old);
	snprintf(cmd, sizeof(cmd), "cd '%s' && openssl ocsp -respin resp.der -CAfile root.pem -issuer inter.pem"
		" -serial 0x%s -serial 0x%s -no_nonce > out.txt 2>&1", dir, k.a->serial, k.b->serial);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/out.txt", dir);
	assert_non_null(f = fopen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	if (!strstr(out, "Response verify OK") || !strstr(out, ": good") || !strstr(out, ": revoked") ||
	    !strstr(out, "cessationOfOperation"))
		fail_msg("openssl ocsp said:\n%s", out);
	capstan_buf_free(&req);
	capstan_buf_free(&der);
	pki_free(&k);
}

static X509_CRL *crl_by_ski_of(capstan_ctx *ctx, const capstan_cert *ca)
{
	X509 *x = x509_of(ca);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
	capstan_buf der = CAPSTAN_BUF_INIT;
	const unsigned char *p;
	X509_CRL *crl;

	assert_non_null(ski);
	assert_ok(ctx, capstan_crl_by_ski(&der, ctx, ski->data, (size_t)ski->length));
	p = der.data;
	assert_non_null(crl = d2i_X509_CRL(NULL, &p, (long)der.len));
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(x)), 0);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(x)), 1);
	X509_free(x);
	capstan_buf_free(&der);
	return crl;
}

static void test_crl_by_ski(void **state)
{
	pki k;
	X509_CRL *crl;
	X509 *b;
	X509_REVOKED *entry = NULL;
	unsigned char nobody[20] = { 1, 2, 3 };

	(void)state;
	pki_new(&k);
	crl = crl_by_ski_of(k.ctx, k.dev_old);
	b = x509_of(k.b);
	assert_int_equal(X509_CRL_get0_by_cert(crl, &entry, b), 0);
	X509_CRL_free(crl);
	assert_ok(k.ctx, capstan_revoke(k.ctx, k.b, CAPSTAN_REASON_KEY_COMPROMISE));
	/* the revocation shows at once: the stored CRL is no longer fresh */
	crl = crl_by_ski_of(k.ctx, k.dev_old);
	assert_int_equal(X509_CRL_get0_by_cert(crl, &entry, b), 1);
	X509_CRL_free(crl);
	X509_CRL_free(crl_by_ski_of(k.ctx, k.dev_new));
	X509_CRL_free(crl_by_ski_of(k.ctx, k.dev_root));
	X509_CRL_free(crl_by_ski_of(k.ctx, k.prod_inter));
	assert_int_equal(capstan_crl_by_ski(&(capstan_buf)CAPSTAN_BUF_INIT, k.ctx, nobody, sizeof(nobody)),
		CAPSTAN_ENOTFOUND);
	X509_free(b);
	pki_free(&k);
}

/* The CRL and OCSP URLs a certificate carries ("" when it has none). */
static void urls_of(const capstan_cert *c, char *crl, char *ocsp, size_t size)
{
	X509 *x = x509_of(c);
	CRL_DIST_POINTS *points = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	int type;

	crl[0] = ocsp[0] = '\0';
	if (points) {
		DIST_POINT *dp = sk_DIST_POINT_value(points, 0);
		const ASN1_STRING *s;
		assert_int_equal(sk_DIST_POINT_num(points), 1);
		assert_int_equal(dp->distpoint->type, 0);
		s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0), &type);
		assert_int_equal(type, GEN_URI);
		snprintf(crl, size, "%.*s", ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
	}
	if (aia) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
		const ASN1_STRING *s = GENERAL_NAME_get0_value(ad->location, &type);
		assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_OCSP);
		assert_int_equal(type, GEN_URI);
		snprintf(ocsp, size, "%.*s", ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
	}
	CRL_DIST_POINTS_free(points);
	AUTHORITY_INFO_ACCESS_free(aia);
	X509_free(x);
}

static void expect_urls(const capstan_cert *c, const capstan_cert *issuer, const char *base)
{
	char crl[512], ocsp[512], want[512], hex[129] = "";
	X509 *i = x509_of(issuer);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(i);

	urls_of(c, crl, ocsp, sizeof(crl));
	if (!base) {
		assert_string_equal(crl, "");
		assert_string_equal(ocsp, "");
	} else {
		for (int n = 0; n < ski->length; n++)
			sprintf(hex + 2 * n, "%02x", ski->data[n]);
		snprintf(want, sizeof(want), "%s/crl/%s.crl", base, hex);
		assert_string_equal(crl, want);
		snprintf(want, sizeof(want), "%s/ocsp", base);
		assert_string_equal(ocsp, want);
	}
	X509_free(i);
}

static int keep_batch(const capstan_batch_result *r, void *payload)
{
	capstan_cert **out = payload;

	assert_non_null(r->cert);
	/* what expect_urls reads: the DER (the result is freed after fn) */
	assert_non_null(out[r->index] = calloc(1, sizeof(capstan_cert)));
	assert_non_null(out[r->index]->der = malloc(r->cert->der_len));
	memcpy(out[r->index]->der, r->cert->der, r->cert->der_len);
	out[r->index]->der_len = r->cert->der_len;
	return 0;
}

static void test_public_url(void **state)
{
	static const char *const bad[] = { "ftp://ca.internal", "http://", "https:///x", "http://ca internal",
		"http://ca.internal/?x=1", "http://ca.internal/#f", "ca.internal", "http://ca.internal/\x01" };
	const char *base = "http://ca.internal:8080";
	pki k;
	capstan_issue_opts req[2] = { CAPSTAN_ISSUE_OPTS_INIT, CAPSTAN_ISSUE_OPTS_INIT };
	capstan_batch_opts bo = CAPSTAN_BATCH_OPTS_INIT;
	capstan_cert *batch[2] = { NULL, NULL }, *d, *renewed = NULL, *none;
	capstan_ca_rotate_opts ro = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_cert *root = NULL, *inter = NULL;

	(void)state;
	pki_new(&k);
	expect_urls(k.a, k.dev_old, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(capstan_public_url_set(k.ctx, bad[i]), CAPSTAN_EINVALID);
	assert_ok(k.ctx, capstan_public_url_set(k.ctx, "http://ca.internal:8080/"));
	d = issue(k.ctx, "dev", "d.dev");
	expect_urls(d, k.dev_new, base);
	for (int i = 0; i < 2; i++) {
		req[i].env = i ? "prod" : "dev";
		req[i].cn = i ? "q.prod" : "e.dev";
		req[i].profile = CAPSTAN_PROFILE_CLIENT;
	}
	assert_ok(k.ctx, capstan_issue_batch(k.ctx, req, 2, &bo, keep_batch, batch));
	expect_urls(batch[0], k.dev_new, base);
	expect_urls(batch[1], k.prod_inter, base);
	/* a renewal of a leaf from before, under the old intermediate: the new one's */
	assert_ok(k.ctx, capstan_renew(&renewed, k.ctx, k.a, 0));
	expect_urls(renewed, k.dev_new, base);
	/* CA certificates carry none */
	ro.env = "prod";
	ro.root = 1;
	assert_ok(k.ctx, capstan_ca_rotate(&root, &inter, k.ctx, &ro));
	expect_urls(root, root, NULL);
	expect_urls(inter, root, NULL);
	assert_ok(k.ctx, capstan_public_url_set(k.ctx, NULL));
	none = issue(k.ctx, "dev", "f.dev");
	expect_urls(none, k.dev_new, NULL);
	capstan_cert *all[] = { batch[0], batch[1], d, renewed, none, root, inter };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		capstan_cert_free(all[i]);
	pki_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_nonce_and_errors),
		cmocka_unit_test(test_answers_reused),
		cmocka_unit_test(test_responder),
		cmocka_unit_test(test_other_process),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_openssl_client),
		cmocka_unit_test(test_crl_by_ski),
		cmocka_unit_test(test_public_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
