/* Getting certificates and keys out of the inventory: trust bundles, and the
 * material (chain, key, trust) that convert's writers turn into files. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <capstan/ca.h>
#include <capstan/convert.h>

#include "audit.h"
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

/* A key in a token never leaves it: no format carries it. */
static int refuse_token_key(capstan_ctx *ctx, const capstan_cert *cert)
{
	char *uri = NULL;
	int rc = capstan_ca_key_uri(ctx, cert, &uri);

	if (rc == 0 && uri)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "the key of '%s' is kept in a PKCS#11 token (%s) and never leaves it",
			cert->name, uri);
	free(uri);
	return rc;
}

static int material_of(capstan_material **out, capstan_ctx *ctx, const capstan_cert *cert, capstan_format fmt)
{
	capstan_cert *chain[MAX_CHAIN];
	capstan_der ders[MAX_CHAIN + 1];
	capstan_key *key = NULL;
	size_t n = 0;
	int rc;

	if (capstan_format_is_truststore(fmt))
		return trust_material(out, ctx, cert);
	if (capstan_format_has_key(fmt) &&
	    ((rc = capstan_require_unlocked(ctx)) < 0 || (rc = refuse_token_key(ctx, cert)) < 0 ||
	     (rc = capstan_ca_load_key(ctx, cert, &key)) < 0))
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

/*
 * A private key leaving the inventory is recorded before the bytes exist, in
 * its own transaction: a key never leaves without a trace (a failed write
 * leaves a row for an export that did not land, the safe way round). A CA's
 * own key signs everything under it: it leaves only when asked for by name.
 */
static int refuse_ca_key(capstan_ctx *ctx, const capstan_cert *cert, capstan_format fmt, int ca_key)
{
	if (!capstan_format_has_key(fmt) || cert->kind == CAPSTAN_KIND_LEAF || ca_key)
		return 0;
	return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_CA_KEY,
		"'%s' is the %s CA of environment '%s': its private key signs every certificate under it and"
		" is not exported unless a CA key is explicitly asked for", cert->name,
		cert->kind == CAPSTAN_KIND_ROOT ? "root" : "intermediate", cert->env);
}

static int record_key_export(capstan_ctx *ctx, const capstan_cert *cert, capstan_format fmt, const char *to,
	int ca_key)
{
	const char *ca = cert->kind == CAPSTAN_KIND_ROOT ? "root CA" : "intermediate CA";
	char cwd[4096], where[4200], *detail;
	int rc;

	if (!capstan_format_has_key(fmt))
		return 0;
	if ((rc = refuse_ca_key(ctx, cert, fmt, ca_key)) < 0)
		return rc;
	/* Where the key went, as a path that still means something later. */
	if (to && *to != '/' && strcmp(to, "-") != 0 && getcwd(cwd, sizeof(cwd)))
		snprintf(where, sizeof(where), "%s/%s", cwd, to);
	else
		snprintf(where, sizeof(where), "%s", !to ? "the calling program" : strcmp(to, "-") == 0 ? "stdout" : to);
	if (!(detail = capstan_aprintf("%s%sformat %s to %s", cert->kind != CAPSTAN_KIND_LEAF ? ca : "",
		      cert->kind != CAPSTAN_KIND_LEAF ? " key, " : "", capstan_format_name(fmt), where)))
		return capstan_error_oom(ctx);
	/* Never inside a caller's transaction: a failed begin leaves it alone. */
	if ((rc = capstan_store_begin(ctx)) == 0) {
		if ((rc = capstan_audit_record(ctx, "export-key", cert->env, cert->name, cert->serial, detail)) == 0)
			rc = capstan_store_commit(ctx); /* rolls back itself on failure */
		else
			capstan_store_rollback(ctx);
	}
	free(detail);
	return rc;
}

int capstan_material_from_cert(capstan_material **out, capstan_ctx *ctx, const capstan_cert *cert,
	capstan_format fmt)
{
	int rc;

	*out = NULL;
	if ((rc = capstan_require_store(ctx)) < 0 || (rc = material_of(out, ctx, cert, fmt)) < 0)
		return rc;
	if ((rc = record_key_export(ctx, cert, fmt, NULL, 0)) < 0) {
		capstan_material_free(*out);
		*out = NULL;
	}
	return rc;
}

/*
 * The PEM formats straight from what is stored: certificates base64'd from
 * their DER, a key from its seal (neither parsed: a decode per certificate
 * or key is most of a bundle's cost in OpenSSL 3.0). 1 when fmt is not one
 * of them, or opts ask for what only the writer checks (alias, legacy).
 */
static int direct_pem(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert, capstan_format fmt,
	const capstan_write_opts *opts)
{
	int chain = fmt == CAPSTAN_FORMAT_CHAIN || fmt == CAPSTAN_FORMAT_PEM;
	capstan_cert *issuers[MAX_CHAIN];
	size_t n = 0;
	int rc;

	if ((fmt != CAPSTAN_FORMAT_CERT && fmt != CAPSTAN_FORMAT_KEY && !chain) ||
	    (opts && (opts->alias || opts->legacy)))
		return 1;
	if (fmt == CAPSTAN_FORMAT_KEY)
		rc = capstan_ca_key_pem(ctx, cert, out);
	else
		rc = capstan_x509_pem_append(out, ctx, cert->der, cert->der_len);
	if (rc == 0 && chain && cert->kind != CAPSTAN_KIND_ROOT && (rc = load_chain(ctx, cert, issuers, &n)) == 0)
		for (size_t i = 0; rc == 0 && i < n; i++)
			if (issuers[i]->kind != CAPSTAN_KIND_ROOT)
				rc = capstan_x509_pem_append(out, ctx, issuers[i]->der, issuers[i]->der_len);
	if (rc == 0 && fmt == CAPSTAN_FORMAT_PEM)
		rc = capstan_ca_key_pem(ctx, cert, out);
	for (size_t i = 0; i < n; i++)
		capstan_cert_free(issuers[i]);
	if (rc < 0)
		capstan_buf_free(out);
	return rc;
}

/* The bytes of one format: straight from the store when it can, else through convert's writers. */
static int render(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert, capstan_format fmt,
	const capstan_write_opts *opts)
{
	capstan_write_opts defaults = CAPSTAN_WRITE_OPTS_INIT;
	capstan_material *m = NULL;
	int rc;

	if ((rc = direct_pem(out, ctx, cert, fmt, opts)) <= 0)
		return rc;
	if ((rc = material_of(&m, ctx, cert, fmt)) == 0)
		rc = capstan_material_write(out, ctx, m, fmt, opts ? opts : &defaults);
	capstan_material_free(m);
	return rc;
}

int capstan_export_to(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert, capstan_format fmt,
	const capstan_export_opts *o)
{
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_EXPORT_OPTS_VERSION, "capstan_export_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0)
		return rc;
	/* Everything that can refuse (the home's unlock, the store password)
	 * refuses before the row is written; the bytes reach the caller only
	 * once it is committed. */
	if ((rc = refuse_ca_key(ctx, cert, fmt, o->ca_key)) == 0 && (rc = render(out, ctx, cert, fmt, o->write)) == 0 &&
	    (rc = record_key_export(ctx, cert, fmt, o->to, o->ca_key)) < 0)
		capstan_buf_free(out); /* wiped: unrecorded, it never leaves */
	return rc;
}

int capstan_export(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert, capstan_format fmt,
	const capstan_write_opts *opts)
{
	capstan_export_opts o = CAPSTAN_EXPORT_OPTS_INIT;

	o.write = opts;
	return capstan_export_to(out, ctx, cert, fmt, &o);
}

int capstan_export_unrecorded(capstan_buf *out, capstan_ctx *ctx, const capstan_cert *cert, capstan_format fmt,
	const capstan_write_opts *opts)
{
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	return render(out, ctx, cert, fmt, opts);
}
