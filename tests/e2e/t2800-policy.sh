#!/usr/bin/env bash
# Issuance policy (policy: under defaults, an environment or a service): the
# file checked when loaded, the levels recorded by apply, and every way in
# (issue, --batch, --csr, apply, renew, serve's sign) refused outside it with
# one line naming the rule and the value; what is inside is issued.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
trap 'stop_serve; rm -rf "$T"' EXIT

TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)
cat >"$T/capstan.yaml" <<YAML
defaults:
  policy: { keys: [ec-p256, ec-p384, ed25519] }
environments:
  prod:
    policy:
      dns: ["*.prod.internal", prod.internal, localhost]  # every DNS SAN must match one
      ip: [10.0.0.0/8, 127.0.0.1/32]
      max_days: 90
      keys: [ec-p256, ec-p384]
  ops: {}
services:
  web:
    template: etcd
    policy: { dns: ["*.prod.internal", localhost] }
    certs:
      - { name: web, profile: server, cn: web.prod.internal, dns: [localhost], ip: [10.1.2.3] }
api:
  listen: 127.0.0.1:$TLS_PORT
  http: 127.0.0.1:$HTTP_PORT
  server: { env: ops, name: capstan-api }
  clients:
    - { env: ops, name: signer, allow: [sign] }
YAML
policy_err() { printf 'prod policy: %s' "$1"; }

# --- the file
bad() { sed "$1" "$T/capstan.yaml" >"$T/bad.yaml"; }
bad 's/max_days: 90/max_day: 90/'
refuses "an unknown policy key, with file and line" 1 "bad\.yaml:[0-9]+:[0-9]+: .*policy.*max_day" \
	cap apply --config "$T/bad.yaml"
bad 's/"\*.prod.internal", prod.internal/"a.*.prod.internal", prod.internal/'
refuses "'*' only as the leftmost label" 1 "bad\.yaml:[0-9]+:[0-9]+: .*a\.\*\.prod\.internal" \
	cap apply --config "$T/bad.yaml"
bad 's|10.0.0.0/8|10.0.0.1/8|'
refuses "a CIDR with host bits" 1 "bad\.yaml:[0-9]+:[0-9]+: .*10\.0\.0\.1/8" cap apply --config "$T/bad.yaml"
bad 's/keys: \[ec-p256, ec-p384\]/keys: [ec-p256, rsa-1024]/'
refuses "an unknown or weak key type" 1 "bad\.yaml:[0-9]+:[0-9]+: .*rsa-1024" cap apply --config "$T/bad.yaml"
bad 's/max_days: 90/max_days: 90\n      name_constraints: maybe/'
refuses "name_constraints is true or false" 1 "bad\.yaml:[0-9]+:[0-9]+: .*maybe" cap apply --config "$T/bad.yaml"

# --- apply records it
check "apply with a policy" cap apply --config "$T/capstan.yaml"
like "it says the policy was recorded" "$(cat "$T/out")" "\+ policy prod: recorded \(environment: new\)"
like "and the service's" "$(cat "$T/out")" "\+ policy prod/web: recorded \(new\)"
is "the inventory holds each level" "$(db_sql "SELECT p.level || ':' || p.service FROM policies p JOIN envs e ON e.id = p.env_id WHERE e.name = 'prod' ORDER BY p.level")" \
	"0:
1:
2:web"
is "each with its audit row" "$(db_sql "SELECT count(*) FROM audit WHERE op = 'policy' AND env = 'prod'")" 3
check "a second apply" cap apply --config "$T/capstan.yaml"
is "changes nothing" "$(cat "$T/out")" "nothing to change: the inventory matches $T/capstan.yaml"

# --- issue
refuses "issue: a DNS name outside the patterns" 1 \
	"$(policy_err "DNS name 'api\.evil\.com' matches none of \*\.prod\.internal, prod\.internal, localhost")" \
	cap issue --env prod --profile server --cn api.evil.com
refuses "issue: '*' is exactly one label" 1 "DNS name 'a\.b\.prod\.internal' matches none of" \
	cap issue --env prod --profile server --cn x.prod.internal --dns a.b.prod.internal
refuses "issue: an IP outside the ranges" 1 \
	"$(policy_err "IP address '192\.168\.1\.1' is in none of 10\.0\.0\.0/8, 127\.0\.0\.1/32")" \
	cap issue --env prod --profile server --cn x.prod.internal --ip 192.168.1.1
refuses "issue: longer than max_days is refused, not cut" 1 \
	"$(policy_err "lifetime '100 days' is longer than max_days 90")" \
	cap issue --env prod --profile server --cn x.prod.internal --days 100
refuses "issue: a key type outside the list" 1 "prod policy: key type 'rsa-2048' is not one of" \
	cap issue --env prod --profile server --cn x.prod.internal --key rsa-2048
refuses "issue: the environment's list narrows the defaults'" 1 \
	"$(policy_err "key type 'ed25519' is not one of ec-p256, ec-p384")" \
	cap issue --env prod --profile client --cn x.prod.internal --key ed25519
refuses "issue: the service's level narrows the environment's" 1 \
	"prod policy \(service web\): DNS name 'prod\.internal' matches none of \*\.prod\.internal, localhost" \
	cap issue --env prod --profile server --cn prod.internal --service web
check "issue inside the policy" cap issue --env prod --profile server --cn api.prod.internal --dns localhost \
	--ip 10.9.8.7 --days 90 --key ec-p384
check "with its service" cap issue --env prod --profile server --cn api2.prod.internal --service web
check "another environment has only the defaults' level" cap issue --env ops --profile server --cn api.evil.com
refuses "which it obeys" 1 "ops policy: key type 'rsa-2048' is not one of ec-p256, ec-p384, ed25519" \
	cap issue --env ops --profile server --cn api2.evil.com --key rsa-2048

# --- issue --csr
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=evil.example.com \
	-keyout "$T/evil.key" -out "$T/evil.csr" 2>/dev/null
refuses "--csr: the CSR's names are checked" 1 "$(policy_err "DNS name 'evil\.example\.com' matches none of")" \
	cap issue --env prod --profile server --csr "$T/evil.csr"
openssl req -new -newkey rsa:2048 -nodes -subj /CN=rsa.prod.internal -keyout "$T/rsa.key" -out "$T/rsa.csr" 2>/dev/null
refuses "--csr: the CSR's key type is checked" 1 "$(policy_err "key type 'rsa-2048' is not one of")" \
	cap issue --env prod --profile server --csr "$T/rsa.csr"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -subj /CN=csr.prod.internal \
	-keyout "$T/ok.key" -out "$T/ok.csr" 2>/dev/null
check "--csr inside the policy" cap issue --env prod --profile server --csr "$T/ok.csr"

# --- issue --batch: a line outside fails alone
cat >"$T/batch.jsonl" <<'JSONL'
{"env": "prod", "profile": "server", "cn": "b1.prod.internal"}
{"env": "prod", "profile": "server", "cn": "b2.evil.com"}
{"env": "prod", "profile": "server", "cn": "b3.prod.internal", "ip": ["10.0.0.3"]}
{"env": "prod", "profile": "server", "cn": "prod.internal", "name": "b4", "service": "web"}
{"env": "ops", "profile": "server", "cn": "b5.evil.com"}
{"env": "prod", "profile": "server", "cn": "b6.prod.internal", "service": "web"}
JSONL
cap issue --batch "$T/batch.jsonl" >"$T/out" 2>"$T/err"
is "--batch: exit 1 when a line is refused" "$?" 1
like "the line is reported with its rule" "$(cat "$T/err")" "prod policy: DNS name 'b2\.evil\.com' matches none of"
like "a service's level too, in the same batch" "$(cat "$T/err")" "prod policy \(service web\): DNS name 'prod\.internal' matches none of"
is "the others are issued, in every environment" "$(cut -d' ' -f2 "$T/out" | sort | tr '\n' ' ')" \
	"ops/b5.evil.com prod/b1.prod.internal prod/b3.prod.internal prod/b6.prod.internal "
check_fails "not the refused one" cap show b2.evil.com --env prod

# --- apply: every entry checked first, nothing changed
sed 's/dns: \[localhost\], ip: \[10.1.2.3\] }/dns: [localhost], ip: [10.1.2.3] }\n      - { name: api, profile: server, cn: api.prod.internal, dns: [www.evil.com] }/' \
	"$T/capstan.yaml" >"$T/evil.yaml"
refuses "apply: an entry outside the policy, nothing changed" 1 \
	"evil\.yaml:[0-9]+: services\.web\.certs\[1\]: prod policy: DNS name 'www\.evil\.com' matches none of" \
	cap apply --config "$T/evil.yaml"
sed 's/dns: \[localhost\], ip: \[10.1.2.3\] }/dns: [localhost], ip: [10.1.2.3], days: 120 }/' \
	"$T/capstan.yaml" >"$T/long.yaml"
refuses "apply: a certificate's days over max_days" 1 \
	"long\.yaml:[0-9]+: services\.web\.certs\[0\]: prod policy: lifetime '120 days' is longer than max_days 90" \
	cap apply --config "$T/long.yaml"

# --- renew and rotate of a line the narrowed policy no longer allows
check "issue a line that fits today" cap issue --env prod --profile server --cn old.prod.internal --dns prod.internal
check "renew it while it fits" cap renew old.prod.internal --env prod
sed 's/dns: \["\*.prod.internal", prod.internal, localhost\]/dns: ["*.prod.internal", localhost]/' \
	"$T/capstan.yaml" >"$T/narrow.yaml"
check "apply a narrower policy" cap apply --config "$T/narrow.yaml"
like "recorded as changed" "$(cat "$T/out")" "policy prod: recorded \(environment: changed\)"
refuses "renew: a line that no longer fits is refused, not renewed" 1 \
	"$(policy_err "DNS name 'prod\.internal' matches none of \*\.prod\.internal, localhost")" \
	cap renew old.prod.internal --env prod
refuses "rotate: the same" 1 "$(policy_err "DNS name 'prod\.internal' matches none of")" \
	cap rotate old.prod.internal --env prod
check "a line that fits still renews" cap renew api.prod.internal --env prod
cap renew --due --env prod --within 1000d >"$T/out" 2>"$T/err"
is "renew --due: exit 1 when a line no longer fits" "$?" 1
like "that line is reported with its rule" "$(cat "$T/err")" "old\.prod\.internal.*prod policy: DNS name 'prod\.internal' matches none of"
like "the others are renewed" "$(cat "$T/out")" "api\.prod\.internal"

# --- serve's sign
cap issue --env ops --profile server --cn capstan-api --dns localhost --ip 127.0.0.1 >/dev/null &&
	cap issue --env ops --profile client --cn signer >/dev/null && identity ops signer &&
	cp "$T/id-signer.pem" "$T/id-ops.pem" && cp "$T/id-signer.key" "$T/id-ops.key" &&
	cap trust --env ops --out "$T/prod-ca.pem" >/dev/null || exit 1
check "serve starts" start_serve --config "$T/narrow.yaml"
sign_body() { jq -n --rawfile csr "$1" "{csr: \$csr} + $2"; }
api signer POST /v1/environments/prod/sign -d "$(sign_body "$T/ok.csr" '{profile: "server", name: "s1", dns: ["s1.evil.com"]}')"
like "serve: a DNS name outside the policy is refused" "$(status)" "^4[0-9][0-9]$"
like "naming the rule" "$(jq -r .error "$T/body")" "prod policy: DNS name 's1\.evil\.com' matches none of"
api signer POST /v1/environments/prod/sign -d "$(sign_body "$T/rsa.csr" '{profile: "server", name: "s2", dns: ["s2.prod.internal"]}')"
like "serve: a CSR key outside the list is refused" "$(jq -r .error "$T/body")" "key type 'rsa-2048' is not one of"
api signer POST /v1/environments/prod/sign -d "$(sign_body "$T/ok.csr" '{profile: "server", name: "s3", dns: ["s3.prod.internal"], days: 200}')"
like "serve: days over max_days is refused, not cut" "$(jq -r .error "$T/body")" "lifetime '200 days' is longer than max_days 90"
api signer POST /v1/environments/prod/sign -d "$(sign_body "$T/ok.csr" '{profile: "server", name: "s4", dns: ["s4.prod.internal"]}')"
is "serve: inside the policy it signs" "$(status)" 201
stop_serve; SERVE_PID=

# --- name_constraints: the lists in the intermediate, at init and at rotation
cat >"$T/nc.yaml" <<'YAML'
environments:
  nc:
    policy: { dns: ["*.nc.internal", nc.internal, localhost], ip: [10.0.0.0/8], name_constraints: true }
YAML
check "apply a new environment with name_constraints" cap apply --config "$T/nc.yaml"
cap export intermediate-ca-1 --env nc --format cert --out "$T/nc-inter.pem" >/dev/null
nc_text=$(openssl x509 -in "$T/nc-inter.pem" -noout -text)
like "the intermediate has a critical nameConstraints" "$nc_text" "X509v3 Name Constraints: critical"
like "DNS subtrees from the patterns" "$(echo "$nc_text" | tr -d '\n ')" "Permitted:DNS:nc.internalDNS:localhostIP:10.0.0.0/255.0.0.0"
check_fails "not in the root" sh -c "cap export root-ca --env nc --format cert | openssl x509 -noout -text | grep -q 'Name Constraints'"
check "a capstan leaf inside verifies" cap issue --env nc --profile server --cn a.nc.internal --ip 10.1.1.1
nc_trust=$(trust_of nc)
cap export a.nc.internal --env nc --format chain --out "$T/nc-a.chain" >/dev/null
check "openssl verifies it" openssl_verify sslserver "$nc_trust" "$T/nc-a.chain"
check "certtool verifies it" certtool_verify "$nc_trust" "$T/nc-a.chain"
# A leaf with no DNS SAN has its CN checked against the DNS subtrees: by
# OpenSSL when it looks like a host name, by GnuTLS whatever it is for a TLS
# server. Such a CN outside the policy is refused before signing.
refuses "an IP-only server named by its address is refused" 1 \
	"nc policy: CN '10\.2\.3\.4' matches none of \*\.nc\.internal, nc\.internal, localhost \(with no DNS name beside it, verifiers check the CN" \
	cap issue --env nc --profile server --cn 10.2.3.4
refuses "a client named like a host outside the policy is refused" 1 "nc policy: CN 'svc\.evil\.com' matches none of" \
	cap issue --env nc --profile client --cn svc.evil.com
refuses "an IP-only server with any CN outside the policy is refused (GnuTLS checks it)" 1 \
	"nc policy: CN 'ip server' matches none of" cap issue --env nc --profile server --name ipsrv --cn "ip server" --ip 10.2.3.4
check "an IP-only server with a CN inside is issued" cap issue --env nc --profile server --name ipsrv \
	--cn ipsrv.nc.internal --ip 10.2.3.4
cap export ipsrv --env nc --format chain --out "$T/nc-ip.chain" >/dev/null
check "and openssl verifies it" openssl_verify sslserver "$nc_trust" "$T/nc-ip.chain"
check "and certtool" certtool_verify "$nc_trust" "$T/nc-ip.chain"
check "a client named inside the policy is issued" cap issue --env nc --profile client --cn app.nc.internal
cap export app.nc.internal --env nc --format chain --out "$T/nc-app.chain" >/dev/null
check "and openssl verifies it" openssl_verify sslclient "$nc_trust" "$T/nc-app.chain"
check "a client whose CN is not a host name is issued" cap issue --env nc --profile client --cn backup-agent
cap export backup-agent --env nc --format chain --out "$T/nc-agent.chain" >/dev/null
check "and openssl verifies it" openssl_verify sslclient "$nc_trust" "$T/nc-agent.chain"
check "and certtool" certtool_verify "$nc_trust" "$T/nc-agent.chain"
# A leaf signed outside capstan, under the same intermediate key.
cap export intermediate-ca-1 --env nc --format key --ca-key --out "$T/nc-inter.key" >/dev/null
outside() { # NAME SAN
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
	printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n' "$2" >"$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/nc-inter.pem" -CAkey "$T/nc-inter.key" -set_serial "0x$(openssl rand -hex 8)" \
		-days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" 2>/dev/null && cat "$T/$1.pem" "$T/nc-inter.pem" >"$T/$1.chain"
}
outside in.nc.internal DNS:in.nc.internal && outside evil.example.com DNS:evil.example.com &&
	outside ipx.nc.internal DNS:ipx.nc.internal,IP:192.168.1.1 || exit 1
check "openssl: an outside leaf inside the subtrees verifies (the control)" openssl_verify sslserver "$nc_trust" "$T/in.nc.internal.chain"
check_fails "openssl: a DNS name outside the subtrees fails" openssl_verify sslserver "$nc_trust" "$T/evil.example.com.chain"
like "as a name constraint violation" "$(cat "$T/out" "$T/err")" "permitted subtree violation"
check_fails "openssl: an IP outside fails" openssl_verify sslserver "$nc_trust" "$T/ipx.nc.internal.chain"
check "certtool: the control verifies" certtool_verify "$nc_trust" "$T/in.nc.internal.chain"
check_fails "certtool: the DNS name outside fails" certtool_verify "$nc_trust" "$T/evil.example.com.chain"
check_fails "certtool: the IP outside fails" certtool_verify "$nc_trust" "$T/ipx.nc.internal.chain"
# Go's crypto/x509, the third verifier: tests/e2e/go/x509verify, standard
# library only (GO111MODULE=off, no proxy), built once into $T.
go_src="$(cd "$(dirname "$0")" && pwd)/go/x509verify"
if ! command -v go >/dev/null 2>&1; then
	skip "Go's crypto/x509" "go is not installed (scripts/deps.sh)"
elif ! (cd "$go_src" && env GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE="$T/go/cache" GOPATH="$T/go/path" \
	go build -o "$T/x509verify" .) >"$T/go.log" 2>&1; then
	not_ok "build the Go verifier"; diag "$T/go.log"
else
	go_verify() { "$T/x509verify" "$nc_trust" "$T/nc-inter.pem" "$@"; }
	check "Go: a capstan leaf inside verifies" go_verify "$T/nc-a.chain" a.nc.internal
	check "Go: the control verifies" go_verify "$T/in.nc.internal.chain" in.nc.internal
	check_fails "Go: the DNS name outside fails" go_verify "$T/evil.example.com.chain" evil.example.com
	like "as a name constraint violation" "$(cat "$T/out")" 'DNS name "evil\.example\.com" is not permitted by any constraint'
	check_fails "Go: the IP outside fails" go_verify "$T/ipx.nc.internal.chain"
	like "as a name constraint violation" "$(cat "$T/out")" 'IP address "192\.168\.1\.1" is not permitted by any constraint'
fi
check "rotate the intermediate" cap rotate --env nc --intermediate
cap export intermediate-ca-2 --env nc --format cert --out "$T/nc-inter2.pem" >/dev/null
like "the new intermediate carries them too" "$(openssl x509 -in "$T/nc-inter2.pem" -noout -text | tr -d '\n ')" \
	"NameConstraints:critical.*Permitted:DNS:nc.internalDNS:localhostIP:10.0.0.0/255.0.0.0"
# name_constraints in defaults, the environment's own DNS list nearer: the
# intermediate carries the environment's list, and a CN is checked against
# that one, not the defaults' (which it may match and still fail verifiers).
cat >"$T/split.yaml" <<'YAML'
defaults:
  policy: { dns: ["*.other.internal", "*.split.internal"], name_constraints: true }
environments:
  split:
    policy: { dns: ["*.split.internal"] }
YAML
check "apply: name_constraints in defaults, a nearer list in the environment" cap apply --config "$T/split.yaml" --env split
cap export intermediate-ca-1 --env split --format cert --out "$T/split-inter.pem" >/dev/null
like "its intermediate carries the environment's list" "$(openssl x509 -in "$T/split-inter.pem" -noout -text | tr -d '\n ')" \
	"NameConstraints:critical,?Permitted:DNS:split.internal[^D]*$"
refuses "a client CN the defaults allow but the intermediate does not is refused" 1 \
	"split policy: CN 'x\.other\.internal' matches none of \*\.split\.internal \(with no DNS name beside it" \
	cap issue --env split --profile client --cn x.other.internal
check "one inside it is issued" cap issue --env split --profile client --cn x.split.internal

# --- max_days below the environment's default lifetime: a lifetime asked
# for above it is refused, the default one (nobody asked) is cut to it.
cat >"$T/short.yaml" <<'YAML'
environments:
  short:
    policy: { max_days: 30 }
services:
  tiny:
    template: etcd
    certs:
      - { name: tiny, profile: server, dns: [tiny.short.internal] }
YAML
lifetime_of() { "$CAPSTAN" --json show "$1" --env short | jq -r .lifetime; }
check "apply: a certificate without days where max_days is below the default" cap apply --config "$T/short.yaml" --env short
is "is issued for max_days" "$(lifetime_of tiny)" 30d
check "issue without --days" cap issue --env short --profile server --cn plain.short.internal
is "gets max_days, not the default" "$(lifetime_of plain.short.internal)" 30d
end=$(date -d "$("$CAPSTAN" show plain.short.internal --env short --pem | openssl x509 -noout -enddate | cut -d= -f2)" +%s)
is "and its certificate ends in 30 days" "$(( (end - $(date +%s) + 43200) / 86400 ))" 30
refuses "an explicit --days above it is still refused, not cut" 1 \
	"short policy: lifetime '31 days' is longer than max_days 30" \
	cap issue --env short --profile server --cn long.short.internal --days 31
check "an explicit --days under it is kept" cap issue --env short --profile server --cn brief.short.internal --days 20
is "as asked" "$(lifetime_of brief.short.internal)" 20d
printf '{"env": "short", "profile": "client", "cn": "batched"}\n' >"$T/short.jsonl"
check "a batch line without days" cap issue --batch "$T/short.jsonl"
is "is cut the same" "$(lifetime_of batched)" 30d
check "renew keeps the line's lifetime" cap renew plain.short.internal --env short
is "max_days still" "$(lifetime_of plain.short.internal)" 30d

check "check passes after all this" cap check
done_testing
