#!/usr/bin/env bash
# issue --csr: the CSR's signature is checked, its key is used and not kept.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null || exit 1
trust=$(trust_of dev)

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/app.key" \
	-subj "/CN=app.internal" -addext "subjectAltName=DNS:app.internal,DNS:app-alt.internal,IP:10.9.8.7" \
	-out "$T/app.csr" 2>/dev/null
check "issue from a PEM CSR" cap issue --env dev --profile server --csr "$T/app.csr"
check "the chain verifies" bash -c "'$CAPSTAN' export app.internal --format chain --out '$T/app.chain' &&
	openssl verify -x509_strict -purpose sslserver -CAfile '$trust' -untrusted '$T/app.chain' '$T/app.chain'"
check "the certificate carries the CSR's key" \
	cmp <(openssl x509 -in "$T/app.chain" -noout -pubkey) <(openssl pkey -in "$T/app.key" -pubout)
is "SANs come from the CSR when no option names any" \
	"$("$CAPSTAN" --json show app.internal | jq -r '.sans | join(" ")')" \
	"DNS:app.internal DNS:app-alt.internal IP:10.9.8.7"
is "the key is not kept" "$("$CAPSTAN" --json show app.internal | jq -r .key_held)" false
refuses "exporting the key of a CSR-issued certificate says why not" 1 "issued from a CSR" \
	cap export app.internal --format key --out "$T/nokey.pem"
check_fails "and writes no file" test -e "$T/nokey.pem"

# Options override what the CSR asks for; --cn overrides its CN.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj "/CN=ignored" \
	-addext "subjectAltName=DNS:evil.example.com" -outform DER -out "$T/rsa.der" 2>/dev/null
check "issue from a DER CSR with --cn and --dns" \
	cap issue --env dev --profile peer --csr "$T/rsa.der" --cn api.internal --dns api2.internal
is "the options win over the CSR's SANs" "$("$CAPSTAN" --json show api.internal | jq -r '.sans | join(" ")')" \
	"DNS:api.internal DNS:api2.internal"
is "key type read from the CSR" "$("$CAPSTAN" --json show api.internal | jq -r .key_type)" rsa-2048

openssl req -new -newkey ed25519 -nodes -keyout "$T/ed.key" -subj "/CN=ed-client" -out "$T/ed.csr" 2>/dev/null
check "an Ed25519 CSR for a client" cap issue --env dev --profile client --csr "$T/ed.csr"

# Refusals.
openssl req -new -newkey rsa:1024 -nodes -keyout "$T/weak.key" -subj "/CN=weak" -out "$T/weak.csr" 2>/dev/null
refuses "a 1024-bit RSA CSR is refused" 1 "too weak" cap issue --env dev --profile client --csr "$T/weak.csr"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/s1.key" -sha1 \
	-subj "/CN=sha1" -out "$T/sha1.csr" 2>/dev/null
refuses "a SHA-1 signed CSR is refused" 1 "weak algorithm" cap issue --env dev --profile client --csr "$T/sha1.csr"
# Flip one byte inside the signed content: the signature no longer verifies.
openssl req -in "$T/app.csr" -outform DER -out "$T/good.der"
python3 -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[60]^=1; open(sys.argv[2],'wb').write(b)" \
	"$T/good.der" "$T/tampered.der"
refuses "a tampered CSR is refused" 1 "--csr '.*tampered.der'" cap issue --env dev --profile server --cn t.internal --csr "$T/tampered.der"
printf 'this is not a CSR\n' >"$T/garbage.csr"
refuses "a garbage CSR is refused" 1 "not a PEM or DER certificate signing request" \
	cap issue --env dev --profile server --csr "$T/garbage.csr"
: >"$T/empty.csr"
refuses "an empty CSR is refused" 1 "empty" cap issue --env dev --profile server --csr "$T/empty.csr"
refuses "a missing CSR file is refused" 1 "cannot open '.*missing.csr'" \
	cap issue --env dev --profile server --csr "$T/missing.csr"
refuses "--key with --csr is refused" 1 "a key type does not go with a CSR: the CSR has its key \(--key\)" \
	cap issue --env dev --profile client --csr "$T/ed.csr" --name other --key ec-p256
head -c 100000 /dev/urandom | base64 >"$T/huge.csr"
refuses "a huge CSR is refused" 1 "larger than" cap issue --env dev --profile client --csr "$T/huge.csr"

done_testing
