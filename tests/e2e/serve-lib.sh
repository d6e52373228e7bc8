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
