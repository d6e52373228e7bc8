/* capstan restore: a backup copied into an empty inventory, verified. */
#include <stdlib.h>

#include "cli.h"

/* The backup is opened and unlocked before the inventory is opened or made:
 * a wrong passphrase or a file that is no backup leaves no empty inventory. */
int cmd_restore(cli *c, int argc, char **argv)
{
	const char *from = NULL;
	const cli_opt opts[] = {
		{ "from", OPT_VALUE, &from },
		{ NULL, 0, NULL },
	};
	capstan_secret pass = CAPSTAN_SECRET_INIT;
	capstan_ctx *backup = NULL;
	capstan_copy_summary s;
	char *home = NULL;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!from || !*from)
		return cli_usage_error(c, "--from is required (a backup written by capstan backup)");
	if ((rc = cli_read_passphrase(c, &pass, 0)) != 0)
		return rc;
	rc = capstan_backup_open(&backup, c->ctx, from, &pass) < 0 ? cli_fail(c) : 0;
	capstan_secret_free(&pass);
	if (rc == 0 && (rc = cli_home_path(c, &home)) == 0 && (rc = cli_open_home(c, home, 1)) == 0 &&
	    capstan_inventory_restore(&s, c->ctx, backup) < 0)
		rc = cli_fail(c);
	capstan_ctx_free(backup);
	free(home);
	return rc != 0 ? rc : out_copied(c, "restored from", from, &s);
}
