#!/usr/bin/env bash
# make bench, the network half: capstan serve against cfssl serve (signing)
# and openssl ocsp -port (OCSP), with the same client (loadgen.c: libcurl,
# CLIENTS keep-alive connections), in one run. Sourced by bench.sh: uses its row, rate,
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

# loadgen (loadgen.c): CLIENTS keep-alive connections in one process, every
# server below driven by the same client; prints "seconds ok".
cc -O2 -o "$S/loadgen" "$HERE/loadgen.c" -lcurl
mtls=(-C "$S/ca.pem" -E "$S/id.pem" -k "$S/id.key")
load() { "$S/loadgen" -n "$CLIENTS" "$@"; }

# Signing: one CSR, a new name per request.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout "$S/x.key" \
	-out "$S/x.csr" 2>/dev/null
csr=$(jq -Rs . <"$S/x.csr")
mkdir -p "$S/sign"
for i in $(seq 1 "$SIGNS"); do
	printf '{"csr":%s,"profile":"server","name":"s%d","dns":["s%d.internal"]}' "$csr" "$i" "$i" >"$S/sign/$i.json"
done
read -r secs ok < <(load -t application/json "${mtls[@]}" "https://127.0.0.1:$TLS/v1/environments/prod/sign" \
	$(seq -f "$S/sign/%g.json" 1 "$SIGNS"))
stored=$(sqlite3 "$CAPSTAN_HOME/capstan.db" "SELECT count(*) FROM certs WHERE name LIKE 's%'")
sign_rate=$(rate "$ok" "$secs")
row "capstan serve, sign, ${CLIENTS} mTLS clients ($stored/$SIGNS stored)" "$sign_rate" "$(rss "$spid")"

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
	mkdir -p "$C/sign"
	for i in $(seq 1 "$SIGNS"); do
		printf '{"certificate_request":%s,"hosts":["c%d.internal"]}' "$csr" "$i" >"$C/sign/$i.json"
	done
	read -r secs ok < <(load -t application/json "${mtls[@]}" "https://127.0.0.1:$CFSSL_PORT/api/v1/cfssl/sign" \
		$(seq -f "$C/sign/%g.json" 1 "$SIGNS"))
	stored=$(sqlite3 "$C/certdb.sqlite" "SELECT count(*) FROM certificates")
	cfssl_rate=$(rate "$ok" "$secs")
	row "cfssl serve, sign, ${CLIENTS} mTLS clients ($stored/$SIGNS stored)" "$cfssl_rate" "$(rss "$cpid")"
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
fi

# Bundles: a three-member etcd bundle, keep-alive.
read -r secs ok < <(load -g 400 "${mtls[@]}" \
	"https://127.0.0.1:$TLS/v1/environments/prod/services/etcd/bundle?prefix=/etc/etcd/tls")
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
ocsp() { load -t application/ocsp-request "http://127.0.0.1:$1/ocsp" $(seq -f "$S/o%g.der" 1 "$n"); }
read -r secs ok < <(ocsp "$HTTP")
ocsp_first=$(rate "$ok" "$secs")
row "capstan serve, OCSP ($n serials, ${CLIENTS} clients)" "$ocsp_first" "$(rss "$spid")"
# The same serials again: what a stapling server's next refresh sees.
read -r secs ok < <(ocsp "$HTTP")
ocsp_again=$(rate "$ok" "$secs")
row "capstan serve, OCSP, the same $n again" "$ocsp_again" "$(rss "$spid")"
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
read -r secs ok < <(ocsp "$OCSP_PORT")
ocsp_openssl=$(rate "$ok" "$secs")
row "openssl ocsp -port ($n serials, ${CLIENTS} clients)" "$ocsp_openssl" "$(rss "$opid")"
kill "$opid" 2>/dev/null || true
# Each responder's answer to the first serial, so that a row above is not
# a rate of error responses.
first=$(head -1 "$S/serials")
for port in "$HTTP" "$OCSP_PORT"; do
	[ "$port" = "$OCSP_PORT" ] && { openssl ocsp -port "$OCSP_PORT" -index "$S/index.txt" -CA "$inter" \
		-rsigner "$inter" -rkey "$S/inter.key" -nmin 60 -nrequest 1 >/dev/null 2>&1 & sleep 0.5; }
	openssl ocsp -issuer "$inter" -serial "0x$first" -url "http://127.0.0.1:$port/ocsp" -CAfile "$S/ca.pem" \
		-no_nonce 2>&1 | grep -q "0x$first: good" || echo "bench: the OCSP responder on port $port did not answer good" >&2
done
wait $! 2>/dev/null || true
# The ceiling on this machine: nginx answering the same requests with a
# fixed 1 KB body, driven by the same client. No responder can be faster.
if command -v nginx >/dev/null; then
	mkdir -p "$S/nginx"
	NGINX_PORT=$(sport)
	cat >"$S/nginx/nginx.conf" <<NGINX
worker_processes 2;
pid $S/nginx/nginx.pid;
error_log $S/nginx/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $S/nginx;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location /ocsp { return 200 "$(head -c 768 /dev/zero | base64 -w0)"; }
    }
}
NGINX
	nginx -p "$S/nginx" -c "$S/nginx/nginx.conf" 2>/dev/null
	sleep 0.3
	read -r secs ok < <(ocsp "$NGINX_PORT")
	ocsp_ceiling=$(rate "$ok" "$secs")
	row "  ceiling: nginx, a fixed 1 KB answer, same client" "$ocsp_ceiling" "-"
	kill "$(cat "$S/nginx/nginx.pid")" 2>/dev/null || true
fi

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
# The ratios the targets are stated in (signing >= 5x cfssl serve and >= 2,000/s;
# OCSP >= 10x openssl ocsp -port), and what the ceiling allows here.
row "$(awk -v s="$sign_rate" -v c="${cfssl_rate:-0}" -v f="$ocsp_first" -v a="$ocsp_again" \
	-v o="$ocsp_openssl" -v n="${ocsp_ceiling:-0}" 'BEGIN {
	printf("serve: signing %.1fx cfssl serve; OCSP %.1fx openssl ocsp -port first, %.1fx repeated",
		(c > 0 ? s / c : 0), (o > 0 ? f / o : 0), (o > 0 ? a / o : 0))
	if (n > 0) printf(" (nginx fixed answer: %.1fx)", n / o)
}')" "-" "-"
