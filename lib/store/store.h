/*
 * The inventory store: the only module that speaks SQL. Writes happen inside
 * capstan_store_begin() (BEGIN IMMEDIATE, so concurrent writers queue on the
 * busy timeout instead of failing) and capstan_store_commit().
 */
#ifndef CAPSTAN_LIB_STORE_H
#define CAPSTAN_LIB_STORE_H

#include <capstan/audit.h>
#include <capstan/cert.h>

#include "base/base.h"

#define CAPSTAN_DB_NAME "capstan.db"

/* The SHA-256 of a certificate's SubjectPublicKeyInfo, from its DER. The store
 * does not read X.509: whoever opens it says how (a migration needs it). */
typedef int (*capstan_store_spki_fn)(capstan_ctx *ctx, const unsigned char *der, size_t len,
	unsigned char out[CAPSTAN_SHA256_LEN]);

/* Opens the inventory at WHERE: an SQLite database file (a path, or
 * sqlite:PATH), or a PostgreSQL database (a postgresql:// or postgres://
 * URL, libpq's). create: make the file, or the schema in the database. */
int capstan_store_open(capstan_store **out, capstan_ctx *ctx, const char *where, int create,
	capstan_store_spki_fn spki_of);
/* The database file WHERE names (within WHERE), or NULL for a server's database. */
const char *capstan_store_file(const char *where);
void capstan_store_close(capstan_store *store);

/*
 * A whole inventory copied into another store (store_copy.c): every table's
 * rows with their ids, from a source the caller holds in a snapshot
 * (capstan_store_snapshot) into a target that must be empty (CAPSTAN_EEXISTS
 * otherwise) and that the caller holds in a write transaction; a source
 * table this copy does not know is an error. The stores need not be the
 * context's, which only records errors.
 */
typedef struct {
	int64_t rows, certs, audit_rows;
	size_t tables;
} capstan_store_copy_stats;
int capstan_store_copy(capstan_ctx *ctx, capstan_store *from, capstan_store *to, capstan_store_copy_stats *stats);
/* The copy compared with its source, table by table: CAPSTAN_EDAMAGED naming
 * the first table whose rows differ. */
int capstan_store_copy_compare(capstan_ctx *ctx, capstan_store *from, capstan_store *to);
/* Begins (begin set) or ends a read-only transaction on st that sees one moment throughout. */
int capstan_store_snapshot(capstan_ctx *ctx, capstan_store *st, int begin);
/* Leaves st's database, once closed, in one file (SQLite: no WAL beside it). */
int capstan_store_self_contained(capstan_ctx *ctx, capstan_store *st);

int capstan_store_begin(capstan_ctx *ctx);
int capstan_store_commit(capstan_ctx *ctx);
/* Safe to call when no transaction is open. */
void capstan_store_rollback(capstan_ctx *ctx);
/* Inside a transaction: a savepoint, so one failed item of a batch does not
 * undo the others. release keeps the item's changes, undo drops them. */
int capstan_store_savepoint(capstan_ctx *ctx);
int capstan_store_release(capstan_ctx *ctx);
void capstan_store_undo(capstan_ctx *ctx);
/* With hold, a transaction's changed pages stay in memory until it commits
 * rather than being written to the WAL as the page cache fills, and each is
 * written once: for writers whose transactions are bounded (batch groups).
 * Random serials and digests change a random page of each index per row, so
 * a group of 64 overflowed the 2 MB cache and wrote pages two or three times. */
int capstan_store_hold_dirty(capstan_ctx *ctx, int hold);
/* Ends the transaction: commits when rc is 0, else rolls back. Returns rc, or
 * the commit's error. */
int capstan_store_end(capstan_ctx *ctx, int rc);

/* True when the store's last error since capstan_store_begin was the database
 * refusing to be written (a read-only file, directory or mount): a reader
 * may go on without the write. */
int capstan_store_refused_write(capstan_ctx *ctx);

/* Small named values (the keyring). CAPSTAN_ENOTFOUND when absent. */
int capstan_store_meta_get(capstan_ctx *ctx, const char *key, capstan_buf *out);
int capstan_store_meta_set(capstan_ctx *ctx, const char *key, const void *value, size_t len);
/* Removes the value, if there is one (store_ocsp.c). */
int capstan_store_meta_delete(capstan_ctx *ctx, const char *key);

typedef struct {
	int64_t id;
	char *name;
	char *org;               /* NULL when none */
	capstan_key_type key_type;
	int64_t leaf_lifetime;   /* seconds */
} capstan_store_env;

int capstan_store_env_insert(capstan_ctx *ctx, capstan_store_env *env);
/* CAPSTAN_ENOTFOUND when there is no such environment. */
int capstan_store_env_get(capstan_ctx *ctx, const char *name, capstan_store_env *out);
int capstan_store_env_names(capstan_ctx *ctx, capstan_strlist *out);
void capstan_store_env_clear(capstan_store_env *env);

/* The issuance policy apply recorded: a row for each level that has one
 * (CAPSTAN_POLICY_LEVEL_*; service '' but for a service's own), its body a
 * few "key=value" lines (lib/ca/policy_check.c reads them). */
typedef struct capstan_store_policy_row {
	int level;
	char *service;
	char *body;
} capstan_store_policy;

/* service NULL: every row of the environment; else the environment's own
 * and that service's. *out is the caller's: capstan_store_policy_free(). */
int capstan_store_policy_list(capstan_ctx *ctx, int64_t env_id, const char *service, capstan_store_policy **out,
	size_t *count);
/* Replaces one level's row; body NULL deletes it. */
int capstan_store_policy_put(capstan_ctx *ctx, int64_t env_id, const char *service, int level, const char *body);
void capstan_store_policy_free(capstan_store_policy *rows, size_t count);

/* Sets *id to the new row's; with id NULL, the row may be written with the
 * next statement (capstan_db_step_later), and the certificate inserted
 * next names it as CAPSTAN_STORE_KEY_LAST. */
int capstan_store_key_insert(capstan_ctx *ctx, capstan_key_type type,
	const unsigned char spki_sha256[CAPSTAN_SHA256_LEN], const capstan_buf *sealed, int64_t *id);
#define CAPSTAN_STORE_KEY_LAST (-1)
int capstan_store_key_get(capstan_ctx *ctx, int64_t id, unsigned char spki_sha256[CAPSTAN_SHA256_LEN],
	capstan_buf *sealed);
/* A key kept in a PKCS#11 token: its row's URI (its sealed blob is empty).
 * *uri is NULL for a sealed key, else the caller's (free()). */
int capstan_store_key_set_uri(capstan_ctx *ctx, int64_t id, const char *uri);
int capstan_store_key_uri(capstan_ctx *ctx, int64_t id, char **uri);

/* Inserts cert (every field but id/env/status filled in) and sets cert->id;
 * CAPSTAN_EEXISTS, nothing inserted and the transaction still usable, when
 * its issuer used its serial already. key_id: 0 for none, or
 * CAPSTAN_STORE_KEY_LAST for the key this transaction inserted last. */
int capstan_store_cert_insert(capstan_ctx *ctx, capstan_cert *cert, int64_t env_id, int64_t key_id,
	const unsigned char spki_sha256[CAPSTAN_SHA256_LEN]);
int capstan_store_cert_get(capstan_ctx *ctx, int64_t id, capstan_cert **out);
/* A batch's certificates, a chunk at a time (store_batch.c): statements of
 * up to CAPSTAN_STORE_MULTI_MAX rows each. */
#define CAPSTAN_STORE_MULTI_MAX 64
/* The newest leaf of a name: id 0 when there is none. status is
 * CAPSTAN_STATUS_EXPIRED for a valid one past its end. */
typedef struct {
	int64_t id;
	capstan_status status;
	char serial[48];
} capstan_store_latest;
/* The newest leaf of each of names[0..n) in the environment, in one query
 * per CAPSTAN_STORE_MULTI_MAX names: out[i] for names[i]. */
int capstan_store_leaves_latest(capstan_ctx *ctx, int64_t env_id, const char *const *names, size_t n,
	capstan_store_latest *out);
/* A new leaf and its new key. */
typedef struct {
	capstan_cert *cert;            /* every field but id/env/status; id set once inserted */
	const capstan_buf *sealed;     /* its key, sealed */
	const unsigned char *spki;     /* the SHA-256 of its SubjectPublicKeyInfo */
	int64_t key_id;                /* set: its key's row */
} capstan_store_new_leaf;
/* Inserts each row's key and certificate, as capstan_store_key_insert and
 * capstan_store_cert_insert would one by one. A certificate whose issuer
 * used its serial already is not inserted (its cert->id stays 0, its key
 * row is in: the caller signs it again and inserts it with key_id); the
 * transaction stays usable. */
int capstan_store_leaves_insert(capstan_ctx *ctx, int64_t env_id, capstan_store_new_leaf *rows, size_t n);

/* The key row of a certificate (0 when it was issued from a CSR). */
int capstan_store_cert_key_id(capstan_ctx *ctx, int64_t cert_id, int64_t *key_id);
/* CAPSTAN_ENOTFOUND, or CAPSTAN_EAMBIGUOUS when two issuers used the serial. */
int capstan_store_cert_by_serial(capstan_ctx *ctx, const char *serial, capstan_cert **out);
/* The certificate whose DER is exactly der (serial: its serial, for the
 * index). CAPSTAN_ENOTFOUND when the inventory has none. */
int capstan_store_cert_by_der(capstan_ctx *ctx, const char *serial, const unsigned char *der, size_t len,
	capstan_cert **out);
/* The newest certificate of (env, name, kind). */
int capstan_store_cert_latest(capstan_ctx *ctx, int64_t env_id, const char *name,
	capstan_cert_kind kind, capstan_cert **out);
/* The environments that have a certificate (leaf or CA) named NAME. */
int capstan_store_envs_with_name(capstan_ctx *ctx, const char *name, capstan_strlist *out);
/* The newest valid, unexpired CA certificate of that kind in the environment. */
int capstan_store_current_ca(capstan_ctx *ctx, int64_t env_id, capstan_cert_kind kind,
	capstan_cert **out);
/* The roots the environment trusts, newest first: the current one, and any
 * unexpired older root that still anchors an unexpired, unrevoked leaf. */
int capstan_store_env_roots(capstan_ctx *ctx, int64_t env_id, capstan_cert ***out, size_t *count);
/* The old roots among those (superseded ones kept by their leaves), with when
 * each leaves: the expiry of its last unexpired, unrevoked leaf, or its own
 * if sooner. env_id 0: every environment. Both arrays are the caller's. */
int capstan_store_roots_leaving(capstan_ctx *ctx, int64_t env_id, time_t now, capstan_cert ***roots,
	time_t **until, size_t *count);
/* Every unexpired intermediate of the environment, newest first. */
int capstan_store_env_intermediates(capstan_ctx *ctx, int64_t env_id, capstan_cert ***out, size_t *count);
int capstan_store_count_kind(capstan_ctx *ctx, int64_t env_id, capstan_cert_kind kind, int64_t *count);
/* 1 when issuer_id already used serial, 0 when not. */
int capstan_store_serial_used(capstan_ctx *ctx, int64_t issuer_id, const char *serial);
int capstan_store_cert_supersede(capstan_ctx *ctx, int64_t id, int64_t by_id);

/* Lifecycle (store_lifecycle.c). */

/* Ids of valid leaves (expired ones included) due for renewal at now: inside
 * `within` seconds of their end if within > 0, else inside their own window
 * (capped at two thirds of their validity); with from_old_ca, also those whose
 * issuer was rotated out. */
int capstan_store_due_ids(capstan_ctx *ctx, int64_t env_id, time_t now, int64_t within,
	int from_old_ca, int64_t **ids, size_t *count);
/* True when the certificate is still valid (in the store) and still due. */
int capstan_store_still_due(capstan_ctx *ctx, int64_t id, time_t now, int64_t within, int from_old_ca);
int capstan_store_cert_revoke(capstan_ctx *ctx, int64_t id, time_t at, const char *reason);
/* The other leaves that certify the same public key as cert_id (any
 * environment, CSR-issued ones too), unexpired at now and not revoked, oldest first. */
int capstan_store_certs_same_key(capstan_ctx *ctx, int64_t cert_id, time_t now, capstan_cert ***out,
	size_t *count);

/* The intermediates that must publish a CRL: unexpired, and current or with
 * an unexpired leaf; the current one first. */
int capstan_store_crl_issuers(capstan_ctx *ctx, int64_t env_id, time_t now, capstan_cert ***out,
	size_t *count);
/* Calls fn for each revoked, unexpired leaf of the issuer (read by index). */
typedef int (*capstan_store_revoked_fn)(const char *serial, time_t revoked_at, const char *reason,
	void *payload);
int capstan_store_revoked_each(capstan_ctx *ctx, int64_t issuer_id, time_t now,
	capstan_store_revoked_fn fn, void *payload);
/* Takes the issuer's next CRL number (strictly increasing) and records the update times. */
int capstan_store_crl_next_number(capstan_ctx *ctx, int64_t issuer_id, time_t this_update,
	time_t next_update, int64_t *number);

/* A new issuer's CRL numbers continue from LAST, the last one it signed
 * elsewhere (capstan import): its next CRL is numbered LAST + 1. */
int capstan_store_crl_continue(capstan_ctx *ctx, int64_t issuer_id, int64_t last);

/* An issuer's last signed CRL (crls row). der is empty when none was stored
 * (no CRL yet, or one signed before schema 5): the caller's, capstan_buf_free(). */
typedef struct {
	capstan_buf der;
	time_t this_update, next_update;
	int64_t number;
	int revoked_since;  /* a certificate of the issuer was revoked at or after this_update */
} capstan_store_crl;
int capstan_store_crl_last(capstan_ctx *ctx, int64_t issuer_id, capstan_store_crl *out);
/* Stores the DER of the CRL whose number capstan_store_crl_next_number just took. */
int capstan_store_crl_keep(capstan_ctx *ctx, int64_t issuer_id, const unsigned char *der, size_t len);

/* Services (store_lifecycle.c): recorded by apply, read by bundle. certs is
 * one "NAME\tROLE" line per certificate; delivery its owner, group, hosts and
 * etcd RBAC (delivery.c). put: 1 when it changed, 0 when not. */
typedef struct {
	char *template_name;
	char *certs;
	char *delivery;
} capstan_store_service;

int capstan_store_service_put(capstan_ctx *ctx, int64_t env_id, const char *name, const capstan_store_service *s);
/* CAPSTAN_ENOTFOUND when the environment has no such service. */
int capstan_store_service_get(capstan_ctx *ctx, int64_t env_id, const char *name, capstan_store_service *out);
void capstan_store_service_clear(capstan_store_service *s);
/* Records that SERVICE names the certificates of LINES ("NAME<TAB>ROLE" a
 * line; NULL: none), replacing what it named before. */
int capstan_store_service_members(capstan_ctx *ctx, int64_t env_id, const char *service, const char *lines);
/* The services whose certificates include NAME in the environment. */
int capstan_store_services_of_cert(capstan_ctx *ctx, int64_t env_id, const char *cert_name, capstan_strlist *out);
/* Drops a service's record (apply --prune, when the configuration dropped it). */
int capstan_store_service_forget(capstan_ctx *ctx, int64_t env_id, const char *name);
/* The names of the environment's services, in order. */
int capstan_store_service_names(capstan_ctx *ctx, int64_t env_id, capstan_strlist *out);

/* A service's keystore password, sealed (store_deploy.c). CAPSTAN_ENOTFOUND when none. */
int capstan_store_bundle_password_get(capstan_ctx *ctx, int64_t env_id, const char *service, capstan_buf *sealed);
int capstan_store_bundle_password_put(capstan_ctx *ctx, int64_t env_id, const char *service, const capstan_buf *sealed);

/* The deploy ledger (store_deploy.c): one row per (environment, service,
 * host) that renew --due --bundle-dir delivers; host "" is the whole service. */
typedef struct {
	int64_t id, env_id;
	char *env, *service, *host;
	char *dir;               /* NULL: never delivered */
	char *certs;             /* "NAME SERIAL NOT_AFTER" lines as rendered */
	int64_t crl_refresh_at, rendered_at, deployed_at;
	int hook_pending;
	int64_t failures;
	char *last_error;        /* NULL after a success */
	char *stale;             /* why it is owed beyond that (a new keystore password); NULL: nothing */
} capstan_store_deploy;

/* Adds the row, never delivered (dir NULL), unless it exists. */
int capstan_store_deploy_track(capstan_ctx *ctx, int64_t env_id, const char *service, const char *host);
/* Every row (of one environment when env_id > 0), by environment, service, host. */
int capstan_store_deploy_list(capstan_ctx *ctx, int64_t env_id, capstan_store_deploy **out, size_t *count);
void capstan_store_deploy_list_free(capstan_store_deploy *rows, size_t count);
/* Rendered into dir at these certificates; the hook (if any) still to run. */
int capstan_store_deploy_rendered(capstan_ctx *ctx, int64_t id, const char *dir, const char *certs,
	int64_t crl_refresh_at, int64_t at, int hook_pending);
/* The hook ran, or there was none and no earlier hook is owed: nothing is owed. */
int capstan_store_deploy_done(capstan_ctx *ctx, int64_t id, int64_t at, int hook_ran);
/* A render or hook failed: owed, with why. */
int capstan_store_deploy_failed(capstan_ctx *ctx, int64_t id, const char *error);
/* Every row of the service owed, saying why (its keystore password changed). */
int capstan_store_deploy_stale(capstan_ctx *ctx, int64_t env_id, const char *service, const char *why);
/* Rows of services or hosts the inventory no longer records are dropped. */
int capstan_store_deploy_forget(capstan_ctx *ctx, int64_t id);
/* The latest revocation time among the environment's certificates (0: none). */
int capstan_store_last_revocation(capstan_ctx *ctx, int64_t env_id, int64_t *at);

/* Calls fn with each environment's count of leaves in each status. */
typedef int (*capstan_store_count_fn)(const char *env, const char *status, int64_t count, void *payload);
int capstan_store_status_counts(capstan_ctx *ctx, time_t now, capstan_store_count_fn fn, void *payload);

/* Group commit, for a server: between these, each change's transaction
 * (capstan_store_begin ... end) is a savepoint of one transaction that
 * capstan_store_group_end commits (commit != 0) durably, or rolls back with
 * every change in it. */
int capstan_store_group_begin(capstan_ctx *ctx);
int capstan_store_group_end(capstan_ctx *ctx, int commit);

/* The audit log's recorded end: its last row's id and hash, and the seal
 * over them (audit.c) when there is one. */
typedef struct {
	int64_t id;
	unsigned char hash[CAPSTAN_SHA256_LEN];
	unsigned char seal[CAPSTAN_SHA256_LEN];
	int sealed;
} capstan_store_audit_end;

/* Inserts the row with its id, hash, form and state (set by the caller), and
 * records it as the log's end with seal (NULL: none). */
int capstan_store_audit_insert(capstan_ctx *ctx, const capstan_audit_entry *entry,
	const unsigned char seal[CAPSTAN_SHA256_LEN]);
/* Rows[0..n), in order, as capstan_store_audit_insert would one by one;
 * seal is the last one's. */
int capstan_store_audit_insert_rows(capstan_ctx *ctx, const capstan_audit_entry *rows, size_t n,
	const unsigned char seal[CAPSTAN_SHA256_LEN]);
/* The states capstan_store_state_take would give, but only the lines of
 * the certificates serials[0..n) name, in the order they were set; the
 * others stay for their own audit rows (a batch's chunk, one row each). */
int capstan_store_state_take_of(capstan_ctx *ctx, const char *const *serials, size_t n, char **out);
/* Records end as the log's end without adding a row (sealing a log as it is). */
int capstan_store_audit_end_set(capstan_ctx *ctx, const capstan_store_audit_end *end);
/* Inside a write transaction that wrote or read the log's end already: 1
 * and that end (its last row's id and hash), which no other writer can have
 * moved since; else 0, and the caller reads it. */
int capstan_store_audit_cached(capstan_ctx *ctx, capstan_store_audit_end *last);
/* The last row's id and hash; id 0 and a zero hash for an empty log. */
int capstan_store_audit_last(capstan_ctx *ctx, int64_t *id, unsigned char hash[CAPSTAN_SHA256_LEN]);
/* The end the inventory recorded: CAPSTAN_ENOTFOUND before the first row. */
int capstan_store_audit_head(capstan_ctx *ctx, capstan_store_audit_end *end);
/* In one read, so a writer in between cannot make them disagree: the recorded
 * end (*has_end 0: none), the last row (id 0: none), and whether any
 * certificate is recorded. */
int capstan_store_audit_ends(capstan_ctx *ctx, capstan_store_audit_end *end, int *has_end,
	capstan_store_audit_end *last, int *has_certs);
/* Row id's hash; CAPSTAN_ENOTFOUND when there is no such row. */
int capstan_store_audit_row_hash(capstan_ctx *ctx, int64_t id, unsigned char hash[CAPSTAN_SHA256_LEN]);

/* The certificate states the open transaction set since the last call, one
 * "SERIAL STATUS FINGERPRINT" line each (STATUS: valid, superseded,
 * revoked:REASON), or NULL when none: *out is the caller's (free()). */
int capstan_store_state_take(capstan_ctx *ctx, char **out);
/* Each certificate's current state, in id order. */
typedef int (*capstan_store_state_fn)(int64_t id, const char *serial, const char *status, const char *reason,
	const char *fingerprint, void *payload);
int capstan_store_cert_states(capstan_ctx *ctx, capstan_store_state_fn fn, void *payload);

/* OCSP (store_ocsp.c). Every CA certificate (roots and intermediates,
 * superseded ones too) unexpired at now, oldest first. */
int capstan_store_cas(capstan_ctx *ctx, time_t now, capstan_cert ***out, size_t *count);
/* What the inventory says of the certificate issuer_id signed with serial
 * (issued 0: it signed none), read by the UNIQUE (issuer_id, serial) index. */
typedef struct {
	int issued, revoked;
	time_t revoked_at;
	char reason[32];
} capstan_store_serial_state;
int capstan_store_serial_status(capstan_ctx *ctx, int64_t issuer_id, const char *serial,
	capstan_store_serial_state *out);
/* A CA's delegated OCSP responder: found 0 when it has none yet. */
typedef struct {
	int found;
	capstan_buf der, sealed;
	time_t not_before, not_after;
} capstan_store_ocsp_responder;
int capstan_store_ocsp_responder_get(capstan_ctx *ctx, int64_t issuer_id, capstan_store_ocsp_responder *out);
/* Records r as the CA's responder, replacing the one before. */
int capstan_store_ocsp_responder_put(capstan_ctx *ctx, int64_t issuer_id, const capstan_store_ocsp_responder *r);
void capstan_store_ocsp_responder_clear(capstan_store_ocsp_responder *r);

/* capstan check (store_check.c). fn gets a one-line description of each fault. */
typedef int (*capstan_store_problem_fn)(const char *problem, void *payload);
int capstan_store_integrity(capstan_ctx *ctx, capstan_store_problem_fn fn, void *payload);
/* The schema version the database says it has (store.c, which migrates by it),
 * and the one this capstan's migrations lead to. */
int capstan_store_schema_version(capstan_ctx *ctx, int *version);
int capstan_store_schema_latest(void);
int capstan_store_duplicate_serials(capstan_ctx *ctx, capstan_store_problem_fn fn, void *payload);

/* A certificate row with its key row; pointers valid during the callback. */
typedef struct {
	int64_t id, env_id;
	const char *env, *name, *serial, *fingerprint, *kind, *status;
	time_t not_after;
	const unsigned char *der;
	size_t der_len;
	int64_t key_id;                 /* 0: no key (issued from a CSR, or lost) */
	const unsigned char *spki;      /* the key row's; NULL when it is missing */
	size_t spki_len;
	const unsigned char *sealed;
	size_t sealed_len;
	int from_csr;                   /* its audit row says it was issued from a CSR, or imported without its key */
	const unsigned char *cert_spki; /* the certificate row's key digest (NULL: none) */
	size_t cert_spki_len;
	const char *key_uri;            /* a key kept in a PKCS#11 token (sealed empty), or NULL */
} capstan_store_check_row;

typedef int (*capstan_store_check_fn)(const capstan_store_check_row *row, void *payload);
int capstan_store_check_rows(capstan_ctx *ctx, capstan_store_check_fn fn, void *payload);

#endif
