/*
 * The inventory moved whole (include/capstan/inventory.h): migrate, backup
 * and restore are one copy from a source context's store into a target
 * context's, verified before the target commits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capstan/check.h>
#include <capstan/file.h>
#include <capstan/home.h>
#include <capstan/inventory.h>

#include "audit.h"
#include "ca_internal.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* Another context's error, as ERR's (copied first: it may be ERR itself). */
static int pass_error(capstan_ctx *err, const capstan_ctx *other, int rc, const char *prefix)
{
	char msg[sizeof(err->error_message)];

	if (other == err)
		return rc;
	snprintf(msg, sizeof(msg), "%s", capstan_error_message(other));
	return capstan_error(err, rc, "%s%s", prefix, msg);
}

/* A context on the inventory at WHERE and no home (what a copy writes to or reads from). */
static int open_other(capstan_ctx **out, const char *where, int create)
{
	capstan_ctx *o = NULL;
	int rc;

	if ((rc = capstan_ctx_new(&o)) < 0)
		return rc;
	if ((rc = capstan_ctx_set_inventory(o, where)) < 0 ||
	    (rc = capstan_store_open(&o->store, o, where, create, capstan_x509_spki_sha256)) < 0) {
		*out = o; /* its error is the caller's to pass on */
		return rc;
	}
	*out = o;
	return 0;
}

/* The target unlocked with the source's keys: the same data key opens the copy's keys. */
static int share_keys(capstan_ctx *to, const capstan_ctx *from)
{
	memcpy(to->kek, from->kek, sizeof(to->kek));
	to->kek_set = from->kek_set;
	return capstan_audit_unlocked(to);
}

/* check's findings: counted, the first kept for the error. */
typedef struct {
	char first[512];
} findings;

static int note_problem(const capstan_check_problem *p, void *payload)
{
	findings *f = payload;

	if (!f->first[0])
		snprintf(f->first, sizeof(f->first), "%s: %s", p->area, p->message);
	return 0;
}

/* check on the uncommitted copy: no more problems than the source has (which is read only when the copy has any). */
static int check_copy(capstan_ctx *err, capstan_ctx *from, capstan_ctx *to, capstan_copy_summary *summary)
{
	capstan_check_summary in_copy, in_source;
	findings f = { { 0 } }, g = { { 0 } };
	int rc;

	if ((rc = capstan_check(&in_copy, to, note_problem, &f)) < 0)
		return pass_error(err, to, rc, "the copy cannot be checked: ");
	summary->verified = in_copy.verified;
	summary->keys_opened = in_copy.keys_opened;
	summary->problems = in_copy.problems;
	if (!in_copy.problems)
		return 0;
	if ((rc = capstan_check(&in_source, from, note_problem, &g)) < 0)
		return pass_error(err, from, rc, "the source cannot be checked: ");
	if (in_copy.problems > in_source.problems)
		return capstan_error(err, CAPSTAN_EDAMAGED, "the copy fails check (%zu problems, the source %zu): %s",
			in_copy.problems, in_source.problems, f.first);
	return 0;
}

/* The copy itself: source in one snapshot, target in one transaction, committed only when it compares equal and checks. */
static int copy_verified(capstan_ctx *err, capstan_ctx *from, capstan_ctx *to, capstan_copy_summary *summary)
{
	capstan_store_copy_stats stats;
	int rc;

	memset(summary, 0, sizeof(*summary));
	if ((rc = capstan_store_snapshot(err, from->store, 1)) < 0)
		return rc;
	if ((rc = capstan_store_begin(to)) < 0) {
		rc = pass_error(err, to, rc, "");
		goto done;
	}
	if ((rc = capstan_store_copy(err, from->store, to->store, &stats)) == 0 &&
	    (rc = capstan_store_copy_compare(err, from->store, to->store)) == 0) {
		if ((rc = share_keys(to, from)) < 0)
			rc = pass_error(err, to, rc, "the copy's keyring: ");
		else
			rc = check_copy(err, from, to, summary);
	}
	if (rc < 0) {
		capstan_store_rollback(to);
		goto done;
	}
	if ((rc = capstan_store_commit(to)) < 0) {
		rc = pass_error(err, to, rc, "the copy cannot be committed: ");
		goto done;
	}
	summary->rows = stats.rows;
	summary->certs = stats.certs;
	summary->audit_rows = stats.audit_rows;
	summary->tables = stats.tables;
done:
	capstan_store_snapshot(err, from->store, 0);
	return rc;
}

int capstan_inventory_migrate(capstan_copy_summary *summary, capstan_ctx *ctx, const char *to)
{
	capstan_ctx *target = NULL;
	int rc;

	if ((rc = capstan_require_unlocked(ctx)) < 0)
		return rc;
	if ((rc = open_other(&target, to, 1)) < 0) {
		rc = pass_error(ctx, target, rc, "");
		capstan_ctx_free(target);
		return rc;
	}
	rc = copy_verified(ctx, ctx, target, summary);
	capstan_ctx_free(target);
	return rc;
}

/* The backup's database, written through and closed, left in one file. */
static int write_backup(capstan_ctx *ctx, const char *tmp, capstan_copy_summary *summary)
{
	capstan_ctx *target = NULL;
	char *where = capstan_aprintf("sqlite:%s", tmp);
	int rc;

	if (!where)
		return capstan_error_oom(ctx);
	if ((rc = open_other(&target, where, 1)) < 0)
		rc = pass_error(ctx, target, rc, "");
	else if ((rc = copy_verified(ctx, ctx, target, summary)) == 0 &&
		 (rc = capstan_store_self_contained(ctx, target->store)) < 0)
		rc = pass_error(ctx, target, rc, "");
	capstan_ctx_free(target); /* closes it: SQLite folds its WAL in */
	free(where);
	return rc;
}

int capstan_inventory_backup(capstan_copy_summary *summary, capstan_ctx *ctx, const char *file)
{
	capstan_file *out = NULL;
	int rc;

	if ((rc = capstan_require_unlocked(ctx)) < 0)
		return rc;
	if (strcmp(file, "-") == 0)
		return capstan_error(ctx, CAPSTAN_EINVALID, "a backup is a database file: give its path, not -");
	/* Made 0600 beside FILE, renamed over it when complete: a failed
	 * backup leaves the last good one in place. */
	if ((rc = capstan_file_begin(&out, ctx, file, 0600)) < 0)
		return rc;
	if ((rc = write_backup(ctx, capstan_file_temp(out), summary)) < 0) {
		capstan_file_abort(out);
		return rc;
	}
	return capstan_file_commit(out, NULL, 0);
}

int capstan_backup_open(capstan_ctx **out, capstan_ctx *ctx, const char *file, const capstan_secret *passphrase)
{
	capstan_ctx *backup = NULL;
	char *where;
	struct stat sb;
	int rc;

	*out = NULL;
	if (lstat(file, &sb) < 0)
		return capstan_error(ctx, CAPSTAN_ENOTFOUND, "backup '%s': %s", file, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return capstan_error(ctx, CAPSTAN_EINVALID, "backup '%s' is not a regular file", file);
	if (!(where = capstan_aprintf("sqlite:%s", file)))
		return capstan_error_oom(ctx);
	if ((rc = open_other(&backup, where, 0)) < 0)
		rc = pass_error(ctx, backup, rc, "backup: ");
	else if (!capstan_home_has_keyring(backup)) /* unlocking would give it one */
		rc = capstan_error(ctx, CAPSTAN_EINVALID, "backup '%s' holds no inventory (no keyring)", file);
	else if ((rc = capstan_home_unlock(backup, passphrase)) < 0)
		rc = pass_error(ctx, backup, rc, "backup: ");
	free(where);
	if (rc < 0) {
		capstan_ctx_free(backup);
		return rc;
	}
	*out = backup;
	return 0;
}

int capstan_inventory_restore(capstan_copy_summary *summary, capstan_ctx *ctx, capstan_ctx *backup)
{
	int rc;

	if ((rc = capstan_require_store(ctx)) < 0 || (rc = capstan_require_unlocked(backup)) < 0)
		return rc;
	return copy_verified(ctx, backup, ctx, summary);
}
