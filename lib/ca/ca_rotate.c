/* CA rotation: a new intermediate under the same root, or a new root and
 * intermediate. The old CA certificates are superseded, not revoked: leaves
 * under them keep verifying until they are renewed or expire. */
#include <stdlib.h>

#include <capstan/lifecycle.h>

#include "ca.h"
#include "ca_internal.h"
#include "store/store.h"

typedef struct {
	capstan_store_env env;
	int64_t root_lifetime, ca_lifetime;
	capstan_key *root_key, *inter_key;
	capstan_buf root_sealed, inter_sealed;
	char *root_uri, *inter_uri;     /* new keys made in a token: their URIs */
	capstan_cert *old_root, *old_inter;
} rotation;

static void rotation_clear(rotation *r)
{
	capstan_store_env_clear(&r->env);
	capstan_key_free(r->root_key);
	capstan_key_free(r->inter_key);
	capstan_buf_free(&r->root_sealed);
	capstan_buf_free(&r->inter_sealed);
	free(r->root_uri);
	free(r->inter_uri);
	capstan_cert_free(r->old_root);
	capstan_cert_free(r->old_inter);
}

/* The token the current CA of KIND keeps its key in, as a token URI
 * (*token NULL: its key is sealed, or there is no current one). */
static int ca_token(capstan_ctx *ctx, int64_t env_id, capstan_cert_kind kind, char **token)
{
	capstan_cert *current = NULL;
	char *uri = NULL;
	int rc = capstan_store_current_ca(ctx, env_id, kind, &current);

	*token = NULL;
	if (rc == CAPSTAN_ENOTFOUND)
		return 0;
	if (rc == 0 && (rc = capstan_ca_key_uri(ctx, current, &uri)) == 0 && uri)
		rc = capstan_pkcs11_token_of(ctx, token, uri);
	free(uri);
	capstan_cert_free(current);
	return rc;
}

/* The label the new key of KIND would take free in its predecessor's token
 * (nothing to check when that key is sealed). */
static int new_label_free(capstan_ctx *ctx, rotation *r, capstan_cert_kind kind)
{
	char *token = NULL;
	int64_t count = 0;
	int rc;

	if ((rc = ca_token(ctx, r->env.id, kind, &token)) < 0 || !token)
		return rc;
	if ((rc = capstan_store_count_kind(ctx, r->env.id, kind, &count)) == 0)
		rc = capstan_ca_token_label_free(ctx, token, r->env.name, kind, count + 1);
	free(token);
	return rc;
}

/* The new CA key of KIND: in the token its predecessor's key is in, else sealed. */
static int new_ca_key(capstan_ctx *ctx, rotation *r, capstan_cert_kind kind, capstan_key_type type,
	capstan_key **key, capstan_buf *sealed, char **uri)
{
	char *token = NULL;
	int64_t count = 0;
	int rc;

	if ((rc = ca_token(ctx, r->env.id, kind, &token)) < 0)
		return rc;
	if (!token) {
		if ((rc = capstan_key_generate(key, ctx, type)) < 0)
			return rc;
		return capstan_key_seal(sealed, ctx, *key);
	}
	/* The generation its certificate will have, as rotation_records counts. */
	if ((rc = capstan_store_count_kind(ctx, r->env.id, kind, &count)) == 0)
		rc = capstan_ca_token_key(ctx, token, r->env.name, kind, count + 1, type, key, sealed, uri);
	free(token);
	return rc;
}

static int plan_rotation(capstan_ctx *ctx, const capstan_ca_rotate_opts *o, rotation *r)
{
	capstan_key_type type;
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 ||
	    (rc = capstan_store_env_get(ctx, o->env ? o->env : "", &r->env)) < 0 ||
	    (rc = capstan_require_unlocked(ctx)) < 0 ||
	    (rc = capstan_ca_lifetime(ctx, "the root lifetime", o->root_lifetime,
		     (int64_t)CAPSTAN_DEFAULT_ROOT_DAYS * CAPSTAN_DAY_SECONDS, &r->root_lifetime)) < 0 ||
	    (rc = capstan_ca_lifetime(ctx, "the intermediate lifetime", o->ca_lifetime,
		     (int64_t)CAPSTAN_DEFAULT_CA_DAYS * CAPSTAN_DAY_SECONDS, &r->ca_lifetime)) < 0)
		return rc;
	type = o->key_set ? o->key : r->env.key_type;
	/* Both labels free before either key is made, as init checks them. */
	if ((o->root && (rc = new_label_free(ctx, r, CAPSTAN_KIND_ROOT)) < 0) ||
	    (rc = new_label_free(ctx, r, CAPSTAN_KIND_INTERMEDIATE)) < 0)
		return rc;
	if (o->root) {
		if ((rc = new_ca_key(ctx, r, CAPSTAN_KIND_ROOT, type, &r->root_key, &r->root_sealed, &r->root_uri)) < 0)
			return rc;
	} else if ((rc = capstan_store_current_ca(ctx, r->env.id, CAPSTAN_KIND_ROOT, &r->old_root)) < 0 ||
		   (rc = capstan_ca_load_key(ctx, r->old_root, &r->root_key)) < 0) {
		return rc;
	}
	return new_ca_key(ctx, r, CAPSTAN_KIND_INTERMEDIATE, type, &r->inter_key, &r->inter_sealed, &r->inter_uri);
}

/* The id of the current CA of that kind, or 0 when there is none (expired). */
static int current_ca_id(capstan_ctx *ctx, int64_t env_id, capstan_cert_kind kind, int64_t *id)
{
	capstan_cert *current = NULL;
	int rc = capstan_store_current_ca(ctx, env_id, kind, &current);

	*id = rc == 0 ? current->id : 0;
	capstan_cert_free(current);
	return rc == CAPSTAN_ENOTFOUND ? 0 : rc;
}

static int rotation_records(capstan_ctx *ctx, const capstan_ca_rotate_opts *o, rotation *r,
	capstan_cert **root, capstan_cert **inter)
{
	int64_t roots, inters, old_root = 0, old_inter = 0;
	char *constraints = NULL;
	int rc;

	/* The CAs being replaced, read before their successors exist. */
	if ((rc = capstan_store_count_kind(ctx, r->env.id, CAPSTAN_KIND_ROOT, &roots)) < 0 ||
	    (rc = capstan_store_count_kind(ctx, r->env.id, CAPSTAN_KIND_INTERMEDIATE, &inters)) < 0 ||
	    (o->root && (rc = current_ca_id(ctx, r->env.id, CAPSTAN_KIND_ROOT, &old_root)) < 0) ||
	    (rc = current_ca_id(ctx, r->env.id, CAPSTAN_KIND_INTERMEDIATE, &old_inter)) < 0)
		return rc;
	capstan_ca_spec spec = {
		.env_id = r->env.id, .env_name = r->env.name, .org = r->env.org, .now = time(NULL),
	};
	if (o->root) {
		spec.kind = CAPSTAN_KIND_ROOT;
		spec.generation = roots + 1;
		spec.key = r->root_key;
		spec.sealed_key = &r->root_sealed;
		spec.key_uri = r->root_uri;
		spec.lifetime = r->root_lifetime;
		spec.supersedes = old_root;
		if ((rc = capstan_ca_mint_ca(ctx, &spec, "rotate-root", root)) < 0)
			return rc;
	}
	spec.kind = CAPSTAN_KIND_INTERMEDIATE;
	spec.generation = inters + 1;
	spec.key = r->inter_key;
	spec.sealed_key = &r->inter_sealed;
	spec.key_uri = r->inter_uri;
	spec.lifetime = r->ca_lifetime;
	spec.root = o->root ? *root : r->old_root;
	spec.root_key = r->root_key;
	spec.supersedes = old_inter;
	/* Every intermediate carries the constraints the recorded policy asks for. */
	if ((rc = capstan_policy_name_constraints(ctx, r->env.id, &constraints)) < 0)
		return rc;
	spec.name_constraints = constraints;
	rc = capstan_ca_mint_ca(ctx, &spec, o->root ? "rotate-root" : "rotate-intermediate", inter);
	free(constraints);
	return rc;
}

int capstan_ca_rotate(capstan_cert **root_out, capstan_cert **inter_out, capstan_ctx *ctx,
	const capstan_ca_rotate_opts *o)
{
	rotation r = { 0 };
	capstan_cert *root = NULL, *inter = NULL;
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_CA_ROTATE_OPTS_VERSION, "capstan_ca_rotate_opts")) < 0 ||
	    (rc = plan_rotation(ctx, o, &r)) < 0 || (rc = capstan_store_begin(ctx)) < 0 ||
	    (rc = capstan_store_end(ctx, rotation_records(ctx, o, &r, &root, &inter))) < 0)
		goto done;
	if (root_out)
		*root_out = root, root = NULL;
	if (inter_out)
		*inter_out = inter, inter = NULL;
done:
	/* Nothing recorded: keys made in the token are left there, said so. */
	if (rc < 0 && (r.root_uri || r.inter_uri))
		rc = capstan_pkcs11_keys_left(ctx, rc, (const char *const[]){ r.root_uri, r.inter_uri }, 2);
	capstan_cert_free(root);
	capstan_cert_free(inter);
	rotation_clear(&r);
	return rc;
}
