/* Renewal, rotation and revocation of one leaf certificate, and the reissue
 * steps (reissue.h) that renew --due (renew_due.c) shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <capstan/lifecycle.h>

#include "audit.h"
#include "ca.h"
#include "ca_internal.h"
#include "store/store.h"
#include "reissue.h"
#include "crypto/crypto.h"

static const struct { capstan_revoke_reason reason; const char *name; } reasons[] = {
	{ CAPSTAN_REASON_UNSPECIFIED, "unspecified" },
	{ CAPSTAN_REASON_KEY_COMPROMISE, "keyCompromise" },
	{ CAPSTAN_REASON_AFFILIATION_CHANGED, "affiliationChanged" },
	{ CAPSTAN_REASON_SUPERSEDED, "superseded" },
	{ CAPSTAN_REASON_CESSATION_OF_OPERATION, "cessationOfOperation" },
};

/* Any case: RFC 5280's names are camelCase, what people type often is not. */
int capstan_revoke_reason_parse(const char *name, capstan_revoke_reason *out)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (name && strcasecmp(name, reasons[i].name) == 0)
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

void capstan_reissue_plan_clear(reissue_plan *p)
{
	capstan_store_env_clear(&p->env);
	free(p->cn);
	capstan_strlist_free(&p->sans);
	capstan_key_free(p->key);
	capstan_buf_free(&p->sealed);
}

static int check_reissuable(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, int proven)
{

	if (old->kind != CAPSTAN_KIND_LEAF)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' is a CA certificate: a CA is replaced by rotating the CA of %s (a new intermediate,"
			" or a new root)", old->name, old->env);
	/* Renewal certifies the same key again: without it in the inventory,
	 * only its holder's proof of possession makes that safe (the inventory
	 * cannot tell who else asks). Rotation makes a new key, which the
	 * inventory then holds, so a keyless line rotates like any other. */
	if (!old->has_key && kind == REISSUE_RENEW && !proven)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' (%s) has no key in the inventory (issued from a CSR, or imported without it) and cannot"
			" be renewed here: rotate it for a new key, issue it again from a new CSR with --replace, or revoke"
			" it if it is no longer used",
			old->name, old->env);
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

/* Every reason to refuse the reissue that needs no key: the line, its
 * lifetime, the policy recorded. need_unlocked: the inventory must be open. */
static int reissue_checks(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, int64_t lifetime,
	reissue_plan *p, int need_unlocked)
{
	capstan_policy_ask ask;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 || (rc = check_reissuable(ctx, old, kind, p->proven)) < 0 ||
	    (need_unlocked && (rc = capstan_require_unlocked(ctx)) < 0) ||
	    (rc = capstan_store_env_get(ctx, old->env, &p->env)) < 0)
		return rc;
	if ((rc = capstan_ca_lifetime(ctx, "the lifetime", lifetime, old->lifetime, &p->lifetime)) < 0)
		return capstan_error_subject_set(ctx, rc, CAPSTAN_FIELD_LIFETIME);
	for (size_t i = 0; i < old->san_count; i++)
		if (capstan_strlist_push(&p->sans, old->sans[i]) < 0)
			return capstan_error_oom(ctx);
	/* A line the policy no longer allows is refused, not renewed. */
	/* The CN was checked when the line was issued; its SANs are checked again. */
	ask = (capstan_policy_ask){ &p->sans, p->lifetime, 1, old->key_type, NULL, 0 };
	/* Named, for renew --due reports many lines. */
	if ((rc = capstan_policy_enforce(ctx, p->env.id, p->env.name, old->service, &ask)) < 0)
		return rc == CAPSTAN_EINVALID ? capstan_error(ctx, rc, "'%s' (%s) no longer fits: %s", old->name, old->env,
			capstan_error_message(ctx)) : rc;
	return 0;
}

int capstan_reissue_forecast(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind)
{
	reissue_plan p = { 0 };
	int rc = reissue_checks(ctx, old, kind, 0, &p, 0);

	capstan_reissue_plan_clear(&p);
	return rc;
}

int capstan_reissue_plan(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, int64_t lifetime,
	reissue_plan *p, capstan_signers *signers)
{
	int rc;

	if ((rc = reissue_checks(ctx, old, kind, lifetime, p, 1)) < 0 ||
	    (rc = capstan_signers_get(ctx, signers, p->env.id, &p->signer)) < 0)
		return rc;
	return kind == REISSUE_RENEW ? capstan_store_cert_key_id(ctx, old->id, &p->key_id) : 0;
}

int capstan_reissue_subject(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, reissue_plan *p)
{
	int rc;

	/* Renewal certifies the old public key again; rotation only needs the CN. */
	if ((rc = capstan_x509_renewal_read(&p->cn, kind == REISSUE_RENEW ? &p->key : NULL, ctx, old->der,
		     old->der_len)) < 0)
		return rc;
	if (!p->cn)
		return capstan_error(ctx, CAPSTAN_ERROR, "'%s' has no CN to carry over", old->name);
	if (kind == REISSUE_RENEW)
		return 0;
	/* A new key, made before the transaction so RSA keygen holds no lock. */
	if ((rc = capstan_key_generate(&p->key, ctx, old->key_type)) < 0)
		return rc;
	return capstan_key_seal(&p->sealed, ctx, p->key);
}

capstan_mint capstan_reissue_mint(const capstan_cert *old, reissue_kind kind, const reissue_plan *p, time_t now)
{
	capstan_mint m = {
		.tmpl = { .kind = CAPSTAN_KIND_LEAF, .profile = old->profile, .cn = p->cn,
			  .org = p->env.org, .sans = &p->sans,
			  .not_before = now - CAPSTAN_BACKDATE_SECONDS, .not_after = now + p->lifetime },
		.name = old->name, .service = old->service, .env_id = p->env.id, .env_name = p->env.name,
		.subject_key = p->key, .sealed_key = kind == REISSUE_ROTATE ? &p->sealed : NULL,
		.key_id = p->key_id, .issuer = p->signer->issuer, .issuer_key = p->signer->key,
		.issuer_parsed = p->signer->parsed,
		.lifetime = p->lifetime, .renew_before = old->renew_before,
	};

	return m;
}

int capstan_reissue_records(capstan_ctx *ctx, const capstan_cert *old, reissue_kind kind, reissue_plan *p,
	reissue_signed *presigned, capstan_cert **out)
{
	capstan_cert *now_old = NULL, *latest = NULL;
	capstan_mint m;
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
	if ((rc = check_reissuable(ctx, now_old, kind, p->proven)) < 0)
		goto done;
	if (presigned) {
		rc = capstan_ca_record(ctx, &presigned->mint, presigned->info, &presigned->der, out);
		presigned->info = (capstan_x509_info){ 0 }; /* consumed */
	} else {
		m = capstan_reissue_mint(old, kind, p, time(NULL));
		rc = capstan_ca_mint(ctx, &m, out);
	}
	if (rc < 0)
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
	int proven, capstan_cert **out)
{
	reissue_plan p = { .proven = proven };
	capstan_signers *signers = capstan_ctx_signers(ctx);
	capstan_cert *cert = NULL;
	int rc;

	if (!signers)
		return capstan_error_oom(ctx);
	if ((rc = capstan_reissue_plan(ctx, old, kind, lifetime, &p, signers)) < 0 ||
	    (rc = capstan_reissue_subject(ctx, old, kind, &p)) < 0 || (rc = capstan_store_begin(ctx)) < 0 ||
	    (rc = capstan_store_end(ctx, capstan_reissue_records(ctx, old, kind, &p, NULL, &cert))) < 0)
		goto done;
	*out = cert;
	cert = NULL;
done:
	capstan_cert_free(cert);
	capstan_reissue_plan_clear(&p);
	return rc;
}

int capstan_renew(capstan_cert **out, capstan_ctx *ctx, const capstan_cert *cert, int64_t lifetime)
{
	return reissue(ctx, cert, REISSUE_RENEW, lifetime, 0, out);
}

int capstan_rotate(capstan_cert **out, capstan_ctx *ctx, const capstan_cert *cert, int64_t lifetime)
{
	return reissue(ctx, cert, REISSUE_ROTATE, lifetime, 0, out);
}

int capstan_renew_proven(capstan_cert **out, capstan_ctx *ctx, const capstan_cert *cert)
{
	return reissue(ctx, cert, REISSUE_RENEW, 0, 1, out);
}

/* Inside the transaction: the certificate, then (keyCompromise) every other
 * certificate of its key, at the same time and with the same reason. */
static int revoke_records(capstan_ctx *ctx, const capstan_cert *cert, capstan_revoke_reason reason,
	capstan_revocation *r)
{
	const char *why = capstan_revoke_reason_name(reason);
	time_t now = time(NULL);
	char detail[128];
	int rc;

	rc = capstan_store_cert_revoke(ctx, cert->id, now, why);
	if (rc == CAPSTAN_EEXISTS)
		return capstan_error(ctx, rc, "'%s' (serial %s) is already revoked", cert->name, cert->serial);
	if (rc < 0 || (rc = capstan_audit_record(ctx, "revoke", cert->env, cert->name, cert->serial, why)) < 0 ||
	    (rc = capstan_store_certs_same_key(ctx, cert->id, now, &r->same_key, &r->count)) < 0)
		return rc;
	if (reason != CAPSTAN_REASON_KEY_COMPROMISE)
		return 0;
	r->revoked = 1;
	snprintf(detail, sizeof(detail), "%s: carries the key of serial %s", why, cert->serial);
	for (size_t i = 0; rc == 0 && i < r->count; i++) {
		capstan_cert *o = r->same_key[i];
		if ((rc = capstan_store_cert_revoke(ctx, o->id, now, why)) == 0)
			rc = capstan_audit_record(ctx, "revoke", o->env, o->name, o->serial, detail);
		/* the caller's copy says what the row now says */
		free(o->revoke_reason);
		if (rc == 0 && !(o->revoke_reason = strdup(why)))
			rc = capstan_error_oom(ctx);
		o->status = CAPSTAN_STATUS_REVOKED;
		o->revoked_at = now;
	}
	return rc;
}

int capstan_revoke_ex(capstan_revocation *out, capstan_ctx *ctx, const capstan_cert *cert,
	capstan_revoke_reason reason)
{
	capstan_revocation r = { 0 };
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (cert->kind != CAPSTAN_KIND_LEAF)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"'%s' is a CA certificate: rotate the CA instead (a new intermediate for %s)",
			cert->name, cert->env);
	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	if ((rc = capstan_store_end(ctx, revoke_records(ctx, cert, reason, &r))) < 0 || !out) {
		capstan_revocation_clear(&r);
		return rc;
	}
	*out = r;
	return 0;
}

void capstan_revocation_clear(capstan_revocation *r)
{
	if (!r)
		return;
	capstan_cert_list_free(r->same_key, r->count);
	memset(r, 0, sizeof(*r));
}

int capstan_revoke(capstan_ctx *ctx, const capstan_cert *cert, capstan_revoke_reason reason)
{
	return capstan_revoke_ex(NULL, ctx, cert, reason);
}
