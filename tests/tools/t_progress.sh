# fsck.clusterfs -C FD: progress lines "PASS CURRENT MAX DEVICE" on descriptor FD, the
# terminal bar of -C 0, and that neither changes fsck's own output or exit status.
. ./lib.sh

img=$WORK/progress.img
new_image progress.img 256M -b 4096 -j 2 -J 8 -p lock_nolock
"$POPULATE" "$img" --files 3000 --per-dir 600 --mixed >/dev/null || fail "populate"

# check_lines FILE WHAT: FILE holds well-formed lines for every pass, in the order the
# passes run; within a pass MAX stays put, CURRENT starts at 0, never decreases, never
# exceeds MAX and ends at MAX.
check_lines() {
	local file=$1 what=$2 verdict
	if [ ! -s "$file" ]; then
		fail "$what: no progress lines"
		return
	fi
	if grep -Evq "^(0|J|1|2|5|3|4|S) [0-9]+ [0-9]+ $(printf %s "$img" | sed 's/[.[\*^$]/\\&/g')\$" "$file"; then
		fail "$what: malformed lines: $(grep -Ev '^(0|J|1|2|5|3|4|S) [0-9]+ [0-9]+ ' "$file" | head -3)"
	else
		pass "$what: well-formed lines"
	fi
	local order
	order=$(cut -d' ' -f1 "$file" | uniq | tr -d '\n')
	[ "$order" = "0J12534S" ] && pass "$what: every pass, in order" ||
		fail "$what: passes reported as '$order', expected 0J12534S"
	verdict=$(awk '
		!seen || $1 != pass { if (seen && cur != max) { bad = 1; print "pass " pass " ends at " cur " of " max; exit }
		             if ($2 != 0) { bad = 1; print "pass " $1 " starts at " $2; exit }
		             seen = 1; pass = $1; max = $3; cur = $2; next }
		$3 != max { bad = 1; print "pass " pass ": max changes from " max " to " $3; exit }
		$2 < cur  { bad = 1; print "pass " pass ": current goes back from " cur " to " $2; exit }
		$2 > max  { bad = 1; print "pass " pass ": current " $2 " above max " max; exit }
		{ cur = $2 }
		END { if (!bad && cur != max) print "last pass ends at " cur " of " max }' "$file")
	[ -z "$verdict" ] && pass "$what: monotonic, bounded, complete" || fail "$what: $verdict"
}

# A clean image: -C 3 reports, stdout and status as without -C.
expect_rc 0 "fsck -n, no progress" "$FSCK" -n "$img"
cp "$WORK/out" "$WORK/plain.out"
expect_rc 0 "fsck -n -C 3" "$FSCK" -n -C 3 "$img" 3>"$WORK/progress.txt"
cmp -s "$WORK/plain.out" "$WORK/out" && pass "-C 3 leaves the output alone" ||
	fail "-C 3 changes fsck's output: $(diff "$WORK/plain.out" "$WORK/out" | head -5)"
check_lines "$WORK/progress.txt" "-C 3 on a clean image"

# Proportional to work: pass 1 counts the system dinodes (5 plus 2 per journal), one
# bitmap scan per rgrp and every dinode, and moves through intermediate values; pass 4
# visits every dinode in use (df's dinode count).
dinodes=$("$TOOL" df --json "$img" | jq .dinodes)
rgrps=$("$TOOL" rgrps --json "$img" | jq '.rgrps | length')
max1=$(awk '$1 == "1" { print $3; exit }' "$WORK/progress.txt")
[ "$max1" = $((5 + 2 * 2 + rgrps + dinodes)) ] && pass "pass 1 max counts the dinodes" ||
	fail "pass 1 max '$max1', expected 9 system + $rgrps rgrps + $dinodes dinodes"
steps1=$(awk '$1 == "1" && $2 > 0 && $2 < $3' "$WORK/progress.txt" | wc -l)
[ "$steps1" -ge 10 ] && pass "pass 1 reports intermediate progress" ||
	fail "pass 1 has $steps1 intermediate lines"
max4=$(awk '$1 == "4" { print $3; exit }' "$WORK/progress.txt")
[ "$max4" = "$dinodes" ] && pass "pass 4 max is the dinode count" ||
	fail "pass 4 max '$max4', the filesystem has $dinodes dinodes"
max2=$(awk '$1 == "2" { print $3; exit }' "$WORK/progress.txt")
[ -n "$max2" ] && [ "$max2" -gt 3000 ] && pass "pass 2 max counts the directory entries" ||
	fail "pass 2 max '$max2' for 3000 files"

# A damaged image (a free block marked in use): the same verdict and report with -C,
# in check-only and in repair mode.
rg=$("$TOOL" rgrps --json "$img" | jq '.rgrps[-1]')
leak=$(( $(jq .data0 <<<"$rg") + $(jq .data <<<"$rg") - 10 ))
"$POKE" "$img" state "$leak" 1 || fail "poke"
expect_rc 4 "fsck -n on a leaked block" "$FSCK" -n "$img"
cp "$WORK/out" "$WORK/plain.out"
expect_rc 4 "fsck -n -C 3 on a leaked block" "$FSCK" -n -C 3 "$img" 3>"$WORK/progress.txt"
cmp -s "$WORK/plain.out" "$WORK/out" && pass "-C 3 leaves the problem report alone" ||
	fail "-C 3 changes the problem report: $(diff "$WORK/plain.out" "$WORK/out" | head -5)"
check_lines "$WORK/progress.txt" "-C 3 on a damaged image"
cp --sparse=always "$img" "$WORK/damaged.img"
expect_rc 1 "fsck -y on a leaked block" "$FSCK" -y "$img"
cp "$WORK/out" "$WORK/plain.out"
cp --sparse=always "$WORK/damaged.img" "$img"
expect_rc 1 "fsck -y -C 3 on a leaked block" "$FSCK" -y -C 3 "$img" 3>"$WORK/progress.txt"
cmp -s "$WORK/plain.out" "$WORK/out" && pass "-C 3 leaves the repair report alone" ||
	fail "-C 3 changes the repair report: $(diff "$WORK/plain.out" "$WORK/out" | head -5)"
check_lines "$WORK/progress.txt" "-C 3 while repairing"
expect_rc 0 "the repaired image is clean" "$FSCK" -n "$img"

# Bad descriptors are usage errors.
expect_rc 16 "-C on a descriptor that is not open" "$FSCK" -n -C 9 "$img" 9>&-
expect_out "file descriptor 9 is not open" "fsck says the descriptor is not open"
expect_rc 16 "-C with a non-number" "$FSCK" -n -C three "$img"
expect_out "wants a file descriptor number" "fsck says -C wants a number"
expect_rc 16 "-C with a negative number" "$FSCK" -n -C -1 "$img"
expect_rc 16 "-C without an argument" "$FSCK" -n "$img" -C
expect_out "usage:" "fsck prints its usage"

# -C 0 draws nothing when stdout is no terminal...
expect_rc 0 "fsck -n -C 0 into a file" "$FSCK" -n -C 0 "$img"
cp "$WORK/out" "$WORK/bar.out"
"$FSCK" -n "$img" >"$WORK/plain.out" 2>&1
cmp -s "$WORK/plain.out" "$WORK/bar.out" && pass "-C 0 without a terminal draws nothing" ||
	fail "-C 0 without a terminal changed the output"
# ...and on a terminal (script(1) gives it one) draws pass names and percentages,
# then erases the bar before the verdict.
if command -v script >/dev/null; then
	script -qec "$FSCK -n -C 0 $img" /dev/null >"$WORK/tty.out" 2>&1 </dev/null
	grep -aq 'pass [0-9JS]: .*|.*%' "$WORK/tty.out" && pass "-C 0 draws a bar on a terminal" ||
		fail "-C 0 drew no bar: $(head -c 300 "$WORK/tty.out" | cat -v)"
	# The verdict follows a carriage return and blanks: the bar was erased first.
	grep -aq $'\r *\r'"$img: clean" "$WORK/tty.out" && pass "-C 0 erases the bar before the verdict" ||
		fail "-C 0 did not erase the bar: $(tail -c 200 "$WORK/tty.out" | cat -v)"
else
	echo "SKIP: no script(1) for a terminal"
fi

finish
