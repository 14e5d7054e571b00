# clusterfs_tool glocks on saved copies of the kernel's debugfs glocks file
# (/sys/kernel/debug/clusterfs/<s_id>/glocks, cfs_glocks_show in kernel/glock.c): the
# table, --json and --summary; garbled lines (exit 2, each named); bad arguments (exit 1).
. ./lib.sh

# run_split WANT DESCRIPTION CMD...: like expect_rc, but stdout alone goes to $WORK/out
# (for jq_eq and expect_out) and stderr to $WORK/err.
run_split() {
	local want=$1 what=$2
	shift 2
	"$@" >"$WORK/out" 2>"$WORK/err"
	local rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass "$what"
	else
		fail "$what: exit $rc, expected $want ($*)"
		sed 's/^/    | /' "$WORK/out" "$WORK/err" | head -20
	fi
}

# expect_err PATTERN DESCRIPTION: the last run_split's stderr matches the grep -E pattern.
expect_err() {
	if grep -Eq -- "$1" "$WORK/err"; then
		pass "$2"
	else
		fail "$2: stderr lacks /$1/"
		sed 's/^/    | /' "$WORK/err" | head -20
	fi
}

# expect_no_err DESCRIPTION: the last run_split wrote nothing on stderr.
expect_no_err() {
	if [ -s "$WORK/err" ]; then
		fail "$1: unexpected stderr"
		sed 's/^/    | /' "$WORK/err" | head -20
	else
		pass "$1"
	fi
}

# expect_lines FILE DESCRIPTION: $WORK/out is exactly FILE.
expect_lines() {
	if diff -u "$1" "$WORK/out" >"$WORK/diff"; then
		pass "$2"
	else
		fail "$2: output differs"
		sed 's/^/    | /' "$WORK/diff" | head -40
	fi
}

# Every field form: no holders, one, several; empty flags, every flag letter (R D p d
# I L); every type; the largest number; hash order, not sorted.
sample=$WORK/glocks
cat >"$sample" <<'EOF'
inode/1828 EX f:D h:2 SH,SH i:3 lk:17 ref:2
rgrp/8a00 EX f: h:0 i:0 lk:4 ref:1
inode/2a4f SH f:LI h:0 i:1 lk:33 ref:1
meta/1 SH f:Rp h:1 SH i:0 lk:2 ref:3
iopen/1828 SH f:d h:1 SH i:0 lk:18 ref:2
journal/0 EX f: h:1 EX i:0 lk:1 ref:2
flock/2a4f UN f:RDpdIL h:3 EX,SH,DF i:12 lk:40 ref:4
rgrp/11 DF f:L h:0 i:7 lk:5 ref:1
inode/ffffffffffffffff UN f:L h:0 i:0 lk:0 ref:1
EOF

expect_rc 0 "clusterfs_tool --help" "$TOOL" --help
expect_out "^  glocks +\[--json\] \[--summary\] MOUNTPOINT\|DEVICE\|FILE" "help lists glocks"

# ---- text: one header, rows sorted by type (kernel order) then number ----------------
cat >"$WORK/want.txt" <<'EOF'
TYPE               NUMBER  STATE  FLAGS   HOLDERS   INVAL  LKID  REF
meta                    1  SH     Rp      SH            0     2    3
inode                1828  EX     D       SH,SH         3    17    2
inode                2a4f  SH     LI      -             1    33    1
inode    ffffffffffffffff  UN     L       -             0     0    1
rgrp                   11  DF     L       -             7     5    1
rgrp                 8a00  EX     -       -             0     4    1
iopen                1828  SH     d       SH            0    18    2
journal                 0  EX     -       EX            0     1    2
flock                2a4f  UN     RDpdIL  EX,SH,DF     12    40    4
EOF
run_split 0 "glocks FILE" "$TOOL" glocks "$sample"
expect_no_err "glocks FILE: nothing on stderr"
expect_lines "$WORK/want.txt" "glocks FILE: the sorted, aligned table"
# A pipe (process substitution) as FILE: `glocks <(ssh node cat .../glocks)`.
run_split 0 "glocks from a pipe" "$TOOL" glocks <(cat "$sample")
expect_lines "$WORK/want.txt" "glocks from a pipe: the same table"

# ---- --json ----------------------------------------------------------------------------
run_split 0 "glocks --json FILE" "$TOOL" glocks --json "$sample"
expect_no_err "glocks --json: nothing on stderr"
jq_eq '.glocks | length' 9 "json: 9 glocks"
jq_eq '.device' null "json: no device for a saved file"
jq_eq '.source' "$sample" "json: the file read"
jq_eq '[.glocks[] | "\(.type)/\(.number_hex)"] | join(" ")' \
	"meta/1 inode/1828 inode/2a4f inode/ffffffffffffffff rgrp/11 rgrp/8a00 iopen/1828 journal/0 flock/2a4f" \
	"json: sorted by type then number"
jq_eq '.glocks[] | select(.type == "inode" and .number_hex == "1828") | .number' 6184 "json: number from hex"
jq_eq '.glocks[] | select(.type == "inode" and .number_hex == "1828") | .holders | join(",")' SH,SH \
	"json: two holders"
jq_eq '.glocks[] | select(.type == "flock") | .holders | join(",")' EX,SH,DF "json: three holders"
jq_eq '.glocks[] | select(.type == "rgrp" and .number == 35328) | .holders | length' 0 "json: no holders"
jq_eq '.glocks[] | select(.type == "flock") | .flags' RDpdIL "json: every flag letter"
jq_eq '.glocks[] | select(.type == "rgrp" and .number == 35328) | .flags' "" "json: empty flags"
jq_eq '.glocks[] | select(.type == "flock") | [.state, .invalidations, .lock_id, .refs] | map(tostring) | join(" ")' \
	"UN 12 40 4" "json: state, invalidations, lock id, refs"
# jq reads numbers as doubles: the full 64-bit value is checked in the text itself.
expect_out '"number":18446744073709551615,"number_hex":"ffffffffffffffff"' "json: a 64-bit number exact"
jq_eq '.summary.total' 9 "json: summary total"
jq_eq '.summary.lru' 4 "json: summary lru"
jq_eq '.summary.demote_wanted_or_pending' 3 "json: summary demotions"
jq_eq '.summary.by_type.inode | to_entries | map("\(.key)=\(.value)") | join(" ")' "UN=1 SH=1 EX=1" \
	"json: inode states"
jq_eq '.summary.by_state | to_entries | map("\(.key)=\(.value)") | join(" ")' "UN=2 SH=3 DF=1 EX=3" \
	"json: counts per state"
jq_eq '.unparsed | length' 0 "json: no unparsed lines"
run_split 0 "clusterfs_tool --json glocks FILE" "$TOOL" --json glocks "$sample"
jq_eq '.glocks | length' 9 "global --json: 9 glocks"
run_split 0 "glocks --json --summary" "$TOOL" glocks --json --summary "$sample"
jq_eq 'has("glocks")' false "json --summary: no glock list"
jq_eq '.summary.by_type.rgrp | to_entries | map("\(.key)=\(.value)") | join(" ")' "DF=1 EX=1" \
	"json --summary: rgrp states"

# ---- --summary -------------------------------------------------------------------------
cat >"$WORK/want.txt" <<'EOF'
TYPE     UN  SH  DF  EX  TOTAL
meta      0   1   0   0      1
inode     1   1   0   1      3
rgrp      0   0   1   1      2
iopen     0   1   0   0      1
journal   0   0   0   1      1
flock     1   0   0   0      1
total     2   3   1   3      9
on the LRU (L): 4
demote wanted or pending (D or p): 3
EOF
run_split 0 "glocks --summary" "$TOOL" glocks --summary "$sample"
expect_no_err "glocks --summary: nothing on stderr"
expect_lines "$WORK/want.txt" "glocks --summary: exact counts"

# An empty file (no glocks cached) is no error.
: >"$WORK/empty"
run_split 0 "glocks on an empty file" "$TOOL" glocks "$WORK/empty"
expect_lines <(echo "TYPE  NUMBER  STATE  FLAGS  HOLDERS  INVAL  LKID  REF") "empty file: the header alone"

# ---- garbled lines: exit 2, each named with file:line, the rest still shown ------------
bad=$WORK/glocks.bad
{
	echo "inode/1828 EX f:D h:2 SH,SH i:3 lk:17 ref:2"
	echo "inode/zz EX f: h:0 i:0 lk:1 ref:1"          # 2: number not hex
	echo "rgrp/10 EX f:D h:2 SH i:0 lk:1 ref:1"       # 3: two holders announced, one listed
	echo "meta/2 SH f:X h:0 i:0 lk:1 ref:1"           # 4: unknown flag
	echo "inode/5 EX f: h:0 i:0"                      # 5: truncated
	echo "rgrp/8a00 EX f: h:0 i:0 lk:4 ref:1"
	echo "inode/6 EX f: h:0 i:0 lk:1 ref:1 extra"     # 7: trailing field
} >"$bad"
run_split 2 "glocks on a file with garbled lines" "$TOOL" glocks "$bad"
expect_err "^clusterfs_tool glocks: $bad:2: .*: inode/zz EX f: h:0 i:0 lk:1 ref:1$" "line 2 named"
expect_err "^clusterfs_tool glocks: $bad:3: .*h:2 but 1 holder.*: rgrp/10 EX" "line 3 named"
expect_err "^clusterfs_tool glocks: $bad:4: .*unknown flag 'X'" "line 4 named"
expect_err "^clusterfs_tool glocks: $bad:5: .*missing lk:.*: inode/5 EX f: h:0 i:0$" "line 5 named"
expect_err "^clusterfs_tool glocks: $bad:7: .*extra" "line 7 named"
n=$(grep -c "cannot parse" "$WORK/err")
[ "$n" -eq 5 ] && pass "five lines reported" || fail "$n lines reported, expected 5"
n=$(wc -l <"$WORK/out")
[ "$n" -eq 3 ] && pass "header and the two good rows shown" || fail "$n lines on stdout, expected 3"
expect_out "^inode +1828 +EX" "the good inode row shown"
expect_out "^rgrp +8a00 +EX" "the good rgrp row shown"
run_split 2 "glocks --json on a file with garbled lines" "$TOOL" glocks --json "$bad"
jq_eq '.glocks | length' 2 "json with garbled lines: the two good glocks"
jq_eq '[.unparsed[].line] | map(tostring) | join(" ")' "2 3 4 5 7" "json lists the unparsed lines"
jq_eq '.summary.unparsed_lines' 5 "json summary counts them"
run_split 2 "glocks --summary on a file with garbled lines" "$TOOL" glocks --summary "$bad"
expect_out "^unparsed lines: 5$" "summary counts the unparsed lines"

# ---- arguments and environment: exit 1 with a message ----------------------------------
run_split 1 "glocks on a missing path" "$TOOL" glocks "$WORK/missing"
expect_err "cannot open .*missing: No such file" "missing path named"
run_split 1 "glocks on a directory that is no clusterfs mount" "$TOOL" glocks "$WORK"
expect_err "is not on a clusterfs filesystem" "the directory is said not to be clusterfs"
run_split 1 "glocks on /dev/null" "$TOOL" glocks /dev/null
expect_err "not a mount point, a block device or a saved glocks file" "a character device refused"
run_split 1 "glocks without an argument" "$TOOL" glocks
expect_err "^usage: clusterfs_tool glocks" "usage shown"
run_split 1 "glocks with two arguments" "$TOOL" glocks "$sample" "$sample"
run_split 1 "glocks with an unknown option" "$TOOL" glocks --bogus "$sample"
expect_err "unknown option --bogus" "the unknown option named"

# A block device: as root, a loop device not mounted (no glocks directory for it) and
# then mounted as ext4. As root a missing loop device or a refused mount is a failure.
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not-root: glocks on a loop device"
else
	truncate -s 64M "$WORK/ext4.img"
	mkfs.ext4 -q -F "$WORK/ext4.img" || fail "mkfs.ext4 of a scratch image failed"
	if ! loop=$(losetup -f --show "$WORK/ext4.img"); then
		fail "losetup of an ext4 image failed"
	else
		run_split 1 "glocks on an unmounted loop device" "$TOOL" glocks "$loop"
		expect_err "no glocks for ${loop#/dev/} \($loop\)" "the device's kernel name given"
		mkdir -p "$WORK/mnt"
		if mount "$loop" "$WORK/mnt"; then
			run_split 1 "glocks on an ext4 loop device" "$TOOL" glocks "$loop"
			expect_err "is mounted as ext4 on .*, not as clusterfs" "the device's filesystem named"
			run_split 1 "glocks on an ext4 mount point" "$TOOL" glocks "$WORK/mnt"
			expect_err "not on a clusterfs filesystem \(it is on ext4, mounted on $WORK/mnt\)" \
				"the mount's filesystem named"
			umount "$WORK/mnt" || fail "umount of the loop-mounted ext4 image"
		else
			fail "mount of the loop device $loop (ext4 image) failed"
		fi
		losetup -d "$loop" || fail "losetup -d $loop"
	fi
fi

finish
