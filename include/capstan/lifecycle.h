/*
 * capstan — the life of a certificate after issuance: renewal, rotation,
 * revocation and CRLs, nightly renewal of what is due, CA rotation,
 * verification and expiry metrics.
 */
#ifndef CAPSTAN_LIFECYCLE_H
#define CAPSTAN_LIFECYCLE_H

#include "common.h"
#include "cert.h"
#include "policy.h"

/* RFC 5280 CRLReason codes capstan uses. */
typedef enum {
	CAPSTAN_REASON_UNSPECIFIED = 0,
	CAPSTAN_REASON_KEY_COMPROMISE = 1,
	CAPSTAN_REASON_AFFILIATION_CHANGED = 3,
	CAPSTAN_REASON_SUPERSEDED = 4,
	CAPSTAN_REASON_CESSATION_OF_OPERATION = 5
} capstan_revoke_reason;

int capstan_revoke_reason_parse(const char *name, capstan_revoke_reason *out);
const char *capstan_revoke_reason_name(capstan_revoke_reason reason);
/* "unspecified, keyCompromise, ...", for messages. */
const char *capstan_revoke_reason_names(void);

/*
 * A new certificate for the same line, from the environment's current
 * intermediate, with a new serial and the same subject, SANs, profile and
 * service. renew keeps the key; rotate makes a new one of the same type. The
 * older certificate becomes superseded in the same transaction. lifetime 0
 * keeps the line's lifetime. Both refuse a CSR-issued certificate (a new CSR
 * is needed) and one that is not the newest of its line; renew also refuses a
 * revoked one (its key may be compromised: rotate it). *out is the caller's.
 */
CAPSTAN_WARN_UNUSED int capstan_renew(capstan_ctx *ctx, const capstan_cert *cert, int64_t lifetime,
	capstan_cert **out);
CAPSTAN_WARN_UNUSED int capstan_rotate(capstan_ctx *ctx, const capstan_cert *cert, int64_t lifetime,
	capstan_cert **out);

/* Revokes a leaf (valid, expired or superseded). CAPSTAN_EEXISTS if it already is. */
CAPSTAN_WARN_UNUSED int capstan_revoke(capstan_ctx *ctx, const capstan_cert *cert,
	capstan_revoke_reason reason);

typedef struct {
	unsigned version;
	const char *env;    /* NULL: every environment */
	int64_t within;     /* seconds; 0: each certificate's own renew-before window
	                       (one as long as a certificate's validity falls back
	                       to a third of it, so a nightly run never renews what
	                       the previous run renewed); else whatever ends within
	                       it, as asked, even beyond every lifetime. */
	int from_old_ca;    /* also renew leaves whose CA was rotated out, moving
	                       them to the current CA */
} capstan_due_opts;

#define CAPSTAN_DUE_OPTS_VERSION 1
#define CAPSTAN_DUE_OPTS_INIT { CAPSTAN_DUE_OPTS_VERSION, NULL, 0, 0 }

typedef struct {
	const capstan_cert *old;
	const capstan_cert *renewed; /* NULL when it could not be renewed */
	const char *problem;         /* why not, when renewed is NULL */
} capstan_due_result;

typedef int (*capstan_due_fn)(const capstan_due_result *result, void *payload);

/*
 * Renews every valid certificate (expired ones included) whose remaining
 * life is inside its renew-before window. Each is claimed in its own
 * transaction, so several runs at once renew each certificate exactly once.
 * fn is called for each one renewed or that could not be (a non-zero return
 * stops the run). 0 when everything due was renewed (or nothing was due);
 * CAPSTAN_EINVALID when some could not be.
 */
CAPSTAN_WARN_UNUSED int capstan_renew_due(capstan_ctx *ctx, const capstan_due_opts *opts,
	capstan_due_fn fn, void *payload);

typedef struct {
	unsigned version;
	const char *env;
	int root;                  /* 0: a new intermediate under the current root;
	                              1: a new root and a new intermediate under it */
	int key_set;
	capstan_key_type key;      /* default: the environment's */
	int64_t root_lifetime;     /* 0: default */
	int64_t ca_lifetime;       /* 0: default */
} capstan_ca_rotate_opts;

#define CAPSTAN_CA_ROTATE_OPTS_VERSION 1
#define CAPSTAN_CA_ROTATE_OPTS_INIT { .version = CAPSTAN_CA_ROTATE_OPTS_VERSION }

/* Rotates the environment's CA. New issuance uses the new intermediate; the
 * old CA certificates become superseded but keep verifying (and signing
 * their CRL) while leaves under them live. *root is NULL for an intermediate
 * rotation. */
CAPSTAN_WARN_UNUSED int capstan_ca_rotate(capstan_ctx *ctx, const capstan_ca_rotate_opts *opts,
	capstan_cert **root, capstan_cert **intermediate);

typedef struct {
	unsigned version;
	const char *env;
	int64_t next_update;       /* seconds after thisUpdate; 0: 7 days */
	int single;                /* the output holds one CRL (DER): refuse, changing
	                              nothing, when more than one is needed */
} capstan_crl_opts;

#define CAPSTAN_CRL_OPTS_VERSION 1
#define CAPSTAN_CRL_OPTS_INIT { CAPSTAN_CRL_OPTS_VERSION, NULL, 0, 0 }

/* One DER CRL per intermediate that still has unexpired certificates, the
 * current one first, each with the next number of its issuer. *crls (an
 * array of count buffers) is the caller's: capstan_crl_list_free(). */
CAPSTAN_WARN_UNUSED int capstan_crl_generate(capstan_ctx *ctx, const capstan_crl_opts *opts,
	capstan_buf **crls, size_t *count);
void capstan_crl_list_free(capstan_buf *crls, size_t count);
/* The PEM of the CRLs, concatenated. */
CAPSTAN_WARN_UNUSED int capstan_crl_pem(capstan_buf *out, capstan_ctx *ctx,
	const capstan_buf *crls, size_t count);

/*
 * Verifies a certificate (PEM, possibly with its chain, or DER) against the
 * environment's trust and revocations. 0 when it is good; CAPSTAN_EINVALID,
 * with the reason, when not. *cert (may be NULL) receives the inventory's
 * record of the certificate.
 */
CAPSTAN_WARN_UNUSED int capstan_verify(capstan_ctx *ctx, const char *env, const unsigned char *data,
	size_t len, capstan_cert **cert);

/* Prometheus text exposition: expiry per current certificate, counts by status. */
CAPSTAN_WARN_UNUSED int capstan_metrics(capstan_buf *out, capstan_ctx *ctx);

#endif
