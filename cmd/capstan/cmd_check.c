/* capstan check: verify the home; exit 1 naming each thing that is wrong. */
#include <stdlib.h>

#include "cli.h"

int cmd_check(cli *c, int argc, char **argv)
{
	int keys = 0;
	const cli_opt opts[] = {
		{ "keys", OPT_FLAG, &keys },
		{ NULL, 0, NULL },
	};
	capstan_check_summary sum;
	out_check *o;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0 || (rc = cli_setup(c)) != 0)
		return rc;
	/* Opening every sealed key needs the passphrase: asked for with --keys,
	 * used without it when one is given (never prompted for). */
	if ((keys || c->passphrase_file || c->env_passphrase.data) && (rc = cli_unlock(c)) != 0)
		return rc;
	if (!(o = out_check_begin(c)))
		return cli_error(c, "out of memory");
	rc = capstan_check(&sum, c->ctx, out_check_problem, o);
	return out_check_end(o, rc < 0 ? NULL : &sum);
}
