# Mount fuzzing: a populated filesystem is damaged on the host, block by block, with
# kernel/tests/cfs_mutate.py (fields of 1-3 metadata blocks of every type, the CRC
# usually recomputed so the damage reaches the verifiers and the code behind them), then
# mounted and used in the VM: walk, read every file, write, unmount. The mount may be
# refused, I/O may fail and the filesystem may withdraw; the kernel must never oops,
# warn or hang (the harness fails the test on any of these on the console), and the
# unmount must always work. fsck.clusterfs then runs on the damaged image: it must not
# crash, and when `-y` says it repaired everything, `-n` must find it clean.
# CFS_FUZZ_ITERATIONS (default 30) and CFS_FUZZ_SEED (default: the time) choose the run;
# every iteration logs its seed and the damage, to replay one: CFS_FUZZ_SEED=S
# CFS_FUZZ_ITERATIONS=1.
# nodes: 1
# cluster: --shared-mib 64
# timeout: 1200

source kernel/tests/vm-helpers.sh

iterations=${CFS_FUZZ_ITERATIONS:-30}
base_seed=${CFS_FUZZ_SEED:-$(date +%s)}
[ -n "${VM_SHARED_IMAGE:-}" ] || fail "the harness did not export VM_SHARED_IMAGE"
pristine=$VM_LOG_DIR/pristine.img

kfs_load 1
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

for ((it = 1; it <= iterations; it++)); do
	seed=$((base_seed + it))
	dd if="$pristine" of="$VM_SHARED_IMAGE" bs=1M conv=notrunc status=none || fail "cannot restore the image"
	damage=$(python3 kernel/tests/cfs_mutate.py "$VM_SHARED_IMAGE" "$seed") || fail "cfs_mutate.py failed (seed $seed)"
	vm_log "fuzz $it/$iterations seed $seed: $(tr '\n' ';' <<<"$damage")"
	# The node must not see its own cached copy of the blocks the host just changed.
	node_run 1 'blockdev --flushbufs $CFS_SHARED_DEV && echo 3 >/proc/sys/vm/drop_caches'
	mounted=$(node_run 1 -t 90 "if timeout 60 mount -t clusterfs \$CFS_SHARED_DEV $CFS_MNT 2>/dev/null; then echo yes; else echo no; fi") ||
		fail "mount did not return (seed $seed)"
	if [ "$mounted" = yes ]; then
		# Errors are expected; a hang is not (timeout 120 exits 124).
		node_run 1 -t 200 "cd $CFS_MNT && timeout 120 sh -c '
			ls -lRa . >/dev/null 2>&1; find . -type f -exec cat {} + >/dev/null 2>&1
			getfattr -R -d -m - . >/dev/null 2>&1; getfacl -R . >/dev/null 2>&1
			setfattr -n user.new -v x d1/small3 2>/dev/null; setfacl -b d1/small10 2>/dev/null
			find . -type l -exec readlink {} + >/dev/null 2>&1; df . >/dev/null 2>&1
			mkdir -p new 2>/dev/null; head -c 20000 /dev/zero >new/f 2>/dev/null
			echo small >new/g 2>/dev/null; rm -rf d1/d2 big/entry-with-a-longer-name-7 2>/dev/null
			mv d1 d1-moved 2>/dev/null; touch link-short 2>/dev/null; sync; true' 2>/dev/null
			test \$? -ne 124" ||
			fail "filesystem use hung after damage (seed $seed: $damage)"
		node_run 1 -t 90 "cd / && timeout 60 umount $CFS_MNT" || fail "unmount failed after damage (seed $seed: $damage)"
	fi
	vm_log "fuzz $it: mounted $mounted"
	# fsck on the damaged image: no crash (exit >= 128: a signal); a claimed full repair
	# must leave it clean.
	rc=$(node_run 1 -t 200 "timeout 120 $KFS_BIN/fsck.clusterfs -y \$CFS_SHARED_DEV >/tmp/fsck-y.log 2>&1; echo \$?")
	[ "$rc" -lt 8 ] || [ "$rc" -eq 8 ] || fail "fsck.clusterfs -y exited $rc (seed $seed: $damage): $(node_run 1 'tail -n 20 /tmp/fsck-y.log')"
	if [ "$rc" -le 1 ]; then
		out=$(node_run 1 -t 200 "timeout 120 $KFS_BIN/fsck.clusterfs -n \$CFS_SHARED_DEV 2>&1") ||
			fail "fsck -y exited $rc (repaired) but fsck -n still finds problems (seed $seed: $damage): $out"
	fi
	vm_log "fuzz $it: fsck -y exit $rc"
done
vm_log "fuzz: $iterations damaged images mounted and used, seeds $((base_seed + 1))-$((base_seed + iterations))"
