# Filesystem adapter: GFS2 with lock_dlm (corosync + dlm_controld), the shared-disk peer.
# The interface every scripts/bench/fs/<type>.sh defines (sourced after scripts/vm/lib.sh,
# with the cluster booted):
#   FS_MAX_NODES          how many nodes may mount it at once
#   fs_setup N            bring up what nodes 1..N need before mkfs (cluster stack, modules)
#   fs_mkfs N             make the filesystem on $CFS_SHARED_DEV for N nodes (from node 1)
#   fs_mount K DIR        mount it on node K at DIR (created if missing)
#   fs_umount K DIR       unmount it on node K
FS_MAX_NODES=4
# Debian 6.1's DLM warns (a FORTIFY field-spanning memcpy) in dlm_add_requestqueue during
# lockspace recovery, e.g. when a node unmounts and mounts again (CLUSTER-NOTES): the
# peer's own warning, allowed as tests/vm/gfs2-survivors.sh allows it; Oops, BUG and
# panic lines still fail the run.
: "${VM_CONSOLE_ALLOW:=dlm_add_requestqueue|Call Trace:}"

fs_setup() {
	local nodes=$1 k list=()
	for ((k = 1; k <= nodes; k++)); do list+=("$k"); done
	cluster_corosync_start "${list[@]}"
	cluster_wait_quorate -t 120 "${list[@]}"
	cluster_dlm_start -t 90 "${list[@]}"
	for k in "${list[@]}"; do
		node_run "$k" modprobe gfs2
	done
}

fs_mkfs() {
	local nodes=$1 journals
	journals=$((nodes > 2 ? nodes : 2))
	# -O: no prompt; stdin from /dev/null all the same (a reused disk asks otherwise).
	node_run 1 -t 120 "mkfs.gfs2 -O -p lock_dlm -t $VM_CLUSTER_NAME:gfs -j $journals -J 128 \$CFS_SHARED_DEV </dev/null >/dev/null"
}

fs_mount() {
	local k=$1 dir=$2
	node_run "$k" -t 120 "mkdir -p $dir && mount -t gfs2 -o noatime \$CFS_SHARED_DEV $dir"
}

fs_umount() {
	local k=$1 dir=$2
	node_run "$k" -t 120 "umount $dir"
}
