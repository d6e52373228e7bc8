/* The store's insides, for store*.c only. The database is reached through
 * the driver interface (db.h), never named here. */
#ifndef CAPSTAN_LIB_STORE_IMPL_H
#define CAPSTAN_LIB_STORE_IMPL_H

#include "db.h"
#include "store.h"

/* A number in SQL text, from the macro the C beside it uses. */
#define CAPSTAN_STR_(x) #x
#define CAPSTAN_STR(x) CAPSTAN_STR_(x)

/* Prepared statements kept for reuse: compiling one costs more than running
 * most of them, and renew --due runs a dozen per certificate. */
#define STMT_CACHE_SLOTS 48

struct capstan_store {
	capstan_db *conn;
	/* The engine's own handle (sqlite3 *), for the unit tests that tamper
	 * with rows (store_internal.h); the store itself uses conn. */
	void *db;
	char *path;
	int in_tx;
	int refused_write; /* the last error was a refused write (read-only) */
	/* By the SQL text the store asked for, which a driver may rewrite. */
	struct { capstan_db_stmt *stmt; char *sql; int in_use; } cache[STMT_CACHE_SLOTS];
	size_t cached;
	/* The certificate states this transaction set and no audit row has taken
	 * yet (store_audit.c); state_mark: their length at the item savepoint. */
	capstan_buf state;
	size_t state_mark;
	/* The audit log's end as this transaction's last row left it
	 * (store_audit.c): known once read or written in it, and written to
	 * meta once, before it commits (dirty until then), rather than read and
	 * upserted for every row: the write lock, taken at BEGIN, keeps every
	 * other writer out until then. The marks: as at the item savepoint. */
	capstan_store_audit_end end, end_mark;
	int end_known, end_dirty, end_known_mark, end_dirty_mark;
	/* A group commit is open (capstan_store_group_begin): each change's
	 * transaction is a savepoint in it, made durable with the group. */
	int group;
};

/* Every query that builds a capstan_cert selects these columns, in this order. */
#define CERT_COLUMNS \
	"c.id, c.kind, c.status, e.name, c.name, c.serial, c.subject, c.issuer, c.service," \
	" c.fingerprint, c.profile, c.key_type, c.sans, c.not_before, c.not_after, c.lifetime," \
	" c.renew_before, c.key_id IS NOT NULL, c.revoked_at, c.revoke_reason, c.issuer_id, c.der"
#define CERT_FROM " FROM certs c JOIN envs e ON e.id = c.env_id "

extern const char *const capstan_store_kind_names[];

/* The audit log's recorded end: a meta row, the last row's big-endian id
 * and hash, then the seal when there is one (store_db.c writes it, at the
 * latest as the transaction commits; store_audit.c reads it). */
#define AUDIT_END_KEY "audit.head"
#define AUDIT_END_LEN (8 + CAPSTAN_SHA256_LEN)
int capstan_store_audit_end_write(capstan_ctx *ctx, const capstan_store_audit_end *end);
/* Writes the audit log's end this transaction kept in memory, if any (before it commits). */
int capstan_store_audit_flush(capstan_ctx *ctx);

/* A capstan_cert from a row that selected CERT_COLUMNS. */
int capstan_store_cert_from_row(capstan_ctx *ctx, capstan_db_stmt *stmt, capstan_cert **out);
/* Steps stmt (CERT_COLUMNS) to the end, collecting every row; finalizes it. */
int capstan_store_cert_list(capstan_ctx *ctx, capstan_db_stmt *stmt, capstan_cert ***out, size_t *count);

/* A certificate's row parameters from p + 1 on, in capstan_store_cert_insert's
 * column order (key_id <= 0: none). */
void capstan_store_bind_cert(capstan_db_stmt *stmt, int p, int64_t env_id, const capstan_cert *c, int64_t key_id,
	const unsigned char *spki, const char *sans, int64_t now);
/* Notes a certificate state the open transaction sets, for its audit row. */
int capstan_store_state_note(capstan_ctx *ctx, const char *serial, const char *status, const char *reason,
	const char *fingerprint);

/* Records the driver's message for the store's database and returns CAPSTAN_ERROR. */
int capstan_store_error(capstan_ctx *ctx, const char *what);
/* Runs SQL with no result rows (a migration step, a pragma, BEGIN). */
int capstan_store_exec(capstan_ctx *ctx, const char *sql, const char *what);
/* A statement for sql, from the cache when one is free; hand it back with
 * capstan_store_finish, which resets it (NULL is fine). */
int capstan_store_prepare(capstan_ctx *ctx, capstan_db_stmt **stmt, const char *sql);
void capstan_store_finish(capstan_ctx *ctx, capstan_db_stmt *stmt);
/* Binds text, or NULL when s is NULL. */
int capstan_store_bind_text(capstan_db_stmt *stmt, int i, const char *s);
/* A statement inserting rows rows of cols values: "HEAD VALUES (?1, ...,
 * ?COLS), (...)" then TAIL, prepared as capstan_store_prepare does. */
int capstan_store_prepare_rows(capstan_ctx *ctx, capstan_db_stmt **stmt, const char *head, int cols, size_t rows,
	const char *tail);
/* The rows of the next such statement for left more: the largest power of
 * two up to CAPSTAN_STORE_MULTI_MAX that fits, so that a handful of texts
 * is prepared once and reused. */
size_t capstan_store_rows_piece(size_t left);
/* The statement the driver names (db.h), prepared as capstan_store_prepare does. */
int capstan_store_prepare_named(capstan_ctx *ctx, capstan_db_stmt **stmt, enum capstan_db_sql which);
/* Steps a statement that gives no row, and finishes it: 0, or the error of what. */
int capstan_store_step_done(capstan_ctx *ctx, capstan_db_stmt *stmt, const char *what);
/* Steps an INSERT ... RETURNING id, and finishes it: the new row's id in *id. */
int capstan_store_step_id(capstan_ctx *ctx, capstan_db_stmt *stmt, const char *what, int64_t *id);
/* A copy of column i as a string, or NULL when the column is NULL. */
char *capstan_store_column_strdup(capstan_db_stmt *stmt, int i);

#endif
