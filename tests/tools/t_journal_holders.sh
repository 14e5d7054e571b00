# clusterfs_tool journals asks the local clusterfs_lockd which node holds each journal.
# A real lockd needs corosync, so it is played by fake_lockd.py (the admin protocol of
# include/clusterfs/lockproto.h with a canned cluster dump); without any lockd the
# command still succeeds and says the holders are unknown.
. ./lib.sh

img=$WORK/cluster.img
new_image cluster.img 64M -b 4096 -j 3 -J 8 -p lock_cluster -t alpha:fs1
sock=$WORK/lockd.sock

# No lockd: exit 0, one line saying so, every holder null in JSON.
expect_rc 0 "journals without a lockd" "$TOOL" journals -s "$WORK/none.sock" "$img"
expect_out "^lockd: +not reachable at $WORK/none.sock: holders unknown$" "says lockd is not reachable"
expect_out "^  holder: +unknown$" "holders shown as unknown"
expect_out "^  state: +clean$" "the journal states are still shown"
expect_rc 0 "journals --json without a lockd" "$TOOL" journals --json --socket "$WORK/none.sock" "$img"
jq_eq '.lockd.reachable' false "JSON: lockd not reachable"
jq_eq '.lockd.holders_known' false "JSON: holders not known"
jq_eq '[.journals[].holder_node] | map(select(. == null)) | length' 3 "JSON: every holder_node is null"
jq_eq '.journals[2].state' clean "JSON: journal states still there"
# Without -s the socket comes from $CLUSTERFS_LOCKD_SOCKET, as for `cluster`.
expect_rc 0 "journals with the socket from the environment" \
	env CLUSTERFS_LOCKD_SOCKET="$WORK/env.sock" "$TOOL" journals "$img"
expect_out "not reachable at $WORK/env.sock: holders unknown" "uses \$CLUSTERFS_LOCKD_SOCKET"
expect_rc 2 "-s without a path" "$TOOL" journals "$img" -s

# lock_nolock filesystems have no cluster holders: lockd is not asked.
new_image nolock.img 64M -b 4096 -j 1 -J 8 -p lock_nolock
expect_rc 0 "journals on lock_nolock" "$TOOL" journals -s "$sock" "$WORK/nolock.img"
expect_out "^lockd: +not asked: a lock_nolock filesystem" "lock_nolock: lockd not asked"

# The stand-in lockd: node 1 holds journal 0, node 3 journal 2 but has died (its journal
# awaits recovery by node 1); node 5's mount is a journal-less tool; the other lockspaces' mounts (before and after ours in the dump)
# must not be taken for ours.
cat >"$WORK/reply" <<'JSON'
status 0
{"node_id":1,"quorate":true,"lockspaces":[
 {"name":"other:fs","state":"member","grants_enabled":true,"members":[9],"mounts":[{"node":9,"journal":1}],"awaiting_fence":[],"fencing":null,"recoveries":[]},
 {"name":"alpha:fs1","state":"member","grants_enabled":true,"members":[1,3,5],"mounts":[{"node":1,"journal":0},{"node":3,"journal":2},{"node":5,"journal":null}],"awaiting_fence":[],"fencing":null,"recoveries":[{"journal":2,"dead_node":3,"assigned_node":1}]},
 {"name":"alpha:fs10","state":"member","grants_enabled":true,"members":[7],"mounts":[{"node":7,"journal":1}],"awaiting_fence":[],"fencing":null,"recoveries":[]}]}
JSON
python3 ./fake_lockd.py "$sock" "$WORK/reply" "$WORK/lockd.log" &
fake=$!
trap 'kill $fake 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "fake_lockd.py did not start"

expect_rc 0 "journals with a lockd" "$TOOL" journals -s "$sock" "$img"
expect_out "^lockd: +reachable at $sock: lockspace alpha:fs1, 2 journals held$" "says lockd answered"
awk '/^journals\[/ { j = $1 } /^  holder:/ { sub(/^  holder: +/, ""); print j " " $0 }' \
	"$WORK/out" >"$WORK/holders"
printf '%s\n' "journals[0]: held by node 1" "journals[1]: not held" \
	"journals[2]: held by node 3, which died: awaiting recovery by node 1" |
	cmp -s - "$WORK/holders" && pass "each journal names its holder" ||
	fail "holders: $(tr '\n' ';' <"$WORK/holders")"
grep -q "admin command=2 arg=0 lockspace=alpha:fs1$" "$WORK/lockd.log" &&
	pass "asked for the cluster dump of the superblock's lock table" ||
	fail "lockd was asked: $(cat "$WORK/lockd.log")"
expect_rc 0 "journals --json with a lockd" "$TOOL" journals --json -s "$sock" "$img"
jq_eq '[.journals[].holder_node] | map(tostring) | join(",")' "1,null,3" "JSON: holder_node per journal"
jq_eq '.lockd.reachable' true "JSON: lockd reachable"
jq_eq '.lockd.holders_known' true "JSON: holders known"
jq_eq '.journals[2].recovery | "\(.dead_node) \(.assigned_node)"' "3 1" "JSON: the recovery of the dead node's journal"
jq_eq '[.journals[0,1] | has("recovery")] | map(tostring) | join(",")' "false,false" "JSON: no recovery for live journals"

# Reachable, but this node is no member of the lockspace: holders unknown.
sed -i 's/"alpha:fs1"/"alpha:fs2"/' "$WORK/reply"
expect_rc 0 "journals when this node has not joined" "$TOOL" journals -s "$sock" "$img"
expect_out "^lockd: +reachable at $sock, but this node has not joined lockspace alpha:fs1: holders unknown$" \
	"says the lockspace is not joined here"
expect_out "^  holder: +unknown$" "holders unknown when not joined"

# lockd refuses the request: its message is shown, the command still succeeds.
printf 'status -22\nunknown admin command' >"$WORK/reply"
expect_rc 0 "journals when lockd refuses" "$TOOL" journals --json -s "$sock" "$img"
jq_eq '.lockd.message' "at $sock: unknown admin command: holders unknown" "JSON: lockd's refusal shown"
jq_eq '.journals[0].holder_node' null "JSON: no holder after a refusal"

finish
