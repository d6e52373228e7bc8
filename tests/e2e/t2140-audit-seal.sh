#!/usr/bin/env bash
# The audit log's end is sealed with a key only the passphrase opens, its rows
# carry the certificate states they set, and anchors kept outside the
# inventory pin it: cutting the log, un-revoking a certificate behind
# capstan's back, or rolling the whole inventory back are each found.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null || exit 1
cap issue --env dev --profile server --cn a.dev.internal --dns a.dev.internal >/dev/null
b=$(cap issue --env dev --profile server --cn b.dev.internal --dns b.dev.internal)
cap revoke "$b" --reason keyCompromise >/dev/null
rows=$(db_sql 'SELECT count(*) FROM audit')

# --- reading and verifying: with the passphrase the seal is checked too
check "the log verifies with the passphrase" cap audit --verify
like "and says the seal was checked" "$(cat "$T/out")" "^audit log intact: $rows rows; its end matches its seal$"
check "the log verifies without one" "$CAPSTAN" audit --verify
like "and says the seal was not checked" "$(cat "$T/out")" "seal was not checked \(it needs the passphrase\)"
is "--json says so" "$(cap --json audit --verify | jq -c '[.intact, .seal_checked]')" '[true,true]'
is "the revoke row carries the state it set" \
	"$(cap --json audit | jq -r '.[] | select(.operation == "revoke") | .state[0].status')" revoked:keyCompromise
refuses "revoke without the passphrase is refused" 1 "passphrase is needed" \
	"$CAPSTAN" revoke a.dev.internal
cap crl --env dev --out "$T/crl-before.pem"
rows=$(db_sql 'SELECT count(*) FROM audit')
db_save sealed

# --- the issue's attack: cut the revocation off the end, rewrite the end, un-revoke
restore() { db_restore sealed; }
# Rows from the end deleted, the recorded end rewritten to the new last row
# (its seal kept: no one without the passphrase can make another), and the
# revocation undone.
cut_end() {
	if on_pg; then
		db_sql "DELETE FROM audit WHERE id IN (SELECT id FROM audit ORDER BY id DESC LIMIT $1);
			UPDATE meta SET value = (SELECT int8send(id) || hash FROM audit ORDER BY id DESC LIMIT 1)
				|| substr(value, 41) WHERE key = 'audit.head'"
		return
	fi
	python3 - "$CAPSTAN_HOME/capstan.db" "$1" <<'PY'
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
for _ in range(int(sys.argv[2])):
    db.execute("DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)")
last, h = db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
old = db.execute("SELECT value FROM meta WHERE key = 'audit.head'").fetchone()[0]
db.execute("UPDATE meta SET value = ? WHERE key = 'audit.head'", (struct.pack(">q", last) + h + old[40:],))
db.commit()
PY
}
# The crl row and the revoke row go: the log then ends before the revocation.
cut_end 2
db_sql "UPDATE certs SET status = 'valid', revoked_at = NULL, revoke_reason = NULL WHERE serial = '$b'"
check_fails "audit --verify finds the cut end" cap audit --verify
like "naming the seal" "$(cat "$T/err")" "does not match its seal"
check_fails "check finds it" cap check
refuses "a CRL is not signed from the cut log" 1 "does not match its seal" cap crl --env dev --out "$T/crl.pem"
refuses "nor is anything issued" 1 "does not match its seal" \
	cap issue --env dev --profile server --cn c.dev.internal --dns c.dev.internal
[ ! -e "$T/crl.pem" ] && ok "no CRL file was written" || not_ok "no CRL file was written"
check "export of a certificate still works (reading is not refused)" \
	cap export a.dev.internal --format cert --out "$T/a.pem"
check "the operator reseals after looking" cap audit --reseal
is "the reseal row says what the seal named" \
	"$(cap --json audit | jq -r '.[-1] | .operation + ": " + .detail')" \
	"reseal: accepted as it was: the audit log's recorded end (row $((rows - 2))) does not match its seal"
check "changes go on after the reseal" cap issue --env dev --profile server --cn c.dev.internal --dns c.dev.internal
refuses "a second reseal has nothing to do" 1 "nothing to reseal" cap audit --reseal

# A sealed end copied from elsewhere does not fit a shorter log either.
restore
db_sql "DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)"
check_fails "a log shorter than its recorded end is found" "$CAPSTAN" audit --verify
like "naming both rows" "$(cat "$T/err")" "ends at row $((rows - 1)) but its recorded end is row $rows"
check_fails "and blocks changes" cap issue --env dev --profile client --cn e
like "saying why" "$(cat "$T/err")" "ends at row $((rows - 1)) but its sealed end is row $rows"
restore
db_sql "UPDATE meta SET value = substr(value, 1, 40) WHERE key = 'audit.head'"
check_fails "an end stripped of its seal is found" cap audit --verify
like "as not sealed" "$(cat "$T/err")" "is not sealed"

# --- the replay: certs changed, the log untouched
restore
db_sql "UPDATE certs SET status = 'valid', revoked_at = NULL, revoke_reason = NULL WHERE serial = '$b'"
check "audit --verify alone cannot see it (the log is intact)" cap audit --verify
check_fails "check replays the log and finds the un-revoked certificate" "$CAPSTAN" check
like "naming it and the row" "$(cat "$T/err")" \
	"certificate $b is valid in the inventory, but the audit log last recorded it as revoked:keyCompromise"
restore
db_sql "DELETE FROM certs WHERE serial = '$b'"
check_fails "a revoked certificate deleted outright is found" "$CAPSTAN" check
like "as gone" "$(cat "$T/err")" "as revoked:keyCompromise, but the inventory no longer has it"
restore
db_sql "INSERT INTO certs (env_id, kind, name, serial, issuer_id, status, subject, issuer, key_type,
	lifetime, not_before, not_after, fingerprint, der, created_at)
	SELECT env_id, kind, 'planted', '00ff', issuer_id, status, subject, issuer, key_type, lifetime, not_before,
	not_after, 'aa' || substr(fingerprint, 3), der, created_at FROM certs WHERE kind = 'root'"
check_fails "a certificate planted behind capstan's back is found" "$CAPSTAN" check
like "as in no audit row" "$(cat "$T/err")" "certificate 00ff .* is in no audit row"
restore
check "the untouched inventory checks clean" cap check

# --- anchors kept outside
check "audit --anchor --append keeps the end in a file" cap audit --anchor --append "$T/anchors"
like "and prints it" "$(cat "$T/out")" "^capstan-audit-anchor log=[0-9a-f]{16} row=$rows sha256=[0-9a-f]{64}$"
is "the file has that line" "$(cat "$T/anchors")" "$(cat "$T/out")"
check "the log extends its anchor" "$CAPSTAN" audit --verify --anchor "$T/anchors"
like "and says so" "$(cat "$T/out")" "extending all 1 anchors in $T/anchors"
cap issue --env dev --profile client --cn d >/dev/null
{ echo "Nov 28 03:00:01 ca1 capstan[42]: $(cap audit --anchor)"; echo "unrelated line"; } >>"$T/anchors"
check "a log two anchors behind it still extends both" "$CAPSTAN" audit --verify --anchor "$T/anchors"
like "both counted, the syslog-style one too" "$(cat "$T/out")" "all 2 anchors"
# Rollback: the whole inventory replaced by the earlier copy (sealed and all).
db_save latest
restore
check "the older copy verifies on its own (its seal is its own)" cap audit --verify
check_fails "but not against the anchors kept since" "$CAPSTAN" audit --verify --anchor "$T/anchors"
like "which name rows it no longer has" "$(cat "$T/err")" "names row [0-9]+: rows were removed"
db_restore latest
secret_file "$T/other-pass" 'another inventory passphrase'
CAPSTAN_HOME="$T/other" "$CAPSTAN" --passphrase-file "$T/other-pass" init --env x >/dev/null
CAPSTAN_HOME="$T/other" "$CAPSTAN" --passphrase-file "$T/other-pass" audit --anchor >"$T/other-anchor"
check_fails "another inventory's anchor is not taken for this one's" \
	"$CAPSTAN" audit --verify --anchor "$T/other-anchor"
like "and says so" "$(cat "$T/err")" "holds no anchor of this inventory's audit log \(only other logs'\)"
printf 'capstan-audit-anchor log=zz row=1\n' >"$T/bad-anchor"
refuses "an unreadable anchor line is named" 1 "line 1 of .*bad-anchor: not a readable audit anchor" \
	"$CAPSTAN" audit --verify --anchor "$T/bad-anchor"
ln -s "$T/anchors" "$T/anchor-link"
refuses "--append does not write through a symlink" 1 "--append: cannot open" \
	cap audit --anchor --append "$T/anchor-link"
check "--syslog runs (the line goes to the system log)" cap audit --anchor --syslog
refuses "--append without --anchor is a usage error" 2 "go with --anchor" "$CAPSTAN" audit --append "$T/x"

# --- an inventory written before the seal: upgraded and adopted on first unlock
# (an SQLite file, on PostgreSQL too: named as the inventory)
mapfile -t v1inv < <(sqlite_inventory "$T/v1")
mkdir -m 700 "$T/v1"
(umask 077 && cp "$(dirname "$0")/data/v1-inventory.db" "$T/v1/capstan.db")
secret_file "$T/v1-pass" fixture-passphrase
v1() { CAPSTAN_HOME="$T/v1" "$CAPSTAN" --passphrase-file "$T/v1-pass" "${v1inv[@]}" "$@"; }
check "a first-version log verifies before any unlock" env CAPSTAN_HOME="$T/v1" "$CAPSTAN" "${v1inv[@]}" audit --verify
check "the first unlock upgrades it" v1 audit --verify
like "and the seal is then checked" "$(cat "$T/out")" "its end matches its seal"
is "every certificate's state was adopted into the log" \
	"$(v1 --json audit | jq '[.[] | select(.operation == "adopt") | .state[]] | length')" \
	"$(sqlite3 "$T/v1/capstan.db" 'SELECT count(*) FROM certs')"
check "the upgraded inventory checks clean" v1 check
gone=$(sqlite3 "$T/v1/capstan.db" "SELECT serial FROM certs WHERE name = 'gone.dev.internal'")
sqlite3 "$T/v1/capstan.db" "UPDATE certs SET status = 'valid' WHERE serial = '$gone'"
check_fails "un-revoking one of its old certificates is found" v1 check
like "from the adopted state" "$(cat "$T/err")" "certificate $gone is valid in the inventory.*revoked:keyCompromise"

done_testing
