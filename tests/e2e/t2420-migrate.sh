#!/usr/bin/env bash
# The inventory moved whole (issue 16): migrate from SQLite to PostgreSQL and
# back, each copy checked on the target; backup while another process
# writes, restore into a fresh home and into PostgreSQL; and every refusal
# clean (an unreachable or non-empty target, a wrong passphrase, a file that
# is no backup, a link where the backup goes).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg-lib.sh"

[ "$(id -u)" = 0 ] || command -v runuser >/dev/null ||
	{ echo "1..0 # SKIP the server runs as another user (runuser, as root)"; exit 0; }
pg_start source || { echo "1..0 # SKIP no PostgreSQL server binaries (postgresql)"; exit 0; }
# The source is the home's SQLite file; PostgreSQL databases are targets.
unset CAPSTAN_INVENTORY
SRC_HOME=$CAPSTAN_HOME

# batch FILE PREFIX N: N issue requests, one a line.
batch() {
	local i
	for i in $(seq 1 "$3"); do
		printf '{"env":"dev","profile":"client","cn":"%s-%04d","service":"batch","days":30}\n' "$2" "$i"
	done >"$1"
}
# What an inventory holds, as its users see it (list, trust, audit).
view() {
	"$CAPSTAN" "$@" --json list --status all | jq -S 'sort_by(.env, .serial)' &&
	"$CAPSTAN" "$@" trust --env dev --out - &&
	"$CAPSTAN" "$@" --json audit | jq -S .
}
sqlite_dump() { sqlite3 "$SRC_HOME/capstan.db" .dump | sha256sum; }

# A source with a little of everything: two environments, leaves renewed,
# revoked, a CRL, a batch, a service with its bundle password, an OCSP responder.
cap init --env dev >/dev/null && cap init --env prod --key rsa-3072 >/dev/null || not_ok "init"
cap issue --env dev --profile server --cn web.internal --dns web.internal >/dev/null
cap issue --env prod --profile peer --cn etcd-1 --dns etcd-1.prod --ip 127.0.0.1 >/dev/null
cap renew web.internal --env dev >/dev/null
cap revoke etcd-1 --env prod --reason keyCompromise >/dev/null
cap crl --env prod --out "$T/prod.crl" >/dev/null
batch "$T/b.jsonl" one 50
cap issue --batch "$T/b.jsonl" >/dev/null
cap bundle --env dev --service batch --out "$T/bundle" --new-password >/dev/null 2>&1
check "the source checks clean" cap check --keys
src_view=$(view)
src_dump=$(sqlite_dump)

# SQLite -> PostgreSQL.
pg_createdb pgcopy
PGCOPY=$(pg_url pgcopy)
check "migrate --to postgresql://" cap migrate --to "$PGCOPY"
like "it says what it copied and verified" "$(cat "$T/out")" \
	'^migrated to postgresql://.*: 57 certificates, [0-9]+ audit rows, [0-9]+ rows in 12 tables; verified: .*[0-9]+ chains, [0-9]+ keys, the audit chain$'
is "the source is not changed" "$(sqlite_dump)" "$src_dump"
export CAPSTAN_HOME="$T/pghome"
check "check --keys on the copy" cap --inventory "$PGCOPY" check --keys
check "audit --verify on the copy" "$CAPSTAN" --inventory "$PGCOPY" audit --verify
is "the copy holds what the source holds" "$(view --inventory "$PGCOPY")" "$src_view"
check "the copy issues (its ids go on past the copied rows)" \
	cap --inventory "$PGCOPY" issue --env dev --profile server --cn after.internal --dns after.internal
check "and renews" cap --inventory "$PGCOPY" renew after.internal --env dev
check "a key copied sealed opens on the copy" cap --inventory "$PGCOPY" export web.internal --env dev \
	--format key --out "$T/web.key"
export CAPSTAN_HOME=$SRC_HOME
refuses "a second migrate into the same database is refused (not empty)" 1 "not empty" \
	cap migrate --to "$PGCOPY"
is "and the target kept its rows" "$(PG_PSQL_URL=$PGCOPY pg_psql -At -c 'SELECT count(*) FROM certs')" 59

# PostgreSQL -> SQLite.
export CAPSTAN_HOME="$T/pghome"
pg_view=$(view --inventory "$PGCOPY")
check "migrate from PostgreSQL --to sqlite:FILE" cap --inventory "$PGCOPY" migrate --to "sqlite:$T/back.db"
is "the file is 0600" "$(stat -c %a "$T/back.db")" 600
check "check --keys on it" cap --inventory "sqlite:$T/back.db" check --keys
is "it holds what PostgreSQL holds" "$(view --inventory "sqlite:$T/back.db")" "$pg_view"
export CAPSTAN_HOME=$SRC_HOME

# Refusals: nothing reachable, a password in the URL, a file already an inventory.
refuses "an unreachable server is refused" 1 "cannot connect" \
	cap migrate --to "postgresql://capstan@/nothing?host=$T/no-such-socket"
refuses "a password in the URL is refused" 1 "password" \
	cap migrate --to "postgresql://capstan:secret@/pgcopy?host=$PG_DIR/sock"
refuses "a non-empty SQLite target is refused" 1 "not empty" cap migrate --to "sqlite:$T/back.db"
refuses "--to is required" 2 "--to is required" cap migrate
refuses "a wrong passphrase is refused" 1 "passphrase" \
	"$CAPSTAN" --passphrase-file <(echo wrong passphrase) migrate --to "sqlite:$T/never.db"
check "and made no file" test ! -e "$T/never.db"

# backup while another process writes: one moment, complete and consistent.
batch "$T/w.jsonl" two 1500
cap issue --batch "$T/w.jsonl" >"$T/writer.out" 2>&1 &
writer=$!
sleep 0.3
check "backup --out while a batch writes" cap backup --out "$T/snap.db"
wait "$writer" || not_ok "the concurrent batch"
is "the backup is 0600" "$(stat -c %a "$T/snap.db")" 600
check "the backup is one file (no -wal beside it)" test ! -e "$T/snap.db-wal"
export CAPSTAN_HOME="$T/snaphome"
check "check --keys on the backup" cap --inventory "sqlite:$T/snap.db" check --keys
check "its audit chain verifies to its end" "$CAPSTAN" --inventory "sqlite:$T/snap.db" audit --verify
n=$("$CAPSTAN" --inventory "sqlite:$T/snap.db" --json list --status all | jq length)
like "it holds the certificates of one moment ($n)" "$n" '^[0-9]+$'
is "the audit rows of that moment name exactly its certificates" \
	"$("$CAPSTAN" --inventory "sqlite:$T/snap.db" --json audit | jq -r '[.[].state[]?.serial] | unique | .[]')" \
	"$({ "$CAPSTAN" --inventory "sqlite:$T/snap.db" --json list --status all
	    "$CAPSTAN" --inventory "sqlite:$T/snap.db" --json list --status all --ca; } | jq -rs 'add | [.[].serial] | unique | .[]')"

# restore into a fresh home, and into PostgreSQL.
export CAPSTAN_HOME="$T/restored"
check "restore --from into a new home" cap restore --from "$T/snap.db"
like "it says it was verified" "$(cat "$T/out")" '^restored from .*verified'
check "check --keys on the restored home" cap check --keys
is "it holds what the backup holds" "$(view)" "$(view --inventory "sqlite:$T/snap.db")"
check "it issues" cap issue --env dev --profile server --cn restored.internal --dns restored.internal
refuses "restore into an inventory that is not empty is refused" 1 "not empty" cap restore --from "$T/snap.db"
pg_createdb pgrestored
check "restore --from into PostgreSQL" cap --inventory "$(pg_url pgrestored)" restore --from "$T/snap.db"
check "check --keys there" cap --inventory "$(pg_url pgrestored)" check --keys

export CAPSTAN_HOME="$T/never"
refuses "a wrong passphrase for the backup is refused" 1 "wrong passphrase" \
	"$CAPSTAN" --passphrase-file <(echo wrong passphrase) restore --from "$T/snap.db"
check "and no home was made" test ! -e "$T/never"
refuses "a missing backup is refused" 1 "backup" cap restore --from "$T/nothing.db"
printf 'not a database at all, just text\n' >"$T/junk.db"; chmod 600 "$T/junk.db"
refuses "a file that is no database is refused" 1 "" cap restore --from "$T/junk.db"
check "still no home" test ! -e "$T/never"
refuses "--from is required" 2 "--from is required" cap restore

export CAPSTAN_HOME=$SRC_HOME
ln -s "$T/elsewhere.db" "$T/link.db"
refuses "backup onto a symbolic link is refused" 1 "symbolic link" cap backup --out "$T/link.db"
check "the link's target was not made" test ! -e "$T/elsewhere.db"
refuses "backup to standard output is refused" 2 "not -" cap backup --out -
cp "$T/snap.db" "$T/snap.before"
check "a second backup replaces the first" cap backup --out "$T/snap.db"
check "with the newer inventory" test "$(sqlite3 "$T/snap.db" 'SELECT count(*) FROM certs')" -gt \
	"$(sqlite3 "$T/snap.before" 'SELECT count(*) FROM certs')" -o \
	"$(sqlite3 "$T/snap.db" 'SELECT count(*) FROM certs')" -eq "$(sqlite3 "$T/snap.before" 'SELECT count(*) FROM certs')"
check "no temporary file is left beside it" test -z "$(ls -A "$T" | grep capstan-tmp)"

done_testing
