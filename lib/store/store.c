/* The inventory database: opening it through its driver, and running the
 * driver's schema migrations that bring an older inventory up to date.
 * (Statements and transactions: store_db.c; SQLite: db_sqlite.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* SQLite unless the inventory's URL names another engine; both drivers'
 * schemas have the same steps. */
static const capstan_db_driver *const default_driver = &capstan_db_sqlite;

/* The driver an inventory's location names, and what the driver opens:
 * postgresql:// and postgres:// URLs are libpq's whole; sqlite:PATH is
 * PATH; anything else is a path to an SQLite database. */
static const capstan_db_driver *driver_for(const char *where, const char **what)
{
	*what = where;
	if (strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0)
		return &capstan_db_pg;
	if (strncmp(where, "sqlite:", 7) == 0)
		*what = where + 7;
	return &capstan_db_sqlite;
}

const char *capstan_store_file(const char *where)
{
	const char *what;

	return driver_for(where, &what) == &capstan_db_sqlite ? what : NULL;
}

/* The schema is the driver's (its migrations); the store runs them, and
 * fills what a step added from the rows already there. */
int capstan_store_schema_latest(void)
{
	return default_driver->dialect->migration_count;
}

/*
 * After the step that added certs.spki_sha256: each row's from its DER, in
 * one pass over the table in id order (the driver's statement).
 * A row whose DER does not read keeps NULL: capstan check reports it, and
 * refusing to open the inventory would help no one.
 */
static int backfill_spki(capstan_ctx *ctx, capstan_store_spki_fn spki_of)
{
	capstan_db_stmt *rows = NULL, *set = NULL;
	unsigned char md[CAPSTAN_SHA256_LEN];
	int rc, step = CAPSTAN_DB_DONE;

	if ((rc = capstan_store_prepare_named(ctx, &rows, CAPSTAN_DB_SPKI_ROWS)) < 0 ||
	    (rc = capstan_store_prepare(ctx, &set, "UPDATE certs SET spki_sha256 = ?2 WHERE id = ?1")) < 0)
		goto done;
	while ((step = capstan_db_step(rows)) == CAPSTAN_DB_ROW) {
		if (spki_of(ctx, capstan_db_blob(rows, 1), capstan_db_bytes(rows, 1), md) < 0)
			continue;
		capstan_db_bind_int64(set, 1, capstan_db_int64(rows, 0));
		capstan_db_bind_blob(set, 2, md, CAPSTAN_SHA256_LEN, CAPSTAN_DB_KEEP);
		if (capstan_db_step(set) != CAPSTAN_DB_DONE) {
			rc = capstan_store_error(ctx, "cannot record a certificate's key digest");
			break;
		}
		capstan_db_reset(set);
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read the certificates");
done:
	capstan_store_finish(ctx, rows);
	capstan_store_finish(ctx, set);
	return rc;
}

/* After the step that added service_certs: the membership of every service already recorded. */
static int backfill_service_certs(capstan_ctx *ctx)
{
	capstan_db_stmt *rows = NULL;
	int rc, step = CAPSTAN_DB_DONE;

	if ((rc = capstan_store_prepare(ctx, &rows, "SELECT env_id, name, certs FROM services")) < 0)
		return rc;
	while (rc == 0 && (step = capstan_db_step(rows)) == CAPSTAN_DB_ROW)
		rc = capstan_store_service_members(ctx, capstan_db_int64(rows, 0),
			capstan_db_text(rows, 1), capstan_db_text(rows, 2));
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read the services");
	capstan_store_finish(ctx, rows);
	return rc;
}

static int migrate(capstan_ctx *ctx, capstan_store_spki_fn spki_of)
{
	const capstan_db_dialect *dialect = ctx->store->conn->drv->dialect;
	const int latest = dialect->migration_count;
	char sql[128];
	int version, from, rc;

	if ((rc = capstan_store_schema_version(ctx, &version)) < 0)
		return rc;
	if (version == latest)
		return 0;
	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	/* Read again under the write lock: another process may have migrated. */
	if ((rc = capstan_store_schema_version(ctx, &version)) < 0)
		goto fail;
	if (version > latest) {
		rc = capstan_error(ctx, CAPSTAN_ERROR,
			"database '%s' has schema version %d, newer than this capstan (%d): upgrade capstan",
			ctx->store->path, version, latest);
		goto fail;
	}
	for (from = version; version < latest; version++) {
		if ((rc = capstan_store_exec(ctx, dialect->migrations[version], "cannot migrate the schema")) < 0)
			goto fail;
	}
	if (from < dialect->spki_version && (rc = backfill_spki(ctx, spki_of)) < 0)
		goto fail;
	if (from < dialect->service_certs_version && (rc = backfill_service_certs(ctx)) < 0)
		goto fail;
	snprintf(sql, sizeof(sql), capstan_db_sql(ctx->store->conn, CAPSTAN_DB_SCHEMA_VERSION_SET), latest);
	if ((rc = capstan_store_exec(ctx, sql, "cannot record the schema version")) < 0)
		goto fail;
	return capstan_store_commit(ctx);
fail:
	capstan_store_rollback(ctx);
	return rc;
}

int capstan_store_open(capstan_store **out, capstan_ctx *ctx, const char *path, int create,
	capstan_store_spki_fn spki_of)
{
	const capstan_db_setup *setup;
	const char *what;
	const capstan_db_driver *drv = driver_for(path, &what);
	capstan_store *st;
	capstan_db *conn = NULL;
	int rc;

	if ((rc = drv->open(ctx, what, create, &conn)) < 0)
		return rc;
	if (!(st = calloc(1, sizeof(*st))) || !(st->path = strdup(what))) {
		free(st);
		drv->close(conn);
		return capstan_error_oom(ctx);
	}
	st->conn = conn;
	st->db = conn->drv->handle(conn);
	ctx->store = st;
	for (setup = conn->drv->dialect->setup; setup->sql; setup++)
		if ((rc = capstan_store_exec(ctx, setup->sql, setup->what)) < 0)
			goto fail;
	if ((rc = migrate(ctx, spki_of)) < 0)
		goto fail;
	ctx->store = NULL;
	*out = st;
	return 0;
fail:
	ctx->store = NULL;
	capstan_store_close(st);
	return rc;
}
