#!/usr/bin/env bash
# make demo: boots one VM, makes a clusterfs filesystem on its disk, mounts it with the
# kernel module, writes and reads back a tree of files, shows df and clusterfs_tool,
# unmounts and checks it with fsck.clusterfs. Needs root, qemu, the built module and
# tools (make), like the VM tests. Until cluster locking lands the demo is one node
# with lock_nolock.
set -euo pipefail
# A failing node_run inside $(...) fails the demo too.
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
source scripts/vm/lib.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '    %s\n' "$@"; }

[ -f kernel/clusterfs.ko ] || { echo "demo: build the module first (make kernel-module)" >&2; exit 1; }
[ -x build/bin/mkfs.clusterfs ] || { echo "demo: build the tools first (make)" >&2; exit 1; }

step "Booting a VM (qemu, no KVM: about a minute)"
cluster_start 1 --shared-mib 512 >/dev/null 2>&1 || { echo "demo: the VM did not boot; see build/vm-logs" >&2; exit 1; }
kernel=$(node_run 1 uname -r)
disk=$(node_run 1 'readlink -f $CFS_SHARED_DEV')
show "node1 is up: kernel $kernel, shared disk $disk"

step "mkfs.clusterfs -p lock_nolock -j 1 on the 512 MiB disk"
node_run 1 'build/bin/mkfs.clusterfs -O -p lock_nolock -j 1 -J 16 $CFS_SHARED_DEV' | sed 's/^/    /'

step "Loading clusterfs.ko and mounting"
node_run 1 'modprobe libcrc32c && insmod kernel/clusterfs.ko && mkdir -p /mnt/cfs && mount -t clusterfs $CFS_SHARED_DEV /mnt/cfs'
node_run 1 "grep ' /mnt/cfs ' /proc/mounts" | sed 's/^/    /'
node_run 1 'dmesg | grep "clusterfs (" | tail -n 1' | sed 's/^/    /'

step "Writing a tree: 3 directories x 50 files of 1 KiB..1 MiB, a symlink, a hard link"
node_run 1 'set -e; cd /mnt/cfs
	for d in alpha beta gamma; do
		mkdir -p $d/deep/er
		for i in $(seq 1 50); do
			head -c $(( (i * 21011) % 1048576 + 1024 )) /dev/urandom >$d/file$i
		done
		echo "hello from $d" >$d/deep/er/note.txt
	done
	ln -s alpha/deep/er/note.txt shortcut
	ln alpha/file1 alpha/file1.hardlink
	find . -type f -exec md5sum {} + | sort -k2 >/tmp/before.md5
	sync'
files=$(node_run 1 'find /mnt/cfs -type f | wc -l')
total=$(node_run 1 'du -sh /mnt/cfs | cut -f1')
show "$files files, $total in all"

step "Unmount, mount again, read everything back and compare checksums"
node_run 1 'umount /mnt/cfs && mount -t clusterfs $CFS_SHARED_DEV /mnt/cfs'
node_run 1 'cd /mnt/cfs && find . -type f -exec md5sum {} + | sort -k2 >/tmp/after.md5'
if ! node_run 1 'cmp -s /tmp/before.md5 /tmp/after.md5'; then
	echo "demo: FAILED: what was read back after the remount differs from what was written" >&2
	echo "demo: checksums before (<) and after (>) the remount:" >&2
	node_run 1 'diff /tmp/before.md5 /tmp/after.md5' >&2 || :
	exit 1
fi
count=$(node_run 1 'wc -l </tmp/after.md5')
show "all $count checksums match"
shortcut=$(node_run 1 'cat /mnt/cfs/shortcut')
show "cat shortcut: $shortcut"
links=$(node_run 1 'stat -c %h /mnt/cfs/alpha/file1')
show "links of alpha/file1: $links"

step "df"
node_run 1 'df -h /mnt/cfs' | sed 's/^/    /'

step "Unmount; clusterfs_tool sb, df and journals on the device"
node_run 1 'umount /mnt/cfs'
node_run 1 'build/bin/clusterfs_tool sb $CFS_SHARED_DEV' | grep -E '^(block_size|blocks|lock_protocol|journals|rgrps|root_inode|uuid):' | sed 's/^/    /'
node_run 1 'build/bin/clusterfs_tool df $CFS_SHARED_DEV' | sed 's/^/    /'
node_run 1 'build/bin/clusterfs_tool journals $CFS_SHARED_DEV' | sed 's/^/    /'

step "fsck.clusterfs -n"
node_run 1 'build/bin/fsck.clusterfs -n $CFS_SHARED_DEV' | sed 's/^/    /'

step "Stopping the VM"
cluster_stop >/dev/null 2>&1 && show "no kernel warning or oops on the console" ||
	{ echo "demo: the console shows a kernel problem; see build/vm-logs" >&2; exit 1; }
