#!/usr/bin/env bash
# Checks objects of lib/ built with kernel-like flags: every undefined symbol must be a
# function declared in lib/env.h or one the kernel provides to compiled code (mem*,
# the stack protector, ftrace and retpoline/return thunks); no section that needs a
# runtime the kernel does not have (.init_array/.ctors: static constructors; .tbss/
# .tdata: thread_local).
# Usage: check_freestanding.sh lib/env.h obj...
set -u
env_h=$1
shift
allowed=$(grep -oE '\bcfs_env_[a-z0-9_]+\s*\(' "$env_h" | sed 's/\s*($//' | sort -u)
allowed+=$'\n'"memcpy"$'\n'"memset"$'\n'"memmove"$'\n'"memcmp"$'\n'"__stack_chk_fail"
allowed+=$'\n'"__fentry__"$'\n'"__x86_return_thunk"
status=0
# Symbols one lib object takes from another are fine: check the objects linked together.
combined=$(mktemp --suffix=.o)
trap 'rm -f "$combined"' EXIT
ld -r -o "$combined" "$@" || exit 1
while read -r sym; do
	[ -z "$sym" ] && continue
	case $sym in
	__x86_indirect_thunk_*) continue ;;
	esac
	if ! grep -qxF "$sym" <<<"$allowed"; then
		echo "lib/: undefined symbol outside env.h: $sym ($(c++filt "$sym"))" >&2
		status=1
	fi
done < <(nm -u "$combined" | awk '{print $NF}')
for obj in "$@"; do
	bad=$(objdump -h "$obj" | awk '{print $2}' | grep -E '^\.(init_array|ctors|tbss|tdata)' || true)
	if [ -n "$bad" ]; then
		echo "$obj: forbidden sections: $bad" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "lib-freestanding: $# objects clean"
exit $status
