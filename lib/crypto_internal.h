/* Insides shared by the crypto files (keys.c, x509.c, csr.c) only: they name OpenSSL types. */
#ifndef CAPSTAN_LIB_CRYPTO_INTERNAL_H
#define CAPSTAN_LIB_CRYPTO_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "keys.h"
#include "util.h"

struct capstan_key {
	EVP_PKEY *pkey;
	capstan_key_type type;
};

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

/* Appends "TYPE:value" (DNS, IP, URI, email) for each name; other types are skipped. */
int capstan_general_names_to_strlist(const GENERAL_NAMES *gens, capstan_strlist *out);

#endif
