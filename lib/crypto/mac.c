/* Keyed digests through OpenSSL's EVP_MAC and EVP_KDF interfaces. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto_internal.h"
#include "mac.h"
#include "ossl.h"

int capstan_hmac_sha256(capstan_ctx *ctx, const unsigned char *key, size_t key_len,
	const void *data, size_t len, unsigned char out[CAPSTAN_SHA256_LEN])
{
	/* Keyed once per context: a batch seals a row per certificate. */
	EVP_MAC_CTX *mctx = capstan_ossl_hmac_sha256(ctx, key, key_len);
	size_t out_len = 0;
	int rc = 0;

	if (!mctx || EVP_MAC_update(mctx, data, len) != 1 ||
	    EVP_MAC_final(mctx, out, &out_len, CAPSTAN_SHA256_LEN) != 1 || out_len != CAPSTAN_SHA256_LEN)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot compute HMAC-SHA-256");
	EVP_MAC_CTX_free(mctx);
	return rc;
}

int capstan_hkdf_sha256(capstan_ctx *ctx, unsigned char *out, size_t out_len,
	const unsigned char *ikm, size_t ikm_len, const char *info)
{
	EVP_KDF *kdf = EVP_KDF_fetch(ctx->libctx, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA2-256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
		OSSL_PARAM_construct_end(),
	};
	int rc = 0;

	if (!kctx || EVP_KDF_derive(kctx, out, out_len, params) != 1)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot derive a key with HKDF");
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

int capstan_hmac_label(capstan_ctx *ctx, const void *key, size_t key_len, const char *label,
	const void *data, size_t len, unsigned char *out, size_t out_len)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA2-256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(ctx->libctx, "HMAC", NULL);
	EVP_MAC_CTX *mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	unsigned char full[CAPSTAN_SHA256_LEN];
	size_t full_len = 0;
	int ok;

	/* The 0 byte ends the label, so no label-and-data pair reads as another. */
	ok = mctx && out_len <= sizeof(full) &&
		EVP_MAC_init(mctx, key_len ? key : (const void *)"", key_len, params) == 1 &&
		EVP_MAC_update(mctx, (const unsigned char *)label, strlen(label) + 1) == 1 &&
		EVP_MAC_update(mctx, data, len) == 1 &&
		EVP_MAC_final(mctx, full, &full_len, sizeof(full)) == 1 && full_len == sizeof(full);
	if (ok)
		memcpy(out, full, out_len);
	OPENSSL_cleanse(full, sizeof(full));
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	return ok ? 0 : capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot compute HMAC-SHA-256");
}

int capstan_pbkdf2_sha256(capstan_ctx *ctx, const char *pass, size_t pass_len, const void *salt,
	size_t salt_len, unsigned int iterations, unsigned char *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(ctx->libctx, "PBKDF2", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA2-256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pass, pass_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
		OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iterations),
		OSSL_PARAM_construct_end(),
	};
	int rc = 0;

	if (!kctx || EVP_KDF_derive(kctx, out, out_len, params) != 1)
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot derive a key with PBKDF2");
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}
