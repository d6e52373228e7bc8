#!/usr/bin/env bash
# One mistake, each front end's words: the library says what is wrong and
# which input it is about; the CLI names its flags, apply the YAML path,
# issue --batch the line's field. None names another front end's terms.
. "$(dirname "$0")/lib.sh"

check "init" cap init --env dev

# A server certificate with no DNS or IP SAN, and a CN that is no host name.
refuses "issue names the flags" 1 \
	"profile server needs a DNS or IP SAN, or a CN that is a host name \(--dns or --ip\)$" \
	cap issue --env dev --profile server --cn "Web Server" --name web

cat >"$T/nosan.yaml" <<'YAML'
environments: { dev: {} }
services:
  web:
    template: etcd
    certs:
      - { name: web, profile: server, cn: Web Server }
YAML
refuses "apply names the YAML path" 1 \
	"/nosan.yaml:6:9: services.web.certs\[0\]: profile server needs a DNS or IP SAN, or a CN that is a host name \(services.web.certs\[0\].dns or .ip\)$" \
	cap apply --config "$T/nosan.yaml"

printf '%s\n' '{"env":"dev","profile":"server","cn":"Web Server","name":"web"}' >"$T/nosan.jsonl"
cap issue --batch "$T/nosan.jsonl" >"$T/out" 2>"$T/err"
is "issue --batch fails" "$?" 1
like "and names the line's fields" "$(head -1 "$T/err")" \
	"^capstan: .*/nosan.jsonl:1: profile server needs a DNS or IP SAN, or a CN that is a host name \(field dns or ip\)$"

# A peer certificate with no SAN at all: any SAN type would do.
refuses "a peer without SANs: every SAN flag" 1 "needs at least one SAN \(--dns, --ip, --uri or --email\)$" \
	cap issue --env dev --profile peer --cn "Peer Node" --name peer

# A bad value is said against the one input that holds it.
refuses "a CN too long: --cn" 1 "invalid CN '.*': .* \(--cn\)$" \
	cap issue --env dev --profile client --cn "$(printf 'x%.0s' {1..70})" --name long
printf '%s\n' "{\"env\":\"dev\",\"profile\":\"client\",\"cn\":\"$(printf 'x%.0s' {1..70})\",\"name\":\"long\"}" >"$T/long.jsonl"
cap issue --batch "$T/long.jsonl" >"$T/out" 2>"$T/err"
like "issue --batch: field cn" "$(head -1 "$T/err")" "^capstan: .*/long.jsonl:1: invalid CN '.*': .* \(field cn\)$"

# One SAN check behind every front end: the same value, the same reason.
why="not an IPv4 or IPv6 address"
refuses "issue: a bad --ip" 2 "invalid --ip '10.0.0.300': $why" \
	cap issue --env dev --profile server --cn a.internal --ip 10.0.0.300
sed 's/cn: Web Server }/cn: Web Server, ip: 10.0.0.300 }/' "$T/nosan.yaml" >"$T/badip.yaml"
refuses "apply: the same bad ip" 1 "services.web.certs\[0\].ip: bad IP address '10.0.0.300': $why" \
	cap apply --config "$T/badip.yaml"
printf '%s\n' '{"env":"dev","profile":"server","cn":"a.internal","ip":"10.0.0.300"}' >"$T/badip.jsonl"
refuses "issue --batch: the same bad ip" 2 "badip.jsonl:1: bad ip '10.0.0.300': $why" \
	cap issue --batch "$T/badip.jsonl"

# Nothing a configuration or a batch user reads names a flag.
cap issue --batch "$T/long.jsonl" 2>"$T/all"
cap apply --config "$T/nosan.yaml" 2>>"$T/all"
cap issue --batch "$T/nosan.jsonl" 2>>"$T/all"
is "apply and batch name no flag" "$(grep -c -- ' --[a-z]' "$T/all")" 0

done_testing
