# Blocks past EOF (docs/format.md "Blocks past the end of a regular file"): fallocate
# KEEP_SIZE preallocation survives fsync, a remount and a growing truncate (st_blocks kept,
# the range reads zeros, never an earlier file's bytes); a shrinking truncate frees it
# (statfs's free count comes back); punching it and an ENOSPC part-way through a fallocate
# leave a consistent filesystem; zero range works; cfs_fsx with every operation (files
# kept; 10000 operations on one file in one run). fsck.clusterfs -n exits 0 after every
# workload.
# nodes: 1
# cluster: --shared-mib 384
# timeout: 1500

source kernel/tests/vm-helpers.sh

MiB=$((1024 * 1024))
kfs_pin_binaries 1
kfs_load 1
kfs_mkfs 1
kfs_mount 1

# remount_fsck WHAT: unmount, fsck -n must exit 0, mount again.
remount_fsck() {
	local out rc=0
	kfs_umount 1
	out=$(node_run 1 "$KFS_BIN/fsck.clusterfs -n \$CFS_SHARED_DEV 2>&1") || rc=$?
	[ "$rc" -eq 0 ] || fail "fsck -n exit $rc after $1: $out"
	vm_log "fsck -n clean after $1"
	kfs_mount 1
}
# blocks FILE: st_blocks (512-byte units); free_blocks: statfs free blocks.
blocks() { node_run 1 "stat -c %b $1"; }
free_blocks() { node_run 1 "sync && stat -f -c %f $CFS_MNT"; }
# zeros FILE OFF LEN: bytes [OFF, OFF+LEN) of FILE read from the disk are all zero.
zeros() {
	node_run 1 "echo 3 >/proc/sys/vm/drop_caches &&
		tail -c +$(($2 + 1)) $1 | head -c $3 | cmp -n $3 - /dev/zero" ||
		fail "$1: bytes $2+$3 are not all zero"
}

# --- what zeroing at fallocate time costs: 256 MiB --------------------------------------
t=$(node_run 1 -t 600 "s=\$(date +%s%N); fallocate -l $((256 * MiB)) $CFS_MNT/timed; e=\$(date +%s%N); echo \$(((e - s) / 1000000))")
vm_log "fallocate of 256 MiB (blocks zeroed with blkdev_issue_zeroout): $t ms"
node_run 1 "rm $CFS_MNT/timed"

# Blocks a deleted file leaves behind hold 0x5a bytes: a preallocation reusing them must
# not show them.
node_run 1 "head -c $((64 * MiB)) /dev/zero | tr '\\0' '\\132' >$CFS_MNT/old && sync && rm $CFS_MNT/old && sync"

# --- a buffered write that stops short (its source faults) leaves zeros, never stale
# bytes, in the blocks it allocated but did not fill: inside EOF and past EOF ----------
s=$CFS_MNT/short
out=$(node_run 1 "python3 kernel/tests/cfs_short_write.py $s")
assert_eq "inside 4096 past 4096" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')" "short write results"
node_run 1 "truncate -s $((2 * MiB + 8192)) $s"
zeros $s $((MiB + 4096)) 4096
zeros $s $((2 * MiB + 4096)) 4096
remount_fsck "buffered writes that stopped short"
zeros $s $((MiB + 4096)) 4096
zeros $s $((2 * MiB + 4096)) 4096
node_run 1 "rm $s"

# --- KEEP_SIZE preallocation past EOF, fsync'ed ----------------------------------------
f=$CFS_MNT/keep
node_run 1 "head -c 10000 /dev/urandom >$f && fallocate -n -o 0 -l $((4 * MiB)) $f &&
	dd if=/dev/null of=$f conv=notrunc,fsync status=none"
size=$(node_run 1 "stat -c %s $f")
assert_eq 10000 "$size" "size after fallocate KEEP_SIZE"
b=$(blocks $f)
[ "$b" -ge $((4 * MiB / 512)) ] || fail "fallocate KEEP_SIZE of 4 MiB: st_blocks $b"
remount_fsck "fallocate KEEP_SIZE past EOF + fsync"
now=$(blocks $f)
assert_eq "$b" "$now" "st_blocks of the preallocation after a remount"

# --- a growing truncate keeps the preallocation, which reads zeros ---------------------
node_run 1 "truncate -s $((2 * MiB)) $f"
now=$(blocks $f)
assert_eq "$b" "$now" "st_blocks after truncate up into the preallocation (kept)"
zeros $f 10000 $((2 * MiB - 10000))
remount_fsck "truncate up into the preallocation"
now=$(blocks $f)
assert_eq "$b" "$now" "st_blocks after truncate up and a remount"
zeros $f 10000 $((2 * MiB - 10000))
node_run 1 "truncate -s $((6 * MiB)) $f"
now=$(blocks $f)
assert_eq "$b" "$now" "st_blocks after truncate up past the preallocation"
zeros $f 10000 $((6 * MiB - 10000))

# --- a shrinking truncate frees everything past the new size, preallocation included ---
node_run 1 "truncate -s $((1 * MiB)) $f && fallocate -n -o $((1 * MiB)) -l $((16 * MiB)) $f"
before=$(free_blocks)
node_run 1 "truncate -s 4096 $f"
after=$(free_blocks)
# 1 MiB of data plus 16 MiB preallocated, less the one block kept: 4351 blocks of 4 KiB.
[ $((after - before)) -ge 4351 ] ||
	fail "truncate down to 4096 freed $((after - before)) blocks, expected at least 4351"
b=$(blocks $f)
# The dinode, one data block, one indirect block (the tree keeps its height): 3 x 8.
[ "$b" -le 24 ] || fail "st_blocks $b after truncate down to 4096 (dinode, indirect and data block)"
remount_fsck "truncate down through the preallocation"

# --- punching preallocated blocks, across EOF and wholly past it -----------------------
g=$CFS_MNT/punch
node_run 1 "head -c 300000 /dev/urandom >$g && fallocate -n -o 0 -l $((3 * MiB)) $g &&
	fallocate -p -o 250000 -l 100000 $g && fallocate -p -o 1000000 -l 123457 $g &&
	fallocate -p -o $((2 * MiB)) -l $((2 * MiB)) $g && sync"
remount_fsck "punching preallocated blocks"
node_run 1 "truncate -s $((3 * MiB)) $g"
zeros $g 250000 $((3 * MiB - 250000))

# --- zero range, with and without KEEP_SIZE --------------------------------------------
z=$CFS_MNT/zero
node_run 1 "head -c 100000 /dev/urandom >$z && fallocate -z -o 5000 -l 20000 $z &&
	fallocate -z -n -o 90000 -l 200000 $z && fallocate -z -o 150000 -l 50000 $z"
size=$(node_run 1 "stat -c %s $z")
assert_eq 200000 "$size" "size after zero range past EOF"
zeros $z 5000 20000
zeros $z 90000 110000
remount_fsck "zero range"
zeros $z 90000 110000

# --- ENOSPC part-way through fallocate (KEEP_SIZE and not), files kept -----------------
free_empty=$(free_blocks)
out=$(node_run 1 -t 600 "touch $CFS_MNT/full-keep && fallocate -n -o 4096 -l 1T $CFS_MNT/full-keep 2>&1 || echo rc=\$?")
grep -q 'No space left on device' <<<"$out" || fail "fallocate -n of 1 TiB: $out"
node_run 1 "sync"
remount_fsck "ENOSPC part-way through fallocate KEEP_SIZE"
node_run 1 "truncate -s $((8 * MiB)) $CFS_MNT/full-keep"
zeros $CFS_MNT/full-keep 0 $((8 * MiB))
node_run 1 "rm $CFS_MNT/full-keep"
out=$(node_run 1 -t 600 "fallocate -l 1T $CFS_MNT/full-size 2>&1 || echo rc=\$?")
grep -q 'No space left on device' <<<"$out" || fail "fallocate of 1 TiB: $out"
size=$(node_run 1 "stat -c %s $CFS_MNT/full-size")
assert_eq 0 "$size" "size after a failed fallocate"
remount_fsck "ENOSPC part-way through fallocate"
node_run 1 "rm $CFS_MNT/full-size"
remount_fsck "removing the files filled by fallocate"
free=$(free_blocks)
# Everything comes back (a few blocks of slack for the statfs files' rounding).
[ "$free" -ge $((free_empty - 16)) ] ||
	fail "$free blocks free after removing the fallocate fills, $free_empty before"

# --- cfs_fsx with every operation, files kept for fsck -----------------------------------
# Seed 4: 10000 operations on one file, the workload of the original report.
for run in 1:4000 2:4000 3:4000 4:10000; do
	seed=${run%:*}
	out=$(node_run 1 -t 900 "build/bin/cfs_fsx $CFS_MNT --seed $seed --ops ${run#*:} --require-all --keep 2>&1") ||
		fail "cfs_fsx seed $seed: $(grep -A14 'FAIL' <<<"$out" | head -n 16; tail -n 30 <<<"$out")"
	vm_log "cfs_fsx seed $seed: $(tail -n 1 <<<"$out")"
done
remount_fsck "cfs_fsx with every operation (files kept)"
kfs_umount 1
