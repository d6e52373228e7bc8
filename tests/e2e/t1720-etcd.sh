#!/usr/bin/env bash
# A real etcd: a two-member cluster on 127.0.0.1 started from the dev bundle's
# env files (client-cert auth and peer TLS), used with the bundle's etcdctl env;
# a client without a certificate, or with prod's, is refused.
. "$(dirname "$0")/lib.sh"
dir="$(cd "$(dirname "$0")" && pwd)"
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	not_ok "etcd and etcdctl are installed (scripts/deps.sh: etcd-server etcd-client)"
	done_testing
	exit 1
fi
cap apply --config "$dir/data/capstan.yaml" >/dev/null || exit 1
cap bundle --env dev --service etcd --out "$T/dev" >/dev/null || exit 1
cap bundle --env prod --service etcd --out "$T/prod" >/dev/null || exit 1

base=$(( 20000 + (RANDOM % 2000) * 10 ))
c1=$base c2=$((base + 1)) p1=$((base + 2)) p2=$((base + 3))
pids=()
cleanup() { [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

# Endpoints and names come from the deployment (flags); TLS from the bundle (env file).
start_member() {
	local n=$1 client=$2 peer=$3
	( set -a; . "$T/dev/etcd-$n.env"; set +a
	  exec etcd --name "m$n" --data-dir "$T/data-$n" \
		--listen-client-urls "https://127.0.0.1:$client" --advertise-client-urls "https://127.0.0.1:$client" \
		--listen-peer-urls "https://127.0.0.1:$peer" --initial-advertise-peer-urls "https://127.0.0.1:$peer" \
		--initial-cluster "m1=https://127.0.0.1:$p1,m2=https://127.0.0.1:$p2" --initial-cluster-state new \
		--log-level warn ) >"$T/etcd-$n.log" 2>&1 &
	pids+=($!)
}
start_member 1 "$c1" "$p1"
start_member 2 "$c2" "$p2"

as_root() { ( set -a; . "$T/dev/etcdctl-root.env"; set +a; etcdctl --dial-timeout 3s --command-timeout 5s "$@" ); }
for _ in $(seq 1 40); do
	as_root --endpoints "https://127.0.0.1:$c1,https://127.0.0.1:$c2" endpoint health >/dev/null 2>&1 && break
	sleep 0.25
done
check "both members are healthy over TLS" as_root --endpoints "https://127.0.0.1:$c1,https://127.0.0.1:$c2" endpoint health
is "two members joined over peer TLS" "$(as_root --endpoints "https://127.0.0.1:$c1" member list | grep -c started)" 2
check "put through member 1" as_root --endpoints "https://127.0.0.1:$c1" put capstan/greeting hello
is "get through member 2: replicated over peer TLS" \
	"$(as_root --endpoints "https://127.0.0.1:$c2" get capstan/greeting --print-value-only)" hello
check_fails "a client without a certificate is refused" etcdctl --dial-timeout 3s --command-timeout 5s \
	--endpoints "https://127.0.0.1:$c1" --cacert "$T/dev/ca.pem" get capstan/greeting
check_fails "prod's client certificate is refused by dev" etcdctl --dial-timeout 3s --command-timeout 5s \
	--endpoints "https://127.0.0.1:$c1" --cacert "$T/dev/ca.pem" --cert "$T/prod/root.pem" --key "$T/prod/root-key.pem" \
	get capstan/greeting
check_fails "and prod's CA does not trust dev's members" etcdctl --dial-timeout 3s --command-timeout 5s \
	--endpoints "https://127.0.0.1:$c1" --cacert "$T/prod/ca.pem" --cert "$T/prod/root.pem" --key "$T/prod/root-key.pem" \
	get capstan/greeting
check "etcd logged no TLS configuration error" bash -c "! grep -qi 'tls: failed to find\|no such file\|bad certificate' '$T/etcd-1.log'"

done_testing
