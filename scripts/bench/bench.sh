#!/usr/bin/env bash
# make bench: capstan against openssl ca, easy-rsa and cfssl on the same work
# (EC P-256 server certificates with fresh keys), in one run, on this machine;
# then capstan with a million certificates in its inventory. Prints one table;
# then scale.sh's: every command at every size of BENCH_SIZES; then pg.sh's:
# the batch and the million on PostgreSQL against SQLite; then pkcs11.sh's:
# the batch under a token-held intermediate against a sealed one.
# A benchmark, not a test: nothing here asserts a time.
set -euo pipefail
CAPSTAN=${CAPSTAN_BIN:?}
BATCH=${BENCH_BATCH:-5000}       # certificates for capstan's batch path
CALLS=${BENCH_CALLS:-20}         # one process per certificate, for every tool
EASY=${BENCH_EASYRSA:-8}         # easy-rsa is slow
SCALE=${BENCH_SCALE:-1000000}    # the inventory for the scale figures
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/capstan-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
cd "$W"
export CAPSTAN_HOME="$W/home" CAPSTAN_PASSPHRASE=
unset CAPSTAN_PASSPHRASE
(umask 077 && head -c 24 /dev/urandom | base64 >pass) # 0600: capstan refuses a passphrase file others can read
rows=()
row() { rows+=("$(printf '%-46s %12s %10s' "$1" "$2" "$3")"); printf '  %-46s %12s %10s\n' "$1" "$2" "$3" >&2; }
# timed OUT CMD...: runs CMD, writes "seconds maxrss_kb" to OUT.
timed() { local out=$1; shift; /usr/bin/time -f '%e %M' -o "$out" "$@" >/dev/null 2>&1; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / (s > 0 ? s : 0.001) }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f MB", k / 1024 }'; }
CAP=("$CAPSTAN" --passphrase-file "$W/pass")
cap() { "${CAP[@]}" "$@"; }
echo "capstan bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(openssl version | cut -d' ' -f1-2)" >&2

# capstan, batch: one process, every core. RUNS runs, each into a fresh home,
# each followed by the in-process limit (stock OpenSSL calls, one thread):
# on a shared machine both swing by 2x within minutes, so the medians of
# runs taken side by side are what the ratio compares.
RUNS=${BENCH_BATCH_RUNS:-3}
cc -O2 -o inproc "$HERE/inproc.c" -lcrypto
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
cap init --env bench -q
for i in $(seq 1 "$BATCH"); do printf '{"env":"bench","profile":"server","cn":"b%d.internal"}\n' "$i"; done >batch.jsonl
batch_rates=() naives=() fasts=() batch_rss=0
for r in $(seq 1 "$RUNS"); do
	CAPSTAN_HOME="$W/batch$r" cap init --env bench -q
	timed t.batch env CAPSTAN_HOME="$W/batch$r" "$CAPSTAN" --passphrase-file "$W/pass" -q issue --batch batch.jsonl
	read -r s k <t.batch; batch_rates+=("$(rate "$BATCH" "$s")"); [ "$k" -gt "$batch_rss" ] && batch_rss=$k
	read -r naive fast < <(./inproc 3000); naives+=("$naive"); fasts+=("$fast")
	echo "  (batch run $r: ${batch_rates[-1]}/s; in-process limit $naive, $fast)" >&2
	rm -rf "$W/batch$r"
done
batch_rate=$(median "${batch_rates[@]}") naive=$(median "${naives[@]}") fast=$(median "${fasts[@]}")
row "capstan issue --batch ($BATCH, median of $RUNS)" "$batch_rate" "$(mb "$batch_rss")"

# capstan, one process per certificate (each pays the scrypt unlock).
start=$(date +%s.%N)
for i in $(seq 1 "$CALLS"); do timed t.call "${CAP[@]}" -q issue --env bench --profile server --cn "c$i.internal"; done
end=$(date +%s.%N); read -r s k <t.call
call_rate=$(rate "$CALLS" "$(echo "$end - $start" | bc)")
row "capstan issue, one process each ($CALLS)" "$call_rate" "$(mb "$k")"

# openssl req + openssl ca, per certificate.
mkdir -p ossl/db && : >ossl/db/index.txt && echo 1000 >ossl/db/serial
cat >ossl/ca.cnf <<CNF
[ ca ]
default_ca = bench
[ bench ]
dir = $W/ossl
database = \$dir/db/index.txt
serial = \$dir/db/serial
new_certs_dir = \$dir
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
[ anything ]
commonName = supplied
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
CNF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ossl/ca.key -out ossl/ca.pem \
	-subj /CN=bench-ca -days 365 2>/dev/null
start=$(date +%s.%N)
for i in $(seq 1 "$CALLS"); do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ossl/k$i.pem -out ossl/r$i.csr \
		-subj "/CN=o$i.internal" -addext "subjectAltName=DNS:o$i.internal" 2>/dev/null
	timed t.ossl openssl ca -batch -config ossl/ca.cnf -extensions server -days 90 -notext -in ossl/r$i.csr -out ossl/c$i.pem
done
end=$(date +%s.%N); read -r s k <t.ossl
ossl_rate=$(rate "$CALLS" "$(echo "$end - $start" | bc)")
row "openssl req + openssl ca ($CALLS)" "$ossl_rate" "$(mb "$k")"

# easy-rsa build-server-full.
if [ -x /usr/share/easy-rsa/easyrsa ]; then
	export EASYRSA_BATCH=1 EASYRSA_ALGO=ec EASYRSA_CURVE=prime256v1 EASYRSA_PKI="$W/pki"
	/usr/share/easy-rsa/easyrsa init-pki >/dev/null 2>&1
	EASYRSA_REQ_CN=bench-ca /usr/share/easy-rsa/easyrsa build-ca nopass >/dev/null 2>&1
	start=$(date +%s.%N)
	for i in $(seq 1 "$EASY"); do timed t.easy /usr/share/easy-rsa/easyrsa build-server-full "e$i" nopass; done
	end=$(date +%s.%N); read -r s k <t.easy
	row "easy-rsa build-server-full ($EASY)" "$(rate "$EASY" "$(echo "$end - $start" | bc)")" "$(mb "$k")"
fi

# cfssl_certdb DB JSON: an empty SQLite certdb (the schema of cfssl's
# certdb/sqlite migrations 001 + 002) and the -db-config naming it.
cfssl_certdb() {
	sqlite3 "$1" "CREATE TABLE certificates (serial_number blob NOT NULL,
		authority_key_identifier blob NOT NULL, ca_label blob, status blob NOT NULL, reason int,
		expiry timestamp, revoked_at timestamp, pem blob NOT NULL, issued_at timestamp,
		not_before timestamp, metadata text, sans text, common_name text,
		PRIMARY KEY (serial_number, authority_key_identifier));
	CREATE TABLE ocsp_responses (serial_number blob NOT NULL, authority_key_identifier blob NOT NULL,
		body blob NOT NULL, expiry timestamp, PRIMARY KEY (serial_number, authority_key_identifier));"
	printf '{"driver":"sqlite3","data_source":"%s"}\n' "$1" >"$2"
}

# cfssl gencert, per certificate, and cfssl serve with keep-alive HTTP.
if command -v cfssl >/dev/null && command -v cfssljson >/dev/null; then
	echo '{"CN":"bench-ca","key":{"algo":"ecdsa","size":256}}' | cfssl genkey -initca - 2>/dev/null | cfssljson -bare cfca
	echo '{"signing":{"default":{"expiry":"2160h","usages":["digital signature","server auth"]}}}' >cfssl.json
	echo '{"CN":"f.internal","hosts":["f.internal"],"key":{"algo":"ecdsa","size":256}}' >req.json
	start=$(date +%s.%N)
	for i in $(seq 1 "$CALLS"); do
		timed t.cfssl cfssl gencert -ca cfca.pem -ca-key cfca-key.pem -config cfssl.json req.json
	done
	end=$(date +%s.%N); read -r s k <t.cfssl
	row "cfssl gencert ($CALLS)" "$(rate "$CALLS" "$(echo "$end - $start" | bc)")" "$(mb "$k")"
	cfssl_certdb certdb.sqlite certdb.json
	port=$((28000 + RANDOM % 1000))
	cfssl serve -address 127.0.0.1 -port "$port" -ca cfca.pem -ca-key cfca-key.pem -config cfssl.json \
		-db-config certdb.json >cfssl-serve.log 2>&1 &
	sleep 2
	n=$((CALLS * 10))
	echo '{"request":{"CN":"s.internal","hosts":["s.internal"],"key":{"algo":"ecdsa","size":256}}}' >newcert.json
	urls=(); for i in $(seq 1 "$n"); do urls+=("http://127.0.0.1:$port/api/v1/cfssl/newcert"); done
	start=$(date +%s.%N)
	curl -s -d @newcert.json "${urls[@]}" >serve.out || true
	end=$(date +%s.%N)
	ok=$(grep -o '"success":true' serve.out | wc -l)
	stored=$(sqlite3 certdb.sqlite 'SELECT count(*) FROM certificates')
	row "cfssl serve, keep-alive, certdb ($stored/$n stored)" "$(rate "$ok" "$(echo "$end - $start" | bc)")" \
		"$(ps -o rss= -p "$(pgrep -f "cfssl serve -address 127.0.0.1 -port $port" | head -1)" 2>/dev/null | awk '{printf "%.0f MB", $1/1024}')"
	kill %1 2>/dev/null || true
fi

# capstan serve against cfssl serve (above) and openssl ocsp -port.
# shellcheck source=serve.sh
. "$HERE/serve.sh"
# capstan fetch: a fleet of deploy hosts against one capstan serve.
# shellcheck source=fetch.sh
. "$HERE/fetch.sh"

# The in-process limit (measured with the batch runs above).
row "in-process limit, X509_set_pubkey" "$naive" "-"
row "in-process limit, encoded-pub-key" "$fast" "-"

# Scale: SCALE certificates synthesized straight into SQLite: rows like the
# real ones (the same DER template, random serials, expiry spread over two
# years, 10% revoked), and 1,000 in the last 10 days of a year's validity,
# holding a real key so that they really renew.
export CAPSTAN_HOME="$W/scale"
cap init --env big -q
cap -q issue --env big --profile server --cn template.internal --days 365
db="$CAPSTAN_HOME/capstan.db"
start=$(date +%s.%N)
sqlite3 "$db" >/dev/null <<SQL
PRAGMA synchronous = OFF;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $SCALE)
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
PRAGMA wal_checkpoint(TRUNCATE); -- measure steady state, not the synthesis's checkpoint
SQL
end=$(date +%s.%N)
total=$(sqlite3 "$db" 'SELECT count(*) FROM certs')
echo "  (synthesized $SCALE rows in $(printf '%.1f' "$(echo "$end - $start" | bc)") s)" >&2
size=$(stat -c %s "$db")
row "inventory: bytes per certificate ($total rows)" "$((size / total))" "$(mb $((size / 1024)))"

timed t.list "$CAPSTAN" --json list --expiring-within 30d
read -r s k <t.list
row "list --expiring-within 30d --json (1,000 rows)" "$(printf '%.0f ms' "$(echo "$s * 1000" | bc)")" "$(mb "$k")"
timed t.all "$CAPSTAN" --json list --status all
read -r s k <t.all
row "list --status all --json (all rows, streamed)" "$(printf '%.1f s' "$s")" "$(mb "$k")"
timed t.crl "${CAP[@]}" crl --env big --out crl.pem
read -r s k <t.crl
row "crl, $(grep -c . <(openssl crl -in crl.pem -noout -text | grep 'Serial Number')) revoked" "$(printf '%.2f s' "$s")" "$(mb "$k")"
timed t.renew "${CAP[@]}" -q renew --due
read -r s k <t.renew
row "renew --due: renewing the 1,000 due" "$(printf '%.2f s' "$s")" "$(mb "$k")"
timed t.none "${CAP[@]}" -q renew --due
read -r s_none k <t.none
row "renew --due, nothing due (unlock included)" "$(printf '%.0f ms' "$(echo "$s_none * 1000" | bc)")" "$(mb "$k")"
timed t.one "${CAP[@]}" -q issue --env big --profile server --cn one-more.internal
read -r s_one k <t.one
row "issue one more certificate (unlock included)" "$(printf '%.0f ms' "$(echo "$s_one * 1000" | bc)")" "$(mb "$k")"

# Delivery at scale: a service of three certificates on two hosts in the same
# environment, delivered by the nightly job (its CRLs hold the 100,000 revoked).
cat >deliver.yaml <<'YAML'
environments: { big: {} }
services:
  svc:
    template: etcd
    hosts: { node-a: [svc-1, svc-client], node-b: [svc-2] }
    certs:
      - { name: svc-1, profile: peer, dns: [localhost], ip: [127.0.0.1] }
      - { name: svc-2, profile: peer, dns: [localhost], ip: [127.0.0.1] }
      - { name: svc-client, profile: client }
YAML
deliver_night() { # OUT: one renew --due --bundle-dir run, timed
	timed "$1" "${CAP[@]}" -q renew --due --env big --bundle-dir "$W/deploy-$(basename "$CAPSTAN_HOME")" --exec true
}
scale_delivery() {
	cap -q apply --config deliver.yaml
	deliver_night t.first && read -r s_first k_first <t.first
	deliver_night t.quiet && read -r s_quiet k_quiet <t.quiet
	timed t.metrics "$CAPSTAN" metrics --out metrics.prom && read -r s_metrics k_metrics <t.metrics
}
scale_delivery
row "renew --due --bundle-dir: first night, 2 hosts" "$(printf '%.0f ms' "$(echo "$s_first * 1000" | bc)")" "$(mb "$k_first")"
row "renew --due --bundle-dir: nothing owed" "$(printf '%.0f ms' "$(echo "$s_quiet * 1000" | bc)")" "$(mb "$k_quiet")"
row "metrics (every current certificate)" "$(printf '%.1f s' "$s_metrics")" "$(mb "$k_metrics")"

# The same on an empty inventory, for comparison.
export CAPSTAN_HOME="$W/empty"
cap init --env big -q
cap -q issue --env big --profile server --cn first.internal
timed t.none0 "${CAP[@]}" -q renew --due
read -r s_none0 k <t.none0
timed t.one0 "${CAP[@]}" -q issue --env big --profile server --cn one-more.internal
read -r s_one0 k <t.one0
row "  the same on an empty inventory: renew --due" "$(printf '%.0f ms' "$(echo "$s_none0 * 1000" | bc)")" "-"
row "  the same on an empty inventory: issue" "$(printf '%.0f ms' "$(echo "$s_one0 * 1000" | bc)")" "-"
scale_delivery
row "  the same on an empty inventory: first night" "$(printf '%.0f ms' "$(echo "$s_first * 1000" | bc)")" "-"
row "  the same on an empty inventory: nothing owed" "$(printf '%.0f ms' "$(echo "$s_quiet * 1000" | bc)")" "-"

echo
printf '%-46s %12s %10s\n' "EC P-256 server certificates, fresh keys" "certs/s" "peak RSS"
printf '%s\n' "${rows[@]}"
echo
# A process that only starts, opens the inventory and unlocks it: renew --due
# with nothing due on an empty inventory. What a call costs beyond that is
# the issuance itself.
awk -v b="$batch_rate" -v c="$call_rate" -v o="$ossl_rate" -v u="$s_none0" -v f="$fast" 'BEGIN {
	printf "capstan batch / openssl ca per certificate:   %.0fx (target >= 40x)\n", b / o
	printf "capstan batch / in-process limit (fast):      %.2f (goal >= 0.5)\n", b / f
	printf "capstan per call: %.0f ms, of which start + unlock (scrypt) %.0f ms; the rest %.1f ms\n",
		1000 / c, u * 1000, (1 / c - u) * 1000
	printf "  against openssl req + ca per certificate:   %.1f ms (target: the rest <= 2x)\n", 1000 / o
}'

# Every command at 1,000 to 1,000,000 certificates (BENCH_SIZES), one table.
echo
bash "$HERE/scale.sh"

# capstan on PostgreSQL against SQLite, batch and at a million certificates.
echo
bash "$HERE/pg.sh"

# CA keys in a token (SoftHSM2) against sealed ones: the batch and init --hsm.
echo
bash "$HERE/pkcs11.sh"
