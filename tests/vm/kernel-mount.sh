# clusterfs.ko on one node: mount options and remount, read-only mounts, and clean
# refusals (bad options, wrong magic, unsupported version, bad block size, device too
# small, bad superblock CRC, damaged root dinode and rgrp header); a damaged file dinode
# or directory leaf or xattr block gives EIO and withdraws the mount read-only; acl and
# noacl. Never an oops.
# nodes: 1
# cluster: --shared-mib 256
# timeout: 600

source kernel/tests/vm-helpers.sh

kfs_load 1
kfs_mkfs 1

# --- options -------------------------------------------------------------------------
kfs_mount 1 'commit=5,statfs_quantum=10,errors=withdraw,discard'
opts=$(node_run 1 "grep ' $CFS_MNT ' /proc/mounts")
for want in lockproto=lock_nolock journal=0 commit=5 statfs_quantum=10 discard; do
	grep -q "$want" <<<"$opts" || fail "/proc/mounts lacks $want: $opts"
done
node_run 1 "echo data >$CFS_MNT/file && sync"
node_run 1 "mount -o remount,commit=7 $CFS_MNT"
opts=$(node_run 1 "grep ' $CFS_MNT ' /proc/mounts")
grep -q commit=7 <<<"$opts" || fail "remount did not change commit=: $opts"
node_expect_fail 1 "remount changing the journal slot" "mount -o remount,journal=1 $CFS_MNT 2>&1"
node_run 1 "mount -o remount,ro $CFS_MNT"
node_expect_fail 1 "write on a read-only remount" "echo more >>$CFS_MNT/file"
node_run 1 "mount -o remount,rw $CFS_MNT"
node_run 1 "echo more >>$CFS_MNT/file"
got=$(node_run 1 "cat $CFS_MNT/file")
assert_eq "$(printf 'data\nmore')" "$got" "file after ro/rw remounts"
kfs_umount 1
kfs_fsck_clean 1

# POSIX ACLs are on by default; noacl turns them off, remount can turn them on again.
kfs_mount 1 noacl
opts=$(node_run 1 "grep ' $CFS_MNT ' /proc/mounts")
grep -q noacl <<<"$opts" || fail "noacl not shown in /proc/mounts: $opts"
out=$(node_run 1 "setfacl -m u:1234:r $CFS_MNT/file 2>&1 || true")
grep -q 'not supported' <<<"$out" || fail "setfacl on a noacl mount: $out"
node_run 1 "mount -o remount,acl $CFS_MNT"
opts=$(node_run 1 "grep ' $CFS_MNT ' /proc/mounts")
grep -q noacl <<<"$opts" && fail "remount,acl still shows noacl: $opts"
acl=$(node_run 1 "setfacl -m u:1234:r $CFS_MNT/file && getfacl -cpn $CFS_MNT/file")
grep -q '^user:1234:r--' <<<"$acl" || fail "setfacl after remount,acl: $acl"
kfs_umount 1

kfs_mount 1 ro
node_expect_fail 1 "create on a read-only mount" "touch $CFS_MNT/new"
got=$(node_run 1 "cat $CFS_MNT/file")
assert_eq "$(printf 'data\nmore')" "$got" "file on a read-only mount"
kfs_umount 1
kfs_mount 1 journal=1
node_run 1 "echo slot1 >$CFS_MNT/slot1"
kfs_umount 1
kfs_fsck_clean 1

kfs_expect_refused 1 commit=0 'commit=0' 'commit=0'
kfs_expect_refused 1 errors=sometimes 'errors' 'errors=sometimes'
kfs_expect_refused 1 lockproto=lock_dlm 'lockproto=lock_dlm' 'unknown lock protocol'
kfs_expect_refused 1 journal=2 'journal=2: the filesystem has 2 journals' 'journal slot past the last'
kfs_expect_refused 1 frobnicate 'frobnicate' 'unknown option'

# --- a filesystem made for the cluster lock manager -----------------------------------
node_run 1 'build/bin/mkfs.clusterfs -q -O -p lock_cluster -t vmtest:kmount -j 2 -J 8 $CFS_SHARED_DEV'
kfs_expect_refused 1 '' 'no clusterfs_lockd is running' 'lock_cluster without clusterfs_lockd'
kfs_mount 1 lockproto=lock_nolock
opts=$(node_run 1 "grep ' $CFS_MNT ' /proc/mounts")
grep -q 'locktable=vmtest:kmount' <<<"$opts" || fail "lock table not shown: $opts"
kfs_umount 1

# --- damaged superblocks ---------------------------------------------------------------
kfs_mkfs 1
kfs_corrupt 1 sb-magic
kfs_expect_refused 1 '' 'no clusterfs superblock|magic' 'wrong magic'

kfs_mkfs 1
kfs_corrupt 1 sb-version 2
kfs_expect_refused 1 '' 'version|unsupported' 'unsupported format version'

kfs_mkfs 1
kfs_corrupt 1 sb-bsize 8192
kfs_expect_refused 1 '' 'block size|bsize' 'block size larger than the page size'

kfs_mkfs 1
kfs_corrupt 1 sb-blocks 100000000
kfs_expect_refused 1 '' 'too small|past the end|blocks' 'device smaller than the filesystem'

kfs_mkfs 1
kfs_corrupt 1 flip 16 300
kfs_expect_refused 1 '' 'crc|CRC|corrupt' 'superblock with a bad CRC'

kfs_mkfs 1
root=$(kfs_corrupt 1 root)
kfs_corrupt 1 flip "$root" 100
kfs_expect_refused 1 '' "$root" 'root dinode with a bad CRC'

kfs_mkfs 1
rgrp=$(kfs_corrupt 1 first-rgrp)
kfs_corrupt 1 flip "$rgrp" 100
kfs_expect_refused 1 '' "$rgrp|resource group" 'rgrp header with a bad CRC'

# --- damage found while mounted: EIO and withdraw ----------------------------------------
kfs_mkfs 1
kfs_mount 1
node_run 1 "echo victim >$CFS_MNT/victim && mkdir $CFS_MNT/big && cd $CFS_MNT/big && for i in \$(seq 1 400); do : >entry-with-a-longish-name-\$i; done"
victim=$(node_run 1 "stat -c %i $CFS_MNT/victim")
bigdir=$(node_run 1 "stat -c %i $CFS_MNT/big")
kfs_umount 1
kfs_corrupt 1 flip "$victim" 100
kfs_mount 1
node_run 1 'dmesg -C'
node_expect_fail 1 "reading a corrupt dinode" "cat $CFS_MNT/victim"
log=$(node_run 1 dmesg)
grep -q "$victim" <<<"$log" || fail "no kernel message names block $victim"
opts=$(node_run 1 "grep ' $CFS_MNT ' /proc/mounts")
grep -q '\bro\b' <<<"$opts" || fail "mount not read-only after the withdraw: $opts"
node_expect_fail 1 "write after withdraw" "touch $CFS_MNT/after"
entries=$(node_run 1 "ls $CFS_MNT/big | wc -l")
assert_eq 400 "$entries" "entries of the intact directory after the withdraw"
kfs_umount 1

leaf=$(kfs_corrupt 1 first-leaf "$bigdir")
kfs_corrupt 1 flip "$leaf" 500
kfs_mount 1
node_run 1 'dmesg -C'
node_expect_fail 1 "listing a directory with a corrupt leaf" "ls $CFS_MNT/big >/dev/null"
log=$(node_run 1 dmesg)
grep -q "$leaf" <<<"$log" || fail "no kernel message names leaf block $leaf"
kfs_umount 1

# A damaged xattr block: EIO and withdraw; the file's data stays readable.
kfs_mkfs 1
kfs_mount 1
node_run 1 "echo x >$CFS_MNT/xv && setfattr -n user.a -v 1 $CFS_MNT/xv"
xv=$(node_run 1 "stat -c %i $CFS_MNT/xv")
kfs_umount 1
xblk=$(node_run 1 "$KFS_BIN/clusterfs_tool inode --json \$CFS_SHARED_DEV $xv" | jq -e .xattr_block)
[ "$xblk" -gt 0 ] || fail "no xattr block for inode $xv"
kfs_corrupt 1 flip "$xblk" 100
kfs_mount 1
node_run 1 'dmesg -C'
out=$(node_run 1 "getfattr -n user.a $CFS_MNT/xv 2>&1 || true")
grep -q 'Input/output error' <<<"$out" || fail "reading a corrupt xattr block: $out"
log=$(node_run 1 dmesg)
grep -q "$xblk" <<<"$log" || fail "no kernel message names xattr block $xblk"
opts=$(node_run 1 "grep ' $CFS_MNT ' /proc/mounts")
grep -q '\bro\b' <<<"$opts" || fail "mount not read-only after the withdraw: $opts"
got=$(node_run 1 "cat $CFS_MNT/xv")
assert_eq x "$got" "file data after its xattr block withdrew the mount"
kfs_umount 1

# --- and a good filesystem ends clean ---------------------------------------------------
kfs_mkfs 1
kfs_mount 1
node_run 1 "mkdir -p $CFS_MNT/a/b && echo x >$CFS_MNT/a/b/c && ln -s a/b/c $CFS_MNT/l && cat $CFS_MNT/l"
kfs_umount 1
kfs_fsck_clean 1
