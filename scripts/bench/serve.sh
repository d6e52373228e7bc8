#!/usr/bin/env bash
# make bench, the network half: capstan serve against cfssl serve (signing)
# and openssl ocsp -port (OCSP), with the same clients (curl, keep-alive,
# CLIENTS in parallel), in one run. Sourced by bench.sh: uses its row, rate,
# mb, cap and $W. A benchmark, not a test.
SIGNS=${BENCH_SERVE_SIGNS:-4000}
CLIENTS=${BENCH_SERVE_CLIENTS:-8}
OCSPS=${BENCH_SERVE_OCSP:-2000}
S="$W/serve"
mkdir -p "$S"
sport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TLS=$(sport) HTTP=$(sport)
cat >"$S/capstan.yaml" <<YAML
environments: { prod: {} }
services:
  etcd:
    template: etcd
    certs:
      - { name: etcd-1, profile: peer, dns: [etcd-1.internal], ip: [127.0.0.1] }
      - { name: etcd-2, profile: peer, dns: [etcd-2.internal], ip: [127.0.0.1] }
      - { name: etcd-3, profile: peer, dns: [etcd-3.internal], ip: [127.0.0.1] }
api:
  listen: 127.0.0.1:$TLS
  http: 127.0.0.1:$HTTP
  server: { env: prod, name: capstan-api }
  clients:
    - { env: prod, name: bench, allow: [sign, bundle] }
YAML
export CAPSTAN_HOME="$S/home"
cap -q apply --config "$S/capstan.yaml"
cap -q issue --env prod --profile server --cn capstan-api --dns localhost --ip 127.0.0.1
cap -q issue --env prod --profile client --cn bench
cap export bench --env prod --format chain --out "$S/id.pem" >/dev/null
cap export bench --env prod --format key --out "$S/id.key" >/dev/null
cap trust --env prod --out "$S/ca.pem" >/dev/null
"${CAP[@]}" serve --config "$S/capstan.yaml" 2>"$S/serve.log" &
spid=$!
tls=(--cacert "$S/ca.pem" --cert "$S/id.pem" --key "$S/id.key")
for _ in $(seq 1 100); do curl -sf -o /dev/null "${tls[@]}" "https://127.0.0.1:$TLS/v1/health" && break; sleep 0.1; done
rss() { ps -o rss= -p "$1" | awk '{printf "%.0f MB", $1/1024}'; }
idle_rss=$(rss "$spid")

# clients NAME N MAKE: CLIENTS curl processes, each a keep-alive connection
# running its share of N requests described by MAKE I (curl -K lines);
# prints "seconds ok".
clients() {
	local name=$1 n=$2 make=$3 per=$(( $2 / CLIENTS ))
	for c in $(seq 1 "$CLIENTS"); do
		for i in $(seq $(( (c - 1) * per + 1 )) $(( c * per ))); do
			[ "$i" -gt $(( (c - 1) * per + 1 )) ] && echo next # options are per transfer
			"$make" "$i"
			printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
		done >"$S/$name-$c.cfg"
	done
	local start end pids=()
	start=$(date +%s.%N)
	for c in $(seq 1 "$CLIENTS"); do
		curl -s -K "$S/$name-$c.cfg" >"$S/$name-$c.out" &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	end=$(date +%s.%N)
	echo "$(echo "$end - $start" | bc) $(cat "$S/$name"-*.out | grep -c '^20[01]$')"
}

# Signing: one CSR, a new name per request.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout "$S/x.key" \
	-out "$S/x.csr" 2>/dev/null
csr=$(jq -Rs . <"$S/x.csr")
sign_req() {
	printf '{"csr":%s,"profile":"server","name":"s%d","dns":["s%d.internal"]}' "$csr" "$1" "$1" >"$S/b$1.json"
	printf 'url = "https://127.0.0.1:%s/v1/environments/prod/sign"\ncacert = "%s"\ncert = "%s"\nkey = "%s"\n' \
		"$TLS" "$S/ca.pem" "$S/id.pem" "$S/id.key"
	printf 'header = "Content-Type: application/json"\ndata-binary = "@%s"\n' "$S/b$1.json"
}
read -r secs ok < <(clients sign "$SIGNS" sign_req)
stored=$(sqlite3 "$CAPSTAN_HOME/capstan.db" "SELECT count(*) FROM certs WHERE name LIKE 's%'")
row "capstan serve, sign, ${CLIENTS} mTLS clients ($stored/$SIGNS stored)" "$(rate "$ok" "$secs")" "$(rss "$spid")"

# cfssl serve on the same work: TLS with client certificates checked against
# the same CA (-mutual-tls-ca), the same CSR through /api/v1/cfssl/sign, the
# same clients, every certificate in its SQLite certdb.
if command -v cfssl >/dev/null && command -v cfssljson >/dev/null; then
	C="$S/cfssl"
	mkdir -p "$C"
	(cd "$C" && echo '{"CN":"bench-ca","key":{"algo":"ecdsa","size":256}}' | cfssl genkey -initca - 2>/dev/null |
		cfssljson -bare cfca)
	echo '{"signing":{"default":{"expiry":"2160h","usages":["digital signature","server auth"]}}}' >"$C/cfssl.json"
	cfssl_certdb "$C/certdb.sqlite" "$C/certdb.json"
	cap export capstan-api --env prod --format chain --out "$C/tls.pem" >/dev/null
	cap export capstan-api --env prod --format key --out "$C/tls.key" >/dev/null
	CFSSL_PORT=$(sport)
	cfssl serve -address 127.0.0.1 -port "$CFSSL_PORT" -ca "$C/cfca.pem" -ca-key "$C/cfca-key.pem" \
		-config "$C/cfssl.json" -db-config "$C/certdb.json" -tls-cert "$C/tls.pem" -tls-key "$C/tls.key" \
		-mutual-tls-ca "$S/ca.pem" >"$C/serve.log" 2>&1 &
	cpid=$!
	for _ in $(seq 1 100); do curl -s -o /dev/null "${tls[@]}" "https://127.0.0.1:$CFSSL_PORT/" && break; sleep 0.1; done
	cfssl_req() {
		printf '{"certificate_request":%s,"hosts":["c%d.internal"]}' "$csr" "$1" >"$C/b$1.json"
		printf 'url = "https://127.0.0.1:%s/api/v1/cfssl/sign"\ncacert = "%s"\ncert = "%s"\nkey = "%s"\n' \
			"$CFSSL_PORT" "$S/ca.pem" "$S/id.pem" "$S/id.key"
		printf 'header = "Content-Type: application/json"\ndata-binary = "@%s"\n' "$C/b$1.json"
	}
	read -r secs ok < <(clients cfssl-sign "$SIGNS" cfssl_req)
	stored=$(sqlite3 "$C/certdb.sqlite" "SELECT count(*) FROM certificates")
	row "cfssl serve, sign, ${CLIENTS} mTLS clients ($stored/$SIGNS stored)" "$(rate "$ok" "$secs")" "$(rss "$cpid")"
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
fi

# Bundles: a three-member etcd bundle, keep-alive.
bundle_req() {
	printf 'url = "https://127.0.0.1:%s/v1/environments/prod/services/etcd/bundle?prefix=/etc/etcd/tls"\n' "$TLS"
	printf 'cacert = "%s"\ncert = "%s"\nkey = "%s"\n' "$S/ca.pem" "$S/id.pem" "$S/id.key"
}
read -r secs ok < <(clients bundle 400 bundle_req)
row "capstan serve, etcd bundle (3 members), ${CLIENTS} clients" "$(rate "$ok" "$secs")" \
	"$(awk -v s="$secs" -v n="$ok" -v c="$CLIENTS" 'BEGIN { printf "%.1f ms", 1000 * s * c / (n ? n : 1) }')"

# OCSP: distinct serials, the same requests to both responders.
inter="$S/inter.pem"
cap export intermediate-ca-1 --env prod --format cert --out "$inter" >/dev/null
cap --json list --env prod --status all | jq -r '.[] | select(.name | startswith("s")) | .serial' | awk -v n="$OCSPS" 'NR <= n' >"$S/serials"
n=0
while read -r serial; do
	n=$((n + 1))
	openssl ocsp -issuer "$inter" -serial "0x$serial" -no_nonce -reqout "$S/o$n.der" >/dev/null 2>&1
done <"$S/serials"
ocsp_req() {
	printf 'url = "http://127.0.0.1:%s/ocsp"\nheader = "Content-Type: application/ocsp-request"\ndata-binary = "@%s"\n' \
		"$OCSP_PORT" "$S/o$1.der"
}
OCSP_PORT=$HTTP
read -r secs ok < <(clients ocsp "$n" ocsp_req)
capstan_ocsp=$(rate "$ok" "$secs")
row "capstan serve, OCSP ($n serials, ${CLIENTS} clients)" "$capstan_ocsp" "$(rss "$spid")"
# openssl ocsp -port over the same CA: an index of the same certificates.
cap export intermediate-ca-1 --env prod --format key --ca-key --out "$S/inter.key" >/dev/null
cap --json list --env prod --status all | jq -r '.[] | select(.name | startswith("s")) |
	"V\t" + (.not_after | sub("-"; ""; "g") | sub(":"; ""; "g") | sub("T"; "") | .[2:]) + "\t\t" + (.serial | ascii_upcase) + "\tunknown\t/CN=" + .name' \
	>"$S/index.txt"
OCSP_PORT=$(sport)
openssl ocsp -port "$OCSP_PORT" -index "$S/index.txt" -CA "$inter" -rsigner "$inter" -rkey "$S/inter.key" \
	-nmin 60 -ignore_err >"$S/openssl-ocsp.log" 2>&1 &
opid=$!
sleep 0.5
read -r secs ok < <(clients ocsp-openssl "$n" ocsp_req)
row "openssl ocsp -port ($n serials, ${CLIENTS} clients)" "$(rate "$ok" "$secs")" "$(rss "$opid")"
kill "$opid" 2>/dev/null || true

# Memory: idle, and holding the 1,024-connection limit open.
row "capstan serve, memory idle" "-" "$idle_rss"
python3 - "$TLS" "$S" >"$S/held" <<'PY' &
import socket, ssl, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=d + "/ca.pem")
ctx.load_cert_chain(d + "/id.pem", d + "/id.key")
held = []
for _ in range(1024):
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost")
        held.append(s)
    except Exception:
        break
print(len(held), flush=True)
time.sleep(3)
PY
hpid=$!
for _ in $(seq 1 100); do [ -s "$S/held" ] && break; sleep 0.1; done
row "capstan serve, memory at $(cat "$S/held") connections" "-" "$(rss "$spid")"
wait "$hpid" 2>/dev/null || true
kill -TERM "$spid"
wait "$spid" 2>/dev/null || true
export CAPSTAN_HOME="$W/home"
