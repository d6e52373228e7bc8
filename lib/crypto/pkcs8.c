/* Encrypted PKCS8: PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256, which
 * OpenSSL, Java (jetcd, Spark 4) and Go read. */
#include <stdint.h>
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

/* What one iteration count may be, read before deriving: the file names its
 * own count, and 2^31 PBKDF2 rounds take minutes. Writers use 2,048 (old
 * OpenSSL) to 600,000 (this file); 10^7 is ten seconds at most. */
#define MAX_INPUT_ITERATIONS 10000000

static const ASN1_INTEGER *pbe_iterations(const X509_ALGOR *alg, PBEPARAM **pbe, PBE2PARAM **pbe2,
	PBKDF2PARAM **kdf)
{
	if (!alg || !alg->parameter || alg->parameter->type != V_ASN1_SEQUENCE)
		return NULL;
	if (OBJ_obj2nid(alg->algorithm) != NID_pbes2) /* PKCS12 and PKCS5 v1 PBE: PBEParameter */
		return (*pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter)) ?
			(*pbe)->iter : NULL;
	if (!(*pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter)) ||
	    OBJ_obj2nid((*pbe2)->keyfunc->algorithm) != NID_id_pbkdf2 || !(*pbe2)->keyfunc->parameter)
		return NULL;
	*kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), (*pbe2)->keyfunc->parameter);
	return *kdf ? (*kdf)->iter : NULL;
}

int capstan_pbe_check(capstan_ctx *ctx, const char *name, const char *what, const X509_ALGOR *alg)
{
	PBEPARAM *pbe = NULL;
	PBE2PARAM *pbe2 = NULL;
	PBKDF2PARAM *kdf = NULL;
	const ASN1_INTEGER *iter = pbe_iterations(alg, &pbe, &pbe2, &kdf);
	int rc = capstan_iterations_check(ctx, name, what, iter);

	PBEPARAM_free(pbe);
	PBE2PARAM_free(pbe2);
	PBKDF2PARAM_free(kdf);
	ERR_clear_error(); /* an algorithm this cannot read is OpenSSL's to refuse */
	return rc;
}

int capstan_iterations_check(capstan_ctx *ctx, const char *name, const char *what, const ASN1_INTEGER *iter)
{
	uint64_t n = 0;

	if (!iter)
		return 0;
	if (ASN1_INTEGER_get_uint64(&n, iter) != 1) {
		ERR_clear_error();
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s': its %s has a negative or huge iteration count",
			name, what);
	}
	if (n > MAX_INPUT_ITERATIONS)
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s': its %s asks for %llu iterations: at most %d are accepted",
			name, what, (unsigned long long)n, MAX_INPUT_ITERATIONS);
	return 0;
}

int capstan_pkcs8_decrypt(EVP_PKEY **out, capstan_ctx *ctx, const char *name, const unsigned char *der,
	size_t len, const capstan_secret *pass)
{
	const unsigned char *p = der;
	X509_SIG *enc = d2i_X509_SIG(NULL, &p, (long)len);
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	const X509_ALGOR *alg = NULL;
	int rc = 0;

	if (enc)
		X509_SIG_get0(enc, &alg, NULL);
	if (!enc || p != der + len) {
		rc = capstan_ossl_error(ctx, CAPSTAN_EINVALID, "'%s' holds a malformed encrypted key", name);
	} else if ((rc = capstan_pbe_check(ctx, name, "key encryption", alg)) < 0) {
		/* refused before deriving anything */
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
