/*
 * capstan — certificates as the inventory records them, and queries over them.
 */
#ifndef CAPSTAN_CERT_H
#define CAPSTAN_CERT_H

#include "common.h"
#include "policy.h"

CAPSTAN_BEGIN_API

typedef enum {
	CAPSTAN_KIND_ROOT = 0,
	CAPSTAN_KIND_INTERMEDIATE,
	CAPSTAN_KIND_LEAF
} capstan_cert_kind;

typedef enum {
	CAPSTAN_STATUS_VALID = 0,
	CAPSTAN_STATUS_REVOKED,
	CAPSTAN_STATUS_EXPIRED, /* derived: valid in the store, past notAfter */
	CAPSTAN_STATUS_SUPERSEDED,
	CAPSTAN_STATUS_ALL      /* only as a list filter */
} capstan_status;

typedef struct {
	int64_t id;
	capstan_cert_kind kind;
	capstan_status status;
	char *env;
	char *name;
	char *serial;             /* lowercase hex, >= 16 digits */
	char *subject;            /* RFC 2253 order: "CN=web,O=Example" */
	char *issuer;             /* subject of the issuer */
	char *service;            /* NULL when none */
	char *fingerprint_sha256; /* lowercase hex of the DER's SHA-256 */
	int has_profile;
	capstan_profile profile;  /* leaves only */
	capstan_key_type key_type;
	char **sans;              /* "DNS:x", "IP:1.2.3.4", "URI:...", "email:..." */
	size_t san_count;
	time_t not_before;
	time_t not_after;
	int64_t lifetime;         /* seconds, kept across renewals */
	int64_t renew_before;     /* seconds; 0 = the default for the lifetime */
	int has_key;              /* the inventory holds the private key */
	time_t revoked_at;
	char *revoke_reason;
	int64_t issuer_id;        /* 0 for a root */
	unsigned char *der;
	size_t der_len;
} capstan_cert;

/* Frees every field and the struct. NULL is a no-op. */
void capstan_cert_free(capstan_cert *cert);
/* Frees each certificate of an array of count, and the array. */
void capstan_cert_list_free(capstan_cert **list, size_t count);

/* Static strings (never freed); "unknown" for a status out of range. */
const char *capstan_status_name(capstan_status status);
int capstan_status_parse(const char *name, capstan_status *out);
const char *capstan_kind_name(capstan_cert_kind kind);
/* The certificate's renew-before window as renew --due applies it (see
 * capstan_renew_window): its own, or a third of its validity. Seconds. */
int64_t capstan_cert_renew_window(const capstan_cert *cert);

/*
 * Finds a certificate by REF: a serial in hex, or a certificate name (the newest
 * certificate of that line): a leaf's, else a CA's as list names them
 * ("root-ca-2", "intermediate-ca-3"). ENV may be NULL unless several
 * environments have the name (CAPSTAN_EAMBIGUOUS). *out is the caller's:
 * capstan_cert_free().
 */
CAPSTAN_WARN_UNUSED int capstan_cert_lookup(capstan_cert **out, capstan_ctx *ctx,
	const char *ref, const char *env);

typedef struct {
	unsigned version;
	const char *env;          /* NULL: every environment */
	const char *service;      /* NULL: any */
	capstan_status status;    /* default VALID */
	int64_t expiring_within;  /* seconds; 0: no expiry filter */
	int include_ca;           /* also root and intermediate certificates */
	int ca_only;              /* only root and intermediate certificates */
} capstan_list_opts;

#define CAPSTAN_LIST_OPTS_VERSION 1
#define CAPSTAN_LIST_OPTS_INIT { CAPSTAN_LIST_OPTS_VERSION, NULL, NULL, CAPSTAN_STATUS_VALID, 0, 0, 0 }

/* Streams certificates in (env, name, id) order without loading them all.
 * *out is the caller's: capstan_cert_iter_free() (also before the end). The
 * iterator holds a read of the inventory: free it before writing with the
 * same context. */
typedef struct capstan_cert_iter capstan_cert_iter;
CAPSTAN_WARN_UNUSED int capstan_cert_iter_new(capstan_cert_iter **out, capstan_ctx *ctx,
	const capstan_list_opts *opts);
/* 0 and *out (the caller's: capstan_cert_free()), CAPSTAN_ITEROVER at the end, or an error. */
CAPSTAN_WARN_UNUSED int capstan_cert_iter_next(capstan_cert **out, capstan_cert_iter *iter);
void capstan_cert_iter_free(capstan_cert_iter *iter);

CAPSTAN_END_API

#endif
