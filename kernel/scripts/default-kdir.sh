#!/bin/sh
# Prints the kernel build directory clusterfs.ko is built against by default: the
# running kernel's, when its headers are installed; else the headers of the kernel the
# VMs boot by default (scripts/default-kernel.sh: Debian's default kernel); else the
# newest installed Debian linux-headers-*-amd64. Prints nothing when there is none.
running=/lib/modules/$(uname -r)/build
if [ -f "$running/Makefile" ]; then
	echo "$running"
	exit 0
fi
default=$("$(dirname "$0")/../../scripts/default-kernel.sh")
if [ -n "$default" ] && [ -f "/usr/src/linux-headers-$default/Makefile" ]; then
	echo "/usr/src/linux-headers-$default"
	exit 0
fi
newest=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
[ -n "$newest" ] && [ -f "$newest/Makefile" ] && echo "$newest"
exit 0
