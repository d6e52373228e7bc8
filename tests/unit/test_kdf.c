/*
 * Unit tests: the key-encryption key (KEK) derivation, against known answers.
 *
 * keys.h documents it: scrypt, N = 2^15, r = 8, p = 1, a 16-byte salt, a
 * 32-byte key; keyring.c stores "scrypt:N:r:p" and the salt beside the keyring.
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
#include "store/store_internal.h" /* the keyring's metadata, the context's key, raw SQL */

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

static void read_meta(capstan_ctx *ctx, const char *key, capstan_buf *out)
{
	capstan_buf_free(out);
	assert_ok(ctx, capstan_store_meta_get(ctx, key, out));
}

static void write_meta(capstan_ctx *ctx, const char *key, const void *value, size_t len)
{
	assert_ok(ctx, capstan_store_begin(ctx));
	assert_ok(ctx, capstan_store_meta_set(ctx, key, value, len));
	assert_ok(ctx, capstan_store_commit(ctx));
}

static void run_sql(capstan_ctx *ctx, const char *sql)
{
	assert_int_equal(sqlite3_exec(ctx->store->db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static int has_meta(capstan_ctx *ctx, const char *key)
{
	capstan_buf b = CAPSTAN_BUF_INIT;
	int rc = capstan_store_meta_get(ctx, key, &b);

	capstan_buf_free(&b);
	assert_true(rc == 0 || rc == CAPSTAN_ENOTFOUND);
	return rc == 0;
}

/* A context on HOME, opened, not unlocked. */
static capstan_ctx *open_only(const char *home)
{
	capstan_ctx *ctx = NULL;

	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_home_open(ctx, home, CAPSTAN_OPEN_EXISTING));
	return ctx;
}

static int unlock_with(capstan_ctx *ctx, const char *pass)
{
	capstan_secret s = CAPSTAN_SECRET_INIT;
	int rc;

	assert_ok(ctx, capstan_secret_set(&s, ctx, pass, strlen(pass)));
	rc = capstan_home_unlock(ctx, &s);
	capstan_secret_free(&s);
	return rc;
}

/* What an unlocked home holds is its data key: random, and wrapped under
 * scrypt, with the documented cost, of the passphrase and the stored salt,
 * the key the keyring check opens with too. */
static void test_home_data_key_is_wrapped(void **state)
{
	static const char check_text[] = "capstan keyring check v1";
	char *home = NULL, *home2 = NULL;
	capstan_ctx *ctx = unit_open_home(&home), *ctx2 = unit_open_home(&home2);
	capstan_buf salt = CAPSTAN_BUF_INIT, salt2 = CAPSTAN_BUF_INIT, params = CAPSTAN_BUF_INIT;
	capstan_buf check = CAPSTAN_BUF_INIT, wrap = CAPSTAN_BUF_INIT, plain = CAPSTAN_BUF_INIT;
	unsigned char ref[32];

	(void)state;
	read_meta(ctx, "keyring.params", &params);
	assert_int_equal(params.len, strlen("scrypt:32768:8:1"));
	assert_memory_equal(params.data, "scrypt:32768:8:1", params.len);
	read_meta(ctx, "keyring.salt", &salt);
	assert_int_equal(salt.len, 16);
	assert_true(ctx->kek_set);
	scrypt_reference(ref, sizeof(ref), TEST_PASSPHRASE, strlen(TEST_PASSPHRASE), salt.data, salt.len, 32768, 8, 1);
	assert_memory_not_equal(ctx->kek, ref, 32);
	read_meta(ctx, "keyring.check", &check);
	assert_ok(ctx, capstan_aead_open(&plain, ctx, ref, "keyring", 7, check.data, check.len));
	assert_int_equal(plain.len, sizeof(check_text) - 1);
	assert_memory_equal(plain.data, check_text, plain.len);
	capstan_buf_free(&plain);
	read_meta(ctx, "keyring.wrap", &wrap);
	assert_ok(ctx, capstan_aead_open(&plain, ctx, ref, "keyring wrap", 12, wrap.data, wrap.len));
	assert_int_equal(plain.len, 32);
	assert_memory_equal(plain.data, ctx->kek, 32);
	/* The wrap is bound to its label: not a check, not a sealed key. */
	assert_int_equal(capstan_aead_open(&plain, ctx, ref, "keyring", 7, wrap.data, wrap.len), CAPSTAN_EAUTH);

	/* Another inventory with the same passphrase: another salt, another data key. */
	read_meta(ctx2, "keyring.salt", &salt2);
	assert_memory_not_equal(salt.data, salt2.data, 16);
	assert_memory_not_equal(ctx->kek, ctx2->kek, 32);

	capstan_buf_free(&salt);
	capstan_buf_free(&salt2);
	capstan_buf_free(&params);
	capstan_buf_free(&check);
	capstan_buf_free(&wrap);
	capstan_buf_free(&plain);
	capstan_ctx_free(ctx);
	capstan_ctx_free(ctx2);
	unit_remove_home(home);
	unit_remove_home(home2);
}

/* Flips the last byte of a keyring value, or puts it back. */
static void flip_meta(capstan_ctx *ctx, const char *key)
{
	capstan_buf b = CAPSTAN_BUF_INIT;

	read_meta(ctx, key, &b);
	b.data[b.len - 1] ^= 1;
	write_meta(ctx, key, b.data, b.len);
	capstan_buf_free(&b);
}

static void expect_unlock(const char *home, const char *pass, int code, const char *words)
{
	capstan_ctx *ctx = open_only(home);

	assert_int_equal(unlock_with(ctx, pass), code);
	assert_false(ctx->kek_set);
	assert_non_null(strstr(capstan_error_message(ctx), words));
	capstan_ctx_free(ctx);
}

/* The right passphrase with a damaged wrap or check is damage, said as such;
 * a wrong one is a wrong passphrase whatever else is damaged. */
static void test_keyring_damage_is_not_a_wrong_passphrase(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);

	(void)state;
	flip_meta(ctx, "keyring.wrap");
	expect_unlock(home, TEST_PASSPHRASE, CAPSTAN_EDAMAGED, "keyring wrap in");
	expect_unlock(home, "not the passphrase", CAPSTAN_EAUTH, "wrong passphrase");
	flip_meta(ctx, "keyring.wrap");
	flip_meta(ctx, "keyring.check");
	expect_unlock(home, TEST_PASSPHRASE, CAPSTAN_EDAMAGED, "check value in");
	expect_unlock(home, "not the passphrase", CAPSTAN_EAUTH, "wrong passphrase");
	flip_meta(ctx, "keyring.check");
	capstan_ctx_free(ctx);
	ctx = open_only(home);
	assert_ok(ctx, unlock_with(ctx, TEST_PASSPHRASE));
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_change_passphrase(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home), *before = open_only(home), *after;
	capstan_secret fresh = CAPSTAN_SECRET_INIT, bad = CAPSTAN_SECRET_INIT;
	capstan_buf salt = CAPSTAN_BUF_INIT, salt2 = CAPSTAN_BUF_INIT;
	unsigned char data_key[32];

	(void)state;
	assert_ok(before, unlock_with(before, TEST_PASSPHRASE));
	memcpy(data_key, ctx->kek, 32);
	read_meta(ctx, "keyring.salt", &salt);

	assert_ok(ctx, capstan_secret_set(&bad, ctx, "short", 5));
	assert_int_equal(capstan_home_change_passphrase(ctx, &bad), CAPSTAN_EINVALID);
	capstan_secret_free(&bad);
	assert_ok(ctx, capstan_secret_set(&bad, ctx, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE)));
	assert_int_equal(capstan_home_change_passphrase(ctx, &bad), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "is the current one"));
	read_meta(ctx, "keyring.salt", &salt2);
	assert_memory_equal(salt.data, salt2.data, 16);

	assert_ok(ctx, capstan_secret_set(&fresh, ctx, "a new passphrase", 16));
	assert_ok(ctx, capstan_home_change_passphrase(ctx, &fresh));
	read_meta(ctx, "keyring.salt", &salt2);
	assert_memory_not_equal(salt.data, salt2.data, 16);
	assert_memory_equal(ctx->kek, data_key, 32);
	/* A context unlocked before the change holds the same data key still. */
	assert_memory_equal(before->kek, data_key, 32);

	expect_unlock(home, TEST_PASSPHRASE, CAPSTAN_EAUTH, "wrong passphrase");
	after = open_only(home);
	assert_ok(after, unlock_with(after, "a new passphrase"));
	assert_memory_equal(after->kek, data_key, 32);

	capstan_secret_free(&fresh);
	capstan_secret_free(&bad);
	capstan_buf_free(&salt);
	capstan_buf_free(&salt2);
	capstan_ctx_free(ctx);
	capstan_ctx_free(before);
	capstan_ctx_free(after);
	unit_remove_home(home);
}

/* Turns a new, keyless home into a first-version one: the check sealed
 * under scrypt(passphrase, salt), which is then its data key; no wrap. */
static void make_first_version(capstan_ctx *ctx, unsigned char kek[32])
{
	static const char check_text[] = "capstan keyring check v1";
	unsigned char salt[16];
	capstan_buf check = CAPSTAN_BUF_INIT;

	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (unsigned char)(0xa0 + i);
	scrypt_reference(kek, 32, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE), salt, sizeof(salt), 32768, 8, 1);
	assert_ok(ctx, capstan_aead_seal(&check, ctx, kek, "keyring", 7, check_text, sizeof(check_text) - 1));
	write_meta(ctx, "keyring.salt", salt, sizeof(salt));
	write_meta(ctx, "keyring.check", check.data, check.len);
	run_sql(ctx, "DELETE FROM meta WHERE key = 'keyring.wrap'");
	capstan_buf_free(&check);
}

/* A first-version keyring: a wrong passphrase changes nothing, a read-only
 * database is unlocked as it is, and the first unlock that can write wraps
 * the same data key under a new salt. */
static void test_first_version_keyring_upgraded(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_buf salt = CAPSTAN_BUF_INIT;
	unsigned char kek[32];

	(void)state;
	make_first_version(ctx, kek);
	capstan_ctx_free(ctx);
	expect_unlock(home, "not the passphrase", CAPSTAN_EAUTH, "wrong passphrase");

	ctx = open_only(home);
	run_sql(ctx, "PRAGMA query_only = ON");
	assert_ok(ctx, unlock_with(ctx, TEST_PASSPHRASE));
	assert_memory_equal(ctx->kek, kek, 32);
	assert_false(has_meta(ctx, "keyring.wrap"));
	capstan_ctx_free(ctx);

	ctx = open_only(home);
	assert_ok(ctx, unlock_with(ctx, TEST_PASSPHRASE));
	assert_memory_equal(ctx->kek, kek, 32);
	assert_true(has_meta(ctx, "keyring.wrap"));
	read_meta(ctx, "keyring.salt", &salt);
	assert_int_not_equal(salt.data[0], 0xa0);
	capstan_ctx_free(ctx);

	/* Now a wrapped keyring, opened as one. */
	ctx = open_only(home);
	assert_ok(ctx, unlock_with(ctx, TEST_PASSPHRASE));
	assert_memory_equal(ctx->kek, kek, 32);
	capstan_buf_free(&salt);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_parameters),
		cmocka_unit_test(test_kek_known_answers),
		cmocka_unit_test(test_home_data_key_is_wrapped),
		cmocka_unit_test(test_keyring_damage_is_not_a_wrong_passphrase),
		cmocka_unit_test(test_change_passphrase),
		cmocka_unit_test(test_first_version_keyring_upgraded),
	};
	return cmocka_run_group_tests_name("kdf", tests, NULL, NULL);
}
