/*
 * capstan — the inventory moved whole: to another database (migrate), to a
 * file (backup) and back (restore). Keys stay sealed under the same
 * passphrase; nothing is decrypted on the way.
 *
 * Each copy is checked before it counts: the source is read in one snapshot
 * (other processes may go on writing), the target written in one
 * transaction, then compared with the source table by table, and checked as
 * capstan_check checks an inventory (chains, keys against their
 * certificates, the audit chain and its seal) while still uncommitted: a
 * copy that fails any of it leaves nothing behind. A source that check
 * already faults is copied as it is, and summary->problems says how many
 * problems the copy has (as many as the source; more is a failed copy).
 */
#ifndef CAPSTAN_INVENTORY_H
#define CAPSTAN_INVENTORY_H

#include "common.h"

CAPSTAN_BEGIN_API

typedef struct {
	int64_t rows;        /* every table's rows copied */
	int64_t certs;       /* of which certificates */
	int64_t audit_rows;  /* and audit rows */
	size_t tables;
	size_t verified;     /* live certificates whose chain check verified in the copy */
	size_t keys_opened;  /* sealed keys check opened and matched in the copy */
	size_t problems;     /* what check found in the copy (the source has as many) */
} capstan_copy_summary;

/*
 * Copies the open, unlocked inventory into the inventory at TO (sqlite:PATH,
 * a path, or a postgresql:// URL, as capstan_ctx_set_inventory takes), whose
 * schema is created when missing. The source is not changed. CAPSTAN_EEXISTS
 * when the target holds any inventory row; the driver's error when it cannot
 * be reached.
 */
CAPSTAN_WARN_UNUSED int capstan_inventory_migrate(capstan_copy_summary *summary, capstan_ctx *ctx, const char *to);

/*
 * A snapshot of the open, unlocked inventory as an SQLite file at FILE
 * (0600, one self-contained file), whatever the inventory's engine: written
 * beside FILE and renamed over it once verified, so that an existing FILE
 * (a regular file; never a link) is replaced only by a good backup.
 */
CAPSTAN_WARN_UNUSED int capstan_inventory_backup(capstan_copy_summary *summary, capstan_ctx *ctx, const char *file);

/*
 * The backup FILE (an SQLite file capstan_inventory_backup wrote, or any
 * SQLite inventory) opened and unlocked with PASSPHRASE, the backup's, in a
 * context of its own (*out, the caller's: capstan_ctx_free), for
 * capstan_inventory_restore: a program opens the backup first, so that a
 * wrong passphrase or a file that is no inventory is refused before the
 * inventory it restores into is created. CAPSTAN_EAUTH for a wrong
 * passphrase; errors are recorded in CTX.
 */
CAPSTAN_WARN_UNUSED int capstan_backup_open(capstan_ctx **out, capstan_ctx *ctx, const char *file,
	const capstan_secret *passphrase);

/*
 * Restores BACKUP (capstan_backup_open) into the open inventory of CTX,
 * which must be empty (CAPSTAN_EEXISTS otherwise) and is not unlocked: the
 * backup's passphrase becomes its passphrase.
 */
CAPSTAN_WARN_UNUSED int capstan_inventory_restore(capstan_copy_summary *summary, capstan_ctx *ctx,
	capstan_ctx *backup);

CAPSTAN_END_API

#endif
