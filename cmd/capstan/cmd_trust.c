/* capstan trust: the environment's trust bundle (its root CAs). */
#include "cli.h"

int cmd_trust(cli *c, int argc, char **argv)
{
	const char *env = NULL, *out = NULL;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "out", OPT_VALUE, &out },
		{ NULL, 0, NULL },
	};
	capstan_buf pem = CAPSTAN_BUF_INIT;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!env)
		return cli_usage_error(c, "--env is required");
	if (!out)
		return cli_usage_error(c, "%s", CLI_OUT_REQUIRED);
	if ((rc = cli_setup(c)) != 0)
		return rc;
	if (capstan_trust_pem(&pem, c->ctx, env) < 0 ||
	    capstan_file_write(c->ctx, out, pem.data, pem.len, 0644) < 0)
		rc = cli_fail(c);
	else
		rc = out_written(c, out, "trust", NULL);
	capstan_buf_free(&pem);
	return rc;
}
