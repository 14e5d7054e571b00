#!/usr/bin/env bash
# Runs the VM tests: every tests/vm/*.sh except this runner, or those named on the command
# line or in T (names without .sh, shell patterns allowed: T='kernel-*'), each with the
# node count it declares, each bounded by its "# timeout:" (default 300 s; VM_TEST_TIMEOUT
# overrides it for every test, for soak runs). Logs go to
# build/vm-logs/RUN/NAME/ (build/vm-logs/latest points at the newest run). Ends with
# "N passed, N failed"; exit status 1 if a test failed or no test matched.
#
# usage: tests/vm/run.sh [--exclude PATTERN]... [--jobs N] [NAME|PATTERN]...
#   --exclude  skip matching tests (the `vm` suite skips those another suite runs)
#   --jobs N   run up to N tests at once (VM_JOBS; default 1), at most one of them a
#              test of several nodes. A one-node test's TCG VM keeps one host core busy;
#              a test of three nodes keeps about one core busy too (its VMs mostly wait
#              for each other): measured 44-51 % and 46-60 % of 2 cores. So on 2 cores
#              the tests of several nodes run one after another, in the order found,
#              with one-node tests beside them, longest "# timeout:" first.
#              A test of several nodes prints as it runs; the output of a one-node test
#              run beside others goes to its log only, its result line, and the log's
#              tail on failure, come when it ends.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
repo=$PWD

excluded=()
jobs=${VM_JOBS:-1}
while [ $# -gt 0 ]; do
	case "$1" in
	--exclude) excluded+=("${2:?--exclude needs a pattern}"); shift 2 ;;
	--jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
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

[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "vmtest: --jobs needs a positive number, not '$jobs'" >&2; exit 2; }

node_count() { sed -n 's/^# nodes: *//p' "$1" | head -n 1; }
test_limit() {
	local limit
	limit=$(sed -n 's/^# timeout: *//p' "$1" | head -n 1)
	echo "${VM_TEST_TIMEOUT:-${limit:-300}}"  # VM_TEST_TIMEOUT: longer soak runs
}
several=() single=()
if [ "$jobs" -gt 1 ]; then
	for script in "${tests[@]}"; do
		if [ "$(node_count "$script")" = 1 ]; then single+=("$script"); else several+=("$script"); fi
	done
	# Longest limit first, a stand-in for longest run: the last test alone on a core
	# then is a short one.
	if [ "${#single[@]}" -gt 0 ]; then
		mapfile -t single < <(for script in "${single[@]}"; do
			printf '%s %s\n' "$(test_limit "$script")" "$script"
		done | sort -s -k1,1nr | cut -d' ' -f2-)
	fi
else
	several=("${tests[@]}")  # one at a time, in order, each printing as it runs
fi

declare -A running=()   # PID -> test script
declare -A started=()   # PID -> start time (SECONDS)
declare -A quiet=()     # PID -> 1 when its output goes to its log only
on_interrupt() {
	echo "vmtest: interrupted, stopping the running tests" >&2
	# timeout(1) forwards TERM to the test driver, whose trap stops its VMs.
	for pid in "${!running[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${!running[@]}"; do wait "$pid"; done
	exit 130
}
trap on_interrupt INT TERM

passed=0 failed=0 failed_names=()
# Reports one finished test: PASS or FAIL with its status and time.
report() {
	local name=$1 status=$2 elapsed=$3 limit=$4 log_dir=$5 quiet=$6
	if [ "$status" -eq 0 ]; then
		passed=$((passed + 1))
		echo "=== vmtest $name: PASS (${elapsed}s)"
		return
	fi
	failed=$((failed + 1))
	failed_names+=("$name")
	if [ "$quiet" -eq 1 ]; then
		echo "=== vmtest $name: last 80 lines of $log_dir/test.log"
		tail -n 80 "$log_dir/test.log"
		# A kernel problem the harness found may lie further back than those lines.
		if grep -q 'kernel problem on' "$log_dir/test.log"; then
			echo "=== vmtest $name: the kernel problems it found"
			grep -m1 -A48 'kernel problem on' "$log_dir/test.log"
		fi
	fi
	[ "$status" -eq 124 ] && echo "=== vmtest $name: timed out after ${limit}s"
	echo "=== vmtest $name: FAIL (status $status, ${elapsed}s, logs $log_dir)"
}
# Waits for one running test to end and reports it.
several_running=0
reap_one() {
	local pid status script name
	wait -n -p pid "${!running[@]}"
	status=$?
	script=${running[$pid]}
	name=$(basename "$script" .sh)
	report "$name" "$status" $((SECONDS - ${started[$pid]})) "$(test_limit "$script")" \
		"$run_dir/$name" "${quiet[$pid]}"
	[ "${quiet[$pid]}" -eq 1 ] || several_running=0
	unset "running[$pid]" "started[$pid]" "quiet[$pid]"
}
# start_test SCRIPT QUIET: starts SCRIPT in the background under its limit.
start_test() {
	local script=$1 is_quiet=$2 name limit log_dir
	name=$(basename "$script" .sh)
	limit=$(test_limit "$script")
	log_dir=$run_dir/$name
	mkdir -p "$log_dir"
	if [ "$is_quiet" -eq 1 ]; then
		echo "=== vmtest $name (limit ${limit}s, logs $log_dir, beside other tests)"
		VM_LOG_DIR=$log_dir timeout -k 30 "$limit" scripts/vm/run-test.sh "$script" \
			> "$log_dir/test.log" 2>&1 < /dev/null &
	else
		echo "=== vmtest $name (limit ${limit}s, logs $log_dir)"
		# tee ignores SIGINT: on Ctrl-C it must keep carrying the test's teardown messages
		# (and a test writing to a dead pipe would die before stopping its VMs).
		VM_LOG_DIR=$log_dir timeout -k 30 "$limit" scripts/vm/run-test.sh "$script" \
			> >(trap '' INT; exec tee "$log_dir/test.log") 2>&1 < /dev/null &
		several_running=1
	fi
	running[$!]=$script
	started[$!]=$SECONDS
	quiet[$!]=$is_quiet
}

next_several=0 next_single=0
while [ "$next_several" -lt "${#several[@]}" ] || [ "$next_single" -lt "${#single[@]}" ]; do
	if [ "${#running[@]}" -ge "$jobs" ]; then
		reap_one
	elif [ "$next_several" -lt "${#several[@]}" ] && [ "$several_running" -eq 0 ]; then
		start_test "${several[next_several]}" 0
		next_several=$((next_several + 1))
	elif [ "$next_single" -lt "${#single[@]}" ]; then
		start_test "${single[next_single]}" 1
		next_single=$((next_single + 1))
	else
		reap_one  # the next test of several nodes waits for the running one
	fi
done
while [ "${#running[@]}" -gt 0 ]; do reap_one; done
echo "${passed} passed, ${failed} failed${failed_names:+ (${failed_names[*]})}"
[ "$failed" -eq 0 ]
