#!/bin/sh
# Prints the kernel version the VMs boot and clusterfs.ko is built for by default:
# Debian's default kernel (the one the linux-image-amd64 metapackage depends on) when it
# is installed, so that installing another kernel next to it (6.12 from backports or
# security) changes neither; otherwise the newest installed kernel with an image and
# modules. Prints nothing when there is none. Override with VM_KERNEL / KDIR.
debian_default=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null |
	sed -n 's/.*linux-image-\([^ ,]*\).*/\1/p')
if [ -n "$debian_default" ] && [ -r "/boot/vmlinuz-$debian_default" ] &&
	[ -f "/lib/modules/$debian_default/modules.dep" ]; then
	echo "$debian_default"
	exit 0
fi
best=
for version in $(ls /lib/modules 2>/dev/null | sort -V); do
	[ -r "/boot/vmlinuz-$version" ] && [ -f "/lib/modules/$version/modules.dep" ] && best=$version
done
[ -n "$best" ] && echo "$best"
exit 0
