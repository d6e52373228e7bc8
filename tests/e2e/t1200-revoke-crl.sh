#!/usr/bin/env bash
# revoke, crl and verify: CRLs signed by the intermediate, with numbers and
# reasons, that openssl verify -crl_check honours.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null && cap init --env prod >/dev/null || exit 1
trust=$(trust_of dev)
for n in good bad old; do
	cap issue --env dev --profile server --cn "$n.internal" >/dev/null
	"$CAPSTAN" export "$n.internal" --format chain --out "$T/$n.chain"
done
cap issue --env dev --profile client --cn expiring --days 2 >/dev/null
"$CAPSTAN" export expiring --format chain --out "$T/expiring.chain"

check "revoke with a reason" cap revoke bad.internal --reason keyCompromise
like "it says what it did" "$(cat "$T/out")" "revoked 'bad.internal' in dev \(serial [0-9a-f]{32}\): keyCompromise"
cap renew old.internal >/dev/null
check "a superseded certificate can be revoked" cap revoke "$(openssl x509 -in "$T/old.chain" -noout -serial | cut -d= -f2)" --reason superseded
check "an expired certificate can be revoked" faketime -f +3d "$CAPSTAN" --passphrase-file "$PASS" revoke expiring --reason cessationofoperation
refuses "revoking twice" 1 "'bad.internal' \(serial [0-9a-f]+\) is already revoked" cap revoke bad.internal
refuses "an unknown reason" 2 "invalid --reason 'stolen': expected one of unspecified, keyCompromise" \
	cap revoke good.internal --reason stolen
refuses "a CA is not revoked by name" 1 "'root-ca' is a CA certificate: rotate the CA instead" \
	cap revoke root-ca --env dev
is "list --status revoked" "$("$CAPSTAN" --json list --status revoked | jq -r '[.[].name] | sort | join(",")')" \
	"bad.internal,expiring,old.internal"
is "the reason is recorded" "$("$CAPSTAN" --json list --status revoked | jq -r '.[] | select(.name == "bad.internal") | .revoke_reason')" keyCompromise
is "a reason in any case, recorded by its RFC 5280 name" "$("$CAPSTAN" --json list --status revoked | jq -r '.[] | select(.name == "expiring") | .revoke_reason')" cessationOfOperation

check "crl" cap crl --env dev --out "$T/crl.pem"
openssl crl -in "$T/crl.pem" -noout -text >"$T/crl.txt"
like "signed by the intermediate" "$(grep 'Issuer:' "$T/crl.txt")" "CN = dev Intermediate CA 1"
check "the CRL's signature verifies against the intermediate" \
	openssl crl -in "$T/crl.pem" -noout -CAfile <(sed -n '/BEGIN/,/END/p' "$T/good.chain" | tail -n +$(( $(grep -n 'END CERTIFICATE' "$T/good.chain" | head -1 | cut -d: -f1) + 1 )))
like "CRL number 1" "$(grep -A1 'CRL Number' "$T/crl.txt" | tail -1)" '^ +1$'
like "reason codes" "$(grep -A1 'Reason Code' "$T/crl.txt" | grep -v Reason | sort -u | tr -s ' ' | tr '\n' '|')" "Key Compromise.*Superseded"
like "nextUpdate is 7 days after thisUpdate by default" \
	"$(( ($(date -d "$(grep 'Next Update' "$T/crl.txt" | cut -d: -f2-)" +%s) - $(date -d "$(grep 'Last Update' "$T/crl.txt" | cut -d: -f2-)" +%s)) / 86400 ))" '^7$'
is "three revoked serials" "$(grep -c 'Serial Number' "$T/crl.txt")" 3
check "CRL numbers strictly increase" cap crl --env dev --out "$T/crl2.pem" --next-update 1d
like "CRL number 2" "$(openssl crl -in "$T/crl2.pem" -noout -text | grep -A1 'CRL Number' | tail -1)" '^ +2$'
like "--next-update 1d" "$(openssl crl -in "$T/crl2.pem" -noout -nextupdate)" "$(date -u -d '+1 day' '+%b %e')"
# A CRL cannot outlive its issuer: a nextUpdate past the intermediate's notAfter is refused, naming both.
int_until=$("$CAPSTAN" --json show intermediate-ca-1 --env dev | jq -r .not_after)
for f in "" --der --all; do
	refuses "crl --next-update 1000y $f is refused" 1 \
		"a CRL of 'intermediate-ca-1' next updated at [0-9]{4}-.*Z would outlive its issuer, which expires at $int_until \(--next-update\)" \
		cap crl --env dev --out "$T/crl-long.pem" --next-update 1000y $f
done
check_fails "and writes no file" test -e "$T/crl-long.pem"

# openssl verify -crl_check: the revoked one fails, the good one passes.
cat "$trust" "$T/crl.pem" >"$T/trust+crl.pem"
check "openssl -crl_check accepts good" openssl verify -crl_check -CAfile "$T/trust+crl.pem" -untrusted "$T/good.chain" "$T/good.chain"
check_fails "openssl -crl_check rejects bad" openssl verify -crl_check -CAfile "$T/trust+crl.pem" -untrusted "$T/bad.chain" "$T/bad.chain"
like "because it is revoked" "$(cat "$T/out" "$T/err")" "certificate revoked"
check "the DER form parses" cap crl --env dev --out "$T/crl.der" --der
check "openssl reads it" openssl crl -inform DER -in "$T/crl.der" -noout

# capstan verify.
check "verify a good chain" "$CAPSTAN" verify "$T/good.chain" --env dev
like "says OK" "$(cat "$T/out")" "good.chain: OK \('good.internal' in dev"
refuses "verify a revoked certificate" 1 "bad.chain: 'bad.internal' \(serial [0-9a-f]+\) was revoked at .* \(keyCompromise\)" \
	"$CAPSTAN" verify "$T/bad.chain" --env dev
refuses "verify against another environment" 1 "good.chain: does not verify: unable to get local issuer certificate" \
	"$CAPSTAN" verify "$T/good.chain" --env prod
openssl x509 -in "$T/good.chain" -outform DER -out "$T/good.der"
check "verify a DER leaf (the intermediate comes from the inventory)" "$CAPSTAN" verify "$T/good.der" --env dev
printf 'garbage\n' >"$T/garbage.pem"
refuses "verify garbage" 1 "garbage.pem: no certificate found" "$CAPSTAN" verify "$T/garbage.pem" --env dev
refuses "verify needs --env" 2 "--env is required" "$CAPSTAN" verify "$T/good.chain"
is "--json verify" "$("$CAPSTAN" --json verify "$T/good.chain" --env dev | jq -r '.verified')" true

# After an intermediate rotation, the old intermediate keeps its own CRL.
cap rotate --env dev --intermediate >/dev/null
cap issue --env dev --profile server --cn new.internal >/dev/null
cap revoke new.internal >/dev/null
check "crl after the rotation" cap crl --env dev --out "$T/crl3.pem"
is "two CRLs" "$(grep -c 'BEGIN X509 CRL' "$T/crl3.pem")" 2
like "the current intermediate's first" "$(openssl crl -in "$T/crl3.pem" -noout -issuer)" "dev Intermediate CA 2"
refuses "--der cannot hold two" 1 "--der: 2 intermediates of 'dev' have unexpired certificates: one DER CRL cannot cover them" cap crl --env dev --der --out "$T/two.der"
check_fails "and wrote nothing" test -e "$T/two.der"
check "the revocation audit rows" bash -c "'$CAPSTAN' --json audit | jq -e '[.[] | select(.operation == \"revoke\")] | length == 4'"

refuses "an unwritable CRL destination changes nothing" 1 "cannot write in '.*/missing'" \
	cap crl --env dev --out "$T/missing/crl.pem"

# The revoked list is DER-encoded by capstan itself: check it with a second
# parser, in serial order, empty, and under every CA key type's signature.
intermediate_of() { "$CAPSTAN" --json list --env "$1" --ca | jq -r '.[] | select(.kind == "intermediate" and .status == "valid") | .serial' | head -1; }
check "certtool verifies the CRL against the intermediate" certtool --verify-crl \
	--load-ca-certificate <("$CAPSTAN" show "$(intermediate_of dev)" --env dev --pem) --infile "$T/crl3.pem"
serials=$(openssl crl -in "$T/crl.pem" -noout -text | awk '/Serial Number:/ { print $3 }')
is "entries in serial order" "$serials" "$(printf '%s\n' $serials | awk '{ printf "%03d %s\n", length($0), $0 }' | sort | cut -d' ' -f2)"
check "an empty CRL" cap crl --env prod --out "$T/empty.pem"
like "lists nothing" "$(openssl crl -in "$T/empty.pem" -noout -text)" "No Revoked Certificates"
for k in rsa-2048 ed25519; do
	cap init --env "$k" --key "$k" >/dev/null
	cap issue --env "$k" --profile server --cn "gone.$k" >/dev/null
	cap revoke "gone.$k" --env "$k" --reason affiliationChanged >/dev/null
	cap crl --env "$k" --out "$T/$k.crl"
	"$CAPSTAN" show "$(intermediate_of "$k")" --env "$k" --pem >"$T/$k.ca"
	check "a $k CA's CRL verifies (openssl)" openssl crl -in "$T/$k.crl" -noout -CAfile "$T/$k.ca"
	check "a $k CA's CRL verifies (certtool)" certtool --verify-crl --load-ca-certificate "$T/$k.ca" --infile "$T/$k.crl"
	like "and carries the reason" "$(openssl crl -in "$T/$k.crl" -noout -text)" "Affiliation Changed"
done

done_testing
