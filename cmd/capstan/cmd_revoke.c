/* capstan revoke: a certificate, with an RFC 5280 reason; keyCompromise
 * revokes every certificate of its key. */
#include "cli.h"

int cmd_revoke(cli *c, int argc, char **argv)
{
	const char *env = NULL, *reason_name = NULL, *ref = NULL;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "reason", OPT_VALUE, &reason_name },
		{ NULL, 0, NULL },
	};
	capstan_revoke_reason reason = CAPSTAN_REASON_UNSPECIFIED;
	capstan_revocation r = { 0 };
	capstan_cert *cert = NULL;
	int rc;

	if ((rc = cli_parse_ref(c, argc, argv, opts, &ref)) != 0)
		return rc;
	if (reason_name && capstan_revoke_reason_parse(reason_name, &reason) < 0)
		return cli_usage_error(c, "invalid --reason '%s': expected one of %s", reason_name,
			capstan_revoke_reason_names());
	if ((rc = cli_setup(c)) != 0)
		return rc;
	if (capstan_cert_lookup(&cert, c->ctx, ref, env) < 0 || capstan_revoke_ex(&r, c->ctx, cert, reason) < 0)
		rc = cli_fail(c);
	else
		rc = out_revoked(c, cert, capstan_revoke_reason_name(reason), &r);
	capstan_revocation_clear(&r);
	capstan_cert_free(cert);
	return rc;
}
