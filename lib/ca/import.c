/*
 * capstan import: an existing CA adopted as a new environment (its
 * certificate, key and chain, or a whole easy-rsa PKI or openssl ca
 * directory). One transaction:
 * a refusal leaves nothing behind.
 */
#include <string.h>
#include <time.h>

#include <capstan/import.h>

#include "ca_internal.h"
#include "import_internal.h"
#include "store/store.h"

/* The records, and the CRL number the adopted CA goes on from. Its own
 * numbering is unknown (its CRLs stayed where it ran): the time of import, in
 * seconds, is above any count one CRL a second could have reached, so the
 * next CRL's number is greater than every one it issued (RFC 5280, 5.2.3). */
static int records_numbered(capstan_ctx *ctx, const capstan_import_opts *o, capstan_import_plan *p,
	capstan_store_env *env, capstan_import_result *out)
{
	int64_t last = (int64_t)time(NULL);
	const capstan_cert *adopted;
	int rc;

	if ((rc = capstan_import_records(ctx, o, p, env, &out->root, &out->intermediate)) < 0)
		return rc;
	adopted = p->files.count == 2 ? out->intermediate : out->root;
	if ((rc = capstan_store_crl_continue(ctx, adopted->id, last)) == 0)
		out->crl_number = last;
	return rc;
}

int capstan_import_ca(capstan_import_result *out, capstan_ctx *ctx, const capstan_import_opts *o)
{
	capstan_import_plan p;
	capstan_store_env env;
	int rc;

	memset(&p, 0, sizeof(p));
	memset(out, 0, sizeof(*out));
	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_IMPORT_OPTS_VERSION, "capstan_import_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0 || (rc = capstan_require_unlocked(ctx)) < 0)
		return rc;
	if (o->easy_rsa || o->openssl_ca)
		return capstan_import_easyrsa(out, ctx, o);
	if ((rc = capstan_import_plan_make(ctx, o, &o->ca_cert, &o->ca_key, &p)) < 0 ||
	    (rc = capstan_ca_env_absent(ctx, o->env)) < 0)
		goto done;
	if ((rc = capstan_store_begin(ctx)) < 0 ||
	    (rc = capstan_store_end(ctx, records_numbered(ctx, o, &p, &env, out))) < 0)
		capstan_import_result_clear(out);
done:
	capstan_import_plan_clear(&p);
	return rc;
}
