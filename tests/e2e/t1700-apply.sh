#!/usr/bin/env bash
# apply: the YAML configuration made real; plans, idempotence, reissues, and
# bad configurations refused with their line, changing nothing.
. "$(dirname "$0")/lib.sh"
conf="$(cd "$(dirname "$0")" && pwd)/data/capstan.yaml"

check "apply --dry-run on a new home" cap apply --config "$conf" --dry-run
like "it plans the environments" "$(cat "$T/out")" "\? environment dev: would create"
like "and the certificates" "$(cat "$T/out")" "\? prod/etcd-1: would issue \(new\)"
like "and says nothing changed" "$(tail -1 "$T/out")" "changes planned; nothing was changed \(--dry-run\)"
check_fails "and created no home" test -e "$CAPSTAN_HOME"

check "apply" cap apply --config "$conf"
is "both environments" "$("$CAPSTAN" --json list --ca | jq -r '[.[].env] | unique | join(",")')" "dev,prod"
is "every certificate in every environment (10 each)" "$("$CAPSTAN" --json list | jq length)" 20
is "prod's CA is P-384, as configured" \
	"$("$CAPSTAN" --json list --ca --env prod | jq -r '[.[] | select(.kind != "leaf") | .key_type] | unique | join(",")')" ec-p384
is "prod's leaves last 60 days (its own default)" "$("$CAPSTAN" --json show etcd-1 --env prod | jq -r .lifetime)" 60d
is "dev's 90 days" "$("$CAPSTAN" --json show etcd-1 --env dev | jq -r .lifetime)" 90d
is "services are recorded on the certificates" "$("$CAPSTAN" --json show alluxio-etcd-client --env dev | jq -r .service)" alluxio
is "O from organization" "$("$CAPSTAN" --json show web --env dev | jq -r .subject)" "CN=web,O=Example Corp"
check "a second apply" cap apply --config "$conf"
is "changes nothing and says so" "$(cat "$T/out")" "nothing to change: the inventory matches $conf"
is "--json says so too" "$(cap --json apply --config "$conf" | jq -c '[.changes, .dry_run]')" "[0,false]"
is "a dry run now plans nothing" "$(cap apply --config "$conf" --dry-run)" "nothing to change: the inventory matches $conf"

# A changed configuration reissues what differs, like cert-manager.
sed 's/dns: \[web.internal\]/dns: [web.internal, www.internal]/' "$conf" >"$T/changed.yaml"
old=$("$CAPSTAN" --json show web --env dev | jq -r .serial)
check "apply a changed SAN" cap apply --config "$T/changed.yaml" --env dev
like "it reissues, saying why" "$(cat "$T/out")" "~ dev/web: reissued \(SANs differ\) [0-9a-f]{32}"
is "only web, only in dev" "$(grep -c '^[~+]' "$T/out")" 1
is "the old certificate is superseded" "$("$CAPSTAN" --json show "$old" | jq -r .status)" superseded
is "the new one has the SAN" "$("$CAPSTAN" --json show web --env dev | jq -r '.sans | join(" ")')" "DNS:web DNS:web.internal DNS:www.internal"
cap revoke root --env dev >/dev/null
check "apply after a revocation" cap apply --config "$T/changed.yaml" --env dev
like "reissues the revoked one" "$(cat "$T/out")" "\+ dev/root: issued \(revoked\)"
sed 's/{ name: spark-client, profile: client }/{ name: spark-client, profile: client, key: rsa-2048 }/' "$T/changed.yaml" >"$T/rsa.yaml"
check "apply a changed key type" cap apply --config "$T/rsa.yaml" --env prod
like "reissues with the reason" "$(cat "$T/out")" "key type differs \(ec-p256, want rsa-2048\)"
is "apply writes audit rows" "$("$CAPSTAN" --json audit | jq '[.[] | select(.operation == "reissue" or .operation == "service")] | length > 0')" true

# Bad configurations: refused whole, with file, line and key; nothing changes.
bad() {
	local desc=$1 pattern=$2
	cat >"$T/bad.yaml" # from a process substitution: this shell keeps the TAP count
	refuses "$desc" 1 "$pattern" cap apply --config "$T/bad.yaml"
}
	bad "a bad IP" "bad\.yaml:6:[0-9]+: services\.web\.certs\[0\]\.ip: bad IP address '10\.0\.0\.300'" < <(printf 'environments: { dev: {} }\nservices:\n  web:\n    template: kubernetes\n    certs:\n      - { name: web, profile: server, ip: [10.0.0.300] }\n')
	bad "an unknown key" "bad\.yaml:4:5: services\.web: unknown key 'tempalte' \(expected template, certs, owner, group, hosts, etcd, policy\)" < <(printf 'environments: { dev: {} }\nservices:\n  web:\n    tempalte: kubernetes\n')
	bad "a bad duration" "bad\.yaml:1:[0-9]+: environments\.dev\.defaults\.days: bad duration 'soon'" < <(printf 'environments: { dev: { defaults: { days: soon } } }\n')
	bad "a template that does not exist" "bad\.yaml:4:15: services\.web\.template: no template 'nginx' \(built in: alluxio, etcd, hadoop, kubernetes, spark\)" < <(printf 'environments: { dev: {} }\nservices:\n  web:\n    template: nginx\n    certs: [ { name: web, profile: client } ]\n')
	bad "a duplicate name" "certificate name 'x' is used twice \(also at line 3\)" < <(printf 'environments: { dev: {} }\nservices:\n  a: { template: etcd, certs: [ { name: x, profile: client } ] }\n  b: { template: etcd, certs: [ { name: x, profile: client } ] }\n')
	bad "a wrong type" "bad\.yaml:5:12: services\.web\.certs: expected a list of certificates" < <(printf 'environments: { dev: {} }\nservices:\n  web:\n    template: etcd\n    certs: { name: x }\n')
bad "broken YAML" "bad\.yaml:[0-9]+:[0-9]+: not valid YAML" < <(printf 'environments:\n  dev: {\n')
bad "deep nesting" "bad\.yaml" < <(python3 -c "print('environments: { dev: {} }'); print('x: ' + '['*2000 + ']'*2000)")
	bad "a huge document" "bad\.yaml' is larger than 268435456 bytes" < <(head -c $((256 * 1024 * 1024 + 1)) /dev/zero | tr '\0' '#')
	bad "a duplicate service among thousands (found by sorting)" "bad\.yaml:20003:3: services: key 's5' given twice \(also at line 7\)" < <({ echo 'environments: { dev: {} }'; echo 'services:'; for i in $(seq 1 20000); do echo "  s$i: { template: etcd, certs: [ { name: n$i, profile: client } ] }"; done; echo "  s5: { template: etcd, certs: [ { name: n0, profile: client } ] }"; })
	# A billion laughs that passes every check of shape: a thousand services,
	# each an alias of one with a thousand certificates. Refused after work
	# proportional to the file (~8 visits a node), not a million certificates.
	bad "aliases expanding a small file" "bad\.yaml:[0-9]+:[0-9]+: services.*: the document is too large \(aliases expand past [0-9]+ nodes\)" < <(python3 -c "
print('environments: { dev: {} }'); print('services:')
print('  s0: &s { template: etcd, certs: [' + ', '.join('{ name: n%d, profile: client }' % i for i in range(1000)) + '] }')
for i in range(1, 1000): print('  s%d: *s' % i)")
# An honest configuration past the old limits (1 MiB, 100,000 nodes): 30,000
# services, 60,000 certificates, 4 MiB; planned, not issued.
{ echo 'environments: { dev: {} }'; echo 'services:'; for i in $(seq 1 30000); do echo "  s$i: { template: etcd, certs: [ { name: n$i, profile: client }, { name: m$i, profile: server, dns: [m$i.internal] } ] }"; done; } >"$T/big.yaml"
check "a big honest configuration is accepted" cap apply --config "$T/big.yaml" --dry-run
is "and every certificate planned" "$(grep -cE '^\? dev/[mn][0-9]+: would issue' "$T/out")" 60000
refuses "apply without a configuration" 2 "no configuration: give --config FILE" cap apply
refuses "an environment the configuration lacks" 1 "environment 'qa' is not in" cap apply --config "$conf" --env qa
check "CAPSTAN_CONFIG names the file too" env CAPSTAN_CONFIG="$conf" "$CAPSTAN" --passphrase-file "$PASS" apply --dry-run --env dev

# Certificates apply cannot issue: each named with its own reason on stderr,
# the others issued, then the count; exit 1. Nothing else is held back.
cat >"$T/fails.yaml" <<'EOF'
environments: { stage: {}, qa: {} }
services:
  web:
    template: kubernetes
    certs:
      - { name: short1, profile: server, dns: [short1.internal], days: 30m }
      - { name: short2, profile: server, dns: [short2.internal], days: 20m }
      - { name: fine, profile: server, dns: [fine.internal] }
EOF
cap apply --config "$T/fails.yaml" >"$T/out" 2>"$T/err"
is "apply with failures exits 1" "$?" 1
is "a line per failure in each environment, then the count" "$(wc -l <"$T/err")" 5
like "short1's own reason" "$(sed -n 1p "$T/err")" \
	"^capstan: .*fails\.yaml: services\.web, certificate 'short1' in stage: .*at least 1h"
like "short2's own reason" "$(sed -n 2p "$T/err")" "^capstan: .*certificate 'short2' in stage: .*at least 1h"
like "the next environment's too" "$(sed -n 3p "$T/err")" "^capstan: .*certificate 'short1' in qa: "
like "and how many" "$(tail -1 "$T/err")" "^capstan: 4 of 6 certificates could not be issued$"
is "the others were issued, in both environments" "$(grep -c 'fine: issued' "$T/out")" 2
is "and the service recorded" "$(grep -c 'service .*/web: recorded' "$T/out")" 2
cap --json apply --config "$T/fails.yaml" >"$T/out" 2>"$T/err"
is "with --json too: the reasons on stderr" "$(grep -c "could not\|at least 1h" "$T/err")" 5

# A renew-before window as long as the lifetime falls back to a third of it
# (README, "What is due"), whether the certificate came from apply, issue or
# issue --batch: one rule, no refusal.
cat >"$T/window.yaml" <<'EOF'
defaults: { renew_before: 30d }
environments: { win: {} }
services:
  svc:
    template: kubernetes
    certs:
      - { name: month, profile: client, days: 30 }
      - { name: quarter, profile: client }
EOF
check "apply: days as long as renew_before" cap apply --config "$T/window.yaml"
like "issues it" "$(cat "$T/out")" "win/month: issued"
is "its window is a third of its 30 days" "$("$CAPSTAN" --json show month --env win | jq -r .renew_before)" 10d
is "a longer lifetime keeps the 30d window" "$("$CAPSTAN" --json show quarter --env win | jq -r .renew_before)" 30d
check "issue: --days 30 --renew-before 30d" cap issue --env win --profile client --cn byhand --days 30 --renew-before 30d
like "says what the window became" "$(cat "$T/err")" "^capstan: note: 'byhand': a renew-before window of 30d is not shorter than its lifetime: it is renewed in its last third \(10d\)$"
is "the same window" "$("$CAPSTAN" --json show byhand --env win | jq -r .renew_before)" 10d
echo '{"env": "win", "profile": "client", "cn": "bybatch", "days": 30, "renew_before": "45d"}' >"$T/w.jsonl"
check "issue --batch: a window longer than the lifetime" cap issue --batch "$T/w.jsonl"
is "the same rule" "$("$CAPSTAN" --json show bybatch --env win | jq -r .renew_before)" 10d
due_at() {
	home_copy "$CAPSTAN_HOME" "$T/probe"
	faketime -f "+$1" "$CAPSTAN" --home "$T/probe" --passphrase-file "$PASS" --json renew --due --env win |
		jq -r '[.renewed[].name] | sort | join(",")'
}
is "renew --due agrees: not due at +19d" "$(due_at 19d)" ""
is "due at +21d" "$(due_at 21d)" "bybatch,byhand,month"

# Users' own targets, without recompiling.
mkdir -p "$T/tpl/nginx"
printf 'keystores = no\n' >"$T/tpl/nginx/target.conf"
printf 'ssl_certificate {{cert_file}};\nssl_certificate_key {{key_file}};\nssl_client_certificate {{ca_file}};\n' >"$T/tpl/nginx/{{name}}-tls.conf.tmpl"
printf 'environments: { dev: {} }\nservices:\n  proxy: { template: nginx, certs: [ { name: proxy.internal, profile: server } ] }\n' >"$T/own.yaml"
refuses "a user target needs --templates" 1 "no template 'nginx'" cap apply --config "$T/own.yaml"
check "apply with --templates" cap --templates "$T/tpl" apply --config "$T/own.yaml"
check "and bundle it" cap --templates "$T/tpl" bundle --env dev --service proxy --out "$T/proxy"
is "rendered from the user's template" "$(head -1 "$T/proxy/proxy.internal-tls.conf")" "ssl_certificate $T/proxy/proxy.internal.pem;"

done_testing
