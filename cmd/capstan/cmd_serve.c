/* capstan serve: the HTTPS API (mutual TLS), CRLs and OCSP, in the foreground. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "cli.h"

/* The access log and the server's own events, a line each on stderr. */
static void log_line(const char *line, void *payload)
{
	(void)payload;
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

/* 1,024 connections and the inventory's files need more descriptors than
 * the usual soft limit of 1,024: up to the hard limit, at most 4,096. */
static void raise_open_files(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < 4096) {
		r.rlim_cur = r.rlim_max < 4096 ? r.rlim_max : 4096;
		(void)setrlimit(RLIMIT_NOFILE, &r);
	}
}

int cmd_serve(cli *c, int argc, char **argv)
{
	const char *listen = NULL, *http = NULL, *workers = NULL;
	const cli_opt opts[] = {
		{ "listen", OPT_VALUE, &listen },
		{ "http", OPT_VALUE, &http },
		{ "workers", OPT_VALUE, &workers },
		{ NULL, 0, NULL },
	};
	capstan_serve_opts so = CAPSTAN_SERVE_OPTS_INIT;
	char *config = NULL, *end = NULL;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (workers) {
		unsigned long n = strtoul(workers, &end, 10);
		if (*end || n < 1 || n > 64)
			return cli_usage_error(c, "invalid --workers '%s': expected 1 to 64", workers);
		so.workers = (unsigned)n;
	}
	if ((rc = cli_setup(c)) != 0)
		return rc;
	if (!(config = cli_config_path(c, capstan_home_path(c->ctx))))
		return cli_error(c, "serve needs a configuration with an api: section: give --config FILE,"
			" set CAPSTAN_CONFIG, or put capstan.yaml in the home");
	so.config = config;
	so.listen = listen;
	so.http = http;
	so.log = log_line;
	raise_open_files();
	rc = capstan_serve(c->ctx, &so);
	free(config);
	return rc < 0 ? cli_fail(c) : EXIT_OK;
}
