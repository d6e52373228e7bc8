#!/usr/bin/env bash
# Environments do not trust each other: a dev certificate fails against prod.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null && cap init --env prod >/dev/null || exit 1
cap issue --env dev --profile server --cn api.internal >/dev/null
cap issue --env prod --profile server --cn api.internal >/dev/null
dev=$(trust_of dev)
prod=$(trust_of prod)
"$CAPSTAN" export api.internal --env dev --format chain --out "$T/dev.chain"
"$CAPSTAN" export api.internal --env prod --format chain --out "$T/prod.chain"

check "dev's certificate verifies against dev (openssl)" openssl_verify sslserver "$dev" "$T/dev.chain"
check "prod's certificate verifies against prod (openssl)" openssl_verify sslserver "$prod" "$T/prod.chain"
check_fails "dev's certificate fails against prod (openssl)" openssl_verify sslserver "$prod" "$T/dev.chain"
check_fails "prod's certificate fails against dev (openssl)" openssl_verify sslserver "$dev" "$T/prod.chain"
check "dev's certificate verifies against dev (certtool)" certtool_verify "$dev" "$T/dev.chain"
check_fails "dev's certificate fails against prod (certtool)" certtool_verify "$prod" "$T/dev.chain"
check_fails "the trust bundles differ" cmp -s "$dev" "$prod"
check_fails "the keys differ" cmp -s \
	<(openssl x509 -in "$T/dev.chain" -noout -pubkey) <(openssl x509 -in "$T/prod.chain" -noout -pubkey)
is "one root per trust bundle" "$(grep -c 'BEGIN CERTIFICATE' "$dev")" 1
"$CAPSTAN" trust --env dev --out - >"$T/stdout.pem"
check "trust to standard output is the same bundle" cmp "$T/stdout.pem" "$dev"

done_testing
