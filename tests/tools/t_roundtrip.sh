# mkfs → clusterfs_tool → fsck round trips over every block size and several journal
# counts, empty and populated through lib: the tool reports what mkfs was asked for,
# fsck -n finds nothing and writes nothing, fsck -y on a clean filesystem changes nothing.
. ./lib.sh

for bs in 1024 2048 4096; do
	for j in 1 2 4; do
		tag="bs=$bs j=$j"
		img=$WORK/rt.img
		new_image rt.img 200M -b "$bs" -j "$j" -J 8 -r 32 -t "test:rt$j" || continue

		expect_rc 0 "$tag: tool sb" "$TOOL" sb --json "$img"
		jq_eq .block_size "$bs" "$tag: sb block size"
		jq_eq .journals "$j" "$tag: sb journal count"
		jq_eq .lock_table "test:rt$j" "$tag: sb lock table"
		jq_eq .blocks "$((200 * 1024 * 1024 / bs))" "$tag: sb block count"

		expect_rc 0 "$tag: tool journals" "$TOOL" journals --json "$img"
		jq_eq '.journals | length' "$j" "$tag: journal entries"
		jq_eq '[.journals[].state] | unique | join(",")' clean "$tag: journals clean"
		jq_eq '[.journals[].size_bytes] | unique | join(",")' "$((8 << 20))" "$tag: journal size"

		expect_rc 0 "$tag: tool rgrps" "$TOOL" rgrps --json "$img"
		jq_eq '[.rgrps[] | select(.ok | not)] | length' 0 "$tag: every rgrp ok"
		jq_eq '[.rgrps[] | select(.free != .bitmap_free)] | length' 0 "$tag: rgrp free counts match bitmaps"
		jq_eq '[.rgrps[] | select(.flags == "journal")] | length' "$j" "$tag: one journal rgrp per journal"

		expect_rc 0 "$tag: tool df" "$TOOL" df --json "$img"
		jq_eq '.free_blocks == .statfs_file.free' true "$tag: df free matches statfs"

		expect_rc 0 "$tag: tool dir /" "$TOOL" dir --json "$img" /
		jq_eq '[.entries[].name] | join(",")' ".,.." "$tag: empty root"

		before=$(checksum "$img")
		expect_rc 0 "$tag: fsck -n on a fresh filesystem" "$FSCK" -n "$img"
		expect_rc 0 "$tag: fsck -y on a fresh filesystem" "$FSCK" -y "$img"
		[ "$(checksum "$img")" = "$before" ] && pass "$tag: clean fsck writes nothing" ||
			fail "$tag: fsck changed a clean image"

		# Populated: many file sizes, holes, deep trees, hashed and split directories.
		if [ "$j" -eq 2 ]; then
			"$POPULATE" "$img" --files 1200 --per-dir 600 --mixed ||
				{ fail "$tag: populate"; continue; }
			before=$(checksum "$img")
			expect_rc 0 "$tag: fsck -n after populate" "$FSCK" -n "$img"
			expect_rc 0 "$tag: fsck -p after populate" "$FSCK" -p "$img"
			[ "$(checksum "$img")" = "$before" ] && pass "$tag: populated fsck writes nothing" ||
				fail "$tag: fsck changed a clean populated image"
			expect_rc 0 "$tag: tool dir of a hashed directory" "$TOOL" dir --json "$img" /mixed/bigdir
			jq_eq .format hashed "$tag: bigdir is hashed"
			jq_eq .entries_found 3002 "$tag: bigdir lists every entry"
			jq_eq '.entries_found == .entries_recorded' true "$tag: bigdir count matches"
			ino=$(jq '.entries[] | select(.name == "entry-with-a-longer-name-0") | .inode' "$WORK/out")
			expect_rc 0 "$tag: tool inode" "$TOOL" inode --json "$img" "$ino"
			jq_eq .type regular "$tag: inode type"
			jq_eq .nlink 1 "$tag: inode nlink"
			expect_rc 0 "$tag: tool dir resolves a deep path" "$TOOL" dir --json "$img" \
				/mixed/level0/level1/level2/level3/level4/level5/level6/level7/level8/level9
			jq_eq '[.entries[].name] | join(",")' ".,..,level10" "$tag: deep path contents"
		fi
	done
done
finish
