#!/usr/bin/env bash
# Runs one VM test script: reads its header, boots the cluster it declares, runs the
# script (sourced, with the API of scripts/vm/lib.sh, `set -e` and inherit_errexit;
# refused before booting if it drops a node_run's status, see lint_status_dropped), stops the cluster
# and checks every console. Exit status 0 only if the script and the consoles are clean.
#
# usage: run-test.sh tests/vm/NAME.sh     (logs under VM_LOG_DIR)
#
# Header lines (anywhere in the leading comment block):
#   # nodes: N                   required, 1-4
#   # cluster: OPTIONS           extra cluster_start options (--shared-mib 512 ...)
#   # console-allow: ERE         console lines matching it do not fail the test
#   # timeout: SECONDS           read by the runner (tests/vm/run.sh)
set -uo pipefail
# Output may go to a pipe whose reader is gone after a Ctrl-C: failed writes must not kill
# the test before its trap has stopped the VMs.
trap '' PIPE
test_script=${1:?usage: run-test.sh TEST_SCRIPT}
[ -r "$test_script" ] || { echo "run-test: cannot read $test_script" >&2; exit 2; }

header() { sed -n "s/^# $1: *//p" "$test_script" | head -n 1; }
nodes=$(header nodes)
cluster_options=$(header cluster)
console_allow=$(header console-allow)
[[ $nodes =~ ^[1-4]$ ]] || { echo "run-test: $test_script has no valid '# nodes: N' line (1-4)" >&2; exit 2; }
[ -z "$console_allow" ] || export VM_CONSOLE_ALLOW=$console_allow

# $(node_run ...) as a command's argument (assert_eq X "$(node_run ...)") throws the
# node's exit status away whatever set -e says: a test must assign it first
# (out=$(node_run ...)), which set -e checks. Only a diagnostic inside a fail message may
# use it directly.
lint_status_dropped() {
	awk -v file="$1" '
		/^[[:space:]]*#/ { next }
		{
			rest = $0; before = ""
			while ((i = index(rest, "$(node_run")) > 0) {
				before = before substr(rest, 1, i - 1)
				rest = substr(rest, i + 10)
				if (before ~ /^[[:space:]]*((local|export|if|while|until|!)[[:space:]]+)*[A-Za-z_][A-Za-z0-9_]*\+?=$/)
					continue
				if (before ~ /(^|[[:space:]])[a-z_]*fail[[:space:]]+"/)
					continue
				printf "run-test: %s:%d: the status of $(node_run ...) used as an argument is ignored; assign it to a variable first:\n  %s\n", file, NR, $0
				bad = 1
			}
		}
		END { exit bad }' "$1" >&2
}
lint_status_dropped "$test_script" || exit 2

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC2086 # options are words
cluster_start "$nodes" $cluster_options

# Under set -e the first failing command ends the test: name the line of the test script
# that was running (the failure may be deep inside a library function).
report_failure() {
	local status=$1 i
	[[ $- == *e* ]] || return 0
	# Inside $(...) (inherit_errexit) the enclosing command fails next and reports.
	[ "$BASH_SUBSHELL" -eq 0 ] || return 0
	trap - ERR
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [ "${BASH_SOURCE[i]}" = "$test_script" ]; then
			local line=${BASH_LINENO[i - 1]}
			vm_log "FAIL: ${test_script##*/}:$line: status $status: $(sed -n "${line}p" "$test_script" | sed 's/^[[:space:]]*//')"
			return 0
		fi
	done
	vm_log "FAIL: status $status: $BASH_COMMAND"
}
trap 'report_failure $?' ERR
# inherit_errexit: a failing command inside $(...) ends the substitution with its status
# (without it the substitution goes on and only its last command counts).
shopt -s inherit_errexit
set -eE
# shellcheck source=/dev/null # the test named on the command line
source "$test_script"
set +eE
trap - ERR
vm_log "test body passed"
exit 0
