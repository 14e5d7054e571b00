# two_node: the network between the two nodes of a two_node cluster splits. Both halves
# stay quorate (votequorum two_node) and race to fence each other; node 2's fence command
# has a delay (as pcmk_delay_base gives one side on a real cluster), so node 1 wins.
# Exactly one node survives, whoever held the mount:
#  1. node 2 holds the mount and writes: node 1 fences it, then mounts, replays its
#     journal, every file node 2 fsync'ed is intact; node 2's delayed fence never fires.
#  2. node 1 (the winner) holds the mount and writes: node 2 is fenced, node 1's mount
#     carries on writing (no withdraw: it stayed quorate), the fsync'ed files are intact.
# After each, the loser boots again and rejoins; fsck clean at the end.
# nodes: 2
# cluster: --shared-mib 512
# timeout: 900

source kernel/tests/vm-helpers.sh

# Node 2's fence command waits 10 s: longer than the two nodes take to notice the split.
fence_for() { if [ "$1" = 2 ]; then echo '$PWD/scripts/vm/fence_vm --delay 10'; else echo '$PWD/scripts/vm/fence_vm'; fi; }

# split_and_check WRITER: WRITER holds the mount and writes when the network splits;
# node 1 must survive, node 2 be fenced exactly once, and nobody else.
split_and_check() {
	local writer=$1 fence_lines kills
	node_run "$writer" "mkdir $CFS_MNT/work.$writer"
	node_run "$writer" "setsid build/bin/cfs_crashwork $CFS_MNT/work.$writer --seed $writer --ack $WORKLOAD_ACKED.work.$writer </dev/null >/scratch/crashwork.log 2>&1 &"
	sleep 8
	fence_lines=0
	[ ! -e "$VM_LOG_DIR/fence.log" ] || fence_lines=$(wc -l <"$VM_LOG_DIR/fence.log")
	cluster_net_cut 2
	local cut_at=$SECONDS
	for ((t = 0; t < 120; t++)); do
		node_alive 2 || break
		sleep 1
	done
	! node_alive 2 || fail "node 2 still runs 120 s after the split"
	vm_log "node 2 powered off $((SECONDS - cut_at)) s after the split"
	# Both fences would have been asked by now (node 2's after its delay, had it lived).
	sleep 12
	node_alive 1 || fail "node 1 was powered off too: both sides of the split lost"
	kills=$(tail -n +"$((fence_lines + 1))" "$VM_LOG_DIR/fence.log")
	assert_eq "node2: fenced" "$(grep -o 'node[0-9]*: fenced' <<<"$kills")" "the fences after the split"
	cluster_net_restore 2
}

for k in 1 2; do kfs_load "$k"; done
cluster_fence_server_start
cluster_corosync_start
cluster_wait_quorate -t 180
for k in 1 2; do kfs_lockd_start "$k" "$(fence_for "$k")"; done
node_run 1 'build/bin/mkfs.clusterfs -q -O -t vmtest:split -j 2 -J 16 $CFS_SHARED_DEV'

# --- 1. the loser holds the mount --------------------------------------------------------
kfs_mount 2
node_run 1 'dmesg -C'
split_and_check 2
kfs_mount 1
kfs_expect_replay_on 1
out=$(node_run 1 "build/bin/cfs_crashcheck $CFS_MNT/work.2 --acked $WORKLOAD_ACKED.work.2 2>&1") || fail "node 2's fsync'ed data lost: $out"
vm_log "node 2 held the mount: $(tail -n 1 <<<"$out")"
kfs_node_rejoin 2 "$(fence_for 2)"

# --- 2. the winner holds the mount -------------------------------------------------------
split_and_check 1
before=$(node_run 1 "ls $CFS_MNT/work.1 | wc -l; cat $CFS_MNT/work.1/.manifest | wc -c")
sleep 5
after=$(node_run 1 "ls $CFS_MNT/work.1 | wc -l; cat $CFS_MNT/work.1/.manifest | wc -c")
[ "$before" != "$after" ] || fail "node 1's workload made no progress after it won the split"
kmsg=$(node_run 1 dmesg)
! grep -qi 'withdr' <<<"$kmsg" || fail "node 1 withdrew although it won the split: $(grep -i withdr <<<"$kmsg")"
node_run 1 'pkill -f cfs_crashwork; sleep 1; sync'
out=$(node_run 1 "build/bin/cfs_crashcheck $CFS_MNT/work.1 --acked $WORKLOAD_ACKED.work.1 2>&1") || fail "node 1's fsync'ed data lost: $out"
vm_log "node 1 held the mount: $(tail -n 1 <<<"$out")"
kfs_node_rejoin 2 "$(fence_for 2)"
kfs_umount 1
kfs_fsck_clean 1
kfs_mount 2
seen=$(node_run 2 "ls $CFS_MNT | sort | tr '\n' ' '")
assert_eq "work.1 work.2 " "$seen" "the tree on node 2 after both splits"
kfs_umount 2
