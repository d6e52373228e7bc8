/* Prometheus text exposition for node_exporter's textfile collector. */
#include <stdio.h>
#include <string.h>

#include <capstan/ca.h>
#include <capstan/deploy.h>
#include <capstan/lifecycle.h>

#include "base/base.h"
#include "prom.h"
#include "store/store.h"

static int put_text(capstan_ctx *ctx, capstan_buf *out, const char *text)
{
	return capstan_buf_append(ctx, out, text, strlen(text));
}

static int put_expiry(capstan_ctx *ctx, capstan_buf *out, const capstan_cert *c)
{
	const char *labels[] = { "env", c->env, "name", c->name, "serial", c->serial, "profile",
		c->has_profile ? capstan_profile_name(c->profile) : capstan_kind_name(c->kind), NULL };

	return capstan_prom_sample(ctx, out, "capstan_cert_not_after_seconds", labels, (long long)c->not_after);
}

typedef struct {
	capstan_ctx *ctx;
	capstan_buf *out;
} count_sink;

static int put_count(const char *env, const char *status, int64_t count, void *payload)
{
	count_sink *s = payload;
	const char *labels[] = { "env", env, "status", status, NULL };

	return capstan_prom_sample(s->ctx, s->out, "capstan_certificates", labels, (long long)count);
}

/* When each old root leaves the trust bundle: alert before clients lose it. */
static int put_leaving_roots(capstan_ctx *ctx, capstan_buf *out)
{
	capstan_leaving_root *roots = NULL;
	size_t n = 0;
	int rc;

	if ((rc = put_text(ctx, out,
		     "# HELP capstan_trust_root_leaves_seconds When an old root leaves the trust bundle (Unix time).\n"
		     "# TYPE capstan_trust_root_leaves_seconds gauge\n")) < 0 ||
	    (rc = capstan_trust_leaving(&roots, &n, ctx, NULL)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *labels[] = { "env", roots[i].root->env, "name", roots[i].root->name, "serial",
			roots[i].root->serial, NULL };
		rc = capstan_prom_sample(ctx, out, "capstan_trust_root_leaves_seconds", labels,
			(long long)roots[i].leaves_trust_at);
	}
	capstan_leaving_roots_free(roots, n);
	return rc;
}

/* Text is handed to the writer in chunks of about this size: memory stays
 * flat however many certificates there are (a million lines are ~150 MB). */
#define METRICS_CHUNK (64 * 1024)

typedef struct {
	capstan_ctx *ctx;
	capstan_write_fn write;
	void *payload;
	capstan_buf chunk;
} writer;

/* Hands what has been put to the writer once there is at least min bytes. */
static int flush(writer *w, size_t min)
{
	int rc;

	if (w->chunk.len == 0 || w->chunk.len < min)
		return 0;
	/* The writer says why it failed in the context (capstan_file_append does). */
	if ((rc = w->write(w->chunk.data, w->chunk.len, w->payload)) < 0)
		return rc;
	w->chunk.len = 0;
	w->chunk.data[0] = '\0';
	return 0;
}

/* A line per current certificate, streamed. */
static int put_expiries(writer *w)
{
	capstan_list_opts opts = CAPSTAN_LIST_OPTS_INIT;
	capstan_cert_iter *it = NULL;
	capstan_cert *cert;
	int rc;

	opts.include_ca = 1;
	if ((rc = capstan_cert_iter_new(&it, w->ctx, &opts)) < 0)
		return rc;
	while ((rc = capstan_cert_iter_next(&cert, it)) == 0) {
		rc = put_expiry(w->ctx, &w->chunk, cert);
		capstan_cert_free(cert);
		if (rc < 0 || (rc = flush(w, METRICS_CHUNK)) < 0)
			break;
	}
	capstan_cert_iter_free(it);
	return rc == CAPSTAN_ITEROVER ? 0 : rc;
}

int capstan_metrics_write(capstan_ctx *ctx, capstan_write_fn write, void *payload)
{
	writer w = { ctx, write, payload, CAPSTAN_BUF_INIT };
	count_sink sink = { ctx, &w.chunk };
	char stamp[64];
	int rc;

	if ((rc = put_text(ctx, &w.chunk,
		     "# HELP capstan_cert_not_after_seconds When each current certificate expires (Unix time).\n"
		     "# TYPE capstan_cert_not_after_seconds gauge\n")) < 0 ||
	    (rc = put_expiries(&w)) < 0)
		goto done;
	snprintf(stamp, sizeof(stamp), "capstan_metrics_generated_seconds %lld\n", (long long)time(NULL));
	if ((rc = put_text(ctx, &w.chunk,
		     "# HELP capstan_certificates Leaf certificates by environment and status.\n"
		     "# TYPE capstan_certificates gauge\n")) < 0 ||
	    (rc = capstan_store_status_counts(ctx, time(NULL), put_count, &sink)) < 0 ||
	    (rc = flush(&w, METRICS_CHUNK)) < 0 ||
	    (rc = capstan_deploy_metrics(&w.chunk, ctx)) < 0 || (rc = flush(&w, METRICS_CHUNK)) < 0 ||
	    (rc = put_leaving_roots(ctx, &w.chunk)) < 0 ||
	    (rc = put_text(ctx, &w.chunk,
		     "# HELP capstan_metrics_generated_seconds When this file was written (Unix time).\n"
		     "# TYPE capstan_metrics_generated_seconds gauge\n")) < 0 ||
	    (rc = put_text(ctx, &w.chunk, stamp)) < 0)
		goto done;
	rc = flush(&w, 0);
done:
	capstan_buf_free(&w.chunk);
	return rc;
}

typedef struct {
	capstan_ctx *ctx;
	capstan_buf *out;
} buf_sink;

static int to_buf(const void *data, size_t len, void *payload)
{
	buf_sink *s = payload;

	return capstan_buf_append(s->ctx, s->out, data, len);
}

int capstan_metrics(capstan_buf *out, capstan_ctx *ctx)
{
	buf_sink s = { ctx, out };
	int rc = capstan_metrics_write(ctx, to_buf, &s);

	if (rc < 0)
		capstan_buf_free(out);
	return rc;
}
