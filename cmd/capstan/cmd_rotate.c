/* capstan rotate: a certificate's key, or the environment's CA. */
#include "cli.h"

typedef struct {
	const char *env, *days, *key, *root_days, *ca_days;
	int intermediate, root;
} rotate_args;

static int rotate_ca(cli *c, const rotate_args *a)
{
	capstan_ca_rotate_opts o = CAPSTAN_CA_ROTATE_OPTS_INIT;
	capstan_cert *root = NULL, *inter = NULL;
	int rc;

	if (!a->env)
		return cli_usage_error(c, "--env is required to rotate a CA");
	if (a->days)
		return cli_usage_error(c, "--days is for certificates: use --root-days or --ca-days");
	if (a->key) {
		if ((rc = cli_key_type(c, "--key", a->key, &o.key)) != 0)
			return rc;
		o.key_set = 1;
	}
	if ((a->root_days && (rc = cli_duration(c, "--root-days", a->root_days, &o.root_lifetime)) != 0) ||
	    (a->ca_days && (rc = cli_duration(c, "--ca-days", a->ca_days, &o.ca_lifetime)) != 0))
		return rc;
	if (a->root_days && !a->root)
		return cli_usage_error(c, "--root-days goes with --root");
	if ((rc = cli_setup(c)) != 0)
		return rc;
	o.env = a->env;
	o.root = a->root;
	if (capstan_ca_rotate(&root, &inter, c->ctx, &o) < 0)
		return cli_fail(c);
	rc = out_ca_rotated(c, root, inter);
	capstan_cert_free(root);
	capstan_cert_free(inter);
	return rc;
}

int cmd_rotate(cli *c, int argc, char **argv)
{
	rotate_args a = { 0 };
	const char *ref = NULL;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &a.env },
		{ "days", OPT_VALUE, &a.days },
		{ "key", OPT_VALUE, &a.key },
		{ "root-days", OPT_VALUE, &a.root_days },
		{ "ca-days", OPT_VALUE, &a.ca_days },
		{ "intermediate", OPT_FLAG, &a.intermediate },
		{ "root", OPT_FLAG, &a.root },
		{ NULL, 0, NULL },
	};
	int64_t lifetime = 0;
	size_t n = 0;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, &ref, 1, &n)) != 0)
		return rc;
	if (a.intermediate && a.root)
		return cli_usage_error(c, "--intermediate and --root do not go together (--root makes both)");
	if (a.intermediate || a.root) {
		if (n)
			return cli_usage_error(c, "a CA rotation takes no REF");
		return rotate_ca(c, &a);
	}
	if (n != 1)
		return cli_usage_error(c, "a certificate name or serial is required (or --intermediate / --root)");
	if (a.key || a.root_days || a.ca_days)
		return cli_usage_error(c, "--key, --root-days and --ca-days are for CA rotation");
	if ((a.days && (rc = cli_duration(c, "--days", a.days, &lifetime)) != 0) || (rc = cli_setup(c)) != 0)
		return rc;
	return cli_reissue(c, ref, a.env, lifetime, capstan_rotate);
}
