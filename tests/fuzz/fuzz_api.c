/* serve's request router and JSON bodies (lib/api): any method, path, query
 * and body, on either listener, from an identity allowed every action. The
 * first byte picks the method and listener; up to the first newline is the
 * path (and ?query); the rest is the body. */
#include "fuzz.h"

#include <stdio.h>
#include <unistd.h>

static char home[] = "/tmp/capstan-fuzz-api-XXXXXX";
static capstan_api *api;
static capstan_buf peer = CAPSTAN_BUF_INIT;

static void cleanup(void)
{
	char cmd[sizeof(home) + 16];

	capstan_api_free(api);
	capstan_buf_free(&peer);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_api: could not remove %s\n", home);
}

/* A home with an environment, the server's certificate and one identity. */
static void setup(capstan_ctx *ctx)
{
	capstan_secret pass = CAPSTAN_SECRET_INIT;
	capstan_init_opts io = CAPSTAN_INIT_OPTS_INIT;
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	const char *dns[] = { "localhost" };
	capstan_cert *who = NULL;
	char config[sizeof(home) + 16];
	FILE *f;

	if (!mkdtemp(home) || capstan_home_open(ctx, home, CAPSTAN_OPEN_CREATE) < 0 ||
	    capstan_secret_set(&pass, ctx, "fuzz passphrase", 15) < 0 || capstan_home_unlock(ctx, &pass) < 0)
		abort();
	capstan_secret_free(&pass);
	atexit(cleanup);
	io.env = "dev";
	o.env = "dev";
	o.cn = "api";
	o.profile = CAPSTAN_PROFILE_SERVER;
	o.dns = dns;
	o.dns_count = 1;
	if (capstan_env_init(NULL, NULL, ctx, &io) < 0 || capstan_issue(NULL, ctx, &o) < 0)
		abort();
	o = (capstan_issue_opts)CAPSTAN_ISSUE_OPTS_INIT;
	o.env = "dev";
	o.cn = "fz";
	o.profile = CAPSTAN_PROFILE_CLIENT;
	if (capstan_issue(&who, ctx, &o) < 0 || capstan_export(&peer, ctx, who, CAPSTAN_FORMAT_DER, &wo) < 0)
		abort();
	capstan_cert_free(who);
	snprintf(config, sizeof(config), "%s/api.yaml", home);
	if (!(f = fopen(config, "w")))
		abort();
	fprintf(f, "environments: { dev: {} }\napi:\n  listen: 127.0.0.1:1\n  http: 127.0.0.1:2\n"
		"  server: { env: dev, name: api }\n  clients:\n"
		"    - { env: dev, name: fz, allow: [bundle, sign, revoke, list], dns: [\"*.dev.internal\"] }\n");
	if (fclose(f) != 0 || capstan_api_load(&api, ctx, config, NULL, NULL) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH" };
	capstan_ctx *ctx = fuzz_ctx();
	capstan_api_response resp;
	capstan_api_request req = { 0 };
	char *text, *nl, *q;

	if (!api)
		setup(ctx);
	if (size < 1)
		return 0;
	text = fuzz_string(data + 1, size - 1);
	nl = memchr(text, '\n', size - 1);
	if (nl)
		*nl = '\0';
	if ((q = strchr(text, '?')))
		*q++ = '\0';
	req.method = methods[(data[0] & 0x7f) % 6];
	req.tls = !(data[0] & 0x80);
	req.path = text;
	req.query = q;
	req.body = nl ? (const unsigned char *)nl + 1 : NULL;
	req.body_len = nl ? (size - 1) - (size_t)(nl + 1 - text) : 0;
	req.peer_der = req.tls ? peer.data : NULL;
	req.peer_der_len = req.tls ? peer.len : 0;
	capstan_api_handle(&resp, ctx, api, &req);
	capstan_api_response_clear(&resp);
	free(text);
	return 0;
}
