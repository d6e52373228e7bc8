/* The common CSR read without OpenSSL 3.0's generic key decoder (csr_fast.c). */
#ifndef CAPSTAN_LIB_CRYPTO_CSR_FAST_H
#define CAPSTAN_LIB_CRYPTO_CSR_FAST_H

#include <openssl/x509.h>

#include "crypto_internal.h"

/* What capstan_csr_read takes from a CSR, however it was read. */
typedef struct {
	capstan_key *key;                     /* checked against the key policy */
	X509_NAME *subject;
	STACK_OF(X509_EXTENSION) *extensions; /* the extensionRequest's; NULL: unreadable */
	int sig_nid;                          /* the signature's algorithm */
} capstan_csr_fields;

/* 1 with *out filled when der is a CSR of the common kind (EC P-256/P-384 or
 * Ed25519, a SHA-2 ECDSA or EdDSA signature) whose key passes the checks and
 * whose signature verifies; 0 for anything else, *out empty and nothing
 * said (the generic path reads it and says what is wrong). */
int capstan_csr_read_fast(capstan_ctx *ctx, const unsigned char *der, size_t len, capstan_csr_fields *out);
void capstan_csr_fields_clear(capstan_csr_fields *f);

#endif
