#!/usr/bin/env bash
# renew and rotate one certificate; renew --due with the default window, seen
# from the future with faketime; catching up on expired certificates; quiet.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null || exit 1
trust=$(trust_of dev)
pubkey() { "$CAPSTAN" show "$1" --pem | openssl x509 -noout -pubkey; }

cap issue --env dev --profile server --cn web.internal --dns www.internal --service web >"$T/s1"
pubkey web.internal >"$T/k1"
check "renew" cap renew web.internal
s2=$(cat "$T/out")
like "renew prints the new serial" "$s2" '^[0-9a-f]{32}$'
check_fails "the serial is new" test "$s2" = "$(cat "$T/s1")"
check "the key is the same" cmp "$T/k1" <(pubkey web.internal)
is "the old certificate is superseded" "$("$CAPSTAN" --json show "$(cat "$T/s1")" | jq -r .status)" superseded
is "the new one is valid" "$("$CAPSTAN" --json show web.internal | jq -r .status)" valid
is "SANs, profile and service carry over" \
	"$("$CAPSTAN" --json show web.internal | jq -r '[(.sans | join(" ")), .profile, .service] | join("|")')" \
	"DNS:web.internal DNS:www.internal|server|web"
"$CAPSTAN" export web.internal --format chain --out "$T/web.chain"
check "the renewed certificate verifies" openssl_verify sslserver "$trust" "$T/web.chain"
check "renew --days changes the line's lifetime" cap renew web.internal --days 30
is "30 days now" "$("$CAPSTAN" --json show web.internal | jq -r .lifetime)" 30d
check "and the next renewal keeps it" cap renew web.internal
is "still 30 days" "$("$CAPSTAN" --json show web.internal | jq -r .lifetime)" 30d
is "one line, four certificates" "$("$CAPSTAN" --json list --status all | jq '[.[] | select(.name == "web.internal")] | length')" 4

check "rotate" cap rotate web.internal
check_fails "rotate makes a new key" cmp -s "$T/k1" <(pubkey web.internal)
check "export the rotated key" cap export web.internal --format key --out "$T/web.key"
check "the exported key is the new one" cmp <(pubkey web.internal) <(openssl pkey -in "$T/web.key" -pubout)
refuses "a superseded serial cannot be renewed" 1 "is superseded by a newer certificate" \
	cap renew "$(cat "$T/s1")"

# CSR-issued and revoked lines.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/csr.key" \
	-subj "/CN=csr.internal" -out "$T/app.csr" 2>/dev/null
cap issue --env dev --profile server --csr "$T/app.csr" >/dev/null
refuses "a CSR-issued certificate is not renewed: its key is not here" 1 \
	"issued from a CSR.*cannot be renewed here: rotate it for a new key, issue it again from a new CSR with --replace, or revoke it if it is no longer used$" \
	cap renew csr.internal
# A new request for the line: refused while its certificate is valid, unless
# --replace says to supersede it (a CI signer's next certificate).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/csr2.key" \
	-subj "/CN=csr.internal" -out "$T/app2.csr" 2>/dev/null
refuses "a second request for a valid line is refused, naming --replace" 1 \
	"already has a valid certificate in 'dev' .*: renew or rotate it, or issue it again with --replace$" \
	cap issue --env dev --profile server --csr "$T/app2.csr"
check "--replace issues it" cap issue --env dev --profile server --csr "$T/app2.csr" --replace
is "with the new request's key" "$(pubkey csr.internal)" "$(openssl pkey -in "$T/csr2.key" -pubout)"
is "the first certificate is superseded" \
	"$("$CAPSTAN" --json list --status superseded | jq '[.[] | select(.name == "csr.internal")] | length')" 1
# rotate makes a new key anyway: the inventory holds it from then on.
check "but it rotates" cap rotate csr.internal
check_fails "to a new key" cmp -s <(openssl pkey -in "$T/csr.key" -pubout) <(pubkey csr.internal)
check "which the inventory now holds" cap export csr.internal --format key --out "$T/csr-new.key"
check "and which is the certificate's" cmp <(pubkey csr.internal) <(openssl pkey -in "$T/csr-new.key" -pubout)
check "so it renews from then on" cap renew csr.internal
cap issue --env dev --profile client --cn leaked >/dev/null
cap revoke leaked --reason keyCompromise >/dev/null
refuses "a revoked certificate is not renewed with its key" 1 "is revoked.*rotate it for a new key" cap renew leaked
check "but can be rotated" cap rotate leaked
is "the revoked one stays revoked" "$("$CAPSTAN" --json list --status revoked | jq -r '.[].name')" leaked
refuses "renew needs a REF or --due" 2 "a certificate name or serial is required \(or --due\)" cap renew
refuses "--due takes no REF" 2 "--due renews what is due" cap renew web.internal --due
refuses "--within goes with --due" 2 "--within, --from-old-ca, --bundle-dir and --exec go with --due" cap renew web.internal --within 3d

# The default window: 30 days, or a third of the lifetime if shorter.
cap init --env later >/dev/null
cap issue --env later --profile server --cn a90.internal >/dev/null                # window 30d
cap issue --env later --profile client --cn b30 --days 30 >/dev/null               # window 10d
cap issue --env later --profile client --cn c-own --days 60 --renew-before 45d >/dev/null
# What is due at +DUR, each time from the same starting inventory (a copy).
due_at() {
	home_copy "$CAPSTAN_HOME" "$T/probe"
	faketime -f "+$1" "$CAPSTAN" --home "$T/probe" --passphrase-file "$PASS" --json renew --due --env later |
		jq -r '[.renewed[].name] | sort | join(",")'
}
check "nothing is due now" cap renew --due --env later
is "and nothing is printed" "$(cat "$T/out" "$T/err")" ""
is "nothing due after 14 days" "$(due_at 14d)" ""
is "at +16d: c-own (its own 45d window)" "$(due_at 16d)" "c-own"
is "at +21d: b30 too (a 30d lifetime: 10d window)" "$(due_at 21d)" "b30,c-own"
is "at +61d: a90 too (30d window)" "$(due_at 61d)" "a90.internal,b30,c-own"
is "at +59d: not a90 yet" "$(due_at 59d)" "b30,c-own"
check "the probes changed nothing here" cap renew --due --env later
# Run twice at the same moment on one copy: the second run has nothing to do.
probe_again() {
	faketime -f "+$1" "$CAPSTAN" --home "$T/probe" --passphrase-file "$PASS" --json renew --due --env later "${@:2}" |
		jq -r '[.renewed[].name] | sort | join(",")'
}
due_at 61d >/dev/null
is "idempotent: a second run at +61d renews nothing" "$(probe_again 61d)" ""
# An explicit --within is taken as asked, even longer than every lifetime.
cap init --env month >/dev/null
for n in m1 m2 m3; do cap issue --env month --profile client --cn "$n" --days 30 >/dev/null; done
is "--within 400d renews every 30-day certificate" \
	"$(cap --json renew --due --env month --within 400d | jq -r '[.renewed[].name] | sort | join(",")')" "m1,m2,m3"
check "a second run with the default window" cap renew --due --env month
is "renews nothing" "$(cat "$T/out" "$T/err")" ""
is "one renewal each" "$("$CAPSTAN" --json list --env month --status superseded | jq length)" 3

# Missed runs catch up: expired certificates are renewed too.
cap issue --env later --profile client --cn forgotten --days 5 >/dev/null
is "an expired certificate is renewed (+8d)" "$(due_at 8d)" "forgotten"

# A due certificate issued from a CSR is reported, the rest renewed, exit 1.
cap init --env csr >/dev/null
cap issue --env csr --profile server --csr "$T/app.csr" --days 10 >/dev/null
cap issue --env csr --profile client --cn ok --days 10 >/dev/null
# The dry run foresees it: the refusal and exit 1, as the real run.
faketime -f +9d "$CAPSTAN" --passphrase-file "$PASS" renew --due --env csr --dry-run >"$T/out" 2>"$T/err"
is "a dry run exits 1 too" "$?" 1
is "naming the one it would renew" "$(cat "$T/out")" "$(grep '^would renew csr/ok: ' "$T/out")"
like "and the one it could not" "$(head -1 "$T/err")" "capstan: 'csr.internal' \(csr\) has no key in the inventory"
like "and the count" "$(tail -1 "$T/err")" "capstan: 1 certificate due would not be renewed"
faketime -f +9d "$CAPSTAN" --passphrase-file "$PASS" renew --due --env csr >"$T/out" 2>"$T/err"
is "exit 1 when something due could not be renewed" "$?" 1
like "the renewable one was renewed" "$(cat "$T/out")" "renewed csr/ok"
like "the CSR one is named" "$(head -1 "$T/err")" "capstan: 'csr.internal' \(csr\) has no key in the inventory \(issued from a CSR"
like "and the count is given" "$(tail -1 "$T/err")" "capstan: 1 certificate due could not be renewed"

done_testing
