/* capstan show: one certificate in detail, or its PEM. */
#include "cli.h"

int cmd_show(cli *c, int argc, char **argv)
{
	const char *env = NULL, *ref = NULL;
	int pem = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "pem", OPT_FLAG, &pem },
		{ NULL, 0, NULL },
	};
	capstan_buf buf = CAPSTAN_BUF_INIT;
	capstan_cert *cert = NULL;
	int rc;

	if ((rc = cli_parse_ref(c, argc, argv, opts, &ref)) != 0)
		return rc;
	if ((rc = cli_setup(c)) != 0)
		return rc;
	if (capstan_cert_lookup(&cert, c->ctx, ref, env) < 0)
		return cli_fail(c);
	if (pem) {
		if (capstan_export(&buf, c->ctx, cert, CAPSTAN_FORMAT_CERT, NULL) < 0 ||
		    capstan_file_write(c->ctx, "-", buf.data, buf.len, 0644) < 0)
			rc = cli_fail(c);
	} else {
		rc = out_show(c, cert);
	}
	capstan_buf_free(&buf);
	capstan_cert_free(cert);
	return rc;
}
