/* Renewal, rotation and revocation of leaf certificates, and the nightly
 * `renew --due`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capstan/lifecycle.h>

#include "audit.h"
#include "ca_internal.h"
#include "store.h"
#include "x509.h"

static const struct { capstan_revoke_reason reason; const char *name; } reasons[] = {
	{ CAPSTAN_REASON_UNSPECIFIED, "unspecified" },
	{ CAPSTAN_REASON_KEY_COMPROMISE, "keyCompromise" },
	{ CAPSTAN_REASON_AFFILIATION_CHANGED, "affiliationChanged" },
	{ CAPSTAN_REASON_SUPERSEDED, "superseded" },
	{ CAPSTAN_REASON_CESSATION_OF_OPERATION, "cessationOfOperation" },
};

int capstan_revoke_reason_parse(const char *name, capstan_revoke_reason *out)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (name && strcmp(name, reasons[i].name) == 0)
			return *out = reasons[i].reason, 0;
	return CAPSTAN_EINVALID;
}

const char *capstan_revoke_reason_name(capstan_revoke_reason reason)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].reason == reason)
			return reasons[i].name;
	return "unspecified";
}

const char *capstan_revoke_reason_names(void)
{
	return "unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation";
}

typedef enum { REISSUE_RENEW, REISSUE_ROTATE } reissue_kind;

/* What a reissue needs, gathered before the transaction. */
typedef struct {
	capstan_store_env env;
	char *cn;                   /* of the old certificate */
	capstan_strlist sans;
	capstan_cert *issuer;
	capstan_key *issuer_key;
	capstan_x509_issuer *issuer_parsed;
	capstan_key *key;           /* the subject's key: the old public key, or a new key */
	capstan_buf sealed;         /* a new key's sealed form */
	int64_t key_id;             /* renew: the stored key it certifies again */
	int64_t lifetime;
	int issuer_cached;          /* the issuer_* belong to an issuer_cache */
} reissue_plan;

/* renew --due: each environment's intermediate and its unsealed key, loaded
 * once per commit group rather than once per renewal (~0.5 ms each). Emptied
 * when a group starts, so a CA rotated meanwhile is seen under the lock. */
#define ISSUER_CACHE_SLOTS 8

typedef struct {
	struct {
		int64_t env_id;
		capstan_cert *issuer;
		capstan_key *key;
		capstan_x509_issuer *parsed;
	} slot[ISSUER_CACHE_SLOTS];
	size_t count;
} issuer_cache;

static void issuer_cache_clear(issuer_cache *c)
{
	for (size_t i = 0; i < c->count; i++) {
		capstan_cert_free(c->slot[i].issuer);
		capstan_key_free(c->slot[i].key);
		capstan_x509_issuer_free(c->slot[i].parsed);
	}
	c->count = 0;
}

static void plan_clear(reissue_plan *p)
{
	capstan_store_env_clear(&p->env);
	free(p->cn);
	capstan_strlist_free(&p->sans);
	if (!p->issuer_cached) {
		capstan_cert_free(p->issuer);
		capstan_key_free(p->issuer_key);
		capstan_x509_issuer_free(p->issuer_parsed);
	}
	capstan_key_free(p->key);
	capstan_buf_free(&p->sealed);
}

static int check_reissuable(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind)
{
	const char *verb = kind == REISSUE_RENEW ? "renewed" : "rotated";

	if (old->kind != CAPSTAN_KIND_LEAF)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' is a CA certificate: use 'capstan rotate --env %s --intermediate' or '--root'",
			old->name, old->env);
	if (!old->has_key)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' (%s) was issued from a CSR and cannot be %s here: issue it again from a new CSR"
			" (capstan issue --csr)", old->name, old->env, verb);
	if (old->status == CAPSTAN_STATUS_SUPERSEDED)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"serial %s of '%s' is superseded by a newer certificate: use the name to reach the current one",
			old->serial, old->name);
	if (kind == REISSUE_RENEW && old->status == CAPSTAN_STATUS_REVOKED)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' (%s) is revoked and its key may be compromised: rotate it for a new key",
			old->name, old->env);
	return 0;
}

static int plan_issuer(capstan_ctx *ctx, reissue_plan *p, issuer_cache *cache)
{
	size_t i;
	int rc;

	for (i = 0; cache && i < cache->count; i++)
		if (cache->slot[i].env_id == p->env.id)
			break;
	if (cache && i < cache->count) {
		p->issuer = cache->slot[i].issuer;
		p->issuer_key = cache->slot[i].key;
		p->issuer_parsed = cache->slot[i].parsed;
		p->issuer_cached = 1;
		return 0;
	}
	if ((rc = capstan_store_current_ca(ctx, p->env.id, CAPSTAN_KIND_INTERMEDIATE, &p->issuer)) < 0 ||
	    (rc = capstan_ca_load_key(ctx, p->issuer, &p->issuer_key)) < 0 ||
	    (rc = capstan_x509_issuer_new(&p->issuer_parsed, ctx, p->issuer->der, p->issuer->der_len)) < 0)
		return rc;
	if (cache && cache->count < ISSUER_CACHE_SLOTS) {
		cache->slot[cache->count].env_id = p->env.id;
		cache->slot[cache->count].issuer = p->issuer;
		cache->slot[cache->count].key = p->issuer_key;
		cache->slot[cache->count++].parsed = p->issuer_parsed;
		p->issuer_cached = 1;
	}
	return 0;
}

static int plan_reissue(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, int64_t lifetime,
	reissue_plan *p, issuer_cache *cache)
{
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 || (rc = check_reissuable(ctx, old, kind)) < 0 ||
	    (rc = capstan_require_unlocked(ctx)) < 0 ||
	    (rc = capstan_store_env_get(ctx, old->env, &p->env)) < 0 ||
	    (rc = capstan_ca_lifetime(ctx, "the lifetime (--days)", lifetime, old->lifetime, &p->lifetime)) < 0)
		return rc;
	/* Renewal certifies the old public key again; rotation only needs the CN. */
	if ((rc = capstan_x509_renewal_read(&p->cn, kind == REISSUE_RENEW ? &p->key : NULL, ctx, old->der,
		     old->der_len)) < 0)
		return rc;
	if (!p->cn)
		return capstan_error(ctx, CAPSTAN_ERROR, "'%s' has no CN to carry over", old->name);
	for (size_t i = 0; i < old->san_count; i++)
		if (capstan_strlist_push(&p->sans, old->sans[i]) < 0)
			return capstan_error_oom(ctx);
	if ((rc = plan_issuer(ctx, p, cache)) < 0)
		return rc;
	if (kind == REISSUE_RENEW)
		return capstan_store_cert_key_id(ctx, old->id, &p->key_id);
	/* A new key, made before the transaction so RSA keygen holds no lock. */
	if ((rc = capstan_key_generate(&p->key, ctx, old->key_type)) < 0)
		return rc;
	return capstan_key_seal(&p->sealed, ctx, p->key);
}

static int reissue_records(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind,
	reissue_plan *p, capstan_cert **out)
{
	capstan_cert *now_old = NULL, *latest = NULL;
	time_t now = time(NULL);
	char detail[96];
	int rc;

	/* Read both again under the write lock. */
	if ((rc = capstan_store_cert_get(ctx, old->id, &now_old)) < 0 ||
	    (rc = capstan_store_cert_latest(ctx, p->env.id, old->name, CAPSTAN_KIND_LEAF, &latest)) < 0)
		goto done;
	if (latest->id != now_old->id || now_old->status == CAPSTAN_STATUS_SUPERSEDED) {
		rc = capstan_error(ctx, CAPSTAN_EEXISTS, "'%s' (%s) was replaced meanwhile by serial %s",
			old->name, old->env, latest->serial);
		goto done;
	}
	if ((rc = check_reissuable(ctx, now_old, kind)) < 0)
		goto done;
	capstan_mint m = {
		.tmpl = { .kind = CAPSTAN_KIND_LEAF, .profile = old->profile, .cn = p->cn,
			  .org = p->env.org, .sans = &p->sans,
			  .not_before = now - CAPSTAN_BACKDATE_SECONDS, .not_after = now + p->lifetime },
		.name = old->name, .service = old->service, .env_id = p->env.id, .env_name = p->env.name,
		.subject_key = p->key, .sealed_key = kind == REISSUE_ROTATE ? &p->sealed : NULL,
		.key_id = p->key_id, .issuer = p->issuer, .issuer_key = p->issuer_key,
		.issuer_parsed = p->issuer_parsed,
		.lifetime = p->lifetime, .renew_before = old->renew_before,
	};
	if ((rc = capstan_ca_mint(ctx, &m, out)) < 0)
		goto done;
	/* A revoked certificate stays revoked; a valid or expired one is superseded. */
	if (now_old->status != CAPSTAN_STATUS_REVOKED &&
	    (rc = capstan_store_cert_supersede(ctx, now_old->id, (*out)->id)) < 0)
		goto done;
	snprintf(detail, sizeof(detail), "replaces %s", now_old->serial);
	rc = capstan_audit_record(ctx, kind == REISSUE_RENEW ? "renew" : "rotate", p->env.name,
		old->name, (*out)->serial, detail);
done:
	capstan_cert_free(now_old);
	capstan_cert_free(latest);
	return rc;
}

static int reissue(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, int64_t lifetime,
	capstan_cert **out)
{
	reissue_plan p = { 0 };
	capstan_cert *cert = NULL;
	int rc;

	if ((rc = plan_reissue(ctx, old, kind, lifetime, &p, NULL)) < 0 || (rc = capstan_store_begin(ctx)) < 0 ||
	    (rc = capstan_store_end(ctx, reissue_records(ctx, old, kind, &p, &cert))) < 0)
		goto done;
	*out = cert;
	cert = NULL;
done:
	capstan_cert_free(cert);
	plan_clear(&p);
	return rc;
}

/* renew --due, inside the group's transaction: the certificate is claimed
 * under the write lock (if another run renewed it meanwhile it is no longer
 * valid, nor due: 1 is returned) and renewed under a savepoint of its own. */
static int renew_claimed(capstan_ctx *ctx, const capstan_cert *old, const capstan_due_opts *due,
	issuer_cache *cache, capstan_cert **out)
{
	reissue_plan p = { 0 };
	int rc, claim;

	if ((rc = plan_reissue(ctx, old, REISSUE_RENEW, 0, &p, cache)) < 0 || (rc = capstan_store_savepoint(ctx)) < 0)
		goto done;
	claim = capstan_store_still_due(ctx, old->id, time(NULL), due->within, due->from_old_ca);
	if (claim <= 0 || (rc = reissue_records(ctx, old, REISSUE_RENEW, &p, out)) < 0) {
		capstan_store_undo(ctx);
		rc = claim < 0 ? claim : claim == 0 ? 1 : rc;
		goto done;
	}
	rc = capstan_store_release(ctx);
done:
	plan_clear(&p);
	return rc;
}

int capstan_renew(capstan_ctx *ctx, const capstan_cert *cert, int64_t lifetime, capstan_cert **out)
{
	return reissue(ctx, cert, REISSUE_RENEW, lifetime, out);
}

int capstan_rotate(capstan_ctx *ctx, const capstan_cert *cert, int64_t lifetime, capstan_cert **out)
{
	return reissue(ctx, cert, REISSUE_ROTATE, lifetime, out);
}

int capstan_revoke(capstan_ctx *ctx, const capstan_cert *cert, capstan_revoke_reason reason)
{
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (cert->kind != CAPSTAN_KIND_LEAF)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' is a CA certificate: rotate the CA instead (capstan rotate --env %s --intermediate)",
			cert->name, cert->env);
	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	rc = capstan_store_cert_revoke(ctx, cert->id, time(NULL), capstan_revoke_reason_name(reason));
	if (rc == CAPSTAN_EEXISTS)
		rc = capstan_error(ctx, rc, "'%s' (serial %s) is already revoked", cert->name, cert->serial);
	if (rc == 0)
		rc = capstan_audit_record(ctx, "revoke", cert->env, cert->name, cert->serial,
			capstan_revoke_reason_name(reason));
	return capstan_store_end(ctx, rc);
}

#define DUE_GROUP 64
#define DUE_GROUP_SECONDS 0.05

/* The renewals of the open transaction, reported once it commits. */
typedef struct {
	capstan_cert *old[DUE_GROUP];
	capstan_cert *renewed[DUE_GROUP];
	size_t count;
} due_group;

static int report_group(due_group *g, capstan_due_fn fn, void *payload, int committed)
{
	int rc = 0;

	for (size_t i = 0; i < g->count; i++) {
		capstan_due_result r = { g->old[i], g->renewed[i], NULL };
		if (committed && rc == 0 && fn)
			rc = fn(&r, payload);
		capstan_cert_free(g->old[i]);
		capstan_cert_free(g->renewed[i]);
	}
	g->count = 0;
	return rc;
}

static double now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One candidate inside the group: renewed (kept for the report), skipped
 * (another run got it), or failed (reported now: nothing of it is written). */
static int renew_candidate(capstan_ctx *ctx, int64_t id, const capstan_due_opts *opts, due_group *g,
	issuer_cache *cache, capstan_due_fn fn, void *payload, int *failures)
{
	capstan_cert *old = NULL, *renewed = NULL;
	capstan_due_result result = { 0 };
	int rc;

	if ((rc = capstan_store_cert_get(ctx, id, &old)) < 0)
		return rc;
	/* Superseded or revoked since the candidates were read: nothing to do or say. */
	if (old->status != CAPSTAN_STATUS_VALID && old->status != CAPSTAN_STATUS_EXPIRED) {
		capstan_cert_free(old);
		return 0;
	}
	rc = renew_claimed(ctx, old, opts, cache, &renewed);
	if (rc == 1 || rc == CAPSTAN_EEXISTS) {
		rc = 0; /* another run got there first: exactly once */
	} else if (rc == CAPSTAN_EINVALID) {
		result.old = old;
		result.problem = capstan_error_message(ctx);
		(*failures)++;
		rc = fn ? fn(&result, payload) : 0;
	} else if (rc == 0) {
		g->old[g->count] = old;
		g->renewed[g->count++] = renewed;
		return 0;
	}
	capstan_cert_free(old);
	capstan_cert_free(renewed);
	return rc;
}

int capstan_renew_due(capstan_ctx *ctx, const capstan_due_opts *opts, capstan_due_fn fn, void *payload)
{
	capstan_store_env env = { 0 };
	due_group g = { .count = 0 };
	issuer_cache cache = { .count = 0 };
	int64_t *ids = NULL;
	size_t count = 0;
	double started = 0;
	int rc, failures = 0, in_tx = 0;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (opts->env && (rc = capstan_store_env_get(ctx, opts->env, &env)) < 0)
		return rc;
	rc = capstan_store_due_ids(ctx, env.id, time(NULL), opts->within, opts->from_old_ca, &ids, &count);
	capstan_store_env_clear(&env);
	/* Renewals are committed in groups (64, or 50 ms): one fsync for many,
	 * and the write lock held briefly so that other runs interleave. */
	for (size_t i = 0; rc == 0 && i < count; i++) {
		if (!in_tx) {
			if ((rc = capstan_store_begin(ctx)) < 0)
				break;
			in_tx = 1;
			started = now_seconds();
			issuer_cache_clear(&cache);
		}
		rc = renew_candidate(ctx, ids[i], opts, &g, &cache, fn, payload, &failures);
		if (rc == 0 && (g.count == DUE_GROUP || now_seconds() - started >= DUE_GROUP_SECONDS || i + 1 == count)) {
			in_tx = 0;
			if ((rc = capstan_store_commit(ctx)) == 0)
				rc = report_group(&g, fn, payload, 1);
		}
	}
	if (in_tx)
		rc = capstan_store_end(ctx, rc ? rc : CAPSTAN_ERROR);
	report_group(&g, fn, payload, 0); /* rolled back: not renewed, not reported */
	issuer_cache_clear(&cache);
	free(ids);
	if (rc == 0 && failures)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%d certificate%s due could not be renewed",
			failures, failures == 1 ? "" : "s");
	return rc;
}
