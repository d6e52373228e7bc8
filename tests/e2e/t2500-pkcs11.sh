#!/usr/bin/env bash
# CA keys in a PKCS#11 token (issue 17): a SoftHSM2 token made here, init
# --hsm generating the root and intermediate keys inside it through
# pkcs11-provider, the inventory holding their URIs and no CA key material,
# issue/renew/revoke/CRL verified by openssl and certtool, rotation into the
# same token, bundles and renew --due under a token CA, signing from the
# batch's and serve's threads, keys a failed init or rotate leaves in the
# token named with their deletion, and each failure one clear line that
# changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
cleanup() { stop_serve; rm -rf "$T"; }
trap cleanup EXIT

MODULE=/usr/lib/softhsm/libsofthsm2.so
PROVIDER=$(openssl version -m 2>/dev/null | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')/pkcs11.so
command -v softhsm2-util >/dev/null && [ -r "$MODULE" ] ||
	{ echo "1..0 # SKIP no SoftHSM2 (softhsm2)"; exit 0; }
[ -r "$PROVIDER" ] || { echo "1..0 # SKIP no pkcs11-provider ($PROVIDER)"; exit 0; }
command -v pkcs11-tool >/dev/null || { echo "1..0 # SKIP no pkcs11-tool (opensc)"; exit 0; }
# pkcs11-provider dlopens the module with RTLD_DEEPBIND, which ASan refuses
# outright (google/sanitizers#611): no token under make sanitized.
ldd "$CAPSTAN" 2>/dev/null | grep -q libasan &&
	{ echo "1..0 # SKIP ASan build: pkcs11-provider's RTLD_DEEPBIND dlopen is refused by ASan"; exit 0; }

export SOFTHSM2_CONF="$T/softhsm2.conf"
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$T/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label capstan-e2e --so-pin 87654321 --pin 12345678 >/dev/null
secret_file "$T/pin" 12345678
HSM="pkcs11:token=capstan-e2e?module-path=$MODULE&pin-source=file:$T/pin"
objects() { pkcs11-tool --module "$MODULE" --token-label capstan-e2e --login --pin 12345678 --list-objects 2>/dev/null; }
# The inventory's rows, on SQLite or (make e2e-pg) PostgreSQL.
sql() { db_sql "$1"; }

check "init --hsm" cap init --env prod --hsm "$HSM"
objects >"$T/objects"
is "the token holds both CA private keys" "$(grep -c '^Private Key Object' "$T/objects")" 2
like "labelled by environment and role" "$(grep 'label:' "$T/objects" | sort -u | tr -d ' \n')" \
	'label:capstan-prod-intermediate-1label:capstan-prod-root-1'
is "sensitive and never extractable" \
	"$(grep -A4 '^Private Key Object' "$T/objects" | grep -c 'Access:.*sensitive.*never extractable')" 2
is "no CA key material in the inventory" "$(sql "SELECT count(*) FROM keys WHERE length(sealed) > 0")" 0
is "the inventory keeps the two URIs" "$(sql "SELECT count(*) FROM keys WHERE uri LIKE 'pkcs11:token=capstan-e2e;object=capstan-prod-%'")" 2
is "no PIN in them" "$(sql "SELECT count(*) FROM keys WHERE uri LIKE '%12345678%' OR uri LIKE '%pin-value%'")" 0

trust=$(trust_of prod)
check "issue under the token intermediate" cap issue --env prod --profile server --cn web.internal --dns web.internal
is "only the leaf's key is sealed" "$(sql "SELECT count(*) FROM keys WHERE length(sealed) > 0")" 1
"$CAPSTAN" export web.internal --format chain --out "$T/web.pem"
check "it verifies (openssl)" openssl_verify sslserver "$trust" "$T/web.pem"
check "it verifies (certtool)" certtool_verify "$trust" "$T/web.pem"
check "renew" cap renew web.internal --env prod
"$CAPSTAN" export web.internal --format chain --out "$T/web2.pem"
check "the renewed one verifies (openssl)" openssl_verify sslserver "$trust" "$T/web2.pem"
check "issue another" cap issue --env prod --profile client --cn old.internal
check "revoke it" cap revoke old.internal --env prod --reason keyCompromise
check "crl" cap crl --env prod --out "$T/crl.pem"
check "the CRL verifies against the intermediate (openssl)" \
	openssl crl -in "$T/crl.pem" -CAfile "$T/web.pem" -noout -verify
like "it lists the revoked serial" "$(openssl crl -in "$T/crl.pem" -noout -text)" \
	"$("$CAPSTAN" --json show old.internal | jq -r .serial | tr a-f A-F)"
check "check --keys loads each token key and matches it" cap check --keys
like "three keys opened" "$(cat "$T/out")" '3 keys opened'

# serve: its OCSP responder's certificate signed by the token intermediate,
# leaves issued through the API signed by it from serve's signing thread.
TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)
URL="http://127.0.0.1:$HTTP_PORT"
cat >"$T/capstan.yaml" <<YAML
environments: { prod: {} }
api:
  listen: 127.0.0.1:$TLS_PORT
  http: 127.0.0.1:$HTTP_PORT
  public_url: $URL
  server: { env: prod, name: capstan-api }
  clients:
    - { env: prod, name: ops, allow: [sign] }
YAML
cap apply --config "$T/capstan.yaml" >/dev/null
cap issue --env prod --profile server --cn capstan-api --dns localhost --ip 127.0.0.1 >/dev/null
cap issue --env prod --profile client --cn ops >/dev/null && identity prod ops
cp "$trust" "$T/prod-ca.pem"
# 32 workers, each with its own inventory connection: make test's PostgreSQL
# server takes 60 connections, shared with the script running beside this one.
check "serve starts with a token CA and 32 workers" start_serve --config "$T/capstan.yaml" --workers 32
like "32 of them" "$(cat "$T/serve.log")" '\(32 workers\)'
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=ocsp.internal \
	-keyout "$T/ocsp.key" -out "$T/ocsp.csr" 2>/dev/null
api ops POST /v1/environments/prod/sign -H 'Content-Type: application/json' \
	-d "$(jq -n --rawfile csr "$T/ocsp.csr" '{csr: $csr, profile: "server", dns: ["ocsp.internal"]}')"
is "serve signs a CSR with the token intermediate" "$(status)" 201
jq -r .certificate "$T/body" >"$T/ocsp.pem"
jq -r .chain "$T/body" >"$T/ocsp.chain"
check "it verifies (openssl)" openssl verify -CAfile "$trust" -untrusted "$T/ocsp.chain" "$T/ocsp.pem"
# 64 sign requests from 32 clients at once: the workers load the token key
# and sign with it concurrently.
jq -n --rawfile csr "$T/ocsp.csr" '{csr: $csr, profile: "client"}' >"$T/sign.json"
mkdir "$T/many"
seq -w 1 64 | xargs -P 32 -I @@ sh -c 'jq -c ".name = \"many-@@\"" "$1/sign.json" |
	curl -s -o "$1/many/@@.json" -w "%{http_code}\n" --cacert "$1/prod-ca.pem" --cert "$1/id-ops.pem" \
	--key "$1/id-ops.key" -H "Content-Type: application/json" --data-binary @- \
	"https://127.0.0.1:$2/v1/environments/prod/sign"' _ "$T" "$TLS_PORT" >"$T/codes"
is "64 concurrent signings: all 201" "$(sort "$T/codes" | uniq -c | tr -s ' ')" " 64 201"
for f in "$T"/many/*.json; do jq -r .certificate "$f" >"${f%.json}.pem"; done
is "all 64 verify (openssl)" "$(cd "$T/many" && openssl verify -x509_strict -purpose sslclient -CAfile "$trust" \
	-untrusted "$T/ocsp.chain" ./*.pem 2>&1 | grep -c ': OK$')" 64
is "with 64 serials" "$(cat "$T"/many/*.json | jq -r .serial | sort -u | wc -l)" 64
"$CAPSTAN" export intermediate-ca-1 --env prod --format cert --out "$T/inter1.pem"
cat "$trust" "$T/inter1.pem" >"$T/cas.pem"
out=$(openssl ocsp -issuer "$T/inter1.pem" -cert "$T/ocsp.pem" -url "$URL/ocsp" -CAfile "$T/cas.pem" 2>&1)
like "OCSP: good" "$out" "ocsp.pem: good"
like "the answer verifies (responder certified by the token key)" "$out" "Response verify OK"
check "the CRL is served" curl -sf -o "$T/served.crl" "$URL/crl/$(openssl x509 -in "$T/inter1.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr A-F a-f).crl"
check "it verifies" openssl crl -in "$T/served.crl" -inform DER -CAfile "$T/ocsp.chain" -noout -verify
stop_serve
SERVE_PID=

refuses "export --format key of a token key" 1 'PKCS#11 token.*never leaves it' \
	cap export intermediate-ca-1 --env prod --format key --ca-key --out "$T/k.pem"
refuses "export --format pkcs12 of a token key" 1 'PKCS#11 token.*never leaves it' \
	cap export root-ca --env prod --format pkcs12 --ca-key --password-file "$T/pin" --out "$T/k.p12"
check "export --format key of a leaf still works" cap export web.internal --format key --out "$T/web.key"

# Rotation makes the new keys in the same token.
check "rotate --intermediate" cap rotate --env prod --intermediate
is "its key is in the token" "$(sql "SELECT count(*) FROM keys WHERE uri LIKE '%object=capstan-prod-intermediate-2%'")" 1
check "rotate --root" cap rotate --env prod --root
is "the new root's key is in the token" "$(sql "SELECT count(*) FROM keys WHERE uri LIKE '%object=capstan-prod-root-2%'")" 1
is "the token holds five CA private keys" "$(objects | grep -c '^Private Key Object')" 5
is "still no CA key material in the inventory" \
	"$(sql "SELECT count(*) FROM keys k JOIN certs c ON c.key_id = k.id WHERE c.kind <> 'leaf' AND length(k.sealed) > 0")" 0
trust=$(trust_of prod)
check "issue under the rotated intermediate" cap issue --env prod --profile server --cn new.internal --dns new.internal
"$CAPSTAN" export new.internal --format chain --out "$T/new.pem"
check "it verifies (openssl)" openssl_verify sslserver "$trust" "$T/new.pem"
check "it verifies (certtool)" certtool_verify "$trust" "$T/new.pem"

# Other key types the token makes, and a batch signed from the workers.
for key in ed25519 ec-p384; do
	check "init --hsm --key $key" cap init --env "k-$key" --key "$key" --hsm "$HSM"
	check "issue under it ($key)" cap issue --env "k-$key" --profile server --cn "a.$key" --dns "a.$key"
	"$CAPSTAN" export "a.$key" --env "k-$key" --format chain --out "$T/a-$key.pem"
	check "it verifies (openssl, $key)" openssl_verify sslserver "$(trust_of "k-$key")" "$T/a-$key.pem"
done
for i in $(seq 1 100); do
	printf '{"env":"prod","profile":"client","cn":"b-%03d","service":"batch","days":30}\n' "$i"
done >"$T/batch.jsonl"
check "issue --batch of 100 under the token intermediate" cap issue --batch "$T/batch.jsonl"
"$CAPSTAN" export b-077 --format chain --out "$T/b.pem"
check "a batch certificate verifies (openssl)" openssl_verify sslclient "$trust" "$T/b.pem"

# Bundles under a token-held CA: an etcd service's files chain to it, its CRL
# is signed by the token key (the intermediate's public key is the token's
# public key object), and renew --due renews the leaves when they fall due.
check "init --hsm svc" cap init --env svc --hsm "$HSM"
cat >"$T/svc.yaml" <<YAML
environments: { svc: {} }
services:
  etcd:
    template: etcd
    certs:
      - { name: etcd-1, profile: peer, dns: [etcd-1.internal, localhost], ip: [127.0.0.1], days: 30 }
      - { name: root, profile: client, days: 30 }
YAML
check "apply an etcd service" cap apply --config "$T/svc.yaml"
check "bundle it" cap bundle --env svc --service etcd --out "$T/etcd"
svc_trust=$(trust_of svc)
check "the member verifies (openssl)" openssl verify -x509_strict -purpose sslserver \
	-CAfile "$T/etcd/ca.pem" -untrusted "$T/etcd/etcd-1.pem" "$T/etcd/etcd-1.pem"
check "the bundle's ca.pem is the environment's trust" cmp "$T/etcd/ca.pem" "$svc_trust"
check "the member verifies (certtool)" certtool_verify "$T/etcd/ca.pem" "$T/etcd/etcd-1.pem"
check "the client verifies (certtool)" certtool_verify "$T/etcd/ca.pem" "$T/etcd/root.pem"
pkcs11-tool --module "$MODULE" --token-label capstan-e2e --login --pin 12345678 --read-object --type pubkey \
	--label capstan-svc-intermediate-1 -o "$T/svc-inter.pub" >/dev/null 2>&1
"$CAPSTAN" export intermediate-ca-1 --env svc --format cert --out "$T/svc-inter.pem"
is "the intermediate's public key is the token's key" \
	"$(openssl x509 -in "$T/svc-inter.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" \
	"$(sha256sum <"$T/svc-inter.pub")"
check "the bundle's CRL verifies under it (openssl)" openssl crl -in "$T/etcd/crl.pem" -CAfile "$T/svc-inter.pem" -noout -verify
check "the bundle's CRL verifies under it (certtool)" bash -c "certtool --verify-crl --load-ca-certificate '$T/svc-inter.pem' \
	--infile '$T/etcd/crl.pem' | grep -q 'Verification output: Verified'"
serial_of() { "$CAPSTAN" --json show "$1" --env svc | jq -r .serial; }
before=$(serial_of etcd-1)
check "renew --due 25 days later renews the leaves and redeploys" \
	faketime -f +25d "$CAPSTAN" --passphrase-file "$PASS" renew --due --env svc --bundle-dir "$T/bundles"
like "both renewed" "$(grep -c '^renewed svc/' "$T/out")" '^2$'
renewed=$(serial_of etcd-1)
check "etcd-1 has a new serial" test "$renewed" != "$before"
B2="$T/bundles/svc/etcd"
check "the redeployed member verifies then (openssl)" faketime -f +25d openssl verify -x509_strict -purpose sslserver \
	-CAfile "$B2/ca.pem" -untrusted "$B2/etcd-1.pem" "$B2/etcd-1.pem"
check "the redeployed member verifies then (certtool)" faketime -f +25d \
	certtool --verify --load-ca-certificate "$B2/ca.pem" --infile "$B2/etcd-1.pem"
is "it is the renewed one" "$(openssl x509 -in "$B2/etcd-1.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)" "$renewed"

# Threads: the batch's largest pool (16 workers; the machine's CPU count is
# made to read 64, since capstan takes one worker per CPU up to 16) signing
# 1,000 under the token intermediate, every certificate verified.
if ${CC:-cc} -shared -fPIC -o "$T/ncpu.so" -x c - -ldl 2>/dev/null <<'C'; then
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
long sysconf(int name)
{
	static long (*real)(int);
	if (name == _SC_NPROCESSORS_ONLN && getenv("NCPU"))
		return atol(getenv("NCPU"));
	if (!real)
		real = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
	return real(name);
}
C
	for i in $(seq 1 1000); do
		printf '{"env":"svc","profile":"server","cn":"t-%04d","dns":["t-%04d.internal"],"service":"threads","days":30}\n' "$i" "$i"
	done >"$T/threads.jsonl"
	LD_PRELOAD="$T/ncpu.so" NCPU=64 "$CAPSTAN" --passphrase-file "$PASS" issue --batch "$T/threads.jsonl" \
		>"$T/out" 2>"$T/err" & pid=$!
	most=0
	while kill -0 "$pid" 2>/dev/null; do
		n=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
		[ "$n" -gt "$most" ] && most=$n
		sleep 0.02
	done
	wait "$pid"
	is "issue --batch of 1,000 from 16 workers: exit 0" "$?" 0
	is "it ran 16 workers besides the main thread" "$most" 17
	hex=$(on_pg && echo "encode(der, 'hex')" || echo "hex(der)")
	mkdir "$T/threads"
	sql "SELECT $hex FROM certs WHERE service = 'threads' AND status = 'valid'" | python3 -c "
import sys, base64, binascii, textwrap
for i, line in enumerate(sys.stdin):
    b = base64.b64encode(binascii.unhexlify(line.strip())).decode()
    open('$T/threads/%04d.pem' % i, 'w').write('-----BEGIN CERTIFICATE-----\n' + '\n'.join(textwrap.wrap(b, 64)) + '\n-----END CERTIFICATE-----\n')"
	is "1,000 recorded" "$(ls "$T/threads" | wc -l)" 1000
	is "with 1,000 serials" "$(sql "SELECT count(DISTINCT serial) FROM certs WHERE service = 'threads'")" 1000
	is "all 1,000 verify (openssl)" "$(cd "$T/threads" && openssl verify -x509_strict -purpose sslserver -CAfile "$svc_trust" \
		-untrusted "$T/svc-inter.pem" ./*.pem 2>&1 | grep -c ': OK$')" 1000
	cat "$T/svc-inter.pem" "$T/threads/0999.pem" >"$T/t-last.pem"
	check "and one verifies (certtool)" certtool_verify "$svc_trust" "$T/t-last.pem"
else
	skip "a batch from 16 workers" "no C compiler for the CPU-count shim"
fi

# The PIN from $CAPSTAN_PKCS11_PIN, the module from $CAPSTAN_PKCS11_MODULE.
check "init --hsm with the PIN and module from the environment" \
	env CAPSTAN_PKCS11_PIN=12345678 CAPSTAN_PKCS11_MODULE="$MODULE" \
	"$CAPSTAN" --passphrase-file "$PASS" init --env envpin --hsm pkcs11:token=capstan-e2e
check "and issue with them" env CAPSTAN_PKCS11_PIN=12345678 CAPSTAN_PKCS11_MODULE="$MODULE" \
	"$CAPSTAN" --passphrase-file "$PASS" issue --env envpin --profile server --cn e.internal
refuses "no PIN: one line, no prompt" 1 'no PIN for the token' \
	env CAPSTAN_PKCS11_MODULE="$MODULE" "$CAPSTAN" --passphrase-file "$PASS" issue --env envpin --profile server --cn f.internal

# Failures: one line each, the inventory unchanged.
refuses "a missing token" 1 'capstan-nope' \
	cap init --env other --hsm "pkcs11:token=capstan-nope?module-path=$MODULE&pin-source=file:$T/pin"
refuses "a missing module" 1 'cannot read the PKCS#11 module' \
	cap init --env other --hsm "pkcs11:token=capstan-e2e?module-path=/nonexistent.so&pin-source=file:$T/pin"
pkcs11-tool --module "$MODULE" --token-label capstan-e2e --login --pin 12345678 \
	--keypairgen --key-type EC:prime256v1 --label capstan-dup-intermediate-1 >/dev/null 2>&1
before=$(objects | grep -c '^Private Key Object')
refuses "a key label the token holds already" 1 "already holds a key 'capstan-dup-intermediate-1'" \
	cap init --env dup --hsm "$HSM"
is "and no root key was made before the refusal" "$(objects | grep -c '^Private Key Object')" "$before"
# Keys made, then the inventory's transaction fails (a trigger provokes it):
# nothing is recorded, the keys stay in the token, and every line says which
# they are and the pkcs11-tool command that deletes them.
if on_pg; then
	sql "CREATE FUNCTION provoke() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RAISE EXCEPTION 'provoked'; END\$\$;
		CREATE TRIGGER provoke BEFORE INSERT ON envs FOR EACH ROW EXECUTE FUNCTION provoke()" >/dev/null
else
	sql "CREATE TRIGGER provoke BEFORE INSERT ON envs BEGIN SELECT RAISE(ABORT, 'provoked'); END"
fi
before=$(inventory_digest)
check_fails "init --hsm whose transaction fails after the keys are made" cap init --env orph --hsm "$HSM"
like "says which keys stay in the token and how to delete them" "$(cat "$T/err")" \
	"provoked; the keys capstan-orph-root-1, capstan-orph-intermediate-1 made before that stay in pkcs11:token=capstan-e2e .*delete each with pkcs11-tool --module $MODULE --token-label capstan-e2e --login --delete-object --type privkey --label LABEL, then the same with --type pubkey"
is "in one line" "$(wc -l <"$T/err")" 1
is "the inventory unchanged" "$(inventory_digest)" "$before"
is "the token holds them (two keys, two halves each)" "$(objects | grep -c 'label: *capstan-orph-')" 4
if on_pg; then sql "DROP TRIGGER provoke ON envs" >/dev/null; else sql "DROP TRIGGER provoke"; fi
# delete_as_told: runs the command the last refusal named, for both halves.
delete_as_told() {
	local cmd
	cmd=$(sed -n 's/.*delete it with \(pkcs11-tool [^,]*\), then the same with --type pubkey$/\1/p' "$T/told")
	[ -n "$cmd" ] && $cmd --pin 12345678 >/dev/null 2>&1 && ${cmd/--type privkey/--type pubkey} --pin 12345678 >/dev/null 2>&1
}
refuses "a retry: the root's label is taken, the line names it and its deletion" 1 \
	"already holds a key 'capstan-orph-root-1': .*delete it with pkcs11-tool --module $MODULE --token-label capstan-e2e --login --delete-object --type privkey --label capstan-orph-root-1, then the same with --type pubkey$" \
	cap init --env orph --hsm "$HSM"
cp "$T/err" "$T/told"
check "that command deletes it" delete_as_told
refuses "then the intermediate's" 1 "already holds a key 'capstan-orph-intermediate-1': .*--label capstan-orph-intermediate-1, then" \
	cap init --env orph --hsm "$HSM"
cp "$T/err" "$T/told"
check "that command deletes it too" delete_as_told
is "nothing of them left in the token" "$(objects | grep -c 'label: *capstan-orph-')" 0
check "and init --hsm goes through" cap init --env orph --hsm "$HSM"

# The same for rotate: its new key is named when its transaction fails.
if on_pg; then
	sql "CREATE TRIGGER provoke BEFORE INSERT ON certs FOR EACH ROW EXECUTE FUNCTION provoke()" >/dev/null
else
	sql "CREATE TRIGGER provoke BEFORE INSERT ON certs BEGIN SELECT RAISE(ABORT, 'provoked'); END"
fi
check_fails "rotate --intermediate whose transaction fails after the key is made" cap rotate --env orph --intermediate
like "says which key stays and how to delete it" "$(cat "$T/err")" \
	"provoked; the key capstan-orph-intermediate-2 made before that stays in pkcs11:token=capstan-e2e .*delete it with pkcs11-tool --module $MODULE --token-label capstan-e2e"
if on_pg; then sql "DROP TRIGGER provoke ON certs; DROP FUNCTION provoke()" >/dev/null; else sql "DROP TRIGGER provoke"; fi
# rotate --root checks both new labels before making either key: that one
# is taken now.
before=$(objects | grep -c '^Private Key Object')
refuses "rotate --root when the new intermediate's label is taken" 1 "already holds a key 'capstan-orph-intermediate-2'" \
	cap rotate --env orph --root
is "and no root key was made before the refusal" "$(objects | grep -c '^Private Key Object')" "$before"

chmod 644 "$T/pin"
refuses "a PIN file readable by others" 1 'chmod' \
	cap issue --env prod --profile server --cn x.internal
chmod 600 "$T/pin"
secret_file "$T/pin" 99999999
refuses "a wrong PIN" 1 'cannot load the key' \
	cap issue --env prod --profile server --cn x.internal
secret_file "$T/pin" 12345678
refuses "pin-value in the URI is not taken" 1 'PIN in the token URI' \
	cap init --env other --hsm "pkcs11:token=capstan-e2e?module-path=$MODULE&pin-value=12345678"
pkcs11-tool --module "$MODULE" --token-label capstan-e2e --login --pin 12345678 \
	--delete-object --type privkey --label capstan-prod-intermediate-3 >/dev/null 2>&1
refuses "a token key deleted behind capstan's back" 1 'cannot load the key .capstan-prod-intermediate-3' \
	cap issue --env prod --profile server --cn y.internal
check_fails "check --keys reports it" cap check --keys
like "naming the key" "$(cat "$T/out" "$T/err")" 'capstan-prod-intermediate-3'

done_testing
