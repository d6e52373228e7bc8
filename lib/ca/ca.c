/* The CA engine: environments (root + intermediate) and leaf issuance. Each
 * public call is one transaction that also writes its audit rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/ca.h>
#include <capstan/parse.h>

#include "audit.h"
#include "ca.h"
#include "ca_internal.h"
#include "crypto/crypto.h"
#include "request.h"
#include "store/store.h"

#define MIN_LIFETIME 3600
#define MAX_LIFETIME ((int64_t)100 * 365 * CAPSTAN_DAY_SECONDS)

int capstan_ca_lifetime(capstan_ctx *ctx, const char *what, int64_t value, int64_t fallback,
	int64_t *out)
{
	if (value == 0)
		value = fallback;
	if (value < MIN_LIFETIME)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s must be at least 1h", what);
	if (value > MAX_LIFETIME)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s must be at most 100y", what);
	*out = value;
	return 0;
}

/* The key row of a certificate: the SPKI hash it was stored under, and its
 * sealed key or, for a key in a token, its URI (*uri, else NULL). */
static int sealed_key(capstan_ctx *ctx, const capstan_cert *cert, capstan_buf *sealed,
	unsigned char spki[CAPSTAN_SHA256_LEN], char **uri)
{
	int64_t key_id = 0;
	int rc;

	*uri = NULL;
	if ((rc = capstan_store_cert_key_id(ctx, cert->id, &key_id)) < 0)
		return rc;
	if (key_id == 0)
		return capstan_error(ctx, CAPSTAN_ENOTFOUND,
			"the inventory holds no key for '%s' (serial %s): it was issued from a CSR, or imported without it",
			cert->name, cert->serial);
	if ((rc = capstan_store_key_get(ctx, key_id, spki, sealed)) < 0)
		return rc;
	return sealed->len == 0 ? capstan_store_key_uri(ctx, key_id, uri) : 0;
}

/* A token's key, loaded by its URI and checked to be the certificate's. */
static int token_key(capstan_ctx *ctx, const capstan_cert *cert, const char *uri,
	const unsigned char spki[CAPSTAN_SHA256_LEN], capstan_key **key)
{
	unsigned char have[CAPSTAN_SHA256_LEN];
	int rc;

	if ((rc = capstan_pkcs11_load(key, ctx, uri)) < 0 ||
	    (rc = capstan_key_spki_sha256(ctx, *key, have)) < 0)
		goto fail;
	if (memcmp(have, spki, sizeof(have)) == 0)
		return 0;
	rc = capstan_error(ctx, CAPSTAN_EINVALID, "the token key %s is not the key of '%s' (serial %s)",
		uri, cert->name, cert->serial);
fail:
	capstan_key_free(*key);
	*key = NULL;
	return rc;
}

int capstan_ca_load_key(capstan_ctx *ctx, const capstan_cert *cert, capstan_key **key)
{
	capstan_buf sealed = CAPSTAN_BUF_INIT;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	char *uri = NULL;
	int rc;

	if ((rc = sealed_key(ctx, cert, &sealed, spki, &uri)) == 0)
		rc = uri ? token_key(ctx, cert, uri, spki, key) :
			capstan_key_unseal(key, ctx, sealed.data, sealed.len, spki);
	capstan_buf_free(&sealed);
	free(uri);
	return rc;
}

int capstan_ca_key_uri(capstan_ctx *ctx, const capstan_cert *cert, char **uri)
{
	capstan_buf sealed = CAPSTAN_BUF_INIT;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	int rc = sealed_key(ctx, cert, &sealed, spki, uri);

	capstan_buf_free(&sealed);
	return rc;
}

int capstan_ca_key_pem(capstan_ctx *ctx, const capstan_cert *cert, capstan_buf *out)
{
	capstan_buf sealed = CAPSTAN_BUF_INIT;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	char *uri = NULL;
	int rc;

	if ((rc = capstan_require_unlocked(ctx)) == 0 && (rc = sealed_key(ctx, cert, &sealed, spki, &uri)) == 0)
		rc = uri ? capstan_error(ctx, CAPSTAN_EINVALID,
				   "the key of '%s' is kept in a PKCS#11 token (%s) and never leaves it",
				   cert->name, uri) :
			capstan_key_unseal_pem(out, ctx, sealed.data, sealed.len, spki);
	capstan_buf_free(&sealed);
	free(uri);
	return rc;
}

static void signer_free(capstan_signer *s)
{
	if (!s)
		return;
	capstan_cert_free(s->issuer);
	capstan_key_free(s->key);
	capstan_x509_issuer_free(s->parsed);
	free(s->url);
	free(s);
}

/* The revocation URLs its leaves carry, read when it is loaded (before any
 * worker signs with it) and, for a kept signer, again at each use: the URL
 * may have been set or removed since. */
static int signer_urls(capstan_ctx *ctx, capstan_signer *s)
{
	char *url = NULL;
	int rc;

	if ((rc = capstan_public_url_get(ctx, &url)) < 0)
		return rc;
	if ((!url && !s->url) || (url && s->url && strcmp(url, s->url) == 0)) {
		free(url);
		return 0;
	}
	if ((rc = capstan_x509_issuer_set_public_url(s->parsed, ctx, url)) < 0) {
		free(url);
		return rc;
	}
	free(s->url);
	s->url = url;
	return 0;
}

int capstan_signers_get(capstan_ctx *ctx, capstan_signers *signers, int64_t env_id,
	const capstan_signer **out)
{
	capstan_signer *s, **grown;
	int rc;

	for (size_t i = 0; i < signers->count; i++) {
		capstan_cert *current = NULL;
		if (signers->items[i]->env_id != env_id)
			continue;
		if (!signers->kept)
			return *out = signers->items[i], 0;
		/* Kept across calls: another process may have rotated the CA since. */
		if ((rc = capstan_store_current_ca(ctx, env_id, CAPSTAN_KIND_INTERMEDIATE, &current)) < 0)
			return rc;
		rc = current->id == signers->items[i]->issuer->id;
		capstan_cert_free(current);
		if (rc)
			return (rc = signer_urls(ctx, signers->items[i])) < 0 ? rc : (*out = signers->items[i], 0);
		signer_free(signers->items[i]);
		signers->items[i] = signers->items[--signers->count];
		break;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return capstan_error_oom(ctx);
	s->env_id = env_id;
	if ((rc = capstan_store_current_ca(ctx, env_id, CAPSTAN_KIND_INTERMEDIATE, &s->issuer)) < 0 ||
	    (rc = capstan_ca_load_key(ctx, s->issuer, &s->key)) < 0 ||
	    (rc = capstan_x509_issuer_new(&s->parsed, ctx, s->issuer->der, s->issuer->der_len)) < 0 ||
	    (rc = signer_urls(ctx, s)) < 0) {
		signer_free(s);
		return rc;
	}
	if (!(grown = realloc(signers->items, (signers->count + 1) * sizeof(*grown)))) {
		signer_free(s);
		return capstan_error_oom(ctx);
	}
	signers->items = grown;
	signers->items[signers->count++] = s;
	*out = s;
	return 0;
}

capstan_signers *capstan_ctx_signers(capstan_ctx *ctx)
{
	capstan_signers *s = ctx->kept_signers;

	if (!s && (s = calloc(1, sizeof(*s))))
		s->kept = 1;
	ctx->kept_signers = s;
	return s;
}

void capstan_ctx_signers_free(capstan_ctx *ctx)
{
	if (ctx->kept_signers) {
		capstan_signers_clear(ctx->kept_signers);
		free(ctx->kept_signers);
		ctx->kept_signers = NULL;
	}
}

void capstan_signers_clear(capstan_signers *signers)
{
	for (size_t i = 0; i < signers->count; i++)
		signer_free(signers->items[i]);
	free(signers->items);
	signers->items = NULL;
	signers->count = 0;
}

/* Picks a serial the issuer has not used; 126 random bits make a retry
 * practically impossible, but uniqueness per issuer is a promise. */
static int fresh_serial(capstan_ctx *ctx, int64_t issuer_id, unsigned char serial[CAPSTAN_SERIAL_LEN])
{
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];
	int rc;

	for (int attempt = 0; attempt < 8; attempt++) {
		if ((rc = capstan_serial_generate(ctx, serial, hex)) < 0)
			return rc;
		if ((rc = capstan_store_serial_used(ctx, issuer_id, hex)) <= 0)
			return rc;
	}
	return capstan_error(ctx, CAPSTAN_ERROR, "cannot find an unused serial");
}

int capstan_ca_record_row(capstan_ctx *ctx, const capstan_mint *m, capstan_x509_info info, capstan_buf *der,
	capstan_cert **out)
{
	capstan_cert *c;

	if (!(c = calloc(1, sizeof(*c))) || !(c->name = strdup(m->name)) ||
	    !(c->serial = strdup(info.serial)) || !(c->fingerprint_sha256 = strdup(info.fingerprint_sha256)) ||
	    !(c->env = strdup(m->env_name)) || (m->service && !(c->service = strdup(m->service)))) {
		capstan_cert_free(c);
		capstan_x509_info_clear(&info);
		return capstan_error_oom(ctx);
	}
	c->kind = m->tmpl.kind;
	c->status = CAPSTAN_STATUS_VALID;
	/* The record takes subject, issuer and SANs over from info; the rest goes. */
	free(info.cn);
	c->subject = info.subject;
	c->issuer = info.issuer;
	c->has_profile = m->tmpl.kind == CAPSTAN_KIND_LEAF;
	c->profile = m->tmpl.profile;
	c->key_type = info.key_type;
	c->sans = info.sans.items;
	c->san_count = info.sans.count;
	c->not_before = info.not_before;
	c->not_after = info.not_after;
	c->lifetime = m->lifetime;
	c->renew_before = m->renew_before;
	c->has_key = m->sealed_key != NULL || m->key_id > 0;
	c->issuer_id = m->issuer ? m->issuer->id : 0;
	c->der = der->data;
	c->der_len = der->len;
	der->data = NULL;
	der->len = 0;
	*out = c;
	return 0;
}

int capstan_ca_sign(capstan_ctx *ctx, capstan_mint *m, capstan_buf *der, capstan_x509_info *info)
{
	capstan_x509_issuer *parsed = NULL;
	int rc = 0;

	if (m->issuer && m->tmpl.not_after > m->issuer->not_after)
		m->tmpl.not_after = m->issuer->not_after; /* never outlive the issuer */
	if (m->issuer && !m->issuer_parsed)
		rc = capstan_x509_issuer_new(&parsed, ctx, m->issuer->der, m->issuer->der_len);
	if (rc == 0)
		rc = capstan_x509_sign_with(der, info, ctx, &m->tmpl, m->subject_key,
			m->issuer_parsed ? m->issuer_parsed : parsed, m->issuer_key);
	capstan_x509_issuer_free(parsed);
	return rc;
}

int capstan_ca_mint(capstan_ctx *ctx, capstan_mint *m, capstan_cert **out)
{
	capstan_buf der = CAPSTAN_BUF_INIT;
	capstan_x509_info info;
	int rc;

	if ((rc = fresh_serial(ctx, m->issuer ? m->issuer->id : 0, m->tmpl.serial)) < 0 ||
	    (rc = capstan_ca_sign(ctx, m, &der, &info)) < 0)
		return rc;
	rc = capstan_ca_record(ctx, m, info, &der, out);
	capstan_buf_free(&der);
	return rc;
}

/* The certificate of m signed again under a new serial, in place of *c. */
static int resign(capstan_ctx *ctx, const capstan_mint *m, capstan_buf *der, capstan_cert **c)
{
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];
	capstan_mint again = *m;
	capstan_x509_info info;
	int rc;

	capstan_cert_free(*c);
	*c = NULL;
	capstan_buf_free(der);
	if ((rc = capstan_serial_generate(ctx, again.tmpl.serial, hex)) < 0 ||
	    (rc = capstan_ca_sign(ctx, &again, der, &info)) < 0)
		return rc;
	return capstan_ca_record_row(ctx, &again, info, der, c);
}

int capstan_ca_insert_unused(capstan_ctx *ctx, const capstan_mint *m, capstan_cert **c, int64_t key_id,
	const unsigned char spki[CAPSTAN_SHA256_LEN], int taken)
{
	capstan_buf der = CAPSTAN_BUF_INIT;
	int rc = taken ? CAPSTAN_EEXISTS : 0;

	/* The serial was drawn before the write lock (by a batch's worker,
	 * serve's signing thread, renew --due's workers), so the issuer may have
	 * used it since, here or in another process: the insert then records
	 * nothing (the transaction goes on), and the certificate is signed
	 * again under another serial. 126 random bits: never twice in practice. */
	for (int attempt = 1; (taken || (rc = capstan_store_cert_insert(ctx, *c, m->env_id, key_id, spki)) ==
	     CAPSTAN_EEXISTS); attempt++, taken = 0) {
		if (m->imported) {
			rc = capstan_error(ctx, CAPSTAN_EEXISTS, "the inventory holds a certificate of serial %s"
				" from the same issuer already", (*c)->serial);
			break;
		}
		if (attempt == 8) {
			rc = capstan_error(ctx, CAPSTAN_ERROR, "cannot find an unused serial");
			break;
		}
		if ((rc = resign(ctx, m, &der, c)) < 0)
			break;
	}
	capstan_buf_free(&der);
	return rc;
}

int capstan_ca_record(capstan_ctx *ctx, const capstan_mint *m, capstan_x509_info info, capstan_buf *der,
	capstan_cert **out)
{
	unsigned char spki[CAPSTAN_SHA256_LEN];
	capstan_cert *c = NULL;
	int64_t key_id = m->key_id;
	int rc;

	if ((rc = capstan_ca_record_row(ctx, m, info, der, &c)) < 0)
		goto done;
	/* Every certificate is found by its key, whether the inventory holds the key or not. */
	if ((rc = capstan_x509_spki_sha256(ctx, c->der, c->der_len, spki)) < 0)
		goto done;
	/* Its id is asked only to record a token key's URI: else the row goes
	 * with the certificate's insert, which names it (KEY_LAST). */
	if (m->sealed_key && (rc = capstan_store_key_insert(ctx, c->key_type, spki, m->sealed_key,
		     m->key_uri ? &key_id : NULL)) < 0)
		goto done;
	if (m->sealed_key && !m->key_uri)
		key_id = CAPSTAN_STORE_KEY_LAST;
	if (m->sealed_key && m->key_uri && (rc = capstan_store_key_set_uri(ctx, key_id, m->key_uri)) < 0)
		goto done;
	if ((rc = capstan_ca_insert_unused(ctx, m, &c, key_id, spki, 0)) < 0)
		goto done;
	*out = c;
	c = NULL;
done:
	capstan_cert_free(c);
	return rc;
}

static int check_init_opts(capstan_ctx *ctx, const capstan_init_opts *o, int64_t lifetimes[3])
{
	const char *why = NULL;
	int rc;

	if (capstan_check_identifier(o->env, &why) < 0 || strlen(o->env) > CAPSTAN_MAX_ENV_NAME)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_ENV, "invalid environment name '%s': %s",
			o->env ? o->env : "", why ? why : "longer than 32 characters");
	if (o->org && capstan_check_subject_value(o->org, &why) < 0)
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_ORG, "invalid organization '%s': %s",
			o->org, why);
	if ((unsigned)o->key >= CAPSTAN_KEY__COUNT || (o->inter_key_set && (unsigned)o->inter_key >= CAPSTAN_KEY__COUNT))
		return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_KEY, "unknown key type");
	if ((rc = capstan_ca_lifetime(ctx, "the root lifetime", o->root_lifetime,
		     (int64_t)CAPSTAN_DEFAULT_ROOT_DAYS * CAPSTAN_DAY_SECONDS, &lifetimes[0])) < 0 ||
	    (rc = capstan_ca_lifetime(ctx, "the intermediate lifetime", o->ca_lifetime,
		     (int64_t)CAPSTAN_DEFAULT_CA_DAYS * CAPSTAN_DAY_SECONDS, &lifetimes[1])) < 0)
		return rc; /* the CA lifetimes have no field of their own in capstan_field */
	/* The leaves' default is the environment's lifetime field, as a leaf's is issue's. */
	if ((rc = capstan_ca_lifetime(ctx, "the leaf lifetime", o->leaf_lifetime,
		     (int64_t)CAPSTAN_DEFAULT_LEAF_DAYS * CAPSTAN_DAY_SECONDS, &lifetimes[2])) < 0)
		return capstan_error_subject_set(ctx, rc, CAPSTAN_FIELD_LIFETIME);
	return 0;
}

int capstan_ca_env_absent(capstan_ctx *ctx, const char *name)
{
	capstan_store_env e;
	int rc = capstan_store_env_get(ctx, name, &e);

	capstan_store_env_clear(&e);
	if (rc == 0)
		return capstan_error(ctx, CAPSTAN_EEXISTS, "environment '%s' already exists", name);
	return rc == CAPSTAN_ENOTFOUND ? 0 : rc;
}

int capstan_ca_mint_ca(capstan_ctx *ctx, const capstan_ca_spec *spec, const char *op, capstan_cert **out)
{
	int is_root = spec->kind == CAPSTAN_KIND_ROOT;
	char cn[64], name[32], detail[64];
	int rc;

	/* The first root keeps the plain name; later ones are numbered so that no
	 * two CAs of the environment share a subject. Intermediates are numbered. */
	if (is_root && spec->generation == 1) {
		snprintf(cn, sizeof(cn), "%s Root CA", spec->env_name);
		snprintf(name, sizeof(name), "root-ca");
	} else {
		snprintf(cn, sizeof(cn), "%s %s CA %lld", spec->env_name, is_root ? "Root" : "Intermediate",
			(long long)spec->generation);
		snprintf(name, sizeof(name), "%s-ca-%lld", is_root ? "root" : "intermediate",
			(long long)spec->generation);
	}
	capstan_mint m = {
		.tmpl = { .kind = spec->kind, .cn = cn, .org = spec->org,
			  .not_before = spec->now - CAPSTAN_BACKDATE_SECONDS, .not_after = spec->now + spec->lifetime,
			  .name_constraints = is_root ? NULL : spec->name_constraints },
		.name = name, .env_id = spec->env_id, .env_name = spec->env_name,
		.subject_key = spec->key, .sealed_key = spec->sealed_key, .key_uri = spec->key_uri,
		.issuer = is_root ? NULL : spec->root, .issuer_key = is_root ? spec->key : spec->root_key,
		.lifetime = spec->lifetime,
	};
	if ((rc = capstan_ca_mint(ctx, &m, out)) < 0 ||
	    (spec->supersedes && (rc = capstan_store_cert_supersede(ctx, spec->supersedes, (*out)->id)) < 0))
		return rc;
	snprintf(detail, sizeof(detail), "%s CA created", is_root ? "root" : "intermediate");
	return capstan_audit_record(ctx, op, spec->env_name, (*out)->name, (*out)->serial, detail);
}

/* Inside the transaction: the environment row, the root, the intermediate. */
static int init_records(capstan_ctx *ctx, const capstan_init_opts *o, const int64_t lifetimes[3],
	capstan_key *keys[2], capstan_buf sealed[2], char *uris[2], const char *name_constraints,
	capstan_cert **root, capstan_cert **inter)
{
	capstan_store_env env = { 0, (char *)o->env, (char *)o->org, o->key, lifetimes[2] };
	int rc;

	if ((rc = capstan_ca_env_absent(ctx, o->env)) < 0 || (rc = capstan_store_env_insert(ctx, &env)) < 0)
		return rc;
	capstan_ca_spec spec = {
		.kind = CAPSTAN_KIND_ROOT, .env_id = env.id, .env_name = o->env, .org = o->org,
		.generation = 1, .key = keys[0], .sealed_key = &sealed[0], .key_uri = uris[0],
		.lifetime = lifetimes[0], .now = time(NULL),
	};
	if ((rc = capstan_ca_mint_ca(ctx, &spec, "init", root)) < 0)
		return rc;
	spec.kind = CAPSTAN_KIND_INTERMEDIATE;
	spec.key = keys[1];
	spec.sealed_key = &sealed[1];
	spec.key_uri = uris[1];
	spec.lifetime = lifetimes[1];
	spec.root = *root;
	spec.root_key = keys[0];
	spec.name_constraints = name_constraints;
	return capstan_ca_mint_ca(ctx, &spec, "init", inter);
}

/* What pkcs11-tool --list-objects shows the token's owner: environment,
 * role and generation. */
static void token_label(char label[96], const char *env, capstan_cert_kind kind, int64_t generation)
{
	snprintf(label, 96, "capstan-%s-%s-%lld", env, kind == CAPSTAN_KIND_ROOT ? "root" : "intermediate",
		(long long)generation);
}

int capstan_ca_token_key(capstan_ctx *ctx, const char *token_uri, const char *env, capstan_cert_kind kind,
	int64_t generation, capstan_key_type type, capstan_key **key, capstan_buf *sealed, char **uri)
{
	char label[96];

	token_label(label, env, kind, generation);
	/* An empty, not a NULL, blob: the row says "no sealed key". */
	if (!(sealed->data = malloc(1)))
		return capstan_error_oom(ctx);
	sealed->len = 0;
	return capstan_pkcs11_generate(key, uri, ctx, token_uri, label, type);
}

int capstan_ca_token_label_free(capstan_ctx *ctx, const char *token_uri, const char *env, capstan_cert_kind kind,
	int64_t generation)
{
	char label[96];

	token_label(label, env, kind, generation);
	return capstan_pkcs11_label_free(ctx, token_uri, label);
}

/* Both labels free before either key is made: a key the token cannot take
 * back (no delete through OpenSSL) is never left behind by a refusal. */
static int token_labels_free(capstan_ctx *ctx, const capstan_init_opts *o)
{
	int rc = capstan_ca_token_label_free(ctx, o->hsm, o->env, CAPSTAN_KIND_ROOT, 1);

	return rc < 0 ? rc : capstan_ca_token_label_free(ctx, o->hsm, o->env, CAPSTAN_KIND_INTERMEDIATE, 1);
}

/* A new CA key of the environment: sealed, or made in the token o->hsm names. */
static int init_key(capstan_ctx *ctx, const capstan_init_opts *o, int i, capstan_key **key,
	capstan_buf *sealed, char **uri)
{
	capstan_key_type type = i == 1 && o->inter_key_set ? o->inter_key : o->key;
	int rc;

	if (o->hsm)
		return capstan_ca_token_key(ctx, o->hsm, o->env, i == 0 ? CAPSTAN_KIND_ROOT : CAPSTAN_KIND_INTERMEDIATE,
			1, type, key, sealed, uri);
	if ((rc = capstan_key_generate(key, ctx, type)) < 0)
		return rc;
	return capstan_key_seal(sealed, ctx, *key);
}

int capstan_env_init(capstan_cert **root_out, capstan_cert **inter_out,
	capstan_ctx *ctx, const capstan_init_opts *o)
{
	capstan_key *keys[2] = { NULL, NULL };
	capstan_buf sealed[2] = { CAPSTAN_BUF_INIT, CAPSTAN_BUF_INIT };
	char *uris[2] = { NULL, NULL };
	capstan_cert *root = NULL, *inter = NULL;
	int64_t lifetimes[3] = { 0, 0, 0 };
	char *constraints = NULL;
	int rc;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_INIT_OPTS_VERSION, "capstan_init_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0 || (rc = check_init_opts(ctx, o, lifetimes)) < 0 ||
	    (rc = capstan_require_unlocked(ctx)) < 0 || (rc = capstan_ca_env_absent(ctx, o->env)) < 0 ||
	    (rc = capstan_policy_constraints_value(ctx, o->permitted_dns, o->permitted_dns_count, o->permitted_ip,
		     o->permitted_ip_count, &constraints)) < 0)
		return rc;
	/* Keys are made before the transaction: RSA-4096 generation must not
	 * hold the write lock that other capstan processes wait on. */
	if (o->hsm && (rc = token_labels_free(ctx, o)) < 0)
		return rc;
	for (int i = 0; i < 2; i++)
		if ((rc = init_key(ctx, o, i, &keys[i], &sealed[i], &uris[i])) < 0)
			goto done;
	if ((rc = capstan_store_begin(ctx)) < 0 ||
	    (rc = capstan_store_end(ctx, init_records(ctx, o, lifetimes, keys, sealed, uris, constraints, &root,
		     &inter))) < 0)
		goto done;
	if (root_out)
		*root_out = root, root = NULL;
	if (inter_out)
		*inter_out = inter, inter = NULL;
done:
	/* Nothing recorded: keys made in the token are left there, said so. */
	if (rc < 0 && (uris[0] || uris[1]))
		rc = capstan_pkcs11_keys_left(ctx, rc, (const char *const *)uris, 2);
	free(constraints);
	capstan_cert_free(root);
	capstan_cert_free(inter);
	for (int i = 0; i < 2; i++) {
		capstan_key_free(keys[i]);
		capstan_buf_free(&sealed[i]);
		free(uris[i]);
	}
	return rc;
}

int capstan_env_list(char ***names, size_t *count, capstan_ctx *ctx)
{
	capstan_strlist list = { 0 };
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 || (rc = capstan_store_env_names(ctx, &list)) < 0)
		return rc;
	*names = list.items;
	*count = list.count;
	return 0;
}
