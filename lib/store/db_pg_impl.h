/* The PostgreSQL driver's insides, shared by its two files: db_pg_conn.c
 * (the connection, its errors, the statements sent ahead in one round trip)
 * and db_pg.c (statements, their parameters and rows; the driver's table).
 * With libpq-fe.h: included by those two only. */
#ifndef CAPSTAN_LIB_STORE_DB_PG_IMPL_H
#define CAPSTAN_LIB_STORE_DB_PG_IMPL_H

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

/* db_pg_conn.c */
/* libpq's message on one line (its line breaks and indenting tabs made spaces). */
void pg_one_line(char *msg);
/* Records the error of a result (or of the connection when res is NULL). */
void pg_set_error(pg_db *d, const PGresult *res);
void pg_clear_error(pg_db *d);
/* Notes whether a transaction is open, as of the last command. */
void pg_note_tx(pg_db *d);
/* A connection dropped outside a transaction: a new one (starts: at the start of a command). */
int pg_revive(pg_db *d, int starts);
void pg_later_free(struct pg_later *l);
void pg_drop_deferred(pg_db *d);
/* How many deferred statements go ahead of the next one. */
int pg_take_deferred(pg_db *d, const char *sql);
/* The deferred statements, then a prepared statement's run or sql, in one round trip. */
PGresult *pg_pipeline(pg_db *d, int deferred, const char *name, const char *sql, int n,
	const char *const *values, const int *lengths, const int *formats);
/* The deferred statements on their own; *err: the result of one that failed. */
int pg_flush_deferred(pg_db *d, PGresult **err);
PGresult *pg_exec_prepared(pg_db *d, const char *name, int n, const char *const *values, const int *lengths,
	const int *formats);
void pg_close(capstan_db *d);
void *pg_handle(capstan_db *d);
int pg_exec(capstan_db *d, const char *sql);
int64_t pg_changes(capstan_db *d);
capstan_db_class pg_error(capstan_db *d, const char **message);

#endif
