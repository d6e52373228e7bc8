/* Encrypted PKCS8: PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256, which
 * OpenSSL, Java (jetcd, Spark 4) and Go read. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "base/base.h"
#include "crypto_internal.h"
#include "ossl.h"

/* OWASP's 2023 figure for PBKDF2-HMAC-SHA256; decrypting costs a consumer
 * about half a second once, at start-up. */
#define PKCS8_ITERATIONS 600000
#define PKCS8_SALT_LEN 16

int capstan_pkcs8_encrypt_pem(capstan_buf *out, capstan_ctx *ctx, EVP_PKEY *key, const capstan_secret *pass)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(ctx->libctx, "AES-256-CBC", NULL);
	X509_SIG *enc = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc;

	/* pbe_nid -1 with a cipher means PBES2; OpenSSL 3 picks hmacWithSHA256. */
	if (!p8 || !cipher || !bio ||
	    !(enc = PKCS8_encrypt_ex(-1, cipher, pass->data, (int)pass->len, NULL, PKCS8_SALT_LEN,
		      PKCS8_ITERATIONS, p8, ctx->libctx, NULL)) ||
	    PEM_write_bio_PKCS8(bio, enc) != 1) {
		rc = capstan_ossl_error(ctx, CAPSTAN_ERROR, "cannot encrypt the private key as PKCS8");
	} else {
		len = BIO_get_mem_data(bio, &data);
		rc = capstan_buf_set(ctx, out, data, (size_t)len);
	}
	BIO_free(bio);
	X509_SIG_free(enc);
	EVP_CIPHER_free(cipher);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

int capstan_pkcs8_decrypt(EVP_PKEY **out, capstan_ctx *ctx, const char *name, const unsigned char *der,
	size_t len, const capstan_secret *pass)
{
	const unsigned char *p = der;
	X509_SIG *enc = d2i_X509_SIG(NULL, &p, (long)len);
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	int rc = 0;

	if (!enc || p != der + len) {
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "'%s' holds a malformed encrypted key", name);
	} else if (!pass || !pass->data) {
		rc = capstan_error_at(ctx, CAPSTAN_EAUTH, CAPSTAN_FIELD_INPUT_PASSWORD,
			"'%s' is an encrypted key: its password is needed", name);
	} else if (!(p8 = PKCS8_decrypt_ex(enc, pass->data, (int)pass->len, ctx->libctx, NULL))) {
		ERR_clear_error();
		rc = capstan_error(ctx, CAPSTAN_EAUTH, "wrong password for '%s'", name);
	} else if (!(*out = EVP_PKCS82PKEY_ex(p8, ctx->libctx, NULL))) {
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "the key in '%s' cannot be decoded", name);
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(enc);
	return rc;
}
