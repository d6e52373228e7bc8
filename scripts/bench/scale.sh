#!/usr/bin/env bash
# make bench, second part: every command against inventories of growing size,
# printed as one table (rows: commands, columns: sizes; each cell CPU seconds,
# user + system, and peak RSS: the machine may be shared, and CPU time is what
# follows the work; wall seconds go to stderr as it runs) with the growth from the next-to-largest size to the
# largest, so that whatever grows faster than its work shows. A benchmark,
# not a test: nothing here asserts a time.
#
# Each size is synthesized straight into SQLite (seconds, not the hours real
# issuance would take): rows like the real ones (the DER of one real
# certificate, random serials, expiry spread over two years, 10% revoked),
# 1,000 due within 10 days, services of 2,000 certificates, and an audit row
# per certificate, chained like real ones, so audit and check walk a log as
# long as the inventory. The first 2,000 certificates (service svc-0) share
# one real key, so they renew and bundle; the others are keyless, with an
# audit row saying "from CSR", as check expects of keyless certificates, and
# a key digest of their own (revoking one does not find a million siblings).
# Caveat: every synthesized row carries the same DER, so check reports each
# row's serial and fingerprint as differing from it (its work is the same).
#
# BENCH_SIZES="1000 10000" for a quick run; the default goes to a million.
set -euo pipefail
CAPSTAN=${CAPSTAN_BIN:?}
SIZES=${BENCH_SIZES:-1000 10000 100000 1000000}
SVC=2000 # certificates per service
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/capstan-scale.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
unset CAPSTAN_PASSPHRASE
(umask 077 && head -c 24 /dev/urandom | base64 >pass) # 0600: capstan refuses a passphrase file others can read
cc -O2 -o audit_synth "$HERE/audit_synth.c" -lsqlite3 -lcrypto
CAP=("$CAPSTAN" --passphrase-file "$W/pass")
cap() { "${CAP[@]}" "$@"; }

# The commands, in the order they run (read-only ones first, then those that
# change the inventory, so that apply finds nothing to change).
names=(
	"list --status all (text)" "list --status all --json" "show" "trust" "export --format pem"
	"export --format truststore" "verify" "crl" "metrics" "audit" "audit --verify" "check" "check --keys"
	"apply --dry-run (no change)" "apply (no change)" "bundle (service of min(N,$SVC))"
	"revoke" "renew" "rotate" "renew --due (~1,000 due)" "issue"
)
declare -A cell secs

# run SIZE NAME CMD...: times CMD (wall seconds, peak RSS), output discarded.
run() {
	local size=$1 name=$2 rc=0; shift 2
	/usr/bin/time -f '%e %U %S %M' -o t.out "$@" >/dev/null 2>err.out || rc=$?
	read -r wall u sys k < <(tail -1 t.out) # time says "exited with non-zero status" first
	s=$(awk -v u="$u" -v y="$sys" 'BEGIN { printf "%.2f", u + y }')
	if [ "$rc" -ne 0 ] && ! [[ $name == check* && $rc -eq 1 ]]; then # check exits 1 on findings
		cell[$name,$size]="FAIL($rc)"
		echo "  $name at $size failed ($rc): $(head -c 200 err.out)" >&2
	else
		cell[$name,$size]=$(awk -v s="$s" -v k="$k" 'BEGIN { printf "%.2fs %dM", s, (k + 1023) / 1024 }')
	fi
	secs[$name,$size]=$s
	printf '  %-34s %9s  %-14s (wall %ss)\n' "$name" "$size" "${cell[$name,$size]}" "$wall" >&2
}

synthesize() { # N: a fresh home with N leaf certificates, their services and audit rows
	local n=$1 db
	export CAPSTAN_HOME="$W/home-$n"
	cap init --env big -q
	cap -q issue --env big --profile server --cn template.internal --days 365
	db="$CAPSTAN_HOME/capstan.db"
	sqlite3 "$db" >/dev/null <<SQL
PRAGMA synchronous = OFF;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n)
INSERT INTO certs (env_id, kind, name, serial, issuer_id, key_id, profile, status, subject, issuer, sans,
	service, key_type, lifetime, renew_before, not_before, not_after, fingerprint, der, spki_sha256,
	created_at, revoked_at, revoke_reason)
SELECT t.env_id, 'leaf', 'syn-' || i, lower(hex(randomblob(16))), t.issuer_id,
	CASE WHEN i <= $SVC THEN t.key_id END, 'server',
	CASE WHEN i > $SVC AND i % 10 = 0 THEN 'revoked' ELSE 'valid' END,
	t.subject, t.issuer, t.sans, 'svc-' || ((i - 1) / $SVC), t.key_type, 31536000, 0,
	CASE WHEN i <= 1000 THEN strftime('%s', 'now') - 355 * 86400 ELSE strftime('%s', 'now') - 86400 END,
	CASE WHEN i <= 1000 THEN strftime('%s', 'now') + 864000 ELSE strftime('%s', 'now') + 86400 * (40 + (i * 7919) % 690) END,
	lower(hex(randomblob(32))), t.der,
	CASE WHEN i <= $SVC THEN t.spki_sha256 ELSE randomblob(32) END, strftime('%s', 'now'),
	CASE WHEN i > $SVC AND i % 10 = 0 THEN strftime('%s', 'now') END,
	CASE WHEN i > $SVC AND i % 10 = 0 THEN 'keyCompromise' END
FROM n, (SELECT * FROM certs WHERE name = 'template.internal') t;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
	./audit_synth "$db" >/dev/null
	# The configuration that describes them all: apply finds nothing to issue.
	awk -v n="$n" -v per="$SVC" 'BEGIN {
		print "environments: { big: {} }"; print "services:"
		for (i = 1; i <= n; i++) {
			if ((i - 1) % per == 0) printf "  svc-%d:\n    template: etcd\n    certs:\n", (i - 1) / per
			printf "      - { name: syn-%d, profile: server, cn: template.internal }\n", i
		}
	}' >"big-$n.yaml"
	cap apply --config "big-$n.yaml" >apply.out 2>&1 || echo "  first apply at $n failed: $(head -3 apply.out)" >&2
	echo "  (first apply at $n: $(tail -1 apply.out))" >&2
	cap show template.internal --env big --pem >template.pem
}

sweep() { # N
	local n=$1
	synthesize "$n"
	run "$n" "list --status all (text)" "$CAPSTAN" list --status all
	run "$n" "list --status all --json" "$CAPSTAN" --json list --status all
	run "$n" "show" "$CAPSTAN" show "syn-$(((n + 1) / 2))" --env big
	run "$n" "trust" "$CAPSTAN" trust --env big --out trust.pem
	run "$n" "export --format pem" "${CAP[@]}" export syn-7 --env big --format pem --out x.pem
	run "$n" "export --format truststore" "${CAP[@]}" export syn-7 --env big --format truststore --out ts.p12 \
		--password-file "$W/pass"
	run "$n" "verify" "$CAPSTAN" verify template.pem --env big
	run "$n" "crl" "${CAP[@]}" crl --env big --out crl.pem
	run "$n" "metrics" "$CAPSTAN" metrics --out metrics.prom
	run "$n" "audit" "$CAPSTAN" audit
	run "$n" "audit --verify" "$CAPSTAN" audit --verify
	run "$n" "check" "$CAPSTAN" check
	run "$n" "check --keys" "${CAP[@]}" check --keys
	run "$n" "apply --dry-run (no change)" "${CAP[@]}" apply --config "big-$n.yaml" --dry-run
	run "$n" "apply (no change)" "${CAP[@]}" apply --config "big-$n.yaml"
	rm -rf bundle && run "$n" "bundle (service of min(N,$SVC))" "${CAP[@]}" bundle --env big --service svc-0 \
		--out bundle
	run "$n" "revoke" "${CAP[@]}" revoke syn-3 --env big
	run "$n" "renew" "${CAP[@]}" renew syn-4 --env big
	run "$n" "rotate" "${CAP[@]}" rotate syn-5 --env big
	run "$n" "renew --due (~1,000 due)" "${CAP[@]}" -q renew --due
	run "$n" "issue" "${CAP[@]}" -q issue --env big --profile server --cn one-more.internal
	rm -rf "$CAPSTAN_HOME" bundle
}

echo "capstan scale sweep: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, sizes: $SIZES" >&2
for n in $SIZES; do
	start=$(date +%s.%N)
	sweep "$n"
	echo "  (size $n: $(printf '%.0f' "$(echo "$(date +%s.%N) - $start" | bc)") s in all)" >&2
done

# The table: CPU seconds and peak RSS per cell; then the growth in time
# from the next-to-largest size to the largest (linear: their ratio).
read -ra sz <<<"$SIZES"
last=${sz[-1]} prev=
if [ "${#sz[@]}" -ge 2 ]; then prev=${sz[-2]}; fi
echo
printf '%-34s' "command \\ certificates"
for n in "${sz[@]}"; do printf ' %14s' "$n"; done
[ -n "$prev" ] && printf ' %12s' "x ${prev}->${last}"
echo
for name in "${names[@]}"; do
	printf '%-34s' "$name"
	for n in "${sz[@]}"; do printf ' %14s' "${cell[$name,$n]:--}"; done
	if [ -n "$prev" ]; then
		awk -v a="${secs[$name,$prev]:-0}" -v b="${secs[$name,$last]:-0}" \
			'BEGIN { if (a + 0 > 0.05 && b + 0 > 0) printf " %11.1fx", b / a; else printf " %12s", "-" }'
	fi
	echo
done
[ -n "$prev" ] && echo "(cells: CPU seconds, user + system, and peak RSS; x: time at $last / time at $prev, linear = $((last / prev)))"
exit 0
