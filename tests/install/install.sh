#!/usr/bin/env bash
# Suite `install`: `make install PREFIX=/usr DESTDIR=scratch` and what an administrator
# then relies on.
#   - the exact list of installed files and their modes
#   - util-linux's `mkfs -t clusterfs` and `fsck -t clusterfs` run the installed tools
#     (they search PATH; a missing fsck.TYPE makes `fsck -t` exit 0 having checked
#     nothing, so the damaged image below must make it fail)
#   - every man page renders without a warning from man/groff
#   - the unit is Type=notify and the installed lockd sends READY=1 once its socket
#     answers, reading the installed example configuration (one-node corosync)
#   - the OCF agent starts, monitors and stops that lockd with OCF's exit codes
#   - the module's dependency (libcrc32c) and mount alias (fs-clusterfs) resolve through
#     depmod/modprobe in a private module tree
#   - dkms builds the module from the installed /usr/src tree, in private dkms trees
# Usage: tests/install/install.sh KDIR KVER VERSION (KDIR empty: no module checks)
set -u
KDIR=$1 KVER=$2 VERSION=$3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
failures=0 checks=0
good() { checks=$((checks + 1)); echo "ok   $*"; }
bad() { failures=$((failures + 1)); echo "FAIL $*"; }
skip() { echo "SKIP $*"; }

# The lockd check reuses the lockd suite's one-machine corosync cluster (namespaces);
# its cleanup trap also removes $WORK, our scratch directory.
. "$ROOT/tests/lockd/cluster_lib.sh"
DEST=$WORK/dest

echo "make install PREFIX=/usr DESTDIR=$DEST"
if ! make -C "$ROOT" --no-print-directory install PREFIX=/usr DESTDIR="$DEST" >"$WORK/install.log" 2>&1; then
	tail -n 30 "$WORK/install.log"
	bad "make install"
	exit 1
fi
good "make install"

# ---- the file list --------------------------------------------------------------------
{
	cat <<LIST
etc/clusterfs/lockd.conf 644
usr/lib/systemd/system/clusterfs_lockd.service 644
usr/sbin/clusterfs_lockd 755
usr/sbin/clusterfs_tool 755
usr/sbin/fsck.clusterfs 755
usr/sbin/mkfs.clusterfs 755
usr/share/man/man5/clusterfs.5 644
usr/share/man/man8/clusterfs_lockd.8 644
usr/share/man/man8/clusterfs_tool.8 644
usr/share/man/man8/fsck.clusterfs.8 644
usr/share/man/man8/mkfs.clusterfs.8 644
usr/src/clusterfs-$VERSION/dkms.conf 644
usr/lib/ocf/resource.d/clusterfs/clusterfs_lockd 755
LIST
	[ -n "$KDIR" ] && echo "lib/modules/$KVER/extra/clusterfs.ko 644"
	# The module's sources for dkms: what git tracks of kernel/ minus its tests, lib/'s
	# core (not lib/user), the format headers.
	(cd "$ROOT" && git ls-files kernel lib include) |
		grep -Ev '^kernel/tests/|^kernel/\.gitignore$|^lib/user/|^lib/freestanding/' |
		while read -r f; do
			case $f in kernel/scripts/*.sh) echo "usr/src/clusterfs-$VERSION/$f 755" ;;
				   *) echo "usr/src/clusterfs-$VERSION/$f 644" ;; esac
		done
} | sort >"$WORK/want"
(cd "$DEST" && find . \( -type f -o -type l \) -printf '%P %m\n') | sort >"$WORK/got"
if diff -u "$WORK/want" "$WORK/got" >"$WORK/list.diff"; then
	good "installed files and modes: $(wc -l <"$WORK/got") files as listed"
else
	bad "installed files differ from the list (- expected, + installed):"
	grep '^[-+][^-+]' "$WORK/list.diff" | sed 's/^/    /'
fi

# ---- mkfs -t / fsck -t ------------------------------------------------------------------
# Only the scratch sbin on PATH: what util-linux runs is the installed binary or nothing.
SBIN=$DEST/usr/sbin
truncate -s 64M "$WORK/fs.img"
if env -i PATH="$SBIN" /sbin/mkfs -t clusterfs -p lock_nolock -L installed "$WORK/fs.img" >"$WORK/mkfs.out" 2>&1 &&
	[ "$(dd if="$WORK/fs.img" bs=1 skip=65536 count=4 status=none)" = CLFS ]; then
	good "mkfs -t clusterfs runs the installed mkfs.clusterfs"
else
	bad "mkfs -t clusterfs: $(cat "$WORK/mkfs.out")"
fi
"$SBIN/clusterfs_tool" sb --json "$WORK/fs.img" >"$WORK/sb.json" 2>&1
[ "$(jq -r .label "$WORK/sb.json" 2>&1)" = installed ] && good "the label reached the disk" ||
	bad "label: $(head -c 300 "$WORK/sb.json")"
env -i PATH="$SBIN" /sbin/fsck -t clusterfs -n "$WORK/fs.img" >"$WORK/fsck.out" 2>&1
rc=$?
[ $rc -eq 0 ] && good "fsck -t clusterfs -n: clean image, exit 0" || bad "fsck -t clusterfs on a clean image: exit $rc: $(cat "$WORK/fsck.out")"
# Zeros where the superblock is: fsck.clusterfs says so and exits 8. Without the
# installed checker fsck -t would have exited 0.
cp --sparse=always "$WORK/fs.img" "$WORK/bad.img"
dd if=/dev/zero of="$WORK/bad.img" bs=4096 seek=16 count=1 conv=notrunc status=none
env -i PATH="$SBIN" /sbin/fsck -t clusterfs -n "$WORK/bad.img" >"$WORK/fsck.out" 2>&1
rc=$?
if [ $rc -eq 8 ] && grep -q "no clusterfs superblock" "$WORK/fsck.out"; then
	good "fsck -t clusterfs runs the installed fsck.clusterfs (damaged image: exit 8)"
else
	bad "fsck -t clusterfs on a damaged image: exit $rc: $(cat "$WORK/fsck.out")"
fi
env -i PATH=/nonexistent /sbin/fsck -t clusterfs -n "$WORK/bad.img" >/dev/null 2>&1
rc=$?
[ $rc -eq 0 ] && good "(control: without fsck.clusterfs in PATH, fsck -t exits 0)" ||
	skip "control: this fsck exits $rc without fsck.clusterfs"

# ---- man pages ----------------------------------------------------------------------------
for page in "$DEST"/usr/share/man/man*/*; do
	name=${page##*/}
	warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	text=$(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)
	if [ -z "$warn" ] && [ "$text" -gt 20 ]; then
		good "man $name renders ($text lines, no warning)"
	else
		bad "man $name: $text lines; warnings: $warn"
	fi
done
# The check above must be able to fail: a page with an unknown macro and a bad escape.
printf '.TH BAD 8\n.SH NAME\nbad \\- bad\n.XYZ nosuchmacro\n\\*[nosuchstring] text\n' >"$WORK/bad.8"
[ -n "$(MANWIDTH=80 man --warnings -l "$WORK/bad.8" 2>&1 >/dev/null)" ] &&
	good "(control: man --warnings reports a broken page)" || bad "man --warnings reports nothing on a broken page"
# clusterfs_tool(8) documents every command the tool has.
for cmd in $("$SBIN/clusterfs_tool" --help 2>&1 | awk '/^  [a-z-]+ /{print $1}'); do
	MANWIDTH=200 man -l "$DEST/usr/share/man/man8/clusterfs_tool.8" 2>/dev/null | grep -Eq "^ +$cmd( |$)" &&
		good "clusterfs_tool(8) documents '$cmd'" || bad "clusterfs_tool(8) lacks the command '$cmd'"
done

# ---- systemd unit, example configuration, readiness -----------------------------------
UNIT=$DEST/usr/lib/systemd/system/clusterfs_lockd.service
grep -qx 'Type=notify' "$UNIT" && grep -qx 'ExecStart=/usr/sbin/clusterfs_lockd -f' "$UNIT" &&
	good "unit: Type=notify, ExecStart=/usr/sbin/clusterfs_lockd -f" || bad "unit: $(grep -E '^(Type|ExecStart)=' "$UNIT")"
if command -v systemd-analyze >/dev/null; then
	# verify wants ExecStart to exist: check a copy that points into the scratch tree.
	mkdir -p "$WORK/unit"
	sed "s|^ExecStart=/usr/sbin/|ExecStart=$SBIN/|" "$UNIT" >"$WORK/unit/clusterfs_lockd.service"
	out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$WORK/unit/clusterfs_lockd.service" 2>&1 |
		grep -v -e 'corosync.service' -e 'remote-fs-pre.target' -e '^$')
	[ -z "$out" ] && good "systemd-analyze verify: no complaint about the unit" || bad "systemd-analyze verify: $out"
fi
# The installed example configuration is what lockd reads: it parses (a bad line exits 2).
printf 'no_such_key = 1\n' >"$WORK/badconf"
unshare -n "$SBIN/clusterfs_lockd" -f -c "$WORK/badconf" -s "$WORK/x.sock" >/dev/null 2>&1
[ $? -eq 2 ] && good "(control: lockd exits 2 on a bad configuration)" || bad "lockd accepted a bad configuration"
# READY=1: a datagram socket stands in for systemd's NOTIFY_SOCKET; the listener records
# whether lockd's socket already accepted a connection when READY=1 arrived.
cat >"$WORK/notify.py" <<'PY'
import os, socket, sys
notify, lockd_sock = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(notify)
print("listening", flush=True)
s.settimeout(30)
try:
    msg = s.recv(4096).decode()
except socket.timeout:
    print("timeout"); sys.exit(1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    c.connect(lockd_sock); up = "socket-answers"
except OSError as e:
    up = "socket-down:" + str(e)
print(msg.strip().replace("\n", ";"), up, flush=True)
PY
cluster_create 1
corosync_start 1
quorate_wait 1
python3 "$WORK/notify.py" "$WORK/notify.sock" "$WORK/lockd.sock" >"$WORK/notify.out" 2>&1 &
OUR_PIDS+=($!)
notify_pid=$!
for _ in $(seq 100); do grep -q listening "$WORK/notify.out" && break; sleep 0.05; done
ip netns exec "$(ns 1)" env NOTIFY_SOCKET="$WORK/notify.sock" "$SBIN/clusterfs_lockd" -f \
	-c "$DEST/etc/clusterfs/lockd.conf" -s "$WORK/lockd.sock" >"$WORK/lockd.out" 2>&1 &
lockd_pid=$!
OUR_PIDS+=($lockd_pid)
wait "$notify_pid"
result=$(tail -n 1 "$WORK/notify.out")
if [ "$result" = "READY=1 socket-answers" ]; then
	good "lockd with the example configuration: READY=1 once its socket answers"
else
	bad "lockd readiness: '$result'; lockd: $(tail -n 3 "$WORK/lockd.out")"
fi
kill "$lockd_pid" 2>/dev/null
wait "$lockd_pid" 2>/dev/null
grep -q "no fence_command" "$WORK/lockd.out" && good "the example configuration leaves fence_command unset" ||
	bad "lockd log: $(cat "$WORK/lockd.out")"

# ---- the OCF agent ------------------------------------------------------------------------
# Run as Pacemaker would (OCF_RESKEY_* parameters), in node 1's network namespace where
# corosync runs; OCF codes: 0 success, 1 generic error, 7 not running.
OCF=$DEST/usr/lib/ocf/resource.d/clusterfs/clusterfs_lockd
ocf() {
	ip netns exec "$(ns 1)" env OCF_RESKEY_binary="$SBIN/clusterfs_lockd" OCF_RESKEY_tool="$SBIN/clusterfs_tool" \
		OCF_RESKEY_config="$DEST/etc/clusterfs/lockd.conf" OCF_RESKEY_socket="$WORK/ocf/lockd.sock" \
		HA_RSCTMP="$WORK/ocf/rsc" OCF_RESOURCE_INSTANCE=lockd:0 OCF_RESKEY_CRM_meta_timeout=20000 \
		timeout 60 "$OCF" "$@" >>"$WORK/ocf.log" 2>&1
}
expect_ocf() {  # expect_ocf WANT ACTION DESCRIPTION
	ocf "$2"
	local rc=$?
	[ "$rc" -eq "$1" ] && good "ocf $2: $3 (exit $rc)" || bad "ocf $2: exit $rc, expected $1 ($3): $(tail -n 3 "$WORK/ocf.log")"
}
python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.read())' < <("$OCF" meta-data) &&
	good "ocf meta-data is well-formed XML" || bad "ocf meta-data: not XML"
expect_ocf 0 validate-all "parameters valid"
expect_ocf 7 monitor "not running before start"
expect_ocf 0 start "started"
[ -f "$WORK/ocf/rsc/clusterfs_lockd-lockd:0.pid" ] && OUR_PIDS+=("$(cat "$WORK/ocf/rsc/clusterfs_lockd-lockd:0.pid")")
CLUSTERFS_LOCKD_SOCKET=$WORK/ocf/lockd.sock "$SBIN/clusterfs_tool" cluster >"$WORK/ocf.cluster" 2>&1 &&
	grep -q "^node 1, quorate" "$WORK/ocf.cluster" && good "the agent's lockd answers clusterfs_tool cluster" ||
	bad "clusterfs_tool cluster: $(cat "$WORK/ocf.cluster")"
expect_ocf 0 monitor "running"
expect_ocf 0 start "start when running"
expect_ocf 0 stop "stopped"
expect_ocf 7 monitor "not running after stop"
[ -S "$WORK/ocf/lockd.sock" ] && bad "lockd left its socket behind" || good "lockd removed its socket on SIGTERM"
expect_ocf 0 stop "stop when stopped"
# resource-agents' own checker, as Pacemaker users validate an agent: meta-data,
# validate-all, monitor/start/stop in every order it tries, exit codes as the OCF spec says.
# ocf-tester also runs the agent as nobody (meta-data must work for any user): the
# scratch directory (mktemp's 0700) must let it through to the installed tree.
chmod 755 "$WORK"
if ! command -v ocf-tester >/dev/null; then
	bad "ocf-tester not found (Debian package resource-agents)"
elif out=$(ip netns exec "$(ns 1)" env HA_RSCTMP="$WORK/ocf/rsc3" ocf-tester -n lockd \
	-o binary="$SBIN/clusterfs_lockd" -o tool="$SBIN/clusterfs_tool" \
	-o config="$DEST/etc/clusterfs/lockd.conf" -o socket="$WORK/ocf/tester.sock" "$OCF" 2>&1); then
	good "ocf-tester accepts the agent"
else
	bad "ocf-tester: $out"
fi
# Without corosync (an empty network namespace) lockd exits: start must fail, not hang.
out=$(unshare -n env OCF_RESKEY_binary="$SBIN/clusterfs_lockd" OCF_RESKEY_tool="$SBIN/clusterfs_tool" \
	OCF_RESKEY_socket="$WORK/ocf/nocs.sock" HA_RSCTMP="$WORK/ocf/rsc2" timeout 60 "$OCF" start 2>&1)
rc=$?
[ $rc -eq 1 ] && good "ocf start without corosync: exit 1" || bad "ocf start without corosync: exit $rc: $out"

# ---- the module: modprobe dependencies and alias ------------------------------------------
if [ -z "$KDIR" ]; then
	skip "module checks: no kernel headers (KDIR)"
else
	KO=$DEST/lib/modules/$KVER/extra/clusterfs.ko
	[ "$(modinfo -F vermagic "$KO" | cut -d' ' -f1)" = "$KVER" ] && good "module built for $KVER" ||
		bad "module vermagic: $(modinfo -F vermagic "$KO")"
	# A private module tree: the installed module next to the distribution's libcrc32c
	# (when the host has that kernel's modules), then depmod and modprobe's resolution.
	HOSTMODS=/lib/modules/$KVER
	CRC=$(find "$HOSTMODS/kernel" -name 'libcrc32c.ko*' 2>/dev/null | head -1)
	if [ -n "$CRC" ]; then
		M=$WORK/modtree/lib/modules/$KVER
		mkdir -p "$M/extra" "$M/kernel/lib"
		cp "$KO" "$M/extra/"
		cp "$CRC" "$M/kernel/lib/"
		cp "$HOSTMODS"/modules.builtin* "$HOSTMODS"/modules.order "$M/" 2>/dev/null
		depmod -b "$WORK/modtree" "$KVER" 2>"$WORK/depmod.err"
		deps=$(modprobe -d "$WORK/modtree" -S "$KVER" --show-depends clusterfs 2>&1)
		if [[ "$deps" == *"kernel/lib/libcrc32c.ko"*"extra/clusterfs.ko"* ]]; then
			good "modprobe clusterfs loads libcrc32c first"
		else
			bad "modprobe --show-depends clusterfs: $deps $(cat "$WORK/depmod.err")"
		fi
		# mount -t clusterfs makes the kernel request "fs-clusterfs".
		alias=$(modprobe -d "$WORK/modtree" -S "$KVER" --show-depends fs-clusterfs 2>&1)
		[[ "$alias" == *"extra/clusterfs.ko"* ]] && good "fs-clusterfs (mount's request) resolves to clusterfs.ko" ||
			bad "modprobe fs-clusterfs: $alias"
	else
		skip "modprobe resolution: no $HOSTMODS/kernel here"
	fi

	# ---- dkms ---------------------------------------------------------------------------
	if command -v dkms >/dev/null; then
		# Private source and dkms trees under $WORK (--sourcetree, --dkmstree) and a
		# private signing key (dkms would otherwise create /var/lib/dkms/mok.key): nothing
		# under /usr/src or /var/lib/dkms is touched; removing $WORK cleans up.
		DV="$VERSION.test$$"
		before=$(ls -A /usr/src /var/lib/dkms 2>&1)
		mkdir -p "$WORK/dkms-src" "$WORK/dkms-tree"
		cp -r "$DEST/usr/src/clusterfs-$VERSION" "$WORK/dkms-src/clusterfs-$DV"
		sed -i "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$DV\"/" "$WORK/dkms-src/clusterfs-$DV/dkms.conf"
		D=(--sourcetree "$WORK/dkms-src" --dkmstree "$WORK/dkms-tree")
		start=$SECONDS
		if dkms add -m clusterfs -v "$DV" "${D[@]}" >"$WORK/dkms.log" 2>&1 &&
			mok_signing_key=$WORK/mok.key mok_certificate=$WORK/mok.pub \
				dkms build -m clusterfs -v "$DV" -k "$KVER" --kernelsourcedir "$KDIR" "${D[@]}" >>"$WORK/dkms.log" 2>&1; then
			built=$(find "$WORK/dkms-tree/clusterfs/$DV/$KVER" -name 'clusterfs.ko*' | head -1)
			if [ -n "$built" ] && [ "$(modinfo -F alias "$built")" = fs-clusterfs ] &&
				[ "$(modinfo -F vermagic "$built" | cut -d' ' -f1)" = "$KVER" ]; then
				good "dkms build from the installed sources: clusterfs.ko for $KVER ($((SECONDS - start)) s)"
			else
				bad "dkms build: no usable module ($built)"
			fi
		else
			bad "dkms add/build:"
			tail -n 30 "$WORK/dkms.log" | sed 's/^/    /'
			find "$WORK/dkms-tree" -name make.log -exec tail -n 30 {} \; 2>/dev/null | sed 's/^/    /'
		fi
		dkms remove -m clusterfs -v "$DV" --all "${D[@]}" >/dev/null 2>&1
		[ "$(ls -A /usr/src /var/lib/dkms 2>&1)" = "$before" ] && good "dkms left /usr/src and /var/lib/dkms as they were" ||
			bad "dkms changed /usr/src or /var/lib/dkms: $(diff <(echo "$before") <(ls -A /usr/src /var/lib/dkms 2>&1))"
	else
		skip "dkms build: dkms is not installed (make deps)"
	fi
fi

echo "install: $checks checks passed, $failures failed"
[ "$failures" -eq 0 ]
