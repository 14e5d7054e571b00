#!/usr/bin/env bash
# mkfs.clusterfs command line: refusals with clear messages and exit codes, libblkid
# probing and -O wiping, options reaching the disk, speed on a 1 TiB sparse file.
# Usage: tests/mkfs/cli.sh build/bin/mkfs.clusterfs
set -u
MKFS=$(realpath "$1")
tmp=$(mktemp -d /tmp/cfs-mkfs-cli.XXXXXX)
loopdev=
trap '[ -n "$loopdev" ] && losetup -d "$loopdev"; rm -rf "$tmp"' EXIT
cd "$tmp"
failures=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1" >&2; failures=$((failures + 1)); }

# expect_refusal NAME STATUS MESSAGE-SUBSTRING -- mkfs args...
expect_refusal() {
	local name=$1 want_status=$2 want_msg=$3
	shift 4
	local out status
	out=$(timeout 60 "$MKFS" "$@" 2>&1 >/dev/null)
	status=$?
	if [ "$status" -ne "$want_status" ]; then
		fail "$name: exit $status, expected $want_status ($out)"
	elif [[ "$out" != *"$want_msg"* ]]; then
		fail "$name: message '$out' lacks '$want_msg'"
	else
		pass "$name"
	fi
}

truncate -s 256M img
expect_refusal "no device" 1 "no device given" --
expect_refusal "two devices" 1 "more than one device" -- -t a:b img img
expect_refusal "unknown option" 1 "unknown option -Z" -- -Z img
expect_refusal "missing value" 1 "option -j needs a value" -- img -j
expect_refusal "journals 0" 1 "number of journals must be 1 to 1024" -- -t a:b -j 0 img
expect_refusal "journals not a number" 1 "-j: 'x' is not a number" -- -t a:b -j x img
expect_refusal "block size" 1 "block size must be 1024, 2048 or 4096" -- -t a:b -b 3000 img
expect_refusal "journal size" 1 "journal size must be 8 to 1024 MiB" -- -t a:b -J 2 img
expect_refusal "rgrp size" 1 "resource group size must be 4 to 2048 MiB" -- -t a:b -r 1 img
expect_refusal "lock table syntax" 1 "form cluster:fsname" -- -t nocolon img
expect_refusal "lock table chars" 1 "letters, digits" -- -t "a b:c" img
expect_refusal "cluster name length" 1 "1 to 32 characters" -- -t "$(printf 'c%.0s' {1..33}):fs" img
expect_refusal "fs name length" 1 "1 to 30 characters" -- -t "c:$(printf 'f%.0s' {1..31})" img
expect_refusal "lock_cluster needs -t" 1 "lock_cluster needs a lock table" -- img
expect_refusal "bad protocol" 1 "lock_cluster or lock_nolock" -- -p lock_dlm -t a:b img
expect_refusal "bad uuid" 1 "-U: 'xyz' is not a UUID" -- -t a:b -U xyz img
expect_refusal "missing device" 1 "cannot use nosuchfile" -- -t a:b nosuchfile
expect_refusal "too small for journals" 1 "use fewer journals (-j) or smaller ones (-J)" -- -t a:b -j 4 -J 128 img

# A fresh image: made, with the summary, exit 0.
out=$("$MKFS" -t alpha:beta -j 2 -U 01234567-89ab-cdef-0123-456789abcdef img 2>&1)
if [ $? -eq 0 ] && [[ "$out" == *"Lock table:        alpha:beta"* ]] && [[ "$out" == *"Journals:          2 x"* ]] &&
	[[ "$out" == *"UUID:              01234567-89ab-cdef-0123-456789abcdef"* ]]; then
	pass "make + summary"
else
	fail "make + summary: $out"
fi
# The UUID and lock table are on disk where format.md says.
uuid_hex=$(od -An -tx1 -j $((65536 + 40)) -N16 img | tr -d ' \n')
[ "$uuid_hex" = "0123456789abcdef0123456789abcdef" ] && pass "uuid on disk" || fail "uuid on disk: $uuid_hex"
table=$(dd if=img bs=1 skip=$((65536 + 248)) count=10 status=none)
[ "$table" = "alpha:beta" ] && pass "lock table on disk" || fail "lock table on disk: $table"
magic=$(dd if=img bs=1 skip=65536 count=4 status=none)
[ "$magic" = "CLFS" ] && pass "magic on disk" || fail "magic on disk: $magic"

# Our own filesystem is detected without libblkid's help.
expect_refusal "existing clusterfs" 1 "img contains a clusterfs filesystem; use -O to overwrite it" -- -t a:b img

# An ext4 filesystem is named and left alone without -O, wiped with -O.
truncate -s 256M ext
mkfs.ext4 -q -F -L mydata ext >/dev/null 2>&1
expect_refusal "existing ext4" 1 "ext contains an ext4 filesystem labelled 'mydata'; use -O to overwrite it" -- -t a:b ext
[ "$(blkid -p -o value -s TYPE ext)" = ext4 ] && pass "ext4 untouched" || fail "ext4 untouched"
if "$MKFS" -q -O -t a:b ext; then
	if blkid -p ext >/dev/null 2>&1; then
		fail "-O: blkid still finds $(blkid -p -o value -s TYPE ext)"
	else
		pass "-O wipes the old signature"
	fi
else
	fail "-O: mkfs failed"
fi

# A partition table is refused too (an MBR with one Linux partition at sector 2048).
truncate -s 256M parted
printf '\x00\x20\x21\x00\x83\x8a\x08\x0d\x00\x08\x00\x00\x00\x20\x03\x00' |
	dd of=parted bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of=parted bs=1 seek=510 conv=notrunc status=none
expect_refusal "partition table" 1 "contains a dos partition table" -- -t a:b parted

# -q prints nothing; -V prints the version; lock_nolock needs no table.
truncate -s 128M q
out=$("$MKFS" -q -p lock_nolock q 2>&1)
[ $? -eq 0 ] && [ -z "$out" ] && pass "-q and lock_nolock" || fail "-q and lock_nolock: $out"
out=$("$MKFS" -V)
[[ "$out" == *"format version 1"* ]] && pass "-V" || fail "-V: $out"

# -L: the label lands in sb_label (offset 312, NUL-padded), UTF-8 bytes as given; a label
# of 32 bytes or more (sb_label keeps a terminating NUL) is refused with the lengths.
truncate -s 0 lbl && truncate -s 128M lbl
out=$("$MKFS" -p lock_nolock -L "données-1" lbl 2>&1)
[ $? -eq 0 ] && [[ "$out" == *"Label:             données-1"* ]] && pass "-L summary" || fail "-L summary: $out"
got=$(dd if=lbl bs=1 skip=$((65536 + 312)) count=32 status=none | tr -d '\0')
[ "$got" = "données-1" ] && pass "-L label on disk" || fail "-L label on disk: '$got'"
# 31 bytes is the longest label: its byte 31 (the terminator) stays NUL.
long31=$(printf 'L%.0s' {1..31})
"$MKFS" -q -O -p lock_nolock -L "$long31" lbl && pass "-L 31 bytes accepted" || fail "-L 31 bytes refused"
got=$(dd if=lbl bs=1 skip=$((65536 + 312)) count=32 status=none | od -An -tx1 | tr -d ' \n')
[ "$got" = "$(printf '4c%.0s' {1..31})00" ] && pass "-L 31 bytes on disk" || fail "-L 31 bytes on disk: $got"
expect_refusal "label too long" 1 "-L: the label '$(printf 'L%.0s' {1..32})' is 32 bytes long; at most 31 are allowed" -- \
	-O -p lock_nolock -L "$(printf 'L%.0s' {1..32})" lbl
# 16 two-byte letters are 32 bytes: refused although only 16 characters.
expect_refusal "label length counts bytes" 1 "is 32 bytes long" -- -O -p lock_nolock -L "$(printf 'é%.0s' {1..16})" lbl
expect_refusal "label control character" 1 "-L: the label contains a control character" -- -O -p lock_nolock -L $'a\tb' lbl
# The refused runs left the 31-byte label in place.
got=$(dd if=lbl bs=1 skip=$((65536 + 312)) count=31 status=none)
[ "$got" = "$long31" ] && pass "refused -L leaves the disk alone" || fail "refused -L wrote: '$got'"

# Every block size.
for b in 1024 2048 4096; do
	truncate -s 0 bs && truncate -s 200M bs
	"$MKFS" -q -b $b -j 3 -J 8 -t c:b$b bs && pass "block size $b" || fail "block size $b"
	got=$(od -An -tu4 -j $((65536 + 64)) -N4 bs | tr -d ' ')
	[ "$got" = $b ] || fail "block size $b on disk: $got"
done

# 1 TiB sparse file: quick, and writes only metadata.
truncate -s 1T big
start=$(date +%s%N)
timeout 120 "$MKFS" -q -j 8 -t big:fs big
status=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
alloc_mb=$(( $(stat -c %b big) * 512 / 1048576 ))
if [ $status -eq 0 ] && [ $ms -lt 30000 ] && [ $alloc_mb -lt 256 ]; then
	pass "1 TiB sparse: ${ms} ms, ${alloc_mb} MiB allocated"
else
	fail "1 TiB sparse: exit $status, ${ms} ms, ${alloc_mb} MiB allocated"
fi

# A block device (loop): size through BLKGETSIZE64, exclusive open. Needs root; as root
# a loop device that cannot be set up is a failure, not a skip.
truncate -s 200M loopimg
loopdev=
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not-root: mkfs on a loop block device"
elif ! loopdev=$(losetup -f --show loopimg); then
	loopdev=
	fail "loop block device: losetup failed"
else
	if "$MKFS" -q -j 2 -t loop:fs "$loopdev"; then
		magic=$(dd if="$loopdev" bs=1 skip=65536 count=4 status=none)
		[ "$magic" = "CLFS" ] && pass "loop block device" || fail "loop block device: magic '$magic'"
	else
		fail "loop block device: mkfs failed"
	fi
	losetup -d "$loopdev" && loopdev=
fi

echo "mkfs cli: $failures failure(s)"
[ $failures -eq 0 ]
