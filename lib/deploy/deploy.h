/*
 * The deploy layer's interface to the API layer above it: a bundle as a
 * tar.gz in memory, and what stays the same between two renders of the same
 * bundle (its ETag). The rest of the deploy layer is the public API
 * (include/capstan/bundle.h, apply.h, deploy.h, config.h).
 */
#ifndef CAPSTAN_LIB_DEPLOY_H
#define CAPSTAN_LIB_DEPLOY_H

#include <capstan/bundle.h>

/* What `bundle --tar` writes, appended to *out (the caller's:
 * capstan_buf_free). Its keys are recorded in the audit log as sent to
 * WHERE first, as they are for a file. */
int capstan_bundle_tar_memory(capstan_buf *out, capstan_ctx *ctx, const capstan_bundle *b, const char *where);

/* The SHA-256 of what the bundle is a function of: its certificate lines
 * (serials, the trust bundle's digest), its CRLs and every public file the
 * templates rendered, and the request's words (prefix, host, keystores).
 * Keys, keystores and the MANIFEST are left out: keystores differ at each
 * render (random salts) though nothing they hold does, and the certificate
 * lines already name the keys. hex: 64 digits and a NUL. */
int capstan_bundle_digest(capstan_ctx *ctx, const capstan_bundle *b, const char *params, char hex[65]);

#endif
