#!/usr/bin/env bash
# capstan lint: silent on everything capstan issues (roots, intermediates
# before and after a rotation, server/client/peer leaves of every key type,
# a CSR's, serve's sign, the OCSP responder's certificate); one line per
# finding on certificates crafted with openssl, exit 1 on an error; PEM with
# several certificates and DER; one capstan: line for a file that is not one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve-lib.sh"
cleanup() { stop_serve; rm -rf "$T"; }
trap cleanup EXIT

TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)
URL="http://127.0.0.1:$HTTP_PORT"
cat >"$T/capstan.yaml" <<YAML
environments: { prod: {} }
api:
  listen: 127.0.0.1:$TLS_PORT
  http: 127.0.0.1:$HTTP_PORT
  public_url: $URL
  server: { env: prod, name: capstan-api }
  clients:
    - { env: prod, name: ops, allow: [sign], environments: [prod], profiles: [server], dns: ["*.internal"] }
YAML
cap apply --config "$T/capstan.yaml" >/dev/null || exit 1
cap issue --env prod --profile server --cn capstan-api --dns localhost --ip 127.0.0.1 >/dev/null || exit 1
cap issue --env prod --profile client --cn ops >/dev/null && identity prod ops || exit 1
cap trust --env prod --out "$T/prod-ca.pem" >/dev/null

# --- what capstan issues
names=(capstan-api ops)
# issue NAME ARGS...: a leaf named NAME in prod.
issue() { cap issue --env prod --name "$1" "${@:2}" >/dev/null && names+=("$1"); }
issue web.internal --profile server --key ec-p384 --dns web.internal --dns '*.apps.internal' --cn web.internal
issue ip --profile server --key rsa-2048 --ip 10.0.0.7 --cn 10.0.0.7
issue alice --profile client --key ed25519 --cn 'Alice Example'
issue node1 --profile peer --key rsa-3072 --dns node1.internal --ip 2001:db8::1 --uri spiffe://prod/node1 \
	--email ops@example.com --cn node1
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=csr.internal \
	-keyout "$T/csr.key" -out "$T/csr.csr" 2>/dev/null
issue csr.internal --profile server --csr "$T/csr.csr" --cn csr.internal
cap renew web.internal --env prod >/dev/null
cap rotate node1 --env prod >/dev/null
cap rotate --env prod --intermediate >/dev/null
issue after.internal --profile server --dns after.internal --cn after.internal
is "(fixture: ${#names[@]} leaves issued)" "${#names[@]}" 8
for n in "${names[@]}" root-ca intermediate-ca-1 intermediate-ca-2; do
	"$CAPSTAN" export "$n" --env prod --format cert --out "$T/issued-$n.pem" >/dev/null ||
		not_ok "export $n"
done
# serve's sign and its OCSP responder certificate
check "serve starts" start_serve --config "$T/capstan.yaml"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=signed.internal \
	-keyout "$T/signed.key" -out "$T/signed.csr" 2>/dev/null
api ops POST /v1/environments/prod/sign -H 'Content-Type: application/json' \
	-d "$(jq -n --rawfile csr "$T/signed.csr" '{csr: $csr, profile: "server", dns: ["signed.internal"]}')"
is "serve signs a CSR" "$(status)" 201
jq -r .certificate "$T/body" >"$T/issued-serve-signed.pem"
openssl ocsp -issuer "$T/issued-intermediate-ca-2.pem" -cert "$T/issued-after.internal.pem" -url "$URL/ocsp" \
	-CAfile "$T/prod-ca.pem" -no_nonce -resp_text 2>/dev/null |
	sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' >"$T/issued-ocsp-responder.pem"
like "(fixture: the OCSP responder's certificate)" "$(openssl x509 -in "$T/issued-ocsp-responder.pem" -noout \
	-subject 2>&1)" "OCSP Responder"
stop_serve
SERVE_PID=
"$CAPSTAN" lint "$T"/issued-*.pem >"$T/out" 2>"$T/err"
is "lint on the $(ls "$T"/issued-*.pem | wc -l) certificates capstan issued exits 0" "$?" 0
is "and says nothing" "$(cat "$T/out" "$T/err")" ""
cat "$T"/issued-*.pem >"$T/all.pem"
check "all of them in one PEM: silent too" sh -c "'$CAPSTAN' lint '$T/all.pem' | grep -c . | grep -qx 0"
openssl x509 -in "$T/issued-node1.pem" -outform DER -out "$T/node1.der"
check "a DER certificate capstan issued" "$CAPSTAN" lint "$T/node1.der"
is "needs no home" "$(CAPSTAN_HOME=$T/none "$CAPSTAN" lint "$T/node1.der"; echo "rc=$?")" "rc=0"

# --- crafted with openssl
cat >"$T/ext.cnf" <<'CNF'
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:ok.example.com
[nosan]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[badnames]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:www.*.example.com, DNS:10.1.2.3
[kunc]
basicConstraints = critical, CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:ok.example.com
CNF
# openssl req -x509 makes a CA without keyUsage (RFC 5280 wants it: ca-key-usage).
CA_KU=(-addext "keyUsage = critical, keyCertSign, cRLSign")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=Craft-CA -days 30 "${CA_KU[@]}" \
	-keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
# craft NAME SECTION [openssl x509 -req ARGS]: a leaf under ca.pem with a fresh P-256 key.
craft() {
	local name=$1 section=$2; shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
		-keyout "$T/$name.key" -out "$T/$name.csr" 2>/dev/null &&
		openssl x509 -req -in "$T/$name.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -days 30 \
			-extfile "$T/ext.cnf" -extensions "$section" -out "$T/$name.pem" "$@" 2>/dev/null
}
check "(fixture: a good leaf under an openssl CA)" craft good leaf -set_serial 0x1234
check "lint passes the openssl CA and its good leaf" "$CAPSTAN" lint "$T/ca.pem" "$T/good.pem"
is "silently" "$(cat "$T/out")" ""
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=plain -days 1 \
	-keyout "$T/plain.key" -out "$T/plain.pem" 2>/dev/null
is "openssl req -x509 as it comes: a CA without keyUsage" "$("$CAPSTAN" lint "$T/plain.pem")" \
	"$T/plain.pem: error: ca-key-usage: a CA certificate has no keyUsage"

openssl req -x509 -newkey rsa:1024 -nodes -subj /CN=weak -days 1 "${CA_KU[@]}" -keyout "$T/weak.key" -out "$T/weak.pem" 2>/dev/null
out=$("$CAPSTAN" lint "$T/weak.pem")
is "a 1024-bit RSA key: exit 1" "$?" 1
like "one line naming the rule" "$out" "^$T/weak.pem: error: key-rsa-too-small: an RSA key of 1024 bits"
is "and only that" "$(printf '%s\n' "$out" | wc -l)" 1

if craft long leaf -set_serial 0x$(printf '11%.0s' $(seq 21)); then
	out=$("$CAPSTAN" lint "$T/long.pem")
	is "a serial of 21 octets: exit 1" "$?" 1
	is "serial-too-long" "$out" "$T/long.pem: error: serial-too-long: the serial number is 21 octets long (at most 20)"
else
	skip "a serial of 21 octets" "this openssl refuses to make one (the unit test does)"
	skip "serial-too-long" "as above"
fi

check "(fixture: a server certificate without a SAN)" craft nosan nosan
out=$("$CAPSTAN" lint "$T/nosan.pem")
is "a server certificate without SAN: exit 1" "$?" 1
is "san-missing" "$out" "$T/nosan.pem: error: san-missing: a TLS server certificate has no subjectAltName (verifiers ignore the CN)"

check "(fixture: bad DNS names)" craft badnames badnames
out=$("$CAPSTAN" lint "$T/badnames.pem")
like "a wildcard inside a name" "$out" "error: san-dns-wildcard: the DNS name 'www.\*.example.com'"
like "an address as a DNS name" "$out" "error: san-dns-ip: the DNS name '10.1.2.3' is an IP address"

check "(fixture: SHA-1 signed)" craft sha1 leaf -sha1
like "a SHA-1 signature" "$("$CAPSTAN" lint "$T/sha1.pem")" "error: signature-weak-hash: .*SHA1"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-521 -nodes -subj /CN=p521 -days 1 "${CA_KU[@]}" \
	-keyout "$T/p521.key" -out "$T/p521.pem" 2>/dev/null
like "a P-521 key" "$("$CAPSTAN" lint "$T/p521.pem")" "error: key-ec-curve: an EC key on secp521r1"

check "(fixture: keyUsage not critical)" craft kunc kunc
out=$("$CAPSTAN" lint "$T/kunc.pem")
is "warnings alone exit 0" "$?" 0
is "but are said" "$out" "$T/kunc.pem: warning: key-usage-not-critical: keyUsage is not critical"

is "-q keeps the errors only" "$("$CAPSTAN" -q lint "$T/kunc.pem"; echo "rc=$?")" "rc=0"
out=$("$CAPSTAN" --json lint "$T/kunc.pem" "$T/weak.pem")
is "--json: exit 1 on an error" "$?" 1
is "one document: each file with its findings, and the counts" \
	"$(printf '%s' "$out" | jq -c '[.errors, .warnings, [.files[] | [.file, .certificates, [.findings[] | .rule]]]]')" \
	"[1,1,[[\"$T/kunc.pem\",1,[\"key-usage-not-critical\"]],[\"$T/weak.pem\",1,[\"key-rsa-too-small\"]]]]"
openssl x509 -in "$T/weak.pem" -outform DER -out "$T/weak.der"
is "DER: the same finding" "$("$CAPSTAN" lint "$T/weak.der")" \
	"$T/weak.der: error: key-rsa-too-small: an RSA key of 1024 bits (at least 2048)"
cat "$T/good.pem" "$T/nosan.pem" >"$T/two.pem"
out=$("$CAPSTAN" lint "$T/two.pem")
is "a PEM with two certificates: exit 1" "$?" 1
is "the finding names the second" "$out" \
	"$T/two.pem[2]: error: san-missing: a TLS server certificate has no subjectAltName (verifiers ignore the CN)"
cat "$T/good.key" "$T/good.pem" >"$T/key-and-cert.pem"
check "a key block before the certificate is skipped" "$CAPSTAN" lint "$T/key-and-cert.pem"

# --- what is not a certificate
echo "hello" >"$T/junk.txt"
refuses "a file that is not a certificate" 1 "$T/junk.txt: not a certificate" "$CAPSTAN" lint "$T/junk.txt"
refuses "a PEM without a certificate" 1 "no certificate in the PEM" "$CAPSTAN" lint "$T/good.key"
refuses "a missing file" 1 "cannot open '$T/missing.pem'" "$CAPSTAN" lint "$T/missing.pem"
"$CAPSTAN" lint "$T/missing.pem" "$T/weak.pem" "$T/good.pem" >"$T/out" 2>"$T/err"
is "several files, one missing: exit 1" "$?" 1
is "the others are linted" "$(cat "$T/out")" "$T/weak.pem: error: key-rsa-too-small: an RSA key of 1024 bits (at least 2048)"
is "the missing one is one line" "$(wc -l <"$T/err")" 1
refuses "no file" 2 "a certificate file is required" "$CAPSTAN" lint

done_testing
