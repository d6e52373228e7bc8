/* The store's side of `capstan check`: the engine's own checks (the
 * driver's statements), and every certificate row with its key row, read
 * in one pass. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "store_impl.h"

/* integrity_check may put several findings in one row, a line each (under
 * a "*** in database main ***" heading): one finding per call, never a
 * multi-line string in one message. */
static int each_line(const char *text, capstan_store_problem_fn fn, void *payload)
{
	char line[512];
	int rc = 0;

	while (rc == 0 && *text) {
		size_t len = strcspn(text, "\r\n");
		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) - 1 ? len : sizeof(line) - 1), text);
		if (line[0] && strncmp(line, "*** ", 4) != 0)
			rc = fn(line, payload);
		text += len;
		text += strspn(text, "\r\n");
	}
	return rc;
}

int capstan_store_integrity(capstan_ctx *ctx, capstan_store_problem_fn fn, void *payload)
{
	capstan_db_stmt *stmt = NULL;
	char msg[512];
	int rc = 0, step;

	if ((rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_INTEGRITY)) < 0)
		return rc;
	while (rc == 0 && (step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		const char *text = capstan_db_text(stmt, 0);
		if (text && strcmp(text, "ok") != 0)
			rc = each_line(text, fn, payload);
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = fn(capstan_db_errmsg(ctx->store->conn), payload);
	capstan_store_finish(ctx, stmt);
	if (rc < 0 || (rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_FOREIGN_KEYS)) < 0)
		return rc;
	while (rc == 0 && (step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		snprintf(msg, sizeof(msg), "row %lld of table %s refers to a missing row of %s",
			(long long)capstan_db_int64(stmt, 1), capstan_db_text(stmt, 0),
			capstan_db_text(stmt, 2));
		rc = fn(msg, payload);
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = fn(capstan_db_errmsg(ctx->store->conn), payload);
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_duplicate_serials(capstan_ctx *ctx, capstan_store_problem_fn fn, void *payload)
{
	capstan_db_stmt *stmt = NULL;
	char msg[256];
	int rc, step;

	/* The UNIQUE index compares text: "AB" and "ab" pass it, and a damaged
	 * index passes anything. A serial is a number: compared in lower case.
	 * (i.subject grouped too: PostgreSQL refuses a column it cannot see is
	 * one per group.) */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT lower(c.serial), coalesce(i.subject, '(self-signed)'), count(*) FROM certs c"
		     " LEFT JOIN certs i ON i.id = c.issuer_id"
		     " GROUP BY c.issuer_id, lower(c.serial), i.subject HAVING count(*) > 1")) < 0)
		return rc;
	while (rc == 0 && (step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		snprintf(msg, sizeof(msg), "serial %s is used %d times by issuer %s",
			capstan_db_text(stmt, 0), capstan_db_int(stmt, 2),
			capstan_db_text(stmt, 1));
		rc = fn(msg, payload);
	}
	/* A query that fails is a finding, not a silent pass. */
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = fn(capstan_db_errmsg(ctx->store->conn), payload);
	capstan_store_finish(ctx, stmt);
	return rc;
}

static void row_from_stmt(capstan_db_stmt *s, capstan_store_check_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = capstan_db_int64(s, 0);
	r->env_id = capstan_db_int64(s, 1);
	r->env = capstan_db_text(s, 2);
	r->name = capstan_db_text(s, 3);
	r->serial = capstan_db_text(s, 4);
	r->fingerprint = capstan_db_text(s, 5);
	r->kind = capstan_db_text(s, 6);
	r->status = capstan_db_text(s, 7);
	r->not_after = (time_t)capstan_db_int64(s, 8);
	r->der = capstan_db_blob(s, 9);
	r->der_len = capstan_db_bytes(s, 9);
	r->key_id = capstan_db_int64(s, 10);
	r->spki = capstan_db_blob(s, 11);
	r->spki_len = capstan_db_bytes(s, 11);
	r->sealed = capstan_db_blob(s, 12);
	r->sealed_len = capstan_db_bytes(s, 12);
	r->from_csr = capstan_db_int(s, 13);
	r->cert_spki = capstan_db_blob(s, 14);
	r->cert_spki_len = capstan_db_bytes(s, 14);
	r->key_uri = capstan_db_text(s, 15);
}

/* Rows a page: PostgreSQL's driver holds a result whole, and a million
 * certificates with their sealed keys are some 2 GB. The page is taken
 * before the joins, so that they look up its rows by key (as one query,
 * PostgreSQL joined whole tables for each page: migrate's check of 100,000
 * took 70 s instead of 38). */
#define CHECK_PAGE 1000

int capstan_store_check_rows(capstan_ctx *ctx, capstan_store_check_fn fn, void *payload)
{
	capstan_db_stmt *stmt = NULL;
	capstan_store_check_row row;
	int64_t last_id = 0;
	int rc, step, n;

	/* A keyless certificate is fine when it was issued from a CSR, or
	 * imported without its key (an imported intermediate's root, a leaf
	 * whose key was not kept), which its audit row says (looked up only
	 * for keyless rows, through audit_serial). */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT c.id, c.env_id, e.name, c.name, c.serial, c.fingerprint, c.kind, c.status,"
		     " c.not_after, c.der, c.key_id, k.spki_sha256, k.sealed,"
		     " CASE WHEN c.key_id IS NULL AND EXISTS (SELECT 1 FROM audit a WHERE a.serial = c.serial"
		     "   AND ((a.op = 'issue' AND a.detail = 'from CSR')"
		     "    OR (a.op = 'import' AND a.detail LIKE '%without its key'))) THEN 1 ELSE 0 END,"
		     " c.spki_sha256, k.uri"
		     " FROM (SELECT * FROM certs WHERE id > ?1 ORDER BY id LIMIT " CAPSTAN_STR(CHECK_PAGE) ") c"
		     " JOIN envs e ON e.id = c.env_id LEFT JOIN keys k ON k.id = c.key_id ORDER BY c.id")) < 0)
		return rc;
	do {
		n = 0;
		capstan_db_bind_int64(stmt, 1, last_id);
		while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
			row_from_stmt(stmt, &row);
			last_id = row.id;
			n++;
			if ((rc = fn(&row, payload)) < 0)
				break;
		}
		if (rc == 0 && step != CAPSTAN_DB_DONE)
			rc = capstan_store_error(ctx, "cannot read the certificates");
		capstan_db_reset(stmt);
	} while (rc == 0 && n == CHECK_PAGE);
	capstan_store_finish(ctx, stmt);
	return rc;
}
