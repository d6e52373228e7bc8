/* The YAML configuration: the only file that includes yaml.h. The document
 * is loaded whole (libyaml keeps aliases as shared nodes, so memory stays
 * bounded by the input), then walked against the schema (CONFIGURATION in
 * docs/capstan.1). What the parsed model does once loaded: config_model.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include <capstan/config.h>
#include <capstan/file.h>
#include <capstan/parse.h>

#include "base/base.h"
#include "config_model.h"
#include "ca/ca.h"

/* A million certificates at ~100 bytes a line: the size an honest inventory
 * needs. What bounds the work is the visit budget below, not this. */
#define MAX_CONFIG (256 * 1024 * 1024)
#define MAX_NESTING 64
/* Nodes visited, aliases counted each time they are followed: a budget of
 * MAX_VISITS plus VISITS_PER_NODE for each node the file really holds. An
 * honest file visits each node a few times, however big it is; a billion
 * laughs (aliases to aliases) is refused after work proportional to its size. */
#define MAX_VISITS 100000
#define VISITS_PER_NODE 8
/* Up to this many keys, a mapping's duplicates are found pairwise; above, by sorting. */
#define SMALL_MAPPING 16

typedef struct {
	capstan_ctx *ctx;
	const char *file;
	yaml_document_t *doc;
	long visits;
	long max_visits;
} walker;

/* "FILE:LINE:COLUMN: PATH: what" and CAPSTAN_EINVALID. */
static int fail(walker *w, const yaml_node_t *node, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(walker *w, const yaml_node_t *node, const char *path, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return capstan_error(w->ctx, CAPSTAN_EINVALID, "%s:%zu:%zu: %s%s%s", w->file,
		node ? node->start_mark.line + 1 : 0, node ? node->start_mark.column + 1 : 0,
		path ? path : "", path ? ": " : "", what);
}

static yaml_node_t *node_at(walker *w, int index)
{
	w->visits++;
	return yaml_document_get_node(w->doc, index);
}

static const char *type_name(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a value";
}

static int scalar(walker *w, yaml_node_t *n, const char *path, const char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return fail(w, n, path, "expected a value, found %s", type_name(n));
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return fail(w, n, path, "NUL byte in a value");
	*out = (const char *)n->data.scalar.value;
	return 0;
}

static int scalar_dup(walker *w, yaml_node_t *n, const char *path, char **out)
{
	const char *s = NULL;
	int rc = scalar(w, n, path, &s);

	if (rc == 0 && !(*out = strdup(s)))
		rc = capstan_error_oom(w->ctx);
	return rc;
}

typedef struct {
	const yaml_node_t *key;
	size_t order;
} key_entry;

static int key_cmp(const void *a, const void *b)
{
	const key_entry *x = a, *y = b;
	int c = strcmp((const char *)x->key->data.scalar.value, (const char *)y->key->data.scalar.value);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* A big mapping's keys (services: thousands) sorted, not compared pairwise;
 * the same answer: the first key, in the file's order, given before. */
static int duplicate_keys(walker *w, yaml_node_t *n, const char *path)
{
	size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	key_entry *keys = malloc(count * sizeof(*keys)), *dup = NULL, *first = NULL;
	int rc = 0;

	if (!keys)
		return capstan_error_oom(w->ctx);
	/* mapping() has checked that every key is a scalar. */
	for (size_t i = 0; i < count; i++)
		keys[i] = (key_entry){ yaml_document_get_node(w->doc, n->data.mapping.pairs.start[i].key), i };
	qsort(keys, count, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < count; i++)
		if (strcmp((const char *)keys[i].key->data.scalar.value, (const char *)keys[i - 1].key->data.scalar.value) == 0 &&
		    (i < 2 || strcmp((const char *)keys[i].key->data.scalar.value,
				      (const char *)keys[i - 2].key->data.scalar.value) != 0) &&
		    (!dup || keys[i].order < dup->order))
			dup = &keys[i], first = &keys[i - 1];
	if (dup)
		rc = fail(w, (yaml_node_t *)dup->key, path, "key '%s' given twice (also at line %zu)",
			(const char *)dup->key->data.scalar.value, first->key->start_mark.line + 1);
	free(keys);
	return rc;
}

/* A mapping whose keys are all in `allowed` (NULL: any key) and none twice. */
static int mapping(walker *w, yaml_node_t *n, const char *path, const char *const *allowed)
{
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
		return 1; /* "dev:" with nothing: an empty mapping */
	if (n->type != YAML_MAPPING_NODE)
		return fail(w, n, path, "expected a mapping, found %s", type_name(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(w, p->key);
		const char *key;
		int known = !allowed, rc;
		if (!k || (rc = scalar(w, k, path, &key)) < 0)
			return k ? rc : fail(w, n, path, "broken mapping");
		for (const char *const *a = allowed; a && *a; a++)
			known |= strcmp(*a, key) == 0;
		if (!known) {
			char list[256] = "";
			for (const char *const *a = allowed; *a; a++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
			return fail(w, k, path, "unknown key '%s' (expected %s)", key, list);
		}
		if (n->data.mapping.pairs.top - n->data.mapping.pairs.start > SMALL_MAPPING)
			continue;
		/* Not node_at: looking back is bookkeeping, not a visit of the document. */
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *other = yaml_document_get_node(w->doc, q->key);
			if (other && other->type == YAML_SCALAR_NODE && strcmp((char *)other->data.scalar.value, key) == 0)
				return fail(w, k, path, "key '%s' given twice (also at line %zu)", key, other->start_mark.line + 1);
		}
	}
	return n->data.mapping.pairs.top - n->data.mapping.pairs.start > SMALL_MAPPING ? duplicate_keys(w, n, path) : 0;
}

typedef int (*pair_fn)(walker *w, const char *key, yaml_node_t *value, const char *path, void *payload);

static int each_pair(walker *w, yaml_node_t *n, const char *path, pair_fn fn, void *payload)
{
	char sub[256];

	if (n->type != YAML_MAPPING_NODE)
		return 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(w, p->key), *v = node_at(w, p->value);
		int rc;
		if (w->visits > w->max_visits)
			return fail(w, n, path, "the document is too large (aliases expand past %ld nodes)", w->max_visits);
		if (!k || !v)
			return fail(w, n, path, "broken mapping");
		snprintf(sub, sizeof(sub), "%s%s%s", path ? path : "", path ? "." : "", (char *)k->data.scalar.value);
		if ((rc = fn(w, (char *)k->data.scalar.value, v, sub, payload)) < 0)
			return rc;
	}
	return 0;
}

static int duration_value(walker *w, yaml_node_t *n, const char *path, int64_t *out)
{
	const char *s = NULL, *why = NULL;
	int rc;

	if ((rc = scalar(w, n, path, &s)) < 0)
		return rc;
	if (capstan_parse_duration(s, out, &why) < 0)
		return fail(w, n, path, "bad duration '%s': %s", s, why);
	return 0;
}

static int defaults_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_defaults *d = payload;
	const char *s;
	int rc;

	if (strcmp(key, "key") == 0) {
		if ((rc = scalar(w, v, path, &s)) < 0)
			return rc;
		if (capstan_key_type_parse(s, &d->key) < 0)
			return fail(w, v, path, "unknown or weak key type '%s' (expected %s)", s, capstan_key_type_names());
		d->key_set = 1;
		return 0;
	}
	if (strcmp(key, "days") == 0)
		return duration_value(w, v, path, &d->lifetime);
	return duration_value(w, v, path, &d->renew_before); /* renew_before: mapping() allowed nothing else */
}

static int defaults_block(walker *w, yaml_node_t *n, const char *path, const char *const *allowed,
	capstan_config_defaults *d)
{
	int rc = mapping(w, n, path, allowed);

	return rc != 0 ? (rc > 0 ? 0 : rc) : each_pair(w, n, path, defaults_pair, d);
}

typedef int (*check_fn)(const char *, const char **);

/* A list of values (a single value counts as a list of one), each checked:
 * by check, or (check NULL) as a SAN of type san. */
static int value_list(walker *w, yaml_node_t *n, const char *path, check_fn check, capstan_san_type san,
	const char *what, char ***items, size_t *count)
{
	yaml_node_item_t *start = NULL, *top = NULL;
	size_t n_items;

	if (n->type == YAML_SEQUENCE_NODE) {
		start = n->data.sequence.items.start;
		top = n->data.sequence.items.top;
	} else if (n->type != YAML_SCALAR_NODE) {
		return fail(w, n, path, "expected a list of values, found %s", type_name(n));
	}
	n_items = start ? (size_t)(top - start) : 1;
	if (!(*items = calloc(n_items ? n_items : 1, sizeof(**items))))
		return capstan_error_oom(w->ctx);
	for (size_t i = 0; i < n_items; i++) {
		yaml_node_t *item = start ? node_at(w, start[i]) : n;
		const char *s = NULL, *why = NULL;
		int rc;
		if (!item || (rc = scalar(w, item, path, &s)) < 0)
			return item ? rc : fail(w, n, path, "broken list");
		if ((check ? check(s, &why) : capstan_check_san(san, s, &why)) < 0)
			return fail(w, item, path, "bad %s '%s': %s", what, s, why);
		if (!((*items)[i] = strdup(s)))
			return capstan_error_oom(w->ctx);
		(*count)++;
	}
	return 0;
}

static int identifier(walker *w, yaml_node_t *n, const char *path, const char *what, char **out, size_t max)
{
	const char *why = NULL;
	int rc;

	if ((rc = scalar_dup(w, n, path, out)) < 0)
		return rc;
	if (capstan_check_identifier(*out, &why) < 0 || strlen(*out) > max)
		return fail(w, n, path, "bad %s '%s': %s", what, *out, why ? why : "too long");
	return 0;
}

static int cert_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_cert *c = payload;
	const char *s = NULL, *why = NULL;
	int rc;

	if (strcmp(key, "name") == 0)
		return identifier(w, v, path, "certificate name", &c->name, 64);
	if (strcmp(key, "role") == 0)
		return identifier(w, v, path, "role", &c->role, 64);
	if (strcmp(key, "cn") == 0) {
		if ((rc = scalar_dup(w, v, path, &c->cn)) < 0)
			return rc;
		return capstan_check_subject_value(c->cn, &why) < 0 ? fail(w, v, path, "bad CN: %s", why) : 0;
	}
	if (strcmp(key, "profile") == 0) {
		if ((rc = scalar(w, v, path, &s)) < 0)
			return rc;
		return capstan_profile_parse(s, &c->profile) < 0 ?
			fail(w, v, path, "unknown profile '%s' (expected %s)", s, capstan_profile_names()) : 0;
	}
	if (strcmp(key, "dns") == 0)
		return value_list(w, v, path, NULL, CAPSTAN_SAN_DNS, "DNS name", &c->dns, &c->dns_count);
	if (strcmp(key, "ip") == 0)
		return value_list(w, v, path, NULL, CAPSTAN_SAN_IP, "IP address", &c->ip, &c->ip_count);
	if (strcmp(key, "uri") == 0)
		return value_list(w, v, path, NULL, CAPSTAN_SAN_URI, "URI", &c->uri, &c->uri_count);
	if (strcmp(key, "email") == 0)
		return value_list(w, v, path, NULL, CAPSTAN_SAN_EMAIL, "e-mail address", &c->email, &c->email_count);
	return defaults_pair(w, key, v, path, &c->settings); /* key, days, renew_before */
}

/* What the issuer would refuse, refused now: the profile's SAN needs, named
 * by the keys that would supply them. */
static int check_cert(walker *w, yaml_node_t *n, const char *path, capstan_config_cert *c)
{
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_strlist sans = { 0 };
	char hint[300];
	int rc;

	if (!c->name)
		return fail(w, n, path, "a certificate needs a name");
	if (!c->cn && !(c->cn = strdup(c->name)))
		return capstan_error_oom(w->ctx);
	capstan_config_issue_opts(c, NULL, NULL, NULL, &o);
	rc = capstan_request_sans(w->ctx, &o, c->cn, NULL, &sans);
	capstan_strlist_free(&sans);
	if (rc < 0) {
		capstan_config_subject_hint(capstan_error_subject(w->ctx), path, hint, sizeof(hint));
		return fail(w, n, path, "%s%s", capstan_error_message(w->ctx), hint);
	}
	return 0;
}

static int has_key(walker *w, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(w, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return 1;
	}
	return 0;
}

static size_t pair_count(yaml_node_t *n);

static int check_name(const char *s, const char **why)
{
	return capstan_check_identifier(s, why);
}

/* An etcd key prefix or user name: it is quoted into a shell script. */
static int check_etcd_text(const char *s, const char **why)
{
	if (!*s || strlen(s) > 256) {
		*why = "1 to 256 characters";
		return -1;
	}
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\'' || *s == '\\') {
			*why = "no control characters, quotes or backslashes";
			return -1;
		}
	return 0;
}

static int host_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_service *s = payload;
	capstan_config_host *h = &s->hosts[s->host_count++];

	h->line = (int)v->start_mark.line + 1;
	if (!(h->name = strdup(key)))
		return capstan_error_oom(w->ctx);
	if (capstan_check_identifier(key, NULL) < 0 || strlen(key) > 64)
		return fail(w, v, path, "bad host name '%s' (letters, digits, '.', '_', '-')", key);
	return value_list(w, v, path, check_name, 0, "certificate name", &h->certs, &h->cert_count);
}

static int etcd_role_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const perm_keys[] = { "read", "write", "readwrite", NULL };
	capstan_config_service *s = payload;
	capstan_config_etcd_role *r = &s->etcd_roles[s->etcd_role_count++];
	const char *why = NULL;
	int rc;

	if (!(r->name = strdup(key)))
		return capstan_error_oom(w->ctx);
	if (capstan_check_identifier(key, &why) < 0 || strcmp(key, "root") == 0)
		return fail(w, v, path, "bad etcd role name '%s'%s", key, why ? "" : " (root is etcd's own)");
	if ((rc = mapping(w, v, path, perm_keys)) != 0)
		return rc > 0 ? fail(w, v, path, "a role needs read, write or readwrite prefixes") : rc;
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		const char *perm = (const char *)node_at(w, p->key)->data.scalar.value;
		yaml_node_t *list = node_at(w, p->value);
		char ***items = strcmp(perm, "read") == 0 ? &r->read : strcmp(perm, "write") == 0 ? &r->write : &r->readwrite;
		size_t *count = strcmp(perm, "read") == 0 ? &r->read_count : strcmp(perm, "write") == 0 ? &r->write_count :
			&r->readwrite_count;
		if (!list)
			return fail(w, v, path, "broken mapping");
		if ((rc = value_list(w, list, path, check_etcd_text, 0, "key prefix", items, count)) < 0)
			return rc;
	}
	return 0;
}

static int etcd_user_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_service *s = payload;
	capstan_config_etcd_user *u = &s->etcd_users[s->etcd_user_count++];
	const char *why = NULL;

	if (!(u->name = strdup(key)))
		return capstan_error_oom(w->ctx);
	if (check_etcd_text(key, &why) < 0)
		return fail(w, v, path, "bad etcd user '%s': %s", key, why);
	return value_list(w, v, path, check_name, 0, "etcd role", &u->roles, &u->role_count);
}

static int etcd_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_service *s = payload;
	int rc;

	if ((rc = mapping(w, v, path, NULL)) != 0)
		return rc > 0 ? 0 : rc;
	if (strcmp(key, "roles") == 0) {
		if (!(s->etcd_roles = calloc(pair_count(v) + 1, sizeof(*s->etcd_roles))))
			return capstan_error_oom(w->ctx);
		return each_pair(w, v, path, etcd_role_pair, s);
	}
	if (!(s->etcd_users = calloc(pair_count(v) + 1, sizeof(*s->etcd_users))))
		return capstan_error_oom(w->ctx);
	return each_pair(w, v, path, etcd_user_pair, s);
}

/* owner, group, hosts and etcd: how the service's bundles are delivered. */
static int delivery_pair(walker *w, const char *key, yaml_node_t *v, const char *path, capstan_config_service *s)
{
	static const char *const etcd_keys[] = { "roles", "users", NULL };
	int rc;

	if (strcmp(key, "owner") == 0 || strcmp(key, "group") == 0)
		return identifier(w, v, path, key[0] == 'o' ? "owner" : "group", key[0] == 'o' ? &s->owner : &s->group, 32);
	if ((rc = mapping(w, v, path, strcmp(key, "etcd") == 0 ? etcd_keys : NULL)) != 0)
		return rc > 0 ? 0 : rc;
	if (strcmp(key, "etcd") == 0)
		return each_pair(w, v, path, etcd_pair, s);
	if (!(s->hosts = calloc(pair_count(v) + 1, sizeof(*s->hosts))))
		return capstan_error_oom(w->ctx);
	return each_pair(w, v, path, host_pair, s);
}

static int service_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const cert_keys[] = { "name", "profile", "cn", "dns", "ip", "uri", "email", "days", "key",
		"renew_before", "role", NULL };
	capstan_config_service *s = payload;
	char sub[300];
	int rc;

	if (strcmp(key, "template") == 0) {
		s->template_line = (int)v->start_mark.line + 1;
		s->template_column = (int)v->start_mark.column + 1;
		return identifier(w, v, path, "template name", &s->template_name, 64);
	}
	if (strcmp(key, "certs") != 0)
		return delivery_pair(w, key, v, path, s);
	if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start)
		return fail(w, v, path, "expected a list of certificates");
	s->cert_count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (!(s->certs = calloc(s->cert_count, sizeof(*s->certs))))
		return capstan_error_oom(w->ctx);
	for (size_t i = 0; i < s->cert_count; i++) {
		yaml_node_t *item = node_at(w, v->data.sequence.items.start[i]);
		capstan_config_cert *c = &s->certs[i];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!item)
			return fail(w, v, sub, "broken list");
		c->line = (int)item->start_mark.line + 1;
		if ((rc = mapping(w, item, sub, cert_keys)) != 0)
			return rc > 0 ? fail(w, item, sub, "a certificate needs a name and a profile") : rc;
		if (!has_key(w, item, "profile"))
			return fail(w, item, sub, "a certificate needs a profile (%s)", capstan_profile_names());
		if ((rc = each_pair(w, item, sub, cert_pair, c)) < 0 || (rc = check_cert(w, item, sub, c)) < 0)
			return rc;
	}
	return 0;
}

static int service_has_cert(const capstan_config_service *s, const char *name, const capstan_config_cert **out)
{
	for (size_t i = 0; i < s->cert_count; i++)
		if (strcmp(s->certs[i].name, name) == 0) {
			if (out)
				*out = &s->certs[i];
			return 1;
		}
	return 0;
}

/* hosts name the service's own certificates; etcd users hold roles it defines. */
static int check_delivery(walker *w, yaml_node_t *n, const char *path, const capstan_config_service *s)
{
	for (size_t i = 0; i < s->host_count; i++)
		for (size_t j = 0; j < s->hosts[i].cert_count; j++) {
			for (size_t k = 0; k < j; k++)
				if (strcmp(s->hosts[i].certs[k], s->hosts[i].certs[j]) == 0)
					return capstan_error(w->ctx, CAPSTAN_EINVALID, "%s:%d: %s.hosts.%s: '%s' is listed twice",
						w->file, s->hosts[i].line, path, s->hosts[i].name, s->hosts[i].certs[j]);
			if (!service_has_cert(s, s->hosts[i].certs[j], NULL))
				return capstan_error(w->ctx, CAPSTAN_EINVALID, "%s:%d: %s.hosts.%s: '%s' is not a certificate of %s",
					w->file, s->hosts[i].line, path, s->hosts[i].name, s->hosts[i].certs[j], s->name);
		}
	for (size_t i = 0; i < s->etcd_user_count; i++)
		for (size_t j = 0; j < s->etcd_users[i].role_count; j++) {
			size_t k = 0;
			while (k < s->etcd_role_count && strcmp(s->etcd_roles[k].name, s->etcd_users[i].roles[j]) != 0)
				k++;
			if (k == s->etcd_role_count && strcmp(s->etcd_users[i].roles[j], "root") != 0)
				return fail(w, n, path, "etcd user '%s' has role '%s', which etcd.roles does not define",
					s->etcd_users[i].name, s->etcd_users[i].roles[j]);
		}
	return 0;
}

static int services_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const service_keys[] = { "template", "certs", "owner", "group", "hosts", "etcd", NULL };
	capstan_config *c = payload;
	capstan_config_service *s = &c->services[c->service_count++];
	int rc;

	s->line = (int)v->start_mark.line + 1;
	if (!(s->name = strdup(key)))
		return capstan_error_oom(w->ctx);
	if (capstan_check_identifier(key, NULL) < 0)
		return fail(w, v, path, "bad service name '%s'", key);
	if ((rc = mapping(w, v, path, service_keys)) != 0)
		return rc > 0 ? fail(w, v, path, "a service needs a template and certs") : rc;
	if ((rc = each_pair(w, v, path, service_pair, s)) < 0)
		return rc;
	if (!s->template_name)
		return fail(w, v, path, "a service needs a template (etcd, alluxio, spark, hadoop, kubernetes, or your own)");
	if (!s->certs)
		return fail(w, v, path, "a service needs certs");
	return check_delivery(w, v, path, s);
}

static int env_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const ca_keys[] = { "key", "days", NULL };
	static const char *const default_keys[] = { "key", "days", "renew_before", NULL };
	capstan_config_env *e = payload;

	if (strcmp(key, "defaults") == 0)
		return defaults_block(w, v, path, default_keys, &e->defaults);
	return defaults_block(w, v, path, ca_keys, strcmp(key, "root") == 0 ? &e->root : &e->intermediate);
}

static int environments_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const env_keys[] = { "root", "intermediate", "defaults", NULL };
	capstan_config *c = payload;
	capstan_config_env *e = &c->envs[c->env_count++];
	int rc;

	e->line = (int)v->start_mark.line + 1;
	if (!(e->name = strdup(key)))
		return capstan_error_oom(w->ctx);
	if (capstan_check_identifier(key, NULL) < 0 || strlen(key) > CAPSTAN_MAX_ENV_NAME)
		return fail(w, v, path, "bad environment name '%s' (letters, digits, '.', '_', '-'; at most 32)", key);
	if ((rc = mapping(w, v, path, env_keys)) != 0)
		return rc > 0 ? 0 : rc;
	return each_pair(w, v, path, env_pair, e);
}

static size_t pair_count(yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE ? (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start) : 0;
}

static int api_client_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_api_client *c = payload;
	char **acts = NULL;
	size_t n = 0;
	int rc;

	if (strcmp(key, "env") == 0 || strcmp(key, "name") == 0)
		return identifier(w, v, path, key[0] == 'e' ? "environment name" : "certificate name",
			key[0] == 'e' ? &c->env : &c->name, 64);
	if (strcmp(key, "max_days") == 0)
		return duration_value(w, v, path, &c->max_lifetime);
	if (strcmp(key, "allow") == 0) {
		rc = value_list(w, v, path, capstan_config_check_action, 0, "action", &acts, &n);
		for (size_t i = 0; i < n; i++) {
			c->allow |= acts[i][0] == 'b' ? CAPSTAN_API_BUNDLE : acts[i][0] == 's' ? CAPSTAN_API_SIGN :
				acts[i][0] == 'r' ? CAPSTAN_API_REVOKE : CAPSTAN_API_LIST;
			free(acts[i]);
		}
		free(acts);
		return rc;
	}
	if (strcmp(key, "environments") == 0)
		return value_list(w, v, path, check_name, 0, "environment name", &c->environments, &c->environment_count);
	if (strcmp(key, "services") == 0)
		return value_list(w, v, path, check_name, 0, "service name", &c->services, &c->service_count);
	if (strcmp(key, "hosts") == 0)
		return value_list(w, v, path, check_name, 0, "host name", &c->hosts, &c->host_count);
	if (strcmp(key, "profiles") == 0)
		return value_list(w, v, path, capstan_config_check_profile, 0, "profile", &c->profiles, &c->profile_count);
	if (strcmp(key, "dns") == 0)
		return value_list(w, v, path, capstan_dns_pattern_check, 0, "DNS pattern", &c->dns, &c->dns_count);
	return value_list(w, v, path, capstan_cidr_check, 0, "CIDR", &c->ip, &c->ip_count); /* ip */
}

static int api_clients(walker *w, yaml_node_t *v, const char *path, capstan_config_api *api)
{
	static const char *const client_keys[] = { "env", "name", "allow", "environments", "services", "hosts",
		"profiles", "dns", "ip", "max_days", NULL };
	char sub[300];
	int rc;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail(w, v, path, "expected a list of clients");
	api->client_count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (!(api->clients = calloc(api->client_count + 1, sizeof(*api->clients))))
		return capstan_error_oom(w->ctx);
	for (size_t i = 0; i < api->client_count; i++) {
		yaml_node_t *item = node_at(w, v->data.sequence.items.start[i]);
		capstan_config_api_client *c = &api->clients[i];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!item)
			return fail(w, v, sub, "broken list");
		c->line = (int)item->start_mark.line + 1;
		if ((rc = mapping(w, item, sub, client_keys)) != 0)
			return rc > 0 ? fail(w, item, sub, "a client needs env and name") : rc;
		if ((rc = each_pair(w, item, sub, api_client_pair, c)) < 0)
			return rc;
		if (!c->env || !c->name)
			return fail(w, item, sub, "a client needs env and name");
	}
	return 0;
}

static int api_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const server_keys[] = { "env", "name", NULL };
	capstan_config_api *api = payload;
	const char *why = NULL;
	int rc;

	if (strcmp(key, "clients") == 0)
		return api_clients(w, v, path, api);
	if (strcmp(key, "server") == 0) {
		if ((rc = mapping(w, v, path, server_keys)) != 0)
			return rc > 0 ? fail(w, v, path, "the server needs env and name") : rc;
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
			const char *k = (const char *)node_at(w, p->key)->data.scalar.value;
			char sub[300];
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			if ((rc = identifier(w, node_at(w, p->value), sub, k[0] == 'e' ? "environment name" :
				     "certificate name", k[0] == 'e' ? &api->server_env : &api->server_name, 64)) < 0)
				return rc;
		}
		return !api->server_env || !api->server_name ? fail(w, v, path, "the server needs env and name") : 0;
	}
	if (strcmp(key, "public_url") == 0) {
		if ((rc = scalar_dup(w, v, path, &api->public_url)) < 0)
			return rc;
		if ((strncmp(api->public_url, "http://", 7) != 0 && strncmp(api->public_url, "https://", 8) != 0) ||
		    capstan_check_uri(api->public_url, &why) < 0)
			return fail(w, v, path, "bad URL '%s': %s", api->public_url, why ? why : "expected http:// or https://");
		return 0;
	}
	if ((rc = scalar_dup(w, v, path, key[0] == 'l' ? &api->listen : &api->http)) < 0) /* listen, http */
		return rc;
	return capstan_config_check_listen(key[0] == 'l' ? api->listen : api->http, &why) < 0 ?
		fail(w, v, path, "bad address '%s': %s", key[0] == 'l' ? api->listen : api->http, why) : 0;
}

static int api_section(walker *w, yaml_node_t *v, const char *path, capstan_config *c)
{
	static const char *const api_keys[] = { "listen", "http", "public_url", "server", "clients", NULL };
	int rc;

	if (!(c->api = calloc(1, sizeof(*c->api))))
		return capstan_error_oom(w->ctx);
	c->api->line = (int)v->start_mark.line + 1;
	if ((rc = mapping(w, v, path, api_keys)) != 0)
		return rc > 0 ? 0 : rc;
	return each_pair(w, v, path, api_pair, c->api);
}

/* What capstan_ctx_set_inventory takes from a file: a scheme it knows. */
static int inventory_ok(const char *s)
{
	return (strncmp(s, "sqlite:", 7) == 0 && s[7]) || strncmp(s, "postgresql://", 13) == 0 ||
		strncmp(s, "postgres://", 11) == 0;
}

static int top_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const default_keys[] = { "key", "days", "renew_before", NULL };
	capstan_config *c = payload;
	const char *why = NULL;
	int rc;

	if (strcmp(key, "organization") == 0) {
		if ((rc = scalar_dup(w, v, path, &c->organization)) < 0)
			return rc;
		return capstan_check_subject_value(c->organization, &why) < 0 ?
			fail(w, v, path, "bad organization: %s", why) : 0;
	}
	if (strcmp(key, "defaults") == 0)
		return defaults_block(w, v, path, default_keys, &c->defaults);
	if (strcmp(key, "inventory") == 0) {
		if ((rc = scalar_dup(w, v, path, &c->inventory)) < 0)
			return rc;
		return inventory_ok(c->inventory) ? 0 :
			fail(w, v, path, "expected sqlite:PATH or a postgresql:// URL");
	}
	if (strcmp(key, "api") == 0)
		return api_section(w, v, path, c);
	if ((rc = mapping(w, v, path, NULL)) != 0)
		return rc > 0 ? 0 : rc;
	if (strcmp(key, "environments") == 0) {
		if (!(c->envs = calloc(pair_count(v) + 1, sizeof(*c->envs))))
			return capstan_error_oom(w->ctx);
		return each_pair(w, v, path, environments_pair, c);
	}
	if (!(c->services = calloc(pair_count(v) + 1, sizeof(*c->services))))
		return capstan_error_oom(w->ctx);
	return each_pair(w, v, path, services_pair, c);
}

/* A certificate line is (environment, name): two services cannot share a
 * name. Sorted, so a file of a million certificates is checked in n log n. */
typedef struct {
	const char *name;
	size_t order;              /* position in the file */
	size_t service, cert;
} name_entry;

static int name_cmp(const void *pa, const void *pb)
{
	const name_entry *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

static int check_unique_names(walker *w, const capstan_config *c)
{
	name_entry *all, *dup = NULL, *first = NULL;
	size_t n = 0;

	for (size_t i = 0; i < c->service_count; i++)
		n += c->services[i].cert_count;
	if (n < 2)
		return 0;
	if (!(all = malloc(n * sizeof(*all))))
		return capstan_error_oom(w->ctx);
	n = 0;
	for (size_t i = 0; i < c->service_count; i++)
		for (size_t j = 0; j < c->services[i].cert_count; j++, n++)
			all[n] = (name_entry){ c->services[i].certs[j].name, n, i, j };
	qsort(all, n, sizeof(*all), name_cmp);
	/* The first repeat in the file's order, named beside the first use. */
	for (size_t k = 1; k < n; k++)
		if (strcmp(all[k].name, all[k - 1].name) == 0 && (!dup || all[k].order < dup->order) &&
		    (k < 2 || strcmp(all[k].name, all[k - 2].name) != 0))
			dup = &all[k], first = &all[k - 1];
	if (dup) {
		const capstan_config_service *s = &c->services[dup->service];
		int rc = capstan_error(w->ctx, CAPSTAN_EINVALID,
			"%s:%d: services.%s: certificate name '%s' is used twice (also at line %d)", w->file,
			s->certs[dup->cert].line, s->name, dup->name, c->services[first->service].certs[first->cert].line);
		free(all);
		return rc;
	}
	free(all);
	return 0;
}

static int walk(walker *w, capstan_config *c)
{
	static const char *const top_keys[] = { "organization", "defaults", "environments", "services", "api",
		"inventory", NULL };
	yaml_node_t *root = yaml_document_get_root_node(w->doc);
	int rc;

	if (!root)
		return capstan_error(w->ctx, CAPSTAN_EINVALID, "%s: the configuration is empty", w->file);
	if ((rc = mapping(w, root, NULL, top_keys)) != 0)
		return rc > 0 ? capstan_error(w->ctx, CAPSTAN_EINVALID, "%s: the configuration is empty", w->file) : rc;
	if ((rc = each_pair(w, root, NULL, top_pair, c)) < 0)
		return rc;
	if (c->env_count == 0)
		return fail(w, root, "environments", "at least one environment is needed");
	return check_unique_names(w, c);
}

/* libyaml's scanner slows quadratically with flow nesting ('[[[[...': a
 * 1 MB file took minutes), and a configuration needs a handful of levels.
 * Events come one at a time, so counting them stops a deep file early; a
 * YAML error is left for the load below to report. */
static int nesting_check(capstan_ctx *ctx, const char *name, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, rc = 0, more = 1;

	if (!yaml_parser_initialize(&parser))
		return capstan_error_oom(ctx);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (more && yaml_parser_parse(&parser, &ev)) {
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		more = ev.type != YAML_STREAM_END_EVENT;
		if (depth > MAX_NESTING) {
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s:%zu: nesting deeper than %d", name,
				ev.start_mark.line + 1, MAX_NESTING);
			more = 0;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

int capstan_config_parse(capstan_config **out, capstan_ctx *ctx, const char *name, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	capstan_config *c = calloc(1, sizeof(*c));
	walker w = { ctx, name, &doc, 0, MAX_VISITS };
	int rc, loaded = 0;

	if (!c || !(c->path = strdup(name))) {
		free(c);
		return capstan_error_oom(ctx);
	}
	if (len > MAX_CONFIG) {
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s: larger than %d MiB", name, MAX_CONFIG >> 20);
		goto done;
	}
	if ((rc = nesting_check(ctx, name, text, len)) < 0)
		goto done;
	if (!yaml_parser_initialize(&parser)) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!(loaded = yaml_parser_load(&parser, &doc)))
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s:%zu:%zu: not valid YAML: %s", name,
			parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			parser.problem ? parser.problem : "parse error");
	else {
		w.max_visits += VISITS_PER_NODE * (long)(doc.nodes.top - doc.nodes.start);
		rc = walk(&w, c);
	}
	yaml_parser_delete(&parser);
	if (loaded)
		yaml_document_delete(&doc);
done:
	if (rc < 0)
		capstan_config_free(c);
	else
		*out = c;
	return rc;
}

int capstan_config_load(capstan_config **out, capstan_ctx *ctx, const char *path)
{
	capstan_buf text = CAPSTAN_BUF_INIT;
	int rc;

	if ((rc = capstan_file_read(&text, ctx, path, MAX_CONFIG)) < 0)
		return rc;
	rc = capstan_config_parse(out, ctx, path, (const char *)text.data, text.len);
	capstan_buf_free(&text);
	return rc;
}

/* Only the top level's inventory: every command reads it before it opens
 * the inventory, and a configuration the rest of which is apply's to
 * validate must not stop them. */
int capstan_config_inventory(char **out, capstan_ctx *ctx, const char *path)
{
	capstan_buf text = CAPSTAN_BUF_INIT;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int rc, loaded = 0;

	*out = NULL;
	if ((rc = capstan_file_read(&text, ctx, path, MAX_CONFIG)) < 0)
		return rc;
	if ((rc = nesting_check(ctx, path, (const char *)text.data, text.len)) < 0)
		goto done;
	if (!yaml_parser_initialize(&parser)) {
		rc = capstan_error_oom(ctx);
		goto done;
	}
	yaml_parser_set_input_string(&parser, text.data, text.len);
	if (!(loaded = yaml_parser_load(&parser, &doc)))
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s: not valid YAML", path);
	yaml_parser_delete(&parser);
	root = loaded ? yaml_document_get_root_node(&doc) : NULL;
	for (yaml_node_pair_t *p = root && root->type == YAML_MAPPING_NODE ? root->data.mapping.pairs.start : NULL;
	     p && p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key), *v = yaml_document_get_node(&doc, p->value);
		if (!k || !v || k->type != YAML_SCALAR_NODE || strcmp((const char *)k->data.scalar.value, "inventory") != 0)
			continue;
		if (v->type != YAML_SCALAR_NODE || !inventory_ok((const char *)v->data.scalar.value))
			rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s:%zu: inventory: expected sqlite:PATH or a postgresql:// URL",
				path, k->start_mark.line + 1);
		else if (!(*out = strdup((const char *)v->data.scalar.value)))
			rc = capstan_error_oom(ctx);
		break;
	}
	if (loaded)
		yaml_document_delete(&doc);
done:
	capstan_buf_free(&text);
	return rc;
}
