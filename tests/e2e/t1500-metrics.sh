#!/usr/bin/env bash
# metrics: a Prometheus textfile that promtool accepts, with each current
# certificate's expiry and counts by status, written atomically.
. "$(dirname "$0")/lib.sh"

cap init --env dev >/dev/null && cap init --env prod >/dev/null || exit 1
cap issue --env dev --profile server --cn web.internal >/dev/null
cap issue --env dev --profile client --cn 'job"1' --name job1 >/dev/null
cap issue --env prod --profile peer --cn etcd-1 --days 30 >/dev/null
cap issue --env dev --profile client --cn gone >/dev/null
cap revoke gone >/dev/null
cap renew web.internal >/dev/null

mkdir -p "$T/textfile"
check "metrics --out" "$CAPSTAN" metrics --out "$T/textfile/capstan.prom"
prom="$T/textfile/capstan.prom"
is "mode 0644, for node_exporter" "$(stat -c %a "$prom")" 644
is "no temporary file left beside it" "$(ls -A "$T/textfile")" "capstan.prom"
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts it" bash -c "promtool check metrics <'$prom'"
else
	not_ok "promtool is not installed (scripts/deps.sh installs it)"
fi
serial=$("$CAPSTAN" --json show web.internal | jq -r .serial)
not_after=$(date -d "$("$CAPSTAN" show web.internal --pem | openssl x509 -noout -enddate | cut -d= -f2)" +%s)
check "the expiry of web.internal, labelled" \
	grep -qx "capstan_cert_not_after_seconds{env=\"dev\",name=\"web.internal\",serial=\"$serial\",profile=\"server\"} $not_after" "$prom"
is "one expiry line per current certificate (3 leaves + 2 CAs per environment)" \
	"$(grep -c '^capstan_cert_not_after_seconds{' "$prom")" 7
check "CAs are there with their kind" grep -q 'name="intermediate-ca-1",serial="[0-9a-f]*",profile="intermediate"}' "$prom"
check "counts by status: dev valid" grep -qx 'capstan_certificates{env="dev",status="valid"} 2' "$prom"
check "counts by status: dev revoked" grep -qx 'capstan_certificates{env="dev",status="revoked"} 1' "$prom"
check "counts by status: dev superseded" grep -qx 'capstan_certificates{env="dev",status="superseded"} 1' "$prom"
check "counts by status: prod valid" grep -qx 'capstan_certificates{env="prod",status="valid"} 1' "$prom"
check "expired certificates are counted as such" \
	bash -c "faketime -f +40d '$CAPSTAN' metrics --out - | grep -qx 'capstan_certificates{env=\"prod\",status=\"expired\"} 1'"
check "a generation timestamp" grep -q '^capstan_metrics_generated_seconds [0-9]*$' "$prom"
check "HELP and TYPE for each metric" test "$(grep -c '^# TYPE .* gauge$' "$prom")" = 8
refuses "metrics needs --out" 2 "--out is required" "$CAPSTAN" metrics
refuses "an unwritable destination" 1 "cannot write in" "$CAPSTAN" metrics --out "$T/nope/capstan.prom"

done_testing
