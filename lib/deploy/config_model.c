/* The parsed configuration as the rest of the library uses it: the defaults a
 * certificate ends up with, its issue options, the YAML path of a field an
 * error is about, and freeing. No YAML here: config.c alone includes yaml.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/ca.h>
#include <capstan/config.h>

#include "base/base.h"
#include "config_model.h"
#include "deploy.h"

/* A certificate's keys, by the library's names for the fields they fill. */
static const struct {
	unsigned field;
	const char *key;
} cert_keys_by_field[] = {
	{ CAPSTAN_FIELD_NAME, "name" }, { CAPSTAN_FIELD_CN, "cn" }, { CAPSTAN_FIELD_PROFILE, "profile" },
	{ CAPSTAN_FIELD_KEY, "key" }, { CAPSTAN_FIELD_LIFETIME, "days" }, { CAPSTAN_FIELD_RENEW_BEFORE, "renew_before" },
	{ CAPSTAN_FIELD_DNS, "dns" }, { CAPSTAN_FIELD_IP, "ip" }, { CAPSTAN_FIELD_URI, "uri" },
	{ CAPSTAN_FIELD_EMAIL, "email" },
};

void capstan_config_subject_hint(unsigned subject, const char *path, char *out, size_t size)
{
	size_t n = sizeof(cert_keys_by_field) / sizeof(cert_keys_by_field[0]), named = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && size > strlen(out); i++) {
		if (!(subject & cert_keys_by_field[i].field))
			continue;
		/* The first in full, the others as siblings: "(P.dns or .ip)". */
		snprintf(out + strlen(out), size - strlen(out), "%s%s.%s", named ? " or " : " (", named ? "" : path,
			cert_keys_by_field[i].key);
		named++;
	}
	if (named)
		snprintf(out + strlen(out), size - strlen(out), ")");
}

void capstan_config_issue_opts(const capstan_config_cert *c, const capstan_config_defaults *d, const char *env,
	const char *service, capstan_issue_opts *o)
{
	o->env = env;
	o->cn = c->cn;
	o->name = c->name;
	o->service = service;
	o->profile = c->profile;
	if (d) {
		o->key_set = d->key_set;
		o->key = d->key;
		o->lifetime = d->lifetime;
		o->renew_before = d->renew_before;
	}
	o->dns = (const char *const *)c->dns, o->dns_count = c->dns_count;
	o->ip = (const char *const *)c->ip, o->ip_count = c->ip_count;
	o->uri = (const char *const *)c->uri, o->uri_count = c->uri_count;
	o->email = (const char *const *)c->email, o->email_count = c->email_count;
}

static void free_list(char **items, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(items[i]);
	free(items);
}

static void free_api(capstan_config_api *api)
{
	if (!api)
		return;
	for (size_t i = 0; i < api->client_count; i++) {
		capstan_config_api_client *c = &api->clients[i];
		free(c->env);
		free(c->name);
		free_list(c->environments, c->environment_count);
		free_list(c->services, c->service_count);
		free_list(c->hosts, c->host_count);
		free_list(c->profiles, c->profile_count);
		free_list(c->dns, c->dns_count);
		free_list(c->ip, c->ip_count);
	}
	free(api->clients);
	free(api->listen);
	free(api->http);
	free(api->public_url);
	free(api->server_env);
	free(api->server_name);
	free(api);
}

static void free_policy(capstan_config_policy *p)
{
	free_list(p->dns, p->dns_count);
	free_list(p->ip, p->ip_count);
	free_list(p->keys, p->key_count);
}

void capstan_config_free(capstan_config *c)
{
	if (!c)
		return;
	free_policy(&c->policy);
	for (size_t i = 0; i < c->service_count; i++) {
		capstan_config_service *s = &c->services[i];
		for (size_t j = 0; j < s->cert_count; j++) {
			capstan_config_cert *ct = &s->certs[j];
			free(ct->name);
			free(ct->cn);
			free(ct->role);
			free_list(ct->dns, ct->dns_count);
			free_list(ct->ip, ct->ip_count);
			free_list(ct->uri, ct->uri_count);
			free_list(ct->email, ct->email_count);
		}
		free(s->certs);
		free(s->name);
		free(s->template_name);
		free(s->owner);
		free(s->group);
		for (size_t j = 0; j < s->host_count; j++) {
			free(s->hosts[j].name);
			free_list(s->hosts[j].certs, s->hosts[j].cert_count);
		}
		free(s->hosts);
		for (size_t j = 0; j < s->etcd_role_count; j++) {
			free(s->etcd_roles[j].name);
			free_list(s->etcd_roles[j].read, s->etcd_roles[j].read_count);
			free_list(s->etcd_roles[j].write, s->etcd_roles[j].write_count);
			free_list(s->etcd_roles[j].readwrite, s->etcd_roles[j].readwrite_count);
		}
		free(s->etcd_roles);
		for (size_t j = 0; j < s->etcd_user_count; j++) {
			free(s->etcd_users[j].name);
			free_list(s->etcd_users[j].roles, s->etcd_users[j].role_count);
		}
		free(s->etcd_users);
		free_policy(&s->policy);
	}
	for (size_t i = 0; i < c->env_count; i++) {
		free(c->envs[i].name);
		free_policy(&c->envs[i].policy);
	}
	free(c->services);
	free(c->envs);
	free(c->organization);
	free(c->inventory);
	free_api(c->api);
	free(c->path);
	free(c);
}

capstan_config_defaults capstan_config_effective(const capstan_config *c, const capstan_config_env *e,
	const capstan_config_cert *cert)
{
	const capstan_config_defaults *layers[3] = { cert ? &cert->settings : NULL, e ? &e->defaults : NULL,
		&c->defaults };
	capstan_config_defaults out = { 0 };

	for (int i = 0; i < 3; i++) {
		if (!layers[i])
			continue;
		if (!out.key_set && layers[i]->key_set)
			out.key_set = 1, out.key = layers[i]->key;
		if (!out.lifetime)
			out.lifetime = layers[i]->lifetime;
		if (!out.renew_before)
			out.renew_before = layers[i]->renew_before;
	}
	return out;
}

/* The api: actions, by the word allow: takes. */
static const struct { capstan_api_action bit; const char *word; } actions[] = {
	{ CAPSTAN_API_BUNDLE, "bundle" }, { CAPSTAN_API_SIGN, "sign" },
	{ CAPSTAN_API_REVOKE, "revoke" }, { CAPSTAN_API_LIST, "list" },
};

unsigned capstan_config_action_bit(const char *word)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(word, actions[i].word) == 0)
			return actions[i].bit;
	return 0;
}

const char *capstan_config_action_word(unsigned bit)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].bit == bit)
			return actions[i].word;
	return "?";
}

int capstan_config_check_action(const char *s, const char **why)
{
	if (capstan_config_action_bit(s))
		return 0;
	*why = "unknown action (expected bundle, sign, revoke, list)";
	return -1;
}

int capstan_config_check_profile(const char *s, const char **why)
{
	capstan_profile p;

	if (capstan_profile_parse(s, &p) == 0)
		return 0;
	*why = "unknown profile";
	return -1;
}

/* "HOST:PORT" or "[V6]:PORT": what the server binds; the host is its business. */
int capstan_config_check_listen(const char *s, const char **why)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port = colon && colon[1] >= '0' && colon[1] <= '9' ? strtol(colon + 1, &end, 10) : -1;

	if (!colon || colon == s || port < 1 || port > 65535 || *end) {
		*why = "expected ADDRESS:PORT";
		return -1;
	}
	return 0;
}
