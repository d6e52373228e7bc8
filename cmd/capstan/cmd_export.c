/* capstan export: a certificate, its chain, its key or a keystore, from the inventory. */
#include "cli.h"

int cmd_export(cli *c, int argc, char **argv)
{
	const char *env = NULL, *format = NULL, *out = NULL, *ref = NULL, *password_file = NULL, *alias = NULL;
	int legacy = 0, ca_key = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "format", OPT_VALUE, &format },
		{ "out", OPT_VALUE, &out },
		{ "password-file", OPT_VALUE, &password_file },
		{ "legacy", OPT_FLAG, &legacy },
		{ "alias", OPT_VALUE, &alias },
		{ "ca-key", OPT_FLAG, &ca_key },
		{ NULL, 0, NULL },
	};
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	capstan_export_opts eo = CAPSTAN_EXPORT_OPTS_INIT;
	capstan_secret password = CAPSTAN_SECRET_INIT;
	capstan_format fmt;
	capstan_buf data = CAPSTAN_BUF_INIT;
	capstan_cert *cert = NULL;
	int rc;

	if ((rc = cli_parse_ref(c, argc, argv, opts, &ref)) != 0)
		return rc;
	if (!format)
		return cli_usage_error(c, "--format is required (%s)", capstan_format_names());
	if (capstan_format_parse(format, &fmt) < 0)
		return cli_usage_error(c, "invalid --format '%s': expected one of %s", format, capstan_format_names());
	if (!out)
		return cli_usage_error(c, "%s", CLI_OUT_REQUIRED);
	if ((rc = cli_setup(c)) != 0)
		return rc;
	if (capstan_format_needs_password(fmt) && (rc = cli_store_password(c, password_file, &password)) != 0)
		goto done;
	if (capstan_cert_lookup(&cert, c->ctx, ref, env) < 0) {
		rc = cli_fail(c);
		goto done;
	}
	if (capstan_format_has_key(fmt) && (rc = cli_unlock(c)) != 0)
		goto done;
	wo.password = password.data ? &password : NULL;
	wo.alias = alias;
	wo.legacy = legacy;
	eo.write = &wo;
	eo.to = out; /* the audit log's "where to" for a key */
	eo.ca_key = ca_key;
	if (capstan_export_to(&data, c->ctx, cert, fmt, &eo) < 0 ||
	    capstan_file_write(c->ctx, out, data.data, data.len, capstan_format_has_key(fmt) ? 0600 : 0644) < 0)
		rc = cli_fail(c);
	else
		rc = out_written(c, out, format, cert);
done:
	capstan_secret_free(&password);
	capstan_buf_free(&data);
	capstan_cert_free(cert);
	return rc;
}
