# A node dies holding a lock_cluster mount; the next mounter waits until clusterfs_lockd
# fenced it (scripts/vm/fence_vm: the host powers the VM off), replays its journal and
# finds every file it fsync'ed (cfs_crashcheck). Three nodes, corosync, lockd with the
# VM fence agent on each.
#  1. node 1's qemu is killed (kill -9) while cfs_crashwork fsyncs: node 2 mounts after
#     node 1 was fenced, journal replayed, data intact, fsck clean; node 1 boots again,
#     rejoins, mounts and reads the current tree.
#  2. node 2's corosync and lockd are killed while it is mounted and writing (its kernel
#     lives on): its mount withdraws; node 3's mount succeeds only after node 2's VM was
#     powered off by the fence agent; data intact, fsck clean.
# nodes: 3
# cluster: --shared-mib 512
# timeout: 1500

source kernel/tests/vm-helpers.sh

LOCKD_LOG=/var/log/clusterfs_lockd.log

# lockd_start K: clusterfs_lockd on node K with the VM fence agent (scripts/vm/fence_vm),
# waits until it serves /dev/clusterfs_lock.
lockd_start() {
	node_run "$1" "mkdir -p /etc/clusterfs && printf 'fence_command = %s\nlockspace_linger_seconds = 1\n' \"\$PWD/scripts/vm/fence_vm\" >/etc/clusterfs/lockd.conf &&
		{ setsid build/bin/clusterfs_lockd -f -c /etc/clusterfs/lockd.conf </dev/null >>$LOCKD_LOG 2>&1 & echo \$! >/run/cfs-lockd.pid; }
		for i in \$(seq 1 200); do grep -q 'serving the kernel module' $LOCKD_LOG && exit 0; sleep 0.2; done
		cat $LOCKD_LOG >&2; exit 1" || fail "node$1: clusterfs_lockd did not serve /dev/clusterfs_lock"
}

# workload_start K: fsync'ed writes under $CFS_MNT/work on node K until the node dies.
workload_start() {
	node_run "$1" "setsid build/bin/cfs_crashwork $CFS_MNT/work --seed $1 </dev/null >/scratch/crashwork.log 2>&1 &"
}

# fenced_count K: how many times the host powered node K off.
fenced_count() {
	if [ -e "$VM_LOG_DIR/fence.log" ]; then
		grep -c "node$1: fenced" "$VM_LOG_DIR/fence.log" || :
	else
		echo 0
	fi
}

for k in 1 2 3; do kfs_load "$k"; done
cluster_fence_server_start
cluster_corosync_start
cluster_wait_quorate -t 180
for k in 1 2 3; do lockd_start "$k"; done

node_run 1 'build/bin/mkfs.clusterfs -q -O -t vmtest:recov -j 3 -J 16 $CFS_SHARED_DEV'

# --- 1. a node dies --------------------------------------------------------------------
kfs_mount 1
node_run 1 "mkdir $CFS_MNT/work"
workload_start 1
sleep 8
written=$(node_run 1 "ls $CFS_MNT/work | wc -l")
[ "$written" -gt 0 ] || fail "the workload on node 1 wrote nothing"
node_kill 1
killed_at=$SECONDS
kfs_mount 2
vm_log "node 2 mounted $((SECONDS - killed_at)) s after node 1 was killed"
fences=$(fenced_count 1)
[ "$fences" -ge 1 ] || fail "node 2 mounted before node 1 was fenced (fence.log: $(cat "$VM_LOG_DIR/fence.log" 2>/dev/null))"
kmsg=$(node_run 2 dmesg)
grep -q 'journal 0 .*replayed' <<<"$kmsg" || fail "node 2 did not replay node 1's journal: $(grep clusterfs <<<"$kmsg")"
out=$(node_run 2 "build/bin/cfs_crashcheck $CFS_MNT/work 2>&1") || fail "node 1's fsync'ed data lost: $out"
vm_log "after node 1's death: $(tail -n 1 <<<"$out")"
node_run 2 "echo from-node2 >$CFS_MNT/after-death"
kfs_umount 2
kfs_fsck_clean 2

# Node 1 comes back: boots, rejoins the cluster, mounts, reads what is current.
vm_console_accept 1
node_boot 1
kfs_load 1
node_run 1 'install -m 0644 /cfs/run/corosync.conf /etc/corosync/corosync.conf &&
	{ setsid corosync -f </dev/null >>/var/log/corosync/stdout.log 2>&1 & echo $! >/run/cfs-corosync.pid; }'
cluster_wait_quorate -t 180 1 2 3
lockd_start 1
kfs_mount 1
seen=$(node_run 1 "cat $CFS_MNT/after-death")
assert_eq from-node2 "$seen" "node 2's file on the node that came back"
node_run 1 "rm -rf $CFS_MNT/work && mkdir $CFS_MNT/work"
kfs_umount 1

# --- 2. a node loses its cluster stack while its kernel lives on ----------------------
kfs_mount 2
workload_start 2
sleep 8
node_run 2 'kill -9 $(cat /run/cfs-lockd.pid) $(cat /run/cfs-corosync.pid)'
cut_at=$SECONDS
kfs_mount 3
vm_log "node 3 mounted $((SECONDS - cut_at)) s after node 2 lost corosync and lockd"
fences=$(fenced_count 2)
[ "$fences" -ge 1 ] || fail "node 3 mounted before node 2 was fenced (fence.log: $(cat "$VM_LOG_DIR/fence.log" 2>/dev/null))"
! node_alive 2 || fail "node 2's VM still runs after it was reported fenced"
out=$(node_run 3 "build/bin/cfs_crashcheck $CFS_MNT/work 2>&1") || fail "node 2's fsync'ed data lost: $out"
vm_log "after node 2 lost its cluster stack: $(tail -n 1 <<<"$out")"
kfs_umount 3
kfs_fsck_clean 3
vm_console_accept 2
