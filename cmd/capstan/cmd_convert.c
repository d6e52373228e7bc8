/* capstan convert: certificates and keys from files into another format. */
#include "cli.h"

typedef struct {
	const char *in, *key, *chain, *password_file, *in_password_file, *to, *out, *alias;
	int legacy;
} convert_args;

/* The store password (for the output, and the input unless given apart). */
static int read_passwords(cli *c, const convert_args *a, capstan_secret *out_pw, capstan_secret *in_pw)
{
	int rc;

	if ((rc = cli_store_password(c, a->password_file, out_pw)) != 0)
		return rc;
	if (a->in_password_file && capstan_secret_from_file(in_pw, c->ctx, a->in_password_file) < 0)
		return cli_error(c, "--in-password-file: %s", capstan_error_message(c->ctx));
	return 0;
}

int cmd_convert(cli *c, int argc, char **argv)
{
	convert_args a = { 0 };
	const cli_opt opts[] = {
		{ "in", OPT_VALUE, &a.in }, { "key", OPT_VALUE, &a.key }, { "chain", OPT_VALUE, &a.chain },
		{ "password-file", OPT_VALUE, &a.password_file },
		{ "in-password-file", OPT_VALUE, &a.in_password_file },
		{ "to", OPT_VALUE, &a.to }, { "out", OPT_VALUE, &a.out }, { "alias", OPT_VALUE, &a.alias },
		{ "legacy", OPT_FLAG, &a.legacy },
		{ NULL, 0, NULL },
	};
	capstan_convert_inputs in = CAPSTAN_CONVERT_INPUTS_INIT;
	capstan_write_opts wo = CAPSTAN_WRITE_OPTS_INIT;
	capstan_secret out_pw = CAPSTAN_SECRET_INIT, in_pw = CAPSTAN_SECRET_INIT;
	capstan_buf files[3] = { CAPSTAN_BUF_INIT, CAPSTAN_BUF_INIT, CAPSTAN_BUF_INIT }, data = CAPSTAN_BUF_INIT;
	capstan_material *m = NULL;
	capstan_format fmt;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!a.in)
		return cli_usage_error(c, "--in is required");
	if (!a.to)
		return cli_usage_error(c, "--to is required (%s)", capstan_format_names());
	if (capstan_format_parse(a.to, &fmt) < 0)
		return cli_usage_error(c, "invalid --to '%s': expected one of %s", a.to, capstan_format_names());
	if (!a.out)
		return cli_usage_error(c, "%s", CLI_OUT_REQUIRED);
	/* Any input may hold a private key (a PKCS12, a PEM bundle): protect first. */
	if ((rc = cli_protected(c)) != 0 || (rc = cli_setup(c)) != 0 ||
	    (rc = read_passwords(c, &a, &out_pw, &in_pw)) != 0 ||
	    (rc = cli_read_input(c, "--in", a.in, &files[0], &in.in)) != 0 ||
	    (rc = cli_read_input(c, "--key", a.key, &files[1], &in.key)) != 0 ||
	    (rc = cli_read_input(c, "--chain", a.chain, &files[2], &in.chain)) != 0)
		goto done;
	in.password = in_pw.data ? &in_pw : out_pw.data ? &out_pw : NULL;
	in.truststore = capstan_format_is_truststore(fmt);
	wo.password = out_pw.data ? &out_pw : NULL;
	wo.alias = a.alias;
	wo.legacy = a.legacy;
	/* Nothing is written unless the whole conversion succeeded. */
	if (capstan_material_from_files(&m, c->ctx, &in) < 0 || capstan_material_write(&data, c->ctx, m, fmt, &wo) < 0 ||
	    capstan_file_write(c->ctx, a.out, data.data, data.len, capstan_format_has_key(fmt) ? 0600 : 0644) < 0)
		rc = cli_fail(c);
	else
		rc = out_written(c, a.out, a.to, NULL);
done:
	capstan_material_free(m);
	capstan_buf_free(&data);
	for (int i = 0; i < 3; i++)
		capstan_buf_free(&files[i]);
	capstan_secret_free(&out_pw);
	capstan_secret_free(&in_pw);
	return rc;
}
