/* Certificates by REF: a serial, or the name of a certificate line. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/cert.h>

#include "base/base.h"
#include "store/store.h"

/* A serial as users type it: hex, optionally with colons, any case, >= 16 digits. */
static int normalize_serial(const char *ref, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = ref; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n + 1 >= size)
			return -1;
		out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
	return n >= 16 ? 0 : -1;
}

static int lookup_by_name(capstan_cert **out, capstan_ctx *ctx, const char *name, const char *env)
{
	capstan_store_env e;
	capstan_strlist envs = { 0 };
	int rc;

	if (!env) {
		if ((rc = capstan_store_envs_with_name(ctx, name, &envs)) < 0)
			return rc;
		if (envs.count == 0) {
			rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "no certificate named '%s'", name);
		} else if (envs.count > 1) {
			char *list = capstan_strlist_join(&envs, ", ");
			rc = capstan_error_at(ctx, CAPSTAN_EAMBIGUOUS, CAPSTAN_FIELD_ENV,
				"'%s' exists in several environments (%s): name one", name, list ? list : "?");
			free(list);
		}
		if (rc < 0) {
			capstan_strlist_free(&envs);
			return rc;
		}
	}
	rc = capstan_store_env_get(ctx, env ? env : envs.items[0], &e);
	capstan_strlist_free(&envs);
	if (rc < 0)
		return rc;
	/* A leaf first (a leaf may be named like a CA), then the CAs list prints. */
	rc = capstan_store_cert_latest(ctx, e.id, name, CAPSTAN_KIND_LEAF, out);
	if (rc == CAPSTAN_ENOTFOUND)
		rc = capstan_store_cert_latest(ctx, e.id, name, CAPSTAN_KIND_ROOT, out);
	if (rc == CAPSTAN_ENOTFOUND)
		rc = capstan_store_cert_latest(ctx, e.id, name, CAPSTAN_KIND_INTERMEDIATE, out);
	if (rc == CAPSTAN_ENOTFOUND)
		rc = capstan_error(ctx, rc, "no certificate named '%s' in environment '%s'", name, e.name);
	capstan_store_env_clear(&e);
	return rc;
}

int capstan_cert_lookup(capstan_cert **out, capstan_ctx *ctx, const char *ref, const char *env)
{
	char serial[128];
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (!ref || !*ref)
		return capstan_error(ctx, CAPSTAN_EINVALID, "empty certificate reference");
	if (normalize_serial(ref, serial, sizeof(serial)) == 0) {
		rc = capstan_store_cert_by_serial(ctx, serial, out);
		if (rc == 0 && env && strcmp((*out)->env, env) != 0) {
			rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "serial %s belongs to environment '%s', not '%s'",
				serial, (*out)->env, env);
			capstan_cert_free(*out);
			*out = NULL;
			return rc;
		}
		if (rc != CAPSTAN_ENOTFOUND)
			return rc;
		/* Not a known serial: it may still be a name made of hex digits. */
	}
	return lookup_by_name(out, ctx, ref, env);
}
