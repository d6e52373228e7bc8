#!/usr/bin/env bash
# capstan serve over real clients: curl with client certificates (allowed,
# forbidden, foreign CA, none, revoked while it runs), openssl for CSRs and
# CRLs, the access log, SIGHUP and SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
trap 'stop_serve; rm -rf "$T"' EXIT

TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)
cat >"$T/capstan.yaml" <<YAML
environments: { prod: {}, dev: {} }
services:
  etcd:
    template: etcd
    certs:
      - { name: etcd-1, profile: peer, dns: [etcd-1.internal], ip: [127.0.0.1] }
      - { name: etcd-root, profile: client, cn: root }
api:
  listen: 127.0.0.1:$TLS_PORT
  http: 127.0.0.1:$HTTP_PORT
  server: { env: prod, name: capstan-api }
  clients:
    - { env: prod, name: deploy-etcd, allow: [bundle], environments: [prod], services: [etcd] }
    - { env: prod, name: ci-signer, allow: [sign], environments: [dev], profiles: [server, client],
        dns: ["*.dev.internal"], ip: [10.0.0.0/8], max_days: 30 }
    - { env: prod, name: ops, allow: [bundle, sign, revoke, list] }
YAML
cap apply --config "$T/capstan.yaml" >/dev/null || exit 1
cap issue --env prod --profile server --cn capstan-api --dns localhost --ip 127.0.0.1 >/dev/null || exit 1
for n in deploy-etcd ci-signer ops nobody leaver; do
	cap issue --env prod --profile client --cn "$n" >/dev/null && identity prod "$n" || exit 1
done
cap trust --env prod --out "$T/prod-ca.pem" >/dev/null
cap trust --env dev --out "$T/dev-ca.pem" >/dev/null

check "serve starts" start_serve --config "$T/capstan.yaml"
api ops GET /v1/health
is "GET /v1/health" "$(status) $(jq -r .status "$T/body")" "200 ok"
like "the access log has a line for it" "$(cat "$T/serve.log")" \
	"[0-9TZ:-]+ prod/ops GET /v1/health 200 [0-9]+ms"

# --- who is someone
check_fails "no client certificate: the handshake fails" \
	curl -s --cacert "$T/prod-ca.pem" "https://127.0.0.1:$TLS_PORT/v1/health"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=foreign -days 2 \
	-keyout "$T/foreign.key" -out "$T/foreign.pem" 2>/dev/null
check_fails "a certificate of a foreign CA: the handshake fails" \
	curl -s --cacert "$T/prod-ca.pem" --cert "$T/foreign.pem" --key "$T/foreign.key" \
	"https://127.0.0.1:$TLS_PORT/v1/health"
api nobody GET /v1/environments/prod/trust
is "an identity without clients entry still reads the trust bundle" "$(status)" 200
check "which is the environment's" cmp "$T/body" "$T/prod-ca.pem"

# --- what they may do
api deploy-etcd GET "/v1/environments/prod/services/etcd/bundle?prefix=/etc/etcd/tls"
is "deploy-etcd gets its bundle" "$(status)" 200
check "as a tar.gz with the service's files under the prefix" \
	sh -c "tar -tzf '$T/body' | grep -q 'etcd-1.pem'"
api deploy-etcd GET "/v1/environments/dev/services/etcd/bundle?prefix=/etc/etcd/tls"
is "but not another environment's" "$(status)" 403
like "the refusal names the identity" "$(jq -r .error "$T/body")" "prod/deploy-etcd"
api deploy-etcd GET "/v1/environments/prod/services/etcd/bundle"
is "a bundle without prefix is 400" "$(status)" 400
api nobody GET "/v1/environments/prod/services/etcd/bundle?prefix=/x"
is "an identity without bundle is 403" "$(status)" 403
like "naming the missing entry" "$(jq -r .error "$T/body")" "^prod/nobody may not fetch bundles \\(no api.clients entry names it\\)$"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=web.dev.internal \
	-keyout "$T/web.key" -out "$T/web.csr" 2>/dev/null
sign_body() { jq -n --rawfile csr "$T/web.csr" "{csr: \$csr} + $1"; }
api ci-signer POST /v1/environments/dev/sign -H 'Content-Type: application/json' \
	-d "$(sign_body '{profile: "server", dns: ["web.dev.internal"], days: 90}')"
is "ci-signer signs a CSR in dev" "$(status)" 201
jq -r .certificate "$T/body" >"$T/web.pem"
jq -r .chain "$T/body" >"$T/web-chain.pem"
check "the certificate verifies against dev's trust" openssl verify -CAfile "$T/dev-ca.pem" -untrusted "$T/web-chain.pem" "$T/web.pem"
days=$(( ($(date -d "$(openssl x509 -in "$T/web.pem" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s)) / 86400 ))
check "days was cut to max_days (30)" test "$days" -le 30
check "the CSR's key is in it" cmp <(openssl x509 -in "$T/web.pem" -noout -pubkey) <(openssl pkey -in "$T/web.key" -pubout)
api ci-signer POST /v1/environments/dev/sign -d "$(sign_body '{profile: "server", name: "evil", dns: ["api.evil.com"]}')"
is "a DNS name outside the patterns is 403" "$(status)" 403
like "naming the rule" "$(jq -r .error "$T/body")" "api.evil.com"
api ci-signer POST /v1/environments/dev/sign -d "$(sign_body '{profile: "server", name: "deep", dns: ["a.b.dev.internal"]}')"
is "* is exactly one label" "$(status)" 403
api ci-signer POST /v1/environments/dev/sign -d "$(sign_body '{profile: "server", name: "ipx", dns: ["ipx.dev.internal"], ip: ["192.168.1.1"]}')"
is "an IP outside the ranges is 403" "$(status)" 403
api ci-signer POST /v1/environments/prod/sign -d "$(sign_body '{profile: "server"}')"
is "another environment is 403" "$(status)" 403
api ci-signer POST /v1/environments/dev/sign -d "$(sign_body '{profile: "peer", name: "p2", dns: ["p2.dev.internal"]}')"
is "a profile outside the list is 403" "$(status)" 403
api ci-signer POST /v1/environments/dev/sign -d '{"csr": "not a CSR", "profile": "server"}'
is "a bad CSR is 400" "$(status)" 400
api ci-signer POST /v1/environments/dev/sign -d '{not json'
is "bad JSON is 400" "$(status)" 400
api ci-signer POST /v1/environments/dev/sign -d "$(sign_body '{profile: "server", dns: ["web.dev.internal"]}')"
is "the line already has a valid certificate: 409" "$(status)" 409
like "naming what the caller can do" "$(jq -r .error "$T/body")" \
	"already has a valid certificate in 'dev' .*, or sign it again with \"replace\": true$"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=web.dev.internal \
	-keyout "$T/web2.key" -out "$T/web2.csr" 2>/dev/null
api ci-signer POST /v1/environments/dev/sign \
	-d "$(jq -n --rawfile csr "$T/web2.csr" '{csr: $csr, profile: "server", dns: ["web.dev.internal"], replace: true}')"
is "\"replace\": true signs the line again: 201" "$(status)" 201
is "with the new request's key" "$(jq -r .certificate "$T/body" | openssl x509 -noout -pubkey)" \
	"$(openssl pkey -in "$T/web2.key" -pubout)"
jq -r .certificate "$T/body" >"$T/web.pem" # the line's certificate from now on
api ci-signer POST /v1/environments/dev/sign -d "$(sign_body '{profile: "server", dns: ["web.dev.internal"], replace: "yes"}')"
is "replace is true or false: 400" "$(status) $(jq -r .error "$T/body")" "400 replace: expected true or false"
head -c 70000 /dev/zero | tr '\0' a >"$T/big"
api ci-signer POST /v1/environments/dev/sign --data-binary @"$T/big"
is "a body over 64 KiB is 413" "$(status)" 413
api ops GET /v1/nothing
is "an unknown route is 404" "$(status)" 404
api ops DELETE /v1/health
is "a wrong method is 405" "$(status)" 405
api ops GET /v1/environments/nowhere/trust
is "an unknown environment is 404" "$(status)" 404
check "every error is a JSON object with an error" jq -e '.error | type == "string"' "$T/body"

# --- renew, list, revoke
api leaver POST /v1/renew
is "an identity renews its own certificate" "$(status)" 201
jq -r .chain "$T/body" >"$T/leaver-new.pem"
check "with the same key" cmp <(openssl x509 -in "$T/leaver-new.pem" -noout -pubkey) <(openssl pkey -in "$T/id-leaver.key" -pubout)
api ops GET "/v1/environments/prod/certificates?status=valid"
is "list" "$(status)" 200
for field in name env serial status profile subject sans service not_before not_after fingerprint_sha256; do
	is "list has $field" "$(jq "[.[] | has(\"$field\")] | all" "$T/body")" true
done
api ops POST /v1/environments/dev/certificates/web.dev.internal/revoke -d '{"reason": "keyCompromise"}'
is "ops revokes" "$(status) $(jq -r .status "$T/body")" "200 revoked"
api ci-signer POST /v1/environments/dev/certificates/web.dev.internal/revoke -d '{"reason": "keyCompromise"}'
is "ci-signer may not revoke" "$(status)" 403
like "naming the allow word it lacks" "$(jq -r .error "$T/body")" "^prod/ci-signer may not revoke .*its api.clients entry does not allow revoke"
is "the audit rows name the API identity" \
	"$(cap --json audit | jq -r '[.[] | select(.operation == "revoke" or .operation == "issue" or .operation == "renew") | .user] | map(select(startswith("api:"))) | unique | join(" ")')" \
	"api:prod/ci-signer api:prod/leaver api:prod/ops"
# Revoked by the CLI while serve runs: refused from the next request on.
cap revoke nobody --env prod >/dev/null
api nobody GET /v1/health
is "an identity revoked while serve runs is 401" "$(status)" 401

# --- public data over plain HTTP
check "GET /trust/prod.pem" sh -c "curl -sf http://127.0.0.1:$HTTP_PORT/trust/prod.pem | cmp - '$T/prod-ca.pem'"
check "GET /crl/dev.crl" curl -sf -o "$T/dev.crl" "http://127.0.0.1:$HTTP_PORT/crl/dev.crl"
cap export intermediate-ca-1 --env dev --format cert --out "$T/dev-inter.pem" >/dev/null
cat "$T/dev-ca.pem" "$T/dev-inter.pem" >"$T/dev-chain-ca.pem"
check "openssl crl -CAfile verifies it" sh -c "openssl crl -inform DER -in '$T/dev.crl' -CAfile '$T/dev-chain-ca.pem' -noout 2>&1 | grep -q 'verify OK'"
like "and it lists the certificate revoked a moment ago" \
	"$(openssl crl -inform DER -in "$T/dev.crl" -noout -text)" \
	"$(openssl x509 -in "$T/web.pem" -noout -serial | cut -d= -f2)"

# --- the two clocks: a request read whole within 10 s of its first byte, an
# idle keep-alive connection kept 60 s. One connection trickles a header line
# every 2 s (evhttp's own read timeout never fires on it); another sits idle
# for 14 s after a request, then asks again on the same connection.
python3 - "$TLS_PORT" "$T" >"$T/clocks" 2>&1 <<'PY'
import socket, ssl, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=d + "/prod-ca.pem")
ctx.load_cert_chain(d + "/id-ops.pem", d + "/id-ops.key")
def conn():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="localhost")
def ask(s):
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    return got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1") else "none"
idle, slow = conn(), conn()
mute = socket.create_connection(("127.0.0.1", port), timeout=20)  # never says hello
print("first", ask(idle), flush=True)
slow.sendall(b"GET /v1/health HTTP/1.1\r\n")
start, closed_at = time.time(), None
while time.time() - start < 14:
    try:
        slow.sendall(b"X-Trickle: 1\r\n")
        slow.settimeout(2)
        if slow.recv(1) == b"":
            closed_at = time.time() - start
            break
    except socket.timeout:
        pass
    except (OSError, ssl.SSLError):
        closed_at = time.time() - start
        break
print("slow closed after", "never" if closed_at is None else int(closed_at), flush=True)
print("idle again", ask(idle), flush=True)
mute.settimeout(2)
try:
    print("mute", "closed" if mute.recv(1) == b"" else "open", flush=True)
except socket.timeout:
    print("mute open", flush=True)
except OSError:
    print("mute closed", flush=True)
PY
like "a request trickled for 10 s is cut off" "$(cat "$T/clocks")" "slow closed after (9|10|11|12)"
like "an idle keep-alive connection outlives the request clock" "$(cat "$T/clocks")" "idle again 200"
like "a connection that never starts its handshake is closed" "$(cat "$T/clocks")" "mute closed"

# --- reload and stop
cap renew capstan-api --env prod >/dev/null
kill -HUP "$SERVE_PID"
sleep 0.5
new_serial=$(openssl x509 -in <(cap export capstan-api --env prod --format cert --out -) -noout -serial)
check "after SIGHUP the renewed server certificate is presented" sh -c "echo | openssl s_client -connect 127.0.0.1:$TLS_PORT \
	-cert '$T/id-ops.pem' -key '$T/id-ops.key' -CAfile '$T/prod-ca.pem' 2>/dev/null | openssl x509 -noout -serial | grep -qx '$new_serial'"
like "the log says it reloaded" "$(cat "$T/serve.log")" "reloaded"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
is "SIGTERM: exit 0" "$?" 0
SERVE_PID=
like "after saying it stopped" "$(tail -1 "$T/serve.log")" "stopped"

done_testing
