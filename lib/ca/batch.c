/* The batch path: signing on every core (workers.h), one writer, commits in
 * groups. Workers take requests in order and may run at most WINDOW ahead of
 * the writer, so memory stays bounded however long the batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capstan/ca.h>

#include "ca_internal.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "workers.h"

#define WINDOW 1024
/* A group commits at GROUP_COUNT certificates, GROUP_BYTES of certificates
 * and sealed keys, or group_ms, whichever comes first. Its changed pages stay
 * in memory until it commits (capstan_store_hold_dirty): the bytes bound that
 * however large the keys and certificates, and a larger group writes each
 * index page it changes once for more rows (random serials and digests change
 * a random page of each index per row). */
#define GROUP_COUNT 1024
#define GROUP_BYTES (1024 * 1024)

typedef enum { JOB_PENDING = 0, JOB_SIGNED, JOB_FAILED } job_state;

typedef struct {
	const capstan_issue_opts *o;
	capstan_issue_plan plan;
	capstan_mint mint;
	capstan_buf der;
	capstan_x509_info info;
	job_state state;
	char error[300];
	unsigned subject;    /* the inputs error is about (capstan_field bits) */
} job;

typedef struct {
	capstan_ctx *ctx;
	job *jobs;
	size_t count;
	capstan_signers signers; /* what each environment's requests are signed by */
	capstan_policy_cache policy; /* the environment's issuance policy, read once */
	capstan_pool *pool;
} batch;

/* The previous request's environment for this one, when it names the same:
 * a batch is mostly one environment, and reading it is a query per request. */
static int same_env(const job *prev, const capstan_issue_opts *o, capstan_store_env *env)
{
	if (!prev || !prev->plan.env.name || !o->env || strcmp(prev->plan.env.name, o->env) != 0)
		return 0;
	*env = prev->plan.env;
	env->name = strdup(prev->plan.env.name);
	env->org = prev->plan.env.org ? strdup(prev->plan.env.org) : NULL;
	if (!env->name || (prev->plan.env.org && !env->org)) {
		capstan_store_env_clear(env);
		return -1;
	}
	return 0;
}

/* In the calling thread, before any signing: each request checked. */
static int plan_jobs(batch *b, const capstan_issue_opts *reqs)
{
	time_t now = time(NULL);
	int rc;

	for (size_t i = 0; i < b->count; i++) {
		job *j = &b->jobs[i];
		j->o = &reqs[i];
		if (same_env(i ? &b->jobs[i - 1] : NULL, &reqs[i], &j->plan.env) < 0)
			return capstan_error_oom(b->ctx);
		j->plan.policy = &b->policy;
		rc = reqs[i].csr ? capstan_error(b->ctx, CAPSTAN_EINVALID, "a batch takes no CSR") :
			capstan_issue_check(b->ctx, &reqs[i], &j->plan);
		if (rc == 0 && (rc = capstan_signers_get(b->ctx, &b->signers, j->plan.env.id, &j->plan.signer)) < 0 &&
		    rc != CAPSTAN_ENOTFOUND)
			return rc; /* a key that does not open: the whole batch stops */
		if (rc < 0) {
			j->state = JOB_FAILED;
			snprintf(j->error, sizeof(j->error), "%s", capstan_error_message(b->ctx));
			j->subject = capstan_error_subject(b->ctx);
			continue;
		}
		j->mint = capstan_issue_mint(&reqs[i], &j->plan, now);
	}
	return 0;
}

/* In a worker: a key, sealed, and a signed certificate. No database. */
static job_state sign_job(capstan_ctx *w, job *j)
{
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];
	unsigned char spki[CAPSTAN_SHA256_LEN];
	const capstan_issue_opts *o = j->o;

	if (capstan_key_generate(&j->plan.key, w, o->key_set ? o->key : CAPSTAN_DEFAULT_KEY) < 0 ||
	    capstan_key_seal(&j->plan.sealed, w, j->plan.key) < 0 ||
	    capstan_serial_generate(w, j->mint.tmpl.serial, hex) < 0) {
		snprintf(j->error, sizeof(j->error), "%s", capstan_error_message(w));
		return JOB_FAILED;
	}
	j->mint.subject_key = j->plan.key;
	j->mint.sealed_key = &j->plan.sealed;
	j->mint.tmpl.sans = &j->plan.sans;
	if (capstan_ca_sign(w, &j->mint, &j->der, &j->info) < 0 ||
	    capstan_key_spki_sha256(w, j->plan.key, spki) < 0) {
		snprintf(j->error, sizeof(j->error), "%s", capstan_error_message(w));
		return JOB_FAILED;
	}
	/* The writer needs only its SPKI (made above): freed here, off its thread. */
	capstan_key_drop_private(j->plan.key);
	return JOB_SIGNED;
}

static void sign_one(capstan_ctx *w, void *arg, size_t i)
{
	job *j = &((batch *)arg)->jobs[i];

	if (j->state != JOB_FAILED) /* else refused at planning */
		j->state = sign_job(w, j);
}

static double seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Certificates written in the open transaction, reported once it commits. */
typedef struct {
	size_t *index;
	capstan_cert **certs;
	size_t count;
} pending;

static int report_committed(pending *p, capstan_batch_fn fn, void *payload)
{
	int rc = 0;

	for (size_t i = 0; i < p->count; i++) {
		capstan_batch_result r = { p->index[i], p->certs[i], NULL, 0 };
		if (rc == 0 && fn)
			rc = fn(&r, payload);
		capstan_cert_free(p->certs[i]);
	}
	p->count = 0;
	return rc;
}

/* One signed job into the open transaction, under a savepoint of its own. */
static int write_job(batch *b, job *j, capstan_cert **out)
{
	int rc;

	if ((rc = capstan_store_savepoint(b->ctx)) < 0)
		return rc;
	rc = capstan_issue_record(b->ctx, j->o, &j->plan, &j->mint, j->info, &j->der, out);
	j->info = (capstan_x509_info){ 0 }; /* consumed */
	if (rc < 0) {
		capstan_store_undo(b->ctx);
		return rc;
	}
	return capstan_store_release(b->ctx);
}

static void job_done(batch *b, size_t i)
{
	capstan_buf_free(&b->jobs[i].der);
	capstan_issue_plan_clear(&b->jobs[i].plan);
	capstan_pool_release(b->pool, i + 1);
}

/* Whether the open group commits now. */
typedef struct {
	size_t count, max_count, bytes;
	double started, limit;
} group;

static int group_full(const group *g)
{
	return g->count >= g->max_count || g->bytes >= GROUP_BYTES || seconds() - g->started >= g->limit;
}

static int write_all(batch *b, const capstan_batch_opts *o, capstan_batch_fn fn, void *payload, size_t *failed)
{
	group g = { 0, o && o->group ? o->group : GROUP_COUNT, 0, 0, (o && o->group_ms ? o->group_ms : 50) / 1000.0 };
	pending p = { calloc(g.max_count, sizeof(size_t)), calloc(g.max_count, sizeof(capstan_cert *)), 0 };
	int rc = p.index && p.certs ? 0 : capstan_error_oom(b->ctx), in_tx = 0, wrc;

	for (size_t i = 0; rc == 0 && i < b->count; i++) {
		job *j = &b->jobs[i];
		if ((rc = capstan_pool_wait(b->pool, i)) < 0)
			break;
		if (j->state == JOB_SIGNED && !in_tx) {
			if ((rc = capstan_store_begin(b->ctx)) < 0)
				break;
			in_tx = 1;
			g.count = g.bytes = 0;
			g.started = seconds();
		}
		g.bytes += j->der.len + j->plan.sealed.len;
		wrc = j->state == JOB_SIGNED ? write_job(b, j, &p.certs[p.count]) : 0;
		if (j->state == JOB_SIGNED && wrc == 0) {
			p.index[p.count++] = i;
			g.count++;
		} else if (wrc < 0 && wrc != CAPSTAN_EEXISTS && wrc != CAPSTAN_EINVALID) {
			/* Not the request's fault (the database, its connection, the
			 * disk): the batch stops with that one error, rather than
			 * blaming it on every request that follows. */
			rc = wrc;
		} else {
			capstan_batch_result r = { i, NULL, j->state == JOB_FAILED ? j->error : capstan_error_message(b->ctx),
				j->state == JOB_FAILED ? j->subject : capstan_error_subject(b->ctx) };
			(*failed)++;
			rc = fn ? fn(&r, payload) : 0;
		}
		job_done(b, i);
		if (rc == 0 && in_tx && (group_full(&g) || i + 1 == b->count)) {
			in_tx = 0;
			if ((rc = capstan_store_commit(b->ctx)) == 0)
				rc = report_committed(&p, fn, payload);
		}
	}
	if (in_tx)
		rc = capstan_store_end(b->ctx, rc) < 0 ? (rc ? rc : CAPSTAN_ERROR) : rc;
	if (rc == 0 && p.count)
		rc = report_committed(&p, fn, payload);
	for (size_t i = 0; i < p.count; i++)
		capstan_cert_free(p.certs[i]); /* written but not committed: not reported */
	free(p.index);
	free(p.certs);
	return rc;
}

int capstan_issue_batch(capstan_ctx *ctx, const capstan_issue_opts *reqs, size_t count,
	const capstan_batch_opts *o, capstan_batch_fn fn, void *payload)
{
	batch b = { .ctx = ctx, .count = count };
	size_t failed = 0;
	int rc;

	if ((o && (rc = CAPSTAN_OPTS_CHECK(ctx, o, CAPSTAN_BATCH_OPTS_VERSION, "capstan_batch_opts")) < 0) ||
	    (rc = capstan_require_store(ctx)) < 0 || (rc = capstan_require_unlocked(ctx)) < 0)
		return rc;
	if (count == 0)
		return 0;
	if (!(b.jobs = calloc(count, sizeof(*b.jobs))))
		return capstan_error_oom(ctx);
	if ((rc = plan_jobs(&b, reqs)) == 0 &&
	    (rc = capstan_pool_start(&b.pool, ctx, count, WINDOW, o ? o->threads : 0, sign_one, &b)) == 0 &&
	    (rc = capstan_store_hold_dirty(ctx, 1)) == 0) {
		rc = write_all(&b, o, fn, payload, &failed);
		if (capstan_store_hold_dirty(ctx, 0) < 0 && rc == 0)
			rc = CAPSTAN_ERROR;
	}
	capstan_pool_stop(b.pool);
	for (size_t i = 0; i < count; i++) {
		capstan_buf_free(&b.jobs[i].der);
		capstan_x509_info_clear(&b.jobs[i].info);
		capstan_issue_plan_clear(&b.jobs[i].plan);
	}
	capstan_signers_clear(&b.signers);
	capstan_policy_cache_clear(&b.policy);
	free(b.jobs);
	if (rc == 0 && failed)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%zu of %zu certificates could not be issued", failed, count);
	return rc;
}
