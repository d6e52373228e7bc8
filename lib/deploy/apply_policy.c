/* apply's half of the issuance policy: every configured certificate checked
 * against the policy the file gives, before anything changes; then each
 * environment's levels recorded in the inventory, where every issuance
 * (lib/ca/policy_check.c) reads them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/ca.h>
#include <capstan/config.h>

#include "apply_policy.h"
#include "ca/ca.h"
#include "base/base.h"
#include "config_model.h"
#include "store/store.h"

static void put_list(char *out, size_t size, size_t *used, const char *key, int set, char **items, size_t n)
{
	if (!set || *used >= size)
		return;
	*used += (size_t)snprintf(out + *used, size - *used, "%s=", key);
	for (size_t i = 0; i < n && *used < size; i++)
		*used += (size_t)snprintf(out + *used, size - *used, "%s%s", i ? "," : "", items[i]);
	if (*used < size)
		*used += (size_t)snprintf(out + *used, size - *used, "\n");
}

/* NULL when the level has no policy: block; else out, the body
 * capstan_policy_enforce reads. */
static const char *policy_body(const capstan_config_policy *p, char *out, size_t size)
{
	size_t used = 0;

	if (!p->set)
		return NULL;
	out[0] = '\0';
	put_list(out, size, &used, "dns", p->dns_set, p->dns, p->dns_count);
	put_list(out, size, &used, "ip", p->ip_set, p->ip, p->ip_count);
	put_list(out, size, &used, "keys", p->keys_set, p->keys, p->key_count);
	if (p->max_lifetime && used < size)
		used += (size_t)snprintf(out + used, size - used, "max_days=%lld\n",
			(long long)((p->max_lifetime + CAPSTAN_DAY_SECONDS - 1) / CAPSTAN_DAY_SECONDS));
	if (p->name_constraints && used < size)
		snprintf(out + used, size - used, "name_constraints=1\n");
	return out;
}

typedef struct {
	char defaults[CAPSTAN_POLICY_BODY_MAX], env[CAPSTAN_POLICY_BODY_MAX], service[CAPSTAN_POLICY_BODY_MAX];
	const char *bodies[3];
	const char *services[3];
} levels;

static void levels_of(levels *l, const capstan_config *c, const capstan_config_env *e,
	const capstan_config_service *s)
{
	l->bodies[0] = policy_body(&c->policy, l->defaults, sizeof(l->defaults));
	l->bodies[1] = policy_body(&e->policy, l->env, sizeof(l->env));
	l->bodies[2] = s ? policy_body(&s->policy, l->service, sizeof(l->service)) : NULL;
	l->services[0] = l->services[1] = NULL;
	l->services[2] = s ? s->name : NULL;
}

static int check_cert(capstan_ctx *ctx, const capstan_config *c, const capstan_config_env *e,
	const capstan_config_service *s, size_t j, const levels *l)
{
	const capstan_config_cert *cert = &s->certs[j];
	capstan_config_defaults d = capstan_config_effective(c, e, cert);
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_strlist sans = { 0 };
	capstan_policy_ask ask;
	int rc;

	capstan_config_issue_opts(cert, &d, e->name, s->name, &o);
	if ((rc = capstan_request_sans(ctx, &o, cert->cn, NULL, &sans)) == 0) {
		/* No days in the file: the environment's default, which issue cuts to max_days. */
		ask = (capstan_policy_ask){ &sans, d.lifetime, 1, d.key_set ? d.key : CAPSTAN_DEFAULT_KEY, cert->cn,
			o.profile != CAPSTAN_PROFILE_CLIENT };
		rc = capstan_policy_check_bodies(ctx, e->name, l->services, l->bodies, 3, &ask);
	}
	capstan_strlist_free(&sans);
	if (rc < 0)
		return capstan_error(ctx, rc, "%s:%d: services.%s.certs[%zu]: %s", c->path, cert->line, s->name, j,
			capstan_error_message(ctx));
	return 0;
}

int capstan_apply_policy_check(capstan_ctx *ctx, const capstan_config *c, const char *only_env)
{
	levels *l = malloc(sizeof(*l));
	int rc = 0;

	if (!l)
		return capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < c->env_count; i++) {
		const capstan_config_env *e = &c->envs[i];
		if (only_env && strcmp(only_env, e->name) != 0)
			continue;
		for (size_t k = 0; rc == 0 && k < c->service_count; k++) {
			levels_of(l, c, e, &c->services[k]);
			for (size_t j = 0; rc == 0 && j < c->services[k].cert_count; j++)
				rc = check_cert(ctx, c, e, &c->services[k], j, l);
		}
	}
	free(l);
	return rc;
}

static const char *row_body(const capstan_store_policy *rows, size_t n, int level, const char *service)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].level == level && strcmp(rows[i].service, service) == 0)
			return rows[i].body;
	return NULL;
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* One level made as configured, in its own transaction with its audit row. */
static int record_level(capstan_ctx *ctx, const capstan_store_env *env, const char *service, int level,
	const char *body)
{
	char detail[64];
	int rc;

	snprintf(detail, sizeof(detail), "%s policy %s", level == CAPSTAN_POLICY_LEVEL_DEFAULTS ? "defaults" :
		level == CAPSTAN_POLICY_LEVEL_ENV ? "environment" : "service", body ? "recorded" : "removed");
	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	rc = capstan_store_policy_put(ctx, env->id, service, level, body);
	if (rc == 0)
		rc = capstan_audit_record(ctx, "policy", env->name, *service ? service : NULL, NULL, detail);
	return capstan_store_end(ctx, rc);
}

/* The step's reason: which level, and new, changed or removed. */
static const char *what(int level, const char *had, const char *want)
{
	static const char *const words[3][3] = {
		{ "defaults: new", "defaults: changed", "defaults: removed" },
		{ "environment: new", "environment: changed", "environment: removed" },
		{ "new", "changed", "removed" },
	};

	return words[level][!want ? 2 : had ? 1 : 0];
}

int capstan_apply_policy_record(capstan_ctx *ctx, const capstan_config *c, const capstan_config_env *e,
	int dry_run, capstan_apply_policy_fn fn, void *payload)
{
	capstan_store_env env = { 0 };
	capstan_store_policy *rows = NULL;
	size_t n = 0;
	levels *l = malloc(sizeof(*l));
	int rc;

	if (!l)
		return capstan_error_oom(ctx);
	if ((rc = capstan_store_env_get(ctx, e->name, &env)) == CAPSTAN_ENOTFOUND && dry_run)
		rc = 0; /* a dry run's new environment: every level would be recorded */
	if (rc == 0 && env.name)
		rc = capstan_store_policy_list(ctx, env.id, NULL, &rows, &n);
	levels_of(l, c, e, NULL);
	for (int level = 0; rc == 0 && level < 2; level++) {
		const char *had = row_body(rows, n, level, "");
		if (same(l->bodies[level], had))
			continue;
		if (!dry_run)
			rc = record_level(ctx, &env, "", level, l->bodies[level]);
		if (rc == 0)
			rc = fn(e->name, NULL, what(level, had, l->bodies[level]), payload);
	}
	for (size_t k = 0; rc == 0 && k < c->service_count; k++) {
		const capstan_config_service *s = &c->services[k];
		levels_of(l, c, e, s);
		const char *had = row_body(rows, n, CAPSTAN_POLICY_LEVEL_SERVICE, s->name);
		if (same(l->bodies[2], had))
			continue;
		if (!dry_run)
			rc = record_level(ctx, &env, s->name, CAPSTAN_POLICY_LEVEL_SERVICE, l->bodies[2]);
		if (rc == 0)
			rc = fn(e->name, s->name, what(CAPSTAN_POLICY_LEVEL_SERVICE, had, l->bodies[2]), payload);
	}
	capstan_store_policy_free(rows, n);
	capstan_store_env_clear(&env);
	free(l);
	return rc;
}

void capstan_apply_policy_constraints(const capstan_config *c, const capstan_config_env *e,
	capstan_init_opts *io)
{
	const capstan_config_policy *env = &e->policy, *def = &c->policy;
	const capstan_config_policy *dns = env->dns_set ? env : def->dns_set ? def : NULL;
	const capstan_config_policy *ip = env->ip_set ? env : def->ip_set ? def : NULL;

	if (!env->name_constraints && !def->name_constraints)
		return;
	if (dns) {
		io->permitted_dns = (const char *const *)dns->dns;
		io->permitted_dns_count = dns->dns_count;
	}
	if (ip) {
		io->permitted_ip = (const char *const *)ip->ip;
		io->permitted_ip_count = ip->ip_count;
	}
}
