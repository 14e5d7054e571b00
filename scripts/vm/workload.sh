# The survivor tests' workload on a mounted cluster filesystem (sourced after
# scripts/vm/lib.sh): tests/vm/kernel-cluster-survivors.sh (clusterfs) and
# tests/vm/gfs2-survivors.sh (GFS2) run the same one, so their figures compare.

WORKLOAD_PROBE_STOP=/run/probe-stop
# On the harness's host share (/cfs/run, 9p without cache): a write there is on the host
# when it returns, whatever becomes of the node.
WORKLOAD_ACKED=/cfs/run/acked

# workload_start K MNT DIR SEED: on node K, cfs_crashwork in MNT/DIR (fsync'ed replaces,
# appends, overwrites; a manifest of what is durable, and its acknowledged record count
# kept outside the filesystem in $WORKLOAD_ACKED.DIR for cfs_crashcheck --acked) and the latency probe
# (kernel/tests/cfs_op_probe.py: create + write + fsync, each timed) in MNT/probe.K.
workload_start() {
	node_run "$1" "mkdir -p $2/$3 && rm -f $WORKLOAD_PROBE_STOP &&
		{ setsid build/bin/cfs_crashwork $2/$3 --seed $4 --ack $WORKLOAD_ACKED.$3 </dev/null >/scratch/crashwork.log 2>&1 & } &&
		{ setsid python3 kernel/tests/cfs_op_probe.py $2/probe.$1 $WORKLOAD_PROBE_STOP /scratch/probe.log </dev/null >/scratch/probe.out 2>&1 & }"
}

# workload_stop K MNT: stops node K's workload and probe and waits until both are gone. By
# command line (setsid may fork, so $! is not always their PID): only what
# workload_start ran matches.
workload_stop() {
	node_run "$1" -t 120 "touch $WORKLOAD_PROBE_STOP; pkill -f 'cfs_crashwork $2/work' || :
		for i in \$(seq 1 1000); do pgrep -f 'cfs_crashwork $2/work|cfs_op_probe.py $2' >/dev/null || exit 0; sleep 0.1; done; exit 1" ||
		fail "node $1: the workload or the probe did not stop (stuck in the filesystem?)"
}

# probe_report K SINCE: the longest probe operation on node K that ended after monotonic
# time SINCE, and how many operations ended after it ("MAX_SECONDS COUNT").
probe_report() {
	node_run "$1" "awk -v since=$2 '\$1 + \$2 >= since { n++; if (\$2 > m) m = \$2 } END { printf \"%.3f %d\\n\", m, n }' /scratch/probe.log"
}

# vm_fenced_count K: how many times the host powered node K off (cluster_fence_server_start).
vm_fenced_count() {
	if [ -e "$VM_LOG_DIR/fence.log" ]; then
		grep -c "node$1: fenced" "$VM_LOG_DIR/fence.log" || :
	else
		echo 0
	fi
}
