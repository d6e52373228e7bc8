#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD/fuzz for SECONDS each: first the seeds
# and the kept crashers (tests/fuzz/regressions/TARGET/), then new inputs.
# Fails on the first crash, leak, timeout or sanitizer report, naming the input.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD SECONDS}
seconds=${2:?usage: fuzz.sh BUILD SECONDS}
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for bin in "$build"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	seeds=tests/fuzz/seeds/${name#fuzz_}
	regressions=tests/fuzz/regressions/${name#fuzz_}
	corpus=$build/corpus/$name
	mkdir -p "$corpus" "$build/crashes"
	# Each kept input alone, within 10 s (libFuzzer applies -timeout only while fuzzing).
	for input in "$regressions"/*; do
		[ -f "$input" ] || continue
		if ! timeout 10 "$bin" "$input" >"$build/$name.replay.log" 2>&1; then
			echo "fuzz: $name: kept input $input fails again (see $build/$name.replay.log)" >&2
			status=1
		fi
	done
	# New inputs go to the first directory (under build/); seeds stay as they are.
	if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$build/crashes/$name-" -print_final_stats=1 \
		"$corpus" "$seeds" >"$build/$name.log" 2>&1; then
		echo "fuzz: $name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$build/$name.log" |
			awk '{print $2}') runs in ${seconds}s, corpus $(ls "$corpus" | wc -l), no crash"
	else
		echo "fuzz: $name: FAILED (log $build/$name.log); keep the input in $regressions/:" >&2
		grep -E 'ERROR|SUMMARY|Test unit written' "$build/$name.log" | head -5 >&2
		status=1
	fi
done
exit $status
