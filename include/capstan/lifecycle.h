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

CAPSTAN_BEGIN_API

/* RFC 5280 CRLReason codes capstan uses. */
typedef enum {
	CAPSTAN_REASON_UNSPECIFIED = 0,
	CAPSTAN_REASON_KEY_COMPROMISE = 1,
	CAPSTAN_REASON_AFFILIATION_CHANGED = 3,
	CAPSTAN_REASON_SUPERSEDED = 4,
	CAPSTAN_REASON_CESSATION_OF_OPERATION = 5
} capstan_revoke_reason;

/* The name and the list are static strings (never freed). */
int capstan_revoke_reason_parse(const char *name, capstan_revoke_reason *out);
const char *capstan_revoke_reason_name(capstan_revoke_reason reason);
/* "unspecified, keyCompromise, ...", for messages. */
const char *capstan_revoke_reason_names(void);

/*
 * A new certificate for the same line, from the environment's current
 * intermediate, with a new serial and the same subject, SANs, profile and
 * service. renew keeps the key; rotate makes a new one of the same type. The
 * older certificate becomes superseded in the same transaction. lifetime 0
 * keeps the line's lifetime. Both refuse one that is not the newest of its
 * line; renew also refuses a revoked one (its key may be compromised: rotate
 * it) and one whose key the inventory does not hold (issued from a CSR, or
 * imported without it), which rotate gives a new key the inventory holds.
 * *out is the caller's: capstan_cert_free().
 */
CAPSTAN_WARN_UNUSED int capstan_renew(capstan_cert **out, capstan_ctx *ctx, const capstan_cert *cert,
	int64_t lifetime);
CAPSTAN_WARN_UNUSED int capstan_rotate(capstan_cert **out, capstan_ctx *ctx, const capstan_cert *cert,
	int64_t lifetime);

/* What a revocation did to the other certificates of the same public key. */
typedef struct {
	capstan_cert **same_key; /* the other unexpired, unrevoked leaves in the inventory
	                            that certify the key (renewals of the line, CSR-issued
	                            certificates of a reused key), oldest first */
	size_t count;
	int revoked;             /* 1: revoked with it (keyCompromise); 0: left as they were */
} capstan_revocation;

/*
 * Revokes a leaf (valid, expired or superseded). CAPSTAN_EEXISTS if it already
 * is. keyCompromise revokes the key: every other unexpired certificate that
 * carries it is revoked in the same transaction, each with its audit row (an
 * expired one verifies nowhere and is left as it is). Any other reason revokes
 * this one certificate. out (may be NULL) receives the others either way;
 * they are the caller's: capstan_revocation_clear() frees them (not out itself).
 */
CAPSTAN_WARN_UNUSED int capstan_revoke_ex(capstan_revocation *out, capstan_ctx *ctx,
	const capstan_cert *cert, capstan_revoke_reason reason);
void capstan_revocation_clear(capstan_revocation *r);
/* capstan_revoke_ex without the report. */
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
	int dry_run;        /* report what is due (planned), change nothing */
} capstan_due_opts;

#define CAPSTAN_DUE_OPTS_VERSION 2
#define CAPSTAN_DUE_OPTS_INIT { CAPSTAN_DUE_OPTS_VERSION, NULL, 0, 0, 0 }

typedef struct {
	const capstan_cert *old;
	const capstan_cert *renewed; /* NULL when it could not be renewed (or in a dry run) */
	const char *problem;         /* why not, when renewed is NULL and it is not planned */
	int planned;                 /* a dry run: it is due */
} capstan_due_result;

/* Runs on the thread that called capstan_renew_due, never on a signing
 * worker, one call at a time; it must not use the context. The result and
 * what it points to (both certificates, the problem) live only until it
 * returns: copy what you keep. */
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
 * rotation. *root and *intermediate (either may be NULL) are the caller's:
 * capstan_cert_free(). */
CAPSTAN_WARN_UNUSED int capstan_ca_rotate(capstan_cert **root, capstan_cert **intermediate,
	capstan_ctx *ctx, const capstan_ca_rotate_opts *opts);

typedef struct {
	unsigned version;
	const char *env;
	int64_t next_update;       /* seconds after thisUpdate; 0: 7 days, or the issuer's notAfter if sooner;
	                              past an issuer's notAfter: refused (CAPSTAN_FIELD_NEXT_UPDATE) */
	int single;                /* the output holds one CRL (DER): refuse, changing
	                              nothing, when more than one is needed */
	/* version 2 */
	int reuse;                 /* capstan_crl_items: hand out an issuer's stored CRL
	                              while it is fresh (see there) instead of signing */
} capstan_crl_opts;

#define CAPSTAN_CRL_OPTS_VERSION 2
#define CAPSTAN_CRL_OPTS_INIT { CAPSTAN_CRL_OPTS_VERSION, NULL, 0, 0, 0 }

/* One DER CRL per intermediate that still has unexpired certificates, the
 * current one first, each with the next number of its issuer. *crls (an
 * array of count buffers) is the caller's: capstan_crl_list_free(). */
CAPSTAN_WARN_UNUSED int capstan_crl_generate(capstan_buf **crls, size_t *count,
	capstan_ctx *ctx, const capstan_crl_opts *opts);
void capstan_crl_list_free(capstan_buf *crls, size_t count);

/* One issuer's CRL. */
typedef struct {
	capstan_buf der;
	char *issuer_name;         /* the CA's inventory name: "intermediate-ca-2", "root-ca" */
	char *issuer_serial;
	int is_root;
	int is_current;            /* the environment's current CA of its kind (the
	                              intermediate that issues, the root that anchors it) */
	time_t this_update, next_update;
	int64_t number;            /* its CRL number */
	int reused;                /* handed out again from the inventory, not signed now */
} capstan_crl_item;

/*
 * The CRLs every consumer of the environment needs: each intermediate that
 * needs one (as capstan_crl_generate: current first), then each root that is
 * still trusted (the current one, and an older one during a root rotation),
 * current first. A root's CRL lists the intermediates it revoked. Verifiers
 * that check every CA below the root (nginx ssl_crl, PostgreSQL ssl_crl_file,
 * openssl -crl_check_all) refuse every client without the root's.
 *
 * Each CRL signed is stored in the inventory. With opts->reuse, an issuer's
 * stored CRL is handed out again (reused = 1, nothing signed, no audit row)
 * while it is fresh: no certificate of the issuer was revoked at or after its
 * thisUpdate, and now is before thisUpdate + 2/3 of (nextUpdate - thisUpdate).
 * Otherwise a new one is signed, with the issuer's next number: that needs
 * the keys unlocked. opts->single is ignored. *items is the caller's:
 * capstan_crl_items_free().
 */
CAPSTAN_WARN_UNUSED int capstan_crl_items(capstan_crl_item **items, size_t *count,
	capstan_ctx *ctx, const capstan_crl_opts *opts);
void capstan_crl_items_free(capstan_crl_item *items, size_t count);

/*
 * When the environment's CRLs go stale for reuse: the earliest time at which
 * capstan_crl_items with opts->reuse would sign a new CRL for one of the
 * issuers it covers (the start of the last third of a CRL's validity, or 0
 * when an issuer has no stored CRL or revoked a certificate since). A nightly
 * job re-renders when *refresh_at <= now. Reads only: no lock, no keys.
 */
CAPSTAN_WARN_UNUSED int capstan_crl_refresh_at(time_t *refresh_at, capstan_ctx *ctx, const char *env);

/* The PEM of the CRLs, concatenated. *out is the caller's: capstan_buf_free(). */
CAPSTAN_WARN_UNUSED int capstan_crl_pem(capstan_buf *out, capstan_ctx *ctx,
	const capstan_buf *crls, size_t count);

/*
 * Verifies a certificate (PEM, possibly with its chain, or DER) against the
 * environment's trust and revocations. 0 when it is good; CAPSTAN_EINVALID,
 * with the reason, when not. *cert (may be NULL) receives the inventory's
 * record of the certificate, the caller's: capstan_cert_free(). DATA is only
 * read during the call.
 */
CAPSTAN_WARN_UNUSED int capstan_verify(capstan_cert **cert, capstan_ctx *ctx, const char *env,
	const unsigned char *data, size_t len);

/*
 * Where streamed text goes: called with each chunk, in order. A negative
 * return stops the producer, which returns it; the writer records why in the
 * context first (capstan_file_append does).
 */
typedef int (*capstan_write_fn)(const void *data, size_t len, void *payload);

/* Prometheus text exposition: expiry per current certificate, counts by
 * status. *out is the caller's: capstan_buf_free(). */
CAPSTAN_WARN_UNUSED int capstan_metrics(capstan_buf *out, capstan_ctx *ctx);
/* The same text handed to write in chunks of ~64 KiB: memory stays flat
 * whatever the size of the inventory. */
CAPSTAN_WARN_UNUSED int capstan_metrics_write(capstan_ctx *ctx, capstan_write_fn write, void *payload);

CAPSTAN_END_API

#endif
