/* Getting certificates and keys out of the inventory: trust bundles, and the
 * material (chain, key, trust) that convert's writers turn into files. */
#include <stdlib.h>
#include <string.h>

#include <capstan/ca.h>
#include <capstan/convert.h>

#include "ca_internal.h"
#include "store/store.h"
#include "crypto/crypto.h"

int capstan_trust_pem(capstan_buf *out, capstan_ctx *ctx, const char *env_name)
{
	capstan_store_env env;
	capstan_cert **roots = NULL;
	size_t count = 0;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 || (rc = capstan_store_env_get(ctx, env_name, &env)) < 0)
		return rc;
	if ((rc = capstan_store_env_roots(ctx, env.id, &roots, &count)) == 0 && count == 0)
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "environment '%s' has no valid root CA", env_name);
	for (size_t i = 0; rc == 0 && i < count; i++)
		rc = capstan_x509_pem_append(out, ctx, roots[i]->der, roots[i]->der_len);
	capstan_cert_list_free(roots, count);
	capstan_store_env_clear(&env);
	if (rc < 0)
		capstan_buf_free(out);
	return rc;
}

#define MAX_CHAIN 8

/* The certificate and each issuer up to its root, leaf first. */
static int load_chain(capstan_ctx *ctx, const capstan_cert *cert, capstan_cert *chain[MAX_CHAIN], size_t *n)
{
	int64_t next = cert->issuer_id;
	int rc;

	*n = 0;
	while (next) {
		if (*n == MAX_CHAIN)
			return capstan_error(ctx, CAPSTAN_ERROR, "issuer chain of '%s' loops", cert->name);
		if ((rc = capstan_store_cert_get(ctx, next, &chain[*n])) < 0)
			return rc;
		next = chain[*n]->kind == CAPSTAN_KIND_ROOT ? 0 : chain[*n]->issuer_id;
		(*n)++;
	}
	return 0;
}

static int trust_material(capstan_material **out, capstan_ctx *ctx, const capstan_cert *cert)
{
	capstan_store_env env;
	capstan_cert **roots = NULL;
	capstan_der *ders = NULL;
	size_t count = 0;
	int rc;

	if ((rc = capstan_store_env_get(ctx, cert->env, &env)) < 0)
		return rc;
	if ((rc = capstan_store_env_roots(ctx, env.id, &roots, &count)) == 0 &&
	    !(ders = calloc(count ? count : 1, sizeof(*ders))))
		rc = capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < count; i++)
		ders[i] = (capstan_der){ roots[i]->der, roots[i]->der_len };
	if (rc == 0)
		rc = capstan_material_new(out, ctx, NULL, 0, ders, count, NULL, cert->env);
	free(ders);
	capstan_cert_list_free(roots, count);
	capstan_store_env_clear(&env);
	return rc;
}

int capstan_material_from_cert(capstan_material **out, capstan_ctx *ctx, const capstan_cert *cert,
	capstan_format fmt)
{
	capstan_cert *chain[MAX_CHAIN];
	capstan_der ders[MAX_CHAIN + 1];
	capstan_key *key = NULL;
	size_t n = 0;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (capstan_format_is_truststore(fmt))
		return trust_material(out, ctx, cert);
	if (capstan_format_has_key(fmt) &&
	    ((rc = capstan_require_unlocked(ctx)) < 0 || (rc = capstan_ca_load_key(ctx, cert, &key)) < 0))
		return rc;
	if ((rc = load_chain(ctx, cert, chain, &n)) == 0) {
		ders[0] = (capstan_der){ cert->der, cert->der_len };
		for (size_t i = 0; i < n; i++)
			ders[i + 1] = (capstan_der){ chain[i]->der, chain[i]->der_len };
		rc = capstan_material_new(out, ctx, ders, n + 1, NULL, 0, key, cert->name);
		key = NULL; /* taken over, or freed, by capstan_material_new */
	}
	for (size_t i = 0; i < n; i++)
		capstan_cert_free(chain[i]);
	capstan_key_free(key);
	return rc;
}

int capstan_export(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert, capstan_format fmt,
	const capstan_write_opts *opts)
{
	capstan_write_opts defaults = CAPSTAN_WRITE_OPTS_INIT;
	capstan_material *m = NULL;
	int rc;

	if ((rc = capstan_material_from_cert(&m, ctx, cert, fmt)) == 0)
		rc = capstan_material_write(out, ctx, m, fmt, opts ? opts : &defaults);
	capstan_material_free(m);
	return rc;
}
