# Corruption tests: damage one kind of metadata block at a time in a populated image;
# fsck -n must exit 4 and name the damage; fsck -y must repair it (exit 1) so that a
# second fsck -n finds the filesystem clean, or, for damage this version cannot
# repair, say so and exit 4.
. ./lib.sh

BS=${BS:-1024}
base=$WORK/base.img
rm -f "$base"
truncate -s 128M "$base"
"$MKFS" -q -O -b "$BS" -j 2 -J 8 -r 32 -t test:corrupt "$base" || { fail "mkfs"; finish; exit; }
"$POPULATE" "$base" --files 400 --per-dir 200 --mixed || { fail "populate"; finish; exit; }
"$FSCK" -n "$base" >/dev/null || fail "base image is not clean"

json() { "$TOOL" "$@" 2>/dev/null; }
entry_ino() { json dir --json "$base" "$1" | jq ".entries[] | select(.name == \"$2\") | .inode"; }
u64_at() { od -An -t u8 -j "$(( $2 * BS + $3 ))" -N8 "$1" | tr -d ' '; }

img=$WORK/c.img
# case NAME PATTERN DAMAGE-CMD...: damage a fresh copy, expect detection and repair.
# (The damaged copy is of $from, the base image unless a case sets it.)
from=$base
case_repaired() {
	local name=$1 pattern=$2
	shift 2
	cp --sparse=always "$from" "$img"
	"$@" || { fail "$name: damaging failed"; return; }
	expect_rc 4 "$name: fsck -n reports it" "$FSCK" -n "$img"
	expect_out "$pattern" "$name: fsck -n names it"
	expect_rc 1 "$name: fsck -y repairs it" "$FSCK" -y "$img"
	expect_rc 0 "$name: clean after repair" "$FSCK" -n "$img"
}
# case_unrepairable NAME PATTERN DAMAGE-CMD...: detected, and -y says what it cannot do.
case_unrepairable() {
	local name=$1 pattern=$2
	shift 2
	cp --sparse=always "$from" "$img"
	"$@" || { fail "$name: damaging failed"; return; }
	expect_rc 4 "$name: fsck -n reports it" "$FSCK" -n "$img"
	expect_out "$pattern" "$name: fsck -n names it"
	"$FSCK" -y "$img" >"$WORK/out" 2>&1
	local rc=$?
	[ $((rc & 4)) -ne 0 ] && pass "$name: -y leaves it uncorrected" ||
		fail "$name: fsck -y exit $rc, expected the uncorrected bit"
	expect_out "not repaired: " "$name: -y says what it could not repair"
}

sb=$((65536 / BS))
root=$(json sb --json "$base" | jq .root_inode)
rindex=$(json sb --json "$base" | jq .rindex_inode)
rg_addr=$(json rgrps --json "$base" | jq '.rgrps[] | select(.flags == "-") | .address' | head -1)
rg_data0=$(json rgrps --json "$base" | jq ".rgrps[] | select(.address == $rg_addr) | .data0")
size3=$(entry_ino /mixed size3)
size8=$(entry_ino /mixed size8)
indirect=$(u64_at "$base" "$size8" 256)
leaf=$(json dir --json "$base" /mixed/bigdir | jq '.entries[10].block')
mixed=$(entry_ino / mixed)
statfs=$(json sb --json "$base" | jq .statfs_inode)
# A free block well inside the first allocatable rgrp, and a data block in use.
free_blk=$(( rg_data0 + $(json rgrps --json "$base" | jq ".rgrps[] | select(.address == $rg_addr) | .data") - 10 ))
data_blk=$(u64_at "$base" "$(entry_ino /mixed size6)" 256)

case_unrepairable "superblock CRC" "superblock CRC mismatch" "$POKE" "$img" flip "$sb" 400
case_unrepairable "rindex dinode" "rindex dinode: block $rindex" "$POKE" "$img" flip "$rindex" 1000
case_repaired "rgrp header CRC" "block $rg_addr \\(rgrp header\\): CRC mismatch" "$POKE" "$img" flip "$rg_addr" 120
rg_free=$(json rgrps --json "$base" | jq ".rgrps[] | select(.address == $rg_addr) | .free")
# Two cases need structures the base image has only with 1 KiB blocks: an rgrp whose
# bitmap continues past its header block, and a hashed directory whose hash table fills
# a block of its own (with 4 KiB blocks the base's 32 MiB rgrps and 3000-entry directory
# fit in one block each). Where the base lacks them, they run on a wide image: 128 MiB
# rgrps and one directory of 45000 entries.
rgrp_with_bitmap_block() {  # IMAGE: the address of such an rgrp's first bitmap block
	json rgrps --json "$1" | jq -e '[.rgrps[] | select(.length > 1)][0] | if . == null then false else .address + 1 end'
}
wide=$WORK/wide.img
make_wide() {
	[ -e "$wide" ] && return 0
	truncate -s 512M "$wide"
	"$MKFS" -q -O -b "$BS" -j 2 -J 8 -r 128 -t test:wide "$wide" &&
		"$POPULATE" "$wide" --files 45000 --per-dir 45000 >/dev/null || fail "wide image: mkfs or populate failed"
}

from=$base
if ! rb=$(rgrp_with_bitmap_block "$base"); then
	make_wide
	from=$wide
	rb=$(rgrp_with_bitmap_block "$wide") || fail "no rgrp with a bitmap block even in the wide image"
fi
case_repaired "rgrp bitmap block CRC" "block $rb \\(rgrp bitmap\\): CRC mismatch" \
	"$POKE" "$img" flip "$rb" 200
from=$base
# Stray bits past the bitmap's end (rg_data) in a header that holds the whole bitmap:
# fsck -y rebuilds the header and must clear them (it once left them, "not repaired").
# Such a header needs 4 KiB blocks and a small rgrp: an image of its own, whatever BS.
tail_img=$WORK/tail.img
rm -f "$tail_img"
truncate -s 64M "$tail_img"
"$MKFS" -q -O -b 4096 -j 1 -J 8 -r 16 -p lock_nolock "$tail_img" || fail "mkfs of the bitmap-tail image"
tail_rg=$(json rgrps --json "$tail_img" | jq -r '[.rgrps[] | select(.flags == "-" and .length == 1)][0] | "\(.address) \(.data)"')
read -r tail_addr tail_data <<<"$tail_rg"
[[ $tail_addr =~ ^[0-9]+$ ]] || fail "no rgrp whose bitmap fits in its header block: $tail_rg"
from=$tail_img
BS=4096 case_repaired "rgrp header bitmap tail" "rg_bitmap_tail" \
	"$POKE" "$img" u8 "$tail_addr" $((128 + (tail_data + 3) / 4 + 2)) 255
from=$base
case_repaired "rgrp free count" "header counts free $((rg_free - 1))" \
	"$POKE" "$img" u32 "$rg_addr" 68 "$((rg_free - 1))"
case_repaired "leaked block" "blocks marked in use belong to nothing \\(first: $free_blk\\)" \
	"$POKE" "$img" state "$free_blk" 1
# A header that fails its verifier in an rgrp whose bitmap also needs a fix in the header
# block (a kernel-fuzz finding): the header is rebuilt before the bitmap is written, so
# one fsck -y repairs both.
# The highest block in use (a data block) whose bitmap bits live in the header block itself.
hdr_used_blk=$(python3 -c '
import sys
img, addr, data0, data, bs = sys.argv[1], *map(int, sys.argv[2:])
with open(img, "rb") as f:
    f.seek(addr * bs)
    bm = f.read(bs)[128:]
for i in reversed(range(min(data, len(bm) * 4))):
    if (bm[i // 4] >> (2 * (i % 4))) & 3 == 1:
        print(data0 + i)
        break
' "$base" "$rg_addr" "$rg_data0" "$(json rgrps --json "$base" | jq ".rgrps[] | select(.address == $rg_addr) | .data")" "$BS")
[[ $hdr_used_blk =~ ^[0-9]+$ ]] || fail "no block in use with its bitmap in rgrp $rg_addr's header"
owner_and_bad_bit() { "$POKE" "$img" u16 "$rg_addr" 24 65535 && "$POKE" "$img" state "$hdr_used_blk" 0; }
case_repaired "rgrp header owner and a block marked free" "block $rg_addr \\(rgrp header\\): check 'mh_owner'" \
	owner_and_bad_bit
case_repaired "used block marked free" "blocks in use are marked free \\(first: $data_blk\\)" \
	"$POKE" "$img" state "$data_blk" 0
case_repaired "dinode CRC" "dinode $size3: block $size3 \\(dinode\\): CRC mismatch" \
	"$POKE" "$img" flip "$size3" 100
case_repaired "dinode link count" "inode $size3: link count 7, should be 1" \
	"$POKE" "$img" u32 "$size3" 76 7
case_repaired "dinode block count" "inode $size8: block count 3, it owns" \
	"$POKE" "$img" u64 "$size8" 88 3
# Blocks past EOF are legal on a regular file (fallocate KEEP_SIZE, docs/format.md "Blocks
# past the end of a regular file"): size 1 with blocks mapped after it is no damage.
cp --sparse=always "$base" "$img"
"$POKE" "$img" u64 "$size8" 80 1
expect_rc 0 "regular file with blocks past EOF: fsck -n clean" "$FSCK" -n "$img"
case_repaired "indirect block CRC" "inode $size8: block $indirect \\(indirect\\): CRC mismatch" \
	"$POKE" "$img" flip "$indirect" 200
# Two files sharing a data block: reported; resolving it is left to the operator.
size7=$(entry_ino /mixed size7)
shared=$(u64_at "$base" "$size7" 256)
case_unrepairable "block shared by two files" "block $shared \\(level 1\\) is already in use" \
	"$POKE" "$img" u64 "$(entry_ino /mixed size6)" 264 "$shared"
case_repaired "directory leaf CRC" "block $leaf \\(dir leaf\\): CRC mismatch" \
	"$POKE" "$img" flip "$leaf" 300
# Extended attributes: a damaged xattr block is dropped (the file keeps its data), its
# block freed and di_blocks corrected; the tool lists the names of an intact one.
xf=$(entry_ino /mixed xattrs)
xblk=$(u64_at "$base" "$xf" 192)
expect_rc 0 "tool inode lists xattrs" "$TOOL" inode --json "$base" "$xf"
jq_eq '[.xattrs[].name] | join(",")' 'user.color,trusted.t,system.posix_acl_access' \
	"tool inode: xattr names in block order"
case_repaired "xattr block CRC" "inode $xf: xattr block: block $xblk \\(xattr\\): CRC mismatch" \
	"$POKE" "$img" flip "$xblk" 100
expect_rc 0 "xattr block dropped: inode intact" "$TOOL" inode --json "$img" "$xf"
jq_eq '.xattr_block' 0 "xattr block dropped: di_eattr cleared"
# A value length running past the entries (CRC resealed: the verifier must catch it).
case_repaired "xattr entry length" "inode $xf: xattr block: .*xe_value_len" \
	"$POKE" "$img" u16 "$xblk" 98 4000
# di_eattr pointing at another file's data block: dropped, the data block stays that file's.
case_repaired "xattr pointer to data" "inode $xf: xattr block: block $data_blk \\(xattr\\): not a metadata block" \
	"$POKE" "$img" u64 "$xf" 192 "$data_blk"
case_repaired "statfs totals" "statfs: total" "$POKE" "$img" u64 "$statfs" 264 5
case_repaired "root link count" "inode $root: link count 9, should be" \
	"$POKE" "$img" u32 "$root" 76 9

# A jdata block of a hashed directory's hash table: the directory is rebuilt empty and
# its files land in /lost+found. (Two more entries there: "." and "..".)
from=$base hashed=/mixed/bigdir hashed_files=3000 hashed_ino=$(entry_ino /mixed bigdir)
if [ "$(json inode --json "$base" "$hashed_ino" | jq .height)" != 1 ]; then
	make_wide
	from=$wide hashed=/d0 hashed_files=45000
	hashed_ino=$(json dir --json "$wide" / | jq '.entries[] | select(.name == "d0") | .inode')
fi
if [ "$(json inode --json "$from" "$hashed_ino" | jq .height)" != 1 ]; then
	fail "hash table: $hashed (inode '$hashed_ino') has no hash table block of its own"
else
	table_blk=$(u64_at "$from" "$hashed_ino" 256)
	case_repaired "hash table jdata block CRC ($hashed)" "block $table_blk \\(jdata\\): CRC mismatch" \
		"$POKE" "$img" flip "$table_blk" 500
	expect_rc 0 "hash table: lost+found lists the files" "$TOOL" dir --json "$img" /lost+found
	jq_eq '.entries_found' $((hashed_files + 2)) "hash table: $hashed_files files in lost+found"
fi
from=$base

# The only log header of a journal: the journal has no valid header left.
jhead=$(json journals --json "$base" | jq '.journals[0].first_block')
case_unrepairable "log header CRC" "journal 0: no valid log header" "$POKE" "$img" flip "$jhead" 100

# A journal file whose tree no longer maps its extent in order.
j0=$(json journals --json "$base" | jq '.journals[0].inode')
j0first=$(json journals --json "$base" | jq '.journals[0].first_block')
j0ind=$(u64_at "$base" "$j0" 256)
case_unrepairable "journal extent" "journal 0 \\(inode $j0\\): maps .* misplaced" \
	"$POKE" "$img" u64 "$j0ind" 64 "$((j0first + 5))"

# Entry pointing at a block that holds no dinode: the entry goes; the file it named
# becomes an orphan and lands in /lost+found.
off=$(json dir --json "$base" /mixed | jq '.entries[] | select(.name == "size2") | .offset')
size2=$(entry_ino /mixed size2)
case_repaired "entry to a non-dinode" "entry 'size2' points to block $free_blk" \
	"$POKE" "$img" u64 "$mixed" "$off" "$free_blk"
expect_rc 0 "orphan moved: tool dir /lost+found" "$TOOL" dir --json "$img" /lost+found
jq_eq "[.entries[] | select(.name == \"#$size2\")] | length" 1 "orphan is /lost+found/#$size2"
expect_rc 0 "lost+found entry resolves" "$TOOL" inode --json "$img" "$size2"
jq_eq .nlink 1 "orphan has one link"

# Entry hash that does not match its name, in a linear directory: corrected in place.
off=$(json dir --json "$base" /mixed | jq '.entries[] | select(.name == "fifo") | .offset')
case_repaired "entry hash" "entry 'fifo' has hash 0x00000001" \
	"$POKE" "$img" u32 "$mixed" "$((off + 16))" 1
expect_rc 0 "entry hash: entry kept" "$TOOL" dir --json "$img" /mixed
jq_eq '[.entries[] | select(.name == "fifo")] | length' 1 "entry hash: fifo still listed"

# Entry type that disagrees with its dinode, in a leaf of a hashed directory.
IFS=, read -r eblk eoff ename < <(json dir --json "$base" /mixed/bigdir |
	jq -r '.entries[20] | "\(.block),\(.offset),\(.name)"')
case_repaired "leaf entry type" "entry '$ename' has type 2" \
	"$POKE" "$img" u8 "$eblk" "$((eoff + 23))" 2
expect_rc 0 "leaf entry type: entry kept" "$TOOL" dir --json "$img" /mixed/bigdir
jq_eq ".entries[] | select(.name == \"$ename\") | .type" regular "leaf entry type: corrected"

# Dirty journal: a node commits a transaction (creating /crashfile) to journal 1 and
# "crashes" before writing anything in place. -n reports the journal and does not
# write; -y replays it through lib and the file appears.
cp --sparse=always "$base" "$img"
"$POPULATE" "$img" --crash-journaled 1 crashfile || fail "dirty journal: populate"
before=$(checksum "$img")
expect_rc 4 "dirty journal: fsck -n reports it" "$FSCK" -n "$img"
expect_out "journal 1 is dirty" "dirty journal: named"
[ "$(checksum "$img")" = "$before" ] && pass "dirty journal: -n wrote nothing" ||
	fail "dirty journal: fsck -n changed the image"
expect_rc 0 "dirty journal: file not there before replay" "$TOOL" dir --json "$img" /
jq_eq '[.entries[] | select(.name == "crashfile")] | length' 0 "dirty journal: crashfile absent"
expect_rc 4 "dirty journal: preen leaves a cluster journal to the operator" "$FSCK" -p "$img"
expect_out "UNEXPECTED INCONSISTENCY" "dirty journal: preen says to run fsck by hand"
[ "$(checksum "$img")" = "$before" ] && pass "dirty journal: -p wrote nothing" ||
	fail "dirty journal: fsck -p changed the image"
expect_rc 1 "dirty journal: fsck -y replays it" "$FSCK" -y "$img"
expect_out "replay it: yes" "dirty journal: replayed"
expect_rc 0 "dirty journal: clean after replay" "$FSCK" -n "$img"
expect_rc 0 "dirty journal: tool sees it clean" "$TOOL" journals --json "$img"
jq_eq '.journals[1].state' clean "dirty journal: journal 1 clean"
expect_rc 0 "dirty journal: replayed file is there" "$TOOL" dir --json "$img" /
jq_eq '[.entries[] | select(.name == "crashfile")] | length' 1 "dirty journal: crashfile present"

# Preen: fixes counts on its own, stops short of removing entries.
cp --sparse=always "$base" "$img"
"$POKE" "$img" u32 "$rg_addr" 68 "$((rg_free - 1))" || fail "preen: damaging the free count failed"
expect_rc 1 "preen repairs counts" "$FSCK" -p "$img"
cp --sparse=always "$base" "$img"
"$POKE" "$img" flip "$size3" 100 || fail "preen: damaging dinode $size3 failed"
expect_rc 4 "preen refuses to clear a dinode" "$FSCK" -p "$img"
expect_out "UNEXPECTED INCONSISTENCY" "preen says to run fsck by hand"

finish
