#!/usr/bin/env bash
# make demo: a three-node cluster on one shared disk, as a user builds it. Boots three
# qemu VMs sharing a disk image, starts corosync and clusterfs_lockd on each, loads
# clusterfs.ko, runs `mkfs.clusterfs -t vmtest:demo -j 3` once and `mount -t clusterfs
# DEV /mnt/cfs` (no option) on all three at once; a tree written on node 1 is read and
# changed on node 2, changed again on node 3 and seen back on node 1, with checksums
# compared on every node at every step, no remount; all three write at the same time
# into one directory; shows lockd's view, df on every node and the journals, unmounts,
# then fsck.clusterfs -n.
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

step "mount -t clusterfs \$DEV $MNT on every node (no option)"
for k in 1 2 3; do
	node_run "$k" "mount -t clusterfs \$CFS_SHARED_DEV $MNT" ||
		die "node$k: mount failed: $(node_run "$k" 'dmesg | tail -n 5')"
	show "node$k: $(node_run "$k" "grep ' $MNT ' /proc/mounts")"
done

step "node1 writes a tree"
node_run 1 "set -e; cd $MNT
	for d in alpha beta gamma; do
		mkdir -p \$d/deep/er
		for i in \$(seq 1 50); do head -c \$(( (i * 21011) % 1048576 + 1024 )) /dev/urandom >\$d/file\$i; done
		echo \"hello from \$d\" >\$d/deep/er/note.txt
	done
	ln -s alpha/deep/er/note.txt shortcut
	ln alpha/file1 alpha/file1.hardlink"
tree1=$(checksums 1)
show "$(wc -l <<<"$tree1") files, $(node_run 1 "du -sh $MNT | cut -f1") written on node1"

step "node2 and node3 read it at once, while node1 keeps it mounted"
same_tree "node2 reads what node1 wrote" "$tree1" "$(checksums 2)"
same_tree "node3 reads what node1 wrote" "$tree1" "$(checksums 3)"
show "cat shortcut on node3: $(node_run 3 "cat $MNT/shortcut")"

step "node2 changes it; node3 changes it more; every node sees both"
node_run 2 "set -e; cd $MNT; echo 'changed on node2' >>alpha/deep/er/note.txt; rm beta/file7; mv gamma delta; echo new >from-node2"
node_run 3 "set -e; cd $MNT; echo 'and on node3' >>alpha/deep/er/note.txt; chmod 600 alpha/file2; echo hi >delta/from-node3"
tree2=$(checksums 3)
for k in 1 2; do
	same_tree "node$k sees nodes 2 and 3's changes" "$tree2" "$(checksums "$k")"
done
show "note.txt on node1: $(node_run 1 "tr '\n' '|' <$MNT/alpha/deep/er/note.txt")"
show "mode of alpha/file2 on node1: $(node_run 1 "stat -c %A $MNT/alpha/file2")"

step "all three nodes write into one directory at the same time"
writers=()
for k in 1 2 3; do
	node_run "$k" "mkdir -p $MNT/shared; for i in \$(seq 1 20); do echo node$k-\$i >$MNT/shared/n$k-\$i; done" &
	writers+=($!)
done
# Only those three: the fence server also runs in the background.
for pid in "${writers[@]}"; do
	wait "$pid" || die "a node failed to write into the shared directory"
done
for k in 1 2 3; do
	n=$(node_run "$k" "ls $MNT/shared | wc -l")
	[ "$n" = 60 ] || die "node$k lists $n files in shared/, not 60"
	show "node$k lists all 60 files in shared/"
done

step "lockd's view (clusterfs_tool cluster on node1) and df on every node after sync"
node_run 1 'build/bin/clusterfs_tool cluster' | indent
for k in 1 2 3; do node_run "$k" sync; done
df1=$(node_run 1 "df --output=used $MNT | tail -n 1")
for k in 1 2 3; do
	dfk=$(node_run "$k" "df --output=used $MNT | tail -n 1")
	[ "$dfk" = "$df1" ] || die "df on node$k says $dfk KiB used, node1 $df1"
	show "node$k: $(node_run "$k" "df -h $MNT | tail -n 1")"
done

step "unmount on every node"
for k in 1 2 3; do
	node_run "$k" "umount $MNT" || die "node$k: umount failed"
done

step "clusterfs_tool journals and fsck.clusterfs -n on the device"
node_run 1 'build/bin/clusterfs_tool journals $CFS_SHARED_DEV' | indent
node_run 1 'build/bin/fsck.clusterfs -n $CFS_SHARED_DEV' | indent || die "fsck.clusterfs found problems"

step "Stopping the VMs"
cluster_stop >/dev/null 2>&1 || die "a VM console shows a kernel problem"
show "no kernel warning or oops on any console; logs under $VM_LOG_DIR"
