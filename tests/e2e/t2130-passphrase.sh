#!/usr/bin/env bash
# capstan passphrase --new-passphrase-file FILE: the passphrase changes in one
# transaction; the old one stops working at once, and every key stays usable
# (keys are sealed under a data key the passphrase only wraps). A refused
# change changes nothing. An inventory of capstan 0.1 (keys sealed under the
# passphrase's key itself) gets its data key wrapped at its first unlock, and
# then changes its passphrase like any other; a read-only copy is unlocked as
# it is, and refuses a change.
. "$(dirname "$0")/lib.sh"
dir="$(cd "$(dirname "$0")" && pwd)"
pubkey_of_cert() { openssl x509 -in "$1" -noout -pubkey; }
pubkey_of_key() { openssl pkey -in "$1" -pubout; }
# (the home's inventory; wraps_file: an SQLite file's, the fixture's below)
wraps() { db_sql "SELECT count(*) FROM meta WHERE key = 'keyring.wrap'"; }
wraps_file() { sqlite3 "$1" "SELECT count(*) FROM meta WHERE key = 'keyring.wrap'"; }

cap apply --config "$dir/data/capstan.yaml" >/dev/null || exit 1
"$CAPSTAN" export etcd-1 --env dev --format cert --out "$T/before.pem" || exit 1
is "a new inventory's keyring wraps its data key" "$(wraps)" 1

# Refusals: one line each, nothing changed.
secret_file "$T/short" 'seven c'
refuses "a new passphrase under 8 characters" 1 \
	"--new-passphrase-file: the new passphrase is too short: it needs at least 8 characters$" \
	cap passphrase --new-passphrase-file "$T/short"
refuses "a missing new passphrase file" 1 "--new-passphrase-file: cannot open '$T/none'" \
	cap passphrase --new-passphrase-file "$T/none"
secret_file "$T/grp" 'a group readable passphrase'
chmod 640 "$T/grp"
refuses "a new passphrase file its group can read" 1 "--new-passphrase-file: .*readable by its group.*chmod 600" \
	cap passphrase --new-passphrase-file "$T/grp"
refuses "the current passphrase again" 1 "--new-passphrase-file: the new passphrase is the current one$" \
	cap passphrase --new-passphrase-file "$PASS"
refuses "without --new-passphrase-file" 2 "--new-passphrase-file is required" cap passphrase
secret_file "$T/wrong" 'not the passphrase at all'
secret_file "$T/new" 'the second passphrase'
refuses "with a wrong current passphrase" 1 "wrong passphrase for the inventory" \
	"$CAPSTAN" --passphrase-file "$T/wrong" passphrase --new-passphrase-file "$T/new"

# The change.
is "passphrase says what it changed" "$(cap passphrase --new-passphrase-file "$T/new")" \
	"changed the passphrase of the inventory in $CAPSTAN_HOME"
is "and records it" "$(db_sql "SELECT op || '|' || detail FROM audit ORDER BY id DESC LIMIT 1")" \
	"passphrase|the passphrase was changed"
refuses "the old passphrase stops working" 1 "wrong passphrase for the inventory in '$CAPSTAN_HOME'$" \
	cap issue --env dev --profile server --cn other.internal
new() { "$CAPSTAN" --passphrase-file "$T/new" "$@"; }
check "the new one issues" new issue --env dev --profile server --cn other.internal
check "renews" new renew etcd-1 --env dev
check "exports a key" new export etcd-1 --env dev --format key --out "$T/etcd-1.key"
check "the key sealed before the change, as its first certificate says" \
	cmp <(pubkey_of_cert "$T/before.pem") <(pubkey_of_key "$T/etcd-1.key")
check "bundles" new bundle --env dev --service etcd --out "$T/bundle"
check "and the bundle's key is that key too" \
	cmp <(pubkey_of_cert "$T/before.pem") <(pubkey_of_key "$T/bundle/etcd-1-key.pem")
is "-q says nothing" "$(new -q passphrase --new-passphrase-file "$PASS")" ""
check "(changed back)" cap list
like "--json says it as a document" "$(cap --json passphrase --new-passphrase-file "$T/new" | jq -c .)" \
	'^\{"home":".*","passphrase_changed":true\}$'
check "capstan check --keys opens every key" new check --keys

# Two changes at once: one wins whole, the other waits or fails; never half of each.
secret_file "$T/a" 'racing passphrase a'
secret_file "$T/b" 'racing passphrase b'
new passphrase --new-passphrase-file "$T/a" >"$T/ra.out" 2>&1 &
pa=$!
new passphrase --new-passphrase-file "$T/b" >"$T/rb.out" 2>&1 &
pb=$!
wait $pa; wait $pb
works=0
for f in a b; do
	"$CAPSTAN" --passphrase-file "$T/$f" export etcd-1 --env dev --format key --out - >/dev/null 2>&1 &&
		works=$((works + 1)) && winner=$f
done
is "after two racing changes exactly one new passphrase works" "$works" 1
check "the winner opens every key" "$CAPSTAN" --passphrase-file "$T/$winner" check --keys
check_fails "the old one does not" "$CAPSTAN" --passphrase-file "$T/new" check --keys

# An inventory of capstan 0.1 (an SQLite file, on PostgreSQL too: named as
# the inventory there).
export CAPSTAN_HOME=$T/v1
V1=$CAPSTAN_HOME/capstan.db
on_pg && export CAPSTAN_INVENTORY=sqlite:$V1
mkdir -m 700 "$CAPSTAN_HOME" && cp "$dir/data/v1-inventory.db" "$V1" && chmod 600 "$V1"
secret_file "$T/v1pass" fixture-passphrase
v1() { "$CAPSTAN" --passphrase-file "$T/v1pass" "$@"; }
is "(the fixture has no wrap)" "$(wraps_file "$V1")" 0
"$CAPSTAN" list >/dev/null # its schema migrates on open, passphrase or not
refuses "a wrong passphrase on it is refused" 1 "wrong passphrase for the inventory in '$CAPSTAN_HOME'$" \
	"$CAPSTAN" --passphrase-file "$T/wrong" export api.dev.internal --env dev --format key --out "$T/x.key"
is "and upgrades nothing" "$(wraps_file "$V1")" 0
salt_before=$(sqlite3 "$V1" "SELECT hex(value) FROM meta WHERE key = 'keyring.salt'")
check "its first unlock opens its old keys" v1 export api.dev.internal --env dev --format key --out "$T/api.key"
is "and wraps its data key" "$(wraps_file "$V1")" 1
check "under a new salt" test "$(sqlite3 "$V1" "SELECT hex(value) FROM meta WHERE key = 'keyring.salt'")" != "$salt_before"
"$CAPSTAN" export api.dev.internal --env dev --format cert --out "$T/api.pem"
check "the old key matches its certificate" cmp <(pubkey_of_cert "$T/api.pem") <(pubkey_of_key "$T/api.key")
check "the root's key too" v1 export root-ca --env dev --format key --ca-key --out "$T/v1root.key"
"$CAPSTAN" export root-ca --env dev --format cert --out "$T/v1root.pem"
check "matches the root" cmp <(pubkey_of_cert "$T/v1root.pem") <(pubkey_of_key "$T/v1root.key")
check "check --keys opens them all" v1 check --keys
check "its passphrase changes" v1 passphrase --new-passphrase-file "$T/new"
check "the new one opens its old keys" new export api.dev.internal --env dev --format key --out "$T/api2.key"
check "the same key" cmp "$T/api.key" "$T/api2.key"
refuses "the fixture's passphrase no longer works" 1 "wrong passphrase" v1 check --keys

# A read-only copy of it: unlocked as it is, never upgraded; a change is refused.
export CAPSTAN_HOME=$T/ro
RO=$CAPSTAN_HOME/capstan.db
on_pg && export CAPSTAN_INVENTORY=sqlite:$RO
mkdir -m 700 "$CAPSTAN_HOME" && cp "$dir/data/v1-inventory.db" "$RO" && chmod 600 "$RO"
"$CAPSTAN" list >/dev/null # (in WAL mode, which a reader of a read-only file needs)
chmod 400 "$RO"
secret_file "$T/ro-pass" fixture-passphrase
as_reader() { "$CAPSTAN" "$@"; }
if [ "$(id -u)" = 0 ]; then
	# root writes a 0400 file: the reader is another user, whose files these are.
	chmod 711 "$T"
	chown -R nobody "$CAPSTAN_HOME" "$T/ro-pass" "$T/new"
	as_reader() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$CAPSTAN" "$@"; }
fi
check "a read-only copy of it unlocks" as_reader --passphrase-file "$T/ro-pass" check --keys
is "and is not upgraded" "$(wraps_file "$RO")" 0
refuses "its passphrase cannot change" 1 "the inventory in '$CAPSTAN_HOME' is read-only: its passphrase cannot be changed$" \
	as_reader --passphrase-file "$T/ro-pass" passphrase --new-passphrase-file "$T/new"
is "still no wrap" "$(wraps_file "$RO")" 0

done_testing
