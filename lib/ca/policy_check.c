/* The issuance policy, obeyed: every issuance (issue, batch, CSR, serve's
 * sign, renew and rotate) is checked against the rows apply recorded for its
 * environment and service, before anything is signed. Each row is a level
 * (the file's defaults, the environment, a service): a request must satisfy
 * every one, which is what "each level narrows the one above" means. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <capstan/parse.h>

#include "ca.h"
#include "base/base.h"
#include "store/store.h"

/* The loader refuses longer lists (config_policy.c). */
#define MAX_ITEMS CAPSTAN_POLICY_MAX_ITEMS

/* One body's line "key=a,b,c", split in a copy; 1 when the key is there,
 * -1 when out of memory. list_free() after. */
typedef struct {
	char *copy;
	const char *items[MAX_ITEMS];
	size_t count;
} policy_list;

static void list_free(policy_list *l)
{
	free(l->copy);
	l->copy = NULL;
}

static int body_list(const char *body, const char *key, policy_list *l)
{
	size_t klen = strlen(key);
	const char *line = body, *end;
	char *p;

	l->count = 0;
	l->copy = NULL;
	for (; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (strncmp(line, key, klen) != 0 || line[klen] != '=')
			continue;
		if (!(l->copy = strndup(line + klen + 1, (size_t)((end ? end : line + strlen(line)) - line - klen - 1))))
			return -1;
		for (p = l->copy; *p && l->count < MAX_ITEMS;) {
			l->items[l->count++] = p;
			if (!(p = strchr(p, ',')))
				break;
			*p++ = '\0';
		}
		return 1;
	}
	return 0;
}

static void join(const policy_list *l, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->count && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", l->items[i]);
	if (l->count == 0)
		snprintf(out, size, "(nothing)");
}

static int refuse(capstan_ctx *ctx, const char *env, const char *service, const char *fmt, const char *what,
	const char *value, const policy_list *l)
{
	char all[1024], head[160];

	join(l, all, sizeof(all));
	if (service && *service)
		snprintf(head, sizeof(head), "%s policy (service %s)", env, service);
	else
		snprintf(head, sizeof(head), "%s policy", env);
	return capstan_error(ctx, CAPSTAN_EINVALID, "%s: %s '%s' %s %s", head, what, value, fmt, all);
}

/* What OpenSSL's verifier (cn2dnsid in v3_ncons.c) takes a CN for: a name
 * of two labels or more, letters, digits, '_' and inner '-' and '.', no '.'
 * next to another or to a '-'. GnuTLS does the like. */
static int cn_is_host_like(const char *cn)
{
	size_t n = cn ? strlen(cn) : 0;
	int dotted = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cn[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
			continue;
		if (i == 0 || i == n - 1)
			return 0;
		if (c == '-')
			continue;
		if (c != '.' || cn[i + 1] == '.' || cn[i - 1] == '-' || cn[i + 1] == '-')
			return 0;
		dotted = 1;
	}
	return dotted;
}

static int dns_allowed(const policy_list *dns, const char *name)
{
	for (size_t k = 0; k < dns->count; k++)
		if (capstan_dns_pattern_match(dns->items[k], name))
			return 1;
	return 0;
}

static int has_dns_san(const capstan_strlist *sans)
{
	for (size_t i = 0; sans && i < sans->count; i++)
		if (strncmp(sans->items[i], "DNS:", 4) == 0)
			return 1;
	return 0;
}

/* The nameConstraints the environment's intermediate carries, gathered
 * level by level (defaults, then the environment; a service's level has no
 * intermediate of its own): wanted at any level, the lists of the nearest
 * level that has them. */
typedef struct {
	int want;
	policy_list dns, ip;
} constraints;

static int gather_constraints(capstan_ctx *ctx, const char *service, const char *body, constraints *c)
{
	policy_list d, p;
	int hd, hp;

	if (service && *service)
		return 0;
	hd = body_list(body, "dns", &d);
	hp = body_list(body, "ip", &p);
	c->want |= strstr(body, "name_constraints=1\n") != NULL;
	if (hd > 0)
		list_free(&c->dns), c->dns = d;
	else
		list_free(&d);
	if (hp > 0)
		list_free(&c->ip), c->ip = p;
	else
		list_free(&p);
	return hd < 0 || hp < 0 ? capstan_error_oom(ctx) : 0;
}

static void constraints_free(constraints *c)
{
	list_free(&c->dns);
	list_free(&c->ip);
}

/* Under nameConstraints, a leaf without a DNS SAN has its CN checked against
 * the DNS subtrees: by OpenSSL when the CN looks like a host name, by GnuTLS
 * whatever it is when the leaf is a TLS server's. One the policy does not
 * allow (an IP-only server, a client named like a host) would be signed and
 * then fail verification. */
static int check_cn(capstan_ctx *ctx, const char *env, const capstan_policy_ask *ask, const constraints *c)
{
	int rc;

	if (!c->want || !c->dns.count || !ask->cn || !*ask->cn || has_dns_san(ask->sans) ||
	    (!ask->server_auth && !cn_is_host_like(ask->cn)) || dns_allowed(&c->dns, ask->cn))
		return 0;
	rc = refuse(ctx, env, NULL, "matches none of", "CN", ask->cn, &c->dns);
	return capstan_error(ctx, rc, "%s (with no DNS name beside it, verifiers check the CN against the"
		" intermediate's nameConstraints: give it a CN or DNS name the policy allows)", capstan_error_message(ctx));
}

static int check_sans(capstan_ctx *ctx, const char *env, const char *service, const char *body,
	const capstan_strlist *sans)
{
	policy_list dns, ip;
	int has_dns = body_list(body, "dns", &dns);
	int has_ip = body_list(body, "ip", &ip), rc = 0;

	if (has_dns < 0 || has_ip < 0)
		rc = capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && sans && i < sans->count; i++) {
		const char *s = sans->items[i];
		size_t k = 0;
		if (has_dns && strncmp(s, "DNS:", 4) == 0 && !dns_allowed(&dns, s + 4))
			rc = refuse(ctx, env, service, "matches none of", "DNS name", s + 4, &dns);
		if (has_ip && strncmp(s, "IP:", 3) == 0) {
			while (k < ip.count && !capstan_cidr_match(ip.items[k], s + 3))
				k++;
			if (k == ip.count)
				rc = refuse(ctx, env, service, "is in none of", "IP address", s + 3, &ip);
		}
	}
	list_free(&dns);
	list_free(&ip);
	return rc;
}

static int check_one(capstan_ctx *ctx, const char *env, const char *service, const char *body,
	const capstan_policy_ask *ask)
{
	policy_list l;
	int rc;

	if ((rc = check_sans(ctx, env, service, body, ask->sans)) < 0)
		return rc;
	if (ask->key_known && (rc = body_list(body, "keys", &l)) != 0) {
		size_t k = 0;
		while (rc > 0 && k < l.count && strcmp(l.items[k], capstan_key_type_name(ask->key)) != 0)
			k++;
		rc = rc < 0 ? capstan_error_oom(ctx) : k < l.count ? 0 :
			refuse(ctx, env, service, "is not one of", "key type", capstan_key_type_name(ask->key), &l);
		list_free(&l);
		if (rc < 0)
			return rc;
	}
	if (ask->lifetime > 0 && (rc = body_list(body, "max_days", &l)) != 0) {
		long long max = rc > 0 && l.count == 1 ? atoll(l.items[0]) : 0;
		list_free(&l);
		if (rc < 0)
			return capstan_error_oom(ctx);
		if (max > 0 && ask->lifetime > max * CAPSTAN_DAY_SECONDS) {
			char value[64];
			snprintf(value, sizeof(value), "%lld days",
				(long long)((ask->lifetime + CAPSTAN_DAY_SECONDS - 1) / CAPSTAN_DAY_SECONDS));
			return capstan_error(ctx, CAPSTAN_EINVALID, "%s policy%s%s%s: lifetime '%s' is longer than max_days %lld",
				env, service && *service ? " (service " : "", service && *service ? service : "",
				service && *service ? ")" : "", value, max);
		}
	}
	return 0;
}

int capstan_policy_check_bodies(capstan_ctx *ctx, const char *env, const char *const *services,
	const char *const *bodies, size_t n, const capstan_policy_ask *ask)
{
	constraints c = { 0 };
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		if (bodies[i] && (rc = check_one(ctx, env, services ? services[i] : NULL, bodies[i], ask)) == 0)
			rc = gather_constraints(ctx, services ? services[i] : NULL, bodies[i], &c);
	if (rc == 0)
		rc = check_cn(ctx, env, ask, &c);
	constraints_free(&c);
	return rc;
}

typedef int (*row_fn)(capstan_ctx *ctx, const capstan_store_policy *row, void *arg);

/* fn on each recorded row that applies to env_id and service (the levels
 * above every service, and the service's own): from cache when one is lent
 * (filled on first use), else read from the inventory. Stops at an error. */
static int each_row(capstan_ctx *ctx, capstan_policy_cache *cache, int64_t env_id, const char *service, row_fn fn,
	void *arg)
{
	capstan_store_policy *rows = NULL;
	size_t n = 0;
	int rc = 0;

	if (!cache) {
		if ((rc = capstan_store_policy_list(ctx, env_id, service ? service : "", &rows, &n)) < 0)
			return rc;
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = fn(ctx, &rows[i], arg);
		capstan_store_policy_free(rows, n);
		return rc;
	}
	if (!cache->valid || cache->env_id != env_id) {
		capstan_policy_cache_clear(cache);
		if ((rc = capstan_store_policy_list(ctx, env_id, NULL, &cache->rows, &cache->count)) < 0)
			return rc;
		cache->valid = 1;
		cache->env_id = env_id;
	}
	/* Every row of the environment is here: the service's own, and no other's. */
	for (size_t i = 0; i < cache->count && rc == 0; i++)
		if (!cache->rows[i].service[0] || (service && strcmp(cache->rows[i].service, service) == 0))
			rc = fn(ctx, &cache->rows[i], arg);
	return rc;
}

typedef struct {
	const char *env;
	const capstan_policy_ask *ask;
	constraints c;
} enforce_arg;

static int enforce_row(capstan_ctx *ctx, const capstan_store_policy *row, void *arg)
{
	enforce_arg *a = arg;
	int rc = check_one(ctx, a->env, row->service, row->body, a->ask);

	return rc < 0 ? rc : gather_constraints(ctx, row->service, row->body, &a->c);
}

/* Every level's rules, then the CN against the intermediate's constraints. */
static int enforce(capstan_ctx *ctx, capstan_policy_cache *cache, int64_t env_id, const char *env,
	const char *service, const capstan_policy_ask *ask)
{
	enforce_arg a = { env, ask, { 0 } };
	int rc = each_row(ctx, cache, env_id, service, enforce_row, &a);

	if (rc == 0)
		rc = check_cn(ctx, env, ask, &a.c);
	constraints_free(&a.c);
	return rc;
}

int capstan_policy_enforce(capstan_ctx *ctx, int64_t env_id, const char *env, const char *service,
	const capstan_policy_ask *ask)
{
	return enforce(ctx, NULL, env_id, env, service, ask);
}

void capstan_policy_cache_clear(capstan_policy_cache *cache)
{
	capstan_store_policy_free(cache->rows, cache->count);
	memset(cache, 0, sizeof(*cache));
}

int capstan_policy_enforce_cached(capstan_ctx *ctx, capstan_policy_cache *cache, int64_t env_id, const char *env,
	const char *service, const capstan_policy_ask *ask)
{
	return enforce(ctx, cache, env_id, env, service, ask);
}

static int cap_row(capstan_ctx *ctx, const capstan_store_policy *row, void *arg)
{
	int64_t *lifetime = arg;
	policy_list l;
	long long max;
	int rc = body_list(row->body, "max_days", &l);

	if (rc < 0)
		return capstan_error_oom(ctx);
	max = rc > 0 && l.count == 1 ? atoll(l.items[0]) : 0;
	list_free(&l);
	if (max > 0 && *lifetime > max * CAPSTAN_DAY_SECONDS)
		*lifetime = max * CAPSTAN_DAY_SECONDS;
	return 0;
}

int capstan_policy_cap_lifetime(capstan_ctx *ctx, capstan_policy_cache *cache, int64_t env_id, const char *service,
	int64_t *lifetime)
{
	return each_row(ctx, cache, env_id, service, cap_row, lifetime);
}

/* A CIDR as nameConstraints wants it: address/mask ("10.0.0.0/255.0.0.0"). */
static int cidr_mask(capstan_ctx *ctx, const char *cidr, char *out, size_t size)
{
	unsigned char ip[16], mask[16] = { 0 };
	char addr[64], mtext[64];
	const char *slash = strchr(cidr, '/');
	size_t len;
	long bits;

	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - cidr) : (int)strlen(cidr), cidr);
	if (capstan_parse_ip(addr, ip, &len, NULL) < 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "bad CIDR '%s'", cidr);
	bits = slash ? strtol(slash + 1, NULL, 10) : (long)len * 8;
	if (bits < 0 || bits > (long)len * 8)
		return capstan_error(ctx, CAPSTAN_EINVALID, "bad CIDR '%s'", cidr);
	for (long i = 0; i < bits; i++)
		mask[i / 8] |= (unsigned char)(0x80 >> (i % 8));
	if (capstan_ip_to_text(mask, len, mtext, sizeof(mtext)) < 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "bad CIDR '%s'", cidr);
	snprintf(out, size, "%s/%s", addr, mtext);
	return 0;
}

static const char *subtree_of(const char *pattern)
{
	return strncmp(pattern, "*.", 2) == 0 ? pattern + 2 : pattern;
}

/* "*.x" and "x" are one subtree: it is listed once. */
static int listed_before(const char *const *dns, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcasecmp(subtree_of(dns[k]), subtree_of(dns[i])) == 0)
			return 1;
	return 0;
}

int capstan_policy_constraints_value(capstan_ctx *ctx, const char *const *dns, size_t dns_count,
	const char *const *ip, size_t ip_count, char **out)
{
	capstan_buf b = CAPSTAN_BUF_INIT;
	char item[300];
	int rc = 0;

	*out = NULL;
	if (dns_count + ip_count == 0)
		return 0;
	rc = capstan_buf_append(ctx, &b, "critical", 8);
	/* nameConstraints cannot say "one label": *.x permits x's whole subtree
	 * (the policy check itself keeps to one label). */
	for (size_t i = 0; rc == 0 && i < dns_count; i++) {
		snprintf(item, sizeof(item), ",permitted;DNS:%s", subtree_of(dns[i]));
		if (!listed_before(dns, i))
			rc = capstan_buf_append(ctx, &b, item, strlen(item));
	}
	for (size_t i = 0; rc == 0 && i < ip_count; i++) {
		char m[200];
		if ((rc = cidr_mask(ctx, ip[i], m, sizeof(m))) == 0) {
			snprintf(item, sizeof(item), ",permitted;IP:%s", m);
			rc = capstan_buf_append(ctx, &b, item, strlen(item));
		}
	}
	if (rc == 0)
		rc = capstan_buf_append(ctx, &b, "", 1);
	if (rc < 0) {
		capstan_buf_free(&b);
		return rc;
	}
	*out = (char *)b.data; /* the buffer's bytes, NUL-terminated, are the caller's */
	return 0;
}

static int gather_row(capstan_ctx *ctx, const capstan_store_policy *row, void *arg)
{
	return gather_constraints(ctx, row->service, row->body, arg);
}

int capstan_policy_name_constraints(capstan_ctx *ctx, int64_t env_id, char **out)
{
	constraints c = { 0 };
	/* Rows come by level: the environment's lists replace the defaults'. */
	int rc = each_row(ctx, NULL, env_id, "", gather_row, &c);

	*out = NULL;
	if (rc == 0 && c.want)
		rc = capstan_policy_constraints_value(ctx, c.dns.items, c.dns.count, c.ip.items, c.ip.count, out);
	constraints_free(&c);
	return rc;
}
