/* The PostgreSQL driver (db.h), with db_pg_conn.c the only files of the
 * library that include libpq-fe.h (through db_pg_impl.h). Its SQL is in
 * db_pg_schema.c; its connection and pipelining in db_pg_conn.c.
 *
 * A statement is the shared SQL with ?N rewritten to $N (outside quoted
 * literals), prepared on the server at its first run and kept there for the
 * connection's life: the store caches the statement, as it caches SQLite's.
 * Parameters are collected by the binds and sent at the step, integers and
 * text in text format, blobs in binary format; each declared by what was
 * bound (BIGINT, TEXT, BYTEA; a NULL left for the server to infer), so that
 * a statement is prepared again only if a later run binds other types.
 * Results come in text format, whatever their type: integers and booleans
 * ('t'/'f') read back as integers, and BYTEA's hex form is decoded when a
 * column is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_pg_impl.h"

/*
 * A batch item's savepoint and its release (SAVEPOINT item, RELEASE
 * SAVEPOINT item: prepared statements without parameters) give nothing back
 * and fail only in a transaction that has failed already: in a healthy one
 * they are not sent on their own but ahead of the next statement, in the
 * same round trip (a pipeline), two of an issued certificate's eight round
 * trips saved. A deferred one's error is reported as that statement's, and
 * its order among the statements is kept.
 */
static int defer(pg_stmt *s)
{
	pg_db *d = s->db;

	if (s->nparams || d->ndeferred == (int)(sizeof(d->deferred) / sizeof(d->deferred[0])) ||
	    strlen(s->sql) >= sizeof(d->deferred[0]) ||
	    (strncmp(s->sql, "SAVEPOINT ", 10) != 0 && strncmp(s->sql, "RELEASE ", 8) != 0) ||
	    PQstatus(d->conn) != CONNECTION_OK || PQtransactionStatus(d->conn) != PQTRANS_INTRANS)
		return 0;
	if (!d->ndeferred)
		d->deferred_gen = d->gen;
	memset(&d->deferred[d->ndeferred], 0, sizeof(d->deferred[0]));
	snprintf(d->deferred[d->ndeferred++].sql, sizeof(d->deferred[0].sql), "%s", s->sql);
	s->deferred = 1;
	return 1;
}

/* The library never prints: the server's notices are dropped. */
static void no_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A password in the URL would sit in shell histories and process lists:
 * refused; libpq finds it in PGPASSFILE, ~/.pgpass or PGPASSWORD. */
static int check_url(capstan_ctx *ctx, const char *url)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err), *o;
	int rc = 0;

	if (!opts) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "inventory URL: %s", err ? err : "cannot be parsed");
		PQfreemem(err);
		return rc;
	}
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			rc = capstan_error(ctx, CAPSTAN_EINVALID,
				"inventory URL: a password is never given in the URL (use ~/.pgpass, PGPASSFILE or PGPASSWORD)");
	PQconninfoFree(opts);
	return rc;
}

/* Whether the inventory's schema is there (its meta table). */
static int has_schema(pg_db *d)
{
	PGresult *res = PQexec(d->conn, "SELECT to_regclass('meta') IS NOT NULL");
	int yes = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	PQclear(res);
	return yes;
}

/* A connection to the database the URL names. The database itself is the
 * server's administrator's to create; the schema is created in it on first
 * use when create is set. */
static int pg_open(capstan_ctx *ctx, const char *url, int create, capstan_db **out)
{
	pg_db *d;
	int rc;

	if ((rc = check_url(ctx, url)) < 0)
		return rc;
	if (!(d = calloc(1, sizeof(*d))))
		return capstan_error_oom(ctx);
	d->base.drv = &capstan_db_pg;
	d->conn = PQconnectdb(url);
	if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", d->conn ? PQerrorMessage(d->conn) : "out of memory");
		pg_one_line(msg);
		rc = capstan_error(ctx, CAPSTAN_ERROR, "database '%s': cannot connect: %s", url, msg);
		PQfinish(d->conn);
		free(d);
		return rc;
	}
	PQsetNoticeProcessor(d->conn, no_notice, NULL);
	pg_clear_error(d);
	if (!create && !has_schema(d)) {
		PQfinish(d->conn);
		free(d);
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "no inventory in '%s'", url);
	}
	*out = &d->base;
	return 0;
}


/* ?N to $N, outside quoted literals and identifiers; *nparams: the highest N. */
static char *rewrite(const char *sql, int *nparams, unsigned char *used, size_t max)
{
	char *out = malloc(strlen(sql) + 1), *o = out;
	char quote = 0;

	*nparams = 0;
	if (!out)
		return NULL;
	for (const char *p = sql; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '?' && p[1] >= '0' && p[1] <= '9') {
			int n = (int)strtol(p + 1, NULL, 10);
			if (n > *nparams)
				*nparams = n;
			if (used && n >= 1 && (size_t)n <= max)
				used[n - 1] = 1;
			*o++ = '$';
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

static int pg_prepare(capstan_db *d, const char *sql, capstan_db_stmt **out)
{
	pg_stmt *s = calloc(1, sizeof(*s));

	if (!s || !(s->sql = rewrite(sql, &s->nparams, NULL, 0)) ||
	    !(s->params = calloc((size_t)s->nparams + 1, sizeof(*s->params))) ||
	    !(s->used = calloc((size_t)s->nparams + 1, 1))) {
		if (s) {
			free(s->sql);
			free(s->params);
		}
		free(s);
		DB(d)->cls = CAPSTAN_DB_EOTHER;
		snprintf(DB(d)->message, sizeof(DB(d)->message), "out of memory");
		return CAPSTAN_DB_FAIL;
	}
	free(s->sql);
	s->sql = rewrite(sql, &s->nparams, s->used, (size_t)s->nparams);
	s->base.drv = &capstan_db_pg;
	s->db = DB(d);
	*out = &s->base;
	return 0;
}

static void param_clear(pg_param *p)
{
	if (p->own)
		free(p->data);
	memset(p, 0, sizeof(*p));
}

static pg_param *param(capstan_db_stmt *s, int i)
{
	if (i < 1 || i > ST(s)->nparams)
		return NULL;
	param_clear(&ST(s)->params[i - 1]);
	return &ST(s)->params[i - 1];
}

static int pg_bind_int64(capstan_db_stmt *s, int i, int64_t v)
{
	pg_param *p = param(s, i);

	if (!p)
		return CAPSTAN_DB_FAIL;
	snprintf(p->num, sizeof(p->num), "%lld", (long long)v);
	p->integer = 1;
	p->data = p->num;
	p->len = strlen(p->num);
	return 0;
}

/* Text goes in text format, which must end at a NUL: always copied. */
static int pg_bind_text(capstan_db_stmt *s, int i, const char *v, int64_t len, int copy)
{
	pg_param *p = param(s, i);
	size_t n = len < 0 ? strlen(v) : (size_t)len;

	(void)copy;
	if (!p || !(p->data = malloc(n + 1)))
		return CAPSTAN_DB_FAIL;
	memcpy(p->data, v, n);
	p->data[n] = '\0';
	p->len = n;
	p->own = 1;
	return 0;
}

static int pg_bind_blob(capstan_db_stmt *s, int i, const void *v, size_t len, int copy)
{
	pg_param *p = param(s, i);

	if (!p)
		return CAPSTAN_DB_FAIL;
	p->blob = 1;
	p->len = len;
	if (!copy) {
		p->data = (char *)v;
		return 0;
	}
	if (!(p->data = malloc(len ? len : 1)))
		return CAPSTAN_DB_FAIL;
	if (len)
		memcpy(p->data, v, len);
	p->own = 1;
	return 0;
}

static int pg_bind_null(capstan_db_stmt *s, int i)
{
	pg_param *p = param(s, i);

	if (!p)
		return CAPSTAN_DB_FAIL;
	p->is_null = 1;
	return 0;
}

/* A parameter's declared type, by what was bound: BIGINT, TEXT or BYTEA;
 * a NULL's is the server's to infer from where it stands (unknown), and one
 * the SQL never names is TEXT (an unknown one there is an error). */
static char param_sig(const pg_stmt *s, int i)
{
	const pg_param *p = &s->params[i];

	if (!s->used[i])
		return 't';
	if (p->is_null || (!p->data && !p->blob))
		return 'n';
	return p->blob ? 'b' : p->integer ? 'i' : 't';
}

/* The server's prepared statement, not kept past its use; a failure (an
 * aborted transaction refuses it) leaves it until the connection closes. */
static void deallocate(pg_stmt *s)
{
	char sql[40];

	if (!s->name[0])
		return;
	/* Not while a deferred run of it waits to be sent: left to the connection's end. */
	for (int i = 0; i < s->db->ndeferred; i++)
		if (strcmp(s->db->deferred[i].name, s->name) == 0) {
			s->name[0] = '\0';
			return;
		}
	snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
	PQclear(PQexec(s->db->conn, sql));
	s->name[0] = '\0';
}

/* Whether a run's parameters fit the types a statement was prepared with:
 * the same, or a NULL where it declared one (a NULL is any type's). A
 * multi-row insert where some rows have a service and some not is then
 * prepared once, not at every change of the pattern. */
static int sig_fits(const char *prepared, const char *run)
{
	for (; *prepared && *run; prepared++, run++)
		if (*prepared != *run && *run != 'n')
			return 0;
	return *prepared == *run;
}

/*
 * Prepared on the server once per parameter signature, and again at its
 * 64th run, 128th, 256th...: after five runs the server settles on a
 * generic plan, made for the tables as they are then, and keeps it until
 * an ANALYZE. A batch on a new inventory made it when certs held a few
 * rows (a scan is cheapest then) and ran it for thousands more: the lookup
 * of each written certificate by name scanned them all (two batches of
 * 10,000 at once: 34 s of the 67 s in it). Planned again at each doubling,
 * a plan is made for at least half the rows it runs against, for
 * log2(runs) prepares more.
 */
static int ensure_prepared(pg_stmt *s, char *sig)
{
	Oid types[s->nparams ? s->nparams : 1];
	PGresult *res;
	int ok;

	s->runs++;
	if (s->gen != s->db->gen)
		s->name[0] = '\0'; /* it went with its connection */
	if (s->name[0] && s->sig && sig_fits(s->sig, sig) && (s->runs < 64 || (s->runs & (s->runs - 1))))
		return 0;
	deallocate(s);
	for (int i = 0; i < s->nparams; i++)
		types[i] = sig[i] == 'b' ? BYTEAOID : sig[i] == 'i' ? INT8OID : sig[i] == 't' ? TEXTOID : 0;
	snprintf(s->name, sizeof(s->name), "c%u", ++s->db->next_name);
	res = PQprepare(s->db->conn, s->name, s->sql, s->nparams, types);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok) {
		pg_set_error(s->db, res);
		s->name[0] = '\0';
	}
	PQclear(res);
	if (!ok)
		return CAPSTAN_DB_FAIL;
	s->gen = s->db->gen;
	free(s->sig);
	s->sig = strdup(sig);
	return s->sig ? 0 : CAPSTAN_DB_FAIL;
}

static void drop_row(pg_stmt *s)
{
	for (int i = 0; s->blobs && i < s->ncols; i++) {
		free(s->blobs[i]);
		s->blobs[i] = NULL;
	}
}

/* The statement's parameters as libpq takes them, and their signature. */
static void collect(const pg_stmt *s, const char **values, int *lengths, int *formats, char *sig)
{
	for (int i = 0; i < s->nparams; i++) {
		const pg_param *p = &s->params[i];
		/* Unbound is NULL, as in SQLite. */
		values[i] = p->is_null || (!p->data && !p->blob) ? NULL : p->data ? p->data : "";
		lengths[i] = (int)p->len;
		formats[i] = p->blob;
		sig[i] = param_sig(s, i);
	}
	sig[s->nparams] = '\0';
}

/* Runs the statement with its parameters: the rows stay in s->res. */
static int execute(pg_stmt *s)
{
	int n = s->nparams ? s->nparams : 1;
	const char *values[n];
	int lengths[n], formats[n];
	char sig[n + 1];
	ExecStatusType st;
	const char *tuples;

	collect(s, values, lengths, formats, sig);
	/* A connection dropped since the last command, outside a transaction:
	 * once more on a new one (pg_revive). */
	for (int attempt = 0;; attempt++) {
		int was_tx = s->db->tx;

		if (pg_revive(s->db, 0) < 0)
			return CAPSTAN_DB_FAIL;
		if (ensure_prepared(s, sig) == 0) {
			s->res = pg_exec_prepared(s->db, s->name, s->nparams, values, lengths, formats);
			pg_note_tx(s->db);
			st = PQresultStatus(s->res);
			if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
				break;
			pg_set_error(s->db, s->res);
			PQclear(s->res);
			s->res = NULL;
		}
		if (attempt > 0 || was_tx || PQstatus(s->db->conn) != CONNECTION_BAD)
			return CAPSTAN_DB_FAIL;
	}
	pg_clear_error(s->db);
	tuples = PQcmdTuples(s->res);
	/* Rows an INSERT, UPDATE or DELETE changed (with RETURNING too). */
	if (tuples && *tuples && strncmp(PQcmdStatus(s->res), "SELECT", 6) != 0)
		s->db->changes = strtoll(tuples, NULL, 10);
	s->rows = PQntuples(s->res);
	s->ncols = PQnfields(s->res);
	if (s->ncols && !(s->blobs = calloc((size_t)s->ncols, sizeof(*s->blobs) + sizeof(*s->blob_len)))) {
		pg_set_error(s->db, NULL);
		return CAPSTAN_DB_FAIL;
	}
	s->blob_len = s->blobs ? (size_t *)(s->blobs + s->ncols) : NULL;
	s->row = -1;
	return 0;
}

static int pg_step(capstan_db_stmt *stmt)
{
	pg_stmt *s = ST(stmt);

	if (!s->res && !s->deferred && !defer(s) && execute(s) < 0)
		return CAPSTAN_DB_FAIL;
	drop_row(s);
	if (s->row + 1 >= s->rows) {
		s->row = s->rows;
		return CAPSTAN_DB_DONE;
	}
	s->row++;
	return CAPSTAN_DB_ROW;
}

/* A copy of the statement's run for the deferred list: its parameters in
 * one block, which later_free frees. */
static int defer_run(pg_stmt *s, const char *const *values, const int *lengths, const int *formats)
{
	pg_db *d = s->db;
	struct pg_later *l = &d->deferred[d->ndeferred];
	size_t size = (size_t)s->nparams * (sizeof(char *) + 2 * sizeof(int)), at;
	char *block;

	for (int i = 0; i < s->nparams; i++)
		size += values[i] ? (size_t)lengths[i] + 1 : 0;
	if (!(block = malloc(size ? size : 1)))
		return CAPSTAN_DB_FAIL;
	memset(l, 0, sizeof(*l));
	l->values = (char **)block;
	l->lengths = (int *)(block + (size_t)s->nparams * sizeof(char *));
	l->formats = l->lengths + s->nparams;
	at = (size_t)s->nparams * (sizeof(char *) + 2 * sizeof(int));
	for (int i = 0; i < s->nparams; i++) {
		l->lengths[i] = lengths[i];
		l->formats[i] = formats[i];
		l->values[i] = NULL;
		if (values[i]) {
			l->values[i] = block + at;
			memcpy(l->values[i], values[i], (size_t)lengths[i]);
			l->values[i][lengths[i]] = '\0';
			at += (size_t)lengths[i] + 1;
		}
	}
	snprintf(l->name, sizeof(l->name), "%s", s->name);
	l->n = s->nparams;
	if (!d->ndeferred)
		d->deferred_gen = d->gen;
	d->ndeferred++;
	return 0;
}

/*
 * A statement that gives no rows and whose failure the caller need not see
 * at once (db.h): prepared now if it is not yet, then sent ahead of the
 * next statement in its round trip, as a savepoint is (defer). Only in a
 * healthy transaction, which the next statement or its end always follows;
 * outside one, or with the list full, it runs now.
 */
static int pg_step_later(capstan_db_stmt *stmt)
{
	pg_stmt *s = ST(stmt);
	pg_db *d = s->db;
	int n = s->nparams ? s->nparams : 1;
	const char *values[n];
	int lengths[n], formats[n];
	char sig[n + 1];

	if (s->res || s->deferred || d->ndeferred == (int)(sizeof(d->deferred) / sizeof(d->deferred[0])) ||
	    PQstatus(d->conn) != CONNECTION_OK || PQtransactionStatus(d->conn) != PQTRANS_INTRANS ||
	    (d->ndeferred && d->deferred_gen != d->gen))
		return pg_step(stmt) == CAPSTAN_DB_DONE ? CAPSTAN_DB_DONE : CAPSTAN_DB_FAIL;
	collect(s, values, lengths, formats, sig);
	if (ensure_prepared(s, sig) < 0)
		return CAPSTAN_DB_FAIL;
	if (defer_run(s, values, lengths, formats) < 0) {
		d->cls = CAPSTAN_DB_EOTHER;
		snprintf(d->message, sizeof(d->message), "out of memory");
		return CAPSTAN_DB_FAIL;
	}
	s->deferred = 1;
	s->rows = s->row = 0;
	return CAPSTAN_DB_DONE;
}

static int on_row(pg_stmt *s, int i)
{
	return s->res && s->row >= 0 && s->row < s->rows && i >= 0 && i < s->ncols;
}

static int pg_column_is_null(capstan_db_stmt *stmt, int i)
{
	pg_stmt *s = ST(stmt);

	return !on_row(s, i) || PQgetisnull(s->res, s->row, i);
}

/* A BYTEA column's bytes, decoded from the text form once per row. */
static const unsigned char *bytea(pg_stmt *s, int i, size_t *len)
{
	if (!s->blobs[i]) {
		unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, i), &s->blob_len[i]);
		/* NUL-terminated, as column_text promises: one more byte. */
		if (!b)
			return NULL;
		if (!(s->blobs[i] = malloc(s->blob_len[i] + 1))) {
			PQfreemem(b);
			return NULL;
		}
		memcpy(s->blobs[i], b, s->blob_len[i]);
		s->blobs[i][s->blob_len[i]] = '\0';
		PQfreemem(b);
	}
	*len = s->blob_len[i];
	return s->blobs[i];
}

static int64_t pg_column_int64(capstan_db_stmt *stmt, int i)
{
	pg_stmt *s = ST(stmt);
	const char *v;

	if (pg_column_is_null(stmt, i))
		return 0;
	v = PQgetvalue(s->res, s->row, i);
	if (PQftype(s->res, i) == BOOLOID)
		return *v == 't';
	return strtoll(v, NULL, 10);
}

static const char *pg_column_text(capstan_db_stmt *stmt, int i)
{
	pg_stmt *s = ST(stmt);
	size_t len;

	if (pg_column_is_null(stmt, i))
		return NULL;
	if (PQftype(s->res, i) == BYTEAOID)
		return (const char *)bytea(s, i, &len);
	return PQgetvalue(s->res, s->row, i);
}

static const void *pg_column_blob(capstan_db_stmt *stmt, int i)
{
	pg_stmt *s = ST(stmt);
	size_t len;

	if (pg_column_is_null(stmt, i))
		return NULL;
	if (PQftype(s->res, i) == BYTEAOID)
		return bytea(s, i, &len);
	return PQgetvalue(s->res, s->row, i);
}

static size_t pg_column_bytes(capstan_db_stmt *stmt, int i)
{
	pg_stmt *s = ST(stmt);
	size_t len = 0;

	if (pg_column_is_null(stmt, i))
		return 0;
	if (PQftype(s->res, i) == BYTEAOID)
		return bytea(s, i, &len) ? len : 0;
	return (size_t)PQgetlength(s->res, s->row, i);
}

static int pg_column_count(capstan_db_stmt *stmt)
{
	return ST(stmt)->res ? PQnfields(ST(stmt)->res) : 0;
}

static const char *pg_column_name(capstan_db_stmt *stmt, int i)
{
	return ST(stmt)->res ? PQfname(ST(stmt)->res, i) : NULL;
}

/* By the column's declared type: integers (and booleans) as integers,
 * BYTEA as blobs, the rest as text. */
static capstan_db_type pg_column_type(capstan_db_stmt *stmt, int i)
{
	pg_stmt *s = ST(stmt);

	if (pg_column_is_null(stmt, i))
		return CAPSTAN_DB_NULL;
	switch (PQftype(s->res, i)) {
	case INT8OID:
	case INT4OID:
	case INT2OID:
	case BOOLOID:
		return CAPSTAN_DB_INTEGER;
	case BYTEAOID:
		return CAPSTAN_DB_BLOB;
	default:
		return CAPSTAN_DB_TEXT;
	}
}

static void pg_reset(capstan_db_stmt *stmt, int clear)
{
	pg_stmt *s = ST(stmt);

	drop_row(s);
	free(s->blobs);
	s->blobs = NULL;
	s->blob_len = NULL;
	s->ncols = 0;
	PQclear(s->res);
	s->res = NULL;
	s->deferred = 0;
	s->rows = s->row = 0;
	for (int i = 0; clear && i < s->nparams; i++)
		param_clear(&s->params[i]);
}

static void pg_finalize(capstan_db_stmt *stmt)
{
	pg_stmt *s = ST(stmt);

	if (!s)
		return;
	pg_reset(stmt, 1);
	deallocate(s);
	free(s->params);
	free(s->used);
	free(s->sig);
	free(s->sql);
	free(s);
}

const capstan_db_driver capstan_db_pg = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.handle = pg_handle,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.bind_int64 = pg_bind_int64,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.step_later = pg_step_later,
	.column_int64 = pg_column_int64,
	.column_text = pg_column_text,
	.column_blob = pg_column_blob,
	.column_bytes = pg_column_bytes,
	.column_is_null = pg_column_is_null,
	.column_count = pg_column_count,
	.column_name = pg_column_name,
	.column_type = pg_column_type,
	.reset = pg_reset,
	.finalize = pg_finalize,
	.changes = pg_changes,
	.error = pg_error,
	.dialect = &capstan_db_pg_dialect,
};
