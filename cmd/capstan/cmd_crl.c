/* capstan crl: the CRLs of the environment's intermediates; with --all, the
 * trusted roots' too (what verifiers that check every CA below the root need). */
#include "cli.h"

/* Signs the CRLs (numbers committed) and makes the file's contents. */
static int crl_contents(cli *c, const capstan_crl_opts *o, int der, int all, capstan_buf *data)
{
	capstan_crl_item *items = NULL;
	capstan_buf *crls = NULL;
	size_t count = 0;
	int rc = 0;

	if (all) {
		if (capstan_crl_items(&items, &count, c->ctx, o) < 0)
			return cli_fail(c);
		for (size_t i = 0; rc == 0 && i < count; i++)
			rc = capstan_crl_pem(data, c->ctx, &items[i].der, 1);
		capstan_crl_items_free(items, count);
		return rc < 0 ? cli_fail(c) : 0;
	}
	if (capstan_crl_generate(&crls, &count, c->ctx, o) < 0)
		return capstan_error_subject(c->ctx) & CAPSTAN_FIELD_NEXT_UPDATE ? cli_fail(c) :
			cli_error(c, "%s%s", der ? "--der: " : "", capstan_error_message(c->ctx));
	if (der)
		*data = crls[0], crls[0] = (capstan_buf)CAPSTAN_BUF_INIT; /* taken over */
	else if (capstan_crl_pem(data, c->ctx, crls, count) < 0)
		rc = cli_fail(c);
	capstan_crl_list_free(crls, count);
	return rc;
}

int cmd_crl(cli *c, int argc, char **argv)
{
	const char *env = NULL, *out = NULL, *next = NULL;
	int der = 0, all = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "out", OPT_VALUE, &out },
		{ "der", OPT_FLAG, &der },
		{ "all", OPT_FLAG, &all },
		{ "next-update", OPT_VALUE, &next },
		{ NULL, 0, NULL },
	};
	capstan_crl_opts o = CAPSTAN_CRL_OPTS_INIT;
	capstan_buf data = CAPSTAN_BUF_INIT;
	capstan_file *file = NULL;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!env)
		return cli_usage_error(c, "--env is required");
	if (!out)
		return cli_usage_error(c, "%s", CLI_OUT_REQUIRED);
	if (all && der)
		return cli_usage_error(c, "--all writes several CRLs: PEM only (without --der)");
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
	if ((rc = crl_contents(c, &o, der, all, &data)) != 0) {
		capstan_file_abort(file);
		goto done;
	}
	if (capstan_file_commit(file, data.data, data.len) < 0)
		rc = cli_fail(c);
	else
		rc = out_written(c, out, der ? "crl-der" : all ? "crls" : "crl", NULL);
done:
	capstan_buf_free(&data);
	return rc;
}
