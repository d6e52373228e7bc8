/* capstan passphrase: a new passphrase for the inventory, in one transaction. */
#include "cli.h"

int cmd_passphrase(cli *c, int argc, char **argv)
{
	const char *file = NULL;
	const cli_opt opts[] = {
		{ "new-passphrase-file", OPT_VALUE, &file },
		{ NULL, 0, NULL },
	};
	capstan_secret fresh = CAPSTAN_SECRET_INIT;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (!file)
		return cli_usage_error(c, "--new-passphrase-file is required (the new passphrase is never an argument)");
	/* The new one is read before the inventory is opened: a missing or
	 * unsafe file is refused before anything is unlocked or upgraded. */
	if ((rc = cli_protected(c)) != 0)
		return rc;
	if (capstan_secret_from_file(&fresh, c->ctx, file) < 0)
		return cli_error(c, "--new-passphrase-file: %s", capstan_error_message(c->ctx));
	if ((rc = cli_setup(c)) == 0 && capstan_home_change_passphrase(c->ctx, &fresh) < 0)
		rc = capstan_error_last(c->ctx) == CAPSTAN_EINVALID ?
			cli_error(c, "--new-passphrase-file: %s", capstan_error_message(c->ctx)) : cli_fail(c);
	capstan_secret_free(&fresh);
	return rc != 0 ? rc : out_passphrase_changed(c, capstan_home_path(c->ctx));
}
