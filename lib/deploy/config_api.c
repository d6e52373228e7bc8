/* The api: section of the YAML configuration (api.md's serve half):
 * listeners, the server's identity and each client's allowances. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/config.h>
#include <capstan/parse.h>

#include "base/base.h"
#include "config_model.h"
#include "deploy.h"
#include "config_walk.h"

static int api_client_pair(walker *w, const char *key, yaml_node_t *v, const char *path, void *payload)
{
	capstan_config_api_client *c = payload;
	char **acts = NULL;
	size_t n = 0;
	int rc;

	if (strcmp(key, "env") == 0 || strcmp(key, "name") == 0)
		return walk_identifier(w, v, path, key[0] == 'e' ? "environment name" : "certificate name",
			key[0] == 'e' ? &c->env : &c->name, 64);
	if (strcmp(key, "max_days") == 0)
		return walk_duration(w, v, path, &c->max_lifetime);
	if (strcmp(key, "allow") == 0) {
		rc = walk_list(w, v, path, capstan_config_check_action, 0, "action", &acts, &n);
		for (size_t i = 0; i < n; i++) {
			c->allow |= capstan_config_action_bit(acts[i]);
			free(acts[i]);
		}
		free(acts);
		return rc;
	}
	if (strcmp(key, "environments") == 0)
		return walk_list(w, v, path, walk_check_name, 0, "environment name", &c->environments, &c->environment_count);
	if (strcmp(key, "services") == 0)
		return walk_list(w, v, path, walk_check_name, 0, "service name", &c->services, &c->service_count);
	if (strcmp(key, "hosts") == 0)
		return walk_list(w, v, path, walk_check_name, 0, "host name", &c->hosts, &c->host_count);
	if (strcmp(key, "profiles") == 0)
		return walk_list(w, v, path, capstan_config_check_profile, 0, "profile", &c->profiles, &c->profile_count);
	if (strcmp(key, "dns") == 0)
		return walk_list(w, v, path, capstan_dns_pattern_check, 0, "DNS pattern", &c->dns, &c->dns_count);
	return walk_list(w, v, path, capstan_cidr_check, 0, "CIDR", &c->ip, &c->ip_count); /* ip */
}

static int api_clients(walker *w, yaml_node_t *v, const char *path, capstan_config_api *api)
{
	static const char *const client_keys[] = { "env", "name", "allow", "environments", "services", "hosts",
		"profiles", "dns", "ip", "max_days", NULL };
	char sub[300];
	int rc;

	if (v->type != YAML_SEQUENCE_NODE)
		return walk_fail(w, v, path, "expected a list of clients");
	api->client_count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (!(api->clients = calloc(api->client_count + 1, sizeof(*api->clients))))
		return capstan_error_oom(w->ctx);
	for (size_t i = 0; i < api->client_count; i++) {
		yaml_node_t *item = walk_node(w, v->data.sequence.items.start[i]);
		capstan_config_api_client *c = &api->clients[i];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!item)
			return walk_fail(w, v, sub, "broken list");
		c->line = (int)item->start_mark.line + 1;
		if ((rc = walk_mapping(w, item, sub, client_keys)) != 0)
			return rc > 0 ? walk_fail(w, item, sub, "a client needs env and name") : rc;
		if ((rc = walk_each_pair(w, item, sub, api_client_pair, c)) < 0)
			return rc;
		if (!c->env || !c->name)
			return walk_fail(w, item, sub, "a client needs env and name");
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
		if ((rc = walk_mapping(w, v, path, server_keys)) != 0)
			return rc > 0 ? walk_fail(w, v, path, "the server needs env and name") : rc;
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
			const char *k = (const char *)walk_node(w, p->key)->data.scalar.value;
			char sub[300];
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			if ((rc = walk_identifier(w, walk_node(w, p->value), sub, k[0] == 'e' ? "environment name" :
				     "certificate name", k[0] == 'e' ? &api->server_env : &api->server_name, 64)) < 0)
				return rc;
		}
		return !api->server_env || !api->server_name ? walk_fail(w, v, path, "the server needs env and name") : 0;
	}
	if (strcmp(key, "public_url") == 0) {
		if ((rc = walk_scalar_dup(w, v, path, &api->public_url)) < 0)
			return rc;
		if ((strncmp(api->public_url, "http://", 7) != 0 && strncmp(api->public_url, "https://", 8) != 0) ||
		    capstan_check_uri(api->public_url, &why) < 0)
			return walk_fail(w, v, path, "bad URL '%s': %s", api->public_url, why ? why : "expected http:// or https://");
		return 0;
	}
	if ((rc = walk_scalar_dup(w, v, path, key[0] == 'l' ? &api->listen : &api->http)) < 0) /* listen, http */
		return rc;
	return capstan_config_check_listen(key[0] == 'l' ? api->listen : api->http, &why) < 0 ?
		walk_fail(w, v, path, "bad address '%s': %s", key[0] == 'l' ? api->listen : api->http, why) : 0;
}

int capstan_config_api_section(walker *w, yaml_node_t *v, const char *path, capstan_config *c)
{
	static const char *const api_keys[] = { "listen", "http", "public_url", "server", "clients", NULL };
	int rc;

	if (!(c->api = calloc(1, sizeof(*c->api))))
		return capstan_error_oom(w->ctx);
	c->api->line = (int)v->start_mark.line + 1;
	if ((rc = walk_mapping(w, v, path, api_keys)) != 0)
		return rc > 0 ? 0 : rc;
	return walk_each_pair(w, v, path, api_pair, c->api);
}

