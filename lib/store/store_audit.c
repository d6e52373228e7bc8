/* Rows of the audit table, the log's recorded end, and the certificate
 * states a transaction sets until its audit row takes them. */
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* Columns of an audit row. */
#define AUDIT_COLS 12

static int end_read(capstan_ctx *ctx, const unsigned char *v, size_t len, capstan_store_audit_end *end)
{
	uint64_t id = 0;

	memset(end, 0, sizeof(*end));
	if (len != AUDIT_END_LEN && len != AUDIT_END_LEN + CAPSTAN_SHA256_LEN)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the audit log's recorded end is corrupt");
	for (int i = 0; i < 8; i++)
		id = (id << 8) | v[i];
	end->id = (int64_t)id;
	memcpy(end->hash, v + 8, CAPSTAN_SHA256_LEN);
	if ((end->sealed = len > AUDIT_END_LEN))
		memcpy(end->seal, v + AUDIT_END_LEN, CAPSTAN_SHA256_LEN);
	return 0;
}

/* One audit row's parameters, from p + 1 on. */
static void bind_audit(capstan_db_stmt *stmt, int p, const capstan_audit_entry *e)
{
	capstan_db_bind_int64(stmt, p + 1, e->id);
	capstan_db_bind_int64(stmt, p + 2, (int64_t)e->at);
	capstan_db_bind_int64(stmt, p + 3, e->uid);
	capstan_store_bind_text(stmt, p + 4, e->user);
	capstan_store_bind_text(stmt, p + 5, e->op);
	capstan_store_bind_text(stmt, p + 6, e->env);
	capstan_store_bind_text(stmt, p + 7, e->name);
	capstan_store_bind_text(stmt, p + 8, e->serial);
	capstan_store_bind_text(stmt, p + 9, e->detail);
	capstan_db_bind_blob(stmt, p + 10, e->hash, CAPSTAN_SHA256_LEN, CAPSTAN_DB_KEEP);
	capstan_db_bind_int64(stmt, p + 11, e->form);
	capstan_store_bind_text(stmt, p + 12, e->state);
}

int capstan_store_audit_insert_rows(capstan_ctx *ctx, const capstan_audit_entry *rows, size_t n,
	const unsigned char seal[CAPSTAN_SHA256_LEN])
{
	capstan_store_audit_end end = { .sealed = seal != NULL };
	int rc = 0;

	if (!ctx->store || !ctx->store->in_tx)
		return capstan_error(ctx, CAPSTAN_ERROR, "an audit row must be written inside its change's transaction");
	if (!n)
		return 0;
	for (size_t done = 0, k; rc == 0 && done < n; done += k) {
		capstan_db_stmt *stmt = NULL;
		k = capstan_store_rows_piece(n - done);
		if ((rc = capstan_store_prepare_rows(ctx, &stmt,
			     "INSERT INTO audit (id, at, uid, \"user\", op, env, name, serial, detail, hash, v, state)",
			     AUDIT_COLS, k, "")) < 0)
			return rc;
		for (size_t i = 0; i < k; i++)
			bind_audit(stmt, (int)i * AUDIT_COLS, &rows[done + i]);
		/* Its failure (the write lock keeps the ids free) ends the
		 * transaction: the rows may go with the next statement (db.h). */
		if (capstan_db_step_later(stmt) != CAPSTAN_DB_DONE)
			rc = capstan_store_error(ctx, "cannot write the audit rows");
		capstan_store_finish(ctx, stmt);
	}
	if (rc < 0)
		return rc;
	/* The end: without it, deleting the newest rows would leave a chain
	 * that is intact, only shorter; without its seal, one that anyone with
	 * the database could rewrite. Written once, before the transaction
	 * commits (capstan_store_audit_flush): a batch's group of a thousand
	 * rows upserted the one meta row a thousand times, and on PostgreSQL
	 * each read of it then walked its versions. */
	end.id = rows[n - 1].id;
	memcpy(end.hash, rows[n - 1].hash, CAPSTAN_SHA256_LEN);
	if (seal)
		memcpy(end.seal, seal, CAPSTAN_SHA256_LEN);
	ctx->store->end = end;
	ctx->store->end_known = ctx->store->end_dirty = 1;
	return 0;
}

int capstan_store_audit_insert(capstan_ctx *ctx, const capstan_audit_entry *e,
	const unsigned char seal[CAPSTAN_SHA256_LEN])
{
	return capstan_store_audit_insert_rows(ctx, e, 1, seal);
}

int capstan_store_audit_cached(capstan_ctx *ctx, capstan_store_audit_end *last)
{
	if (!ctx->store || !ctx->store->in_tx || !ctx->store->end_known)
		return 0;
	*last = ctx->store->end;
	return 1;
}

int capstan_store_audit_end_set(capstan_ctx *ctx, const capstan_store_audit_end *end)
{
	if (!ctx->store || !ctx->store->in_tx)
		return capstan_error(ctx, CAPSTAN_ERROR, "the audit log's end must be set inside a transaction");
	/* Over any end kept in memory; the next row reads it again. */
	ctx->store->end_known = ctx->store->end_dirty = 0;
	return capstan_store_audit_end_write(ctx, end);
}

static int read_id_hash(capstan_ctx *ctx, capstan_db_stmt *stmt, int64_t *id, unsigned char hash[CAPSTAN_SHA256_LEN])
{
	int step = capstan_db_step(stmt), rc = 0;

	*id = 0;
	memset(hash, 0, CAPSTAN_SHA256_LEN);
	if (step == CAPSTAN_DB_ROW) {
		*id = capstan_db_int64(stmt, 0);
		if (capstan_db_bytes(stmt, 1) == CAPSTAN_SHA256_LEN)
			memcpy(hash, capstan_db_blob(stmt, 1), CAPSTAN_SHA256_LEN);
	} else if (step != CAPSTAN_DB_DONE) {
		rc = capstan_store_error(ctx, "cannot read the audit log");
	}
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_audit_last(capstan_ctx *ctx, int64_t *id, unsigned char hash[CAPSTAN_SHA256_LEN])
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")) < 0)
		return rc;
	return read_id_hash(ctx, stmt, id, hash);
}

int capstan_store_audit_row_hash(capstan_ctx *ctx, int64_t id, unsigned char hash[CAPSTAN_SHA256_LEN])
{
	capstan_db_stmt *stmt = NULL;
	int64_t found;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, "SELECT id, hash FROM audit WHERE id = ?1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, id);
	if ((rc = read_id_hash(ctx, stmt, &found, hash)) < 0)
		return rc;
	return found == id && id ? 0 : CAPSTAN_ENOTFOUND;
}

int capstan_store_audit_head(capstan_ctx *ctx, capstan_store_audit_end *end)
{
	capstan_buf v = CAPSTAN_BUF_INIT;
	int rc = capstan_store_audit_flush(ctx);

	if (rc == 0)
		rc = capstan_store_meta_get(ctx, AUDIT_END_KEY, &v);
	if (rc == 0)
		rc = end_read(ctx, v.data, v.len, end);
	capstan_buf_free(&v);
	return rc;
}

int capstan_store_audit_ends(capstan_ctx *ctx, capstan_store_audit_end *end, int *has_end,
	capstan_store_audit_end *last, int *has_certs)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	memset(last, 0, sizeof(*last));
	*has_end = *has_certs = 0;
	if ((rc = capstan_store_audit_flush(ctx)) < 0 || (rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT (SELECT value FROM meta WHERE key = '" AUDIT_END_KEY "'), a.id, a.hash,"
		     " EXISTS (SELECT 1 FROM certs)"
		     " FROM (SELECT 1) one LEFT JOIN (SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1) a ON TRUE")) < 0)
		return rc;
	if (capstan_db_step(stmt) != CAPSTAN_DB_ROW) {
		rc = capstan_store_error(ctx, "cannot read the audit log's end");
	} else {
		if ((*has_end = !capstan_db_is_null(stmt, 0)))
			rc = end_read(ctx, capstan_db_blob(stmt, 0), capstan_db_bytes(stmt, 0), end);
		last->id = capstan_db_int64(stmt, 1);
		if (capstan_db_bytes(stmt, 2) == CAPSTAN_SHA256_LEN)
			memcpy(last->hash, capstan_db_blob(stmt, 2), CAPSTAN_SHA256_LEN);
		*has_certs = capstan_db_int(stmt, 3);
	}
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_state_note(capstan_ctx *ctx, const char *serial, const char *status, const char *reason,
	const char *fingerprint)
{
	capstan_buf *b = &ctx->store->state;
	int rc;

	if (!serial || !fingerprint)
		return capstan_error(ctx, CAPSTAN_ERROR, "a certificate row without serial or fingerprint");
	if ((rc = capstan_buf_append(ctx, b, serial, strlen(serial))) < 0 ||
	    (rc = capstan_buf_append(ctx, b, " ", 1)) < 0 ||
	    (rc = capstan_buf_append(ctx, b, status, strlen(status))) < 0 ||
	    (reason && ((rc = capstan_buf_append(ctx, b, ":", 1)) < 0 ||
			(rc = capstan_buf_append(ctx, b, reason, strlen(reason))) < 0)) ||
	    (rc = capstan_buf_append(ctx, b, " ", 1)) < 0 ||
	    (rc = capstan_buf_append(ctx, b, fingerprint, strlen(fingerprint))) < 0)
		return rc;
	return capstan_buf_append(ctx, b, "\n", 1);
}

int capstan_store_state_take(capstan_ctx *ctx, char **out)
{
	capstan_buf *b = &ctx->store->state;

	*out = NULL;
	if (!b->len)
		return 0;
	/* without the last newline */
	if (!(*out = strndup((const char *)b->data, b->len - 1)))
		return capstan_error_oom(ctx);
	b->len = 0;
	ctx->store->state_mark = 0;
	return 0;
}

/* Whether the state line at line names one of serials[0..n). */
static int line_of(const char *line, size_t len, const char *const *serials, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t s = serials[i] ? strlen(serials[i]) : 0;
		if (s && s < len && line[s] == ' ' && memcmp(line, serials[i], s) == 0)
			return 1;
	}
	return 0;
}

int capstan_store_state_take_of(capstan_ctx *ctx, const char *const *serials, size_t n, char **out)
{
	capstan_buf *b = &ctx->store->state, taken = CAPSTAN_BUF_INIT;
	size_t keep = 0;
	int rc = 0;

	*out = NULL;
	/* Lines matched go to taken, the rest move up in place. */
	for (size_t at = 0, end; rc == 0 && at < b->len; at = end) {
		const char *line = (const char *)b->data + at;
		const char *nl = memchr(line, '\n', b->len - at);
		end = nl ? (size_t)(nl - (const char *)b->data) + 1 : b->len;
		if (line_of(line, end - at, serials, n))
			rc = capstan_buf_append(ctx, &taken, line, end - at);
		else
			memmove(b->data + keep, line, end - at), keep += end - at;
	}
	if (rc == 0 && taken.len && !(*out = strndup((const char *)taken.data, taken.len - 1)))
		rc = capstan_error_oom(ctx);
	capstan_buf_free(&taken);
	if (rc < 0)
		return rc;
	b->len = keep;
	ctx->store->state_mark = 0;
	return 0;
}

int capstan_store_cert_states(capstan_ctx *ctx, capstan_store_state_fn fn, void *payload)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT id, serial, status, revoke_reason, fingerprint FROM certs ORDER BY id")) < 0)
		return rc;
	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW &&
	       (rc = fn(capstan_db_int64(stmt, 0), capstan_db_text(stmt, 1),
			capstan_db_text(stmt, 2), capstan_db_text(stmt, 3),
			capstan_db_text(stmt, 4), payload)) == 0)
		;
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read the certificates");
	capstan_store_finish(ctx, stmt);
	return rc;
}

struct capstan_audit_iter {
	capstan_ctx *ctx;
	capstan_db_stmt *stmt;
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
		     "SELECT id, at, uid, \"user\", op, env, name, serial, detail, hash, v, state FROM audit ORDER BY id")) < 0) {
		free(it);
		return rc;
	}
	it->ctx = ctx;
	*out = it;
	return 0;
}

int capstan_audit_iter_next(capstan_audit_entry **out, capstan_audit_iter *it)
{
	capstan_db_stmt *s = it->stmt;
	capstan_audit_entry *e;
	int step = capstan_db_step(s);

	if (step == CAPSTAN_DB_DONE)
		return CAPSTAN_ITEROVER;
	if (step != CAPSTAN_DB_ROW)
		return capstan_store_error(it->ctx, "cannot read the audit log");
	if (!(e = calloc(1, sizeof(*e))))
		return capstan_error_oom(it->ctx);
	e->id = capstan_db_int64(s, 0);
	e->at = (time_t)capstan_db_int64(s, 1);
	e->uid = (unsigned)capstan_db_int64(s, 2);
	e->user = capstan_store_column_strdup(s, 3);
	e->op = capstan_store_column_strdup(s, 4);
	e->env = capstan_store_column_strdup(s, 5);
	e->name = capstan_store_column_strdup(s, 6);
	e->serial = capstan_store_column_strdup(s, 7);
	e->detail = capstan_store_column_strdup(s, 8);
	if (capstan_db_bytes(s, 9) == CAPSTAN_SHA256_LEN)
		memcpy(e->hash, capstan_db_blob(s, 9), CAPSTAN_SHA256_LEN);
	e->form = capstan_db_int(s, 10);
	e->state = capstan_store_column_strdup(s, 11);
	if (!e->user || !e->op || (!capstan_db_is_null(s, 11) && !e->state)) {
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
