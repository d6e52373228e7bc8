#!/usr/bin/env bash
# The audit log is tamper-evident: any edit, deletion, insertion or reordering
# made behind capstan's back makes `audit --verify` exit 1 and name the row.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null || exit 1
for n in a b c d; do cap issue --env dev --profile client --cn "$n" >/dev/null; done
cap revoke b >/dev/null
rows=$(db_sql 'SELECT count(*) FROM audit')
is "7 rows: 2 init, 4 issue, 1 revoke" "$rows" 7
check "an untouched log verifies" "$CAPSTAN" audit --verify
is "and says how many rows" "$(cat "$T/out")" \
	"audit log intact: 7 rows; its end's seal was not checked (it needs the passphrase)"
is "--json audit --verify" "$("$CAPSTAN" --json audit --verify | jq -c .)" \
	'{"intact":true,"rows":7,"seal_checked":false,"anchors":0}'
"$CAPSTAN" --json audit >"$T/audit.json"
for field in id time uid user operation env name serial detail state; do
	is "--json audit rows have $field" "$(jq "[.[] | has(\"$field\")] | all" "$T/audit.json")" true
done
db_save pristine

# tamper DESC SQL PATTERN: apply SQL to a copy of the pristine inventory and
# expect audit --verify to fail, naming what is wrong.
tamper() {
	db_restore pristine
	db_sql "$2"
	"$CAPSTAN" audit --verify >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" = 1 ] && grep -Eq -- "^capstan: .*$3" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   exit $rc" >&2
		diag "$T/out" "$T/err"
	fi
}
tamper "an edited user" "UPDATE audit SET \"user\" = 'mallory' WHERE id = 3" "audit row 3 does not match its hash"
tamper "an edited serial" "UPDATE audit SET serial = 'ffff' WHERE id = 5" "audit row 5 does not match"
tamper "an edited time" "UPDATE audit SET at = at - 86400 WHERE id = 4" "audit row 4 does not match"
tamper "a deleted middle row" "DELETE FROM audit WHERE id = 4" "audit row 4 is missing"
tamper "the deleted newest row" "DELETE FROM audit WHERE id = 7" "ends at row 6 but its recorded end is row 7: rows were deleted"
tamper "every row deleted" "DELETE FROM audit" "recorded end is missing|recorded end is row 7"
tamper "two rows swapped" \
	"UPDATE audit SET id = 100 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = 4; UPDATE audit SET id = 4 WHERE id = 100" \
	"audit row 3 does not match"
tamper "a forged row appended" \
	"INSERT INTO audit (id, at, uid, \"user\", op, env, name, serial, detail, hash) SELECT 8, at, uid, \"user\", 'issue', env, 'forged', serial, detail, hash FROM audit WHERE id = 7" \
	"audit row 8 does not match"
zeros=$(on_pg && echo "decode(repeat('00', 32), 'hex')" || echo "zeroblob(32)")
tamper "a row's hash replaced" "UPDATE audit SET hash = $zeros WHERE id = 2" "audit row 2 does not match"

db_restore pristine
check "the pristine copy verifies again" "$CAPSTAN" audit --verify
check "and new rows extend the chain" cap issue --env dev --profile client --cn e
check "which still verifies" cap audit --verify
is "8 rows now" "$(cat "$T/out")" "audit log intact: 8 rows; its end matches its seal"

done_testing
