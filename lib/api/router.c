/* One request: who asks (HTTPS), which endpoint, and whether its method is
 * the endpoint's, in the order api.md gives: 401, then 404/405, then the
 * handler's own 403, 400, 404, 409. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

/* Splits c->path at '/': -1 when a segment is empty or there are too many. */
static int split(api_call *c)
{
	char *p;

	if (c->req->path[0] != '/' || !(c->path = strdup(c->req->path + 1)))
		return -1;
	for (p = c->path; p; ) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (!*p || c->nseg == sizeof(c->seg) / sizeof(c->seg[0]))
			return -1;
		c->seg[c->nseg++] = p;
		p = slash ? slash + 1 : NULL;
	}
	return 0;
}

static int is(const api_call *c, size_t i, const char *s)
{
	return i < c->nseg && strcmp(c->seg[i], s) == 0;
}

/* "NAME.ext" as the last segment: NAME (cut in place), or NULL. */
static const char *stem(api_call *c, size_t i, const char *ext)
{
	size_t n = strlen(c->seg[i]), m = strlen(ext);

	if (n <= m || strcmp(c->seg[i] + n - m, ext) != 0)
		return NULL;
	c->seg[i][n - m] = '\0';
	return c->seg[i];
}

static int method(api_call *c, const char *want)
{
	if (strcmp(c->req->method, want) == 0)
		return 1;
	api_error(c, 405, "%s is not a method of this endpoint (it takes %s)", c->req->method, want);
	return 0;
}

/* A key identifier in hex (what a CRL distribution point names), not an
 * environment's name: 16 or more hex digits, an even number. */
static int is_ski(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n >= 16 && n % 2 == 0 && s[n] == '\0';
}

/* The plain-HTTP listener: public data only. */
static void route_http(api_call *c)
{
	const char *env;

	if (c->nseg == 2 && is(c, 0, "trust") && (env = stem(c, 1, ".pem"))) {
		if (method(c, "GET"))
			api_trust(c, env);
	} else if (c->nseg == 2 && is(c, 0, "crl") && (env = stem(c, 1, ".crl"))) {
		if (method(c, "GET"))
			(is_ski(env) ? api_crl_by_ski : api_crl)(c, env);
	} else if (c->nseg == 1 && is(c, 0, "ocsp")) {
		if (method(c, "POST"))
			api_ocsp(c, NULL);
	} else {
		api_error(c, 404, "no such endpoint");
	}
}

static void route_env(api_call *c)
{
	const char *env = c->seg[2];

	if (c->nseg == 4 && is(c, 3, "trust")) {
		if (method(c, "GET"))
			api_trust(c, env);
	} else if (c->nseg == 4 && is(c, 3, "sign")) {
		if (method(c, "POST"))
			api_sign(c, env);
	} else if (c->nseg == 4 && is(c, 3, "certificates")) {
		if (method(c, "GET"))
			api_list(c, env);
	} else if (c->nseg == 6 && is(c, 3, "services") && is(c, 5, "bundle")) {
		if (method(c, "GET"))
			api_bundle(c, env, c->seg[4]);
	} else if (c->nseg == 6 && is(c, 3, "certificates") && is(c, 5, "revoke")) {
		if (method(c, "POST"))
			api_revoke(c, env, c->seg[4]);
	} else {
		api_error(c, 404, "no such endpoint");
	}
}

static void route_https(api_call *c)
{
	if (c->nseg == 2 && is(c, 0, "v1") && is(c, 1, "health")) {
		if (method(c, "GET"))
			api_health(c);
	} else if (c->nseg == 2 && is(c, 0, "v1") && is(c, 1, "renew")) {
		if (method(c, "POST"))
			api_renew(c);
	} else if (c->nseg >= 4 && is(c, 0, "v1") && is(c, 1, "environments")) {
		route_env(c);
	} else {
		api_error(c, 404, "no such endpoint");
	}
}

/* What every request goes through first: 0, or -1 with resp answered. */
static int begin(api_call *c)
{
	memset(c->resp, 0, sizeof(*c->resp));
	snprintf(c->resp->identity, sizeof(c->resp->identity), "-");
	if (!c->req || !c->req->method || !c->req->path || !c->api) {
		api_error(c, 500, "internal error");
		return -1;
	}
	if (c->req->tls && api_identify(c) < 0)
		return -1;
	return 0;
}

/* Whatever a handler did, the context's next request starts as no one. */
static void finish(api_call *c)
{
	(void)api_actor(c, 0);
	capstan_cert_free(c->who);
	free(c->path);
}

void capstan_api_handle(capstan_api_response *resp, capstan_ctx *ctx, const capstan_api *api,
	const capstan_api_request *req)
{
	api_call c = { .ctx = ctx, .api = api, .req = req, .resp = resp };

	if (begin(&c) < 0)
		goto done;
	/* The base64 of a GET request may hold '/': taken whole, not split. */
	if (!req->tls && strncmp(req->path, "/ocsp/", 6) == 0 && req->path[6]) {
		if (method(&c, "GET"))
			api_ocsp(&c, req->path + 6);
	} else if (split(&c) < 0)
		api_error(&c, 404, "no such endpoint");
	else if (req->body_len > API_MAX_BODY)
		api_error(&c, 413, "the body is over %d KiB", API_MAX_BODY / 1024);
	else if (req->tls)
		route_https(&c);
	else
		route_http(&c);
done:
	finish(&c);
}

capstan_api_change *capstan_api_prepare(capstan_api_response *resp, capstan_ctx *ctx, const capstan_api *api,
	const capstan_api_request *req)
{
	api_call c = { .ctx = ctx, .api = api, .req = req, .resp = resp };
	capstan_api_change *change = NULL;

	int ok = begin(&c) == 0;

	/* Only a signing is split; anything else is answered whole. */
	if (ok && req->tls && strcmp(req->method, "POST") == 0 && split(&c) == 0 &&
	    req->body_len <= API_MAX_BODY && c.nseg == 4 && is(&c, 0, "v1") && is(&c, 1, "environments") &&
	    is(&c, 3, "sign"))
		change = api_sign_prepare(&c, c.seg[2]);
	else if (ok)
		memset(resp, 0, sizeof(*resp));
	finish(&c);
	return change;
}

void capstan_api_commit(capstan_api_response *resp, capstan_ctx *ctx, capstan_api_change *change)
{
	api_call c = { .ctx = ctx, .resp = resp };

	memset(resp, 0, sizeof(*resp));
	api_sign_commit(&c, change);
	finish(&c);
}

void capstan_api_response_clear(capstan_api_response *resp)
{
	if (resp)
		capstan_buf_free(&resp->body);
}
