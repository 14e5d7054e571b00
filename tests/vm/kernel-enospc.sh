# A full filesystem: every way of filling it (one big buffered file, small inline files,
# directories, direct writes, fallocate) stops with ENOSPC, never another error or an
# oops; what was fsync'ed before stays intact; freeing space makes it writable again;
# statfs agrees; fsck is clean after each fill and after a remount.
# nodes: 1
# cluster: --shared-mib 112
# timeout: 600

source kernel/tests/vm-helpers.sh

FILL=kernel/tests/cfs_fill.py
kfs_load 1
kfs_mkfs 1
kfs_mount 1

# A file that must survive every fill below unchanged.
node_run 1 "head -c 4194304 /dev/urandom >/tmp/keeper && cp /tmp/keeper $CFS_MNT/keeper && sync $CFS_MNT/keeper"
keeper_sum=$(node_run 1 "md5sum </tmp/keeper")

# keeper_intact WHEN: the keeper reads back (uncached) with its original bytes.
keeper_intact() {
	local sum
	node_run 1 "echo 3 >/proc/sys/vm/drop_caches"
	sum=$(node_run 1 "md5sum <$CFS_MNT/keeper") || fail "keeper unreadable $1"
	assert_eq "$keeper_sum" "$sum" "keeper file contents $1"
}

# fill MODE: runs one fill, checks it stopped with ENOSPC, then frees what it wrote and
# checks the filesystem can take a file again. The fill's report is left in $out.
fill() {
	local mode=$1
	out=$(node_run 1 -t 300 "python3 $FILL $mode $CFS_MNT") ||
		fail "$mode fill did not stop with ENOSPC: $out"
	vm_log "$mode: $(tr '\n' ' ' <<<"$out")"
	local avail
	avail=$(node_run 1 "stat -f -c %a $CFS_MNT")
	# Reservations may leave a few blocks statfs counts as free; never megabytes.
	[ "$avail" -lt 256 ] || fail "$mode: statfs reports $avail free blocks on a full filesystem"
	keeper_intact "after the $mode fill"
	node_run 1 -t 300 "rm -rf $CFS_MNT/big $CFS_MNT/small $CFS_MNT/dir* $CFS_MNT/direct $CFS_MNT/falloc"
	node_run 1 -t 60 "head -c 8388608 /dev/urandom >/tmp/after && cp /tmp/after $CFS_MNT/after && sync" ||
		fail "cannot write 8 MiB after freeing the $mode fill"
	local written read_back
	written=$(node_run 1 'md5sum </tmp/after')
	read_back=$(node_run 1 "md5sum <$CFS_MNT/after")
	assert_eq "$written" "$read_back" "a file written after the $mode fill was freed"
	node_run 1 "rm $CFS_MNT/after"
	kfs_umount 1
	kfs_fsck_clean 1
	kfs_mount 1
}

fill bigfile
size=$(awk '$1 == "size" {print $2}' <<<"$out")
bytes=$(awk '$1 == "bytes" {print $2}' <<<"$out")
assert_eq "$bytes" "$size" "size of the big file against the bytes its writes returned"
[ "$size" -gt $((48 << 20)) ] || fail "big file reached only $size bytes on a 112 MiB device"

fill smallfiles
files=$(awk '$1 == "files" {print $2}' <<<"$out")
[ "$files" -gt 5000 ] || fail "only $files small files fit"

fill mkdirs
fill direct
fill fallocate
assert_eq 0 "$(awk '$1 == "size" {print $2}' <<<"$out")" "size after a failed posix_fallocate"

kfs_umount 1
kfs_fsck_clean 1
kfs_mount 1
keeper_intact "after a remount"
kfs_umount 1
kfs_fsck_clean 1
