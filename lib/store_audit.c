/* Rows of the audit table. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int capstan_store_audit_insert(capstan_ctx *ctx, const capstan_audit_entry *e)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (!ctx->store || !ctx->store->in_tx)
		return capstan_error(ctx, CAPSTAN_ERROR, "an audit row must be written inside its change's transaction");
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO audit (at, uid, user, op, env, name, serial, detail)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)e->at);
	sqlite3_bind_int64(stmt, 2, e->uid);
	capstan_store_bind_text(stmt, 3, e->user);
	capstan_store_bind_text(stmt, 4, e->op);
	capstan_store_bind_text(stmt, 5, e->env);
	capstan_store_bind_text(stmt, 6, e->name);
	capstan_store_bind_text(stmt, 7, e->serial);
	capstan_store_bind_text(stmt, 8, e->detail);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = capstan_store_error(ctx, "cannot write the audit row");
	sqlite3_finalize(stmt);
	return rc;
}

struct capstan_audit_iter {
	capstan_ctx *ctx;
	sqlite3_stmt *stmt;
};

int capstan_audit_iter_new(capstan_audit_iter **out, capstan_ctx *ctx)
{
	capstan_audit_iter *it;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (!(it = calloc(1, sizeof(*it))))
		return capstan_error_oom(ctx);
	if ((rc = capstan_store_prepare(ctx, &it->stmt,
		     "SELECT id, at, uid, user, op, env, name, serial, detail FROM audit ORDER BY id")) < 0) {
		free(it);
		return rc;
	}
	it->ctx = ctx;
	*out = it;
	return 0;
}

int capstan_audit_iter_next(capstan_audit_entry **out, capstan_audit_iter *it)
{
	capstan_audit_entry *e;
	int step = sqlite3_step(it->stmt);

	if (step == SQLITE_DONE)
		return CAPSTAN_ITEROVER;
	if (step != SQLITE_ROW)
		return capstan_store_error(it->ctx, "cannot read the audit log");
	if (!(e = calloc(1, sizeof(*e))))
		return capstan_error_oom(it->ctx);
	e->id = sqlite3_column_int64(it->stmt, 0);
	e->at = (time_t)sqlite3_column_int64(it->stmt, 1);
	e->uid = (unsigned)sqlite3_column_int64(it->stmt, 2);
	e->user = capstan_store_column_strdup(it->stmt, 3);
	e->op = capstan_store_column_strdup(it->stmt, 4);
	e->env = capstan_store_column_strdup(it->stmt, 5);
	e->name = capstan_store_column_strdup(it->stmt, 6);
	e->serial = capstan_store_column_strdup(it->stmt, 7);
	e->detail = capstan_store_column_strdup(it->stmt, 8);
	if (!e->user || !e->op) {
		capstan_audit_entry_free(e);
		return capstan_error_oom(it->ctx);
	}
	*out = e;
	return 0;
}

void capstan_audit_iter_free(capstan_audit_iter *it)
{
	if (!it)
		return;
	sqlite3_finalize(it->stmt);
	free(it);
}
