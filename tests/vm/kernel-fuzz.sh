# Mount fuzzing: a populated filesystem is damaged on the host, block by block, with
# kernel/tests/cfs_mutate.py (fields of 1-3 metadata blocks of every type, the CRC
# usually recomputed so the damage reaches the verifiers and the code behind them), then
# mounted and used in the VM: walk, read every file, write, unmount. The mount may be
# refused, I/O may fail and the filesystem may withdraw; the kernel must never oops,
# warn or hang (the harness fails the test on any of these on the console), and the
# unmount must always work; a mount killed by its time limit is a hang, not a refusal
# (a refusal is mount's status 32). fsck.clusterfs -y then runs on the damaged image and
# -n after it, always: -y exit 0 or 1 (clean, corrected) needs -n clean; exit 4 (left
# uncorrected) passes only when every "not repaired" line is a documented limit of this
# fsck (KNOWN_UNREPAIRABLE below) and -n still says 4; exit 8 (operational error) only for
# a superblock fsck cannot recognise (KNOWN_OPERATIONAL) and -n says 8 too; anything else
# fails. Each exception is counted by reason and printed in the summary.
# CFS_FUZZ_ITERATIONS (default 30) and CFS_FUZZ_SEED (default: the time) choose the run:
# iteration I damages with seed CFS_FUZZ_SEED+I-1. The populated image is saved as
# $VM_LOG_DIR/pristine.img; a failure saves the damaged image next to it and prints the
# commands that rebuild it on the host and rerun that one image in the VM
# (CFS_FUZZ_PRISTINE=FILE starts from a saved pristine image instead of populating).
# nodes: 1
# cluster: --shared-mib 64
# timeout: 1200

source kernel/tests/vm-helpers.sh

iterations=${CFS_FUZZ_ITERATIONS:-30}
base_seed=${CFS_FUZZ_SEED:-$(date +%s)}
[[ $base_seed =~ ^[0-9]+$ && $iterations =~ ^[1-9][0-9]*$ ]] ||
	fail "CFS_FUZZ_SEED ($base_seed) and CFS_FUZZ_ITERATIONS ($iterations) must be numbers"
[ -n "${VM_SHARED_IMAGE:-}" ] || fail "the harness did not export VM_SHARED_IMAGE"
pristine=$VM_LOG_DIR/pristine.img
vm_log "fuzz: seeds $base_seed-$((base_seed + iterations - 1)); rerun this run with CFS_FUZZ_SEED=$base_seed CFS_FUZZ_ITERATIONS=$iterations make vmtest T=kernel-fuzz"

# "not repaired" reasons that are documented limits of this fsck (docs/fsck.md): format
# v1 keeps no copy of the superblock, rindex or jindex to rebuild from, journals cannot
# be reset or rebuilt, a damaged committed journal record is never replayed, a block
# with two owners is the operator's decision, and nothing is linked into /lost+found
# while a bitmap stays unrepaired. Any other reason is a failure.
KNOWN_UNREPAIRABLE='not supported by this version|cannot be rebuilt by this version|resolve by hand|replay refused: nothing written|journals cannot be checked or replayed|lost\+found: the bitmaps were not repaired'
# Operational errors (exit 8) that damage may legitimately cause: the superblock no longer
# reads as one (fsck cannot tell damage from another filesystem) or claims more blocks
# than the device has (it cannot tell a damaged count from a truncated device).
KNOWN_OPERATIONAL='no clusterfs superblock at byte|truncated image or wrong device'
declare -A exceptions=()
mounted_count=0 refused_count=0 clean_count=0 corrected_count=0

# fuzz_fail MSG: saves the damaged image this iteration started from and says how to get
# it again, then fails the test.
fuzz_fail() {
	local damaged=$VM_LOG_DIR/damaged-seed-$seed.img
	cp "$pristine" "$damaged" && python3 kernel/tests/cfs_mutate.py "$damaged" "$seed" >/dev/null ||
		vm_log "could not save the damaged image"
	vm_log "fuzz: iteration $it failed; damaged image: $damaged"
	vm_log "fuzz: rebuild it on the host: cp $pristine /tmp/d.img && python3 kernel/tests/cfs_mutate.py /tmp/d.img $seed && build/bin/fsck.clusterfs -y /tmp/d.img"
	vm_log "fuzz: rerun it in the VM: CFS_FUZZ_PRISTINE=$pristine CFS_FUZZ_SEED=$seed CFS_FUZZ_ITERATIONS=1 make vmtest T=kernel-fuzz"
	fail "$* (seed $seed: $damage)"
}

kfs_load 1
if [ -n "${CFS_FUZZ_PRISTINE:-}" ]; then
	[ "$(stat -c %s "$CFS_FUZZ_PRISTINE")" = "$(stat -c %s "$VM_SHARED_IMAGE")" ] ||
		fail "CFS_FUZZ_PRISTINE $CFS_FUZZ_PRISTINE is not the size of the shared disk"
	cp "$CFS_FUZZ_PRISTINE" "$pristine"
	vm_log "fuzz: starting from $CFS_FUZZ_PRISTINE"
else
	node_run 1 "$KFS_BIN/mkfs.clusterfs -q -O -p lock_nolock -j 1 -J 8 \$CFS_SHARED_DEV"
	kfs_mount 1
	# Every kind of metadata: inline and block-mapped files (heights 1 and 2), a hashed
	# directory with a few leaves, symlinks inline and in a block, special files, a sparse
	# file, nested directories, xattr blocks (user and trusted values, access and default
	# ACLs).
	node_run 1 -t 300 "set -e; cd $CFS_MNT
		mkdir -p d1/d2/d3 big
		for i in \$(seq 1 40); do head -c \$((i * 97)) /dev/urandom >d1/small\$i; done
		head -c 300000 /dev/urandom >d1/d2/medium
		head -c 1 /dev/urandom | dd of=d1/d2/sparse bs=1 seek=\$((8 << 20)) status=none
		for i in \$(seq 1 600); do : >big/entry-with-a-longer-name-\$i; done
		ln -s d1/small1 link-short
		ln -s \$(printf 'x%.0s' \$(seq 1 1500)) link-long
		mkfifo fifo; mknod chr c 1 3; mknod blk b 7 0
		echo hello >d1/d2/d3/deep
		for i in \$(seq 1 8); do setfattr -n user.k\$i -v value\$i d1/small\$i; done
		setfattr -n trusted.t -v \$(printf '%0300d' 7) d1/small9
		setfacl -m u:1234:rw,g:99:r d1/small10 && setfacl -d -m u:1234:rx d1/d2 && : >d1/d2/inherits"
	kfs_umount 1
	kfs_fsck_clean 1
	cp "$VM_SHARED_IMAGE" "$pristine" || fail "cannot save the pristine image"
fi

for ((it = 1; it <= iterations; it++)); do
	seed=$((base_seed + it - 1))
	damage=
	dd if="$pristine" of="$VM_SHARED_IMAGE" bs=1M conv=notrunc status=none || fail "cannot restore the image"
	damage=$(python3 kernel/tests/cfs_mutate.py "$VM_SHARED_IMAGE" "$seed") || fuzz_fail "cfs_mutate.py failed"
	vm_log "fuzz $it/$iterations seed $seed: $(tr '\n' ';' <<<"$damage")"
	# The node must not see its own cached copy of the blocks the host just changed.
	node_run 1 'blockdev --flushbufs $CFS_SHARED_DEV && echo 3 >/proc/sys/vm/drop_caches'
	# mount(8) says 32 when the kernel refused; timeout's 124 (or a kill) is a hang.
	mount_rc=$(node_run 1 -t 90 "rc=0; timeout 60 mount -t clusterfs \$CFS_SHARED_DEV $CFS_MNT 2>/tmp/mount.err || rc=\$?; echo \$rc") ||
		fuzz_fail "mount did not return"
	case $mount_rc in
	0) mounted=yes ;;
	32) mounted=no ;;
	124 | 137) fuzz_fail "mount hung (killed by its 60 s limit)" ;;
	*) fuzz_fail "mount exited $mount_rc, neither mounted nor refused: $(node_run 1 'cat /tmp/mount.err')" ;;
	esac
	if [ "$mounted" = yes ]; then
		mounted_count=$((mounted_count + 1))
		# Errors are expected (the shell ends with true); a hang is not (timeout exits 124).
		use_rc=0
		node_run 1 -t 200 "cd $CFS_MNT; timeout 120 sh -c '
			ls -lRa . >/dev/null 2>&1; find . -type f -exec cat {} + >/dev/null 2>&1
			getfattr -R -d -m - . >/dev/null 2>&1; getfacl -R . >/dev/null 2>&1
			setfattr -n user.new -v x d1/small3 2>/dev/null; setfacl -b d1/small10 2>/dev/null
			find . -type l -exec readlink {} + >/dev/null 2>&1; df . >/dev/null 2>&1
			mkdir -p new 2>/dev/null; head -c 20000 /dev/zero >new/f 2>/dev/null
			echo small >new/g 2>/dev/null; rm -rf d1/d2 big/entry-with-a-longer-name-7 2>/dev/null
			mv d1 d1-moved 2>/dev/null; touch link-short 2>/dev/null; sync; true' 2>/dev/null" || use_rc=$?
		[ "$use_rc" -eq 0 ] || fuzz_fail "using the damaged filesystem: status $use_rc (124: hung)"
		node_run 1 -t 90 "cd / && timeout 60 umount $CFS_MNT" || fuzz_fail "unmount failed after damage"
	else
		refused_count=$((refused_count + 1))
	fi
	vm_log "fuzz $it: mounted $mounted"
	# fsck -y, then -n on what -y left: no crash, no hang, and the two agree (see the top).
	rc=$(node_run 1 -t 200 "rc=0; timeout 120 $KFS_BIN/fsck.clusterfs -y \$CFS_SHARED_DEV >/tmp/fsck-y.log 2>&1 || rc=\$?; echo \$rc")
	ylog=$(node_run 1 'cat /tmp/fsck-y.log')
	nrc=$(node_run 1 -t 200 "rc=0; timeout 120 $KFS_BIN/fsck.clusterfs -n \$CFS_SHARED_DEV >/tmp/fsck-n.log 2>&1 || rc=\$?; echo \$rc")
	nlog=$(node_run 1 'cat /tmp/fsck-n.log')
	case $rc in
	0 | 1)
		[ "$nrc" -eq 0 ] || fuzz_fail "fsck -y exited $rc (clean or repaired) but fsck -n then exits $nrc: $(tail -n 20 <<<"$nlog")"
		if [ "$rc" -eq 0 ]; then clean_count=$((clean_count + 1)); else corrected_count=$((corrected_count + 1)); fi
		;;
	4 | 5)
		unknown=$(grep 'not repaired: ' <<<"$ylog" | grep -Ev "$KNOWN_UNREPAIRABLE" || :)
		[ -z "$unknown" ] || fuzz_fail "fsck -y exited $rc, leaving damage it does not document as unrepairable: $unknown"
		grep -q 'not repaired: ' <<<"$ylog" || fuzz_fail "fsck -y exited $rc without saying what it did not repair: $(tail -n 20 <<<"$ylog")"
		[ "$nrc" -eq 4 ] || fuzz_fail "fsck -y exited $rc (left uncorrected) but fsck -n then exits $nrc: $(tail -n 20 <<<"$nlog")"
		while read -r reason; do
			exceptions["exit $rc: $reason"]=$((${exceptions["exit $rc: $reason"]:-0} + 1))
		done < <(grep 'not repaired: ' <<<"$ylog" | grep -oE "$KNOWN_UNREPAIRABLE" | sort -u)
		;;
	8)
		reason=$(grep -oE "$KNOWN_OPERATIONAL" <<<"$ylog" | head -n 1 || :)
		[ -n "$reason" ] || fuzz_fail "fsck -y: operational error (exit 8) on a damaged image: $(tail -n 20 <<<"$ylog")"
		[ "$nrc" -eq 8 ] || fuzz_fail "fsck -y exited 8 ($reason) but fsck -n exits $nrc"
		exceptions["exit 8: $reason"]=$((${exceptions["exit 8: $reason"]:-0} + 1))
		;;
	*) fuzz_fail "fsck.clusterfs -y exited $rc (124: hung, >= 128: killed by a signal): $(tail -n 20 <<<"$ylog")" ;;
	esac
	vm_log "fuzz $it: fsck -y exit $rc, -n exit $nrc"
done
vm_log "fuzz summary: $iterations damaged images (seeds $base_seed-$((base_seed + iterations - 1))): mounted and used $mounted_count, mount refused $refused_count; fsck -y found nothing $clean_count, repaired all $corrected_count, counted exceptions $((iterations - clean_count - corrected_count))"
for reason in "${!exceptions[@]}"; do
	vm_log "fuzz summary: exception ${exceptions[$reason]}x: $reason"
done
