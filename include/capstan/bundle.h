/*
 * capstan — per-environment bundles: a service's certificate files plus
 * ready-to-use configuration rendered from its target's templates, with a
 * MANIFEST, written into a directory atomically or as a .tar.gz.
 */
#ifndef CAPSTAN_BUNDLE_H
#define CAPSTAN_BUNDLE_H

#include "common.h"

typedef struct {
	unsigned version;
	const char *env;
	const char *service;
	const char *dir;            /* where the files will be: the paths written into configs */
	const char *templates_dir;  /* NULL: the built-in templates */
	const capstan_secret *password; /* keystore password; NULL: a random one */
	int keystores;              /* also for targets that make them only when asked */
} capstan_bundle_opts;

#define CAPSTAN_BUNDLE_OPTS_VERSION 1
#define CAPSTAN_BUNDLE_OPTS_INIT { .version = CAPSTAN_BUNDLE_OPTS_VERSION }

typedef struct capstan_bundle capstan_bundle;

/* Renders the bundle in memory; needs an unlocked home (it holds keys). */
CAPSTAN_WARN_UNUSED int capstan_bundle_build(capstan_bundle **out, capstan_ctx *ctx, const capstan_bundle_opts *opts);
void capstan_bundle_free(capstan_bundle *bundle);

/* Number of files and each one's relative path (for messages). */
size_t capstan_bundle_count(const capstan_bundle *bundle);
const char *capstan_bundle_path(const capstan_bundle *bundle, size_t i);

/* Writes into a new directory beside DIR, fsyncs it, and swaps it in place of
 * DIR (creating missing parents): a reader sees the old bundle or the new one,
 * never a mix. */
CAPSTAN_WARN_UNUSED int capstan_bundle_write_dir(capstan_ctx *ctx, const capstan_bundle *bundle, const char *dir);
/* A gzip-compressed tar of the files ("-": standard output). */
CAPSTAN_WARN_UNUSED int capstan_bundle_write_tar(capstan_ctx *ctx, const capstan_bundle *bundle, const char *path);

/* The services of ENV whose certificates include CERT_NAME, as apply recorded
 * them. *names (each and the array) is the caller's. */
CAPSTAN_WARN_UNUSED int capstan_cert_services(capstan_ctx *ctx, const char *env, const char *cert_name,
	char ***names, size_t *count);

/* Template names that exist (built in, or in DIR): 0, or CAPSTAN_ENOTFOUND naming those there are. */
CAPSTAN_WARN_UNUSED int capstan_template_check(capstan_ctx *ctx, const char *dir, const char *target);

#endif
