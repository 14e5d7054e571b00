#!/usr/bin/env bash
# Runs one VM test script: reads its header, boots the cluster it declares, runs the
# script (sourced, with the API of scripts/vm/lib.sh and `set -e`), stops the cluster
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

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC2086 # options are words
cluster_start "$nodes" $cluster_options

# Under set -e the first failing command ends the test: name the line of the test script
# that was running (the failure may be deep inside a library function).
report_failure() {
	local status=$1 i
	[[ $- == *e* ]] || return 0
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
set -eE
# shellcheck source=/dev/null # the test named on the command line
source "$test_script"
set +eE
trap - ERR
vm_log "test body passed"
exit 0
