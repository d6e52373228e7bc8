#!/usr/bin/env bash
# revoke --reason keyCompromise revokes the key, not one certificate: every
# unexpired certificate that carries the same public key (renewals of the line,
# CSR-issued ones whose key was reused) is revoked with it, and the CRL, capstan
# verify, openssl and a real etcd refuse them all. Other reasons revoke one
# certificate and say which others still carry its key.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null || exit 1
trust=$(trust_of dev)
inter_serial=$("$CAPSTAN" --json list --env dev --ca | jq -r '.[] | select(.kind == "intermediate") | .serial')
"$CAPSTAN" show "$inter_serial" --pem >"$T/inter.pem"
serials_of() { "$CAPSTAN" --json list --env dev --status all | jq -r --arg n "$1" '[.[] | select(.name == $n) | .serial] | join(" ")'; }
status_of() { "$CAPSTAN" --json show "$1" | jq -r .status; }
# pem_of SERIAL: the certificate and its intermediate, as a client presents them.
pem_of() { { "$CAPSTAN" show "$1" --pem; cat "$T/inter.pem"; } >"$T/$1.chain"; echo "$T/$1.chain"; }

# A client line renewed twice: three certificates, one key.
cap issue --env dev --profile client --cn spark-1 >/dev/null || exit 1
cap export spark-1 --format key --out "$T/spark-1.key" >/dev/null || exit 1
cap renew spark-1 >/dev/null && cap renew spark-1 >/dev/null || exit 1
read -r s1 s2 s3 <<<"$(serials_of spark-1)"
is "three certificates of spark-1" "$(serials_of spark-1 | wc -w)" 3
for s in $s1 $s2 $s3; do pem_of "$s" >/dev/null; done
is "one key for all three" "$(for s in $s1 $s2 $s3; do openssl x509 -in "$T/$s.chain" -noout -pubkey; done | sort -u | grep -c BEGIN)" 1
cap issue --env dev --profile client --cn bystander >/dev/null || exit 1
"$CAPSTAN" export bystander --format chain --out "$T/bystander.chain"

# An inventory of schema 4, from before the key digest, is back-filled once
# when opened: capstan 0.1's fixture (schema 9), taken back to schema 4. An
# SQLite file, on PostgreSQL too (named as the inventory).
fixture="$(dirname "$0")/data/v1-inventory.db"
mapfile -t v4 < <(sqlite_inventory "$T/v4")
mkdir -m 700 "$T/v4" && (umask 077 && cp "$fixture" "$T/v4/capstan.db")
secret_file "$T/v4-pass" fixture-passphrase
sqlite3 "$T/v4/capstan.db" "DROP INDEX certs_spki; ALTER TABLE certs DROP COLUMN spki_sha256;
	ALTER TABLE crls DROP COLUMN der; DROP TABLE deploys; DROP TABLE bundle_passwords;
	ALTER TABLE services DROP COLUMN delivery; DROP TRIGGER certs_revoked_env_update;
	DROP TRIGGER certs_revoked_env_insert; ALTER TABLE envs DROP COLUMN revoked_at; DROP INDEX audit_serial;
	DROP TABLE service_certs;
	PRAGMA user_version = 4"
check "a schema 4 inventory opens, and check finds it sound" "$CAPSTAN" --home "$T/v4" "${v4[@]}" check
is "it is at the latest schema" "$(sqlite3 "$T/v4/capstan.db" "PRAGMA user_version")" "$(db_schema_version)"
is "every row got the digest a new row gets" "$(sqlite3 "$T/v4/capstan.db" "SELECT hex(spki_sha256) FROM certs ORDER BY id")" \
	"$(sqlite3 "$fixture" "SELECT hex(spki_sha256) FROM certs ORDER BY id")"
"$CAPSTAN" --home "$T/v4" "${v4[@]}" export api.dev.internal --env dev --format cert --out "$T/v4-api.pem"
is "which is openssl's SHA-256 of the SubjectPublicKeyInfo" \
	"$(sqlite3 "$T/v4/capstan.db" "SELECT lower(hex(spki_sha256)) FROM certs WHERE name = 'api.dev.internal' AND status = 'valid'")" \
	"$(openssl x509 -in "$T/v4-api.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)"
check "keyCompromise there" "$CAPSTAN" --passphrase-file "$T/v4-pass" --home "$T/v4" "${v4[@]}" revoke api.dev.internal \
	--reason keyCompromise
like "revokes the whole line" "$(cat "$T/out")" "^revoked 2 certificates that carry the key of api.dev.internal"
rm -rf "$T/v4"

# Before: the old certificates are not revoked, and openssl accepts them with the CRL.
cap crl --env dev --out "$T/crl0.pem" >/dev/null
cat "$trust" "$T/crl0.pem" >"$T/trust+crl0.pem"
check "before: openssl -crl_check accepts the first certificate of the line" \
	openssl verify -crl_check -CAfile "$T/trust+crl0.pem" -untrusted "$T/$s1.chain" "$T/$s1.chain"

check "revoke the newest with keyCompromise" cap revoke spark-1 --reason keyCompromise
is "it says how many and which" "$(cat "$T/out")" \
	"revoked 3 certificates that carry the key of spark-1 (keyCompromise): $s3, $s1, $s2"
for s in $s1 $s2 $s3; do
	is "serial $s is revoked" "$(status_of "$s")" revoked
done
is "with keyCompromise each" "$("$CAPSTAN" --json list --env dev --status revoked | jq -r '[.[].revoke_reason] | unique | join(",")')" keyCompromise
is "an audit row for each" "$("$CAPSTAN" --json audit | jq '[.[] | select(.operation == "revoke")] | length')" 3
is "the bystander is untouched" "$(status_of bystander)" valid
for s in $s1 $s2; do
	refuses "capstan verify refuses the older serial $s" 1 "was revoked at .* \(keyCompromise\)" \
		"$CAPSTAN" verify "$T/$s.chain" --env dev
done
check "crl" cap crl --env dev --out "$T/crl.pem"
is "the CRL lists the three" "$(openssl crl -in "$T/crl.pem" -noout -text | grep -c 'Serial Number')" 3
cat "$trust" "$T/crl.pem" >"$T/trust+crl.pem"
for s in $s1 $s2 $s3; do
	check_fails "openssl -crl_check rejects serial $s" \
		openssl verify -crl_check -CAfile "$T/trust+crl.pem" -untrusted "$T/$s.chain" "$T/$s.chain"
	like "as revoked" "$(cat "$T/out" "$T/err")" "certificate revoked"
done
check "and still accepts the bystander" \
	openssl verify -crl_check -CAfile "$T/trust+crl.pem" -untrusted "$T/bystander.chain" "$T/bystander.chain"
refuses "revoking the line again" 1 "'spark-1' \(serial $s3\) is already revoked" \
	cap revoke spark-1 --reason keyCompromise
check "rotate gives the line a new key" cap rotate spark-1

# --json lists every certificate revoked.
cap issue --env dev --profile client --cn spark-9 >/dev/null && cap renew spark-9 >/dev/null
check "--json revoke keyCompromise" cap --json revoke spark-9 --reason keyCompromise
is "the JSON names the other serial" "$(jq -r '[.same_key[] | .serial] | join(" ")' "$T/out")" \
	"$(serials_of spark-9 | cut -d' ' -f1)"
is "as revoked" "$(jq -r '.same_key_revoked' "$T/out")" true

# CSR-issued certificates hold no key row: they are found by the key all the same.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/reused.key" 2>/dev/null
openssl req -new -key "$T/reused.key" -subj "/CN=csr-a" -out "$T/a.csr"
openssl req -new -key "$T/reused.key" -subj "/CN=csr-b" -out "$T/b.csr"
cap issue --env dev --profile client --csr "$T/a.csr" >/dev/null && cap issue --env dev --profile client --csr "$T/b.csr" >/dev/null
check "revoke one CSR-issued certificate with keyCompromise" cap revoke csr-b --reason keyCompromise
like "the other CSR's certificate goes too" "$(cat "$T/out")" \
	"revoked 2 certificates that carry the key of csr-b \(keyCompromise\): $(serials_of csr-b), $(serials_of csr-a)"
is "csr-a is revoked" "$(status_of csr-a)" revoked

# Another reason revokes one certificate, and names those that keep the key.
cap issue --env dev --profile client --cn spark-2 >/dev/null && cap renew spark-2 >/dev/null && cap renew spark-2 >/dev/null
read -r t1 t2 t3 <<<"$(serials_of spark-2)"
check "revoke with --reason superseded" cap revoke spark-2 --reason superseded
is "one is revoked" "$(head -1 "$T/out")" "revoked 'spark-2' in dev (serial $t3): superseded"
like "a note names the two that keep the key" "$(tail -n +2 "$T/out")" \
	"^note: 2 other unexpired certificates carry the same key: spark-2 \(serial $t1, superseded\), spark-2 \(serial $t2, superseded\); revoke with --reason keyCompromise to revoke them all, or rotate for a new key$"
is "they are still superseded" "$(status_of "$t1") $(status_of "$t2")" "superseded superseded"
is "and not on the CRL" "$(cap crl --env dev --out - | openssl crl -noout -text | grep -c "$t1")" 0
cap issue --env dev --profile client --cn spark-3 >/dev/null && cap renew spark-3 >/dev/null
check "-q keeps the note quiet" cap -q revoke spark-3 --reason cessationOfOperation
is "nothing printed" "$(cat "$T/out")" ""
cap issue --env dev --profile client --cn spark-4 >/dev/null && cap renew spark-4 >/dev/null
check "--json revoke with another reason" cap --json revoke spark-4 --reason affiliationChanged
is "the JSON lists the one that keeps the key" "$(jq -r '[.same_key[] | .serial] | join(" ")' "$T/out")" \
	"$(serials_of spark-4 | cut -d' ' -f1)"
is "as not revoked" "$(jq -r '.same_key_revoked' "$T/out")" false

# An expired certificate of the key is left as it is: it verifies nowhere anyway.
cap issue --env dev --profile client --cn spark-5 --days 2 >/dev/null && cap renew spark-5 --days 30 >/dev/null
read -r u1 u2 <<<"$(serials_of spark-5)"
check "keyCompromise three days later" faketime -f +3d "$CAPSTAN" --passphrase-file "$PASS" revoke spark-5 --reason keyCompromise
is "revokes only the unexpired one" "$(cat "$T/out")" "revoked 'spark-5' in dev (serial $u2): keyCompromise"
is "the expired one is left superseded" "$(status_of "$u1")" superseded

check "capstan check is clean" cap check --keys

# A real consumer: etcd with --client-crl-file refuses every certificate of the
# revoked key (etcd 3.4 reads the first CRL of the file: dev has one intermediate).
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	not_ok "etcd and etcdctl are installed (scripts/deps.sh: etcd-server etcd-client)"
	done_testing
	exit 1
fi
cap issue --env dev --profile server --cn etcd-1 --dns localhost --ip 127.0.0.1 >/dev/null
cap export etcd-1 --format chain --out "$T/etcd.chain" >/dev/null
cap export etcd-1 --format key --out "$T/etcd.key" >/dev/null
cap issue --env dev --profile client --cn spark-6 >/dev/null
cap export spark-6 --format key --out "$T/spark-6.key" >/dev/null
cap renew spark-6 >/dev/null && cap renew spark-6 >/dev/null
read -r v1 v2 v3 <<<"$(serials_of spark-6)"
for s in $v1 $v2 $v3; do pem_of "$s" >/dev/null; done
cap crl --env dev --out "$T/etcd-crl.pem" >/dev/null

base=$(( 20000 + (RANDOM % 2000) * 10 ))
client=$base peer=$((base + 1))
pids=()
cleanup() { [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
etcd --name m1 --data-dir "$T/etcd-data" \
	--listen-client-urls "https://127.0.0.1:$client" --advertise-client-urls "https://127.0.0.1:$client" \
	--listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
	--initial-cluster "m1=http://127.0.0.1:$peer" --initial-cluster-state new \
	--cert-file "$T/etcd.chain" --key-file "$T/etcd.key" --client-cert-auth --trusted-ca-file "$trust" \
	--client-crl-file "$T/etcd-crl.pem" --logger zap --log-outputs stderr --log-level warn >"$T/etcd.log" 2>&1 &
pids+=($!)
etcd_as() { etcdctl --dial-timeout 3s --endpoints "https://127.0.0.1:$client" \
	--cacert "$trust" --cert "$1" --key "$2" "${@:3}"; }
for _ in $(seq 1 40); do
	etcd_as "$T/$v3.chain" "$T/spark-6.key" --command-timeout 2s endpoint health >/dev/null 2>&1 && break
	sleep 0.25
done
check "etcd accepts the first certificate of spark-6 before the revocation" \
	etcd_as "$T/$v1.chain" "$T/spark-6.key" put capstan/k v
check "revoke spark-6 with keyCompromise" cap revoke spark-6 --reason keyCompromise
cap crl --env dev --out "$T/etcd-crl.pem.new" >/dev/null && mv "$T/etcd-crl.pem.new" "$T/etcd-crl.pem"
for s in $v1 $v2 $v3; do
	check_fails "etcd refuses serial $s of the revoked key" \
		etcd_as "$T/$s.chain" "$T/spark-6.key" --command-timeout 2s get capstan/k
	check "because its serial is on the CRL" grep -q "certificate serial $s revoked" "$T/etcd.log"
done
cap issue --env dev --profile client --cn spark-7 >/dev/null
cap export spark-7 --format chain --out "$T/spark-7.chain" >/dev/null
cap export spark-7 --format key --out "$T/spark-7.key" >/dev/null
is "and still serves a valid client" "$(etcd_as "$T/spark-7.chain" "$T/spark-7.key" get capstan/k --print-value-only)" v

done_testing
