# clusterfs.ko under stress-ng's filesystem stressors with --verify for about 3 minutes
# (one worker each, all at once in one directory of the mount: data written and read
# back, directory churn, deep trees, odd names, links, renames, fallocate, seeks and
# holes, fsync/sync_file_range, mmap/msync, POSIX and Linux aio, sendfile, locks, leases);
# stress-ng must report no failure, the kernel no problem, and the unmounted filesystem
# must be fsck-clean. The stressor set passes on ext4 in the same VM; io-uring is left
# out (docs/kernel-stress.md). Meanwhile fio writes sector-aligned, not block-aligned
# async direct I/O (libaio, bs=4k at offset 512, 16 in flight) through a sparse file and
# verifies it: what QEMU sends to an image when its guest disk has 512-byte sectors.
# nodes: 1
# cluster: --shared-mib 1024
# timeout: 600

source kernel/tests/vm-helpers.sh

# STRESS_SECONDS: how long the stressors run together (stress-ng --timeout).
STRESS_SECONDS=${KSTRESS_SECONDS:-150}
# Sizes keep the working set (about 500 MiB) well inside the 1 GiB shared disk.
STRESSORS="--hdd 1 --hdd-bytes 64M --hdd-opts wr-rnd,rd-rnd,fsync
	--iomix 1 --iomix-bytes 32M
	--dentry 1 --dir 1 --dirdeep 1 --dirdeep-inodes 20000 --filename 1
	--fallocate 1 --fallocate-bytes 32M --fstat 1 --fstat-dir $CFS_MNT
	--link 1 --symlink 1 --rename 1 --chmod 1 --utime 1
	--seek 1 --seek-size 32M --seek-punch --sync-file 1 --sync-file-bytes 32M
	--readahead 1 --readahead-bytes 8M --copy-file 1 --copy-file-bytes 128M
	--lockf 1 --flock 1 --fcntl 1 --locka 1 --lease 1
	--fpunch 1 --mmap 1 --mmap-file --mmap-bytes 16M --mmap-odirect --msync 1 --msync-bytes 16M
	--aio 1 --sendfile 1 --fsize 1 --file-ioctl 1
	--getdent 1 --dirmany 1 --open 1 --touch 1 --access 1 --chown 1 --inotify 1
	--aiol 1 --fiemap 1 --fiemap-bytes 16M"

kfs_load 1
node_run 1 "$KFS_BIN/mkfs.clusterfs -q -O -p lock_nolock -j 1 \$CFS_SHARED_DEV"
kfs_mount 1
node_run 1 "mkdir $CFS_MNT/stress && touch $CFS_MNT/fstat-target"

# The unaligned direct writes run beside stress-ng: first into the holes of a sparse file
# (neighbouring writes share a block that each one allocates or finds allocated), then
# over the blocks the first pass allocated; each pass read back and verified.
node_run 1 "truncate -s 9m $CFS_MNT/fio-unaligned"
node_run 1 -t $((STRESS_SECONDS + 240)) "cd /tmp && fio --name=unaligned \
	--filename=$CFS_MNT/fio-unaligned --ioengine=libaio --direct=1 --rw=write --bs=4k \
	--offset=512 --size=8m --iodepth=16 --loops=2 --fallocate=none --verify=crc32c \
	--verify_fatal=1 --output=/tmp/fio-unaligned.log" >/dev/null 2>&1 &
fio_pid=$!

# stress-ng exits 0 only if every stressor ran and passed (2: a stressor failed, e.g. a
# verify mismatch; 3: one could not run). Its log lines "fail:" name any failure; some
# stressors report a data mismatch only as an info line, which fails the test too.
status=0
out=$(node_run 1 -t $((STRESS_SECONDS + 240)) "cd $CFS_MNT/stress && stress-ng \
	$(echo $STRESSORS) --verify --metrics-brief --timeout ${STRESS_SECONDS}s \
	--temp-path $CFS_MNT/stress 2>&1") || status=$?
printf '%s\n' "$out" >"$VM_LOG_DIR/stress-ng.log"
vm_log "stress-ng: $(grep -E 'successful run|passed:|failed:|skipped:' <<<"$out" | tr '\n' ' ')"
[ "$status" -eq 0 ] || fail "stress-ng exited $status: $(grep -Ei 'fail|error|skipp' <<<"$out" | head -n 20)"
! grep -Eiq '(^| )fail:|failed: [1-9]|skipp|mismatch|verif.*fail' <<<"$out" ||
	fail "stress-ng reported failures: $(grep -Ei 'fail|skipp|mismatch|verif' <<<"$out" | head -n 20)"

fio_status=0
wait "$fio_pid" || fio_status=$?
[ "$fio_status" -eq 0 ] ||
	fail "fio of unaligned async direct writes exited $fio_status: $(node_run 1 'tail -n 20 /tmp/fio-unaligned.log' || :)"
fio_summary=$(node_run 1 "grep -E 'err=|write:|read:' /tmp/fio-unaligned.log")
vm_log "fio unaligned: $(tr '\n' ' ' <<<"$fio_summary")"

# fsck sees what stress-ng left: every block it allocated and freed, every inode it
# created and unlinked.
kfs_umount 1
kfs_fsck_clean 1
