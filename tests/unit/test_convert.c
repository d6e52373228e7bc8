/* Unit tests: formats, material from files (detection, chain order, refusals). */
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "unit.h"

static capstan_buf pem_of_key(EVP_PKEY *key, int traditional)
{
	BIO *bio = BIO_new(BIO_s_mem());
	capstan_buf out = CAPSTAN_BUF_INIT;
	char *data;
	long len;

	assert_true(traditional ? PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL) :
		PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL));
	len = BIO_get_mem_data(bio, &data);
	out.data = malloc((size_t)len + 1);
	memcpy(out.data, data, (size_t)len);
	out.len = (size_t)len;
	BIO_free(bio);
	return out;
}

static void test_format_table(void **state)
{
	capstan_format f;

	(void)state;
	assert_int_equal(capstan_format_parse("jks-truststore", &f), 0);
	assert_true(capstan_format_is_truststore(f));
	assert_true(capstan_format_needs_password(f));
	assert_false(capstan_format_has_key(f));
	assert_int_equal(capstan_format_parse("pkcs8-enc", &f), 0);
	assert_true(capstan_format_has_key(f));
	assert_int_equal(capstan_format_parse("p7b", &f), CAPSTAN_EINVALID);
	assert_string_equal(capstan_format_name(CAPSTAN_FORMAT_PEM), "pem");
}

static void test_weak_key_message(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_material *m = NULL;
	capstan_convert_inputs in = CAPSTAN_CONVERT_INPUTS_INIT;
	EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	capstan_buf pem = pem_of_key(weak, 1);

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	in.in = (capstan_input){ "weak.pem", pem.data, pem.len };
	assert_int_equal(capstan_material_from_files(&m, ctx, &in), CAPSTAN_EINVALID);
	/* The message prefixes the one before it: it must come out whole. */
	assert_string_equal(capstan_error_message(ctx),
		"the key in 'weak.pem': RSA key of 1024 bits is too weak (at least 2048)");
	capstan_buf_free(&pem);
	EVP_PKEY_free(weak);
	capstan_ctx_free(ctx);
}

static void test_key_round_trip_and_refusals(void **state)
{
	capstan_ctx *ctx = NULL;
	capstan_material *m = NULL;
	capstan_convert_inputs in = CAPSTAN_CONVERT_INPUTS_INIT;
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	capstan_secret short_pw = CAPSTAN_SECRET_INIT;
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	capstan_buf sec1 = pem_of_key(key, 1), pk8 = pem_of_key(key, 0), out = CAPSTAN_BUF_INIT;

	(void)state;
	assert_int_equal(capstan_ctx_new(&ctx), 0);
	assert_memory_equal(sec1.data, "-----BEGIN EC PRIVATE KEY", 25);
	in.in = (capstan_input){ "k.pem", sec1.data, sec1.len };
	assert_ok(ctx, capstan_material_from_files(&m, ctx, &in));
	assert_ok(ctx, capstan_material_write(&out, ctx, m, CAPSTAN_FORMAT_KEY, &wo));
	assert_int_equal(out.len, pk8.len);
	assert_memory_equal(out.data, pk8.data, pk8.len); /* SEC1 in, the same key as PKCS8 out */
	capstan_buf_free(&out);
	/* No certificate: a chain cannot be written; no password: no keystore. */
	assert_int_equal(capstan_material_write(&out, ctx, m, CAPSTAN_FORMAT_CHAIN, &wo), CAPSTAN_EINVALID);
	assert_int_equal(capstan_material_write(&out, ctx, m, CAPSTAN_FORMAT_PKCS8_ENC, &wo), CAPSTAN_EAUTH);
	assert_ok(ctx, capstan_secret_set(&short_pw, ctx, "abc", 3));
	wo.password = &short_pw;
	assert_int_equal(capstan_material_write(&out, ctx, m, CAPSTAN_FORMAT_PKCS8_ENC, &wo), CAPSTAN_EINVALID);
	assert_null(out.data);
	capstan_material_free(m);
	in.in = (capstan_input){ "empty", (const unsigned char *)"", 0 };
	assert_int_equal(capstan_material_from_files(&m, ctx, &in), CAPSTAN_EINVALID);
	assert_string_equal(capstan_error_message(ctx), "'empty' is empty");
	capstan_secret_free(&short_pw);
	capstan_buf_free(&sec1);
	capstan_buf_free(&pk8);
	EVP_PKEY_free(key);
	capstan_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_weak_key_message),
		cmocka_unit_test(test_key_round_trip_and_refusals),
	};
	return cmocka_run_group_tests_name("convert", tests, NULL, NULL);
}
