/* capstan fetch: on a deploy host, a service's bundle from capstan serve
 * (installed when it changed, its hook run), or the host's identity
 * renewed. No home, no passphrase: an identity's files and a trust bundle. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define HOOK_TIMEOUT 600 /* as renew --due's --exec-timeout default */

typedef struct {
	const char *server, *cert, *key, *ca, *env, *service, *host, *out, *prefix, *exec, *within_text;
	int keystores, renew;
	int64_t within;
} fetch_args;

static int check_args(cli *c, fetch_args *a)
{
	if (!a->server || !a->cert || !a->key || !a->ca)
		return cli_usage_error(c, "--server, --cert, --key and --ca are required");
	if (a->renew) {
		if (a->env || a->service || a->host || a->out || a->prefix || a->exec || a->keystores)
			return cli_usage_error(c, "--renew renews the identity: it takes no bundle options");
		return a->within_text ? cli_duration(c, "--within", a->within_text, &a->within) : 0;
	}
	if (a->within_text)
		return cli_usage_error(c, "--within goes with --renew");
	if (!a->env || !a->service || !a->out)
		return cli_usage_error(c, "--env, --service and --out are required (or --renew)");
	if (!*a->out || (a->prefix && !*a->prefix))
		return cli_usage_error(c, "%s is empty: it needs a path", !*a->out ? "--out" : "--prefix");
	return 0;
}

static void conn_opts(const fetch_args *a, capstan_fetch_opts *o)
{
	o->server = a->server;
	o->cert = a->cert;
	o->key = a->key;
	o->ca = a->ca;
	o->retries = CAPSTAN_FETCH_RETRIES;
}

static int renew(cli *c, const fetch_args *a)
{
	capstan_fetch_opts o = CAPSTAN_FETCH_OPTS_INIT;
	capstan_fetch_renewal r;

	conn_opts(a, &o);
	o.within = a->within;
	if (capstan_fetch_renew(c->ctx, &o, &r) < 0)
		return cli_fail(c);
	return r.renewed ? out_identity_renewed(c, a->cert, r.serial, r.not_after) : EXIT_OK;
}

/* The hook, once per install and until it succeeds: its failure is kept
 * beside the bundle by the library, and cleared only here. */
static int run_hook(cli *c, const fetch_args *a, const capstan_fetch_opts *o, int installed)
{
	capstan_deploy_item it = { .env = (char *)a->env, .service = (char *)a->service,
		.host = (char *)(a->host ? a->host : ""), .path = (char *)o->dir, .renewed = "",
		.why = installed ? "fetched a new bundle" : "the hook of an earlier fetch failed" };
	char why[300];

	if (cli_run_hook(a->exec, HOOK_TIMEOUT, &it, why, sizeof(why)) < 0)
		return cli_error(c, "%s/%s: %s; the hook is owed and runs again at the next fetch", a->env, a->service, why);
	if (capstan_fetch_hook_ran(c->ctx, o) < 0)
		return cli_fail(c);
	if (!installed && !c->quiet && !c->json)
		printf("ran the owed hook of %s/%s (%s)\n", a->env, a->service, o->dir);
	return EXIT_OK;
}

static int bundle(cli *c, const fetch_args *a)
{
	capstan_fetch_opts o = CAPSTAN_FETCH_OPTS_INIT;
	capstan_fetch_result r;
	char *dir = cli_absolute_path(a->out);
	int rc;

	if (!dir)
		return cli_error(c, "cannot resolve '%s'", a->out);
	if ((rc = cli_check_bundle_path(c, a->prefix ? "--prefix" : "--out", a->prefix ? a->prefix : dir)) != 0)
		goto done;
	conn_opts(a, &o);
	o.env = a->env;
	o.service = a->service;
	o.host = a->host;
	o.dir = dir;
	o.prefix = a->prefix;
	o.keystores = a->keystores;
	o.hook = a->exec != NULL;
	if (capstan_fetch_bundle(c->ctx, &o, &r) < 0) {
		rc = cli_fail(c);
		goto done;
	}
	if (r.installed && c->json)
		rc = out_bundle(c, a->env, a->service, dir, r.files);
	else if (r.installed && !c->quiet)
		printf("installed %s/%s bundle into %s (%zu files)\n", a->env, a->service, dir, r.files);
	if (r.hook_owed)
		rc = run_hook(c, a, &o, r.installed);
done:
	free(dir);
	return rc;
}

int cmd_fetch(cli *c, int argc, char **argv)
{
	fetch_args a = { 0 };
	const cli_opt opts[] = {
		{ "server", OPT_VALUE, &a.server }, { "cert", OPT_VALUE, &a.cert }, { "key", OPT_VALUE, &a.key },
		{ "ca", OPT_VALUE, &a.ca }, { "env", OPT_VALUE, &a.env }, { "service", OPT_VALUE, &a.service },
		{ "host", OPT_VALUE, &a.host }, { "out", OPT_VALUE, &a.out }, { "prefix", OPT_VALUE, &a.prefix },
		{ "keystores", OPT_FLAG, &a.keystores }, { "exec", OPT_VALUE, &a.exec },
		{ "renew", OPT_FLAG, &a.renew }, { "within", OPT_VALUE, &a.within_text },
		{ NULL, 0, NULL },
	};
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0 || (rc = check_args(c, &a)) != 0)
		return rc;
	/* libcurl would log the TLS session keys of a stream that carries private
	 * keys to the file this names: not for a tool that installs keys. */
	unsetenv("SSLKEYLOGFILE");
	/* The identity's key and the bundle's keys pass through memory. */
	if ((rc = cli_protected(c)) != 0 || (rc = cli_setup(c)) != 0)
		return rc;
	return a.renew ? renew(c, &a) : bundle(c, &a);
}
