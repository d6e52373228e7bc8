#!/usr/bin/env bash
# Cron on several hosts sharing a home, or a slow run overlapping the next:
# 4 runs of renew --due at once over 20 due certificates renew each exactly once,
# and none fails with "database is locked".
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null || exit 1
for i in $(seq -w 1 20); do
	cap issue --env dev --profile client --cn "job-$i" --days 30 >/dev/null || not_ok "issue job-$i"
done
# At +25 days every one is inside its 10-day window.
for run in 1 2 3 4; do
	faketime -f +25d "$CAPSTAN" --passphrase-file "$PASS" --json renew --due >"$T/run$run.json" 2>"$T/run$run.err" &
	pids[run]=$!
done
for run in 1 2 3 4; do
	wait "${pids[run]}"
	is "run $run exits 0" "$?" 0
	is "run $run printed no error" "$(cat "$T/run$run.err")" ""
done
total=$(cat "$T"/run?.json | jq -s '[.[].renewed | length] | add')
is "20 renewals in all, across the 4 runs" "$total" 20
is "no certificate renewed twice" "$(cat "$T"/run?.json | jq -rs '[.[].renewed[].name] | unique | length')" 20
is "20 renew rows in the audit log" "$("$CAPSTAN" --json audit | jq '[.[] | select(.operation == "renew")] | length')" 20
is "each line: one valid certificate" "$("$CAPSTAN" --json list | jq length)" 20
is "each line: one superseded certificate" "$("$CAPSTAN" --json list --status superseded | jq length)" 20
is "serials are unique" "$("$CAPSTAN" --json list --status all | jq '[.[].serial] | unique | length')" 40
check "the audit chain is intact" "$CAPSTAN" audit --verify
check "a fifth run finds nothing to do" faketime -f +25d "$CAPSTAN" --passphrase-file "$PASS" renew --due
is "and says nothing" "$(cat "$T/out" "$T/err")" ""

done_testing
