/* capstan renew: one certificate, or every certificate that is due. */
#include <stdlib.h>

#include "cli.h"

static int due_sink(const capstan_due_result *result, void *payload)
{
	return out_due_item(payload, result);
}

static int renew_due(cli *c, const char *env, int64_t within, int from_old_ca)
{
	capstan_due_opts o = CAPSTAN_DUE_OPTS_INIT;
	out_due *out = out_due_begin(c);
	int rc, out_rc;

	if (!out)
		return cli_error(c, "out of memory");
	o.env = env;
	o.within = within;
	o.from_old_ca = from_old_ca;
	rc = capstan_renew_due(c->ctx, &o, due_sink, out);
	out_rc = out_due_end(out);
	if (rc < 0)
		return cli_fail(c);
	return out_rc;
}

int cmd_renew(cli *c, int argc, char **argv)
{
	const char *env = NULL, *days = NULL, *within = NULL, *ref = NULL;
	int due = 0, from_old_ca = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "days", OPT_VALUE, &days },
		{ "due", OPT_FLAG, &due },
		{ "within", OPT_VALUE, &within },
		{ "from-old-ca", OPT_FLAG, &from_old_ca },
		{ NULL, 0, NULL },
	};
	capstan_cert *old = NULL, *cert = NULL;
	int64_t lifetime = 0, window = 0;
	size_t n = 0;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, &ref, 1, &n)) != 0)
		return rc;
	if (due && (n || days))
		return cli_usage_error(c, "--due renews what is due: it takes no REF and no --days");
	if (!due && n != 1)
		return cli_usage_error(c, "a certificate name or serial is required (or --due)");
	if (!due && (within || from_old_ca))
		return cli_usage_error(c, "--within and --from-old-ca go with --due");
	if ((days && (rc = cli_duration(c, "--days", days, &lifetime)) != 0) ||
	    (within && (rc = cli_duration(c, "--within", within, &window)) != 0) ||
	    (rc = cli_setup(c)) != 0)
		return rc;
	if (due)
		return renew_due(c, env, window, from_old_ca);
	if (capstan_cert_lookup(&old, c->ctx, ref, env) < 0 || capstan_renew(c->ctx, old, lifetime, &cert) < 0)
		rc = cli_fail(c);
	else
		rc = out_reissued(c, old, cert);
	capstan_cert_free(old);
	capstan_cert_free(cert);
	return rc;
}
