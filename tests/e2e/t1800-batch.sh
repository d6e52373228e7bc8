#!/usr/bin/env bash
# issue --batch: many certificates in one process, each reported once
# committed; a bad line refuses the whole file; a conflict fails only its line.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null && cap init --env prod --key ec-p384 >/dev/null || exit 1
python3 - "$T/batch.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(300):
        env = "prod" if i % 3 == 0 else "dev"
        req = {"env": env, "profile": ["server", "client", "peer"][i % 3], "cn": "svc-%03d.internal" % i,
               "service": "batch", "days": 30 if i % 2 else "60d"}
        if i % 3 == 2:
            req["ip"] = ["10.0.%d.%d" % (i // 250, i % 250)]
        if i % 50 == 0:
            req["key"] = "ed25519"
        f.write(json.dumps(req) + "\n")
    f.write("\n")  # blank lines are fine
PY
check "issue --batch of 300" cap issue --batch "$T/batch.jsonl"
is "a line per certificate" "$(wc -l <"$T/out")" 300
like "serial, env/name" "$(head -1 "$T/out")" '^[0-9a-f]{32} prod/svc-000\.internal$'
is "all in the inventory" "$("$CAPSTAN" --json list --service batch | jq length)" 300
is "serials are unique" "$("$CAPSTAN" --json list | jq '[.[].serial] | unique | length')" 300
is "prod's are signed by its P-384 intermediate" \
	"$("$CAPSTAN" show svc-003.internal --pem | openssl x509 -noout -text | grep -m1 'Signature Algorithm' | tr -d ' ')" \
	"SignatureAlgorithm:ecdsa-with-SHA384"
is "key types as asked" "$("$CAPSTAN" --json show svc-050.internal | jq -r .key_type)" ed25519
is "lifetimes as asked" "$("$CAPSTAN" --json show svc-001.internal | jq -r .lifetime)/$("$CAPSTAN" --json show svc-002.internal | jq -r .lifetime)" "30d/60d"
trust=$(trust_of dev)
"$CAPSTAN" export svc-005.internal --format chain --out "$T/c.pem"
check "a batch certificate verifies (openssl)" openssl_verify sslserver "$trust" "$T/c.pem"
check "and with certtool" certtool_verify "$trust" "$T/c.pem"
check "its key is held and opens" cap export svc-005.internal --format key --out "$T/k.pem"
check "the key matches" cmp <(openssl x509 -in "$T/c.pem" -noout -pubkey) <(openssl pkey -in "$T/k.pem" -pubout)
is "an audit row each" "$("$CAPSTAN" --json audit | jq '[.[] | select(.operation == "issue")] | length')" 300
check "the audit chain is intact" "$CAPSTAN" audit --verify

# Conflicts fail their line only.
printf '%s\n' '{"env":"dev","profile":"client","cn":"svc-001.internal"}' '{"env":"dev","profile":"client","cn":"fresh"}' \
	'{"env":"nowhere","profile":"client","cn":"lost"}' >"$T/mixed.jsonl"
cap issue --batch "$T/mixed.jsonl" >"$T/out" 2>"$T/err"
is "exit 1 when some failed" "$?" 1
is "the good one was issued" "$(cut -d' ' -f2 "$T/out")" "dev/fresh"
like "the conflict names its line" "$(sed -n 1p "$T/err")" "capstan: .*mixed.jsonl:1: 'svc-001.internal' already has a valid certificate in 'dev'"
like "the unknown environment too" "$(sed -n 2p "$T/err")" "mixed.jsonl:3: unknown environment 'nowhere'"
like "and the count" "$(tail -1 "$T/err")" "capstan: 2 of 3 certificates could not be issued"
check "the audit chain is intact after an item undone" "$CAPSTAN" audit --verify

# An audit row the database refuses stops the batch, and its group is not
# committed: on PostgreSQL the row goes with the next statement (or the
# COMMIT), whose failure it then is. In the middle of the group, and last.
if on_pg; then
	db_sql "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
		IF NEW.name LIKE 'boom%' THEN RAISE EXCEPTION 'audit row refused'; END IF; RETURN NEW; END \$\$;
		CREATE TRIGGER refuse_boom BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
else
	db_sql "CREATE TRIGGER refuse_boom BEFORE INSERT ON audit WHEN NEW.name LIKE 'boom%'
		BEGIN SELECT RAISE(ABORT, 'audit row refused'); END"
fi
printf '%s\n' '{"env":"dev","profile":"client","cn":"before-1"}' '{"env":"dev","profile":"client","cn":"boom-1"}' \
	'{"env":"dev","profile":"client","cn":"after-1"}' >"$T/boom.jsonl"
check_fails "a refused audit row fails the batch" cap issue --batch "$T/boom.jsonl"
like "with the database's reason" "$(cat "$T/err")" "audit row refused"
is "nothing of its group was kept" "$(db_sql "SELECT count(*) FROM certs WHERE name IN ('before-1', 'boom-1', 'after-1')")" 0
printf '%s\n' '{"env":"dev","profile":"client","cn":"before-2"}' '{"env":"dev","profile":"client","cn":"boom-2"}' >"$T/boom.jsonl"
check_fails "last in the batch too" cap issue --batch "$T/boom.jsonl"
is "nothing kept either" "$(db_sql "SELECT count(*) FROM certs WHERE name IN ('before-2', 'boom-2')")" 0
db_sql "DROP TRIGGER refuse_boom${CAPSTAN_E2E_PG:+ ON audit}"
check "the audit chain is intact after the refusals" "$CAPSTAN" audit --verify
check "and it grows again" cap issue --env dev --profile client --cn after-boom
check "still intact" "$CAPSTAN" audit --verify

# A bad line refuses the whole file before anything is issued.
printf '%s\n' '{"env":"dev","profile":"client","cn":"ok-1"}' '{"env":"dev","profile":"client","cn":"x","ip":["300.1.1.1"]}' >"$T/bad.jsonl"
refuses "a bad IP on line 2" 2 "bad\.jsonl:2: bad ip '300\.1\.1\.1'" cap issue --batch "$T/bad.jsonl"
printf '%s\n' '{"env":"dev","profile":"client","cn":"ok-2"}' '{"env":"dev","profile":"client","cn":"y","colour":"red"}' >"$T/bad.jsonl"
refuses "an unknown field, without the command line's usage after it" 2 "bad\.jsonl:2: field 'colour': unknown field$" cap issue --batch "$T/bad.jsonl"
printf '%s\n' '{"env":"dev","profile":"client","cn":"ok-3"}' '{"env":"dev", broken' >"$T/bad.jsonl"
refuses "broken JSON" 2 "bad\.jsonl:2: not JSON" cap issue --batch "$T/bad.jsonl"
printf '%s\n' '{"env":"dev","cn":"noprofile"}' >"$T/bad.jsonl"
refuses "a missing profile" 2 "bad\.jsonl:1: env, profile and cn are required" cap issue --batch "$T/bad.jsonl"
printf '%s\n' '{"env":"dev","profile":"server","cn":"x","key":"rsa-1024"}' >"$T/bad.jsonl"
refuses "a weak key" 2 "field 'key': expected a key type" cap issue --batch "$T/bad.jsonl"
refuses "--batch with other options" 2 "--batch takes its requests from the file" cap issue --batch "$T/bad.jsonl" --env dev
: >"$T/empty.jsonl"
refuses "an empty file" 2 "no request in it" cap issue --batch "$T/empty.jsonl"
is "--json: an array" "$(printf '%s\n' '{"env":"prod","profile":"client","cn":"json-1"}' >"$T/j.jsonl"; cap --json issue --batch "$T/j.jsonl" | jq -r '.[0].name + " " + (.[0].line | tostring)')" "json-1 1"

done_testing
