/* Rows for the certificate lifecycle: renewal candidates, revocations, CRL
 * issuers and numbers, trust anchors, status counts. */
#include <stdlib.h>
#include <string.h>

#include <capstan/policy.h>

#include "base/base.h"
#include "store_impl.h"

/*
 * When a row is due, in SQL. ?3 (--within) is taken as asked: a run told to
 * renew what ends within 400 days renews a 30-day certificate. Otherwise the
 * window is the certificate's own, else 30 days or a third of its lifetime,
 * whichever is shorter; an own window as long as the validity the
 * certificate was granted would make every run renew it again, so it falls
 * back to a third of the validity (as cert-manager does): nightly runs stay
 * idempotent. With ?4 (--from-old-ca), a leaf whose issuer was rotated out is
 * due too, and one a root signed itself (an imported PKI's: capstan's own
 * leaves are under an intermediate). capstan_renew_window (policy.c) is the same rule in C.
 */
#define OWN_WINDOW \
	"(CASE WHEN c.renew_before > 0 THEN c.renew_before" \
	" WHEN c.lifetime / 3 < 2592000 THEN c.lifetime / 3 ELSE 2592000 END)"
/* The validity granted, without the backdating of notBefore. */
#define GRANTED "(c.not_after - c.not_before - " CAPSTAN_STR(CAPSTAN_BACKDATE_SECONDS) ")"
#define DUE_WINDOW \
	"(CASE WHEN ?3 > 0 THEN ?3 WHEN " OWN_WINDOW " < " GRANTED " THEN " OWN_WINDOW \
	" ELSE " GRANTED " / 3 END)"
#define DUE_CONDITION \
	"(c.not_after <= ?2 + " DUE_WINDOW \
	" OR (?4 <> 0 AND EXISTS (SELECT 1 FROM certs i WHERE i.id = c.issuer_id AND (i.status != 'valid'" \
	" OR i.kind = 'root'))))"

/* The widest window any certificate can have: --within, else 30 days or the
 * largest renew-before of all (an index lookup). Only a certificate ending
 * within that of now can be due, so the candidates are an index range. */
static int widest_window(capstan_ctx *ctx, int64_t within, int64_t *out)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if (within > 0)
		return *out = within, 0;
	if ((rc = capstan_store_prepare(ctx, &stmt, "SELECT max(renew_before) FROM certs")) < 0)
		return rc;
	if (capstan_db_step(stmt) != CAPSTAN_DB_ROW)
		rc = capstan_store_error(ctx, "cannot read renew-before windows");
	else
		*out = capstan_db_int64(stmt, 0) > 2592000 ? capstan_db_int64(stmt, 0) : 2592000;
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_due_ids(capstan_ctx *ctx, int64_t env_id, time_t now, int64_t within,
	int from_old_ca, int64_t **ids, size_t *count)
{
	capstan_db_stmt *stmt = NULL;
	int64_t *list = NULL, widest = 0;
	size_t n = 0, alloc = 0;
	int rc, step;

	if ((rc = widest_window(ctx, within, &widest)) < 0)
		return rc;
	/* ?4 is 0 here: the old-CA case is its own indexed branch. */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT c.id, c.not_after FROM certs c WHERE c.status = 'valid' AND c.not_after <= ?2 + ?5"
		     " AND c.kind = 'leaf' AND (?1 = 0 OR c.env_id = ?1) AND " DUE_CONDITION
		     " UNION SELECT c.id, c.not_after FROM certs i JOIN certs c ON c.issuer_id = i.id"
		     " WHERE ?6 <> 0 AND ((i.kind = 'intermediate' AND i.status != 'valid') OR i.kind = 'root')"
		     " AND c.status = 'valid'"
		     " AND c.kind = 'leaf' AND (?1 = 0 OR c.env_id = ?1)"
		     " ORDER BY 2, 1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_db_bind_int64(stmt, 2, (int64_t)now);
	capstan_db_bind_int64(stmt, 3, within);
	capstan_db_bind_int64(stmt, 4, 0);
	capstan_db_bind_int64(stmt, 5, widest);
	capstan_db_bind_int64(stmt, 6, from_old_ca);
	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		if (n == alloc) {
			int64_t *grown = realloc(list, (alloc = alloc ? alloc * 2 : 64) * sizeof(*list));
			if (!grown) {
				rc = capstan_error_oom(ctx);
				break;
			}
			list = grown;
		}
		list[n++] = capstan_db_int64(stmt, 0);
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot find certificates due for renewal");
	capstan_store_finish(ctx, stmt);
	if (rc < 0) {
		free(list);
		return rc;
	}
	*ids = list;
	*count = n;
	return 0;
}

int capstan_store_still_due(capstan_ctx *ctx, int64_t id, time_t now, int64_t within, int from_old_ca)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT 1 FROM certs c WHERE c.id = ?1 AND c.status = 'valid' AND " DUE_CONDITION)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, id);
	capstan_db_bind_int64(stmt, 2, (int64_t)now);
	capstan_db_bind_int64(stmt, 3, within);
	capstan_db_bind_int64(stmt, 4, from_old_ca);
	step = capstan_db_step(stmt);
	rc = step == CAPSTAN_DB_ROW ? 1 : step == CAPSTAN_DB_DONE ? 0 :
		capstan_store_error(ctx, "cannot check a certificate");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_cert_revoke(capstan_ctx *ctx, int64_t id, time_t at, const char *reason)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "UPDATE certs SET status = 'revoked', revoked_at = ?2, revoke_reason = ?3"
		     " WHERE id = ?1 AND status != 'revoked' RETURNING serial, fingerprint")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, id);
	capstan_db_bind_int64(stmt, 2, (int64_t)at);
	capstan_store_bind_text(stmt, 3, reason);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW)
		rc = capstan_store_state_note(ctx, capstan_db_text(stmt, 0), "revoked", reason,
			capstan_db_text(stmt, 1));
	else if (step == CAPSTAN_DB_DONE)
		rc = capstan_error(ctx, CAPSTAN_EEXISTS, "the certificate is already revoked");
	else
		rc = capstan_store_error(ctx, "cannot revoke");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_certs_same_key(capstan_ctx *ctx, int64_t cert_id, time_t now, capstan_cert ***out,
	size_t *count)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	/* The subquery is one value: certs_spki is searched for it. A row whose
	 * digest is NULL (its DER did not read) matches nothing. */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT " CERT_COLUMNS CERT_FROM
		     "WHERE c.spki_sha256 = (SELECT spki_sha256 FROM certs WHERE id = ?1) AND c.id != ?1"
		     " AND c.kind = 'leaf' AND c.status != 'revoked' AND +c.not_after > ?2 ORDER BY c.id")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, cert_id);
	capstan_db_bind_int64(stmt, 2, (int64_t)now);
	return capstan_store_cert_list(ctx, stmt, out, count);
}

int capstan_store_env_roots(capstan_ctx *ctx, int64_t env_id, capstan_cert ***out, size_t *count)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	/* The roots, and each old root that still anchors a live leaf, by
	 * seeks (the driver's statement). */
	if ((rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_ENV_ROOTS)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_db_bind_int64(stmt, 2, (int64_t)time(NULL));
	return capstan_store_cert_list(ctx, stmt, out, count);
}

int capstan_store_env_intermediates(capstan_ctx *ctx, int64_t env_id, capstan_cert ***out, size_t *count)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT " CERT_COLUMNS CERT_FROM "WHERE c.env_id = ?1 AND c.kind = 'intermediate'"
		     " AND +c.not_after > ?2 ORDER BY c.id DESC")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_db_bind_int64(stmt, 2, (int64_t)time(NULL));
	return capstan_store_cert_list(ctx, stmt, out, count);
}

int capstan_store_crl_issuers(capstan_ctx *ctx, int64_t env_id, time_t now, capstan_cert ***out,
	size_t *count)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	/* By (env_id, kind), and the intermediate's leaves by (issuer_id, ...):
	 * never a scan of every unexpired row (the driver's statement). */
	if ((rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_CRL_ISSUERS)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_db_bind_int64(stmt, 2, (int64_t)now);
	return capstan_store_cert_list(ctx, stmt, out, count);
}

int capstan_store_revoked_each(capstan_ctx *ctx, int64_t issuer_id, time_t now,
	capstan_store_revoked_fn fn, void *payload)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	/* From certs_revoked alone: no table row is read (the driver's statement). */
	if ((rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_REVOKED_EACH)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, issuer_id);
	capstan_db_bind_int64(stmt, 2, (int64_t)now);
	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		if ((rc = fn(capstan_db_text(stmt, 0),
			     (time_t)capstan_db_int64(stmt, 1),
			     capstan_db_text(stmt, 2), payload)) < 0)
			break;
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read revocations");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_crl_next_number(capstan_ctx *ctx, int64_t issuer_id, time_t this_update,
	time_t next_update, int64_t *number)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO crls (issuer_id, number, this_update, next_update) VALUES (?1, 1, ?2, ?3)"
		     " ON CONFLICT (issuer_id) DO UPDATE SET number = crls.number + 1,"
		     " this_update = excluded.this_update, next_update = excluded.next_update"
		     " RETURNING number")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, issuer_id);
	capstan_db_bind_int64(stmt, 2, (int64_t)this_update);
	capstan_db_bind_int64(stmt, 3, (int64_t)next_update);
	if (capstan_db_step(stmt) == CAPSTAN_DB_ROW)
		*number = capstan_db_int64(stmt, 0);
	else
		rc = capstan_store_error(ctx, "cannot take a CRL number");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_crl_continue(capstan_ctx *ctx, int64_t issuer_id, int64_t last)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	/* No CRL kept (der NULL): the next one is signed, numbered last + 1. */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO crls (issuer_id, number, this_update, next_update) VALUES (?1, ?2, 0, 0)")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, issuer_id);
	capstan_db_bind_int64(stmt, 2, last);
	return capstan_store_step_done(ctx, stmt, "cannot record the CRL number");
}

int capstan_store_crl_last(capstan_ctx *ctx, int64_t issuer_id, capstan_store_crl *out)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	memset(out, 0, sizeof(*out));
	/* A revocation in the second of thisUpdate may have come after the
	 * signing: it counts as newer. certs_revoked answers the EXISTS (the
	 * driver's statement). */
	if ((rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_CRL_LAST)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, issuer_id);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW) {
		size_t len = capstan_db_bytes(stmt, 0);
		out->this_update = (time_t)capstan_db_int64(stmt, 1);
		out->next_update = (time_t)capstan_db_int64(stmt, 2);
		out->number = capstan_db_int64(stmt, 3);
		out->revoked_since = capstan_db_int(stmt, 4);
		if (len && (rc = capstan_buf_set(ctx, &out->der, capstan_db_blob(stmt, 0), len)) < 0)
			memset(out, 0, sizeof(*out));
	} else if (step != CAPSTAN_DB_DONE) {
		rc = capstan_store_error(ctx, "cannot read a CRL");
	}
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_crl_keep(capstan_ctx *ctx, int64_t issuer_id, const unsigned char *der, size_t len)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, "UPDATE crls SET der = ?2 WHERE issuer_id = ?1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, issuer_id);
	capstan_db_bind_blob(stmt, 2, der, len, CAPSTAN_DB_KEEP);
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE || capstan_db_changes(ctx->store->conn) != 1)
		rc = capstan_store_error(ctx, "cannot store the CRL");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_status_counts(capstan_ctx *ctx, time_t now, capstan_store_count_fn fn, void *payload)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT e.name, CASE WHEN c.status = 'valid' AND c.not_after <= ?1 THEN 'expired'"
		     " ELSE c.status END AS st, count(*)" CERT_FROM
		     "WHERE c.kind = 'leaf' GROUP BY e.name, st ORDER BY e.name, st")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, (int64_t)now);
	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		if ((rc = fn(capstan_db_text(stmt, 0), capstan_db_text(stmt, 1),
			     capstan_db_int64(stmt, 2), payload)) < 0)
			break;
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot count certificates");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_service_put(capstan_ctx *ctx, int64_t env_id, const char *name, const capstan_store_service *sv)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	/* Upsert only when something differs, so a second apply changes nothing. */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO services (env_id, name, template, certs, delivery) VALUES (?1, ?2, ?3, ?4, ?5)"
		     " ON CONFLICT (env_id, name) DO UPDATE SET template = excluded.template, certs = excluded.certs,"
		     " delivery = excluded.delivery"
		     " WHERE services.template != excluded.template OR services.certs != excluded.certs"
		     " OR services.delivery != excluded.delivery")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, name);
	capstan_store_bind_text(stmt, 3, sv->template_name);
	capstan_store_bind_text(stmt, 4, sv->certs);
	capstan_store_bind_text(stmt, 5, sv->delivery ? sv->delivery : "");
	if (capstan_db_step(stmt) != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot record the service");
	else
		rc = capstan_db_changes(ctx->store->conn) > 0;
	capstan_store_finish(ctx, stmt);
	if (rc > 0 && (rc = capstan_store_service_members(ctx, env_id, name, sv->certs)) == 0)
		rc = 1;
	return rc;
}

/* One statement, bound and run: 0, or the error of what. */
static int run_members(capstan_ctx *ctx, const char *sql, int64_t env_id, const char *service, const char *cert,
	size_t cert_len)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, sql)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, service);
	if (cert)
		capstan_db_bind_textn(stmt, 3, cert, cert_len, CAPSTAN_DB_COPY);
	return capstan_store_step_done(ctx, stmt, "cannot record which certificates a service names");
}

int capstan_store_service_members(capstan_ctx *ctx, int64_t env_id, const char *service, const char *lines)
{
	int rc = run_members(ctx, "DELETE FROM service_certs WHERE env_id = ?1 AND service = ?2", env_id, service,
		NULL, 0);

	/* lines: "NAME<TAB>ROLE" a line; the name is what renewals look up. */
	for (const char *p = lines ? lines : ""; rc == 0 && *p;) {
		const char *end = strchr(p, '\n'), *tab;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		tab = memchr(p, '\t', len);
		if (tab)
			len = (size_t)(tab - p);
		if (len > 0)
			rc = run_members(ctx, "INSERT INTO service_certs (env_id, service, cert) VALUES (?1, ?2, ?3)"
				" ON CONFLICT DO NOTHING",
				env_id, service, p, len);
		p = end ? end + 1 : p + strlen(p);
	}
	return rc;
}

int capstan_store_service_get(capstan_ctx *ctx, int64_t env_id, const char *name, capstan_store_service *out)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	memset(out, 0, sizeof(*out));
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT template, certs, delivery FROM services WHERE env_id = ?1 AND name = ?2")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, name);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW) {
		out->template_name = capstan_store_column_strdup(stmt, 0);
		out->certs = capstan_store_column_strdup(stmt, 1);
		out->delivery = capstan_store_column_strdup(stmt, 2);
		if (!out->template_name || !out->certs || !out->delivery)
			rc = capstan_error_oom(ctx);
	} else if (step == CAPSTAN_DB_DONE) {
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "no service '%s' in this environment (applying the configuration records it)", name);
	} else {
		rc = capstan_store_error(ctx, "cannot read a service");
	}
	capstan_store_finish(ctx, stmt);
	if (rc < 0)
		capstan_store_service_clear(out);
	return rc;
}

void capstan_store_service_clear(capstan_store_service *s)
{
	free(s->template_name);
	free(s->certs);
	free(s->delivery);
	memset(s, 0, sizeof(*s));
}

int capstan_store_service_forget(capstan_ctx *ctx, int64_t env_id, const char *name)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, "DELETE FROM services WHERE env_id = ?1 AND name = ?2")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, name);
	if ((rc = capstan_store_step_done(ctx, stmt, "cannot forget a service")) < 0)
		return rc;
	return capstan_store_service_members(ctx, env_id, name, NULL);
}

/* The environment's services, or (cert_name not NULL) those whose certificates
 * include it: a seek in service_certs, not a LIKE over every service's lines. */
static int services_named(capstan_ctx *ctx, int64_t env_id, const char *cert_name, capstan_strlist *out)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt, cert_name ?
			"SELECT service FROM service_certs WHERE env_id = ?1 AND cert = ?2 ORDER BY service" :
			"SELECT name FROM services WHERE env_id = ?1 ORDER BY name")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	if (cert_name)
		capstan_store_bind_text(stmt, 2, cert_name);
	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW)
		if (capstan_strlist_push(out, capstan_db_text(stmt, 0)) < 0) {
			rc = capstan_error_oom(ctx);
			break;
		}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read services");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_services_of_cert(capstan_ctx *ctx, int64_t env_id, const char *cert_name, capstan_strlist *out)
{
	return services_named(ctx, env_id, cert_name, out);
}

int capstan_store_service_names(capstan_ctx *ctx, int64_t env_id, capstan_strlist *out)
{
	return services_named(ctx, env_id, NULL, out);
}
