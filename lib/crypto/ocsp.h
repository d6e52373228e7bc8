/*
 * OCSP (ocsp.c): reading requests, signing basic responses, and the delegated
 * responder certificates that sign them. What an issuer is known by in a
 * CertID (its name and key hashes) and in a CRL distribution point (its key
 * identifier) comes from its DER, read once per issuer.
 */
#ifndef CAPSTAN_LIB_CRYPTO_OCSP_H
#define CAPSTAN_LIB_CRYPTO_OCSP_H

#include <time.h>

#include "keys.h"
#include "base/base.h"

/* An issuer as CertIDs name it (SHA-1 and SHA-256), and its subject key identifier. */
typedef struct {
	unsigned char name_sha1[20], key_sha1[20];
	unsigned char name_sha256[32], key_sha256[32];
	unsigned char ski[64];
	size_t ski_len;                 /* 0: it has none */
} capstan_ocsp_issuer;

int capstan_ocsp_issuer_read(capstan_ocsp_issuer *out, capstan_ctx *ctx, const unsigned char *der, size_t len);

typedef struct capstan_ocsp_request capstan_ocsp_request;

/* CAPSTAN_EINVALID when der is not one whole DER OCSPRequest with at least one CertID. */
int capstan_ocsp_request_read(capstan_ocsp_request **out, capstan_ctx *ctx, const unsigned char *der,
	size_t len);
size_t capstan_ocsp_request_count(const capstan_ocsp_request *req);
/* 1 when the i-th CertID names the issuer (by SHA-1 or SHA-256 hashes), else 0. */
int capstan_ocsp_request_names(const capstan_ocsp_request *req, size_t i, const capstan_ocsp_issuer *issuer);
/* The i-th CertID's serial as the inventory writes serials (lowercase hex,
 * no leading zero byte); "" when it cannot be one (negative, over 20 bytes). */
void capstan_ocsp_request_serial(const capstan_ocsp_request *req, size_t i, char serial[2 * 20 + 1]);
void capstan_ocsp_request_free(capstan_ocsp_request *req);
/* 1 with the request's one CertID in DER in out (at most cap bytes) when
 * an answer to it may be answered again byte for byte: one CertID and no
 * nonce to echo (what nginx's stapler and openssl ocsp -no_nonce send); the
 * answer then depends on nothing else the request holds. 0 otherwise. */
int capstan_ocsp_request_reuse_key(const capstan_ocsp_request *req, unsigned char *out, size_t cap, size_t *len);

typedef enum {
	CAPSTAN_OCSP_GOOD,
	CAPSTAN_OCSP_REVOKED,
	CAPSTAN_OCSP_UNKNOWN,
} capstan_ocsp_cert_status;

typedef struct {
	capstan_ocsp_cert_status status;
	time_t revoked_at;
	int reason;                     /* RFC 5280 CRLReason; 0 (unspecified): none said */
} capstan_ocsp_answer;

/* A responder certificate and its key, parsed once and kept: parsing them
 * (OpenSSL 3.0's decoders) costs far more than signing an answer. key is
 * taken over, freed on failure too. */
typedef struct capstan_ocsp_signer capstan_ocsp_signer;
int capstan_ocsp_signer_new(capstan_ocsp_signer **out, capstan_ctx *ctx, const unsigned char *der, size_t len,
	capstan_key *key);
void capstan_ocsp_signer_free(capstan_ocsp_signer *signer);

/* The OCSPResponse (successful, basic) answering answers[i] for the
 * request's i-th CertID, the nonce echoed, signed by the responder (its
 * certificate included). */
int capstan_ocsp_response_sign(capstan_buf *out, capstan_ctx *ctx, const capstan_ocsp_request *req,
	const capstan_ocsp_answer *answers, time_t this_update, time_t next_update,
	const capstan_ocsp_signer *signer);

/* An OCSPResponse without a body: RFC 6960's malformedRequest, internalError, unauthorized. */
typedef enum {
	CAPSTAN_OCSP_MALFORMED_REQUEST = 1,
	CAPSTAN_OCSP_INTERNAL_ERROR = 2,
	CAPSTAN_OCSP_UNAUTHORIZED = 6,
} capstan_ocsp_error;
int capstan_ocsp_response_error(capstan_buf *out, capstan_ctx *ctx, capstan_ocsp_error status);

/* A delegated responder certificate for the CA: subject "<CA CN> OCSP
 * Responder" (the CA's other attributes kept), EKU OCSPSigning,
 * id-pkix-ocsp-nocheck, not a CA, signed with the CA's key. */
int capstan_ocsp_responder_sign(capstan_buf *out, capstan_ctx *ctx, const unsigned char *ca_der, size_t ca_len,
	const capstan_key *ca_key, const capstan_key *responder_key, time_t not_before, time_t not_after);

#endif
