/* The inventory's connection: statements (prepared once, cached), errors,
 * transactions and savepoints, metadata (the audit log's recorded end, kept
 * in memory through a transaction, written before it commits), closing.
 * The bottom of the store: every other store file calls it, it calls none
 * of them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_impl.h"

int capstan_store_error(capstan_ctx *ctx, const char *what)
{
	capstan_store *st = ctx->store;
	const char *msg = "not open";
	capstan_db_class cls = st && st->conn ? capstan_db_error(st->conn, &msg) : CAPSTAN_DB_OK;

	if (st)
		st->refused_write = cls == CAPSTAN_DB_EREADONLY;
	/* A damaged file is not a failed operation: said apart, so that it is
	 * never taken for something else (a wrong passphrase, a missing row). */
	if (cls == CAPSTAN_DB_EDAMAGED)
		return capstan_error(ctx, CAPSTAN_EDAMAGED, "the inventory's database '%s' is damaged (%s: %s)",
			st->path ? st->path : "?", what, msg);
	return capstan_error(ctx, CAPSTAN_ERROR, "database '%s': %s: %s",
		st && st->path ? st->path : "?", what, msg);
}

int capstan_store_prepare(capstan_ctx *ctx, capstan_db_stmt **stmt, const char *sql)
{
	capstan_store *st = ctx->store;
	size_t i;

	if (!st)
		return capstan_error(ctx, CAPSTAN_ERROR, "no inventory is open");
	/* By text, not by pointer: some callers build their SQL in a buffer. */
	for (i = 0; i < st->cached; i++) {
		if (!st->cache[i].in_use && strcmp(st->cache[i].sql, sql) == 0) {
			st->cache[i].in_use = 1;
			*stmt = st->cache[i].stmt;
			return 0;
		}
	}
	if (st->conn->drv->prepare(st->conn, sql, stmt) < 0)
		return capstan_store_error(ctx, "cannot prepare a statement");
	/* A statement the cache cannot name is finalized when finished. */
	if (st->cached < STMT_CACHE_SLOTS && (st->cache[st->cached].sql = strdup(sql))) {
		st->cache[st->cached].stmt = *stmt;
		st->cache[st->cached++].in_use = 1;
	}
	return 0;
}

/* "HEAD VALUES (?1, ..., ?COLS), (...)" for rows rows, then TAIL: malloc'd. */
static char *values_sql(const char *head, int cols, size_t rows, const char *tail)
{
	size_t cap = strlen(head) + strlen(tail) + 16 + rows * (size_t)cols * 9, at;
	char *sql = malloc(cap);
	int param = 1;

	if (!sql)
		return NULL;
	at = (size_t)snprintf(sql, cap, "%s VALUES ", head);
	for (size_t r = 0; r < rows; r++) {
		for (int c = 0; c < cols; c++)
			at += (size_t)snprintf(sql + at, cap - at, "%s?%d", c ? ", " : r ? "), (" : "(", param++);
	}
	snprintf(sql + at, cap - at, ")%s", tail);
	return sql;
}

size_t capstan_store_rows_piece(size_t left)
{
	size_t k = CAPSTAN_STORE_MULTI_MAX;

	while (k > left)
		k >>= 1;
	return k;
}

int capstan_store_prepare_rows(capstan_ctx *ctx, capstan_db_stmt **stmt, const char *head, int cols, size_t rows,
	const char *tail)
{
	char *sql = values_sql(head, cols, rows, tail);
	int rc;

	if (!sql)
		return capstan_error_oom(ctx);
	rc = capstan_store_prepare(ctx, stmt, sql);
	free(sql);
	return rc;
}

int capstan_store_prepare_named(capstan_ctx *ctx, capstan_db_stmt **stmt, enum capstan_db_sql which)
{
	if (!ctx->store)
		return capstan_error(ctx, CAPSTAN_ERROR, "no inventory is open");
	return capstan_store_prepare(ctx, stmt, capstan_db_sql(ctx->store->conn, which));
}

void capstan_store_finish(capstan_ctx *ctx, capstan_db_stmt *stmt)
{
	capstan_store *st = ctx->store;

	if (!stmt)
		return;
	for (size_t i = 0; st && i < st->cached; i++) {
		if (st->cache[i].stmt == stmt) {
			capstan_db_clear(stmt);
			st->cache[i].in_use = 0;
			return;
		}
	}
	capstan_db_finalize(stmt);
}

int capstan_store_step_done(capstan_ctx *ctx, capstan_db_stmt *stmt, const char *what)
{
	int rc = capstan_db_step(stmt) == CAPSTAN_DB_DONE ? 0 : capstan_store_error(ctx, what);

	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_step_id(capstan_ctx *ctx, capstan_db_stmt *stmt, const char *what, int64_t *id)
{
	int rc = 0;

	if (capstan_db_step(stmt) == CAPSTAN_DB_ROW)
		*id = capstan_db_int64(stmt, 0);
	else
		rc = capstan_store_error(ctx, what);
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_bind_text(capstan_db_stmt *stmt, int i, const char *s)
{
	return s ? capstan_db_bind_text(stmt, i, s, CAPSTAN_DB_COPY) : capstan_db_bind_null(stmt, i);
}

char *capstan_store_column_strdup(capstan_db_stmt *stmt, int i)
{
	const char *s = capstan_db_text(stmt, i);

	return s ? strdup(s) : NULL;
}

int capstan_store_exec(capstan_ctx *ctx, const char *sql, const char *what)
{
	if (capstan_db_exec(ctx->store->conn, sql) < 0)
		return capstan_store_error(ctx, what);
	return 0;
}

int capstan_store_schema_version(capstan_ctx *ctx, int *version)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_SCHEMA_VERSION)) < 0)
		return rc;
	if (capstan_db_step(stmt) != CAPSTAN_DB_ROW)
		rc = capstan_store_error(ctx, "cannot read the schema version");
	else
		*version = capstan_db_int(stmt, 0);
	capstan_store_finish(ctx, stmt);
	return rc;
}

void capstan_store_close(capstan_store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->cached; i++) {
		capstan_db_finalize(st->cache[i].stmt);
		free(st->cache[i].sql);
	}
	if (st->conn)
		st->conn->drv->close(st->conn);
	capstan_buf_free(&st->state);
	free(st->path);
	free(st);
}

/* The driver's statement for which. */
#define SQL(ctx, which) capstan_db_sql((ctx)->store->conn, (which))

/* Attempts at a write transaction's BEGIN that the engine asks to retry. */
#define BEGIN_ATTEMPTS 5

/* A pause of 10 to 40 ms times the attempt, drawn apart for each process
 * (its id and the clock), so that writers that failed together do not
 * retry together. Not a secret: no cryptographic randomness needed. */
static void begin_backoff(int attempt)
{
	struct timespec t;
	uint32_t x;

	clock_gettime(CLOCK_MONOTONIC, &t);
	x = (uint32_t)t.tv_nsec ^ ((uint32_t)getpid() << 16) ^ (uint32_t)attempt;
	x ^= x << 13, x ^= x >> 17, x ^= x << 5;
	t.tv_sec = 0;
	t.tv_nsec = (long)(10 + x % 31) * 1000000L * attempt;
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/*
 * A write transaction's BEGIN, its write lock taken at once (BEGIN
 * IMMEDIATE; PostgreSQL's advisory lock, db_pg_schema.c). A lock wait the
 * engine ends with a serialization failure or a deadlock
 * (CAPSTAN_DB_ERETRY: 40001, 40P01) is rolled back and tried again after a
 * short random pause, never reported; a busy timeout or any other failure
 * is. Why only here: every PostgreSQL session runs READ COMMITTED (the
 * driver's setup), where no statement fails with 40001 (REPEATABLE READ
 * and SERIALIZABLE raise it, and a hot standby's recovery conflicts, but a
 * standby takes no writes). A deadlock needs two transactions each
 * waiting for a lock the other holds: a writer waiting for the advisory
 * lock holds nothing yet (it is its first statement), and the one holding
 * it waits for no other writer; its row and table locks (ROW EXCLUSIVE)
 * do not conflict with a reader's (ACCESS SHARE), so readers neither wait
 * for writers nor writers for readers. What is left is a migration's DDL
 * (ACCESS EXCLUSIVE) against a reader's statement, and sessions outside
 * capstan taking locks of their own; there the engine picks a victim in a
 * statement after BEGIN, whose transaction's work cannot be replayed from
 * here: it is reported as the failure it is, and the command run again.
 */
static int begin_write(capstan_ctx *ctx)
{
	for (int attempt = 1;; attempt++) {
		const char *msg;

		if (capstan_db_exec(ctx->store->conn, SQL(ctx, CAPSTAN_DB_BEGIN)) == 0)
			return 0;
		if (capstan_db_error(ctx->store->conn, &msg) != CAPSTAN_DB_ERETRY || attempt == BEGIN_ATTEMPTS)
			break;
		capstan_db_exec(ctx->store->conn, SQL(ctx, CAPSTAN_DB_ROLLBACK));
		begin_backoff(attempt);
	}
	return capstan_store_error(ctx, "cannot begin a transaction");
}

int capstan_store_audit_end_write(capstan_ctx *ctx, const capstan_store_audit_end *end)
{
	unsigned char v[AUDIT_END_LEN + CAPSTAN_SHA256_LEN];
	capstan_db_stmt *stmt = NULL;
	int rc;

	for (int i = 0; i < 8; i++)
		v[i] = (unsigned char)((uint64_t)end->id >> (56 - 8 * i));
	memcpy(v + 8, end->hash, CAPSTAN_SHA256_LEN);
	if (end->sealed)
		memcpy(v + AUDIT_END_LEN, end->seal, CAPSTAN_SHA256_LEN);
	/* capstan_store_meta_set's statement, stepped later: sent with the COMMIT. */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO meta (key, value) VALUES (?1, ?2)"
		     " ON CONFLICT (key) DO UPDATE SET value = excluded.value")) < 0)
		return rc;
	capstan_db_bind_text(stmt, 1, AUDIT_END_KEY, CAPSTAN_DB_KEEP);
	capstan_db_bind_blob(stmt, 2, v, end->sealed ? sizeof(v) : AUDIT_END_LEN, CAPSTAN_DB_KEEP);
	if (capstan_db_step_later(stmt) != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot write the audit log's end");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_audit_flush(capstan_ctx *ctx)
{
	int rc;

	if (!ctx->store || !ctx->store->end_dirty)
		return 0;
	if ((rc = capstan_store_audit_end_write(ctx, &ctx->store->end)) == 0)
		ctx->store->end_dirty = 0;
	return rc;
}

int capstan_store_begin(capstan_ctx *ctx)
{
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (ctx->store->in_tx)
		return capstan_error(ctx, CAPSTAN_ERROR, "a transaction is already open");
	ctx->store->refused_write = 0;
	rc = ctx->store->group ? capstan_store_exec(ctx, SQL(ctx, CAPSTAN_DB_CHANGE_BEGIN), "cannot begin a transaction") :
		begin_write(ctx);
	if (rc < 0) {
		/* A BEGIN that failed after it began (PostgreSQL's write lock
		 * timing out) leaves a transaction open: closed, result ignored. */
		if (!ctx->store->group)
			capstan_db_exec(ctx->store->conn, SQL(ctx, CAPSTAN_DB_ROLLBACK));
		return rc;
	}
	ctx->store->in_tx = 1;
	ctx->store->state.len = 0;
	ctx->store->end_known = ctx->store->end_dirty = 0;
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
	if ((rc = capstan_store_audit_flush(ctx)) == 0)
		rc = capstan_store_exec(ctx, SQL(ctx, ctx->store->group ? CAPSTAN_DB_CHANGE_RELEASE : CAPSTAN_DB_COMMIT),
			"cannot commit");

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
	capstan_db_exec(ctx->store->conn, SQL(ctx, ctx->store->group ? CAPSTAN_DB_CHANGE_UNDO : CAPSTAN_DB_ROLLBACK));
	ctx->store->in_tx = 0;
	ctx->store->state.len = 0;
	ctx->store->end_known = ctx->store->end_dirty = 0;
}

/* A statement run once per item of a batch: prepared once, not per call. */
static int exec_cached(capstan_ctx *ctx, const char *sql, const char *what)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, sql)) < 0)
		return rc;
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, what);
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_savepoint(capstan_ctx *ctx)
{
	capstan_store *st = ctx->store;

	st->state_mark = st->state.len;
	st->end_mark = st->end;
	st->end_known_mark = st->end_known;
	st->end_dirty_mark = st->end_dirty;
	return exec_cached(ctx, SQL(ctx, CAPSTAN_DB_ITEM_BEGIN), "cannot start a savepoint");
}

int capstan_store_release(capstan_ctx *ctx)
{
	return exec_cached(ctx, SQL(ctx, CAPSTAN_DB_ITEM_RELEASE), "cannot release a savepoint");
}

int capstan_store_hold_dirty(capstan_ctx *ctx, int hold)
{
	return capstan_store_exec(ctx, SQL(ctx, hold ? CAPSTAN_DB_HOLD_DIRTY : CAPSTAN_DB_SPILL_DIRTY),
		"cannot set cache_spill");
}

void capstan_store_undo(capstan_ctx *ctx)
{
	capstan_store *st = ctx->store;

	capstan_db_exec(st->conn, SQL(ctx, CAPSTAN_DB_ITEM_UNDO));
	st->state.len = st->state_mark;
	st->end = st->end_mark;
	st->end_known = st->end_known_mark;
	st->end_dirty = st->end_dirty_mark;
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
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt, "SELECT value FROM meta WHERE key = ?1")) < 0)
		return rc;
	capstan_db_bind_text(stmt, 1, key, CAPSTAN_DB_KEEP);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW) {
		size_t len = capstan_db_bytes(stmt, 0);
		if (!(out->data = malloc(len + 1))) {
			rc = capstan_error_oom(ctx);
		} else {
			if (len)
				memcpy(out->data, capstan_db_blob(stmt, 0), len);
			out->data[len] = 0;
			out->len = len;
			out->cap = 0;
		}
	} else if (step == CAPSTAN_DB_DONE) {
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "no '%s' in the inventory", key);
	} else {
		rc = capstan_store_error(ctx, "cannot read metadata");
	}
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_meta_set(capstan_ctx *ctx, const char *key, const void *value, size_t len)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO meta (key, value) VALUES (?1, ?2)"
		     " ON CONFLICT (key) DO UPDATE SET value = excluded.value")) < 0)
		return rc;
	capstan_db_bind_text(stmt, 1, key, CAPSTAN_DB_KEEP);
	capstan_db_bind_blob(stmt, 2, value, len, CAPSTAN_DB_KEEP);
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE)
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
	if ((rc = capstan_store_exec(ctx, SQL(ctx, CAPSTAN_DB_GROUP_SETUP), "cannot set temp_store")) < 0)
		return rc;
	if ((rc = begin_write(ctx)) < 0) {
		capstan_db_exec(ctx->store->conn, SQL(ctx, CAPSTAN_DB_ROLLBACK)); /* as capstan_store_begin */
		return rc;
	}
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
	if (commit && (rc = capstan_store_exec(ctx, SQL(ctx, CAPSTAN_DB_COMMIT), "cannot commit a group of changes")) == 0)
		return 0;
	capstan_db_exec(ctx->store->conn, SQL(ctx, CAPSTAN_DB_ROLLBACK));
	return rc;
}
