/* SQLite's SQL: the schema's migrations, the statements a connection runs
 * first, and the statements the driver interface names (db.h) because
 * they are SQLite's own dialect: its transactions and pragmas, and the
 * queries whose plans SQLite is told (INDEXED BY, CROSS JOIN, unary +). */
#include <stddef.h>

#include "store_impl.h"

/* Each step takes the schema from version i to i + 1; never edit a shipped
 * step, only append one. (These were in store.c until the store reached
 * SQLite through a driver: the steps are unchanged.) */
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
	/* 11 -> 12: the lookup by environment, name and kind matched by all
	 * three columns of one index, as PostgreSQL needs it to be before its
	 * first ANALYZE (db_pg_schema.c); the same schema on both engines. */
	"DROP INDEX certs_env_name;"
	"CREATE INDEX certs_env_name ON certs(env_id, name, kind);",
	/* 12 -> 13: a CA key kept in a PKCS#11 token: its RFC 7512 URI (no
	 * PIN), and an empty sealed blob, for the key never leaves the token. */
	"ALTER TABLE keys ADD COLUMN uri TEXT;",
	/* 13 -> 14: the issuance policy apply records, one row for each level
	 * that has one (0 the file's defaults, 1 the environment, 2 a service,
	 * named; '' for the first two), each a few "key=value" lines. Every
	 * issuance obeys every row of its environment and its service. */
	"CREATE TABLE policies ("
	"  env_id INTEGER NOT NULL REFERENCES envs(id),"
	"  service TEXT NOT NULL,"
	"  level INTEGER NOT NULL,"
	"  body TEXT NOT NULL,"
	"  PRIMARY KEY (env_id, service, level));",
};


/* Writes wait for the journal to reach the disk (synchronous = FULL): a
 * certificate handed out is one the inventory keeps, power cut or not. */
static const capstan_db_setup setup[] = {
	{ "PRAGMA journal_mode = WAL", "cannot enable WAL" },
	{ "PRAGMA synchronous = FULL", "cannot set synchronous" },
	{ "PRAGMA foreign_keys = ON", "cannot enable foreign keys" },
	{ NULL, NULL },
};

/* By enum capstan_db_sql. */
static const char *const sql[CAPSTAN_DB_SQL_COUNT] = {
	/* IMMEDIATE: the write lock at BEGIN, so that a writer waits its turn
	 * (the busy timeout) rather than failing at its first write. */
	[CAPSTAN_DB_BEGIN] = "BEGIN IMMEDIATE",
	[CAPSTAN_DB_COMMIT] = "COMMIT",
	[CAPSTAN_DB_ROLLBACK] = "ROLLBACK",
	[CAPSTAN_DB_CHANGE_BEGIN] = "SAVEPOINT change",
	[CAPSTAN_DB_CHANGE_RELEASE] = "RELEASE change",
	[CAPSTAN_DB_CHANGE_UNDO] = "ROLLBACK TO change; RELEASE change",
	[CAPSTAN_DB_ITEM_BEGIN] = "SAVEPOINT item",
	[CAPSTAN_DB_ITEM_RELEASE] = "RELEASE item",
	[CAPSTAN_DB_ITEM_UNDO] = "ROLLBACK TO item; RELEASE item",
	/* temp_store too: each item's savepoint journals the pages it changes,
	 * in a temporary file past 64 KiB (one file per savepoint, often). */
	[CAPSTAN_DB_HOLD_DIRTY] = "PRAGMA cache_spill = OFF; PRAGMA temp_store = MEMORY",
	[CAPSTAN_DB_SPILL_DIRTY] = "PRAGMA cache_spill = ON; PRAGMA temp_store = DEFAULT",
	/* Each change's savepoint journals its pages: in memory, not in a
	 * temporary file opened and unlinked per change. */
	[CAPSTAN_DB_GROUP_SETUP] = "PRAGMA temp_store = MEMORY",
	[CAPSTAN_DB_SCHEMA_VERSION] = "PRAGMA user_version",
	[CAPSTAN_DB_SCHEMA_VERSION_SET] = "PRAGMA user_version = %d",
	[CAPSTAN_DB_INTEGRITY] = "PRAGMA integrity_check",
	[CAPSTAN_DB_FOREIGN_KEYS] = "PRAGMA foreign_key_check",
	[CAPSTAN_DB_NO_INDEX] = "+",
	/* CROSS JOIN: the environments first, then their certificates. */
	[CAPSTAN_DB_LIST_STREAM_FROM] = " FROM envs e CROSS JOIN certs c ON c.env_id = e.id ",
	/* In rowid order (the backfill's update touches no column the scan goes by). */
	[CAPSTAN_DB_SPKI_ROWS] = "SELECT id, der FROM certs NOT INDEXED ORDER BY id",
	[CAPSTAN_DB_CURRENT_CA] =
		"SELECT " CERT_COLUMNS " FROM certs c INDEXED BY certs_env_kind JOIN envs e ON e.id = c.env_id"
		" WHERE c.env_id = ?1 AND c.kind = ?2"
		" AND c.status = 'valid' AND c.not_after > ?3"
		" ORDER BY c.id DESC LIMIT 1",
	/* The last leaf under each of its intermediates: one seek per
	 * (intermediate, status) on (issuer_id, status, not_after). The
	 * environments first, then their roots by (env_id, kind, status). */
	[CAPSTAN_DB_ROOTS_LEAVING] =
		"SELECT * FROM (SELECT " CERT_COLUMNS ", (SELECT CASE WHEN last > ?2 THEN min(c.not_after, last) END"
		"  FROM (SELECT max(max(coalesce((SELECT max(l.not_after) FROM certs l"
		"     WHERE l.issuer_id = i.id AND l.status = 'valid'), 0), coalesce((SELECT max(l.not_after)"
		"     FROM certs l WHERE l.issuer_id = i.id AND l.status = 'superseded'), 0))) AS last"
		"   FROM certs i WHERE i.issuer_id = c.id)) AS leaves_at"
		" FROM envs e CROSS JOIN certs c ON c.env_id = e.id"
		" WHERE (?1 = 0 OR e.id = ?1) AND c.kind = 'root' AND c.status = 'superseded'"
		" AND +c.not_after > ?2 ORDER BY e.name, c.id) WHERE leaves_at IS NOT NULL",
	/* The roots by (env, kind), not every unexpired or valid row by
	 * not_after or status (the +); an old root's leaves by seeks on
	 * (issuer, status, not_after). */
	[CAPSTAN_DB_ENV_ROOTS] =
		"SELECT " CERT_COLUMNS CERT_FROM "WHERE c.env_id = ?1 AND c.kind = 'root'"
		" AND +c.not_after > ?2 AND (+c.status = 'valid' OR (+c.status = 'superseded' AND EXISTS ("
		"   SELECT 1 FROM certs i INDEXED BY certs_issuer_status"
		"   JOIN certs l INDEXED BY certs_issuer_status ON l.issuer_id = i.id"
		"   WHERE i.issuer_id = c.id AND l.status IN ('valid', 'superseded') AND l.not_after > ?2"
		"   AND +l.kind = 'leaf')))"
		" ORDER BY c.status = 'valid' DESC, c.id DESC",
	/* The + keeps the planner off certs_not_after, a scan of every
	 * unexpired row once ?2 is a parameter: by (env_id, kind), and the
	 * intermediate's leaves by (issuer_id, ...). */
	[CAPSTAN_DB_CRL_ISSUERS] =
		"SELECT " CERT_COLUMNS CERT_FROM "WHERE c.env_id = ?1 AND c.kind = 'intermediate'"
		" AND +c.not_after > ?2 AND (c.status = 'valid' OR EXISTS ("
		"   SELECT 1 FROM certs l INDEXED BY certs_issuer_status WHERE l.issuer_id = c.id"
		"   AND +l.not_after > ?2))"
		" ORDER BY c.status = 'valid' DESC, c.id DESC",
	/* certs_revoked covers the query: no table row is read. */
	[CAPSTAN_DB_REVOKED_EACH] =
		"SELECT serial, revoked_at, revoke_reason FROM certs INDEXED BY certs_revoked"
		" WHERE issuer_id = ?1 AND status = 'revoked' AND not_after > ?2 ",
	/* certs_revoked answers the EXISTS. */
	[CAPSTAN_DB_CRL_LAST] =
		"SELECT r.der, r.this_update, r.next_update, r.number, EXISTS (SELECT 1 FROM certs c"
		"   INDEXED BY certs_revoked WHERE c.issuer_id = r.issuer_id AND c.status = 'revoked' AND c.revoked_at >= r.this_update)"
		" FROM crls r WHERE r.issuer_id = ?1",
	/* By (env, kind) seeks: never a scan of the leaves. CROSS JOIN keeps envs
	 * the outer loop; with a plain JOIN SQLite scanned all of certs_env_kind. */
	[CAPSTAN_DB_CAS] =
		"SELECT " CERT_COLUMNS " FROM envs e CROSS JOIN certs c INDEXED BY certs_env_kind ON c.env_id = e.id"
		" WHERE c.kind IN ('root', 'intermediate') AND +c.not_after > ?1 ORDER BY c.id",
	/* A deferred BEGIN's snapshot is taken at its first read and kept, in
	 * WAL mode, while writers go on. */
	[CAPSTAN_DB_SNAPSHOT_BEGIN] = "BEGIN",
	[CAPSTAN_DB_TABLES] = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
	/* A row id past the largest is SQLite's own choice: nothing to move. */
	[CAPSTAN_DB_COPY_FINISH] = "",
	/* No -wal beside a backup: the file alone is the copy. */
	[CAPSTAN_DB_SELF_CONTAINED] = "PRAGMA journal_mode = DELETE",
};

const capstan_db_dialect capstan_db_sqlite_dialect = {
	.migrations = migrations,
	.migration_count = (int)(sizeof(migrations) / sizeof(migrations[0])),
	.spki_version = 5,          /* certs.spki_sha256 */
	.service_certs_version = 9, /* service_certs */
	.setup = setup,
	.sql = sql,
};
