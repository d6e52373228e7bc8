/*
 * renew --due: every certificate within its renewal window renewed, in
 * groups of 64 that each are one transaction. In a group the writer reads
 * and plans each candidate under the write lock, workers on every core read
 * the old certificates and sign the new ones (no database), and the writer
 * claims and records each under a savepoint. A group is reported only once
 * it has committed, so a crash never reports a renewal that did not happen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <capstan/lifecycle.h>

#include "reissue.h"
#include "workers.h"

#define DUE_GROUP 64

typedef enum { ITEM_SKIP = 0, ITEM_PLANNED, ITEM_SIGNED, ITEM_FAILED } item_state;

typedef struct {
	capstan_cert *old;
	reissue_plan plan;
	reissue_signed sig;
	item_state state;
	char error[300];
} due_item;

typedef struct {
	due_item *items;
	time_t now;
} signing;

static void item_clear(due_item *it)
{
	capstan_cert_free(it->old);
	capstan_reissue_plan_clear(&it->plan);
	capstan_buf_free(&it->sig.der);
	capstan_x509_info_clear(&it->sig.info);
}

/* In a worker: the old certificate read, the new one signed. */
static item_state sign_item(capstan_ctx *w, due_item *it, time_t now)
{
	char hex[2 * CAPSTAN_SERIAL_LEN + 1];

	if (capstan_reissue_subject(w, it->old, REISSUE_RENEW, &it->plan) < 0)
		goto fail;
	it->sig.mint = capstan_reissue_mint(it->old, REISSUE_RENEW, &it->plan, now);
	if (capstan_serial_generate(w, it->sig.mint.tmpl.serial, hex) < 0 ||
	    capstan_ca_sign(w, &it->sig.mint, &it->sig.der, &it->sig.info) < 0)
		goto fail;
	return ITEM_SIGNED;
fail:
	snprintf(it->error, sizeof(it->error), "%s", capstan_error_message(w));
	return ITEM_FAILED;
}

static void sign_one(capstan_ctx *w, void *arg, size_t i)
{
	signing *s = arg;

	if (s->items[i].state == ITEM_PLANNED)
		s->items[i].state = sign_item(w, &s->items[i], s->now);
}

/* The group's planned items signed on every core (workers.h). */
static int sign_all(capstan_ctx *ctx, due_item *items, size_t count)
{
	signing s = { items, time(NULL) };
	capstan_pool *pool = NULL;
	int rc = capstan_pool_start(&pool, ctx, count, count, 0, sign_one, &s);

	for (size_t i = 0; rc == 0 && i < count; i++)
		rc = capstan_pool_wait(pool, i);
	capstan_pool_stop(pool);
	return rc;
}

/* Under the write lock: each candidate read again (another run may have
 * renewed, revoked or rotated it) and planned. */
static int plan_items(capstan_ctx *ctx, const int64_t *ids, due_item *items, size_t count,
	capstan_signers *signers)
{
	int rc;

	for (size_t i = 0; i < count; i++) {
		due_item *it = &items[i];
		if ((rc = capstan_store_cert_get(ctx, ids[i], &it->old)) < 0)
			return rc;
		if (it->old->status != CAPSTAN_STATUS_VALID && it->old->status != CAPSTAN_STATUS_EXPIRED)
			continue; /* superseded or revoked since the candidates were read */
		rc = capstan_reissue_plan(ctx, it->old, REISSUE_RENEW, 0, &it->plan, signers);
		if (rc == CAPSTAN_EINVALID) {
			it->state = ITEM_FAILED;
			snprintf(it->error, sizeof(it->error), "%s", capstan_error_message(ctx));
		} else if (rc < 0) {
			return rc;
		} else {
			it->state = ITEM_PLANNED;
		}
	}
	return 0;
}

/* One signed item into the transaction: claimed (still due, or another run
 * renewed it first: 1), then recorded under a savepoint of its own. */
static int record_item(capstan_ctx *ctx, due_item *it, const capstan_due_opts *due, capstan_cert **out)
{
	int rc, claim;

	if ((rc = capstan_store_savepoint(ctx)) < 0)
		return rc;
	claim = capstan_store_still_due(ctx, it->old->id, time(NULL), due->within, due->from_old_ca);
	if (claim <= 0 || (rc = capstan_reissue_records(ctx, it->old, REISSUE_RENEW, &it->plan, &it->sig, out)) < 0) {
		capstan_store_undo(ctx);
		return claim < 0 ? claim : claim == 0 || rc == CAPSTAN_EEXISTS ? 1 : rc;
	}
	return capstan_store_release(ctx);
}

static int report_failure(const due_item *it, const char *problem, capstan_due_fn fn, void *payload,
	int *failures)
{
	capstan_due_result r = { it->old, NULL, problem, 0 };

	(*failures)++;
	return fn ? fn(&r, payload) : 0;
}

/* One group: planned, signed, recorded, committed, then reported. */
static int renew_group(capstan_ctx *ctx, const int64_t *ids, size_t count, const capstan_due_opts *opts,
	capstan_due_fn fn, void *payload, int *failures)
{
	due_item items[DUE_GROUP] = { 0 };
	capstan_cert *renewed[DUE_GROUP] = { 0 };
	/* Loaded under this group's lock: a CA rotated by another run is seen. */
	capstan_signers signers = { 0 };
	int rc;

	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	if ((rc = plan_items(ctx, ids, items, count, &signers)) < 0 || (rc = sign_all(ctx, items, count)) < 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < count; i++) {
		if (items[i].state == ITEM_FAILED) {
			rc = report_failure(&items[i], items[i].error, fn, payload, failures);
		} else if (items[i].state == ITEM_SIGNED) {
			rc = record_item(ctx, &items[i], opts, &renewed[i]);
			if (rc == CAPSTAN_EINVALID)
				rc = report_failure(&items[i], capstan_error_message(ctx), fn, payload, failures);
			else if (rc == 1)
				rc = 0; /* another run got there first: exactly once */
		}
	}
done:
	rc = capstan_store_end(ctx, rc);
	for (size_t i = 0; i < count; i++) {
		capstan_due_result r = { items[i].old, renewed[i], NULL, 0 };
		if (rc == 0 && renewed[i] && fn)
			rc = fn(&r, payload); /* committed: now it may be said */
		capstan_cert_free(renewed[i]);
		item_clear(&items[i]);
	}
	capstan_signers_clear(&signers);
	return rc;
}

/* A dry run: each candidate reported as planned, or with the reason the
 * real run would refuse it (no key here, a policy it no longer fits). */
static int report_due(capstan_ctx *ctx, const int64_t *ids, size_t count, capstan_due_fn fn, void *payload,
	int *failures)
{
	int rc = 0, why;

	for (size_t i = 0; rc == 0 && i < count; i++) {
		capstan_cert *cert = NULL;
		if ((rc = capstan_store_cert_get(ctx, ids[i], &cert)) == 0) {
			if ((why = capstan_reissue_forecast(ctx, cert, REISSUE_RENEW)) < 0 && why != CAPSTAN_EINVALID)
				rc = why;
			else if (why < 0)
				(*failures)++;
			if (rc == 0 && fn) {
				capstan_due_result r = { cert, NULL, why < 0 ? capstan_error_message(ctx) : NULL, why == 0 };
				rc = fn(&r, payload);
			}
		}
		capstan_cert_free(cert);
	}
	return rc;
}

int capstan_renew_due(capstan_ctx *ctx, const capstan_due_opts *opts, capstan_due_fn fn, void *payload)
{
	capstan_store_env env = { 0 };
	int64_t *ids = NULL;
	size_t count = 0;
	int rc, failures = 0;

	if ((rc = CAPSTAN_OPTS_CHECK(ctx, opts, CAPSTAN_DUE_OPTS_VERSION, "capstan_due_opts")) < 0 ||
	    (rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (opts->env && (rc = capstan_store_env_get(ctx, opts->env, &env)) < 0)
		return rc;
	rc = capstan_store_due_ids(ctx, env.id, time(NULL), opts->within, opts->from_old_ca, &ids, &count);
	capstan_store_env_clear(&env);
	if (rc == 0 && opts->dry_run) {
		rc = report_due(ctx, ids, count, fn, payload, &failures);
		free(ids);
		return rc == 0 && failures ? capstan_error(ctx, CAPSTAN_EINVALID, "%d certificate%s due would not be"
			" renewed", failures, failures == 1 ? "" : "s") : rc;
	}
	/* One fsync per group, and the write lock held briefly so that other
	 * runs interleave (they find what this one renewed no longer due). */
	if (rc == 0 && count && (rc = capstan_store_hold_dirty(ctx, 1)) == 0) {
		for (size_t i = 0; rc == 0 && i < count; i += DUE_GROUP)
			rc = renew_group(ctx, ids + i, count - i < DUE_GROUP ? count - i : DUE_GROUP, opts, fn,
				payload, &failures);
		if (capstan_store_hold_dirty(ctx, 0) < 0 && rc == 0)
			rc = CAPSTAN_ERROR;
	}
	free(ids);
	if (rc == 0 && failures)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%d certificate%s due could not be renewed",
			failures, failures == 1 ? "" : "s");
	return rc;
}
