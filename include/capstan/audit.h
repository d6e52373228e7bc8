/*
 * capstan — the audit log: one row per change, written in the change's own
 * transaction (table "audit" in the inventory). The rows form a hash chain:
 * each row's hash is SHA-256 over the previous row's hash and its own
 * canonical content, and the inventory keeps the last row's id and hash, so
 * editing, deleting, inserting or reordering rows is detected.
 */
#ifndef CAPSTAN_AUDIT_H
#define CAPSTAN_AUDIT_H

#include "common.h"

CAPSTAN_BEGIN_API

typedef struct {
	int64_t id;
	time_t at;
	unsigned uid;
	char *user;
	char *op;
	char *env;    /* may be NULL */
	char *name;   /* may be NULL */
	char *serial; /* may be NULL */
	char *detail; /* may be NULL */
	unsigned char hash[CAPSTAN_SHA256_LEN];
} capstan_audit_entry;

void capstan_audit_entry_free(capstan_audit_entry *entry);

/* *out is the caller's: capstan_audit_iter_free() (also before the end). */
typedef struct capstan_audit_iter capstan_audit_iter;
CAPSTAN_WARN_UNUSED int capstan_audit_iter_new(capstan_audit_iter **out, capstan_ctx *ctx);
/* 0 and *out (the caller's: capstan_audit_entry_free()), CAPSTAN_ITEROVER at
 * the end, or an error. */
CAPSTAN_WARN_UNUSED int capstan_audit_iter_next(capstan_audit_entry **out, capstan_audit_iter *iter);
void capstan_audit_iter_free(capstan_audit_iter *iter);

/*
 * Checks the hash chain. 0 when it is intact; CAPSTAN_EINVALID when it is
 * not, with *bad_id the first row found wrong (0 when the fault is the chain's
 * end) and a message saying what is wrong with it.
 */
CAPSTAN_WARN_UNUSED int capstan_audit_verify(int64_t *bad_id, int64_t *rows, capstan_ctx *ctx);

CAPSTAN_END_API

#endif
