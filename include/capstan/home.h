/*
 * capstan — the inventory home: a directory (0700) holding capstan.db (0600).
 */
#ifndef CAPSTAN_HOME_H
#define CAPSTAN_HOME_H

#include "common.h"

CAPSTAN_BEGIN_API

typedef enum {
	CAPSTAN_OPEN_EXISTING = 0, /* a missing home or database is an error */
	CAPSTAN_OPEN_CREATE = 1    /* create the home (0700) and database (0600) */
} capstan_open_flags;

/*
 * Opens (and migrates) the inventory in HOME and keeps it in the context.
 * HOME and its files (capstan.db, and -wal/-shm when present) must belong to
 * the effective user and be writable by no one else: CAPSTAN_EINVALID with
 * subject CAPSTAN_FIELD_HOME otherwise, naming the path, its mode and owner
 * and the chmod/chown that fixes it, before anything is read or changed.
 * Read access for group or others is allowed, and left as a warning
 * (capstan_home_warning).
 */
CAPSTAN_WARN_UNUSED int capstan_home_open(capstan_ctx *ctx, const char *home, unsigned flags);
/*
 * The inventory's database for the next capstan_home_open, instead of the
 * home's capstan.db: sqlite:PATH (an SQLite file), or a PostgreSQL database
 * as a libpq URI, postgresql://USER@HOST:PORT/DB?... (postgres:// too). A
 * password is never part of the URI (CAPSTAN_EINVALID when opening): libpq
 * finds it in PGPASSFILE, ~/.pgpass or PGPASSWORD. The schema is created
 * (CAPSTAN_OPEN_CREATE) and migrated in the database on first use; the
 * database itself must exist. The home is kept for everything else (its
 * configuration, the deploy lock). NULL goes back to the home's. Copied.
 */
CAPSTAN_WARN_UNUSED int capstan_ctx_set_inventory(capstan_ctx *ctx, const char *where);
/* The inventory's database as set by capstan_ctx_set_inventory, or NULL. */
const char *capstan_ctx_inventory(const capstan_ctx *ctx);
/* What opening the home found worth a warning but not a refusal (a home or
 * database readable by group or others), one line each: the context's
 * strings, which live until capstan_ctx_free. */
size_t capstan_home_warning_count(const capstan_ctx *ctx);
const char *capstan_home_warning(const capstan_ctx *ctx, size_t i);
/* The path of the open home, or NULL. The context's string: it lives while
 * the home is open (until capstan_ctx_free). */
const char *capstan_home_path(const capstan_ctx *ctx);

/*
 * Derives a key from the passphrase (scrypt, once per process), checks it
 * against the inventory and opens with it the inventory's data key, the key
 * its private keys are sealed under. The first unlock of a new inventory sets
 * the passphrase (at least 8 characters) and a random data key.
 * CAPSTAN_EAUTH when the passphrase is wrong; CAPSTAN_EDAMAGED when the
 * passphrase is right but the keyring's values are damaged. An inventory of
 * capstan 0.1 (whose keys are sealed under the passphrase's key itself) gets
 * its data key wrapped the same way, under a new salt, at its first unlock
 * that can write; a read-only one is unlocked as it is.
 * The context keeps only the data key, wiped when the context is freed.
 * It changes nothing about the process: keeping keys out of core dumps is
 * the program's decision (capstan_protect_process).
 */
CAPSTAN_WARN_UNUSED int capstan_home_unlock(capstan_ctx *ctx, const capstan_secret *passphrase);

/*
 * Changes the passphrase of the unlocked inventory to NEW_PASSPHRASE (at
 * least 8 characters, and not the current one: CAPSTAN_EINVALID), in one
 * transaction with its audit row ("passphrase"): a new salt, and the same
 * data key wrapped under the new passphrase's key. No sealed key is
 * rewritten, so every key stays usable; the old passphrase stops working at
 * once. A process that unlocked before the change keeps working: it holds
 * the data key, not the passphrase. Refused, with nothing changed, when the
 * inventory cannot be written.
 */
CAPSTAN_WARN_UNUSED int capstan_home_change_passphrase(capstan_ctx *ctx, const capstan_secret *new_passphrase);

/*
 * A context on the same home for another thread: its own database
 * connection, the same unlocked keys (parent must be open and unlocked),
 * and the parent's OCSP answers kept for reuse (shared, locked).
 * *out is the caller's: capstan_ctx_free().
 */
CAPSTAN_WARN_UNUSED int capstan_ctx_clone(capstan_ctx **out, const capstan_ctx *parent);

/* Who the audit rows of this context's later changes name as their user
 * (e.g. "api:prod/deploy-etcd"), instead of the process's user; NULL goes
 * back to that. Copied. */
CAPSTAN_WARN_UNUSED int capstan_ctx_set_actor(capstan_ctx *ctx, const char *actor);

/* The PKCS#11 module (a shared object's path) and the token PIN for CA keys
 * in a token, when their URI names none (module-path=, pin-source=file:).
 * Copied (the PIN as a capstan_secret, wiped with the context); NULL unsets. */
CAPSTAN_WARN_UNUSED int capstan_ctx_set_pkcs11_module(capstan_ctx *ctx, const char *path);
CAPSTAN_WARN_UNUSED int capstan_ctx_set_pkcs11_pin(capstan_ctx *ctx, const capstan_secret *pin);

/* Whether PASS may be a new inventory's passphrase (at least 8 characters):
 * 0, or CAPSTAN_EINVALID saying why (CAPSTAN_FIELD_PASSPHRASE). Checked by the
 * first capstan_home_unlock; a program creating a home checks it first, so a
 * refused passphrase leaves no empty inventory behind. */
CAPSTAN_WARN_UNUSED int capstan_passphrase_check(capstan_ctx *ctx, const capstan_secret *passphrase);

/* Keeps secrets in this process's memory out of core dumps and away from
 * debuggers of the same user: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0, for the
 * rest of the process's life. Process-wide state, so the library never calls
 * it on its own: a program that will hold a passphrase, a key-encryption key
 * or private keys calls it once, early (before reading a passphrase), and
 * decides what a failure means; the capstan CLI refuses to unlock or to read
 * key files then. A long-running host of the library that needs core dumps
 * or ptrace may leave it out. 0, or -1 (errno set) when either could not be
 * set. */
int capstan_protect_process(void);
/* True when the inventory already has a passphrase (keys) set. */
int capstan_home_has_keyring(capstan_ctx *ctx);

/*
 * The default home: $CAPSTAN_HOME, else $HOME/.local/share/capstan. *out is
 * the caller's (free()). CAPSTAN_ENOTFOUND when neither is set (an empty
 * value is unset) or HOME names nothing, CAPSTAN_EINVALID when HOME is not a
 * directory: the home is never made relative to the working directory.
 */
CAPSTAN_WARN_UNUSED int capstan_home_default(char **out, capstan_ctx *ctx);

CAPSTAN_END_API

#endif
