/*
 * A CSR's issuance in two halves, for a server that signs on many threads
 * and commits on one. The expensive part (reading and checking the CSR,
 * signing) needs no transaction; only the record does. So the signature is
 * made beforehand, and the one writer only records it, inside its group's
 * transaction, re-signing when the intermediate rotated or the public URL
 * changed in between (the record must name the issuer that signed it).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca.h"
#include "ca_internal.h"

struct capstan_presigned {
	const capstan_issue_opts *o;    /* the caller's, alive until commit */
	capstan_issue_plan plan;
	capstan_mint mint;
	capstan_buf der;
	capstan_x509_info info;
	int64_t issuer_id;              /* who signed der */
	char *issuer_url;               /* with which public URL (NULL: none) */
};

void capstan_presigned_free(capstan_presigned *p)
{
	if (!p)
		return;
	capstan_issue_plan_clear(&p->plan);
	capstan_buf_free(&p->der);
	capstan_x509_info_clear(&p->info);
	free(p->issuer_url);
	free(p);
}

/* Mints and signs under signer; no database. */
static int sign_under(capstan_ctx *ctx, capstan_presigned *p, const capstan_signer *signer)
{
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];
	int rc;

	capstan_buf_free(&p->der);
	capstan_x509_info_clear(&p->info);
	free(p->issuer_url);
	p->issuer_url = NULL;
	p->plan.signer = signer;
	p->mint = capstan_issue_mint(p->o, &p->plan, time(NULL));
	if ((rc = capstan_serial_generate(ctx, p->mint.tmpl.serial, hex)) < 0 ||
	    (rc = capstan_ca_sign(ctx, &p->mint, &p->der, &p->info)) < 0)
		return rc;
	p->issuer_id = signer->issuer->id;
	if (signer->url && !(p->issuer_url = strdup(signer->url)))
		return capstan_error_oom(ctx);
	return 0;
}

int capstan_issue_presign(capstan_presigned **out, capstan_ctx *ctx, const capstan_issue_opts *o,
	capstan_key **csr_key, char **csr_cn, capstan_strlist *csr_sans)
{
	capstan_signers *signers = capstan_ctx_signers(ctx);
	capstan_presigned *p = calloc(1, sizeof(*p));
	const capstan_signer *signer;
	int rc;

	*out = NULL;
	if (!p || !signers) {
		free(p);
		return capstan_error_oom(ctx);
	}
	p->o = o;
	/* The CSR the caller read is not read again (capstan_issue_check skips it). */
	p->plan.key = *csr_key, *csr_key = NULL;
	p->plan.csr_cn = *csr_cn, *csr_cn = NULL;
	p->plan.csr_sans = *csr_sans, *csr_sans = (capstan_strlist){ 0 };
	if ((rc = capstan_issue_check(ctx, o, &p->plan)) < 0 || (rc = capstan_require_unlocked(ctx)) < 0 ||
	    (rc = capstan_signers_get(ctx, signers, p->plan.env.id, &signer)) < 0 ||
	    (rc = sign_under(ctx, p, signer)) < 0) {
		capstan_presigned_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int same_url(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int capstan_issue_commit(capstan_cert **out, capstan_ctx *ctx, capstan_presigned *p)
{
	capstan_signers *signers = capstan_ctx_signers(ctx);
	const capstan_signer *signer;
	capstan_x509_info info;
	int rc;

	*out = NULL;
	if (!signers)
		return capstan_error_oom(ctx);
	if ((rc = capstan_signers_get(ctx, signers, p->plan.env.id, &signer)) < 0)
		return rc;
	if ((signer->issuer->id != p->issuer_id || !same_url(signer->url, p->issuer_url)) &&
	    (rc = sign_under(ctx, p, signer)) < 0)
		return rc;
	/* The record reads the issuer's id; this thread's signer is that issuer. */
	p->plan.signer = signer;
	p->mint.issuer = signer->issuer;
	p->mint.issuer_parsed = signer->parsed;
	p->mint.issuer_key = signer->key;
	info = p->info;
	p->info = (capstan_x509_info){ 0 }; /* consumed by the record */
	if ((rc = capstan_store_begin(ctx)) < 0) {
		capstan_x509_info_clear(&info);
		return rc;
	}
	return capstan_store_end(ctx, capstan_issue_record(ctx, p->o, &p->plan, &p->mint, info, &p->der, out));
}
