# clusterfs.ko passes the project's POSIX behaviour suite (tests/posix/cfs_posix_suite:
# results and errno of every operation of issue 3, readdir stability under inserts,
# large files, 100000-entry directory), then the random-operation verifier (cfs_fsx)
# against an in-memory model; the filesystem is fsck-clean after each. Extended
# attributes and POSIX ACLs (setfattr/setfacl) survive a remount and a crash (journal
# replay), and fill up with ENOSPC.
# nodes: 1
# cluster: --shared-mib 1024
# timeout: 1200

source kernel/tests/vm-helpers.sh

# crash_and_replay WHAT: kill -9 node 1, boot it and mount again; that mount must replay
# the journal (else WHAT were not on the log only). $replayed: its kernel log line.
crash_and_replay() {
	node_kill 1
	node_boot 1
	kfs_load 1
	kfs_mount 1
	replayed=$(node_run 1 "dmesg | grep 'journal 0 replayed'") ||
		fail "the mount after the crash replayed no journal: $1 were not on the log only"
}

kfs_load 1
kfs_mkfs 1
kfs_mount 1
out=$(node_run 1 -t 900 "build/bin/cfs_posix_suite $CFS_MNT --bigdir 100000 2>&1") ||
	fail "POSIX suite failed: $(grep -E '^FAIL|passed' <<<"$out")"
vm_log "$(tail -n 1 <<<"$out")"
grep -q ' 0 skipped' <<<"$out" || fail "POSIX suite skipped checks: $(grep -E '^skip|passed' <<<"$out")"

# xattrs and ACLs with the standard tools, read back after a remount (from disk).
node_run 1 "mkdir $CFS_MNT/xa && echo x >$CFS_MNT/xa/f &&
	setfattr -n user.color -v blue $CFS_MNT/xa/f &&
	setfattr -n trusted.t -v 0x00ff $CFS_MNT/xa/f &&
	setfacl -m u:1234:rw,g:99:r $CFS_MNT/xa/f && setfacl -d -m u:1234:rx $CFS_MNT/xa &&
	touch $CFS_MNT/xa/inherits &&
	touch $CFS_MNT/xa/m && setfacl -m u:1234:rwx $CFS_MNT/xa/m && chmod 0750 $CFS_MNT/xa/m"
err=$(node_run 1 "for i in \$(seq 1 64); do
	setfattr -n user.fill\$i -v \$(printf '%0500d' 0) $CFS_MNT/xa/f || exit 0; done; echo none" 2>&1) &&
	! grep -q none <<<"$err" || fail "filling the xattr block did not fail: $err"
grep -q 'No space left on device' <<<"$err" || fail "a full xattr block gave: $err"
kfs_umount 1
kfs_fsck_clean 1
kfs_mount 1
got=$(node_run 1 "getfattr --only-values -n user.color $CFS_MNT/xa/f")
assert_eq blue "$got" "user xattr after remount"
got=$(node_run 1 "getfattr -e hex -n trusted.t $CFS_MNT/xa/f" | grep "^trusted")
assert_eq trusted.t=0x00ff "$got" "trusted xattr after remount"
got=$(node_run 1 "getfacl -cpn $CFS_MNT/xa/f | grep -E '^(user:[0-9]|group:[0-9]|mask)' | paste -sd,")
assert_eq "user:1234:rw-,group:99:r--,mask::rw-" "$got" "access ACL after remount"
got=$(node_run 1 "getfacl -cpn $CFS_MNT/xa/inherits | grep '^user:1234' | cut -d'#' -f1 | tr -d '[:space:]'")
assert_eq "user:1234:r-x" "$got" "ACL inherited from the directory's default ACL"
got=$(node_run 1 "stat -c %a $CFS_MNT/xa/m; getfacl -cpn $CFS_MNT/xa/m | grep '^mask'" | paste -sd' ')
assert_eq "750 mask::r-x" "$got" "chmod of a file with an ACL: mode and ACL mask after remount"
# ...and a crash: changes made durable by fsync come back through journal replay.
node_run 1 "setfattr -n user.crash -v survived $CFS_MNT/xa/f && setfacl -m u:4321:r $CFS_MNT/xa/f &&
	setfattr -x user.color $CFS_MNT/xa/f && dd if=/dev/null of=$CFS_MNT/xa/f conv=notrunc,fsync status=none"
node_kill 1
node_boot 1
kfs_load 1
kfs_mount 1
got=$(node_run 1 "getfattr --only-values -n user.crash $CFS_MNT/xa/f")
assert_eq survived "$got" "xattr set before a crash"
out=$(node_run 1 "getfattr -n user.color $CFS_MNT/xa/f 2>&1 || true")
grep -q 'No such attribute' <<<"$out" || fail "xattr removed before a crash came back: $out"
node_run 1 "getfacl -cpn $CFS_MNT/xa/f" | grep -q '^user:4321:r--' || fail "ACL entry set before a crash lost"
node_run 1 "rm -r $CFS_MNT/xa"
kfs_umount 1
kfs_fsck_clean 1

# Inode attributes (owner, mode, size, atime/mtime, xattrs) of every inode type after each
# operation that rewrites a dinode (rename, link, unlink of another link, xattr change),
# then after a remount and after a crash (journal replay); mtime and ctime set by an mmap
# store + msync, the times of a write and a read kept across rename/link/unlink
# (tests/posix/cfs_attrs.cpp).
kfs_mount 1
out=$(node_run 1 "build/bin/cfs_attrs apply $CFS_MNT/attrs-remount 2>&1") ||
	fail "cfs_attrs apply: $(grep -E '^FAIL|passed' <<<"$out")"
kfs_umount 1
kfs_fsck_clean 1
kfs_mount 1
out=$(node_run 1 "build/bin/cfs_attrs verify $CFS_MNT/attrs-remount 2>&1") ||
	fail "attributes after a remount: $(grep -E '^FAIL|passed' <<<"$out")"
vm_log "cfs_attrs: every attribute kept after a remount ($(tail -n 1 <<<"$out"))"
out=$(node_run 1 "build/bin/cfs_attrs apply $CFS_MNT/attrs-crash 2>&1") ||
	fail "cfs_attrs apply (before the crash): $(grep -E '^FAIL|passed' <<<"$out")"
crash_and_replay "the attributes"
out=$(node_run 1 "build/bin/cfs_attrs verify $CFS_MNT/attrs-crash 2>&1") ||
	fail "attributes after a crash and journal replay: $(grep -E '^FAIL|passed' <<<"$out")"
vm_log "cfs_attrs: every attribute kept after a crash (${replayed#*] }; $(tail -n 1 <<<"$out"))"
node_run 1 "rm -r $CFS_MNT/attrs-remount $CFS_MNT/attrs-crash"
kfs_umount 1
kfs_fsck_clean 1

# Timestamps (docs/kernel.md "Timestamps", tests/posix/cfs_attrs.cpp stamps/atime/keep):
# one time per creating or relinking operation (creat, mkdir, mknod, symlink, link,
# rename), in a plain directory and one with a default ACL; the atime rules of relatime,
# strictatime, nodiratime and noatime, each set by a remount of the running mount, for
# buffered and O_DIRECT reads, readdir and readlink, the atimes kept across an unmount;
# the mtime of an overwrite (allocated blocks, inline data) and of an mmap store (with
# and without msync) kept by the rename, chmod, link or xattr change that follows, after
# a remount and after a crash once that operation was durable.
kfs_mount 1
out=$(node_run 1 -t 600 "build/bin/cfs_attrs stamps $CFS_MNT/stamps 1500 2>&1") ||
	fail "one time per operation: $(grep -E '^FAIL|passed' <<<"$out")"
vm_log "cfs_attrs stamps: $(tail -n 1 <<<"$out")"
node_run 1 "mkdir $CFS_MNT/atime"
# mount(8) merges a remount's options with the mount's current ones (noatime stays
# unless "atime" says otherwise, as on ext4): each mode is spelled out in full.
for mode in relatime strictatime nodiratime noatime relatime; do
	case $mode in
	relatime) opts=atime,diratime,relatime ;;
	strictatime) opts=atime,diratime,strictatime ;;
	nodiratime) opts=atime,nodiratime,strictatime ;;
	noatime) opts=noatime,diratime ;;
	esac
	node_run 1 "mount -o remount,$opts $CFS_MNT"
	out=$(node_run 1 "build/bin/cfs_attrs atime $CFS_MNT/atime $mode 2>&1") ||
		fail "atime after a remount to $opts: $(grep -E '^FAIL|passed' <<<"$out")"
	vm_log "cfs_attrs atime $mode: $(tail -n 1 <<<"$out")"
done
out=$(node_run 1 "build/bin/cfs_attrs keep $CFS_MNT/keep-remount 2>&1") ||
	fail "cfs_attrs keep: $(grep -E '^FAIL|passed' <<<"$out")"
kfs_umount 1
kfs_fsck_clean 1
kfs_mount 1
out=$(node_run 1 "build/bin/cfs_attrs keep-verify $CFS_MNT/keep-remount remount 2>&1") ||
	fail "data change times after a remount: $(grep -E '^FAIL|passed' <<<"$out")"
vm_log "cfs_attrs keep-verify remount: $(tail -n 1 <<<"$out")"
for mode in relatime strictatime nodiratime noatime; do
	out=$(node_run 1 "build/bin/cfs_attrs atime-verify $CFS_MNT/atime $mode 2>&1") ||
		fail "atimes set under $mode, after a remount: $(grep -E '^FAIL|passed' <<<"$out")"
done
out=$(node_run 1 "build/bin/cfs_attrs keep $CFS_MNT/keep-crash 2>&1") ||
	fail "cfs_attrs keep (before the crash): $(grep -E '^FAIL|passed' <<<"$out")"
crash_and_replay "the times"
out=$(node_run 1 "build/bin/cfs_attrs keep-verify $CFS_MNT/keep-crash crash 2>&1") ||
	fail "data change times after a crash and journal replay: $(grep -E '^FAIL|passed' <<<"$out")"
vm_log "cfs_attrs keep-verify crash: ${replayed#*] }; $(tail -n 1 <<<"$out")"
node_run 1 "rm -r $CFS_MNT/stamps $CFS_MNT/atime $CFS_MNT/keep-remount $CFS_MNT/keep-crash"
kfs_umount 1
kfs_fsck_clean 1

# FS_IOC_FIEMAP (through filefrag) reports exactly the block map the tool reads from the
# unmounted disk: three runs, the last past the dinode's direct pointers (height 2).
kfs_mount 1
f=$CFS_MNT/fiemap-sparse
node_run 1 "dd if=/dev/urandom of=$f bs=4096 count=3 status=none &&
	dd if=/dev/urandom of=$f bs=4096 seek=20 count=5 conv=notrunc status=none &&
	dd if=/dev/urandom of=$f bs=4096 seek=700 count=2 conv=notrunc status=none"
ino=$(node_run 1 "stat -c %i $f")
frag=$(node_run 1 "filefrag -v -b4096 $f") || fail "filefrag -v: $frag"
kernel_extents=$(awk '/^ *[0-9]+:/ { gsub(/\.\./, " "); gsub(/:/, " "); print $2, $4, $6 }' <<<"$frag")
kfs_umount 1
tool_json=$(node_run 1 "$KFS_BIN/clusterfs_tool inode --json \$CFS_SHARED_DEV $ino") ||
	fail "clusterfs_tool inode $ino: $tool_json"
tool_extents=$(jq -r '.extents[] | "\(.file_block) \(.disk_block) \(.blocks)"' <<<"$tool_json")
[ "$(wc -l <<<"$tool_extents")" -ge 3 ] || fail "the tool lists fewer than 3 extents: $tool_extents"
[ "$kernel_extents" = "$tool_extents" ] ||
	fail "fiemap and the on-disk map differ: filefrag: [$kernel_extents] tool: [$tool_extents]"
vm_log "fiemap matches the on-disk map: $(tr '\n' ';' <<<"$kernel_extents")"

# cfs_fsx with every operation (--require-all: none may be refused), its files kept so
# that fsck checks their blocks, preallocated ones past EOF included.
kfs_mount 1
node_run 1 "rm $f"
for seed in 1 2 3; do
	out=$(node_run 1 -t 600 "build/bin/cfs_fsx $CFS_MNT --seed $seed --ops 3000 --require-all --keep 2>&1") ||
		fail "cfs_fsx seed $seed: $(grep -A14 'FAIL' <<<"$out" | head -n 16; tail -n 20 <<<"$out")"
	vm_log "cfs_fsx seed $seed: $(tail -n 1 <<<"$out")"
done
kfs_umount 1
kfs_fsck_clean 1
