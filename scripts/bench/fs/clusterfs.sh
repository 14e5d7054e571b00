# Filesystem adapter: clusterfs with lock_cluster, mounted on every node at once: corosync,
# clusterfs_lockd on each node (the kernel module's /dev/clusterfs_lock) and the default
# mkfs (lock_cluster), mounted with no option but noatime, as a user would. The peer of
# gfs2.sh (lock_dlm); clusterfs-nolock.sh is the single-node configuration.
# Interface: see scripts/bench/fs/gfs2.sh.
FS_MAX_NODES=3

# The kernel VM tests' cluster bring-up (module, fence server, corosync, lockd).
source kernel/tests/vm-helpers.sh

fs_setup() {
	kfs_cluster_up "$1"
}

fs_mkfs() {
	local nodes=$1 journals
	journals=$((nodes > 2 ? nodes : 2))
	# -J 128: the journal size the GFS2 adapters give mkfs.gfs2.
	node_run 1 -t 120 "build/bin/mkfs.clusterfs -q -O -t $VM_CLUSTER_NAME:bench -j $journals -J 128 \$CFS_SHARED_DEV </dev/null"
}

fs_mount() {
	local k=$1 dir=$2
	node_run "$k" -t 120 "mkdir -p $dir && mount -t clusterfs -o noatime \$CFS_SHARED_DEV $dir"
}

fs_umount() {
	local k=$1 dir=$2
	node_run "$k" -t 120 "umount $dir"
}
