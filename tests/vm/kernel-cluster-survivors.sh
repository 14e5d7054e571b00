# Three nodes mount one lock_cluster filesystem and all write; one node's qemu is killed
# (kill -9): the survivors carry on, a survivor replays the dead node's journal once
# lockd fenced it, and every file the dead node fsync'ed is intact (each acknowledged
# fsync is counted on the host share as it returns: cfs_crashcheck --acked). What is measured
# (docs/bench/cluster-failure.md compares with GFS2):
#  - the longest single operation (create + write + fsync of a small file in its own
#    directory, kernel/tests/cfs_op_probe.py) each survivor saw from before the kill to
#    the end of recovery: how long the dead node stalled the others;
#  - the time from the kill until the dead node's files are readable on a survivor.
# Each node runs cfs_crashwork in its own directory meanwhile; the survivors' workloads
# must go on writing after the kill, and their own fsync'ed data is checked too. Then the
# dead node boots, rejoins, mounts beside the survivors and reads their current files;
# fsck is clean after every node unmounted. CFS_SURVIVOR_KILLS kills (default 10, as the
# node-failure issue asks of CI; about 100 s each: corosync's 10 s token, the fence, the
# replay, the dead node's boot, rejoin and mount; 50 in `make kernel-soak`), rotating the
# victim: a victim that rejoined and writes again, then the next kill. Several kills
# found a corruption chain, fixed 2026-12-06 (docs/kernel.md, "Not done yet": stale
# block-device cache served as metadata, a withdrawn node releasing locks whose changes
# were only in its journal).
# Every round checks that no lockd's replicated lock table diverged from another
# member's; verify_cache=1 fails the run on a stale copy written home.
# Ten rounds took 1066-1115 s on one 2-core host and 1361-1370 s on another: the limit
# leaves room for a slower machine.
# nodes: 3
# cluster: --shared-mib 512
# timeout: 2400

source kernel/tests/vm-helpers.sh

# Every glock grant compares what stayed cached with the disk (kernel/glops.c): a stale
# copy that survived a hand-off is named in dmesg, and the test fails on it below.
KFS_MODULE_PARAMS=${KFS_MODULE_PARAMS-verify_cache=1}

kfs_cluster_up 3
node_run 1 'build/bin/mkfs.clusterfs -q -O -t vmtest:surv -j 3 -J 16 $CFS_SHARED_DEV'
for k in 1 2 3; do kfs_mount "$k"; done

kills=${CFS_SURVIVOR_KILLS:-10}
stalls=() readable=()
victim=1
for ((round = 1; round <= kills; round++)); do
	survivors=()
	for k in 1 2 3; do [ "$k" = "$victim" ] || survivors+=("$k"); done
	for k in 1 2 3; do workload_start "$k" $CFS_MNT "work.$k.$round" $((10 * round + k)); done
	sleep 8
	declare -A before=()
	for k in 1 2 3; do
		# Progress is the manifest's length: one fsync'ed record per completed operation
		# (the file count stops growing once every file of the workload exists).
		n=$(node_run "$k" "stat -c %s $CFS_MNT/work.$k.$round/.manifest")
		before[$k]=$n
		[ "$n" -gt 0 ] || fail "round $round: node $k's workload recorded nothing in 8 s"
	done
	fences_before=$(kfs_fenced_count $victim)
	since=()
	for k in "${survivors[@]}"; do
		node_run "$k" 'dmesg -C'
		now=$(node_run "$k" "python3 -c 'import time; print(time.monotonic())'")
		since[$k]=$now
	done
	node_kill $victim
	killed_at=$SECONDS
	# A survivor reads the dead node's directory: it waits for the fence and the replay.
	reader=${survivors[0]}
	out=$(node_run "$reader" -t 300 "build/bin/cfs_crashcheck $CFS_MNT/work.$victim.$round --acked $WORKLOAD_ACKED.work.$victim.$round 2>&1") ||
		fail "round $round: node $victim's fsync'ed data lost or unreadable: $out"
	readable+=($((SECONDS - killed_at)))
	vm_log "round $round: node $reader read node $victim's files ${readable[-1]} s after the kill; $(tail -n 1 <<<"$out")"
	fences=$(kfs_fenced_count $victim)
	[ "$fences" -gt "$fences_before" ] ||
		fail "round $round: node $victim's files were readable before it was fenced (fence.log: $(cat "$VM_LOG_DIR/fence.log" 2>/dev/null))"
	recovered_by=
	for k in "${survivors[@]}"; do
		kmsg=$(node_run "$k" 'dmesg')
		if grep -qE 'journal [0-9]+ of a dead node recovered' <<<"$kmsg"; then recovered_by=$k; fi
	done
	[ -n "$recovered_by" ] || fail "round $round: no survivor recovered node $victim's journal"
	# The survivors carried on: their workloads kept writing after the kill.
	sleep 4
	for k in "${survivors[@]}"; do
		after=$(node_run "$k" "stat -c %s $CFS_MNT/work.$k.$round/.manifest")
		[ "$after" -gt "${before[$k]}" ] ||
			fail "round $round: node $k's workload stopped after node $victim died (manifest $after bytes, ${before[$k]} before)"
	done
	for k in "${survivors[@]}"; do
		workload_stop "$k" $CFS_MNT
		report=$(probe_report "$k" "${since[$k]}")
		read -r max count <<<"$report"
		[ "$count" -gt 0 ] || fail "round $round: node $k's probe completed no operation after the kill"
		stalls+=("$max")
		vm_log "round $round: node $k's longest operation from the kill on: $max s ($count operations)"
		out=$(node_run "$k" "build/bin/cfs_crashcheck $CFS_MNT/work.$k.$round --acked $WORKLOAD_ACKED.work.$k.$round 2>&1") ||
			fail "round $round: node $k's own fsync'ed data lost: $out"
	done
	kfs_lockd_tables_agree "${survivors[@]}"
	for k in "${survivors[@]}"; do
		kmsg=$(node_run "$k" dmesg)
		! grep -E 'stale copy|cannot become|another node freed it|withdrawn' <<<"$kmsg" ||
			fail "round $round: node $k withdrew, cached a stale metadata block or freed a block twice"
	done
	# The dead node comes back, mounts beside the survivors, and reads what is current.
	kfs_node_rejoin $victim
	kfs_mount $victim
	for k in "${survivors[@]}"; do
		here=$(node_run "$k" "cd $CFS_MNT/work.$k.$round && find . -type f | sort | xargs sha256sum; ls -ln")
		there=$(node_run $victim "cd $CFS_MNT/work.$k.$round && find . -type f | sort | xargs sha256sum; ls -ln")
		if [ "$here" != "$there" ]; then
			vm_log "node $k's own view:"$'\n'"$here"
			vm_log "node $victim's view:"$'\n'"$there"
			check=$(node_run $victim "build/bin/cfs_crashcheck $CFS_MNT/work.$k.$round --acked $WORKLOAD_ACKED.work.$k.$round 2>&1") || :
			vm_log "cfs_crashcheck of node $k's files on node $victim: $check"
			check=$(node_run "$k" "cd $CFS_MNT/work.$k.$round && for f in o*; do od -A d -t x8 \$f | head -n 400 | md5sum; done") || :
			vm_log "node $k's overwrite files by 400 lines: $check"
			fail "round $round: node $k's files as node $victim reads them after rejoining differ (above)"
		fi
	done
	node_run $victim "rm -rf $CFS_MNT/work.*.$round"
	kfs_lockd_tables_agree 1 2 3
	victim=$((victim % 3 + 1))
done

sorted=$(printf '%s\n' "${stalls[@]}" | sort -n)
vm_log "survivors' longest operation per kill (${#stalls[@]} survivors x kills): min $(head -n 1 <<<"$sorted") s, max $(tail -n 1 <<<"$sorted") s"
sorted=$(printf '%s\n' "${readable[@]}" | sort -n)
vm_log "kill to the dead node's files readable on a survivor: min $(head -n 1 <<<"$sorted") s, max $(tail -n 1 <<<"$sorted") s"
for k in 1 2 3; do
	kmsg=$(node_run "$k" dmesg)
	! grep -E 'stale copy|cannot become|another node freed it|withdrawn' <<<"$kmsg" ||
		fail "node $k withdrew, cached a stale metadata block or freed a block twice"
done
for k in 1 2 3; do kfs_umount "$k"; done
kfs_fsck_clean 1
