#!/usr/bin/env bash
# convert: inputs detected (PEM, DER, PKCS1, SEC1, PKCS8, encrypted PKCS8,
# PKCS12), chains put in order, round trips byte-identical, and refusals
# that leave no output file.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null && cap init --env prod >/dev/null || exit 1
cap issue --env dev --profile server --cn web.internal >/dev/null
cap issue --env dev --profile server --cn rsa.internal --key rsa-2048 >/dev/null
cap issue --env prod --profile server --cn other.internal >/dev/null
secret_file "$T/pw" convert-pass
for f in cert chain der; do "$CAPSTAN" export web.internal --format "$f" --out "$T/web.$f"; done
cap export web.internal --format key --out "$T/web.key"
cap export rsa.internal --format key --out "$T/rsa.key"
"$CAPSTAN" export rsa.internal --format cert --out "$T/rsa.cert"
cap export other.internal --format key --out "$T/other.key"
"$CAPSTAN" trust --env dev --out "$T/root.pem"
conv() { "$CAPSTAN" convert "$@"; }

# Round trips.
check "PEM -> DER" conv --in "$T/web.cert" --to der --out "$T/rt.der"
check "is the certificate's DER" cmp "$T/rt.der" "$T/web.der"
check "DER -> PEM" conv --in "$T/rt.der" --to cert --out "$T/rt.pem"
check "is byte-identical to the PEM we started with" cmp "$T/rt.pem" "$T/web.cert"
check "PEM (chain + key) -> PKCS12" conv --in "$T/web.chain" --key "$T/web.key" --to pkcs12 --password-file "$T/pw" --out "$T/rt.p12"
check "PKCS12 -> PEM" conv --in "$T/rt.p12" --to pem --password-file "$T/pw" --out "$T/rt-all.pem"
check "is the chain and the key, byte for byte" cmp "$T/rt-all.pem" <(cat "$T/web.chain" "$T/web.key")
check "PKCS12 -> key" conv --in "$T/rt.p12" --to key --password-file "$T/pw" --out "$T/rt.key"
check "is the same PKCS8 key" cmp "$T/rt.key" "$T/web.key"
is "keys are written 0600" "$(stat -c %a "$T/rt.key")" 600

# Key encodings are detected.
openssl pkey -in "$T/web.key" -traditional -out "$T/web.sec1" 2>/dev/null
openssl pkey -in "$T/rsa.key" -traditional -out "$T/rsa.pkcs1" 2>/dev/null
openssl pkey -in "$T/web.key" -outform DER -out "$T/web.key.der"
openssl pkcs8 -topk8 -in "$T/web.key" -v2 aes-256-cbc -passout file:"$T/pw" -out "$T/web.enc"
like "(fixture: SEC1)" "$(head -1 "$T/web.sec1")" "BEGIN EC PRIVATE KEY"
like "(fixture: PKCS1)" "$(head -1 "$T/rsa.pkcs1")" "BEGIN RSA PRIVATE KEY"
for input in web.sec1 web.key.der web.enc; do
	check "$input -> PKCS8" conv --in "$T/$input" --to key --password-file "$T/pw" --out "$T/$input.pk8"
	check "$input: the same key" cmp "$T/$input.pk8" "$T/web.key"
done
check "PKCS1 (RSA) -> PKCS8" conv --in "$T/rsa.pkcs1" --to key --out "$T/rsa.pk8"
check "the same RSA key" cmp "$T/rsa.pk8" "$T/rsa.key"

# Encrypted PKCS8 out, read by OpenSSL.
check "-> pkcs8-enc" conv --in "$T/web.key" --to pkcs8-enc --password-file "$T/pw" --out "$T/web.p8e"
like "an ENCRYPTED PRIVATE KEY" "$(head -1 "$T/web.p8e")" "BEGIN ENCRYPTED PRIVATE KEY"
check "openssl decrypts it" openssl pkey -in "$T/web.p8e" -passin file:"$T/pw" -out "$T/web.p8e.plain"
check "to the same key" cmp <(openssl pkey -in "$T/web.p8e.plain") <(openssl pkey -in "$T/web.key")
like "PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC" "$(openssl asn1parse -in "$T/web.p8e" | tr -s ' ' | grep -oE 'PBES2|PBKDF2|hmacWithSHA256|aes-256-cbc' | tr '\n' ' ')" \
	"PBES2 PBKDF2 hmacWithSHA256 aes-256-cbc"
check "and back through capstan" conv --in "$T/web.p8e" --to key --password-file "$T/pw" --out "$T/back.key"
check "the same key again" cmp "$T/back.key" "$T/web.key"
check "export --format pkcs8-enc from the inventory" cap export web.internal --format pkcs8-enc --password-file "$T/pw" --out "$T/inv.p8e"
check "openssl reads it" openssl pkey -in "$T/inv.p8e" -passin file:"$T/pw" -noout
check "export --format key is read by openssl" openssl pkey -in "$T/web.key" -noout

# Chains are put in order.
intermediate=$(sed -n '/BEGIN/,/END/p' "$T/web.chain" | awk '/BEGIN/{n++} n==2')
printf '%s\n' "$intermediate" >"$T/inter.pem"
cat "$T/inter.pem" "$T/web.cert" >"$T/backwards.pem"
check "a chain given backwards" conv --in "$T/backwards.pem" --key "$T/web.key" --to chain --out "$T/ordered.pem"
check "comes out leaf first" cmp "$T/ordered.pem" "$T/web.chain"
check "without a key, the leaf is the one that issued nothing" conv --in "$T/backwards.pem" --to chain --out "$T/ordered2.pem"
check "the same order" cmp "$T/ordered2.pem" "$T/web.chain"
check "the root may come along, last" conv --in "$T/root.pem" --chain "$T/backwards.pem" --key "$T/web.key" --to pkcs12 --password-file "$T/pw" --out "$T/full.p12"
is "a chain of 3 in the keystore" \
	"$(keytool -list -v -keystore "$T/full.p12" -storepass "$(cat "$T/pw")" 2>/dev/null | grep 'chain length')" "Certificate chain length: 3"
check "a truststore from a CA bundle" conv --in "$T/root.pem" --to truststore --password-file "$T/pw" --out "$T/ca.p12"
is "keytool: one trustedCertEntry" \
	"$(keytool -list -keystore "$T/ca.p12" -storepass "$(cat "$T/pw")" 2>/dev/null | grep -c trustedCertEntry)" 1
check "a JKS keystore from files" conv --in "$T/web.chain" --key "$T/web.key" --to jks --password-file "$T/pw" --alias web --out "$T/web.jks"
like "keytool lists it with the alias given" \
	"$(keytool -list -keystore "$T/web.jks" -storetype JKS -storepass "$(cat "$T/pw")" 2>/dev/null | grep PrivateKeyEntry)" "^web, "

# Refusals: a nonzero exit, one line, no output file.
refuses_no_file() {
	local desc=$1 pattern=$2; shift 2
	rm -f "$T/refused.out"
	refuses "$desc" 1 "$pattern" "$@" --out "$T/refused.out"
	check_fails "$desc: no output file" test -e "$T/refused.out"
}
head -c 300 "$T/web.cert" >"$T/truncated.pem"
refuses_no_file "truncated PEM" "'.*truncated.pem' is truncated or not valid PEM" conv --in "$T/truncated.pem" --to der
printf -- '-----BEGIN CERTIFICATE-----\n!!!not*base64!!!\n-----END CERTIFICATE-----\n' >"$T/junk.pem"
refuses_no_file "base64 junk in PEM armour" "junk.pem' is truncated or not valid PEM" conv --in "$T/junk.pem" --to der
refuses_no_file "a wrong password" "wrong password for '.*rt.p12'" \
	conv --in "$T/rt.p12" --to pem --in-password-file <(echo wrong-password)
refuses_no_file "a PKCS12 without its password" "is a password-protected PKCS12: its password is needed \(--in-password-file or --password-file\)" \
	conv --in "$T/rt.p12" --to pem
refuses_no_file "a wrong password for an encrypted key" "wrong password for '.*web.enc'" \
	conv --in "$T/web.enc" --to key --in-password-file <(echo wrong-password)
refuses_no_file "a mismatched key" "the private key does not match any certificate given" \
	conv --in "$T/web.chain" --key "$T/other.key" --to pkcs12 --password-file "$T/pw"
refuses_no_file "a missing password" "format pkcs12 needs a store password \(--password-file or CAPSTAN_STORE_PASSWORD\)" \
	conv --in "$T/web.chain" --key "$T/web.key" --to pkcs12
refuses_no_file "a too short password" "at least 6 characters" \
	conv --in "$T/web.chain" --key "$T/web.key" --to pkcs12 --password-file <(echo abc)
refuses_no_file "a keystore without a key" "format jks needs a private key" \
	conv --in "$T/web.chain" --to jks --password-file "$T/pw"
cat "$T/web.cert" "$T/root.pem" >"$T/gap.pem"
refuses_no_file "a gap in the chain" "'prod Root CA' does not fit|'dev Root CA' does not fit in the chain, which ends at 'web.internal'" \
	conv --in "$T/gap.pem" --key "$T/web.key" --to chain
openssl genrsa -out "$T/weak.key" 1024 2>/dev/null
refuses_no_file "a weak key" "RSA key of 1024 bits is too weak" conv --in "$T/weak.key" --to key
openssl req -new -key "$T/web.key" -subj /CN=x -out "$T/x.csr" 2>/dev/null
refuses_no_file "a CSR is not a certificate" "is a certificate signing request" conv --in "$T/x.csr" --to der
head -c 512 /dev/urandom >"$T/random.bin"
refuses_no_file "random bytes" "is not a certificate, a private key or a PKCS12 file" conv --in "$T/random.bin" --to der
: >"$T/empty"
refuses_no_file "an empty file" "'.*empty' is empty" conv --in "$T/empty" --to der
refuses_no_file "two keys" "two private keys given" conv --in "$T/web.key" --key "$T/other.key" --to key
refuses_no_file "a JKS as input is named" "is a JKS keystore" conv --in "$T/web.jks" --to pem --password-file "$T/pw"
refuses_no_file "--legacy on JKS" "legacy encryption is for PKCS12 \(pkcs12, truststore\) only \(--legacy\)" conv --in "$T/web.chain" --key "$T/web.key" --to jks --legacy --password-file "$T/pw"
refuses "an unknown --to" 2 "invalid --to 'p7b'" conv --in "$T/web.cert" --to p7b --out "$T/x"
refuses "--in is required" 2 "--in is required" conv --to der --out "$T/x"
printf 'precious\n' >"$T/keep.pem"
refuses "a failed conversion leaves an existing file alone" 1 "not a certificate" conv --in "$T/random.bin" --to der --out "$T/keep.pem"
is "still there, unchanged" "$(cat "$T/keep.pem")" precious
refuses "export pkcs12 without a password" 1 "needs a store password \(--password-file or CAPSTAN_STORE_PASSWORD\)" cap export web.internal --format pkcs12 --out "$T/nopw.p12"
check_fails "and no file" test -e "$T/nopw.p12"

done_testing
