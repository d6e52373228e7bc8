#!/usr/bin/env bash
# Several writers on one PostgreSQL inventory (issue 16), as real processes
# against a throwaway server of this script's own (it restarts it, so never
# the one scripts/e2e-pg.sh shares): two issue --batch of 2,000 at once
# (serials unique per issuer, one unbroken audit chain), four renew --due at
# once over 40 due certificates (each renewed exactly once), and the server
# restarted under a batch (what the batch reported is in the inventory, the
# batch fails in one line or finishes, the next one works), and under
# serve (its next request answered on a new session).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg-lib.sh"
. "$(dirname "$0")/serve-lib.sh"

# Its server is its own in every pass: under make e2e-pg it would run the
# same again.
[ -z "${CAPSTAN_E2E_PG:-}" ] || { echo "1..0 # SKIP the same as in the SQLite pass (a server of its own)"; exit 0; }
[ "$(id -u)" = 0 ] || command -v runuser >/dev/null ||
	{ echo "1..0 # SKIP the server runs as another user (runuser, as root)"; exit 0; }
pg_start || { echo "1..0 # SKIP no PostgreSQL server binaries (postgresql)"; exit 0; }

# batch FILE ENV PREFIX N DAYS: N issue requests, one a line.
batch() {
	local i
	for i in $(seq 1 "$4"); do
		printf '{"env":"%s","profile":"client","cn":"%s-%04d","service":"w","days":%s}\n' "$2" "$3" "$i" "$5"
	done >"$1"
}
sql() { pg_psql -At -c "$1"; }
# leaves ENV: the leaf certificates of ENV in the inventory (any status).
leaves() { sql "SELECT count(*) FROM certs c JOIN envs e ON e.id = c.env_id WHERE e.name = '$1' AND c.kind = 'leaf'"; }
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc | xargs printf '%.1f'; }

# A serial the issuer used meanwhile, met at the record on this engine: the
# unit test (tests/unit/test_serial.c) on a database of its own, when built.
unit=$(dirname "$CAPSTAN")/tests/test_serial
if [ -x "$unit" ] && pg_createdb serial; then
	check "a taken serial: signed again under a new one (test_serial on PostgreSQL)" \
		env CAPSTAN_INVENTORY="$(pg_url serial)" "$unit"
fi

check "init" cap init --env one
check "init" cap init --env two

# (a) Two batches at once, 2,000 each, into the same environment (one
# issuer: the serials of both draw on one UNIQUE (issuer, serial)) and into
# another (the audit chain is shared by every environment).
batch "$T/a.jsonl" one a 2000 365
batch "$T/b.jsonl" one b 1000 365
batch "$T/b2.jsonl" two b 1000 365
cat "$T/b2.jsonl" >>"$T/b.jsonl"
t0=$(now)
cap issue --batch "$T/a.jsonl" >"$T/a.out" 2>"$T/a.err" &
pa=$!
cap issue --batch "$T/b.jsonl" >"$T/b.out" 2>"$T/b.err" &
pb=$!
wait "$pa"; is "batch a exits 0" "$?" 0
wait "$pb"; is "batch b exits 0" "$?" 0
t1=$(now)
echo "# two batches of 2,000 at once: $(elapsed "$t0" "$t1") s" \
	"($(echo "4000 / ($t1 - $t0)" | bc) certificates/s together)"
is "no error output" "$(cat "$T/a.err" "$T/b.err")" ""
is "4,000 reported" "$(cat "$T/a.out" "$T/b.out" | wc -l)" 4000
is "4,000 distinct serials reported" "$(cut -d' ' -f1 "$T/a.out" "$T/b.out" | sort -u | wc -l)" 4000
is "3,000 in one, 1,000 in two" "$(leaves one) $(leaves two)" "3000 1000"
is "3,000 distinct serials under one's issuer" \
	"$(sql "SELECT count(DISTINCT c.serial) FROM certs c JOIN envs e ON e.id = c.env_id
		WHERE e.name = 'one' AND c.kind = 'leaf' GROUP BY c.issuer_id")" 3000
is "no serial twice under any issuer" \
	"$(sql "SELECT count(*) FROM (SELECT 1 FROM certs GROUP BY issuer_id, serial HAVING count(*) > 1) d")" 0
is "every reported serial is in the inventory" \
	"$(cut -d' ' -f1 "$T/a.out" "$T/b.out" | sort >"$T/reported"
	   sql "SELECT serial FROM certs WHERE kind = 'leaf'" | sort | comm -23 "$T/reported" - | wc -l)" 0
is "an issue row each" "$(sql "SELECT count(*) FROM audit WHERE op = 'issue'")" 4000
check "one unbroken audit chain" "$CAPSTAN" audit --verify
check "check is clean" "$CAPSTAN" check
is "and says nothing is wrong" "$(cat "$T/err")" ""

# (b) 40 certificates of 30 days; at +25 days each is inside its window
# (a third of its validity) and the 365-day ones above are not. Four runs at
# once, as cron on four hosts.
batch "$T/due.jsonl" due due 40 30
cap init --env due >/dev/null || not_ok "init due"
cap issue --batch "$T/due.jsonl" >/dev/null || not_ok "issue due"
t0=$(now)
for run in 1 2 3 4; do
	faketime -f +25d "$CAPSTAN" --passphrase-file "$PASS" --json renew --due >"$T/run$run.json" 2>"$T/run$run.err" &
	pids[run]=$!
done
for run in 1 2 3 4; do
	wait "${pids[run]}"
	is "renew --due run $run exits 0" "$?" 0
	is "run $run printed no error" "$(cat "$T/run$run.err")" ""
done
echo "# four renew --due at once over 40: $(elapsed "$t0" "$(now)") s"
is "40 renewals across the runs" "$(cat "$T"/run?.json | jq -s '[.[].renewed | length] | add')" 40
is "none renewed twice" "$(cat "$T"/run?.json | jq -rs '[.[].renewed[].name] | unique | length')" 40
is "40 valid, 40 superseded in due" \
	"$(sql "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT c.status, count(*) n
		FROM certs c JOIN envs e ON e.id = c.env_id WHERE e.name = 'due' AND c.kind = 'leaf' GROUP BY c.status) s")" \
	"superseded 40, valid 40"
is "40 renew rows" "$(sql "SELECT count(*) FROM audit WHERE op = 'renew'")" 40
is "nothing else renewed" "$(sql "SELECT count(*) FROM certs WHERE status = 'superseded'")" 40
check "the audit chain is one" "$CAPSTAN" audit --verify
# (at +25 days: the renewed certificates start then)
check "check is clean" faketime -f +25d "$CAPSTAN" check
check "a fifth run finds nothing due" faketime -f +25d "$CAPSTAN" --passphrase-file "$PASS" renew --due
is "and says nothing" "$(cat "$T/out" "$T/err")" ""

# (c) The server restarted under a batch: a fast shutdown ends every session
# (the batch's transaction rolled back by the server), then it starts again.
cap init --env three >/dev/null || not_ok "init three"
batch "$T/c.jsonl" three c 3000 365
before=$(leaves three)
cap issue --batch "$T/c.jsonl" >"$T/c.out" 2>"$T/c.err" &
pc=$!
# Once some groups have committed: the restart lands in the batch's middle.
for i in $(seq 1 200); do
	[ "$(wc -l <"$T/c.out")" -ge 300 ] && break
	kill -0 "$pc" 2>/dev/null || break
	sleep 0.05
done
reported_before=$(wc -l <"$T/c.out")
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w restart >/dev/null 2>&1 || not_ok "pg_ctl restart"
wait "$pc"
rc=$?
echo "# restart after $reported_before reported; the batch exited $rc with $(wc -l <"$T/c.out") reported"
if [ "$rc" = 0 ]; then
	is "the batch finished: every certificate reported" "$(wc -l <"$T/c.out")" 3000
	is "and no error" "$(cat "$T/c.err")" ""
else
	ok "the batch failed (exit $rc)"
	is "in one line" "$(wc -l <"$T/c.err")" 1
	like "a clear one" "$(cat "$T/c.err")" "^capstan: .*(connection|server|terminat)"
	diag "$T/c.err"
fi
check "the restart landed mid-batch" test "$reported_before" -lt 3000
cut -d' ' -f1 "$T/c.out" | sort >"$T/c.reported"
is "every certificate reported is in the inventory" \
	"$(sql "SELECT serial FROM certs c JOIN envs e ON e.id = c.env_id WHERE e.name = 'three'" |
		sort | comm -23 "$T/c.reported" - | wc -l)" 0
is "an issue row for each certificate in three" \
	"$(sql "SELECT count(*) FROM audit WHERE op = 'issue' AND env = 'three'")" "$(leaves three)"
check "the audit chain is one" "$CAPSTAN" audit --verify
check "check is clean" faketime -f +25d "$CAPSTAN" check
# The names already issued are refused (valid already); the rest issue.
batch "$T/d.jsonl" three d 200 365
check "a following batch works" cap issue --batch "$T/d.jsonl"
is "200 reported" "$(wc -l <"$T/out")" 200
[ "$before" = 0 ] || not_ok "three was empty before"

# (d) serve outlives a restart: its session ends with the old server, and
# the next request is answered on a new one, with what changed meanwhile.
serve_site_setup
trap 'stop_serve; pg_stop; rm -rf "$T"' EXIT
check "serve starts" start_serve --config "$T/serve.yaml"
like "OCSP: good" "$(ocsp)" "site.pem: good"
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w restart >/dev/null 2>&1 || not_ok "pg_ctl restart"
check "revoke after the restart" cap revoke site --env prod --reason keyCompromise
like "OCSP from serve's new session: revoked" "$(ocsp)" "site.pem: revoked"
check "serve is still running" kill -0 "$SERVE_PID"
stop_serve
check "the audit chain verifies at the end" "$CAPSTAN" audit --verify

done_testing
