#!/usr/bin/env bash
# init: an environment's root and intermediate CA, as strict verifiers want them.
. "$(dirname "$0")/lib.sh"

check "init dev" cap init --env dev --org "Example Corp"
like "init prints the root and intermediate" "$(cat "$T/out")" "initialized environment 'dev'.*"
is "home is 0700" "$(stat -c %a "$CAPSTAN_HOME")" 700
if on_pg; then
	skip "database is 0600" "the inventory is a PostgreSQL database, no file"
else
	is "database is 0600" "$(stat -c %a "$CAPSTAN_HOME/capstan.db")" 600
fi

"$CAPSTAN" --json list --ca --env dev >"$T/ca.json"
is "two CA certificates" "$(jq length "$T/ca.json")" 2
root_serial=$(jq -r '.[] | select(.kind == "root") | .serial' "$T/ca.json")
inter_serial=$(jq -r '.[] | select(.kind == "intermediate") | .serial' "$T/ca.json")
"$CAPSTAN" show "$root_serial" --pem >"$T/root.pem"
"$CAPSTAN" show "$inter_serial" --pem >"$T/inter.pem"
openssl x509 -in "$T/root.pem" -noout -text >"$T/root.txt"
openssl x509 -in "$T/inter.pem" -noout -text >"$T/inter.txt"

check "root: CA:TRUE, critical" grep -A1 'Basic Constraints: critical' "$T/root.txt"
like "root: CA:TRUE without path length" "$(grep -A1 'Basic Constraints' "$T/root.txt" | tail -1)" '^ *CA:TRUE$'
check "root: keyCertSign + cRLSign, critical" grep -A1 'Key Usage: critical' "$T/root.txt"
like "root: key usage" "$(grep -A1 'X509v3 Key Usage' "$T/root.txt" | tail -1)" 'Certificate Sign, CRL Sign'
check "root: subject key identifier" grep -q 'Subject Key Identifier' "$T/root.txt"
is "root: self-signed" "$(openssl x509 -in "$T/root.pem" -noout -subject -nameopt RFC2253 | cut -d= -f2-)" \
	"$(openssl x509 -in "$T/root.pem" -noout -issuer -nameopt RFC2253 | cut -d= -f2-)"
like "root: O from --org" "$(openssl x509 -in "$T/root.pem" -noout -subject)" 'O = Example Corp'
like "intermediate: pathlen 0" "$(grep -A1 'Basic Constraints: critical' "$T/inter.txt" | tail -1)" 'CA:TRUE, pathlen:0'
check "intermediate: AKI" grep -q 'Authority Key Identifier' "$T/inter.txt"
check "intermediate: SKI" grep -q 'Subject Key Identifier' "$T/inter.txt"
like "ECDSA P-256 signed with SHA-256" "$(grep -m1 'Signature Algorithm' "$T/inter.txt")" 'ecdsa-with-SHA256'
check "openssl verifies the intermediate against the root" \
	openssl verify -x509_strict -CAfile "$T/root.pem" "$T/inter.pem"
check "certtool verifies the intermediate against the root" \
	certtool_verify "$T/root.pem" "$T/inter.pem"
like "serials are >= 16 lowercase hex digits" "$root_serial $inter_serial" '^[0-9a-f]{16,} [0-9a-f]{16,}$'
root_days=$(( ($(date -d "$(openssl x509 -in "$T/root.pem" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) + 43200) / 86400 ))
is "root lasts 3650 days by default" "$root_days" 3650

# Other key types for the CA.
check "init prod with P-384" cap init --env prod --key ec-p384 --root-days 20y --ca-days 5y
prod_inter=$("$CAPSTAN" --json list --ca --env prod | jq -r '.[] | select(.kind == "intermediate") | .serial')
"$CAPSTAN" show "$prod_inter" --pem >"$T/prod-inter.pem"
like "P-384 issuer signs with SHA-384" "$(openssl x509 -in "$T/prod-inter.pem" -noout -text | grep -m1 'Signature Algorithm')" 'ecdsa-with-SHA384'
check "init an Ed25519 environment" cap init --env edge --key ed25519
check "init an RSA-3072 environment" cap init --env legacy --key rsa-3072
for env in prod edge legacy; do
	trust=$(trust_of "$env")
	inter=$("$CAPSTAN" --json list --ca --env "$env" | jq -r '.[] | select(.kind == "intermediate") | .serial')
	"$CAPSTAN" show "$inter" --pem >"$T/$env-inter.pem"
	check "$env: openssl verifies its intermediate" openssl verify -x509_strict -CAfile "$trust" "$T/$env-inter.pem"
done

# Refusals: nothing changes.
refuses "an existing environment is refused" 1 "environment 'dev' already exists" cap init --env dev
refuses "a weak key type is refused" 2 "invalid --key 'rsa-1024'" cap init --env weak --key rsa-1024
refuses "an environment name with a slash is refused" 2 "invalid --env '../x'" cap init --env ../x
refuses "--env is required" 2 "--env is required" cap init
refuses "a negative lifetime is refused" 2 "invalid --root-days '-1'" cap init --env neg --root-days -1
is "environments" "$("$CAPSTAN" --json list --ca --status all | jq -r '[.[].env] | unique | join(",")')" "dev,edge,legacy,prod"

done_testing
