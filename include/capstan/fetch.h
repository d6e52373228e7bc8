/*
 * capstan — the deploy host's half of the network API: a service's bundle
 * fetched from capstan serve and swapped into place, and the host's own
 * identity certificate renewed. Needs no home and no passphrase: only an
 * identity certificate and its key (exported files) and the trust bundle
 * the server's certificate is checked against (with the URL's host name).
 *
 * Beside the bundle directory DIR, in its parent, the file .NAME.capstan-fetch
 * (NAME: DIR's last component) keeps what fetch knows between runs: the
 * installed bundle's ETag, and a hook still owed.
 */
#ifndef CAPSTAN_FETCH_H
#define CAPSTAN_FETCH_H

#include "common.h"

CAPSTAN_BEGIN_API

typedef struct {
	unsigned version;
	const char *server;        /* https://HOST[:PORT] */
	const char *cert;          /* the identity's certificate chain (PEM) */
	const char *key;           /* its key (PEM), a file private to the caller */
	const char *ca;            /* the certificates the server's must chain to (PEM) */
	/* The bundle (capstan_fetch_bundle). */
	const char *env, *service;
	const char *host;          /* NULL: every certificate of the service */
	const char *dir;           /* absolute: where the bundle is swapped in */
	const char *prefix;        /* where it is installed, for its configs; NULL: dir */
	int keystores;
	int hook;                  /* a hook runs after each install: owed until capstan_fetch_hook_ran */
	/* The identity's renewal (capstan_fetch_renew): when its remaining life is
	 * under within seconds; 0: a third of its lifetime. */
	int64_t within;
	unsigned connect_timeout;  /* seconds; 0: 10 */
	unsigned timeout;          /* seconds for a whole request; 0: 120 */
	unsigned retries;          /* after a connection error or a 502/503/504, with back-off; 0: none */
} capstan_fetch_opts;

#define CAPSTAN_FETCH_OPTS_VERSION 1
#define CAPSTAN_FETCH_OPTS_INIT { .version = CAPSTAN_FETCH_OPTS_VERSION }
/* What the tool uses: a fleet's first attempt may meet a restarting server. */
#define CAPSTAN_FETCH_RETRIES 3

typedef struct {
	int installed;             /* a new bundle was swapped into dir */
	size_t files;              /* how many files it has */
	int hook_owed;             /* the hook is to run now: installed, or still owed from before */
} capstan_fetch_result;

/*
 * Asks for the bundle with the installed one's ETag (If-None-Match). On 304
 * nothing changes. Otherwise the tar.gz is checked (capstan_bundle_from_tar's
 * rules: plain files, each one matching its MANIFEST) and swapped into dir as
 * capstan_bundle_write_dir does, and its ETag recorded. On any failure dir is
 * as it was.
 */
CAPSTAN_WARN_UNUSED int capstan_fetch_bundle(capstan_ctx *ctx, const capstan_fetch_opts *opts,
	capstan_fetch_result *out);
/* The hook ran and succeeded: no longer owed. (One that failed stays owed
 * and is asked for again by the next capstan_fetch_bundle, even on a 304.) */
CAPSTAN_WARN_UNUSED int capstan_fetch_hook_ran(capstan_ctx *ctx, const capstan_fetch_opts *opts);

typedef struct {
	int renewed;               /* 0: not due, nothing asked */
	int64_t not_after;         /* the certificate's (the new one's when renewed) */
	int64_t due_at;            /* when it is (was) due */
	char serial[64];           /* the new certificate's serial (hex) */
} capstan_fetch_renewal;

/* When the identity certificate (opts->cert) is due, POST /v1/renew, and the
 * new chain replaces opts->cert atomically (the key is unchanged: the new
 * certificate must hold the same public key). */
CAPSTAN_WARN_UNUSED int capstan_fetch_renew(capstan_ctx *ctx, const capstan_fetch_opts *opts,
	capstan_fetch_renewal *out);

CAPSTAN_END_API

#endif
