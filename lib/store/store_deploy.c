/* The delivery tables: sealed keystore passwords and the deploy ledger. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "store_impl.h"

int capstan_store_bundle_password_get(capstan_ctx *ctx, int64_t env_id, const char *service, capstan_buf *sealed)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT sealed FROM bundle_passwords WHERE env_id = ?1 AND service = ?2")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, service);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW)
		rc = capstan_buf_append(ctx, sealed, capstan_db_blob(stmt, 0), capstan_db_bytes(stmt, 0));
	else
		rc = step == CAPSTAN_DB_DONE ? CAPSTAN_ENOTFOUND : capstan_store_error(ctx, "cannot read a bundle password");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_bundle_password_put(capstan_ctx *ctx, int64_t env_id, const char *service, const capstan_buf *sealed)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO bundle_passwords (env_id, service, sealed, created_at) VALUES (?1, ?2, ?3, ?4)"
		     " ON CONFLICT (env_id, service) DO UPDATE SET sealed = excluded.sealed,"
		     " created_at = excluded.created_at")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, service);
	capstan_db_bind_blob(stmt, 3, sealed->data, sealed->len, CAPSTAN_DB_COPY);
	capstan_db_bind_int64(stmt, 4, (int64_t)time(NULL));
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot record a bundle password");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_deploy_track(capstan_ctx *ctx, int64_t env_id, const char *service, const char *host)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO deploys (env_id, service, host) VALUES (?1, ?2, ?3)"
		     " ON CONFLICT (env_id, service, host) DO NOTHING")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, service);
	capstan_store_bind_text(stmt, 3, host);
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot record a deployment");
	capstan_store_finish(ctx, stmt);
	return rc;
}

static int deploy_from_row(capstan_ctx *ctx, capstan_db_stmt *stmt, capstan_store_deploy *d)
{
	d->id = capstan_db_int64(stmt, 0);
	d->env_id = capstan_db_int64(stmt, 1);
	d->env = capstan_store_column_strdup(stmt, 2);
	d->service = capstan_store_column_strdup(stmt, 3);
	d->host = capstan_store_column_strdup(stmt, 4);
	d->dir = capstan_store_column_strdup(stmt, 5);
	d->certs = capstan_store_column_strdup(stmt, 6);
	d->crl_refresh_at = capstan_db_int64(stmt, 7);
	d->rendered_at = capstan_db_int64(stmt, 8);
	d->hook_pending = capstan_db_int(stmt, 9);
	d->failures = capstan_db_int64(stmt, 10);
	d->last_error = capstan_store_column_strdup(stmt, 11);
	d->deployed_at = capstan_db_int64(stmt, 12);
	d->stale = capstan_store_column_strdup(stmt, 13);
	if (!d->env || !d->service || !d->host || !d->certs ||
	    (!d->dir && !capstan_db_is_null(stmt, 5)) ||
	    (!d->last_error && !capstan_db_is_null(stmt, 11)) ||
	    (!d->stale && !capstan_db_is_null(stmt, 13)))
		return capstan_error_oom(ctx);
	return 0;
}

int capstan_store_deploy_list(capstan_ctx *ctx, int64_t env_id, capstan_store_deploy **out, size_t *count)
{
	capstan_db_stmt *stmt = NULL;
	capstan_store_deploy *rows = NULL;
	size_t n = 0, alloc = 0;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT d.id, d.env_id, e.name, d.service, d.host, d.dir, d.certs, d.crl_refresh_at, d.rendered_at,"
		     " d.hook_pending, d.failures, d.last_error, d.deployed_at, d.stale"
		     " FROM deploys d JOIN envs e ON e.id = d.env_id WHERE ?1 = 0 OR d.env_id = ?1"
		     " ORDER BY e.name, d.service, d.host")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	while (rc == 0 && (step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		if (n == alloc) {
			capstan_store_deploy *grown = realloc(rows, (alloc = alloc ? alloc * 2 : 8) * sizeof(*rows));
			if (!grown) {
				rc = capstan_error_oom(ctx);
				break;
			}
			rows = grown;
		}
		memset(&rows[n], 0, sizeof(rows[n]));
		rc = deploy_from_row(ctx, stmt, &rows[n++]);
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read the deploy ledger");
	capstan_store_finish(ctx, stmt);
	if (rc < 0) {
		capstan_store_deploy_list_free(rows, n);
		return rc;
	}
	*out = rows;
	*count = n;
	return 0;
}

void capstan_store_deploy_list_free(capstan_store_deploy *rows, size_t count)
{
	for (size_t i = 0; rows && i < count; i++) {
		free(rows[i].env);
		free(rows[i].service);
		free(rows[i].host);
		free(rows[i].dir);
		free(rows[i].certs);
		free(rows[i].last_error);
		free(rows[i].stale);
	}
	free(rows);
}

/* One statement on a ledger row: ?1 its id, then whichever of ?2 (text) and
 * ?3..?6 (integers) the statement uses (binding an absent one is a no-op). */
static int deploy_update(capstan_ctx *ctx, const char *sql, int64_t id, const char *text, const char *text2,
	int64_t a, int64_t b, int64_t c)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, sql)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, id);
	capstan_store_bind_text(stmt, 2, text);
	capstan_store_bind_text(stmt, 3, text2);
	capstan_db_bind_int64(stmt, 4, a);
	capstan_db_bind_int64(stmt, 5, b);
	capstan_db_bind_int64(stmt, 6, c);
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot update the deploy ledger");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_deploy_rendered(capstan_ctx *ctx, int64_t id, const char *dir, const char *certs,
	int64_t crl_refresh_at, int64_t at, int hook_pending)
{
	return deploy_update(ctx,
		"UPDATE deploys SET dir = ?2, certs = ?3, crl_refresh_at = ?4, rendered_at = ?5, stale = NULL,"
		" hook_pending = CASE WHEN ?6 <> 0 THEN 1 ELSE hook_pending END WHERE id = ?1", id, dir, certs, crl_refresh_at, at, hook_pending);
}

int capstan_store_deploy_done(capstan_ctx *ctx, int64_t id, int64_t at, int hook_ran)
{
	/* Without a hook, a hook an earlier run owes stays owed. */
	return deploy_update(ctx,
		"UPDATE deploys SET hook_pending = 0, failures = 0, last_error = NULL, deployed_at = ?4"
		" WHERE id = ?1 AND (?5 <> 0 OR hook_pending = 0)", id, NULL, NULL, at, hook_ran, 0);
}

int capstan_store_deploy_stale(capstan_ctx *ctx, int64_t env_id, const char *service, const char *why)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "UPDATE deploys SET stale = ?3 WHERE env_id = ?1 AND service = ?2")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, service);
	capstan_store_bind_text(stmt, 3, why);
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot update the deploy ledger");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_deploy_failed(capstan_ctx *ctx, int64_t id, const char *error)
{
	return deploy_update(ctx, "UPDATE deploys SET failures = failures + 1, last_error = ?2 WHERE id = ?1",
		id, error, NULL, 0, 0, 0);
}

int capstan_store_deploy_forget(capstan_ctx *ctx, int64_t id)
{
	return deploy_update(ctx, "DELETE FROM deploys WHERE id = ?1", id, NULL, NULL, 0, 0, 0);
}

int capstan_store_last_revocation(capstan_ctx *ctx, int64_t env_id, int64_t *at)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	/* Kept by the certs_revoked_env_* triggers: no scan of the revoked rows. */
	if ((rc = capstan_store_prepare(ctx, &stmt, "SELECT revoked_at FROM envs WHERE id = ?1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	if (capstan_db_step(stmt) != CAPSTAN_DB_ROW)
		rc = capstan_store_error(ctx, "cannot read revocations");
	else
		*at = capstan_db_int64(stmt, 0);
	capstan_store_finish(ctx, stmt);
	return rc;
}
