/* The PostgreSQL driver (db.h): the only file of the library that includes
 * libpq-fe.h. Its SQL is in db_pg_schema.c.
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

#include <libpq-fe.h>

#include "db.h"

#define BOOLOID 16
#define BYTEAOID 17
#define INT8OID 20
#define TEXTOID 25
#define INT2OID 21
#define INT4OID 23

typedef struct {
	capstan_db base;
	PGconn *conn;
	unsigned next_name;
	unsigned gen;     /* connections so far: a statement prepared on an earlier one is gone */
	int tx;           /* a transaction is open (as of the last command) */
	int64_t changes;
	/* Statements sent ahead of the next one (defer, pg_step_later): a
	 * savepoint's text, or a prepared statement's name and a copy of its
	 * parameters. */
	struct pg_later {
		char sql[32];     /* "" for a prepared statement */
		char name[24];
		int n;
		char **values;    /* one block with lengths and formats (later_free) */
		int *lengths, *formats;
	} deferred[8];
	int ndeferred;
	unsigned deferred_gen;    /* the connection they were deferred on */
	int deferred_failed;      /* the last error was a deferred statement's */
	capstan_db_class cls;
	char message[512];
} pg_db;

typedef struct {
	char *data;       /* owned when own is set */
	size_t len;
	int own, is_null, blob, integer;
	char num[24];     /* an integer's digits */
} pg_param;

typedef struct {
	capstan_db_stmt base;
	pg_db *db;
	char *sql;        /* with $N */
	int nparams;
	unsigned char *used; /* which of $1..$nparams the SQL names */
	pg_param *params;
	char name[24];    /* the server's prepared statement, "" until prepared */
	unsigned gen;     /* the connection it was prepared on */
	char *sig;        /* each parameter's declared type when it was prepared: 'b' BYTEA, 'u' inferred */
	unsigned long runs; /* prepared again at the 64th, 128th, 256th... (ensure_prepared) */
	PGresult *res;
	int deferred;     /* run by defer: done, as far as its caller knows */
	int row, rows;
	/* The current row's BYTEA columns, decoded when read. */
	unsigned char **blobs;
	size_t *blob_len;
	int ncols;
} pg_stmt;

#define DB(d) ((pg_db *)(d))
#define ST(s) ((pg_stmt *)(s))

/* libpq's message on one line: its line breaks and the tabs that indent
 * its continuation lines ("...unexpectedly\n\tThis probably means...")
 * become one space, a trailing one none. */
static void one_line(char *msg)
{
	char *w = msg;

	for (const char *r = msg; *r; r++) {
		if (*r != '\n' && *r != '\t')
			*w++ = *r;
		else if (w > msg && w[-1] != ' ')
			*w++ = ' ';
	}
	while (w > msg && w[-1] == ' ')
		w--;
	*w = '\0';
}

/* Records the error of a result (or of the connection when res is NULL):
 * its class from the SQLSTATE, its message on one line. */
static void set_error(pg_db *d, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (!msg)
		msg = PQerrorMessage(d->conn);
	snprintf(d->message, sizeof(d->message), "%s", msg && *msg ? msg : "unknown error");
	one_line(d->message);
	if (!state)
		d->cls = CAPSTAN_DB_EOTHER;
	else if (strcmp(state, "23505") == 0)
		d->cls = CAPSTAN_DB_EUNIQUE;
	else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		d->cls = CAPSTAN_DB_ERETRY;
	else if (strcmp(state, "55P03") == 0)
		d->cls = CAPSTAN_DB_EBUSY;
	else if (strcmp(state, "25006") == 0 || strcmp(state, "42501") == 0)
		d->cls = CAPSTAN_DB_EREADONLY;
	else if (strncmp(state, "XX", 2) == 0)
		d->cls = CAPSTAN_DB_EDAMAGED;
	else
		d->cls = CAPSTAN_DB_EOTHER;
	/* A deferred statement's failure, reported by the next one: never that
	 * one's own (a unique violation it would act on). */
	if (d->deferred_failed)
		d->cls = CAPSTAN_DB_EOTHER;
	d->deferred_failed = 0;
}

static void clear_error(pg_db *d)
{
	d->deferred_failed = 0;
	d->cls = CAPSTAN_DB_OK;
	snprintf(d->message, sizeof(d->message), "not an error");
}

/* The library never prints: the server's notices are dropped. */
static void no_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void note_tx(pg_db *d)
{
	PGTransactionStatusType t = PQtransactionStatus(d->conn);

	/* A connection lost says UNKNOWN: a transaction open on it stays open
	 * to the store until it rolls back, so that revive() makes no new
	 * connection in its middle (the next statements would run there
	 * outside any transaction, without the write lock). */
	if (t == PQTRANS_UNKNOWN)
		return;
	d->tx = t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

/*
 * A connection the server dropped (a restart, a failover, an idle timeout,
 * an administrator) is made again, with the session's settings, so that a
 * long-lived process (serve) outlives it. Never in a transaction's middle:
 * what it wrote is gone with the connection, so its next statements fail
 * until the store rolls it back (starts: a BEGIN or ROLLBACK, which may).
 */
static int revive(pg_db *d, int starts)
{
	const capstan_db_setup *setup;

	if (PQstatus(d->conn) == CONNECTION_OK)
		return 0;
	if (d->tx && !starts) {
		d->cls = CAPSTAN_DB_EOTHER;
		snprintf(d->message, sizeof(d->message), "the connection to the server was lost in a transaction");
		return CAPSTAN_DB_FAIL;
	}
	PQreset(d->conn);
	d->tx = 0;
	if (PQstatus(d->conn) != CONNECTION_OK) {
		set_error(d, NULL);
		return CAPSTAN_DB_FAIL;
	}
	d->gen++;
	for (setup = capstan_db_pg_dialect.setup; setup->sql; setup++) {
		PGresult *res = PQexec(d->conn, setup->sql);
		int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!ok)
			set_error(d, res);
		PQclear(res);
		if (!ok)
			return CAPSTAN_DB_FAIL;
	}
	return 0;
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
		one_line(msg);
		rc = capstan_error(ctx, CAPSTAN_ERROR, "database '%s': cannot connect: %s", url, msg);
		PQfinish(d->conn);
		free(d);
		return rc;
	}
	PQsetNoticeProcessor(d->conn, no_notice, NULL);
	clear_error(d);
	if (!create && !has_schema(d)) {
		PQfinish(d->conn);
		free(d);
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "no inventory in '%s'", url);
	}
	*out = &d->base;
	return 0;
}

static void drop_deferred(pg_db *d);

static void pg_close(capstan_db *d)
{
	if (!d)
		return;
	drop_deferred(DB(d));
	PQfinish(DB(d)->conn);
	free(d);
}

static void *pg_handle(capstan_db *d)
{
	return DB(d)->conn;
}

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

static void later_free(struct pg_later *l)
{
	free(l->values);
	memset(l, 0, sizeof(*l));
}

static void drop_deferred(pg_db *d)
{
	for (int i = 0; i < d->ndeferred; i++)
		later_free(&d->deferred[i]);
	d->ndeferred = 0;
}

/* Whether every deferred statement is a savepoint's text (they go ahead of
 * a text in one simple-protocol string). */
static int deferred_text_only(const pg_db *d, int n)
{
	for (int i = 0; i < n; i++)
		if (!d->deferred[i].sql[0])
			return 0;
	return 1;
}

/* The deferred statements in a pipeline that is open. */
static int send_deferred(pg_db *d, int n)
{
	int sent = 1;

	for (int i = 0; sent && i < n; i++) {
		struct pg_later *l = &d->deferred[i];
		sent = l->sql[0] ? PQsendQueryParams(d->conn, l->sql, 0, NULL, NULL, NULL, NULL, 0) :
			PQsendQueryPrepared(d->conn, l->name, l->n, (const char *const *)l->values, l->lengths,
				l->formats, 0);
	}
	return sent;
}

/* How many deferred statements go ahead of the next one: none when their
 * transaction went with its connection, or when it is rolled back whole. */
static int take_deferred(pg_db *d, const char *sql)
{
	if (d->deferred_gen != d->gen || (sql && strncmp(sql, "ROLLBACK", 8) == 0 && strncmp(sql, "ROLLBACK TO", 11) != 0))
		drop_deferred(d);
	return d->ndeferred;
}

/*
 * The deferred statements, then one more (a prepared one when name is set,
 * else sql, one statement without parameters; neither: none), in one
 * pipeline and one round trip: the first error among them is the result,
 * else the last one's. A deferred statement's error is the next one's, as
 * the caller of pg_step_later was told; it is never taken for that one's
 * own kind of failure (deferred_failed: the class is EOTHER).
 */
static PGresult *pipeline(pg_db *d, int deferred, const char *name, const char *sql, int n,
	const char *const *values, const int *lengths, const int *formats)
{
	PGresult *res = NULL, *err = NULL, *r = NULL;
	int more = name || sql, sent;

	d->deferred_failed = 0;
	sent = send_deferred(d, deferred);
	if (sent && name)
		sent = PQsendQueryPrepared(d->conn, name, n, values, lengths, formats, 0);
	else if (sent && sql)
		sent = PQsendQueryParams(d->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	sent = sent && PQpipelineSync(d->conn);
	for (int q = 0; sent && q < deferred + more; q++)
		while ((r = PQgetResult(d->conn))) {
			ExecStatusType st = PQresultStatus(r);
			if (!err && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_PIPELINE_ABORTED) {
				err = r;
				d->deferred_failed = q < deferred;
			} else if (q == deferred + more - 1 && !res) {
				res = r;
			} else {
				PQclear(r);
			}
		}
	/* Up to the sync, whatever came back. */
	while (sent && (r = PQgetResult(d->conn)) && PQresultStatus(r) != PGRES_PIPELINE_SYNC)
		PQclear(r);
	PQclear(r);
	PQexitPipelineMode(d->conn);
	drop_deferred(d);
	if (!sent && !err) {
		PQclear(res);
		return NULL; /* the connection's error */
	}
	if (err) {
		PQclear(res);
		return err;
	}
	return res ? res : PQmakeEmptyPGresult(d->conn, PGRES_COMMAND_OK);
}

/* The deferred statements on their own, before a statement that cannot
 * follow them in a pipeline: 0, or CAPSTAN_DB_FAIL with their error in
 * *err (NULL: the connection's). */
static int flush_deferred(pg_db *d, PGresult **err)
{
	PGresult *res;
	int ok;

	*err = NULL;
	if (!take_deferred(d, NULL))
		return 0;
	if (!PQenterPipelineMode(d->conn)) {
		drop_deferred(d);
		return CAPSTAN_DB_FAIL;
	}
	res = pipeline(d, d->ndeferred, NULL, NULL, 0, NULL, NULL, NULL);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	if (ok)
		PQclear(res);
	else
		*err = res;
	return ok ? 0 : CAPSTAN_DB_FAIL;
}

/* Text for the simple protocol: the deferred statements, then sql (in one
 * string when they are savepoints, in one pipeline when sql is one
 * statement, else on their own before it). */
static PGresult *exec_text(pg_db *d, const char *sql)
{
	int n = take_deferred(d, sql);
	size_t len = strlen(sql) + 1 + (size_t)n * (sizeof(d->deferred[0].sql) + 2);
	char *all, *p;
	PGresult *res;

	if (!n)
		return PQexec(d->conn, sql);
	if (!deferred_text_only(d, n)) {
		if (!strchr(sql, ';') && PQenterPipelineMode(d->conn))
			return pipeline(d, n, NULL, sql, 0, NULL, NULL, NULL);
		/* A rollback goes on after their failure: it is what undoes them. */
		if (flush_deferred(d, &res) < 0 && strncmp(sql, "ROLLBACK", 8) != 0)
			return res;
		PQclear(res);
		return PQexec(d->conn, sql);
	}
	if (!(all = p = malloc(len)))
		return NULL;
	for (int i = 0; i < n; i++)
		p += snprintf(p, len - (size_t)(p - all), "%s; ", d->deferred[i].sql);
	snprintf(p, len - (size_t)(p - all), "%s", sql);
	drop_deferred(d);
	res = PQexec(d->conn, all);
	free(all);
	return res;
}

/* A prepared statement's run, the deferred statements ahead of it in one
 * pipeline: the first error among them is the result, else its own. */
static PGresult *exec_prepared(pg_db *d, const char *name, int n, const char *const *values,
	const int *lengths, const int *formats)
{
	int deferred = take_deferred(d, NULL);
	PGresult *err;

	if (!deferred)
		return PQexecPrepared(d->conn, name, n, values, lengths, formats, 0);
	if (!PQenterPipelineMode(d->conn)) /* the connection failed */
		return flush_deferred(d, &err) < 0 ? err : NULL;
	return pipeline(d, deferred, name, NULL, n, values, lengths, formats);
}

/* One or more statements that give no rows to the caller. */
static int pg_exec(capstan_db *d, const char *sql)
{
	/* A transaction's start or end (not ROLLBACK TO a savepoint, which is
	 * in its middle). */
	int starts = strncmp(sql, "BEGIN", 5) == 0 || strcmp(sql, "ROLLBACK") == 0;
	PGresult *res;
	ExecStatusType st;
	int rc = 0;

	/* SQLite's tuning that PostgreSQL has none of: nothing to send, and no
	 * error of a lost connection to put over the one the caller reports. */
	if (!*sql)
		return 0;
	if (revive(DB(d), starts) < 0)
		return CAPSTAN_DB_FAIL;
	res = exec_text(DB(d), sql);
	/* Dropped since the last command, outside a transaction: once more. */
	if (PQresultStatus(res) == PGRES_FATAL_ERROR && PQstatus(DB(d)->conn) == CONNECTION_BAD &&
	    (!DB(d)->tx || starts) && revive(DB(d), 1) == 0) {
		PQclear(res);
		res = PQexec(DB(d)->conn, sql);
	}
	st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
		clear_error(DB(d));
	} else {
		set_error(DB(d), res);
		rc = CAPSTAN_DB_FAIL;
	}
	PQclear(res);
	note_tx(DB(d));
	return rc;
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
	if (s->name[0] && s->sig && strcmp(s->sig, sig) == 0 && (s->runs < 64 || (s->runs & (s->runs - 1))))
		return 0;
	deallocate(s);
	for (int i = 0; i < s->nparams; i++)
		types[i] = sig[i] == 'b' ? BYTEAOID : sig[i] == 'i' ? INT8OID : sig[i] == 't' ? TEXTOID : 0;
	snprintf(s->name, sizeof(s->name), "c%u", ++s->db->next_name);
	res = PQprepare(s->db->conn, s->name, s->sql, s->nparams, types);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok) {
		set_error(s->db, res);
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
	 * once more on a new one (revive). */
	for (int attempt = 0;; attempt++) {
		int was_tx = s->db->tx;

		if (revive(s->db, 0) < 0)
			return CAPSTAN_DB_FAIL;
		if (ensure_prepared(s, sig) == 0) {
			s->res = exec_prepared(s->db, s->name, s->nparams, values, lengths, formats);
			note_tx(s->db);
			st = PQresultStatus(s->res);
			if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
				break;
			set_error(s->db, s->res);
			PQclear(s->res);
			s->res = NULL;
		}
		if (attempt > 0 || was_tx || PQstatus(s->db->conn) != CONNECTION_BAD)
			return CAPSTAN_DB_FAIL;
	}
	clear_error(s->db);
	tuples = PQcmdTuples(s->res);
	/* Rows an INSERT, UPDATE or DELETE changed (with RETURNING too). */
	if (tuples && *tuples && strncmp(PQcmdStatus(s->res), "SELECT", 6) != 0)
		s->db->changes = strtoll(tuples, NULL, 10);
	s->rows = PQntuples(s->res);
	s->ncols = PQnfields(s->res);
	if (s->ncols && !(s->blobs = calloc((size_t)s->ncols, sizeof(*s->blobs) + sizeof(*s->blob_len)))) {
		set_error(s->db, NULL);
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

static int64_t pg_changes(capstan_db *d)
{
	return DB(d)->changes;
}

static capstan_db_class pg_error(capstan_db *d, const char **message)
{
	*message = DB(d)->message;
	return DB(d)->cls;
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
