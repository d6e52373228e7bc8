/* GET .../services/S/bundle: the tar.gz that `capstan bundle --tar --prefix
 * DIR` writes, with an ETag that changes only when the bundle does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstan/bundle.h>

#include "api_internal.h"
#include "deploy/deploy.h"

typedef struct {
	char *prefix, *host, *keystores;
} bundle_query;

static void query_free(bundle_query *q)
{
	free(q->prefix);
	free(q->host);
	free(q->keystores);
}

static int read_query(api_call *c, bundle_query *q)
{
	int bad = 0;

	q->prefix = api_query(c->req->query, "prefix", &bad);
	if (!bad)
		q->host = api_query(c->req->query, "host", &bad);
	if (!bad)
		q->keystores = api_query(c->req->query, "keystores", &bad);
	if (bad) {
		api_error(c, 400, "the query string is not well encoded");
		return -1;
	}
	if (!q->prefix || q->prefix[0] != '/') {
		api_error(c, 400, "prefix: %s", q->prefix ? "must be an absolute path" :
			"required: where the bundle will be installed");
		return -1;
	}
	if (q->host && !*q->host) {
		api_error(c, 400, "host: empty");
		return -1;
	}
	if (q->keystores && strcmp(q->keystores, "1") != 0 && strcmp(q->keystores, "0") != 0) {
		api_error(c, 400, "keystores: expected 1 or 0");
		return -1;
	}
	return 0;
}

/* If-None-Match names the ETag: "*", or one of a comma-separated list. */
static int etag_matches(const char *header, const char *etag)
{
	size_t n = strlen(etag);

	for (const char *p = header; p && *p; ) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p == '*' || (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ')))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

static void answer(api_call *c, const capstan_bundle *b, const bundle_query *q)
{
	capstan_buf tar = CAPSTAN_BUF_INIT;
	char hex[65], etag[68], *params, where[200];
	int rc;

	if (!(params = capstan_aprintf("prefix=%s\nhost=%s\nkeystores=%d", q->prefix, q->host ? q->host : "",
		      q->keystores && strcmp(q->keystores, "1") == 0))) {
		api_error(c, 500, "internal error");
		return;
	}
	rc = capstan_bundle_digest(c->ctx, b, params, hex);
	free(params);
	if (rc < 0) {
		api_fail(c, CAPSTAN_ERROR, NULL);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	if (c->req->if_none_match && etag_matches(c->req->if_none_match, etag)) {
		api_body(c, 304, "application/gzip", NULL, 0);
		snprintf(c->resp->etag, sizeof(c->resp->etag), "%s", etag);
		return;
	}
	snprintf(where, sizeof(where), "the API client %s", c->identity);
	if ((rc = capstan_bundle_tar_memory(&tar, c->ctx, b, where)) < 0 ||
	    (rc = capstan_bundle_keep_password(c->ctx, b)) < 0)
		api_fail(c, CAPSTAN_ERROR, NULL);
	else {
		api_body(c, 200, "application/gzip", tar.data, tar.len);
		snprintf(c->resp->etag, sizeof(c->resp->etag), "%s", etag);
	}
	capstan_buf_free(&tar);
}

void api_bundle(api_call *c, const char *env, const char *service)
{
	capstan_bundle_opts o = CAPSTAN_BUNDLE_OPTS_INIT;
	capstan_bundle *b = NULL;
	bundle_query q = { 0 };
	int rc;

	if (api_allow(c, CAPSTAN_API_BUNDLE, "fetch bundles", env) < 0 || api_allow_service(c, service) < 0 ||
	    read_query(c, &q) < 0 || api_allow_host(c, q.host) < 0)
		goto done;
	o.env = env;
	o.service = service;
	o.host = q.host;
	o.dir = q.prefix;
	o.keystores = q.keystores && strcmp(q.keystores, "1") == 0;
	if ((rc = api_actor(c, 1)) < 0 || (rc = capstan_bundle_build(&b, c->ctx, &o)) < 0) {
		api_fail(c, rc, rc == CAPSTAN_EINVALID ? "bundle" : NULL);
		goto done;
	}
	answer(c, b, &q);
done:
	capstan_bundle_free(b);
	query_free(&q);
}
