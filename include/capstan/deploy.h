/*
 * capstan — delivery that can be left unattended: the deploy ledger behind
 * renew --due --bundle-dir. Every (environment, service, host) delivered into
 * a bundle directory has a row in the inventory that says what was rendered
 * there (which serials, CRLs fresh until when) and whether the reload hook has
 * run since. What differs from the inventory, or failed, is owed, and every
 * later run renders it again and reruns its hook until it succeeds:
 *
 *   capstan_renew_due()      the renewals (they need no lock of this)
 *   capstan_deploy_lock()    one delivery at a time
 *   capstan_deploy_track()   every recorded service (each host) gets a row
 *   capstan_deploy_owed()    what was never delivered, differs, failed, or
 *                            has CRLs growing old
 *   capstan_deploy_render()  each owed bundle rendered and swapped in place
 *   capstan_deploy_finish()  ...and the hook's outcome recorded
 */
#ifndef CAPSTAN_DEPLOY_H
#define CAPSTAN_DEPLOY_H

#include "bundle.h"
#include "common.h"

CAPSTAN_BEGIN_API

typedef struct {
	unsigned version;
	const char *env;                /* NULL: every environment */
	const char *dir;                /* bundles go to DIR/ENV/SERVICE, or DIR/ENV/SERVICE/HOST (absolute) */
	const char *prefix;             /* where they will be installed, for their configs; NULL: dir */
	const char *templates_dir;      /* NULL: the built-in templates */
	const capstan_secret *password; /* NULL: each service's stored keystore password */
	int hook;                       /* a hook runs after each render: done only once it has */
	/* "ENV/NAME" of each certificate this run renewed (a dry run: would
	 * renew): what a first delivery names as renewed. */
	const char *const *renewed;
	size_t renewed_count;
	/* capstan_deploy_owed() for a dry run, nothing written: a service (or
	 * host) not yet tracked is owed, as capstan_deploy_track() would make
	 * it, and the certificates in renewed are taken as changed. */
	int dry_run;
} capstan_deploy_opts;

#define CAPSTAN_DEPLOY_OPTS_VERSION 2
#define CAPSTAN_DEPLOY_OPTS_INIT { .version = CAPSTAN_DEPLOY_OPTS_VERSION }

typedef struct {
	int64_t id;
	char *env, *service;
	char *host;          /* "" when the service has no hosts: mapping */
	char *path;          /* the bundle directory */
	/* Names whose certificate changed since the last render, space-separated;
	 * on a first delivery, those this run renewed (opts->renewed). */
	char *renewed;
	char *why;           /* why it is owed, for messages */
	int64_t failures;    /* failed attempts before this one */
	int first;           /* never delivered here: its first delivery */
} capstan_deploy_item;

/* Takes the deploy lock of the home, waiting at most wait_seconds: overlapping
 * runs deliver one after the other, so each hook runs once per change. *fd is
 * the caller's: capstan_deploy_unlock() releases the lock and closes it. */
CAPSTAN_WARN_UNUSED int capstan_deploy_lock(int *fd, capstan_ctx *ctx, int wait_seconds);
void capstan_deploy_unlock(int fd);

/* A row for every recorded service (each host) not yet tracked, owed until
 * it is first delivered; rows of services or hosts no longer recorded are
 * dropped. */
CAPSTAN_WARN_UNUSED int capstan_deploy_track(capstan_ctx *ctx, const capstan_deploy_opts *opts);
/* Everything owed now. *items is the caller's: capstan_deploy_items_free(). */
CAPSTAN_WARN_UNUSED int capstan_deploy_owed(capstan_deploy_item **items, size_t *count,
	capstan_ctx *ctx, const capstan_deploy_opts *opts);
void capstan_deploy_items_free(capstan_deploy_item *items, size_t count);
/* Renders one owed bundle and swaps it in place. A line whose certificate is
 * revoked is reissued first (new key); one that cannot be is left out (a
 * warning of the bundle). A failure is recorded against the row, and owed.
 * *out is the caller's: capstan_bundle_free(). */
CAPSTAN_WARN_UNUSED int capstan_deploy_render(capstan_bundle **out, capstan_ctx *ctx,
	const capstan_deploy_opts *opts, const capstan_deploy_item *item);
/* After the hook (only when opts->hook): error NULL when it succeeded. */
CAPSTAN_WARN_UNUSED int capstan_deploy_finish(capstan_ctx *ctx, const capstan_deploy_item *item, const char *error);

/* Prometheus lines for the ledger: pending per bundle, and the serial and
 * expiry of each certificate last deployed (metrics.c). *out is the caller's:
 * capstan_buf_free(). */
CAPSTAN_WARN_UNUSED int capstan_deploy_metrics(capstan_buf *out, capstan_ctx *ctx);

CAPSTAN_END_API

#endif
