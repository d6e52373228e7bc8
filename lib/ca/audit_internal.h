/* The audit log's files share these: the row hash, the seal, appending. */
#ifndef CAPSTAN_LIB_AUDIT_INTERNAL_H
#define CAPSTAN_LIB_AUDIT_INTERNAL_H

#include <capstan/audit.h>

#include "base/base.h"
#include "store/store.h"

/* SHA-256(prev || the row's canonical form, as its form says). The id is
 * part of the row, so moving a row elsewhere in the chain changes its hash. */
int capstan_audit_chain_hash(capstan_ctx *ctx, const unsigned char prev[CAPSTAN_SHA256_LEN],
	const capstan_audit_entry *e, unsigned char out[CAPSTAN_SHA256_LEN]);
/* HMAC over the log's end (row id and its hash) under the audit key. */
int capstan_audit_seal(capstan_ctx *ctx, int64_t id, const unsigned char hash[CAPSTAN_SHA256_LEN],
	unsigned char seal[CAPSTAN_SHA256_LEN]);
/* Appends a row of the second form with the given state and seals the new end. */
int capstan_audit_append(capstan_ctx *ctx, const char *op, const char *env, const char *name,
	const char *serial, const char *detail, const char *state);
/* The end the inventory recorded against the last row and its seal (the
 * context holds the audit key): *why NULL when they agree, else why not
 * (the caller's: free()); *last_out (unless NULL) the last row, read in
 * the same statement. */
int capstan_audit_end_problem(capstan_ctx *ctx, char **why, int appending, capstan_store_audit_end *last_out);
/* 1 when the log's end is sealed: the keyring has a wrapped data key, which
 * only a capstan that seals the log writes; 0 for a first-version keyring. */
int capstan_audit_log_sealed(capstan_ctx *ctx);

#endif
