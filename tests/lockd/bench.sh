#!/usr/bin/env bash
# lockd benchmark on a 3-node corosync cluster in network namespaces on this machine
# (udpu, token 1000). Writes a markdown table of the results to the file named by $1.
# usage: tests/lockd/bench.sh OUTPUT.md
. "$(dirname "$0")/cluster_lib.sh"
OUTPUT=${1:?usage: bench.sh OUTPUT.md}
LS=$RUN_ID:fs # a lock table names corosync's cluster (RUN_ID)
COUNT=${LOCKD_BENCH_COUNT:-500}
SECONDS_TP=${LOCKD_BENCH_SECONDS:-5}

cluster_up 3
for i in 1 2 3; do lockd_start "$i"; done

log "uncontended first acquire and cached re-acquire ($COUNT each) on node 1"
"$CLIENT" -s "$(sock 1)" bench-acquire "$LS" "$COUNT" >"$WORK/acquire.out" || fail "bench-acquire failed"
log "contended hand-off between nodes 1 and 2 ($COUNT rounds each)"
"$CLIENT" -s "$(sock 1)" bench-pingpong "$LS" pingpong "$COUNT" >"$WORK/pp1.out" &
p1=$!; OUR_PIDS+=($p1)
"$CLIENT" -s "$(sock 2)" bench-pingpong "$LS" pingpong "$COUNT" >"$WORK/pp2.out" &
p2=$!; OUR_PIDS+=($p2)
wait "$p1" && wait "$p2" || fail "bench-pingpong failed"
for depth in 1 32; do
	log "lock+unlock throughput, 3 nodes at once, $depth in flight per node, ${SECONDS_TP} s"
	pids=()
	for i in 1 2 3; do
		"$CLIENT" -s "$(sock "$i")" bench-throughput "$LS" "$SECONDS_TP" "$depth" >"$WORK/tp$i-$depth.out" &
		pids+=($!); OUR_PIDS+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail "bench-throughput failed"; done
done

field() { sed -n "s/.*$2=\([0-9.]*\)[a-z]*.*/\1/p" "$1" | head -1; }
line() { grep "^$2:" "$1"; }
{
	echo "| measurement (3 nodes, udpu, token 1000, $(nproc) cores, $(date -u +%F)) | p50 | p90 | p99 |"
	echo "|---|---|---|---|"
	for what in first-acquire reacquire-NL-to-EX; do
		l=$(line "$WORK/acquire.out" "$what")
		echo "| $what (lock EX, µs) | $(echo "$l" | sed 's/.*p50=\([0-9]*\).*/\1/') | $(echo "$l" | sed 's/.*p90=\([0-9]*\).*/\1/') | $(echo "$l" | sed 's/.*p99=\([0-9]*\).*/\1/') |"
	done
	for n in 1 2; do
		l=$(line "$WORK/pp$n.out" handoff)
		echo "| hand-off request→bast→release→grant, node $n (µs) | $(echo "$l" | sed 's/.*p50=\([0-9]*\).*/\1/') | $(echo "$l" | sed 's/.*p90=\([0-9]*\).*/\1/') | $(echo "$l" | sed 's/.*p99=\([0-9]*\).*/\1/') |"
	done
	echo
	echo "| throughput, lock+unlock ops/s (each op one grant or release) | node 1 | node 2 | node 3 | total |"
	echo "|---|---|---|---|---|"
	for depth in 1 32; do
		a=$(field "$WORK/tp1-$depth.out" ops_per_s) b=$(field "$WORK/tp2-$depth.out" ops_per_s) c=$(field "$WORK/tp3-$depth.out" ops_per_s)
		echo "| $depth in flight per node | $a | $b | $c | $((a + b + c)) |"
	done
} >"$OUTPUT"
cat "$OUTPUT"
