#!/usr/bin/env bash
# capstan check: a sound home passes; each kind of damage is found, named,
# and exits 1, and the check itself changes nothing.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null && cap init --env prod >/dev/null || exit 1
for n in a b c; do cap issue --env dev --profile server --cn "$n.internal" >/dev/null; done
cap issue --env prod --profile client --cn p.internal >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/csr.key" \
	-subj /CN=fromcsr.internal -out "$T/req.csr" 2>/dev/null
cap issue --env dev --profile server --csr "$T/req.csr" >/dev/null
cap renew b.internal >/dev/null
cap revoke c.internal >/dev/null
cap crl --env dev --out "$T/crl.pem" >/dev/null

before=$(inventory_digest)
check "a sound home passes" "$CAPSTAN" check
like "and says what it looked at" "$(cat "$T/out")" ": OK: 10 certificates \(8 live chains verified, 0 keys opened\), [0-9]+ audit rows$"
is "the check changed nothing" "$(inventory_digest)" "$before"
check "with the passphrase, every sealed key is opened" cap check
like "all seven" "$(cat "$T/out")" "7 keys opened"
check "--keys asks for it" cap check --keys
is "--json" "$("$CAPSTAN" --json check | jq -c '[.ok, .problems, .certificates]')" '[true,[],10]'
refuses "a missing home is an error" 1 "no inventory in '$(inventory_re "$T/nowhere")'" "$CAPSTAN" --home "$T/nowhere" check

# damaged NAME SQL: a copy of the home with SQL applied behind capstan's back
# (foreign keys not enforced: replication's role on PostgreSQL).
nofk=$(on_pg && echo "SET session_replication_role = replica" || echo "PRAGMA foreign_keys = OFF")
damaged() {
	home_copy "$CAPSTAN_HOME" "$T/$1" && db_sql "$nofk; $2" "$T/$1"
}
# finds NAME AREA PATTERN [--passphrase-file F]: check exits 1 naming the damage.
finds() {
	local name=$1 area=$2 pattern=$3; shift 3
	"$CAPSTAN" "$@" --home "$T/$name" check >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" = 1 ] && grep -Eq "^capstan: check: $area: .*$pattern" "$T/err" && grep -q "PROBLEMS FOUND" "$T/out"; then
		ok "finds: $name"
	else
		not_ok "finds: $name"; echo "#   exit $rc" >&2; diag "$T/out" "$T/err"
	fi
}

leaf_id() { db_sql "SELECT id FROM certs WHERE name = '$1' AND status = 'valid'"; }

damaged audit-edited "UPDATE audit SET detail = 'nothing to see' WHERE id = 3"
finds audit-edited audit "row 3"
damaged audit-deleted "DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)"
finds audit-deleted audit ""
damaged key-row-gone "DELETE FROM keys WHERE id = (SELECT key_id FROM certs WHERE id = $(leaf_id a.internal))"
finds key-row-gone key "leaf 'a.internal' in dev .*its key \(row [0-9]+\) is missing"
finds key-row-gone database "row [0-9]+ of table certs refers to a missing row of keys"
damaged key-unlinked "UPDATE certs SET key_id = NULL WHERE id = $(leaf_id a.internal)"
finds key-unlinked key "'a.internal' .* has no key, and was not issued from a CSR"
damaged key-swapped "UPDATE certs SET key_id = (SELECT key_id FROM certs WHERE name = 'p.internal') WHERE id = $(leaf_id a.internal)"
finds key-swapped key "'a.internal' .*is not the key the certificate certifies"
damaged key-sealed-flipped "UPDATE keys SET sealed = substr(sealed, 1, 20) || $(blob 00) || substr(sealed, 22)
	WHERE id = (SELECT key_id FROM certs WHERE id = $(leaf_id a.internal))"
check "a flipped byte in a sealed key passes without the passphrase" "$CAPSTAN" --home "$T/key-sealed-flipped" check
finds key-sealed-flipped key "'a.internal' .*its sealed key does not open" --passphrase-file "$PASS"
damaged der-swapped "UPDATE certs SET der = (SELECT der FROM certs WHERE name = 'p.internal') WHERE id = $(leaf_id a.internal)"
finds der-swapped record "'a.internal' .*does not match its recorded fingerprint"
damaged expiry-moved "UPDATE certs SET not_after = not_after + 86400 * 365 WHERE id = $(leaf_id a.internal)"
finds expiry-moved record "'a.internal' .*its row's serial or expiry differs from its certificate's"
damaged spki-moved "UPDATE certs SET spki_sha256 = (SELECT spki_sha256 FROM certs WHERE name = 'p.internal') WHERE id = $(leaf_id a.internal)"
finds spki-moved record "'a.internal' .*its row's key digest \(spki_sha256\) is not its certificate's public key"
damaged spki-lost "UPDATE certs SET spki_sha256 = NULL WHERE name = 'b.internal' AND status = 'superseded'"
finds spki-lost record "leaf 'b.internal' in dev .*its row's key digest \(spki_sha256\) is not its certificate's public key"
junk_fp=$(printf '\x30\x03\x02\x01\x01' | sha256sum | cut -d' ' -f1)
damaged unreadable "UPDATE certs SET der = $(blob 3003020101), fingerprint = '$junk_fp' WHERE id = $(leaf_id a.internal)"
finds unreadable record "'a.internal' .*its certificate does not read: not a DER certificate"
damaged wrong-env "UPDATE certs SET der = (SELECT der FROM certs WHERE name = 'p.internal'),
	fingerprint = (SELECT fingerprint FROM certs WHERE name = 'p.internal'),
	key_id = (SELECT key_id FROM certs WHERE name = 'p.internal') WHERE id = $(leaf_id a.internal)"
finds wrong-env chain "'a.internal' in dev .*does not verify: unable to get local issuer certificate"
damaged serial-twice "INSERT INTO certs (env_id, kind, name, serial, issuer_id, key_id, profile, status, subject,
	issuer, sans, service, key_type, lifetime, renew_before, not_before, not_after, fingerprint, der, created_at)
	SELECT env_id, kind, 'copy', upper(serial), issuer_id, key_id, profile, 'superseded', subject, issuer, sans,
	service, key_type, lifetime, renew_before, not_before, not_after, fingerprint, der, created_at
	FROM certs WHERE id = $(leaf_id a.internal)"
finds serial-twice serial "serial [0-9a-f]+ is used 2 times by issuer CN=dev Intermediate CA 1"
damaged no-root "UPDATE certs SET status = 'revoked' WHERE kind = 'root' AND env_id = (SELECT id FROM envs WHERE name = 'prod')"
finds no-root chain "environment 'prod' has no valid root"
damaged schema "$(on_pg && echo "COMMENT ON TABLE meta IS '99'" || echo "PRAGMA user_version = 99")"
refuses "a schema from a newer capstan is named" 1 "has schema version 99, newer than this capstan \([0-9]+\): upgrade capstan" \
	"$CAPSTAN" --home "$T/schema" check
damaged modes ""
if on_pg; then
	chmod 755 "$T/modes"
	skip "finds: modes (capstan.db)" "the inventory is a PostgreSQL database, no file"
else
	chmod 644 "$T/modes/capstan.db" && chmod 755 "$T/modes"
	finds modes file "'$T/modes/capstan.db' has mode 644: expected 600"
fi
finds modes file "home '$T/modes' has mode 755: expected 700"

# Pages overwritten on disk: SQLite's own check says where. (The file's
# damage has no like on PostgreSQL, whose pages the server keeps.)
if on_pg; then
	for c in "torn pages: exit 1" "torn pages: named" "finds: unused" "every stderr line is one prefixed finding" \
		"one per unused page, the heading left out" "a database that is no longer one" "a damaged page"; do
		skip "$c" "the SQLite file's pages; on PostgreSQL the server keeps them"
	done
else
damaged torn ""
size=$(stat -c %s "$T/torn/capstan.db")
dd if=/dev/urandom of="$T/torn/capstan.db" bs=4096 seek=$((size / 4096 / 2)) count=2 conv=notrunc 2>/dev/null
"$CAPSTAN" --home "$T/torn" check >"$T/out" 2>"$T/err"
rc=$?
is "torn pages: exit 1" "$rc" 1
like "torn pages: named" "$(head -1 "$T/err")" "^capstan: (check: database: |.*malformed|.*corrupt)"


# integrity_check's findings: one line each, each prefixed like the others
# (SQLite puts several in one row under a "*** in database main ***" heading).
damaged unused ""
db="$T/unused/capstan.db"
pages=$(( $(stat -c %s "$db") / 4096 ))
head -c 8192 /dev/zero >>"$db"
printf "$(printf '\\x%02x' $(( (pages + 2) >> 24 & 255 )) $(( (pages + 2) >> 16 & 255 )) $(( (pages + 2) >> 8 & 255 )) $(( (pages + 2) & 255 )))" |
	dd of="$db" bs=1 seek=28 conv=notrunc 2>/dev/null
finds unused database "Page $((pages + 1)) is never used"
is "every stderr line is one prefixed finding" "$(grep -vc '^capstan: check: ' "$T/err")" 0
is "one per unused page, the heading left out" "$(grep -c 'is never used$' "$T/err") $(grep -c '\*\*\*' "$T/err")" "2 0"

# A damaged database or keyring is said to be damaged, not taken for a wrong passphrase.
damaged notadb ""
dd if=/dev/urandom of="$T/notadb/capstan.db" bs=1 count=100 conv=notrunc 2>/dev/null
refuses "a database that is no longer one" 1 \
	"the inventory's database '$T/notadb/capstan.db' is damaged \(.*not a database\): run capstan check$" \
	cap --home "$T/notadb" issue --env dev --profile client --cn x.internal
damaged metapage ""
printf '\x00' | dd of="$T/metapage/capstan.db" bs=1 seek=4096 conv=notrunc 2>/dev/null
refuses "a damaged page" 1 "the inventory's database '$T/metapage/capstan.db' is damaged \(.*malformed\): run capstan check$" \
	cap --home "$T/metapage" issue --env dev --profile client --cn x.internal
fi
damaged keyring ""
if on_pg; then
	db_sql "UPDATE meta SET value = set_byte(value, 20, get_byte(value, 20) # 255) WHERE key = 'keyring.check'" "$T/keyring"
else
python3 - "$T/keyring/capstan.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
v = c.execute("SELECT value FROM meta WHERE key = 'keyring.check'").fetchone()[0]
c.close()
data = bytearray(open(sys.argv[1], 'rb').read())
data[data.find(bytes(v)) + 20] ^= 0xff
open(sys.argv[1], 'wb').write(data)
PY
fi
refuses "a damaged keyring check value, with the right passphrase" 1 \
	"the inventory's keyring check value in '$T/keyring' is damaged \(the passphrase opens its keys\): run capstan check$" \
	cap --home "$T/keyring" issue --env dev --profile client --cn x.internal
secret_file "$T/wrongpass" 'not the passphrase'
refuses "with a wrong one it is still a wrong passphrase" 1 "wrong passphrase for the inventory in '$T/keyring'$" \
	"$CAPSTAN" --passphrase-file "$T/wrongpass" --home "$T/keyring" issue --env dev --profile client --cn x.internal

done_testing
