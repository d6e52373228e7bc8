#!/usr/bin/env bash
# Crash consistency: apply, renew --due and bundle are SIGKILLed at random
# moments a dozen times each; after every kill the home passes `capstan
# check`, and a run to the end leaves exactly what one uninterrupted run would.
. "$(dirname "$0")/lib.sh"

KILLS=12
CFG="$T/capstan.yaml"
{
	echo "organization: Crash Test"
	echo "environments:"
	echo "  dev: { defaults: { key: ec-p384 } }   # slower keys: a longer window for the kills"
	echo "services:"
	for s in $(seq 0 9); do
		echo "  svc$s:"
		echo "    template: kubernetes"
		echo "    certs:"
		for i in $(seq 0 29); do echo "      - { name: s$s-c$i, profile: server, dns: [s$s-c$i.internal] }"; done
	done
} >"$CFG"

# killed_at SECONDS CMD...: starts CMD, SIGKILLs it after SECONDS (if still
# running). CMD must be a program that is capstan itself once started (capstan,
# env, valgrind), not a shell function or faketime, which would fork it: the
# kill would miss it.
killed_at() {
	local delay=$1; shift
	"$@" >/dev/null 2>&1 &
	local pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# libfaketime (LATER) makes a semaphore and shared memory named after the
	# pid and removes them at exit, which SIGKILL skips: tidy up after it.
	rm -f "/dev/shm/faketime_shm_$pid" "/dev/shm/sem.faketime_sem_$pid"
	return 0
}
# A random moment within the first 60% of RUN_MS, how long an uninterrupted
# run takes here: most kills then land in the middle of the work.
moment() { local ms=$((RANDOM % (RUN_MS * 6 / 10 + 1))); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }
# timed_ms CMD...: runs CMD, prints how many milliseconds it took.
timed_ms() { local t0; t0=$(date +%s%N); "$@" >/dev/null 2>&1; echo $((($(date +%s%N) - t0) / 1000000 + 1)); }

CAP=("$CAPSTAN" --passphrase-file "$PASS")
# 80 days on, in the same process (lib.sh's faketime is a shell function).
LATER=(env LD_PRELOAD='/usr/$LIB/faketime/libfaketime.so.1' FAKETIME=+80d "${CAP[@]}")

db() { db_sql "$1"; }

# The environment first (its creation is one transaction), then kills land
# within the time an uninterrupted apply takes here (measured on a copy).
cap init --env dev --key ec-p384 >/dev/null || exit 1
home_copy "$CAPSTAN_HOME" "$T/probe"
RUN_MS=$(CAPSTAN_HOME="$T/probe" timed_ms "${CAP[@]}" apply --config "$CFG")
leaves() { db "SELECT count(*) FROM certs WHERE kind = 'leaf'" 2>/dev/null || echo 0; }

# Each kill is followed by a check; count how many passed.
sound=0 midway=0 single=0
for k in $(seq 1 $KILLS); do
	killed_at "$(moment)" "${CAP[@]}" apply --config "$CFG"
	n=$(leaves)
	[ "$n" -gt 0 ] && [ "$n" -lt 300 ] && midway=$((midway + 1))
	if cap check >"$T/check.out" 2>&1; then sound=$((sound + 1)); else diag "$T/check.out"; fi
	# Never two valid certificates for one name.
	dup=$(db "SELECT count(*) FROM (SELECT name FROM certs WHERE kind = 'leaf' AND status = 'valid' GROUP BY env_id, name HAVING count(*) > 1) d")
	if [ "$dup" = 0 ]; then single=$((single + 1)); else echo "# kill $k: $dup names with two valid certificates" >&2; fi
done
is "apply: capstan check passes after each of $KILLS kills" "$sound" "$KILLS"
is "apply: never two valid certificates for one name, after each of $KILLS kills" "$single" "$KILLS"
echo "# apply takes ${RUN_MS} ms here; $midway kills landed while it was issuing, $(leaves) certificates issued by then"
like "some kills landed while certificates were being issued" "$midway" '^([1-9]|1[0-2])$'

check "apply to the end" cap apply --config "$CFG"
is "300 certificates, one per name" "$(db "SELECT count(*), count(DISTINCT name) FROM certs WHERE kind = 'leaf' AND status = 'valid'")" "300|300"
is "no certificate beyond them (nothing issued twice)" "$(db "SELECT count(*) FROM certs WHERE kind = 'leaf'")" 300
is "unique serials" "$(db "SELECT count(DISTINCT serial) FROM certs")" "$(db "SELECT count(*) FROM certs")"
is "every key present" "$(db "SELECT count(*) FROM certs c JOIN keys k ON k.id = c.key_id WHERE c.kind = 'leaf'")" 300
check "the audit chain is intact" "$CAPSTAN" audit --verify
check "a second apply changes nothing" cap apply --config "$CFG"
like "says so" "$(cat "$T/out")" "nothing to change"

# renew --due, 80 days on: all 300 are due.
home_copy "$CAPSTAN_HOME" "$T/probe"
RUN_MS=$(CAPSTAN_HOME="$T/probe" timed_ms "${LATER[@]}" renew --due)
sound=0
for k in $(seq 1 $KILLS); do
	killed_at "$(moment)" "${LATER[@]}" renew --due
	if "${LATER[@]}" check >"$T/check.out" 2>&1; then
		sound=$((sound + 1))
	else
		diag "$T/check.out"
	fi
done
is "renew --due: capstan check passes after each of $KILLS kills" "$sound" "$KILLS"
check "renew --due to the end" "${LATER[@]}" renew --due
is "each of the 300 renewed exactly once" \
	"$(db "SELECT count(*), count(DISTINCT name) FROM certs WHERE kind = 'leaf' AND status = 'valid'"):$(db "SELECT count(*) FROM certs WHERE kind = 'leaf' AND status = 'superseded'")" "300|300:300"
check "nothing left due" "${LATER[@]}" renew --due
is "so nothing more was issued" "$(db "SELECT count(*) FROM certs WHERE kind = 'leaf'")" 600
check "the audit chain is intact after the renewals" "$CAPSTAN" audit --verify

# bundle: an interrupted bundle leaves the previous one as it was.
# bundle_sum DIR: its files' digests (MANIFEST without its "made at" line).
bundle_sum() {
	(cd "$1" && for f in $(ls -A | sort); do
		if [ "$f" = MANIFEST ]; then tail -n +2 "$f" | sha256sum; else sha256sum <"$f"; fi
	done) | sha256sum
}
B="$T/bundles/svc3"
check "a first bundle" cap bundle --env dev --service svc3 --out "$B"
old=$(bundle_sum "$B")
cap renew s3-c0 >/dev/null # the next bundle differs
RUN_MS=$(timed_ms cap bundle --env dev --service svc3 --out "$T/probe-bundle")
new=$(bundle_sum "$T/probe-bundle")
intact=0
for k in $(seq 1 $KILLS); do
	killed_at "$(moment)" "${CAP[@]}" bundle --env dev --service svc3 --out "$B"
	now=$(bundle_sum "$B")
	if [ "$now" = "$old" ] || [ "$now" = "$new" ]; then
		intact=$((intact + 1))
	else
		echo "# kill $k: neither the old bundle nor the new one:" >&2
		diff -r "$T/probe-bundle" "$B" | head -5 >&2
	fi
done
is "bundle: after each of $KILLS kills the bundle is the old one or the new one, whole" "$intact" "$KILLS"
check "bundling to the end" cap bundle --env dev --service svc3 --out "$B"
is "which removed what the killed runs left behind" "$(ls -A "$T/bundles")" svc3
is "the final bundle is the new one" "$(bundle_sum "$B")" "$new"

done_testing
