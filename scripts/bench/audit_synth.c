/*
 * make bench: an audit log for a synthesized inventory. One "issue" row per
 * certificate row that has none, chained exactly as lib/audit.c chains them
 * (SHA-256 of the previous hash and the row's canonical form), and the head
 * recorded, so that audit --verify and check walk a log as long as the
 * inventory and find it intact. A bench tool, not part of capstan.
 *
 * usage: audit_synth DB
 */
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t put_field(unsigned char *buf, size_t at, const char *v)
{
	if (!v)
		return at + (size_t)sprintf((char *)buf + at, "~,");
	return at + (size_t)sprintf((char *)buf + at, "%zu:%s,", strlen(v), v);
}

static void die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "audit_synth: %s: %s\n", what, sqlite3_errmsg(db));
	_exit(1);
}

int main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *last, *rows, *ins, *head;
	unsigned char prev[32] = { 0 }, buf[4096], h[8 + 32];
	long long id = 0, at = (long long)time(NULL);
	const char *user = getenv("USER") ? getenv("USER") : "bench";
	unsigned uid = (unsigned)getuid();

	if (argc != 2 || sqlite3_open(argv[1], &db) != SQLITE_OK)
		return 2;
	sqlite3_exec(db, "PRAGMA synchronous = OFF; BEGIN", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", -1, &last, NULL) ||
	    sqlite3_prepare_v2(db, "SELECT e.name, c.name, c.serial, c.key_id IS NULL FROM certs c"
			" JOIN envs e ON e.id = c.env_id WHERE c.kind = 'leaf' AND c.name LIKE 'syn-%' ORDER BY c.id",
		    -1, &rows, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO audit (id, at, uid, user, op, env, name, serial, detail, hash)"
			" VALUES (?1, ?2, ?3, ?4, 'issue', ?5, ?6, ?7, ?8, ?9)", -1, &ins, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('audit.head', ?1)", -1, &head,
		    NULL))
		die(db, "prepare");
	if (sqlite3_step(last) == SQLITE_ROW) {
		id = sqlite3_column_int64(last, 0);
		memcpy(prev, sqlite3_column_blob(last, 1), 32);
	}
	while (sqlite3_step(rows) == SQLITE_ROW) {
		const char *env = (const char *)sqlite3_column_text(rows, 0);
		char name[128], serial[80], sid[24], sat[24], suid[24];
		const char *detail = sqlite3_column_int(rows, 3) ? "from CSR" : "ec-p256";
		size_t n = 32;

		snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(rows, 1));
		snprintf(serial, sizeof(serial), "%s", (const char *)sqlite3_column_text(rows, 2));
		snprintf(sid, sizeof(sid), "%lld", ++id);
		snprintf(sat, sizeof(sat), "%lld", at);
		snprintf(suid, sizeof(suid), "%u", uid);
		memcpy(buf, prev, 32);
		n = put_field(buf, n, "capstan-audit-v1");
		n = put_field(buf, n, sid);
		n = put_field(buf, n, sat);
		n = put_field(buf, n, suid);
		n = put_field(buf, n, user);
		n = put_field(buf, n, "issue");
		n = put_field(buf, n, env);
		n = put_field(buf, n, name);
		n = put_field(buf, n, serial);
		n = put_field(buf, n, detail);
		EVP_Digest(buf, n, prev, NULL, EVP_sha256(), NULL);
		sqlite3_bind_int64(ins, 1, id);
		sqlite3_bind_int64(ins, 2, at);
		sqlite3_bind_int64(ins, 3, uid);
		sqlite3_bind_text(ins, 4, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 5, env, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 6, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 7, serial, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 8, detail, -1, SQLITE_STATIC);
		sqlite3_bind_blob(ins, 9, prev, 32, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			die(db, "insert");
		sqlite3_reset(ins);
	}
	for (int i = 0; i < 8; i++)
		h[i] = (unsigned char)((unsigned long long)id >> (56 - 8 * i));
	memcpy(h + 8, prev, 32);
	sqlite3_bind_blob(head, 1, h, sizeof(h), SQLITE_STATIC);
	if (sqlite3_step(head) != SQLITE_DONE)
		die(db, "head");
	sqlite3_finalize(last);
	sqlite3_finalize(rows);
	sqlite3_finalize(ins);
	sqlite3_finalize(head);
	if (sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
		die(db, "commit");
	sqlite3_close(db);
	printf("%lld\n", id);
	return 0;
}
