/* A batch's rows written a chunk at a time: one lookup for the chunk's
 * names, one INSERT of several rows for its keys and one for its
 * certificates (its audit rows: capstan_store_audit_insert_rows), where a
 * certificate at a time took six statements. On
 * PostgreSQL each statement is a round trip and a run of the executor on the
 * server, whose CPU the batch's signing needs; SQLite gains less, loses
 * nothing (capstan_store_prepare_rows: how the statements are cut). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* Columns of each row a statement below inserts. */
#define KEY_COLS 4
#define CERT_COLS 20

static void latest_row(capstan_db_stmt *stmt, const char *const *names, size_t n, capstan_store_latest *out)
{
	const char *name = capstan_db_text(stmt, 0);
	const char *status = capstan_db_text(stmt, 2), *kind = capstan_db_text(stmt, 5);
	capstan_store_latest l = { capstan_db_int64(stmt, 1), CAPSTAN_STATUS_VALID, "" };

	if (status && strcmp(status, "revoked") == 0)
		l.status = CAPSTAN_STATUS_REVOKED;
	else if (status && strcmp(status, "superseded") == 0)
		l.status = CAPSTAN_STATUS_SUPERSEDED;
	else if (capstan_db_int64(stmt, 3) <= (int64_t)time(NULL))
		l.status = CAPSTAN_STATUS_EXPIRED;
	snprintf(l.serial, sizeof(l.serial), "%s", capstan_db_text(stmt, 4) ? capstan_db_text(stmt, 4) : "");
	if (!kind || strcmp(kind, capstan_store_kind_names[CAPSTAN_KIND_LEAF]) != 0)
		return;
	for (size_t i = 0; name && i < n; i++)
		if (l.id > out[i].id && strcmp(names[i], name) == 0)
			out[i] = l;
}

int capstan_store_leaves_latest(capstan_ctx *ctx, int64_t env_id, const char *const *names, size_t n,
	capstan_store_latest *out)
{
	char sql[140 * CAPSTAN_STORE_MULTI_MAX];
	size_t at;
	int rc = 0, step;

	memset(out, 0, n * sizeof(*out));
	/* Every certificate of each name, one branch a name matched by the
	 * (env_id, name, kind) index; the leaves' newest kept here (a batch's
	 * names are mostly new, or have a few). Before its first ANALYZE,
	 * PostgreSQL's planner took (env_id, kind, status) for name IN (...),
	 * and for each branch too when it said kind = 'leaf', filtering the
	 * environment's every leaf by name: 15-26 ms a chunk at 5,000 rows (as
	 * schema 12's comment tells of the single lookup). */
	at = 0;
	for (int i = 0; i < CAPSTAN_STORE_MULTI_MAX; i++)
		at += (size_t)snprintf(sql + at, sizeof(sql) - at, "%sSELECT name, id, status, not_after, serial, kind"
			" FROM certs WHERE env_id = ?1 AND name = ?%d", i ? " UNION ALL " : "", i + 2);
	/* One text for every chunk: the names past n repeat the last one. */
	for (size_t done = 0; rc == 0 && done < n; done += CAPSTAN_STORE_MULTI_MAX) {
		size_t k = n - done < CAPSTAN_STORE_MULTI_MAX ? n - done : CAPSTAN_STORE_MULTI_MAX;
		capstan_db_stmt *stmt = NULL;

		if ((rc = capstan_store_prepare(ctx, &stmt, sql)) < 0)
			return rc;
		capstan_db_bind_int64(stmt, 1, env_id);
		for (size_t i = 0; i < CAPSTAN_STORE_MULTI_MAX; i++)
			capstan_db_bind_text(stmt, (int)i + 2, names[done + (i < k ? i : k - 1)], CAPSTAN_DB_KEEP);
		while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW)
			latest_row(stmt, names + done, k, out + done);
		if (step != CAPSTAN_DB_DONE)
			rc = capstan_store_error(ctx, "cannot read certificates by name");
		capstan_store_finish(ctx, stmt);
	}
	return rc;
}

/* Keys rows[0..n) in one statement; each one's id from what it returns. */
static int keys_insert(capstan_ctx *ctx, capstan_store_new_leaf *rows, size_t n, int64_t *key_ids)
{
	capstan_db_stmt *stmt = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc, step;

	if ((rc = capstan_store_prepare_rows(ctx, &stmt, "INSERT INTO keys (key_type, spki_sha256, sealed, created_at)", KEY_COLS,
		     n, " RETURNING id, spki_sha256")) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		int p = (int)i * KEY_COLS;
		capstan_store_bind_text(stmt, p + 1, capstan_key_type_name(rows[i].cert->key_type));
		capstan_db_bind_blob(stmt, p + 2, rows[i].spki, CAPSTAN_SHA256_LEN, CAPSTAN_DB_KEEP);
		capstan_db_bind_blob(stmt, p + 3, rows[i].sealed->data, rows[i].sealed->len, CAPSTAN_DB_KEEP);
		capstan_db_bind_int64(stmt, p + 4, now);
		key_ids[i] = 0;
	}
	/* Matched by key: the order of a RETURNING is the engine's. A fresh
	 * key's digest is its own. */
	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		const void *spki = capstan_db_blob(stmt, 1);
		for (size_t i = 0; spki && capstan_db_bytes(stmt, 1) == CAPSTAN_SHA256_LEN && i < n; i++)
			if (!key_ids[i] && memcmp(spki, rows[i].spki, CAPSTAN_SHA256_LEN) == 0) {
				key_ids[i] = capstan_db_int64(stmt, 0);
				break;
			}
	}
	rc = step == CAPSTAN_DB_DONE ? 0 : capstan_store_error(ctx, "cannot store keys");
	capstan_store_finish(ctx, stmt);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!key_ids[i])
			rc = capstan_error(ctx, CAPSTAN_ERROR, "a stored key did not come back from the database");
	return rc;
}

/* Certificates rows[0..n) in one statement; a serial its issuer used
 * already inserts nothing (no row back, id left 0), as in
 * capstan_store_cert_insert. */
static int certs_insert(capstan_ctx *ctx, int64_t env_id, capstan_store_new_leaf *rows, size_t n,
	const int64_t *key_ids)
{
	capstan_db_stmt *stmt = NULL;
	char *sans[CAPSTAN_STORE_MULTI_MAX] = { 0 };
	int64_t now = (int64_t)time(NULL);
	int rc, step = CAPSTAN_DB_DONE;

	if ((rc = capstan_store_prepare_rows(ctx, &stmt,
		     "INSERT INTO certs (env_id, kind, name, serial, issuer_id, key_id, profile, subject, issuer, sans,"
		     " service, key_type, lifetime, renew_before, not_before, not_after, fingerprint, der, spki_sha256,"
		     " created_at)", CERT_COLS, n, " ON CONFLICT (issuer_id, serial) DO NOTHING RETURNING id, serial")) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		capstan_strlist l = { rows[i].cert->sans, rows[i].cert->san_count, rows[i].cert->san_count };
		rows[i].cert->id = 0;
		if (!(sans[i] = capstan_strlist_join(&l, "\n")))
			rc = capstan_error_oom(ctx);
		else
			capstan_store_bind_cert(stmt, (int)i * CERT_COLS, env_id, rows[i].cert, key_ids[i], rows[i].spki,
				sans[i], now);
	}
	while (rc == 0 && (step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		const char *serial = capstan_db_text(stmt, 1);
		for (size_t i = 0; serial && i < n; i++)
			if (!rows[i].cert->id && strcmp(serial, rows[i].cert->serial) == 0) {
				rows[i].cert->id = capstan_db_int64(stmt, 0);
				break;
			}
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot record certificates");
	capstan_store_finish(ctx, stmt);
	for (size_t i = 0; i < n; i++)
		free(sans[i]);
	return rc;
}

int capstan_store_leaves_insert(capstan_ctx *ctx, int64_t env_id, capstan_store_new_leaf *rows, size_t n)
{
	int64_t key_ids[CAPSTAN_STORE_MULTI_MAX];
	int rc = 0;

	for (size_t done = 0, k; rc == 0 && done < n; done += k) {
		k = capstan_store_rows_piece(n - done);
		if ((rc = keys_insert(ctx, rows + done, k, key_ids)) < 0 ||
		    (rc = certs_insert(ctx, env_id, rows + done, k, key_ids)) < 0)
			break;
		for (size_t i = 0; i < k; i++)
			rows[done + i].key_id = key_ids[i];
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (rows[i].cert->id)
			rc = capstan_store_state_note(ctx, rows[i].cert->serial, "valid", NULL,
				rows[i].cert->fingerprint_sha256);
	return rc;
}
