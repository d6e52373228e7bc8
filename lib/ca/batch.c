/* The batch path: signing on every core (workers.h), one writer, commits in
 * groups. Workers take requests in order and may run at most WINDOW ahead of
 * the writer, so memory stays bounded however long the batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capstan/ca.h>

#include "audit.h"
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

static void job_done(batch *b, size_t i)
{
	capstan_buf_free(&b->jobs[i].der);
	capstan_issue_plan_clear(&b->jobs[i].plan);
	capstan_pool_release(b->pool, i + 1);
}

/* Jobs written together, in order: their rows go in a few multi-row
 * statements (store_batch.c) rather than six statements each. Failed jobs
 * ride along, so that every failure is reported in line order. */
typedef struct {
	size_t idx[CAPSTAN_STORE_MULTI_MAX];
	size_t n;
} chunk;

/* Whether job j can join the chunk: one environment (one lookup), and a
 * name once (a second request for it must see the first one's row). */
static int chunk_takes(const batch *b, const chunk *c, const job *j)
{
	if (c->n == CAPSTAN_STORE_MULTI_MAX)
		return 0;
	for (size_t k = 0; j->state == JOB_SIGNED && k < c->n; k++) {
		const job *o = &b->jobs[c->idx[k]];
		if (o->state == JOB_SIGNED &&
		    (o->plan.env.id != j->plan.env.id || strcmp(o->plan.name, j->plan.name) == 0))
			return 0;
	}
	return 1;
}

/* A chunk's certificate on its way in. */
typedef struct {
	size_t index;
	capstan_store_latest previous;
	unsigned char spki[CAPSTAN_SHA256_LEN];
	char *state;
} chunk_item;

static int report_failure(size_t i, const char *error, unsigned subject, capstan_batch_fn fn,
	void *payload, size_t *failed)
{
	capstan_batch_result r = { i, NULL, error, subject };

	(*failed)++;
	return fn ? fn(&r, payload) : 0;
}

/* The chunk's lines that fail before anything is written (refused at
 * planning, a name with a valid certificate) are reported; the others
 * become rows[0..*n), their records made from what the workers signed.
 * 0, or an error that stops the batch. */
static int chunk_rows(batch *b, const chunk *c, chunk_item *items, capstan_store_new_leaf *rows, size_t *n,
	capstan_batch_fn fn, void *payload, size_t *failed)
{
	const char *names[CAPSTAN_STORE_MULTI_MAX];
	capstan_store_latest latest[CAPSTAN_STORE_MULTI_MAX];
	size_t named = 0, next = 0;
	int64_t env_id = 0;
	int rc = 0;

	for (size_t k = 0; k < c->n; k++)
		if (b->jobs[c->idx[k]].state == JOB_SIGNED) {
			env_id = b->jobs[c->idx[k]].plan.env.id;
			names[named++] = b->jobs[c->idx[k]].plan.name;
		}
	if (named && (rc = capstan_store_leaves_latest(b->ctx, env_id, names, named, latest)) < 0)
		return rc;
	*n = 0;
	for (size_t k = 0; rc == 0 && k < c->n; k++) {
		job *j = &b->jobs[c->idx[k]];
		chunk_item *it = &items[*n];
		if (j->state != JOB_SIGNED) {
			rc = report_failure(c->idx[k], j->error, j->subject, fn, payload, failed);
			continue;
		}
		*it = (chunk_item){ c->idx[k], latest[next++], { 0 }, NULL };
		rows[*n] = (capstan_store_new_leaf){ NULL, &j->plan.sealed, it->spki, 0 };
		if (it->previous.id && it->previous.status == CAPSTAN_STATUS_VALID && !j->o->replace) {
			rc = capstan_issue_conflict(b->ctx, &j->plan, it->previous.serial);
			capstan_x509_info_clear(&j->info);
		} else if ((rc = capstan_ca_record_row(b->ctx, &j->mint, j->info, &j->der, &rows[*n].cert)) == 0)
			rc = capstan_x509_spki_sha256(b->ctx, rows[*n].cert->der, rows[*n].cert->der_len, it->spki);
		j->info = (capstan_x509_info){ 0 }; /* consumed */
		if (rc == 0) {
			(*n)++;
			continue;
		}
		capstan_cert_free(rows[*n].cert);
		if (rc == CAPSTAN_EEXISTS || rc == CAPSTAN_EINVALID)
			rc = report_failure(c->idx[k], capstan_error_message(b->ctx), capstan_error_subject(b->ctx), fn,
				payload, failed);
	}
	return rc;
}

/* The rows' certificates, keys, supersedes and audit rows, in the open
 * transaction. Nothing here fails a line alone: an error stops the batch,
 * and its group is rolled back whole. */
static int chunk_write(batch *b, chunk_item *items, capstan_store_new_leaf *rows, size_t n)
{
	capstan_audit_change changes[CAPSTAN_STORE_MULTI_MAX];
	int rc = n ? capstan_store_leaves_insert(b->ctx, b->jobs[items[0].index].plan.env.id, rows, n) : 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		job *j = &b->jobs[items[i].index];
		const capstan_store_latest *prev = &items[i].previous;
		const char *serials[2];
		/* Its serial taken since the worker drew it: signed again (ca.c). */
		if (!rows[i].cert->id &&
		    (rc = capstan_ca_insert_unused(b->ctx, &j->mint, &rows[i].cert, rows[i].key_id, items[i].spki, 1)) < 0)
			break;
		/* An expired (or, when replacing, valid) certificate of the line is superseded. */
		if (prev->id && (prev->status == CAPSTAN_STATUS_EXPIRED || prev->status == CAPSTAN_STATUS_VALID) &&
		    (rc = capstan_store_cert_supersede(b->ctx, prev->id, rows[i].cert->id)) < 0)
			break;
		serials[0] = rows[i].cert->serial;
		serials[1] = prev->id ? prev->serial : NULL;
		if ((rc = capstan_store_state_take_of(b->ctx, serials, 2, &items[i].state)) < 0)
			break;
		changes[i] = (capstan_audit_change){ j->o->replace && prev->id ? "reissue" : "issue", j->plan.env.name,
			j->plan.name, rows[i].cert->serial, capstan_key_type_name(rows[i].cert->key_type), items[i].state };
	}
	return rc == 0 ? capstan_audit_append_rows(b->ctx, changes, n) : rc;
}

/* The chunk written (its certificates to p, reported once committed) and emptied. */
static int chunk_flush(batch *b, chunk *c, pending *p, capstan_batch_fn fn, void *payload, size_t *failed)
{
	chunk_item items[CAPSTAN_STORE_MULTI_MAX];
	capstan_store_new_leaf rows[CAPSTAN_STORE_MULTI_MAX];
	size_t n = 0;
	int rc;

	if ((rc = chunk_rows(b, c, items, rows, &n, fn, payload, failed)) == 0)
		rc = chunk_write(b, items, rows, n);
	for (size_t i = 0; i < n; i++) {
		free(items[i].state);
		if (rc == 0) {
			p->index[p->count] = items[i].index;
			p->certs[p->count++] = rows[i].cert;
		} else {
			capstan_cert_free(rows[i].cert);
		}
	}
	for (size_t k = 0; k < c->n; k++)
		job_done(b, c->idx[k]);
	c->n = 0;
	return rc;
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
	pending p = { calloc(g.max_count + CAPSTAN_STORE_MULTI_MAX, sizeof(size_t)),
		calloc(g.max_count + CAPSTAN_STORE_MULTI_MAX, sizeof(capstan_cert *)), 0 };
	chunk c = { .n = 0 };
	int rc = p.index && p.certs ? 0 : capstan_error_oom(b->ctx), in_tx = 0;

	for (size_t i = 0; rc == 0 && i < b->count; i++) {
		job *j = &b->jobs[i];
		if ((rc = capstan_pool_wait(b->pool, i)) < 0 ||
		    (!chunk_takes(b, &c, j) && (rc = chunk_flush(b, &c, &p, fn, payload, failed)) < 0))
			break;
		if (j->state == JOB_SIGNED && !in_tx) {
			if ((rc = capstan_store_begin(b->ctx)) < 0)
				break;
			in_tx = 1;
			g.count = g.bytes = 0;
			g.started = seconds();
		}
		c.idx[c.n++] = i;
		g.bytes += j->der.len + j->plan.sealed.len;
		g.count += j->state == JOB_SIGNED;
		if (in_tx && (group_full(&g) || i + 1 == b->count)) {
			if ((rc = chunk_flush(b, &c, &p, fn, payload, failed)) < 0)
				break;
			in_tx = 0;
			if ((rc = capstan_store_commit(b->ctx)) == 0)
				rc = report_committed(&p, fn, payload);
		}
	}
	/* Lines that failed with no transaction open after them. */
	if (rc == 0 && c.n)
		rc = chunk_flush(b, &c, &p, fn, payload, failed);
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
