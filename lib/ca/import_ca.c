/*
 * What both imports share (import.c, import_easyrsa.c): the CA read and
 * checked, and certificates signed elsewhere stored as they are (never
 * signed again), keys sealed like any other, each with its audit row, so
 * check's replay finds them explained.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capstan/import.h>
#include <capstan/parse.h>

#include "audit.h"
#include "ca_internal.h"
#include "import_internal.h"
#include "crypto/crypto.h"
#include "store/store.h"

void capstan_import_plan_clear(capstan_import_plan *p)
{
	capstan_ca_files_clear(&p->files);
	capstan_buf_free(&p->sealed);
	capstan_key_free(p->new_key);
	capstan_buf_free(&p->new_sealed);
}

/* 0 when the inventory does not hold the certificate yet. */
static int already_held(capstan_ctx *ctx, const char *serial, const capstan_buf *der)
{
	capstan_cert *held = NULL;
	int rc = capstan_store_cert_by_der(ctx, serial, der->data, der->len, &held);

	if (rc == 0)
		rc = capstan_error(ctx, CAPSTAN_EEXISTS, "the inventory holds certificate %s already ('%s' in %s):"
			" a certificate is imported once", serial, held->name, held->env);
	capstan_cert_free(held);
	return rc == CAPSTAN_ENOTFOUND ? 0 : rc;
}

int capstan_import_cert(capstan_ctx *ctx, const capstan_store_env *env, capstan_cert_kind kind,
	capstan_profile profile, const char *name, const capstan_buf *der, const capstan_buf *sealed,
	const capstan_cert *issuer, capstan_cert **out)
{
	capstan_buf copy = CAPSTAN_BUF_INIT;
	capstan_x509_info info;
	char detail[64];
	int rc;

	if ((rc = capstan_x509_info_read(&info, ctx, der->data, der->len)) < 0)
		return rc;
	/* check replays the audit log by fingerprint: one row per certificate. */
	if ((rc = already_held(ctx, info.serial, der)) < 0 ||
	    (rc = capstan_buf_append(ctx, &copy, der->data, der->len)) < 0) {
		capstan_x509_info_clear(&info);
		return rc;
	}
	capstan_mint m = {
		.tmpl = { .kind = kind, .profile = profile }, .name = name, .env_id = env->id, .env_name = env->name,
		.sealed_key = sealed, .issuer = issuer, .lifetime = info.not_after - info.not_before,
		.imported = 1,
	};
	rc = capstan_ca_record(ctx, &m, info, &copy, out);
	capstan_buf_free(&copy);
	if (rc < 0)
		return rc;
	/* check accepts a certificate without its key only when its audit row says so (store_check.c). */
	snprintf(detail, sizeof(detail), "%s imported%s", kind == CAPSTAN_KIND_ROOT ? "root CA" :
		kind == CAPSTAN_KIND_INTERMEDIATE ? "intermediate CA" : "leaf",
		sealed ? "" : " without its key");
	return capstan_audit_record(ctx, "import", env->name, name, (*out)->serial, detail);
}

int capstan_import_records(capstan_ctx *ctx, const capstan_import_opts *o, capstan_import_plan *p,
	capstan_store_env *env_out, capstan_cert **root, capstan_cert **inter)
{
	capstan_store_env env = { 0, (char *)o->env, NULL, capstan_key_get_type(p->files.key), p->lifetimes[1] };
	const capstan_buf *chain = p->files.chain;
	int rc;

	if ((rc = capstan_ca_env_absent(ctx, o->env)) < 0 || (rc = capstan_store_env_insert(ctx, &env)) < 0)
		return rc;
	*env_out = env;
	if (p->files.count == 2) {
		if ((rc = capstan_import_cert(ctx, &env, CAPSTAN_KIND_ROOT, 0, "root-ca", &chain[1], NULL, NULL,
			     root)) < 0)
			return rc;
		return capstan_import_cert(ctx, &env, CAPSTAN_KIND_INTERMEDIATE, 0, "intermediate-ca-1", &chain[0],
			&p->sealed, *root, inter);
	}
	if ((rc = capstan_import_cert(ctx, &env, CAPSTAN_KIND_ROOT, 0, "root-ca", &chain[0], &p->sealed, NULL,
		     root)) < 0)
		return rc;
	capstan_ca_spec spec = {
		.kind = CAPSTAN_KIND_INTERMEDIATE, .env_id = env.id, .env_name = o->env, .generation = 1,
		.key = p->new_key, .sealed_key = &p->new_sealed, .lifetime = p->lifetimes[0], .now = time(NULL),
		.root = *root, .root_key = p->files.key,
	};
	return capstan_ca_mint_ca(ctx, &spec, "import", inter);
}

int capstan_import_plan_make(capstan_ctx *ctx, const capstan_import_opts *o, const capstan_input *cert,
	const capstan_input *key, capstan_import_plan *p)
{
	const char *why = NULL;
	int rc;

	if (capstan_check_identifier(o->env, &why) < 0 || strlen(o->env) > CAPSTAN_MAX_ENV_NAME)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_ENV, "invalid environment name '%s': %s",
			o->env ? o->env : "", why ? why : "longer than 32 characters");
	if ((unsigned)o->key >= CAPSTAN_KEY__COUNT)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_KEY, "unknown key type");
	if ((rc = capstan_ca_lifetime(ctx, "the intermediate lifetime", o->ca_lifetime,
		     (int64_t)CAPSTAN_DEFAULT_CA_DAYS * CAPSTAN_DAY_SECONDS, &p->lifetimes[0])) < 0 ||
	    (rc = capstan_ca_lifetime(ctx, "the leaf lifetime", o->leaf_lifetime,
		     (int64_t)CAPSTAN_DEFAULT_LEAF_DAYS * CAPSTAN_DAY_SECONDS, &p->lifetimes[1])) < 0)
		return rc;
	if ((rc = capstan_ca_files_read(&p->files, ctx, cert, key, &o->chain, o->key_password)) < 0)
		return rc;
	if (!p->files.rooted && (o->easy_rsa || o->openssl_ca))
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is not a root (a sub-CA's PKI): import its CA"
			" with --ca-cert, --ca-key and --chain up to the root", cert->name);
	if (!p->files.rooted)
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is not a root and its chain does not reach one:"
			" give its issuers up to the root with --chain", cert->name);
	/* An environment is a root and the intermediate that signs its leaves. */
	if (p->files.count > 2)
		return capstan_error(ctx, CAPSTAN_EINVALID, "'%s' is %zu CAs below its root: only a root, or an"
			" intermediate the root signed, is imported", cert->name, p->files.count - 1);
	if ((rc = capstan_key_seal(&p->sealed, ctx, p->files.key)) < 0 || p->files.count == 2)
		return rc;
	if ((rc = capstan_key_generate(&p->new_key, ctx, o->key)) < 0)
		return rc;
	return capstan_key_seal(&p->new_sealed, ctx, p->new_key);
}

void capstan_import_result_clear(capstan_import_result *r)
{
	capstan_cert_free(r->root);
	capstan_cert_free(r->intermediate);
	memset(r, 0, sizeof(*r));
}
