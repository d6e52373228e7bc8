/* capstan crl: the CRLs of the environment's intermediates. */
#include "cli.h"

int cmd_crl(cli *c, int argc, char **argv)
{
	const char *env = NULL, *out = NULL, *next = NULL;
	int der = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "out", OPT_VALUE, &out },
		{ "der", OPT_FLAG, &der },
		{ "next-update", OPT_VALUE, &next },
		{ NULL, 0, NULL },
	};
	capstan_crl_opts o = CAPSTAN_CRL_OPTS_INIT;
	capstan_buf *crls = NULL, pem = CAPSTAN_BUF_INIT;
	capstan_file *file = NULL;
	const capstan_buf *data;
	size_t count = 0;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!env)
		return cli_usage_error(c, "--env is required");
	if (!out)
		return cli_usage_error(c, "%s", CLI_OUT_REQUIRED);
	if ((next && (rc = cli_duration(c, "--next-update", next, &o.next_update)) != 0) ||
	    (rc = cli_setup(c)) != 0)
		return rc;
	o.env = env;
	o.single = der;
	/* The output must be writable before CRL numbers are taken. They are
	 * committed before the file is renamed into place: a number lost to a
	 * failed write is harmless, a published number used again is not. */
	if (capstan_file_begin(&file, c->ctx, out, 0644) < 0)
		return cli_fail(c);
	if (capstan_crl_generate(c->ctx, &o, &crls, &count) < 0) {
		rc = cli_error(c, "%s%s", der ? "--der: " : "", capstan_error_message(c->ctx));
		capstan_file_abort(file);
		return rc;
	}
	if (!der && capstan_crl_pem(&pem, c->ctx, crls, count) < 0) {
		rc = cli_fail(c);
		capstan_file_abort(file);
		goto done;
	}
	data = der ? &crls[0] : &pem;
	if (capstan_file_commit(file, data->data, data->len) < 0)
		rc = cli_fail(c);
	else
		rc = out_written(c, out, der ? "crl-der" : "crl", NULL);
done:
	capstan_buf_free(&pem);
	capstan_crl_list_free(crls, count);
	return rc;
}
