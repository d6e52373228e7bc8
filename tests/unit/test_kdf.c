/*
 * Unit tests: the key-encryption key (KEK) derivation, against known answers.
 *
 * keys.h documents it: scrypt, N = 2^15, r = 8, p = 1, a 16-byte salt, a
 * 32-byte key; home.c stores "scrypt:N:r:p" and the salt beside the keyring.
 * The vectors below were computed once, outside capstan, with OpenSSL 3.0's
 * command line (not with the code under test):
 *
 *   openssl kdf -keylen 32 -kdfopt pass:"correct horse battery staple" \
 *       -kdfopt hexsalt:000102030405060708090a0b0c0d0e0f \
 *       -kdfopt n:32768 -kdfopt r:8 -kdfopt p:1 SCRYPT
 *   openssl kdf -keylen 32 -kdfopt pass:"$(printf 'p\303\244ssw\303\266rd \342\202\254')" \
 *       -kdfopt hexsalt:fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0 \
 *       -kdfopt n:32768 -kdfopt r:8 -kdfopt p:1 SCRYPT
 *   openssl kdf -keylen 64 -kdfopt pass:password -kdfopt salt:NaCl \
 *       -kdfopt n:1024 -kdfopt r:8 -kdfopt p:16 SCRYPT
 *
 * The last is also RFC 7914 section 12's second test vector.
 */
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "unit.h"

#include "crypto/crypto.h"
#include "store/store.h" /* the keyring's metadata, and the context's KEK */

static void hex_to_bytes(const char *hex, unsigned char *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

/* scrypt through OpenSSL's EVP_KDF directly: the test's own computation. */
static void scrypt_reference(unsigned char *out, size_t out_len, const void *pass, size_t pass_len,
	const unsigned char *salt, size_t salt_len, uint64_t n, uint32_t r, uint32_t p)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pass, pass_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
		OSSL_PARAM_construct_end(),
	};

	assert_non_null(kctx);
	assert_int_equal(EVP_KDF_derive(kctx, out, out_len, params), 1);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
}

static void derive(capstan_ctx *ctx, unsigned char kek[32], const char *pass, size_t pass_len,
	const unsigned char *salt, size_t salt_len, uint64_t n, uint32_t r, uint32_t p)
{
	capstan_secret s = CAPSTAN_SECRET_INIT;

	assert_ok(ctx, capstan_secret_set(&s, ctx, pass, pass_len));
	assert_ok(ctx, capstan_kek_derive(ctx, kek, &s, salt, salt_len, n, r, p));
	capstan_secret_free(&s);
}

/* The documented cost: a change would leave the vectors below describing
 * something capstan no longer does (stored inventories keep their own). */
static void test_documented_parameters(void **state)
{
	(void)state;
	assert_int_equal(CAPSTAN_KDF_N, 32768);
	assert_int_equal(CAPSTAN_KDF_R, 8);
	assert_int_equal(CAPSTAN_KDF_P, 1);
	assert_int_equal(CAPSTAN_KDF_SALT_LEN, 16);
}

static void test_kek_known_answers(void **state)
{
	static const char pass_utf8[] = "p\xc3\xa4ssw\xc3\xb6rd \xe2\x82\xac"; /* "pässwörd €" */
	capstan_ctx *ctx = NULL;
	unsigned char salt[16], kek[32], want[32], ref[32];

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);

	hex_to_bytes("000102030405060708090a0b0c0d0e0f", salt, sizeof(salt));
	hex_to_bytes("7a8e34241db898d59175c696538c417467a975ffe569068425f16188d3159c58", want, sizeof(want));
	derive(ctx, kek, "correct horse battery staple", 28, salt, sizeof(salt),
		CAPSTAN_KDF_N, CAPSTAN_KDF_R, CAPSTAN_KDF_P);
	assert_memory_equal(kek, want, 32);
	/* ...and the test's own scrypt agrees with the command line. */
	scrypt_reference(ref, sizeof(ref), "correct horse battery staple", 28, salt, sizeof(salt), 32768, 8, 1);
	assert_memory_equal(ref, want, 32);

	/* The passphrase's bytes as given: UTF-8, no normalisation, no terminator. */
	hex_to_bytes("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0", salt, sizeof(salt));
	hex_to_bytes("b4f1933a68260123ef189233382e04eeb05c1086f4a3fa6f5d7b58821977062a", want, sizeof(want));
	derive(ctx, kek, pass_utf8, sizeof(pass_utf8) - 1, salt, sizeof(salt), CAPSTAN_KDF_N, CAPSTAN_KDF_R,
		CAPSTAN_KDF_P);
	assert_memory_equal(kek, want, 32);
	scrypt_reference(ref, sizeof(ref), pass_utf8, sizeof(pass_utf8) - 1, salt, sizeof(salt), 32768, 8, 1);
	assert_memory_equal(ref, want, 32);

	/* RFC 7914 12: scrypt("password", "NaCl", 1024, 8, 16), its first 32 bytes. */
	hex_to_bytes("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162", want, sizeof(want));
	derive(ctx, kek, "password", 8, (const unsigned char *)"NaCl", 4, 1024, 8, 16);
	assert_memory_equal(kek, want, 32);

	/* Each input matters: one bit of salt, one byte of passphrase, each cost. */
	hex_to_bytes("000102030405060708090a0b0c0d0e0f", salt, sizeof(salt));
	hex_to_bytes("7a8e34241db898d59175c696538c417467a975ffe569068425f16188d3159c58", want, sizeof(want));
	salt[15] ^= 1;
	derive(ctx, kek, "correct horse battery staple", 28, salt, sizeof(salt), 32768, 8, 1);
	assert_memory_not_equal(kek, want, 32);
	salt[15] ^= 1;
	derive(ctx, kek, "correct horse battery stapLe", 28, salt, sizeof(salt), 32768, 8, 1);
	assert_memory_not_equal(kek, want, 32);
	derive(ctx, kek, "correct horse battery staple", 28, salt, sizeof(salt), 16384, 8, 1);
	assert_memory_not_equal(kek, want, 32);
	derive(ctx, kek, "correct horse battery staple", 28, salt, sizeof(salt), 32768, 4, 1);
	assert_memory_not_equal(kek, want, 32);
	derive(ctx, kek, "correct horse battery staple", 28, salt, sizeof(salt), 32768, 8, 2);
	assert_memory_not_equal(kek, want, 32);
	capstan_ctx_free(ctx);
}

/* What an unlocked home holds is scrypt, with the documented cost, of the
 * passphrase and the salt it stored; the keyring check opens with it. */
static void test_home_kek_is_scrypt_of_its_salt(void **state)
{
	static const char check_text[] = "capstan keyring check v1";
	char *home = NULL, *home2 = NULL;
	capstan_ctx *ctx = unit_open_home(&home), *ctx2 = unit_open_home(&home2);
	capstan_buf salt = CAPSTAN_BUF_INIT, salt2 = CAPSTAN_BUF_INIT, params = CAPSTAN_BUF_INIT;
	capstan_buf check = CAPSTAN_BUF_INIT, plain = CAPSTAN_BUF_INIT;
	unsigned char ref[32];

	(void)state;
	assert_ok(ctx, capstan_store_meta_get(ctx, "keyring.params", &params));
	assert_int_equal(params.len, strlen("scrypt:32768:8:1"));
	assert_memory_equal(params.data, "scrypt:32768:8:1", params.len);
	assert_ok(ctx, capstan_store_meta_get(ctx, "keyring.salt", &salt));
	assert_int_equal(salt.len, 16);
	assert_true(ctx->kek_set);
	scrypt_reference(ref, sizeof(ref), TEST_PASSPHRASE, strlen(TEST_PASSPHRASE), salt.data, salt.len, 32768, 8, 1);
	assert_memory_equal(ctx->kek, ref, 32);
	assert_ok(ctx, capstan_store_meta_get(ctx, "keyring.check", &check));
	assert_ok(ctx, capstan_aead_open(&plain, ctx, ref, "keyring", 7, check.data, check.len));
	assert_int_equal(plain.len, sizeof(check_text) - 1);
	assert_memory_equal(plain.data, check_text, plain.len);

	/* Another inventory with the same passphrase: another salt, another KEK. */
	assert_ok(ctx2, capstan_store_meta_get(ctx2, "keyring.salt", &salt2));
	assert_int_equal(salt2.len, 16);
	assert_memory_not_equal(salt.data, salt2.data, 16);
	assert_memory_not_equal(ctx->kek, ctx2->kek, 32);

	capstan_buf_free(&salt);
	capstan_buf_free(&salt2);
	capstan_buf_free(&params);
	capstan_buf_free(&check);
	capstan_buf_free(&plain);
	capstan_ctx_free(ctx);
	capstan_ctx_free(ctx2);
	unit_remove_home(home);
	unit_remove_home(home2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_parameters),
		cmocka_unit_test(test_kek_known_answers),
		cmocka_unit_test(test_home_kek_is_scrypt_of_its_salt),
	};
	return cmocka_run_group_tests_name("kdf", tests, NULL, NULL);
}
