#!/usr/bin/env bash
# make bench, CA keys in a token (issue 17): issue --batch under an
# intermediate held in a SoftHSM2 token against a sealed software
# intermediate, run side by side (medians of RUNS), and the time of one
# init --hsm. SoftHSM2 signs in software, so the ratio is capstan's (and
# pkcs11-provider's) overhead per token signature. A benchmark: nothing asserted.
set -euo pipefail
CAPSTAN=${CAPSTAN_BIN:?}
BATCH=${BENCH_BATCH:-5000}
RUNS=${BENCH_BATCH_RUNS:-3}
MODULE=/usr/lib/softhsm/libsofthsm2.so
PROVIDER=$(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')/pkcs11.so
if ! command -v softhsm2-util >/dev/null || [ ! -r "$MODULE" ] || [ ! -r "$PROVIDER" ]; then
	echo "pkcs11 bench: skipped (softhsm2 or pkcs11-provider missing: scripts/deps.sh)" >&2
	exit 0
fi
W=$(mktemp -d /tmp/capstan-bench-p11.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
(umask 077 && head -c 24 /dev/urandom | base64 >pass && echo 12345678 >pin)
export SOFTHSM2_CONF="$W/softhsm2.conf"
mkdir tokens
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$W/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label bench --so-pin 87654321 --pin 12345678 >/dev/null
HSM="pkcs11:token=bench?module-path=$MODULE&pin-source=file:$W/pin"
CAP=("$CAPSTAN" --passphrase-file "$W/pass" -q)
timed() { local out=$1; shift; /usr/bin/time -f '%e %M' -o "$out" "$@" >/dev/null 2>&1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / (s > 0 ? s : 0.001) }'; }

for e in soft tok; do
	for i in $(seq 1 "$BATCH"); do printf '{"env":"%s","profile":"server","cn":"b%d.internal"}\n' "$e" "$i"; done >"$e.jsonl"
done
soft=() tok=() inits=()
for r in $(seq 1 "$RUNS"); do
	export CAPSTAN_HOME="$W/home$r"
	"${CAP[@]}" init --env soft
	timed t.init "${CAP[@]}" init --env tok --hsm "$HSM" && read -r s _ <t.init && inits+=("$s")
	timed t.soft "${CAP[@]}" issue --batch soft.jsonl && read -r s _ <t.soft && soft+=("$(rate "$BATCH" "$s")")
	timed t.tok "${CAP[@]}" issue --batch tok.jsonl && read -r s _ <t.tok && tok+=("$(rate "$BATCH" "$s")")
	echo "  (pkcs11 run $r: sealed ${soft[-1]}/s, token ${tok[-1]}/s, init --hsm ${inits[-1]} s)" >&2
	# A fresh token per run: its labels are the environment's again.
	softhsm2-util --delete-token --token bench >/dev/null
	softhsm2-util --init-token --free --label bench --so-pin 87654321 --pin 12345678 >/dev/null
done
s=$(median "${soft[@]}") t=$(median "${tok[@]}") i=$(median "${inits[@]}")
printf '%-46s %12s\n' "CA key in a token (SoftHSM2), EC P-256" "certs/s"
printf '%-46s %12s\n' "issue --batch ($BATCH), sealed intermediate" "$s"
printf '%-46s %12s\n' "issue --batch ($BATCH), token intermediate" "$t"
awk -v s="$s" -v t="$t" 'BEGIN { printf "token / sealed: %.2f (goal >= 0.25)\n", t / s }'
printf 'init --hsm (two keys generated in the token): %s s\n' "$i"
