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

/*
 * The issuance policy (policy_check.c). apply records a body for each level
 * that has one: lines "dns=P,P", "ip=CIDR,CIDR", "keys=K,K", "max_days=N",
 * "name_constraints=1"; a line left out adds no restriction. A request must
 * satisfy every level. A refusal is CAPSTAN_EINVALID and one line naming the
 * rule and the value ("prod policy: DNS name 'x' matches none of ...").
 */
#define CAPSTAN_POLICY_MAX_ITEMS 256   /* entries in one list */
enum { CAPSTAN_POLICY_LEVEL_DEFAULTS = 0, CAPSTAN_POLICY_LEVEL_ENV = 1, CAPSTAN_POLICY_LEVEL_SERVICE = 2 };
typedef struct {
	const capstan_strlist *sans;   /* "DNS:x", "IP:x", ... */
	int64_t lifetime;              /* seconds asked for; 0: not checked */
	int key_known;
	capstan_key_type key;
	const char *cn;                /* checked as a DNS name where verifiers would; NULL: not */
	int server_auth;               /* its EKU has serverAuth (server, peer) */
} capstan_policy_ask;
/* Against bodies given (apply, before it records them); services[i] names
 * a service's level (NULL or "": the environment's). */
int capstan_policy_check_bodies(capstan_ctx *ctx, const char *env, const char *const *services,
	const char *const *bodies, size_t n, const capstan_policy_ask *ask);
/* The nameConstraints value (capstan_x509_template's syntax) for lists of
 * DNS patterns and CIDRs (checked as the loader checks them); *out NULL
 * when both are empty, else the caller's (free()). */
int capstan_policy_constraints_value(capstan_ctx *ctx, const char *const *dns, size_t dns_count,
	const char *const *ip, size_t ip_count, char **out);
/* That value for ENV's recorded policy: the environment level's lists, else
 * the defaults', when either level asks for name_constraints; else NULL. */
int capstan_policy_name_constraints(capstan_ctx *ctx, int64_t env_id, char **out);
/* Against what the inventory records for env and service (NULL: none). */
int capstan_policy_enforce(capstan_ctx *ctx, int64_t env_id, const char *env, const char *service,
	const capstan_policy_ask *ask);
/* An environment's rows, read once for a caller that checks many requests
 * (a batch: a query per line is what it avoids). Zero-initialised; cleared
 * with capstan_policy_cache_clear. */
typedef struct {
	int valid;
	int64_t env_id;
	struct capstan_store_policy_row *rows;
	size_t count;
} capstan_policy_cache;
/* capstan_policy_enforce, from cache (NULL: read each time). */
int capstan_policy_enforce_cached(capstan_ctx *ctx, capstan_policy_cache *cache, int64_t env_id, const char *env,
	const char *service, const capstan_policy_ask *ask);
void capstan_policy_cache_clear(capstan_policy_cache *cache);
/* A lifetime nobody asked for (the environment's default) lowered to the
 * shortest max_days that applies: only a request is refused, not cut. */
int capstan_policy_cap_lifetime(capstan_ctx *ctx, capstan_policy_cache *cache, int64_t env_id, const char *service,
	int64_t *lifetime);

#endif
