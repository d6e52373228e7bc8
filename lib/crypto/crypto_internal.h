/* What the crypto layer's files share in OpenSSL's terms (EVP_PKEY, X509,
 * STACK_OF): included by lib/crypto/ only; crypto.h is what the layers above see. */
#ifndef CAPSTAN_LIB_CRYPTO_INTERNAL_H
#define CAPSTAN_LIB_CRYPTO_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <capstan/convert.h>
#include <capstan/lint.h>

#include "keys.h"
#include "base/base.h"

struct capstan_key {
	EVP_PKEY *pkey;
	capstan_key_type type;
	unsigned char *spki;    /* DER SubjectPublicKeyInfo, made once (capstan_key_spki) */
	size_t spki_len;
};

/* The key's SubjectPublicKeyInfo in DER, cached on the key. EC and Ed25519
 * keys skip OpenSSL 3.0's generic encoder, which costs ~100 us a call. */
int capstan_key_spki(capstan_ctx *ctx, capstan_key *key, const unsigned char **der, size_t *len);
/* The key identifier of RFC 5280 4.2.1.2 (1), as OpenSSL's "hash": SHA-1 of
 * the subjectPublicKey bits. */
int capstan_key_skid(capstan_ctx *ctx, capstan_key *key, unsigned char out[20]);
/* Sets cert's public key from the key's SubjectPublicKeyInfo parts, without
 * X509_set_pubkey (~375 us through the encoder in OpenSSL 3.0). */
int capstan_key_set_cert_pubkey(capstan_ctx *ctx, capstan_key *key, X509 *cert);

/* Algorithms fetched once per context and lent (NULL when OpenSSL has none):
 * a digest by name, AES-256-GCM, and a context that generates keys of a type. */
EVP_MD *capstan_ossl_md(capstan_ctx *ctx, const char *name);
EVP_CIPHER *capstan_ossl_gcm(capstan_ctx *ctx);
/* A fresh HMAC-SHA-256 context with KEY (32 bytes) set, the caller's (EVP_MAC_CTX_free). */
EVP_MAC_CTX *capstan_ossl_hmac_sha256(capstan_ctx *ctx, const unsigned char *key, size_t key_len);
EVP_PKEY_CTX *capstan_ossl_keygen(capstan_ctx *ctx, capstan_key_type type);
/* Readies mctx to sign with key and mdname (NULL: none, pure EdDSA) as
 * EVP_DigestSignInit_ex would, by copying a context initialised once per key
 * (~0.3 us rather than ~3 us and the fetches). 1 on success, as OpenSSL. */
int capstan_ossl_sign_init(capstan_ctx *ctx, EVP_MD_CTX *mctx, EVP_PKEY *key, const char *mdname);
/* Classifies a key against the policy: CAPSTAN_EINVALID for a weak or unknown one. */
int capstan_key_classify(capstan_ctx *ctx, EVP_PKEY *pkey, capstan_key_type *out);
/* Wraps pkey (taking ownership on success) after classifying it. */
int capstan_key_wrap(capstan_key **out, capstan_ctx *ctx, EVP_PKEY *pkey);

/* The digest an issuer signs with: SHA-384 for P-384, none for Ed25519 (pure
 * EdDSA), SHA-256 otherwise. */
const char *capstan_signing_digest(const capstan_key *issuer_key);

/* Parses a whole DER certificate in the context's library context. */
int capstan_x509_from_der(capstan_ctx *ctx, X509 **out, const unsigned char *der, size_t len);

/* The CN of a name as a new UTF-8 string, or NULL. */
char *capstan_x509_name_cn(const X509_NAME *name);

/* Appends "TYPE:value" (DNS, IP, URI, email) for each name; other types are
 * skipped. A name with a NUL byte is refused, said as WHOSE ("the CSR's"). */
int capstan_general_names_to_strlist(capstan_ctx *ctx, const GENERAL_NAMES *gens, const char *whose,
	capstan_strlist *out);

/* Output material (material.c): what export and convert write. */
struct capstan_material {
	STACK_OF(X509) *chain;  /* leaf first, then each issuer; may end with the root */
	STACK_OF(X509) *trust;  /* truststores: the certificates to trust */
	EVP_PKEY *key;          /* NULL when none */
	char *alias;
};

/* A keystore alias made from a certificate: its CN in lower case, spaces and
 * other punctuation turned into '-'; "cert-N" when it has none. */
char *capstan_cert_alias(X509 *cert, int n);

/* PKCS12 (pkcs12.c): a keystore (key + chain) or a truststore whose bags carry
 * Java's trusted-key-usage attribute; modern or legacy protection. */
int capstan_pkcs12_write(capstan_buf *out, capstan_ctx *ctx, const capstan_material *m, int truststore,
	const char *alias, const capstan_secret *pass, int legacy);
/* Reads a DER PKCS12: 1 when data is not a PKCS12 at all, 0 with its key
 * (may be NULL) and certificates appended to certs, or an error. */
int capstan_pkcs12_read(capstan_ctx *ctx, const char *name, const unsigned char *data, size_t len,
	const capstan_secret *pass, EVP_PKEY **key, STACK_OF(X509) *certs);

/* JKS (jks.c): Java's own keystore format, with Sun's key protector. */
int capstan_jks_write(capstan_buf *out, capstan_ctx *ctx, const capstan_material *m, int truststore,
	const char *alias, const capstan_secret *pass);

/* Encrypted PKCS8 (pkcs8.c): PBES2, AES-256-CBC, PBKDF2-HMAC-SHA256. */
int capstan_pkcs8_encrypt_pem(capstan_buf *out, capstan_ctx *ctx, EVP_PKEY *key, const capstan_secret *pass);
/* Decrypts a DER EncryptedPrivateKeyInfo (any PBE OpenSSL supports). */
/* Refuses (before any key is derived) a password-based algorithm or MAC whose
 * iteration count is past what capstan accepts on input; 0 when it is fine or
 * is not one it can read (OpenSSL then refuses what it cannot use). */
int capstan_pbe_check(capstan_ctx *ctx, const char *name, const char *what, const X509_ALGOR *alg);
int capstan_iterations_check(capstan_ctx *ctx, const char *name, const char *what, const ASN1_INTEGER *iter);
int capstan_pkcs8_decrypt(EVP_PKEY **out, capstan_ctx *ctx, const char *name, const unsigned char *der,
	size_t len, const capstan_secret *pass);

/* Linting (lint.c). What a signer knows of the certificate it signs, so
 * that the checks need not decode the keys again. */
typedef struct {
	capstan_key_type subject_key;
	capstan_key_type issuer_key;
	int has_profile;            /* a leaf of this profile */
	capstan_profile profile;
} capstan_lint_hint;
/* Appends cert's findings to out, as certificate index; hint NULL: a
 * certificate from elsewhere, its key read from it. */
int capstan_lint_x509(capstan_lint_findings *out, capstan_ctx *ctx, X509 *cert, const capstan_lint_hint *hint,
	size_t index);
/* The checks on a certificate just signed for WHAT: CAPSTAN_ERROR naming the
 * first error rule it breaks. */
int capstan_lint_signed(capstan_ctx *ctx, X509 *cert, const capstan_lint_hint *hint, const char *what);

#endif
