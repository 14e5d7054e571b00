# A node that withdraws (here through debugfs `withdraw`, as GFS2's sysfs file; the same
# path runs for metadata damage or a failing device) while its journal holds fsync'ed
# changes that are not yet home: it must not give its locks away as if its blocks were
# on disk. Checks: its withdraw stops its writes (a write fails with EIO, no block of
# the shared image changes after it), it tells lockd (no fence: its VM stays up), the
# other node replays its journal and then reads every file the withdrawn node fsync'ed,
# intact, without waiting for the withdrawn node to unmount, and frees the file the
# withdrawn node had unlinked while open; the withdrawn node still unmounts, mounts
# again with a fresh journal and reads the current tree; fsck clean.
# Before lockd's WITHDRAWN (revision 2), the withdrawn node released its locks with its
# changes only in its journal: the other node read the old blocks.
# nodes: 2
# cluster: --shared-mib 256
# timeout: 900

source kernel/tests/vm-helpers.sh

kfs_cluster_up 2
node_run 1 'build/bin/mkfs.clusterfs -q -O -t vmtest:wd -j 3 -J 8 $CFS_SHARED_DEV'
kfs_mount 1
kfs_mount 2

# Node 2 writes and fsyncs a tree (fsync, not syncfs: syncfs checkpoints); nothing asks
# for its locks, so its journal keeps the
# changes (the in-place copies are written when a lock is released or the log fills).
node_run 2 "mkdir $CFS_MNT/d2 && cd $CFS_MNT/d2 &&
	head -c 300000 /dev/urandom >big && printf 'small file\n' >small &&
	mkdir sub && head -c 5000 /dev/urandom >sub/leaf && sync big small sub/leaf . sub"
want=$(node_run 2 "cd $CFS_MNT/d2 && find . -type f | sort | xargs sha256sum")
# And a file unlinked while open (a process on node 2 keeps it): once node 2 is out, the
# node that replays its journal frees it (nobody has it open any more).
node_run 2 "cd $CFS_MNT/d2 && head -c 20000 /dev/urandom >held &&
	{ setsid sleep 900 <held >/dev/null 2>&1 & echo \$! >/run/held.pid; } && sleep 0.5 && rm held && sync ."

node_run 2 "mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	echo 1 > /sys/kernel/debug/clusterfs/\$(basename \$(readlink -f \$CFS_SHARED_DEV))/withdraw"
node_run 2 -t 60 "for i in \$(seq 1 300); do dmesg | grep -q 'withdrawn: left lockspace' && exit 0; sleep 0.2; done
	dmesg | grep clusterfs >&2; exit 1" || fail "node 2 did not hand its locks to lockd after withdrawing"
# Node 1 replays node 2's journal (no fence, node 2 still runs).
node_run 1 -t 60 "for i in \$(seq 1 300); do dmesg | grep -q 'journal 1 of a dead node recovered' && exit 0; sleep 0.2; done
	dmesg | grep clusterfs >&2; exit 1" || fail "node 1 did not recover node 2's journal"
node_run 1 -t 60 "for i in \$(seq 1 300); do dmesg | grep -q 'after recovery: freed 1 unlinked inodes, left 0 in use' && exit 0; sleep 0.2; done
	dmesg | grep clusterfs >&2; exit 1" || fail "node 1 did not free the inode node 2 had unlinked while open"
# The disk (O_DIRECT: not node 1's page cache) around node 2's attempts; node 1 is idle
# after its sync (everything home, nothing left to log).
device_sum() { node_run 1 'dd if=$CFS_SHARED_DEV bs=1M iflag=direct status=none | sha256sum'; }
node_run 1 "sync"
before=$(device_sum)
node_expect_fail 2 "a write on the withdrawn node" "printf x >$CFS_MNT/d2/after"
node_run 2 "sync; cat $CFS_MNT/d2/big >/dev/null" || :
after=$(device_sum)
assert_eq "$after" "$before" "the shared disk around the withdrawn node's write attempt and sync"
# A buffered read of the whole device on a mounted node fills its page cache with
# blocks other nodes will change: none of it may be served as metadata later.
node_run 1 'sha256sum <$CFS_SHARED_DEV >/dev/null'

# Node 1 reads node 2's tree as node 2 fsync'ed it.
got=$(node_run 1 -t 120 "cd $CFS_MNT/d2 && find . -type f | sort | xargs sha256sum") ||
	fail "node 1 could not read the withdrawn node's directory: $got"
assert_eq "$got" "$want" "node 2's fsync'ed files as node 1 reads them after node 2 withdrew"
kfs_expect_replay_on 1
node_run 1 "dmesg | grep -E 'journal 1 of a dead node recovered: replayed'" ||
	fail "node 1 did not replay node 2's journal (it was clean: the test proves nothing)"
[ "$(kfs_fenced_count 2)" = 0 ] || fail "node 2 was fenced; a withdrawn node vouches for itself"
node_run 1 "sync"
unlinked=$(node_run 1 "build/bin/clusterfs_tool rgrps --json \$CFS_SHARED_DEV" | python3 -c 'import json,sys; print(sum(r["unlinked"] for r in json.load(sys.stdin)["rgrps"]))')
assert_eq 0 "$unlinked" "unlinked inodes left after node 1 recovered node 2's journal"

# Node 1 works on while node 2 is still mounted (withdrawn), including in node 2's tree.
node_run 1 "cd $CFS_MNT/d2 && printf 'by node 1\n' >small && rm sub/leaf && mkdir n1 && sync"
node_run 2 "kill \$(cat /run/held.pid)"
kfs_umount 2
kfs_mount 2
node_run 2 "grep -q 'by node 1' $CFS_MNT/d2/small && ! test -e $CFS_MNT/d2/sub/leaf && test -d $CFS_MNT/d2/n1" ||
	fail "node 2, mounted again, does not read node 1's changes"
node_run 2 "printf 'node 2 again\n' >$CFS_MNT/d2/again && sync"
node_run 1 "grep -q 'node 2 again' $CFS_MNT/d2/again" || fail "node 1 does not read node 2's new file"
kfs_umount 1
kfs_umount 2
kfs_fsck_clean 1
vm_log "withdraw: node 2's fsync'ed tree replayed and read by node 1, no fence, node 2 back"
