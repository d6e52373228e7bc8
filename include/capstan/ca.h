/*
 * capstan — the CA engine: environments (root + intermediate) and issuance.
 * Each call is one inventory transaction that also writes its audit row.
 */
#ifndef CAPSTAN_CA_H
#define CAPSTAN_CA_H

#include "common.h"
#include "policy.h"
#include "cert.h"
#include "convert.h"

CAPSTAN_BEGIN_API

typedef struct {
	unsigned version;
	const char *env;
	const char *org;           /* O= of every certificate in the environment; may be NULL */
	capstan_key_type key;      /* root key, and the intermediate's unless inter_key_set */
	int inter_key_set;
	capstan_key_type inter_key;
	int64_t root_lifetime;     /* seconds; 0: default */
	int64_t ca_lifetime;       /* seconds; 0: default */
	int64_t leaf_lifetime;     /* default for leaves; 0: default */
	const char *hsm;           /* a pkcs11: URI naming a token: the CA keys are made and kept
	                              there (see capstan_ctx_set_pkcs11_pin); NULL: sealed */
	/* The intermediate's critical nameConstraints (permitted subtrees; none
	 * when both counts are 0): DNS patterns ("*.prod.internal" permits
	 * prod.internal's subtree) and CIDRs. Rotations take them from the
	 * policy apply records. */
	const char *const *permitted_dns; size_t permitted_dns_count;
	const char *const *permitted_ip;  size_t permitted_ip_count;
} capstan_init_opts;

#define CAPSTAN_INIT_OPTS_VERSION 3
#define CAPSTAN_INIT_OPTS_INIT { .version = CAPSTAN_INIT_OPTS_VERSION, .key = CAPSTAN_DEFAULT_KEY }

/* Creates ENV's root CA and an intermediate (pathlen 0) under it; needs an
 * unlocked home. CAPSTAN_EEXISTS if ENV exists. *root and *intermediate (either
 * may be NULL) are the caller's: capstan_cert_free(). */
CAPSTAN_WARN_UNUSED int capstan_env_init(capstan_cert **root, capstan_cert **intermediate,
	capstan_ctx *ctx, const capstan_init_opts *opts);

/* Names of the environments, sorted; the caller free()s each and the array. */
CAPSTAN_WARN_UNUSED int capstan_env_list(char ***names, size_t *count, capstan_ctx *ctx);

typedef struct {
	unsigned version;
	const char *env;
	const char *cn;
	const char *name;          /* NULL: the CN */
	const char *service;       /* NULL: none */
	capstan_profile profile;
	int key_set;               /* 0: CAPSTAN_DEFAULT_KEY */
	capstan_key_type key;
	int64_t lifetime;          /* seconds; 0: the environment's default */
	int64_t renew_before;      /* seconds; 0: the default for the lifetime */
	const char *const *dns;  size_t dns_count;
	const char *const *ip;   size_t ip_count;
	const char *const *uri;  size_t uri_count;
	const char *const *email; size_t email_count;
	const unsigned char *csr;  /* PEM or DER; NULL: generate and keep a key */
	size_t csr_len;
	int replace;               /* a valid certificate of the line is superseded
	                              rather than a reason to refuse (apply's reissue) */
} capstan_issue_opts;

#define CAPSTAN_ISSUE_OPTS_VERSION 1
#define CAPSTAN_ISSUE_OPTS_INIT { .version = CAPSTAN_ISSUE_OPTS_VERSION }

/*
 * Issues a leaf certificate. A fresh key is generated and kept encrypted, or,
 * with a CSR, the CSR's signature is checked and only its public key is used
 * (SANs come from the options, else from the CSR). CAPSTAN_EEXISTS when the
 * line already has a valid certificate (renew or rotate it instead).
 * If the requested lifetime would outlive the issuer it is cut to the issuer's;
 * *out (may be NULL) tells the truth; it is the caller's: capstan_cert_free().
 * The options (and the arrays and strings they point to) are only read
 * during the call.
 */
CAPSTAN_WARN_UNUSED int capstan_issue(capstan_cert **out, capstan_ctx *ctx,
	const capstan_issue_opts *opts);

/* Many certificates in one process: key generation and signing on worker
 * threads, one writer committing in groups (every `group` certificates or
 * `group_ms`), so a crash loses at most the group being written. fn is called
 * for each request: with the certificate once its group has committed, or
 * with the reason it failed (the others go on).
 *
 * fn runs on the thread that called capstan_issue_batch (the writer), never
 * on a worker, one call at a time; it must not use the context. The result,
 * its certificate and its error string live only until fn returns (the
 * certificate is freed then): copy what you keep. A non-zero return stops
 * the batch (what committed stays) and capstan_issue_batch returns it. */
typedef struct {
	size_t index;               /* in the request array */
	const capstan_cert *cert;   /* NULL when it failed */
	const char *error;          /* why, when it failed */
	unsigned subject;           /* which of the request's fields it is about
	                               (capstan_field bits; 0: none) */
} capstan_batch_result;

typedef int (*capstan_batch_fn)(const capstan_batch_result *result, void *payload);

typedef struct {
	unsigned version;
	unsigned threads;           /* 0: one per online CPU */
	size_t group;               /* 0: 1024 (a group also ends at 1 MiB) */
	unsigned group_ms;          /* 0: 50 */
} capstan_batch_opts;

#define CAPSTAN_BATCH_OPTS_VERSION 1
#define CAPSTAN_BATCH_OPTS_INIT { CAPSTAN_BATCH_OPTS_VERSION, 0, 0, 0 }

/* 0 when every request was issued, CAPSTAN_EINVALID when some failed (each
 * reported through fn), or an error that stopped the batch. CSRs are not
 * taken here. */
CAPSTAN_WARN_UNUSED int capstan_issue_batch(capstan_ctx *ctx, const capstan_issue_opts *requests, size_t count,
	const capstan_batch_opts *opts, capstan_batch_fn fn, void *payload);

/* PEM of the environment's trusted roots (every unexpired root: old and new
 * during a root rotation). *out is the caller's: capstan_buf_free(). */
CAPSTAN_WARN_UNUSED int capstan_trust_pem(capstan_buf *out, capstan_ctx *ctx, const char *env);

/* An old root that a root rotation left in an environment's trust bundle. */
typedef struct {
	capstan_cert *root;       /* the old root (env, name, serial, subject, ...) */
	time_t leaves_trust_at;   /* when it leaves the trust bundle, as things stand */
} capstan_leaving_root;

/*
 * The old roots in ENV's trust bundle (NULL: every environment's), each with
 * the moment it leaves it. After 'rotate --root' the old root stays in the
 * bundle (capstan_trust_pem) while any unexpired, unrevoked leaf chains to it
 * (superseded leaves count: they may still be deployed), so it leaves when
 * the last of those expires, or when it expires itself if that is sooner.
 * Revoking those leaves brings the moment nearer; nothing issued later moves
 * it, since new leaves chain to the new root. Sorted by environment, then
 * oldest root first; none (count 0) when no rotation is under way.
 * *out (an array of *count) is the caller's: capstan_leaving_roots_free().
 * CAPSTAN_ENOTFOUND for an unknown ENV.
 */
CAPSTAN_WARN_UNUSED int capstan_trust_leaving(capstan_leaving_root **out, size_t *count, capstan_ctx *ctx,
	const char *env);
/* Frees each root and the array. NULL is a no-op. */
void capstan_leaving_roots_free(capstan_leaving_root *roots, size_t count);

typedef struct {
	unsigned version;
	const capstan_write_opts *write; /* NULL: the defaults */
	const char *to;             /* where the bytes go, for the audit log: a path, "-" (stdout); NULL: unnamed */
	int ca_key;                 /* a root's or intermediate's own key may leave (refused otherwise) */
} capstan_export_opts;

#define CAPSTAN_EXPORT_OPTS_VERSION 1
#define CAPSTAN_EXPORT_OPTS_INIT { .version = CAPSTAN_EXPORT_OPTS_VERSION }

/* A certificate from the inventory in format FMT (see convert.h): material
 * from the inventory, then written. Formats with a key need an unlocked home,
 * and are recorded in the audit log ("export-key": the certificate, the
 * format, opts->to) in a transaction of their own before anything is
 * written, so no open transaction may be held; a CA's key is refused
 * (CAPSTAN_FIELD_CA_KEY) unless opts->ca_key. *out is the caller's:
 * capstan_buf_free() (it wipes key material). */
CAPSTAN_WARN_UNUSED int capstan_export_to(capstan_buf *out, capstan_ctx *ctx,
	const capstan_cert *cert, capstan_format fmt, const capstan_export_opts *opts);
/* The same with write options alone (NULL: the defaults) and no destination named. */
CAPSTAN_WARN_UNUSED int capstan_export(capstan_buf *out, capstan_ctx *ctx,
	const capstan_cert *cert, capstan_format fmt, const capstan_write_opts *opts);

CAPSTAN_END_API

#endif
