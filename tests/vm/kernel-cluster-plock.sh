# fcntl (POSIX) byte-range locks are cluster-wide on a lock_cluster mount, as GFS2's are
# through dlm_controld: a lock one node holds is refused to, reported to and waited for
# by another node, never granted to two at once. Three nodes (kernel/tests/cfs_plock.py
# takes the locks):
#  1. node 1 holds [0,100) for writing: node 2's F_SETLK of it, or of a read lock inside
#     it, fails with EAGAIN; a disjoint range is granted; node 2's F_GETLK names the
#     lock (type, range, and node 1's pid as a negative pid: another node's process);
#     a second process on node 1 is refused too; /proc/locks on node 1 lists the lock
#  2. read locks are shared between the nodes, a write lock over them is refused
#  3. node 2's F_SETLKW waits while node 1 holds the range and is granted once node 1
#     releases it: node 2 then reads what node 1 wrote just before releasing
#  4. a signal ends a waiting F_SETLKW with EINTR, and the withdrawn request is never
#     granted later (node 1 can take the range again after releasing it)
#  5. a process that exits without unlocking loses its locks (close releases them)
#  6. two owners on different nodes each holding what the other waits for: one of them
#     gets EDEADLK, the other the lock
#  7. node 3 holds a lock and dies (qemu killed): node 1's waiting F_SETLKW is granted
#     only after node 3 was fenced (the fence agents wait 12 s, so an early grant
#     shows), and then it is
#  8. both survivors unmount; fsck clean.
# Before lockd's plocks (protocol revision 3) fcntl locks were per node: step 1 granted
# node 2 the range node 1 held.
# nodes: 3
# cluster: --shared-mib 256
# timeout: 900

source kernel/tests/vm-helpers.sh

P="python3 kernel/tests/cfs_plock.py"
F=$CFS_MNT/plock/f

# The fence agents wait 12 s before powering a node off (fence_vm --delay), so that a
# lock granted before the fence would be seen in step 7.
for k in 1 2 3; do kfs_load "$k"; done
cluster_fence_server_start
cluster_corosync_start
cluster_wait_quorate -t 180
for k in 1 2 3; do kfs_lockd_start "$k" '$PWD/scripts/vm/fence_vm --delay 12'; done
node_run 1 'build/bin/mkfs.clusterfs -q -O -t vmtest:pl -j 3 -J 8 $CFS_SHARED_DEV'
for k in 1 2 3; do kfs_mount "$k"; done
node_run 1 "mkdir $CFS_MNT/plock && head -c 4096 /dev/urandom >$F"

# hold_lock K START LEN r|w TAG: a process on node K holds the lock until release_lock
# K TAG; prints its pid once it holds it.
hold_lock() {
	local k=$1 start=$2 len=$3 type=$4 tag=$5
	node_run "$k" "rm -f /run/pl-$tag.ready /run/pl-$tag.release
		{ setsid $P hold $F $start $len $type /run/pl-$tag.ready /run/pl-$tag.release </dev/null >/run/pl-$tag.log 2>&1 & }
		for i in \$(seq 1 300); do [ -e /run/pl-$tag.ready ] && exec cat /run/pl-$tag.ready; sleep 0.1; done
		cat /run/pl-$tag.log >&2; exit 1" || fail "node $k could not take [$start,+$len) $type ($tag)"
}
release_lock() {
	node_run "$1" "pid=\$(cat /run/pl-$2.ready); touch /run/pl-$2.release
		for i in \$(seq 1 300); do
			[ -d /proc/\$pid ] && ! grep -q '^State:.*Z' /proc/\$pid/status 2>/dev/null || exit 0
			sleep 0.1
		done; exit 1" || fail "node $1: the holder $2 did not exit after its release"
}
# try_lock K START LEN r|w: 0 granted, 11 refused (EAGAIN); anything else fails the test.
try_lock() {
	local rc=0
	node_run "$1" "$P try $F $2 $3 $4" || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 11 ] || fail "node $1: F_SETLK [$2,+$3) $4 failed (status $rc)"
	return "$rc"
}
expect_granted() { try_lock "$@" || fail "node $1: F_SETLK [$2,+$3) $4 refused, expected granted"; }
expect_refused() { ! try_lock "$@" || fail "node $1: F_SETLK [$2,+$3) $4 granted, expected EAGAIN"; }

# --- 1. a write lock held on node 1 --------------------------------------------------
pid1=$(hold_lock 1 0 100 w a)
expect_refused 2 0 100 w
expect_refused 2 50 10 r
expect_refused 2 99 1 w
expect_granted 2 100 100 w
expect_refused 1 0 100 w # another process (owner) on the same node
got=$(node_run 2 "$P get $F 0 4096 r")
assert_eq "w 0 100 -$pid1" "$got" "node 2's F_GETLK of node 1's write lock"
got=$(node_run 1 "$P get $F 10 1 w")
assert_eq "w 0 100 $pid1" "$got" "node 1's F_GETLK of its own process's lock"
ino=$(node_run 1 "stat -c %i $F")
node_run 1 "grep -E 'POSIX +ADVISORY +WRITE +$pid1 [0-9a-f:]+:$ino 0 99\$' /proc/locks" >/dev/null ||
	fail "node 1's /proc/locks does not list the lock: $(node_run 1 'cat /proc/locks')"
release_lock 1 a
expect_granted 2 0 100 w
vm_log "step 1: node 2 refused, told and then granted node 1's write lock"

# --- 2. read locks are shared --------------------------------------------------------
hold_lock 1 1000 100 r b >/dev/null
hold_lock 2 1000 100 r c >/dev/null
expect_granted 3 1050 10 r
expect_refused 3 1050 10 w
release_lock 1 b
expect_refused 3 1050 10 w # node 2's read lock still holds
release_lock 2 c
expect_granted 3 1050 10 w

# --- 3. a waiting F_SETLKW is granted when node 1 releases ---------------------------
hold_lock 1 0 100 w d >/dev/null
node_run 2 "rm -f /run/pl-w.out; { setsid $P wait $F 0 100 w 60 $CFS_MNT/plock/marker </dev/null >/run/pl-w.out 2>&1 & }"
sleep 3
out=$(node_run 2 "cat /run/pl-w.out")
[ -z "$out" ] || fail "node 2's F_SETLKW returned while node 1 held the lock: $out"
node_run 1 "echo released-by-node1 >$CFS_MNT/plock/marker"
release_lock 1 d
out=$(node_run 2 -t 60 "for i in \$(seq 1 400); do [ -s /run/pl-w.out ] && exec cat /run/pl-w.out; sleep 0.1; done; exit 1") ||
	fail "node 2's F_SETLKW was not granted after node 1 released the lock"
[[ $out =~ ^granted\ after\ [0-9.]+\ s\ released-by-node1$ ]] ||
	fail "node 2's F_SETLKW: expected a grant after node 1's write, got '$out'"
vm_log "step 3: node 2's waiting lock: $out"

# --- 4. a signal ends a wait; the withdrawn request is never granted -----------------
hold_lock 1 0 100 w e >/dev/null
rc=0
out=$(node_run 2 -t 60 "$P wait $F 0 100 w 3") || rc=$?
assert_eq 4 "$rc" "status of node 2's F_SETLKW interrupted by SIGALRM ($out)"
release_lock 1 e
expect_granted 1 0 100 w
expect_granted 3 0 100 w

# --- 5. exit without unlock releases -------------------------------------------------
node_run 2 "$P hold $F 200 10 w /run/pl-f.ready /run/pl-f.ready"
expect_granted 1 200 10 w

# --- 6. a cycle of waiters across nodes: EDEADLK for one ----------------------------
node_run 1 "rm -f /run/pl-c1.*; { setsid $P cycle $F 300 400 /run/pl-c1.ready /run/pl-c1.go 40 </dev/null >/run/pl-c1.out 2>&1 & }
	for i in \$(seq 1 300); do [ -e /run/pl-c1.ready ] && exit 0; sleep 0.1; done; exit 1" || fail "node 1: cycle holder did not start"
node_run 2 "rm -f /run/pl-c2.*; { setsid $P cycle $F 400 300 /run/pl-c2.ready /run/pl-c2.go 40 </dev/null >/run/pl-c2.out 2>&1 & }
	for i in \$(seq 1 300); do [ -e /run/pl-c2.ready ] && exit 0; sleep 0.1; done; exit 1" || fail "node 2: cycle holder did not start"
node_run 1 "touch /run/pl-c1.go"
sleep 2 # node 1's request for [400,410) is queued behind node 2's lock
node_run 2 "touch /run/pl-c2.go"
c2=$(node_run 2 -t 60 "for i in \$(seq 1 400); do [ -s /run/pl-c2.out ] && exec cat /run/pl-c2.out; sleep 0.1; done; exit 1") ||
	fail "node 2's request closing the cycle never returned"
c1=$(node_run 1 -t 60 "for i in \$(seq 1 400); do [ -s /run/pl-c1.out ] && exec cat /run/pl-c1.out; sleep 0.1; done; exit 1") ||
	fail "node 1's waiting request never returned after node 2 gave up"
assert_eq "EDEADLK granted" "$c2 $c1" "node 2's and node 1's results in the cycle"

# --- 7. a dead node's lock goes only once it is fenced -------------------------------
hold_lock 3 500 10 w g >/dev/null
node_run 1 "rm -f /run/pl-d.out; { setsid $P wait $F 500 10 w 200 </dev/null >/run/pl-d.out 2>&1 & }"
sleep 2
fences_before=$(kfs_fenced_count 3)
node_kill 3
killed_at=$SECONDS
granted=
while ((SECONDS - killed_at < 150)); do
	# The waiter's state first, the fence log second: a grant seen before the fence is
	# in the log really came first.
	out=$(node_run 1 "cat /run/pl-d.out")
	fences=$(kfs_fenced_count 3)
	if [ -n "$out" ]; then
		[ "$fences" -gt "$fences_before" ] ||
			fail "node 1 was granted dead node 3's lock before node 3 was fenced: $out"
		granted=$out
		break
	fi
	sleep 0.5
done
[[ $granted =~ ^granted ]] || fail "node 1's F_SETLKW on dead node 3's range: '$granted' ($((SECONDS - killed_at)) s after the kill)"
vm_log "step 7: node 1 got dead node 3's range $((SECONDS - killed_at)) s after the kill, after its fence"

# --- 8. unmount, fsck ------------------------------------------------------------------
kfs_lockd_tables_agree 1 2
kfs_umount 1
kfs_umount 2
kfs_fsck_clean 1
vm_log "kernel-cluster-plock: fcntl locks are cluster-wide"
