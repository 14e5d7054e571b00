# Shared helpers of the tools test scripts. Sourced; $BIN is the directory of the
# binaries under test, $WORK a scratch directory removed at exit.
set -u
BIN=${BIN:?BIN must name the build/bin directory}
MKFS=$BIN/mkfs.clusterfs FSCK=$BIN/fsck.clusterfs TOOL=$BIN/clusterfs_tool
POPULATE=$BIN/cfs_populate POKE=$BIN/cfs_poke
WORK=$(mktemp -d /tmp/cfs-tools-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failures=0 checks=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); [ -n "${VERBOSE:-}" ] && echo "ok: $*"; return 0; }

# expect_rc WANT DESCRIPTION CMD...: runs CMD, output to $WORK/out, checks its status.
expect_rc() {
	local want=$1 what=$2
	shift 2
	"$@" >"$WORK/out" 2>&1
	local rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass "$what"
	else
		fail "$what: exit $rc, expected $want ($*)"
		sed 's/^/    | /' "$WORK/out" | head -20
	fi
}

# expect_out PATTERN DESCRIPTION: the last expect_rc output matches the grep -E pattern.
expect_out() {
	if grep -Eq -- "$1" "$WORK/out"; then
		pass "$2"
	else
		fail "$2: output lacks /$1/"
		sed 's/^/    | /' "$WORK/out" | head -20
	fi
}

# jq_eq FILTER WANT DESCRIPTION: the JSON in $WORK/out gives WANT for FILTER.
jq_eq() {
	local got
	got=$(jq -r "$1" "$WORK/out" 2>&1)
	if [ "$got" = "$2" ]; then
		pass "$3"
	else
		fail "$3: $1 is '$got', expected '$2'"
	fi
}

# new_image NAME SIZE MKFS-ARGS...: a sparse image with a fresh filesystem.
new_image() {
	local img=$WORK/$1 size=$2
	shift 2
	rm -f "$img"
	truncate -s "$size" "$img"
	"$MKFS" -q -O "$@" "$img" || { fail "mkfs $* failed"; return 1; }
}

checksum() { md5sum <"$1" | cut -d' ' -f1; }

finish() {
	echo "$(basename "$0"): $checks checks passed, $failures failed"
	[ "$failures" -eq 0 ]
}
