#!/bin/sh
# Mirrors the module's sources into DEST/kernel (with DEST/include and DEST/lib pointing
# back at the checkout's), so that clusterfs.ko can be built for a second kernel without
# touching the objects of kernel/ (an external module build writes into its source
# directory). Only changed files are copied: Kbuild stays incremental.
# usage: mirror-sources.sh DEST
set -eu
dest=${1:?usage: mirror-sources.sh DEST}
repo=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dest/kernel"
dest=$(cd "$dest" && pwd)
ln -sfn "$repo/include" "$dest/include"
ln -sfn "$repo/lib" "$dest/lib"
cd "$repo/kernel"
find . \( -path ./lib -o -path ./tests -o -name "*.mod.c" \) -prune -o -type f \
	\( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name Kbuild -o -name Makefile \
	-o -path './scripts/*' -o -path './cxx-include/*' \) -print |
while read -r file; do
	if ! cmp -s "$file" "$dest/kernel/$file"; then
		mkdir -p "$dest/kernel/$(dirname "$file")"
		cp -p "$file" "$dest/kernel/$file"
	fi
done
