/* Unit tests: building, signing and reading certificates; serials; CSRs. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "unit.h"
#include "unit_pki.h"

#include "crypto/crypto.h"

static void test_serials(void **state)
{
	capstan_ctx *ctx = NULL;
	unsigned char a[CAPSTAN_SERIAL_LEN], b[CAPSTAN_SERIAL_LEN];
	char ha[33], hb[33];

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	for (int i = 0; i < 64; i++) {
		assert_ok(ctx, capstan_serial_generate(ctx, a, ha));
		assert_ok(ctx, capstan_serial_generate(ctx, b, hb));
		assert_int_equal(a[0] & 0x80, 0);   /* positive */
		assert_int_not_equal(a[0], 0);      /* full length */
		assert_int_equal(strlen(ha), 32);
		assert_string_not_equal(ha, hb);
	}
	capstan_ctx_free(ctx);
}

static void test_sign_and_read(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_key *ca = NULL, *leaf = NULL;
	capstan_buf root_der = CAPSTAN_BUF_INIT, leaf_der = CAPSTAN_BUF_INIT;
	capstan_strlist sans = { 0 };
	capstan_x509_info info;
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_key_generate(&ca, ctx, CAPSTAN_KEY_EC_P384));
	assert_ok(ctx, capstan_key_generate(&leaf, ctx, CAPSTAN_KEY_EC_P256));
	capstan_x509_template root = { .kind = CAPSTAN_KIND_ROOT, .cn = "t Root CA", .org = "Org",
		.not_before = now - 300, .not_after = now + 86400 };
	assert_ok(ctx, capstan_serial_generate(ctx, root.serial, (char[33]){ 0 }));
	assert_ok(ctx, capstan_x509_sign(&root_der, ctx, &root, ca, NULL, 0, ca));
	assert_int_equal(capstan_strlist_push(&sans, "DNS:web.internal"), 0);
	assert_int_equal(capstan_strlist_push(&sans, "IP:::1"), 0);
	assert_int_equal(capstan_strlist_push(&sans, "URI:spiffe://t/web"), 0);
	assert_int_equal(capstan_strlist_push(&sans, "email:ops@example.com"), 0);
	capstan_x509_template lt = { .kind = CAPSTAN_KIND_LEAF, .profile = CAPSTAN_PROFILE_PEER,
		.cn = "web.internal", .sans = &sans, .not_before = now - 300, .not_after = now + 3600 };
	assert_ok(ctx, capstan_serial_generate(ctx, lt.serial, (char[33]){ 0 }));
	assert_ok(ctx, capstan_x509_sign(&leaf_der, ctx, &lt, leaf, root_der.data, root_der.len, ca));
	assert_ok(ctx, capstan_x509_info_read(&info, ctx, leaf_der.data, leaf_der.len));
	assert_string_equal(info.subject, "CN=web.internal");
	assert_string_equal(info.issuer, "CN=t Root CA,O=Org");
	assert_int_equal(info.not_after, now + 3600);
	assert_int_equal(info.key_type, CAPSTAN_KEY_EC_P256);
	assert_int_equal(info.sans.count, 4);
	assert_string_equal(info.sans.items[0], "DNS:web.internal");
	assert_string_equal(info.sans.items[1], "IP:::1");
	assert_string_equal(info.sans.items[2], "URI:spiffe://t/web");
	assert_string_equal(info.sans.items[3], "email:ops@example.com");
	assert_int_equal(strlen(info.fingerprint_sha256), 64);
	capstan_x509_info_clear(&info);
	/* Garbage is refused, not parsed. */
	assert_int_equal(capstan_x509_info_read(&info, ctx, (const unsigned char *)"junk", 4), CAPSTAN_EINVALID);
	capstan_strlist_free(&sans);
	capstan_buf_free(&root_der);
	capstan_buf_free(&leaf_der);
	capstan_key_free(ca);
	capstan_key_free(leaf);
	capstan_ctx_free(ctx);
}

/* A self-signed DER certificate with the serial given in hex (a leading '-': negative). */
static capstan_buf cert_with_serial(EVP_PKEY *key, const char *hex)
{
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial;
	capstan_buf out = CAPSTAN_BUF_INIT;
	unsigned char *der = NULL;
	int len;

	assert_true(BN_hex2bn(&bn, hex) > 0);
	assert_non_null(serial = BN_to_ASN1_INTEGER(bn, NULL));
	assert_int_equal(X509_set_serialNumber(x, serial), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_true((len = i2d_X509(x, &der)) > 0);
	out.data = malloc((size_t)len);
	memcpy(out.data, der, (size_t)len);
	out.len = (size_t)len;
	OPENSSL_free(der);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_free(x);
	return out;
}

/* The walked serial (serve's identity lookup) is the parsed one, byte for byte. */
static void test_serial_walk(void **state)
{
	static const char *const serials[] = { "1", "7F", "80", "00FF", "4000000000000000000000000000000A",
		"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" };
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	capstan_ctx *ctx = NULL;
	capstan_x509_info info;
	capstan_buf der;
	char hex[41];

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	for (size_t i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
		der = cert_with_serial(key, serials[i]);
		assert_ok(ctx, capstan_x509_info_read(&info, ctx, der.data, der.len));
		assert_ok(ctx, capstan_x509_serial_hex(ctx, der.data, der.len, hex));
		assert_string_equal(hex, info.serial);
		capstan_x509_info_clear(&info);
		capstan_buf_free(&der);
	}
	/* Negative serials and garbage are left to the parser. */
	der = cert_with_serial(key, "-5");
	assert_int_equal(capstan_x509_serial_hex(ctx, der.data, der.len, hex), CAPSTAN_EINVALID);
	capstan_buf_free(&der);
	assert_int_equal(capstan_x509_serial_hex(ctx, (const unsigned char *)"\x30\x03\x30\x01", 4, hex),
		CAPSTAN_EINVALID);
	EVP_PKEY_free(key);
	capstan_ctx_free(ctx);
}

static void test_csr(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_key *pub = NULL;
	capstan_strlist sans = { 0 };
	size_t bits1024 = 1024;
	char *cn = NULL;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	capstan_buf good = pki_csr("EC", "P-256", "SHA256", "svc.internal", "DNS:svc.internal,IP:10.1.2.3", 0);
	assert_ok(ctx, capstan_csr_read(ctx, good.data, good.len, &pub, &cn, &sans));
	assert_string_equal(cn, "svc.internal");
	assert_int_equal(sans.count, 2);
	assert_string_equal(sans.items[1], "IP:10.1.2.3");
	assert_int_equal(capstan_key_get_type(pub), CAPSTAN_KEY_EC_P256);
	capstan_key_free(pub);
	free(cn);
	capstan_strlist_free(&sans);
	/* A CSR whose signature no longer matches its content. */
	good.data[good.len / 2] ^= 0x01;
	assert_true(capstan_csr_read(ctx, good.data, good.len, &pub, &cn, &sans) < 0);
	capstan_buf_free(&good);
	capstan_buf weak = pki_csr("RSA", &bits1024, "SHA256", "weak", NULL, 0);
	assert_int_equal(capstan_csr_read(ctx, weak.data, weak.len, &pub, &cn, &sans), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "too weak"));
	capstan_buf_free(&weak);
	capstan_buf sha1 = pki_csr("EC", "P-256", "SHA1", "old", NULL, 0);
	assert_int_equal(capstan_csr_read(ctx, sha1.data, sha1.len, &pub, &cn, &sans), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "weak algorithm"));
	capstan_buf_free(&sha1);
	capstan_buf ed = pki_csr("ED25519", NULL, NULL, "ed", NULL, 0);
	assert_ok(ctx, capstan_csr_read(ctx, ed.data, ed.len, &pub, &cn, &sans));
	assert_int_equal(capstan_key_get_type(pub), CAPSTAN_KEY_ED25519);
	capstan_key_free(pub);
	free(cn);
	capstan_buf_free(&ed);
	assert_int_equal(capstan_csr_read(ctx, (const unsigned char *)"-----BEGIN junk", 15, &pub, &cn, &sans),
		CAPSTAN_EINVALID);
	capstan_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serials),
		cmocka_unit_test(test_sign_and_read),
		cmocka_unit_test(test_serial_walk),
		cmocka_unit_test(test_csr),
	};
	return cmocka_run_group_tests_name("x509", tests, NULL, NULL);
}
