#!/usr/bin/env bash
# import --easy-rsa: a real easy-rsa 3 PKI (Debian's easy-rsa builds it)
# adopted whole (and an openssl ca directory, --openssl-ca, the same way): its CA, every certificate with its serial, status,
# revocation time and reason, the keys it kept (sealed), its CRL numbering
# continued; then bundled, renewed (renew --due too), rotated (a line imported
# without its key as well: a new key), revoked and exported under capstan, and
# check clean throughout. import --json counts what came. Refusals are one
# line and change nothing.
. "$(dirname "$0")/lib.sh"

EASYRSA_BIN=$(command -v easyrsa || echo /usr/share/easy-rsa/easyrsa)
[ -x "$EASYRSA_BIN" ] || { echo "1..0 # skip easy-rsa is not installed (scripts/deps.sh)"; exit 0; }
export EASYRSA=$(dirname "$(readlink -f "$EASYRSA_BIN")") EASYRSA_BATCH=1
# easyrsa PKI ARGS...: easy-rsa on PKI, quiet unless it fails.
easyrsa() {
	local pki=$1; shift
	EASYRSA_PKI=$pki "$EASYRSA_BIN" "$@" >"$T/easyrsa.log" 2>&1 || { cat "$T/easyrsa.log" >&2; return 1; }
}
# easy-rsa numbers its CRLs when its openssl configuration names a crlnumber file.
sed 's|^\(serial[[:space:]]*=.*\)$|\1\ncrlnumber = $dir/crlnumber|' "$EASYRSA/openssl-easyrsa.cnf" >"$T/numbered.cnf"
grep -q '^crlnumber' "$T/numbered.cnf" || { echo "Bail out! cannot set crlnumber in openssl-easyrsa.cnf"; exit 1; }

P=$T/pki
{ easyrsa "$P" init-pki && EASYRSA_SSL_CONF=$T/numbered.cnf EASYRSA_REQ_CN="Old VPN CA" easyrsa "$P" build-ca nopass; } || exit 1
for s in vpn.example old.example; do EASYRSA_SSL_CONF=$T/numbered.cnf easyrsa "$P" build-server-full "$s" nopass || exit 1; done
for c in alice bob carol; do EASYRSA_SSL_CONF=$T/numbered.cnf easyrsa "$P" build-client-full "$c" nopass || exit 1; done
EASYRSA_SSL_CONF=$T/numbered.cnf easyrsa "$P" revoke bob keyCompromise || exit 1
EASYRSA_SSL_CONF=$T/numbered.cnf easyrsa "$P" revoke old.example superseded || exit 1
echo 1000 >"$P/crlnumber"
for i in 1 2; do EASYRSA_SSL_CONF=$T/numbered.cnf easyrsa "$P" gen-crl || exit 1; done
like "(fixture: easy-rsa numbered its CRLs)" "$(openssl crl -in "$P/crl.pem" -noout -crlnumber)" "crlNumber=0x1001"
# carol's certificate was signed from a request: easy-rsa holds no key for it.
rm -f "$P/private/carol.key"

# index.txt's view: "NAME SERIAL STATUS REVOKED_AT REASON", names and serials normalized.
index_view() {
	awk -F'\t' '{ n = $6; sub(/.*\/CN=/, "", n); sub(/\/.*/, "", n); s = tolower($4); sub(/^0+/, "", s)
		st = $1 == "R" ? "revoked" : "valid"; r = ""; t = ""
		if ($1 == "R") { split($3, a, ","); t = a[1]; r = a[2] }
		print n, s, st, t, r }' "$P/index.txt" | while read -r n s st t r; do
		at=; [ -n "$t" ] && at=$(date -u -d "20${t:0:2}-${t:2:2}-${t:4:2} ${t:6:2}:${t:8:2}:${t:10:2}" +%s)
		echo "$n $s $st $at $r"
	done | sort
}
inventory_view() {
	db_sql "SELECT c.name || ' ' || ltrim(lower(c.serial), '0') || ' ' || c.status || ' ' ||
		coalesce(CAST(c.revoked_at AS TEXT), '') || ' ' || coalesce(c.revoke_reason, '') FROM certs c
		JOIN envs e ON e.id = c.env_id WHERE e.name = 'vpn' AND c.kind = 'leaf'" | sed 's/ *$//' | sort
}

check "import the easy-rsa PKI" cap import --env vpn --easy-rsa "$P"
like "it says what came with it" "$(cat "$T/out")" "certificates +5 \(2 revoked, 0 expired, 4 with their key\); last CRL number 4097"
is "every certificate, with its serial, status, revocation time and reason" "$(inventory_view)" "$(index_view | sed 's/ *$//')"
is "the CA is the root, with its key; a capstan intermediate under it" \
	"$(db_sql "SELECT c.kind || ':' || c.name || ':' || (CASE WHEN c.key_id IS NULL THEN 0 ELSE 1 END) FROM certs c JOIN envs e ON e.id = c.env_id WHERE e.name = 'vpn' AND c.kind != 'leaf' ORDER BY c.id" | tr '\n' ' ')" \
	"root:root-ca:1 intermediate:intermediate-ca-1:1 "
is "the root is easy-rsa's CA" "$(openssl x509 -in "$(trust_of vpn)" -noout -fingerprint -sha256)" \
	"$(openssl x509 -in "$P/ca.crt" -noout -fingerprint -sha256)"
is "profiles from the EKU" "$(db_sql "SELECT c.name || ':' || c.profile FROM certs c JOIN envs e ON e.id = c.env_id WHERE e.name = 'vpn' AND c.name IN ('vpn.example', 'alice') ORDER BY c.name" | tr '\n' ' ')" \
	"alice:client vpn.example:server "
dump=$(db_dump | tr -d '\n')
for k in ca vpn.example alice; do
	hex=$(openssl pkey -in "$P/private/$k.key" -outform DER | od -An -v -tx1 | tr -d ' \n')
	check_fails "$k's key is not in the inventory in clear" grep -qi "$hex" <<<"$dump"
done
cap export alice --env vpn --format key --out "$T/alice.key"
is "alice's key is sealed and comes back out" "$(openssl pkey -in "$T/alice.key" -pubout)" \
	"$(openssl pkey -in "$P/private/alice.key" -pubout)"
check "check is clean after the import" cap check

# crl_of ISSUER FILE: the CRL of FILE's (PEM, several) whose issuer matches, into $T/ISSUER.crl.
crl_of() {
	local out="$T/$(echo "$1" | tr -c 'a-zA-Z0-9\n' _).crl" i=0
	rm -f "$T"/split-*.crl
	awk -v d="$T" '/BEGIN X509 CRL/ { n++ } n { print > (d "/split-" n ".crl") }' "$2"
	for f in "$T"/split-*.crl; do
		openssl crl -in "$f" -noout -issuer | grep -q "$1" && cp "$f" "$out" && i=1
	done
	[ "$i" = 1 ] && echo "$out"
}
serial_in_index() { awk -F'\t' -v n="$1" '$6 ~ ("/CN=" n "$") { print $4 }' "$P/index.txt"; }

# CRLs: the easy-rsa CA's numbered on from easy-rsa's, with its revocations.
check "crl --all" cap crl --env vpn --all --out "$T/crls.pem"
root_crl=$(crl_of "Old VPN CA" "$T/crls.pem")
like "the easy-rsa CA's CRL is numbered above easy-rsa's last" "$(openssl crl -in "$root_crl" -noout -crlnumber)" "crlNumber=0x1002"
check "and verifies with openssl" openssl crl -in "$root_crl" -noout -CAfile "$P/ca.crt"
for n in bob old.example; do
	like "it lists $n" "$(openssl crl -in "$root_crl" -noout -text | tr -d ' ')" "SerialNumber:$(serial_in_index "$n")"
done
cat "$P/ca.crt" "$root_crl" >"$T/ca+crl.pem"
check_fails "openssl -crl_check rejects bob" openssl verify -crl_check -CAfile "$T/ca+crl.pem" "$P/revoked/certs_by_serial/$(serial_in_index bob).crt"
like "because it is revoked" "$(cat "$T/out" "$T/err")" "certificate revoked"
check "and accepts alice" openssl verify -crl_check -CAfile "$T/ca+crl.pem" "$P/issued/alice.crt"

# easy-rsa's CA marks basicConstraints non-critical, which openssl's
# -x509_strict refuses (capstan lets it pass in the trust anchor alone):
# relying parties on easy-rsa verify without it.
rp_verify() { openssl verify -purpose "$1" -CAfile "$2" -untrusted "$3" "$3"; }
check "capstan verify takes an imported leaf" "$CAPSTAN" verify "$P/issued/alice.crt" --env vpn

# A bundle of an imported line, as easy-rsa signed it (directly under its CA):
# apply adopts the line into a service without reissuing it.
cat >"$T/vpn.yaml" <<'YAML'
environments:
  vpn: {}
services:
  ovpn:
    template: etcd
    certs:
      - { name: vpn.example, profile: server, cn: vpn.example, dns: [vpn.example], key: rsa-2048 }
YAML
imported_serial=$("$CAPSTAN" --json show vpn.example --env vpn | jq -r .serial)
check "apply a service naming an imported line" cap apply --config "$T/vpn.yaml" --env vpn
is "which keeps the imported certificate" "$("$CAPSTAN" --json show vpn.example --env vpn | jq -r .serial)" "$imported_serial"
check "bundle the service" cap bundle --env vpn --service ovpn --out "$T/ovpn"
cp "$T/err" "$T/bundle.err"
is "the bundle's certificate is easy-rsa's" "$(openssl x509 -in "$T/ovpn/vpn.example.pem" -noout -fingerprint -sha256)" \
	"$(openssl x509 -in "$P/issued/vpn.example.crt" -noout -fingerprint -sha256)"
check "it verifies against the bundle's CA file" openssl verify -purpose sslserver -CAfile "$T/ovpn/ca.pem" \
	-untrusted "$T/ovpn/vpn.example.pem" "$T/ovpn/vpn.example.pem"
is "the bundle's key is the certificate's" "$(openssl pkey -in "$T/ovpn/vpn.example-key.pem" -pubout)" \
	"$(openssl x509 -in "$T/ovpn/vpn.example.pem" -noout -pubkey)"
is "and easy-rsa's key" "$(openssl pkey -in "$T/ovpn/vpn.example-key.pem" -pubout)" \
	"$(openssl pkey -in "$P/private/vpn.example.key" -pubout)"
is "the key file is 0600" "$(stat -c %a "$T/ovpn/vpn.example-key.pem")" 600
# etcd's crl.pem is the current intermediate's CRL alone: an imported leaf
# sits under the easy-rsa CA, whose CRL only crl-all.pem carries; said.
like "the bundle warns that crl.pem does not cover the imported line" "$(cat "$T/bundle.err")" \
	"warning: vpn/ovpn: 1 certificate is under a CA other than the current intermediate \\(an older one, or an imported CA\\), .* renew them onto the current intermediate"
like "its crl-all.pem has the easy-rsa CA's current CRL (0x1002), listing bob" \
	"$(openssl crl -in "$(crl_of "Old VPN CA" "$T/ovpn/crl-all.pem")" -noout -crlnumber -text | tr -d ' \n')" \
	"crlNumber=0x1002.*SerialNumber:$(serial_in_index bob)"

# renew --due --from-old-ca moves the imported leaves onto capstan's
# intermediate (whose CRL crl.pem is); the one without its key is named.
cap renew --due --env vpn --from-old-ca >"$T/out" 2>"$T/err"
is "--from-old-ca: exit 1, one line could not move" "$?" 1
is "those with their key moved" "$(grep -o 'renewed vpn/[a-z.]*' "$T/out" | sort | tr '\n' ' ')" "renewed vpn/alice renewed vpn/vpn.example "
like "the keyless one named" "$(head -1 "$T/err")" "'carol' \(vpn\) has no key in the inventory"
like "now under capstan's intermediate" "$("$CAPSTAN" show vpn.example --env vpn --pem | openssl x509 -noout -issuer)" \
	"CN ?= ?vpn Intermediate CA 1"
check "a new bundle no longer warns" cap bundle --env vpn --service ovpn --out "$T/ovpn"
is "(nothing on stderr)" "$(cat "$T/err")" ""
# Imported lines live on under capstan.
check "renew an imported server certificate" cap renew vpn.example --env vpn
"$CAPSTAN" export vpn.example --env vpn --format chain --out "$T/vpn.chain"
check "the renewal verifies with openssl up to the easy-rsa CA" rp_verify sslserver "$P/ca.crt" "$T/vpn.chain"
is "with the same key" "$(openssl x509 -in "$T/vpn.chain" -noout -pubkey)" "$(openssl pkey -in "$P/private/vpn.example.key" -pubout)"
check "rotate an imported client certificate" cap rotate alice --env vpn
"$CAPSTAN" export alice --env vpn --format chain --out "$T/alice.chain"
check "which verifies too" rp_verify sslclient "$P/ca.crt" "$T/alice.chain"
# A cron over imported lines: what has its key renews, a line without it is
# reported (never skipped silently), exit 1.
cap renew --due --env vpn --within 1000d >"$T/out" 2>"$T/err"
is "renew --due over imported lines: exit 1 when one cannot be renewed" "$?" 1
like "the keyless one (carol) is named, with what to do" "$(cat "$T/err")" \
	"capstan: 'carol' \(vpn\) has no key in the inventory \(issued from a CSR, or imported without it\) and cannot be renewed here: rotate it for a new key"
like "and counted" "$(tail -1 "$T/err")" "1 certificate due could not be renewed"
is "the others are renewed" "$(grep -o 'renewed vpn/[a-z.]*' "$T/out" | sort | tr '\n' ' ')" "renewed vpn/alice renewed vpn/vpn.example "
check "revoke an imported line" cap revoke carol --env vpn --reason cessationOfOperation
secret_file "$T/storepw" 'store password'
check "export one as PKCS12" cap export vpn.example --env vpn --format pkcs12 --password-file "$T/storepw" --out "$T/vpn.p12"
check "which openssl reads" openssl pkcs12 -in "$T/vpn.p12" -passin file:"$T/storepw" -noout
check "crl --all again" cap crl --env vpn --all --out "$T/crls2.pem"
like "the next CRL of the easy-rsa CA is 0x1003" "$(openssl crl -in "$(crl_of "Old VPN CA" "$T/crls2.pem")" -noout -crlnumber)" \
	"crlNumber=0x1003"
like "it lists carol, revoked under capstan" "$(openssl crl -in "$(crl_of "Old VPN CA" "$T/crls2.pem")" -noout -text | tr -d ' ')" \
	"SerialNumber:$(serial_in_index carol)"
check "check is clean after all that" cap check

# An encrypted CA key, and a PKI that never numbered its CRLs.
E=$T/pki-enc
secret_file "$T/capw" 'easy-rsa ca password'
{ easyrsa "$E" init-pki && EASYRSA_REQ_CN="Locked CA" easyrsa "$E" --passout="pass:$(cat "$T/capw")" --passin="pass:$(cat "$T/capw")" build-ca &&
	easyrsa "$E" --passin="file:$T/capw" build-server-full srv.example nopass &&
	easyrsa "$E" --passin="file:$T/capw" gen-crl; } || exit 1
like "(fixture: the CA key is encrypted)" "$(head -1 "$E/private/ca.key")" "ENCRYPTED"
refuses "an encrypted ca.key without --ca-key-password-file" 1 "private/ca.key' is an encrypted key: its password is needed \(--ca-key-password-file\)$" \
	cap import --env locked --easy-rsa "$E"
check "with its password file" cap import --env locked --easy-rsa "$E" --ca-key-password-file "$T/capw"
check "crl --all of it" cap crl --env locked --all --out "$T/locked.pem"
like "its CA's first CRL number is 1" "$(openssl crl -in "$(crl_of "Locked CA" "$T/locked.pem")" -noout -crlnumber)" "crlNumber=(0x)?0?1$"

# Refusals.
refuses "an existing environment" 1 "environment 'vpn' already exists" cap import --env vpn --easy-rsa "$P"
refuses "a missing directory" 1 "cannot read an easy-rsa PKI '$T/nowhere': No such file or directory" \
	cap import --env gone --easy-rsa "$T/nowhere"
mkdir -p "$T/empty"
refuses "a directory that is not a PKI" 1 "'$T/empty' is not an easy-rsa PKI: it has no ca.crt" \
	cap import --env empty --easy-rsa "$T/empty"
cp -a "$P" "$T/pki-bad" && printf 'V\tnonsense\n' >>"$T/pki-bad/index.txt"
refuses "a damaged index.txt" 1 "index.txt' line 6 is not an index.txt line" cap import --env bad --easy-rsa "$T/pki-bad"
# A sub-CA's PKI: its ca.crt is signed by another CA.
cp -a "$P" "$T/pki-sub"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Sub VPN CA" \
	-keyout "$T/pki-sub/private/ca.key" -out "$T/sub.csr" 2>/dev/null
printf 'basicConstraints = critical, CA:true\nkeyUsage = critical, keyCertSign, cRLSign\n' >"$T/sub.ext"
openssl x509 -req -in "$T/sub.csr" -CA "$P/ca.crt" -CAkey "$P/private/ca.key" -set_serial 0x51 -days 30 \
	-extfile "$T/sub.ext" -out "$T/pki-sub/ca.crt" 2>/dev/null
refuses "a sub-CA's PKI: import its CA with --chain instead" 1 "is not a root \(a sub-CA's PKI\): import its CA with --ca-cert" \
	cap import --env sub --easy-rsa "$T/pki-sub"
refuses "--easy-rsa with --ca-cert" 2 "--easy-rsa takes the CA from the directory" \
	cap import --env bad --easy-rsa "$P" --ca-cert "$P/ca.crt"
refuses "--easy-rsa with --openssl-ca" 2 "give one of --easy-rsa and --openssl-ca" \
	cap import --env bad --easy-rsa "$P" --openssl-ca "$P"

# An openssl ca directory: the same index.txt, its CA in cacert.pem and
# private/cakey.pem, its certificates in newcerts/, no leaf keys.
O=$T/ossl
mkdir -p "$O/newcerts" "$O/private" && : >"$O/index.txt" && echo 1000 >"$O/serial" && echo 2000 >"$O/crlnumber"
cat >"$T/ossl.cnf" <<CNF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $O
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/cacert.pem
private_key = \$dir/private/cakey.pem
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 30
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
[ srv ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:\$ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$O/private/cakey.pem" -out "$O/cacert.pem" \
	-days 3650 -subj "/CN=Old OpenSSL CA" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || exit 1
# web3's validity ended last year.
for n in web1 web2 web3; do
	dates=(); [ $n = web3 ] && dates=(-startdate "$(date -u -d '-400 days' +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d '-300 days' +%Y%m%d%H%M%SZ)")
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$n.key" -subj "/CN=$n.example" \
		-out "$T/$n.csr" 2>/dev/null &&
		SAN=$n.example openssl ca -batch -config "$T/ossl.cnf" -extensions srv "${dates[@]}" -in "$T/$n.csr" -out "$T/$n.crt" \
			>"$T/ossl.log" 2>&1 || { cat "$T/ossl.log" >&2; exit 1; }
done
# (the configuration reads $SAN wherever it is used)
{ SAN=- openssl ca -config "$T/ossl.cnf" -revoke "$T/web2.crt" -crl_reason keyCompromise &&
	SAN=- openssl ca -config "$T/ossl.cnf" -gencrl -out "$O/crl.pem"; } >"$T/ossl.log" 2>&1 || { cat "$T/ossl.log" >&2; exit 1; }
check "import an openssl ca directory (--json)" cap --json import --env legacy --openssl-ca "$O"
is "the JSON says what came with it: counts, keys sealed, the next CRL number" \
	"$(jq -c '[.env, .root.name, .intermediate.name, .certificates, .next_crl_number]' "$T/out")" \
	'["legacy","root-ca","intermediate-ca-1",{"imported":3,"valid":1,"revoked":1,"expired":1,"keys_sealed":0},8193]'
is "web2 revoked for keyCompromise" "$(db_sql "SELECT c.status || ':' || c.revoke_reason FROM certs c JOIN envs e ON e.id = c.env_id WHERE e.name = 'legacy' AND c.name = 'web2.example'")" \
	"revoked:keyCompromise"
check "check is clean: a leaf imported without its key is explained" cap check
check "crl --all" cap crl --env legacy --all --out "$T/legacy.pem"
like "the CA's CRL number goes on from openssl ca's" "$(openssl crl -in "$(crl_of "Old OpenSSL CA" "$T/legacy.pem")" -noout -crlnumber)" \
	"crlNumber=0x2001"
refuses "a line without its key is not renewed (renew keeps the key): rotate it" 1 \
	"'web1\.example' \(legacy\) has no key in the inventory \(issued from a CSR, or imported without it\) and cannot be renewed here: rotate it for a new key" \
	cap renew web1.example --env legacy
cap renew --due --env legacy --within 1000d >"$T/out" 2>"$T/err"
is "renew --due: exit 1, the keyless line reported" "$?" 1
like "by name" "$(cat "$T/err")" "'web1\.example' \(legacy\) has no key in the inventory"
like "web3, expired, is renewed neither (its key is not here either)" "$(cat "$T/err")" "'web3\.example' \(legacy\) has no key"
check "rotate gives it a new key" cap rotate web1.example --env legacy
cap export web1.example --env legacy --format chain --out "$T/web1.chain" && cap export web1.example --env legacy --format key --out "$T/web1-new.key"
is "which the inventory holds, the certificate's" "$(openssl pkey -in "$T/web1-new.key" -pubout)" "$(openssl x509 -in "$T/web1.chain" -noout -pubkey)"
check_fails "not the old one" cmp -s <(openssl pkey -in "$T/web1.key" -pubout) <(openssl pkey -in "$T/web1-new.key" -pubout)
check "the rotated certificate verifies up to the openssl ca CA" rp_verify sslserver "$O/cacert.pem" "$T/web1.chain"
check "and renews from then on" cap renew web1.example --env legacy
is "keeping that key" "$("$CAPSTAN" show web1.example --env legacy --pem | openssl x509 -noout -pubkey)" \
	"$(openssl pkey -in "$T/web1-new.key" -pubout)"
check "revoked like any other" cap revoke web1.example --env legacy
refuses "a directory that is not an openssl ca directory" 1 "'$P' is not an openssl ca directory: it has no cacert.pem" \
	cap import --env bad --openssl-ca "$P"
check "check is clean at the end" cap check

done_testing
