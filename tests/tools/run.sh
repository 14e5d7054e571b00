#!/usr/bin/env bash
# Suite `tools`: every tests/tools/t_*.sh against the binaries in $1 (build/bin).
set -u
BIN=$(cd "${1:?usage: run.sh BIN_DIR}" && pwd)
export BIN
cd "$(dirname "$0")"
status=0
for t in t_*.sh; do
	start=$(date +%s)
	if timeout 240 bash "$t"; then verdict=PASS; else verdict=FAIL; status=1; fi
	echo "--- $t: $verdict ($(( $(date +%s) - start )) s)"
done
exit $status
