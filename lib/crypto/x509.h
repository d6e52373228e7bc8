/*
 * X.509: building and signing certificates, reading them back, PEM, serials
 * and CSRs. Callers see DER and capstan_key handles only.
 */
#ifndef CAPSTAN_LIB_X509_H
#define CAPSTAN_LIB_X509_H

#include <capstan/cert.h>
#include <capstan/convert.h>

#include "keys.h"
#include "base/base.h"

/* A DER object held elsewhere. */
typedef struct {
	const unsigned char *der;
	size_t len;
} capstan_der;

/*
 * Material (material.c) from DER certificates: a chain, leaf first, or
 * certificates to trust; and a key, taken over (freed on failure too).
 * alias is the default keystore alias.
 */
int capstan_material_new(capstan_material **out, capstan_ctx *ctx, const capstan_der *chain, size_t nchain,
	const capstan_der *trust, size_t ntrust, capstan_key *key, const char *alias);

/* An existing CA to import (material_read.c): CERT holds its certificate
 * alone, KEY its private key (any form convert reads; pass opens an
 * encrypted one), CHAIN (data NULL: none) more certificates up to its root.
 * Refused: a key that is not the certificate's, a certificate that is not a
 * CA, an expired one, a chain with a gap. The chain is the CA first, then
 * each issuer; rooted when it ends at a self-signed root. */
typedef struct {
	capstan_buf *chain;
	size_t count;
	int rooted;
	capstan_key *key;
} capstan_ca_files;
int capstan_ca_files_read(capstan_ca_files *out, capstan_ctx *ctx, const capstan_input *cert,
	const capstan_input *key, const capstan_input *chain, const capstan_secret *pass);
void capstan_ca_files_clear(capstan_ca_files *f);

/* The DER of a file's one certificate (PEM or DER). */
int capstan_x509_read_one(capstan_buf *der, capstan_ctx *ctx, const capstan_input *in);
/* A private key alone from a file (any form convert reads). */
int capstan_key_read(capstan_key **out, capstan_ctx *ctx, const capstan_input *in, const capstan_secret *pass);
/* A leaf to import: checked to be issued by the CA and not a CA itself
 * (CAPSTAN_EINVALID saying which), and the profile its EKU says (both
 * serverAuth and clientAuth, or none: peer). */
int capstan_x509_leaf_read(capstan_ctx *ctx, const unsigned char *der, size_t len, const unsigned char *ca_der,
	size_t ca_len, capstan_profile *profile);
/* The CRL number of a CRL (PEM or DER); *number -1 when it has none. */
int capstan_crl_number_read(capstan_ctx *ctx, const unsigned char *data, size_t len, int64_t *number);

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
	/* Intermediates: a nameConstraints value in OpenSSL's configuration
	 * syntax ("critical,permitted;DNS:x,permitted;IP:a/mask"); NULL: none. */
	const char *name_constraints;
} capstan_x509_template;

/* An issuer certificate parsed once, for signing many certificates. */
typedef struct capstan_x509_issuer capstan_x509_issuer;
int capstan_x509_issuer_new(capstan_x509_issuer **out, capstan_ctx *ctx, const unsigned char *der, size_t len);
void capstan_x509_issuer_free(capstan_x509_issuer *issuer);
/* The leaves issuer signs from now on carry crlDistributionPoints
 * URL/crl/SKI.crl (SKI: the issuer's key identifier, lowercase hex) and an
 * authorityInfoAccess OCSP URL URL/ocsp; url NULL: neither. url is checked
 * already (capstan_public_url_set). Not while other threads sign with it. */
int capstan_x509_issuer_set_public_url(capstan_x509_issuer *issuer, capstan_ctx *ctx, const char *url);

typedef struct capstan_x509_info capstan_x509_info;

/* Signs a certificate for subject_key under issuer (NULL: self-signed, with
 * issuer_key the subject's key). *out is DER; info (may be NULL) receives what
 * the certificate says, taken from memory rather than parsed back. */
int capstan_x509_sign_with(capstan_buf *out, capstan_x509_info *info, capstan_ctx *ctx,
	const capstan_x509_template *tmpl, const capstan_key *subject_key, const capstan_x509_issuer *issuer,
	const capstan_key *issuer_key);

/* Signs a certificate for subject_key. issuer_der NULL means self-signed (a root:
 * issuer_key must then be the subject's key). *out is DER. */
int capstan_x509_sign(capstan_buf *out, capstan_ctx *ctx, const capstan_x509_template *tmpl,
	const capstan_key *subject_key, const unsigned char *issuer_der, size_t issuer_len,
	const capstan_key *issuer_key);

/* What a certificate says, read from its DER. */
struct capstan_x509_info {
	char *subject;
	char *cn;                    /* the subject's CN, UTF-8; NULL when none */
	char *issuer;
	char serial[2 * 20 + 1];
	char fingerprint_sha256[65];
	time_t not_before;
	time_t not_after;
	capstan_key_type key_type;
	capstan_strlist sans;
};

int capstan_x509_info_read(capstan_x509_info *out, capstan_ctx *ctx,
	const unsigned char *der, size_t len);
void capstan_x509_info_clear(capstan_x509_info *info);

/* What renewing a certificate carries over, from one parse: its subject's CN
 * (NULL when none; the caller's, free()) and, unless key is NULL, its public key. */
int capstan_x509_renewal_read(char **cn, capstan_key **key, capstan_ctx *ctx, const unsigned char *der,
	size_t len);

/* SHA-256 of the certificate's SubjectPublicKeyInfo as its DER encodes it:
 * what the inventory finds every certificate of a key by. A walk over the
 * DER, not a parse (the schema 5 back-fill reads every row once). */
/* The serial of a DER certificate in lowercase hex, as capstan_x509_info_read
 * gives it, without parsing the certificate (1-20 bytes, non-negative; else
 * CAPSTAN_EINVALID: parse it instead). */
int capstan_x509_serial_hex(capstan_ctx *ctx, const unsigned char *der, size_t len, char out[41]);
int capstan_x509_spki_sha256(capstan_ctx *ctx, const unsigned char *der, size_t len, unsigned char out[CAPSTAN_SHA256_LEN]);

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

/* CRLs (crl.c): built entry by entry, so a long list never sits in memory twice. */
typedef struct capstan_crl capstan_crl;
int capstan_crl_new(capstan_crl **out, capstan_ctx *ctx, const unsigned char *issuer_der,
	size_t issuer_len, time_t this_update, time_t next_update, int64_t number);
/* reason_code: RFC 5280 CRLReason; 0 (unspecified) adds no reason extension. */
int capstan_crl_add(capstan_crl *crl, capstan_ctx *ctx, const char *serial_hex, time_t revoked_at,
	int reason_code);
int capstan_crl_sign(capstan_buf *der, capstan_crl *crl, capstan_ctx *ctx, const capstan_key *issuer_key);
void capstan_crl_free(capstan_crl *crl);
/* Appends the PEM ("X509 CRL") of a DER CRL to out. */
int capstan_crl_pem_append(capstan_buf *out, capstan_ctx *ctx, const unsigned char *der, size_t len);

/* Chain verification (chain.c). */

/*
 * Verifies the first certificate of INPUT (PEM, one or more certificates, or
 * one DER certificate) up to one of the trusted roots, with the rest of INPUT
 * and the given intermediates as candidates for the chain; X.509 strict rules.
 * *leaf receives the DER of the verified certificate. CAPSTAN_EINVALID, with
 * the reason, when it does not verify.
 */
int capstan_x509_verify_chain(capstan_buf *leaf, capstan_ctx *ctx, const unsigned char *input,
	size_t input_len, const capstan_der *roots, size_t nroots, const capstan_der *intermediates,
	size_t nintermediates);

/* The DER of each certificate, for the functions above (verify.c; free() it). */
capstan_der *capstan_ders_of(capstan_cert **certs, size_t n);

/* The same for many certificates, with the trust set up once (capstan check). */
typedef struct capstan_x509_verifier capstan_x509_verifier;
int capstan_x509_verifier_new(capstan_x509_verifier **out, capstan_ctx *ctx, const capstan_der *roots,
	size_t nroots, const capstan_der *intermediates, size_t nintermediates);
/* What the certificate says that its inventory row repeats. */
typedef struct {
	unsigned char spki_sha256[CAPSTAN_SHA256_LEN]; /* of its SubjectPublicKeyInfo */
	char serial[2 * 20 + 1];
	time_t not_after;
} capstan_x509_facts;
/* Reads the facts; verifies the chain too when check_chain (CAPSTAN_EINVALID
 * with the reason). */
int capstan_x509_verifier_check(capstan_x509_verifier *v, capstan_ctx *ctx, const unsigned char *der,
	size_t len, int check_chain, capstan_x509_facts *facts);
void capstan_x509_verifier_free(capstan_x509_verifier *v);

#endif
