# Filesystem adapter: ext4 on the shared disk, mounted by one node only: the emulator's
# single-node ceiling. Interface: see scripts/bench/fs/gfs2.sh.
FS_MAX_NODES=1

fs_setup() {
	[ "$1" -le "$FS_MAX_NODES" ] || vm_die "ext4 is a local filesystem: one node at most"
}

fs_mkfs() {
	# Without these ext4 zeroes its inode tables and journal in the background, inside the
	# measurements.
	node_run 1 -t 120 'mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 $CFS_SHARED_DEV </dev/null'
}

fs_mount() {
	local k=$1 dir=$2
	node_run "$k" -t 60 "mkdir -p $dir && mount -t ext4 -o noatime \$CFS_SHARED_DEV $dir"
}

fs_umount() {
	local k=$1 dir=$2
	node_run "$k" -t 60 "umount $dir"
}
