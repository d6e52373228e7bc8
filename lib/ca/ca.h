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

#include "crypto/crypto.h"

/* capstan_renew for a holder that proved it has the key (a TLS handshake
 * with the certificate): a certificate issued from a CSR is renewed too,
 * certifying its public key again. For the API layer (POST /v1/renew). */
int capstan_renew_proven(capstan_cert **out, capstan_ctx *ctx, const capstan_cert *cert);

/*
 * A CSR's issuance in two halves, for a server that signs on several threads
 * and commits on one. capstan_issue_presign (any thread, that thread's
 * context, no transaction) checks the request as capstan_issue does and signs
 * under the environment's current intermediate; the CSR's parts the caller
 * read already are taken over (set to NULL / emptied), and o must stay alive
 * until the commit. capstan_issue_commit records it in a transaction of its
 * own (a savepoint of the caller's group: capstan_store_group_begin) (CAPSTAN_EEXISTS as capstan_issue), signing again if the
 * intermediate or the public URL changed in between. Either way the
 * presigned is the caller's: capstan_presigned_free.
 */
typedef struct capstan_presigned capstan_presigned;
int capstan_issue_presign(capstan_presigned **out, capstan_ctx *ctx, const capstan_issue_opts *o,
	capstan_key **csr_key, char **csr_cn, capstan_strlist *csr_sans);
int capstan_issue_commit(capstan_cert **out, capstan_ctx *ctx, capstan_presigned *p);
void capstan_presigned_free(capstan_presigned *p);

#endif
