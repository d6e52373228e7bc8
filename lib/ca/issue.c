/* Issuing leaf certificates, from a fresh key or from a CSR. */
#include <stdlib.h>
#include <string.h>

#include <capstan/ca.h>
#include <capstan/parse.h>

#include "audit.h"
#include "ca.h"
#include "ca_internal.h"
#include "request.h"
#include "store/store.h"

void capstan_issue_plan_clear(capstan_issue_plan *p)
{
	capstan_store_env_clear(&p->env);
	capstan_strlist_free(&p->sans);
	capstan_key_free(p->key);
	capstan_buf_free(&p->sealed);
	free(p->csr_cn);
	capstan_strlist_free(&p->csr_sans);
	memset(p, 0, sizeof(*p));
}

static int check_names(capstan_ctx *ctx, const capstan_issue_opts *o, capstan_issue_plan *p)
{
	const char *why = NULL;

	p->cn = o->cn ? o->cn : p->csr_cn;
	if (!p->cn)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_CN, "a CN is required (the CSR names none)");
	/* A CN the CSR brought is the CSR's fault. */
	if (capstan_check_subject_value(p->cn, &why) < 0)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, o->cn ? CAPSTAN_FIELD_CN : CAPSTAN_FIELD_CSR,
			"invalid CN '%s'%s: %s", p->cn, o->cn ? "" : " in the CSR", why);
	p->name = o->name ? o->name : p->cn;
	if (capstan_check_identifier(p->name, &why) < 0)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_NAME, o->name ?
			"invalid certificate name '%s': %s" :
			"the CN '%s' cannot be a certificate name (%s): the certificate needs a name", p->name, why);
	if (o->service && capstan_check_identifier(o->service, &why) < 0)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_SERVICE, "invalid service name '%s': %s",
			o->service, why);
	if ((unsigned)o->profile >= CAPSTAN_PROFILE__COUNT)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_PROFILE, "unknown profile");
	if (o->key_set && (unsigned)o->key >= CAPSTAN_KEY__COUNT)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_KEY, "unknown key type");
	if (o->renew_before < 0)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_RENEW_BEFORE,
			"the renew-before window must be positive");
	return 0;
}

int capstan_issue_check(capstan_ctx *ctx, const capstan_issue_opts *o, capstan_issue_plan *p)
{
	capstan_policy_ask ask;
	int rc;

	/* Here, so that issue and every request of a batch are checked alike. */
	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_ISSUE_OPTS_VERSION, "capstan_issue_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0 ||
	    (!p->env.name && (rc = capstan_store_env_get(ctx, o->env ? o->env : "", &p->env)) < 0))
		return rc;
	/* A caller that read the CSR already (capstan_issue_presign) hands its parts over. */
	if (o->csr && !p->key && (rc = capstan_csr_read(ctx, o->csr, o->csr_len, &p->key, &p->csr_cn,
					 &p->csr_sans)) < 0)
		return rc;
	if (o->csr && o->key_set)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_KEY,
			"a key type does not go with a CSR: the CSR has its key");
	if ((rc = check_names(ctx, o, p)) < 0)
		return rc;
	if ((rc = capstan_ca_lifetime(ctx, "the lifetime", o->lifetime, p->env.leaf_lifetime, &p->lifetime)) < 0)
		return capstan_error_subject_set(ctx, rc, CAPSTAN_FIELD_LIFETIME);
	/* max_days refuses a lifetime asked for; the default one is cut to it. */
	if (!o->lifetime && (rc = capstan_policy_cap_lifetime(ctx, p->policy, p->env.id, o->service, &p->lifetime)) < 0)
		return rc;
	if ((rc = capstan_request_sans(ctx, o, p->cn, o->csr ? &p->csr_sans : NULL, &p->sans)) < 0)
		return rc;
	/* Here every way in meets the policy the inventory records: issue,
	 * each line of a batch, a CSR, serve's sign. */
	ask = (capstan_policy_ask){ &p->sans, p->lifetime, 1,
		o->csr ? capstan_key_get_type(p->key) : o->key_set ? o->key : CAPSTAN_DEFAULT_KEY, p->cn,
		o->profile != CAPSTAN_PROFILE_CLIENT };
	if ((rc = capstan_policy_enforce_cached(ctx, p->policy, p->env.id, p->env.name, o->service, &ask)) < 0)
		return rc;
	/* A window as long as the lifetime is kept as asked: capstan_renew_window
	 * makes it a third of the validity, for every way a certificate comes in. */
	return 0;
}

static int plan_issue(capstan_ctx *ctx, const capstan_issue_opts *o, capstan_issue_plan *p,
	capstan_signers *signers)
{
	int rc;

	if ((rc = capstan_issue_check(ctx, o, p)) < 0 || (rc = capstan_require_unlocked(ctx)) < 0 ||
	    (rc = capstan_signers_get(ctx, signers, p->env.id, &p->signer)) < 0)
		return rc;
	/* Keys are made before the transaction: RSA-4096 must not hold the write lock. */
	if (!o->csr &&
	    ((rc = capstan_key_generate(&p->key, ctx, o->key_set ? o->key : CAPSTAN_DEFAULT_KEY)) < 0 ||
	     (rc = capstan_key_seal(&p->sealed, ctx, p->key)) < 0))
		return rc;
	return 0;
}

capstan_mint capstan_issue_mint(const capstan_issue_opts *o, const capstan_issue_plan *p, time_t now)
{
	capstan_mint m = {
		.tmpl = { .kind = CAPSTAN_KIND_LEAF, .profile = o->profile, .cn = p->cn, .org = p->env.org,
			  .sans = &p->sans, .not_before = now - CAPSTAN_BACKDATE_SECONDS, .not_after = now + p->lifetime },
		.name = p->name, .service = o->service, .env_id = p->env.id, .env_name = p->env.name,
		.subject_key = p->key, .sealed_key = o->csr ? NULL : &p->sealed,
		.issuer = p->signer->issuer, .issuer_parsed = p->signer->parsed, .issuer_key = p->signer->key,
		.lifetime = p->lifetime, .renew_before = o->renew_before,
	};
	return m;
}

int capstan_issue_conflict(capstan_ctx *ctx, const capstan_issue_plan *p, const char *serial)
{
	return capstan_error(ctx, CAPSTAN_EEXISTS, "'%s' already has a valid certificate in '%s' (serial %s):"
		" renew or rotate it", p->name, p->env.name, serial);
}

int capstan_issue_record(capstan_ctx *ctx, const capstan_issue_opts *o, capstan_issue_plan *p,
	capstan_mint *m, capstan_x509_info info, capstan_buf *der, capstan_cert **out)
{
	capstan_cert *previous = NULL;
	int rc;

	rc = capstan_store_cert_latest(ctx, p->env.id, p->name, CAPSTAN_KIND_LEAF, &previous);
	if (rc == 0 && previous->status == CAPSTAN_STATUS_VALID && !o->replace) {
		rc = capstan_issue_conflict(ctx, p, previous->serial);
		goto done;
	}
	if (rc < 0 && rc != CAPSTAN_ENOTFOUND)
		goto done;
	if ((rc = capstan_ca_record(ctx, m, info, der, out)) < 0) {
		info = (capstan_x509_info){ 0 }; /* consumed */
		goto done;
	}
	info = (capstan_x509_info){ 0 };
	/* An expired (or, when replacing, valid) certificate of the line is superseded. */
	if (!previous || (previous->status != CAPSTAN_STATUS_EXPIRED && previous->status != CAPSTAN_STATUS_VALID) ||
	    (rc = capstan_store_cert_supersede(ctx, previous->id, (*out)->id)) == 0)
		rc = capstan_audit_record(ctx, o->replace && previous ? "reissue" : "issue", p->env.name, p->name,
			(*out)->serial, o->csr ? "from CSR" : capstan_key_type_name((*out)->key_type));
	if (rc < 0) { /* recorded but not kept: the caller undoes the rows, and has no certificate */
		capstan_cert_free(*out);
		*out = NULL;
	}
done:
	capstan_x509_info_clear(&info);
	capstan_cert_free(previous);
	return rc;
}

/* Inside the transaction: the serial, the signature, the records. */
static int issue_records(capstan_ctx *ctx, const capstan_issue_opts *o, capstan_issue_plan *p, capstan_cert **out)
{
	capstan_mint m = capstan_issue_mint(o, p, time(NULL));
	capstan_buf der = CAPSTAN_BUF_INIT;
	capstan_x509_info info;
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];
	int rc;

	/* 126 random bits: a serial the issuer used is practically impossible, and
	 * the record signs again under another should it be one (capstan_ca_record). */
	if ((rc = capstan_serial_generate(ctx, m.tmpl.serial, hex)) < 0 ||
	    (rc = capstan_ca_sign(ctx, &m, &der, &info)) < 0)
		return rc;
	rc = capstan_issue_record(ctx, o, p, &m, info, &der, out);
	capstan_buf_free(&der);
	return rc;
}

int capstan_issue(capstan_cert **out, capstan_ctx *ctx, const capstan_issue_opts *o)
{
	capstan_issue_plan p = { 0 };
	capstan_signers *signers = capstan_ctx_signers(ctx);
	capstan_cert *cert = NULL;
	int rc;

	if (!signers)
		return capstan_error_oom(ctx);
	if ((rc = plan_issue(ctx, o, &p, signers)) < 0 || (rc = capstan_store_begin(ctx)) < 0 ||
	    (rc = capstan_store_end(ctx, issue_records(ctx, o, &p, &cert))) < 0)
		goto done;
	if (out)
		*out = cert, cert = NULL;
done:
	capstan_cert_free(cert);
	capstan_issue_plan_clear(&p);
	return rc;
}
