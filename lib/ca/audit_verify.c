/*
 * Checking the audit log: every row's hash, the recorded end and its seal,
 * and anchors kept outside the inventory; printing an anchor; resealing a
 * log an operator has looked at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_internal.h"
#include "base/base.h"
#include "store/store.h"

#define ANCHOR_TOKEN "capstan-audit-anchor "
#define LOG_ID_LEN 8

typedef struct {
	int64_t row;
	unsigned char hash[CAPSTAN_SHA256_LEN];
	size_t line;
} anchor;

typedef struct {
	anchor *items;
	size_t count;
	const char *name;
} anchor_set;

/* "log=L row=N sha256=H" after the token (then the line's end or a
 * space); 0, or -1 when it is not that. */
static int parse_anchor(const char *p, const char *end, unsigned char log[LOG_ID_LEN], anchor *a)
{
	char text[160], logx[2 * LOG_ID_LEN + 1], hashx[2 * CAPSTAN_SHA256_LEN + 1];
	long long row;
	size_t n = (size_t)(end - p);
	int used = -1;

	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	memcpy(text, p, n);
	text[n] = '\0';
	if (sscanf(text, "log=%16[0-9a-f] row=%lld sha256=%64[0-9a-f]%n", logx, &row, hashx, &used) != 3 ||
	    used < 0 || (text[used] && text[used] != ' ' && text[used] != '\r') || row < 1 ||
	    capstan_hex_decode(log, LOG_ID_LEN, logx) < 0 ||
	    capstan_hex_decode(a->hash, CAPSTAN_SHA256_LEN, hashx) < 0)
		return -1;
	a->row = row;
	return 0;
}

static int by_row(const void *a, const void *b)
{
	const anchor *x = a, *y = b;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* The first ANCHOR_TOKEN in [p, end), or NULL. */
static const char *find_token(const char *p, const char *end)
{
	size_t n = strlen(ANCHOR_TOKEN);

	for (; (size_t)(end - p) >= n; p++) {
		const char *c = memchr(p, 'c', (size_t)(end - p));
		if (!c || (size_t)(end - c) < n)
			return NULL;
		if (memcmp(c, ANCHOR_TOKEN, n) == 0)
			return c;
		p = c;
	}
	return NULL;
}

/* Every anchor line of this log (log_id) in text, sorted by row. */
static int anchors_read(capstan_ctx *ctx, anchor_set *set, capstan_audit_report *r, const char *text,
	size_t len, const unsigned char log_id[LOG_ID_LEN])
{
	const char *p = text, *stop = text + len;
	size_t line = 0, cap = 0;

	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p)), *eol = nl ? nl : stop, *tok;
		unsigned char log[LOG_ID_LEN];
		anchor a = { .line = ++line };

		tok = find_token(p, eol);
		p = eol + 1;
		if (!tok)
			continue;
		if (parse_anchor(tok + strlen(ANCHOR_TOKEN), eol, log, &a) < 0)
			return capstan_error(ctx, CAPSTAN_EINVALID, "line %zu of %s: not a readable audit anchor",
				a.line, set->name);
		if (memcmp(log, log_id, LOG_ID_LEN) != 0) {
			r->other_logs++;
			continue;
		}
		if (set->count == cap) {
			anchor *grown = realloc(set->items, (cap = cap ? 2 * cap : 16) * sizeof(*grown));
			if (!grown)
				return capstan_error_oom(ctx);
			set->items = grown;
		}
		set->items[set->count++] = a;
	}
	if (!set->count)
		return capstan_error(ctx, CAPSTAN_EINVALID, "%s holds no anchor of this inventory's audit log%s",
			set->name, r->other_logs ? " (only other logs')" : "");
	qsort(set->items, set->count, sizeof(*set->items), by_row);
	r->anchors = set->count;
	return 0;
}

/* Checks one row against the chain so far; says what is wrong with it. */
static int verify_row(capstan_ctx *ctx, const capstan_audit_entry *e, int64_t expected_id,
	const unsigned char prev[CAPSTAN_SHA256_LEN])
{
	unsigned char want[CAPSTAN_SHA256_LEN];
	int rc;

	if (e->id < expected_id)
		return capstan_error(ctx, CAPSTAN_EINVALID, "audit row %lld is out of order", (long long)e->id);
	if (e->id > expected_id)
		return capstan_error(ctx, CAPSTAN_EINVALID, "audit row %lld is missing (the log jumps to row %lld)",
			(long long)expected_id, (long long)e->id);
	if ((rc = capstan_audit_chain_hash(ctx, prev, e, want)) < 0)
		return rc;
	if (memcmp(want, e->hash, CAPSTAN_SHA256_LEN) != 0)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"audit row %lld does not match its hash: it, or a row before it, was changed",
			(long long)e->id);
	return 0;
}

/* The anchors at row e->id (set->items from *next on) against its hash. */
static int check_anchors_at(capstan_ctx *ctx, const anchor_set *set, size_t *next, const capstan_audit_entry *e)
{
	for (; *next < set->count && set->items[*next].row <= e->id; (*next)++) {
		const anchor *a = &set->items[*next];
		if (a->row == e->id && memcmp(a->hash, e->hash, CAPSTAN_SHA256_LEN) != 0)
			return capstan_error(ctx, CAPSTAN_EINVALID, "audit row %lld does not match the anchor on line %zu"
				" of %s: the log was rewritten since", (long long)e->id, a->line, set->name);
	}
	return 0;
}

/* Every row in order: ids without gaps, each hash, the anchors. *last: the
 * last row's id and hash. */
static int verify_rows(capstan_ctx *ctx, capstan_audit_report *r, const anchor_set *set,
	capstan_store_audit_end *last)
{
	capstan_audit_iter *it = NULL;
	capstan_audit_entry *e = NULL;
	size_t next = 0;
	int rc;

	memset(last, 0, sizeof(*last));
	if ((rc = capstan_audit_iter_new(&it, ctx)) < 0)
		return rc;
	while ((rc = capstan_audit_iter_next(&e, it)) == 0) {
		if ((rc = verify_row(ctx, e, last->id + 1, last->hash)) < 0)
			r->bad_id = e->id < last->id + 1 ? e->id : last->id + 1;
		else if ((rc = check_anchors_at(ctx, set, &next, e)) < 0)
			r->bad_id = e->id;
		if (rc < 0) {
			capstan_audit_entry_free(e);
			break;
		}
		memcpy(last->hash, e->hash, CAPSTAN_SHA256_LEN);
		last->id = e->id;
		r->rows++;
		capstan_audit_entry_free(e);
	}
	capstan_audit_iter_free(it);
	if (rc != CAPSTAN_ITEROVER)
		return rc;
	if (next < set->count)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the audit log ends at row %lld but the anchor on line %zu"
			" of %s names row %lld: rows were removed", (long long)last->id, set->items[next].line,
			set->name, (long long)set->items[next].row);
	return 0;
}

/* The recorded end against the last row (anyone can check that) and, with
 * the audit key, against its seal. */
static int verify_end(capstan_ctx *ctx, capstan_audit_report *r, const capstan_store_audit_end *last)
{
	capstan_store_audit_end end;
	char *why = NULL;
	int rc = capstan_store_audit_head(ctx, &end);

	if (rc == CAPSTAN_ENOTFOUND && last->id == 0)
		rc = 0; /* an empty log */
	else if (rc == CAPSTAN_ENOTFOUND)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the audit log's recorded end is missing");
	else if (rc < 0)
		return rc;
	else if (end.id != last->id)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"the audit log ends at row %lld but its recorded end is row %lld: rows were deleted",
			(long long)last->id, (long long)end.id);
	else if (memcmp(end.hash, last->hash, CAPSTAN_SHA256_LEN) != 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "audit row %lld does not match the recorded end",
			(long long)last->id);
	if (!ctx->audit_key_set || (rc = capstan_audit_log_sealed(ctx)) <= 0)
		return rc;
	if ((rc = capstan_audit_end_problem(ctx, &why, 0, NULL)) == 0 && why)
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "%s: rows were removed or changed behind capstan's back", why);
	free(why);
	r->seal_checked = rc == 0;
	return rc;
}

/* The first row's hash names the log: an anchor of another inventory's is not this one's. */
static int log_id(capstan_ctx *ctx, unsigned char id[LOG_ID_LEN])
{
	unsigned char first[CAPSTAN_SHA256_LEN];
	int rc = capstan_store_audit_row_hash(ctx, 1, first);

	if (rc == 0)
		memcpy(id, first, LOG_ID_LEN);
	return rc;
}

static int verify_all(capstan_audit_report *r, capstan_ctx *ctx, const char *anchors, size_t len,
	const char *name, capstan_store_audit_end *last)
{
	anchor_set set = { .name = name ? name : "the anchors" };
	unsigned char id[LOG_ID_LEN];
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = capstan_require_store(ctx)) < 0)
		return rc;
	if (anchors && (rc = log_id(ctx, id)) == CAPSTAN_ENOTFOUND)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the audit log has no first row, but %s holds anchors:"
			" rows were removed (or it is another inventory's)", set.name);
	if ((anchors && (rc < 0 || (rc = anchors_read(ctx, &set, r, anchors, len, id)) < 0)) ||
	    (rc = verify_rows(ctx, r, &set, last)) < 0 || (rc = verify_end(ctx, r, last)) < 0)
		goto done;
done:
	free(set.items);
	return rc;
}

int capstan_audit_verify_ex(capstan_audit_report *r, capstan_ctx *ctx, const char *anchors, size_t len,
	const char *name)
{
	capstan_store_audit_end last;

	return verify_all(r, ctx, anchors, len, name, &last);
}

int capstan_audit_verify(int64_t *bad_id, int64_t *rows, capstan_ctx *ctx)
{
	capstan_audit_report r;
	int rc = capstan_audit_verify_ex(&r, ctx, NULL, 0, NULL);

	*bad_id = r.bad_id;
	*rows = r.rows;
	return rc;
}

int capstan_audit_anchor(capstan_buf *line, capstan_audit_report *r, capstan_ctx *ctx)
{
	capstan_store_audit_end last;
	unsigned char id[LOG_ID_LEN];
	char idx[2 * LOG_ID_LEN + 1], hashx[2 * CAPSTAN_SHA256_LEN + 1], text[192];
	int rc;

	if ((rc = verify_all(r, ctx, NULL, 0, NULL, &last)) < 0)
		return rc;
	if (last.id == 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the audit log is empty: nothing to anchor yet");
	if ((rc = log_id(ctx, id)) < 0)
		return rc;
	capstan_hex_encode(idx, id, LOG_ID_LEN);
	capstan_hex_encode(hashx, last.hash, CAPSTAN_SHA256_LEN);
	snprintf(text, sizeof(text), ANCHOR_TOKEN "log=%s row=%lld sha256=%s", idx, (long long)last.id, hashx);
	return capstan_buf_append(ctx, line, text, strlen(text));
}

int capstan_audit_reseal(capstan_ctx *ctx)
{
	capstan_audit_report r = { 0 };
	capstan_store_audit_end last;
	anchor_set none = { .name = "" };
	char *why = NULL, *detail = NULL;
	int rc;

	if (!ctx->audit_key_set)
		return capstan_error(ctx, CAPSTAN_EAUTH, "resealing the audit log needs the passphrase");
	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	/* Looked at again under the write lock; the rows must still chain:
	 * a cut end is accepted, an edited row is not. */
	if ((rc = capstan_audit_end_problem(ctx, &why, 0, NULL)) == 0 && !why)
		rc = capstan_error(ctx, CAPSTAN_EEXISTS, "the audit log's end matches its seal: nothing to reseal");
	if (rc == 0 && (rc = verify_rows(ctx, &r, &none, &last)) == 0 &&
	    !(detail = capstan_aprintf("accepted as it was: %s", why)))
		rc = capstan_error_oom(ctx);
	if (rc == 0) {
		char *was = ctx->audit_broken;
		int sealed = ctx->audit_sealed;
		/* This one row extends the log as it is: that is the point. */
		ctx->audit_broken = NULL;
		ctx->audit_sealed = 0;
		rc = capstan_audit_append(ctx, "reseal", NULL, NULL, NULL, detail, NULL);
		ctx->audit_sealed = sealed;
		if (rc < 0)
			ctx->audit_broken = was;
		else
			free(was);
	}
	free(why);
	free(detail);
	return capstan_store_end(ctx, rc);
}
