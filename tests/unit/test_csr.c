/* Unit tests: the CSR read's two paths (csr_fast.c and csr.c's generic one)
 * agree, and the fast one says no to everything it does not read with
 * certainty, leaving the refusal to the generic one. */
#include <string.h>

#include <openssl/pem.h>

#include "unit.h"
#include "unit_pki.h"

#include "crypto/csr_fast.h"

/* The key's SPKI as OpenSSL's encoder writes it. */
static capstan_buf spki_of(EVP_PKEY *pkey)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(pkey, &der);
	capstan_buf out = CAPSTAN_BUF_INIT;

	assert_true(len > 0);
	out.data = malloc((size_t)len);
	memcpy(out.data, der, (size_t)len);
	out.len = (size_t)len;
	OPENSSL_free(der);
	return out;
}

/* The fast path reads csr; what it read is what OpenSSL's X509_REQ says. */
static void agrees(capstan_ctx *ctx, const capstan_buf *csr, capstan_key_type type, const char *cn, int nsans)
{
	capstan_csr_fields f;
	const unsigned char *p = csr->data;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)csr->len);
	const unsigned char *spki;
	size_t spki_len;

	assert_non_null(req);
	assert_int_equal(capstan_csr_read_fast(ctx, csr->data, csr->len, &f), 1);
	assert_int_equal(capstan_key_get_type(f.key), type);
	capstan_buf want = spki_of(X509_REQ_get0_pubkey(req));
	assert_ok(ctx, capstan_key_spki(ctx, f.key, &spki, &spki_len));
	assert_int_equal(spki_len, want.len);
	assert_memory_equal(spki, want.data, want.len);
	assert_int_equal(X509_NAME_cmp(f.subject, X509_REQ_get_subject_name(req)), 0);
	assert_int_equal(f.sig_nid, X509_REQ_get_signature_nid(req));
	assert_int_equal(sk_X509_EXTENSION_num(f.extensions), nsans ? 1 : 0);

	/* And capstan_csr_read, which takes that path, returns the same. */
	capstan_key *key = NULL;
	capstan_strlist sans = { 0 };
	char *got_cn = NULL;
	assert_ok(ctx, capstan_csr_read(ctx, csr->data, csr->len, &key, &got_cn, &sans));
	assert_string_equal(got_cn, cn);
	assert_int_equal((int)sans.count, nsans);
	capstan_key_free(key);
	free(got_cn);
	capstan_strlist_free(&sans);
	capstan_buf_free(&want);
	capstan_csr_fields_clear(&f);
	X509_REQ_free(req);
}

static void test_fast_path_agrees(void **state)
{
	capstan_ctx *ctx = NULL;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	capstan_buf p256 = pki_csr("EC", "P-256", "SHA256", "a.internal", "DNS:a.internal,IP:10.0.0.1", 0);
	capstan_buf p384 = pki_csr("EC", "P-384", "SHA384", "b.internal", "DNS:b.internal", 0);
	capstan_buf p256_512 = pki_csr("EC", "P-256", "SHA512", "c.internal", NULL, 0);
	capstan_buf ed = pki_csr("ED25519", NULL, NULL, "d.internal", "DNS:d.internal", 0);
	agrees(ctx, &p256, CAPSTAN_KEY_EC_P256, "a.internal", 2);
	agrees(ctx, &p384, CAPSTAN_KEY_EC_P384, "b.internal", 1);
	agrees(ctx, &p256_512, CAPSTAN_KEY_EC_P256, "c.internal", 0);
	agrees(ctx, &ed, CAPSTAN_KEY_ED25519, "d.internal", 1);
	capstan_buf_free(&p256);
	capstan_buf_free(&p384);
	capstan_buf_free(&p256_512);
	capstan_buf_free(&ed);
	capstan_ctx_free(ctx);
}

/* read_no: the fast path says no, and capstan_csr_read gives want (0 or a
 * refusal whose message has msg). */
static void fast_says_no(capstan_ctx *ctx, const capstan_buf *csr, int want, const char *msg)
{
	capstan_csr_fields f;
	capstan_key *key = NULL;
	capstan_strlist sans = { 0 };
	char *cn = NULL;

	assert_int_equal(capstan_csr_read_fast(ctx, csr->data, csr->len, &f), 0);
	assert_null(f.key);
	assert_null(f.subject);
	int rc = capstan_csr_read(ctx, csr->data, csr->len, &key, &cn, &sans);
	assert_int_equal(rc, want);
	if (msg)
		assert_non_null(strstr(capstan_error_message(ctx), msg));
	capstan_key_free(key);
	free(cn);
	capstan_strlist_free(&sans);
}

static void test_fast_path_says_no(void **state)
{
	capstan_ctx *ctx = NULL;
	size_t bits = 2048;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	/* Read by the generic path, and accepted. */
	capstan_buf rsa = pki_csr("RSA", &bits, "SHA256", "rsa.internal", NULL, 0);
	fast_says_no(ctx, &rsa, 0, NULL);
	capstan_buf compressed = pki_csr("EC", "P-256", "SHA256", "z.internal", NULL, 1);
	fast_says_no(ctx, &compressed, 0, NULL);
	/* Refused, in the generic path's words. */
	capstan_buf sha1 = pki_csr("EC", "P-256", "SHA1", "old", NULL, 0);
	fast_says_no(ctx, &sha1, CAPSTAN_EINVALID, "weak algorithm");
	capstan_buf tampered = pki_csr("EC", "P-256", "SHA256", "t.internal", NULL, 0);
	tampered.data[tampered.len - 3] ^= 0x01; /* inside the signature */
	fast_says_no(ctx, &tampered, CAPSTAN_EINVALID, "does not verify");
	capstan_buf trailing = pki_csr("EC", "P-256", "SHA256", "x.internal", NULL, 0);
	assert_ok(ctx, capstan_buf_append(ctx, &trailing, "\0", 1));
	fast_says_no(ctx, &trailing, CAPSTAN_EINVALID, "not a PEM or DER");
	capstan_buf_free(&rsa);
	capstan_buf_free(&compressed);
	capstan_buf_free(&sha1);
	capstan_buf_free(&tampered);
	capstan_buf_free(&trailing);
	capstan_ctx_free(ctx);
}

/* PEM, under either name a CSR goes by, takes the fast path too. */
static void test_pem(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_key *key = NULL;
	capstan_strlist sans = { 0 };
	char *cn = NULL, *pem = NULL;
	long len;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	capstan_buf der = pki_csr("EC", "P-256", "SHA256", "pem.internal", "DNS:pem.internal", 0);
	for (int old = 0; old < 2; old++) {
		BIO *bio = BIO_new(BIO_s_mem());
		assert_true(PEM_write_bio(bio, old ? "NEW CERTIFICATE REQUEST" : "CERTIFICATE REQUEST", "",
			der.data, (long)der.len) > 0);
		len = BIO_get_mem_data(bio, &pem);
		assert_ok(ctx, capstan_csr_read(ctx, (const unsigned char *)pem, (size_t)len, &key, &cn, &sans));
		assert_string_equal(cn, "pem.internal");
		assert_int_equal(sans.count, 1);
		capstan_key_free(key);
		free(cn);
		capstan_strlist_free(&sans);
		BIO_free(bio);
	}
	capstan_buf_free(&der);
	capstan_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_path_agrees),
		cmocka_unit_test(test_fast_path_says_no),
		cmocka_unit_test(test_pem),
	};
	return cmocka_run_group_tests_name("csr", tests, NULL, NULL);
}
