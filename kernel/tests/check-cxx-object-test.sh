#!/bin/bash
# Proves that kernel/scripts/check-cxx-object.sh accepts a clean freestanding C++ object
# and rejects each construct the kernel cannot support: libgcc helpers, C++ runtime
# calls, static constructors, thread-local storage.
set -u
cd "$(dirname "$0")/.."
check=scripts/check-cxx-object.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CXX=${CXX:-g++}
flags=(-std=gnu++20 -O2 -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics
	-fno-use-cxa-atexit -fno-asynchronous-unwind-tables -mno-sse -mno-mmx -mno-red-zone
	-mcmodel=kernel -fno-pie -mno-popcnt -c)
failures=0

# expect NAME accept|reject PATTERN EXTRA_FLAGS... <<< source
expect() {
	local name=$1 verdict=$2 pattern=$3
	shift 3
	cat >"$work/$name.cpp"
	if ! $CXX "${flags[@]}" "$@" -o "$work/$name.o" "$work/$name.cpp" 2>"$work/$name.cc.log"; then
		echo "FAIL $name: sample does not compile"; cat "$work/$name.cc.log"; failures=$((failures + 1)); return
	fi
	local out rc
	out=$(sh "$check" "$work/$name.o" 2>&1); rc=$?
	if [ "$verdict" = accept ]; then
		if [ $rc -ne 0 ]; then echo "FAIL $name: rejected a clean object: $out"; failures=$((failures + 1)); return; fi
	else
		if [ $rc -eq 0 ]; then echo "FAIL $name: accepted an object that needs $pattern"; failures=$((failures + 1)); return; fi
		if ! grep -q -- "$pattern" <<<"$out"; then echo "FAIL $name: message does not name $pattern: $out"; failures=$((failures + 1)); return; fi
	fi
	echo "ok   $name ($verdict)"
}

expect clean accept "" <<'SRC'
#include <cstdint>
#include <new>
struct Node { virtual ~Node() = default; virtual int f() const { return 1; } };
extern "C" int external_glue_function(int);
int use(std::uint64_t a, std::uint64_t b) { Node *n = new (std::nothrow) Node; int r = n ? n->f() : 0; delete n; return r + int(a / b) + external_glue_function(2); }
SRC

expect div128 reject __udivti3 <<'SRC'
unsigned __int128 quotient(unsigned __int128 a, unsigned __int128 b) { return a / b; }
SRC

expect popcount reject __popcountdi2 <<'SRC'
int bits(unsigned long x) { return __builtin_popcountl(x); }
SRC

expect static_ctor reject .init_array <<'SRC'
extern int seed();
struct Table { int v; Table() : v(seed()) {} };
Table table;
SRC

expect thread_local reject .tbss <<'SRC'
thread_local int counter;
int next() { return ++counter; }
SRC

expect guarded_static reject __cxa_guard_acquire -fthreadsafe-statics <<'SRC'
extern int seed();
int once() { static int v = seed(); return v; }
SRC

expect rtti reject __dynamic_cast -frtti <<'SRC'
struct A { virtual ~A(); }; struct B : A { int x; };
int probe(A *a) { B *b = dynamic_cast<B *>(a); return b ? b->x : 0; }
SRC

expect libstdcxx reject "std::" <<'SRC'
#include <array>
// std::array::at() reports out-of-range through libstdc++'s std::__throw_out_of_range_fmt.
int pick(const std::array<int, 4> &a, unsigned long i) { return a.at(i); }
SRC

if [ $failures -ne 0 ]; then
	echo "check-cxx-object-test: $failures failure(s)"
	exit 1
fi
echo "check-cxx-object-test: all cases behave"
