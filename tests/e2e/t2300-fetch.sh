#!/usr/bin/env bash
# capstan fetch against a real capstan serve on 127.0.0.1, from a "host"
# directory with no home and no passphrase (only an identity's exported files
# and the trust bundle): install and hook, an unchanged second run (304: no
# output, no hook, files untouched), a renewal on the CA side, the failures
# (server down, wrong --ca, 403, a bundle doctored in transit, a key others
# can read) leaving the installed bundle as it was, an owed hook, --renew, and
# a real etcd started from a fetched bundle and restarted on renewed certificates.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
pids=()
cleanup() {
	stop_serve
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)
cat >"$T/capstan.yaml" <<YAML
environments: { prod: {}, dev: {} }
services:
  etcd:
    template: etcd
    certs:
      - { name: etcd-1, profile: peer, dns: [etcd-1.internal, localhost], ip: [127.0.0.1] }
      - { name: root, profile: client }
  web:
    template: etcd
    hosts: { node-a: [web-a], node-b: [web-b] }
    certs:
      - { name: web-a, profile: peer, dns: [web-a.internal] }
      - { name: web-b, profile: peer, dns: [web-b.internal] }
api:
  listen: 127.0.0.1:$TLS_PORT
  http: 127.0.0.1:$HTTP_PORT
  server: { env: prod, name: capstan-api }
  clients:
    - { env: prod, name: deploy-etcd, allow: [bundle], environments: [prod], services: [etcd] }
    - { env: prod, name: ops, allow: [bundle, sign, revoke, list] }
    - { env: prod, name: node-a, allow: [bundle], services: [web], hosts: [node-a] }
YAML
cap apply --config "$T/capstan.yaml" >/dev/null || exit 1
cap issue --env prod --profile server --cn capstan-api --dns localhost --ip 127.0.0.1 >/dev/null || exit 1
for n in deploy-etcd ops nobody node-a; do
	cap issue --env prod --profile client --cn "$n" >/dev/null && identity prod "$n" || exit 1
done
cap issue --env prod --profile client --cn fleet-1 --days 3d >/dev/null && identity prod fleet-1 || exit 1
cap trust --env prod --out "$T/prod-ca.pem" >/dev/null
cap trust --env dev --out "$T/dev-ca.pem" >/dev/null
check "serve starts" start_serve --config "$T/capstan.yaml"

# The deploy host: its own directory, the identity's files, no home, no passphrase.
H=$T/host
mkdir -p "$H/id" && chmod 700 "$H"
cp "$T/id-deploy-etcd.pem" "$H/id/deploy.pem" && cp -p "$T/id-deploy-etcd.key" "$H/id/deploy.key"
cp "$T/prod-ca.pem" "$H/id/ca.pem"
B=$H/etc/etcd/tls
URL=https://127.0.0.1:$TLS_PORT
# on_host CMD...: run with no CAPSTAN_HOME, no passphrase anywhere, HOME the host's.
on_host() { env -u CAPSTAN_HOME -u CAPSTAN_PASSPHRASE HOME="$H" "$@"; }
# fetch ARGS...: the bundle of prod/etcd into $B, as deploy-etcd (SERVER=, ID=
# and CA= before it change those).
fetch() {
	on_host "$CAPSTAN" fetch --server "${SERVER:-$URL}" --cert "$H/id/${ID:-deploy}.pem" --key "$H/id/${ID:-deploy}.key" \
		--ca "${CA:-$H/id/ca.pem}" --env prod --service etcd --out "$B" "$@"
}
HOOK='echo "$CAPSTAN_ENV $CAPSTAN_SERVICE $CAPSTAN_BUNDLE" >>'"$T/hook.log"
hooks() { [ -f "$T/hook.log" ] && wc -l <"$T/hook.log" || echo 0; }
# The bundle as it is: each file's name, bytes, inode and mtime, and the state beside it.
snapshot() { (cd "$B" && for f in $(ls -A | sort); do echo "$f $(sha256sum <"$f") $(stat -c '%i %Y.%y' "$f")"; done; cat "$H/etc/etcd/.tls.capstan-fetch") 2>&1; }

# --- first install
check "fetch installs the bundle" fetch --exec "$HOOK"
like "saying what it installed" "$(cat "$T/out")" "^installed prod/etcd bundle into $B \([0-9]+ files\)$"
check "the files match their MANIFEST" sh -c "cd '$B' && sed -n '/^# sha256 of each file/,\$p' MANIFEST | tail -n +2 | sha256sum -c --quiet"
like "the configs name where it is (the prefix is --out made absolute)" "$(cat "$B/etcd-1.env")" "ETCD_CERT_FILE=$B/etcd-1.pem"
is "the hook ran once, told env, service and bundle" "$(cat "$T/hook.log")" "prod etcd $B"
like "the ETag is kept beside the bundle" "$(cat "$H/etc/etcd/.tls.capstan-fetch")" 'etag "[0-9a-f]{64}"'
is "the key is private" "$(stat -c %a "$B/etcd-1-key.pem")" 600
before=$(snapshot)
sleep 1.1 # a rewrite would show in the mtimes

# --- unchanged: 304, nothing printed, nothing run, nothing touched
check "an unchanged second fetch succeeds" fetch --exec "$HOOK"
is "and prints nothing" "$(cat "$T/out" "$T/err")" ""
is "runs no hook" "$(hooks)" 1
is "and leaves every file as it was (bytes, inode, mtime)" "$(snapshot)" "$before"
like "the server answered 304" "$(tail -n 1 "$T/serve.log")" "prod/deploy-etcd GET /v1/environments/prod/services/etcd/bundle.* 304 "
api ops GET "/v1/environments/prod/services/etcd/bundle?prefix=/etc/etcd/tls" && cp "$T/body" "$T/bundle-1.tgz"
api ops GET "/v1/environments/prod/services/etcd/bundle?prefix=/etc/etcd/tls"
check "two downloads of an unchanged bundle are byte-identical" cmp "$T/body" "$T/bundle-1.tgz"
is "gzip's header holds no time" "$(od -An -tu4 -j4 -N4 "$T/body" | tr -d ' ')" 0

# --- a renewal on the CA side reaches the host
cap renew etcd-1 --env prod >/dev/null
serial=$(cap --json show etcd-1 --env prod | jq -r .serial)
check "after a renewal the next fetch installs the new bundle" fetch --exec "$HOOK"
like "and says so" "$(cat "$T/out")" "^installed prod/etcd bundle"
is "the hook ran once more" "$(hooks)" 2
is "the member's certificate is the renewed one" \
	"$(openssl x509 -in "$B/etcd-1.pem" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//')" "$(echo "$serial" | sed 's/^0*//')"
SERVER=$URL/ check "and a fetch after it changes nothing (a server URL with a / at its end is the same)" fetch --exec "$HOOK"
is "(silent, no hook)" "$(cat "$T/out" "$T/err") $(hooks)" " 2"

# --- failures leave the installed bundle as it was
before=$(snapshot)
dead=$(free_port)
SERVER=https://127.0.0.1:$dead refuses "server down: exit 1" 1 "127\.0\.0\.1.*(onnect|refused)" fetch --exec "$HOOK"
CA=$T/dev-ca.pem refuses "a server the --ca does not vouch for: exit 1" 1 "certificate.*is --ca .*dev-ca\.pem. the trust bundle of serve.s environment" fetch --exec "$HOOK"
cp "$T/id-nobody.pem" "$H/id/nobody.pem" && cp -p "$T/id-nobody.key" "$H/id/nobody.key"
ID=nobody refuses "an identity not allowed bundles: exit 1 (403)" 1 "403" fetch --exec "$HOOK"
chmod 640 "$H/id/deploy.key"
refuses "a key file its group can read is refused" 1 "readable by its group" fetch --exec "$HOOK"
chmod 600 "$H/id/deploy.key"
is "after them all the bundle is as it was, and no hook ran" "$(snapshot) $(hooks)" "$before 2"

# --- a bundle doctored in transit: a stand-in server with the same TLS
# certificate answers with a tar.gz changed on the way.
cap export capstan-api --env prod --format chain --out "$T/api.pem" >/dev/null
cap export capstan-api --env prod --format key --out "$T/api.key" >/dev/null
api deploy-etcd GET "/v1/environments/prod/services/etcd/bundle?prefix=$B"
cp "$T/body" "$T/good.tgz"
FAKE_PORT=$(free_port)
cat >"$T/fake.py" <<'PY'
import http.server, ssl, sys
port, cert, key, payload = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = open(payload, 'rb').read()
        if body == b'304':  # a server that says "not modified" to anyone
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header('Content-Type', 'application/gzip')
        self.send_header('ETag', '"doctored"')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = http.server.HTTPServer(('127.0.0.1', port), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
# doctor HOW: $T/doctored.tgz from the good bundle, changed as HOW says.
cat >"$T/doctor.py" <<'PY'
import io, sys, tarfile
src, dst, how = sys.argv[1], sys.argv[2], sys.argv[3]
tin = tarfile.open(src, 'r:gz')
tout = tarfile.open(dst, 'w:gz')
for m in tin.getmembers():
    data = tin.extractfile(m).read()
    if how == 'change' and m.name == 'etcd-1.env':
        data += b'ETCD_EVIL=1\n'
    if how == 'drop' and m.name == 'crl.pem':
        continue
    if how == 'extra' and m.name == 'MANIFEST':
        e = tarfile.TarInfo('evil.sh'); e.size = 3; tout.addfile(e, io.BytesIO(b'id\n'))
    m.size = len(data)
    tout.addfile(m, io.BytesIO(data))
if how == 'symlink':
    l = tarfile.TarInfo('ca.pem.link'); l.type = tarfile.SYMTYPE; l.linkname = '/etc/shadow'; tout.addfile(l)
if how == 'dotdot':
    e = tarfile.TarInfo('../escape'); e.size = 1; tout.addfile(e, io.BytesIO(b'x'))
tout.close()
PY
python3 "$T/fake.py" "$FAKE_PORT" "$T/api.pem" "$T/api.key" "$T/doctored.tgz" 2>"$T/fake.log" &
pids+=($!)
cp "$T/good.tgz" "$T/doctored.tgz"
for _ in $(seq 1 50); do curl -s -o /dev/null --cacert "$T/prod-ca.pem" "https://127.0.0.1:$FAKE_PORT/" && break; sleep 0.1; done
fake() { SERVER=https://127.0.0.1:$FAKE_PORT fetch --exec "$HOOK"; }
for how in change:"does not match its MANIFEST" drop:"lacks" extra:"not in its MANIFEST" \
	symlink:"symbolic link" dotdot:"'\.\.'"; do
	python3 "$T/doctor.py" "$T/good.tgz" "$T/doctored.tgz" "${how%%:*}"
	refuses "a bundle doctored in transit (${how%%:*}) is refused" 1 "${how#*:}" fake
done
printf 304 >"$T/doctored.tgz"
refuses "a 304 to a host that named no installed bundle is refused" 1 "named no installed bundle" \
	on_host "$CAPSTAN" fetch --server "https://127.0.0.1:$FAKE_PORT" --cert "$H/id/deploy.pem" \
	--key "$H/id/deploy.key" --ca "$H/id/ca.pem" --env prod --service etcd --out "$H/fresh/tls"
check_fails "and nothing is installed there" test -e "$H/fresh/tls/MANIFEST"
# A state file beside the bundle that is not this user's (planted) is refused.
ln -s /etc/passwd "$H/fresh/.tls.capstan-fetch" 2>/dev/null || { mkdir -p "$H/fresh" && ln -s /etc/passwd "$H/fresh/.tls.capstan-fetch"; }
refuses "a planted state file (a symlink) is refused" 1 "is not a file of this user" \
	on_host "$CAPSTAN" fetch --server "$URL" --cert "$H/id/deploy.pem" \
	--key "$H/id/deploy.key" --ca "$H/id/ca.pem" --env prod --service etcd --out "$H/fresh/tls"
rm -f "$H/fresh/.tls.capstan-fetch"
refuses "a service name with a '/' is refused (it would change the request's path)" 1 "invalid environment, service" \
	on_host "$CAPSTAN" fetch --server "$URL" --cert "$H/id/deploy.pem" \
	--key "$H/id/deploy.key" --ca "$H/id/ca.pem" --env prod --service ../../v1/health --out "$H/fresh/tls"
# A server whose certificate chains to --ca but does not name the URL's host.
cap issue --env prod --profile server --cn elsewhere --dns elsewhere.internal >/dev/null
cap export elsewhere --env prod --format chain --out "$T/elsewhere.pem" >/dev/null
cap export elsewhere --env prod --format key --out "$T/elsewhere.key" >/dev/null
cp "$T/good.tgz" "$T/doctored.tgz"
OTHER_PORT=$(free_port)
python3 "$T/fake.py" "$OTHER_PORT" "$T/elsewhere.pem" "$T/elsewhere.key" "$T/good.tgz" 2>>"$T/fake.log" &
pids+=($!)
for _ in $(seq 1 50); do curl -s -o /dev/null --cacert "$T/prod-ca.pem" --resolve "elsewhere.internal:$OTHER_PORT:127.0.0.1" \
	"https://elsewhere.internal:$OTHER_PORT/" && break; sleep 0.1; done
SERVER=https://127.0.0.1:$OTHER_PORT refuses "a server certificate that does not name the URL's host is refused" 1 \
	"(does not match|no alternative certificate subject name)" fetch --exec "$HOOK"
is "the installed bundle is as it was, no hook ran" "$(snapshot) $(hooks)" "$before 2"
check_fails "no file of a refused bundle is left beside it" sh -c "ls -A '$H/etc/etcd' | grep -v '^tls\$\|^\.tls\.capstan-fetch\$'"

# --- a failed hook is owed, and run again by the next fetch (a 304) until it succeeds
cap renew etcd-1 --env prod >/dev/null
fetch --exec 'exit 3' >"$T/out" 2>"$T/err"
is "the hook fails: exit 1" "$?" 1
like "saying the hook is owed" "$(cat "$T/err")" "^capstan: prod/etcd: the hook failed \(exit status 3\).*owed"
like "the new bundle is installed all the same" "$(cat "$T/out")" "^installed prod/etcd"
like "the owed hook is recorded beside it" "$(cat "$H/etc/etcd/.tls.capstan-fetch")" "hook owed"
check_fails "the next fetch (304) runs it again, and it fails again" fetch --exec 'exit 4'
check "then it succeeds" fetch --exec "$HOOK"
like "(saying it ran the owed hook)" "$(cat "$T/out")" "^ran the owed hook of prod/etcd"
is "once" "$(hooks)" 3
check "and after that the 304 runs nothing" fetch --exec "$HOOK"
is "(silent)" "$(cat "$T/out" "$T/err") $(hooks)" " 3"

# --- --host: a host's own certificates of a service, as an identity limited to that host
cp "$T/id-node-a.pem" "$H/id/node-a.pem" && cp -p "$T/id-node-a.key" "$H/id/node-a.key"
web() {
	on_host "$CAPSTAN" fetch --server "$URL" --cert "$H/id/node-a.pem" --key "$H/id/node-a.key" --ca "$H/id/ca.pem" \
		--env prod --service web --out "$H/web" "$@"
}
check "--host node-a fetches node-a's bundle" web --host node-a
is "with node-a's certificate only" "$(cd "$H/web" && ls web-*.pem | tr '\n' ' ')" "web-a-key.pem web-a.pem "
refuses "another host's bundle is refused (403)" 1 "403.*node-b" web --host node-b
check "node-a's is still there" test -f "$H/web/web-a.pem"

# --- the identity's own renewal
cp "$T/id-fleet-1.pem" "$H/id/fleet.pem" && cp -p "$T/id-fleet-1.key" "$H/id/fleet.key"
renew() { on_host "$CAPSTAN" fetch --server "$URL" --cert "$H/id/fleet.pem" --key "$H/id/fleet.key" --ca "$H/id/ca.pem" --renew "$@"; }
old=$(openssl x509 -in "$H/id/fleet.pem" -noout -serial)
check "--renew when not due (3 days left of 3)" renew
is "is quiet" "$(cat "$T/out" "$T/err")" ""
is "and changes nothing" "$(openssl x509 -in "$H/id/fleet.pem" -noout -serial)" "$old"
check "--renew --within 4d: due" renew --within 4d
like "says it renewed" "$(cat "$T/out")" "^renewed $H/id/fleet.pem \(serial [0-9a-f]+, valid until"
check_fails "the certificate is a new one" test "$(openssl x509 -in "$H/id/fleet.pem" -noout -serial)" = "$old"
check "for the same key" cmp <(openssl x509 -in "$H/id/fleet.pem" -noout -pubkey) <(openssl pkey -in "$H/id/fleet.key" -pubout)
check "and the chain verifies" openssl verify -CAfile "$T/prod-ca.pem" -untrusted "$H/id/fleet.pem" "$H/id/fleet.pem"
check "the renewed identity is accepted by the server" \
	curl -sf -o /dev/null --cacert "$T/prod-ca.pem" --cert "$H/id/fleet.pem" --key "$H/id/fleet.key" "$URL/v1/health"
renew --within 4d --json >"$T/renewed.json"
is "--json says what it renewed" "$(jq -r .serial "$T/renewed.json" | sed 's/^0*//')" \
	"$(openssl x509 -in "$H/id/fleet.pem" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//')"

# --- a real etcd started from a fetched bundle, restarted on renewed certificates
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	not_ok "etcd and etcdctl are installed (scripts/deps.sh: etcd-server etcd-client)"
	done_testing
	exit 1
fi
base=$(( 20000 + (RANDOM % 2000) * 10 ))
c1=$base p1=$((base + 1))
etcd_pid=
start_etcd() {
	( set -a; . "$B/etcd-1.env"; set +a
	  exec etcd --name m1 --data-dir "$T/etcd-data" \
		--listen-client-urls "https://127.0.0.1:$c1" --advertise-client-urls "https://127.0.0.1:$c1" \
		--listen-peer-urls "https://127.0.0.1:$p1" --initial-advertise-peer-urls "https://127.0.0.1:$p1" \
		--initial-cluster "m1=https://127.0.0.1:$p1" --initial-cluster-state new --log-level warn ) >>"$T/etcd.log" 2>&1 &
	etcd_pid=$!
	pids+=("$etcd_pid")
}
as_root() { ( set -a; . "$B/etcdctl-root.env"; set +a; etcdctl --endpoints "https://127.0.0.1:$c1" --dial-timeout 3s --command-timeout 5s "$@" ); }
healthy() { for _ in $(seq 1 60); do as_root endpoint health >/dev/null 2>&1 && return 0; sleep 0.25; done; return 1; }
served_serial() { echo | openssl s_client -connect "127.0.0.1:$c1" -CAfile "$B/ca.pem" -cert "$B/root.pem" -key "$B/root-key.pem" 2>/dev/null |
	openssl x509 -noout -serial | cut -d= -f2; }
start_etcd
check "etcd starts from the fetched bundle, healthy over TLS" healthy
check "etcdctl puts with the fetched client env" as_root put capstan/fetch before-renewal
is "and gets it back" "$(as_root get capstan/fetch --print-value-only)" before-renewal
first_serial=$(served_serial)
cap renew etcd-1 --env prod >/dev/null && cap renew root --env prod >/dev/null
check "the members' renewal is fetched" fetch --exec "$HOOK"
is "and its hook run once" "$(hooks)" 4
kill "$etcd_pid" && wait "$etcd_pid" 2>/dev/null
start_etcd
check "etcd restarts on the renewed certificates" healthy
check_fails "it serves the new certificate" test "$(served_serial)" = "$first_serial"
is "and it serves the renewed serial" "$(served_serial | tr A-F a-f | sed 's/^0*//')" \
	"$(cap --json show etcd-1 --env prod | jq -r .serial | sed 's/^0*//')"
is "the write made before the renewal is still there" "$(as_root get capstan/fetch --print-value-only)" before-renewal
check "and the renewed client certificate writes" as_root put capstan/fetch after-renewal

done_testing
