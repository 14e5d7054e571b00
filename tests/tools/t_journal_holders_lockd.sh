#!/usr/bin/env bash
# clusterfs_tool journals against a real clusterfs_lockd: a one-node corosync cluster in
# a network namespace (tests/lockd/cluster_lib.sh), two scripted mounts taking journals
# 0 and 1 of the lockspace named by the image's lock table. Needs root, network
# namespaces and corosync; says SKIP and succeeds when they are missing.
# $BIN: the build/bin directory (for mkfs and clusterfs_tool; lockd and its test client
# come from build/bin of this tree, as cluster_lib.sh takes them).
set -u
BIN=${BIN:?BIN must name the build/bin directory}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ] || ! command -v corosync >/dev/null || ! ip netns list >/dev/null 2>&1 ||
	[ ! -x "$here/../../build/bin/clusterfs_lockd" ] || [ ! -x "$here/../../build/bin/lockd_test_client" ]; then
	echo "SKIP: needs root, corosync, network namespaces and build/bin/clusterfs_lockd + lockd_test_client"
	exit 0
fi
. "$here/../lockd/cluster_lib.sh"
TOOL=$BIN/clusterfs_tool
checks=0
check() {  # check DESCRIPTION COMMAND...: COMMAND must succeed
	local what=$1
	shift
	"$@" || fail "$what"
	checks=$((checks + 1))
}

LS=$RUN_ID:fs
img=$WORK/holders.img
truncate -s 64M "$img"
"$BIN/mkfs.clusterfs" -q -O -b 4096 -j 3 -J 8 -p lock_cluster -t "$LS" "$img" || fail "mkfs"

cluster_up 1
lockd_start 1
# Before any mount: lockd answers, but this node is no member of the lockspace.
"$TOOL" journals -s "$(sock 1)" "$img" >"$WORK/none.out" || fail "journals exited $?"
check "before any mount: lockspace not joined" \
	grep -q "^lockd: *reachable at $(sock 1), but this node has not joined lockspace $LS: holders unknown$" "$WORK/none.out"

client_start a 1 "$LS"
client_start b 1 "$LS"
grep -q "journal=0 node=1" "$(out a)" || fail "mount a did not get journal 0: $(cat "$(out a)")"
grep -q "journal=1 node=1" "$(out b)" || fail "mount b did not get journal 1: $(cat "$(out b)")"

"$TOOL" journals -s "$(sock 1)" "$img" >"$WORK/text.out" || fail "journals exited $?"
check "lockd line" grep -q "^lockd: *reachable at $(sock 1): lockspace $LS, 2 journals held$" "$WORK/text.out"
awk '/^journals\[/ { j = $1 } /^  holder:/ { sub(/^  holder: +/, ""); print j " " $0 }' \
	"$WORK/text.out" >"$WORK/holders"
check "holders in text: $(tr '\n' ';' <"$WORK/holders")" cmp -s "$WORK/holders" - <<'TXT'
journals[0]: held by node 1
journals[1]: held by node 1
journals[2]: not held
TXT
"$TOOL" journals --json -s "$(sock 1)" "$img" >"$WORK/json.out" || fail "journals --json exited $?"
got=$(jq -r '[.journals[].holder_node] | map(tostring) | join(",")' "$WORK/json.out")
check "holder_node in JSON: $got" [ "$got" = "1,1,null" ]

# Mount b leaves: its journal is free again.
kill "${CLIENT_PID[b]}"
wait "${CLIENT_PID[b]}" 2>/dev/null
end=$((SECONDS + 10))
until got=$("$TOOL" journals --json -s "$(sock 1)" "$img" | jq -r '[.journals[].holder_node] | map(tostring) | join(",")') &&
	[ "$got" = "1,null,null" ] || [ "$SECONDS" -ge "$end" ]; do
	sleep 0.1
done
check "after mount b leaves: $got" [ "$got" = "1,null,null" ]

echo "$(basename "$0"): $checks checks passed, 0 failed"
