#!/usr/bin/env bash
# Builds the test VMs' initramfs: busybox-static, the virtio modules of one installed
# Debian kernel (with their dependencies, in load order) and scripts/vm/initramfs-init.
#
# usage: mkinitramfs.sh KERNEL_VERSION OUTPUT.cpio.gz
set -euo pipefail

kver=${1:?usage: mkinitramfs.sh KERNEL_VERSION OUTPUT.cpio.gz}
output=${2:?usage: mkinitramfs.sh KERNEL_VERSION OUTPUT.cpio.gz}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# What the init needs before the 9p root is up: PCI virtio, disks, network, 9p.
# Some of them are built in on some kernels; modprobe then prints no insmod line.
wanted_modules=(virtio_pci virtio_blk virtio_net 9pnet_virtio 9p)

busybox=$(command -v busybox) || { echo "mkinitramfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
	echo "mkinitramfs: $busybox is dynamically linked; install busybox-static" >&2
	exit 1
fi
[ -f "/lib/modules/$kver/modules.dep" ] || { echo "mkinitramfs: no /lib/modules/$kver/modules.dep" >&2; exit 1; }

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging"/{bin,dev,proc,sys,modules}
cp "$busybox" "$staging/bin/busybox"
install -m 0755 "$here/initramfs-init" "$staging/init"

# Module files in dependency order, each once. Compressed modules (.ko.xz/.ko.zst, as on
# newer Debian kernels) are unpacked because busybox insmod reads plain ELF only.
declare -A seen=()
: >"$staging/modules.order"
for module in "${wanted_modules[@]}"; do
	deps=$(modprobe -S "$kver" --show-depends "$module" 2>&1) || {
		echo "mkinitramfs: module $module of $kver: $deps" >&2
		exit 1
	}
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		[ -z "${seen[$path]:-}" ] || continue
		seen[$path]=1
		base=$(basename "$path")
		case "$path" in
		*.ko.xz) xz -dc "$path" >"$staging/modules/${base%.xz}"; base=${base%.xz} ;;
		*.ko.zst) zstd -qdc "$path" >"$staging/modules/${base%.zst}"; base=${base%.zst} ;;
		*.ko.gz) gzip -dc "$path" >"$staging/modules/${base%.gz}"; base=${base%.gz} ;;
		*) cp "$path" "$staging/modules/$base" ;;
		esac
		echo "$base" >>"$staging/modules.order"
	done <<<"$deps"
done

mkdir -p "$(dirname "$output")"
(cd "$staging" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$output.tmp"
mv "$output.tmp" "$output"
