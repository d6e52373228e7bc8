/*
 * capstan — the audit log: one row per change, written in the change's own
 * transaction (table "audit" in the inventory).
 */
#ifndef CAPSTAN_AUDIT_H
#define CAPSTAN_AUDIT_H

#include "common.h"

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
} capstan_audit_entry;

void capstan_audit_entry_free(capstan_audit_entry *entry);

typedef struct capstan_audit_iter capstan_audit_iter;
CAPSTAN_WARN_UNUSED int capstan_audit_iter_new(capstan_audit_iter **out, capstan_ctx *ctx);
/* 0 and *out (caller frees), CAPSTAN_ITEROVER at the end, or an error. */
CAPSTAN_WARN_UNUSED int capstan_audit_iter_next(capstan_audit_entry **out, capstan_audit_iter *iter);
void capstan_audit_iter_free(capstan_audit_iter *iter);

#endif
