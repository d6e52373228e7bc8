#!/usr/bin/env bash
# Keys anyone can sign for, and names that hide or break consumers: each is
# refused with one line saying what is wrong, whether it comes in a CSR, a
# flag, a configuration or a batch line, and nothing is recorded.
. "$(dirname "$0")/lib.sh"

craft() { python3 "$(dirname "$0")/craft-csr.py" "$@"; }
cap init --env dev >/dev/null || exit 1

# --- the crafting is sound: its ordinary CSR is issued ----------------------
craft "$T/control.der" --cn control.internal --dns control.internal --uri spiffe://example/control \
	--email ops@example.com
check "a hand-built Ed25519 CSR is issued (the control)" \
	cap issue --env dev --profile peer --csr "$T/control.der"
is "with its names" "$("$CAPSTAN" --json show control.internal | jq -r '.sans | join(" ")')" \
	"DNS:control.internal URI:spiffe://example/control email:ops@example.com"

# --- keys anyone can sign for -----------------------------------------------
# The eight Ed25519 points of order 1, 2, 4 and 8 (computed, and libsodium's
# list), then the six other encodings of them that OpenSSL also decodes. For
# each, the crafter finds a signature with no private key, and openssl agrees.
small_order=(
	0100000000000000000000000000000000000000000000000000000000000000
	ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f
	0000000000000000000000000000000000000000000000000000000000000000
	0000000000000000000000000000000000000000000000000000000000000080
	c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a
	c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa
	26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05
	26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85
	0100000000000000000000000000000000000000000000000000000000000080
	ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
	edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f
	edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
	eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f
	eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
)
forged=0
for k in "${small_order[@]}"; do
	craft "$T/so.der" --cn forged.internal --dns forged.internal --key "$k"
	openssl req -inform DER -in "$T/so.der" -noout -verify >/dev/null 2>&1 && forged=$((forged + 1))
	refuses "Ed25519 key ${k:0:8}..${k:60:4}: small order" 1 \
		"--csr '.*so.der': the Ed25519 public key is a point of small order, for which anyone can sign$" \
		cap issue --env dev --profile server --csr "$T/so.der"
done
is "every one of those CSRs has a signature openssl accepts" "$forged" "${#small_order[@]}"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 -out "$T/e3.key" 2>/dev/null
openssl req -new -key "$T/e3.key" -subj /CN=e3.internal -out "$T/e3.csr" 2>/dev/null
check "openssl verifies the e = 3 CSR" openssl req -in "$T/e3.csr" -noout -verify
refuses "an RSA CSR with exponent 3" 1 \
	"--csr '.*e3.csr': RSA public exponent 3 is not accepted \(it must be odd and at least 65537\)$" \
	cap issue --env dev --profile server --csr "$T/e3.csr"
craft "$T/e1.der" --cn e1.internal --key rsa-e1
check "openssl verifies the e = 1 CSR, whose signature is the padded digest" \
	openssl req -inform DER -in "$T/e1.der" -noout -verify
refuses "an RSA CSR with exponent 1" 1 "--csr '.*e1.der': RSA public exponent 1 is not accepted" \
	cap issue --env dev --profile server --csr "$T/e1.der"
craft "$T/even.der" --cn even.internal --key rsa-even
refuses "an RSA CSR with an even modulus fails the key check" 1 \
	"--csr '.*even.der': the CSR's public key fails its validity check" \
	cap issue --env dev --profile server --csr "$T/even.der"
"$CAPSTAN" export control.internal --format chain --out "$T/control.pem"
refuses "an e = 3 key given to convert" 1 "the key in '.*e3.key': RSA public exponent 3 is not accepted" \
	"$CAPSTAN" convert --in "$T/control.pem" --key "$T/e3.key" --to pem --out "$T/e3-out.pem"

# --- names that hide --------------------------------------------------------
# A NUL cuts the C string: issued, it would read as good.internal here and as
# the whole name to a consumer that keeps the length.
for t in dns uri email; do
	case $t in
	dns) v='good.internal\x00.evil.com' what="a DNS name" ;;
	uri) v='spiffe://example/good\x00/evil' what="a URI" ;;
	email) v='ops@good.internal\x00.evil.com' what="an e-mail address" ;;
	esac
	craft "$T/nul-$t.der" --cn nul.internal --"$t" "$v"
	refuses "a CSR's $t SAN with a NUL" 1 \
		"--csr '.*nul-$t.der': the CSR's subjectAltName has $what with a NUL byte in it$" \
		cap issue --env dev --profile peer --csr "$T/nul-$t.der"
done
craft "$T/nul-cn.der" --cn 'good.internal\x00.evil.com'
refuses "a CSR's CN with a NUL" 1 "--csr '.*nul-cn.der': the CSR's CN has a NUL byte in it$" \
	cap issue --env dev --profile client --csr "$T/nul-cn.der"

# --- names that break consumers: flags, CSR, configuration, batch alike -----
ip_why="an IP address is not a DNS name \(it goes in an IP SAN\)"
uri_why="only ASCII is allowed in a URI \(percent-encode other characters\)"
email_why="only ASCII is allowed in an e-mail address"
refuses "--dns 10.0.0.1" 2 "invalid --dns '10.0.0.1': $ip_why" \
	cap issue --env dev --profile server --cn a.internal --dns 10.0.0.1
refuses "--dns ::1" 2 "invalid --dns '::1': $ip_why" \
	cap issue --env dev --profile server --cn a.internal --dns ::1
refuses "--dns with a numeric last label" 2 "invalid --dns 'host.123': the last label is all digits" \
	cap issue --env dev --profile server --cn a.internal --dns host.123
refuses "--uri with UTF-8" 2 "invalid --uri 'spiffe://example/café': $uri_why" \
	cap issue --env dev --profile client --cn a.internal --uri spiffe://example/café
refuses "--email with UTF-8" 2 "invalid --email 'josé@example.com': $email_why" \
	cap issue --env dev --profile client --cn a.internal --email josé@example.com
# (in a UTF-8 locale grep's '.' does not match a lone 0xe9: match bytes)
LC_ALL=C refuses "--uri with a Latin-1 byte" 2 "invalid --uri 'spiffe://example/caf.': $uri_why" \
	cap issue --env dev --profile client --cn a.internal --uri "$(printf 'spiffe://example/caf\xe9')"

craft "$T/ip4.der" --cn ip.internal --dns 10.0.0.1
craft "$T/ip6.der" --cn ip.internal --dns ::1
craft "$T/uri8.der" --cn u.internal --uri 'spiffe://example/caf\xc3\xa9'
craft "$T/email8.der" --cn e.internal --email 'jos\xc3\xa9@example.com'
refuses "a CSR's DNS SAN 10.0.0.1" 1 "--csr '.*ip4.der': the CSR asks for a bad SAN: invalid DNS name '10.0.0.1': $ip_why" \
	cap issue --env dev --profile server --csr "$T/ip4.der"
refuses "a CSR's DNS SAN ::1" 1 "--csr '.*ip6.der': the CSR asks for a bad SAN: invalid DNS name '::1': $ip_why" \
	cap issue --env dev --profile server --csr "$T/ip6.der"
refuses "a CSR's UTF-8 URI" 1 "--csr '.*uri8.der': the CSR asks for a bad SAN: invalid URI '.*': $uri_why" \
	cap issue --env dev --profile client --csr "$T/uri8.der"
refuses "a CSR's UTF-8 e-mail" 1 "--csr '.*email8.der': the CSR asks for a bad SAN: invalid e-mail address '.*': $email_why" \
	cap issue --env dev --profile client --csr "$T/email8.der"

yaml() {
	printf 'environments: { dev: {} }\nservices:\n  web:\n    template: kubernetes\n    certs:\n      - { name: web, profile: peer, cn: web.internal, %s }\n' "$1" >"$T/$2.yaml"
}
yaml 'dns: [10.0.0.1]' ip4
yaml 'dns: ["::1"]' ip6
yaml 'uri: [spiffe://example/café]' uri8
yaml 'email: [josé@example.com]' email8
refuses "apply: dns 10.0.0.1" 1 "ip4.yaml:6:[0-9]+: services.web.certs\[0\].dns: bad DNS name '10.0.0.1': $ip_why" \
	cap apply --config "$T/ip4.yaml"
refuses "apply: dns ::1" 1 "ip6.yaml:6:[0-9]+: services.web.certs\[0\].dns: bad DNS name '::1': $ip_why" \
	cap apply --config "$T/ip6.yaml"
refuses "apply: a UTF-8 uri" 1 "uri8.yaml:6:[0-9]+: services.web.certs\[0\].uri: bad URI '.*': $uri_why" \
	cap apply --config "$T/uri8.yaml"
refuses "apply: a UTF-8 email" 1 "email8.yaml:6:[0-9]+: services.web.certs\[0\].email: bad e-mail address '.*': $email_why" \
	cap apply --config "$T/email8.yaml"
printf '%s\n' '{"env":"dev","profile":"server","cn":"a.internal","dns":["10.0.0.1"]}' >"$T/ip4.jsonl"
refuses "issue --batch: dns 10.0.0.1" 2 "ip4.jsonl:1: bad dns '10.0.0.1': $ip_why" cap issue --batch "$T/ip4.jsonl"

# An address named by its CN still goes where it belongs.
check "a CN that is an address becomes an IP SAN" cap issue --env dev --profile server --cn 10.0.0.2
is "as an IP SAN" "$("$CAPSTAN" --json show 10.0.0.2 | jq -r '.sans | join(" ")')" "IP:10.0.0.2"
is "only the control and that one were issued" "$("$CAPSTAN" --json list | jq -r 'length')" 2

done_testing
