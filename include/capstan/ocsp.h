/*
 * capstan — the OCSP responder (RFC 6960) and the revocation URLs issued
 * certificates carry.
 */
#ifndef CAPSTAN_OCSP_H
#define CAPSTAN_OCSP_H

#include "common.h"

CAPSTAN_BEGIN_API

/*
 * The DER OCSPResponse to a DER OCSPRequest: for each CertID (SHA-1 or
 * SHA-256) of a certificate of any CA of the inventory (rotated ones
 * included) good, revoked (time and reason) or unknown; the request's nonce
 * echoed; thisUpdate and nextUpdate set; signed by the issuing CA's
 * delegated responder certificate (EKU OCSPSigning, id-pkix-ocsp-nocheck,
 * short-lived), which is issued, and renewed when near its end, on demand
 * (needs an unlocked home). A request that does not parse, or names no CA
 * of the inventory, gets the matching OCSP error response (malformedRequest,
 * unauthorized), still 0. Reflects every revocation committed before the
 * call, by whichever process.
 * Any other failure (a locked home, a database error) returns the error and
 * still sets *response to an internalError OCSPResponse, for the caller to
 * send as it is.
 */
CAPSTAN_WARN_UNUSED int capstan_ocsp_respond(capstan_buf *response, capstan_ctx *ctx,
	const unsigned char *request, size_t request_len);

/* The CRL (DER) of the CA whose subject key identifier is ski (raw bytes),
 * as capstan crl signs it: CAPSTAN_ENOTFOUND when no CA has it. */
CAPSTAN_WARN_UNUSED int capstan_crl_by_ski(capstan_buf *der, capstan_ctx *ctx, const unsigned char *ski,
	size_t ski_len);

/*
 * Certificates issued from now on (by any command or process using this
 * inventory) carry crlDistributionPoints PUBLIC_URL/crl/SKI.crl (SKI: their
 * issuer's, lowercase hex) and an authorityInfoAccess OCSP URL
 * PUBLIC_URL/ocsp. url NULL removes it. Recorded in the inventory (with an
 * audit row when it changes). CAPSTAN_EINVALID for a URL that is not
 * http:// or https:// with a host.
 */
CAPSTAN_WARN_UNUSED int capstan_public_url_set(capstan_ctx *ctx, const char *url);

CAPSTAN_END_API

#endif
