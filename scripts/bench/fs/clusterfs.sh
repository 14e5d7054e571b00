# Filesystem adapter: clusterfs with lock_cluster, mounted on every node at once: corosync,
# clusterfs_lockd on each node (the kernel module's /dev/clusterfs_lock) and the default
# mkfs (lock_cluster), mounted with no option but noatime, as a user would. The peer of
# gfs2.sh (lock_dlm); clusterfs-nolock.sh is the single-node configuration.
# Interface: see scripts/bench/fs/gfs2.sh.
FS_MAX_NODES=3

fs_setup() {
	local nodes=$1 k list=()
	for ((k = 1; k <= nodes; k++)); do list+=("$k"); done
	# The module first: lockd serves the misc device the module creates.
	for k in "${list[@]}"; do
		node_run "$k" -t 60 'modprobe libcrc32c && { grep -q "^clusterfs " /proc/modules || insmod kernel/clusterfs.ko; }' ||
			vm_die "cannot load kernel/clusterfs.ko on node $k (build it with make kernel-module)"
	done
	# The VM fence agent, as the tests configure lockd (nothing is killed here).
	cluster_fence_server_start
	cluster_corosync_start "${list[@]}"
	cluster_wait_quorate -t 120 "${list[@]}" || vm_die "corosync not quorate on nodes ${list[*]}"
	for k in "${list[@]}"; do
		node_run "$k" -t 60 'mkdir -p /etc/clusterfs &&
			printf "fence_command = %s\n" "$PWD/scripts/vm/fence_vm" >/etc/clusterfs/lockd.conf &&
			{ setsid build/bin/clusterfs_lockd -f -c /etc/clusterfs/lockd.conf </dev/null >>/var/log/clusterfs_lockd.log 2>&1 & }
			for i in $(seq 1 200); do grep -q "serving the kernel module" /var/log/clusterfs_lockd.log && exit 0; sleep 0.2; done
			cat /var/log/clusterfs_lockd.log >&2; exit 1' ||
			vm_die "clusterfs_lockd does not serve the kernel module on node $k"
	done
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
