/* The SQLite driver (db.h): the only file of the library that includes
 * sqlite3.h. Its SQL is in db_sqlite_schema.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"

typedef struct {
	capstan_db base;
	sqlite3 *db;
} sq_db;

typedef struct {
	capstan_db_stmt base;
	sqlite3_stmt *stmt;
} sq_stmt;

#define DB(d) (((sq_db *)(d))->db)
#define STMT(s) (((sq_stmt *)(s))->stmt)

/* Creates the database file 0600 before SQLite sees it: SQLite would use the
 * umask, and its -wal and -shm files copy the database's mode. */
static int create_db_file(capstan_ctx *ctx, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot create '%s': %s", path, strerror(errno));
	close(fd);
	return 0;
}

/* The database and, when a process left them, its -wal and -shm (which
 * hold committed rows not yet in the database): each the effective user's
 * and writable by no one else, before SQLite reads a page of them. SQLite
 * makes the -wal and -shm it creates with the database's mode. */
static int check_db_files(capstan_ctx *ctx, const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char file[4096];
	struct stat sb;
	int rc;

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if ((size_t)snprintf(file, sizeof(file), "%s%s", path, suffixes[i]) >= sizeof(file))
			return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_HOME, "path too long: '%s'", path);
		if (lstat(file, &sb) < 0) {
			if (errno == ENOENT && i > 0)
				continue;
			return capstan_error_at(ctx, CAPSTAN_ENOTFOUND, CAPSTAN_FIELD_HOME, "cannot open '%s': %s", file,
				strerror(errno));
		}
		if (!S_ISREG(sb.st_mode))
			return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_HOME,
				"inventory file '%s' is not a regular file", file);
		if ((rc = capstan_private_check(ctx, CAPSTAN_FIELD_HOME, "inventory file", file, &sb, 0)) < 0)
			return rc;
	}
	return 0;
}

/* A connection on the database file at path: its mode checked (and the
 * file made) before SQLite reads a page of it. */
static int sq_open(capstan_ctx *ctx, const char *path, int create, capstan_db **out)
{
	struct stat sb;
	sq_db *d;
	int rc;

	if (stat(path, &sb) < 0) {
		if (errno != ENOENT || !create)
			return capstan_error(ctx, CAPSTAN_ENOTFOUND, "cannot open '%s': %s", path, strerror(errno));
		if ((rc = create_db_file(ctx, path)) < 0)
			return rc;
	}
	if ((rc = check_db_files(ctx, path)) < 0)
		return rc;
	if (!(d = calloc(1, sizeof(*d))))
		return capstan_error_oom(ctx);
	d->base.drv = &capstan_db_sqlite;
	if ((rc = sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL)) != SQLITE_OK) {
		/* As capstan_store_error says it, which has no connection yet. */
		const char *msg = d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc);
		rc = (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB ?
			capstan_error(ctx, CAPSTAN_EDAMAGED, "the inventory's database '%s' is damaged (cannot open: %s)",
				path, msg) :
			capstan_error(ctx, CAPSTAN_ERROR, "database '%s': cannot open: %s", path, msg);
		sqlite3_close_v2(d->db);
		free(d);
		return rc;
	}
	sqlite3_extended_result_codes(d->db, 1);
	/* Writers queue for up to 30 s rather than failing with "database is locked". */
	sqlite3_busy_timeout(d->db, 30000);
	*out = &d->base;
	return 0;
}

static void sq_close(capstan_db *d)
{
	if (!d)
		return;
	sqlite3_close_v2(DB(d));
	free(d);
}

static void *sq_handle(capstan_db *d)
{
	return DB(d);
}

static int sq_exec(capstan_db *d, const char *sql)
{
	return sqlite3_exec(DB(d), sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : CAPSTAN_DB_FAIL;
}

/* Persistent: the store caches its statements and runs them many times. */
static int sq_prepare(capstan_db *d, const char *sql, capstan_db_stmt **out)
{
	sq_stmt *s = malloc(sizeof(*s));

	if (!s)
		return CAPSTAN_DB_FAIL;
	s->base.drv = &capstan_db_sqlite;
	if (sqlite3_prepare_v3(DB(d), sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt, NULL) != SQLITE_OK ||
	    !s->stmt) {
		sqlite3_finalize(s->stmt);
		free(s);
		return CAPSTAN_DB_FAIL;
	}
	*out = &s->base;
	return 0;
}

static int sq_bind_int64(capstan_db_stmt *s, int i, int64_t v)
{
	return sqlite3_bind_int64(STMT(s), i, (sqlite3_int64)v) == SQLITE_OK ? 0 : CAPSTAN_DB_FAIL;
}

static int sq_bind_text(capstan_db_stmt *s, int i, const char *v, int64_t len, int copy)
{
	return sqlite3_bind_text(STMT(s), i, v, len < 0 ? -1 : (int)len, copy ? SQLITE_TRANSIENT : SQLITE_STATIC) ==
		SQLITE_OK ? 0 : CAPSTAN_DB_FAIL;
}

static int sq_bind_blob(capstan_db_stmt *s, int i, const void *v, size_t len, int copy)
{
	return sqlite3_bind_blob(STMT(s), i, v, (int)len, copy ? SQLITE_TRANSIENT : SQLITE_STATIC) == SQLITE_OK ?
		0 : CAPSTAN_DB_FAIL;
}

static int sq_bind_null(capstan_db_stmt *s, int i)
{
	return sqlite3_bind_null(STMT(s), i) == SQLITE_OK ? 0 : CAPSTAN_DB_FAIL;
}

static int sq_step(capstan_db_stmt *s)
{
	int rc = sqlite3_step(STMT(s));

	return rc == SQLITE_ROW ? CAPSTAN_DB_ROW : rc == SQLITE_DONE ? CAPSTAN_DB_DONE : CAPSTAN_DB_FAIL;
}

/* SQLite runs in the process: nothing to save by waiting. */
static int sq_step_later(capstan_db_stmt *s)
{
	return sq_step(s) == CAPSTAN_DB_DONE ? CAPSTAN_DB_DONE : CAPSTAN_DB_FAIL;
}

static int64_t sq_column_int64(capstan_db_stmt *s, int i)
{
	return sqlite3_column_int64(STMT(s), i);
}

static const char *sq_column_text(capstan_db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(STMT(s), i);
}

static const void *sq_column_blob(capstan_db_stmt *s, int i)
{
	return sqlite3_column_blob(STMT(s), i);
}

static size_t sq_column_bytes(capstan_db_stmt *s, int i)
{
	return (size_t)sqlite3_column_bytes(STMT(s), i);
}

static int sq_column_is_null(capstan_db_stmt *s, int i)
{
	return sqlite3_column_type(STMT(s), i) == SQLITE_NULL;
}

static int sq_column_count(capstan_db_stmt *s)
{
	return sqlite3_column_count(STMT(s));
}

static const char *sq_column_name(capstan_db_stmt *s, int i)
{
	return sqlite3_column_name(STMT(s), i);
}

/* SQLite's types are the value's own (a REAL, which capstan never writes, reads as text). */
static capstan_db_type sq_column_type(capstan_db_stmt *s, int i)
{
	switch (sqlite3_column_type(STMT(s), i)) {
	case SQLITE_NULL:
		return CAPSTAN_DB_NULL;
	case SQLITE_INTEGER:
		return CAPSTAN_DB_INTEGER;
	case SQLITE_BLOB:
		return CAPSTAN_DB_BLOB;
	default:
		return CAPSTAN_DB_TEXT;
	}
}

static void sq_reset(capstan_db_stmt *s, int clear)
{
	sqlite3_reset(STMT(s));
	if (clear)
		sqlite3_clear_bindings(STMT(s));
}

static void sq_finalize(capstan_db_stmt *s)
{
	if (!s)
		return;
	sqlite3_finalize(STMT(s));
	free(s);
}

static int64_t sq_changes(capstan_db *d)
{
	return sqlite3_changes(DB(d));
}

/* By the primary code (extended codes are on): the classes a caller acts on. */
static capstan_db_class sq_error(capstan_db *d, const char **message)
{
	int code = sqlite3_errcode(DB(d));

	*message = sqlite3_errmsg(DB(d));
	switch (code & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return CAPSTAN_DB_OK;
	case SQLITE_CONSTRAINT:
		return code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY ?
			CAPSTAN_DB_EUNIQUE : CAPSTAN_DB_EOTHER;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return CAPSTAN_DB_EBUSY;
	case SQLITE_READONLY:
		return CAPSTAN_DB_EREADONLY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return CAPSTAN_DB_EDAMAGED;
	default:
		return CAPSTAN_DB_EOTHER;
	}
}

const capstan_db_driver capstan_db_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.handle = sq_handle,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.bind_int64 = sq_bind_int64,
	.bind_text = sq_bind_text,
	.bind_blob = sq_bind_blob,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.step_later = sq_step_later,
	.column_int64 = sq_column_int64,
	.column_text = sq_column_text,
	.column_blob = sq_column_blob,
	.column_bytes = sq_column_bytes,
	.column_is_null = sq_column_is_null,
	.column_count = sq_column_count,
	.column_name = sq_column_name,
	.column_type = sq_column_type,
	.reset = sq_reset,
	.finalize = sq_finalize,
	.changes = sq_changes,
	.error = sq_error,
	.dialect = &capstan_db_sqlite_dialect,
};
