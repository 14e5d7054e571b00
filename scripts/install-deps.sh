#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing, benchmarking and the demo need.
# Idempotent: does nothing when every package is already installed.
set -eu
packages=(
	build-essential g++ make pkg-config
	googletest libgtest-dev clang libclang-rt-14-dev
	libblkid-dev uuid-dev
	corosync libcpg-dev libquorum-dev libcmap-dev libcorosync-common-dev
	qemu-system-x86 qemu-utils linux-image-amd64 linux-headers-amd64 busybox-static
	linux-image-6.12-amd64 linux-headers-6.12-amd64 # second target: make kernel-module-612, test-kernel-vm-612
	dlm-controld libdlm-dev gfs2-utils ocfs2-tools
	iproute2 kmod cpio xz-utils e2fsprogs procps psmisc util-linux
	fio stress-ng dbench
	jq time
	zlib1g-dev
	xfsprogs
	python3 gzip
	attr acl
	resource-agents # ocf-tester validates the OCF agent (tests/install)
	nlohmann-json3-dev # clusterfs_tool --json
	libsystemd-dev # clusterfs_lockd: sd_notify (Type=notify)
	dkms # test-install: dkms builds the module from the installed source
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${missing[*]}; run as root (sudo make deps)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
