/* capstan migrate: the whole inventory copied into another database, verified. */
#include "cli.h"

int cmd_migrate(cli *c, int argc, char **argv)
{
	const char *to = NULL;
	const cli_opt opts[] = {
		{ "to", OPT_VALUE, &to },
		{ NULL, 0, NULL },
	};
	capstan_copy_summary s;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!to || !*to)
		return cli_usage_error(c, "--to is required (sqlite:PATH or postgresql://USER@HOST/DB)");
	if ((rc = cli_setup(c)) != 0)
		return rc;
	if (capstan_inventory_migrate(&s, c->ctx, to) < 0)
		return cli_fail(c);
	return out_copied(c, "migrated to", to, &s);
}
