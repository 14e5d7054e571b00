#!/usr/bin/env bash
# Builds the fuzz corpus seeds: small valid filesystems in the fuzz target's sparse
# input form (see fsck_fuzz.cpp). Usage: make_seeds.sh BIN_DIR CORPUS_DIR
set -eu
bin=$1 out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
seed() {  # seed NAME SIZE POPULATE-ARGS -- MKFS-ARGS
	local name=$1 size=$2
	shift 2
	local pop=()
	while [ "$1" != "--" ]; do pop+=("$1"); shift; done
	shift
	truncate -s "$size" "$work/$name.img"
	"$bin/mkfs.clusterfs" -q -O "$@" "$work/$name.img"
	[ "${#pop[@]}" -eq 0 ] || "$bin/cfs_populate" "$work/$name.img" "${pop[@]}"
	"$bin/make_seed" "$work/$name.img" "$out/$name"
}
seed empty-1k 24M -- -b 1024 -j 1 -J 8 -r 4 -p lock_nolock
seed empty-4k-2j 40M -- -b 4096 -j 2 -J 8 -r 8 -p lock_nolock
seed files-1k 24M --files 60 --per-dir 30 -- -b 1024 -j 1 -J 8 -r 4 -p lock_nolock
seed files-2k 32M --files 40 --per-dir 40 -- -b 2048 -j 1 -J 8 -r 4 -p lock_nolock
seed xattrs-1k 24M --files 30 --per-dir 30 --xattrs -- -b 1024 -j 1 -J 8 -r 4 -p lock_nolock
seed dirty-1k 24M --files 10 --per-dir 10 --crash-journaled 0 crashed -- -b 1024 -j 1 -J 8 -r 4 -p lock_nolock
