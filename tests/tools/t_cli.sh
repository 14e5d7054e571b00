# Command lines, exit statuses and error messages of fsck.clusterfs and clusterfs_tool
# on bad input: wrong usage, missing devices, foreign filesystems, truncated images.
. ./lib.sh

img=$WORK/cli.img
new_image cli.img 64M -b 4096 -j 1 -J 8 -p lock_nolock

# fsck(8) usage errors: 16.
expect_rc 16 "fsck without a device" "$FSCK" -n
expect_rc 16 "fsck with two devices" "$FSCK" -n "$img" "$img"
expect_rc 16 "fsck -n and -y together" "$FSCK" -n -y "$img"
expect_out "exclude each other" "fsck says why -n -y is refused"
expect_rc 16 "fsck unknown option" "$FSCK" -Q "$img"
expect_rc 16 "fsck without a mode and without a terminal" "$FSCK" "$img" </dev/null
expect_out "no terminal" "fsck asks for -n, -y or -p"
expect_rc 0 "fsck -V" "$FSCK" -V

# Operational errors: 8, with a sentence naming the problem.
expect_rc 8 "fsck on a missing device" "$FSCK" -n "$WORK/missing.img"
expect_out "cannot open .*No such file" "fsck names the open error"
truncate -s 64M "$WORK/zero.img"
expect_rc 8 "fsck on zeros" "$FSCK" -n "$WORK/zero.img"
expect_out "no clusterfs superblock at byte 65536" "fsck says there is no superblock"
# (e2fsprogs is one of scripts/install-deps.sh's packages: no mkfs.ext4 is a failure.)
truncate -s 64M "$WORK/ext4.img"
mkfs.ext4 -q -F "$WORK/ext4.img" || fail "mkfs.ext4 of a scratch image failed"
expect_rc 8 "fsck on ext4" "$FSCK" -n "$WORK/ext4.img"
expect_out "contains a ext4 filesystem" "fsck names the foreign filesystem"
expect_rc 1 "tool on ext4" "$TOOL" sb "$WORK/ext4.img"
expect_out "ext4" "tool names the foreign filesystem"
cp --sparse=always "$img" "$WORK/short.img"
truncate -s 32M "$WORK/short.img"
expect_rc 8 "fsck on a truncated image" "$FSCK" -n "$WORK/short.img"
expect_out "truncated image or wrong device" "fsck says the image is truncated"
expect_rc 1 "tool on a truncated image" "$TOOL" df "$WORK/short.img"
expect_out "truncated image" "tool says the image is truncated"

# Tool usage and object errors.
expect_rc 2 "tool inode without a number" "$TOOL" inode "$img"
expect_rc 2 "tool inode with a non-number" "$TOOL" inode "$img" abc
expect_rc 2 "tool unknown option" "$TOOL" sb --bogus "$img"
expect_rc 1 "tool on a missing device" "$TOOL" sb "$WORK/missing.img"
expect_out "cannot open" "tool names the open error"
expect_rc 3 "tool blk past the end" "$TOOL" blk "$img" 99999999
expect_out "past the end" "tool says the block is past the end"
expect_rc 3 "tool inode on a non-dinode" "$TOOL" inode "$img" 17
expect_out "not a metadata block|holds a" "tool says the block is no dinode"
expect_rc 3 "tool dir on a missing path" "$TOOL" dir "$img" /no/such
expect_out "no entry 'no'" "tool names the missing component"

# Every command has a --json form that jq accepts.
root=$("$TOOL" sb --json "$img" | jq .root_inode)
for c in "sb" "rgrps" "journals" "df" "inode $root" "dir /" "dir $root" "blk $root" "blk 16"; do
	set -- $c
	cmd=$1
	shift
	expect_rc 0 "tool $c --json" "$TOOL" "$cmd" --json "$img" "$@"
	jq -e . "$WORK/out" >/dev/null && pass "tool $c: valid JSON" || fail "tool $c: invalid JSON"
	expect_rc 0 "tool $c (text)" "$TOOL" "$cmd" "$img" "$@"
done
expect_rc 0 "tool blk decodes a dinode" "$TOOL" blk --json "$img" "$root"
jq_eq .header.type dinode "blk header type"
jq_eq .header.crc_ok true "blk CRC ok"
jq_eq '.hex | length' 8192 "blk hex covers the block"

# Labels and names that are not ASCII reach JSON as the same UTF-8 text (jq decodes
# the document; a writer that escapes each byte as \u00XX turns "é" into "Ã©").
utf=$WORK/utf8.img
new_image utf8.img 64M -b 4096 -j 1 -J 8 -p lock_nolock -L "étiquette-ü"
"$POPULATE" "$utf" --name "café-é" --name "日本語" >/dev/null || fail "populate non-ASCII names"
expect_rc 0 "tool sb --json on a labelled image" "$TOOL" sb --json "$utf"
jq_eq .label "étiquette-ü" "sb label in JSON, UTF-8 intact"
expect_rc 0 "tool sb on a labelled image" "$TOOL" sb "$utf"
expect_out "^label: +étiquette-ü$" "sb label in text"
expect_rc 0 "tool dir --json with non-ASCII names" "$TOOL" dir --json "$utf" /
jq_eq '[.entries[].name] | map(select(. == "café-é" or . == "日本語")) | length' 2 "dir names in JSON, UTF-8 intact"
# A name that is not UTF-8 still gives a valid document: the bad byte becomes U+FFFD.
"$POPULATE" "$utf" --name $'raw\xff' >/dev/null || fail "populate a non-UTF-8 name"
expect_rc 0 "tool dir --json with a non-UTF-8 name" "$TOOL" dir --json "$utf" /
jq_eq '[.entries[].name] | map(select(. == "raw\ufffd")) | length' 1 "non-UTF-8 byte replaced by U+FFFD"
expect_rc 0 "fsck accepts the image with non-ASCII names" "$FSCK" -n "$utf"

# fsck refuses an image whose loop device is mounted. Needs root (loop devices, mount);
# as root a missing loop device or a refused mount is a failure, not a skip.
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not-root: fsck refusing an image mounted through a loop device"
elif ! loop=$(losetup -f --show "$WORK/ext4.img"); then
	fail "losetup of an ext4 image failed"
else
	mkdir -p "$WORK/mnt"
	if mount "$loop" "$WORK/mnt"; then
		expect_rc 8 "fsck on an image mounted through a loop device" "$FSCK" -n "$WORK/ext4.img"
		expect_out "attached to $loop, which is mounted on" "fsck names the mount"
		umount "$WORK/mnt" || fail "umount of the loop-mounted ext4 image"
	else
		fail "mount of the loop device $loop (ext4 image) failed"
	fi
	losetup -d "$loop" || fail "losetup -d $loop"
fi

finish
