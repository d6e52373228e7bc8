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
