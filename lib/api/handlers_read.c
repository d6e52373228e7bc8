/* What the API reads: health, trust bundles, CRLs, and certificate lists. */
#include <stdlib.h>
#include <string.h>

#include <capstan/ca.h>
#include <capstan/lifecycle.h>
#include <capstan/parse.h>

#include "api_internal.h"
#include "store/store.h"

void api_health(api_call *c)
{
	api_json(c, 200, json_pack("{s:s,s:s}", "status", "ok", "version", CAPSTAN_VERSION));
}

/* 404 unless ENV names an environment: 0 when it does. */
static int env_exists(api_call *c, const char *env)
{
	capstan_store_env e = { 0 };
	int rc = capstan_store_env_get(c->ctx, env, &e);

	capstan_store_env_clear(&e);
	if (rc == CAPSTAN_ENOTFOUND)
		api_error(c, 404, "no environment '%s'", env);
	else if (rc < 0)
		api_fail(c, rc, NULL);
	return rc;
}

void api_trust(api_call *c, const char *env)
{
	capstan_buf pem = CAPSTAN_BUF_INIT;
	int rc;

	if (env_exists(c, env) < 0)
		return;
	if ((rc = capstan_trust_pem(&pem, c->ctx, env)) < 0)
		api_fail(c, rc, NULL);
	else
		api_body(c, 200, "application/pem-certificate-chain", pem.data, pem.len);
	capstan_buf_free(&pem);
}

/* The current intermediate's CRL, as `capstan crl --der` makes it; a stored
 * one while fresh (a revocation since makes it stale), so that an
 * unauthenticated listener does not sign on every request. */
void api_crl(api_call *c, const char *env)
{
	capstan_crl_opts o = CAPSTAN_CRL_OPTS_INIT;
	capstan_crl_item *items = NULL;
	size_t n = 0, i;
	int rc;

	if (env_exists(c, env) < 0)
		return;
	o.env = env;
	o.reuse = 1;
	if ((rc = api_actor(c, 1)) < 0 || (rc = capstan_crl_items(&items, &n, c->ctx, &o)) < 0) {
		api_fail(c, rc, NULL);
		return;
	}
	for (i = 0; i < n && (items[i].is_root || !items[i].is_current); i++)
		;
	if (i == n)
		api_error(c, 404, "environment '%s' has no current intermediate", env);
	else
		api_body(c, 200, "application/pkix-crl", items[i].der.data, items[i].der.len);
	capstan_crl_items_free(items, n);
}

static int list_opts(api_call *c, capstan_list_opts *o)
{
	int bad = 0;
	char *status = api_query(c->req->query, "status", &bad), *within = NULL;
	const char *why = NULL;
	int rc = 0;

	if (bad || (status && capstan_status_parse(status, &o->status) < 0)) {
		api_error(c, 400, "status: expected valid, revoked, expired, superseded or all");
		rc = -1;
	} else if ((within = api_query(c->req->query, "expiring_within", &bad)), bad ||
		   (within && capstan_parse_duration(within, &o->expiring_within, &why) < 0)) {
		api_error(c, 400, "expiring_within: %s", why ? why : "not a duration");
		rc = -1;
	}
	free(status);
	free(within);
	return rc;
}

static int service_listed(const api_call *c, const capstan_cert *cert)
{
	for (size_t i = 0; i < c->client->service_count; i++)
		if (cert->service && strcmp(c->client->services[i], cert->service) == 0)
			return 1;
	return c->client->service_count == 0;
}

void api_list(api_call *c, const char *env)
{
	capstan_list_opts o = CAPSTAN_LIST_OPTS_INIT;
	capstan_cert_iter *it = NULL;
	capstan_cert *cert = NULL;
	json_t *list;
	int rc;

	if (api_allow(c, CAPSTAN_API_LIST, "list", env) < 0 || list_opts(c, &o) < 0 || env_exists(c, env) < 0)
		return;
	o.env = env;
	if (!(list = json_array()) || (rc = capstan_cert_iter_new(&it, c->ctx, &o)) < 0) {
		json_decref(list);
		api_fail(c, list ? rc : CAPSTAN_ERROR, NULL);
		return;
	}
	while ((rc = capstan_cert_iter_next(&cert, it)) == 0) {
		/* A services filter shows what the identity could act on. */
		if (service_listed(c, cert))
			json_array_append_new(list, api_cert_json(cert));
		capstan_cert_free(cert);
	}
	capstan_cert_iter_free(it);
	if (rc != CAPSTAN_ITEROVER) {
		json_decref(list);
		api_fail(c, rc, NULL);
		return;
	}
	api_json(c, 200, list);
}
