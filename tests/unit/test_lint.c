/* Unit tests: capstan lint. Each rule gets a certificate crafted with
 * OpenSSL's API that breaks it, from a good one that breaks none; and what
 * capstan signs (every kind, profile and key type) passes silently. */
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "unit_pki.h"

#include "crypto/crypto.h"

static EVP_PKEY *ec_key; /* P-256: the subject and signer of most crafts */

static int setup(void **state)
{
	(void)state;
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return ec_key ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(ec_key);
	return 0;
}

/* An extension from its value's DER, replacing any of the same NID. */
static void ext_der(X509 *x, int nid, int crit, const void *der, size_t len)
{
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;
	int i;

	while ((i = X509_get_ext_by_NID(x, nid, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	assert_int_equal(ASN1_OCTET_STRING_set(v, der, (int)len), 1);
	assert_non_null(ext = X509_EXTENSION_create_by_NID(NULL, nid, crit, v));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(v);
}

/* An extension in OpenSSL's configuration syntax, replacing any of the same NID. */
static void ext_conf(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int i;

	while ((i = X509_get_ext_by_NID(x, nid, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static void ext_drop(X509 *x, int nid)
{
	int i;

	while ((i = X509_get_ext_by_NID(x, nid, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
}

static void set_name(X509_NAME *name, const char *cn)
{
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0), 1);
}

/* What every craft starts from: version 3, a positive 16-octet serial, a
 * year of validity, key as the subject's. */
static X509 *base_cert(EVP_PKEY *key, const char *subject, const char *issuer)
{
	static const unsigned char serial[16] = { 0x4a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	X509 *x = X509_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	time_t now = time(NULL);

	assert_int_equal(ASN1_STRING_set(sn, serial, sizeof(serial)), 1);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(X509_set_serialNumber(x, sn), 1);
	ASN1_INTEGER_free(sn);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), 0, -60, &now));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 365, 0, &now));
	if (subject)
		set_name(X509_get_subject_name(x), subject);
	set_name(X509_get_issuer_name(x), issuer);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	return x;
}

/* The authorityKeyIdentifier of what "CN=Test CA" signs. */
static const unsigned char aki[] = { 0x30, 0x16, 0x80, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };

/* A TLS server leaf as capstan makes one, under "CN=Test CA". */
static X509 *good_leaf(EVP_PKEY *key)
{
	X509 *x = base_cert(key, "web.example", "Test CA");

	ext_conf(x, NID_basic_constraints, "critical,CA:FALSE");
	ext_conf(x, NID_key_usage, "critical,digitalSignature");
	ext_conf(x, NID_ext_key_usage, "serverAuth");
	ext_conf(x, NID_subject_key_identifier, "hash");
	ext_der(x, NID_authority_key_identifier, 0, aki, sizeof(aki));
	ext_conf(x, NID_subject_alt_name, "DNS:web.example,IP:192.0.2.1");
	return x;
}

/* A self-signed root as capstan makes one. */
static X509 *good_root(EVP_PKEY *key)
{
	X509 *x = base_cert(key, "Test Root", "Test Root");

	ext_conf(x, NID_basic_constraints, "critical,CA:TRUE");
	ext_conf(x, NID_key_usage, "critical,keyCertSign,cRLSign");
	ext_conf(x, NID_subject_key_identifier, "hash");
	return x;
}

/* The DER of x as it stands (signed or not). */
static capstan_buf der_of(X509 *x)
{
	capstan_buf out = CAPSTAN_BUF_INIT;
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);

	assert_true(len > 0);
	out.data = malloc((size_t)len);
	memcpy(out.data, der, (size_t)len);
	out.len = (size_t)len;
	OPENSSL_free(der);
	return out;
}

/* Signs x with key (md NULL: the key's default) and frees it: its DER. */
static capstan_buf signed_der(X509 *x, EVP_PKEY *key, const EVP_MD *md)
{
	capstan_buf out;

	assert_true(X509_sign(x, key, md) > 0);
	out = der_of(x);
	X509_free(x);
	return out;
}

static void print_findings(const capstan_lint_findings *f)
{
	for (size_t i = 0; i < f->count; i++)
		print_message("  [%zu] %s: %s: %s\n", f->items[i].cert, capstan_lint_severity_name(f->items[i].severity),
			f->items[i].rule, f->items[i].message);
}

/* The certificate breaks RULE with severity SEV (among others, perhaps). */
static void expect_rule(capstan_ctx *ctx, capstan_buf der, const char *rule, capstan_lint_severity sev)
{
	capstan_lint_findings f = CAPSTAN_LINT_FINDINGS_INIT;
	int seen = 0;

	assert_ok(ctx, capstan_lint(&f, ctx, der.data, der.len));
	for (size_t i = 0; i < f.count; i++)
		seen = seen || (strcmp(f.items[i].rule, rule) == 0 && f.items[i].severity == sev);
	if (!seen) {
		print_findings(&f);
		fail_msg("rule %s (%s) did not fire", rule, capstan_lint_severity_name(sev));
	}
	capstan_lint_findings_free(&f);
	capstan_buf_free(&der);
}

#define expect_error(ctx, der, rule) expect_rule((ctx), (der), (rule), CAPSTAN_LINT_ERROR)
#define expect_warning(ctx, der, rule) expect_rule((ctx), (der), (rule), CAPSTAN_LINT_WARNING)

/* The certificates of DATA break nothing. */
static void expect_clean(capstan_ctx *ctx, const unsigned char *data, size_t len, size_t certs)
{
	capstan_lint_findings f = CAPSTAN_LINT_FINDINGS_INIT;

	assert_ok(ctx, capstan_lint(&f, ctx, data, len));
	if (f.count) {
		print_findings(&f);
		fail_msg("%zu findings on a good certificate", f.count);
	}
	assert_int_equal(f.certs, certs);
	capstan_lint_findings_free(&f);
}

static void test_good_crafts(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_buf der;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	der = signed_der(good_leaf(ec_key), ec_key, EVP_sha256());
	expect_clean(ctx, der.data, der.len, 1);
	capstan_buf_free(&der);
	der = signed_der(good_root(ec_key), ec_key, EVP_sha256());
	expect_clean(ctx, der.data, der.len, 1);
	capstan_buf_free(&der);
	capstan_ctx_free(ctx);
}

static void test_serial_header_validity(void **state)
{
	static const unsigned char long_serial[21] = { 0x11 }, top_bit[20] = { 0x80 };
	capstan_ctx *ctx = NULL;
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	X509 *x;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	x = good_leaf(ec_key);
	ASN1_INTEGER_set(sn, 0);
	X509_set_serialNumber(x, sn);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "serial-not-positive");
	x = good_leaf(ec_key);
	ASN1_INTEGER_set(sn, -5);
	X509_set_serialNumber(x, sn);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "serial-not-positive");
	x = good_leaf(ec_key);
	ASN1_STRING_set(sn, long_serial, sizeof(long_serial));
	sn->type = V_ASN1_INTEGER;
	X509_set_serialNumber(x, sn);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "serial-too-long");
	/* 20 octets of magnitude with the top bit set: 21 in DER. */
	x = good_leaf(ec_key);
	ASN1_STRING_set(sn, top_bit, sizeof(top_bit));
	X509_set_serialNumber(x, sn);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "serial-too-long");
	ASN1_INTEGER_free(sn);
	x = good_leaf(ec_key);
	X509_set_version(x, X509_VERSION_1);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "version-not-v3");
	x = good_leaf(ec_key);
	X509_NAME *empty = X509_NAME_new();
	X509_set_issuer_name(x, empty);
	X509_NAME_free(empty);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "issuer-empty");

	time_t now = time(NULL);
	x = good_leaf(ec_key);
	X509_time_adj_ex(X509_getm_notBefore(x), 400, 0, &now);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "validity-order");
	x = good_leaf(ec_key);
	ASN1_GENERALIZEDTIME *gt = ASN1_GENERALIZEDTIME_set(NULL, now + 86400);
	X509_set1_notAfter(x, gt);
	ASN1_GENERALIZEDTIME_free(gt);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "validity-encoding");
	x = good_leaf(ec_key);
	ASN1_TIME *no_seconds = ASN1_TIME_new();
	ASN1_STRING_set(no_seconds, "4001010000Z", -1);
	no_seconds->type = V_ASN1_UTCTIME;
	X509_set1_notAfter(x, no_seconds);
	ASN1_TIME_free(no_seconds);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "validity-encoding");
	capstan_ctx_free(ctx);
}

/* Inserts [2] subjectUniqueID into a DER certificate before its extensions:
 * OpenSSL has no setter. The signature no longer verifies; lint does not ask. */
static capstan_buf with_unique_id(capstan_buf der)
{
	static const unsigned char uid[] = { 0x82, 0x02, 0x00, 0xab };
	const unsigned char *p = der.data, *tbs, *ext;
	long len;
	int tag, xclass;
	capstan_buf out = CAPSTAN_BUF_INIT;

	/* Certificate and TBS both have two-octet lengths (0x82 HH LL) at this size. */
	assert_int_equal(der.data[1], 0x82);
	ASN1_get_object(&p, &len, &tag, &xclass, (long)der.len);
	tbs = p;
	assert_int_equal(tbs[1], 0x82);
	for (ext = tbs + 4; *ext != 0xa3; ) {
		const unsigned char *q = ext;
		ASN1_get_object(&q, &len, &tag, &xclass, (long)(der.data + der.len - q));
		ext = q + len;
	}
	out.len = der.len + sizeof(uid);
	out.data = malloc(out.len);
	memcpy(out.data, der.data, (size_t)(ext - der.data));
	memcpy(out.data + (ext - der.data), uid, sizeof(uid));
	memcpy(out.data + (ext - der.data) + sizeof(uid), ext, (size_t)(der.data + der.len - ext));
	for (size_t at = 2; at <= 6; at += 4) { /* the two lengths grow by the uid's size */
		unsigned n = ((unsigned)out.data[at] << 8 | out.data[at + 1]) + sizeof(uid);
		out.data[at] = (unsigned char)(n >> 8);
		out.data[at + 1] = (unsigned char)n;
	}
	capstan_buf_free(&der);
	return out;
}

static void test_extension_list(void **state)
{
	static const unsigned char junk[] = { 0x04, 0x01, 0x00 }, ski[] = { 0x04, 0x02, 1, 2 };
	capstan_ctx *ctx = NULL;
	X509 *x;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	expect_error(ctx, with_unique_id(signed_der(good_leaf(ec_key), ec_key, EVP_sha256())), "unique-id");
	x = good_leaf(ec_key);
	X509_EXTENSION *dup = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, "clientAuth");
	X509_add_ext(x, dup, -1);
	X509_EXTENSION_free(dup);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "extension-duplicate");
	x = good_leaf(ec_key);
	ASN1_OBJECT *private = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x05\x00", 2);
	X509_EXTENSION *unknown = X509_EXTENSION_create_by_OBJ(NULL, private, 1, v);
	X509_add_ext(x, unknown, -1);
	X509_EXTENSION_free(unknown);
	ASN1_OCTET_STRING_free(v);
	ASN1_OBJECT_free(private);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "extension-unknown-critical");
	x = good_leaf(ec_key);
	ext_der(x, NID_key_usage, 1, junk, sizeof(junk));
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "extension-malformed");
	x = good_leaf(ec_key);
	ext_der(x, NID_subject_key_identifier, 1, ski, sizeof(ski));
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "ski-critical");
	x = good_leaf(ec_key);
	ext_drop(x, NID_subject_key_identifier);
	expect_warning(ctx, signed_der(x, ec_key, EVP_sha256()), "ski-missing");
	x = good_root(ec_key);
	ext_drop(x, NID_subject_key_identifier);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "ski-missing");
	x = good_leaf(ec_key);
	ext_der(x, NID_authority_key_identifier, 1, aki, sizeof(aki));
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "aki-critical");
	x = good_leaf(ec_key);
	ext_drop(x, NID_authority_key_identifier);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "aki-missing");
	capstan_ctx_free(ctx);
}

static void test_ca_and_key_usage(void **state)
{
	static const unsigned char no_bits[] = { 0x03, 0x01, 0x00 };
	capstan_ctx *ctx = NULL;
	X509 *x;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	x = good_root(ec_key);
	ext_conf(x, NID_basic_constraints, "CA:TRUE");
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "basic-constraints-not-critical");
	x = good_leaf(ec_key);
	ext_conf(x, NID_basic_constraints, "critical,CA:FALSE,pathlen:0");
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "path-len-not-ca");
	x = good_root(ec_key);
	ext_drop(x, NID_key_usage);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "ca-key-usage");
	x = good_root(ec_key);
	ext_conf(x, NID_key_usage, "critical,cRLSign,digitalSignature");
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "ca-key-usage");
	x = good_leaf(ec_key);
	ext_conf(x, NID_key_usage, "critical,digitalSignature,keyCertSign");
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "key-cert-sign-not-ca");
	x = good_leaf(ec_key);
	ext_der(x, NID_key_usage, 1, no_bits, sizeof(no_bits));
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "key-usage-empty");
	x = good_leaf(ec_key);
	ext_conf(x, NID_key_usage, "digitalSignature");
	expect_warning(ctx, signed_der(x, ec_key, EVP_sha256()), "key-usage-not-critical");
	x = good_leaf(ec_key);
	ext_conf(x, NID_key_usage, "critical,digitalSignature,keyEncipherment");
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "key-usage-for-key");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	x = good_leaf(ed);
	ext_conf(x, NID_key_usage, "critical,digitalSignature,keyAgreement");
	expect_error(ctx, signed_der(x, ed, NULL), "key-usage-for-key");
	EVP_PKEY_free(ed);
	capstan_ctx_free(ctx);
}

static void test_eku(void **state)
{
	static const unsigned char empty_seq[] = { 0x30, 0x00 };
	capstan_ctx *ctx = NULL;
	X509 *x;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	x = good_leaf(ec_key);
	ext_der(x, NID_ext_key_usage, 0, empty_seq, sizeof(empty_seq));
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "eku-empty");
	x = good_leaf(ec_key);
	ext_drop(x, NID_ext_key_usage);
	expect_warning(ctx, signed_der(x, ec_key, EVP_sha256()), "eku-missing");
	x = good_leaf(ec_key);
	ext_conf(x, NID_ext_key_usage, "serverAuth,anyExtendedKeyUsage");
	expect_warning(ctx, signed_der(x, ec_key, EVP_sha256()), "eku-any");
	x = good_leaf(ec_key);
	ext_conf(x, NID_ext_key_usage, "serverAuth,OCSPSigning");
	expect_warning(ctx, signed_der(x, ec_key, EVP_sha256()), "eku-ocsp-mixed");
	capstan_ctx_free(ctx);
}

/* A leaf whose SAN is one name of TYPE with these bytes. */
static capstan_buf leaf_with_name(int type, const char *value, size_t len)
{
	X509 *x = good_leaf(ec_key);
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

	assert_int_equal(ASN1_STRING_set(s, value, (int)len), 1);
	GENERAL_NAME_set0_value(gen, type, s);
	sk_GENERAL_NAME_push(gens, gen);
	ext_drop(x, NID_subject_alt_name);
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT), 1);
	GENERAL_NAMES_free(gens);
	return signed_der(x, ec_key, EVP_sha256());
}

static void test_san(void **state)
{
	static const unsigned char empty_seq[] = { 0x30, 0x00 };
	capstan_ctx *ctx = NULL;
	X509 *x;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	x = good_leaf(ec_key);
	ext_der(x, NID_subject_alt_name, 0, empty_seq, sizeof(empty_seq));
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "san-empty");
	x = good_leaf(ec_key);
	ext_drop(x, NID_subject_alt_name);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "san-missing");
	expect_error(ctx, leaf_with_name(GEN_DNS, "good.example\0.evil.com", 22), "san-nul");
	expect_error(ctx, leaf_with_name(GEN_DNS, "caf\xc3\xa9.example", 13), "san-not-ia5");
	expect_error(ctx, leaf_with_name(GEN_EMAIL, "\xc3\xa9@example.com", 14), "san-not-ia5");
	expect_error(ctx, leaf_with_name(GEN_URI, "", 0), "san-empty-name");
	expect_error(ctx, leaf_with_name(GEN_DNS, "192.0.2.7", 9), "san-dns-ip");
	expect_error(ctx, leaf_with_name(GEN_DNS, "www.*.example", 13), "san-dns-wildcard");
	expect_error(ctx, leaf_with_name(GEN_DNS, "w*.example.com", 14), "san-dns-wildcard");
	expect_error(ctx, leaf_with_name(GEN_DNS, "bad_name..example", 17), "san-dns-syntax");
	expect_error(ctx, leaf_with_name(GEN_IPADD, "\x0a\x00\x00", 3), "san-ip-length");
	/* An empty subject needs a critical SAN. */
	x = base_cert(ec_key, NULL, "Test CA");
	ext_conf(x, NID_key_usage, "critical,digitalSignature");
	ext_conf(x, NID_ext_key_usage, "clientAuth");
	ext_conf(x, NID_subject_alt_name, "email:a@example.com");
	ext_der(x, NID_authority_key_identifier, 0, aki, sizeof(aki));
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "subject-empty-san-not-critical");
	capstan_ctx_free(ctx);
}

/* Sets the signature algorithm, outside (outer) or in the TBS, without signing again. */
static void set_alg(X509 *x, int outer, int nid, int ptype)
{
	const X509_ALGOR *alg;
	const ASN1_BIT_STRING *sig;

	if (outer)
		X509_get0_signature(&sig, &alg, x);
	else
		alg = X509_get0_tbs_sigalg(x);
	assert_int_equal(X509_ALGOR_set0((X509_ALGOR *)alg, OBJ_nid2obj(nid), ptype, NULL), 1);
	if (!outer) /* the TBS is encoded again only when marked changed */
		X509_set_version(x, X509_VERSION_3);
}

static void test_signature(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_buf der;
	X509 *x;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	x = good_leaf(ec_key);
	X509_sign(x, ec_key, EVP_sha256());
	set_alg(x, 1, NID_ecdsa_with_SHA384, V_ASN1_UNDEF);
	der = der_of(x);
	X509_free(x);
	expect_error(ctx, der, "signature-algorithm-mismatch");
	x = good_leaf(ec_key);
	X509_sign(x, ec_key, EVP_sha256());
	set_alg(x, 1, NID_ecdsa_with_SHA256, V_ASN1_NULL);
	set_alg(x, 0, NID_ecdsa_with_SHA256, V_ASN1_NULL);
	der = der_of(x);
	X509_free(x);
	expect_error(ctx, der, "signature-algorithm-params");
	expect_error(ctx, signed_der(good_leaf(ec_key), ec_key, EVP_sha1()), "signature-weak-hash");
	x = good_leaf(ec_key);
	X509_sign(x, ec_key, EVP_sha256());
	set_alg(x, 1, NID_dsa_with_SHA256, V_ASN1_UNDEF);
	set_alg(x, 0, NID_dsa_with_SHA256, V_ASN1_UNDEF);
	der = der_of(x);
	X509_free(x);
	expect_error(ctx, der, "signature-algorithm-unknown");
	/* A self-signed EC root that says RSA signed it. */
	x = good_root(ec_key);
	X509_sign(x, ec_key, EVP_sha256());
	set_alg(x, 1, NID_sha256WithRSAEncryption, V_ASN1_NULL);
	set_alg(x, 0, NID_sha256WithRSAEncryption, V_ASN1_NULL);
	der = der_of(x);
	X509_free(x);
	expect_error(ctx, der, "signature-key-mismatch");
	capstan_ctx_free(ctx);
}

/* An RSA SubjectPublicKeyInfo with modulus n (2048 bits) and exponent e. */
static void set_rsa_key(X509 *x, unsigned long e)
{
	unsigned char mod[257] = { 0x00, 0xc1 }, *der = NULL;
	BIGNUM *n = BN_bin2bn(mod, sizeof(mod), NULL), *bn_e = BN_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;

	memset(mod + 2, 0x55, sizeof(mod) - 3);
	mod[sizeof(mod) - 1] = 0x01;
	BN_bin2bn(mod, sizeof(mod), n);
	BN_set_word(bn_e, e);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_int_equal(EVP_PKEY_fromdata_init(pctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
	assert_int_equal(X509_set_pubkey(x, pkey), 1);
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(bn_e);
}

static void test_keys(void **state)
{
	capstan_ctx *ctx = NULL;
	EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	X509 *x;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	x = good_leaf(rsa1024);
	ext_conf(x, NID_key_usage, "critical,digitalSignature,keyEncipherment");
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "key-rsa-too-small");
	x = good_leaf(ec_key);
	set_rsa_key(x, 65536);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "key-rsa-exponent");
	expect_error(ctx, signed_der(good_leaf(p521), ec_key, EVP_sha256()), "key-ec-curve");
	expect_error(ctx, signed_der(good_leaf(ed448), ec_key, EVP_sha256()), "key-type");
	/* An EC key whose point is not on the curve does not decode. */
	x = good_leaf(ec_key);
	unsigned char *bits = OPENSSL_malloc(65);
	memset(bits, 0x11, 65);
	bits[0] = 0x04;
	assert_int_equal(X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
		V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1), bits, 65), 1);
	expect_error(ctx, signed_der(x, ec_key, EVP_sha256()), "key-malformed");
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(ed448);
	capstan_ctx_free(ctx);
}

/* What capstan signs: every kind, profile and key type, and an OCSP
 * responder, lint without a finding (the signer ran the same checks). */
static void test_capstan_issued(void **state)
{
	static const capstan_key_type types[] = { CAPSTAN_KEY_EC_P256, CAPSTAN_KEY_EC_P384, CAPSTAN_KEY_RSA_2048,
		CAPSTAN_KEY_ED25519 };
	capstan_ctx *ctx = NULL;
	time_t now = time(NULL);
	capstan_strlist sans = { 0 };

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_strlist_push(&sans, "DNS:web.example.com"));
	assert_ok(ctx, capstan_strlist_push(&sans, "DNS:*.apps.example.com"));
	assert_ok(ctx, capstan_strlist_push(&sans, "IP:2001:db8::1"));
	assert_ok(ctx, capstan_strlist_push(&sans, "URI:spiffe://example/web"));
	assert_ok(ctx, capstan_strlist_push(&sans, "email:ops@example.com"));
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		capstan_key *ca = NULL, *inter = NULL, *leaf = NULL, *resp = NULL;
		capstan_buf root, mid, pem = CAPSTAN_BUF_INIT, ocsp = CAPSTAN_BUF_INIT;
		assert_ok(ctx, capstan_key_generate(&ca, ctx, types[t]));
		assert_ok(ctx, capstan_key_generate(&inter, ctx, types[(t + 1) % 4]));
		assert_ok(ctx, capstan_key_generate(&leaf, ctx, types[(t + 2) % 4]));
		assert_ok(ctx, capstan_key_generate(&resp, ctx, types[(t + 3) % 4]));
		root = pki_sign(ctx, CAPSTAN_KIND_ROOT, 0, "Root", NULL, now, now + 86400 * 3650, ca, NULL, ca);
		mid = pki_sign(ctx, CAPSTAN_KIND_INTERMEDIATE, 0, "Inter", NULL, now, now + 86400 * 365, inter, &root, ca);
		pki_pem_append(ctx, &pem, &root);
		pki_pem_append(ctx, &pem, &mid);
		for (int p = 0; p < CAPSTAN_PROFILE__COUNT; p++) {
			capstan_buf l = pki_sign(ctx, CAPSTAN_KIND_LEAF, (capstan_profile)p, "web.example.com",
				p == CAPSTAN_PROFILE_CLIENT && t % 2 ? NULL : &sans, now, now + 86400 * 90, leaf, &mid, inter);
			pki_pem_append(ctx, &pem, &l);
			capstan_buf_free(&l);
		}
		/* Past 2049: GeneralizedTime. */
		capstan_buf late = pki_sign(ctx, CAPSTAN_KIND_LEAF, CAPSTAN_PROFILE_SERVER, "late.example.com", &sans,
			now, 2600000000, leaf, &mid, inter);
		pki_pem_append(ctx, &pem, &late);
		assert_ok(ctx, capstan_ocsp_responder_sign(&ocsp, ctx, mid.data, mid.len, inter, resp, now, now + 86400));
		pki_pem_append(ctx, &pem, &ocsp);
		expect_clean(ctx, pem.data, pem.len, 7);
		expect_clean(ctx, late.data, late.len, 1); /* DER */
		capstan_buf_free(&late);
		capstan_buf_free(&ocsp);
		capstan_buf_free(&pem);
		capstan_buf_free(&root);
		capstan_buf_free(&mid);
		capstan_key_free(ca);
		capstan_key_free(inter);
		capstan_key_free(leaf);
		capstan_key_free(resp);
	}
	capstan_strlist_free(&sans);
	capstan_ctx_free(ctx);
}

/* The signer refuses what breaks a rule: nothing comes back. */
static void test_signer_refuses(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_key *key = NULL;
	capstan_strlist sans = { 0 };
	capstan_buf root, der = CAPSTAN_BUF_INIT;
	capstan_x509_template t = { .kind = CAPSTAN_KIND_LEAF, .profile = CAPSTAN_PROFILE_SERVER, .cn = "w",
		.sans = &sans };
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_key_generate(&key, ctx, CAPSTAN_KEY_EC_P256));
	root = pki_sign(ctx, CAPSTAN_KIND_ROOT, 0, "Root", NULL, now, now + 86400, key, NULL, key);
	/* The request checks keep such a name out; the signer's own check is the last word. */
	assert_ok(ctx, capstan_strlist_push(&sans, "DNS:www.*.example.com"));
	t.not_before = now;
	t.not_after = now + 3600;
	assert_ok(ctx, capstan_serial_generate(ctx, t.serial, hex));
	assert_int_equal(capstan_x509_sign(&der, ctx, &t, key, root.data, root.len, key), CAPSTAN_ERROR);
	assert_null(der.data);
	assert_non_null(strstr(capstan_error_message(ctx), "san-dns-wildcard"));
	/* Validity the wrong way round. */
	capstan_strlist_free(&sans);
	assert_ok(ctx, capstan_strlist_push(&sans, "DNS:w.example.com"));
	t.not_after = now - 3600;
	assert_int_equal(capstan_x509_sign(&der, ctx, &t, key, root.data, root.len, key), CAPSTAN_ERROR);
	assert_non_null(strstr(capstan_error_message(ctx), "validity-order"));
	capstan_buf_free(&root);
	capstan_strlist_free(&sans);
	capstan_key_free(key);
	capstan_ctx_free(ctx);
}

/* eku-profile is the signer's: it knows the profile a leaf is for. */
static void test_eku_profile(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_lint_findings f = CAPSTAN_LINT_FINDINGS_INIT;
	capstan_lint_hint hint = { .subject_key = CAPSTAN_KEY_EC_P256, .issuer_key = CAPSTAN_KEY_EC_P256,
		.has_profile = 1, .profile = CAPSTAN_PROFILE_SERVER };
	X509 *x = good_leaf(ec_key);

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_true(X509_sign(x, ec_key, EVP_sha256()) > 0);
	assert_ok(ctx, capstan_lint_x509(&f, ctx, x, &hint, 0));
	assert_int_equal(f.count, 0);
	hint.profile = CAPSTAN_PROFILE_PEER; /* serverAuth alone is not a peer's */
	assert_ok(ctx, capstan_lint_x509(&f, ctx, x, &hint, 0));
	assert_int_equal(f.count, 1);
	assert_string_equal(f.items[0].rule, "eku-profile");
	capstan_lint_findings_free(&f);
	assert_int_equal(capstan_lint_signed(ctx, x, &hint, "web.example"), CAPSTAN_ERROR);
	assert_non_null(strstr(capstan_error_message(ctx), "'web.example' breaks lint rule eku-profile"));
	hint.has_profile = 0; /* a file alone: no profile to hold it to */
	assert_ok(ctx, capstan_lint_signed(ctx, x, &hint, "web.example"));
	X509_free(x);
	capstan_ctx_free(ctx);
}

/* The public entry point's inputs: PEM with other blocks, DER, and not a certificate. */
static void test_inputs(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_lint_findings f = CAPSTAN_LINT_FINDINGS_INIT;
	capstan_buf pem = CAPSTAN_BUF_INIT, good = signed_der(good_leaf(ec_key), ec_key, EVP_sha256());
	capstan_buf bad = signed_der(good_leaf(ec_key), ec_key, EVP_sha1());
	static const char key_block[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_buf_append(ctx, &pem, key_block, sizeof(key_block) - 1));
	pki_pem_append(ctx, &pem, &good);
	pki_pem_append(ctx, &pem, &bad);
	assert_ok(ctx, capstan_lint(&f, ctx, pem.data, pem.len));
	assert_int_equal(f.certs, 2);
	assert_int_equal(f.errors, 1);
	assert_int_equal(f.items[0].cert, 1);
	assert_string_equal(f.items[0].rule, "signature-weak-hash");
	capstan_lint_findings_free(&f);
	assert_int_equal(capstan_lint(&f, ctx, (const unsigned char *)"hello\n", 6), CAPSTAN_EINVALID);
	assert_int_equal(capstan_lint(&f, ctx, (const unsigned char *)key_block, sizeof(key_block) - 1),
		CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "no certificate"));
	assert_int_equal(capstan_lint(&f, ctx, good.data, good.len - 1), CAPSTAN_EINVALID);
	capstan_lint_findings_free(&f);
	capstan_buf_free(&pem);
	capstan_buf_free(&good);
	capstan_buf_free(&bad);
	capstan_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_crafts),
		cmocka_unit_test(test_serial_header_validity),
		cmocka_unit_test(test_extension_list),
		cmocka_unit_test(test_ca_and_key_usage),
		cmocka_unit_test(test_eku),
		cmocka_unit_test(test_san),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_capstan_issued),
		cmocka_unit_test(test_signer_refuses),
		cmocka_unit_test(test_eku_profile),
		cmocka_unit_test(test_inputs),
	};
	return cmocka_run_group_tests_name("lint", tests, setup, teardown);
}
