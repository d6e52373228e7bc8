/* capstan list: certificates, streamed as a table or a JSON array. */
#include "cli.h"

int cmd_list(cli *c, int argc, char **argv)
{
	const char *env = NULL, *service = NULL, *status = NULL, *within = NULL;
	int include_ca = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "service", OPT_VALUE, &service },
		{ "status", OPT_VALUE, &status },
		{ "expiring-within", OPT_VALUE, &within },
		{ "ca", OPT_FLAG, &include_ca },
		{ NULL, 0, NULL },
	};
	capstan_list_opts o = CAPSTAN_LIST_OPTS_INIT;
	capstan_cert_iter *it = NULL;
	capstan_cert *cert;
	size_t count = 0;
	int rc, next;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (status && capstan_status_parse(status, &o.status) < 0)
		return cli_usage_error(c, "invalid --status '%s': expected valid, revoked, expired, superseded or all",
			status);
	if (within && (rc = cli_duration(c, "--expiring-within", within, &o.expiring_within)) != 0)
		return rc;
	if ((rc = cli_setup(c)) != 0)
		return rc;
	o.env = env;
	o.service = service;
	o.include_ca = include_ca;
	if (env) {
		/* An unknown environment is an error, not an empty list. */
		capstan_buf trust = CAPSTAN_BUF_INIT;
		if (capstan_trust_pem(&trust, c->ctx, env) < 0 && capstan_error_last(c->ctx) == CAPSTAN_ENOTFOUND)
			return cli_fail(c);
		capstan_buf_free(&trust);
	}
	if (capstan_cert_iter_new(&it, c->ctx, &o) < 0)
		return cli_fail(c);
	out_list_begin(c);
	while ((next = capstan_cert_iter_next(&cert, it)) == 0) {
		rc = out_list_item(c, cert, count++);
		capstan_cert_free(cert);
		if (rc != 0)
			break;
	}
	capstan_cert_iter_free(it);
	if (rc == 0 && next != CAPSTAN_ITEROVER)
		return cli_fail(c);
	return rc ? rc : out_list_end(c, count);
}
