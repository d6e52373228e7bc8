/* What the OCSP responder reads and keeps: every CA, a serial's status under
 * its issuer, and each CA's delegated responder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_impl.h"

int capstan_store_cas(capstan_ctx *ctx, time_t now, capstan_cert ***out, size_t *count)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	/* By (env, kind) seeks: never a scan of the leaves (the driver's statement). */
	if ((rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_CAS)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, (int64_t)now);
	return capstan_store_cert_list(ctx, stmt, out, count);
}

int capstan_store_serial_status(capstan_ctx *ctx, int64_t issuer_id, const char *serial,
	capstan_store_serial_state *out)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	memset(out, 0, sizeof(*out));
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT status = 'revoked', revoked_at, revoke_reason FROM certs"
		     " WHERE issuer_id = ?1 AND serial = ?2")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, issuer_id);
	capstan_db_bind_text(stmt, 2, serial, CAPSTAN_DB_KEEP);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW) {
		const char *reason = capstan_db_text(stmt, 2);
		out->issued = 1;
		out->revoked = capstan_db_int(stmt, 0);
		out->revoked_at = (time_t)capstan_db_int64(stmt, 1);
		snprintf(out->reason, sizeof(out->reason), "%s", reason ? reason : "");
	} else if (step != CAPSTAN_DB_DONE) {
		rc = capstan_store_error(ctx, "cannot read a certificate's status");
	}
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_ocsp_responder_get(capstan_ctx *ctx, int64_t issuer_id, capstan_store_ocsp_responder *out)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	memset(out, 0, sizeof(*out));
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT der, key_sealed, not_before, not_after FROM ocsp_responders WHERE issuer_id = ?1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, issuer_id);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW) {
		if ((rc = capstan_buf_set(ctx, &out->der, capstan_db_blob(stmt, 0),
			     capstan_db_bytes(stmt, 0))) == 0 &&
		    (rc = capstan_buf_set(ctx, &out->sealed, capstan_db_blob(stmt, 1),
			     capstan_db_bytes(stmt, 1))) == 0) {
			out->not_before = (time_t)capstan_db_int64(stmt, 2);
			out->not_after = (time_t)capstan_db_int64(stmt, 3);
			out->found = 1;
		}
	} else if (step != CAPSTAN_DB_DONE) {
		rc = capstan_store_error(ctx, "cannot read the OCSP responder");
	}
	capstan_store_finish(ctx, stmt);
	if (rc < 0)
		capstan_store_ocsp_responder_clear(out);
	return rc;
}

int capstan_store_ocsp_responder_put(capstan_ctx *ctx, int64_t issuer_id, const capstan_store_ocsp_responder *r)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO ocsp_responders (issuer_id, der, key_sealed, not_before, not_after, created_at)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		     " ON CONFLICT (issuer_id) DO UPDATE SET der = excluded.der, key_sealed = excluded.key_sealed,"
		     " not_before = excluded.not_before, not_after = excluded.not_after, created_at = excluded.created_at")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, issuer_id);
	capstan_db_bind_blob(stmt, 2, r->der.data, r->der.len, CAPSTAN_DB_KEEP);
	capstan_db_bind_blob(stmt, 3, r->sealed.data, r->sealed.len, CAPSTAN_DB_KEEP);
	capstan_db_bind_int64(stmt, 4, (int64_t)r->not_before);
	capstan_db_bind_int64(stmt, 5, (int64_t)r->not_after);
	capstan_db_bind_int64(stmt, 6, (int64_t)time(NULL));
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE)
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
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, "DELETE FROM meta WHERE key = ?1")) < 0)
		return rc;
	capstan_db_bind_text(stmt, 1, key, CAPSTAN_DB_KEEP);
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot write metadata");
	capstan_store_finish(ctx, stmt);
	return rc;
}
