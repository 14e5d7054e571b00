#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# check-cxx-object.sh OBJECT: fail when a C++ object compiled for clusterfs.ko
#  - needs a symbol from the C++ runtime (libstdc++/libsupc++) or from libgcc, which the
#    kernel does not provide (128-bit division, popcount without POPCNT, unwinding, RTTI,
#    guarded statics, atexit...), or
#  - carries a section the module loader silently ignores: static constructors
#    (.init_array/.ctors: CONFIG_CONSTRUCTORS is off in distribution kernels) or thread-
#    local storage (.tbss/.tdata), or exception tables.
# The runtime pieces clusterfs provides itself (operator new/delete, __cxa_pure_virtual,
# __cxa_deleted_virtual, std::nothrow) are allowed.
set -eu
obj=$1
NM=${NM:-nm}
READELF=${READELF:-readelf}
CXXFILT=${CXXFILT:-c++filt}

status=0

undefined=$($NM -u "$obj" | awk '{print $NF}')
bad=$(printf '%s\n' "$undefined" | grep -E \
	-e '^_ZN?K?St' -e '^_ZNSt' -e '^_ZSt' -e '^_ZTI' -e '^_ZTS' -e '^_ZTV' \
	-e '^_ZN(9|10)__cxxabiv' -e '^_ZN9__gnu_cxx' -e '^_ZGV' \
	-e '^__cxa_' -e '^__gxx_' -e '^_Unwind_' -e '^__dynamic_cast$' -e '^__tls_get_addr$' \
	-e '^__(u?div|u?mod|mul|ashl|ashr|lshr|neg|u?cmp)[a-z]i3$' \
	-e '^__(popcount|parity|clz|ctz|ffs|bswap|clrsb)[a-z]i2$' \
	-e '^__(float|fix|extend|trunc|add|sub|div|mul|pow)[a-z0-9]*[sdtx]f' \
	-e '^__atomic_' -e '^__sync_' -e '^__stack_chk_guard$' \
	-e '^(abort|malloc|free|calloc|realloc|printf|puts|strlen|memcmp_s|__assert_fail|atexit)$' \
	| grep -v -E -e '^__cxa_(pure|deleted)_virtual$' -e '^_ZSt7nothrow$' || true)
if [ -n "$bad" ]; then
	echo "$obj: needs symbols the kernel does not provide (C++ runtime/libgcc/libc):" >&2
	printf '%s\n' "$bad" | $CXXFILT | sed 's/^/    /' >&2
	status=1
fi

sections=$($READELF -SW "$obj" | sed -n 's/^ *\[ *[0-9]*\] \([^ ]*\).*/\1/p' | \
	grep -E '^(\.init_array|\.fini_array|\.ctors|\.dtors|\.tbss|\.tdata|\.gcc_except_table|\.eh_frame)(\..*)?$' || true)
if [ -n "$sections" ]; then
	echo "$obj: has sections the module loader ignores or the kernel cannot honour:" >&2
	printf '    %s\n' $sections >&2
	status=1
fi
exit $status
