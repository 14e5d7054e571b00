# clusterfs.ko discards: with -o discard, deleting a file gives its blocks back to the
# device once the freeing transaction is in the journal (the host's image, attached with
# discard=unmap, gets holes); without it nothing is discarded until fstrim (FITRIM), which
# then trims the free space and reports it. Kept data stays intact; fsck is clean.
# nodes: 1
# cluster: --shared-mib 512 --discard
# timeout: 600

source kernel/tests/vm-helpers.sh

# Bytes of the shared image the host has allocated (the image starts fully written).
allocated() { echo $(($(stat -c '%b * %B' "$VM_SHARED_IMAGE"))); }
MiB=$((1024 * 1024))

# released_after_rm FILE: deletes FILE, syncs, prints the bytes the host image lost. The
# last reference of an unlinked inode may be dropped by a worker: sync again for a while
# until the allocation stops changing.
released_after_rm() {
	local before now last i
	before=$(allocated)
	node_run 1 "rm $1 && sync"
	now=$(allocated)
	for i in 1 2 3 4 5; do
		last=$now
		sleep 1
		node_run 1 sync
		now=$(allocated)
		[ "$now" = "$last" ] && break
	done
	echo $((before - now))
}

kfs_load 1
node_run 1 'cat /sys/block/$(basename $(readlink -f $CFS_SHARED_DEV))/queue/discard_max_bytes' |
	grep -qv '^0$' || fail "the guest's shared disk does not support discard"
kfs_mkfs 1

# --- mount -o discard: deleting frees host space after the commit ---------------------------
kfs_mount 1 discard
node_run 1 "dd if=/dev/urandom of=$CFS_MNT/keep bs=1M count=8 status=none && sha256sum $CFS_MNT/keep >/scratch/keep.sum"
node_run 1 "dd if=/dev/urandom of=$CFS_MNT/big bs=1M count=96 conv=fsync status=none"
node_run 1 sync
released=$(released_after_rm $CFS_MNT/big)
vm_log "-o discard: rm of 96 MiB released $((released / MiB)) MiB of the host image"
[ "$released" -ge $((90 * MiB)) ] ||
	fail "-o discard: deleting 96 MiB released only $((released / MiB)) MiB on the host"
# Only what was freed: the never-used free space (about 380 MiB) is still allocated.
[ "$released" -le $((110 * MiB)) ] ||
	fail "-o discard: deleting 96 MiB released $((released / MiB)) MiB: more than was freed"
node_run 1 "sha256sum -c --quiet /scratch/keep.sum" || fail "kept file changed after discards"
kfs_umount 1
kfs_fsck_clean 1

# --- without discard: nothing until fstrim ------------------------------------------------
kfs_mount 1 nodiscard
node_run 1 "dd if=/dev/urandom of=$CFS_MNT/big bs=1M count=96 conv=fsync status=none"
node_run 1 sync
released=$(released_after_rm $CFS_MNT/big)
[ "$released" -lt $((8 * MiB)) ] || fail "nodiscard: deleting released $((released / MiB)) MiB on the host"
after=$(allocated)
free_bytes=$(node_run 1 "stat -f -c '%f * %S' $CFS_MNT")
free_bytes=$((free_bytes))
out=$(node_run 1 "fstrim -v $CFS_MNT") || fail "fstrim failed: $out"
trimmed=$(sed -n 's/.*(\([0-9]*\) bytes) trimmed.*/\1/p' <<<"$out")
trimmed_after=$(allocated)
vm_log "fstrim: '$out'; host image released $(((after - trimmed_after) / MiB)) MiB"
# Every free block, nothing else: what statfs counts as free.
assert_eq "$free_bytes" "$trimmed" "bytes fstrim reports trimmed (free space per statfs)"
[ $((after - trimmed_after)) -ge $((90 * MiB)) ] ||
	fail "fstrim released only $(((after - trimmed_after) / MiB)) MiB on the host"
# Only free space was trimmed: the kept file reads back (uncached) intact.
node_run 1 "echo 3 >/proc/sys/vm/drop_caches && sha256sum -c --quiet /scratch/keep.sum" ||
	fail "kept file changed after fstrim"
# FITRIM's argument checks: a start past the end, and a non-root caller.
node_expect_fail 1 "fstrim past the end of the filesystem" "fstrim -o 1T $CFS_MNT 2>&1"
node_expect_fail 1 "fstrim by an unprivileged user" \
	"setpriv --reuid=65534 --regid=65534 --clear-groups fstrim $CFS_MNT 2>&1"
kfs_umount 1
kfs_fsck_clean 1

# Everything survives a remount.
kfs_mount 1
node_run 1 "sha256sum -c --quiet /scratch/keep.sum" || fail "kept file changed after remount"
kfs_umount 1
kfs_fsck_clean 1
