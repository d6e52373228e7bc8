/* The issuance policy apply records (policies): one row for each level of
 * an environment that has one, read by every issuance. */
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

void capstan_store_policy_free(capstan_store_policy *rows, size_t count)
{
	for (size_t i = 0; rows && i < count; i++) {
		free(rows[i].service);
		free(rows[i].body);
	}
	free(rows);
}

int capstan_store_policy_list(capstan_ctx *ctx, int64_t env_id, const char *service, capstan_store_policy **out,
	size_t *count)
{
	capstan_db_stmt *stmt = NULL;
	capstan_store_policy *rows = NULL, *more;
	size_t n = 0;
	int rc, step;

	*out = NULL;
	*count = 0;
	/* ?2 NULL: every row; else the environment's own and that service's. */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT level, service, body FROM policies WHERE env_id = ?1"
		     " AND (CAST(?2 AS TEXT) IS NULL OR service = '' OR service = ?2) ORDER BY level, service")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, service);
	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		if (!(more = realloc(rows, (n + 1) * sizeof(*rows)))) {
			rc = capstan_error_oom(ctx);
			break;
		}
		rows = more;
		rows[n].level = capstan_db_int(stmt, 0);
		rows[n].service = capstan_store_column_strdup(stmt, 1);
		rows[n].body = capstan_store_column_strdup(stmt, 2);
		if (!rows[n++].body) {
			rc = capstan_error_oom(ctx);
			break;
		}
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read the issuance policy");
	capstan_store_finish(ctx, stmt);
	if (rc < 0) {
		capstan_store_policy_free(rows, n);
		return rc;
	}
	*out = rows;
	*count = n;
	return 0;
}

int capstan_store_policy_put(capstan_ctx *ctx, int64_t env_id, const char *service, int level, const char *body)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "DELETE FROM policies WHERE env_id = ?1 AND service = ?2 AND level = ?3")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_db_bind_text(stmt, 2, service, CAPSTAN_DB_KEEP);
	capstan_db_bind_int64(stmt, 3, level);
	if ((rc = capstan_store_step_done(ctx, stmt, "cannot replace the issuance policy")) < 0 || !body)
		return rc;
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO policies (env_id, service, level, body) VALUES (?1, ?2, ?3, ?4)")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_db_bind_text(stmt, 2, service, CAPSTAN_DB_KEEP);
	capstan_db_bind_int64(stmt, 3, level);
	capstan_db_bind_text(stmt, 4, body, CAPSTAN_DB_KEEP);
	return capstan_store_step_done(ctx, stmt, "cannot record the issuance policy");
}
