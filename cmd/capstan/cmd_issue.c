/* capstan issue: a leaf certificate from a fresh key or a CSR. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_CSR_FILE (64 * 1024)

typedef struct {
	const char *env, *profile, *cn, *name, *days, *key, *service, *csr, *renew_before, *batch;
	cli_list dns, ip, uri, email;
	int replace;
} issue_args;

static void free_args(issue_args *a)
{
	free(a->dns.items);
	free(a->ip.items);
	free(a->uri.items);
	free(a->email.items);
}

/* Checks every value so a typo is a usage error before anything is opened. */
static int check_args(cli *c, issue_args *a, capstan_issue_opts *o)
{
	int rc;

	if (!a->env)
		return cli_usage_error(c, "--env is required");
	if (!a->profile)
		return cli_usage_error(c, "--profile is required (%s)", capstan_profile_names());
	if (capstan_profile_parse(a->profile, &o->profile) < 0)
		return cli_usage_error(c, "invalid --profile '%s': expected one of %s", a->profile,
			capstan_profile_names());
	if (!a->cn && !a->csr)
		return cli_usage_error(c, "--cn is required");
	if (a->key) {
		if ((rc = cli_key_type(c, "--key", a->key, &o->key)) != 0)
			return rc;
		o->key_set = 1;
	}
	if ((a->days && (rc = cli_duration(c, "--days", a->days, &o->lifetime)) != 0) ||
	    (a->renew_before && (rc = cli_duration(c, "--renew-before", a->renew_before,
					    &o->renew_before)) != 0) ||
	    (rc = cli_san_values(c, "--dns", &a->dns, CAPSTAN_SAN_DNS)) != 0 ||
	    (rc = cli_san_values(c, "--ip", &a->ip, CAPSTAN_SAN_IP)) != 0 ||
	    (rc = cli_san_values(c, "--uri", &a->uri, CAPSTAN_SAN_URI)) != 0 ||
	    (rc = cli_san_values(c, "--email", &a->email, CAPSTAN_SAN_EMAIL)) != 0)
		return rc;
	o->env = a->env;
	o->cn = a->cn;
	o->name = a->name;
	o->service = a->service;
	o->replace = a->replace;
	o->dns = a->dns.items, o->dns_count = a->dns.count;
	o->ip = a->ip.items, o->ip_count = a->ip.count;
	o->uri = a->uri.items, o->uri_count = a->uri.count;
	o->email = a->email.items, o->email_count = a->email.count;
	return 0;
}

typedef struct {
	cli *c;
	const char *file;
	const batch_input *in;
	size_t done, total;
	double last_progress;
	int progress;
} batch_run;

static double now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int batch_sink(const capstan_batch_result *r, void *payload)
{
	batch_run *run = payload;
	size_t line = batch_input_line(run->in, r->index);
	char hint[120];
	double now;

	run->done++;
	batch_input_hint(r->subject, hint, sizeof(hint));
	if (!r->cert)
		fprintf(stderr, "%scapstan: %s:%zu: %s%s\n", run->progress ? "\r\033[K" : "", run->file, line, r->error,
			hint);
	else if (out_batch_item(run->c, r->cert, line) != 0)
		return CAPSTAN_ERROR;
	if (run->progress && ((now = now_seconds()) - run->last_progress > 0.1 || run->done == run->total)) {
		fprintf(stderr, "\rissued %zu of %zu", run->done, run->total);
		run->last_progress = now;
	}
	return 0;
}

/* issue --batch: every request in one process, signed on every core. */
static int issue_batch(cli *c, const char *file)
{
	batch_input *in = NULL;
	batch_run run = { c, file, NULL, 0, 0, 0, 0 };
	capstan_batch_opts bo = CAPSTAN_BATCH_OPTS_INIT;
	int rc;

	if ((rc = batch_input_read(c, file, &in)) != 0 || (rc = cli_setup(c)) != 0)
		goto done;
	run.in = in;
	run.total = batch_input_count(in);
	run.progress = isatty(STDERR_FILENO) && !c->quiet && run.total >= 100;
	out_batch_begin(c);
	rc = capstan_issue_batch(c->ctx, batch_input_requests(in), run.total, &bo, batch_sink, &run);
	if (run.progress)
		fputc('\n', stderr);
	out_batch_end(c, run.done);
	if (rc < 0)
		rc = cli_fail(c);
done:
	batch_input_free(in);
	return rc;
}

int cmd_issue(cli *c, int argc, char **argv)
{
	issue_args a = { 0 };
	const cli_opt opts[] = {
		{ "env", OPT_VALUE, &a.env }, { "profile", OPT_VALUE, &a.profile },
		{ "cn", OPT_VALUE, &a.cn }, { "name", OPT_VALUE, &a.name },
		{ "days", OPT_VALUE, &a.days }, { "key", OPT_VALUE, &a.key },
		{ "service", OPT_VALUE, &a.service }, { "csr", OPT_VALUE, &a.csr },
		{ "renew-before", OPT_VALUE, &a.renew_before },
		{ "batch", OPT_VALUE, &a.batch }, { "replace", OPT_FLAG, &a.replace },
		{ "dns", OPT_LIST, &a.dns }, { "ip", OPT_LIST, &a.ip },
		{ "uri", OPT_LIST, &a.uri }, { "email", OPT_LIST, &a.email },
		{ NULL, 0, NULL },
	};
	capstan_issue_opts o = CAPSTAN_ISSUE_OPTS_INIT;
	capstan_buf csr = CAPSTAN_BUF_INIT;
	capstan_cert *cert = NULL;
	int rc;

	if ((rc = cli_parse(c, argc, argv, opts, NULL, 0, NULL)) != 0)
		goto done;
	if (a.batch) {
		if (a.env || a.profile || a.cn || a.name || a.days || a.key || a.service || a.csr || a.renew_before ||
		    a.replace || a.dns.count || a.ip.count || a.uri.count || a.email.count)
			rc = cli_usage_error(c, "--batch takes its requests from the file: no other issue option");
		else
			rc = issue_batch(c, a.batch);
		goto done;
	}
	if ((rc = check_args(c, &a, &o)) != 0 || (rc = cli_setup(c)) != 0)
		goto done;
	if (a.csr) {
		if (capstan_file_read(&csr, c->ctx, a.csr, MAX_CSR_FILE) < 0) {
			rc = cli_error(c, "--csr: %s", capstan_error_message(c->ctx));
			goto done;
		}
		o.csr = csr.data;
		o.csr_len = csr.len;
	}
	/* What the CSR itself is wrong about is said against the file; the rest as usual. */
	if (capstan_issue(&cert, c->ctx, &o) >= 0)
		rc = out_issued(c, cert, o.lifetime);
	else if (capstan_error_last(c->ctx) == CAPSTAN_EEXISTS)
		rc = cli_error(c, "%s, or issue it again with --replace", capstan_error_message(c->ctx));
	else
		rc = a.csr && (capstan_error_subject(c->ctx) & ~(unsigned)CAPSTAN_FIELD_CSR) == 0 ?
			cli_error(c, "--csr '%s': %s", a.csr, capstan_error_message(c->ctx)) : cli_fail(c);
done:
	capstan_cert_free(cert);
	capstan_buf_free(&csr);
	free_args(&a);
	return rc;
}
