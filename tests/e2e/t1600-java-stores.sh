#!/usr/bin/env bash
# Keystores and truststores that Java itself loads: keytool lists them, and a
# Java program completes mutual TLS over 127.0.0.1 with them.
. "$(dirname "$0")/lib.sh"
handshake="$(cd "$(dirname "$0")" && pwd)/java/TlsHandshake.java"

cap init --env dev >/dev/null || exit 1
cap issue --env dev --profile server --cn localhost --ip 127.0.0.1 >/dev/null
cap issue --env dev --profile client --cn app-client >/dev/null
printf 'store-pass-1\n' >"$T/pw"
chmod 600 "$T/pw"
export_store() { cap export "$1" --format "$2" --password-file "$T/pw" --out "$3" "${@:4}"; }

# keytool_list STORE TYPE: what keytool -list -v says, on one line per fact.
keytool_list() {
	keytool -list -v -keystore "$1" -storetype "$2" -storepass "$(cat "$T/pw")" 2>&1 |
		grep -E 'Your keystore contains|Entry type|Certificate chain length|Alias name'
}

for kind in modern legacy jks; do
	case $kind in
	modern) ks=pkcs12 ts=truststore type=PKCS12 extra=() ;;
	legacy) ks=pkcs12 ts=truststore type=PKCS12 extra=(--legacy) ;;
	jks) ks=jks ts=jks-truststore type=JKS extra=() ;;
	esac
	check "$kind: export the server keystore" export_store localhost "$ks" "$T/server.$kind" "${extra[@]}"
	check "$kind: export the client keystore" export_store app-client "$ks" "$T/client.$kind" "${extra[@]}"
	check "$kind: export the truststore" export_store app-client "$ts" "$T/trust.$kind" "${extra[@]}"
	is "$kind: keystores are 0600" "$(stat -c %a "$T/server.$kind")" 600
	is "$kind: truststores are 0644" "$(stat -c %a "$T/trust.$kind")" 644
	keytool_list "$T/server.$kind" "$type" >"$T/ks.txt"
	check "$kind: keytool sees a PrivateKeyEntry" grep -q 'Entry type: PrivateKeyEntry' "$T/ks.txt"
	like "$kind: with the whole chain" "$(grep 'Certificate chain length' "$T/ks.txt")" 'length: [23]$'
	check "$kind: aliased by the certificate's name" grep -q 'Alias name: localhost' "$T/ks.txt"
	keytool_list "$T/trust.$kind" "$type" >"$T/ts.txt"
	check "$kind: keytool sees a trustedCertEntry" grep -q 'Entry type: trustedCertEntry' "$T/ts.txt"
	check "$kind: Java completes mutual TLS with them" \
		java "$handshake" "$T/server.$kind" "$type" "$T/client.$kind" "$type" "$T/trust.$kind" "$type" "$T/pw"
	like "$kind: both sides were authenticated" "$(cat "$T/out")" "handshake ok: TLSv1\.[23] .* server=CN=localhost.* client=CN=app-client"
done

# --alias: what keytool lists (JKS lower-cased as Java does), never cut or mangled.
check "--alias names the JKS entry" export_store localhost jks "$T/alias.jks" --alias "Web Server"
check "keytool lists it lower-cased, as Java keeps JKS aliases" \
	sh -c "keytool -list -keystore '$T/alias.jks' -storetype JKS -storepass:file '$T/pw' | grep -q '^web server,'"
refuses "a non-ASCII JKS alias is refused, not mangled" 1 "invalid alias 'caf.*': a JKS alias is printable ASCII" \
	export_store localhost jks "$T/bad.jks" --alias "$(printf 'caf\303\251')"
refuses "an alias past 255 bytes is refused, not cut" 1 "invalid alias: it needs 1 to 255 bytes, not 256" \
	export_store localhost pkcs12 "$T/bad.p12" --alias "$(printf '%0256d' 0)"
[ ! -e "$T/bad.jks" ] && [ ! -e "$T/bad.p12" ] && ok "and nothing is written" || not_ok "and nothing is written"

check "openssl reads the modern PKCS12" openssl pkcs12 -in "$T/server.modern" -info -noout -passin file:"$T/pw"
like "modern: AES-256-CBC with PBKDF2-HMAC-SHA256" "$(cat "$T/err")" "PBES2, PBKDF2, AES-256-CBC.*PRF hmacWithSHA256"
like "modern: a SHA-256 MAC" "$(cat "$T/err")" "MAC: sha256"
check "openssl reads the legacy PKCS12" openssl pkcs12 -in "$T/server.legacy" -info -noout -passin file:"$T/pw"
like "legacy: 3DES" "$(cat "$T/err")" "pbeWithSHA1And3-KeyTripleDES-CBC"
like "legacy: a SHA-1 MAC" "$(cat "$T/err")" "MAC: sha1"
check "a wrong password is refused by Java (JKS integrity)" bash -c \
	"keytool -list -keystore '$T/server.jks' -storetype JKS -storepass wrong-pass 2>&1 | grep -q 'password was incorrect'"

# Why the attribute matters: the truststore OpenSSL 3.0 writes is empty to Java.
"$CAPSTAN" trust --env dev --out "$T/ca.pem"
openssl pkcs12 -export -nokeys -in "$T/ca.pem" -out "$T/openssl-trust.p12" -passout file:"$T/pw" 2>/dev/null
is "control: keytool lists no entry in openssl's truststore" \
	"$(keytool_list "$T/openssl-trust.p12" PKCS12 | grep -c trustedCertEntry)" 0
check_fails "control: Java cannot handshake with it" \
	java "$handshake" "$T/server.modern" PKCS12 "$T/client.modern" PKCS12 "$T/openssl-trust.p12" PKCS12 "$T/pw"
like "control: the reason" "$(cat "$T/err")" "truststore holds no trusted certificate"

# The environment variable works as well as the file.
check "CAPSTAN_STORE_PASSWORD" env CAPSTAN_STORE_PASSWORD="$(cat "$T/pw")" \
	"$CAPSTAN" --passphrase-file "$PASS" export localhost --format pkcs12 --out "$T/env.p12"
check "and keytool opens it with that password" keytool -list -keystore "$T/env.p12" -storepass "$(cat "$T/pw")"

done_testing
