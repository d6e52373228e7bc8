#!/usr/bin/env bash
# make bench, the deploy hosts' side: capstan fetch against one capstan serve.
# A fleet of FLEET hosts (each a capstan fetch process, FETCH_PARALLEL at a
# time) asking for an unchanged etcd bundle: the 304 path every timer run
# takes; requests per second, and the server's CPU per request from its
# /proc/PID/stat (utime + stime) before and after. Then the latency of a first,
# full fetch (download, MANIFEST check, swap). Sourced by bench.sh after
# serve.sh: uses its row, rate, cap and $W. A benchmark, not a test.
FLEET=${BENCH_FETCH_FLEET:-200}
FETCH_PARALLEL=${BENCH_FETCH_PARALLEL:-8}
F="$W/fetch"
mkdir -p "$F"
fport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FTLS=$(fport) FHTTP=$(fport)
cat >"$F/capstan.yaml" <<YAML
environments: { prod: {} }
services:
  etcd:
    template: etcd
    certs:
      - { name: etcd-1, profile: peer, dns: [etcd-1.internal], ip: [127.0.0.1] }
      - { name: etcd-2, profile: peer, dns: [etcd-2.internal], ip: [127.0.0.1] }
      - { name: etcd-3, profile: peer, dns: [etcd-3.internal], ip: [127.0.0.1] }
      - { name: root, profile: client }
api:
  listen: 127.0.0.1:$FTLS
  http: 127.0.0.1:$FHTTP
  server: { env: prod, name: capstan-api }
  clients:
    - { env: prod, name: fleet, allow: [bundle], environments: [prod], services: [etcd] }
YAML
export CAPSTAN_HOME="$F/home"
cap -q apply --config "$F/capstan.yaml"
cap -q issue --env prod --profile server --cn capstan-api --dns localhost --ip 127.0.0.1
cap -q issue --env prod --profile client --cn fleet
cap export fleet --env prod --format chain --out "$F/id.pem" >/dev/null
cap export fleet --env prod --format key --out "$F/id.key" >/dev/null
cap trust --env prod --out "$F/ca.pem" >/dev/null
"${CAP[@]}" serve --config "$F/capstan.yaml" 2>"$F/serve.log" &
fpid=$!
for _ in $(seq 1 100); do
	curl -sf -o /dev/null --cacert "$F/ca.pem" --cert "$F/id.pem" --key "$F/id.key" "https://127.0.0.1:$FTLS/v1/health" && break
	sleep 0.1
done
# fetch_into DIR: one host's fetch, as the timer runs it (no home, no passphrase).
fetch_into() {
	env -u CAPSTAN_HOME "$CAPSTAN" -q fetch --server "https://127.0.0.1:$FTLS" --cert "$F/id.pem" --key "$F/id.key" \
		--ca "$F/ca.pem" --env prod --service etcd --out "$1" --prefix /etc/etcd/tls
}
export -f fetch_into
export CAPSTAN F FTLS
# CPU seconds the server has used: utime + stime (fields 14 and 15) over the clock tick.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"; }

# The first, full fetch: a host with nothing installed yet.
start=$(date +%s.%N)
fetch_into "$F/first/tls"
end=$(date +%s.%N)
row "capstan fetch, first full fetch (latency)" "-" \
	"$(awk -v s="$(echo "$end - $start" | bc)" 'BEGIN { printf "%.0f ms", s * 1000 }')"

# The fleet, each host holding that bundle already (the same prefix: the same ETag).
for i in $(seq 1 "$FLEET"); do cp -a "$F/first" "$F/host$i"; done
before=$(cpu "$fpid") start=$(date +%s.%N)
seq 1 "$FLEET" | xargs -P "$FETCH_PARALLEL" -I{} bash -c 'fetch_into "$F/host{}/tls"' || true
end=$(date +%s.%N) after=$(cpu "$fpid")
secs=$(echo "$end - $start" | bc)
not_modified=$(grep -c 'services/etcd/bundle 304 ' "$F/serve.log" || true)
row "capstan fetch, $FLEET hosts, unchanged ($not_modified 304s)" "$(rate "$FLEET" "$secs")" \
	"$(awk -v a="$after" -v b="$before" -v n="$FLEET" 'BEGIN { printf "%.2f ms", 1000 * (a - b) / n }')"
kill -TERM "$fpid"
wait "$fpid" 2>/dev/null || true
export CAPSTAN_HOME="$W/home"
