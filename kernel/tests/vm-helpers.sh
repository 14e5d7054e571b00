# Shared steps of the clusterfs.ko VM tests (tests/vm/kernel-*.sh), sourced by them after
# the harness (scripts/vm/lib.sh) booted the nodes. Mount point /mnt/cfs on every node.
CFS_MNT=/mnt/cfs

# The survivor tests' workload and vm_fenced_count.
source scripts/vm/workload.sh

# The module file to load: CFS_KERNEL_MODULE (a build for another kernel, e.g.
# build/kernel-612/kernel/clusterfs.ko), else kernel/clusterfs.ko; kfs_pin_binaries
# points it at a private copy.
KFS_MODULE=${CFS_KERNEL_MODULE:-kernel/clusterfs.ko}
# Where the project's binaries are run from on the node.
KFS_BIN=build/bin

# kfs_pin_binaries K: copies the module and the tools a long test uses to node K's
# /scratch (which survives node_kill), so a rebuild on the host during the test cannot
# swap them underneath it.
kfs_pin_binaries() {
	node_run "$1" "mkdir -p /scratch/pinned && cp $KFS_MODULE /scratch/pinned/clusterfs.ko && cp build/bin/mkfs.clusterfs build/bin/fsck.clusterfs build/bin/cfs_crashwork build/bin/cfs_crashcheck /scratch/pinned/"
	KFS_MODULE=/scratch/pinned/clusterfs.ko
	KFS_BIN=/scratch/pinned
}

# kfs_load K: the module and its dependency (libcrc32c) on node K.
# KFS_MODULE_PARAMS: module parameters for insmod (e.g. verify_cache=1).
kfs_load() {
	node_run "$1" "modprobe libcrc32c && { grep -q '^clusterfs ' /proc/modules || insmod $KFS_MODULE ${KFS_MODULE_PARAMS:-}; } && mkdir -p $CFS_MNT"
}

# kfs_mkfs K [MKFS OPTIONS]: a fresh lock_nolock filesystem with two 16 MiB journals.
kfs_mkfs() {
	local node=$1
	shift
	node_run "$node" "$KFS_BIN/mkfs.clusterfs -q -O -p lock_nolock -j 2 -J 16 $* \$CFS_SHARED_DEV"
}

# kfs_mount K [OPTIONS]
kfs_mount() {
	node_run "$1" "mount -t clusterfs ${2:+-o $2} \$CFS_SHARED_DEV $CFS_MNT"
}

kfs_umount() {
	node_run "$1" "umount $CFS_MNT"
}

# kfs_fsck_clean K: unmounted filesystem passes fsck.clusterfs -n.
kfs_fsck_clean() {
	local out
	out=$(node_run "$1" "$KFS_BIN/fsck.clusterfs -n \$CFS_SHARED_DEV 2>&1") ||
		fail "fsck.clusterfs -n found problems: $out"
}

# kfs_expect_refused K OPTIONS ERE WHAT: the mount fails, and the mount command's output
# or the kernel log explains why (matches ERE).
kfs_expect_refused() {
	local node=$1 opts=$2 pattern=$3 what=$4 out
	node_run "$node" 'dmesg -C'
	if out=$(node_run "$node" "mount -t clusterfs ${opts:+-o $opts} \$CFS_SHARED_DEV $CFS_MNT 2>&1"); then
		node_run "$node" "umount $CFS_MNT" || true
		fail "$what: mount succeeded, expected a refusal"
	fi
	out+=$'\n'$(node_run "$node" 'dmesg')
	grep -qE -- "$pattern" <<<"$out" || fail "$what: no message matching /$pattern/ in: $out"
	vm_log "refused as expected: $what"
}

# kfs_corrupt K ARGS...: kernel/tests/cfs_corrupt.py on the shared device of node K.
kfs_corrupt() {
	local node=$1
	shift
	node_run "$node" "python3 kernel/tests/cfs_corrupt.py \$CFS_SHARED_DEV $*"
}

# ---- lock_cluster mounts: corosync, clusterfs_lockd and the VM fence agent ----------------

KFS_LOCKD_LOG=/var/log/clusterfs_lockd.log

# kfs_lockd_start K [FENCE_COMMAND]: clusterfs_lockd on node K (default fence command: the
# VM fence agent, scripts/vm/fence_vm); waits until it serves /dev/clusterfs_lock.
kfs_lockd_start() {
	local fence=${2:-\$PWD/scripts/vm/fence_vm}
	node_run "$1" "mkdir -p /etc/clusterfs && printf 'fence_command = %s\nlockspace_linger_seconds = 1\n' \"$fence\" >/etc/clusterfs/lockd.conf &&
		{ setsid build/bin/clusterfs_lockd -f -c /etc/clusterfs/lockd.conf </dev/null >>$KFS_LOCKD_LOG 2>&1 & echo \$! >/run/cfs-lockd.pid; }
		for i in \$(seq 1 200); do grep -q 'serving the kernel module' $KFS_LOCKD_LOG && exit 0; sleep 0.2; done
		cat $KFS_LOCKD_LOG >&2; exit 1" || fail "node$1: clusterfs_lockd did not serve /dev/clusterfs_lock"
}

# kfs_cluster_up N: on nodes 1..N clusterfs.ko, then the fence server (scripts/vm/fence_vm
# reaches it), corosync until quorate, and clusterfs_lockd with the VM fence agent.
kfs_cluster_up() {
	local k
	for ((k = 1; k <= $1; k++)); do kfs_load "$k"; done
	cluster_fence_server_start
	cluster_corosync_start
	cluster_wait_quorate -t 180
	for ((k = 1; k <= $1; k++)); do kfs_lockd_start "$k"; done
}

# kfs_lockd_tables_agree K...: no lockd on nodes K... found its replicated lock table to
# differ from another member's (lockd compares table hashes at agreed points; a diverged
# table can grant one lock to two nodes).
kfs_lockd_tables_agree() {
	local k out
	for k in "$@"; do
		out=$(node_run "$k" "grep -F 'LOCK TABLE DIVERGED' $KFS_LOCKD_LOG || :")
		[ -z "$out" ] || fail "node $k: lockd's lock table diverged from another member's: $out"
	done
}

# kfs_fenced_count K: how many times the host powered node K off (cluster_fence_server_start).
kfs_fenced_count() {
	vm_fenced_count "$1"
}

# kfs_node_rejoin K [FENCE_COMMAND]: node K (killed or fenced) boots again, rejoins
# corosync (every node quorate again) and starts lockd.
kfs_node_rejoin() {
	vm_console_accept "$1"
	node_boot "$1"
	kfs_load "$1"
	node_run "$1" 'install -m 0644 /cfs/run/corosync.conf /etc/corosync/corosync.conf &&
		{ setsid corosync -f </dev/null >>/var/log/corosync/stdout.log 2>&1 & echo $! >/run/cfs-corosync.pid; }'
	cluster_wait_quorate -t 180 $(seq 1 "$VM_NODES")
	kfs_lockd_start "$@"
}

# kfs_expect_replay_on K: node K's kernel log says it recovered a journal since its last
# `dmesg -C`: replayed it, or found it clean (with lock_cluster a node checkpoints its
# journal whenever it releases a glock, e.g. evicting an inode, so a node may die with
# nothing to replay; cfs_crashcheck proves its data either way).
kfs_expect_replay_on() {
	local kmsg
	kmsg=$(node_run "$1" dmesg)
	grep -qE 'journal [0-9]+ (.*replayed|of a dead node recovered)' <<<"$kmsg" ||
		fail "node $1 recovered no journal: $(grep clusterfs <<<"$kmsg")"
}
