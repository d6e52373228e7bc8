#!/usr/bin/env bash
# make bench, the PostgreSQL half: capstan's batch path on PostgreSQL (over
# its Unix socket, over TCP on 127.0.0.1, two processes at once) against
# SQLite in the same run, migrate --to from SQLite, then renew --due and crl
# on PostgreSQL with a million certificates in the inventory, beside the
# same on SQLite. Prints one table. A benchmark, not a test: nothing here asserts a time.
#
# The server is a throwaway one (as tests/e2e/pg-lib.sh's: initdb as an
# unprivileged user into a temporary directory), on this machine, with the
# server's defaults for durability (fsync, synchronous_commit on): a commit
# is on disk when it returns, as SQLite's (synchronous = FULL) is.
#
# BENCH_PG_BATCH=2000 BENCH_PG_SCALE=10000 BENCH_PG_MIGRATE=10000 for a quick run.
set -euo pipefail
CAPSTAN=${CAPSTAN_BIN:?}
BATCH=${BENCH_PG_BATCH:-20000}    # certificates for each batch figure
SCALE=${BENCH_PG_SCALE:-1000000}  # the inventory for renew --due and crl
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
PG_USER=${PG_USER:-nobody}
if ! [ -x "$PG_BIN/initdb" ]; then
	echo "PostgreSQL: no server binaries (PG_BIN): skipped"
	exit 0
fi
W=$(mktemp -d /tmp/capstan-pgbench.XXXXXX)
chmod 755 "$W"
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi; }
stop() {
	[ -f "$W/data/postmaster.pid" ] && pg_as "$PG_BIN/pg_ctl" -D "$W/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$W"
}
trap stop EXIT
trap 'exit 1' INT TERM HUP
cd "$W"
unset CAPSTAN_PASSPHRASE CAPSTAN_INVENTORY
(umask 077 && head -c 24 /dev/urandom | base64 >pass) # 0600: capstan refuses a passphrase file others can read
CAP=("$CAPSTAN" --passphrase-file "$W/pass")
cap() { "${CAP[@]}" "$@"; }
sport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir data sock
[ "$(id -u)" = 0 ] && chown "$PG_USER" data sock
PORT=$(sport)
pg_as "$PG_BIN/initdb" -D data -U capstan --auth=trust -E UTF8 >initdb.log 2>&1 </dev/null ||
	{ cat initdb.log >&2; exit 1; }
pg_as "$PG_BIN/pg_ctl" -D data -l sock/server.log -w -o \
	"-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories='$W/sock'" start >/dev/null ||
	{ cat sock/server.log >&2; exit 1; }
psqlc() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# newdb NAME [tcp]: an empty database, its URL on stdout.
newdb() {
	"$PG_BIN/createdb" -h "$W/sock" -p "$PORT" -U capstan "$1"
	if [ "${2:-}" = tcp ]; then echo "postgresql://capstan@127.0.0.1:$PORT/$1"
	else echo "postgresql://capstan@/$1?host=$W/sock&port=$PORT"; fi
}
server=$("$PG_BIN/postgres" --version)
SHOWDB=$(newdb settings)
show() { psqlc -At "$SHOWDB" -c "SHOW $1"; }
echo "capstan PostgreSQL bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $server" >&2
durable="fsync=$(show fsync), synchronous_commit=$(show synchronous_commit), shared_buffers=$(show shared_buffers)"

rows=()
row() { rows+=("$(printf '%-52s %12s %10s %10s' "$@")"); printf '  %-52s %12s %10s %10s\n' "$@" >&2; }
# timed OUT CMD...: "wall user system maxrss_kb" to OUT.
timed() { local out=$1; shift; /usr/bin/time -f '%e %U %S %M' -o "$out" "$@" >/dev/null 2>"$out.err" ||
	{ echo "  failed: $* ($(head -c 300 "$out.err"))" >&2; return 1; }; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / (s > 0 ? s : 0.001) }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }'; }
cpu() { awk -v u="$1" -v s="$2" 'BEGIN { printf "%.2f s", u + s }'; }
jobs_for() { # PREFIX N: a batch of N requests
	for i in $(seq 1 "$2"); do printf '{"env":"bench","profile":"server","cn":"%s%d.internal"}\n' "$1" "$i"; done
}
jobs_for b "$BATCH" >batch.jsonl
half=$((BATCH / 2))
jobs_for p "$half" >p.jsonl
jobs_for q "$half" >q.jsonl

# batch NAME INVENTORY: a fresh inventory, then issue --batch of BATCH, timed.
batch() {
	export CAPSTAN_HOME="$W/$1"
	if [ -n "$2" ]; then export CAPSTAN_INVENTORY="$2"; else unset CAPSTAN_INVENTORY; fi
	cap init --env bench -q
	timed "t.$1" "${CAP[@]}" -q issue --batch batch.jsonl
	read -r wall u s k <"t.$1"
	echo "$(rate "$BATCH" "$wall")|$(cpu "$u" "$s")|$(mb "$k")"
}
IFS="|" read -r sqlite_rate c k < <(batch sqlite "")
row "SQLite: issue --batch ($BATCH)" "$sqlite_rate" "$c" "$k"
IFS="|" read -r unix_rate c k < <(batch unix "$(newdb unix)")
row "PostgreSQL, Unix socket: issue --batch ($BATCH)" "$unix_rate" "$c" "$k"
IFS="|" read -r tcp_rate c k < <(batch tcp "$(newdb tcp tcp)")
row "PostgreSQL, TCP 127.0.0.1: issue --batch ($BATCH)" "$tcp_rate" "$c" "$k"

# Two processes at once into one inventory, half the batch each: they take
# turns at the write lock, a group at a time.
export CAPSTAN_HOME="$W/two" CAPSTAN_INVENTORY
CAPSTAN_INVENTORY=$(newdb two)
cap init --env bench -q
start=$(date +%s.%N)
timed t.p "${CAP[@]}" -q issue --batch p.jsonl &
pp=$!
timed t.q "${CAP[@]}" -q issue --batch q.jsonl &
pq=$!
wait "$pp" && wait "$pq"
end=$(date +%s.%N)
two_rate=$(rate $((2 * half)) "$(echo "$end - $start" | bc)")
row "PostgreSQL, Unix socket: 2 processes x $half at once" "$two_rate" "-" "-"
unset CAPSTAN_INVENTORY

# The million: SCALE certificates synthesized straight into each engine, the
# rows of bench.sh's scale figures (the DER of one real certificate, random
# serials, expiry spread over two years, 10% revoked, 1,000 due within 10
# days holding a real key so that they really renew). On PostgreSQL by one
# INSERT ... SELECT over generate_series, then VACUUM ANALYZE: the
# statistics autovacuum gathers by itself soon after. migrate --to is timed
# on a copy of MIGRATE of them (a million took over 40 minutes here: one
# INSERT, one round trip, per row). Every synthesized row has the same DER
# and no audit row, so migrate's check warns of as many problems in the
# copy as in the source; they are the same rows.
MIGRATE=${BENCH_PG_MIGRATE:-100000}
synth_home() { # NAME: a home ($CAPSTAN_HOME) with its template certificate
	export CAPSTAN_HOME="$W/$1"
	cap init --env big -q
	cap -q issue --env big --profile server --cn template.internal --days 365
}
synth_sqlite() { # N: N certificates into the home's SQLite file
	local start
	start=$(date +%s.%N)
	sqlite3 "$CAPSTAN_HOME/capstan.db" >/dev/null <<SQL
PRAGMA synchronous = OFF;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
INSERT INTO certs (env_id, kind, name, serial, issuer_id, key_id, profile, status, subject, issuer, sans,
	service, key_type, lifetime, renew_before, not_before, not_after, fingerprint, der, spki_sha256,
	created_at, revoked_at, revoke_reason)
SELECT t.env_id, 'leaf', 'syn-' || i, lower(hex(randomblob(16))), t.issuer_id,
	CASE WHEN i <= 1000 THEN t.key_id END, 'server',
	CASE WHEN i > 1000 AND i % 10 = 0 THEN 'revoked' ELSE 'valid' END,
	'CN=syn-' || i, t.issuer, 'DNS:syn-' || i || '.internal', 'synthetic', t.key_type, 31536000, 0,
	CASE WHEN i <= 1000 THEN strftime('%s', 'now') - 355 * 86400 ELSE strftime('%s', 'now') - 86400 END,
	CASE WHEN i <= 1000 THEN strftime('%s', 'now') + 864000 ELSE strftime('%s', 'now') + 86400 * (40 + (i * 7919) % 690) END,
	lower(hex(randomblob(32))), t.der, t.spki_sha256, strftime('%s', 'now'),
	CASE WHEN i > 1000 AND i % 10 = 0 THEN strftime('%s', 'now') END,
	CASE WHEN i > 1000 AND i % 10 = 0 THEN 'keyCompromise' END
FROM n, (SELECT * FROM certs WHERE name = 'template.internal') t;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
	echo "  (synthesized $1 rows into SQLite in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s)" >&2
}
synth_home mig
synth_sqlite "$MIGRATE"
mig=$(newdb mig)
timed t.migrate "${CAP[@]}" migrate --to "$mig" && read -r wall u s k <t.migrate &&
	row "migrate --to PostgreSQL: $((MIGRATE + 3)) certificates" "$(printf '%.1f s' "$wall")" "$(cpu "$u" "$s")" \
		"$(mb "$k")"
rm -rf "$W/mig"

export CAPSTAN_INVENTORY
CAPSTAN_INVENTORY=$(newdb big)
synth_home pgbig
start=$(date +%s.%N)
# The trigger that keeps envs.revoked_at is set aside for the insert and its
# work done once after it: one transaction updating one row 100,000 times
# walks a chain of its versions as long, each time.
psqlc "$CAPSTAN_INVENTORY" <<SQL
ALTER TABLE certs DISABLE TRIGGER certs_revoked_env_insert;
INSERT INTO certs (env_id, kind, name, serial, issuer_id, key_id, profile, status, subject, issuer, sans,
	service, key_type, lifetime, renew_before, not_before, not_after, fingerprint, der, spki_sha256,
	created_at, revoked_at, revoke_reason)
SELECT t.env_id, 'leaf', 'syn-' || i, md5(random()::text || i), t.issuer_id,
	CASE WHEN i <= 1000 THEN t.key_id END, 'server',
	CASE WHEN i > 1000 AND i % 10 = 0 THEN 'revoked' ELSE 'valid' END,
	'CN=syn-' || i, t.issuer, 'DNS:syn-' || i || '.internal', 'synthetic', t.key_type, 31536000, 0,
	CASE WHEN i <= 1000 THEN now_s - 355 * 86400 ELSE now_s - 86400 END,
	CASE WHEN i <= 1000 THEN now_s + 864000 ELSE now_s + 86400 * (40 + (i * 7919) % 690) END,
	md5(random()::text) || md5(random()::text), t.der, t.spki_sha256, now_s,
	CASE WHEN i > 1000 AND i % 10 = 0 THEN now_s END,
	CASE WHEN i > 1000 AND i % 10 = 0 THEN 'keyCompromise' END
FROM generate_series(1::bigint, $SCALE) i, (SELECT *, extract(epoch FROM now())::bigint AS now_s
	FROM certs WHERE name = 'template.internal') t;
ALTER TABLE certs ENABLE TRIGGER certs_revoked_env_insert;
UPDATE envs SET revoked_at = GREATEST(revoked_at, coalesce((SELECT max(c.revoked_at) FROM certs c
	WHERE c.env_id = envs.id AND c.status = 'revoked'), 0));
VACUUM ANALYZE;
SQL
echo "  (synthesized $SCALE rows into PostgreSQL in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s)" >&2
scale_cmds() { # ENGINE: crl and renew --due, timed
	local u s k wall
	timed t.crl "${CAP[@]}" crl --env big --out "$W/crl-$1.pem" && read -r wall u s k <t.crl &&
		row "$1: crl, $(openssl crl -in "$W/crl-$1.pem" -noout -text | grep -c 'Serial Number') revoked" \
			"$(printf '%.2f s' "$wall")" "$(cpu "$u" "$s")" "$(mb "$k")"
	timed t.renew "${CAP[@]}" -q renew --due && read -r wall u s k <t.renew &&
		row "$1: renew --due, the 1,000 due" "$(printf '%.2f s' "$wall")" "$(cpu "$u" "$s")" "$(mb "$k")"
}
scale_cmds PostgreSQL
unset CAPSTAN_INVENTORY
synth_home sqbig
synth_sqlite "$SCALE"
scale_cmds SQLite

echo
echo "PostgreSQL: $server on this machine, server defaults ($durable); SQLite: synchronous = FULL"
printf '%-52s %12s %10s %10s\n' "EC P-256 server certificates, fresh keys" "certs/s|wall" "CPU" "peak RSS"
printf '%s\n' "${rows[@]}"
echo
awk -v s="$sqlite_rate" -v u="$unix_rate" -v t="$tcp_rate" -v two="$two_rate" 'BEGIN {
	printf "PostgreSQL / SQLite, issue --batch: Unix socket %.2f, TCP %.2f, 2 processes %.2f (goal >= 0.5)\n",
		u / s, t / s, two / s
}'
echo "(CPU: capstan's user + system, not the server's)"
