/* The configuration in force (the api: section and the TLS context it
 * names, loaded from the inventory) and the server's log line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <capstan/ca.h>
#include <capstan/cert.h>
#include <capstan/convert.h>
#include <capstan/ocsp.h>

#include "ca/ca.h"
#include "serve_internal.h"

void serve_log(serve_server *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!s->opts->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->opts->log(line, s->opts->log_payload);
}

serve_config *serve_config_ref(serve_config *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void serve_config_unref(serve_config *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
		capstan_api_free(c->api);
		capstan_tls_unref(c->tls);
		free(c);
	}
}

/* Every environment's trust bundle: what a client's chain must end at. */
static int all_roots(capstan_buf *out, capstan_ctx *ctx)
{
	char **envs = NULL;
	size_t n = 0;
	int rc = capstan_env_list(&envs, &n, ctx);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		capstan_buf pem = CAPSTAN_BUF_INIT;
		if ((rc = capstan_trust_pem(&pem, ctx, envs[i])) == 0)
			rc = capstan_buf_append(ctx, out, pem.data, pem.len);
		else if (rc == CAPSTAN_ENOTFOUND)
			rc = 0; /* an environment without a live root trusts no one */
		capstan_buf_free(&pem);
	}
	for (size_t i = 0; i < n; i++)
		free(envs[i]);
	free(envs);
	return rc;
}

/* The server's chain and key, as the inventory holds them (not an export: nothing leaves). */
static int server_tls(capstan_tls **out, capstan_ctx *ctx, const capstan_api *api)
{
	capstan_buf chain = CAPSTAN_BUF_INIT, key = CAPSTAN_BUF_INIT, roots = CAPSTAN_BUF_INIT;
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	capstan_cert *cert = NULL;
	int rc;

	if ((rc = capstan_cert_lookup(&cert, ctx, capstan_api_server_name(api), capstan_api_server_env(api))) < 0 ||
	    (rc = capstan_export_unrecorded(&chain, ctx, cert, CAPSTAN_FORMAT_CHAIN, &wo)) < 0 ||
	    (rc = capstan_export_unrecorded(&key, ctx, cert, CAPSTAN_FORMAT_KEY, &wo)) < 0 ||
	    (rc = all_roots(&roots, ctx)) < 0)
		goto done;
	rc = capstan_tls_server_new(out, ctx, &chain, &key, &roots);
done:
	capstan_cert_free(cert);
	capstan_buf_free(&chain);
	capstan_buf_free(&key);
	capstan_buf_free(&roots);
	return rc;
}

int serve_config_load(serve_config **out, capstan_ctx *ctx, const capstan_serve_opts *opts)
{
	serve_config *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return capstan_error_oom(ctx);
	atomic_init(&c->refs, 1);
	/* public_url: what certificates issued under this configuration carry,
	 * by serve or the CLI (the inventory records it; unchanged, nothing written). */
	if ((rc = capstan_api_load(&c->api, ctx, opts->config, opts->listen, opts->http)) < 0 ||
	    (rc = capstan_public_url_set(ctx, capstan_api_public_url(c->api))) < 0 ||
	    (rc = server_tls(&c->tls, ctx, c->api)) < 0) {
		serve_config_unref(c);
		return rc;
	}
	*out = c;
	return 0;
}
