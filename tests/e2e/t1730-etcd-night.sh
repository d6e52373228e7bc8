#!/usr/bin/env bash
# The admin's night with a real etcd 3.4: per-host bundles owned by the
# service's user, three members started from them as that user with
# client-cert auth and the CRL, etcd-rbac.sh run twice, then an intermediate
# rotation, a revocation seen by the running members, and the members moved
# to the new intermediate by renew --due --from-old-ca.
. "$(dirname "$0")/lib.sh"
dir="$(cd "$(dirname "$0")" && pwd)"
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root: bundles owned by another user, etcd run as it"
	exit 0
fi
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	not_ok "etcd and etcdctl are installed (scripts/deps.sh: etcd-server etcd-client)"
	done_testing
	exit 1
fi
id capstan-etcd >/dev/null 2>&1 || useradd --system --no-create-home capstan-etcd || exit 1
unset ETCDCTL_ENDPOINTS ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY ETCDCTL_USER

# Bundles and data where capstan-etcd can reach them ($T is root's, 0700).
E=$(mktemp -d /tmp/capstan-etcd-night.XXXXXX)
chmod 0755 "$E"
base=$(( 20000 + (RANDOM % 2000) * 10 ))
c1=$base c2=$((base + 1)) c3=$((base + 2)) p1=$((base + 3)) p2=$((base + 4)) p3=$((base + 5))
eps="https://127.0.0.1:$c1,https://127.0.0.1:$c2,https://127.0.0.1:$c3"
declare -A pid=()
cleanup() {
	[ ${#pid[@]} -gt 0 ] && kill "${pid[@]}" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T" "$E"
}
trap cleanup EXIT

cap apply --config "$dir/data/etcd-night.yaml" >/dev/null || exit 1
host_of=([1]=node-a [2]=node-b [3]=node-c)
render_all() {
	local h
	for h in node-a node-b node-c; do
		cap bundle --env dev --service etcd --host "$h" --out "$E/$h" >/dev/null 2>"$T/render.err" || return 1
	done
	cap bundle --env dev --service etcd --out "$E/full" >/dev/null 2>"$T/render.err"
}
check "bundles for node-a, node-b, node-c and the full one" render_all

# What each host gets.
keys() { (cd "$1" && ls -- *-key.pem | tr '\n' ' '); }
certs() { (cd "$1" && ls -- *.pem | grep -Ev '^(ca|crl|crl-all)\.pem$|-key\.pem$' | tr '\n' ' '); }
is "node-b holds etcd-2's key and no other" "$(keys "$E/node-b")" "etcd-2-key.pem "
is "and etcd-2's certificate only" "$(certs "$E/node-b")" "etcd-2.pem "
is "its MANIFEST lists etcd-2 only" "$(awk '/^cert /{print $2}' "$E/node-b/MANIFEST")" etcd-2
is "node-a: etcd-1 and the app client" "$(keys "$E/node-a")" "app-key.pem etcd-1-key.pem "
is "node-c: etcd-3" "$(keys "$E/node-c")" "etcd-3-key.pem "
is "the full bundle holds every key" "$(keys "$E/full")" \
	"app-key.pem etcd-1-key.pem etcd-2-key.pem etcd-3-key.pem other-key.pem revokee-key.pem root-key.pem "
for d in node-a node-b node-c full; do
	is "$d: every file owned by capstan-etcd:capstan-etcd" \
		"$(find "$E/$d" \( ! -user capstan-etcd -o ! -group capstan-etcd \) -printf '%P ')" ""
	is "$d: keys 0600" "$(stat -c %a "$E/$d"/*-key.pem | sort -u)" 600
done
is "etcd-rbac.sh is 0644 (no secret in it)" "$(stat -c %a "$E/full/etcd-rbac.sh")" 644
check "capstan-etcd reads its key" setpriv --reuid capstan-etcd --regid capstan-etcd --clear-groups cat "$E/node-b/etcd-2-key.pem"
check_fails "nobody else does" setpriv --reuid nobody --regid nogroup --clear-groups cat "$E/node-b/etcd-2-key.pem"

# Members: TLS, client-cert auth and the CRL from each host's env file; names
# and URLs from the deployment; run as capstan-etcd.
for n in 1 2 3; do
	install -d -m 0700 -o capstan-etcd -g capstan-etcd "$E/data-$n"
done
start_member() {
	local n=$1 h=${host_of[$1]} client peer
	eval "client=\$c$n peer=\$p$n"
	( set -a; . "$E/$h/etcd-$n.env"; set +a
	  exec setpriv --reuid capstan-etcd --regid capstan-etcd --clear-groups etcd --name "m$n" --data-dir "$E/data-$n" \
		--listen-client-urls "https://127.0.0.1:$client" --advertise-client-urls "https://127.0.0.1:$client" \
		--listen-peer-urls "https://127.0.0.1:$peer" --initial-advertise-peer-urls "https://127.0.0.1:$peer" \
		--initial-cluster "m1=https://127.0.0.1:$p1,m2=https://127.0.0.1:$p2,m3=https://127.0.0.1:$p3" \
		--initial-cluster-state new --log-level info ) >>"$E/etcd-$n.log" 2>&1 &
	pid[$n]=$!
}
stop_member() { kill "${pid[$1]}" && wait "${pid[$1]}" 2>/dev/null; unset "pid[$1]"; }

ctl() { etcdctl --dial-timeout 2s --command-timeout 5s "$@"; }
# as NAME CMD...: etcdctl with the full bundle's etcdctl-NAME.env (on $EP, else all).
as() { local who=$1; shift; ( set -a; . "$E/full/etcdctl-$who.env"; set +a; ctl --endpoints "${EP:-$eps}" "$@" ); }
# with CERT KEY ENDPOINT CMD...: a certificate that is in no bundle (anymore).
with() {
	local cert=$1 key=$2 ep=$3; shift 3
	etcdctl --dial-timeout 1s --command-timeout 2s --endpoints "$ep" --cacert "$E/full/ca.pem" --cert "$cert" --key "$key" "$@"
}
wait_healthy() {
	local n
	for _ in $(seq 1 80); do
		as root endpoint health >/dev/null 2>&1 && return 0
		sleep 0.25
	done
	for n in 1 2 3; do echo "etcd-$n.log:"; tail -n 5 "$E/etcd-$n.log"; done | sed 's/^/# /' >&2
	return 1
}
for n in 1 2 3; do start_member "$n"; done
wait_healthy
check "three members healthy over TLS" as root endpoint health
is "all three joined over peer TLS" "$(as root member list | grep -c started)" 3
is "each runs as capstan-etcd" "$(for n in 1 2 3; do stat -c %U "/proc/${pid[$n]}"; done | tr '\n' ' ')" \
	"capstan-etcd capstan-etcd capstan-etcd "
check "the members were given the CRL (env file)" grep -q "^ETCD_CLIENT_CRL_FILE=$E/node-b/crl.pem$" "$E/node-b/etcd-2.env"

# RBAC, as etcd's root client: twice, the second changing nothing.
rbac() { ( set -a; . "$E/full/etcdctl-root.env"; set +a; sh "$E/full/etcd-rbac.sh" "$eps" ); }
state() {
	local u r
	as root user list && as root role list || return 1
	for u in $(as root user list); do as root user get "$u"; done
	for r in $(as root role list); do as root role get "$r"; done
}
check "etcd-rbac.sh runs" rbac
like "and adds users, roles, permissions" "$(cat "$T/out")" "authentication on; [1-9][0-9]* change\(s\)$"
state >"$T/state-1"
check "a second run succeeds" rbac
is "and changes nothing" "$(cat "$T/out")" "etcd-rbac.sh: authentication on; 0 change(s)"
state >"$T/state-2"
check "users, roles and permissions are as they were" cmp "$T/state-1" "$T/state-2"
is "the app user holds the app role" "$(as root user get app | grep '^Roles:')" "Roles: app"
check_fails "auth is on: the app client cannot list users" as app user list

check "app: put under /app/" as app put /app/greeting hello
is "app: get under /app/" "$(as app get /app/greeting --print-value-only)" hello
check_fails "app: put /other/x is refused" as app put /other/x 1
like "by etcd's permissions" "$(cat "$T/err")" "permission denied"
check_fails "other (a client without an etcd role) is refused" as other get /app/greeting
like "as no user of etcd's" "$(cat "$T/err")" "permission denied"
check "etcd: no such user" grep -q "invalid user name other" "$E/etcd-1.log" "$E/etcd-2.log" "$E/etcd-3.log"
cap export web-client --env dev --format chain --out "$T/web.pem" && cap export web-client --env dev --format key --out "$T/web-key.pem"
check_fails "web's client certificate (another service, same CA) is refused" \
	with "$T/web.pem" "$T/web-key.pem" "$eps" get /app/greeting
like "by RBAC: its CN is no etcd user" "$(cat "$T/err")" "permission denied"
check "etcd: no such user" grep -q "invalid user name web-client" "$E/etcd-1.log" "$E/etcd-2.log" "$E/etcd-3.log"

# Rotation: a client under the new intermediate, then revoked.
cap rotate --env dev --intermediate >/dev/null || exit 1
check "the revokee client gets a new key under the new intermediate" cap rotate revokee --env dev
check "bundles rendered again" render_all
like "its certificate is the new intermediate's" "$(openssl x509 -in "$E/full/revokee.pem" -noout -issuer)" "Intermediate CA 2"
like "while etcd-1's is still the old one's" "$(openssl x509 -in "$E/node-a/etcd-1.pem" -noout -issuer)" "Intermediate CA 1"
cp "$E/full/revokee.pem" "$T/revokee.pem" && cp "$E/full/revokee-key.pem" "$T/revokee-key.pem"
is "revokee reads /app/ (same root, an etcd user with role app)" \
	"$(with "$T/revokee.pem" "$T/revokee-key.pem" "$eps" get /app/greeting --print-value-only)" hello
serial=$("$CAPSTAN" --json show revokee --env dev | jq -r .serial)
check "revoke it" cap revoke revokee --env dev --reason keyCompromise
check "bundles rendered again into the same directories" render_all
like "revokee is left out of them" "$(cat "$T/render.err")" "'revokee' is left out"
for h in node-a node-b node-c; do
	check "$h's crl.pem lists revokee" bash -c "openssl crl -in '$E/$h/crl.pem' -noout -text | grep -qi 'Serial Number: $serial'"
done
# etcd reads the CRL file at each new connection: no restart.
etcd_serial=$(echo "$serial" | sed 's/^\(00\)*//')
for n in 1 2 3; do
	eval "ep=https://127.0.0.1:\$c$n"
	is "member $n serves app" "$(EP=$ep as app get /app/greeting --print-value-only)" hello
	check_fails "member $n refuses revokee without a restart" with "$T/revokee.pem" "$T/revokee-key.pem" "$ep" get /app/greeting
	check "member $n logged it: serial revoked" grep -q "certificate serial $etcd_serial revoked" "$E/etcd-$n.log"
done
is "the members were not restarted" "$(for n in 1 2 3; do kill -0 "${pid[$n]}" && echo up; done | tr '\n' ' ')" "up up up "
is "a valid client still works" "$(as app get /app/greeting --print-value-only)" hello

# renew --due --from-old-ca: the members (and clients) move to the new intermediate.
check "renew --due --from-old-ca" cap renew --due --env dev --from-old-ca
for n in 1 2 3; do like "etcd-$n renewed" "$(cat "$T/out")" "renewed dev/etcd-$n: "; done
check "bundles rendered again" render_all
for n in 1 2 3; do
	like "etcd-$n's bundle certificate is the new intermediate's" \
		"$(openssl x509 -in "$E/${host_of[$n]}/etcd-$n.pem" -noout -issuer)" "Intermediate CA 2"
done
served() {
	openssl s_client -connect "127.0.0.1:$1" -CAfile "$E/full/ca.pem" -cert "$E/full/root.pem" \
		-key "$E/full/root-key.pem" </dev/null 2>/dev/null | openssl x509 -noout -issuer
}
like "member 1 serves it already: etcd reads its certificate per handshake too" "$(served "$c1")" "Intermediate CA 2"
for n in 1 2 3; do stop_member "$n"; done
for n in 1 2 3; do start_member "$n"; done
wait_healthy
check "restarted from the new bundles: healthy" as root endpoint health
is "all three joined over peer TLS, new certificates" "$(as root member list | grep -c started)" 3
like "member 3 serves the new intermediate's" "$(served "$c3")" "Intermediate CA 2"
is "the data survived" "$(as app get /app/greeting --print-value-only)" hello
check_fails "revokee is still refused" with "$T/revokee.pem" "$T/revokee-key.pem" "https://127.0.0.1:$c2" get /app/greeting

# --config-file: etcd ignores its environment, so conf.yml carries the CRL.
cf=$((base + 6)) cfp=$((base + 7))
install -d -m 0700 -o capstan-etcd -g capstan-etcd "$E/data-cf"
{ cat "$E/node-a/etcd-1.conf.yml"; cat <<EOF
name: cf
data-dir: $E/data-cf
listen-client-urls: https://127.0.0.1:$cf
advertise-client-urls: https://127.0.0.1:$cf
listen-peer-urls: https://127.0.0.1:$cfp
initial-advertise-peer-urls: https://127.0.0.1:$cfp
initial-cluster: cf=https://127.0.0.1:$cfp
log-level: info
EOF
} >"$E/cf.yml"
setpriv --reuid capstan-etcd --regid capstan-etcd --clear-groups etcd --config-file "$E/cf.yml" >"$E/etcd-cf.log" 2>&1 &
pid[cf]=$!
for _ in $(seq 1 60); do
	with "$E/full/root.pem" "$E/full/root-key.pem" "https://127.0.0.1:$cf" endpoint health >/dev/null 2>&1 && break
	sleep 0.25
done
check "a member started from conf.yml (--config-file) serves root" \
	with "$E/full/root.pem" "$E/full/root-key.pem" "https://127.0.0.1:$cf" put k v
check_fails "and refuses revokee" with "$T/revokee.pem" "$T/revokee-key.pem" "https://127.0.0.1:$cf" get k
check "by the CRL conf.yml names" grep -q "certificate serial $etcd_serial revoked" "$E/etcd-cf.log"

done_testing
