# clusterfs VM harness: boot N qemu nodes on one shared disk and drive them.
# Source it from bash (run as root):
#
#   source scripts/vm/lib.sh
#   cluster_start 2 --shared-mib 1024      # boots node1..node2, waits for their agents
#   node_run 1 'mkfs.ext4 -q $CFS_SHARED_DEV'
#   cluster_stop                           # also runs on exit, Ctrl-C and TERM
#
# The full API and the VM's layout are documented in docs/testing.md. In short:
#   cluster_start N [--shared-mib M] [--private-mib M] [--mem MiB] [--no-trap] [--discard]
#                                   (--discard: guests' discards punch holes in the shared
#                                   image, $VM_SHARED_IMAGE on the host)
#   node_run K [-t SECS] CMD...     CMD (joined like ssh) run by bash on node K as root,
#                                   in the caller's directory; its stdout, stderr, status
#   node_copy_in K HOSTPATH VMPATH / node_copy_out K VMPATH HOSTPATH
#   node_kill K                     kill -9 that node's qemu (a crash)
#   node_boot K                     boot it again on the same disks, wait for its agent
#   node_alive K                    is that qemu still running
#   cluster_stop                    save dmesg and logs, stop the VMs, remove the network,
#                                   check every console; non-zero on a kernel splat
#   vm_console_check                the console check alone (oops, BUG, WARNING, ...)
#   vm_console_accept K             node K's console so far was expected (crash tests)
#   fail MSG / assert_eq EXPECTED ACTUAL [WHAT]   end a test with a clear message
#   node_expect_fail K [-t S] WHAT CMD...   CMD must fail on node K with a status 1-123
# plus the cluster stack helpers of scripts/vm/cluster.sh (corosync, dlm_controld).
#
# Settings (environment): VM_LOG_DIR (default build/vm-logs/run-PID), VM_KERNEL (a
# version under /lib/modules; default: scripts/default-kernel.sh), VM_MEM_MIB,
# VM_KERNEL_ARGS (appended to the kernel command line), VM_CONSOLE_ALLOW (an ERE: console
# lines matching it are not failures), VM_KEEP=1 (keep disk images and the share),
# VM_IMAGE_ROOT (where disk images go, e.g. /dev/shm), VM_BOOT_TIMEOUT (default 300 s),
# VM_RUN_TIMEOUT (node_run's default limit, 120 s).

VM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_SCRIPTS=$VM_REPO/scripts/vm
# Names derived from the PID of the shell that starts the cluster (set again by
# cluster_start, which may run in a subshell): two runs never share them.
VM_RUN_ID=cfsvm-$BASHPID
VM_STATE_DIR=$VM_REPO/build/vm/runs/$VM_RUN_ID
VM_NETNS=$VM_RUN_ID
VM_SUBNET=10.77.0
VM_NODES=0
VM_STARTED=0
declare -a VM_PIDS=()
_vm_shared_image=
_vm_private_mib=0
_vm_shared_discard=0
VM_SHARED_IMAGE=
_vm_job_seq=0

# Patterns of kernel console lines that fail a test.
VM_CONSOLE_FAIL='Oops|BUG:|WARNING:|Kernel panic|general protection fault|Call Trace:|INFO: task .* blocked for more than|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|soft lockup|hard LOCKUP|rcu: INFO|self-detected stall|cfs-init: FATAL|list_add corruption|list_del corruption|Poison overwritten|Redzone|Object padding|slab_out_of_bounds'

vm_log() { printf '[%s] %s\n' "$(date -u +%T)" "$*" >&2; }
vm_die() { vm_log "ERROR: $*"; exit 1; }

# The kernel the VMs boot: VM_KERNEL, or scripts/default-kernel.sh's choice (Debian's
# default kernel, the one kernel/ builds clusterfs.ko for by default).
vm_kernel_version() {
	if [ -n "${VM_KERNEL:-}" ]; then
		echo "$VM_KERNEL"
		return
	fi
	local best
	best=$("$VM_REPO/scripts/default-kernel.sh")
	[ -n "$best" ] || vm_die "no kernel with /boot/vmlinuz-V and /lib/modules/V (apt-get install linux-image-amd64)"
	echo "$best"
}

# Builds (when missing or older than its inputs) and prints the initramfs for a kernel.
vm_initramfs() {
	local kver=$1 out
	out=$VM_REPO/build/vm/initramfs-$kver.cpio.gz
	if [ ! -s "$out" ] || [ "$VM_SCRIPTS/initramfs-init" -nt "$out" ] ||
		[ "$VM_SCRIPTS/mkinitramfs.sh" -nt "$out" ] || [ "/lib/modules/$kver/modules.dep" -nt "$out" ]; then
		# Two harness runs may build it at once: build privately, rename atomically.
		bash "$VM_SCRIPTS/mkinitramfs.sh" "$kver" "$out.$$" >&2 || vm_die "building the initramfs failed"
		mv "$out.$$" "$out"
	fi
	echo "$out"
}

# A raw image of SIZE MiB, every block written: a sparse image makes the host's block
# allocation part of every guest measurement.
_vm_make_image() {
	local path=$1 mib=$2
	dd if=/dev/zero of="$path" bs=1M count="$mib" status=none || vm_die "cannot write $path"
}

_vm_check_node() {
	[[ $1 =~ ^[1-9][0-9]*$ ]] && [ "$1" -le "$VM_NODES" ] || vm_die "no node '$1' (cluster has $VM_NODES)"
}

cluster_start() {
	local nodes=${1:-} shared_mib=1024 mem=${VM_MEM_MIB:-768} install_trap=1
	[[ $nodes =~ ^[1-4]$ ]] || vm_die "cluster_start: node count must be 1-4, got '${nodes}'"
	shift
	_vm_private_mib=0
	_vm_shared_discard=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--shared-mib) shared_mib=${2:?}; shift 2 ;;
		--private-mib) _vm_private_mib=${2:?}; shift 2 ;;
		--mem) mem=${2:?}; shift 2 ;;
		--no-shared) shared_mib=0; shift ;;
		--no-trap) install_trap=0; shift ;;
		--discard) _vm_shared_discard=1; shift ;;
		*) vm_die "cluster_start: unknown option '$1'" ;;
		esac
	done
	[[ $shared_mib =~ ^[0-9]+$ && $_vm_private_mib =~ ^[0-9]+$ && $mem =~ ^[0-9]+$ ]] ||
		vm_die "cluster_start: sizes must be numbers of MiB"
	[ "$(id -u)" -eq 0 ] || vm_die "the VM harness needs root (network namespace, taps)"
	[[ $VM_REPO != *[[:space:]]* ]] || vm_die "the checkout path '$VM_REPO' has white space: the kernel command line cannot carry it"
	[ "$VM_STARTED" -eq 0 ] || vm_die "cluster_start: a cluster is already running in this shell"
	command -v qemu-system-x86_64 >/dev/null || vm_die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"

	VM_RUN_ID=cfsvm-$BASHPID
	VM_STATE_DIR=$VM_REPO/build/vm/runs/$VM_RUN_ID
	VM_NETNS=$VM_RUN_ID
	VM_LOG_DIR=${VM_LOG_DIR:-$VM_REPO/build/vm-logs/run-$BASHPID}
	VM_KVER=$(vm_kernel_version) || exit 1
	VM_INITRD=$(vm_initramfs "$VM_KVER") || exit 1
	VM_NODES=$nodes
	VM_MEM=$mem
	VM_IMAGE_DIR=${VM_IMAGE_ROOT:-$VM_STATE_DIR}/$VM_RUN_ID-images
	mkdir -p "$VM_LOG_DIR" "$VM_STATE_DIR/share" "$VM_IMAGE_DIR"
	VM_SHARE=$VM_STATE_DIR/share
	VM_STARTED=1
	if [ "$install_trap" -eq 1 ]; then
		trap '_vm_on_exit' EXIT
		trap 'vm_log "interrupted"; exit 130' INT
		trap 'vm_log "terminated"; exit 143' TERM
	fi
	vm_log "cluster: $nodes node(s), kernel $VM_KVER, ${mem} MiB each, shared disk ${shared_mib} MiB, logs $VM_LOG_DIR"

	# A namespace of this name was left by a run that died by SIGKILL (its PID is ours
	# now): nothing can be using it.
	if ip netns list | grep -qw "^$VM_NETNS"; then
		vm_log "removing stale network namespace $VM_NETNS"
		ip netns del "$VM_NETNS"
	fi
	ip netns add "$VM_NETNS" || vm_die "cannot create network namespace $VM_NETNS"
	ip -n "$VM_NETNS" link set lo up
	ip -n "$VM_NETNS" link add br0 type bridge || vm_die "cannot create the bridge"
	ip -n "$VM_NETNS" link set br0 up
	local k
	for ((k = 1; k <= nodes; k++)); do
		ip -n "$VM_NETNS" tuntap add dev "tap$k" mode tap || vm_die "cannot create tap$k"
		ip -n "$VM_NETNS" link set "tap$k" master br0 up
		mkdir -p "$VM_SHARE/node$k/jobs" "$VM_SHARE/node$k/xfer" "$VM_SHARE/node$k/scratch"
	done

	# The nodes' /etc, unpacked by their init (see initramfs-init).
	tar -C / -cf "$VM_SHARE/etc.tar" etc 2>/dev/null || vm_die "cannot archive /etc"

	_vm_shared_image=
	if [ "$shared_mib" -gt 0 ]; then
		_vm_shared_image=$VM_IMAGE_DIR/shared.img
		_vm_make_image "$_vm_shared_image" "$shared_mib"
		# The host side of the shared disk, for tests that damage it between mounts.
		VM_SHARED_IMAGE=$_vm_shared_image
	fi
	VM_SHARED_IMAGE=$_vm_shared_image
	if [ "$_vm_private_mib" -gt 0 ]; then
		for ((k = 1; k <= nodes; k++)); do
			_vm_make_image "$VM_IMAGE_DIR/private$k.img" "$_vm_private_mib"
		done
	fi
	for ((k = 1; k <= nodes; k++)); do
		_vm_launch "$k"
	done
	for ((k = 1; k <= nodes; k++)); do
		_vm_wait_ready "$k" "${VM_BOOT_TIMEOUT:-300}" || vm_die "node$k did not boot"
	done
	vm_log "cluster: all $nodes node(s) up"
}

_vm_launch() {
	local k=$1 console
	console=$VM_LOG_DIR/node$k.console
	local -a disks=()
	if [ -n "$_vm_shared_image" ]; then
		local unmap=
		[ "$_vm_shared_discard" = 1 ] && unmap=,discard=unmap
		disks+=(-drive "file=$_vm_shared_image,if=none,id=shared,format=raw,cache=none,aio=threads,file.locking=off$unmap"
			-device "virtio-blk-pci,drive=shared,share-rw=on,serial=cfs-shared")
	fi
	if [ "$_vm_private_mib" -gt 0 ]; then
		disks+=(-drive "file=$VM_IMAGE_DIR/private$k.img,if=none,id=private,format=raw,cache=none,aio=threads"
			-device "virtio-blk-pci,drive=private,serial=cfs-private")
	fi
	rm -f "$VM_SHARE/node$k/ready"
	echo "=== harness: booting node$k at $(date -u +%T)" >>"$console"
	# setsid: a Ctrl-C on the terminal reaches the harness only, which then stops the VMs
	# itself after saving their logs. ip netns exec execs qemu: $! is qemu's PID.
	# The monitor socket lets vm_dump_tasks send SysRq-w when the guest stops answering
	# (a unix socket path must stay under 108 bytes: no monitor in a deeper checkout).
	local monitor=$VM_STATE_DIR/node$k.mon
	local -a monitor_args=()
	[ ${#monitor} -lt 100 ] && monitor_args=(-monitor "unix:$monitor,server=on,wait=off")
	setsid ip netns exec "$VM_NETNS" qemu-system-x86_64 \
		-name "node$k" -accel tcg -cpu max -smp 1 -m "$VM_MEM" \
		-nodefaults -no-user-config -display none -no-reboot \
		-chardev "file,id=console,path=$console,append=on" -serial chardev:console \
		-kernel "/boot/vmlinuz-$VM_KVER" -initrd "$VM_INITRD" \
		"${monitor_args[@]}" \
		-append "console=ttyS0 sysrq_always_enabled no_timer_check panic=-1 oops=panic softlockup_panic=1 hung_task_panic=1 cfs.node=$k cfs.nodes=$VM_NODES cfs.ip=$VM_SUBNET.$k/24 cfs.repo=$VM_REPO ${VM_KERNEL_ARGS:-}" \
		-fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
		-device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot" \
		-fsdev "local,id=ctl,path=$VM_SHARE,security_model=none,multidevs=remap" \
		-device "virtio-9p-pci,fsdev=ctl,mount_tag=ctl" \
		"${disks[@]}" \
		-netdev "tap,id=net0,ifname=tap$k,script=no,downscript=no" \
		-device "virtio-net-pci,netdev=net0,mac=52:54:00:77:00:$(printf %02x "$k")" \
		</dev/null >>"$VM_LOG_DIR/node$k.qemu.log" 2>&1 &
	VM_PIDS[$k]=$!
	# For helpers in other processes (the fence server of scripts/vm/cluster.sh).
	echo "$!" >"$VM_STATE_DIR/node$k.pid"
}

# A process that exited but was not yet waited for (a zombie) counts as gone.
_vm_pid_running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

node_alive() {
	local pid=${VM_PIDS[$1]:-}
	[ -n "$pid" ] && _vm_pid_running "$pid"
}

_vm_console_tail() {
	vm_log "last console lines of node$1 ($VM_LOG_DIR/node$1.console):"
	tail -n "${2:-30}" "$VM_LOG_DIR/node$1.console" 2>/dev/null | sed "s/^/  node$1| /" >&2
}

_vm_wait_ready() {
	local k=$1 limit=$2 start=$SECONDS
	while [ ! -s "$VM_SHARE/node$k/ready" ]; do
		if ! node_alive "$k"; then
			vm_log "node$k: qemu exited during boot"
			_vm_console_tail "$k"
			cat "$VM_LOG_DIR/node$k.qemu.log" >&2
			return 1
		fi
		if ((SECONDS - start >= limit)); then
			vm_log "node$k: agent not ready after ${limit}s"
			_vm_console_tail "$k"
			return 1
		fi
		sleep 0.2
	done
}

# node_run K [-t SECS] CMD... — like ssh: the arguments are joined with spaces and run by
# bash on node K, as root, in the caller's current directory (the checkout, in tests: the
# node sees it at the same path), with `set -e` and `shopt -s inherit_errexit`: the first
# failing command ends CMD. Prints the command's stdout and stderr, returns its exit
# status (124 on timeout, 255 when the node is down).
# vm_dump_tasks K: has node K's kernel print every blocked task's stack (SysRq-w sent as
# a key press through the qemu monitor, so it works while the guest's userspace is
# stuck) into its console log, and shows the end of that log. VM_NO_TASK_DUMP=1: skip
# (a test that expects the timeout).
vm_dump_tasks() {
	local k=$1 monitor=$VM_STATE_DIR/node$1.mon
	[ -z "${VM_NO_TASK_DUMP:-}" ] && [ -S "$monitor" ] || return 0
	python3 - "$monitor" <<'PYEOF' 2>/dev/null || return 0
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"sendkey alt-sysrq-w\n")
time.sleep(1)
PYEOF
	sleep 3
	vm_log "node$k: blocked tasks (SysRq-w) written to $VM_LOG_DIR/node$k.console"
	_vm_console_tail "$k" 80
}

node_run() {
	local k=${1:-} limit=${VM_RUN_TIMEOUT:-120}
	_vm_check_node "$k"
	shift
	if [ "${1:-}" = -t ]; then
		limit=${2:-}
		shift 2
	fi
	[[ $limit =~ ^[1-9][0-9]*$ ]] || vm_die "node_run: the time limit must be whole seconds, got '$limit'"
	[ $# -gt 0 ] || vm_die "node_run: no command"
	local jobs=$VM_SHARE/node$k/jobs id
	_vm_job_seq=$((_vm_job_seq + 1))
	id=$BASHPID-$_vm_job_seq
	if ! node_alive "$k"; then
		echo "node_run: node$k is not running" >&2
		return 255
	fi
	# set -e and inherit_errexit: a failing command anywhere in CMD (also inside $(...))
	# ends it with that command's status, as a test script runs on the host.
	printf '# timeout: %s\nset -e\nshopt -s inherit_errexit\ncd %q || exit 125\n%s\n' \
		"$limit" "$PWD" "$*" >"$jobs/$id.tmp"
	mv "$jobs/$id.tmp" "$jobs/$id.cmd"
	local start=$SECONDS rc
	# The agent enforces the limit; the host waits a little longer for its answer.
	while [ ! -e "$jobs/$id.rc" ]; do
		if ! node_alive "$k"; then
			echo "node_run: node$k died while running: $*" >&2
			_vm_console_tail "$k" 40
			printf '%s node%s rc=255 (node died) %s\n' "$(date -u +%T)" "$k" "$*" >>"$VM_LOG_DIR/commands.log"
			return 255
		fi
		if ((SECONDS - start > limit + 15)); then
			echo "node_run: node$k: no answer after ${limit}s: $*" >&2
			vm_dump_tasks "$k" >&2
			return 124
		fi
		sleep 0.05
	done
	rc=$(<"$jobs/$id.rc")
	cat "$jobs/$id.out"
	cat "$jobs/$id.err" >&2
	printf '%s node%s rc=%s %ss %s\n' "$(date -u +%T)" "$k" "$rc" "$((SECONDS - start))" "$*" >>"$VM_LOG_DIR/commands.log"
	if [ "$rc" -eq 124 ]; then
		echo "node_run: node$k: timed out after ${limit}s: $*" >&2
		vm_dump_tasks "$k" >&2
	fi
	rm -f "$jobs/$id".*
	return "$rc"
}

# node_copy_in K HOSTPATH VMPATH — copy a file or directory onto node K.
node_copy_in() {
	local k=$1 src=$2 dst=$3 name=xfer-$BASHPID-$RANDOM
	_vm_check_node "$k"
	cp -a "$src" "$VM_SHARE/node$k/xfer/$name" || return 1
	node_run "$k" "cp -a /cfs/run/node$k/xfer/$name $(printf %q "$dst")"
	local rc=$?
	rm -rf "$VM_SHARE/node$k/xfer/$name"
	return "$rc"
}

# node_copy_out K VMPATH HOSTPATH — copy a file or directory from node K.
node_copy_out() {
	local k=$1 src=$2 dst=$3 name=xfer-$BASHPID-$RANDOM
	_vm_check_node "$k"
	node_run "$k" "cp -a $(printf %q "$src") /cfs/run/node$k/xfer/$name" || return 1
	cp -a "$VM_SHARE/node$k/xfer/$name" "$dst"
	local rc=$?
	rm -rf "$VM_SHARE/node$k/xfer/$name"
	return "$rc"
}

# node_kill K — the node crashes: SIGKILL to its qemu, nothing flushed, no shutdown.
node_kill() {
	local k=$1 pid
	_vm_check_node "$k"
	pid=${VM_PIDS[$k]:-}
	[ -n "$pid" ] || vm_die "node_kill: node$k was never started"
	kill -9 "$pid" 2>/dev/null
	_vm_reap "$pid" 10
	VM_PIDS[$k]=
	echo "=== harness: node$k killed (SIGKILL) at $(date -u +%T)" >>"$VM_LOG_DIR/node$k.console"
	vm_log "node$k killed"
}

# node_boot K — boot a stopped node again on the same disks; waits for its agent.
node_boot() {
	local k=$1
	_vm_check_node "$k"
	! node_alive "$k" || vm_die "node_boot: node$k is running"
	# A qemu that ended by itself (a panic) is still our unreaped child.
	[ -z "${VM_PIDS[$k]:-}" ] || wait "${VM_PIDS[$k]}" 2>/dev/null || true
	rm -f "$VM_SHARE/node$k/jobs/"*
	_vm_launch "$k"
	_vm_wait_ready "$k" "${VM_BOOT_TIMEOUT:-300}" || return 1
	vm_log "node$k booted again"
}

# Waits up to LIMIT seconds for PID to exit (reaping it when it is our child).
_vm_reap() {
	local pid=$1 limit=$2 start=$SECONDS
	while _vm_pid_running "$pid"; do
		((SECONDS - start < limit)) || return 1
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
	return 0
}

# Prints every console line matching VM_CONSOLE_FAIL (minus VM_CONSOLE_ALLOW) with
# context; returns 1 when there is one. Output a test accepted (vm_console_accept) is
# not looked at.
vm_console_check() {
	local console status=0 hits accepted
	for console in "$VM_LOG_DIR"/node*.console; do
		[ -e "$console" ] || continue
		accepted=$(cat "$console.accepted" 2>/dev/null || echo 0)
		hits=$(tail -c "+$((accepted + 1))" "$console" | grep -naE "$VM_CONSOLE_FAIL" |
			{ if [ -n "${VM_CONSOLE_ALLOW:-}" ]; then grep -vE "$VM_CONSOLE_ALLOW"; else cat; fi } || true)
		[ -n "$hits" ] || continue
		status=1
		vm_log "kernel problem on ${console##*/} (matching lines, then the first one in context):"
		echo "$hits" | head -n 20 | sed 's/^/  match: /' >&2
		local first=${hits%%:*}
		tail -c "+$((accepted + 1))" "$console" |
			sed -n "$((first > 5 ? first - 5 : 1)),$((first + 40))p" | sed 's/^/  | /' >&2
	done
	return "$status"
}

# vm_console_accept K — what node K's console showed so far was expected (a test that
# crashes a kernel on purpose): later checks look only at what follows.
vm_console_accept() {
	local k=$1
	_vm_check_node "$k"
	stat -c %s "$VM_LOG_DIR/node$k.console" >"$VM_LOG_DIR/node$k.console.accepted"
	echo "=== harness: console accepted up to here at $(date -u +%T)" >>"$VM_LOG_DIR/node$k.console"
}

cluster_stop() {
	[ "$VM_STARTED" -eq 1 ] || return 0
	VM_STARTED=0
	local k pid status=0
	if [ -n "${VM_FENCE_SERVER_PID:-}" ]; then
		kill "$VM_FENCE_SERVER_PID" 2>/dev/null
		wait "$VM_FENCE_SERVER_PID" 2>/dev/null
		VM_FENCE_SERVER_PID=
	fi
	for ((k = 1; k <= VM_NODES; k++)); do
		# A node still booting has no agent to ask; its console has what it said.
		node_alive "$k" && [ -s "$VM_SHARE/node$k/ready" ] || continue
		# Save what a kernel or daemon said that the console may not have: dmesg with
		# all levels, and /var/log (corosync, dlm_controld, test daemons).
		# (cp may meet sockets it cannot copy: what it copied is kept.)
		VM_RUN_TIMEOUT=20 node_run "$k" 'dmesg; mkdir -p /scratch/var-log; cp -a /var/log/. /scratch/var-log/ 2>/dev/null || :' \
			>"$VM_LOG_DIR/node$k.dmesg" 2>/dev/null || true
		if [ -d "$VM_SHARE/node$k/scratch/var-log" ]; then
			rm -rf "$VM_LOG_DIR/node$k.var-log"
			mv "$VM_SHARE/node$k/scratch/var-log" "$VM_LOG_DIR/node$k.var-log"
		fi
		cp "$VM_SHARE/node$k/agent.log" "$VM_LOG_DIR/node$k.agent.log" 2>/dev/null || true
	done
	for ((k = 1; k <= VM_NODES; k++)); do
		pid=${VM_PIDS[$k]:-}
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	for ((k = 1; k <= VM_NODES; k++)); do
		pid=${VM_PIDS[$k]:-}
		[ -n "$pid" ] || continue
		if ! _vm_reap "$pid" 10; then
			kill -9 "$pid" 2>/dev/null
			_vm_reap "$pid" 10 || vm_log "qemu $pid of node$k does not exit"
		fi
		VM_PIDS[$k]=
	done
	ip netns del "$VM_NETNS" 2>/dev/null || vm_log "could not delete network namespace $VM_NETNS"
	if [ "${VM_KEEP:-0}" = 1 ]; then
		vm_log "kept disks and share in $VM_STATE_DIR"
	else
		rm -rf "$VM_STATE_DIR" "$VM_IMAGE_DIR"
	fi
	vm_console_check || status=1
	vm_log "cluster stopped; logs in $VM_LOG_DIR"
	return "$status"
}

_vm_on_exit() {
	local status=$?
	trap - EXIT INT TERM
	cluster_stop || status=1
	exit "$status"
}

source "$VM_SCRIPTS/cluster.sh"

# Assertions for test scripts: print what differed and fail the test.
fail() {
	vm_log "FAIL: $*"
	exit 1
}

assert_eq() {
	local expected=$1 actual=$2 what=${3:-value}
	[ "$expected" = "$actual" ] || fail "$what: expected '$expected', got '$actual'"
}

# node_expect_fail K [-t SECS] WHAT CMD...: CMD must fail on node K with an ordinary error
# status (1-123: a refusal, an EIO, ...). Success fails the test, and so do the statuses
# that mean CMD never got to refuse: 124 (timed out), 125-127 (could not run), 128+N (a
# signal) and 255 (the node died): `node_run ... && fail` would pass on all of those.
# Prints CMD's output.
node_expect_fail() {
	local k=$1 limit=() rc=0
	shift
	if [ "${1:-}" = -t ]; then
		limit=(-t "$2")
		shift 2
	fi
	local what=$1
	shift
	node_run "$k" "${limit[@]}" "$@" || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: succeeded, expected a failure"
	[ "$rc" -le 123 ] || fail "$what: status $rc (timed out, not run, killed or node down), expected a refusal"
}
