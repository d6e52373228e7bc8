#!/usr/bin/env bash
# serve's OCSP responder and CRLs against real clients: openssl ocsp over POST
# and GET (good, revoked, unknown, a rotated intermediate), openssl crl on
# the CRL a certificate's distribution point names, and nginx stapling the
# answers for a certificate whose AIA points at serve.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
pids=()
cleanup() { stop_serve; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
command -v nginx >/dev/null || { not_ok "nginx is installed (scripts/deps.sh: nginx-light)"; done_testing; exit 1; }

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
  clients: []
YAML
cap apply --config "$T/capstan.yaml" >/dev/null || exit 1
cap issue --env prod --profile server --cn capstan-api --dns localhost --ip 127.0.0.1 >/dev/null || exit 1
cap issue --env prod --profile client --cn ops >/dev/null && identity prod ops || exit 1
cap trust --env prod --out "$T/prod-ca.pem" >/dev/null
check "serve starts" start_serve --config "$T/capstan.yaml"

# Certificates issued under public_url carry where to ask.
issue_web() {
	cap issue --env prod --profile server --cn "$1" --dns localhost --ip 127.0.0.1 >/dev/null &&
		cap export "$1" --env prod --format chain --out "$T/$1.chain" >/dev/null &&
		cap export "$1" --env prod --format key --out "$T/$1.key" >/dev/null &&
		openssl x509 -in "$T/$1.chain" -out "$T/$1.pem"
}
issue_web web || exit 1
cap export intermediate-ca-1 --env prod --format cert --out "$T/inter1.pem" >/dev/null
cat "$T/prod-ca.pem" "$T/inter1.pem" >"$T/cas.pem"
text=$(openssl x509 -in "$T/web.pem" -noout -text)
ski=$(openssl x509 -in "$T/inter1.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr A-F a-f)
like "the certificate names the OCSP responder" "$text" "OCSP - URI:$URL/ocsp"
like "and its issuer's CRL" "$text" "URI:$URL/crl/$ski.crl"

# ocsp_status CERT ISSUER [ARGS]: what openssl ocsp says of CERT (POST, with a nonce).
ocsp_status() {
	openssl ocsp "${@:3}" -issuer "$2" -cert "$1" -url "$URL/ocsp" -CAfile "$T/cas.pem" 2>&1
}
out=$(ocsp_status "$T/web.pem" "$T/inter1.pem")
like "POST: good" "$out" "web.pem: good"
like "the response verifies (delegated responder, nonce echoed)" "$out" "Response verify OK"
check_fails "no nonce warning" grep -q "WARNING: no nonce" <<<"$out"
like "with a nextUpdate" "$out" "Next Update:"
out=$(ocsp_status "$T/web.pem" "$T/inter1.pem" -sha256)
like "SHA-256 CertIDs too" "$out" "web.pem: good"
# GET (RFC 6960 Appendix A): the DER request, base64, URL-encoded.
openssl ocsp -issuer "$T/inter1.pem" -cert "$T/web.pem" -no_nonce -reqout "$T/req.der" >/dev/null 2>&1
enc=$(base64 -w0 "$T/req.der" | jq -sRr @uri)
check "GET /ocsp/REQUEST answers" curl -sf -D "$T/headers" -o "$T/resp.der" "$URL/ocsp/$enc"
like "as application/ocsp-response" "$(cat "$T/headers")" "Content-Type: application/ocsp-response"
like "GET: good" "$(openssl ocsp -respin "$T/resp.der" -issuer "$T/inter1.pem" -cert "$T/web.pem" -CAfile "$T/cas.pem" 2>&1)" \
	"web.pem: good"
like "an unknown serial is unknown" "$(openssl ocsp -issuer "$T/inter1.pem" -serial 0x123456789abcdef -url "$URL/ocsp" -CAfile "$T/cas.pem" 2>&1)" \
	": unknown"
responder=$(openssl ocsp -issuer "$T/inter1.pem" -cert "$T/web.pem" -url "$URL/ocsp" -CAfile "$T/cas.pem" -resp_text 2>&1)
like "signed by a delegated responder certificate (OCSP Signing)" "$responder" "OCSP Signing"
like "that says no check is needed" "$responder" "OCSP No Check"

cap revoke web --env prod --reason keyCompromise >/dev/null
out=$(ocsp_status "$T/web.pem" "$T/inter1.pem")
like "revoked by the CLI: revoked at once" "$out" "web.pem: revoked"
like "with its reason" "$out" "Reason: keyCompromise"
check "the CRL named in the certificate" curl -sf -o "$T/inter1.crl" "$URL/crl/$ski.crl"
check "verifies with openssl crl -CAfile" sh -c "openssl crl -inform DER -in '$T/inter1.crl' -CAfile '$T/cas.pem' -noout 2>&1 | grep -q 'verify OK'"
like "and lists it" "$(openssl crl -inform DER -in "$T/inter1.crl" -noout -text)" \
	"$(openssl x509 -in "$T/web.pem" -noout -serial | cut -d= -f2)"

# A rotated intermediate: its certificates are still answered for.
issue_web old-inter || exit 1
cap rotate --env prod --intermediate >/dev/null
like "a certificate of the rotated intermediate: good" "$(ocsp_status "$T/old-inter.pem" "$T/inter1.pem")" \
	"old-inter.pem: good"

# nginx stapling, verified, for a certificate whose AIA points at serve.
issue_web stapled || exit 1
cap export intermediate-ca-2 --env prod --format cert --out "$T/inter2.pem" >/dev/null
cat "$T/prod-ca.pem" "$T/inter2.pem" >"$T/cas2.pem"
like "a certificate of the intermediate made while serve runs: good" "$(openssl ocsp -issuer "$T/inter2.pem" \
	-cert "$T/stapled.pem" -url "$URL/ocsp" -CAfile "$T/cas2.pem" -no_nonce 2>&1)" "stapled.pem: good"
nport=$(free_port)
mkdir -p "$T/nginx"
cat >"$T/nginx/nginx.conf" <<NGINX
worker_processes 1;
error_log $T/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$nport ssl;
        ssl_certificate $T/stapled.chain;
        ssl_certificate_key $T/stapled.key;
        ssl_stapling on;
        ssl_stapling_verify on;
        ssl_trusted_certificate $T/cas2.pem;
        location / { return 200 "hello\n"; }
    }
}
NGINX
nginx -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" -p "$T/nginx" -g "daemon off; pid $T/nginx/nginx.pid;" \
	2>"$T/nginx/stderr" &
pids+=($!)
# staple_status: the stapled status nginx hands out, asking until it has one (it fetches on demand).
staple_status() {
	local s
	for _ in $(seq 1 50); do
		s=$(echo | openssl s_client -connect "127.0.0.1:$nport" -servername localhost -status \
			-CAfile "$T/cas2.pem" 2>/dev/null | sed -n 's/^ *Cert Status: //p' | head -1)
		[ -n "$s" ] && [ "$s" != "${1:-}" ] && { echo "$s"; return; }
		sleep 0.2
	done
	echo "${s:-none}"
}
is "nginx staples serve's answer: good" "$(staple_status)" good
cap revoke stapled --env prod --reason keyCompromise >/dev/null
kill -HUP "${pids[-1]}" # nginx keeps a staple up to its refresh: a reload asks again
check_fails "nginx verified the responses it stapled (no verify error)" grep -q "OCSP_basic_verify() failed" "$T/nginx/error.log"
# nginx staples good answers only: after the revocation and a reload it asks
# serve again, is told revoked, and staples nothing (its log says why).
for _ in $(seq 1 50); do grep -q 'certificate status "revoked"' "$T/nginx/error.log" && break
	echo | openssl s_client -connect "127.0.0.1:$nport" -servername localhost -status >/dev/null 2>&1; sleep 0.2; done
like "after the revocation and a reload nginx hears revoked from serve" "$(cat "$T/nginx/error.log")" \
	'certificate status "revoked" in the OCSP response'
like "and staples nothing" "$(echo | openssl s_client -connect "127.0.0.1:$nport" -servername localhost -status 2>/dev/null)" \
	"OCSP response: no response sent"

done_testing
