/* The audit log: who did what, written in the same transaction as the change,
 * each row chained to the one before it by SHA-256. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "store/store.h"

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

/* SHA-256(prev || canonical row). The id is part of the row, so moving a row
 * to another place in the chain changes its hash. */
static int chain_hash(capstan_ctx *ctx, const unsigned char prev[CAPSTAN_SHA256_LEN], const capstan_audit_entry *e,
	unsigned char out[CAPSTAN_SHA256_LEN])
{
	char id[24], at[24], uid[24];
	capstan_buf buf = CAPSTAN_BUF_INIT;
	int rc;

	snprintf(id, sizeof(id), "%lld", (long long)e->id);
	snprintf(at, sizeof(at), "%lld", (long long)e->at);
	snprintf(uid, sizeof(uid), "%u", e->uid);
	if ((rc = capstan_buf_append(ctx, &buf, prev, CAPSTAN_SHA256_LEN)) == 0 &&
	    (rc = put_field(ctx, &buf, "capstan-audit-v1")) == 0 &&
	    (rc = put_field(ctx, &buf, id)) == 0 && (rc = put_field(ctx, &buf, at)) == 0 &&
	    (rc = put_field(ctx, &buf, uid)) == 0 && (rc = put_field(ctx, &buf, e->user)) == 0 &&
	    (rc = put_field(ctx, &buf, e->op)) == 0 && (rc = put_field(ctx, &buf, e->env)) == 0 &&
	    (rc = put_field(ctx, &buf, e->name)) == 0 && (rc = put_field(ctx, &buf, e->serial)) == 0 &&
	    (rc = put_field(ctx, &buf, e->detail)) == 0)
		rc = capstan_sha256(ctx, buf.data, buf.len, out);
	capstan_buf_free(&buf);
	return rc;
}

/* The user's name, or "uid:N": looked up once per context, not per row (the
 * lookup reads /etc/passwd, a twentieth of a batch's writer). */
static const char *user_name(capstan_ctx *ctx, uid_t uid)
{
	struct passwd pw, *found = NULL;
	char pwbuf[4096], uidname[32];
	const char *name = uidname;

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

int capstan_audit_record(capstan_ctx *ctx, const char *op, const char *env,
	const char *name, const char *serial, const char *detail)
{
	unsigned char prev[CAPSTAN_SHA256_LEN];
	uid_t uid = getuid();
	capstan_audit_entry e = { 0 };
	int64_t last_id;
	int rc;

	if (!(e.user = (char *)user_name(ctx, uid)))
		return capstan_error_oom(ctx);
	/* Inside the change's BEGIN IMMEDIATE: no other writer can append meanwhile. */
	if ((rc = capstan_store_audit_last(ctx, &last_id, prev)) < 0)
		return rc;
	e.id = last_id + 1;
	e.at = time(NULL);
	e.uid = (unsigned)uid;
	e.op = (char *)op;
	e.env = (char *)env;
	e.name = (char *)name;
	e.serial = (char *)serial;
	e.detail = (char *)detail;
	if ((rc = chain_hash(ctx, prev, &e, e.hash)) < 0)
		return rc;
	return capstan_store_audit_insert(ctx, &e);
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
	if ((rc = chain_hash(ctx, prev, e, want)) < 0)
		return rc;
	if (memcmp(want, e->hash, CAPSTAN_SHA256_LEN) != 0)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"audit row %lld does not match its hash: it, or a row before it, was changed",
			(long long)e->id);
	return 0;
}

static int verify_head(capstan_ctx *ctx, int64_t last_id, const unsigned char last_hash[CAPSTAN_SHA256_LEN])
{
	unsigned char head_hash[CAPSTAN_SHA256_LEN];
	int64_t head_id = 0;
	int rc = capstan_store_audit_head(ctx, &head_id, head_hash);

	if (rc == CAPSTAN_ENOTFOUND && last_id == 0)
		return 0; /* an empty log */
	if (rc == CAPSTAN_ENOTFOUND)
		return capstan_error(ctx, CAPSTAN_EINVALID, "the audit log's recorded end is missing");
	if (rc < 0)
		return rc;
	if (head_id != last_id)
		return capstan_error(ctx, CAPSTAN_EINVALID,
			"the audit log ends at row %lld but its recorded end is row %lld: rows were deleted",
			(long long)last_id, (long long)head_id);
	if (memcmp(head_hash, last_hash, CAPSTAN_SHA256_LEN) != 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "audit row %lld does not match the recorded end",
			(long long)last_id);
	return 0;
}

int capstan_audit_verify(int64_t *bad_id, int64_t *rows, capstan_ctx *ctx)
{
	capstan_audit_iter *it = NULL;
	capstan_audit_entry *e = NULL;
	unsigned char prev[CAPSTAN_SHA256_LEN] = { 0 };
	int64_t expected = 1;
	int rc;

	*bad_id = 0;
	*rows = 0;
	if ((rc = capstan_audit_iter_new(&it, ctx)) < 0)
		return rc;
	while ((rc = capstan_audit_iter_next(&e, it)) == 0) {
		rc = verify_row(ctx, e, expected, prev);
		if (rc < 0) {
			*bad_id = e->id < expected ? e->id : expected;
			capstan_audit_entry_free(e);
			break;
		}
		memcpy(prev, e->hash, CAPSTAN_SHA256_LEN);
		expected = e->id + 1;
		(*rows)++;
		capstan_audit_entry_free(e);
	}
	capstan_audit_iter_free(it);
	if (rc != CAPSTAN_ITEROVER)
		return rc;
	return verify_head(ctx, expected - 1, prev);
}

int capstan_audit_unlocked(capstan_ctx *ctx)
{
	(void)ctx;
	return 0;
}

int capstan_audit_keyring_upgraded(capstan_ctx *ctx)
{
	(void)ctx;
	return 0;
}
