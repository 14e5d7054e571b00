#!/usr/bin/env bash
# lockd integration test with real corosync: 3 nodes on this machine (see cluster_lib.sh),
# one clusterfs_lockd per node, scripted clients. Each step asserts what clients on other
# nodes observe. Needs root (network namespaces). Bounded: every wait has a timeout.
. "$(dirname "$0")/cluster_lib.sh"

EAGAIN=-11 EDEADLK=-35 ENOLCK=-37
# A filesystem's lock table names corosync's cluster (RUN_ID is the test cluster's name).
LS=$RUN_ID:fs
START=$SECONDS

step() { log "== $*"; }
count() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }
tool() { local node=$1 cmd=$2; shift 2; "$TOOL" "$cmd" -s "$(sock "$node")" "$@"; }
# wait_locks NODE REGEX: until node NODE's locks dump (JSON) matches REGEX.
wait_locks() {
	local end=$((SECONDS + 10))
	until tool "$1" locks --json --lockspace "$LS" | grep -q -- "$2"; do
		[ "$SECONDS" -lt "$end" ] || fail "node $1's locks never matched $2: $(tool "$1" locks --json --lockspace "$LS")"
		sleep 0.1
	done
}

step "3-node corosync cluster, lockd on nodes 1 and 2"
cluster_up 3
# Node 2 has no fence command: when it is the one to fence, an operator must fence-ack.
echo "fence_retry_seconds = 1" >"$WORK/n2/lockd.conf"
# Node 1 drops a client that stops reading once 64 KiB of replies are queued for it.
echo "client_backlog_kib = 64" >>"$WORK/n1/lockd.conf"
lockd_start 1
lockd_start 2
client_start a 1 "$LS"
client_start b 2 "$LS"
grep -q "journal=0 node=1" "$(out a)" || fail "first mount did not get journal 0"
grep -q "journal=1 node=2" "$(out b)" || fail "second mount did not get journal 1"

step "a lock table naming another cluster is refused (EXDEV), logged with both names"
if "$CLIENT" -s "$(sock 1)" script othercluster:fs 4 </dev/null >"$WORK/other.out" 2>&1; then
	fail "a join of othercluster:fs succeeded: $(cat "$WORK/other.out")"
fi
grep -q "^joined status=-18 " "$WORK/other.out" || fail "othercluster:fs: expected status -18 (EXDEV): $(cat "$WORK/other.out")"
grep -q 'cluster name "othercluster" is not corosync.s cluster_name "'"$RUN_ID"'"' "$WORK/n1/lockd.log" ||
	fail "lockd did not log the cluster name mismatch"

step "contention: blocking callback to the holder, hand-off on release"
send a lock 1 r1 EX
wait_for "$(out a)" "^complete id=1 status=0 mode=EX"
send b lock 1 r1 EX
wait_for "$(out a)" "^bast id=1 mode=EX"
sleep 0.3
[ "$(count "$(out b)" "^complete id=1 ")" = 0 ] || fail "node 2 was granted r1 while node 1 held it EX"
send a unlock 1
wait_for "$(out a)" "^complete id=1 status=0 mode=IV"
wait_for "$(out b)" "^complete id=1 status=0 mode=EX"

step "try-lock: NOQUEUE fails at once and sends no blocking callback"
send a lock 2 r1 PR noqueue
wait_for "$(out a)" "^complete id=2 status=$EAGAIN mode=IV"
sleep 0.3
[ "$(count "$(out b)" "^bast id=1 mode=PR")" = 0 ] || fail "a NOQUEUE request sent a bast"

step "lock value block written on down-convert from EX, read on another node's grant"
send a lock 3 lvbres EX valblk
wait_for "$(out a)" "^complete id=3 status=0 mode=EX"
send a convert 3 NL valblk lvb=free-blocks-4711
wait_for "$(out a)" "^complete id=3 status=0 mode=NL"
send b lock 3 lvbres PR valblk
wait_for "$(out b)" "^complete id=3 status=0 mode=PR lvb=free-blocks-4711$"

step "conversion deadlock: second PR->EX conversion fails with EDEADLK"
send a lock 4 dl PR
send b lock 4 dl PR
wait_for "$(out a)" "^complete id=4 status=0 mode=PR"
wait_for "$(out b)" "^complete id=4 status=0 mode=PR"
send a convert 4 EX
wait_for "$(out b)" "^bast id=4 mode=EX"
send b convert 4 EX
wait_for "$(out b)" "^complete id=4 status=$EDEADLK mode=PR"
send b unlock 4
wait_for "$(out a)" "^complete id=4 status=0 mode=EX"

step "ownership: a resource one mount uses alone changes with no message; another node's request recalls it"
# lock_ops NODE FIELD: this lockspace's counter FIELD (local, multicast, recalls) on node NODE.
lock_ops() { tool "$1" cluster --json | jq -e --arg ls "$LS" --arg f "$2" '.lockspaces[] | select(.name == $ls) | .lock_ops[$f]'; }
send a lock 20 own1 EX
wait_for "$(out a)" "^complete id=20 status=0 mode=EX"
wait_locks 2 '"resource":"own1","lvb":"[0-9a-f]*","lvb_valid":true,"owner_node":1,'
local0=$(lock_ops 1 local) && mcast0=$(lock_ops 1 multicast) || fail "cluster --json has no lock_ops"
send a convert 20 PR
send a convert 20 EX
send a unlock 20
send a lock 21 own1 PR
send a convert 21 EX
wait_for "$(out a)" "^complete id=21 status=0 mode=EX"
local1=$(lock_ops 1 local) && mcast1=$(lock_ops 1 multicast) || fail "cluster --json has no lock_ops"
[ "$mcast1" = "$mcast0" ] || fail "node 1 multicast $((mcast1 - mcast0)) lock operations on a resource it owns"
[ "$local1" -ge $((local0 + 5)) ] || fail "node 1 applied $((local1 - local0)) of 5 operations locally"
# Node 2 knows only the owner; its request recalls the resource and waits for node 1.
tool 2 locks --json --lockspace "$LS" | jq -e '.lockspaces[0].resources[] | select(.resource == "own1") | .granted == []' >/dev/null ||
	fail "node 2 shows the locks of a resource node 1 owns: $(tool 2 locks --json --lockspace "$LS")"
send b lock 20 own1 PR
wait_for "$(out a)" "^bast id=21 mode=PR"
sleep 0.3
[ "$(count "$(out b)" "^complete id=20 ")" = 0 ] || fail "node 2 was granted own1 PR while node 1 held it EX"
[ "$(lock_ops 1 recalls)" -ge 1 ] || fail "node 1 counted no recall"
send a unlock 21
wait_for "$(out b)" "^complete id=20 status=0 mode=PR"
wait_locks 1 '"resource":"own1","lvb":"[0-9a-f]*","lvb_valid":true,"granted":\[{"node":2,"lock":"[0-9]*","mode":"PR"}\]'
send b unlock 20
wait_for "$(out b)" "^complete id=20 status=0 mode=IV"

step "POSIX locks (fcntl) across nodes: exclusion, GET names the holder, waiting, EDEADLK, release on disconnect"
# Journal-less mounts (like tools): the journal slots the later steps expect stay as they are.
client_start pa 1 "$LS" 0
client_start pb 2 "$LS" 0
q=$(plock pa lock 500 0 99 w pid=4242)
wait_for "$(out pa)" "^plock seq=$q status=0 number=500$"
q=$(plock pb lock 500 50 50 r)
wait_for "$(out pb)" "^plock seq=$q status=$EAGAIN number=500$"
q=$(plock pb get 500 0 eof r)
wait_for "$(out pb)" "^plock seq=$q status=0 number=500 found=w start=0 end=99 pid=4242 node=1$"
q=$(plock pb get 500 100 eof w)
wait_for "$(out pb)" "^plock seq=$q status=0 number=500 found=none$"
json=$(tool 2 locks --json --lockspace "$LS") || fail "clusterfs_tool locks on node 2 failed"
echo "$json" | python3 -c 'import json, sys; json.load(sys.stdin)' || fail "locks --json with POSIX locks is not JSON: $json"
echo "$json" | grep -q '"plocks":\[{"number":500,"held":\[{"node":1,"mount":"[0-9]*","owner":"1","pid":4242,"start":0,"end":99,"type":"write"}\],"waiting":\[\]}\]' ||
	fail "node 2's table does not show node 1's POSIX write lock: $json"
qw=$(plock pb lock 500 90 109 w wait pid=5151)
sleep 0.5
[ "$(count "$(out pb)" "^plock seq=$qw ")" = 0 ] || fail "node 2's waiting lock was answered while node 1 held the range"
wait_locks 1 '"waiting":\[{"node":2,"mount":"[0-9]*","owner":"1","pid":5151,"start":90,"end":109,"type":"write","seq":'"$qw"'}\]'
q=$(plock pa unlock 500 0 99)
wait_for "$(out pa)" "^plock seq=$q status=0 number=500$"
wait_for "$(out pb)" "^plock seq=$qw status=0 number=500$"
# Node 1 takes 200-299; node 2 waits for it; node 1 waiting for node 2's 90-109 would close the cycle.
q=$(plock pa lock 500 200 299 w)
wait_for "$(out pa)" "^plock seq=$q status=0 number=500$"
qw=$(plock pb lock 500 250 250 r wait)
wait_locks 1 '"start":250,"end":250,"type":"read","seq":'"$qw"'}'
q=$(plock pa lock 500 100 100 w wait)
wait_for "$(out pa)" "^plock seq=$q status=$EDEADLK number=500$"
# A queued request withdrawn by CANCEL completes with -ECANCELED.
qc=$(plock pa lock 500 95 95 r wait owner=2) # waits for node 2, which waits for owner 1: no cycle
sleep 0.3
plock pa cancel "$qc" >/dev/null
wait_for "$(out pa)" "^plock seq=$qc status=-125 number=500$"
[ "$(count "$(out pb)" "^plock seq=$qw ")" = 0 ] || fail "node 2's waiting lock was answered while node 1 held 200-299"
client_stop pa # its connection closes: the mount leaves and its POSIX locks go
wait_for "$(out pb)" "^plock seq=$qw status=0 number=500$"
tool 1 locks --json --lockspace "$LS" | grep -q '"held":\[{"node":1,' &&
	fail "node 1's POSIX locks outlived its mount: $(tool 1 locks --json --lockspace "$LS")"

step "a node joining late receives the table (snapshot) and sees the same locks"
lockd_start 3
client_start c 3 "$LS"
grep -q "journal=2 node=3" "$(out c)" || fail "third mount did not get journal 2"
json=$(tool 3 locks --json --lockspace "$LS") || fail "clusterfs_tool locks on node 3 failed"
echo "$json" | grep -q '"resource":"r1","lvb":"[0-9a-f]*","lvb_valid":true,"granted":\[{"node":2,"lock":"[0-9]*","mode":"EX"}\]' ||
	fail "node 3's table does not show node 2 holding r1 EX: $json"
echo "$json" | grep -q '"resource":"lvbres","lvb":"667265652d626c6f636b732d34373131' ||
	fail "node 3's table lacks the LVB written before it joined: $json"
send c lock 1 r1 EX noqueue
wait_for "$(out c)" "^complete id=1 status=$EAGAIN"
cjson=$(tool 3 cluster --json) || fail "clusterfs_tool cluster failed"
echo "$cjson" | grep -q '"quorate":true' || fail "cluster --json: $cjson"
echo "$cjson" | grep -q '"members":\[1,2,3\]' || fail "cluster --json members: $cjson"
tool 1 cluster | grep -q "node 1, quorate" || fail "clusterfs_tool cluster text output"
tool 2 locks --lockspace "$LS" | grep -Eq "^    granted +node 2 EX" || fail "clusterfs_tool locks text output"
echo "$json" | grep -q '"plocks":\[{"number":500,"held":\[{"node":2,"mount":"[0-9]*","owner":"1","pid":5151,"start":90,"end":109,"type":"write"},{"node":2,"mount":"[0-9]*","owner":"1","pid":[0-9]*,"start":250,"end":250,"type":"read"}\]' ||
	fail "node 3's table (from the snapshot) lacks node 2's POSIX locks: $json"
q=$(plock c lock 500 100 100 r)
wait_for "$(out c)" "^plock seq=$q status=$EAGAIN number=500$"
client_stop pb
q=$(plock c lock 500 100 100 r)
wait_for "$(out c)" "^plock seq=$q status=0 number=500$"
q=$(plock c unlock 500 0 eof)
wait_for "$(out c)" "^plock seq=$q status=0 number=500$"

step "every member's table hashes alike at the agreed checkpoints, the joiner's (from a snapshot) too"
# lockd hashes its replicated state every 16 agreed events and the lowest member sends
# its hash; a joiner logs the first one that matches its own, any member a mismatch.
for i in $(seq 100 119); do
	send a lock "$i" "churn$i" EX
	send b lock "$i" "churn$i" PR
	send a unlock "$i"
done
wait_for "$(out b)" "^complete id=119 status=0 mode=PR" 20
wait_for "$WORK/n3/lockd.log" "table agrees with node 1's after agreed event" 20
for i in $(seq 100 119); do send b unlock "$i"; done
wait_for "$(out b)" "^complete id=119 status=0 mode=IV" 20
grep -h "LOCK TABLE DIVERGED" "$WORK"/n*/lockd.log && fail "a member's lock table diverged"

step "a client that stops reading is dropped (client_backlog_kib); lockd and its other clients carry on"
rc=0
"$CLIENT" -s "$(sock 1)" flood-admin - 20000 >"$WORK/flood.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "a client that never read was not dropped (rc $rc): $(cat "$WORK/flood.out")"
grep -q "a client stopped reading: .* queued (client_backlog_kib = 64); dropping it" "$WORK/n1/lockd.log" ||
	fail "lockd did not log why it dropped the client: $(tail -n 5 "$WORK/n1/lockd.log")"
kill -0 "${LOCKD_PID[1]}" || fail "lockd on node 1 died with the flooding client"
send a lock 77 after-flood EX
wait_for "$(out a)" "^complete id=77 status=0 mode=EX" 20
send a unlock 77
wait_for "$(out a)" "^complete id=77 status=0 mode=IV" 20
log "$(cat "$WORK/flood.out")"

step "clusterfs_tool lock: mutual exclusion between shell scripts on two nodes"
: >"$WORK/mutex.log"
critical='echo "in $$" >>"$0"; sleep 0.2; echo "out $$" >>"$0"'
for i in 1 2 3; do
	for node in 1 3; do
		tool "$node" lock "$LS" mutex -- sh -c "$critical" "$WORK/mutex.log" &
		OUR_PIDS+=($!)
	done
done
for pid in "${OUR_PIDS[@]: -6}"; do wait "$pid" || fail "clusterfs_tool lock exited $?"; done
[ "$(wc -l <"$WORK/mutex.log")" = 12 ] || fail "expected 12 lines in the mutex log: $(cat "$WORK/mutex.log")"
awk '$1=="in"{if(inside)exit 1;inside=1} $1=="out"{inside=0}' "$WORK/mutex.log" ||
	fail "two holders inside the critical section at once: $(tr '\n' ' ' <"$WORK/mutex.log")"
rc=0; tool 1 lock -w 0.5 "$LS" r1 -- true 2>"$WORK/lockwait.err" || rc=$?
[ "$rc" = 75 ] || fail "lock -w on a held resource exited $rc, expected 75"
grep -q "timed out after 0.5 s" "$WORK/lockwait.err" || fail "no timeout message: $(cat "$WORK/lockwait.err")"
rc=0; tool 1 lock "$LS" free -- sh -c 'exit 7' || rc=$?
[ "$rc" = 7 ] || fail "lock did not return the command's exit status (got $rc)"

step "kill -9 of node 3's corosync and lockd: fence (retried), locks released, one survivor replays"
send c lock 5 deadex EX valblk
send c lock 6 deadpr PR
wait_for "$(out c)" "^complete id=5 status=0 mode=EX"
wait_for "$(out c)" "^complete id=6 status=0 mode=PR"
send a lock 5 deadex PR valblk
send b lock 6 deadpr EX
wait_for "$(out c)" "^bast id=5 mode=PR"
touch "$WORK/fence.log.fail" # the first fence attempt fails: it must be retried
# Daemons first: a client killed first could have its locks released cleanly.
kill -9 "${COROSYNC_PID[3]}" "${LOCKD_PID[3]}" "${CLIENT_PID[c]}"
wait_for "$WORK/fence.log" "^failed 3 cfshost3$" 20
wait_for "$WORK/fence.log" "^fenced 3 cfshost3$" 20
grep -q "fencing node 3 FAILED" "$WORK/n1/lockd.log" || fail "the failed fence was not logged"
wait_for "$(out b)" "^complete id=6 status=0 mode=EX" # PR holder's lock dropped at fencing
wait_for "$(out a)" "^recover journal=2 dead=3|^complete id=5" 10
sleep 0.5
recovers=$(( $(count "$(out a)" "^recover journal=2 dead=3") + $(count "$(out b)" "^recover journal=2 dead=3") ))
[ "$recovers" = 1 ] || fail "journal 2 recovery assigned $recovers times"
grep -q "^recover journal=2 dead=3" "$(out a)" || fail "recovery not assigned to the lowest mount"
[ "$(count "$(out a)" "^complete id=5 ")" = 0 ] || fail "deadex granted before journal 2 was replayed"
[ "$(grep -c "^fenced 3" "$WORK/fence.log")" = 1 ] || fail "node 3 fenced more than once: $(cat "$WORK/fence.log")"
tool 1 cluster | grep -q "journal 2 of dead node 3 being replayed by node 1" || fail "cluster does not show the recovery"
send b recovered 2 # not the mount assigned journal 2: refused, nothing released
wait_for "$(out b)" "^reply status=-22"
send a recovered 2
wait_for "$(out a)" "^reply status=0"
wait_for "$(out a)" "^complete id=5 status=0 mode=PR lvb=.* lvb_invalid$|^complete id=5 status=0 mode=PR lvb_invalid$"

step "lockd restart while a client holds locks: the client loses it, the node is fenced and recovered"
kill -9 "${LOCKD_PID[2]}"
wait "${CLIENT_PID[b]}" 2>/dev/null
grep -q "^lost lockd" "$(out b)" || fail "client of the killed lockd did not notice"
wait_for "$WORK/fence.log" "^fenced 2 cfshost2$" 20
wait_for "$(out a)" "^recover journal=1 dead=2" 10
send a lock 7 r1 EX # node 2 held r1 EX: pinned until its journal is replayed
sleep 0.3
[ "$(count "$(out a)" "^complete id=7 ")" = 0 ] || fail "r1 granted before node 2's journal was replayed"
send a recovered 1
wait_for "$(out a)" "^complete id=7 status=0 mode=EX"
lockd_start 2
client_start b2 2 "$LS"
grep -q "journal=1 node=2" "$(out b2)" || fail "restarted node did not get its journal back: $(head -1 "$(out b2)")"
send b2 lock 1 r1 PR
wait_for "$(out a)" "^bast id=7 mode=PR"

step "without a fence command, recovery waits for clusterfs_tool fence-ack"
send a lock 10 ackres EX
wait_for "$(out a)" "^complete id=10 status=0 mode=EX"
send b2 lock 2 ackres PR
wait_for "$(out a)" "^bast id=10 mode=PR"
q=$(plock a lock 600 0 eof w)
wait_for "$(out a)" "^plock seq=$q status=0 number=600$"
qb=$(plock b2 lock 600 10 10 r wait)
sleep 0.3
kill -9 "${LOCKD_PID[1]}"
wait "${CLIENT_PID[a]}" 2>/dev/null
wait_for "$WORK/n2/lockd.log" "node 1 died holding locks" 20
sleep 1.5
[ "$(count "$(out b2)" "^plock seq=$qb ")" = 0 ] || fail "a dead node's POSIX lock was dropped before it was fenced"
tool 2 cluster | grep -q "node 1 awaits fencing (no fence_command: run clusterfs_tool fence-ack 1)" ||
	fail "cluster does not say node 1 awaits fence-ack: $(tool 2 cluster)"
[ "$(count "$(out b2)" "^complete id=2 ")" = 0 ] || fail "ackres granted before node 1 was fenced"
[ "$(count "$WORK/fence.log" "^fenced 1")" = 0 ] || fail "node 1 fenced by a node without a fence command"
tool 2 fence-ack 1 2>"$WORK/ack.err" || fail "fence-ack failed: $(cat "$WORK/ack.err")"
wait_for "$(out b2)" "^plock seq=$qb status=0 number=600$"
wait_for "$(out b2)" "^recover journal=0 dead=1"
send b2 recovered 0
wait_for "$(out b2)" "^complete id=2 status=0 mode=PR"
rc=0; tool 2 fence-ack 1 2>"$WORK/ack2.err" || rc=$?
[ "$rc" = 1 ] && grep -q "not awaiting fencing" "$WORK/ack2.err" || fail "second fence-ack: rc=$rc $(cat "$WORK/ack2.err")"
lockd_start 1
client_start a2 1 "$LS"
grep -q "journal=0 node=1" "$(out a2)" || fail "restarted node 1 did not get journal 0: $(head -1 "$(out a2)")"

step "inquorate partition grants nothing; grants resume when the partition heals"
ip -n "${RUN_ID}br" link set p2 down
wait_for "$WORK/n1/lockd.log" "node 1 is now inquorate" 20
wait_for "$WORK/n2/lockd.log" "node 2 is now inquorate" 20
send a2 lock 8 fresh EX
wait_for "$(out a2)" "^complete id=8 status=$ENOLCK mode=IV"
q=$(plock a2 lock 601 0 0 w)
wait_for "$(out a2)" "^plock seq=$q status=$ENOLCK number=601$"
q=$(plock a2 unlock 600 0 eof) # releasing works inquorate
wait_for "$(out a2)" "^plock seq=$q status=0 number=600$"
rc=0; tool 2 lock "$LS" fresh -- true 2>"$WORK/inq.err" || rc=$?
[ "$rc" = 69 ] && grep -q inquorate "$WORK/inq.err" || fail "lock on an inquorate node: rc=$rc $(cat "$WORK/inq.err")"
json=$(tool 1 locks --json --lockspace "$LS") || fail "locks --json on node 1 failed: $json"
echo "$json" | grep -q '"resource":"fresh"' && fail "inquorate node 1 recorded a grant: $json"
ip -n "${RUN_ID}br" link set p2 up
wait_for "$WORK/n1/lockd.log" "node 1 is now quorate" 30
wait_for "$WORK/n1/lockd.log" "node 2 came back with state from before it was declared dead" 20
wait_for "$(out b2)" "^withdraw reason=2" 20
send a2 lock 9 fresh EX
wait_for "$(out a2)" "^complete id=9 status=0 mode=EX" 20

step "corosync dies under lockd: clients are withdrawn, lockd exits non-zero"
kill -9 "${COROSYNC_PID[1]}"
wait_for "$(out a2)" "^withdraw reason=1" 20
rc=0; wait "${LOCKD_PID[1]}" || rc=$?
[ "$rc" != 0 ] || fail "lockd exited 0 after losing corosync"

grep -h "LOCK TABLE DIVERGED" "$WORK"/n*/lockd.log && fail "a member's lock table diverged"
log "PASS: lockd cluster test ($((SECONDS - START)) s)"
