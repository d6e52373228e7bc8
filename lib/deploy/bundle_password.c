/*
 * A service's keystore password: generated once per environment and service,
 * kept sealed in the inventory (AES-256-GCM under the key-encryption key,
 * bound to "bundle-password:ENV-ID:SERVICE"), and reused by every render, so a
 * copy merged into spark-defaults.conf or alluxio-site.properties keeps
 * opening the keystore after a renewal. A new one only when asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/bundle.h>
#include <capstan/convert.h>

#include "ca/ca.h"
#include "bundle_internal.h"
#include "crypto/crypto.h"
#include "store/store.h"

static int check_given(capstan_ctx *ctx, const capstan_secret *given, size_t max)
{
	for (size_t i = 0; i < given->len; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+=/-", given->data[i]))
			return capstan_error(ctx, CAPSTAN_EINVALID,
				"a bundle's store password goes into configuration files: letters, digits and ._~+=/- only");
	if (given->len < CAPSTAN_MIN_STORE_PASSWORD || given->len >= max)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the store password must have 6 to 63 characters");
	return 0;
}

/* Passwords land in properties, XML and env files: a generated one is base64url. */
static int generate(capstan_ctx *ctx, char *out, size_t size)
{
	unsigned char raw[24];
	char *b64;
	int rc;

	if ((rc = capstan_random_bytes(ctx, raw, sizeof(raw))) < 0)
		return rc;
	b64 = capstan_base64url(raw, sizeof(raw));
	capstan_wipe(raw, sizeof(raw));
	if (!b64)
		return capstan_error_oom(ctx);
	snprintf(out, size, "%s", b64);
	capstan_wipe(b64, strlen(b64));
	free(b64);
	return 0;
}

static char *binding(int64_t env_id, const char *service)
{
	return capstan_aprintf("bundle-password:%lld:%s", (long long)env_id, service);
}

static int open_stored(capstan_ctx *ctx, int64_t env_id, const char *service, char *out, size_t size)
{
	capstan_buf sealed = CAPSTAN_BUF_INIT, plain = CAPSTAN_BUF_INIT;
	char *aad = binding(env_id, service);
	int rc;

	if (!aad)
		return capstan_error_oom(ctx);
	if ((rc = capstan_store_bundle_password_get(ctx, env_id, service, &sealed)) == 0 &&
	    (rc = capstan_aead_open(&plain, ctx, ctx->kek, aad, strlen(aad), sealed.data, sealed.len)) == 0) {
		if (plain.len == 0 || plain.len >= size)
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "the stored password of '%s' is damaged", service);
		else
			memcpy(out, plain.data, plain.len + 1);
	}
	capstan_buf_free(&plain);
	capstan_buf_free(&sealed);
	free(aad);
	return rc;
}

/* Seals and stores PASSWORD as the service's, inside the caller's transaction. */
static int store_password(capstan_ctx *ctx, int64_t env_id, const char *env_name, const char *service,
	const char *password)
{
	capstan_buf sealed = CAPSTAN_BUF_INIT;
	char *aad = binding(env_id, service);
	int rc;

	if (!aad)
		return capstan_error_oom(ctx);
	if ((rc = capstan_aead_seal(&sealed, ctx, ctx->kek, aad, strlen(aad), password, strlen(password))) == 0 &&
	    (rc = capstan_store_bundle_password_put(ctx, env_id, service, &sealed)) == 0)
		rc = capstan_audit_record(ctx, "bundle-password", env_name, service, NULL, "a new keystore password");
	capstan_buf_free(&sealed);
	free(aad);
	return rc;
}

int capstan_bundle_password(capstan_ctx *ctx, const capstan_store_env *env, const char *service,
	const capstan_secret *given, int renew, char *out, size_t size)
{
	int rc;

	if (given && given->data) {
		if ((rc = check_given(ctx, given, size)) == 0)
			memcpy(out, given->data, given->len + 1);
		return rc;
	}
	/* A new one is kept only once the bundle holding it is written. */
	if (renew)
		return (rc = generate(ctx, out, size)) < 0 ? rc : 1;
	if ((rc = open_stored(ctx, env->id, service, out, size)) != CAPSTAN_ENOTFOUND)
		return rc;
	/* The first: under the write lock, read again, so two first renders agree on one. */
	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	if ((rc = open_stored(ctx, env->id, service, out, size)) == CAPSTAN_ENOTFOUND &&
	    (rc = generate(ctx, out, size)) == 0)
		rc = store_password(ctx, env->id, env->name, service, out);
	return capstan_store_end(ctx, rc);
}

int capstan_bundle_keep_password(capstan_ctx *ctx, const capstan_bundle *b)
{
	int rc;

	if (!b->new_password)
		return 0;
	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	/* Every delivered bundle of the service holds the old one: each is owed a render. */
	if ((rc = store_password(ctx, b->env_id, b->env_name, b->service, b->new_password)) == 0)
		rc = capstan_store_deploy_stale(ctx, b->env_id, b->service, "its keystore password changed");
	return capstan_store_end(ctx, rc);
}
