/* The api: configuration, loaded once and then shared read-only by every
 * worker thread; SIGHUP loads another and swaps it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capstan/home.h>
#include <capstan/policy.h>

#include "api_internal.h"

/* The configuration the CLI would find: $CAPSTAN_CONFIG, else HOME/capstan.yaml. */
static char *default_path(capstan_ctx *ctx)
{
	const char *env = getenv("CAPSTAN_CONFIG"), *home = capstan_home_path(ctx);

	if (env && *env)
		return strdup(env);
	return home ? capstan_aprintf("%s/capstan.yaml", home) : NULL;
}

/* A current certificate of profile server or peer whose key the inventory holds. */
static int check_server(capstan_ctx *ctx, const capstan_api *api, const char *path)
{
	const capstan_config_api *a = api->a;
	capstan_cert *cert = NULL;
	const char *why = NULL;
	int rc;

	if (!a->server_env || !a->server_name)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s: api.server: required (env and name of the certificate"
			" the server presents)", path);
	rc = capstan_cert_lookup(&cert, ctx, a->server_name, a->server_env);
	if (rc == CAPSTAN_ENOTFOUND)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s: api.server: no certificate '%s' in environment '%s'",
			path, a->server_name, a->server_env);
	if (rc < 0)
		return rc;
	if (cert->kind != CAPSTAN_KIND_LEAF || !cert->has_profile ||
	    (cert->profile != CAPSTAN_PROFILE_SERVER && cert->profile != CAPSTAN_PROFILE_PEER))
		why = "its profile is not server or peer";
	else if (cert->status != CAPSTAN_STATUS_VALID || cert->not_after < time(NULL))
		why = "it is not current (revoked, superseded or expired)";
	else if (!cert->has_key)
		why = "the inventory does not hold its key";
	if (why)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s: api.server: %s/%s (serial %s): %s", path,
			a->server_env, a->server_name, cert->serial, why);
	capstan_cert_free(cert);
	return rc;
}

static int settle(capstan_api *api, capstan_ctx *ctx, const char *path, const char *listen, const char *http)
{
	if (!(api->a = api->config->api))
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s: no api: section", path);
	listen = listen ? listen : api->a->listen;
	http = http ? http : api->a->http;
	if (!listen)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s: api.listen: required (the HTTPS address)", path);
	if (!(api->listen = strdup(listen)) || (http && !(api->http = strdup(http))))
		return capstan_error_oom(ctx);
	return check_server(ctx, api, path);
}

int capstan_api_load(capstan_api **out, capstan_ctx *ctx, const char *path, const char *listen, const char *http)
{
	capstan_api *api = calloc(1, sizeof(*api));
	char *found = path ? NULL : default_path(ctx);
	int rc;

	*out = NULL;
	if (!api || (!path && !found)) {
		free(api);
		free(found);
		return api ? capstan_error(ctx, CAPSTAN_EINVALID, "no configuration: no home is open") :
			capstan_error_oom(ctx);
	}
	path = path ? path : found;
	if ((rc = capstan_config_load(&api->config, ctx, path)) == 0)
		rc = settle(api, ctx, path, listen, http);
	free(found);
	if (rc < 0) {
		capstan_api_free(api);
		return rc;
	}
	*out = api;
	return 0;
}

void capstan_api_free(capstan_api *api)
{
	if (!api)
		return;
	capstan_config_free(api->config);
	free(api->listen);
	free(api->http);
	free(api);
}

const char *capstan_api_listen(const capstan_api *api)
{
	return api->listen;
}

const char *capstan_api_http(const capstan_api *api)
{
	return api->http;
}

const char *capstan_api_public_url(const capstan_api *api)
{
	return api->a->public_url;
}

const char *capstan_api_server_env(const capstan_api *api)
{
	return api->a->server_env;
}

const char *capstan_api_server_name(const capstan_api *api)
{
	return api->a->server_name;
}
