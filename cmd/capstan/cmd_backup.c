/* capstan backup: a consistent snapshot of the inventory as an SQLite file, verified. */
#include <string.h>

#include "cli.h"

int cmd_backup(cli *c, int argc, char **argv)
{
	const char *out = NULL;
	const cli_opt opts[] = {
		{ "out", OPT_VALUE, &out },
		{ NULL, 0, NULL },
	};
	capstan_copy_summary s;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!out || !*out)
		return cli_usage_error(c, "--out is required (the backup's file)");
	if (strcmp(out, "-") == 0)
		return cli_usage_error(c, "--out: a backup is a database file: give its path, not -");
	if ((rc = cli_setup(c)) != 0)
		return rc;
	if (capstan_inventory_backup(&s, c->ctx, out) < 0)
		return cli_fail(c);
	return out_copied(c, "backed up to", out, &s);
}
