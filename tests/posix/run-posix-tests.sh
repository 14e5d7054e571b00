#!/bin/sh
# Runs the POSIX behaviour suite and the random-operation verifier against one mounted
# filesystem: the entry point for the VM tests (POSIX sh, so it runs under busybox too).
#
# usage: run-posix-tests.sh BINDIR DIR [--fsx-seeds N] [--fsx-ops N] [--fsx-first-seed S]
#                           [-- CFS_POSIX_SUITE-ARGS...]
#   e.g. run-posix-tests.sh /host/build/bin /mnt/cfs --fsx-seeds 4 -- --skip xattr --skip acl
# Exit status 0 only if the suite and every cfs_fsx run passed.
set -u

usage() {
	echo "usage: run-posix-tests.sh BINDIR DIR [--fsx-seeds N] [--fsx-ops N] [--fsx-first-seed S] [-- SUITE-ARGS...]" >&2
	exit 2
}
[ $# -ge 2 ] || usage
bin=$1 dir=$2
shift 2
seeds=4 ops=20000 first_seed=1
while [ $# -gt 0 ]; do
	case $1 in
	--fsx-seeds) [ $# -ge 2 ] || usage; seeds=$2; shift 2 ;;
	--fsx-ops) [ $# -ge 2 ] || usage; ops=$2; shift 2 ;;
	--fsx-first-seed) [ $# -ge 2 ] || usage; first_seed=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "run-posix-tests: unknown option $1" >&2; usage ;;
	esac
done
for n in "$seeds" "$ops" "$first_seed"; do
	case $n in '' | *[!0-9]*) echo "run-posix-tests: '$n' is not a number" >&2; usage ;; esac
done
[ -d "$dir" ] || { echo "run-posix-tests: $dir is not a directory" >&2; exit 2; }
for p in cfs_posix_suite cfs_fsx; do
	[ -x "$bin/$p" ] || { echo "run-posix-tests: $bin/$p missing" >&2; exit 2; }
done

failed=0
echo "--- cfs_posix_suite $dir $*"
if "$bin/cfs_posix_suite" "$dir" "$@"; then suite=PASS; else suite=FAIL; failed=1; fi

fsx_pass=0 fsx_runs=0
seed=$first_seed
while [ "$seed" -lt $((first_seed + seeds)) ]; do
	# Every other run keeps the file small, crossing the inline / block-mapped boundary.
	if [ $((seed % 2)) -eq 0 ]; then len=12288; else len=1048576; fi
	echo "--- cfs_fsx $dir --seed $seed --ops $ops --max-len $len"
	fsx_runs=$((fsx_runs + 1))
	if "$bin/cfs_fsx" "$dir" --seed "$seed" --ops "$ops" --max-len "$len"; then
		fsx_pass=$((fsx_pass + 1))
	else
		failed=1
	fi
	seed=$((seed + 1))
done
echo "posix tests on $dir: suite $suite, cfs_fsx $fsx_pass/$fsx_runs passed"
exit $failed
