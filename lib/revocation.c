/* CRLs: one per intermediate that still has unexpired certificates, each
 * with the next number of its issuer, listing only revoked rows. */
#include <stdio.h>
#include <stdlib.h>

#include <capstan/lifecycle.h>

#include "audit.h"
#include "buffer.h"
#include "ca_internal.h"
#include "store.h"
#include "x509.h"

#define DEFAULT_NEXT_UPDATE (7 * 86400)

typedef struct {
	capstan_ctx *ctx;
	capstan_crl *crl;
	int64_t entries;
} crl_fill;

static int add_revoked(const char *serial, time_t revoked_at, const char *reason, void *payload)
{
	crl_fill *f = payload;
	capstan_revoke_reason code = CAPSTAN_REASON_UNSPECIFIED;

	if (reason && capstan_revoke_reason_parse(reason, &code) < 0)
		code = CAPSTAN_REASON_UNSPECIFIED;
	f->entries++;
	return capstan_crl_add(f->crl, f->ctx, serial, revoked_at, (int)code);
}

/* Inside the transaction: one issuer's CRL. */
static int issuer_crl(capstan_ctx *ctx, const capstan_cert *issuer, time_t now, time_t next,
	capstan_buf *der)
{
	crl_fill fill = { ctx, NULL, 0 };
	capstan_key *key = NULL;
	char detail[96];
	int64_t number;
	int rc;

	if ((rc = capstan_ca_load_key(ctx, issuer, &key)) < 0 ||
	    (rc = capstan_store_crl_next_number(ctx, issuer->id, now, next, &number)) < 0 ||
	    (rc = capstan_crl_new(&fill.crl, ctx, issuer->der, issuer->der_len, now, next, number)) < 0 ||
	    (rc = capstan_store_revoked_each(ctx, issuer->id, now, add_revoked, &fill)) < 0 ||
	    (rc = capstan_crl_sign(der, fill.crl, ctx, key)) < 0)
		goto done;
	snprintf(detail, sizeof(detail), "CRL number %lld, %lld revoked", (long long)number,
		(long long)fill.entries);
	rc = capstan_audit_record(ctx, "crl", issuer->env, issuer->name, issuer->serial, detail);
done:
	capstan_crl_free(fill.crl);
	capstan_key_free(key);
	return rc;
}

int capstan_crl_generate(capstan_ctx *ctx, const capstan_crl_opts *opts, capstan_buf **crls, size_t *count)
{
	capstan_store_env env;
	capstan_cert **issuers = NULL;
	capstan_buf *out = NULL;
	size_t n = 0;
	time_t now = time(NULL), next;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 ||
	    (rc = capstan_store_env_get(ctx, opts->env ? opts->env : "", &env)) < 0)
		return rc;
	next = now + (opts->next_update > 0 ? opts->next_update : DEFAULT_NEXT_UPDATE);
	if ((rc = capstan_require_unlocked(ctx)) < 0 || (rc = capstan_store_begin(ctx)) < 0)
		goto done;
	if ((rc = capstan_store_crl_issuers(ctx, env.id, now, &issuers, &n)) == 0 && n == 0)
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "environment '%s' has no current intermediate CA", env.name);
	if (rc == 0 && opts->single && n > 1)
		rc = capstan_error(ctx, CAPSTAN_EINVALID,
			"%zu intermediates of '%s' have unexpired certificates: one DER CRL cannot cover them (use PEM)",
			n, env.name);
	if (rc == 0 && !(out = calloc(n, sizeof(*out))))
		rc = capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = issuer_crl(ctx, issuers[i], now, next, &out[i]);
	if ((rc = capstan_store_end(ctx, rc)) < 0) {
		capstan_crl_list_free(out, out ? n : 0);
		goto done;
	}
	*crls = out;
	*count = n;
done:
	capstan_cert_list_free(issuers, n);
	capstan_store_env_clear(&env);
	return rc;
}

void capstan_crl_list_free(capstan_buf *crls, size_t count)
{
	for (size_t i = 0; crls && i < count; i++)
		capstan_buf_free(&crls[i]);
	free(crls);
}

int capstan_crl_pem(capstan_buf *out, capstan_ctx *ctx, const capstan_buf *crls, size_t count)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < count; i++)
		rc = capstan_crl_pem_append(out, ctx, crls[i].data, crls[i].len);
	if (rc < 0)
		capstan_buf_free(out);
	return rc;
}
