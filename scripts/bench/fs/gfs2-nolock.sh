# Filesystem adapter: GFS2 with lock_nolock on one node: no corosync, no DLM, the peer of
# clusterfs-nolock.sh (the same single-node configuration), so the two compare like for
# like. Interface: see scripts/bench/fs/gfs2.sh.
FS_MAX_NODES=1

fs_setup() {
	[ "$1" -le "$FS_MAX_NODES" ] || vm_die "GFS2 with lock_nolock mounts on one node only"
	node_run 1 -t 60 modprobe gfs2 || vm_die "cannot load the gfs2 module on node 1"
}

fs_mkfs() {
	# -J 128: the same journal size as the lock_dlm adapter. -O: no prompt; stdin from
	# /dev/null all the same (a reused disk asks otherwise).
	node_run 1 -t 120 'mkfs.gfs2 -O -p lock_nolock -j 1 -J 128 $CFS_SHARED_DEV </dev/null >/dev/null'
}

fs_mount() {
	local k=$1 dir=$2
	node_run "$k" -t 120 "mkdir -p $dir && mount -t gfs2 -o noatime \$CFS_SHARED_DEV $dir"
}

fs_umount() {
	local k=$1 dir=$2
	node_run "$k" -t 120 "umount $dir"
}
