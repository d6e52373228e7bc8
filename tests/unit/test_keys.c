/* Unit tests: key generation, the KEK, sealing keys at rest. */
#include <sys/prctl.h>
#include <sys/resource.h>

#include "unit.h"

#include "crypto/crypto.h"

static void test_generate_each_type(void **state)
{
	capstan_ctx *ctx = NULL;
	unsigned char spki[32];

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	for (int i = 0; i < CAPSTAN_KEY__COUNT; i++) {
		capstan_key *key = NULL;
		capstan_buf pem = CAPSTAN_BUF_INIT;
		if (i == CAPSTAN_KEY_RSA_4096 || i == CAPSTAN_KEY_RSA_3072)
			continue; /* slow, and the same code as RSA-2048; covered end to end */
		assert_ok(ctx, capstan_key_generate(&key, ctx, (capstan_key_type)i));
		assert_int_equal(capstan_key_get_type(key), i);
		assert_ok(ctx, capstan_key_spki_sha256(ctx, key, spki));
		assert_ok(ctx, capstan_key_pkcs8_pem(&pem, ctx, key));
		assert_memory_equal(pem.data, "-----BEGIN PRIVATE KEY-----", 27);
		capstan_buf_free(&pem);
		capstan_key_free(key);
	}
	capstan_ctx_free(ctx);
}

static void test_aead(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_buf sealed = CAPSTAN_BUF_INIT, opened = CAPSTAN_BUF_INIT;
	unsigned char key[32] = { 1 }, other[32] = { 2 };

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_aead_seal(&sealed, ctx, key, "aad", 3, "secret", 6));
	assert_int_equal(sealed.len, 12 + 6 + 16);
	assert_ok(ctx, capstan_aead_open(&opened, ctx, key, "aad", 3, sealed.data, sealed.len));
	assert_int_equal(opened.len, 6);
	assert_memory_equal(opened.data, "secret", 6);
	capstan_buf_free(&opened);
	assert_int_equal(capstan_aead_open(&opened, ctx, other, "aad", 3, sealed.data, sealed.len), CAPSTAN_EAUTH);
	assert_int_equal(capstan_aead_open(&opened, ctx, key, "AAD", 3, sealed.data, sealed.len), CAPSTAN_EAUTH);
	sealed.data[14] ^= 1;
	assert_int_equal(capstan_aead_open(&opened, ctx, key, "aad", 3, sealed.data, sealed.len), CAPSTAN_EAUTH);
	assert_int_equal(capstan_aead_open(&opened, ctx, key, "aad", 3, sealed.data, 10), CAPSTAN_EAUTH);
	capstan_buf_free(&sealed);
	capstan_ctx_free(ctx);
}

static void test_kek_derive(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_secret pass = CAPSTAN_SECRET_INIT;
	unsigned char a[32], b[32], c[32], salt[16] = "0123456789abcdef", salt2[16] = "fedcba9876543210";

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_secret_set(&pass, ctx, "passphrase", 10));
	/* Low cost here: the parameters are the unit under test, not the cost. */
	assert_ok(ctx, capstan_kek_derive(ctx, a, &pass, salt, 16, 1024, 8, 1));
	assert_ok(ctx, capstan_kek_derive(ctx, b, &pass, salt, 16, 1024, 8, 1));
	assert_ok(ctx, capstan_kek_derive(ctx, c, &pass, salt2, 16, 1024, 8, 1));
	assert_memory_equal(a, b, 32);
	assert_memory_not_equal(a, c, 32);
	capstan_secret_free(&pass);
	assert_null(pass.data);
	capstan_ctx_free(ctx);
}

static void test_seal_unseal(void **state)
{
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	capstan_key *key = NULL, *back = NULL, *other = NULL;
	capstan_buf sealed = CAPSTAN_BUF_INIT, pem1 = CAPSTAN_BUF_INIT, pem2 = CAPSTAN_BUF_INIT;
	unsigned char spki[32], other_spki[32];

	(void)state;
	assert_ok(ctx, capstan_key_generate(&key, ctx, CAPSTAN_KEY_EC_P256));
	assert_ok(ctx, capstan_key_generate(&other, ctx, CAPSTAN_KEY_EC_P256));
	assert_ok(ctx, capstan_key_spki_sha256(ctx, key, spki));
	assert_ok(ctx, capstan_key_spki_sha256(ctx, other, other_spki));
	assert_ok(ctx, capstan_key_seal(&sealed, ctx, key));
	/* The sealed form does not contain the plaintext PKCS8. */
	assert_ok(ctx, capstan_key_pkcs8_pem(&pem1, ctx, key));
	assert_ok(ctx, capstan_key_unseal(&back, ctx, sealed.data, sealed.len, spki));
	assert_ok(ctx, capstan_key_pkcs8_pem(&pem2, ctx, back));
	assert_int_equal(pem1.len, pem2.len);
	assert_memory_equal(pem1.data, pem2.data, pem1.len);
	/* Bound to its public key: a sealed key moved to another row does not open. */
	assert_int_equal(capstan_key_unseal(&back, ctx, sealed.data, sealed.len, other_spki), CAPSTAN_EAUTH);
	capstan_buf_free(&sealed);
	capstan_buf_free(&pem1);
	capstan_buf_free(&pem2);
	capstan_key_free(key);
	capstan_key_free(back);
	capstan_key_free(other);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/* Export's key PEM straight from the seal is the PEM of the decoded key, byte for byte. */
static void test_unseal_pem(void **state)
{
	static const capstan_key_type types[] = { CAPSTAN_KEY_EC_P256, CAPSTAN_KEY_EC_P384, CAPSTAN_KEY_ED25519,
		CAPSTAN_KEY_RSA_2048 };
	char *home = NULL;
	capstan_ctx *ctx = unit_open_home(&home);
	unsigned char spki[32], wrong[32] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		capstan_key *key = NULL;
		capstan_buf sealed = CAPSTAN_BUF_INIT, want = CAPSTAN_BUF_INIT, got = CAPSTAN_BUF_INIT;
		assert_ok(ctx, capstan_key_generate(&key, ctx, types[i]));
		assert_ok(ctx, capstan_key_spki_sha256(ctx, key, spki));
		assert_ok(ctx, capstan_key_seal(&sealed, ctx, key));
		assert_ok(ctx, capstan_key_pkcs8_pem(&want, ctx, key));
		assert_ok(ctx, capstan_key_unseal_pem(&got, ctx, sealed.data, sealed.len, spki));
		assert_int_equal(got.len, want.len);
		assert_memory_equal(got.data, want.data, want.len);
		assert_int_equal(capstan_key_unseal_pem(&got, ctx, sealed.data, sealed.len, wrong), CAPSTAN_EAUTH);
		capstan_buf_free(&sealed);
		capstan_buf_free(&want);
		capstan_buf_free(&got);
		capstan_key_free(key);
	}
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

static void test_seal_needs_unlock(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_key *key = NULL;
	capstan_buf sealed = CAPSTAN_BUF_INIT;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_key_generate(&key, ctx, CAPSTAN_KEY_ED25519));
	assert_int_equal(capstan_key_seal(&sealed, ctx, key), CAPSTAN_EAUTH);
	assert_non_null(strstr(capstan_error_message(ctx), "passphrase"));
	capstan_key_free(key);
	capstan_ctx_free(ctx);
}

/* Process-wide state is the program's decision: unlocking leaves it alone,
 * and capstan_protect_process(), called by the program, sets it. */
static void test_protect_is_explicit(void **state)
{
	char *home = NULL;
	struct rlimit core = { RLIM_INFINITY, RLIM_INFINITY };
	capstan_ctx *ctx;

	(void)state;
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &core);
	ctx = unit_open_home(&home);
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	assert_int_equal(capstan_protect_process(), 0);
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	assert_int_equal(getrlimit(RLIMIT_CORE, &core), 0);
	assert_int_equal(core.rlim_cur, 0);
	assert_int_equal(core.rlim_max, 0);
	capstan_ctx_free(ctx);
	unit_remove_home(home);
}

/* A key's URI cut to its token (what rotate makes new keys in); PINs and
 * URIs that name no token refused before any provider is loaded. */
static void test_pkcs11_uri(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_key *key = NULL;
	char *token = NULL;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_ok(ctx, capstan_pkcs11_token_of(ctx, &token,
		"pkcs11:token=capt;object=capstan-prod-root-1;id=%01;type=private?module-path=/m.so&pin-source=file:/p"));
	assert_string_equal(token, "pkcs11:token=capt?module-path=/m.so&pin-source=file:/p");
	free(token);
	assert_ok(ctx, capstan_pkcs11_token_of(ctx, &token, "pkcs11:manufacturer=SoftHSM;token=a%20b;object=x"));
	assert_string_equal(token, "pkcs11:manufacturer=SoftHSM;token=a%20b");
	free(token);
	assert_int_equal(capstan_pkcs11_token_of(ctx, &token, "pkcs11:object=x"), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "names no token"));
	assert_int_equal(capstan_pkcs11_token_of(ctx, &token, "file:/x"), CAPSTAN_EINVALID);
	assert_int_equal(capstan_pkcs11_load(&key, ctx, "pkcs11:token=t;object=k?pin-value=1234"), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "PIN in the token URI is not taken"));
	assert_int_equal(capstan_pkcs11_load(&key, ctx, "pkcs11:token=t;object=k?pin-source=/p"), CAPSTAN_EINVALID);
	assert_non_null(strstr(capstan_error_message(ctx), "pin-source must be file:PATH"));
	assert_int_equal(capstan_pkcs11_load(&key, ctx, "pkcs11:token=t;object=k?module-path=/nonexistent.so"),
		CAPSTAN_ENOTFOUND);
	assert_null(key);
	capstan_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_each_type),
		cmocka_unit_test(test_aead),
		cmocka_unit_test(test_kek_derive),
		cmocka_unit_test(test_seal_unseal),
		cmocka_unit_test(test_unseal_pem),
		cmocka_unit_test(test_seal_needs_unlock),
		cmocka_unit_test(test_protect_is_explicit),
		cmocka_unit_test(test_pkcs11_uri),
	};
	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
