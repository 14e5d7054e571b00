# Asynchronous (io_submit) O_DIRECT writes that extend a file: every byte written lands
# inside i_size, reads back as written (fio --verify), and the unmounted filesystem is
# fsck-clean. Regression test for i_size not being extended when iomap completed an
# extending direct write asynchronously (docs/kernel-stress.md, stress-ng's aiol).
# Then sector-aligned but not block-aligned async direct writes, many in flight from
# several threads, neighbours sharing blocks, into holes, over allocated blocks and at an
# unaligned EOF (cfs_dio_unaligned): every write reads back byte for byte. Regression test
# for iomap's asynchronous sub-block zeroing wiping a neighbour's bytes (docs/kernel.md).
# nodes: 1
# cluster: --shared-mib 512
# timeout: 420

source kernel/tests/vm-helpers.sh

kfs_load 1
node_run 1 "$KFS_BIN/mkfs.clusterfs -q -O -p lock_nolock -j 1 \$CFS_SHARED_DEV"
kfs_mount 1

# Sequential extending writes, 8 in flight, verified on read-back.
node_run 1 -t 240 "cd /tmp && fio --name=seq --filename=$CFS_MNT/seq --ioengine=libaio --direct=1 \
	--rw=write --bs=4k --size=8m --iodepth=8 --fallocate=none --verify=crc32c \
	--verify_fatal=1 --output=/tmp/fio-seq.log" ||
	fail "fio verify of extending async direct writes failed: $(node_run 1 'tail -n 20 /tmp/fio-seq.log')"
size=$(node_run 1 "stat -c %s $CFS_MNT/seq")
assert_eq 8388608 "$size" "size after 8 MiB of extending async direct writes"

# Extending writes that start past EOF (a hole first), 8 in flight.
node_run 1 -t 240 "cd /tmp && fio --name=far --filename=$CFS_MNT/far --ioengine=libaio --direct=1 \
	--rw=write --bs=4k --size=8m --offset=64m --iodepth=8 --fallocate=none \
	--output=/tmp/fio-far.log" || fail "fio past EOF failed: $(node_run 1 'tail -n 20 /tmp/fio-far.log')"
size=$(node_run 1 "stat -c %s $CFS_MNT/far")
assert_eq 75497472 "$size" "size after async direct writes past EOF"

# CFS_DIO_ITERATIONS: iterations per cfs_dio_unaligned scenario.
dio_iterations=${CFS_DIO_ITERATIONS:-30}
dio_seed=${CFS_DIO_SEED:-$((RANDOM + 1))}
status=0
out=$(node_run 1 -t 300 "$KFS_BIN/cfs_dio_unaligned $CFS_MNT/unaligned --iterations $dio_iterations \
	--threads 4 --depth 16 --seed $dio_seed 2>&1") || status=$?
printf '%s\n' "$out" >"$VM_LOG_DIR/cfs_dio_unaligned.log"
vm_log "cfs_dio_unaligned --seed $dio_seed: $(grep -E '^(ok|FAIL) [a-z-]+:' <<<"$out" | tr '\n' ' ')"
[ "$status" -eq 0 ] || fail "unaligned async direct writes did not read back (exit $status): $out"
node_run 1 "rm -rf $CFS_MNT/unaligned"

kfs_umount 1
kfs_fsck_clean 1
