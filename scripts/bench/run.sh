#!/usr/bin/env bash
# Runs the peer benchmarks in test VMs, one filesystem after another, and writes one
# markdown table (medians; one row per filesystem) plus every run's raw figures.
#
# usage: scripts/bench/run.sh [--fs "gfs2 ext4"] [--runs N] [--out FILE]
#   --fs    adapters from scripts/bench/fs/ (default: all of them)
#   --runs  repetitions of every workload (default 5; streaming ones at least 5: the
#           first large write after a metadata-heavy run is often several times slower)
#   --out   results file (default docs/bench/results.md)
#   --from-raw RAW  run nothing: write the results file from an earlier run's raw.tsv
#           (build/bench-logs/*/raw.tsv), its filesystems in --fs order (e.g. when a
#           filesystem's run finished every workload but failed the console check after)
#
# Workloads (files/s, MiB/s, ms; each cell gives the median, its seconds, and the range
# of the runs' rates, min-max):
#   create, ls -l cold (node1 unmounts and mounts again, caches dropped), unlink of 2000
#   empty files on node1; 64 MiB write+fsync and cold read (after the same remount) on node1;
#   2000 random 4 KiB pwrite+fsync into a fully written 64 MiB file on node1 (fio, ops/s);
#   untar: GNU tar extracting a tarball of 3000 small files in 110 nested directories
#   (generated deterministically on the host, copied to the node's tmpfs), then sync;
#   nodes 1 and 2 creating 1000 files each at once in one directory, then each in its
#   own directory (aggregate files/s: 2000 / the slower node's time);
#   ping-pong: nodes 1 and 2 appending to one file in turn (ms per hand-off).
# Each round of these starts on a fresh filesystem (every node unmounts, mkfs, every node
# mounts); the streaming and random-write runs follow on the last one.
# A filesystem whose adapter allows one node only gets "n/a" for the two-node workloads.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
repo=$PWD

fs_list=
from_raw=
runs=5
out=docs/bench/results.md
while [ $# -gt 0 ]; do
	case "$1" in
	--fs) fs_list=${2:?}; shift 2 ;;
	--runs) runs=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--from-raw) from_raw=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
if [ -z "$fs_list" ]; then
	fs_list=$(for adapter in scripts/bench/fs/*.sh; do basename "$adapter" .sh; done | tr '\n' ' ')
fi
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs must be a positive number" >&2; exit 2; }
for fs in $fs_list; do
	[ -r "scripts/bench/fs/$fs.sh" ] || { echo "bench: no adapter scripts/bench/fs/$fs.sh" >&2; exit 2; }
done
stream_runs=$((runs > 5 ? runs : 5))

FILES=2000
FILES_PER_NODE=1000
STREAM_MIB=64
PINGPONG_ROUNDS=20
RANDWRITE_OPS=2000

stamp=$(date -u +%Y%m%dT%H%M%S)
bench_dir=$repo/build/bench-logs/$stamp-$$
mkdir -p "$bench_dir"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
tree_tarball=$bench_dir/tree.tar
python3 scripts/bench/workload.py make-tree-tarball --out "$tree_tarball" >/dev/null ||
	{ echo "bench: cannot write $tree_tarball" >&2; exit 1; }
UNTAR_FILES=$(tar -tvf "$tree_tarball" | grep -c '^-')

# One filesystem: boot, set up, run every workload $runs times, append "fs workload run
# seconds count" lines to $bench_dir/raw.tsv. Runs in a subshell: the harness's EXIT trap
# stops this filesystem's cluster before the next one boots.
bench_fs() (
	local fs=$1 nodes
	export VM_LOG_DIR=$bench_dir/$fs
	source scripts/vm/lib.sh
	# shellcheck source=scripts/bench/fs/gfs2.sh # every adapter has this interface
	source "scripts/bench/fs/$fs.sh"
	nodes=$((FS_MAX_NODES >= 2 ? 2 : 1))
	cluster_start "$nodes" --shared-mib 2048
	local boot_start=$SECONDS
	fs_setup "$nodes" || exit 1
	fs_mkfs "$nodes" || exit 1
	local k
	for ((k = 1; k <= nodes; k++)); do
		fs_mount "$k" /mnt/bench || exit 1
	done
	vm_log "bench $fs: $nodes node(s) mounted, set-up took $((SECONDS - boot_start))s"
	echo -e "$fs\tsetup\t1\t$((SECONDS - boot_start))\t1" >>"$bench_dir/raw.tsv"

	local workload="python3 scripts/bench/workload.py"
	# From the node's tmpfs: reading it over 9p inside the measurement would time the
	# emulator's 9p transport, not the filesystem.
	node_run 1 -t 120 "cp $tree_tarball /tmp/tree.tar" || exit 1
	# Runs a workload on one node and records it.
	measure() {
		local name=$1 run=$2 node=$3 result seconds count
		shift 3
		result=$(node_run "$node" -t 600 "$workload $*") || { vm_log "bench $fs: $name failed"; exit 1; }
		seconds=$(awk '$1 == "seconds" {print $2}' <<<"$result")
		count=$(awk '$1 == "count" {print $2}' <<<"$result")
		echo -e "$fs\t$name\t$run\t$seconds\t$count" >>"$bench_dir/raw.tsv"
	}
	# Runs a workload on nodes 1 and 2 started together; records the slower node's time
	# and the operations both did together.
	measure_pair() {
		local name=$1 run=$2 count=$3 node1_args=$4 node2_args=$5 go=go-$fs-$1-$2 seconds
		rm -f "$VM_SHARE/$go"*
		node_run 1 -t 600 "$workload --go /cfs/run/$go $node1_args" >"$bench_dir/$go.1" &
		local pid1=$!
		node_run 2 -t 600 "$workload --go /cfs/run/$go $node2_args" >"$bench_dir/$go.2" &
		local pid2=$! start=$SECONDS
		until [ -e "$VM_SHARE/$go.ready-1" ] && [ -e "$VM_SHARE/$go.ready-2" ]; do
			((SECONDS - start < 120)) || { vm_log "bench $fs: $name: nodes not ready"; exit 1; }
			sleep 0.05
		done
		touch "$VM_SHARE/$go"
		wait "$pid1" || { vm_log "bench $fs: $name failed on node1"; exit 1; }
		wait "$pid2" || { vm_log "bench $fs: $name failed on node2"; exit 1; }
		seconds=$(awk '$1 == "seconds" && $2 > max {max = $2} END {print max}' "$bench_dir/$go.1" "$bench_dir/$go.2")
		echo -e "$fs\t$name\t$run\t$seconds\t$count" >>"$bench_dir/raw.tsv"
	}

	# Cold means nothing of the files on node 1 is cached: node 1 unmounts and mounts
	# again (drop_caches alone cannot drop what a filesystem pins, e.g. buffers held until
	# a journal checkpoint), then the workload also drops the caches.
	remount_node1() {
		fs_umount 1 /mnt/bench && fs_mount 1 /mnt/bench || { vm_log "bench $fs: remount of node 1 failed"; exit 1; }
	}
	fresh_fs() {
		for ((k = nodes; k >= 1; k--)); do
			fs_umount "$k" /mnt/bench || exit 1
		done
		fs_mkfs "$nodes" || exit 1
		for ((k = 1; k <= nodes; k++)); do
			fs_mount "$k" /mnt/bench || exit 1
		done
	}
	local run dir
	for ((run = 1; run <= runs; run++)); do
		dir=/mnt/bench/run$run
		node_run 1 "mkdir -p $dir" || exit 1
		measure create "$run" 1 create --dir "$dir/files" --count "$FILES"
		remount_node1
		measure stat "$run" 1 stat --dir "$dir/files" --drop-caches
		measure unlink "$run" 1 unlink --dir "$dir/files"
		measure untar "$run" 1 untar --tarball /tmp/tree.tar --dir "$dir/untar"
		if [ "$nodes" -ge 2 ]; then
			node_run 1 "mkdir -p $dir/shared $dir/own1 $dir/own2" || exit 1
			measure_pair shared-dir "$run" $((FILES_PER_NODE * 2)) \
				"create --dir $dir/shared --count $FILES_PER_NODE --prefix n1-" \
				"create --dir $dir/shared --count $FILES_PER_NODE --prefix n2-"
			measure_pair own-dirs "$run" $((FILES_PER_NODE * 2)) \
				"create --dir $dir/own1 --count $FILES_PER_NODE" \
				"create --dir $dir/own2 --count $FILES_PER_NODE"
			node_run 1 ": >$dir/pingpong" || exit 1
			measure_pair pingpong "$run" $((PINGPONG_ROUNDS * 2)) \
				"pingpong --file $dir/pingpong --rounds $PINGPONG_ROUNDS" \
				"pingpong --file $dir/pingpong --rounds $PINGPONG_ROUNDS"
		fi
		# Every run starts from a fresh filesystem: the runs are alike, and nothing is
		# spent removing thousands of files (minutes with cluster locking under TCG).
		fresh_fs
	done
	for ((run = 1; run <= stream_runs; run++)); do
		measure write "$run" 1 write --file /mnt/bench/stream --mib "$STREAM_MIB"
		remount_node1
		measure read "$run" 1 read --file /mnt/bench/stream --drop-caches
		node_run 1 "rm -f /mnt/bench/stream" || exit 1
	done
	for ((run = 1; run <= runs; run++)); do
		measure randwrite "$run" 1 randwrite --file /mnt/bench/random --mib "$STREAM_MIB" --ops "$RANDWRITE_OPS" --seed "$run"
		node_run 1 "rm -f /mnt/bench/random" || exit 1
	done
	for ((k = nodes; k >= 1; k--)); do
		fs_umount "$k" /mnt/bench || exit 1
	done
)

: >"$bench_dir/raw.tsv"
failed=()
if [ -n "$from_raw" ]; then
	cp "$from_raw" "$bench_dir/raw.tsv" || exit 1
	load_before="(not recorded: table regenerated from ${from_raw#"$repo"/})"
	load_after="(not recorded)"
else
	for fs in $fs_list; do
		echo "=== bench $fs (logs $bench_dir/$fs)"
		bench_fs "$fs" || failed+=("$fs")
	done
	load_after=$(cut -d' ' -f1-3 /proc/loadavg)
fi

# Median, fastest and slowest seconds per (fs, workload).
summary=$(awk -F'\t' '
	{ key = $1 "\t" $2; n[key]++; s[key, n[key]] = $4; c[key] = $5 }
	END {
		for (key in n) {
			m = n[key]
			for (i = 1; i <= m; i++) v[i] = s[key, i]
			for (i = 2; i <= m; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
			med = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
			print key "\t" med "\t" c[key] "\t" m "\t" v[1] "\t" v[m]
		}
	}' "$bench_dir/raw.tsv")

cell() { # fs workload kind(rate|ms|s) -> "median (seconds s; min-max)"
	awk -F'\t' -v fs="$1" -v w="$2" -v kind="$3" '
		$1 == fs && $2 == w {
			found = 1
			range = $6 > 0 && $7 > 0 && $6 != $7  # fastest and slowest seconds
			if (kind == "ms") {
				printf "%.1f (%.2f s", $3 * 1000 / $4, $3
				if (range) printf "; %.1f–%.1f", $6 * 1000 / $4, $7 * 1000 / $4
			} else if (kind == "s") {
				printf "%d s", $3
			} else {
				printf "%.0f (%.2f s", $4 / $3, $3
				if (range) printf "; %.0f–%.0f", $4 / $7, $4 / $6
			}
			if (kind != "s") printf ")"
		}
		END { if (!found) printf "n/a" }' <<<"$summary"
}

ratio() { # fs other workload -> "rate(fs) / rate(other)" to two decimals, or n/a
	awk -F'\t' -v a="$1" -v b="$2" -v w="$3" '
		$2 == w && $1 == a && $3 > 0 { ra = $4 / $3 }
		$2 == w && $1 == b && $3 > 0 { rb = $4 / $3 }
		END {
			if (ra > 0 && rb > 0) printf (ra / rb < 0.1 ? "%.3f" : "%.2f"), ra / rb
			else printf "n/a"
		}' <<<"$summary"
}

kver=$(source scripts/vm/lib.sh && vm_kernel_version)
mkdir -p "$(dirname "$out")"
{
	echo "# Benchmark results: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "Written by \`scripts/bench/run.sh\` (\`make bench-vm\`). qemu TCG (no KVM), 1 vCPU and"
	echo "768 MiB per VM, kernel $kver, $(nproc) host cores; host load average $load_before before,"
	echo "$load_after after (other work shares this machine: compare rows of one run only)."
	echo "Medians of $runs runs ($stream_runs for the 64 MiB write and read); each cell is the rate"
	echo "computed from the median time, that time, and the range of the runs' rates (min–max;"
	echo "for ping-pong, fastest–slowest ms per hand-off). Shared disk: a fully written 2 GiB raw"
	echo "image (cache=none). \`clusterfs\` (lock_cluster: corosync + clusterfs_lockd) and \`gfs2\`"
	echo "(lock_dlm: corosync + dlm_controld) run on 2 nodes, both mounted throughout: the one-node"
	echo "workloads run on node 1 while node 2 stays mounted and idle."
	if [[ " $fs_list " == *-nolock* ]]; then
		echo "The \`-nolock\` adapters and ext4 run on 1 node (no lock manager): compare them with each other."
	else
		echo "ext4 runs on 1 node (no lock manager)."
	fi
	echo
	echo "| filesystem | create 2000, files/s | ls -l cold (after umount+mount), files/s | unlink 2000, files/s | write+fsync 64 MiB, MiB/s | cold read 64 MiB (after umount+mount), MiB/s | 2 nodes × 1000, one dir, files/s | 2 nodes × 1000, own dirs, files/s | ping-pong append, ms/hand-off | mount set-up | random 4 KiB write+fsync, ops/s | untar $UNTAR_FILES files + sync, files/s |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	for fs in $fs_list; do
		if [[ " ${failed[*]:-} " == *" $fs "* ]]; then
			echo "| $fs | failed: see build/bench-logs/$stamp-$$/$fs |||||||||||"
			continue
		fi
		echo "| $fs | $(cell "$fs" create rate) | $(cell "$fs" stat rate) | $(cell "$fs" unlink rate) | $(cell "$fs" write rate) | $(cell "$fs" read rate) | $(cell "$fs" shared-dir rate) | $(cell "$fs" own-dirs rate) | $(cell "$fs" pingpong ms) | $(cell "$fs" setup s) | $(cell "$fs" randwrite rate) | $(cell "$fs" untar rate) |"
	done
	# Like against like: the cluster configurations, then the single-node ones.
	ratio_pairs=()
	for pair in "clusterfs gfs2" "clusterfs-nolock gfs2-nolock" "clusterfs-nolock ext4"; do
		read -r ours theirs <<<"$pair"
		[[ " $fs_list " == *" $ours "* && " $fs_list " == *" $theirs "* ]] && ratio_pairs+=("$pair")
	done
	if [ ${#ratio_pairs[@]} -gt 0 ]; then
		echo
		echo "Ratios of rates, clusterfs / peer (above 1: clusterfs is faster; ping-pong compares"
		echo "hand-offs per second):"
		echo
		echo "| clusterfs / peer | create | ls -l cold | unlink | write+fsync | cold read | 2 nodes, one dir | 2 nodes, own dirs | ping-pong | random 4 KiB write+fsync | untar |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|"
		for pair in "${ratio_pairs[@]}"; do
			read -r ours theirs <<<"$pair"
			printf '| %s / %s |' "$ours" "$theirs"
			for w in create stat unlink write read shared-dir own-dirs pingpong randwrite untar; do
				printf ' %s |' "$(ratio "$ours" "$theirs" "$w")"
			done
			echo
		done
	fi
	echo
	echo "Ping-pong: $PINGPONG_ROUNDS rounds ($((PINGPONG_ROUNDS * 2)) appends of 16 bytes, nodes alternating,"
	echo "each waiting until it sees the other's record); time per hand-off = total / appends."
	echo "Mount set-up: cluster stack, mkfs and mounting every node, after the VMs are up."
	echo "Each round of the metadata and two-node workloads starts on a fresh filesystem (every"
	echo "node unmounts, mkfs, every node mounts again)."
	echo "Random writes: fio, $RANDWRITE_OPS writes of 4 KiB at random 4 KiB-aligned offsets (ioengine=psync,"
	echo "fsync=1, randseed = run number) into a $STREAM_MIB MiB file written and fsync'ed before timing;"
	echo "time = fio's job runtime."
	echo "Untar: GNU tar extracting $UNTAR_FILES regular files (0-16 KiB, most under 4 KiB) in nested"
	echo "directories from the node's tmpfs, then sync(); files/s = files / (extract + sync)."
	echo
	echo "## Every run (fs, workload, run, seconds, count)"
	echo
	echo '```'
	cat "$bench_dir/raw.tsv"
	echo '```'
} >"$out"
echo "bench: results in $out (logs $bench_dir)"
[ ${#failed[@]} -eq 0 ] || { echo "bench: failed: ${failed[*]}" >&2; exit 1; }
