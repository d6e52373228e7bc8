/* The YAML configuration: loaded here, walked with config_walk.c's
 * primitives, the api: section in config_api.c (the only files that see
 * yaml.h, through config_walk.h). The document is loaded whole (libyaml
 * keeps aliases as shared nodes, so memory stays bounded by the input),
 * then walked against the schema (CONFIGURATION in docs/capstan.1). What the parsed model does once loaded: config_model.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include <capstan/config.h>
#include <capstan/file.h>
#include <capstan/parse.h>

#include "base/base.h"
#include "config_model.h"
#include "config_walk.h"
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

static int defaults_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_defaults *d = payload;
	const char *s;
	int rc;

	if (strcmp(key, "key") == 0) {
		if ((rc = walk_scalar(w, v, path, &s)) < 0)
			return rc;
		if (capstan_key_type_parse(s, &d->key) < 0)
			return walk_fail(w, v, path, "unknown or weak key type '%s' (expected %s)", s, capstan_key_type_names());
		d->key_set = 1;
		return 0;
	}
	if (strcmp(key, "days") == 0)
		return walk_duration(w, v, path, &d->lifetime);
	return walk_duration(w, v, path, &d->renew_before); /* renew_before: walk_mapping() allowed nothing else */
}

typedef struct {
	capstan_config_defaults *d;
	capstan_config_policy *policy;
} defaults_payload;

static int defaults_block_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	defaults_payload *dp = payload;

	if (strcmp(key, "policy") == 0)
		return capstan_config_policy_section(w, v, path, dp->policy);
	return defaults_pair(w, key, v, path, dp->d);
}

/* policy: NULL where allowed does not name it. */
static int defaults_block(walker *w, yaml_node_t *n, const char *path, const char *const *allowed,
	capstan_config_defaults *d, capstan_config_policy *policy)
{
	defaults_payload dp = { d, policy };
	int rc = walk_mapping(w, n, path, allowed);

	return rc != 0 ? (rc > 0 ? 0 : rc) : walk_each_pair(w, n, path, defaults_block_pair, &dp);
}

static int cert_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_cert *c = payload;
	const char *s = NULL, *why = NULL;
	int rc;

	if (strcmp(key, "name") == 0)
		return walk_identifier(w, v, path, "certificate name", &c->name, 64);
	if (strcmp(key, "role") == 0)
		return walk_identifier(w, v, path, "role", &c->role, 64);
	if (strcmp(key, "cn") == 0) {
		if ((rc = walk_scalar_dup(w, v, path, &c->cn)) < 0)
			return rc;
		return capstan_check_subject_value(c->cn, &why) < 0 ? walk_fail(w, v, path, "bad CN: %s", why) : 0;
	}
	if (strcmp(key, "profile") == 0) {
		if ((rc = walk_scalar(w, v, path, &s)) < 0)
			return rc;
		return capstan_profile_parse(s, &c->profile) < 0 ?
			walk_fail(w, v, path, "unknown profile '%s' (expected %s)", s, capstan_profile_names()) : 0;
	}
	if (strcmp(key, "dns") == 0)
		return walk_list(w, v, path, NULL, CAPSTAN_SAN_DNS, "DNS name", &c->dns, &c->dns_count);
	if (strcmp(key, "ip") == 0)
		return walk_list(w, v, path, NULL, CAPSTAN_SAN_IP, "IP address", &c->ip, &c->ip_count);
	if (strcmp(key, "uri") == 0)
		return walk_list(w, v, path, NULL, CAPSTAN_SAN_URI, "URI", &c->uri, &c->uri_count);
	if (strcmp(key, "email") == 0)
		return walk_list(w, v, path, NULL, CAPSTAN_SAN_EMAIL, "e-mail address", &c->email, &c->email_count);
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
		return walk_fail(w, n, path, "a certificate needs a name");
	if (!c->cn && !(c->cn = strdup(c->name)))
		return capstan_error_oom(w->ctx);
	capstan_config_issue_opts(c, NULL, NULL, NULL, &o);
	rc = capstan_request_sans(w->ctx, &o, c->cn, NULL, &sans);
	capstan_strlist_free(&sans);
	if (rc < 0) {
		capstan_config_subject_hint(capstan_error_subject(w->ctx), path, hint, sizeof(hint));
		return walk_fail(w, n, path, "%s%s", capstan_error_message(w->ctx), hint);
	}
	return 0;
}

static int has_key(walker *w, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = walk_node(w, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return 1;
	}
	return 0;
}

static size_t pair_count(yaml_node_t *n);

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
		return walk_fail(w, v, path, "bad host name '%s' (letters, digits, '.', '_', '-')", key);
	return walk_list(w, v, path, walk_check_name, 0, "certificate name", &h->certs, &h->cert_count);
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
		return walk_fail(w, v, path, "bad etcd role name '%s'%s", key, why ? "" : " (root is etcd's own)");
	if ((rc = walk_mapping(w, v, path, perm_keys)) != 0)
		return rc > 0 ? walk_fail(w, v, path, "a role needs read, write or readwrite prefixes") : rc;
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		const char *perm = (const char *)walk_node(w, p->key)->data.scalar.value;
		yaml_node_t *list = walk_node(w, p->value);
		char ***items = strcmp(perm, "read") == 0 ? &r->read : strcmp(perm, "write") == 0 ? &r->write : &r->readwrite;
		size_t *count = strcmp(perm, "read") == 0 ? &r->read_count : strcmp(perm, "write") == 0 ? &r->write_count :
			&r->readwrite_count;
		if (!list)
			return walk_fail(w, v, path, "broken mapping");
		if ((rc = walk_list(w, list, path, check_etcd_text, 0, "key prefix", items, count)) < 0)
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
		return walk_fail(w, v, path, "bad etcd user '%s': %s", key, why);
	return walk_list(w, v, path, walk_check_name, 0, "etcd role", &u->roles, &u->role_count);
}

static int etcd_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_service *s = payload;
	int rc;

	if ((rc = walk_mapping(w, v, path, NULL)) != 0)
		return rc > 0 ? 0 : rc;
	if (strcmp(key, "roles") == 0) {
		if (!(s->etcd_roles = calloc(pair_count(v) + 1, sizeof(*s->etcd_roles))))
			return capstan_error_oom(w->ctx);
		return walk_each_pair(w, v, path, etcd_role_pair, s);
	}
	if (!(s->etcd_users = calloc(pair_count(v) + 1, sizeof(*s->etcd_users))))
		return capstan_error_oom(w->ctx);
	return walk_each_pair(w, v, path, etcd_user_pair, s);
}

/* owner, group, hosts and etcd: how the service's bundles are delivered. */
static int delivery_pair(walker *w, const char *key, yaml_node_t *v, const char *path, capstan_config_service *s)
{
	static const char *const etcd_keys[] = { "roles", "users", NULL };
	int rc;

	if (strcmp(key, "owner") == 0 || strcmp(key, "group") == 0)
		return walk_identifier(w, v, path, key[0] == 'o' ? "owner" : "group", key[0] == 'o' ? &s->owner : &s->group, 32);
	if ((rc = walk_mapping(w, v, path, strcmp(key, "etcd") == 0 ? etcd_keys : NULL)) != 0)
		return rc > 0 ? 0 : rc;
	if (strcmp(key, "etcd") == 0)
		return walk_each_pair(w, v, path, etcd_pair, s);
	if (!(s->hosts = calloc(pair_count(v) + 1, sizeof(*s->hosts))))
		return capstan_error_oom(w->ctx);
	return walk_each_pair(w, v, path, host_pair, s);
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
		return walk_identifier(w, v, path, "template name", &s->template_name, 64);
	}
	if (strcmp(key, "policy") == 0)
		return capstan_config_policy_section(w, v, path, &s->policy);
	if (strcmp(key, "certs") != 0)
		return delivery_pair(w, key, v, path, s);
	if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start)
		return walk_fail(w, v, path, "expected a list of certificates");
	s->cert_count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (!(s->certs = calloc(s->cert_count, sizeof(*s->certs))))
		return capstan_error_oom(w->ctx);
	for (size_t i = 0; i < s->cert_count; i++) {
		yaml_node_t *item = walk_node(w, v->data.sequence.items.start[i]);
		capstan_config_cert *c = &s->certs[i];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!item)
			return walk_fail(w, v, sub, "broken list");
		c->line = (int)item->start_mark.line + 1;
		if ((rc = walk_mapping(w, item, sub, cert_keys)) != 0)
			return rc > 0 ? walk_fail(w, item, sub, "a certificate needs a name and a profile") : rc;
		if (!has_key(w, item, "profile"))
			return walk_fail(w, item, sub, "a certificate needs a profile (%s)", capstan_profile_names());
		if ((rc = walk_each_pair(w, item, sub, cert_pair, c)) < 0 || (rc = check_cert(w, item, sub, c)) < 0)
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
				return walk_fail(w, n, path, "etcd user '%s' has role '%s', which etcd.roles does not define",
					s->etcd_users[i].name, s->etcd_users[i].roles[j]);
		}
	return 0;
}

static int services_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const service_keys[] = { "template", "certs", "owner", "group", "hosts", "etcd", "policy",
		NULL };
	capstan_config *c = payload;
	capstan_config_service *s = &c->services[c->service_count++];
	int rc;

	s->line = (int)v->start_mark.line + 1;
	if (!(s->name = strdup(key)))
		return capstan_error_oom(w->ctx);
	if (capstan_check_identifier(key, NULL) < 0)
		return walk_fail(w, v, path, "bad service name '%s'", key);
	if ((rc = walk_mapping(w, v, path, service_keys)) != 0)
		return rc > 0 ? walk_fail(w, v, path, "a service needs a template and certs") : rc;
	if ((rc = walk_each_pair(w, v, path, service_pair, s)) < 0)
		return rc;
	if (!s->template_name)
		return walk_fail(w, v, path, "a service needs a template (etcd, alluxio, spark, hadoop, kubernetes, or your own)");
	if (!s->certs)
		return walk_fail(w, v, path, "a service needs certs");
	return check_delivery(w, v, path, s);
}

static int env_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const ca_keys[] = { "key", "days", NULL };
	static const char *const default_keys[] = { "key", "days", "renew_before", NULL };
	capstan_config_env *e = payload;

	if (strcmp(key, "defaults") == 0)
		return defaults_block(w, v, path, default_keys, &e->defaults, NULL);
	if (strcmp(key, "policy") == 0)
		return capstan_config_policy_section(w, v, path, &e->policy);
	return defaults_block(w, v, path, ca_keys, strcmp(key, "root") == 0 ? &e->root : &e->intermediate, NULL);
}

static int environments_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const env_keys[] = { "root", "intermediate", "defaults", "policy", NULL };
	capstan_config *c = payload;
	capstan_config_env *e = &c->envs[c->env_count++];
	int rc;

	e->line = (int)v->start_mark.line + 1;
	if (!(e->name = strdup(key)))
		return capstan_error_oom(w->ctx);
	if (capstan_check_identifier(key, NULL) < 0 || strlen(key) > CAPSTAN_MAX_ENV_NAME)
		return walk_fail(w, v, path, "bad environment name '%s' (letters, digits, '.', '_', '-'; at most 32)", key);
	if ((rc = walk_mapping(w, v, path, env_keys)) != 0)
		return rc > 0 ? 0 : rc;
	return walk_each_pair(w, v, path, env_pair, e);
}

static size_t pair_count(yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE ? (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start) : 0;
}

/* What capstan_ctx_set_inventory takes from a file: a scheme it knows. */
static int inventory_ok(const char *s)
{
	return (strncmp(s, "sqlite:", 7) == 0 && s[7]) || strncmp(s, "postgresql://", 13) == 0 ||
		strncmp(s, "postgres://", 11) == 0;
}

static int top_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	static const char *const default_keys[] = { "key", "days", "renew_before", "policy", NULL };
	capstan_config *c = payload;
	const char *why = NULL;
	int rc;

	if (strcmp(key, "organization") == 0) {
		if ((rc = walk_scalar_dup(w, v, path, &c->organization)) < 0)
			return rc;
		return capstan_check_subject_value(c->organization, &why) < 0 ?
			walk_fail(w, v, path, "bad organization: %s", why) : 0;
	}
	if (strcmp(key, "defaults") == 0)
		return defaults_block(w, v, path, default_keys, &c->defaults, &c->policy);
	if (strcmp(key, "inventory") == 0) {
		if ((rc = walk_scalar_dup(w, v, path, &c->inventory)) < 0)
			return rc;
		return inventory_ok(c->inventory) ? 0 :
			walk_fail(w, v, path, "expected sqlite:PATH or a postgresql:// URL");
	}
	if (strcmp(key, "api") == 0)
		return capstan_config_api_section(w, v, path, c);
	if ((rc = walk_mapping(w, v, path, NULL)) != 0)
		return rc > 0 ? 0 : rc;
	if (strcmp(key, "environments") == 0) {
		if (!(c->envs = calloc(pair_count(v) + 1, sizeof(*c->envs))))
			return capstan_error_oom(w->ctx);
		return walk_each_pair(w, v, path, environments_pair, c);
	}
	if (!(c->services = calloc(pair_count(v) + 1, sizeof(*c->services))))
		return capstan_error_oom(w->ctx);
	return walk_each_pair(w, v, path, services_pair, c);
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
	if ((rc = walk_mapping(w, root, NULL, top_keys)) != 0)
		return rc > 0 ? capstan_error(w->ctx, CAPSTAN_EINVALID, "%s: the configuration is empty", w->file) : rc;
	if ((rc = walk_each_pair(w, root, NULL, top_pair, c)) < 0)
		return rc;
	if (c->env_count == 0)
		return walk_fail(w, root, "environments", "at least one environment is needed");
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
