/* The PostgreSQL driver's connection (db_pg_impl.h; db_pg.c opens it):
 * its errors on one line, a connection lost outside a transaction revived,
 * commands, and the statements sent ahead of the next one in a single
 * round trip (a pipeline). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_pg_impl.h"

/* libpq's message on one line: its line breaks and the tabs that indent
 * its continuation lines ("...unexpectedly\n\tThis probably means...")
 * become one space, a trailing one none. */
void pg_one_line(char *msg)
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
void pg_set_error(pg_db *d, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (!msg)
		msg = PQerrorMessage(d->conn);
	/* A connection that died under a pipeline: libpq's later complaints
	 * about its state ("cannot exit pipeline mode while busy") replace the
	 * cause in its message. */
	if (!res && PQstatus(d->conn) == CONNECTION_BAD && msg && strstr(msg, "pipeline mode"))
		msg = "the server closed the connection (it stopped or restarted)";
	snprintf(d->message, sizeof(d->message), "%s", msg && *msg ? msg : "unknown error");
	pg_one_line(d->message);
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

void pg_clear_error(pg_db *d)
{
	d->deferred_failed = 0;
	d->cls = CAPSTAN_DB_OK;
	snprintf(d->message, sizeof(d->message), "not an error");
}

void pg_note_tx(pg_db *d)
{
	PGTransactionStatusType t = PQtransactionStatus(d->conn);

	/* A connection lost says UNKNOWN: a transaction open on it stays open
	 * to the store until it rolls back, so that pg_revive() makes no new
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
int pg_revive(pg_db *d, int starts)
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
		pg_set_error(d, NULL);
		return CAPSTAN_DB_FAIL;
	}
	d->gen++;
	for (setup = capstan_db_pg_dialect.setup; setup->sql; setup++) {
		PGresult *res = PQexec(d->conn, setup->sql);
		int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!ok)
			pg_set_error(d, res);
		PQclear(res);
		if (!ok)
			return CAPSTAN_DB_FAIL;
	}
	return 0;
}

void pg_close(capstan_db *d)
{
	if (!d)
		return;
	pg_drop_deferred(DB(d));
	PQfinish(DB(d)->conn);
	free(d);
}

void *pg_handle(capstan_db *d)
{
	return DB(d)->conn;
}


void pg_later_free(struct pg_later *l)
{
	free(l->values);
	memset(l, 0, sizeof(*l));
}

void pg_drop_deferred(pg_db *d)
{
	for (int i = 0; i < d->ndeferred; i++)
		pg_later_free(&d->deferred[i]);
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
int pg_take_deferred(pg_db *d, const char *sql)
{
	if (d->deferred_gen != d->gen || (sql && strncmp(sql, "ROLLBACK", 8) == 0 && strncmp(sql, "ROLLBACK TO", 11) != 0))
		pg_drop_deferred(d);
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
PGresult *pg_pipeline(pg_db *d, int deferred, const char *name, const char *sql, int n,
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
	pg_drop_deferred(d);
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
int pg_flush_deferred(pg_db *d, PGresult **err)
{
	PGresult *res;
	int ok;

	*err = NULL;
	if (!pg_take_deferred(d, NULL))
		return 0;
	if (!PQenterPipelineMode(d->conn)) {
		pg_drop_deferred(d);
		return CAPSTAN_DB_FAIL;
	}
	res = pg_pipeline(d, d->ndeferred, NULL, NULL, 0, NULL, NULL, NULL);
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
	int n = pg_take_deferred(d, sql);
	size_t len = strlen(sql) + 1 + (size_t)n * (sizeof(d->deferred[0].sql) + 2);
	char *all, *p;
	PGresult *res;

	if (!n)
		return PQexec(d->conn, sql);
	if (!deferred_text_only(d, n)) {
		if (!strchr(sql, ';') && PQenterPipelineMode(d->conn))
			return pg_pipeline(d, n, NULL, sql, 0, NULL, NULL, NULL);
		/* A rollback goes on after their failure: it is what undoes them. */
		if (pg_flush_deferred(d, &res) < 0 && strncmp(sql, "ROLLBACK", 8) != 0)
			return res;
		PQclear(res);
		return PQexec(d->conn, sql);
	}
	if (!(all = p = malloc(len)))
		return NULL;
	for (int i = 0; i < n; i++)
		p += snprintf(p, len - (size_t)(p - all), "%s; ", d->deferred[i].sql);
	snprintf(p, len - (size_t)(p - all), "%s", sql);
	pg_drop_deferred(d);
	res = PQexec(d->conn, all);
	free(all);
	return res;
}

/* A prepared statement's run, the deferred statements ahead of it in one
 * pipeline: the first error among them is the result, else its own. */
PGresult *pg_exec_prepared(pg_db *d, const char *name, int n, const char *const *values,
	const int *lengths, const int *formats)
{
	int deferred = pg_take_deferred(d, NULL);
	PGresult *err;

	if (!deferred)
		return PQexecPrepared(d->conn, name, n, values, lengths, formats, 0);
	if (!PQenterPipelineMode(d->conn)) /* the connection failed */
		return pg_flush_deferred(d, &err) < 0 ? err : NULL;
	return pg_pipeline(d, deferred, name, NULL, n, values, lengths, formats);
}

/* One or more statements that give no rows to the caller. */
int pg_exec(capstan_db *d, const char *sql)
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
	if (pg_revive(DB(d), starts) < 0)
		return CAPSTAN_DB_FAIL;
	res = exec_text(DB(d), sql);
	/* Dropped since the last command, outside a transaction: once more. */
	if (PQresultStatus(res) == PGRES_FATAL_ERROR && PQstatus(DB(d)->conn) == CONNECTION_BAD &&
	    (!DB(d)->tx || starts) && pg_revive(DB(d), 1) == 0) {
		PQclear(res);
		res = PQexec(DB(d)->conn, sql);
	}
	st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
		pg_clear_error(DB(d));
	} else {
		pg_set_error(DB(d), res);
		rc = CAPSTAN_DB_FAIL;
	}
	PQclear(res);
	pg_note_tx(DB(d));
	return rc;
}

int64_t pg_changes(capstan_db *d)
{
	return DB(d)->changes;
}

capstan_db_class pg_error(capstan_db *d, const char **message)
{
	*message = DB(d)->message;
	return DB(d)->cls;
}
