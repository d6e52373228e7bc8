/* What an identity may do: the actions its clients: entry allows, within
 * the entry's filters. Every refusal is a 403 naming the identity and the
 * rule that refused. */
#include <string.h>

#include <capstan/home.h>

#include "api_internal.h"
#include "deploy/deploy.h"

static int listed(char *const *list, size_t count, const char *s)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

int api_allow(api_call *c, unsigned action, const char *action_name, const char *env)
{
	if (!c->client) {
		api_error(c, 403, "%s may not %s (no api.clients entry names it)", c->identity, action_name);
		return -1;
	}
	if (!(c->client->allow & action)) {
		api_error(c, 403, "%s may not %s (its api.clients entry does not allow %s)", c->identity, action_name,
			capstan_config_action_word(action));
		return -1;
	}
	if (env && c->client->environment_count && !listed(c->client->environments, c->client->environment_count, env)) {
		api_error(c, 403, "%s may not %s in environment %s (not in its environments)", c->identity, action_name, env);
		return -1;
	}
	return 0;
}

int api_allow_service(api_call *c, const char *service)
{
	if (!c->client->service_count || (service && listed(c->client->services, c->client->service_count, service)))
		return 0;
	api_error(c, 403, "%s may not act on %s (not in its services)", c->identity,
		service ? service : "a certificate of no service");
	return -1;
}

int api_allow_host(api_call *c, const char *host)
{
	if (!c->client->host_count || (host && listed(c->client->hosts, c->client->host_count, host)))
		return 0;
	if (!host)
		api_error(c, 403, "%s may fetch per-host bundles only (its hosts)", c->identity);
	else
		api_error(c, 403, "%s may not fetch host %s's bundle (not in its hosts)", c->identity, host);
	return -1;
}

int api_allow_profile(api_call *c, const char *profile)
{
	if (!c->client->profile_count || listed(c->client->profiles, c->client->profile_count, profile))
		return 0;
	api_error(c, 403, "%s may not sign profile %s (not in its profiles)", c->identity, profile);
	return -1;
}

static int dns_allowed(const capstan_config_api_client *cl, const char *name)
{
	for (size_t i = 0; i < cl->dns_count; i++)
		if (capstan_dns_pattern_match(cl->dns[i], name))
			return 1;
	return 0;
}

static int ip_allowed(const capstan_config_api_client *cl, const char *ip)
{
	for (size_t i = 0; i < cl->ip_count; i++)
		if (capstan_cidr_match(cl->ip[i], ip))
			return 1;
	return 0;
}

/* Every SAN the certificate will carry, the CN copied in included. */
int api_allow_sans(api_call *c, const capstan_strlist *sans)
{
	const capstan_config_api_client *cl = c->client;

	for (size_t i = 0; i < sans->count; i++) {
		const char *s = sans->items[i];
		if (strncmp(s, "DNS:", 4) == 0 && cl->dns_count && !dns_allowed(cl, s + 4)) {
			api_error(c, 403, "%s may not sign DNS name %s (outside its dns patterns)", c->identity, s + 4);
			return -1;
		}
		if (strncmp(s, "IP:", 3) == 0 && cl->ip_count && !ip_allowed(cl, s + 3)) {
			api_error(c, 403, "%s may not sign IP address %s (outside its ip ranges)", c->identity, s + 3);
			return -1;
		}
	}
	return 0;
}

int64_t api_lifetime(const api_call *c, int64_t asked, int64_t env_default)
{
	int64_t lifetime = asked ? asked : env_default;

	if (c->client && c->client->max_lifetime && (!lifetime || lifetime > c->client->max_lifetime))
		lifetime = c->client->max_lifetime;
	return lifetime;
}

int api_actor(api_call *c, int on)
{
	char actor[200];

	if (!on)
		return capstan_ctx_set_actor(c->ctx, NULL);
	snprintf(actor, sizeof(actor), "api:%s", c->identity[0] ? c->identity : "-");
	return capstan_ctx_set_actor(c->ctx, actor);
}
