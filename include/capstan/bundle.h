/*
 * capstan — per-environment bundles: a service's certificate files plus
 * ready-to-use configuration rendered from its target's templates, with a
 * MANIFEST, written into a directory atomically or as a .tar.gz.
 */
#ifndef CAPSTAN_BUNDLE_H
#define CAPSTAN_BUNDLE_H

#include "common.h"

CAPSTAN_BEGIN_API

typedef struct {
	unsigned version;
	const char *env;
	const char *service;
	const char *host;           /* NULL: every certificate; else only that host's (the service's hosts:) */
	const char *dir;            /* where the files will be: the paths written into configs */
	const char *templates_dir;  /* NULL: the built-in templates */
	const capstan_secret *password; /* keystore password for this render; NULL: the service's stored one */
	int new_password;           /* generate, store and use a new keystore password */
	int keystores;              /* also for targets that make them only when asked */
	const char *owner;          /* files' user and group; NULL: the service's owner:/group: */
	const char *group;
} capstan_bundle_opts;

#define CAPSTAN_BUNDLE_OPTS_VERSION 2
#define CAPSTAN_BUNDLE_OPTS_INIT { .version = CAPSTAN_BUNDLE_OPTS_VERSION }

typedef struct capstan_bundle capstan_bundle;

/* Renders the bundle in memory; needs an unlocked home (it holds keys).
 * *out is the caller's: capstan_bundle_free() (it wipes the files). */
CAPSTAN_WARN_UNUSED int capstan_bundle_build(capstan_bundle **out, capstan_ctx *ctx, const capstan_bundle_opts *opts);
void capstan_bundle_free(capstan_bundle *bundle);

/* Number of files and each one's relative path (for messages). The strings
 * these accessors return are the bundle's: they live until
 * capstan_bundle_free(). */
size_t capstan_bundle_count(const capstan_bundle *bundle);
const char *capstan_bundle_path(const capstan_bundle *bundle, size_t i);
/* What the render left out (a revoked line that could not be reissued...), one line each. */
size_t capstan_bundle_warning_count(const capstan_bundle *bundle);
const char *capstan_bundle_warning(const capstan_bundle *bundle, size_t i);
/* The certificates it holds: one "NAME SERIAL NOT_AFTER" line each. */
const char *capstan_bundle_certs(const capstan_bundle *bundle);
/* When its CRLs enter the last third of their validity: re-render by then. */
int64_t capstan_bundle_crl_refresh_at(const capstan_bundle *bundle);

/* Writes into a new directory beside DIR, fsyncs it, and swaps it in place of
 * DIR (creating missing parents): a reader sees the old bundle or the new one,
 * never a mix. An existing DIR that is neither empty nor an earlier bundle (a
 * regular-file MANIFEST written by capstan) is refused: it is not replaced. */
CAPSTAN_WARN_UNUSED int capstan_bundle_write_dir(capstan_ctx *ctx, const capstan_bundle *bundle, const char *dir);
/* Before rendering: DIR can take a bundle (it is not there, or is an empty
 * directory or one holding an earlier bundle, with its capstan MANIFEST). */
CAPSTAN_WARN_UNUSED int capstan_bundle_check_dir(capstan_ctx *ctx, const char *dir);
/* After a bundle with a new keystore password (new_password) was written:
 * that password becomes the service's, and its delivered bundles are owed a
 * render. Nothing to do for other bundles. */
CAPSTAN_WARN_UNUSED int capstan_bundle_keep_password(capstan_ctx *ctx, const capstan_bundle *bundle);
/* A gzip-compressed tar of the files ("-": standard output). */
CAPSTAN_WARN_UNUSED int capstan_bundle_write_tar(capstan_ctx *ctx, const capstan_bundle *bundle, const char *path);

/* The services of ENV whose certificates include CERT_NAME, as apply recorded
 * them. *names is the caller's: free() each and the array. */
CAPSTAN_WARN_UNUSED int capstan_cert_services(char ***names, size_t *count, capstan_ctx *ctx,
	const char *env, const char *cert_name);

/* Template names that exist (built in, or in DIR): 0, or CAPSTAN_ENOTFOUND naming those there are. */
CAPSTAN_WARN_UNUSED int capstan_template_check(capstan_ctx *ctx, const char *dir, const char *target);

CAPSTAN_END_API

#endif
