/* What the OCSP responder reads and keeps: every CA, a serial's status under
 * its issuer, and each CA's delegated responder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int capstan_store_cas(capstan_ctx *ctx, time_t now, capstan_cert ***out, size_t *count)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	/* By (env, kind) seeks: never a scan of the leaves. CROSS JOIN keeps envs
	 * the outer loop; with a plain JOIN SQLite scanned all of certs_env_kind. */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT " CERT_COLUMNS " FROM envs e CROSS JOIN certs c INDEXED BY certs_env_kind ON c.env_id = e.id"
		     " WHERE c.kind IN ('root', 'intermediate') AND +c.not_after > ?1 ORDER BY c.id")) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)now);
	return capstan_store_cert_list(ctx, stmt, out, count);
}

int capstan_store_serial_status(capstan_ctx *ctx, int64_t issuer_id, const char *serial,
	capstan_store_serial_state *out)
{
	sqlite3_stmt *stmt = NULL;
	int rc, step;

	memset(out, 0, sizeof(*out));
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT status = 'revoked', revoked_at, revoke_reason FROM certs"
		     " WHERE issuer_id = ?1 AND serial = ?2")) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, issuer_id);
	sqlite3_bind_text(stmt, 2, serial, -1, SQLITE_STATIC);
	step = sqlite3_step(stmt);
	if (step == SQLITE_ROW) {
		const unsigned char *reason = sqlite3_column_text(stmt, 2);
		out->issued = 1;
		out->revoked = sqlite3_column_int(stmt, 0);
		out->revoked_at = (time_t)sqlite3_column_int64(stmt, 1);
		snprintf(out->reason, sizeof(out->reason), "%s", reason ? (const char *)reason : "");
	} else if (step != SQLITE_DONE) {
		rc = capstan_store_error(ctx, "cannot read a certificate's status");
	}
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_ocsp_responder_get(capstan_ctx *ctx, int64_t issuer_id, capstan_store_ocsp_responder *out)
{
	sqlite3_stmt *stmt = NULL;
	int rc, step;

	memset(out, 0, sizeof(*out));
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT der, key_sealed, not_before, not_after FROM ocsp_responders WHERE issuer_id = ?1")) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, issuer_id);
	step = sqlite3_step(stmt);
	if (step == SQLITE_ROW) {
		if ((rc = capstan_buf_set(ctx, &out->der, sqlite3_column_blob(stmt, 0),
			     (size_t)sqlite3_column_bytes(stmt, 0))) == 0 &&
		    (rc = capstan_buf_set(ctx, &out->sealed, sqlite3_column_blob(stmt, 1),
			     (size_t)sqlite3_column_bytes(stmt, 1))) == 0) {
			out->not_before = (time_t)sqlite3_column_int64(stmt, 2);
			out->not_after = (time_t)sqlite3_column_int64(stmt, 3);
			out->found = 1;
		}
	} else if (step != SQLITE_DONE) {
		rc = capstan_store_error(ctx, "cannot read the OCSP responder");
	}
	capstan_store_finish(ctx, stmt);
	if (rc < 0)
		capstan_store_ocsp_responder_clear(out);
	return rc;
}

int capstan_store_ocsp_responder_put(capstan_ctx *ctx, int64_t issuer_id, const capstan_store_ocsp_responder *r)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO ocsp_responders (issuer_id, der, key_sealed, not_before, not_after, created_at)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, strftime('%s', 'now'))"
		     " ON CONFLICT (issuer_id) DO UPDATE SET der = excluded.der, key_sealed = excluded.key_sealed,"
		     " not_before = excluded.not_before, not_after = excluded.not_after, created_at = excluded.created_at")) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, issuer_id);
	sqlite3_bind_blob(stmt, 2, r->der.data, (int)r->der.len, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, r->sealed.data, (int)r->sealed.len, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)r->not_before);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)r->not_after);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = capstan_store_error(ctx, "cannot record the OCSP responder");
	capstan_store_finish(ctx, stmt);
	return rc;
}

void capstan_store_ocsp_responder_clear(capstan_store_ocsp_responder *r)
{
	capstan_buf_free(&r->der);
	capstan_buf_free(&r->sealed);
	memset(r, 0, sizeof(*r));
}

int capstan_store_meta_delete(capstan_ctx *ctx, const char *key)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, "DELETE FROM meta WHERE key = ?1")) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = capstan_store_error(ctx, "cannot write metadata");
	capstan_store_finish(ctx, stmt);
	return rc;
}
