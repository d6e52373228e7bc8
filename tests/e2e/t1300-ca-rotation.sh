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
