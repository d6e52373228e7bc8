/*
 * X.509: building and signing certificates, reading them back, PEM, serials
 * and CSRs. Callers see DER and capstan_key handles only.
 */
#ifndef CAPSTAN_LIB_X509_H
#define CAPSTAN_LIB_X509_H

#include <capstan/cert.h>

#include "keys.h"
#include "util.h"

#define CAPSTAN_SERIAL_LEN 16 /* 128 bits, top bit clear: >= 126 bits of entropy */

typedef struct {
	capstan_cert_kind kind;
	capstan_profile profile;     /* leaves */
	const char *cn;
	const char *org;             /* may be NULL */
	const capstan_strlist *sans; /* "DNS:..", "IP:..", "URI:..", "email:.." (leaves) */
	time_t not_before;
	time_t not_after;
	unsigned char serial[CAPSTAN_SERIAL_LEN];
} capstan_x509_template;

/* Signs a certificate for subject_key. issuer_der NULL means self-signed (a root:
 * issuer_key must then be the subject's key). *out is DER. */
int capstan_x509_sign(capstan_buf *out, capstan_ctx *ctx, const capstan_x509_template *tmpl,
	const capstan_key *subject_key, const unsigned char *issuer_der, size_t issuer_len,
	const capstan_key *issuer_key);

/* What a certificate says, read from its DER. */
typedef struct {
	char *subject;
	char *issuer;
	char serial[2 * 20 + 1];
	char fingerprint_sha256[65];
	time_t not_before;
	time_t not_after;
	capstan_key_type key_type;
	capstan_strlist sans;
} capstan_x509_info;

int capstan_x509_info_read(capstan_x509_info *out, capstan_ctx *ctx,
	const unsigned char *der, size_t len);
void capstan_x509_info_clear(capstan_x509_info *info);

/* Appends the PEM of a DER certificate to out. */
int capstan_x509_pem_append(capstan_buf *out, capstan_ctx *ctx, const unsigned char *der, size_t len);

/* A random positive serial; hex receives its lowercase hex (>= 16 digits). */
int capstan_serial_generate(capstan_ctx *ctx, unsigned char serial[CAPSTAN_SERIAL_LEN],
	char hex[2 * CAPSTAN_SERIAL_LEN + 1]);

/*
 * Reads a CSR (PEM or DER), checks its self-signature and its key against the
 * policy, and returns its public key, the CN (NULL when none) and its requested
 * SANs in the "DNS:x" form. *pubkey, *cn and sans are the caller's.
 */
int capstan_csr_read(capstan_ctx *ctx, const unsigned char *data, size_t len,
	capstan_key **pubkey, char **cn, capstan_strlist *sans);

#endif
