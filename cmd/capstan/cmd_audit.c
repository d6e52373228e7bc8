/* capstan audit: the log of every change. */
#include "cli.h"

int cmd_audit(cli *c, int argc, char **argv)
{
	int verify = 0;
	const cli_opt opts[] = {
		{ "verify", OPT_FLAG, &verify },
		{ NULL, 0, NULL },
	};
	capstan_audit_iter *it = NULL;
	capstan_audit_entry *e;
	size_t count = 0;
	int64_t bad = 0, rows = 0;
	int rc, next;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0 || (rc = cli_setup(c)) != 0)
		return rc;
	if (verify) {
		if (capstan_audit_verify(&bad, &rows, c->ctx) < 0)
			return cli_fail(c);
		return out_audit_verified(c, rows);
	}
	if (capstan_audit_iter_new(&it, c->ctx) < 0)
		return cli_fail(c);
	out_audit_begin(c);
	while ((next = capstan_audit_iter_next(&e, it)) == 0) {
		rc = out_audit_item(c, e, count++);
		capstan_audit_entry_free(e);
		if (rc != 0)
			break;
	}
	capstan_audit_iter_free(it);
	if (rc == 0 && next != CAPSTAN_ITEROVER)
		return cli_fail(c);
	return rc ? rc : out_audit_end(c, count);
}
