#!/usr/bin/env bash
# Fails when a checked run left any report (ASan, UBSan, LeakSanitizer, valgrind).
set -u
dir=${1:?usage: sanitizer-verdict.sh REPORT_DIR}
shopt -s nullglob
reports=("$dir"/*)
if [ ${#reports[@]} -eq 0 ]; then
	echo "sanitizers: no reports"
	exit 0
fi
echo "sanitizers: ${#reports[@]} report(s):" >&2
for r in "${reports[@]}"; do
	echo "== $r" >&2
	head -40 "$r" >&2
done
exit 1
