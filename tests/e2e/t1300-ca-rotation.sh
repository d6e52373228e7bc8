#!/usr/bin/env bash
# Rotating an environment's CA without an outage: leaves under the old CA keep
# verifying against `trust` while new issuance uses the new one.
. "$(dirname "$0")/lib.sh"

cap init --env prod >/dev/null || exit 1
cap issue --env prod --profile server --cn before.internal >/dev/null
"$CAPSTAN" export before.internal --format chain --out "$T/before.chain"
"$CAPSTAN" trust --env prod --out "$T/trust0.pem"

# Intermediate rotation: same root, so trust does not change.
check "rotate --intermediate" cap rotate --env prod --intermediate
like "it names the new intermediate" "$(cat "$T/out")" "new intermediate CA +[0-9a-f]{32} +CN=prod Intermediate CA 2"
"$CAPSTAN" trust --env prod --out "$T/trust1.pem"
check "the trust bundle is unchanged" cmp "$T/trust0.pem" "$T/trust1.pem"
cap issue --env prod --profile server --cn after.internal >/dev/null
"$CAPSTAN" export after.internal --format chain --out "$T/after.chain"
like "new issuance uses the new intermediate" "$(openssl x509 -in "$T/after.chain" -noout -issuer)" "prod Intermediate CA 2"
check "the old leaf still verifies against trust" openssl_verify sslserver "$T/trust1.pem" "$T/before.chain"
check "the new leaf verifies against trust" openssl_verify sslserver "$T/trust1.pem" "$T/after.chain"
check "certtool agrees for the old leaf" certtool_verify "$T/trust1.pem" "$T/before.chain"
"$CAPSTAN" export before.internal --format chain --out "$T/before-again.chain"
check "the old leaf's chain still carries the old intermediate" cmp "$T/before.chain" "$T/before-again.chain"
is "the old intermediate is superseded" \
	"$("$CAPSTAN" --json list --ca --status superseded | jq -r '[.[].name] | join(",")')" "intermediate-ca-1"
check "capstan verify accepts the old leaf" "$CAPSTAN" verify "$T/before.chain" --env prod
check "a renewal moves a leaf to the new intermediate" cap renew before.internal
like "renewed under CA 2" "$("$CAPSTAN" show before.internal --pem | openssl x509 -noout -issuer)" "prod Intermediate CA 2"

# Root rotation: trust returns both roots during the overlap.
check "rotate --root" cap rotate --env prod --root --root-days 20y
like "a new root and intermediate" "$(tr '\n' ' ' <"$T/out")" "new root CA .*CN=prod Root CA 2.*new intermediate CA .*CN=prod Intermediate CA 3"
"$CAPSTAN" trust --env prod --out "$T/trust2.pem"
is "trust holds both roots" "$(grep -c 'BEGIN CERTIFICATE' "$T/trust2.pem")" 2
like "the new root first" "$(openssl x509 -in "$T/trust2.pem" -noout -subject)" "prod Root CA 2"
cap issue --env prod --profile server --cn fresh.internal >/dev/null
"$CAPSTAN" export fresh.internal --format chain --out "$T/fresh.chain"
"$CAPSTAN" export after.internal --format chain --out "$T/after.chain"
check "an old-root leaf verifies against the new trust" openssl_verify sslserver "$T/trust2.pem" "$T/after.chain"
check "a new-root leaf verifies against the new trust" openssl_verify sslserver "$T/trust2.pem" "$T/fresh.chain"
check "certtool agrees (old root)" certtool_verify "$T/trust2.pem" "$T/after.chain"
check "certtool agrees (new root)" certtool_verify "$T/trust2.pem" "$T/fresh.chain"
check_fails "a new-root leaf fails against the old trust: distribute trust first" \
	openssl_verify sslserver "$T/trust0.pem" "$T/fresh.chain"

# list --ca: the CAs only, with their kind and status, and for the old root the
# moment it leaves the trust bundle (its last live leaf's expiry).
"$CAPSTAN" --json list --ca --env prod >"$T/cas.json"
is "list --ca lists CAs only" "$(jq -r '[.[].kind] | unique | join(",")' "$T/cas.json")" "intermediate,root"
is "every CA that has not expired, old ones too" "$(jq -r '[.[].name] | join(",")' "$T/cas.json")" \
	"intermediate-ca-1,intermediate-ca-2,intermediate-ca-3,root-ca,root-ca-2"
is "with their status" "$(jq -r '[.[] | .name + "=" + .status] | join(",")' "$T/cas.json")" \
	"intermediate-ca-1=superseded,intermediate-ca-2=superseded,intermediate-ca-3=valid,root-ca=superseded,root-ca-2=valid"
"$CAPSTAN" --json list --status all >"$T/leaves.json"
last_old_leaf=$(jq -r '[.[] | select(.issuer | test("Intermediate CA [12]$")) | .not_after] | max' "$T/leaves.json")
is "the old root leaves the trust bundle when its last leaf expires" \
	"$(jq -r '.[] | select(.name == "root-ca") | .leaves_trust_at' "$T/cas.json")" "$last_old_leaf"
like "an RFC 3339 time" "$last_old_leaf" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
is "both roots are in the trust bundle" \
	"$(jq -r '[.[] | select(.kind == "root") | .in_trust_bundle] | join(",")' "$T/cas.json")" "true,true"
is "the new root has no date to leave" \
	"$(jq -r '.[] | select(.name == "root-ca-2") | has("leaves_trust_at")' "$T/cas.json")" false
is "intermediates say nothing of the trust bundle" \
	"$(jq -r '[.[] | select(.kind == "intermediate") | has("in_trust_bundle")] | unique | join(",")' "$T/cas.json")" false
"$CAPSTAN" list --ca --env prod >"$T/cas.txt"
like "the table has kind, status and the trust bundle" "$(head -1 "$T/cas.txt")" \
	'^NAME +ENV +SERIAL +KIND +STATUS +NOT AFTER +TRUST BUNDLE$'
like "the old root's row says until when" "$(grep '^root-ca ' "$T/cas.txt")" "root +superseded .* until $last_old_leaf$"
like "the new root's row says it is in" "$(grep '^root-ca-2 ' "$T/cas.txt")" "root +valid .* yes$"
is "--ca --status valid narrows to the current CAs" \
	"$("$CAPSTAN" --json list --ca --env prod --status valid | jq -r '[.[].name] | join(",")')" "intermediate-ca-3,root-ca-2"
for name in $(jq -r '.[].name' "$T/cas.json"); do
	check "show $name (a name list prints)" "$CAPSTAN" show "$name" --env prod
	like "show $name shows that CA" "$(cat "$T/out")" "name: +$name"
done
is "show a CA by name without --env, one environment having it" \
	"$("$CAPSTAN" --json show root-ca-2 | jq -r '.kind + " " + .subject')" "root CN=prod Root CA 2"
refuses "a CA name is not a leaf to revoke" 1 "'root-ca' is a CA certificate" cap revoke root-ca --env prod
refuses "nor to renew" 1 "'intermediate-ca-3' is a CA certificate" cap renew intermediate-ca-3 --env prod

# Moving everything to the new root, then the overlap ends by itself.
check "renew --due --from-old-ca moves the rest" cap renew --due --from-old-ca
is "every leaf now sits under the new root's intermediate" \
	"$("$CAPSTAN" --json list | jq -r '[.[].issuer] | unique | join(",")')" "CN=prod Intermediate CA 3"
check "a second run has nothing to move" cap renew --due --from-old-ca
is "and says nothing" "$(cat "$T/out")" ""
is "while superseded old-root leaves live, both roots stay trusted" \
	"$("$CAPSTAN" trust --env prod --out - | grep -c 'BEGIN CERTIFICATE')" 2
is "once they have expired, only the new root is" \
	"$(faketime -f +91d "$CAPSTAN" trust --env prod --out - | grep -c 'BEGIN CERTIFICATE')" 1
is "and list --ca says the old root is out of it" \
	"$(faketime -f +91d "$CAPSTAN" --json list --ca --env prod | jq -c '[.[] | select(.kind == "root") | [.name, .in_trust_bundle, has("leaves_trust_at")]]')" \
	'[["root-ca",false,false],["root-ca-2",true,false]]'
like "and it is the new one" "$(faketime -f +91d "$CAPSTAN" trust --env prod --out - | openssl x509 -noout -subject)" \
	"prod Root CA 2"
check "crl signs for every intermediate with live leaves" cap crl --env prod --out "$T/crl.pem"
is "a CRL from each intermediate with unexpired leaves (superseded ones count), current first" \
	"$(openssl crl -in "$T/crl.pem" -noout -issuer | head -1) / $(grep -c 'BEGIN X509 CRL' "$T/crl.pem")" \
	"issuer=CN = prod Intermediate CA 3 / 3"
is "once the old leaves have expired, only the current intermediate signs one" \
	"$(faketime -f +91d "$CAPSTAN" --passphrase-file "$PASS" crl --env prod --out - | grep -c 'BEGIN X509 CRL')" 1
refuses "rotate --intermediate --root together" 2 "--intermediate and --root do not go together" \
	cap rotate --env prod --intermediate --root
refuses "a CA rotation needs --env" 2 "--env is required to rotate a CA" cap rotate --intermediate
refuses "a CA rotation of an unknown environment" 1 "unknown environment 'qa'" cap rotate --env qa --root
check "the audit chain is intact" "$CAPSTAN" audit --verify

done_testing
