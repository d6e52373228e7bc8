#!/usr/bin/env bash
# import: an existing CA adopted as a new environment. An intermediate signs
# the leaves itself under its root (--chain); a root gets a capstan
# intermediate. Keys sealed on the way in, every certificate explained by the
# audit log (check), imported lines renewed, revoked and exported like
# native ones, and each refusal one line that changes nothing.
. "$(dirname "$0")/lib.sh"

# An outside PKI, made with openssl: a root, an intermediate under it, a leaf.
X=$T/outside
mkdir -p "$X"
ca_ext() { printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n'; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$X/root.key" -out "$X/root.crt" \
	-days 3650 -subj "/O=Outside/CN=Outside Root" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || exit 1
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$X/inter.key" -out "$X/inter.csr" \
	-subj "/O=Outside/CN=Outside Issuing CA" 2>/dev/null &&
	openssl x509 -req -in "$X/inter.csr" -CA "$X/root.crt" -CAkey "$X/root.key" -CAcreateserial -days 1825 \
		-extfile <(ca_ext) -out "$X/inter.crt" 2>/dev/null || exit 1
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$X/leaf.key" -out "$X/leaf.csr" \
	-subj "/CN=leaf.outside" 2>/dev/null &&
	openssl x509 -req -in "$X/leaf.csr" -CA "$X/inter.crt" -CAkey "$X/inter.key" -CAcreateserial -days 90 \
		-extfile <(printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:leaf.outside\n') -out "$X/leaf.crt" 2>/dev/null || exit 1
# Two more roots, one with an encrypted key.
for r in root2 root3; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$X/$r.key" -out "$X/$r.crt" \
		-days 3650 -subj "/O=Outside/CN=Outside ${r^}" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || exit 1
done
secret_file "$T/kpw" 'import key password'
openssl pkcs8 -topk8 -in "$X/root3.key" -v2 aes-256-cbc -passout file:"$T/kpw" -out "$X/root3.enc" || exit 1
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//'; }

# An intermediate, its chain up to its root.
imported_at=$(date +%s)
check "import an intermediate with its chain" cap import --env ext --ca-cert "$X/inter.crt" --ca-key "$X/inter.key" --chain "$X/root.crt"
like "it says what it imported" "$(head -1 "$T/out")" "^imported environment 'ext'"
like "the intermediate is the outside one" "$(grep 'intermediate CA' "$T/out")" "intermediate CA +[0-9a-f]+ +.*Outside Issuing CA"
is "the root is recorded without a key, the intermediate with its key" \
	"$(db_sql "SELECT c.kind || ':' || c.name || ':' || ltrim(c.serial, '0') || ':' || (CASE WHEN c.key_id IS NULL THEN 0 ELSE 1 END) FROM certs c JOIN envs e ON e.id = c.env_id WHERE e.name = 'ext' ORDER BY c.id" | tr '\n' ' ')" \
	"root:root-ca:$(serial_of "$X/root.crt"):0 intermediate:intermediate-ca-1:$(serial_of "$X/inter.crt"):1 "
is "each has its audit row" "$(db_sql "SELECT op || ':' || name || ':' || detail FROM audit WHERE env = 'ext' ORDER BY id" | tr '\n' ' ')" \
	"import:root-ca:root CA imported without its key import:intermediate-ca-1:intermediate CA imported "
keyhex=$(openssl pkey -in "$X/inter.key" -outform DER | od -An -v -tx1 | tr -d ' \n')
check_fails "the key is not in the inventory in clear" grep -qi "$keyhex" <(db_dump | tr -d '\n')
"$CAPSTAN" trust --env ext --out "$T/ext-trust.pem"
is "the outside root is the environment's trust" "$(openssl x509 -in "$T/ext-trust.pem" -noout -fingerprint -sha256)" \
	"$(openssl x509 -in "$X/root.crt" -noout -fingerprint -sha256)"
check "a leaf issued in it" cap issue --env ext --profile server --cn web.ext
"$CAPSTAN" export web.ext --format chain --out "$T/web.chain"
like "is signed by the imported intermediate" "$(openssl x509 -in "$T/web.chain" -noout -issuer)" "CN ?= ?Outside Issuing CA"
check "and verifies with openssl up to the outside root" openssl_verify sslserver "$X/root.crt" "$T/web.chain"
check "renew it" cap renew web.ext
"$CAPSTAN" export web.ext --format chain --out "$T/web2.chain"
check "the renewal verifies" openssl_verify sslserver "$X/root.crt" "$T/web2.chain"
check "revoke it" cap revoke web.ext --reason keyCompromise
check "a CRL of the imported intermediate" cap crl --env ext --out "$T/ext.crl"
check "that openssl verifies against it" openssl crl -in "$T/ext.crl" -noout -CAfile <(cat "$X/inter.crt" "$X/root.crt")
# Its CRLs so far are unknown: capstan numbers on from the time of import,
# above any number it issued (RFC 5280 wants them increasing).
crl_no=$(openssl crl -in "$T/ext.crl" -noout -crlnumber | sed 's/^crlNumber=0x//')
check "the CRL's number is above any the CA could have issued (the import's time in seconds)" \
	test "$(printf %d "0x${crl_no:-0}")" -gt "$imported_at"
cat "$X/root.crt" "$T/ext.crl" >"$T/root+crl.pem"
check_fails "and that revokes the renewed leaf" openssl verify -crl_check -CAfile "$T/root+crl.pem" -untrusted "$T/web2.chain" "$T/web2.chain"
check "check passes after the import" cap check

# A root: a new capstan intermediate under it, as init makes one.
check "import a root (--json)" cap --json import --env outroot --ca-cert "$X/root2.crt" --ca-key "$X/root2.key"
is "the JSON has the same counts as a directory's: none" \
	"$(jq -c '[.env, .root.name, .certificates]' "$T/out")" \
	'["outroot","root-ca",{"imported":0,"valid":0,"revoked":0,"expired":0,"keys_sealed":0}]'
next_crl=$(jq .next_crl_number "$T/out")
check "and the next CRL number above the import's time" test "$next_crl" -gt "$imported_at"
cap crl --env outroot --all --out "$T/or.pem" >/dev/null || not_ok "crl --all of outroot"
awk -v d="$T" '/BEGIN X509 CRL/ { n++ } { print > (d "/or-" n ".pem") }' "$T/or.pem"
like "the root's first CRL carries that number" \
	"$(for f in "$T"/or-[0-9]*.pem; do openssl crl -in "$f" -noout -crlnumber; done)" "crlNumber=0x0*$(printf '%X' "$next_crl")"
is "the root with its key, a new intermediate with its own" \
	"$(db_sql "SELECT c.kind || ':' || c.name || ':' || (CASE WHEN c.key_id IS NULL THEN 0 ELSE 1 END) FROM certs c JOIN envs e ON e.id = c.env_id WHERE e.name = 'outroot' ORDER BY c.id" | tr '\n' ' ')" \
	"root:root-ca:1 intermediate:intermediate-ca-1:1 "
check "a leaf in it" cap issue --env outroot --profile client --cn alice
"$CAPSTAN" export alice --env outroot --format chain --out "$T/alice.chain"
like "the intermediate is capstan's" "$(openssl x509 -in "$T/alice.chain" -noout -issuer)" "CN ?= ?outroot Intermediate CA 1"
check "verifies up to the outside root" openssl_verify sslclient "$X/root2.crt" "$T/alice.chain"
check "rotate the intermediate under the imported root" cap rotate --env outroot --intermediate
check "an encrypted key opens with its password file" \
	cap import --env encrypted --ca-cert "$X/root3.crt" --ca-key "$X/root3.enc" --ca-key-password-file "$T/kpw"
check "check passes after every import" cap check

# Refusals: one line, nothing changed.
refuses "a key that is not the certificate's" 1 "the private key is not the key of 'Outside Issuing CA'" \
	cap import --env bad --ca-cert "$X/inter.crt" --ca-key "$X/root.key" --chain "$X/root.crt"
refuses "a leaf as --ca-cert" 1 "'leaf.outside' in .*leaf.crt is not a CA certificate" \
	cap import --env bad --ca-cert "$X/leaf.crt" --ca-key "$X/leaf.key" --chain "$X/inter.crt"
refuses "an existing environment" 1 "environment 'ext' already exists" \
	cap import --env ext --ca-cert "$X/inter.crt" --ca-key "$X/inter.key" --chain "$X/root.crt"
refuses "an intermediate without its chain" 1 "is not a root and its chain does not reach one" \
	cap import --env bad --ca-cert "$X/inter.crt" --ca-key "$X/inter.key"
refuses "an encrypted key without the password file" 1 "root3.enc' is an encrypted key: its password is needed" \
	cap import --env bad --ca-cert "$X/root3.crt" --ca-key "$X/root3.enc"
refuses "a CA the inventory holds already" 1 "the inventory holds certificate [0-9a-f]+ already \('root-ca' in outroot\)" \
	cap import --env again --ca-cert "$X/root2.crt" --ca-key "$X/root2.key"
refuses "a missing file" 1 "--ca-cert: .*nowhere.crt" \
	cap import --env bad --ca-cert "$X/nowhere.crt" --ca-key "$X/inter.key" --chain "$X/root.crt"
refuses "no --ca-key" 2 "--ca-cert and --ca-key are required" cap import --env bad --ca-cert "$X/inter.crt"
cat "$X/root.crt" "$X/root2.crt" >"$X/two-roots.pem"
refuses "a chain with a stray certificate" 1 "'Outside Root2' does not fit in the chain" \
	cap import --env bad --ca-cert "$X/inter.crt" --ca-key "$X/inter.key" --chain "$X/two-roots.pem"
check "check still passes" cap check

done_testing
