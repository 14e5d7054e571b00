# A lock_cluster filesystem mounted through clusterfs_lockd, as a user does it: corosync
# and lockd on two nodes, mkfs with the defaults (lock_cluster), `mount -t clusterfs DEV
# MNT` with no option. Checks: the journal slot comes from lockd; both nodes mounted at
# once, what node 1 wrote node 2 reads, and node 2's changes node 1 sees, with no
# remount (tests/vm/kernel-cluster-coherence.sh checks every operation); flock(2)
# excludes across nodes (LOCK_NB fails, a blocking one waits for the release); clear refusals for no lockd, a lockd of another protocol revision or one that
# never answers (a stand-in on the device), a lock table of another cluster; lockd dying
# under a mount withdraws it (no write succeeds after, no block reaches the device), the
# other node waits for node 1's fencing (here an operator's fence-ack), then replays the
# journal it left dirty, fsync'ed data intact; fsck clean after each phase.
# nodes: 2
# cluster: --shared-mib 256
# timeout: 900

source kernel/tests/vm-helpers.sh

LOCKD_LOG=/var/log/clusterfs_lockd.log

# lockd_start K: clusterfs_lockd on node K, its device served (waits until it is).
lockd_start() {
	node_run "$1" "mkdir -p /etc/clusterfs && printf 'lockspace_linger_seconds = 1\n' >/etc/clusterfs/lockd.conf &&
		{ setsid build/bin/clusterfs_lockd -f -c /etc/clusterfs/lockd.conf </dev/null >>$LOCKD_LOG 2>&1 & echo \$! >/run/cfs-lockd.pid; }"
	node_run "$1" -t 40 "for i in \$(seq 1 150); do grep -q 'serving the kernel module' $LOCKD_LOG && exit 0; sleep 0.2; done;
		echo 'lockd never opened /dev/clusterfs_lock:' >&2; cat $LOCKD_LOG >&2; exit 1" ||
		fail "node$1: clusterfs_lockd did not serve /dev/clusterfs_lock"
}

# tree_list K DIR: every file under DIR on node K with its checksum (to show a difference).
tree_list() {
	node_run "$1" "cd $2 && find . -type f | sort | xargs sha256sum | cut -c1-12,65-"
}

# tree_sum K DIR: one checksum over every file's name and bytes under DIR on node K.
tree_sum() {
	node_run "$1" "cd $2 && find . -type f | sort | xargs sha256sum | sha256sum | cut -d' ' -f1"
}

kfs_load 1
kfs_load 2
for k in 1 2; do
	mode=$(node_run "$k" 'test -c /dev/clusterfs_lock && stat -c %a /dev/clusterfs_lock')
	[ "$mode" = 600 ] || fail "node$k: /dev/clusterfs_lock is mode $mode, not root-only"
done

# Default mkfs: lock_cluster, lock table of this cluster.
node_run 1 'build/bin/mkfs.clusterfs -q -O -t vmtest:cmount -j 3 -J 8 $CFS_SHARED_DEV'

# --- no lockd: a clear refusal, nothing written ---------------------------------------
before=$(node_run 1 'sha256sum <$CFS_SHARED_DEV')
kfs_expect_refused 1 '' 'no clusterfs_lockd is running' 'lock_cluster mount without lockd'
after=$(node_run 1 'sha256sum <$CFS_SHARED_DEV')
assert_eq "$before" "$after" "device after a refused mount"

# --- the device alone, against a stand-in daemon (kernel/tests/lockdev_peer.py) ---------
node_expect_fail 1 "an unprivileged open of /dev/clusterfs_lock" \
	"setpriv --reuid=65534 --regid=65534 --clear-groups cat /dev/clusterfs_lock"
# peer_start K MODE: the stand-in on node K, checked and answering as MODE.
peer_start() {
	node_run "$1" "rm -f /run/peer-ready; { setsid python3 kernel/tests/lockdev_peer.py $2 /run/peer-ready </dev/null >/run/peer.log 2>&1 & echo \$! >/run/peer.pid; }
		for i in \$(seq 1 100); do [ -e /run/peer-ready ] && exit 0; kill -0 \$(cat /run/peer.pid) 2>/dev/null || break; sleep 0.1; done
		cat /run/peer.log >&2; exit 1" || fail "node$1: the device failed the stand-in daemon's checks ($2)"
}
peer_stop() {
	node_run "$1" 'kill $(cat /run/peer.pid); for i in $(seq 1 50); do kill -0 $(cat /run/peer.pid) 2>/dev/null || exit 0; sleep 0.1; done; exit 1'
}
peer_start 1 mismatch
# The module speaks exactly the header's kernel revision.
rev=$(sed -n 's/^#define CFS_LOCKPROTO_KERNEL_REVISION \([0-9]*\)u$/\1/p' include/clusterfs/lockproto.h)
[ -n "$rev" ] || fail "no CFS_LOCKPROTO_KERNEL_REVISION in include/clusterfs/lockproto.h"
kfs_expect_refused 1 '' "speaks lock protocol revisions 7-9, this module $rev-$rev" 'a lockd of another protocol revision'
peer_stop 1
peer_start 1 silent
kfs_expect_refused 1 '' 'did not answer the protocol handshake' 'a lockd that never answers HELLO'
peer_stop 1
kfs_expect_refused 1 '' 'no clusterfs_lockd is running' 'lock_cluster mount after the stand-in closed the device'
after=$(node_run 1 'sha256sum <$CFS_SHARED_DEV')
assert_eq "$before" "$after" "device after the refused mounts"

cluster_corosync_start
cluster_wait_quorate -t 120
lockd_start 1
lockd_start 2

# --- a lock table naming another cluster -----------------------------------------------
node_run 1 'build/bin/mkfs.clusterfs -q -O -t othercluster:fs -j 3 -J 8 $CFS_SHARED_DEV'
kfs_expect_refused 1 '' "cluster name is not corosync's cluster_name" 'lock table of another cluster'
node_run 1 "grep -q 'othercluster' $LOCKD_LOG" || fail "lockd did not log the cluster name mismatch"

# --- mount on node 1 ---------------------------------------------------------
node_run 1 'build/bin/mkfs.clusterfs -q -O -t vmtest:cmount -j 3 -J 8 $CFS_SHARED_DEV'
kfs_mount 1
opts=$(node_run 1 "grep ' $CFS_MNT ' /proc/mounts")
for want in lockproto=lock_cluster locktable=vmtest:cmount journal=0; do
	grep -q "$want" <<<"$opts" || fail "node1's /proc/mounts lacks $want: $opts"
done
node_run 1 "cd $CFS_MNT && mkdir -p d1/d2 && for i in \$(seq 1 50); do head -c \$((i * 997)) /dev/urandom >d1/f\$i; done &&
	head -c 3000000 /dev/urandom >d1/d2/big && ln -s f1 d1/link && sync"
sum1=$(tree_sum 1 "$CFS_MNT/d1")

# --- node 2 mounts too: both at once, each sees the other's changes without remount ---
kfs_mount 2
opts=$(node_run 2 "grep ' $CFS_MNT ' /proc/mounts")
grep -q journal=1 <<<"$opts" || fail "node 2 did not get its own journal: $opts"
seen=$(tree_sum 2 "$CFS_MNT/d1")
assert_eq "$sum1" "$seen" "tree on node 2 while node 1 has it mounted"
node_run 1 "cat $CFS_MNT/d1/f7 >/dev/null && touch $CFS_MNT/still-writable" ||
	fail "node 1 lost its mount when node 2 mounted"
node_run 2 "test -e $CFS_MNT/still-writable" || fail "node 2 does not see node 1's new file"
node_run 2 "cd $CFS_MNT && rm d1/f1 && echo from-node2 >d1/n2 && mv d1/d2 moved && chmod 600 d1/f2"
sum2=$(tree_sum 2 "$CFS_MNT")
seen=$(tree_sum 1 "$CFS_MNT")
if [ "$sum2" != "$seen" ]; then
	vm_log "node 2's tree: $(tree_list 2 "$CFS_MNT")"
	vm_log "node 1's tree: $(tree_list 1 "$CFS_MNT")"
	fail "tree on node 1 after node 2's changes differs from node 2's"
fi
seen=$(node_run 1 "cat $CFS_MNT/d1/n2")
assert_eq from-node2 "$seen" "node 2's file on node 1"
seen=$(node_run 1 "stat -c %a $CFS_MNT/d1/f2")
assert_eq 600 "$seen" "node 2's chmod on node 1"
node_run 1 "test ! -e $CFS_MNT/d1/f1" || fail "node 2's unlink not seen on node 1"

# --- flock(2) is cluster-wide: node 1 holds it, node 2 cannot take it until released ---
node_run 1 "rm -f /run/flock-held; { setsid flock -x $CFS_MNT/d1/f3 -c 'touch /run/flock-held; sleep 8' </dev/null >/dev/null 2>&1 & }
	for i in \$(seq 1 100); do [ -e /run/flock-held ] && exit 0; sleep 0.1; done; exit 1" ||
	fail "node 1 could not take a flock"
node_expect_fail 2 "flock -n while node 1 holds the lock" "flock -n -x $CFS_MNT/d1/f3 true"
start=$SECONDS
node_run 2 -t 60 "flock -x -w 40 $CFS_MNT/d1/f3 true" || fail "node 2 never got the flock after node 1 released it"
waited=$((SECONDS - start))
[ "$waited" -ge 3 ] || fail "node 2 got the flock after ${waited} s while node 1 held it for 8 s"
vm_log "node 2 waited ${waited} s for node 1's flock"
node_run 2 "flock -n -s $CFS_MNT/d1/f3 true" || fail "flock -n of a free lock failed on node 2"
node_run 1 "flock -n -x $CFS_MNT/d1/f3 true" || fail "flock -n of a free lock failed on node 1"
# The glocks in debugfs, as GFS2's: the root directory's, and the resource group node 1
# allocated in, still held EX (cached) after its writes.
glocks=$(node_run 1 "mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	cat /sys/kernel/debug/clusterfs/\$(basename \$(readlink -f \$CFS_SHARED_DEV))/glocks")
root_ino=$(node_run 1 "stat -c %i $CFS_MNT")
grep -q "^inode/$(printf %x "$root_ino") " <<<"$glocks" || fail "node 1's glocks file lacks the root directory's: $glocks"
grep -q '^rgrp/[0-9a-f]* EX ' <<<"$glocks" || fail "node 1's glocks file shows no resource group held EX: $glocks"
# clusterfs_tool reads the same file from the mount point (JSON checked host-side).
tool_json=$(node_run 1 "build/bin/clusterfs_tool glocks --json $CFS_MNT")
root_state=$(jq -r --argjson n "$root_ino" '[.glocks[] | select(.type == "inode" and .number == $n) | .state] | first // "absent"' <<<"$tool_json") ||
	fail "clusterfs_tool glocks --json printed no valid JSON: $tool_json"
[[ $root_state == EX || $root_state == SH ]] || fail "clusterfs_tool glocks shows the root directory's glock as $root_state"
rgrp_ex=$(jq '[.glocks[] | select(.type == "rgrp" and .state == "EX")] | length' <<<"$tool_json")
((rgrp_ex >= 1)) || fail "clusterfs_tool glocks shows no resource group held EX"

# --- the glock cache's shrinker: unused glocks go under memory pressure, recent ones stay --
# drop_caches runs every shrinker. Glocks of inodes evicted moments ago stay cached (the
# shrinker leaves glocks unused for less than 10 s); 11 s later the same drop releases
# them, and the files still read right on both nodes.
debug_dir="/sys/kernel/debug/clusterfs/\$(basename \$(readlink -f \$CFS_SHARED_DEV))"
glocks_file="cat $debug_dir/glocks"
evict_all="sync && for i in \$(seq 1 5); do echo 3 >/proc/sys/vm/drop_caches; done"
node_run 1 "mkdir $CFS_MNT/shrink && cd $CFS_MNT/shrink && for i in \$(seq 1 30); do echo s\$i >f\$i; done"
shrink_inos=$(node_run 1 "stat -c %i $CFS_MNT/shrink/f*" | tr '\n' ' ')
# cached_count: how many of the 30 inodes have their glock on node 1's LRU (flag L).
cached_count() {
	local gl n=0 ino
	gl=$(node_run 1 "$glocks_file")
	for ino in $shrink_inos; do
		grep -qE "^inode/$(printf %x "$ino") [A-Z]+ f:[A-Za-z]*L" <<<"$gl" && n=$((n + 1))
	done
	echo "$n"
}
node_run 1 "$evict_all"
young=$(cached_count)
((young >= 15)) || fail "shrinker: only $young of 30 just-evicted inodes kept their glocks through drop_caches"
sleep 11
node_run 1 "$evict_all"
old=$(cached_count)
((old == 0)) || fail "shrinker: $old of 30 glocks unused for 11 s still cached after drop_caches"
vm_log "glock shrinker: $young of 30 recent glocks kept through drop_caches; 11 s later $old left"
got=$(node_run 1 "cat $CFS_MNT/shrink/f1 $CFS_MNT/shrink/f30")
assert_eq "s1"$'\n'"s30" "$got" "node 1 reads its files after the shrinker released their glocks"
got=$(node_run 2 "cat $CFS_MNT/shrink/f2 $CFS_MNT/shrink/f29")
assert_eq "s2"$'\n'"s29" "$got" "node 2 reads node 1's files after the shrinker released their glocks"

# --- creating ahead: a create finds its new inode's locks already requested ------------
# After each create node 1 requests the locks of the next free blocks of its group
# (kernel/create_ahead.c); the creates after the first get those blocks. The counters
# are debugfs files; the files must be what node 2 then reads, and node 2's creates in
# the same directory (its own group) must land beside them.
ahead_count() { node_run 1 "cat $debug_dir/create_ahead_$1"; }
used_before=$(ahead_count used)
node_run 1 "mkdir $CFS_MNT/ahead && cd $CFS_MNT/ahead && for i in \$(seq 1 40); do echo a\$i >f\$i; done"
used=$(( $(ahead_count used) - used_before ))
requested=$(ahead_count requested)
dropped=$(ahead_count dropped)
vm_log "creating ahead: 40 creates, $used found their locks requested ahead (node 1 totals: requested $requested, dropped $dropped)"
((used >= 30)) || fail "creating ahead: only $used of 40 creates in a fresh directory found their locks requested ahead"
node_run 2 "cd $CFS_MNT/ahead && for i in \$(seq 1 5); do echo b\$i >g\$i; done"
got=$(node_run 1 "cat $CFS_MNT/ahead/f1 $CFS_MNT/ahead/f40 $CFS_MNT/ahead/g5 && ls $CFS_MNT/ahead | wc -l")
assert_eq "a1"$'\n'"a40"$'\n'"b5"$'\n'"45" "$got" "node 1 reads the created-ahead files and node 2's beside them"
got=$(node_run 2 "cat $CFS_MNT/ahead/f2 $CFS_MNT/ahead/f39 && ls $CFS_MNT/ahead | wc -l")
assert_eq "a2"$'\n'"a39"$'\n'"45" "$got" "node 2 reads node 1's created-ahead files"

# --- looking up ahead: a directory walk finds the next entries' locks requested ---------
# Node 2 lists 40 files node 1 just made: each lookup requests the locks of the next
# entries readdir returned (kernel/lookup_ahead.c), so most find theirs requested.
walk_count() { node_run 2 "cat $debug_dir/lookup_ahead_$1"; }
node_run 2 "mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug"
node_run 1 "mkdir $CFS_MNT/walk && cd $CFS_MNT/walk && for i in \$(seq 1 40); do echo w\$i >f\$i; done"
used_before=$(walk_count used)
listed=$(node_run 2 "ls -l $CFS_MNT/walk | grep -c ' f[0-9]*\$'")
assert_eq 40 "$listed" "node 2's ls -l of node 1's 40 files"
used=$(( $(walk_count used) - used_before ))
vm_log "looking up ahead: ls -l of 40 files on node 2, $used found their locks requested ahead (node 2 totals: requested $(walk_count requested), dropped $(walk_count dropped))"
((used >= 30)) || fail "looking up ahead: only $used of 40 lookups found their locks requested ahead"
got=$(node_run 2 "cat $CFS_MNT/walk/f1 $CFS_MNT/walk/f40")
assert_eq "w1"$'\n'"w40" "$got" "node 2 reads node 1's files after looking them up ahead"
# A walk that stops: node 2 reads one entry, which requests the next ones' locks (their
# iopen locks SH), and node 1 removes every file meanwhile. Node 1's unlinks cannot free
# the inodes node 2 requested ahead; node 2 must, when it gives the requests up.
node_run 1 "mkdir $CFS_MNT/gone && cd $CFS_MNT/gone && for i in \$(seq 1 20); do echo g\$i >f\$i; done"
freed_before=$(walk_count freed)
requested_before=$(walk_count requested)
# The count in the same command, so that node 1's unlinks follow at once: the requests are
# given up 5 s after they went out (CFS_LOOKUP_AHEAD_EXPIRE_MS), and an unlink after that
# frees the inode itself.
requested=$(node_run 2 "cd $CFS_MNT/gone && stat \$(ls -U | head -n 1) >/dev/null && cat $debug_dir/lookup_ahead_requested")
requested=$((requested - requested_before))
((requested >= 1)) || fail "looking up ahead: node 2's lookup of the first entry requested nothing ahead"
node_run 1 "rm -f $CFS_MNT/gone/f*"
node_run 2 -t 30 "for i in \$(seq 1 100); do [ \$(cat $debug_dir/lookup_ahead_freed) -gt $freed_before ] && exit 0; sleep 0.2; done; exit 1" ||
	fail "looking up ahead: node 2 requested $requested inodes ahead, node 1 removed them, and node 2 freed none"
vm_log "looking up ahead: node 2 freed $(( $(walk_count freed) - freed_before )) of the $requested inodes it had requested ahead and node 1 removed"
got=$(node_run 1 "ls -A $CFS_MNT/gone | wc -l"; node_run 2 "ls -A $CFS_MNT/gone | wc -l")
assert_eq "0"$'\n'"0" "$got" "the removed directory's entries on both nodes"
kfs_umount 2

# --- lockd dies under a mount: withdraw, then the next mounter replays ------------------
node_run 1 "echo durable >$CFS_MNT/fsynced && sync $CFS_MNT/fsynced"
node_run 1 'dmesg -C; kill -9 $(cat /run/cfs-lockd.pid)'
node_run 1 -t 30 "for i in \$(seq 1 100); do dmesg | grep -q 'clusterfs_lockd closed /dev/clusterfs_lock' && exit 0; sleep 0.2; done; exit 1" ||
	fail "node 1 did not notice that lockd died"
# From here node 1 must not write a block: node 2 reads the device around node 1's
# attempts, its sync and its unmount (O_DIRECT: no page cache in between).
device_sum() { node_run 2 'dd if=$CFS_SHARED_DEV bs=1M iflag=direct status=none | sha256sum'; }
kmsg=$(node_run 1 dmesg)
grep -q 'withdrawn' <<<"$kmsg" || fail "node 1 did not withdraw"
frozen=$(device_sum)
node_expect_fail 1 "a write after lockd died" "echo after >$CFS_MNT/after-lockd-died"
# Each attempt may fail (that is the point); every one is made.
node_run 1 "mkdir $CFS_MNT/dir-after 2>/dev/null || :; dd if=/dev/zero of=$CFS_MNT/fsynced bs=4k count=1 conv=notrunc,fsync 2>/dev/null || :; sync || :"
kfs_umount 1
seen=$(device_sum)
assert_eq "$frozen" "$seen" "the shared device after node 1 withdrew, tried to write, synced and unmounted"
# Node 1's lockd died with a mount: to the cluster node 1 must be fenced before anyone
# founds or joins a lockspace. This test has no fence device (lockd.conf has no
# fence_command; tests/vm/kernel-cluster-recovery.sh has one), so node 2 waits for an
# operator: it says so, and node 2's mount is refused meanwhile.
status=$(node_run 2 -t 60 "for i in \$(seq 1 200); do s=\$(build/bin/clusterfs_tool cluster 2>&1) || :; grep -q 'node 1 awaits fencing' <<<\"\$s\" && { echo \"\$s\"; exit 0; }; sleep 0.2; done; echo \"\$s\"; exit 1") ||
	fail "node 2's lockd does not show node 1 awaiting fencing: $status"
vm_log "node 2: $(grep 'awaits fencing' <<<"$status")"
node_run 2 "dmesg -C"
kfs_expect_refused 2 '' 'did not answer the join of lockspace vmtest:cmount' 'a mount while node 1 awaits fencing'
# The operator checked node 1 (withdrawn, unmounted, wrote nothing: above) and acks.
node_run 2 'build/bin/clusterfs_tool fence-ack 1'
kfs_mount 2
seen=$(node_run 2 "cat $CFS_MNT/fsynced")
assert_eq durable "$seen" "the file node 1 fsync'ed before lockd died"
node_run 2 "test ! -e $CFS_MNT/after-lockd-died" || fail "a file created after the withdraw reached the disk"
kfs_umount 2
kfs_fsck_clean 2
