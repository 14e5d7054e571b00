#!/usr/bin/env bash
# Validates the POSIX test programs on filesystems whose behaviour is known to be right:
# a tmpfs and loop-mounted ext4 (4 KiB and 1 KiB blocks) and XFS images, all created here and
# removed at the end.
# A program that fails here has a bug of its own; on clusterfs it would blame the module.
#
# usage: tests/posix/selftest.sh BINDIR      (make test-posix-selftest; needs root to mount)
# Bounded to about two minutes: every program runs under `timeout`.
set -u
bin=$(cd "${1:?usage: selftest.sh BINDIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
for p in cfs_posix_suite cfs_fsx cfs_crashwork cfs_crashcheck cfs_attrs cfs_dio_unaligned; do
	[ -x "$bin/$p" ] || { echo "selftest: $bin/$p missing (make it first)" >&2; exit 2; }
done

failures=0
remount=  # command that unmounts and mounts the filesystem under test again, if possible
work=$(mktemp -d /tmp/cfs-posix-selftest.XXXXXX)
mounted=()
cleanup() {
	local m
	for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
	rm -rf "$work"
}
trap cleanup EXIT

step() { echo "--- $*"; }
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# run NAME TIMEOUT CMD...: the command must exit 0 within TIMEOUT seconds.
run() {
	local name=$1 limit=$2 rc
	shift 2
	timeout -s KILL "$limit" "$@"
	rc=$?
	if [ "$rc" -eq 0 ]; then pass "$name"; else fail "$name (exit $rc)"; fi
}

# expect_failure NAME CMD...: a deliberately broken state the command must report (exit 1).
expect_failure() {
	local name=$1 rc
	shift
	timeout -s KILL 60 "$@" >"$work/expect.log" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ]; then
		pass "$name (detected: $(grep -m1 -E 'LOSS|FAIL' "$work/expect.log"))"
	else
		fail "$name: expected exit 1, got $rc"
		cat "$work/expect.log"
	fi
}

# The crash loop in miniature: SIGKILL the workload at a random moment, verify, resume.
crash_loop() {
	local fs=$1 dir=$2 rounds=$3 i
	mkdir -p "$dir"
	for ((i = 1; i <= rounds; i++)); do
		"$bin/cfs_crashwork" "$dir" --seed "$i" --segment-bytes 65536 >/dev/null &
		local pid=$!
		sleep "0.$((RANDOM % 9 + 1))"
		kill -KILL "$pid"
		# It runs until killed: any other end is a failure of the workload.
		wait "$pid" 2>/dev/null
		local status=$?
		if [ "$status" -ne 137 ]; then
			fail "$fs: cfs_crashwork ended by itself (status $status) before SIGKILL $i"
			return
		fi
		# Where the filesystem can be remounted, check what comes back from the disk.
		if [ -n "$remount" ] && ! eval "$remount"; then
			fail "$fs: remount after SIGKILL $i"
			return
		fi
		run "$fs: crashcheck after SIGKILL $i/$rounds" 60 "$bin/cfs_crashcheck" "$dir"
	done
	# Short rounds may end before an append segment fills up: then run on (bounded) until
	# one is retired, so that the retirement path is always checked.
	if ! grep -q '^D ' "$dir/.manifest"; then
		timeout -s KILL 60 "$bin/cfs_crashwork" "$dir" --seed 77 --ops 3000 --segment-bytes 65536 >/dev/null ||
			fail "$fs: cfs_crashwork --ops 3000"
		run "$fs: crashcheck after the bounded run" 60 "$bin/cfs_crashcheck" "$dir"
	fi
	grep -q '^D ' "$dir/.manifest" && pass "$fs: crash loop retired append segments" ||
		fail "$fs: no append segment retired, even after 3000 more operations"
}

# Damages a copy of a verified crash directory in the ways a broken filesystem would and
# checks that cfs_crashcheck reports each one: the checker must be able to fail.
crashcheck_detects_damage() {
	local fs=$1 src=$2 d=$work/damage
	local rfile afile
	rfile=$(awk '$1 == "R" { print $2 }' "$src/.manifest" | tail -1)
	afile=$(awk '$1 == "A" { n[$2] = $4 } $1 == "D" { delete n[$2] } END { for (f in n) if (n[f] > 4096) print f }' \
		"$src/.manifest" | head -1)
	rm -rf "$d" && cp -a "$src" "$d"
	printf '\xff' | dd of="$d/$rfile" bs=1 seek=200 conv=notrunc status=none
	expect_failure "$fs: crashcheck detects a corrupted byte in $rfile" "$bin/cfs_crashcheck" "$d"
	rm -rf "$d" && cp -a "$src" "$d"
	rm "$d/$rfile"
	expect_failure "$fs: crashcheck detects a lost file $rfile" "$bin/cfs_crashcheck" "$d"
	# Two blocks of an overwrite file (at most one rewrite can be in flight, so at least one
	# of them must hold exactly its synced generation).
	rm -rf "$d" && cp -a "$src" "$d"
	printf '\xff' | dd of="$d/o0" bs=1 seek=4196 conv=notrunc status=none
	printf '\xff' | dd of="$d/o0" bs=1 seek=8292 conv=notrunc status=none
	expect_failure "$fs: crashcheck detects corrupted blocks in o0" "$bin/cfs_crashcheck" "$d"
	rm -rf "$d" && cp -a "$src" "$d"
	cp "$d/$rfile" "$work/older-$rfile"
	cp "$d/o0" "$work/older-o0"
	# Later states on top, then older content put back: a rolled-back fsync / fdatasync.
	local r_before r_after o_before o_after
	r_before=$(awk -v f="$rfile" '$1 == "R" && $2 == f' "$d/.manifest" | wc -l)
	o_before=$(awk '$1 == "O" && $2 == "o0"' "$d/.manifest" | wc -l)
	"$bin/cfs_crashwork" "$d" --seed 99 --ops 200 --segment-bytes 300000 >/dev/null
	r_after=$(awk -v f="$rfile" '$1 == "R" && $2 == f' "$d/.manifest" | wc -l)
	o_after=$(awk '$1 == "O" && $2 == "o0"' "$d/.manifest" | wc -l)
	if [ "$r_after" -gt "$r_before" ]; then
		cp "$d/$rfile" "$work/newer-$rfile"
		cp "$work/older-$rfile" "$d/$rfile"
		expect_failure "$fs: crashcheck detects $rfile rolled back to an older generation" \
			"$bin/cfs_crashcheck" "$d"
		cp "$work/newer-$rfile" "$d/$rfile"
	else
		fail "$fs: $rfile was not rewritten in 200 operations"
	fi
	if [ "$o_after" -gt "$o_before" ]; then
		cp "$work/older-o0" "$d/o0"
		expect_failure "$fs: crashcheck detects o0 blocks rolled back to older generations" \
			"$bin/cfs_crashcheck" "$d"
	else
		fail "$fs: o0 was not rewritten in 200 operations"
	fi
	if [ -n "$afile" ]; then
		rm -rf "$d" && cp -a "$src" "$d"
		truncate -s "$(($(awk -v f="$afile" '$1 == "A" && $2 == f { n = $4 } END { print n }' "$src/.manifest") - 1))" \
			"$d/$afile"
		expect_failure "$fs: crashcheck detects $afile shorter than fsync'ed" "$bin/cfs_crashcheck" "$d"
		rm -rf "$d" && cp -a "$src" "$d"
		truncate -s "$(awk -v f="$afile" '$1 == "A" && $2 == f { n = $4 } END { print n }' "$src/.manifest")" "$d/$afile"
		printf 'stale data' >>"$d/$afile"
		expect_failure "$fs: crashcheck detects foreign bytes past $afile's fsync'ed end" "$bin/cfs_crashcheck" "$d"
	else
		fail "$fs: no append file large enough to damage"
	fi
	rm -rf "$d" && cp -a "$src" "$d"
	sed -i '3s/ /  /' "$d/.manifest"
	expect_failure "$fs: crashcheck detects a damaged manifest record" "$bin/cfs_crashcheck" "$d"
	# The oracle itself losing fsync'ed records: files run ahead of what it says.
	rm -rf "$d" && cp -a "$src" "$d"
	local lost=$(($(wc -l <"$src/.manifest") / 2))
	head -n "-$lost" "$src/.manifest" >"$d/.manifest"
	expect_failure "$fs: crashcheck detects a manifest that lost its last $lost records" "$bin/cfs_crashcheck" "$d"
	# A whole directory rolled back to an earlier consistent state (the manifest's tail lost
	# with the very files it names): only the count acknowledged outside shows it.
	rm -rf "$d" "$d.old" && cp -a "$src" "$d"
	"$bin/cfs_crashwork" "$d" --seed 5 --ops 20 --segment-bytes 300000 >/dev/null || fail "$fs: cfs_crashwork --ops 20"
	cp -a "$d" "$d.old"
	"$bin/cfs_crashwork" "$d" --seed 6 --ops 20 --segment-bytes 300000 --ack "$work/acked" >/dev/null ||
		fail "$fs: cfs_crashwork --ack"
	run "$fs: crashcheck --acked of the current directory" 60 "$bin/cfs_crashcheck" "$d" --acked "$work/acked"
	run "$fs: crashcheck without --acked cannot see the rollback" 60 "$bin/cfs_crashcheck" "$d.old"
	expect_failure "$fs: crashcheck --acked detects the directory rolled back 20 operations" \
		"$bin/cfs_crashcheck" "$d.old" --acked "$work/acked"
	rm -rf "$d" "$d.old"
}

# check_fs NAME MOUNTPOINT SUITE-ARGS...
check_fs() {
	local fs=$1 mnt=$2
	shift 2
	# The VM tests' entry point: the suite, then cfs_fsx seeds 1-4 (2 and 4 on small files,
	# crossing the inline / block-mapped boundary again and again).
	step "$fs: run-posix-tests.sh -- $*"
	timeout -s KILL 150 "$here/run-posix-tests.sh" "$bin" "$mnt" --fsx-seeds 4 --fsx-ops 4000 -- "$@" \
		>"$work/run.log" 2>&1
	local rc=$?
	grep -v -e '^ok ' -e '^cfs_fsx: file ' "$work/run.log"
	if [ "$rc" -eq 0 ]; then pass "$fs: suite and cfs_fsx"; else fail "$fs: suite and cfs_fsx (exit $rc)"; fi
	expect_failure "$fs: cfs_fsx detects a model/file mismatch" \
		"$bin/cfs_fsx" "$mnt" --seed 4 --ops 1000 --corrupt-model-at 300
	rm -f "$mnt"/cfs_fsx.4.*

	if [ "$(id -u)" -eq 0 ]; then
		step "$fs: cfs_attrs${remount:+ (verified after a remount)}"
		timeout -s KILL 60 "$bin/cfs_attrs" apply "$mnt/attrs" >"$work/attrs.log" 2>&1
		rc=$?
		grep -v '^ok ' "$work/attrs.log"
		if [ "$rc" -eq 0 ]; then pass "$fs: cfs_attrs apply"; else fail "$fs: cfs_attrs apply (exit $rc)"; fi
		if [ -n "$remount" ] && ! eval "$remount"; then
			fail "$fs: remount before cfs_attrs verify"
		fi
		timeout -s KILL 60 "$bin/cfs_attrs" verify "$mnt/attrs" >"$work/attrs.log" 2>&1
		rc=$?
		grep -v '^ok ' "$work/attrs.log"
		if [ "$rc" -eq 0 ]; then pass "$fs: cfs_attrs verify"; else fail "$fs: cfs_attrs verify (exit $rc)"; fi
		chown 1:1 "$mnt/attrs/a/fifo"
		expect_failure "$fs: cfs_attrs detects an owner it did not set" "$bin/cfs_attrs" verify "$mnt/attrs"
		rm -rf "$mnt/attrs"
	fi

	step "$fs: crash loop (SIGKILL)"
	crash_loop "$fs" "$mnt/crash" 4
	crashcheck_detects_damage "$fs" "$mnt/crash"
	rm -rf "$mnt/crash"
}

if [ "$(id -u)" -ne 0 ]; then
	# Without root nothing can be mounted: test in a directory of whatever filesystem holds
	# /tmp, and say so; the ext4/tmpfs coverage needs root.
	echo "SKIP: not-root: tmpfs, ext4 and XFS (cannot mount); checked on $(stat -f -c %T "$work") only"
	check_fs "$(stat -f -c %T "$work")" "$work"
else
	mkdir "$work/tmpfs" "$work/mnt"
	step "tmpfs"
	if mount -t tmpfs -o size=1g cfs-selftest "$work/tmpfs"; then
		mounted+=("$work/tmpfs")
		# tmpfs has no block device: it accepts misaligned O_DIRECT, and keeps bytes stored
		# through mmap past EOF when the file grows again. Neither is what clusterfs must do.
		check_fs tmpfs "$work/tmpfs" --skip odirect-alignment --skip mmap-eof
		umount "$work/tmpfs" && mounted=()
	else
		fail "mount tmpfs"
	fi

	mnt=$work/mnt
	# on_image NAME "MKFS COMMAND" SUITE-ARGS...: a fresh 3 GiB sparse image, the full check.
	on_image() {
		local fs=$1 mkfs=$2
		shift 2
		step "$fs (loop image)"
		# A new image file per filesystem: a loop device still detaching from the previous
		# one must never be reused with its stale cached blocks.
		img=$work/$fs.img
		truncate -s 3G "$img"
		if ! $mkfs "$img" >/dev/null || ! mount -o loop "$img" "$mnt"; then
			fail "$fs: mkfs/mount"
			return
		fi
		mounted+=("$mnt")
		remount="umount '$mnt' && mount -o loop '$img' '$mnt'"
		check_fs "$fs" "$mnt" "$@"
		remount=
		# Block devices only: tmpfs has no blocks to share between sector writes.
		step "$fs: cfs_dio_unaligned"
		run "$fs: cfs_dio_unaligned" 120 "$bin/cfs_dio_unaligned" "$mnt/dio" --iterations 10
		expect_failure "$fs: cfs_dio_unaligned detects a lost sector" \
			"$bin/cfs_dio_unaligned" "$mnt/dio" --iterations 1 --inject-loss
		rm -rf "$mnt/dio"
		umount "$mnt" && mounted=()
		rm -f "$img"
	}
	# 256-byte inodes: nanosecond and post-2038 timestamps.
	on_image ext4 "mkfs.ext4 -q -F -I 256 -b 4096" --bigdir 20000
	# XFS is the iomap reference. Where it differs from what clusterfs must do (and POSIX
	# allows it): EEXIST for a rename over a non-empty directory, symlinks of at most 1024
	# bytes, device numbers limited to the old 14/18-bit encoding.
	# (xfsprogs is one of scripts/install-deps.sh's packages: without it this fails.)
	on_image xfs "mkfs.xfs -q -f" --skip rename.dir-over-nonempty-dir-ENOTEMPTY \
		--skip symlink.block-backed --skip mknod-dev.char-wide
	# 1 KiB blocks: the smallest block size clusterfs supports; the suite must adapt.
	step "ext4 with 1 KiB blocks"
	img=$work/ext4-1k.img
	truncate -s 3G "$img"
	if mkfs.ext4 -q -F -I 256 -b 1024 "$img" && mount -o loop "$img" "$mnt"; then
		mounted+=("$mnt")
		# --drop-caches (system-wide, so only here): later features read metadata from disk.
		timeout -s KILL 90 "$bin/cfs_posix_suite" "$mnt" --drop-caches >"$work/suite.log" 2>&1
		rc=$?
		grep -v '^ok ' "$work/suite.log"
		if [ "$rc" -eq 0 ]; then pass "ext4-1k: cfs_posix_suite"; else fail "ext4-1k: cfs_posix_suite (exit $rc)"; fi
		run "ext4-1k: cfs_fsx" 60 "$bin/cfs_fsx" "$mnt" --seed 11 --ops 3000
		umount "$mnt" && mounted=()
	else
		fail "mkfs/mount ext4 image with 1 KiB blocks"
	fi
fi

if [ "$failures" -eq 0 ]; then
	echo "posix-selftest: all checks passed"
else
	echo "posix-selftest: $failures failures"
fi
[ "$failures" -eq 0 ]
