#!/usr/bin/env bash
# make demo: a three-node cluster on one shared disk, as a user builds it. Boots three
# qemu VMs sharing a disk image, starts corosync and clusterfs_lockd on each, loads
# clusterfs.ko, runs `mkfs.clusterfs -t vmtest:demo -j 3` once and `mount -t clusterfs
# DEV /mnt/cfs` (no option) on the nodes; a tree written on node 1 is read and changed on
# node 2, seen on node 3 and back on node 1, with checksums compared at every hand-over;
# shows lockd's view, df and the journals, then fsck.clusterfs -n.
# This release mounts a lock_cluster filesystem on one node at a time (docs/kernel.md,
# "Cluster mounts"): the demo shows the second node's mount being refused while the
# first has it, then hands the filesystem from node to node.
# Any mismatch or failure stops the demo with a message and a non-zero exit.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
source scripts/vm/lib.sh

MNT=/mnt/cfs
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '    %s\n' "$@"; }
indent() { sed 's/^/    /'; }
die() {
	printf '\ndemo: FAILED: %s\n' "$*" >&2
	echo "demo: logs and VM consoles under $VM_LOG_DIR" >&2
	exit 1
}

[ -f kernel/clusterfs.ko ] || die "build the module first (make kernel-module)"
[ -x build/bin/mkfs.clusterfs ] && [ -x build/bin/clusterfs_lockd ] || die "build the tools first (make)"

# checksums K: one line per file under the mount of node K (path and sha256), sorted.
checksums() {
	node_run "$1" "cd $MNT && find . -type f -print0 | sort -z | xargs -0 sha256sum"
}
# same_tree WHAT EXPECTED ACTUAL: the checksum lists agree, or the demo fails naming the files.
same_tree() {
	if [ "$2" != "$3" ]; then
		diff <(echo "$2") <(echo "$3") | head -n 20 >&2 || true
		die "$1: the files differ (above: < expected, > found)"
	fi
	show "$1: all $(wc -l <<<"$3") files have the same sha256"
}

step "Booting three VMs on one shared 512 MiB disk (qemu without KVM: about a minute)"
cluster_start 3 --shared-mib 512 >/dev/null 2>&1 || die "the VMs did not boot"
for k in 1 2 3; do
	show "node$k up: kernel $(node_run "$k" uname -r), shared disk $(node_run "$k" 'readlink -f $CFS_SHARED_DEV')"
done

step "corosync on every node (cluster \"$VM_CLUSTER_NAME\", knet)"
cluster_corosync_start >/dev/null
cluster_wait_quorate -t 180 2>/dev/null || die "corosync did not become quorate"
node_run 1 'corosync-quorumtool -l' | indent

step "modprobe clusterfs and start clusterfs_lockd on every node"
cluster_fence_server_start 2>/dev/null
for k in 1 2 3; do
	node_run "$k" "modprobe libcrc32c && insmod kernel/clusterfs.ko && mkdir -p $MNT /etc/clusterfs &&
		printf 'fence_command = %s\n' \"\$PWD/scripts/vm/fence_vm\" >/etc/clusterfs/lockd.conf &&
		{ setsid build/bin/clusterfs_lockd -f -c /etc/clusterfs/lockd.conf </dev/null >>/var/log/clusterfs_lockd.log 2>&1 & }
		for i in \$(seq 1 150); do grep -q 'serving the kernel module' /var/log/clusterfs_lockd.log && exit 0; sleep 0.2; done
		cat /var/log/clusterfs_lockd.log >&2; exit 1" || die "node$k: clusterfs_lockd did not start"
	show "node$k: $(node_run "$k" 'grep -m1 "serving the kernel" /var/log/clusterfs_lockd.log')"
done

step "mkfs.clusterfs -t $VM_CLUSTER_NAME:demo -j 3 (once, on node 1)"
node_run 1 "build/bin/mkfs.clusterfs -O -t $VM_CLUSTER_NAME:demo -j 3 -J 16 \$CFS_SHARED_DEV" | indent

step "node1: mount -t clusterfs \$DEV $MNT, write a tree"
node_run 1 "mount -t clusterfs \$CFS_SHARED_DEV $MNT" || die "node1: mount failed: $(node_run 1 'dmesg | tail -n 5')"
node_run 1 "grep ' $MNT ' /proc/mounts" | indent
node_run 1 "set -e; cd $MNT
	for d in alpha beta gamma; do
		mkdir -p \$d/deep/er
		for i in \$(seq 1 50); do head -c \$(( (i * 21011) % 1048576 + 1024 )) /dev/urandom >\$d/file\$i; done
		echo \"hello from \$d\" >\$d/deep/er/note.txt
	done
	ln -s alpha/deep/er/note.txt shortcut
	ln alpha/file1 alpha/file1.hardlink
	sync"
tree1=$(checksums 1)
show "$(wc -l <<<"$tree1") files, $(node_run 1 "du -sh $MNT | cut -f1") written on node1"
show "clusterfs_tool cluster on node1 (lockd's view):"
node_run 1 'build/bin/clusterfs_tool cluster' | indent

step "node2: mount while node1 has it (refused: one node at a time in this release)"
if node_run 2 "mount -t clusterfs \$CFS_SHARED_DEV $MNT" 2>/dev/null; then
	die "node2 mounted while node1 had the filesystem mounted"
fi
node_run 2 'dmesg | grep "mounted on another node" | tail -n 1' | indent ||
	die "node2's mount was refused without the reason in dmesg"

step "node1 unmounts; node2 mounts, reads node1's tree, changes it"
node_run 1 "umount $MNT"
node_run 2 "mount -t clusterfs \$CFS_SHARED_DEV $MNT" || die "node2: mount failed"
same_tree "node2 reads what node1 wrote" "$tree1" "$(checksums 2)"
show "cat shortcut on node2: $(node_run 2 "cat $MNT/shortcut")"
node_run 2 "set -e; cd $MNT; echo 'changed on node2' >>alpha/deep/er/note.txt; rm beta/file7; mv gamma delta; echo new >from-node2; sync"
tree2=$(checksums 2)
node_run 2 "umount $MNT"

step "node3 mounts and sees node2's changes"
node_run 3 "mount -t clusterfs \$CFS_SHARED_DEV $MNT" || die "node3: mount failed"
same_tree "node3 reads what node2 left" "$tree2" "$(checksums 3)"
show "note.txt on node3: $(node_run 3 "tr '\n' '|' <$MNT/alpha/deep/er/note.txt")"
node_run 3 "df -h $MNT" | indent
node_run 3 "umount $MNT"

step "node1 mounts again and sees everything"
node_run 1 "mount -t clusterfs \$CFS_SHARED_DEV $MNT" || die "node1: mount failed"
same_tree "node1 reads the tree after nodes 2 and 3" "$tree2" "$(checksums 1)"
node_run 1 "umount $MNT"

step "clusterfs_tool journals and fsck.clusterfs -n on the device"
node_run 1 'build/bin/clusterfs_tool journals $CFS_SHARED_DEV' | indent
node_run 1 'build/bin/fsck.clusterfs -n $CFS_SHARED_DEV' | indent || die "fsck.clusterfs found problems"

step "Stopping the VMs"
cluster_stop >/dev/null 2>&1 || die "a VM console shows a kernel problem"
show "no kernel warning or oops on any console; logs under $VM_LOG_DIR"
