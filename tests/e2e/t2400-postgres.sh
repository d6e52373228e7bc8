#!/usr/bin/env bash
# The inventory on PostgreSQL (issue 16): a throwaway server, the lifecycle
# on it, and several processes issuing into one inventory at once: serials
# unique per issuer, one unbroken audit chain. Then how the inventory is
# named: --inventory, $CAPSTAN_INVENTORY, inventory: in the configuration,
# sqlite:PATH, and a password in the URL refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg-lib.sh"
. "$(dirname "$0")/serve-lib.sh"

[ "$(id -u)" = 0 ] || command -v runuser >/dev/null ||
	{ echo "1..0 # SKIP the server runs as another user (runuser, as root)"; exit 0; }
pg_start || { echo "1..0 # SKIP no PostgreSQL server binaries (postgresql)"; exit 0; }

# batch FILE ENV PREFIX N: N issue requests, one a line.
batch() {
	local i
	for i in $(seq 1 "$4"); do
		printf '{"env":"%s","profile":"client","cn":"%s-%04d","service":"batch","days":30}\n' "$2" "$3" "$i"
	done >"$1"
}
# The number of rows of QUERY on the inventory's database.
sql() { pg_psql -At -c "$1"; }

check "init on PostgreSQL" cap init --env dev
check "nothing was made in the home but the home" test ! -e "$CAPSTAN_HOME/capstan.db"
is "the schema is at the latest version" "$(sql "SELECT obj_description('meta'::regclass, 'pg_class')")" 14
check "issue" cap issue --env dev --profile server --cn web.internal --dns web.internal
is "the certificate is on the server" "$(sql "SELECT count(*) FROM certs WHERE name = 'web.internal'")" 1
trust=$(trust_of dev)
"$CAPSTAN" export web.internal --format chain --out "$T/web.pem"
check "it verifies (openssl)" openssl_verify sslserver "$trust" "$T/web.pem"
check "its key opens" cap export web.internal --format key --out "$T/web.key"

batch "$T/b200.jsonl" dev one 200
check "issue --batch of 200" cap issue --batch "$T/b200.jsonl"
is "200 lines" "$(wc -l <"$T/out")" 200
is "all listed" "$("$CAPSTAN" --json list --service batch | jq length)" 200

old=$("$CAPSTAN" --json show web.internal | jq -r .serial)
check "renew" cap renew web.internal
new=$("$CAPSTAN" --json show web.internal | jq -r .serial)
check "a new serial" test "$old" != "$new"
is "the old one superseded" "$("$CAPSTAN" --json list --status superseded | jq -r '.[].serial')" "$old"
check "renew --due finds nothing due" cap renew --due
check "renew --due at +25 days renews what is due" faketime -f +25d "$CAPSTAN" --passphrase-file "$PASS" --json renew --due
is "every batch certificate, once" "$(jq '.renewed | length' "$T/out")" 200

check "revoke" cap revoke one-0001 --reason keyCompromise
check "crl" cap crl --env dev --out "$T/dev.crl"
like "the CRL lists the revoked serial" "$(openssl crl -in "$T/dev.crl" -noout -text)" \
	"$("$CAPSTAN" --json list --status revoked | jq -r '.[0].serial' | tr a-f A-F)"
is "envs.revoked_at kept by the trigger" "$(sql "SELECT revoked_at > 0 FROM envs WHERE name = 'dev'")" t
check "the audit chain verifies" "$CAPSTAN" audit --verify
# (at +25 days: renew --due above made certificates that start then)
check "check --keys finds no problem" faketime -f +25d "$CAPSTAN" --passphrase-file "$PASS" check --keys

# Two batches at once, each its own process and connection.
cap init --env par >/dev/null || not_ok "init par"
batch "$T/a.jsonl" par a 500
batch "$T/b.jsonl" par b 500
cap issue --batch "$T/a.jsonl" >"$T/a.out" 2>"$T/a.err" &
pa=$!
cap issue --batch "$T/b.jsonl" >"$T/b.out" 2>"$T/b.err" &
pb=$!
wait "$pa"; is "batch a exits 0" "$?" 0
wait "$pb"; is "batch b exits 0" "$?" 0
is "no errors" "$(cat "$T/a.err" "$T/b.err")" ""
is "1,000 reported" "$(cat "$T/a.out" "$T/b.out" | wc -l)" 1000
is "1,000 distinct serials" "$(cut -d' ' -f1 "$T/a.out" "$T/b.out" | sort -u | wc -l)" 1000
is "1,000 in the inventory" "$(sql "SELECT count(*) FROM certs c JOIN envs e ON e.id = c.env_id WHERE e.name = 'par' AND c.kind = 'leaf'")" 1000
is "no serial twice under an issuer" "$(sql "SELECT count(*) FROM (SELECT 1 FROM certs GROUP BY issuer_id, serial HAVING count(*) > 1) d")" 0
is "an audit row each" "$(sql "SELECT count(*) FROM audit WHERE op = 'issue' AND env = 'par'")" 1000
check "one unbroken audit chain" "$CAPSTAN" audit --verify
check "check agrees" faketime -f +25d "$CAPSTAN" check

# Three renew --due runs at once (cron on three hosts): each certificate
# renewed once, the audit log one chain.
cap init --env due >/dev/null || not_ok "init due"
batch "$T/due.jsonl" due due 60
cap issue --batch "$T/due.jsonl" >/dev/null || not_ok "issue due"
for run in 1 2 3; do
	faketime -f +25d "$CAPSTAN" --passphrase-file "$PASS" --json renew --due --env due >"$T/run$run.json" 2>"$T/run$run.err" &
	pids[run]=$!
done
for run in 1 2 3; do
	wait "${pids[run]}"
	is "renew --due run $run exits 0" "$?" 0
	is "and printed no error" "$(cat "$T/run$run.err")" ""
done
is "60 renewals across the runs" "$(cat "$T"/run?.json | jq -s '[.[].renewed | length] | add')" 60
is "none renewed twice" "$(cat "$T"/run?.json | jq -rs '[.[].renewed[].name] | unique | length')" 60
is "60 renew rows" "$(sql "SELECT count(*) FROM audit WHERE op = 'renew' AND env = 'due'")" 60
check "the audit chain is still one" "$CAPSTAN" audit --verify

# Naming the inventory.
url=$CAPSTAN_INVENTORY
unset CAPSTAN_INVENTORY
check "--inventory names it" cap --inventory "$url" list --env dev
check_fails "without it, the home has no inventory" "$CAPSTAN" list
secret_file "$CAPSTAN_HOME/capstan.yaml" "inventory: $url"
check "inventory: in the home's configuration names it" "$CAPSTAN" list --env dev
rm -f "$CAPSTAN_HOME/capstan.yaml"
pw_url="postgresql://capstan:secret@/capstan?host=$PG_DIR/sock"
refuses "a password in the URL" 1 "a password is never given in the URL" "$CAPSTAN" --inventory "$pw_url" list
refuses "a database that does not exist" 1 "cannot connect" \
	"$CAPSTAN" --inventory "postgresql://capstan@/nowhere?host=$PG_DIR/sock" list
pg_createdb empty
refuses "an empty database is no inventory" 1 "no inventory in" "$CAPSTAN" --inventory "$(pg_url empty)" list
check "sqlite:PATH" cap --inventory "sqlite:$T/other.db" init --env lab
check "is an SQLite file" test -s "$T/other.db"
is "both engines' schemas have the same steps" "$(sqlite3 "$T/other.db" 'PRAGMA user_version')" \
	"$(PG_PSQL_URL=$url sql "SELECT obj_description('meta'::regclass, 'pg_class')")"
is "and holds its own inventory" "$("$CAPSTAN" --inventory "sqlite:$T/other.db" --json list --ca | jq -r '.[0].env')" lab

# serve outlives its connection: the server drops every session (a restart,
# a failover) and the next answers come from a new one.
export CAPSTAN_INVENTORY=$url
serve_site_setup
trap 'stop_serve; pg_stop; rm -rf "$T"' EXIT
check "serve starts on PostgreSQL" start_serve --config "$T/serve.yaml"
like "OCSP: good" "$(ocsp)" "site.pem: good"
pg_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE datname = current_database() AND pid <> pg_backend_pid()" >/dev/null
check "revoke while serve's session is gone" cap revoke site --env prod --reason keyCompromise
like "OCSP from a new session: revoked" "$(ocsp)" "site.pem: revoked"
check "serve is still running" kill -0 "$SERVE_PID"
stop_serve
check "the audit chain verifies" "$CAPSTAN" audit --verify

done_testing
