/* capstan list: certificates, streamed as a table or a JSON array; with
 * --ca the CAs instead, with what each root means for the trust bundle. */
#include <stdlib.h>

#include "cli.h"

/* The CAs' rows need to know which old roots are on their way out of the
 * trust bundle: a handful, read before the stream starts. */
typedef struct {
	capstan_leaving_root *roots;
	size_t count;
} leaving;

static int ca_row(cli *c, const capstan_cert *cert, size_t index, const leaving *l)
{
	int in_trust = cert->kind == CAPSTAN_KIND_ROOT && cert->status == CAPSTAN_STATUS_VALID;
	time_t until = 0;

	for (size_t i = 0; i < l->count; i++)
		if (l->roots[i].root->id == cert->id)
			in_trust = 1, until = l->roots[i].leaves_trust_at;
	return out_ca_list_item(c, cert, index, in_trust, until);
}

/* Streams the rows; with --ca and no --status, only CAs that have not expired. */
static int stream(cli *c, capstan_cert_iter *it, const leaving *ca, int unexpired_only)
{
	capstan_cert *cert;
	time_t now = time(NULL);
	size_t count = 0;
	int rc = 0, next;

	if (ca)
		out_ca_list_begin(c);
	else
		out_list_begin(c);
	while ((next = capstan_cert_iter_next(&cert, it)) == 0) {
		if (!unexpired_only || cert->not_after > now)
			rc = ca ? ca_row(c, cert, count++, ca) : out_list_item(c, cert, count++);
		capstan_cert_free(cert);
		if (rc != 0)
			break;
	}
	if (rc == 0 && next != CAPSTAN_ITEROVER)
		return cli_fail(c);
	return rc ? rc : out_list_end(c, count);
}

int cmd_list(cli *c, int argc, char **argv)
{
	const char *env = NULL, *service = NULL, *status = NULL, *within = NULL;
	int ca_only = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &env },
		{ "service", OPT_VALUE, &service },
		{ "status", OPT_VALUE, &status },
		{ "expiring-within", OPT_VALUE, &within },
		{ "ca", OPT_FLAG, &ca_only },
		{ NULL, 0, NULL },
	};
	capstan_list_opts o = CAPSTAN_LIST_OPTS_INIT;
	capstan_cert_iter *it = NULL;
	leaving ca = { NULL, 0 };
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		return rc;
	if (status && capstan_status_parse(status, &o.status) < 0)
		return cli_usage_error(c, "invalid --status '%s': expected valid, revoked, expired, superseded or all",
			status);
	if (within && (rc = cli_duration(c, "--expiring-within", within, &o.expiring_within)) != 0)
		return rc;
	if ((rc = cli_setup(c)) != 0)
		return rc;
	o.env = env;
	o.service = service;
	o.ca_only = ca_only;
	if (ca_only && !status)
		o.status = CAPSTAN_STATUS_ALL; /* old CAs matter while they live: see stream() */
	if (env) {
		/* An unknown environment is an error, not an empty list. */
		capstan_buf trust = CAPSTAN_BUF_INIT;
		if (capstan_trust_pem(&trust, c->ctx, env) < 0 && capstan_error_last(c->ctx) == CAPSTAN_ENOTFOUND)
			return cli_fail(c);
		capstan_buf_free(&trust);
	}
	if ((ca_only && capstan_trust_leaving(&ca.roots, &ca.count, c->ctx, env) < 0) ||
	    capstan_cert_iter_new(&it, c->ctx, &o) < 0) {
		capstan_leaving_roots_free(ca.roots, ca.count);
		return cli_fail(c);
	}
	rc = stream(c, it, ca_only ? &ca : NULL, ca_only && !status);
	capstan_cert_iter_free(it);
	capstan_leaving_roots_free(ca.roots, ca.count);
	return rc;
}
