# Two nodes mount one lock_cluster filesystem at the same time (`mount` with no option on
# both) and each sees the other's changes at once: no remount, no drop_caches, no sync
# between a change on one node and the check on the other, so a stale page, inode or
# dentry cache shows. Each reader has the object cached before the writer changes it.
#  1. a new file written on node 1 reads byte-identical on node 2; node 2 overwrites part
#     of it, node 1 reads that
#  1b. a 150 MiB file (more than one resource group) written on node 1 reads the same on
#     node 2
#  2. append on node 2: node 1 sees the size and bytes; truncate on node 1 (shrink, then
#     grow): node 2 sees the size, the kept bytes and zeros past the old end
#  3. renames on node 1 (within a directory, across directories, over an existing name,
#     a directory across directories) and unlink/rmdir of names node 2 had just looked
#     up: node 2 gets ENOENT for the old names and the right inode under the new ones
#  4. a hard link made on node 2: node 1 sees nlink 2 and one inode number; node 1
#     unlinks one name, node 2 sees nlink 1
#  5. node 1 unlinks a file node 2 holds open: node 2 still reads every original byte
#     through its descriptor while node 1 writes 16 MiB more; the blocks come back to
#     statfs only once node 2 closes it (and fsck finds no leaked inode)
#  6. chmod, chown, touch -d, a user xattr and an ACL set, changed and removed on node 1:
#     node 2's stat, getfattr and getfacl show each
#  7. a directory of 500 entries made on node 1 lists 500 on node 2; node 2 removes 250,
#     node 1 lists the other 250; mkdir/rmdir and the parent's link count
#  8. an mmap store + msync on node 1, read(2) on node 2; an O_DIRECT write on node 2,
#     a buffered read on node 1; a hole punched on node 1 reads zeros on node 2
#  9. 20 appends to one file alternating between the nodes, each first checking that the
#     last line is the other node's previous append
# 10. both nodes create 200 files each in one directory at the same time, each then lists
#     all 400, and each node's new inodes lie in a resource group of its own (their block
#     ranges do not interleave); both unlink theirs at the same time, each lists none
# 10b. node 1 replaces one file 150 times (write a temporary name, rename it over) while
#     node 2 reads it by name as fast as it can: every read gives one whole version, node 2
#     saw several, and no node freed an inode twice (the name found, then its inode freed
#     and reused by the other node before this one held it)
# 10c. node 1 unlinks 120 files whose inode numbers are below their directory's while
#     node 2 looks each up 3 times: neither hangs (lookup and unlink take glocks in
#     different orders), both then list none
# 10d. node 1 evicts 20 inodes it wrote (drop_caches): their glocks stay cached on its LRU
#     (debugfs); node 2 rewrites them (node 1's cached glocks give way) and node 1 reads
#     node 2's bytes
# 11. the tree alike on both, no withdraw or I/O error logged, statfs alike on both after a
#     sync on each; both unmount; fsck.clusterfs -n clean. Free-count (statfs) failures
#     are reported at the end, so that they hide no later check.
# flock(2) across nodes is kernel-cluster-mount's; fcntl locks are kernel-cluster-plock's.
# nodes: 2
# cluster: --shared-mib 512
# timeout: 900

source kernel/tests/vm-helpers.sh

HELPER=kernel/tests/cfs_coherence.py
D=$CFS_MNT/co
test_start=$SECONDS
step_start=$SECONDS
# Free-count failures (statfs) are reported at the end, after every coherence check and
# fsck ran: the counts are advisory, stale data is not.
late_failures=()
late_fail() {
	vm_log "FAIL (reported at the end): $*"
	late_failures+=("$*")
}

step() {
	vm_log "step $1 done in $((SECONDS - step_start)) s"
	step_start=$SECONDS
}

# sum_on K FILE: sha256 of FILE as node K reads it (read(2), through its page cache).
sum_on() {
	local out
	out=$(node_run "$1" "sha256sum $2")
	echo "${out%% *}"
}

# absent_on K WHAT PATH...: on node K every PATH is gone (lstat says ENOENT).
absent_on() {
	local node=$1 what=$2 out
	shift 2
	out=$(node_run "$node" "python3 $HELPER absent $* 2>&1") || fail "$what: on node $node: $out"
}

# stat_on K FORMAT PATH...
stat_on() {
	local node=$1 format=$2
	shift 2
	node_run "$node" "stat -c '$format' $*"
}

kfs_load 1
kfs_load 2
cluster_corosync_start
cluster_wait_quorate -t 180
kfs_lockd_start 1
kfs_lockd_start 2

# Default mkfs: lock_cluster, three journals.
node_run 1 'build/bin/mkfs.clusterfs -q -O -t vmtest:coher -j 3 $CFS_SHARED_DEV'
kfs_mount 1
node_run 2 'dmesg -C'
out=$(node_run 2 "mount -t clusterfs \$CFS_SHARED_DEV $CFS_MNT 2>&1") ||
	fail "node 2 cannot mount while node 1 has the filesystem mounted: $out $(node_run 2 'dmesg | grep -i clusterfs | tail -n 5')"
opts1=$(node_run 1 "grep ' $CFS_MNT ' /proc/mounts")
opts2=$(node_run 2 "grep ' $CFS_MNT ' /proc/mounts")
j1=$(grep -o 'journal=[0-9]*' <<<"$opts1") || fail "node 1's /proc/mounts names no journal: $opts1"
j2=$(grep -o 'journal=[0-9]*' <<<"$opts2") || fail "node 2's /proc/mounts names no journal: $opts2"
[ "$j1" != "$j2" ] || fail "both nodes mounted with the same journal: $j1"
vm_log "both mounted: node 1 $j1, node 2 $j2 ($((SECONDS - test_start)) s since the start)"
step_start=$SECONDS

# --- 1. create + write on node 1, read on node 2; overwrite on node 2, read on node 1 --
node_run 1 "mkdir $D && head -c 1000000 /dev/urandom >/tmp/w1 && cp /tmp/w1 $D/file"
want=$(sum_on 1 /tmp/w1)
got=$(sum_on 2 $D/file)
assert_eq "$want" "$got" "1: node 2 reads the file node 1 wrote"
# Node 2 applies the same overwrite to a copy of what it read, for the expected bytes.
node_run 2 "cp $D/file /tmp/exp && head -c 100000 /dev/urandom >/tmp/patch &&
	dd if=/tmp/patch of=$D/file bs=1000 seek=300 conv=notrunc status=none &&
	dd if=/tmp/patch of=/tmp/exp bs=1000 seek=300 conv=notrunc status=none"
want=$(sum_on 2 /tmp/exp)
got=$(sum_on 1 $D/file)
assert_eq "$want" "$got" "1: node 1 reads node 2's overwrite"
step 1

# --- 1b. a file larger than a resource group (96 MiB here), written on node 1 -----------
# Node 1 allocates in a group of its own and must move on when it fills
# (kernel/trans_lock.c), also in a node's first five minutes up, when jiffies is still
# negative: the write succeeds (no early ENOSPC) and node 2 reads node 1's bytes.
node_run 1 -t 300 "dd if=/dev/urandom of=$D/big bs=1M count=150 conv=fsync status=none" ||
	fail "1b: node 1 could not write 150 MiB (more than one resource group holds)"
want=$(sum_on 1 $D/big)
got=$(sum_on 2 $D/big)
assert_eq "$want" "$got" "1b: node 2 reads the 150 MiB node 1 wrote"
node_run 1 "rm $D/big && sync"
step 1b

# --- 2. append on node 2; truncate (shrink, grow) on node 1 ------------------------------
node_run 2 "head -c 5000 /dev/urandom >/tmp/tail && cat /tmp/tail >>$D/file && cat /tmp/tail >>/tmp/exp"
want=$(sum_on 2 /tmp/exp)
size=$(stat_on 1 %s $D/file)
assert_eq 1005000 "$size" "2: size on node 1 after node 2's append"
got=$(sum_on 1 $D/file)
assert_eq "$want" "$got" "2: node 1 reads node 2's append"
node_run 2 "head -c 4000 /tmp/exp >/tmp/head4000"
want=$(sum_on 2 /tmp/head4000)
# Node 2 has all of the file in its page cache (it wrote the end, read the rest).
node_run 2 "cat $D/file >/dev/null"
node_run 1 "truncate -s 4000 $D/file"
size=$(stat_on 2 %s $D/file)
assert_eq 4000 "$size" "2: size on node 2 after node 1 shrank the file"
got=$(sum_on 2 $D/file)
assert_eq "$want" "$got" "2: node 2 reads the shrunk file"
node_run 1 "truncate -s 300000 $D/file"
size=$(stat_on 2 %s $D/file)
assert_eq 300000 "$size" "2: size on node 2 after node 1 grew the file"
out=$(node_run 2 "python3 $HELPER zeros $D/file 4000 296000 2>&1") ||
	fail "2: node 2 reads old bytes past the shrink point after node 1's grow: $out"
got=$(node_run 2 "set -o pipefail; head -c 4000 $D/file | sha256sum | cut -d' ' -f1")
assert_eq "$want" "$got" "2: node 2 reads the kept 4000 bytes after the grow"
step 2

# --- 3. renames and unlinks on node 1 of names node 2 has cached --------------------------
node_run 1 "mkdir -p $D/r1/sub $D/r2 && echo alpha >$D/r1/a && echo beta >$D/r1/b && echo gamma >$D/r1/c &&
	echo victim >$D/r2/v && echo insub >$D/r1/sub/f && echo doomed >$D/r2/gone && mkdir $D/r2/gonedir &&
	ln -s target-one $D/r2/sym"
# Node 2 looks every name up: positive dentries for the old names, negative ones for
# the new names.
node_run 2 "cat $D/r1/a $D/r1/b $D/r1/c $D/r2/v $D/r1/sub/f $D/r2/gone >/dev/null && test -d $D/r2/gonedir && readlink $D/r2/sym >/dev/null"
absent_on 2 "3: new names before the renames" $D/r1/a2 $D/r2/b $D/r2/sub
ino_c=$(stat_on 1 %i $D/r1/c)
node_run 1 "mv $D/r1/a $D/r1/a2 && mv $D/r1/b $D/r2/b && mv $D/r1/c $D/r2/v && mv $D/r1/sub $D/r2/sub &&
	rm $D/r2/gone && rmdir $D/r2/gonedir && rm $D/r2/sym && ln -s target-two $D/r2/sym"
absent_on 2 "3: old names after node 1's renames and unlinks" $D/r1/a $D/r1/b $D/r1/c $D/r1/sub $D/r2/gone $D/r2/gonedir
got=$(node_run 2 "cat $D/r1/a2 $D/r2/b $D/r2/v $D/r2/sub/f")
assert_eq $'alpha\nbeta\ngamma\ninsub' "$got" "3: node 2 reads the renamed files"
got=$(node_run 2 "readlink $D/r2/sym")
assert_eq target-two "$got" "3: node 2 reads the symlink node 1 replaced"
got=$(stat_on 2 %i $D/r2/v)
assert_eq "$ino_c" "$got" "3: inode of r2/v on node 2 after node 1 renamed r1/c over it"
want=$(stat_on 1 %i $D/r2)
got=$(stat_on 2 %i $D/r2/sub/..)
assert_eq "$want" "$got" "3: node 2's '..' of the directory node 1 moved from r1 to r2"
want=$(stat_on 1 '%h %s' $D/r1 $D/r2)
got=$(stat_on 2 '%h %s' $D/r1 $D/r2)
assert_eq "$want" "$got" "3: link counts and sizes of r1 and r2 on node 2"
got=$(node_run 2 "ls $D/r1 $D/r2")
assert_eq "$D/r1:"$'\na2\n\n'"$D/r2:"$'\nb\nsub\nsym\nv' "$got" "3: node 2 lists r1 and r2"
step 3

# --- 4. hard link on node 2, unlink of one name on node 1 ----------------------------------
got=$(stat_on 1 '%h' $D/r2/b)
assert_eq 1 "$got" "4: nlink on node 1 before the link"
node_run 2 "ln $D/r2/b $D/r1/blink"
ino=$(stat_on 2 %i $D/r2/b)
got=$(stat_on 1 '%h %i' $D/r2/b $D/r1/blink)
assert_eq $'2 '"$ino"$'\n2 '"$ino" "$got" "4: node 1 stats both names of node 2's hard link"
node_run 1 "rm $D/r2/b"
got=$(stat_on 2 '%h %i' $D/r1/blink)
assert_eq "1 $ino" "$got" "4: node 2 stats the remaining name after node 1's unlink"
absent_on 2 "4: the unlinked name" $D/r2/b
got=$(node_run 2 "cat $D/r1/blink")
assert_eq beta "$got" "4: node 2 reads the remaining name"
step 4

# --- 5. node 1 unlinks a file node 2 holds open --------------------------------------------
# Every node folds its statfs changes first, so that node 1's earlier changes cannot move
# node 2's free count during this step.
node_run 1 sync
node_run 2 sync
bsize=$(node_run 2 "stat -f -c %S $CFS_MNT")
held_blocks=$((8 * 1024 * 1024 / bsize))
free0=$(node_run 2 "stat -f -c %f $CFS_MNT")
free0_node1=$(node_run 1 "stat -f -c %f $CFS_MNT")
if [ "$free0" != "$free0_node1" ]; then
	late_fail "5: after a sync on node 1, then on node 2, statfs says $free0_node1 free blocks on node 1 and $free0 on node 2 (docs/kernel.md: df agrees on every node after a sync)"
	for k in 1 2; do
		rgrp_locks=$(node_run $k "mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug; grep -h '^rgrp/' /sys/kernel/debug/clusterfs/*/glocks || :")
		vm_log "5: node $k's resource group locks (debugfs): $rgrp_locks"
	done
fi
node_run 2 "head -c 8M /dev/urandom >/tmp/held && cp /tmp/held $D/held && mkdir -p /tmp/hold"
want=$(sum_on 2 /tmp/held)
free1=$(node_run 2 "stat -f -c %f $CFS_MNT")
((free0 - free1 >= held_blocks)) || late_fail "5: writing 8 MiB on node 2 took $((free0 - free1)) blocks from its statfs, expected at least $held_blocks"
node_run 2 "{ setsid python3 $HELPER hold $D/held /tmp/hold </dev/null >/tmp/hold.log 2>&1 & }"
node_run 2 -t 40 "for i in \$(seq 1 300); do [ -e /tmp/hold/ready ] && exit 0; [ -e /tmp/hold/error ] && break; sleep 0.1; done; cat /tmp/hold/error /tmp/hold.log >&2 || :; exit 1" ||
	fail "5: node 2's holder never opened the file"
got=$(sum_on 1 $D/held)
assert_eq "$want" "$got" "5: node 1 reads the file node 2 wrote and holds open"
node_run 1 "rm $D/held"
absent_on 2 "5: the name node 1 unlinked while node 2 holds the file open" $D/held
# Had node 1 freed the blocks at its unlink, this would reuse them.
node_run 1 "head -c 16M /dev/urandom >$D/filler && sync"
free_held=$(node_run 2 "stat -f -c %f $CFS_MNT")
node_run 2 "touch /tmp/hold/release"
out=$(node_run 2 -t 60 "for i in \$(seq 1 500); do [ -e /tmp/hold/closed ] && { cat /tmp/hold/result; exit 0; }; [ -e /tmp/hold/error ] && break; sleep 0.1; done; cat /tmp/hold/error /tmp/hold.log >&2 || :; exit 1") ||
	fail "5: node 2's holder did not read and close the file"
assert_eq "8388608 $want" "$out" "5: length and sha256 node 2 read through its descriptor after node 1's unlink"
node_run 1 "rm $D/filler && sync"
# The last close frees the inode: its blocks come back. Bounded wait, the free may be
# deferred to a worker; both nodes fold their statfs changes each round, so the count
# is right whichever node did the free.
slack=64
for ((i = 0; i < 15; i++)); do
	node_run 1 sync
	free2=$(node_run 2 "sync && stat -f -c %f $CFS_MNT")
	((free2 < free0 - slack)) || break
	sleep 1
done
free2_node1=$(node_run 1 "stat -f -c %f $CFS_MNT")
vm_log "5: node 2's statfs free blocks: $free0 before, $free1 after writing 8 MiB, $free_held while held after node 1's unlink, $free2 after the close (node 1: $free2_node1)"
((free_held <= free1 + slack)) || late_fail "5: the blocks came back ($free_held free, $free1 before the unlink) while node 2 still held the file open"
((free2 >= free0 - slack)) || late_fail "5: after node 2 closed the unlinked file its statfs shows $free2 free blocks, $free0 before it was written: the blocks were not freed (node 1 says $free2_node1 free after 15 rounds of sync on both)"
step 5

# --- 6. attributes, xattrs and ACLs changed on node 1, read on node 2 -----------------------
node_run 1 "echo attrs >$D/attr"
node_run 2 "stat $D/attr >/dev/null && getfattr --absolute-names -d $D/attr >/dev/null && getfacl -p $D/attr >/dev/null"
node_run 1 "chmod 640 $D/attr && chown 1234:5678 $D/attr && touch -m -d '2001-02-03 04:05:06 UTC' $D/attr"
mtime=$(date -u -d '2001-02-03 04:05:06 UTC' +%s)
got=$(stat_on 2 '%a %u %g %Y' $D/attr)
assert_eq "640 1234 5678 $mtime" "$got" "6: mode, owner and mtime on node 2"
want=$(stat_on 1 '%z' $D/attr)
got=$(stat_on 2 '%z' $D/attr)
assert_eq "$want" "$got" "6: ctime on node 2"
node_run 1 "setfattr -n user.x -v hello $D/attr && setfacl -m u:4321:rw,g:99:r $D/attr"
got=$(node_run 2 "getfattr --absolute-names --only-values -n user.x $D/attr")
assert_eq hello "$got" "6: user.x on node 2"
want=$(node_run 1 "getfacl -p $D/attr")
got=$(node_run 2 "getfacl -p $D/attr")
assert_eq "$want" "$got" "6: the ACL on node 2"
grep -q '^user:4321:rw-$' <<<"$got" || fail "6: node 2's ACL lacks user:4321:rw-: $got"
got=$(stat_on 2 %a $D/attr)
assert_eq 660 "$got" "6: mode on node 2 after node 1's ACL (group bits = the mask, rw)"
# Changed again and removed: node 2 has the previous values cached.
node_run 1 "setfattr -n user.x -v changed $D/attr && setfacl -x u:4321 $D/attr"
got=$(node_run 2 "getfattr --absolute-names --only-values -n user.x $D/attr")
assert_eq changed "$got" "6: user.x on node 2 after node 1 changed it"
want=$(node_run 1 "getfacl -p $D/attr")
got=$(node_run 2 "getfacl -p $D/attr")
assert_eq "$want" "$got" "6: the ACL on node 2 after node 1 removed an entry"
! grep -q '^user:4321' <<<"$got" || fail "6: node 2 still shows user:4321 in the ACL: $got"
node_run 1 "setfattr -x user.x $D/attr && setfacl -b $D/attr"
out=$(node_run 2 "getfattr --absolute-names -d -m - $D/attr 2>&1")
[ -z "$out" ] || fail "6: node 2 still lists xattrs after node 1 removed them all: $out"
step 6

# --- 7. directories: mkdir/rmdir, 500 entries made on node 1, half removed on node 2 --------
links_before=$(stat_on 2 %h $D)
node_run 1 "mkdir $D/big $D/tmpdir"
got=$(stat_on 2 %h $D)
assert_eq $((links_before + 2)) "$got" "7: link count of the parent on node 2 after node 1's two mkdirs"
got=$(node_run 2 "ls -A $D/big | wc -l")
assert_eq 0 "$got" "7: node 2 lists the new directory empty"
node_run 2 "test -d $D/tmpdir"
node_run 1 "rmdir $D/tmpdir"
absent_on 2 "7: the directory node 1 removed" $D/tmpdir
got=$(stat_on 2 %h $D)
assert_eq $((links_before + 1)) "$got" "7: link count of the parent on node 2 after node 1's rmdir"
node_run 1 "cd $D/big && for i in \$(seq 1 500); do echo \$i >f\$i; done"
want=$(seq 1 500 | sed 's/^/f/' | LC_ALL=C sort | sha256sum)
got=$(node_run 2 "set -o pipefail; ls -A $D/big | LC_ALL=C sort | sha256sum")
count=$(node_run 2 "ls -A $D/big | wc -l")
assert_eq 500 "$count" "7: entries node 2 lists in node 1's new directory"
assert_eq "$want" "$got" "7: names node 2 lists in node 1's new directory"
got=$(node_run 2 "cat $D/big/f377")
assert_eq 377 "$got" "7: a file of node 1's directory read on node 2"
node_run 2 "cd $D/big && rm f{2..500..2}"
want=$(seq 1 2 500 | sed 's/^/f/' | LC_ALL=C sort | sha256sum)
got=$(node_run 1 "set -o pipefail; ls -A $D/big | LC_ALL=C sort | sha256sum")
count=$(node_run 1 "ls -A $D/big | wc -l")
assert_eq 250 "$count" "7: entries node 1 lists after node 2 removed half"
assert_eq "$want" "$got" "7: names node 1 lists after node 2 removed half"
absent_on 1 "7: a name node 2 removed" $D/big/f2 $D/big/f500
step 7

# --- 8. mmap store, O_DIRECT write, hole punch ----------------------------------------------
node_run 1 "head -c 65536 /dev/urandom >$D/m"
node_run 2 "cat $D/m >/dev/null"
node_run 1 "python3 $HELPER mmap-store $D/m 8192 4096 0x5a"
got=$(node_run 2 "set -o pipefail; dd if=$D/m bs=4096 skip=2 count=1 status=none | tr -d '\\132' | wc -c")
assert_eq 0 "$got" "8: bytes other than 0x5a node 2 reads where node 1 stored them through mmap"
want=$(sum_on 1 $D/m)
got=$(sum_on 2 $D/m)
assert_eq "$want" "$got" "8: node 2 reads the file after node 1's mmap store"
node_run 2 "head -c 8192 /dev/urandom >/tmp/dio && dd if=/tmp/dio of=$D/m bs=4096 seek=4 count=2 oflag=direct conv=notrunc status=none"
want=$(sum_on 2 /tmp/dio)
got=$(node_run 1 "set -o pipefail; dd if=$D/m bs=4096 skip=4 count=2 status=none | sha256sum | cut -d' ' -f1")
assert_eq "$want" "$got" "8: node 1 reads (buffered) what node 2 wrote with O_DIRECT"
node_run 1 "fallocate -p -o 32768 -l 8192 $D/m"
out=$(node_run 2 "python3 $HELPER zeros $D/m 32768 8192 2>&1") ||
	fail "8: node 2 reads old bytes in the hole node 1 punched: $out"
size=$(stat_on 2 %s $D/m)
assert_eq 65536 "$size" "8: size on node 2 after the punch"
want=$(sum_on 1 $D/m)
got=$(sum_on 2 $D/m)
assert_eq "$want" "$got" "8: node 2 reads the file after node 1's punch"
# Buffered write on node 1 (dirty in its page cache), O_DIRECT read on node 2.
node_run 1 "head -c 8192 /dev/urandom >/tmp/buf && dd if=/tmp/buf of=$D/m bs=4096 seek=12 conv=notrunc status=none"
want=$(sum_on 1 /tmp/buf)
got=$(node_run 2 "set -o pipefail; dd if=$D/m bs=4096 skip=12 count=2 iflag=direct status=none | sha256sum | cut -d' ' -f1")
assert_eq "$want" "$got" "8: node 2 reads with O_DIRECT what node 1 wrote buffered"
# A store through a mapping node 1 keeps, with no msync: node 2's read sees it; node 2
# then overwrites the range, and node 1's live mapping shows node 2's bytes.
node_run 1 "mkdir -p /tmp/map && { setsid python3 $HELPER map-hold $D/m /tmp/map 4096 4096 0xa5 </dev/null >/tmp/map.log 2>&1 & }"
node_run 1 -t 40 "for i in \$(seq 1 300); do [ -e /tmp/map/ready ] && exit 0; [ -e /tmp/map/error ] && break; sleep 0.1; done; cat /tmp/map/error /tmp/map.log >&2 || :; exit 1" ||
	fail "8: node 1's mapping process did not store"
got=$(node_run 2 "set -o pipefail; dd if=$D/m bs=4096 skip=1 count=1 status=none | od -An -v -tx1 | tr -s ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' '")
assert_eq "a5 " "$got" "8: byte values node 2 reads where node 1 stored through a mapping it keeps (no msync)"
node_run 2 "printf '\\074%.0s' \$(seq 1 4096) >/tmp/lt && dd if=/tmp/lt of=$D/m bs=4096 seek=1 conv=notrunc status=none"
node_run 1 "touch /tmp/map/check"
out=$(node_run 1 -t 60 "for i in \$(seq 1 500); do [ -e /tmp/map/closed ] && { cat /tmp/map/result; exit 0; }; [ -e /tmp/map/error ] && break; sleep 0.1; done; cat /tmp/map/error /tmp/map.log >&2 || :; exit 1") ||
	fail "8: node 1's mapping process did not report"
assert_eq 3c "$out" "8: byte values node 1's live mapping shows after node 2 overwrote the range"
want=$(sum_on 2 $D/m)
got=$(sum_on 1 $D/m)
assert_eq "$want" "$got" "8: node 1 reads the file after node 2's overwrite"
step 8

# --- 9. ping-pong appends ---------------------------------------------------------------------
node_run 1 ": >$D/pingpong"
expected_last=
expected_all=
for ((i = 1; i <= 20; i++)); do
	k=$(((i - 1) % 2 + 1))
	node_run $k "last=\$(tail -n 1 $D/pingpong)
		[ \"\$last\" = '$expected_last' ] || { echo \"append $i on node $k: last line '\$last', expected '$expected_last'\" >&2; exit 1; }
		echo 'node$k append $i' >>$D/pingpong" || fail "9: append $i on node $k read a stale end of the file"
	expected_last="node$k append $i"
	expected_all+="$expected_last"$'\n'
done
for k in 1 2; do
	got=$(node_run $k "cat $D/pingpong")
	assert_eq "${expected_all%$'\n'}" "$got" "9: the ping-pong file on node $k"
done
step 9

# --- 10. both nodes create, then unlink, 200 files each in one directory at once ------------
node_run 1 "mkdir $D/shared"
node_run 2 "test -d $D/shared"
# go_together NAME: both nodes' commands (started in the background, each waiting for
# /cfs/run/NAME.go after writing /cfs/run/NAME.K) start at once.
go_together() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ -e "$VM_SHARE/$1.1" ] && [ -e "$VM_SHARE/$1.2" ] && break
		sleep 0.1
	done
	[ -e "$VM_SHARE/$1.1" ] && [ -e "$VM_SHARE/$1.2" ] || fail "10: the nodes never got ready for $1"
	touch "$VM_SHARE/$1.go"
}
wait_go() {
	echo "touch /cfs/run/$1.\$CFS_NODE; for i in \$(seq 1 600); do [ -e /cfs/run/$1.go ] && break; sleep 0.1; done; [ -e /cfs/run/$1.go ]"
}
# At the halfway point each node counts the other's files: evidence that the creates
# really ran at the same time. Each node goes on from its first create only once it
# sees the other's (up to 30 s): with another test's VM on the same cores one node's
# start could lag by the time the other needs for all 200 (seen: 0 and 200).
for k in 1 2; do
	other=$((3 - k))
	node_run $k -t 400 "$(wait_go create) && cd $D/shared && echo $k >n$k-1 &&
		for t in \$(seq 1 300); do [ -e n$other-1 ] && break; sleep 0.1; done &&
		for i in \$(seq 2 200); do echo $k >n$k-\$i; [ \$i = 100 ] && ls -A | grep -c '^n$other-' >/tmp/midway || :; done" &
	pids[k]=$!
done
go_together create
t0=$SECONDS
for k in 1 2; do wait ${pids[k]} || fail "10: node $k's creates in the shared directory failed"; done
vm_log "10: 400 creates from two nodes in one directory took $((SECONDS - t0)) s"
mid1=$(node_run 1 "cat /tmp/midway")
mid2=$(node_run 2 "cat /tmp/midway")
vm_log "10: halfway through its creates node 1 saw $mid1 of node 2's files, node 2 saw $mid2 of node 1's"
((mid1 % 200 != 0 || mid2 % 200 != 0)) || fail "10: the creates did not overlap (halfway counts $mid1 and $mid2): no concurrency was tested"
want=$({ seq 1 200 | sed 's/^/n1-/'; seq 1 200 | sed 's/^/n2-/'; } | LC_ALL=C sort | sha256sum)
for k in 1 2; do
	count=$(node_run $k "ls -A $D/shared | wc -l")
	assert_eq 400 "$count" "10: entries node $k lists after both created 200"
	got=$(node_run $k "set -o pipefail; ls -A $D/shared | LC_ALL=C sort | sha256sum")
	assert_eq "$want" "$got" "10: names node $k lists after both created 200"
done
# Each node allocates in a resource group of its own (kernel/trans_lock.c), so the two
# nodes' new inodes (an inode number is its dinode's block) do not interleave; with one
# group taken in turns they do.
listing=$(node_run 1 "ls -i $D/shared")
read -r lo1 hi1 lo2 hi2 < <(awk '{ split($2, a, "-"); k = a[1]
	if (!(k in lo) || $1 < lo[k]) lo[k] = $1; if ($1 > hi[k]) hi[k] = $1 }
	END { print lo["n1"] + 0, hi["n1"] + 0, lo["n2"] + 0, hi["n2"] + 0 }' <<<"$listing")
[ -n "$hi2" ] && ((lo1 > 0 && lo2 > 0)) || fail "10: no inode numbers in node 1's listing of $D/shared"
vm_log "10: node 1's new inodes span blocks $lo1-$hi1, node 2's $lo2-$hi2"
((hi1 < lo2 || hi2 < lo1)) ||
	fail "10: node 1's new inodes ($lo1-$hi1) and node 2's ($lo2-$hi2) interleave: both nodes allocated in one resource group"
got=$(node_run 1 "cat $D/shared/n2-123")
assert_eq 2 "$got" "10: node 1 reads a file node 2 created"
for k in 1 2; do
	node_run $k -t 400 "$(wait_go unlink) && cd $D/shared && rm n$k-*" &
	pids[k]=$!
done
go_together unlink
t0=$SECONDS
for k in 1 2; do wait ${pids[k]} || fail "10: node $k's unlinks in the shared directory failed"; done
vm_log "10: 400 unlinks from two nodes in one directory took $((SECONDS - t0)) s"
for k in 1 2; do
	count=$(node_run $k "ls -A $D/shared | wc -l")
	assert_eq 0 "$count" "10: entries node $k lists after both unlinked theirs"
done
node_run 2 "rmdir $D/shared"
absent_on 1 "10: the shared directory node 2 removed" $D/shared
step 10

# --- 10b. a file replaced on node 1 while node 2 reads it by name -------------------------
node_run 1 "mkdir $D/race && echo v0 >$D/race/f"
node_run 2 "cat $D/race/f >/dev/null"
node_run 1 -t 400 "$(wait_go replace) && cd $D/race && for i in \$(seq 1 150); do echo v\$i >f.tmp && mv f.tmp f; done" &
pids[1]=$!
node_run 2 -t 400 "$(wait_go replace) && rm -f /tmp/race.out /tmp/race.err && for i in \$(seq 1 300); do cat $D/race/f >>/tmp/race.out 2>>/tmp/race.err || :; done" &
pids[2]=$!
go_together replace
t0=$SECONDS
for k in 1 2; do wait ${pids[k]} || fail "10b: node $k's loop failed"; done
reads=$(node_run 2 "wc -l </tmp/race.out")
bad=$(node_run 2 "grep -cvE '^v[0-9]+\$' /tmp/race.out || :")
versions=$(node_run 2 "sort -u /tmp/race.out | wc -l")
errors=$(node_run 2 "sort /tmp/race.err | uniq -c | head -n 5")
vm_log "10b: 150 replaces on node 1 against 300 reads on node 2 took $((SECONDS - t0)) s: $reads reads, $versions versions seen${errors:+, errors: $errors}"
[ "$bad" = 0 ] || fail "10b: node 2 read $bad lines that are no version node 1 wrote"
((reads >= 150)) || fail "10b: only $reads of node 2's 300 reads succeeded ($errors)"
((versions >= 3)) || fail "10b: node 2 saw $versions versions: the loops did not overlap"
got=$(node_run 2 "cat $D/race/f")
assert_eq v150 "$got" "10b: node 2 reads the last version"
for k in 1 2; do
	kmsg=$(node_run $k dmesg)
	! grep -E 'another node freed it|cannot become' <<<"$kmsg" || fail "10b: node $k freed an inode or a block that was already free"
done
step 10b

# --- 10c. unlinks on node 1 against lookups on node 2 of children numbered below their ---
# directory: unlink takes the glocks in number order (child first here), lookup the
# directory first: lookup must not hold the directory's glock while it waits for the
# child's inode glock, or the two nodes deadlock (each holds what the other waits for).
node_run 1 "mkdir $D/low && cd $D/low && for i in \$(seq 1 120); do echo \$i >f\$i; done && mkdir $D/high && mv $D/low/f* $D/high/"
lowest=$(node_run 1 "stat -c %i $D/high/f1")
dirino=$(node_run 1 "stat -c %i $D/high")
((lowest < dirino)) || fail "10c: setup: child inode $lowest is not below its directory's $dirino"
node_run 1 -t 300 "$(wait_go lowunlink) && cd $D/high && for i in \$(seq 1 120); do rm f\$i; done" &
pids[1]=$!
node_run 2 -t 300 "$(wait_go lowunlink) && for r in 1 2 3; do for i in \$(seq 1 120); do stat $D/high/f\$i >/dev/null 2>&1 || :; done; done" &
pids[2]=$!
go_together lowunlink
t0=$SECONDS
for k in 1 2; do wait ${pids[k]} || fail "10c: node $k's loop failed or hung"; done
vm_log "10c: 120 unlinks on node 1 against 360 lookups on node 2 took $((SECONDS - t0)) s"
for k in 1 2; do
	count=$(node_run $k "ls -A $D/high | wc -l")
	assert_eq 0 "$count" "10c: entries node $k lists after node 1 unlinked all"
done
node_run 2 "rmdir $D/high $D/low"
step 10c

# --- 10d. evicted inodes keep their glocks (the LRU), and stay coherent -------------------
# Node 1 writes 20 files and evicts their inodes (drop_caches): their glocks stay held on
# node 1 (debugfs flag L, state EX). Node 2 then rewrites each: node 1's cached glocks
# must give way (no longer EX there), and node 1 reads node 2's bytes; node 1 unlinks
# them, node 2 sees them gone.
glocks_on() {
	node_run "$1" "mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug; cat /sys/kernel/debug/clusterfs/*/glocks"
}
# Eviction: sync, then drop page cache and inodes a few times (one pass gives recently
# used dentries and inodes a second chance; an inode with pages is evicted once they go).
evict_all="sync && for i in \$(seq 1 5); do echo 3 >/proc/sys/vm/drop_caches; done"
node_run 1 "mkdir $D/lru && cd $D/lru && for i in \$(seq 1 20); do echo n1-\$i >f\$i; done && $evict_all"
inos=$(node_run 1 "stat -c %i $D/lru/f*" | tr '\n' ' ')
# stat loaded the inodes again: evict them once more before looking at the glocks.
node_run 1 "$evict_all"
gl1=$(glocks_on 1)
cached=0
for ino in $inos; do
	grep -qE "^inode/$(printf %x "$ino") (EX|SH) f:[A-Za-z]*L" <<<"$gl1" && cached=$((cached + 1))
done
((cached >= 10)) || fail "10d: only $cached of node 1's 20 evicted inodes kept their glocks on the LRU: $(grep -c ' f:[A-Za-z]*L' <<<"$gl1") L entries"
node_run 2 "cd $D/lru && for i in \$(seq 1 20); do echo n2-\$i >f\$i; done"
gl1=$(glocks_on 1)
for ino in $inos; do
	! grep -qE "^inode/$(printf %x "$ino") EX " <<<"$gl1" || fail "10d: node 1 still holds inode $ino's glock EX after node 2 wrote it"
done
got=$(node_run 1 "cat $D/lru/f7 $D/lru/f20")
assert_eq "n2-7"$'\n'"n2-20" "$got" "10d: node 1 reads what node 2 wrote over its evicted files"
node_run 1 "rm -r $D/lru"
absent_on 2 "10d: node 2 after node 1 removed the directory" $D/lru
vm_log "10d: $cached of 20 evicted inodes' glocks cached on node 1; coherent after node 2's writes"
step 10d

# --- 11. the whole tree alike on both, both unmount, fsck clean -----------------------------
tree="set -o pipefail; cd $D && find . -printf '%y %p %m %u %s %n\n' | LC_ALL=C sort | sha256sum"
tree1=$(node_run 1 "$tree")
tree2=$(node_run 2 "$tree")
assert_eq "$tree1" "$tree2" "11: the tree (names, types, modes, owners, sizes, links) on both nodes"
for k in 1 2; do
	kmsg=$(node_run $k dmesg)
	! grep -iE 'clusterfs.*(withdr|corrupt|I/O error)' <<<"$kmsg" || fail "11: node $k's kernel log reports a problem"
done
# docs/kernel.md: `sync` checkpoints, so df agrees on every node after a sync.
node_run 1 sync
node_run 2 sync
df1=$(node_run 1 "stat -f -c '%b %f %c %d' $CFS_MNT")
df2=$(node_run 2 "stat -f -c '%b %f %c %d' $CFS_MNT")
[ "$df1" = "$df2" ] || late_fail "11: statfs (blocks, free, inodes, free inodes) after a sync on both nodes: node 1 '$df1', node 2 '$df2'"
kfs_umount 1
kfs_umount 2
kfs_fsck_clean 1
((${#late_failures[@]} == 0)) || fail "statfs: $(printf '%s; ' "${late_failures[@]}")"
vm_log "whole test: $((SECONDS - test_start)) s after boot"
