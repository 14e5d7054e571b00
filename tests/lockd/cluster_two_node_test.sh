#!/usr/bin/env bash
# lockd on a two-node corosync cluster (votequorum two_node: 1): the survivor of a node
# death stays quorate, fences the dead node and recovers its journal; grants go on.
. "$(dirname "$0")/cluster_lib.sh"
LS=lockdtest:two
START=$SECONDS

log "== 2-node cluster (two_node), lockd on both"
cluster_up 2
lockd_start 1
lockd_start 2
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
log "PASS: lockd two-node test ($((SECONDS - START)) s)"
