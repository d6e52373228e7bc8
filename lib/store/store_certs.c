/* Rows of the inventory: environments, sealed keys, certificates, and the
 * streaming certificate query behind `list`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/parse.h>
#include <capstan/policy.h>

#include "store_impl.h"

const char *const capstan_store_kind_names[] = { "root", "intermediate", "leaf" };

static int kind_parse(const char *s, capstan_cert_kind *out)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, capstan_store_kind_names[i]) == 0)
			return *out = (capstan_cert_kind)i, 0;
	return -1;
}

static int status_parse_stored(const char *s, capstan_status *out)
{
	if (!s)
		return -1;
	if (strcmp(s, "valid") == 0)
		*out = CAPSTAN_STATUS_VALID;
	else if (strcmp(s, "revoked") == 0)
		*out = CAPSTAN_STATUS_REVOKED;
	else if (strcmp(s, "superseded") == 0)
		*out = CAPSTAN_STATUS_SUPERSEDED;
	else
		return -1;
	return 0;
}

int capstan_store_cert_from_row(capstan_ctx *ctx, capstan_db_stmt *s, capstan_cert **out)
{
	capstan_cert *c = calloc(1, sizeof(*c));
	capstan_strlist sans = { 0 };
	const char *profile = capstan_db_text(s, 10);
	int bad = 0;

	if (!c)
		return capstan_error_oom(ctx);
	c->id = capstan_db_int64(s, 0);
	bad |= kind_parse(capstan_db_text(s, 1), &c->kind);
	bad |= status_parse_stored(capstan_db_text(s, 2), &c->status);
	c->env = capstan_store_column_strdup(s, 3);
	c->name = capstan_store_column_strdup(s, 4);
	c->serial = capstan_store_column_strdup(s, 5);
	c->subject = capstan_store_column_strdup(s, 6);
	c->issuer = capstan_store_column_strdup(s, 7);
	c->service = capstan_store_column_strdup(s, 8);
	c->fingerprint_sha256 = capstan_store_column_strdup(s, 9);
	if (profile) {
		c->has_profile = 1;
		bad |= capstan_profile_parse(profile, &c->profile) < 0;
	}
	bad |= capstan_key_type_parse(capstan_db_text(s, 11), &c->key_type) < 0;
	bad |= capstan_strlist_split(&sans, capstan_db_text(s, 12), '\n') < 0;
	c->sans = sans.items;
	c->san_count = sans.count;
	c->not_before = (time_t)capstan_db_int64(s, 13);
	c->not_after = (time_t)capstan_db_int64(s, 14);
	c->lifetime = capstan_db_int64(s, 15);
	c->renew_before = capstan_db_int64(s, 16);
	c->has_key = capstan_db_int(s, 17);
	c->revoked_at = (time_t)capstan_db_int64(s, 18);
	c->revoke_reason = capstan_store_column_strdup(s, 19);
	c->issuer_id = capstan_db_int64(s, 20);
	c->der_len = capstan_db_bytes(s, 21);
	if ((c->der = malloc(c->der_len ? c->der_len : 1)) && c->der_len)
		memcpy(c->der, capstan_db_blob(s, 21), c->der_len);
	if (c->status == CAPSTAN_STATUS_VALID && c->not_after <= time(NULL))
		c->status = CAPSTAN_STATUS_EXPIRED;
	if (!c->env || !c->name || !c->serial || !c->subject || !c->issuer ||
	    !c->fingerprint_sha256 || !c->der) {
		capstan_cert_free(c);
		return capstan_error_oom(ctx);
	}
	if (bad) {
		capstan_cert_free(c);
		return capstan_error(ctx, CAPSTAN_ERROR, "certificate row %lld is corrupt",
			(long long)capstan_db_int64(s, 0));
	}
	*out = c;
	return 0;
}

/* Runs a prepared single-certificate query. */
static int cert_one(capstan_ctx *ctx, capstan_db_stmt *stmt, capstan_cert **out, const char *what)
{
	int step = capstan_db_step(stmt), rc;

	if (step == CAPSTAN_DB_ROW)
		rc = capstan_store_cert_from_row(ctx, stmt, out);
	else if (step == CAPSTAN_DB_DONE)
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "no %s", what);
	else
		rc = capstan_store_error(ctx, "cannot read a certificate");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_env_insert(capstan_ctx *ctx, capstan_store_env *env)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "INSERT INTO envs (name, org, key_type, leaf_lifetime, created_at)"
		     " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id")) < 0)
		return rc;
	capstan_store_bind_text(stmt, 1, env->name);
	capstan_store_bind_text(stmt, 2, env->org);
	capstan_store_bind_text(stmt, 3, capstan_key_type_name(env->key_type));
	capstan_db_bind_int64(stmt, 4, env->leaf_lifetime);
	capstan_db_bind_int64(stmt, 5, (int64_t)time(NULL));
	return capstan_store_step_id(ctx, stmt, "cannot add the environment", &env->id);
}

int capstan_store_env_get(capstan_ctx *ctx, const char *name, capstan_store_env *out)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	memset(out, 0, sizeof(*out));
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT id, name, org, key_type, leaf_lifetime FROM envs WHERE name = ?1")) < 0)
		return rc;
	capstan_store_bind_text(stmt, 1, name);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW) {
		out->id = capstan_db_int64(stmt, 0);
		out->name = capstan_store_column_strdup(stmt, 1);
		out->org = capstan_store_column_strdup(stmt, 2);
		if (capstan_key_type_parse(capstan_db_text(stmt, 3), &out->key_type) < 0)
			rc = capstan_error(ctx, CAPSTAN_ERROR, "environment '%s' is corrupt", name);
		out->leaf_lifetime = capstan_db_int64(stmt, 4);
		if (!out->name)
			rc = capstan_error_oom(ctx);
	} else if (step == CAPSTAN_DB_DONE) {
		const char *why = NULL;
		/* A name no environment could have is a mistake, not a missing environment. */
		rc = capstan_check_identifier(name, &why) < 0 ?
			capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_ENV, "invalid environment name '%s': %s", name, why) :
			capstan_error_at(ctx, CAPSTAN_ENOTFOUND, CAPSTAN_FIELD_ENV, "unknown environment '%s'", name);
	} else {
		rc = capstan_store_error(ctx, "cannot read environments");
	}
	capstan_store_finish(ctx, stmt);
	if (rc < 0)
		capstan_store_env_clear(out);
	return rc;
}

void capstan_store_env_clear(capstan_store_env *env)
{
	free(env->name);
	free(env->org);
	memset(env, 0, sizeof(*env));
}

static int collect_strings(capstan_ctx *ctx, capstan_db_stmt *stmt, capstan_strlist *out)
{
	int step, rc = 0;

	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		if (capstan_strlist_push(out, capstan_db_text(stmt, 0)) < 0) {
			rc = capstan_error_oom(ctx);
			break;
		}
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read names");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_env_names(capstan_ctx *ctx, capstan_strlist *out)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, "SELECT name FROM envs ORDER BY name")) < 0)
		return rc;
	return collect_strings(ctx, stmt, out);
}

int capstan_store_envs_with_name(capstan_ctx *ctx, const char *name, capstan_strlist *out)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT DISTINCT e.name" CERT_FROM "WHERE c.name = ?1 ORDER BY e.name")) < 0)
		return rc;
	capstan_store_bind_text(stmt, 1, name);
	return collect_strings(ctx, stmt, out);
}

int capstan_store_key_insert(capstan_ctx *ctx, capstan_key_type type,
	const unsigned char spki_sha256[CAPSTAN_SHA256_LEN], const capstan_buf *sealed, int64_t *id)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, id ?
		     "INSERT INTO keys (key_type, spki_sha256, sealed, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id" :
		     "INSERT INTO keys (key_type, spki_sha256, sealed, created_at) VALUES (?1, ?2, ?3, ?4)")) < 0)
		return rc;
	capstan_store_bind_text(stmt, 1, capstan_key_type_name(type));
	capstan_db_bind_blob(stmt, 2, spki_sha256, CAPSTAN_SHA256_LEN, CAPSTAN_DB_KEEP);
	capstan_db_bind_blob(stmt, 3, sealed->data, sealed->len, CAPSTAN_DB_KEEP);
	capstan_db_bind_int64(stmt, 4, (int64_t)time(NULL));
	if (id)
		return capstan_store_step_id(ctx, stmt, "cannot store a key", id);
	/* Sent with the certificate's insert, which finds it (KEY_LAST): one
	 * round trip of a PostgreSQL batch's three saved. */
	rc = capstan_db_step_later(stmt) == CAPSTAN_DB_DONE ? 0 : capstan_store_error(ctx, "cannot store a key");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_key_set_uri(capstan_ctx *ctx, int64_t id, const char *uri)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, "UPDATE keys SET uri = ?2 WHERE id = ?1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, id);
	capstan_store_bind_text(stmt, 2, uri);
	return capstan_store_step_done(ctx, stmt, "cannot record a key's URI");
}

int capstan_store_key_uri(capstan_ctx *ctx, int64_t id, char **uri)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	*uri = NULL;
	if ((rc = capstan_store_prepare(ctx, &stmt, "SELECT uri FROM keys WHERE id = ?1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, id);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW && capstan_db_text(stmt, 0) && !(*uri = strdup(capstan_db_text(stmt, 0))))
		rc = capstan_error_oom(ctx);
	else if (step != CAPSTAN_DB_ROW && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read a key's URI");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_key_get(capstan_ctx *ctx, int64_t id, unsigned char spki_sha256[CAPSTAN_SHA256_LEN],
	capstan_buf *sealed)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT spki_sha256, sealed FROM keys WHERE id = ?1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, id);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW && capstan_db_bytes(stmt, 0) == CAPSTAN_SHA256_LEN) {
		size_t len = capstan_db_bytes(stmt, 1);
		memcpy(spki_sha256, capstan_db_blob(stmt, 0), CAPSTAN_SHA256_LEN);
		if (!(sealed->data = malloc(len ? len : 1)))
			rc = capstan_error_oom(ctx);
		else if (len)
			memcpy(sealed->data, capstan_db_blob(stmt, 1), len);
		sealed->len = len;
		sealed->cap = 0;
	} else if (step == CAPSTAN_DB_ROW || step == CAPSTAN_DB_DONE) {
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "key %lld is missing or corrupt", (long long)id);
	} else {
		rc = capstan_store_error(ctx, "cannot read a key");
	}
	capstan_store_finish(ctx, stmt);
	return rc;
}

void capstan_store_bind_cert(capstan_db_stmt *stmt, int p, int64_t env_id, const capstan_cert *c, int64_t key_id,
	const unsigned char *spki, const char *sans, int64_t now)
{
	capstan_db_bind_int64(stmt, p + 1, env_id);
	capstan_db_bind_text(stmt, p + 2, capstan_store_kind_names[c->kind], CAPSTAN_DB_KEEP);
	capstan_store_bind_text(stmt, p + 3, c->name);
	capstan_store_bind_text(stmt, p + 4, c->serial);
	if (c->issuer_id)
		capstan_db_bind_int64(stmt, p + 5, c->issuer_id);
	else
		capstan_db_bind_null(stmt, p + 5);
	if (key_id > 0)
		capstan_db_bind_int64(stmt, p + 6, key_id);
	else
		capstan_db_bind_null(stmt, p + 6);
	capstan_store_bind_text(stmt, p + 7, c->has_profile ? capstan_profile_name(c->profile) : NULL);
	capstan_store_bind_text(stmt, p + 8, c->subject);
	capstan_store_bind_text(stmt, p + 9, c->issuer);
	capstan_store_bind_text(stmt, p + 10, sans);
	capstan_store_bind_text(stmt, p + 11, c->service);
	capstan_store_bind_text(stmt, p + 12, capstan_key_type_name(c->key_type));
	capstan_db_bind_int64(stmt, p + 13, c->lifetime);
	capstan_db_bind_int64(stmt, p + 14, c->renew_before);
	capstan_db_bind_int64(stmt, p + 15, (int64_t)c->not_before);
	capstan_db_bind_int64(stmt, p + 16, (int64_t)c->not_after);
	capstan_store_bind_text(stmt, p + 17, c->fingerprint_sha256);
	capstan_db_bind_blob(stmt, p + 18, c->der, c->der_len, CAPSTAN_DB_KEEP);
	capstan_db_bind_blob(stmt, p + 19, spki, CAPSTAN_SHA256_LEN, CAPSTAN_DB_KEEP);
	capstan_db_bind_int64(stmt, p + 20, now);
}

int capstan_store_cert_insert(capstan_ctx *ctx, capstan_cert *cert, int64_t env_id, int64_t key_id,
	const unsigned char spki[CAPSTAN_SHA256_LEN])
{
	capstan_strlist sans = { cert->sans, cert->san_count, cert->san_count };
	capstan_db_stmt *stmt = NULL;
	char *joined;
	int rc, step;

	if (!(joined = capstan_strlist_join(&sans, "\n")))
		return capstan_error_oom(ctx);
	/* The key this transaction inserted last is the newest row of keys:
	 * the write lock, taken at BEGIN, keeps every other writer's out. */
#define CERT_INSERT(key) \
	"INSERT INTO certs (env_id, kind, name, serial, issuer_id, key_id, profile," \
	" subject, issuer, sans, service, key_type, lifetime, renew_before, not_before," \
	" not_after, fingerprint, der, spki_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5, " key "," \
	" ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)" \
	" ON CONFLICT (issuer_id, serial) DO NOTHING RETURNING id"
	if ((rc = capstan_store_prepare(ctx, &stmt, key_id == CAPSTAN_STORE_KEY_LAST ?
		     CERT_INSERT("(SELECT max(id) FROM keys)") : CERT_INSERT("?6"))) < 0) {
		free(joined);
		return rc;
	}
	/* KEY_LAST's text names no ?6: what is bound there goes unused. */
	capstan_store_bind_cert(stmt, 0, env_id, cert, key_id, spki, joined, (int64_t)time(NULL));
	/* A serial its issuer used already inserts nothing (no row back) rather
	 * than failing: a failed statement would end a PostgreSQL transaction
	 * short of a savepoint, and the caller draws another serial. */
	if ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		cert->id = capstan_db_int64(stmt, 0);
		rc = capstan_store_state_note(ctx, cert->serial, "valid", NULL, cert->fingerprint_sha256);
	} else {
		rc = step == CAPSTAN_DB_DONE ? capstan_error(ctx, CAPSTAN_EEXISTS,
			"serial %s is used by its issuer already", cert->serial) :
			capstan_store_error(ctx, "cannot record the certificate");
	}
	capstan_store_finish(ctx, stmt);
	free(joined);
	return rc;
}

int capstan_store_cert_get(capstan_ctx *ctx, int64_t id, capstan_cert **out)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT " CERT_COLUMNS CERT_FROM "WHERE c.id = ?1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, id);
	return cert_one(ctx, stmt, out, "such certificate");
}

int capstan_store_cert_key_id(capstan_ctx *ctx, int64_t cert_id, int64_t *key_id)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt, "SELECT key_id FROM certs WHERE id = ?1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, cert_id);
	if (capstan_db_step(stmt) == CAPSTAN_DB_ROW)
		*key_id = capstan_db_int64(stmt, 0);
	else
		rc = capstan_store_error(ctx, "cannot read a certificate's key");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_cert_by_serial(capstan_ctx *ctx, const char *serial, capstan_cert **out)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT " CERT_COLUMNS ", count(*) OVER ()" CERT_FROM "WHERE c.serial = ?1")) < 0)
		return rc;
	capstan_store_bind_text(stmt, 1, serial);
	if (capstan_db_step(stmt) == CAPSTAN_DB_ROW && capstan_db_int(stmt, 22) > 1) {
		capstan_store_finish(ctx, stmt);
		return capstan_error(ctx, CAPSTAN_EAMBIGUOUS, "serial %s was used by two issuers", serial);
	}
	capstan_db_reset(stmt);
	return cert_one(ctx, stmt, out, "certificate with that serial");
}

int capstan_store_cert_by_der(capstan_ctx *ctx, const char *serial, const unsigned char *der, size_t len,
	capstan_cert **out)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	/* The serial finds the row through its index; the whole DER pins the
	 * issuer too (two issuers may have used one serial). */
	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT " CERT_COLUMNS CERT_FROM "WHERE c.serial = ?1 AND c.der = ?2")) < 0)
		return rc;
	capstan_store_bind_text(stmt, 1, serial);
	capstan_db_bind_blob(stmt, 2, der, len, CAPSTAN_DB_KEEP);
	return cert_one(ctx, stmt, out, "certificate with that serial and issuer");
}

int capstan_store_cert_latest(capstan_ctx *ctx, int64_t env_id, const char *name,
	capstan_cert_kind kind, capstan_cert **out)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT " CERT_COLUMNS CERT_FROM
		     "WHERE c.env_id = ?1 AND c.name = ?2 AND c.kind = ?3 ORDER BY c.id DESC LIMIT 1")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, name);
	capstan_store_bind_text(stmt, 3, capstan_store_kind_names[kind]);
	return cert_one(ctx, stmt, out, "certificate of that name");
}

int capstan_store_current_ca(capstan_ctx *ctx, int64_t env_id, capstan_cert_kind kind,
	capstan_cert **out)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	/* By certs_env_kind: never a scan of the environment's leaves. */
	if ((rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_CURRENT_CA)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, capstan_store_kind_names[kind]);
	capstan_db_bind_int64(stmt, 3, (int64_t)time(NULL));
	return cert_one(ctx, stmt, out, kind == CAPSTAN_KIND_ROOT ? "valid root CA" : "valid intermediate CA");
}

int capstan_store_cert_list(capstan_ctx *ctx, capstan_db_stmt *stmt, capstan_cert ***out, size_t *count)
{
	capstan_cert **list = NULL, *c;
	size_t n = 0;
	int rc = 0, step;

	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		capstan_cert **grown = realloc(list, (n + 1) * sizeof(*list));
		if (!grown) {
			rc = capstan_error_oom(ctx);
			break;
		}
		list = grown;
		if ((rc = capstan_store_cert_from_row(ctx, stmt, &c)) < 0)
			break;
		list[n++] = c;
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read certificates");
	capstan_store_finish(ctx, stmt);
	if (rc < 0) {
		capstan_cert_list_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

static int int_query(capstan_ctx *ctx, capstan_db_stmt *stmt, int64_t *out)
{
	int rc = 0;

	if (capstan_db_step(stmt) == CAPSTAN_DB_ROW)
		*out = capstan_db_int64(stmt, 0);
	else
		rc = capstan_store_error(ctx, "cannot count");
	capstan_store_finish(ctx, stmt);
	return rc;
}

int capstan_store_roots_leaving(capstan_ctx *ctx, int64_t env_id, time_t now, capstan_cert ***roots,
	time_t **until, size_t *count)
{
	capstan_db_stmt *stmt = NULL;
	capstan_cert **list = NULL;
	time_t *at = NULL;
	size_t n = 0;
	int rc, step;

	/* capstan_store_env_roots's rule for an old root, with the expiry of the
	 * last leaf that keeps it there (or its own, if that comes first). */
	if ((rc = capstan_store_prepare_named(ctx, &stmt, CAPSTAN_DB_ROOTS_LEAVING)) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_db_bind_int64(stmt, 2, (int64_t)now);
	while ((step = capstan_db_step(stmt)) == CAPSTAN_DB_ROW) {
		capstan_cert **more = realloc(list, (n + 1) * sizeof(*list));
		time_t *more_at = more ? realloc(at, (n + 1) * sizeof(*at)) : NULL;
		if (more)
			list = more;
		if (more_at)
			at = more_at;
		if (!more || !more_at) {
			rc = capstan_error_oom(ctx);
			break;
		}
		if ((rc = capstan_store_cert_from_row(ctx, stmt, &list[n])) < 0)
			break;
		at[n++] = (time_t)capstan_db_int64(stmt, 22);
	}
	if (rc == 0 && step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot read the trusted roots");
	capstan_store_finish(ctx, stmt);
	if (rc < 0) {
		capstan_cert_list_free(list, n);
		free(at);
		return rc;
	}
	*roots = list;
	*until = at;
	*count = n;
	return 0;
}

int capstan_store_count_kind(capstan_ctx *ctx, int64_t env_id, capstan_cert_kind kind, int64_t *count)
{
	capstan_db_stmt *stmt = NULL;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT count(*) FROM certs WHERE env_id = ?1 AND kind = ?2")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, env_id);
	capstan_store_bind_text(stmt, 2, capstan_store_kind_names[kind]);
	return int_query(ctx, stmt, count);
}

int capstan_store_serial_used(capstan_ctx *ctx, int64_t issuer_id, const char *serial)
{
	capstan_db_stmt *stmt = NULL;
	int64_t n = 0;
	int rc;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "SELECT count(*) FROM certs WHERE serial = ?2 AND issuer_id IS NOT DISTINCT FROM ?1")) < 0)
		return rc;
	if (issuer_id)
		capstan_db_bind_int64(stmt, 1, issuer_id);
	capstan_store_bind_text(stmt, 2, serial);
	if ((rc = int_query(ctx, stmt, &n)) < 0)
		return rc;
	return n > 0;
}

int capstan_store_cert_supersede(capstan_ctx *ctx, int64_t id, int64_t by_id)
{
	capstan_db_stmt *stmt = NULL;
	int rc, step;

	if ((rc = capstan_store_prepare(ctx, &stmt,
		     "UPDATE certs SET status = 'superseded', superseded_by = ?2"
		     " WHERE id = ?1 AND status = 'valid' RETURNING serial, fingerprint")) < 0)
		return rc;
	capstan_db_bind_int64(stmt, 1, id);
	capstan_db_bind_int64(stmt, 2, by_id);
	step = capstan_db_step(stmt);
	if (step == CAPSTAN_DB_ROW)
		rc = capstan_store_state_note(ctx, capstan_db_text(stmt, 0), "superseded", NULL,
			capstan_db_text(stmt, 1));
	else if (step != CAPSTAN_DB_DONE)
		rc = capstan_store_error(ctx, "cannot mark a certificate superseded");
	capstan_store_finish(ctx, stmt);
	return rc;
}

/* The list query. */
struct capstan_cert_iter {
	capstan_ctx *ctx;
	capstan_db_stmt *stmt;
};

/* The status filter, in clause. In a streamed list (stream), the driver's
 * CAPSTAN_DB_NO_INDEX (SQLite's +) keeps the planner off the status
 * indexes: it walks (env, name) in order instead of sorting a million full
 * rows, DER included, in a temporary B-tree first. */
static void status_clause(capstan_ctx *ctx, capstan_status status, int stream, char *clause, size_t size)
{
	const char *p = stream ? capstan_db_sql(ctx->store->conn, CAPSTAN_DB_NO_INDEX) : "";

	switch (status) {
	case CAPSTAN_STATUS_VALID:
		snprintf(clause, size, " AND %sc.status = 'valid' AND %sc.not_after > ?5", p, p);
		break;
	case CAPSTAN_STATUS_EXPIRED:
		snprintf(clause, size, " AND %sc.status = 'valid' AND %sc.not_after <= ?5", p, p);
		break;
	case CAPSTAN_STATUS_REVOKED:
		snprintf(clause, size, " AND %sc.status = 'revoked'", p);
		break;
	case CAPSTAN_STATUS_SUPERSEDED:
		snprintf(clause, size, " AND %sc.status = 'superseded'", p);
		break;
	default:
		clause[0] = 0;
	}
}

int capstan_cert_iter_new(capstan_cert_iter **out, capstan_ctx *ctx, const capstan_list_opts *opts)
{
	capstan_cert_iter *it;
	time_t now = time(NULL);
	char sql[1024], clause[128];
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, opts, CAPSTAN_LIST_OPTS_VERSION, "capstan_list_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0)
		return rc;
	/* --expiring-within ranges over the not_after index and sorts what it
	 * finds (few); everything else streams the environments, then their
	 * certificates by (env_id, name), already in order. */
	status_clause(ctx, opts->status, opts->expiring_within <= 0, clause, sizeof(clause));
	snprintf(sql, sizeof(sql),
		"SELECT " CERT_COLUMNS "%s"
		"WHERE (e.name = ?1 OR ?1 IS NULL) AND (c.service = ?2 OR ?2 IS NULL)"
		" AND (?3 <> 0 OR c.kind = 'leaf') AND (?6 = 0 OR c.kind != 'leaf') AND ?5 = ?5%s%s"
		" ORDER BY e.name, c.name, c.id",
		opts->expiring_within > 0 ? CERT_FROM : capstan_db_sql(ctx->store->conn, CAPSTAN_DB_LIST_STREAM_FROM),
		clause,
		opts->expiring_within > 0 ? " AND c.not_after <= ?4" : "");
	if (!(it = calloc(1, sizeof(*it))))
		return capstan_error_oom(ctx);
	if ((rc = capstan_store_prepare(ctx, &it->stmt, sql)) < 0) {
		free(it);
		return rc;
	}
	capstan_store_bind_text(it->stmt, 1, opts->env);
	capstan_store_bind_text(it->stmt, 2, opts->service);
	capstan_db_bind_int64(it->stmt, 3, opts->include_ca || opts->ca_only ? 1 : 0);
	capstan_db_bind_int64(it->stmt, 6, opts->ca_only ? 1 : 0);
	if (opts->expiring_within > 0)
		capstan_db_bind_int64(it->stmt, 4, (int64_t)now + opts->expiring_within);
	capstan_db_bind_int64(it->stmt, 5, (int64_t)now);
	it->ctx = ctx;
	*out = it;
	return 0;
}

int capstan_cert_iter_next(capstan_cert **out, capstan_cert_iter *it)
{
	int step = capstan_db_step(it->stmt);

	if (step == CAPSTAN_DB_ROW)
		return capstan_store_cert_from_row(it->ctx, it->stmt, out);
	if (step == CAPSTAN_DB_DONE)
		return CAPSTAN_ITEROVER;
	return capstan_store_error(it->ctx, "cannot list certificates");
}

void capstan_cert_iter_free(capstan_cert_iter *it)
{
	if (!it)
		return;
	capstan_store_finish(it->ctx, it->stmt);
	free(it);
}
