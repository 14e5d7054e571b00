#!/usr/bin/env bash
# Runs `make -jN test-<suite>` (test binaries build in parallel) for each suite named on the
# command line, keeps going after a failure, saves each suite's output under
# build/test-logs/ and ends with one summary line: "N suites passed, M failed, K skipped
# test cases".
# A test that skips a case prints "SKIP: REASON: what" (tests/skip-reasons lists the
# accepted reasons): each such line is counted and shown, and one whose reason is not
# listed fails its suite, so nothing is skipped without a stated, accepted reason.
set -u
cd "$(dirname "$0")/.."
logdir=build/test-logs
mkdir -p "$logdir"
reasons=$(sed -e 's/#.*//' tests/skip-reasons | awk 'NF { print $1 }')
passed=0 failed=0 skipped=0 failed_names=() skip_lines=()
for suite in "$@"; do
	log="$logdir/$suite.log"
	start=$(date +%s)
	echo "=== suite $suite"
	if make -j"$(nproc)" --no-print-directory "test-$suite" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
		verdict=PASS
	else
		verdict=FAIL
	fi
	unexplained=0
	while IFS= read -r line; do
		skipped=$((skipped + 1))
		skip_lines+=("$suite: ${line#SKIP: }")
		reason=$(sed -n 's/^SKIP: \([a-z0-9-]*\): .*/\1/p' <<<"$line")
		if [ -z "$reason" ] || ! grep -qxF -- "$reason" <<<"$reasons"; then
			echo "=== suite $suite: unexplained skip (its reason is not in tests/skip-reasons): $line"
			unexplained=$((unexplained + 1))
		fi
	done < <(grep -a '^SKIP:' "$log")
	[ "$unexplained" -eq 0 ] || verdict=FAIL
	if [ "$verdict" = PASS ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); failed_names+=("$suite")
	fi
	echo "=== suite $suite: $verdict ($(( $(date +%s) - start )) s, log $log)"
done
# CI shows only the end of the output: repeat there why each failed suite failed (its
# failure lines and any kernel problem the VM harness found, with the lines around them).
for suite in "${failed_names[@]}"; do
	echo "=== why suite $suite failed (from $logdir/$suite.log):"
	grep -naE 'FAIL|FAILED|timed out|kernel problem|  match: |Assertion|error:|Error [0-9]' \
		"$logdir/$suite.log" | grep -v ": PASS" | head -n 12 | cut -c1-200
	# The first kernel problem in context (vm_console_check prints it with "  | ").
	grep -naE -m1 -A30 'kernel problem on' "$logdir/$suite.log" | grep -aE '^[0-9]+[-:]  \| ' |
		head -n 24 | cut -c1-160
done
for line in "${skip_lines[@]}"; do
	echo "skipped: $line"
done
echo "${passed} suites passed, ${failed} failed, ${skipped} skipped test cases${failed_names:+ (failed: ${failed_names[*]})}"
[ "$failed" -eq 0 ]
