# Filesystem adapter: clusterfs with lock_nolock on one node: no corosync, no lockd, the
# single-node configuration of the kernel module, the peer of gfs2-nolock.sh.
# Interface: see scripts/bench/fs/gfs2.sh.
FS_MAX_NODES=1

fs_setup() {
	[ "$1" -le "$FS_MAX_NODES" ] || vm_die "clusterfs with lock_nolock mounts on one node only"
	local k
	for ((k = 1; k <= $1; k++)); do
		node_run "$k" -t 60 'modprobe libcrc32c && { grep -q "^clusterfs " /proc/modules || insmod kernel/clusterfs.ko; }' ||
			vm_die "cannot load kernel/clusterfs.ko on node $k (build it with make kernel-module)"
	done
}

fs_mkfs() {
	# -J 128: the journal size the GFS2 adapters give mkfs.gfs2.
	node_run 1 -t 120 'build/bin/mkfs.clusterfs -q -O -p lock_nolock -j 1 -J 128 $CFS_SHARED_DEV </dev/null'
}

fs_mount() {
	local k=$1 dir=$2
	node_run "$k" -t 60 "mkdir -p $dir && mount -t clusterfs -o noatime \$CFS_SHARED_DEV $dir"
}

fs_umount() {
	local k=$1 dir=$2
	node_run "$k" -t 60 "umount $dir"
}
