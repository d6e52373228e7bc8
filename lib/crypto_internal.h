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

/* Appends "TYPE:value" (DNS, IP, URI, email) for each name; other types are skipped. */
int capstan_general_names_to_strlist(const GENERAL_NAMES *gens, capstan_strlist *out);

#endif
