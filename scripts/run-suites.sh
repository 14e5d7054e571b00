#!/usr/bin/env bash
# Runs `make -jN test-<suite>` (test binaries build in parallel) for each suite named on the command line, keeps going after a
# failure, saves each suite's output under build/test-logs/ and ends with one summary line.
set -u
cd "$(dirname "$0")/.."
logdir=build/test-logs
mkdir -p "$logdir"
passed=0 failed=0 failed_names=()
for suite in "$@"; do
	log="$logdir/$suite.log"
	start=$(date +%s)
	echo "=== suite $suite"
	if make -j"$(nproc)" --no-print-directory "test-$suite" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
		passed=$((passed + 1)); verdict=PASS
	else
		failed=$((failed + 1)); failed_names+=("$suite"); verdict=FAIL
	fi
	echo "=== suite $suite: $verdict ($(( $(date +%s) - start )) s, log $log)"
done
echo "${passed} suites passed, ${failed} failed${failed_names:+ (${failed_names[*]})}"
[ "$failed" -eq 0 ]
