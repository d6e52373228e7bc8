/* capstan renew: one certificate, or every certificate that is due. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
	const char *env, *within_text, *bundle_dir, *exec_cmd, *prefix, *password_file, *exec_timeout_text;
	int64_t within, exec_timeout;
	int from_old_ca, dry_run;
} due_args;

/* "ENV/NAME" of each certificate a run renewed (a dry run: would renew). */
typedef struct {
	char **items;
	size_t count;
	int failed;          /* out of memory: the list is short */
} renewed_list;

typedef struct {
	cli *c;
	out_due *out;
	renewed_list *renewed; /* NULL: not wanted (no --bundle-dir) */
} due_run;

static void renewed_add(renewed_list *list, const capstan_cert *cert)
{
	size_t size = strlen(cert->env) + strlen(cert->name) + 2;
	char **grown = realloc(list->items, (list->count + 1) * sizeof(*grown)), *item = malloc(size);

	if (grown)
		list->items = grown;
	if (!grown || !item) {
		free(item);
		list->failed = 1;
		return;
	}
	snprintf(item, size, "%s/%s", cert->env, cert->name);
	list->items[list->count++] = item;
}

static void renewed_free(renewed_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
}

static int due_sink(const capstan_due_result *result, void *payload)
{
	due_run *run = payload;

	if (run->renewed && (result->renewed || result->planned))
		renewed_add(run->renewed, result->old);
	return out_due_item(run->out, result);
}

static void announce_leaving_roots(cli *c, const char *env)
{
	capstan_leaving_root *roots = NULL;
	size_t n = 0;

	if (capstan_trust_leaving(&roots, &n, c->ctx, env) < 0)
		return; /* a note, not the job: the renewals stand */
	for (size_t i = 0; i < n; i++)
		out_root_leaving(c, &roots[i]);
	capstan_leaving_roots_free(roots, n);
}

/* The renewals; with renewed, which they were (or would be). */
static int renew_only(cli *c, const due_args *a, renewed_list *renewed)
{
	capstan_due_opts o = CAPSTAN_DUE_OPTS_INIT;
	due_run run = { c, out_due_begin(c), renewed };
	int rc, out_rc;

	if (!run.out)
		return cli_error(c, "out of memory");
	o.env = a->env;
	o.within = a->within;
	o.from_old_ca = a->from_old_ca;
	o.dry_run = a->dry_run;
	rc = capstan_renew_due(c->ctx, &o, due_sink, &run);
	out_rc = out_due_end(run.out);
	if (rc == 0)
		announce_leaving_roots(c, a->env);
	if (rc == 0 && renewed && renewed->failed)
		return cli_error(c, "out of memory");
	return rc < 0 ? cli_fail(c) : out_rc;
}

/* How long a run waits for another's delivery to end before giving up its own. */
#define DEPLOY_LOCK_WAIT 600

/*
 * With --bundle-dir: the renewals first (they need no delivery lock, so a run
 * stuck on a hook never holds them up), then, under the home's deploy lock,
 * every recorded service (each host) is tracked and every bundle that is owed
 * delivered: what the renewals changed, and whatever earlier runs could not
 * deliver. Each failure is recorded and owed to the next run.
 */
static int renew_and_deliver(cli *c, const due_args *a)
{
	capstan_deploy_opts o = CAPSTAN_DEPLOY_OPTS_INIT;
	capstan_secret password = CAPSTAN_SECRET_INIT;
	renewed_list renewed = { 0 };
	char *dir = cli_absolute_path(a->bundle_dir);
	int rc, lock = -1;

	if (!dir)
		return cli_error(c, "cannot resolve '%s'", a->bundle_dir);
	if ((rc = cli_check_bundle_path(c, a->prefix ? "--prefix" : "--bundle-dir", a->prefix ? a->prefix : dir)) != 0 ||
	    (rc = cli_store_password(c, a->password_file, &password)) != 0)
		goto done;
	o.env = a->env, o.dir = dir, o.prefix = a->prefix, o.templates_dir = cli_templates_dir(c);
	o.password = password.data ? &password : NULL;
	o.hook = a->exec_cmd != NULL;
	o.dry_run = a->dry_run;
	rc = renew_only(c, a, &renewed);
	o.renewed = (const char *const *)renewed.items, o.renewed_count = renewed.count;
	/* What was renewed is delivered even when something else failed. */
	if (capstan_deploy_lock(&lock, c->ctx, DEPLOY_LOCK_WAIT) < 0 ||
	    (!a->dry_run && capstan_deploy_track(c->ctx, &o) < 0)) {
		int failed = cli_fail(c);
		rc = rc == EXIT_OK ? failed : rc;
	} else if (redeploy_owed(c, &o, a->exec_cmd, a->exec_timeout) != EXIT_OK && rc == EXIT_OK) {
		rc = EXIT_FAILED;
	}
done:
	capstan_deploy_unlock(lock);
	renewed_free(&renewed);
	capstan_secret_free(&password);
	free(dir);
	return rc;
}

/* One certificate renewed or rotated: shared by renew and rotate, which
 * differ only in whether the key is kept. */
int cli_reissue(cli *c, const char *ref, const char *env, int64_t lifetime, cli_reissue_fn reissue)
{
	capstan_cert *old = NULL, *cert = NULL;
	int rc;

	if (capstan_cert_lookup(&old, c->ctx, ref, env) < 0)
		rc = cli_fail(c);
	else if (reissue(&cert, c->ctx, old, lifetime) < 0 && old->kind != CAPSTAN_KIND_LEAF)
		rc = cli_error(c, "%s: capstan rotate --env %s --intermediate (or --root)", capstan_error_message(c->ctx),
			old->env);
	else if (!cert)
		rc = cli_fail(c);
	else
		rc = out_reissued(c, old, cert);
	capstan_cert_free(old);
	capstan_cert_free(cert);
	return rc;
}

int cmd_renew(cli *c, int argc, char **argv)
{
	due_args a = { .exec_timeout = 600 };
	const char *days = NULL, *ref = NULL;
	int due = 0;
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &a.env },
		{ "days", OPT_VALUE, &days },
		{ "due", OPT_FLAG, &due },
		{ "within", OPT_VALUE, &a.within_text },
		{ "from-old-ca", OPT_FLAG, &a.from_old_ca },
		{ "bundle-dir", OPT_VALUE, &a.bundle_dir },
		{ "exec", OPT_VALUE, &a.exec_cmd },
		{ "prefix", OPT_VALUE, &a.prefix },
		{ "password-file", OPT_VALUE, &a.password_file },
		{ "dry-run", OPT_FLAG, &a.dry_run },
		{ "exec-timeout", OPT_VALUE, &a.exec_timeout_text },
		{ NULL, 0, NULL },
	};
	int64_t lifetime = 0;
	size_t n = 0;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, &ref, 1, &n)) != 0)
		return rc;
	if (due && (n || days))
		return cli_usage_error(c, "--due renews what is due: it takes no REF and no --days");
	if (!due && n != 1)
		return cli_usage_error(c, "a certificate name or serial is required (or --due)");
	if (!due && (a.within_text || a.from_old_ca || a.bundle_dir || a.exec_cmd || a.prefix || a.password_file ||
		     a.dry_run))
		return cli_usage_error(c, "--within, --from-old-ca, --bundle-dir and --exec go with --due"
			" (and so do --prefix, --password-file and --dry-run)");
	if (a.exec_timeout_text && !a.exec_cmd)
		return cli_usage_error(c, "--exec-timeout goes with --exec");
	if (a.exec_cmd && !a.bundle_dir)
		return cli_usage_error(c, "--exec needs --bundle-dir: the hook reloads a redeployed bundle");
	if ((a.prefix || a.password_file) && !a.bundle_dir)
		return cli_usage_error(c, "--prefix and --password-file go with --bundle-dir: they are for the bundles");
	if ((days && (rc = cli_duration(c, "--days", days, &lifetime)) != 0) ||
	    (a.within_text && (rc = cli_duration(c, "--within", a.within_text, &a.within)) != 0) ||
	    (a.exec_timeout_text && (rc = cli_duration(c, "--exec-timeout", a.exec_timeout_text, &a.exec_timeout)) != 0) ||
	    (rc = cli_setup(c)) != 0)
		return rc;
	if (due)
		return a.bundle_dir ? renew_and_deliver(c, &a) : renew_only(c, &a, NULL);
	return cli_reissue(c, ref, a.env, lifetime, capstan_renew);
}
