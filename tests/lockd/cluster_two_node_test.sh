#!/usr/bin/env bash
# lockd on a two-node corosync cluster (votequorum two_node: 1): the survivor of a node
# death stays quorate, fences the dead node and recovers its journal; grants go on. After
# a network split both halves stay quorate: neither grants until the fence race is decided.
. "$(dirname "$0")/cluster_lib.sh"
LS=$RUN_ID:two # a lock table names corosync's cluster (RUN_ID)
START=$SECONDS

# pids_file NODE: what fence_kill.sh kills to fence NODE.
pids_file() { echo "${COROSYNC_PID[$1]} ${LOCKD_PID[$1]}" >"$WORK/n$1.pids"; }

log "== 2-node cluster (two_node), lockd on both"
cluster_create 2
for i in 1 2; do
	printf 'fence_command = %s %s %s\nfence_retry_seconds = 1\n' "$ROOT/tests/lockd/fence_kill.sh" \
		"$WORK/fence.log" "$WORK" >"$WORK/n$i/lockd.conf"
done
for i in 1 2; do corosync_start "$i"; done
for i in 1 2; do quorate_wait "$i"; done
lockd_start 1
lockd_start 2
pids_file 1
pids_file 2
client_start a 1 "$LS"
client_start b 2 "$LS"

log "== hand-off between the two nodes"
send b lock 1 shared EX
wait_for "$(out b)" "^complete id=1 status=0 mode=EX"
send a lock 1 shared EX
wait_for "$(out b)" "^bast id=1 mode=EX"
send b unlock 1
wait_for "$(out a)" "^complete id=1 status=0 mode=EX"
send b lock 2 held-by-b PW
wait_for "$(out b)" "^complete id=2 status=0 mode=PW"

log "== node 2 dies: node 1 stays quorate, fences it, replays its journal"
# Daemons first: a client killed first could have its locks released cleanly.
kill -9 "${COROSYNC_PID[2]}" "${LOCKD_PID[2]}" "${CLIENT_PID[b]}"
send a lock 2 held-by-b PR
wait_for "$WORK/fence.log" "^fenced 2 cfshost2$" 20
wait_for "$(out a)" "^recover journal=1 dead=2" 10
grep -q "node 1 is now inquorate" "$WORK/n1/lockd.log" && fail "two_node survivor lost quorum"
send a lock 3 new-after-death EX
wait_for "$(out a)" "^complete id=3 status=0 mode=EX"
[ "$(count_lines "$(out a)" "^complete id=2 ")" = 0 ] || fail "PW resource granted before journal 1 was replayed"
send a recovered 1
wait_for "$(out a)" "^complete id=2 status=0 mode=PR"
log "== network split: both halves stay quorate; no grant on either side before the fence race is decided"
corosync_start 2
quorate_wait 2
lockd_start 2
pids_file 2
client_start b2 2 "$LS"
echo 2 >"$WORK/delay.2" # node 1 fences node 2 after 2 s,
echo 5 >"$WORK/delay.1" # node 2 would fence node 1 after 5 s: node 1 wins the race
: >"$WORK/fence.log"
ip -n "${RUN_ID}br" link set p2 down
send a lock 10 split EX
send b2 lock 10 split EX
wait_for "$(out a)" "^complete id=10 status=0 mode=EX" 20
grep -q "^fenced 2 cfshost2$" "$WORK/fence.log" ||
	fail "node 1 granted during the split before node 2 was fenced: fence log $(tr '\n' '|' <"$WORK/fence.log")"
wait "${LOCKD_PID[2]}" 2>/dev/null
sleep 5.5 # past node 2's fence delay: its agent, its node being dead, must not fence node 1
[ "$(count_lines "$(out b2)" "^complete id=10 status=0")" = 0 ] || fail "node 2 also granted split EX during the split"
grep -q "^fenced 1" "$WORK/fence.log" && fail "the fenced node 2 fenced node 1 too"
log "PASS: lockd two-node test ($((SECONDS - START)) s)"
