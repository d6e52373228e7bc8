/* capstan renew: one certificate, or every certificate that is due. */
#include <stdlib.h>

#include "cli.h"

typedef struct {
	cli *c;
	out_due *out;
	redeploys *redeploy; /* NULL without --bundle-dir */
	int failed;
} due_run;

static int due_sink(const capstan_due_result *result, void *payload)
{
	due_run *run = payload;

	if (run->redeploy && result->renewed &&
	    redeploys_add(run->c, run->redeploy, result->old->env, result->old->name) != 0)
		run->failed = 1;
	return out_due_item(run->out, result);
}

static int renew_due(cli *c, const char *env, int64_t within, int from_old_ca, const char *bundle_dir,
	const char *exec_cmd)
{
	capstan_due_opts o = CAPSTAN_DUE_OPTS_INIT;
	due_run run = { c, out_due_begin(c), bundle_dir ? redeploys_new() : NULL, 0 };
	int rc, out_rc, redeploy_rc = 0;

	if (!run.out || (bundle_dir && !run.redeploy)) {
		redeploys_free(run.redeploy);
		return cli_error(c, "out of memory");
	}
	o.env = env;
	o.within = within;
	o.from_old_ca = from_old_ca;
	rc = capstan_renew_due(c->ctx, &o, due_sink, &run);
	out_rc = out_due_end(run.out);
	/* What was renewed is redeployed even when something else failed. */
	if (run.redeploy)
		redeploy_rc = redeploys_run(c, run.redeploy, bundle_dir, exec_cmd);
	redeploys_free(run.redeploy);
	if (rc < 0)
		return cli_fail(c);
	return run.failed ? EXIT_FAILED : redeploy_rc ? redeploy_rc : out_rc;
}

/* One certificate renewed or rotated: shared by renew and rotate, which
 * differ only in whether the key is kept. */
int cli_reissue(cli *c, const char *ref, const char *env, int64_t lifetime, cli_reissue_fn reissue)
{
	capstan_cert *old = NULL, *cert = NULL;
	int rc;

	if (capstan_cert_lookup(&old, c->ctx, ref, env) < 0 || reissue(c->ctx, old, lifetime, &cert) < 0)
		rc = cli_fail(c);
	else
		rc = out_reissued(c, old, cert);
	capstan_cert_free(old);
	capstan_cert_free(cert);
	return rc;
}

int cmd_renew(cli *c, int argc, char **argv)
{
	const char *env = NULL, *days = NULL, *within = NULL, *ref = NULL, *bundle_dir = NULL, *exec_cmd = NULL;
	int due = 0, from_old_ca = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "days", OPT_VALUE, &days },
		{ "due", OPT_FLAG, &due },
		{ "within", OPT_VALUE, &within },
		{ "from-old-ca", OPT_FLAG, &from_old_ca },
		{ "bundle-dir", OPT_VALUE, &bundle_dir },
		{ "exec", OPT_VALUE, &exec_cmd },
		{ NULL, 0, NULL },
	};
	int64_t lifetime = 0, window = 0;
	size_t n = 0;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, &ref, 1, &n)) != 0)
		return rc;
	if (due && (n || days))
		return cli_usage_error(c, "--due renews what is due: it takes no REF and no --days");
	if (!due && n != 1)
		return cli_usage_error(c, "a certificate name or serial is required (or --due)");
	if (!due && (within || from_old_ca || bundle_dir || exec_cmd))
		return cli_usage_error(c, "--within, --from-old-ca, --bundle-dir and --exec go with --due");
	if (exec_cmd && !bundle_dir)
		return cli_usage_error(c, "--exec needs --bundle-dir: the hook reloads a redeployed bundle");
	if ((days && (rc = cli_duration(c, "--days", days, &lifetime)) != 0) ||
	    (within && (rc = cli_duration(c, "--within", within, &window)) != 0) ||
	    (rc = cli_setup(c)) != 0)
		return rc;
	if (due)
		return renew_due(c, env, window, from_old_ca, bundle_dir, exec_cmd);
	return cli_reissue(c, ref, env, lifetime, capstan_renew);
}
