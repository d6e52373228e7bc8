/* Getting certificates and keys out of the inventory: trust bundles and exports. */
#include <stdlib.h>
#include <string.h>

#include <capstan/ca.h>

#include "buffer.h"
#include "ca_internal.h"
#include "store.h"
#include "x509.h"

static const char *const format_names[] = {
	[CAPSTAN_EXPORT_CERT] = "cert",
	[CAPSTAN_EXPORT_CHAIN] = "chain",
	[CAPSTAN_EXPORT_KEY] = "key",
	[CAPSTAN_EXPORT_DER] = "der",
};

int capstan_export_format_parse(const char *name, capstan_export_format *out)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (name && strcmp(name, format_names[i]) == 0)
			return *out = (capstan_export_format)i, 0;
	return CAPSTAN_EINVALID;
}

int capstan_export_format_is_secret(capstan_export_format fmt)
{
	return fmt == CAPSTAN_EXPORT_KEY;
}

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
	for (size_t i = 0; i < count; i++)
		capstan_cert_free(roots[i]);
	free(roots);
	capstan_store_env_clear(&env);
	if (rc < 0)
		capstan_buf_free(out);
	return rc;
}

/* The leaf, then each issuer up to (not including) the root. */
static int chain_pem(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *leaf)
{
	int64_t next = leaf->issuer_id;
	int rc, depth = 0;

	if ((rc = capstan_x509_pem_append(out, ctx, leaf->der, leaf->der_len)) < 0)
		return rc;
	while (next) {
		capstan_cert *issuer = NULL;
		if (++depth > 8)
			return capstan_error(ctx, CAPSTAN_ERROR, "issuer chain of '%s' loops", leaf->name);
		if ((rc = capstan_store_cert_get(ctx, next, &issuer)) < 0)
			return rc;
		if (issuer->kind != CAPSTAN_KIND_ROOT)
			rc = capstan_x509_pem_append(out, ctx, issuer->der, issuer->der_len);
		next = issuer->kind == CAPSTAN_KIND_ROOT ? 0 : issuer->issuer_id;
		capstan_cert_free(issuer);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int key_pem(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert)
{
	capstan_key *key = NULL;
	int rc;

	if ((rc = capstan_require_unlocked(ctx)) < 0 || (rc = capstan_ca_load_key(ctx, cert, &key)) < 0)
		return rc;
	rc = capstan_key_pkcs8_pem(out, ctx, key);
	capstan_key_free(key);
	return rc;
}

int capstan_export(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert,
	capstan_export_format fmt)
{
	int rc;

	switch (fmt) {
	case CAPSTAN_EXPORT_CERT:
		rc = capstan_x509_pem_append(out, ctx, cert->der, cert->der_len);
		break;
	case CAPSTAN_EXPORT_CHAIN:
		rc = chain_pem(out, ctx, cert);
		break;
	case CAPSTAN_EXPORT_KEY:
		rc = key_pem(out, ctx, cert);
		break;
	case CAPSTAN_EXPORT_DER:
		return capstan_buf_set(ctx, out, cert->der, cert->der_len);
	default:
		return capstan_error(ctx, CAPSTAN_EINVALID, "unknown export format");
	}
	if (rc < 0)
		capstan_buf_free(out);
	return rc;
}
