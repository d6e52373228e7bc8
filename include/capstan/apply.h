/*
 * capstan — apply: make the inventory what the configuration describes.
 * Missing environments and certificates are created; a certificate whose
 * current one is revoked, expired or differs from the configuration (subject,
 * SANs, profile, key type) is reissued, the old one superseded; services are
 * recorded so bundle needs no configuration file. Certificates go through the
 * batch path (signed on every core, committed in groups of 64), so an
 * interrupted apply loses at most a group, and a second run makes what is missing.
 */
#ifndef CAPSTAN_APPLY_H
#define CAPSTAN_APPLY_H

#include "common.h"
#include "config.h"

CAPSTAN_BEGIN_API

typedef enum {
	CAPSTAN_STEP_CREATE_ENV = 0,
	CAPSTAN_STEP_ISSUE,
	CAPSTAN_STEP_REISSUE,
	CAPSTAN_STEP_RECORD_SERVICE,
	CAPSTAN_STEP_FAILED,       /* a certificate that could not be issued; not a change */
	CAPSTAN_STEP_PRUNE,        /* revoked: its service no longer names it (--prune) */
	CAPSTAN_STEP_LEFT,         /* no longer named, left valid (no --prune): not a change */
	CAPSTAN_STEP_RECORD_POLICY /* an issuance policy recorded (name: its service, or NULL) */
} capstan_step_kind;

typedef struct {
	capstan_step_kind kind;
	const char *env;
	const char *name;     /* certificate or service; NULL for an environment */
	const char *reason;   /* why: "new", "revoked", "SANs differ: ..."; for a failure the
	                         whole message: "FILE: services.S, certificate 'N' in ENV: why" */
	const char *serial;   /* the new certificate's; NULL in a dry run or a failure */
} capstan_apply_step;

/* Runs on the thread that called capstan_apply, one step at a time; it must
 * not use the context. The step and its strings live only until it returns:
 * copy what you keep. A non-zero return stops apply and is returned. */
typedef int (*capstan_apply_fn)(const capstan_apply_step *step, void *payload);

typedef struct {
	unsigned version;
	const char *env;            /* NULL: every environment of the configuration */
	int dry_run;                /* plan only: nothing changes, no passphrase needed */
	const char *templates_dir;  /* NULL: the built-in templates */
	int prune;                  /* revoke (cessationOfOperation) the current certificates of
	                               recorded services that the configuration no longer names */
} capstan_apply_opts;

#define CAPSTAN_APPLY_OPTS_VERSION 2
#define CAPSTAN_APPLY_OPTS_INIT { CAPSTAN_APPLY_OPTS_VERSION, NULL, 0, NULL, 0 }

/* Calls fn for each step taken (or planned). *changes counts them: 0 means
 * the inventory already matched. Needs an unlocked home unless dry_run.
 * A certificate that cannot be issued is reported to fn (CAPSTAN_STEP_FAILED)
 * and the rest of the configuration is applied; then CAPSTAN_EINVALID, "N of
 * M certificates could not be issued". */
CAPSTAN_WARN_UNUSED int capstan_apply(size_t *changes, capstan_ctx *ctx, const capstan_config *config,
	const capstan_apply_opts *opts, capstan_apply_fn fn, void *payload);

CAPSTAN_END_API

#endif
