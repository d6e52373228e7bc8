# Helpers for the tests of capstan serve (sourced after lib.sh): free ports,
# starting serve and waiting for it, curl with an identity.

# A free TCP port on 127.0.0.1 (the kernel's choice, released at once).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# identity ENV NAME: its chain and key, exported for curl (the key 0600).
identity() {
	cap export "$2" --env "$1" --format chain --out "$T/id-$2.pem" >/dev/null &&
		cap export "$2" --env "$1" --format key --out "$T/id-$2.key" >/dev/null
}

# start_serve [ARGS...]: capstan serve in the background, its log in
# $T/serve.log; waits until /v1/health answers over TLS (or 10 s).
start_serve() {
	"$CAPSTAN" --passphrase-file "$PASS" serve "$@" 2>"$T/serve.log" &
	SERVE_PID=$!
	for _ in $(seq 1 100); do
		curl -s -o /dev/null --cacert "$T/prod-ca.pem" --cert "$T/id-ops.pem" --key "$T/id-ops.key" \
			"https://127.0.0.1:$TLS_PORT/v1/health" && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop_serve() { [ -n "${SERVE_PID:-}" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID"; }

# api NAME METHOD PATH [CURL ARGS...]: status in $T/status, body in $T/body.
api() {
	local who=$1 method=$2 path=$3; shift 3
	curl -s -o "$T/body" -w '%{http_code}' -X "$method" --cacert "$T/prod-ca.pem" \
		--cert "$T/id-$who.pem" --key "$T/id-$who.key" "$@" "https://127.0.0.1:$TLS_PORT$path" >"$T/status"
}
status() { cat "$T/status"; }

# serve_site_setup: an environment prod served on two free ports (TLS_PORT,
# HTTP_PORT; serve.yaml), its server certificate, an identity ops, a leaf
# site, the files an OCSP query needs, and ocsp(): site's status from serve.
serve_site_setup() {
	TLS_PORT=$(free_port)
	HTTP_PORT=$(free_port)
	cat >"$T/serve.yaml" <<YAML
environments: { prod: {} }
api:
  listen: 127.0.0.1:$TLS_PORT
  http: 127.0.0.1:$HTTP_PORT
  public_url: http://127.0.0.1:$HTTP_PORT
  server: { env: prod, name: capstan-api }
  clients: []
YAML
	cap apply --config "$T/serve.yaml" >/dev/null || not_ok "apply serve.yaml"
	cap issue --env prod --profile server --cn capstan-api --dns localhost --ip 127.0.0.1 >/dev/null || not_ok "issue api"
	cap issue --env prod --profile client --cn ops >/dev/null && identity prod ops || not_ok "identity ops"
	cap issue --env prod --profile server --cn site --dns site.internal >/dev/null || not_ok "issue site"
	cap trust --env prod --out "$T/prod-ca.pem" >/dev/null
	"$CAPSTAN" export site --env prod --format cert --out "$T/site.pem"
	"$CAPSTAN" export intermediate-ca-1 --env prod --format cert --out "$T/inter.pem"
	cat "$T/prod-ca.pem" "$T/inter.pem" >"$T/cas.pem"
	ocsp() { openssl ocsp -issuer "$T/inter.pem" -cert "$T/site.pem" -url "http://127.0.0.1:$HTTP_PORT/ocsp" -CAfile "$T/cas.pem" 2>&1; }
}
