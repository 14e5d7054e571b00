#!/usr/bin/env bash
# Runs the VM tests: every tests/vm/*.sh except this runner, or those named on the command
# line or in T (names without .sh, shell patterns allowed: T='kernel-*'), each with the
# node count it declares, each bounded by its "# timeout:" (default 300 s; VM_TEST_TIMEOUT
# overrides it for every test, for soak runs). Logs go to
# build/vm-logs/RUN/NAME/ (build/vm-logs/latest points at the newest run). Ends with
# "N passed, N failed"; exit status 1 if a test failed or no test matched.
#
# usage: tests/vm/run.sh [--exclude PATTERN]... [NAME|PATTERN]...
#   --exclude  skip matching tests (the `vm` suite skips those another suite runs)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
repo=$PWD

excluded=()
while [ $# -gt 0 ]; do
	case "$1" in
	--exclude) excluded+=("${2:?--exclude needs a pattern}"); shift 2 ;;
	--) shift; break ;;
	-*) echo "vmtest: unknown option '$1'" >&2; exit 2 ;;
	*) break ;;
	esac
done
selection=("$@")
if [ ${#selection[@]} -eq 0 ] && [ -n "${T:-}" ]; then
	read -r -a selection <<<"${T//,/ }"
fi
tests=()
for script in tests/vm/*.sh; do
	name=$(basename "$script" .sh)
	[ "$name" = run ] && continue
	skip=0
	for pattern in "${excluded[@]}"; do
		# shellcheck disable=SC2053 # the pattern is a glob on purpose
		[[ $name == $pattern ]] && skip=1
	done
	[ "$skip" -eq 0 ] || continue
	if [ ${#selection[@]} -gt 0 ]; then
		matched=0
		for pattern in "${selection[@]}"; do
			# shellcheck disable=SC2053 # the pattern is a glob on purpose
			[[ $name == $pattern ]] && matched=1
		done
		[ "$matched" -eq 1 ] || continue
	fi
	tests+=("$script")
done
if [ ${#tests[@]} -eq 0 ]; then
	echo "vmtest: no test matches '${selection[*]:-}' (have: $(for t in tests/vm/*.sh; do [ "$t" = tests/vm/run.sh ] || basename "$t" .sh; done | tr '\n' ' '))" >&2
	exit 1
fi

run_dir=$repo/build/vm-logs/$(date -u +%Y%m%dT%H%M%S)-$$
mkdir -p "$run_dir"
ln -sfn "$(basename "$run_dir")" "$repo/build/vm-logs/latest"

current_pid=
on_interrupt() {
	echo "vmtest: interrupted, stopping the running test" >&2
	# timeout(1) forwards TERM to the test driver, whose trap stops its VMs.
	[ -n "$current_pid" ] && kill -TERM "$current_pid" 2>/dev/null && wait "$current_pid"
	exit 130
}
trap on_interrupt INT TERM

passed=0 failed=0 failed_names=()
for script in "${tests[@]}"; do
	name=$(basename "$script" .sh)
	limit=$(sed -n 's/^# timeout: *//p' "$script" | head -n 1)
	limit=${VM_TEST_TIMEOUT:-${limit:-300}}  # VM_TEST_TIMEOUT: longer soak runs
	log_dir=$run_dir/$name
	mkdir -p "$log_dir"
	echo "=== vmtest $name (limit ${limit}s, logs $log_dir)"
	start=$SECONDS
	# tee ignores SIGINT: on Ctrl-C it must keep carrying the test's teardown messages
	# (and a test writing to a dead pipe would die before stopping its VMs).
	VM_LOG_DIR=$log_dir timeout -k 30 "$limit" scripts/vm/run-test.sh "$script" \
		> >(trap '' INT; exec tee "$log_dir/test.log") 2>&1 &
	current_pid=$!
	wait "$current_pid"
	status=$?
	current_pid=
	elapsed=$((SECONDS - start))
	if [ "$status" -eq 0 ]; then
		passed=$((passed + 1))
		echo "=== vmtest $name: PASS (${elapsed}s)"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		[ "$status" -eq 124 ] && echo "=== vmtest $name: timed out after ${limit}s"
		echo "=== vmtest $name: FAIL (status $status, ${elapsed}s, logs $log_dir)"
	fi
done
echo "${passed} passed, ${failed} failed${failed_names:+ (${failed_names[*]})}"
[ "$failed" -eq 0 ]
