/*
 * The store's database driver: what the store's files (store*.c) ask of a
 * database engine, so that they never name one. A driver (db_sqlite.c,
 * the only file that includes sqlite3.h; db_pg.c, the only one that
 * includes libpq-fe.h) fills a capstan_db_driver; the store picks it by the
 * inventory's location (store.c: a postgresql:// URL, else SQLite); the
 * calls below reach it through the connection or the statement, which
 * begin with their driver and are opaque past it.
 *
 * The shared SQL is written for both engines where it can be: parameters
 * are ?1..?N (a driver that numbers them otherwise rewrites them when it
 * prepares), inserts hand back their id with RETURNING id (SQLite >= 3.35;
 * Debian 12 has 3.40), upserts are ON CONFLICT ... DO UPDATE / DO NOTHING,
 * times are bound from C rather than read from the engine's clock. What
 * cannot be written once is the driver's, asked for by name
 * (enum capstan_db_sql) or held in its table (migrations, session setup).
 *
 * Dialect points, each in SQLite's driver and in PostgreSQL's
 * (db_pg_schema.c: identity BIGINT ids, BYTEA, a PL/pgSQL trigger, the
 * schema version as meta's comment, an advisory write lock at BEGIN,
 * GREATEST/LEAST, no planner hints):
 *  - schema: the migrations (INTEGER PRIMARY KEY row ids, BLOB columns,
 *    WITHOUT ROWID, partial indexes, the two certs_revoked_env_* triggers
 *    with scalar max(), ALTER TABLE ADD COLUMN steps) and the schema
 *    version (PRAGMA user_version), and after which steps the store
 *    backfills certs.spki_sha256 and service_certs;
 *  - the session: WAL, synchronous = FULL, foreign keys on, a 30 s busy
 *    timeout (the driver's open and setup list);
 *  - transactions: BEGIN IMMEDIATE (the write lock taken at once, so a
 *    writer queues instead of failing at its first write), COMMIT,
 *    ROLLBACK, and the savepoints of a group commit (change) and of a
 *    batch item (item), with SQLite's RELEASE / ROLLBACK TO spelling;
 *  - write-back tuning of a batch: PRAGMA cache_spill and temp_store;
 *  - integrity: PRAGMA integrity_check and foreign_key_check;
 *  - planner hints, kept in the driver's named statements: INDEXED BY
 *    (current CA, roots, CRL issuers, revocations, last CRL, CAs), NOT
 *    INDEXED (the spki backfill), CROSS JOIN ... ON to fix the join order
 *    (roots leaving, CAs, the streamed list), and unary + on a column to
 *    keep the planner off its index (CAPSTAN_DB_NO_INDEX, and in the named
 *    statements; PostgreSQL has no unary + on text);
 *  - scalar min()/max() of two values (roots leaving; LEAST/GREATEST);
 *  - the error classes (capstan_db_class) from the engine's codes.
 * Portable in SQL but loose about types, for a strict engine to mind (each
 * in the shared SQL): integers used as booleans (?3 OR, ?4 AND, ?6 AND,
 * hook_pending OR ?6, ?5 OR), booleans read as integers (EXISTS (...),
 * status = 'revoked', key_id IS NOT NULL, ORDER BY status = 'valid'),
 * parameters compared with themselves, with NULL or with each other
 * before any column gives them a type (?1 IS NULL, ?5 = ?5, ?1 = 0,
 * ?2 + ?5 in the due query), and BLOB parameters compared to columns
 * (c.der = ?2). A driver that rewrites ?N to $N skips quoted literals.
 * (The shared SQL compares integers used as booleans with 0, names a
 * parameter that may be NULL beside a column before IS NULL, and makes
 * CASE branches one type, so that PostgreSQL's typed parameters read it.)
 * A reserved word of either engine is quoted as an identifier ("user").
 * Savepoints of a batch item are prepared and cached like any statement
 * (SAVEPOINT item, RELEASE item).
 */
#ifndef CAPSTAN_LIB_STORE_DB_H
#define CAPSTAN_LIB_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct capstan_db capstan_db;
typedef struct capstan_db_stmt capstan_db_stmt;
typedef struct capstan_db_driver capstan_db_driver;

/* A connection and a statement begin with their driver; the rest is the driver's. */
struct capstan_db {
	const capstan_db_driver *drv;
};
struct capstan_db_stmt {
	const capstan_db_driver *drv;
};

/* What a step gives. */
#define CAPSTAN_DB_ROW 1
#define CAPSTAN_DB_DONE 0
#define CAPSTAN_DB_FAIL (-1)

/* A bound value is either copied (the caller may free it at once), or kept
 * by pointer until the statement is finished (no copy: the hot inserts). */
#define CAPSTAN_DB_COPY 1
#define CAPSTAN_DB_KEEP 0

/* A value's type in the current row (a copy between engines asks). */
typedef enum {
	CAPSTAN_DB_NULL,
	CAPSTAN_DB_INTEGER,
	CAPSTAN_DB_TEXT,
	CAPSTAN_DB_BLOB,
} capstan_db_type;

/* The last error, classified: what a caller may act on without the engine's codes. */
typedef enum {
	CAPSTAN_DB_OK,
	CAPSTAN_DB_EUNIQUE,   /* a unique or primary key violation */
	CAPSTAN_DB_EBUSY,     /* locked by another connection past the busy timeout */
	CAPSTAN_DB_ERETRY,    /* a serialization failure or deadlock: the transaction may be retried */
	CAPSTAN_DB_EREADONLY, /* the database refused a write (read-only file or connection) */
	CAPSTAN_DB_EDAMAGED,  /* the database is corrupt, or not a database */
	CAPSTAN_DB_EOTHER,
} capstan_db_class;

/* Statements whose text is the engine's own: by name, from the driver. */
enum capstan_db_sql {
	CAPSTAN_DB_BEGIN,           /* a write transaction, its lock taken at once */
	CAPSTAN_DB_COMMIT,
	CAPSTAN_DB_ROLLBACK,
	CAPSTAN_DB_CHANGE_BEGIN,    /* one change of a group commit: a savepoint */
	CAPSTAN_DB_CHANGE_RELEASE,
	CAPSTAN_DB_CHANGE_UNDO,     /* back to the change's start, and out of it */
	CAPSTAN_DB_ITEM_BEGIN,      /* one item of a batch inside a change */
	CAPSTAN_DB_ITEM_RELEASE,
	CAPSTAN_DB_ITEM_UNDO,
	CAPSTAN_DB_HOLD_DIRTY,      /* a batch keeps its changed pages in memory */
	CAPSTAN_DB_SPILL_DIRTY,     /* and no longer */
	CAPSTAN_DB_GROUP_SETUP,     /* before a group commit begins */
	CAPSTAN_DB_SCHEMA_VERSION,  /* one row, one integer */
	CAPSTAN_DB_SCHEMA_VERSION_SET, /* a format: %d is the version */
	CAPSTAN_DB_INTEGRITY,       /* rows of text findings; one 'ok' when none */
	CAPSTAN_DB_FOREIGN_KEYS,    /* rows (table, row id, parent table) */
	CAPSTAN_DB_NO_INDEX,        /* put before a column: not by its index */
	CAPSTAN_DB_LIST_STREAM_FROM, /* FROM envs e, then certs c, in that order */
	CAPSTAN_DB_SPKI_ROWS,       /* (id, der) of every certificate by id, as it is stored */
	CAPSTAN_DB_CURRENT_CA,      /* ?1 env, ?2 kind, ?3 now: CERT_COLUMNS */
	CAPSTAN_DB_ROOTS_LEAVING,   /* ?1 env or 0, ?2 now: CERT_COLUMNS, until */
	CAPSTAN_DB_ENV_ROOTS,       /* ?1 env, ?2 now: CERT_COLUMNS */
	CAPSTAN_DB_CRL_ISSUERS,     /* ?1 env, ?2 now: CERT_COLUMNS */
	CAPSTAN_DB_REVOKED_EACH,    /* ?1 issuer, ?2 now: serial, revoked_at, reason */
	CAPSTAN_DB_CRL_LAST,        /* ?1 issuer: der, this, next, number, revoked since */
	CAPSTAN_DB_CAS,             /* ?1 now: CERT_COLUMNS */
	CAPSTAN_DB_SNAPSHOT_BEGIN,  /* a read-only transaction that sees one moment throughout */
	CAPSTAN_DB_TABLES,          /* rows (name): the inventory's tables */
	CAPSTAN_DB_COPY_FINISH,     /* after rows were copied in with their ids: the next ids past them */
	CAPSTAN_DB_SELF_CONTAINED,  /* the database kept in one file when closed (a backup) */
	CAPSTAN_DB_SQL_COUNT
};

/* One statement run when a connection opens, and what failing it means. */
typedef struct {
	const char *sql;
	const char *what;
} capstan_db_setup;

/* A driver's SQL: what cannot be written once for every engine. */
typedef struct {
	/* The schema, step i taking it from version i to i + 1, and the steps
	 * after which the store fills a new column or table from the rows. */
	const char *const *migrations;
	int migration_count;
	int spki_version, service_certs_version;
	const capstan_db_setup *setup; /* run at open; ends with { NULL, NULL } */
	const char *const *sql;        /* by enum capstan_db_sql */
} capstan_db_dialect;

struct capstan_db_driver {
	const char *name;
	/* Opens (creating the database when create is set and it is missing),
	 * each error recorded in ctx. */
	int (*open)(capstan_ctx *ctx, const char *where, int create, capstan_db **out);
	void (*close)(capstan_db *db);
	/* The engine's own handle (sqlite3 *): for tests that tamper with rows. */
	void *(*handle)(capstan_db *db);
	/* Runs statements that give no rows: 0, or CAPSTAN_DB_FAIL. */
	int (*exec)(capstan_db *db, const char *sql);
	/* A statement that will be run many times: 0, or CAPSTAN_DB_FAIL. */
	int (*prepare)(capstan_db *db, const char *sql, capstan_db_stmt **out);
	/* Parameters are numbered from 1; a text's len is -1 up to its NUL. */
	int (*bind_int64)(capstan_db_stmt *s, int i, int64_t v);
	int (*bind_text)(capstan_db_stmt *s, int i, const char *v, int64_t len, int copy);
	int (*bind_blob)(capstan_db_stmt *s, int i, const void *v, size_t len, int copy);
	int (*bind_null)(capstan_db_stmt *s, int i);
	/* CAPSTAN_DB_ROW, CAPSTAN_DB_DONE or CAPSTAN_DB_FAIL. */
	int (*step)(capstan_db_stmt *s);
	/* A step of a statement that gives no rows (and whose changes are not
	 * asked), inside a write transaction: CAPSTAN_DB_DONE, or
	 * CAPSTAN_DB_FAIL. A driver whose every statement is a round trip
	 * (PostgreSQL) may send it with the next statement instead, which then
	 * reports its failure (as CAPSTAN_DB_EOTHER), as COMMIT does the last
	 * one's: for writes the transaction cannot commit without, whose
	 * failure ends it (an audit row, the log's end, a certificate's key). */
	int (*step_later)(capstan_db_stmt *s);
	/* Columns are numbered from 0; what they point to lasts until the next step. */
	int64_t (*column_int64)(capstan_db_stmt *s, int i);
	const char *(*column_text)(capstan_db_stmt *s, int i);
	const void *(*column_blob)(capstan_db_stmt *s, int i);
	size_t (*column_bytes)(capstan_db_stmt *s, int i);
	int (*column_is_null)(capstan_db_stmt *s, int i);
	/* The current row's shape, for a copy that names no column: how many
	 * columns, each one's name and its value's type. */
	int (*column_count)(capstan_db_stmt *s);
	const char *(*column_name)(capstan_db_stmt *s, int i);
	capstan_db_type (*column_type)(capstan_db_stmt *s, int i);
	/* Ready to run again: with its parameters, or (clear) with none. */
	void (*reset)(capstan_db_stmt *s, int clear);
	void (*finalize)(capstan_db_stmt *s);
	/* Rows the last INSERT, UPDATE or DELETE changed. */
	int64_t (*changes)(capstan_db *db);
	/* The last error's class, and the engine's message (never NULL). */
	capstan_db_class (*error)(capstan_db *db, const char **message);
	const capstan_db_dialect *dialect;
};

/* SQLite (db_sqlite.c), with its SQL (db_sqlite_schema.c). */
extern const capstan_db_driver capstan_db_sqlite;
extern const capstan_db_dialect capstan_db_sqlite_dialect;
/* PostgreSQL (db_pg.c, the only file that includes libpq-fe.h), with its
 * SQL (db_pg_schema.c). */
extern const capstan_db_driver capstan_db_pg;
extern const capstan_db_dialect capstan_db_pg_dialect;

/* The calls the store's files make: each one through the driver. */
static inline int capstan_db_exec(capstan_db *db, const char *sql) { return db->drv->exec(db, sql); }
static inline int64_t capstan_db_changes(capstan_db *db) { return db->drv->changes(db); }
static inline const char *capstan_db_sql(capstan_db *db, enum capstan_db_sql which)
{
	return db->drv->dialect->sql[which];
}
static inline capstan_db_class capstan_db_error(capstan_db *db, const char **message)
{
	return db->drv->error(db, message);
}
static inline const char *capstan_db_errmsg(capstan_db *db)
{
	const char *m;

	db->drv->error(db, &m);
	return m;
}
static inline int capstan_db_step(capstan_db_stmt *s) { return s->drv->step(s); }
static inline int capstan_db_step_later(capstan_db_stmt *s) { return s->drv->step_later(s); }
static inline void capstan_db_reset(capstan_db_stmt *s) { s->drv->reset(s, 0); }
static inline void capstan_db_clear(capstan_db_stmt *s) { s->drv->reset(s, 1); }
static inline void capstan_db_finalize(capstan_db_stmt *s) { s->drv->finalize(s); }
static inline int capstan_db_bind_int64(capstan_db_stmt *s, int i, int64_t v) { return s->drv->bind_int64(s, i, v); }
static inline int capstan_db_bind_null(capstan_db_stmt *s, int i) { return s->drv->bind_null(s, i); }
static inline int capstan_db_bind_text(capstan_db_stmt *s, int i, const char *v, int copy)
{
	return s->drv->bind_text(s, i, v, -1, copy);
}
static inline int capstan_db_bind_textn(capstan_db_stmt *s, int i, const char *v, size_t len, int copy)
{
	return s->drv->bind_text(s, i, v, (int64_t)len, copy);
}
static inline int capstan_db_bind_blob(capstan_db_stmt *s, int i, const void *v, size_t len, int copy)
{
	return s->drv->bind_blob(s, i, v, len, copy);
}
static inline int64_t capstan_db_int64(capstan_db_stmt *s, int i) { return s->drv->column_int64(s, i); }
static inline int capstan_db_int(capstan_db_stmt *s, int i) { return (int)s->drv->column_int64(s, i); }
static inline const char *capstan_db_text(capstan_db_stmt *s, int i) { return s->drv->column_text(s, i); }
static inline const void *capstan_db_blob(capstan_db_stmt *s, int i) { return s->drv->column_blob(s, i); }
static inline size_t capstan_db_bytes(capstan_db_stmt *s, int i) { return s->drv->column_bytes(s, i); }
static inline int capstan_db_is_null(capstan_db_stmt *s, int i) { return s->drv->column_is_null(s, i); }
static inline int capstan_db_column_count(capstan_db_stmt *s) { return s->drv->column_count(s); }
static inline const char *capstan_db_column_name(capstan_db_stmt *s, int i) { return s->drv->column_name(s, i); }
static inline capstan_db_type capstan_db_type_of(capstan_db_stmt *s, int i) { return s->drv->column_type(s, i); }

#endif
