#!/usr/bin/env bash
# issue: every key type and every profile, verified strictly by OpenSSL and GnuTLS.
. "$(dirname "$0")/lib.sh"

cap init --env dev --org "Example Corp" >/dev/null || exit 1
trust=$(trust_of dev)

purpose_of() { case $1 in server) echo sslserver ;; client) echo sslclient ;; peer) echo sslserver ;; esac; }
eku_of() {
	case $1 in
	server) echo 'TLS Web Server Authentication' ;;
	client) echo 'TLS Web Client Authentication' ;;
	peer) echo 'TLS Web Server Authentication, TLS Web Client Authentication' ;;
	esac
}

for key in ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096 ed25519; do
	for profile in server client peer; do
		name="$profile-$key"
		serial=$(cap issue --env dev --profile "$profile" --cn "$name.internal" --name "$name" \
			--key "$key" --ip 127.0.0.1 --service web) || { not_ok "issue $name"; continue; }
		like "$name: prints the serial" "$serial" '^[0-9a-f]{32}$'
		"$CAPSTAN" export "$name" --format chain --out "$T/$name.chain"
		openssl x509 -in "$T/$name.chain" -noout -text >"$T/$name.txt"
		check "$name: openssl verify -x509_strict -purpose $(purpose_of "$profile")" \
			openssl_verify "$(purpose_of "$profile")" "$trust" "$T/$name.chain"
		[ "$profile" = peer ] && check "$name: also valid as a TLS client" \
			openssl_verify sslclient "$trust" "$T/$name.chain"
		check "$name: certtool --verify" certtool_verify "$trust" "$T/$name.chain"
		like "$name: EKU" "$(grep -A1 'Extended Key Usage' "$T/$name.txt" | tail -1)" "^ *$(eku_of "$profile")\$"
		case $key in
		rsa-*) want='Digital Signature, Key Encipherment' ;;
		*) want='Digital Signature' ;;
		esac
		like "$name: key usage" "$(grep -A1 'Key Usage: critical' "$T/$name.txt" | sed -n 2p)" "^ *$want\$"
	done
done

# The shape of one leaf, in detail.
cap issue --env dev --profile server --cn web.internal --dns www.internal --ip 10.0.0.1 \
	--uri spiffe://example/web >"$T/serial" || not_ok "issue web.internal"
"$CAPSTAN" export web.internal --format cert --out "$T/web.pem"
openssl x509 -in "$T/web.pem" -noout -text >"$T/web.txt"
like "leaf: CA:FALSE, critical" "$(grep -A1 'Basic Constraints: critical' "$T/web.txt" | tail -1)" '^ *CA:FALSE$'
like "leaf: the CN is in the SAN, with the rest" "$(grep -A1 'Subject Alternative Name' "$T/web.txt" | tail -1)" \
	'DNS:web.internal, DNS:www.internal, IP Address:10.0.0.1, URI:spiffe://example/web'
check "leaf: AKI" grep -q 'Authority Key Identifier' "$T/web.txt"
check "leaf: SKI" grep -q 'Subject Key Identifier' "$T/web.txt"
like "leaf: O from the environment" "$(openssl x509 -in "$T/web.pem" -noout -subject)" 'O = Example Corp, CN = web.internal'
serial_hex=$(openssl x509 -in "$T/web.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
is "leaf: the printed serial is the certificate's" "$serial_hex" "$(cat "$T/serial")"
nb=$(date -d "$(openssl x509 -in "$T/web.pem" -noout -startdate | cut -d= -f2)" +%s)
backdate=$(( $(date +%s) - nb ))
check "leaf: notBefore is backdated a few minutes" test "$backdate" -ge 240 -a "$backdate" -le 400
na=$(date -d "$(openssl x509 -in "$T/web.pem" -noout -enddate | cut -d= -f2)" +%s)
is "leaf: 90 days by default" "$(( (na - $(date +%s) + 60) / 86400 ))" 90
check "export the key" cap export web.internal --format key --out "$T/web.key"
check "the key matches the certificate" \
	cmp <(openssl x509 -in "$T/web.pem" -noout -pubkey) <(openssl pkey -in "$T/web.key" -pubout)
is "exported key is 0600" "$(stat -c %a "$T/web.key")" 600
is "exported certificate is 0644" "$(stat -c %a "$T/web.pem")" 644
like "key is PKCS8" "$(head -1 "$T/web.key")" '^-----BEGIN PRIVATE KEY-----$'
"$CAPSTAN" export web.internal --format der --out "$T/web.der"
check "der export is the same certificate" cmp <(openssl x509 -in "$T/web.der" -inform DER) "$T/web.pem"
is "chain: leaf then intermediate" "$(grep -c 'BEGIN CERTIFICATE' "$T/server-ec-p256.chain")" 2

# Lifetimes: --days takes a duration; a leaf never outlives its issuer.
check "issue with --days 30" cap issue --env dev --profile client --cn short --days 30
na=$(date -d "$(cap show short --pem | openssl x509 -noout -enddate | cut -d= -f2)" +%s)
is "30 days" "$(( (na - $(date +%s) + 60) / 86400 ))" 30
cap init --env brief --ca-days 10 >/dev/null
check "a leaf longer than its issuer is cut" cap issue --env brief --profile client --cn long --days 1y
like "and the user is told" "$(cat "$T/err")" "note: 'long' ends with its issuer"
is "long ends with its issuer" "$("$CAPSTAN" --json show long | jq -r .not_after)" \
	"$("$CAPSTAN" --json list --ca --env brief | jq -r '.[] | select(.kind == "intermediate") | .not_after')"

# The passphrase from the environment works as well as the file.
check "CAPSTAN_PASSPHRASE unlocks" env CAPSTAN_PASSPHRASE="e2e test passphrase" \
	"$CAPSTAN" issue --env dev --profile client --cn from-env
# Keys at rest are encrypted: no PEM or PKCS8 key material in the database.
db_dump >"$T/dump"
like "(the dump holds the certificates)" "$(cat "$T/dump")" 'from-env'
check_fails "no plaintext key in the database" grep -q 'PRIVATE KEY' "$T/dump"
is "every leaf has a sealed key" "$(db_sql 'SELECT count(*) FROM certs WHERE key_id IS NULL')" 0

done_testing
