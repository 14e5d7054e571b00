#!/bin/bash
# module-symbols-test.sh MODULE KDIR: the built module must only need symbols that the
# target kernel exports (Module.symvers), must carry no static constructors, and must
# declare the filesystem alias that lets `mount -t clusterfs` autoload it.
set -u
module=$1 kdir=$2
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

[ -f "$module" ] || { echo "FAIL: $module not built"; exit 1; }
symvers=$kdir/Module.symvers
[ -f "$symvers" ] || { echo "FAIL: $symvers missing"; exit 1; }

missing=$(comm -23 <(nm -u "$module" | awk '{print $2}' | sort -u) \
	<(awk '{print $2}' "$symvers" | sort -u) | grep -v -E '^(__fentry__|__x86_return_thunk|__x86_indirect_thunk_.*|__stack_chk_fail|__this_module)$' || true)
# Symbols defined by the kernel image itself but not in Module.symvers are resolved by
# the loader only when exported; anything left is a module that fails to load.
[ -z "$missing" ] || fail "module needs symbols the kernel does not export: $(echo $missing | c++filt)"

if readelf -SW "$module" | grep -q -E '\.(init_array|ctors|tbss|tdata)'; then
	fail "module has static constructor or TLS sections"
fi
modinfo -F alias "$module" | grep -qx 'fs-clusterfs' || fail "no fs-clusterfs alias"
[ "$(modinfo -F license "$module")" = GPL ] || fail "license is not GPL"

[ $failures -eq 0 ] || exit 1
echo "module-symbols-test: $(nm -u "$module" | wc -l) undefined symbols, all exported by $(basename "$kdir")"
