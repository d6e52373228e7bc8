/* capstan export: a certificate, its chain or its key, from the inventory. */
#include "cli.h"

int cmd_export(cli *c, int argc, char **argv)
{
	const char *env = NULL, *format = NULL, *out = NULL, *ref = NULL;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "format", OPT_VALUE, &format },
		{ "out", OPT_VALUE, &out },
		{ NULL, 0, NULL },
	};
	capstan_export_format fmt;
	capstan_buf data = CAPSTAN_BUF_INIT;
	capstan_cert *cert = NULL;
	int rc;

	if ((rc = cli_parse_ref(c, argc, argv, opts, &ref)) != 0)
		return rc;
	if (!format)
		return cli_usage_error(c, "--format is required (cert, chain, key or der)");
	if (capstan_export_format_parse(format, &fmt) < 0)
		return cli_usage_error(c, "invalid --format '%s': expected cert, chain, key or der", format);
	if (!out)
		return cli_usage_error(c, "--out is required (a file, or - for standard output)");
	if ((rc = cli_setup(c)) != 0)
		return rc;
	if (capstan_cert_lookup(&cert, c->ctx, ref, env) < 0)
		return cli_fail(c);
	if (capstan_export_format_is_secret(fmt) && (rc = cli_unlock(c)) != 0)
		goto done;
	if (capstan_export(&data, c->ctx, cert, fmt) < 0 ||
	    capstan_file_write(c->ctx, out, data.data, data.len,
		    capstan_export_format_is_secret(fmt) ? 0600 : 0644) < 0)
		rc = cli_fail(c);
	else
		rc = out_written(c, out, format, cert);
done:
	capstan_buf_free(&data);
	capstan_cert_free(cert);
	return rc;
}
