# Crash loop for clusterfs.ko: a workload of fsync'ed writes runs while the VM is killed
# (kill -9 of qemu) at a random moment; after each reboot the mount replays the journal,
# every file the workload recorded as fsync'ed has exactly its fsync'ed contents
# (cfs_crashcheck), and the unmounted filesystem is fsck-clean.
# Odd iterations mount with -o discard on a disk whose discards punch holes in the host
# image: a block discarded before the transaction freeing it is in the journal would read
# back as zeros after the replay.
# CFS_CRASH_ITERATIONS (default 20) sets the number of crashes; `make kernel-soak` runs more.
# nodes: 1
# cluster: --shared-mib 512 --discard
# timeout: 3600

source kernel/tests/vm-helpers.sh

iterations=${CFS_CRASH_ITERATIONS:-20}
kfs_pin_binaries 1
kfs_load 1
kfs_mkfs 1
kfs_mount 1 commit=1
node_run 1 "mkdir $CFS_MNT/work"
kfs_umount 1

for ((i = 1; i <= iterations; i++)); do
	opts=
	((i % 2)) && opts=discard
	kfs_mount 1 "$opts"
	node_run 1 "setsid $KFS_BIN/cfs_crashwork $CFS_MNT/work --seed $i </dev/null >/scratch/crashwork.$i.log 2>&1 &"
	# Let the workload get going, then crash somewhere in the next few seconds.
	sleep $((3 + RANDOM % 6))
	node_alive 1 || fail "iteration $i: the node died before it was killed"
	node_kill 1
	node_boot 1
	kfs_load 1
	kfs_mount 1
	out=$(node_run 1 "$KFS_BIN/cfs_crashcheck $CFS_MNT/work 2>&1") ||
		fail "iteration $i: fsync'ed data lost after the crash: $out"
	kfs_umount 1
	kfs_fsck_clean 1
	vm_log "crash $i/$iterations${opts:+ (-o $opts)}: replayed, fsync'ed files intact, fsck clean ($(tail -n 1 <<<"$out"))"
done
