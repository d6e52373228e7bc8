/*
 * Replaying the audit log against the certificates: the last state the log
 * recorded for each certificate (by fingerprint) must be the state its row
 * has now, every certificate must be in the log, and every certificate the
 * log names must still be there. This is what catches a revoked certificate
 * set back to valid, a certificate added or removed behind capstan's back,
 * even when the log's own rows were left alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "base/base.h"
#include "store/store.h"

#define MAX_STATES 32
#define MAX_STATE_LEN 48

typedef struct {
	unsigned char fp[CAPSTAN_SHA256_LEN];
	int64_t row;
	unsigned char state; /* index into replay.states */
	unsigned char seen;
} entry;

typedef struct {
	capstan_ctx *ctx;
	entry *items;
	size_t count, cap;
	char states[MAX_STATES][MAX_STATE_LEN];
	size_t nstates;
	int covered; /* every certificate is in some row: the log began in the second form, or adopted */
	capstan_audit_finding_fn fn;
	void *payload;
	size_t findings;
} replay;

static int intern(replay *r, const char *s, size_t len)
{
	for (size_t i = 0; i < r->nstates; i++)
		if (strlen(r->states[i]) == len && memcmp(r->states[i], s, len) == 0)
			return (int)i;
	if (r->nstates == MAX_STATES || len >= MAX_STATE_LEN)
		return -1;
	memcpy(r->states[r->nstates], s, len);
	r->states[r->nstates][len] = '\0';
	return (int)r->nstates++;
}

/* One "SERIAL STATUS FINGERPRINT" line of row id. */
static int add_line(replay *r, int64_t id, const char *line, size_t len)
{
	const char *sp1 = memchr(line, ' ', len), *sp2;
	entry *e;
	int state;

	if (!sp1 || !(sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line))) ||
	    line + len - (sp2 + 1) != 2 * CAPSTAN_SHA256_LEN)
		return capstan_error(r->ctx, CAPSTAN_EINVALID, "audit row %lld: unreadable certificate state",
			(long long)id);
	if ((state = intern(r, sp1 + 1, (size_t)(sp2 - sp1 - 1))) < 0)
		return capstan_error(r->ctx, CAPSTAN_EINVALID, "audit row %lld: too many kinds of certificate state",
			(long long)id);
	if (r->count == r->cap) {
		entry *grown = realloc(r->items, (r->cap = r->cap ? 2 * r->cap : 1024) * sizeof(*grown));
		if (!grown)
			return capstan_error_oom(r->ctx);
		r->items = grown;
	}
	e = &r->items[r->count];
	{
		char hex[2 * CAPSTAN_SHA256_LEN + 1];
		memcpy(hex, sp2 + 1, 2 * CAPSTAN_SHA256_LEN);
		hex[2 * CAPSTAN_SHA256_LEN] = '\0';
		if (capstan_hex_decode(e->fp, CAPSTAN_SHA256_LEN, hex) < 0)
			return capstan_error(r->ctx, CAPSTAN_EINVALID, "audit row %lld: unreadable fingerprint",
				(long long)id);
	}
	e->row = id;
	e->state = (unsigned char)state;
	e->seen = 0;
	r->count++;
	return 0;
}

static int read_log(replay *r)
{
	capstan_audit_iter *it = NULL;
	capstan_audit_entry *e = NULL;
	int rc, first = 1;

	if ((rc = capstan_audit_iter_new(&it, r->ctx)) < 0)
		return rc;
	while ((rc = capstan_audit_iter_next(&e, it)) == 0) {
		if ((first && e->form == 2) || strcmp(e->op, "adopt") == 0)
			r->covered = 1;
		first = 0;
		for (const char *p = e->state; rc == 0 && p && *p;) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			rc = add_line(r, e->id, p, len);
			p += len + (nl != NULL);
		}
		capstan_audit_entry_free(e);
		if (rc < 0)
			break;
	}
	capstan_audit_iter_free(it);
	return rc == CAPSTAN_ITEROVER ? 0 : rc;
}

static int by_fp_row(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	int c = memcmp(x->fp, y->fp, CAPSTAN_SHA256_LEN);

	return c ? c : (x->row < y->row ? -1 : x->row > y->row);
}

/* The last entry for fp, or NULL. */
static entry *last_for(replay *r, const unsigned char fp[CAPSTAN_SHA256_LEN])
{
	size_t lo = 0, hi = r->count;

	while (lo < hi) { /* the first entry past fp */
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(r->items[mid].fp, fp, CAPSTAN_SHA256_LEN) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && memcmp(r->items[lo - 1].fp, fp, CAPSTAN_SHA256_LEN) == 0 ? &r->items[lo - 1] : NULL;
}

static int finding(replay *r, const char *fmt, ...) CAPSTAN_PRINTF(2, 3);

static int finding(replay *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->findings++;
	return r->fn(msg, r->payload);
}

static int check_cert(int64_t id, const char *serial, const char *status, const char *reason,
	const char *fingerprint, void *payload)
{
	replay *r = payload;
	unsigned char fp[CAPSTAN_SHA256_LEN];
	char now[MAX_STATE_LEN + 64];
	entry *e;

	(void)id;
	snprintf(now, sizeof(now), "%s%s%s", status, reason && strcmp(status, "revoked") == 0 ? ":" : "",
		reason && strcmp(status, "revoked") == 0 ? reason : "");
	if (!fingerprint || capstan_hex_decode(fp, sizeof(fp), fingerprint) < 0)
		return finding(r, "certificate %s has an unreadable fingerprint", serial);
	if (!(e = last_for(r, fp)))
		return r->covered ? finding(r, "certificate %s (%s) is in no audit row: it was added behind"
				" capstan's back", serial, now) : 0;
	e->seen = 1;
	if (strcmp(r->states[e->state], now) != 0)
		return finding(r, "certificate %s is %s in the inventory, but the audit log last recorded it"
			" as %s (row %lld)", serial, now, r->states[e->state], (long long)e->row);
	return 0;
}

int capstan_audit_replay(capstan_ctx *ctx, capstan_audit_finding_fn fn, void *payload)
{
	replay r = { .ctx = ctx, .fn = fn, .payload = payload };
	int rc;

	if ((rc = read_log(&r)) < 0)
		goto done;
	if (r.count) /* a log without second-form rows has none (and qsort no NULL) */
		qsort(r.items, r.count, sizeof(*r.items), by_fp_row);
	if ((rc = capstan_store_cert_states(ctx, check_cert, &r)) < 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < r.count; i++) {
		char hex[2 * CAPSTAN_SHA256_LEN + 1];
		entry *e = &r.items[i];
		if ((i + 1 < r.count && memcmp(r.items[i + 1].fp, e->fp, CAPSTAN_SHA256_LEN) == 0) || e->seen)
			continue; /* not the last entry of its certificate, or found */
		capstan_hex_encode(hex, e->fp, CAPSTAN_SHA256_LEN);
		rc = finding(&r, "audit row %lld records the certificate with fingerprint %s as %s, but the inventory"
			" no longer has it", (long long)e->row, hex, r.states[e->state]);
	}
done:
	free(r.items);
	return rc;
}
