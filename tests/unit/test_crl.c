/*
 * Unit tests: CRL assembly (crl.c). The entries are DER-encoded by hand and
 * spliced into the TBSCertList OpenSSL made, so every CRL here is read back
 * with OpenSSL's d2i_X509_CRL and its signature checked against the issuer.
 */
#define _GNU_SOURCE /* memmem */
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "unit_pki.h"

typedef struct {
	const char *serial;   /* as capstan_crl_add takes it */
	const char *canon;    /* the integer's value, as BN_bn2hex writes it */
	time_t at;
	int reason;
} entry;

static X509_CRL *parse_crl(const capstan_buf *der)
{
	const unsigned char *p = der->data;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der->len);

	assert_non_null(crl);
	assert_ptr_equal(p, der->data + der->len); /* nothing after it */
	return crl;
}

static char *serial_hex(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = BN_bn2hex(bn);

	BN_free(bn);
	return hex;
}

static int crl_reason(X509_REVOKED *rev)
{
	int crit = 0;
	ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
	int code;

	if (!e) {
		assert_int_equal(crit, -1); /* absent, not unreadable */
		return 0;
	}
	assert_int_equal(crit, 0);
	code = (int)ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return code;
}

/* The entries are in ascending serial order, each value distinct. */
static void assert_sorted(X509_CRL *crl)
{
	STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);

	for (int i = 1; i < sk_X509_REVOKED_num(revoked); i++)
		assert_true(ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i - 1)),
			X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))) < 0);
}

static void check_header(X509_CRL *crl, X509 *issuer, time_t this_update, time_t next_update, long number)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	AUTHORITY_KEYID *akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(issuer);

	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)), 0);
	assert_int_equal(pki_time(X509_CRL_get0_lastUpdate(crl)), this_update);
	assert_int_equal(pki_time(X509_CRL_get0_nextUpdate(crl)), next_update);
	assert_non_null(n);
	assert_int_equal(ASN1_INTEGER_get(n), number);
	assert_non_null(akid);
	assert_non_null(akid->keyid);
	assert_non_null(skid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, skid), 0);
	ASN1_INTEGER_free(n);
	AUTHORITY_KEYID_free(akid);
}

/* One issuer key type: the entries (serial encodings that need a sign byte,
 * odd-length hex, 20-byte serials; UTCTime and GeneralizedTime; reasons, and
 * none for unspecified) read back as given, in order, and the signature
 * verifies with the issuer's public key and only over what it signed. */
static void crl_for_key(capstan_key_type type)
{
	const time_t now = time(NULL), this_update = now - 60, next_update = now + 7 * 86400;
	const entry entries[] = {
		{ "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A", now - 86400, 1 },
		{ "01", "01", now - 3600, 0 },
		{ "ff", "FF", now - 7200, 4 },               /* high bit: a 0x00 keeps it positive */
		{ "7f", "7F", now - 10, 5 },
		{ "abc", "0ABC", now - 20, 3 },              /* odd length */
		{ "0000000100", "0100", now - 30, 9 },       /* leading zeros dropped: minimal DER */
		{ "ffffffffffffffffffffffffffffffffffffffff", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", now - 40, 10 },
		{ "1234", "1234", (time_t)2600000000, 2 },  /* 2052: GeneralizedTime */
	};
	const size_t n = sizeof(entries) / sizeof(entries[0]);
	capstan_ctx *ctx = NULL;
	capstan_key *key = NULL;
	capstan_crl *c = NULL;
	capstan_buf issuer_der = CAPSTAN_BUF_INIT, der = CAPSTAN_BUF_INIT;
	X509 *issuer;
	X509_CRL *crl;
	EVP_PKEY *pub;
	STACK_OF(X509_REVOKED) *revoked;
	unsigned char *at;

	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_key_generate(&key, ctx, type));
	issuer_der = pki_sign(ctx, CAPSTAN_KIND_ROOT, 0, "crl Root CA", NULL, now - 300, now + 86400 * 30, key, NULL, key);
	issuer = pki_x509(issuer_der.data, issuer_der.len);
	pub = X509_get0_pubkey(issuer);

	assert_ok(ctx, capstan_crl_new(&c, ctx, issuer_der.data, issuer_der.len, this_update, next_update, 42));
	for (size_t i = 0; i < n; i++)
		assert_ok(ctx, capstan_crl_add(c, ctx, entries[i].serial, entries[i].at, entries[i].reason));
	assert_ok(ctx, capstan_crl_sign(&der, c, ctx, key));
	capstan_crl_free(c);

	crl = parse_crl(&der);
	assert_int_equal(X509_CRL_verify(crl, pub), 1);
	check_header(crl, issuer, this_update, next_update, 42);
	revoked = X509_CRL_get_REVOKED(crl);
	assert_int_equal(sk_X509_REVOKED_num(revoked), n);
	assert_sorted(crl);
	for (size_t i = 0; i < n; i++) {
		int found = 0;
		for (int j = 0; j < sk_X509_REVOKED_num(revoked); j++) {
			X509_REVOKED *rev = sk_X509_REVOKED_value(revoked, j);
			const ASN1_TIME *t = X509_REVOKED_get0_revocationDate(rev);
			char *hex = serial_hex(X509_REVOKED_get0_serialNumber(rev));
			if (strcmp(hex, entries[i].canon) == 0) {
				found++;
				assert_int_equal(pki_time(t), entries[i].at);
				assert_int_equal(ASN1_STRING_type(t),
					entries[i].at >= (time_t)2524608000 ? V_ASN1_GENERALIZEDTIME : V_ASN1_UTCTIME);
				assert_int_equal(crl_reason(rev), entries[i].reason);
				assert_int_equal(X509_REVOKED_get_ext_count(rev), entries[i].reason ? 1 : 0);
			}
			OPENSSL_free(hex);
		}
		assert_int_equal(found, 1);
	}
	X509_CRL_free(crl);

	/* The signature covers the spliced entries: change one serial byte and
	 * the CRL still parses but no longer verifies. */
	at = memmem(der.data, der.len, "\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a", 8);
	assert_non_null(at);
	at[3] ^= 0x01;
	crl = parse_crl(&der);
	assert_int_not_equal(X509_CRL_verify(crl, pub), 1);
	X509_CRL_free(crl);

	capstan_buf_free(&der);
	capstan_buf_free(&issuer_der);
	X509_free(issuer);
	capstan_key_free(key);
	capstan_ctx_free(ctx);
}

static void test_entries_and_signature(void **state)
{
	(void)state;
	crl_for_key(CAPSTAN_KEY_EC_P256);
	crl_for_key(CAPSTAN_KEY_EC_P384);   /* signed with SHA-384 */
	crl_for_key(CAPSTAN_KEY_ED25519);   /* pure EdDSA: no digest */
	crl_for_key(CAPSTAN_KEY_RSA_2048);
}

/* No entries: no revokedCertificates at all (not an empty SEQUENCE). Many:
 * lengths of two and three octets, and the sort. */
static void test_empty_and_long(void **state)
{
	const time_t now = time(NULL);
	capstan_ctx *ctx = NULL;
	capstan_key *key = NULL;
	capstan_crl *c = NULL;
	capstan_buf issuer_der = CAPSTAN_BUF_INIT, der = CAPSTAN_BUF_INIT;
	X509 *issuer;
	X509_CRL *crl;
	char hex[2 * CAPSTAN_SERIAL_LEN + 1], *probe = NULL;
	unsigned char serial[CAPSTAN_SERIAL_LEN];
	const int many = 3000;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_key_generate(&key, ctx, CAPSTAN_KEY_EC_P256));
	issuer_der = pki_sign(ctx, CAPSTAN_KIND_ROOT, 0, "crl Root CA", NULL, now - 300, now + 86400, key, NULL, key);
	issuer = pki_x509(issuer_der.data, issuer_der.len);

	assert_ok(ctx, capstan_crl_new(&c, ctx, issuer_der.data, issuer_der.len, now, now + 3600, 1));
	assert_ok(ctx, capstan_crl_sign(&der, c, ctx, key));
	capstan_crl_free(c);
	crl = parse_crl(&der);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(issuer)), 1);
	assert_null(X509_CRL_get_REVOKED(crl));
	check_header(crl, issuer, now, now + 3600, 1);
	X509_CRL_free(crl);
	capstan_buf_free(&der);

	assert_ok(ctx, capstan_crl_new(&c, ctx, issuer_der.data, issuer_der.len, now, now + 3600, 2));
	for (int i = 0; i < many; i++) {
		assert_ok(ctx, capstan_serial_generate(ctx, serial, hex));
		if (i == many / 2)
			probe = strdup(hex);
		assert_ok(ctx, capstan_crl_add(c, ctx, hex, now - i, i % 6));
	}
	assert_ok(ctx, capstan_crl_sign(&der, c, ctx, key));
	capstan_crl_free(c);
	assert_true(der.len > 65536); /* the outer length takes three octets */
	crl = parse_crl(&der);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(issuer)), 1);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), many);
	assert_sorted(crl);
	{
		BIGNUM *bn = NULL;
		ASN1_INTEGER *ai;
		X509_REVOKED *rev = NULL;
		assert_true(BN_hex2bn(&bn, probe) > 0);
		ai = BN_to_ASN1_INTEGER(bn, NULL);
		assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, ai), 1);
		assert_int_equal(pki_time(X509_REVOKED_get0_revocationDate(rev)), now - many / 2);
		assert_int_equal(crl_reason(rev), (many / 2) % 6);
		ASN1_INTEGER_free(ai);
		BN_free(bn);
	}
	X509_CRL_free(crl);
	free(probe);
	capstan_buf_free(&der);
	capstan_buf_free(&issuer_der);
	X509_free(issuer);
	capstan_key_free(key);
	capstan_ctx_free(ctx);
}

static void test_refusals(void **state)
{
	const time_t now = time(NULL);
	capstan_ctx *ctx = NULL;
	capstan_key *key = NULL;
	capstan_crl *c = NULL;
	capstan_buf issuer_der = CAPSTAN_BUF_INIT;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_key_generate(&key, ctx, CAPSTAN_KEY_EC_P256));
	issuer_der = pki_sign(ctx, CAPSTAN_KIND_ROOT, 0, "crl Root CA", NULL, now - 300, now + 86400, key, NULL, key);
	assert_int_equal(capstan_crl_new(&c, ctx, (const unsigned char *)"junk", 4, now, now + 60, 1), CAPSTAN_EINVALID);
	assert_ok(ctx, capstan_crl_new(&c, ctx, issuer_der.data, issuer_der.len, now, now + 60, 1));
	assert_int_equal(capstan_crl_add(c, ctx, "", now, 0), CAPSTAN_ERROR);
	assert_int_equal(capstan_crl_add(c, ctx, "12xz", now, 0), CAPSTAN_ERROR);
	assert_non_null(strstr(capstan_error_message(ctx), "12xz"));
	/* 21 bytes: longer than RFC 5280 allows a serial */
	assert_int_equal(capstan_crl_add(c, ctx, "010203040506070809101112131415161718192021", now, 0), CAPSTAN_ERROR);
	/* before 1950: neither UTCTime nor what RFC 5280 allows */
	assert_int_equal(capstan_crl_add(c, ctx, "01", (time_t)-700000000, 0), CAPSTAN_ERROR);
	assert_non_null(strstr(capstan_error_message(ctx), "out of range"));
	capstan_crl_free(c);
	capstan_buf_free(&issuer_der);
	capstan_key_free(key);
	capstan_ctx_free(ctx);
}

static capstan_cert *issue_client(capstan_ctx *ctx, const char *name)
{
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_cert *cert = NULL;

	o.env = "dev";
	o.cn = name;
	o.profile = CAPSTAN_PROFILE_CLIENT;
	assert_ok(ctx, capstan_issue(&cert, ctx, &o));
	return cert;
}

static int verify_with_crls(X509 *root, X509 *inter, X509 *leaf, X509_CRL *inter_crl, X509_CRL *root_crl)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int err;

	X509_STORE_add_cert(store, root);
	X509_STORE_add_crl(store, inter_crl);
	X509_STORE_add_crl(store, root_crl);
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_X509_STRICT);
	sk_X509_push(untrusted, inter);
	assert_int_equal(X509_STORE_CTX_init(sctx, store, leaf, untrusted), 1);
	err = X509_verify_cert(sctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(sctx);
	X509_STORE_CTX_free(sctx);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	return err;
}

/* The inventory's CRLs: the intermediate's lists what it revoked, with the
 * reasons, signed by it; the root's by the root; OpenSSL's verifier, told to
 * check CRLs all the way up, refuses the revoked leaf and takes the other. */
static void test_inventory_crls(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_cert *root = NULL, *inter = NULL, *a, *b, *c;
	capstan_crl_opts co = CAPSTAN_CRL_OPTS_INIT;
	capstan_crl_item *items = NULL;
	capstan_buf pem = CAPSTAN_BUF_INIT;
	size_t n = 0;
	X509 *xroot, *xinter, *xa, *xc;
	X509_CRL *inter_crl, *root_crl, *from_pem;
	X509_REVOKED *rev;
	BIO *bio;

	(void)state;
	io.env = "dev";
	assert_ok(ctx, capstan_env_init(&root, &inter, ctx, &io));
	a = issue_client(ctx, "alice");
	b = issue_client(ctx, "bob");
	c = issue_client(ctx, "carol");
	assert_ok(ctx, capstan_revoke(ctx, a, CAPSTAN_REASON_KEY_COMPROMISE));
	assert_ok(ctx, capstan_revoke(ctx, b, CAPSTAN_REASON_UNSPECIFIED));
	co.env = "dev";
	assert_ok(ctx, capstan_crl_items(&items, &n, ctx, &co));
	assert_int_equal(n, 2);
	assert_false(items[0].is_root);
	assert_true(items[1].is_root);

	xroot = pki_x509(root->der, root->der_len);
	xinter = pki_x509(inter->der, inter->der_len);
	inter_crl = parse_crl(&items[0].der);
	root_crl = parse_crl(&items[1].der);
	assert_int_equal(X509_CRL_verify(inter_crl, X509_get0_pubkey(xinter)), 1);
	assert_int_not_equal(X509_CRL_verify(inter_crl, X509_get0_pubkey(xroot)), 1);
	assert_int_equal(X509_CRL_verify(root_crl, X509_get0_pubkey(xroot)), 1);
	check_header(inter_crl, xinter, items[0].this_update, items[0].next_update, items[0].number);
	check_header(root_crl, xroot, items[1].this_update, items[1].next_update, items[1].number);
	assert_null(X509_CRL_get_REVOKED(root_crl)); /* no intermediate revoked */

	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(inter_crl)), 2);
	xa = pki_x509(a->der, a->der_len);
	xc = pki_x509(c->der, c->der_len);
	assert_int_equal(X509_CRL_get0_by_cert(inter_crl, &rev, xa), 1);
	assert_int_equal(crl_reason(rev), 1);
	{
		capstan_cert *again = NULL;
		assert_ok(ctx, capstan_cert_lookup(&again, ctx, a->serial, "dev"));
		assert_int_equal(pki_time(X509_REVOKED_get0_revocationDate(rev)), again->revoked_at);
		capstan_cert_free(again);
	}
	{
		X509 *xb = pki_x509(b->der, b->der_len);
		assert_int_equal(X509_CRL_get0_by_cert(inter_crl, &rev, xb), 1);
		assert_int_equal(crl_reason(rev), 0);
		X509_free(xb);
	}
	assert_int_equal(X509_CRL_get0_by_cert(inter_crl, &rev, xc), 0);

	assert_int_equal(verify_with_crls(xroot, xinter, xa, inter_crl, root_crl), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify_with_crls(xroot, xinter, xc, inter_crl, root_crl), X509_V_OK);

	/* The PEM is the same DER, armoured. */
	assert_ok(ctx, capstan_crl_pem(&pem, ctx, &items[0].der, 1));
	bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	from_pem = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	assert_non_null(from_pem);
	{
		unsigned char *der = NULL;
		int len = i2d_X509_CRL(from_pem, &der);
		assert_int_equal(len, items[0].der.len);
		assert_memory_equal(der, items[0].der.data, items[0].der.len);
		OPENSSL_free(der);
	}
	BIO_free(bio);
	X509_CRL_free(from_pem);
	capstan_buf_free(&pem);

	X509_CRL_free(inter_crl);
	X509_CRL_free(root_crl);
	X509_free(xroot);
	X509_free(xinter);
	X509_free(xa);
	X509_free(xc);
	capstan_crl_items_free(items, n);
	capstan_cert_free(root);
	capstan_cert_free(inter);
	capstan_cert_free(a);
	capstan_cert_free(b);
	capstan_cert_free(c);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries_and_signature),
		cmocka_unit_test(test_empty_and_long),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_inventory_crls),
	};
	return cmocka_run_group_tests_name("crl", tests, NULL, NULL);
}
