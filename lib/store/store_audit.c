/* Rows of the audit table. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define AUDIT_HEAD_KEY "audit.head"

int capstan_store_audit_insert(capstan_ctx *ctx, const capstan_audit_entry *e)
{
	unsigned char head[8 + CAPSTAN_SHA256_LEN];
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (!ctx->store || !ctx->store->in_tx)
		return capstan_error(ctx, CAPSTAN_ERROR, "an audit row must be written inside its change's transaction");
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO audit (id, at, uid, user, op, env, name, serial, detail, hash)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, e->id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)e->at);
	sqlite3_bind_int64(stmt, 3, e->uid);
	capstan_store_bind_text(stmt, 4, e->user);
	capstan_store_bind_text(stmt, 5, e->op);
	capstan_store_bind_text(stmt, 6, e->env);
	capstan_store_bind_text(stmt, 7, e->name);
	capstan_store_bind_text(stmt, 8, e->serial);
	capstan_store_bind_text(stmt, 9, e->detail);
	sqlite3_bind_blob(stmt, 10, e->hash, CAPSTAN_SHA256_LEN, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = capstan_store_error(ctx, "cannot write the audit row");
	capstan_store_finish(ctx, stmt);
	if (rc < 0)
		return rc;
	/* The head: without it, deleting the newest rows would leave a chain
	 * that is intact, only shorter. Big-endian id, then the hash. */
	for (int i = 0; i < 8; i++)
		head[i] = (unsigned char)((uint64_t)e->id >> (56 - 8 * i));
	memcpy(head + 8, e->hash, CAPSTAN_SHA256_LEN);
	return capstan_store_meta_set(ctx, AUDIT_HEAD_KEY, head, sizeof(head));
}

static int read_id_hash(capstan_ctx *ctx, sqlite3_stmt *stmt, int64_t *id, unsigned char hash[CAPSTAN_SHA256_LEN])
{
	int step = sqlite3_step(stmt), rc = 0;

	*id = 0;
	memset(hash, 0, CAPSTAN_SHA256_LEN);
	if (step == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		if (sqlite3_column_bytes(stmt, 1) == CAPSTAN_SHA256_LEN)
			memcpy(hash, sqlite3_column_blob(stmt, 1), CAPSTAN_SHA256_LEN);
	} else if (step != SQLITE_DONE) {
		rc = capstan_store_error(ctx, "cannot read the audit log");
	}
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_audit_last(capstan_ctx *ctx, int64_t *id, unsigned char hash[CAPSTAN_SHA256_LEN])
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")) < 0)
		return rc;
	return read_id_hash(ctx, stmt, id, hash);
}

int capstan_store_audit_head(capstan_ctx *ctx, int64_t *id, unsigned char hash[CAPSTAN_SHA256_LEN])
{
	capstan_buf head = CAPSTAN_BUF_INIT;
	int rc = capstan_store_meta_get(ctx, AUDIT_HEAD_KEY, &head);

	if (rc == 0 && head.len != 8 + CAPSTAN_SHA256_LEN)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the audit head is corrupt");
	if (rc == 0) {
		uint64_t v = 0;
		for (int i = 0; i < 8; i++)
			v = (v << 8) | head.data[i];
		*id = (int64_t)v;
		memcpy(hash, head.data + 8, CAPSTAN_SHA256_LEN);
	}
	capstan_buf_free(&head);
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
		     "SELECT id, at, uid, user, op, env, name, serial, detail, hash FROM audit ORDER BY id")) < 0) {
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
	if (sqlite3_column_bytes(it->stmt, 9) == CAPSTAN_SHA256_LEN)
		memcpy(e->hash, sqlite3_column_blob(it->stmt, 9), CAPSTAN_SHA256_LEN);
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
	capstan_store_finish(it->ctx, it->stmt);
	free(it);
}
