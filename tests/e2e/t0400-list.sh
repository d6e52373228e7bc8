#!/usr/bin/env bash
# list, show and audit: filters, the JSON contract, references by name or serial.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null && cap init --env prod >/dev/null || exit 1
cap issue --env dev --profile server --cn web.internal --service web >/dev/null
cap issue --env dev --profile client --cn worker --service jobs --days 10 >/dev/null
cap issue --env prod --profile server --cn web.internal --service web >/dev/null
cap issue --env prod --profile peer --cn db.internal --days 60 >/dev/null

"$CAPSTAN" --json list >"$T/all.json"
is "list --json: valid leaves of every environment" "$(jq length "$T/all.json")" 4
for field in name env serial status profile subject sans service not_before not_after fingerprint_sha256; do
	is "every object has $field" "$(jq "[.[] | has(\"$field\")] | all" "$T/all.json")" true
done
like "times are RFC 3339 UTC" "$(jq -r '.[0].not_after' "$T/all.json")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
is "sans is an array" "$(jq -r '.[0].sans | type' "$T/all.json")" array
is "fingerprint is the DER's SHA-256" \
	"$(jq -r '.[] | select(.env == "dev" and .name == "worker") | .fingerprint_sha256' "$T/all.json")" \
	"$("$CAPSTAN" show worker --pem | openssl x509 -outform DER | sha256sum | cut -d' ' -f1)"
is "--env" "$("$CAPSTAN" --json list --env prod | jq -r '[.[].name] | join(",")')" "db.internal,web.internal"
is "--service" "$("$CAPSTAN" --json list --service web | jq -r '[.[].env] | join(",")')" "dev,prod"
is "--expiring-within 30d" "$("$CAPSTAN" --json list --expiring-within 30d | jq -r '[.[].name] | join(",")')" "worker"
is "--expiring-within 61d" "$("$CAPSTAN" --json list --expiring-within 61d | jq -r '[.[].name] | join(",")')" "worker,db.internal"
is "--status revoked (none yet)" "$("$CAPSTAN" --json list --status revoked)" "[]"
is "--status all" "$("$CAPSTAN" --json list --status all | jq length)" 4
is "--ca lists the CAs only: a root and an intermediate per environment" \
	"$("$CAPSTAN" --json list --ca | jq -r '[.[] | .env + "/" + .kind] | join(",")')" \
	"dev/intermediate,dev/root,prod/intermediate,prod/root"
is "global options after the command" "$("$CAPSTAN" list --json --env dev | jq length)" 2
is "global options before the command" "$("$CAPSTAN" --json --home "$CAPSTAN_HOME" list --env dev | jq length)" 2
"$CAPSTAN" list >"$T/table"
like "the table has a header" "$(head -1 "$T/table")" '^NAME +ENV +SERIAL +STATUS +PROFILE +NOT AFTER$'
is "and a row per certificate" "$(wc -l <"$T/table")" 5
is "-q prints nothing" "$("$CAPSTAN" -q list)" ""

# Expired certificates, seen from the future.
if command -v faketime >/dev/null; then
	is "--status expired, 20 days from now" \
		"$(faketime -f +20d "$CAPSTAN" --json list --status expired | jq -r '[.[].name] | join(",")')" "worker"
	is "and worker is no longer valid then" \
		"$(faketime -f +20d "$CAPSTAN" --json list | jq -r '[.[].name] | index("worker")')" null
fi

# show: by name, by serial, ambiguity.
serial=$("$CAPSTAN" --json show worker | jq -r .serial)
is "show by serial" "$("$CAPSTAN" --json show "$serial" | jq -r .name)" worker
is "show by serial in upper case with colons" \
	"$("$CAPSTAN" --json show "$(echo "$serial" | tr a-f A-F | sed 's/../&:/g; s/:$//')" | jq -r .name)" worker
check "show prints the details" "$CAPSTAN" show worker
like "show names the profile" "$(cat "$T/out")" 'profile: +client'
refuses "a name in several environments needs --env" 1 "'web.internal' exists in several environments \(dev, prod\): name one \(--env\)" \
	"$CAPSTAN" show web.internal
is "--env picks one" "$("$CAPSTAN" --json show web.internal --env prod | jq -r .env)" prod
refuses "an unknown name" 1 "no certificate named 'nothing'" "$CAPSTAN" show nothing
refuses "a serial from another environment" 1 "belongs to environment 'dev'" "$CAPSTAN" show "$serial" --env prod
refuses "show needs a reference" 2 "a certificate name or serial is required" "$CAPSTAN" show
refuses "list --status bogus" 2 "invalid --status 'bogus'" "$CAPSTAN" list --status bogus
refuses "list --expiring-within junk" 2 "invalid --expiring-within 'soon'" "$CAPSTAN" list --expiring-within soon
refuses "list --env of an unknown environment" 1 "unknown environment 'qa'" "$CAPSTAN" list --env qa

# audit: every change, who and what.
"$CAPSTAN" --json audit >"$T/audit.json"
is "an audit row per change" "$(jq length "$T/audit.json")" 8
is "operations" "$(jq -r '[.[].operation] | unique | join(",")' "$T/audit.json")" "init,issue"
is "who" "$(jq -r '.[0].user' "$T/audit.json")" "$(id -un)"
is "uid" "$(jq -r '.[0].uid' "$T/audit.json")" "$(id -u)"
is "the serial of the issue" "$(jq -r '.[] | select(.name == "worker") | .serial' "$T/audit.json")" "$serial"
check "audit as text" "$CAPSTAN" audit
is "audit text has a line per row" "$(wc -l <"$T/out")" 8

done_testing
