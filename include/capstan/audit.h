/*
 * capstan — the audit log: one row per change, written in the change's own
 * transaction (table "audit" in the inventory). The rows form a hash chain:
 * each row's hash is SHA-256 over the previous row's hash and its own
 * canonical content (with the certificate states the change set), and the
 * inventory keeps the last row's id and hash sealed with HMAC-SHA-256 under
 * a key derived from the passphrase, so editing, deleting, inserting or
 * reordering rows is detected, and only a passphrase holder can extend the
 * log. An anchor kept outside the inventory also catches a rollback to an
 * older copy of the whole inventory.
 */
#ifndef CAPSTAN_AUDIT_H
#define CAPSTAN_AUDIT_H

#include "common.h"

CAPSTAN_BEGIN_API

typedef struct {
	int64_t id;
	time_t at;
	unsigned uid;
	char *user;
	char *op;
	char *env;    /* may be NULL */
	char *name;   /* may be NULL */
	char *serial; /* may be NULL */
	char *detail; /* may be NULL */
	unsigned char hash[CAPSTAN_SHA256_LEN];
	int form;     /* how hash was made: 1 (rows before capstan 0.2), 2 (state included) */
	char *state;  /* the certificates the change set: "SERIAL STATUS FINGERPRINT" lines; may be NULL */
} capstan_audit_entry;

void capstan_audit_entry_free(capstan_audit_entry *entry);

/* *out is the caller's: capstan_audit_iter_free() (also before the end). */
typedef struct capstan_audit_iter capstan_audit_iter;
CAPSTAN_WARN_UNUSED int capstan_audit_iter_new(capstan_audit_iter **out, capstan_ctx *ctx);
/* 0 and *out (the caller's: capstan_audit_entry_free()), CAPSTAN_ITEROVER at
 * the end, or an error. */
CAPSTAN_WARN_UNUSED int capstan_audit_iter_next(capstan_audit_entry **out, capstan_audit_iter *iter);
void capstan_audit_iter_free(capstan_audit_iter *iter);

/*
 * Checks the hash chain. 0 when it is intact; CAPSTAN_EINVALID when it is
 * not, with *bad_id the first row found wrong (0 when the fault is the chain's
 * end) and a message saying what is wrong with it. The same as
 * capstan_audit_verify_ex with no anchors.
 */
CAPSTAN_WARN_UNUSED int capstan_audit_verify(int64_t *bad_id, int64_t *rows, capstan_ctx *ctx);

/* What capstan_audit_verify_ex checked. */
typedef struct {
	int64_t rows;       /* rows whose hash was checked */
	int64_t bad_id;     /* the first row found wrong; 0: none, or the fault is the log's end */
	int seal_checked;   /* the end's seal was checked: the home is unlocked and the log sealed */
	size_t anchors;     /* anchors of this log found in the text and checked */
	size_t other_logs;  /* anchors of other inventories' logs, skipped */
} capstan_audit_report;

/*
 * Checks every row's hash, that they lead to the recorded end, the end's seal
 * (only with an unlocked home: the seal's key comes from the passphrase), and
 * that the log still extends every anchor of this log in the anchors text
 * (NULL: none; any text holding lines printed by capstan_audit_anchor, such as
 * a syslog file; name says where it came from, for messages). A text with
 * no anchor of this log is an error. 0 when all of it holds; else
 * CAPSTAN_EINVALID and a message saying what is wrong.
 */
CAPSTAN_WARN_UNUSED int capstan_audit_verify_ex(capstan_audit_report *report, capstan_ctx *ctx,
	const char *anchors, size_t anchors_len, const char *name);

/*
 * The log's end as one line to keep outside the inventory (a file another
 * user keeps, syslog, a ticket): "capstan-audit-anchor log=L row=N sha256=H",
 * L naming this log (its first row), H the hash of row N. The log is checked
 * first, as capstan_audit_verify_ex does; *line is the caller's
 * (capstan_buf_free), without a newline.
 */
CAPSTAN_WARN_UNUSED int capstan_audit_anchor(capstan_buf *line, capstan_audit_report *report, capstan_ctx *ctx);

/*
 * After an operator has looked at a log whose end does not match its seal
 * (rows cut or changed behind capstan's back, which blocks every change):
 * accepts the log as it is, appending a "reseal" row that says what the seal
 * named and where the log now ends, and seals that. The rows themselves must
 * still chain (an edited row is not accepted). Needs an unlocked home.
 */
CAPSTAN_WARN_UNUSED int capstan_audit_reseal(capstan_ctx *ctx);

CAPSTAN_END_API

#endif
