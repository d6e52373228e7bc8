/* capstan init: an environment's root CA and intermediate. */
#include <string.h>

#include "cli.h"

int cmd_init(cli *c, int argc, char **argv)
{
	const char *env = NULL, *org = NULL, *key = NULL, *root_days = NULL, *ca_days = NULL, *days = NULL,
		*hsm = NULL;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "org", OPT_VALUE, &org },
		{ "key", OPT_VALUE, &key },
		{ "root-days", OPT_VALUE, &root_days },
		{ "ca-days", OPT_VALUE, &ca_days },
		{ "days", OPT_VALUE, &days },
		{ "hsm", OPT_VALUE, &hsm },
		{ NULL, 0, NULL },
	};
	capstan_init_opts o = CAPSTAN_INIT_OPTS_INIT;
	capstan_cert *root = NULL, *inter = NULL;
	const char *why = NULL;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!env)
		return cli_usage_error(c, "--env is required");
	if (hsm && strncmp(hsm, "pkcs11:", 7) != 0)
		return cli_usage_error(c, "--hsm takes a pkcs11: URI (e.g. pkcs11:token=LABEL), not '%s'", hsm);
	if (capstan_check_identifier(env, &why) < 0)
		return cli_usage_error(c, "invalid --env '%s': %s", env, why);
	if (org && capstan_check_subject_value(org, &why) < 0)
		return cli_usage_error(c, "invalid --org '%s': %s", org, why);
	if ((key && (rc = cli_key_type(c, "--key", key, &o.key)) != 0) ||
	    (root_days && (rc = cli_duration(c, "--root-days", root_days, &o.root_lifetime)) != 0) ||
	    (ca_days && (rc = cli_duration(c, "--ca-days", ca_days, &o.ca_lifetime)) != 0) ||
	    (days && (rc = cli_duration(c, "--days", days, &o.leaf_lifetime)) != 0))
		return rc;
	if ((rc = cli_setup(c)) != 0)
		return rc;
	o.env = env;
	o.org = org;
	o.hsm = hsm;
	if (capstan_env_init(&root, &inter, c->ctx, &o) < 0)
		return cli_fail(c);
	rc = out_init(c, "initialized", root, inter, NULL);
	capstan_cert_free(root);
	capstan_cert_free(inter);
	return rc;
}
