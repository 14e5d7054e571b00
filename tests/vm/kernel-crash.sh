# Crash loop for clusterfs.ko: a workload of fsync'ed writes runs while the VM is killed
# (kill -9 of qemu) at a random moment; after each reboot the mount replays the journal,
# every file the workload recorded as fsync'ed has exactly its fsync'ed contents
# (cfs_crashcheck), and the unmounted filesystem is fsck-clean.
# Odd iterations mount with -o discard on a disk whose discards punch holes in the host
# image: a block discarded before the transaction freeing it is in the journal would read
# back as zeros after the replay.
# The workload must really have run: it must still be running when the node is killed,
# and each iteration must add at least CFS_CRASH_MIN_FSYNCS (default 20) acknowledged
# fsyncs (manifest records) to the manifest; each iteration logs its count (a host with
# load 7-9 gave 144-822 per iteration).
# CFS_CRASH_ITERATIONS (default 10: `make test` stays under an hour on 2 cores; about 20 s each) sets the number of crashes; `make kernel-soak` runs more.
# nodes: 1
# cluster: --shared-mib 512 --discard
# timeout: 3600

source kernel/tests/vm-helpers.sh

iterations=${CFS_CRASH_ITERATIONS:-10}
min_fsyncs=${CFS_CRASH_MIN_FSYNCS:-20}
records=0 fsync_counts=()
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
	node_run 1 "setsid $KFS_BIN/cfs_crashwork $CFS_MNT/work --seed $i --ack $WORKLOAD_ACKED.$i </dev/null >/scratch/crashwork.$i.log 2>&1 &"
	# Let the workload get going, then crash somewhere in the next few seconds.
	sleep $((3 + RANDOM % 6))
	node_alive 1 || fail "iteration $i: the node died before it was killed"
	# It runs until killed: if it is gone, it failed (its log says why).
	node_run 1 "pgrep -x cfs_crashwork >/dev/null" ||
		fail "iteration $i: cfs_crashwork was no longer running: $(node_run 1 "cat /scratch/crashwork.$i.log")"
	node_kill 1
	node_boot 1
	kfs_load 1
	kfs_mount 1
	out=$(node_run 1 "$KFS_BIN/cfs_crashcheck $CFS_MNT/work --acked $WORKLOAD_ACKED.$i 2>&1") ||
		fail "iteration $i: fsync'ed data lost after the crash: $out"
	now=$(sed -n 's/.*: \([0-9]*\) manifest records .*/\1/p' <<<"$out")
	[ -n "$now" ] || fail "iteration $i: no record count in cfs_crashcheck's output: $out"
	fsyncs=$((now - records))
	records=$now
	fsync_counts+=("$fsyncs")
	[ "$fsyncs" -ge "$min_fsyncs" ] ||
		fail "iteration $i: only $fsyncs acknowledged fsyncs before the crash (at least $min_fsyncs expected): $(node_run 1 "cat /scratch/crashwork.$i.log")"
	kfs_umount 1
	kfs_fsck_clean 1
	vm_log "crash $i/$iterations${opts:+ (-o $opts)}: $fsyncs fsyncs acknowledged; replayed, fsync'ed files intact, fsck clean ($(tail -n 1 <<<"$out"))"
done
vm_log "crash summary: $iterations crashes, acknowledged fsyncs per iteration: ${fsync_counts[*]} (minimum required $min_fsyncs)"
