#!/usr/bin/env bash
# Suite `tools`: every tests/tools/t_*.sh against the binaries in $1 (build/bin).
set -u
BIN=$(cd "${1:?usage: run.sh BIN_DIR}" && pwd)
export BIN
cd "$(dirname "$0")"
status=0
run() {  # run NAME ENV... SCRIPT
	local name=$1 start verdict
	shift
	start=$(date +%s)
	if timeout 240 env "$@"; then verdict=PASS; else verdict=FAIL; status=1; fi
	echo "--- $name: $verdict ($(( $(date +%s) - start )) s)"
}
run t_cli.sh bash t_cli.sh
run "t_corrupt.sh (1 KiB blocks)" BS=1024 bash t_corrupt.sh
run "t_corrupt.sh (4 KiB blocks)" BS=4096 bash t_corrupt.sh
run t_roundtrip.sh bash t_roundtrip.sh
run t_progress.sh bash t_progress.sh
run t_journal_holders.sh bash t_journal_holders.sh
run t_journal_holders_lockd.sh bash t_journal_holders_lockd.sh
run t_glocks.sh bash t_glocks.sh
exit $status
