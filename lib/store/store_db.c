/* The inventory's connection: statements (prepared once, cached), errors,
 * transactions and savepoints, metadata, closing. The bottom of the store:
 * every other store file calls it, it calls none of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int capstan_store_error(capstan_ctx *ctx, const char *what)
{
	capstan_store *st = ctx->store;
	int code = st && st->db ? sqlite3_errcode(st->db) & 0xff : SQLITE_OK;

	if (st)
		st->refused_write = code == SQLITE_READONLY;
	/* A damaged file is not a failed operation: said apart, so that it is
	 * never taken for something else (a wrong passphrase, a missing row). */
	if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		return capstan_error(ctx, CAPSTAN_EDAMAGED, "the inventory's database '%s' is damaged (%s: %s)",
			st->path ? st->path : "?", what, sqlite3_errmsg(st->db));
	return capstan_error(ctx, CAPSTAN_ERROR, "database '%s': %s: %s",
		st && st->path ? st->path : "?", what, st && st->db ? sqlite3_errmsg(st->db) : "not open");
}

int capstan_store_prepare(capstan_ctx *ctx, sqlite3_stmt **stmt, const char *sql)
{
	capstan_store *st = ctx->store;
	size_t i;

	if (!st)
		return capstan_error(ctx, CAPSTAN_ERROR, "no inventory is open");
	/* By text, not by pointer: some callers build their SQL in a buffer. */
	for (i = 0; i < st->cached; i++) {
		if (!st->cache[i].in_use && strcmp(sqlite3_sql(st->cache[i].stmt), sql) == 0) {
			st->cache[i].in_use = 1;
			*stmt = st->cache[i].stmt;
			return 0;
		}
	}
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) != SQLITE_OK)
		return capstan_store_error(ctx, "cannot prepare a statement");
	if (st->cached < STMT_CACHE_SLOTS) {
		st->cache[st->cached].stmt = *stmt;
		st->cache[st->cached++].in_use = 1;
	}
	return 0;
}

void capstan_store_finish(capstan_ctx *ctx, sqlite3_stmt *stmt)
{
	capstan_store *st = ctx->store;

	if (!stmt)
		return;
	for (size_t i = 0; st && i < st->cached; i++) {
		if (st->cache[i].stmt == stmt) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			st->cache[i].in_use = 0;
			return;
		}
	}
	sqlite3_finalize(stmt);
}

int capstan_store_bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	return s ? sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(stmt, i);
}

char *capstan_store_column_strdup(sqlite3_stmt *stmt, int i)
{
	const unsigned char *s = sqlite3_column_text(stmt, i);

	return s ? strdup((const char *)s) : NULL;
}

int capstan_store_exec(capstan_ctx *ctx, const char *sql, const char *what)
{
	if (sqlite3_exec(ctx->store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return capstan_store_error(ctx, what);
	return 0;
}

int capstan_store_schema_version(capstan_ctx *ctx, int *version)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, "PRAGMA user_version")) < 0)
		return rc;
	if (sqlite3_step(stmt) != SQLITE_ROW)
		rc = capstan_store_error(ctx, "cannot read the schema version");
	else
		*version = sqlite3_column_int(stmt, 0);
	capstan_store_finish(ctx, stmt);
	return rc;
}

void capstan_store_close(capstan_store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->cached; i++)
		sqlite3_finalize(st->cache[i].stmt);
	sqlite3_close_v2(st->db);
	capstan_buf_free(&st->state);
	free(st->path);
	free(st);
}

int capstan_store_begin(capstan_ctx *ctx)
{
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (ctx->store->in_tx)
		return capstan_error(ctx, CAPSTAN_ERROR, "a transaction is already open");
	ctx->store->refused_write = 0;
	if ((rc = capstan_store_exec(ctx, ctx->store->group ? "SAVEPOINT change" : "BEGIN IMMEDIATE",
		     "cannot begin a transaction")) < 0)
		return rc;
	ctx->store->in_tx = 1;
	ctx->store->state.len = 0;
	return 0;
}

int capstan_store_commit(capstan_ctx *ctx)
{
	int rc;

	/* Every change of a certificate's state is in some audit row: check
	 * replays the log against certs, and a change it cannot find there
	 * would look like tampering. */
	if (ctx->store->state.len) {
		capstan_store_rollback(ctx);
		return capstan_error(ctx, CAPSTAN_ERROR, "a certificate changed without an audit row (not committed)");
	}
	rc = capstan_store_exec(ctx, ctx->store->group ? "RELEASE change" : "COMMIT", "cannot commit");

	if (rc < 0) {
		capstan_store_rollback(ctx);
		return rc;
	}
	ctx->store->in_tx = 0;
	return 0;
}

void capstan_store_rollback(capstan_ctx *ctx)
{
	if (!ctx->store || !ctx->store->in_tx)
		return;
	/* A failed COMMIT may already have ended the transaction: ignore the result. */
	sqlite3_exec(ctx->store->db, ctx->store->group ? "ROLLBACK TO change; RELEASE change" : "ROLLBACK",
		NULL, NULL, NULL);
	ctx->store->in_tx = 0;
	ctx->store->state.len = 0;
}

/* A statement run once per item of a batch: prepared once, not per call. */
static int exec_cached(capstan_ctx *ctx, const char *sql, const char *what)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, sql)) < 0)
		return rc;
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = capstan_store_error(ctx, what);
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_savepoint(capstan_ctx *ctx)
{
	ctx->store->state_mark = ctx->store->state.len;
	return exec_cached(ctx, "SAVEPOINT item", "cannot start a savepoint");
}

int capstan_store_release(capstan_ctx *ctx)
{
	return exec_cached(ctx, "RELEASE item", "cannot release a savepoint");
}

int capstan_store_hold_dirty(capstan_ctx *ctx, int hold)
{
	/* temp_store too: each item's savepoint journals the pages it changes,
	 * in a temporary file past 64 KiB (one file per savepoint, often). */
	return capstan_store_exec(ctx, hold ? "PRAGMA cache_spill = OFF; PRAGMA temp_store = MEMORY" :
		"PRAGMA cache_spill = ON; PRAGMA temp_store = DEFAULT", "cannot set cache_spill");
}

void capstan_store_undo(capstan_ctx *ctx)
{
	sqlite3_exec(ctx->store->db, "ROLLBACK TO item; RELEASE item", NULL, NULL, NULL);
	ctx->store->state.len = ctx->store->state_mark;
}

int capstan_store_end(capstan_ctx *ctx, int rc)
{
	if (rc == 0)
		return capstan_store_commit(ctx); /* rolls back itself on failure */
	capstan_store_rollback(ctx);
	return rc;
}

int capstan_store_refused_write(capstan_ctx *ctx)
{
	return ctx->store && ctx->store->refused_write;
}

int capstan_store_meta_get(capstan_ctx *ctx, const char *key, capstan_buf *out)
{
	sqlite3_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt, "SELECT value FROM meta WHERE key = ?1")) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	step = sqlite3_step(stmt);
	if (step == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
		if (!(out->data = malloc(len + 1))) {
			rc = capstan_error_oom(ctx);
		} else {
			if (len)
				memcpy(out->data, sqlite3_column_blob(stmt, 0), len);
			out->data[len] = 0;
			out->len = len;
			out->cap = 0;
		}
	} else if (step == SQLITE_DONE) {
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "no '%s' in the inventory", key);
	} else {
		rc = capstan_store_error(ctx, "cannot read metadata");
	}
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_meta_set(capstan_ctx *ctx, const char *key, const void *value, size_t len)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO meta (key, value) VALUES (?1, ?2)"
		     " ON CONFLICT (key) DO UPDATE SET value = excluded.value")) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, value, (int)len, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = capstan_store_error(ctx, "cannot write metadata");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_group_begin(capstan_ctx *ctx)
{
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (ctx->store->in_tx || ctx->store->group)
		return capstan_error(ctx, CAPSTAN_ERROR, "a transaction is already open");
	/* Each change's savepoint journals its pages: in memory, not in a
	 * temporary file opened and unlinked per change. */
	if ((rc = capstan_store_exec(ctx, "PRAGMA temp_store = MEMORY", "cannot set temp_store")) < 0 ||
	    (rc = capstan_store_exec(ctx, "BEGIN IMMEDIATE", "cannot begin a group of changes")) < 0)
		return rc;
	ctx->store->group = 1;
	return 0;
}

int capstan_store_group_end(capstan_ctx *ctx, int commit)
{
	int rc = 0;

	if (!ctx->store || !ctx->store->group)
		return 0;
	capstan_store_rollback(ctx); /* a change left open is not part of the group */
	ctx->store->group = 0;
	if (commit && (rc = capstan_store_exec(ctx, "COMMIT", "cannot commit a group of changes")) == 0)
		return 0;
	sqlite3_exec(ctx->store->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
