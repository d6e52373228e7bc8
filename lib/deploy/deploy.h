/*
 * The deploy layer's interface to the layers above it: a bundle as a tar.gz
 * in memory, what stays the same between two renders of the same bundle (its
 * ETag) for the API, and a tar.gz read back and checked for fetch (which
 * then writes it with capstan_bundle_write_dir, the swap bundle --out uses). The rest of the deploy layer is the public API
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

/* A bundle read from the tar.gz a server sent: every entry a regular file of
 * the flat layout (no directory, link, absolute path or '..'; no set-id or
 * others-writable mode), and every file listed in its MANIFEST with the
 * SHA-256 it has, every MANIFEST entry there. Run as root, its files go to
 * the owner and group its entries name (resolved on this machine). Writing it
 * records no keys: the server recorded them as sent. *out: the caller's,
 * capstan_bundle_free(). */
int capstan_bundle_from_tar(capstan_bundle **out, capstan_ctx *ctx, const void *data, size_t len);

/* That MANIFEST check alone (also for a bundle in memory). */
int capstan_bundle_check_manifest(capstan_ctx *ctx, const capstan_bundle *b);

/* An api: action's capstan_api_action bit from its allow: word (0: none
 * such), and back (config_model.c). */
unsigned capstan_config_action_bit(const char *word);
const char *capstan_config_action_word(unsigned bit);

#endif
