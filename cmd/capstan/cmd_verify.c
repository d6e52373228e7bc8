/* capstan verify: a certificate against an environment's trust and revocations. */
#include "cli.h"

#define MAX_VERIFY_FILE (1024 * 1024)

int cmd_verify(cli *c, int argc, char **argv)
{
	const char *env = NULL, *file = NULL;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ NULL, 0, NULL },
	};
	capstan_buf data = CAPSTAN_BUF_INIT;
	capstan_cert *cert = NULL;
	size_t n = 0;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, &file, 1, &n)) != 0)
		return rc;
	if (n != 1)
		return cli_usage_error(c, "a certificate file is required");
	if (!env)
		return cli_usage_error(c, "--env is required");
	if ((rc = cli_setup(c)) != 0)
		return rc;
	if (capstan_file_read(&data, c->ctx, file, MAX_VERIFY_FILE) < 0)
		return cli_fail(c);
	if (capstan_verify(&cert, c->ctx, env, data.data, data.len) < 0)
		rc = cli_error(c, "%s: %s", file, capstan_error_message(c->ctx));
	else
		rc = out_verified(c, file, cert);
	capstan_cert_free(cert);
	capstan_buf_free(&data);
	return rc;
}
