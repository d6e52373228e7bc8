/*
 * The audit log: who did what, written in the same transaction as the
 * change. Rows are chained by SHA-256 (each row's hash covers the previous
 * hash and its own content), so anyone can check that the rows lead to the
 * recorded end. The end itself is sealed with HMAC-SHA-256 under a key
 * derived from the inventory's data key, so only a passphrase holder can
 * extend, cut or rewrite the log without the seal telling: the same split
 * as a Certificate Transparency log's hashed entries and signed tree head.
 * Rows of the second form carry the certificate states their change set,
 * which check replays against the certificates (audit_replay.c).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "audit_internal.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define AUDIT_KEY_INFO "capstan audit seal key v1"
#define SEAL_LABEL "capstan audit seal v1"

/* Appends "<len>:<bytes>," (or "~," for NULL): unambiguous, whatever the values hold. */
static int put_field(capstan_ctx *ctx, capstan_buf *out, const char *value)
{
	char len[24];
	int rc;

	if (!value)
		return capstan_buf_append(ctx, out, "~,", 2);
	snprintf(len, sizeof(len), "%zu:", strlen(value));
	if ((rc = capstan_buf_append(ctx, out, len, strlen(len))) < 0 ||
	    (rc = capstan_buf_append(ctx, out, value, strlen(value))) < 0)
		return rc;
	return capstan_buf_append(ctx, out, ",", 1);
}

int capstan_audit_chain_hash(capstan_ctx *ctx, const unsigned char prev[CAPSTAN_SHA256_LEN],
	const capstan_audit_entry *e, unsigned char out[CAPSTAN_SHA256_LEN])
{
	char id[24], at[24], uid[24];
	capstan_buf buf = CAPSTAN_BUF_INIT;
	int rc;

	if (e->form != 1 && e->form != 2)
		return capstan_error(ctx, CAPSTAN_EINVALID, "audit row %lld has an unknown form %d",
			(long long)e->id, e->form);
	snprintf(id, sizeof(id), "%lld", (long long)e->id);
	snprintf(at, sizeof(at), "%lld", (long long)e->at);
	snprintf(uid, sizeof(uid), "%u", e->uid);
	if ((rc = capstan_buf_append(ctx, &buf, prev, CAPSTAN_SHA256_LEN)) == 0 &&
	    (rc = put_field(ctx, &buf, e->form == 1 ? "capstan-audit-v1" : "capstan-audit-v2")) == 0 &&
	    (rc = put_field(ctx, &buf, id)) == 0 && (rc = put_field(ctx, &buf, at)) == 0 &&
	    (rc = put_field(ctx, &buf, uid)) == 0 && (rc = put_field(ctx, &buf, e->user)) == 0 &&
	    (rc = put_field(ctx, &buf, e->op)) == 0 && (rc = put_field(ctx, &buf, e->env)) == 0 &&
	    (rc = put_field(ctx, &buf, e->name)) == 0 && (rc = put_field(ctx, &buf, e->serial)) == 0 &&
	    (rc = put_field(ctx, &buf, e->detail)) == 0 &&
	    (e->form == 1 || (rc = put_field(ctx, &buf, e->state)) == 0))
		rc = capstan_sha256(ctx, buf.data, buf.len, out);
	capstan_buf_free(&buf);
	return rc;
}

int capstan_audit_seal(capstan_ctx *ctx, int64_t id, const unsigned char hash[CAPSTAN_SHA256_LEN],
	unsigned char seal[CAPSTAN_SHA256_LEN])
{
	unsigned char msg[sizeof(SEAL_LABEL) + 8 + CAPSTAN_SHA256_LEN];

	if (!ctx->audit_key_set)
		return capstan_error(ctx, CAPSTAN_EAUTH, "the audit log's seal needs the passphrase");
	memcpy(msg, SEAL_LABEL, sizeof(SEAL_LABEL)); /* with its NUL */
	for (int i = 0; i < 8; i++)
		msg[sizeof(SEAL_LABEL) + i] = (unsigned char)((uint64_t)id >> (56 - 8 * i));
	memcpy(msg + sizeof(SEAL_LABEL) + 8, hash, CAPSTAN_SHA256_LEN);
	return capstan_hmac_sha256(ctx, ctx->audit_key, sizeof(ctx->audit_key), msg, sizeof(msg), seal);
}

/* The user's name, or "uid:N": looked up once per context, not per row (the
 * lookup reads /etc/passwd, a twentieth of a batch's writer). */
static const char *user_name(capstan_ctx *ctx, uid_t uid)
{
	struct passwd pw, *found = NULL;
	char pwbuf[4096], uidname[32];
	const char *name = uidname;

	if (ctx->actor)
		return ctx->actor;
	if (ctx->user && ctx->user_uid == (unsigned)uid)
		return ctx->user;
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &found) != 0 || !found)
		snprintf(uidname, sizeof(uidname), "uid:%u", (unsigned)uid);
	else
		name = found->pw_name;
	free(ctx->user);
	if (!(ctx->user = strdup(name)))
		return NULL;
	ctx->user_uid = (unsigned)uid;
	return ctx->user;
}

/* The log's end a change appends to, once it may: see capstan_audit_append. */
static int append_point(capstan_ctx *ctx, capstan_store_audit_end *last)
{
	int rc;

	/* Only a passphrase holder extends the log, and not one whose end
	 * disagrees with its seal: that stays for an operator to look at.
	 * Inside the change's BEGIN IMMEDIATE: no other writer can append
	 * meanwhile. A long-running process looks again in each transaction
	 * (the same read gives the last row): a log cut since it unlocked is
	 * not extended, which would seal the cut. Within one, its own last row
	 * is the end (capstan_store_audit_cached): nobody else can move it. */
	if (!ctx->audit_key_set)
		return capstan_error(ctx, CAPSTAN_EAUTH, "changing the inventory needs the passphrase"
			" (the audit log is sealed with a key derived from it)");
	if (capstan_store_audit_cached(ctx, last))
		rc = 0; /* this transaction's own last row: checked when it first read the end */
	else if (ctx->audit_sealed && !ctx->audit_broken)
		rc = capstan_audit_end_problem(ctx, &ctx->audit_broken, 1, last);
	else
		rc = capstan_store_audit_last(ctx, &last->id, last->hash);
	if (rc < 0)
		return rc;
	if (ctx->audit_broken)
		return capstan_error(ctx, CAPSTAN_EDAMAGED, "%s: rows were removed or changed behind capstan's back;"
			" nothing is changed until the log is checked and resealed", ctx->audit_broken);
	return 0;
}

int capstan_audit_append_rows(capstan_ctx *ctx, const capstan_audit_change *changes, size_t n)
{
	unsigned char seal[CAPSTAN_SHA256_LEN];
	uid_t uid = getuid();
	capstan_audit_entry *rows;
	capstan_store_audit_end last;
	const char *user;
	time_t now = time(NULL);
	int rc;

	if (!n)
		return 0;
	if ((rc = append_point(ctx, &last)) < 0)
		return rc;
	if (!(user = user_name(ctx, uid)) || !(rows = calloc(n, sizeof(*rows))))
		return capstan_error_oom(ctx);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		capstan_audit_entry *e = &rows[i];
		e->id = last.id + 1 + (int64_t)i;
		e->at = now;
		e->uid = (unsigned)uid;
		e->user = (char *)user;
		e->op = (char *)changes[i].op;
		e->env = (char *)changes[i].env;
		e->name = (char *)changes[i].name;
		e->serial = (char *)changes[i].serial;
		e->detail = (char *)changes[i].detail;
		e->state = (char *)changes[i].state;
		e->form = 2;
		rc = capstan_audit_chain_hash(ctx, i ? rows[i - 1].hash : last.hash, e, e->hash);
	}
	/* Only the last row's seal is kept: it is the log's end. */
	if (rc == 0 && (rc = capstan_audit_seal(ctx, rows[n - 1].id, rows[n - 1].hash, seal)) == 0)
		rc = capstan_store_audit_insert_rows(ctx, rows, n, seal);
	free(rows);
	return rc;
}

int capstan_audit_append(capstan_ctx *ctx, const char *op, const char *env, const char *name,
	const char *serial, const char *detail, const char *state)
{
	capstan_audit_change c = { op, env, name, serial, detail, state };

	return capstan_audit_append_rows(ctx, &c, 1);
}

int capstan_audit_record(capstan_ctx *ctx, const char *op, const char *env,
	const char *name, const char *serial, const char *detail)
{
	char *state = NULL;
	int rc;

	/* The states this change set (store_audit.c) go into its row. */
	if ((rc = capstan_store_state_take(ctx, &state)) == 0)
		rc = capstan_audit_append(ctx, op, env, name, serial, detail, state);
	free(state);
	return rc;
}

int capstan_audit_end_problem(capstan_ctx *ctx, char **why, int appending, capstan_store_audit_end *last_out)
{
	capstan_store_audit_end end, own, *last = last_out ? last_out : &own;
	unsigned char seal[CAPSTAN_SHA256_LEN];
	int has_end, has_certs, rc;
	char msg[256];

	*why = NULL;
	if ((rc = capstan_store_audit_ends(ctx, &end, &has_end, last, &has_certs)) < 0)
		return rc;
	msg[0] = 0;
	/* Certificates without any row or end: the log was removed whole;
	 * unless a change is about to write its first row (appending). */
	if (!has_end && (last->id || (has_certs && !appending)))
		snprintf(msg, sizeof(msg), "the audit log's sealed end is missing");
	else if (has_end && !end.sealed)
		snprintf(msg, sizeof(msg), "the audit log's end (row %lld) is not sealed", (long long)end.id);
	else if (has_end && ((rc = capstan_audit_seal(ctx, end.id, end.hash, seal)) < 0))
		return rc;
	else if (has_end && !capstan_equal_ct(seal, end.seal, CAPSTAN_SHA256_LEN))
		snprintf(msg, sizeof(msg), "the audit log's recorded end (row %lld) does not match its seal",
			(long long)end.id);
	else if (has_end && (end.id != last->id || memcmp(end.hash, last->hash, CAPSTAN_SHA256_LEN) != 0))
		snprintf(msg, sizeof(msg), "the audit log ends at row %lld but its sealed end is row %lld",
			(long long)last->id, (long long)end.id);
	if (msg[0] && !(*why = strdup(msg)))
		return capstan_error_oom(ctx);
	return 0;
}

static int derive_audit_key(capstan_ctx *ctx)
{
	int rc;

	if (!ctx->kek_set)
		return capstan_error(ctx, CAPSTAN_EAUTH, "the inventory is not unlocked");
	if ((rc = capstan_hkdf_sha256(ctx, ctx->audit_key, sizeof(ctx->audit_key), ctx->kek,
		     sizeof(ctx->kek), AUDIT_KEY_INFO)) < 0)
		return rc;
	ctx->audit_key_set = 1;
	return 0;
}

int capstan_audit_log_sealed(capstan_ctx *ctx)
{
	capstan_buf wrap = CAPSTAN_BUF_INIT;
	int rc = capstan_store_meta_get(ctx, "keyring.wrap", &wrap);

	capstan_buf_free(&wrap);
	return rc == CAPSTAN_ENOTFOUND ? 0 : rc < 0 ? rc : 1;
}

int capstan_audit_unlocked(capstan_ctx *ctx)
{
	char *why = NULL;
	int rc;

	free(ctx->audit_broken);
	ctx->audit_broken = NULL;
	ctx->audit_sealed = 0;
	if ((rc = derive_audit_key(ctx)) < 0 || (rc = capstan_audit_log_sealed(ctx)) <= 0)
		return rc; /* a first-version keyring (a read-only copy): no seal yet */
	ctx->audit_sealed = 1;
	/* Not a refusal here: reading, exports and checks go on; only
	 * extending the log (every change) is refused (capstan_audit_append). */
	if ((rc = capstan_audit_end_problem(ctx, &why, 0, NULL)) == 0)
		ctx->audit_broken = why;
	return rc;
}

#define ADOPT_CHUNK 1000

typedef struct {
	capstan_ctx *ctx;
	capstan_buf lines;
	int64_t done, total, in_chunk;
	const char *note;
} adoption;

static int adopt_flush(adoption *a)
{
	char detail[256];
	int rc;

	if (!a->in_chunk)
		return 0;
	snprintf(detail, sizeof(detail), "certificates %lld-%lld of %lld as they stood when the log was first sealed%s",
		(long long)(a->done - a->in_chunk + 1), (long long)a->done, (long long)a->total, a->note);
	a->lines.data[a->lines.len - 1] = '\0'; /* the last newline */
	rc = capstan_audit_append(a->ctx, "adopt", NULL, NULL, NULL, detail, (const char *)a->lines.data);
	a->lines.len = 0;
	a->in_chunk = 0;
	return rc;
}

static int adopt_one(int64_t id, const char *serial, const char *status, const char *reason,
	const char *fingerprint, void *payload)
{
	adoption *a = payload;
	capstan_buf *b = &a->lines;
	int rc;

	(void)id;
	if ((rc = capstan_buf_append(a->ctx, b, serial, strlen(serial))) < 0 ||
	    (rc = capstan_buf_append(a->ctx, b, " ", 1)) < 0 ||
	    (rc = capstan_buf_append(a->ctx, b, status, strlen(status))) < 0 ||
	    (reason && strcmp(status, "revoked") == 0 &&
		((rc = capstan_buf_append(a->ctx, b, ":", 1)) < 0 ||
		 (rc = capstan_buf_append(a->ctx, b, reason, strlen(reason))) < 0)) ||
	    (rc = capstan_buf_append(a->ctx, b, " ", 1)) < 0 ||
	    (rc = capstan_buf_append(a->ctx, b, fingerprint, strlen(fingerprint))) < 0 ||
	    (rc = capstan_buf_append(a->ctx, b, "\n", 1)) < 0)
		return rc;
	a->done++;
	return ++a->in_chunk == ADOPT_CHUNK ? adopt_flush(a) : 0;
}

static int count_one(int64_t id, const char *serial, const char *status, const char *reason,
	const char *fingerprint, void *payload)
{
	(void)id, (void)serial, (void)status, (void)reason, (void)fingerprint;
	((adoption *)payload)->total++;
	return 0;
}

/*
 * Inside the keyring's upgrade: the rows so far are of the first form and
 * their end was never sealed. Every certificate's state goes into rows of
 * the second form (ADOPT_CHUNK a row), so check can replay against them,
 * and the end is sealed. A recorded end that already disagreed with the
 * last row is said in those rows, not silently made right.
 */
int capstan_audit_keyring_upgraded(capstan_ctx *ctx)
{
	adoption a = { .ctx = ctx, .note = "" };
	capstan_store_audit_end end, last;
	int has_end, has_certs, rc;

	if ((rc = derive_audit_key(ctx)) < 0 ||
	    (rc = capstan_store_audit_ends(ctx, &end, &has_end, &last, &has_certs)) < 0)
		return rc;
	if ((has_end && (end.id != last.id || memcmp(end.hash, last.hash, CAPSTAN_SHA256_LEN) != 0)) ||
	    (!has_end && last.id))
		a.note = "; the log's recorded end did not match its last row before";
	if ((rc = capstan_store_cert_states(ctx, count_one, &a)) < 0 ||
	    (rc = capstan_store_cert_states(ctx, adopt_one, &a)) < 0 ||
	    (rc = adopt_flush(&a)) < 0)
		goto done;
	if (a.total == 0) { /* nothing appended: seal the end as it is */
		last.sealed = 1;
		rc = capstan_audit_seal(ctx, last.id, last.hash, last.seal);
		if (rc == 0)
			rc = capstan_store_audit_end_set(ctx, &last);
	}
done:
	capstan_buf_free(&a.lines);
	return rc;
}
