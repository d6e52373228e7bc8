/* Writing audit rows: who did what, in the change's own transaction. */
#ifndef CAPSTAN_LIB_AUDIT_H
#define CAPSTAN_LIB_AUDIT_H

#include <capstan/audit.h>
#include <capstan/convert.h>

#include "base/base.h"

/* Records OP by the current user; must be called inside the change's transaction.
 * env, name, serial and detail may be NULL. */
int capstan_audit_record(capstan_ctx *ctx, const char *op, const char *env,
	const char *name, const char *serial, const char *detail);

/* One change's row, for capstan_audit_append_rows: as capstan_audit_record's
 * arguments, with the states it set (capstan_store_state_take_of). */
typedef struct {
	const char *op, *env, *name, *serial, *detail, *state;
} capstan_audit_change;
/* Rows for changes[0..n), chained in order and written together (a
 * batch's chunk), inside their transaction. */
int capstan_audit_append_rows(capstan_ctx *ctx, const capstan_audit_change *changes, size_t n);

/* Replays the log against the certificates (audit_replay.c): fn gets one
 * line for each certificate whose state differs from the log's last record
 * of it, is in no row, or is named by the log and gone. A negative return
 * from fn stops the replay. */
typedef int (*capstan_audit_finding_fn)(const char *message, void *payload);
int capstan_audit_replay(capstan_ctx *ctx, capstan_audit_finding_fn fn, void *payload);

/* The keyring calls these (home.c). capstan_audit_unlocked: once the
 * context holds the data key, at the end of every successful unlock; it
 * prepares the audit seal and checks the log's end against it.
 * capstan_audit_keyring_upgraded: inside the transaction that turns a first
 * version keyring into one with a wrapped data key, with ctx->kek already the
 * data key; it adopts what the log holds so far (see audit.c). */
int capstan_audit_unlocked(capstan_ctx *ctx);
int capstan_audit_keyring_upgraded(capstan_ctx *ctx);

/* capstan_export without its audit row, for a caller that records the keys
 * itself where they leave (a bundle, when it is written). */
int capstan_export_unrecorded(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert,
	capstan_format fmt, const capstan_write_opts *opts);

#endif
