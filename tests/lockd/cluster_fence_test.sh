#!/usr/bin/env bash
# Fencing through the cluster-wide lockd group, on 3 real corosync nodes (cluster_lib.sh):
# a dead node is fenced whatever lockspaces the survivors hold, and nothing it could have
# held is granted before that. Each step failed on the per-lockspace fencing this replaced.
# STEPS="startup sole-holder majority fencer-dies leave-all lost-table shutdown" (default: all) selects steps, e.g. to
# run one against another build with LOCKD=/path/to/clusterfs_lockd.
. "$(dirname "$0")/cluster_lib.sh"
START=$SECONDS
FENCE_LOG=$WORK/fence.log
STEPS=${STEPS:-startup sole-holder majority fencer-dies leave-all lost-table shutdown}
want() { [[ " $STEPS " == *" $1 "* ]]; }

step() { log "== $*"; }
tool() { local node=$1 cmd=$2; shift 2; "$TOOL" "$cmd" -s "$(sock "$node")" "$@"; }
# hold_lock NODE LOCKSPACE RESOURCE TAG: clusterfs_tool lock in the background, holding
# the lock (EX) until killed; returns once granted. The holder's pid is in $WORK/TAG.pid.
hold_lock() {
	local node=$1 ls=$2 res=$3 tag=$4
	tool "$node" lock "$ls" "$res" -- sh -c 'echo $$ >"$0.pid"; exec sleep 600' "$WORK/$tag" \
		>"$WORK/$tag.out" 2>&1 &
	OUR_PIDS+=($!)
	local end=$((SECONDS + 20))
	until [ -s "$WORK/$tag.pid" ]; do
		[ "$SECONDS" -lt "$end" ] || fail "node $node never got $ls/$res: $(cat "$WORK/$tag.out")"
		sleep 0.05
	done
	OUR_PIDS+=("$(cat "$WORK/$tag.pid")")
}
# kill_node NODE: SIGKILL of its corosync and lockd (daemons first, so nothing is
# released cleanly).
kill_node() {
	kill -9 "${COROSYNC_PID[$1]}" "${LOCKD_PID[$1]}"
	wait "${COROSYNC_PID[$1]}" "${LOCKD_PID[$1]}" 2>/dev/null
}

# node_up NODE: (re)starts its corosync and lockd unless they run.
node_up() {
	kill -0 "${LOCKD_PID[$1]:-0}" 2>/dev/null && return
	corosync_start "$1"
	quorate_wait "$1"
	lockd_start "$1"
}

cluster_create 3
: >"$FENCE_LOG"
for i in 1 2 3; do
	echo "lockspace_linger_seconds = 0" >>"$WORK/n$i/lockd.conf"
	want startup && echo "startup_fencing_delay = 2" >>"$WORK/n$i/lockd.conf"
done

if want startup; then
	step "startup fencing: a nodelist node that is neither a cluster member nor in the lockd group is fenced"
	corosync_start 1
	corosync_start 2
	quorate_wait 1
	quorate_wait 2
	lockd_start 1
	wait_for "$FENCE_LOG" "^fenced 3 cfshost3$" 20
	lockd_start 2
	corosync_start 3
	quorate_wait 3
	lockd_start 3
	sleep 3 # past node 3's own startup window: nodes 1 and 2 are members, nobody else is fenced
	[ "$(grep -c . "$FENCE_LOG")" = 1 ] || fail "unexpected fencing: $(cat "$FENCE_LOG")"
	: >"$FENCE_LOG"
else
	for i in 1 2 3; do corosync_start "$i"; done
	for i in 1 2 3; do quorate_wait "$i"; done
	for i in 1 2 3; do lockd_start "$i"; done
fi

if want sole-holder; then
step "the sole holder of a lockspace dies holding EX after the others left it: fenced (after a failed attempt) before the lock is granted again"
for turn in 1 2 1 2; do
	tool "$turn" lock barD counter -- sh -c 'echo $(( $(cat "$0" 2>/dev/null || echo 0) + 1 )) >"$0"' "$WORK/counter" ||
		fail "turn on node $turn failed"
done
[ "$(cat "$WORK/counter")" = 4 ] || fail "counter is $(cat "$WORK/counter")"
wait_for "$WORK/n1/lockd.log" "lockspace barD: no local users, leaving"
wait_for "$WORK/n2/lockd.log" "lockspace barD: no local users, leaving"
hold_lock 3 barD counter holder3
touch "$FENCE_LOG.fail" # the first fence attempt fails: the grant must wait for the retry
kill_node 3
kill -9 "$(cat "$WORK/holder3.pid")" 2>/dev/null
tool 1 lock barD counter -- sh -c 'cat "$0" >"$1"' "$FENCE_LOG" "$WORK/seen-at-grant" ||
	fail "node 1 did not get barD/counter"
grep -q "^failed 3 cfshost3$" "$WORK/seen-at-grant" && grep -q "^fenced 3 cfshost3$" "$WORK/seen-at-grant" ||
	fail "node 1 was granted node 3's EX lock before node 3 was fenced; fence log at the grant: $(tr '\n' '|' <"$WORK/seen-at-grant")"
[ "$(grep -c "^fenced 3" "$FENCE_LOG")" = 1 ] || fail "node 3 not fenced exactly once: $(cat "$FENCE_LOG")"
[ "$(count_lines "$WORK/n2/lockd.log" "fencing node 3")" = 0 ] || fail "node 2 ran the fence agent too (node 1 is the lowest member)"

fi

if want majority; then
step "a quorate majority that holds no member of a lockspace fences its dead member (nobody asks for its locks)"
: >"$FENCE_LOG"
node_up 3
hold_lock 3 barE only3 holder3b
kill_node 3
kill -9 "$(cat "$WORK/holder3b.pid")" 2>/dev/null
wait_for "$FENCE_LOG" "^fenced 3 cfshost3$" 20

fi

if want fencer-dies; then
step "the fencer's lockd dies while its agent runs: the next lowest member fences (both nodes)"
: >"$FENCE_LOG"
node_up 3
hold_lock 3 fsT r holder3c
echo 3 >"$FENCE_LOG.delay" # the agent takes 3 s, and gives up if its lockd died
kill_node 3
kill -9 "$(cat "$WORK/holder3c.pid")" 2>/dev/null
before=$(count_lines "$WORK/n2/lockd.log" "fencing node 3 \\(attempt")
wait_for "$WORK/n1/lockd.log" "fencing node 3 \\(attempt" 20
kill -9 "${LOCKD_PID[1]}"
wait "${LOCKD_PID[1]}" 2>/dev/null
wait_for "$FENCE_LOG" "^fenced 3 cfshost3$" 30
[ "$(count_lines "$WORK/n2/lockd.log" "fencing node 3 \\(attempt")" -gt "$before" ] || fail "node 2 did not take over fencing node 3"
wait_for "$FENCE_LOG" "^fenced 1 cfshost1$" 30
rm -f "$FENCE_LOG.delay"
[ "$(grep -c "^fenced 3" "$FENCE_LOG")" = 1 ] || fail "node 3 fenced more than once: $(cat "$FENCE_LOG")"
lockd_start 1
fi

if want leave-all; then
step "every member leaves a lockspace while a fence is failing, then while its journal awaits replay: the dead node's locks and journal survive"
: >"$FENCE_LOG"
node_up 3
client_start a 1 fsB
client_start b 2 fsB
client_start c 3 fsB
grep -q "journal=2 node=3" "$(out c)" || fail "node 3's mount did not get journal 2: $(head -1 "$(out c)")"
send c lock 1 res EX valblk
wait_for "$(out c)" "^complete id=1 status=0 mode=EX"
touch "$FENCE_LOG.failall"
kill_node 3
kill -9 "${CLIENT_PID[c]}" 2>/dev/null
wait_for "$FENCE_LOG" "^failed 3 cfshost3$" 20
tool 2 cluster --json | python3 -c '
import json, sys
group = json.load(sys.stdin)["lockd_group"]
assert group["awaiting_fence"] == [3] and group["fencer"] == 1, group' || fail "cluster --json does not show node 3 awaiting fencing by node 1"
tool 2 cluster | grep -q "node 3 awaits fencing; no lockspace is founded or joined until then" ||
	fail "cluster text does not show the pending fence: $(tool 2 cluster)"
send a leave
send b leave
wait_for "$(out a)" "^reply status=0"
wait_for "$(out b)" "^reply status=0"
sleep 1.5 # lockspace_linger_seconds is 0: an unprotected lockspace is gone by now
rm -f "$FENCE_LOG.failall"
wait_for "$FENCE_LOG" "^fenced 3 cfshost3$" 20
sleep 1.5 # fenced, journal 2 not replayed, still nobody using fsB: the recovery must be kept too
client_start d 1 fsB
wait_for "$(out d)" "^recover journal=2 dead=3" 10
send d lock 1 res EX
sleep 0.5
[ "$(count_lines "$(out d)" "^complete id=1 ")" = 0 ] || fail "res granted before node 3's journal was replayed"
send d recovered 2
wait_for "$(out d)" "^complete id=1 status=0 mode=EX"
fi

if want lost-table; then
step "a lockspace whose only member died: the next mount replays every other journal before anything is granted"
: >"$FENCE_LOG"
node_up 3
client_start f 3 fsL
grep -q "journal=0 node=3" "$(out f)" || fail "node 3's mount did not get journal 0: $(head -1 "$(out f)")"
send f lock 1 res EX
wait_for "$(out f)" "^complete id=1 status=0 mode=EX"
kill_node 3
kill -9 "${CLIENT_PID[f]}" 2>/dev/null
wait_for "$FENCE_LOG" "^fenced 3 cfshost3$" 20
client_start g 1 fsL
for j in 1 2 3; do wait_for "$(out g)" "^recover journal=$j dead=0" 10; done
send g lock 1 res EX
sleep 0.5
[ "$(count_lines "$(out g)" "^complete id=1 ")" = 0 ] || fail "res granted before the lost table's journals were replayed"
send g recovered 1
send g recovered 2
wait_for "$(out g)" "^reply status=0"
sleep 0.3
[ "$(count_lines "$(out g)" "^complete id=1 ")" = 0 ] || fail "res granted with journal 3 still unreplayed"
send g recovered 3
wait_for "$(out g)" "^complete id=1 status=0 mode=EX"
send g leave
wait_for "$(out g)" "^reply status=0.*" 5
fi

if want shutdown; then
step "lockd stopped with no lockspace in use leaves cleanly and is not fenced; stopped with a mount, it is"
: >"$FENCE_LOG"
node_up 3
before=$(count_lines "$WORK/n1/lockd.log" "node 3 left cleanly")
kill -TERM "${LOCKD_PID[3]}"
wait "${LOCKD_PID[3]}" || fail "lockd 3 exited $? on SIGTERM"
wait_for "$WORK/n1/lockd.log" "node 3 left cleanly"
[ "$(count_lines "$WORK/n1/lockd.log" "node 3 left cleanly")" -gt "$before" ] || fail "no clean leave"
sleep 2
[ ! -s "$FENCE_LOG" ] || fail "a clean shutdown was fenced: $(cat "$FENCE_LOG")"
lockd_start 3
client_start e 3 fsC
kill -TERM "${LOCKD_PID[3]}"
wait_for "$(out e)" "^withdraw reason=" 10
wait_for "$FENCE_LOG" "^fenced 3 cfshost3$" 20
fi

log "PASS: lockd fence test ($((SECONDS - START)) s)"
