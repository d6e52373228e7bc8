/* The inventory database: opening it, and the schema migrations that bring
 * an older inventory up to date. (Statements and transactions: store_db.c.) */
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

/* Each step takes the schema from version i to i + 1; never edit a shipped step. */
static const char *const migrations[] = {
	/* 0 -> 1: environments, keys, certificates, audit */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value BLOB NOT NULL);"
	"CREATE TABLE envs ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  org TEXT,"
	"  key_type TEXT NOT NULL,"
	"  leaf_lifetime INTEGER NOT NULL CHECK (leaf_lifetime > 0),"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE keys ("
	"  id INTEGER PRIMARY KEY,"
	"  key_type TEXT NOT NULL,"
	"  spki_sha256 BLOB NOT NULL,"
	"  sealed BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE certs ("
	"  id INTEGER PRIMARY KEY,"
	"  env_id INTEGER NOT NULL REFERENCES envs(id),"
	"  kind TEXT NOT NULL CHECK (kind IN ('root', 'intermediate', 'leaf')),"
	"  name TEXT NOT NULL,"
	"  serial TEXT NOT NULL,"
	"  issuer_id INTEGER REFERENCES certs(id),"
	"  key_id INTEGER REFERENCES keys(id),"
	"  profile TEXT CHECK (profile IN ('server', 'client', 'peer')),"
	"  status TEXT NOT NULL DEFAULT 'valid'"
	"    CHECK (status IN ('valid', 'revoked', 'superseded')),"
	"  subject TEXT NOT NULL,"
	"  issuer TEXT NOT NULL,"
	"  sans TEXT NOT NULL DEFAULT '',"
	"  service TEXT,"
	"  key_type TEXT NOT NULL,"
	"  lifetime INTEGER NOT NULL,"
	"  renew_before INTEGER NOT NULL DEFAULT 0,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  fingerprint TEXT NOT NULL,"
	"  der BLOB NOT NULL,"
	"  revoked_at INTEGER,"
	"  revoke_reason TEXT,"
	"  superseded_by INTEGER REFERENCES certs(id),"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (issuer_id, serial));"
	"CREATE INDEX certs_env_name ON certs(env_id, name);"
	"CREATE INDEX certs_status ON certs(status);"
	"CREATE INDEX certs_not_after ON certs(not_after);"
	"CREATE INDEX certs_serial ON certs(serial);"
	"CREATE INDEX certs_issuer_status ON certs(issuer_id, status);"
	/* One row per CA that has signed a CRL: its last CRL number. */
	"CREATE TABLE crls ("
	"  issuer_id INTEGER PRIMARY KEY REFERENCES certs(id),"
	"  number INTEGER NOT NULL,"
	"  this_update INTEGER NOT NULL,"
	"  next_update INTEGER NOT NULL);"
	/* hash = SHA-256(previous row's hash || this row's canonical form). */
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  user TEXT NOT NULL,"
	"  op TEXT NOT NULL,"
	"  env TEXT,"
	"  name TEXT,"
	"  serial TEXT,"
	"  detail TEXT,"
	"  hash BLOB NOT NULL);",
	/* 1 -> 2: services, as apply records them, so bundle needs no config file.
	 * certs holds one "NAME<TAB>ROLE" line per certificate, in order. */
	"CREATE TABLE services ("
	"  id INTEGER PRIMARY KEY,"
	"  env_id INTEGER NOT NULL REFERENCES envs(id),"
	"  name TEXT NOT NULL,"
	"  template TEXT NOT NULL,"
	"  certs TEXT NOT NULL,"
	"  UNIQUE (env_id, name));",
	/* 2 -> 3: for a million certificates: renewal candidates by (status,
	 * not_after) range, the widest renew-before window by index. */
	"CREATE INDEX certs_status_not_after ON certs(status, not_after);"
	"CREATE INDEX certs_renew_before ON certs(renew_before);"
	/* the current CA of an environment, without reading its leaves */
	"CREATE INDEX certs_env_kind ON certs(env_id, kind, status);",
	/* 3 -> 4: a CRL reads only this index, never the ~1 KB certificate rows. */
	("CREATE INDEX certs_revoked ON certs(issuer_id, not_after, serial, revoked_at, revoke_reason)"
	 "  WHERE status = 'revoked';"),
	/* 4 -> 5: every certificate of a public key by index (revoking a key
	 * revokes them all, CSR-issued ones too: they have no key row), and each
	 * issuer's last signed CRL, handed out again while it is fresh.
	 * backfill_spki() fills spki_sha256 of the rows that were there. */
	"ALTER TABLE certs ADD COLUMN spki_sha256 BLOB;"
	"CREATE INDEX certs_spki ON certs(spki_sha256);"
	"ALTER TABLE crls ADD COLUMN der BLOB;",
	/* 5 -> 6: delivery. A service's owner, group, hosts and etcd RBAC (text
	 * lines, see delivery.c); its keystore password, sealed, generated once
	 * and reused by every render; and the deploy ledger: what renew --due
	 * --bundle-dir rendered where, at which serials, and whether the hook
	 * ran, so what failed is owed and retried until it succeeds. */
	("ALTER TABLE services ADD COLUMN delivery TEXT NOT NULL DEFAULT '';"
	 "CREATE TABLE bundle_passwords ("
	 "  env_id INTEGER NOT NULL REFERENCES envs(id),"
	 "  service TEXT NOT NULL,"
	 "  sealed BLOB NOT NULL,"
	 "  created_at INTEGER NOT NULL,"
	 "  PRIMARY KEY (env_id, service));"
	 "CREATE TABLE deploys ("
	 "  id INTEGER PRIMARY KEY,"
	 "  env_id INTEGER NOT NULL REFERENCES envs(id),"
	 "  service TEXT NOT NULL,"
	 "  host TEXT NOT NULL DEFAULT '',"
	 "  dir TEXT,"                      /* NULL: never delivered by renew --due */
	 "  certs TEXT NOT NULL DEFAULT '',"  /* 'NAME SERIAL NOT_AFTER' lines, as rendered */
	 "  crl_refresh_at INTEGER NOT NULL DEFAULT 0,"
	 "  rendered_at INTEGER NOT NULL DEFAULT 0,"
	 "  hook_pending INTEGER NOT NULL DEFAULT 0,"
	 "  failures INTEGER NOT NULL DEFAULT 0,"
	 "  last_error TEXT,"
	 "  deployed_at INTEGER NOT NULL DEFAULT 0,"
	 "  stale TEXT,"                    /* why it is owed though nothing above says so */
	 "  UNIQUE (env_id, service, host));"
	 /* Whether an old root still anchors a live leaf, and until when, by
	  * seeks rather than a scan of its leaves (a root rotation at a million). */
	 "DROP INDEX certs_issuer_status;"
	 "CREATE INDEX certs_issuer_status ON certs(issuer_id, status, not_after);"
	 /* The environment's latest revocation, kept by triggers: what makes its
	  * delivered bundles' CRLs stale, read without a scan of revoked rows. */
	 "ALTER TABLE envs ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;"
	 "UPDATE envs SET revoked_at = coalesce((SELECT max(c.revoked_at) FROM certs c"
	 "  WHERE c.env_id = envs.id AND c.status = 'revoked'), 0);"
	 "CREATE TRIGGER certs_revoked_env_update AFTER UPDATE OF status ON certs WHEN NEW.status = 'revoked'"
	 " BEGIN UPDATE envs SET revoked_at = max(revoked_at, coalesce(NEW.revoked_at, 0)) WHERE id = NEW.env_id; END;"
	 "CREATE TRIGGER certs_revoked_env_insert AFTER INSERT ON certs WHEN NEW.status = 'revoked'"
	 " BEGIN UPDATE envs SET revoked_at = max(revoked_at, coalesce(NEW.revoked_at, 0)) WHERE id = NEW.env_id; END;"),
	/* 6 -> 7: check asks the audit log whether a keyless certificate came
	 * from a CSR: by serial, one seek, not a scan of the log per row. */
	"CREATE INDEX audit_serial ON audit(serial);",
	/* 7 -> 8: certs_status(status) is a prefix of certs_status_not_after:
	 * any query by status alone seeks that one as well, and every insert
	 * paid for both. */
	"DROP INDEX IF EXISTS certs_status;",
	/* 8 -> 9: which services name a certificate, by seek: renew --due
	 * --bundle-dir asks it of every renewal, and a LIKE over every service's
	 * lines made a night at scale quadratic. Filled where services are stored
	 * (capstan_store_service_put); backfill_service_certs() fills it from
	 * the services already there. */
	"CREATE TABLE service_certs ("
	"  env_id INTEGER NOT NULL REFERENCES envs(id),"
	"  cert TEXT NOT NULL,"
	"  service TEXT NOT NULL,"
	"  PRIMARY KEY (env_id, cert, service)) WITHOUT ROWID;",
	/* 9 -> 10: the audit chain's second form. v says how a row's hash is
	 * made (1: the first form; 2: state included); state holds the
	 * certificates the change set, one "SERIAL STATUS FINGERPRINT" line
	 * each, so check can replay the log against certs (audit.c). */
	"ALTER TABLE audit ADD COLUMN v INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE audit ADD COLUMN state TEXT;",
	/* 10 -> 11: each CA's delegated OCSP responder (certificate and sealed
	 * key), issued on first need and shared by every process that answers
	 * for the inventory. Not certificates of the inventory: not in certs. */
	"CREATE TABLE ocsp_responders ("
	"  issuer_id INTEGER PRIMARY KEY REFERENCES certs(id),"
	"  der BLOB NOT NULL,"
	"  key_sealed BLOB NOT NULL,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL);",
};

/* The version whose step added certs.spki_sha256. */
#define SCHEMA_SPKI 5
/* The version whose step added service_certs. */
#define SCHEMA_SERVICE_CERTS 9

#define MIGRATION_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

int capstan_store_schema_latest(void)
{
	return MIGRATION_COUNT;
}

/*
 * After step 4 -> 5: each row's spki_sha256 from its DER, in one pass over
 * the table in rowid order (the update touches no column the scan goes by).
 * A row whose DER does not read keeps NULL: capstan check reports it, and
 * refusing to open the inventory would help no one.
 */
static int backfill_spki(capstan_ctx *ctx, capstan_store_spki_fn spki_of)
{
	sqlite3_stmt *rows = NULL, *set = NULL;
	unsigned char md[CAPSTAN_SHA256_LEN];
	int rc, step = SQLITE_DONE;

	if ((rc = capstan_store_prepare(ctx, &rows, "SELECT id, der FROM certs NOT INDEXED ORDER BY id")) < 0 ||
	    (rc = capstan_store_prepare(ctx, &set, "UPDATE certs SET spki_sha256 = ?2 WHERE id = ?1")) < 0)
		goto done;
	while ((step = sqlite3_step(rows)) == SQLITE_ROW) {
		if (spki_of(ctx, sqlite3_column_blob(rows, 1), (size_t)sqlite3_column_bytes(rows, 1), md) < 0)
			continue;
		sqlite3_bind_int64(set, 1, sqlite3_column_int64(rows, 0));
		sqlite3_bind_blob(set, 2, md, CAPSTAN_SHA256_LEN, SQLITE_STATIC);
		if (sqlite3_step(set) != SQLITE_DONE) {
			rc = capstan_store_error(ctx, "cannot record a certificate's key digest");
			break;
		}
		sqlite3_reset(set);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = capstan_store_error(ctx, "cannot read the certificates");
done:
	capstan_store_finish(ctx, rows);
	capstan_store_finish(ctx, set);
	return rc;
}

/* After step 8 -> 9: the membership of every service already recorded. */
static int backfill_service_certs(capstan_ctx *ctx)
{
	sqlite3_stmt *rows = NULL;
	int rc, step = SQLITE_DONE;

	if ((rc = capstan_store_prepare(ctx, &rows, "SELECT env_id, name, certs FROM services")) < 0)
		return rc;
	while (rc == 0 && (step = sqlite3_step(rows)) == SQLITE_ROW)
		rc = capstan_store_service_members(ctx, sqlite3_column_int64(rows, 0),
			(const char *)sqlite3_column_text(rows, 1), (const char *)sqlite3_column_text(rows, 2));
	if (rc == 0 && step != SQLITE_DONE)
		rc = capstan_store_error(ctx, "cannot read the services");
	capstan_store_finish(ctx, rows);
	return rc;
}

static int migrate(capstan_ctx *ctx, capstan_store_spki_fn spki_of)
{
	char sql[64];
	int version, from, rc;

	if ((rc = capstan_store_schema_version(ctx, &version)) < 0)
		return rc;
	if (version == MIGRATION_COUNT)
		return 0;
	if ((rc = capstan_store_begin(ctx)) < 0)
		return rc;
	/* Read again under the write lock: another process may have migrated. */
	if ((rc = capstan_store_schema_version(ctx, &version)) < 0)
		goto fail;
	if (version > MIGRATION_COUNT) {
		rc = capstan_error(ctx, CAPSTAN_ERROR,
			"database '%s' has schema version %d, newer than this capstan (%d): upgrade capstan",
			ctx->store->path, version, MIGRATION_COUNT);
		goto fail;
	}
	for (from = version; version < MIGRATION_COUNT; version++) {
		if ((rc = capstan_store_exec(ctx, migrations[version], "cannot migrate the schema")) < 0)
			goto fail;
	}
	if (from < SCHEMA_SPKI && (rc = backfill_spki(ctx, spki_of)) < 0)
		goto fail;
	if (from < SCHEMA_SERVICE_CERTS && (rc = backfill_service_certs(ctx)) < 0)
		goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", MIGRATION_COUNT);
	if ((rc = capstan_store_exec(ctx, sql, "cannot record the schema version")) < 0)
		goto fail;
	return capstan_store_commit(ctx);
fail:
	capstan_store_rollback(ctx);
	return rc;
}

/* Creates the database file 0600 before SQLite sees it: SQLite would use the
 * umask, and its -wal and -shm files copy the database's mode. */
static int create_db_file(capstan_ctx *ctx, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return capstan_error(ctx, CAPSTAN_ERROR, "cannot create '%s': %s", path, strerror(errno));
	close(fd);
	return 0;
}

/* The database and, when a process left them, its -wal and -shm (which
 * hold committed rows not yet in the database): each the effective user's
 * and writable by no one else, before SQLite reads a page of them. SQLite
 * makes the -wal and -shm it creates with the database's mode. */
static int check_db_files(capstan_ctx *ctx, const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	char file[4096];
	struct stat sb;
	int rc;

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if ((size_t)snprintf(file, sizeof(file), "%s%s", path, suffixes[i]) >= sizeof(file))
			return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_HOME, "path too long: '%s'", path);
		if (lstat(file, &sb) < 0) {
			if (errno == ENOENT && i > 0)
				continue;
			return capstan_error_at(ctx, CAPSTAN_ENOTFOUND, CAPSTAN_FIELD_HOME, "cannot open '%s': %s", file,
				strerror(errno));
		}
		if (!S_ISREG(sb.st_mode))
			return capstan_error_at(ctx, CAPSTAN_EINVALID, CAPSTAN_FIELD_HOME,
				"inventory file '%s' is not a regular file", file);
		if ((rc = capstan_private_check(ctx, CAPSTAN_FIELD_HOME, "inventory file", file, &sb, 0)) < 0)
			return rc;
	}
	return 0;
}

int capstan_store_open(capstan_store **out, capstan_ctx *ctx, const char *path, int create,
	capstan_store_spki_fn spki_of)
{
	capstan_store *st;
	struct stat sb;
	int rc;

	if (stat(path, &sb) < 0) {
		if (errno != ENOENT || !create)
			return capstan_error(ctx, CAPSTAN_ENOTFOUND, "cannot open '%s': %s", path, strerror(errno));
		if ((rc = create_db_file(ctx, path)) < 0)
			return rc;
	}
	if ((rc = check_db_files(ctx, path)) < 0)
		return rc;
	if (!(st = calloc(1, sizeof(*st))) || !(st->path = strdup(path))) {
		free(st);
		return capstan_error_oom(ctx);
	}
	ctx->store = st;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		rc = capstan_store_error(ctx, "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	/* Writers queue for up to 30 s rather than failing with "database is locked". */
	sqlite3_busy_timeout(st->db, 30000);
	if ((rc = capstan_store_exec(ctx, "PRAGMA journal_mode = WAL", "cannot enable WAL")) < 0 ||
	    (rc = capstan_store_exec(ctx, "PRAGMA synchronous = FULL", "cannot set synchronous")) < 0 ||
	    (rc = capstan_store_exec(ctx, "PRAGMA foreign_keys = ON", "cannot enable foreign keys")) < 0 ||
	    (rc = migrate(ctx, spki_of)) < 0)
		goto fail;
	ctx->store = NULL;
	*out = st;
	return 0;
fail:
	ctx->store = NULL;
	capstan_store_close(st);
	return rc;
}
