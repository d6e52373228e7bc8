/*
 * The CA layer's interface to the layers above: audit rows written in the
 * caller's transaction (audit.h) and the SAN checks of an issuance request
 * (request.h). The rest of the engine is the public API (include/capstan/).
 */
#ifndef CAPSTAN_LIB_CA_H
#define CAPSTAN_LIB_CA_H

#include "audit.h"
#include "request.h"

#include <capstan/cert.h>

/* capstan_renew for a holder that proved it has the key (a TLS handshake
 * with the certificate): a certificate issued from a CSR is renewed too,
 * certifying its public key again. For the API layer (POST /v1/renew). */
int capstan_renew_proven(capstan_cert **out, capstan_ctx *ctx, const capstan_cert *cert);

#endif
