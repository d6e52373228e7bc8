/*
 * What a bundle carries beside certificates: the CRLs, each the way its
 * consumers read them, and the data of the etcd RBAC script.
 *
 * - crl.pem: the current intermediate's CRL alone. etcd 3.4 reads only the
 *   first CRL of a PEM file, so a file with several would hide revocations
 *   under the others; leaves under an older intermediate are moved to the
 *   current one by renew --due --from-old-ca.
 * - crl-all.pem: every CRL: each intermediate's that still has leaves, and
 *   each trusted root's own. nginx ssl_crl, PostgreSQL ssl_crl_file and
 *   openssl -crl_check_all look for a CRL of every CA below the root, and
 *   refuse every client when the intermediate's issuer has none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/lifecycle.h>
#include <capstan/template.h>

#include "bundle_internal.h"
#include "crypto/crypto.h"
#include "delivery.h"


int capstan_bundle_crl_paths(capstan_ctx *ctx, capstan_tvalue *top, const char *dir)
{
	if (capstan_bundle_put_path(top, "crl_file", dir, "crl.pem") < 0 ||
	    capstan_bundle_put_path(top, "crl_all_file", dir, "crl-all.pem") < 0)
		return capstan_error_oom(ctx);
	return 0;
}

int capstan_bundle_cert_line(capstan_ctx *ctx, const capstan_cert *cert, capstan_buf *out)
{
	char line[256];

	snprintf(line, sizeof(line), "%s %s %lld\n", cert->name, cert->serial, (long long)cert->not_after);
	return capstan_buf_append(ctx, out, line, strlen(line));
}

int capstan_bundle_trust_line(capstan_ctx *ctx, const capstan_buf *ca_pem, capstan_buf *out)
{
	unsigned char md[CAPSTAN_SHA256_LEN];
	char hex[65], line[80];
	int rc;

	if ((rc = capstan_sha256(ctx, ca_pem->data, ca_pem->len, md)) < 0)
		return rc;
	capstan_hex_encode(hex, md, sizeof(md));
	snprintf(line, sizeof(line), "%s %s 0\n", CAPSTAN_TRUST_LINE, hex);
	return capstan_buf_append(ctx, out, line, strlen(line));
}

/* When a CRL enters the last third of its validity: a consumer never holds an expired one. */
static time_t refresh_time(const capstan_crl_item *it)
{
	return it->this_update + (it->next_update - it->this_update) * 2 / 3;
}

/* Last, once everything else rendered: a stored CRL is reused while fresh,
 * and one is signed (and stored) only when none is. */
int capstan_bundle_add_crls(capstan_ctx *ctx, capstan_bundle *b, const capstan_store_env *env)
{
	capstan_crl_opts o = CAPSTAN_CRL_OPTS_INIT;
	capstan_crl_item *items = NULL;
	capstan_buf current = CAPSTAN_BUF_INIT, all = CAPSTAN_BUF_INIT;
	size_t n = 0;
	int rc;

	o.env = env->name;
	o.reuse = 1;
	if ((rc = capstan_crl_items(&items, &n, ctx, &o)) < 0)
		return rc;
	b->crl_refresh_at = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!b->crl_refresh_at || refresh_time(&items[i]) < b->crl_refresh_at)
			b->crl_refresh_at = refresh_time(&items[i]);
		if (!items[i].is_root && items[i].is_current)
			rc = capstan_crl_pem(&current, ctx, &items[i].der, 1);
		if (rc == 0)
			rc = capstan_crl_pem(&all, ctx, &items[i].der, 1);
	}
	if (rc == 0 && current.len == 0)
		rc = capstan_error(ctx, CAPSTAN_ENOTFOUND, "environment '%s' has no current intermediate CA", env->name);
	if (rc == 0 && (rc = capstan_bundle_add(ctx, b, "crl.pem", 0644, current.data, current.len)) == 0)
		rc = capstan_bundle_add(ctx, b, "crl-all.pem", 0644, all.data, all.len);
	capstan_buf_free(&current);
	capstan_buf_free(&all);
	capstan_crl_items_free(items, n);
	return rc;
}

/* {"name": R, "perms": [{"perm": P, "prefix": X}...]} for each etcd role.
 * (capstan_tv_put and _push take their child, even when they fail.) */
static int role_data(capstan_ctx *ctx, const capstan_delivery *d, const char *role, capstan_tvalue *list)
{
	capstan_tvalue *m = capstan_tv_map(), *perms = capstan_tv_list();
	size_t len = strlen(role);
	int rc = m && perms ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < d->perms.count; i++) {
		const char *line = d->perms.items[i], *perm = line + len + 1, *prefix;
		capstan_tvalue *p;
		char kind[16];
		if (strncmp(line, role, len) != 0 || line[len] != '\t' || !(prefix = strchr(perm, '\t')))
			continue;
		snprintf(kind, sizeof(kind), "%.*s", (int)(prefix - perm), perm);
		p = capstan_tv_map();
		if (!p || capstan_tv_put_string(p, "perm", kind) < 0 || capstan_tv_put_string(p, "prefix", prefix + 1) < 0) {
			capstan_tv_free(p);
			rc = -1;
		} else {
			rc = capstan_tv_push(perms, p);
		}
	}
	if (rc < 0 || capstan_tv_put_string(m, "name", role) < 0) {
		capstan_tv_free(perms);
		capstan_tv_free(m);
		return capstan_error_oom(ctx);
	}
	if (capstan_tv_put(m, "perms", perms) < 0) {
		capstan_tv_free(m);
		return capstan_error_oom(ctx);
	}
	return capstan_tv_push(list, m) < 0 ? capstan_error_oom(ctx) : 0;
}

/* etcd_roles and etcd_users for the RBAC script; etcd_rbac when there are any. */
int capstan_bundle_add_rbac(capstan_ctx *ctx, capstan_tvalue *top, const capstan_delivery *d)
{
	capstan_tvalue *roles = capstan_tv_list(), *users = capstan_tv_list();
	int rc = roles && users ? 0 : capstan_error_oom(ctx);

	for (size_t i = 0; rc == 0 && i < d->roles.count; i++)
		rc = role_data(ctx, d, d->roles.items[i], roles);
	for (size_t i = 0; rc == 0 && i < d->users.count; i++) {
		const char *tab = strchr(d->users.items[i], '\t');
		capstan_tvalue *u;
		char user[300];
		if (!tab)
			continue;
		snprintf(user, sizeof(user), "%.*s", (int)(tab - d->users.items[i]), d->users.items[i]);
		u = capstan_tv_map();
		if (!u || capstan_tv_put_string(u, "user", user) < 0 || capstan_tv_put_string(u, "role", tab + 1) < 0) {
			capstan_tv_free(u);
			rc = capstan_error_oom(ctx);
		} else if (capstan_tv_push(users, u) < 0) {
			rc = capstan_error_oom(ctx);
		}
	}
	if (rc < 0) {
		capstan_tv_free(roles);
		capstan_tv_free(users);
		return rc;
	}
	if (capstan_tv_put(top, "etcd_rbac", capstan_tv_bool(d->roles.count > 0)) < 0) {
		capstan_tv_free(roles);
		capstan_tv_free(users);
		return capstan_error_oom(ctx);
	}
	if (capstan_tv_put(top, "etcd_roles", roles) < 0) {
		capstan_tv_free(users);
		return capstan_error_oom(ctx);
	}
	return capstan_tv_put(top, "etcd_users", users) < 0 ? capstan_error_oom(ctx) : 0;
}
