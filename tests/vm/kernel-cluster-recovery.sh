# A node dies holding a lock_cluster mount; the next mounter waits until clusterfs_lockd
# fenced it (scripts/vm/fence_vm: the host powers the VM off), replays its journal and
# finds every file it fsync'ed (cfs_crashcheck). Three nodes, corosync, lockd with the
# VM fence agent on each.
#  1. CFS_KILL_ITERATIONS times (default 1: kernel-cluster-survivors kills ten times
#     while all three nodes write; each kill here costs about 70 s: corosync's 10 s token
#     to notice, the fence, the replay, the dead node's boot and rejoin; `make
#     kernel-soak` runs 50): the mounted
#     node's qemu is killed (kill -9) while cfs_crashwork fsyncs; the next node mounts
#     after the dead one was fenced, journal replayed, data intact; the dead node boots
#     again and rejoins while the new mounter writes; the mounter rotates 1, 2, 3, 1, ...
#     The time from each kill to the dead node's files being readable is reported.
#     Then fsck is clean, and the node that came back last reads the current tree.
#  2. the mounted node's corosync is killed while it writes (its kernel and lockd live
#     on): lockd tells the kernel to withdraw and exits, the mount withdraws (its
#     console says so); the next mount succeeds only after that VM was powered off by
#     the fence agent; data intact, fsck clean.
#  3. the mounted node's network is cut (its tap down) while it writes, with its fence
#     held back: it loses quorum and withdraws, and from then on not one byte of the
#     shared image changes while it still runs and tries to write; once the fence is
#     released the others power it off, the next mount replays, data intact, fsck clean.
#     The cut-off node fences nobody.
# nodes: 3
# cluster: --shared-mib 512
# timeout: 2400

source kernel/tests/vm-helpers.sh

# workload_start K: fsync'ed writes under $CFS_MNT/work on node K until the node dies.
workload_start() {
	node_run "$1" "setsid build/bin/cfs_crashwork $CFS_MNT/work --seed $1 --ack $WORKLOAD_ACKED.work.$1 </dev/null >/scratch/crashwork.log 2>&1 &"
}

kfs_cluster_up 3

node_run 1 'build/bin/mkfs.clusterfs -q -O -t vmtest:recov -j 3 -J 16 $CFS_SHARED_DEV'

# --- 1. the mounted node dies, again and again -------------------------------------------
iterations=${CFS_KILL_ITERATIONS:-1}
victim=1
kfs_mount $victim
node_run $victim "mkdir $CFS_MNT/work.1"
node_run $victim "setsid build/bin/cfs_crashwork $CFS_MNT/work.1 --seed 1 --ack $WORKLOAD_ACKED.work.1 </dev/null >/scratch/crashwork.log 2>&1 &"
times=()
for ((i = 1; i <= iterations; i++)); do
	next=$((victim % 3 + 1))
	sleep 4
	written=$(node_run $victim "ls $CFS_MNT/work.$i | wc -l")
	[ "$written" -gt 0 ] || fail "iteration $i: the workload on node $victim wrote nothing"
	fences_before=$(kfs_fenced_count $victim)
	node_run $next 'dmesg -C'
	node_kill $victim
	killed_at=$SECONDS
	kfs_mount $next
	times+=($((SECONDS - killed_at)))
	fences=$(kfs_fenced_count $victim)
	[ "$fences" -gt "$fences_before" ] ||
		fail "iteration $i: node $next mounted before node $victim was fenced (fence.log: $(cat "$VM_LOG_DIR/fence.log" 2>/dev/null))"
	kfs_expect_replay_on $next
	out=$(node_run $next "build/bin/cfs_crashcheck $CFS_MNT/work.$i --acked $WORKLOAD_ACKED.work.$i 2>&1") ||
		fail "iteration $i: node $victim's fsync'ed data lost: $out"
	vm_log "iteration $i/$iterations: node $next read node $victim's files ${times[-1]} s after the kill; $(tail -n 1 <<<"$out")"
	node_run $next "rm -rf $CFS_MNT/work.$i"
	# The new mounter writes while the dead node comes back (the next kill needs quorum).
	if ((i < iterations)); then
		node_run $next "mkdir $CFS_MNT/work.$((i + 1))"
		node_run $next "setsid build/bin/cfs_crashwork $CFS_MNT/work.$((i + 1)) --seed $((i + 1)) --ack $WORKLOAD_ACKED.work.$((i + 1)) </dev/null >/scratch/crashwork.log 2>&1 &"
	fi
	kfs_node_rejoin $victim
	victim=$next
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
vm_log "kill to readable on the next node, $iterations kills: min $(head -n 1 <<<"$sorted") s, median $(sed -n "$(((iterations + 1) / 2))p" <<<"$sorted") s, max $(tail -n 1 <<<"$sorted") s"
node_run $victim "echo after-the-kills >$CFS_MNT/after-death"
kfs_umount $victim
kfs_fsck_clean $victim
# The node that came back last reads what is current.
last_back=$(( (victim + 1) % 3 + 1 ))
kfs_mount $last_back
seen=$(node_run $last_back "cat $CFS_MNT/after-death")
assert_eq after-the-kills "$seen" "the last writer's file on the node that came back last"
node_run $last_back "rm -rf $CFS_MNT/work.*"
kfs_umount $last_back

# --- 2. a node loses its cluster stack while its kernel lives on ----------------------
a=$victim b=$((victim % 3 + 1))
kfs_mount $a
node_run $a "mkdir $CFS_MNT/work"
workload_start $a
sleep 8
withdrawn_before=$(grep -ac 'clusterfs (.*): withdrawn' "$VM_LOG_DIR/node$a.console" || :)
# Only corosync: lockd loses it, tells the kernel to withdraw and exits (lockd dying alone
# is kernel-cluster-mount's case).
node_run $a 'kill -9 $(cat /run/cfs-corosync.pid)'
cut_at=$SECONDS
kfs_mount $b
vm_log "node $b mounted $((SECONDS - cut_at)) s after node $a lost corosync"
withdrawn=$(grep -ac 'clusterfs (.*): withdrawn' "$VM_LOG_DIR/node$a.console" || :)
((withdrawn > withdrawn_before)) ||
	fail "node $a did not withdraw after its corosync died (console: $(grep -a 'clusterfs\|lockd' "$VM_LOG_DIR/node$a.console" | tail -n 5))"
fences=$(kfs_fenced_count $a)
[ "$fences" -ge 1 ] || fail "node $b mounted before node $a was fenced (fence.log: $(cat "$VM_LOG_DIR/fence.log" 2>/dev/null))"
! node_alive $a || fail "node $a's VM still runs after it was reported fenced"
out=$(node_run $b "build/bin/cfs_crashcheck $CFS_MNT/work --acked $WORKLOAD_ACKED.work.$a 2>&1") || fail "node $a's fsync'ed data lost: $out"
vm_log "after node $a lost corosync: $(tail -n 1 <<<"$out")"
node_run $b "rm -rf $CFS_MNT/work"
kfs_umount $b
kfs_fsck_clean $b
kfs_node_rejoin $a

# --- 3. a node is cut off from the network ---------------------------------------------
c=$b d=$((b % 3 + 1))
kfs_mount $c
node_run $c "mkdir $CFS_MNT/work"
workload_start $c
sleep 8
node_run $c 'dmesg -C'
fence_lines_before=$(wc -l <"$VM_LOG_DIR/fence.log")
cluster_fence_hold $c
cluster_net_cut $c
cut_at=$SECONDS
withdrawn=
for ((t = 0; t < 120; t += 2)); do
	kmsg=$(node_run $c 'dmesg')
	if grep -q 'lost quorum' <<<"$kmsg"; then
		withdrawn=$((SECONDS - cut_at))
		break
	fi
	sleep 2
done
[ -n "$withdrawn" ] || fail "node $c did not withdraw within 120 s of losing its network: $(grep clusterfs <<<"$kmsg")"
vm_log "node $c withdrew $withdrawn s after its network was cut"
sleep 2 # let I/O already in flight at the withdrawal complete
before=$(cksum <"$VM_SHARED_IMAGE")
# It tries to write: a new file, an fsync, sync, while its workload keeps trying.
rc=0
node_run $c "echo late >$CFS_MNT/work/after-cut && sync $CFS_MNT/work/after-cut" || rc=$?
[ "$rc" -ne 0 ] || fail "node $c wrote a file after it withdrew"
node_run $c 'sync || :'
sleep 5
after=$(cksum <"$VM_SHARED_IMAGE")
assert_eq "$before" "$after" "the shared image while the cut-off node runs after withdrawing"
node_alive $c || fail "node $c was powered off while its fence was held"
cluster_fence_release $c
kfs_mount $d
vm_log "node $d mounted $((SECONDS - cut_at)) s after node $c's network was cut (its fence held until it had withdrawn and the image was compared)"
! node_alive $c || fail "node $c's VM still runs after node $d mounted"
fenced_now=$(tail -n +"$((fence_lines_before + 1))" "$VM_LOG_DIR/fence.log")
grep -q "node$c: fenced" <<<"$fenced_now" || fail "node $c was not fenced: $fenced_now"
if grep "fenced" <<<"$fenced_now" | grep -v "node$c: fenced" | grep -q .; then
	fail "another node was fenced after node $c was cut off: $fenced_now"
fi
out=$(node_run $d "build/bin/cfs_crashcheck $CFS_MNT/work --acked $WORKLOAD_ACKED.work.$c 2>&1") || fail "node $c's fsync'ed data lost: $out"
vm_log "after node $c's network was cut: $(tail -n 1 <<<"$out")"
kfs_umount $d
kfs_fsck_clean $d
vm_console_accept $c
