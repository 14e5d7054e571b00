# Cluster stack helpers for the VM harness (sourced by scripts/vm/lib.sh).
#
#   cluster_corosync_start [--token MS] [--transport knet|udpu] [K...]
#       writes one corosync.conf (cluster VM_CLUSTER_NAME, default "vmtest"; nodelist of
#       every node of the cluster, two_node for a 2-node cluster) and starts corosync on
#       nodes K... (default all running nodes).
#   cluster_wait_quorate [-t SECS] [--members M] [K...]
#       waits until each of nodes K... (default all running) is quorate and sees M members
#       (default: the number of nodes named).
#   cluster_dlm_start [-t SECS] [--fencing] [K...]
#       loads configfs/dlm, creates the /dev/misc links udev would, starts dlm_controld
#       (TCP; no fencing unless --fencing) on nodes K... and waits until each has every
#       node in its comms table and its own local address set: a lock_dlm mount works
#       after that. --fencing: dlm_controld fences a failed node through the VM fence
#       agent (/etc/dlm/dlm.conf `fence_all scripts/vm/fence_vm_dlm`, which calls
#       scripts/vm/fence_vm) before its lockspaces recover; cluster_fence_server_start
#       must run. Startup fencing stays off either way.
#
# Token 10000 ms by default: under TCG a VM can stall longer than corosync's default
# token, and a spurious membership change would fail a test for the emulator's sake.

VM_CLUSTER_NAME=${VM_CLUSTER_NAME:-vmtest}

# Prints the given node numbers, or every running node when none is given.
_vm_nodes_or_all() {
	if [ $# -gt 0 ]; then
		echo "$@"
		return
	fi
	local k list=()
	for ((k = 1; k <= VM_NODES; k++)); do
		node_alive "$k" && list+=("$k")
	done
	echo "${list[@]}"
}

cluster_corosync_conf() {
	local token=$1 transport=$2 k
	cat <<EOF
totem {
	version: 2
	cluster_name: $VM_CLUSTER_NAME
	transport: $transport
	crypto_cipher: none
	crypto_hash: none
	token: $token
}
nodelist {
EOF
	for ((k = 1; k <= VM_NODES; k++)); do
		printf '\tnode {\n\t\tring0_addr: %s\n\t\tname: node%s\n\t\tnodeid: %s\n\t}\n' "$VM_SUBNET.$k" "$k" "$k"
	done
	cat <<EOF
}
quorum {
	provider: corosync_votequorum
$([ "$VM_NODES" -eq 2 ] && printf '\ttwo_node: 1')
}
logging {
	to_logfile: yes
	logfile: /var/log/corosync/corosync.log
	to_syslog: no
	to_stderr: no
	timestamp: on
}
EOF
}

cluster_corosync_start() {
	local token=10000 transport=knet k
	while [ $# -gt 0 ]; do
		case "$1" in
		--token) token=${2:?}; shift 2 ;;
		--transport) transport=${2:?}; shift 2 ;;
		--) shift; break ;;
		-*) vm_die "cluster_corosync_start: unknown option '$1'" ;;
		*) break ;;
		esac
	done
	cluster_corosync_conf "$token" "$transport" >"$VM_SHARE/corosync.conf"
	for k in $(_vm_nodes_or_all "$@"); do
		# corosync -f stays in the foreground so the PID file below is the daemon's;
		# corosync owns /run/corosync.pid itself.
		node_run "$k" -t 30 '
			install -m 0644 /cfs/run/corosync.conf /etc/corosync/corosync.conf &&
			rm -f /var/log/corosync/corosync.log &&
			{ setsid corosync -f </dev/null >>/var/log/corosync/stdout.log 2>&1 & echo $! >/run/cfs-corosync.pid; }' ||
			vm_die "node$k: cannot start corosync"
	done
}

cluster_wait_quorate() {
	local limit=120 members='' k start=$SECONDS
	while [ $# -gt 0 ]; do
		case "$1" in
		-t) limit=${2:?}; shift 2 ;;
		--members) members=${2:?}; shift 2 ;;
		-*) vm_die "cluster_wait_quorate: unknown option '$1'" ;;
		*) break ;;
		esac
	done
	local nodes
	read -r -a nodes <<<"$(_vm_nodes_or_all "$@")"
	members=${members:-${#nodes[@]}}
	for k in "${nodes[@]}"; do
		local left=$((limit - (SECONDS - start)))
		((left > 0)) || left=1
		node_run "$k" -t "$((left + 5))" '
			deadline=$((SECONDS + '"$left"'))
			while :; do
				# Not quorate yet is exit 2: the text below decides, not the status.
				status=$(corosync-quorumtool -s 2>&1) || :
				if grep -Eq "^Quorate: +Yes" <<<"$status" &&
					grep -Eq "^Nodes: +'"$members"'\$" <<<"$status"; then
					exit 0
				fi
				if ((SECONDS >= deadline)); then
					echo "node$CFS_NODE: not quorate with '"$members"' members:" >&2
					echo "$status" >&2
					exit 1
				fi
				sleep 0.5
			done' || { vm_log "cluster_wait_quorate: node$k not quorate with $members members within ${limit}s"; return 1; }
	done
	vm_log "corosync: nodes ${nodes[*]} quorate with $members members after $((SECONDS - start))s"
}

cluster_dlm_start() {
	local limit=90 k start=$SECONDS fencing=0
	while [ $# -gt 0 ]; do
		case "$1" in
		-t) limit=${2:?}; shift 2 ;;
		--fencing) fencing=1; shift ;;
		*) break ;;
		esac
	done
	local nodes
	read -r -a nodes <<<"$(_vm_nodes_or_all "$@")"
	for k in "${nodes[@]}"; do
		node_run "$k" -t 30 '
			set -e
			modprobe configfs
			modprobe dlm
			mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
			# No udev in the VM: the misc devices appear under /dev, dlm_controld opens
			# them under /dev/misc.
			mkdir -p /dev/misc
			for dev in dlm-control dlm-monitor dlm_plock; do
				[ -e /dev/$dev ] && [ ! -e /dev/misc/$dev ] && ln -s ../$dev /dev/misc/$dev
			done
			[ -e /dev/misc/dlm-control ] || { echo "no dlm-control device" >&2; exit 1; }
			mkdir -p /var/log/cluster
			if [ '"$fencing"' = 1 ]; then
				mkdir -p /etc/dlm
				echo "fence_all $PWD/scripts/vm/fence_vm_dlm" >/etc/dlm/dlm.conf
			fi
			setsid dlm_controld --foreground 1 --enable_fencing '"$fencing"' --enable_startup_fencing 0 \
				--protocol tcp </dev/null >>/var/log/cluster/dlm_controld.log 2>&1 &
			echo $! >/run/cfs-dlm_controld.pid' || vm_die "node$k: cannot start dlm_controld"
	done
	for k in "${nodes[@]}"; do
		local left=$((limit - (SECONDS - start)))
		((left > 0)) || left=1
		# A lock_dlm mount before the local address is configured fails with "no local
		# IP address has been set".
		node_run "$k" -t "$((left + 5))" '
			comms=/sys/kernel/config/dlm/cluster/comms
			deadline=$((SECONDS + '"$left"'))
			while :; do
				set -- $comms/*/
				if [ -e "$comms/$CFS_NODE/local" ] && [ "$(cat $comms/$CFS_NODE/local)" = 1 ] &&
					[ $# -ge '"${#nodes[@]}"' ] && [ -e "$1" ]; then
					exit 0
				fi
				if ((SECONDS >= deadline)); then
					echo "node$CFS_NODE: dlm comms incomplete: $(ls $comms 2>&1)" >&2
					tail -n 20 /var/log/cluster/dlm_controld.log >&2
					exit 1
				fi
				sleep 0.5
			done' || { vm_log "cluster_dlm_start: node$k's dlm not ready within ${limit}s"; return 1; }
	done
	vm_log "dlm_controld: ready on nodes ${nodes[*]} after $((SECONDS - start))s"
}

# cluster_fence_server_start — serves fence requests from the nodes (scripts/vm/fence_vm,
# the VMs' fence agent) until cluster_stop: a request names a node; the server kills that
# node's qemu with SIGKILL (power off), waits until the process is gone and answers
# "fenced" (or why not). Every fence is logged in $VM_LOG_DIR/fence.log and on the
# fenced node's console. VM_FENCE_REFUSE=N (a node number) makes requests to fence N
# fail, for tests of a failing fence device.
cluster_fence_server_start() {
	mkdir -p "$VM_SHARE/fence"
	(
		# A server, not a test step: a failed check in it is an answer, never the
		# test's failure (no inherited ERR trap or errexit).
		trap - EXIT INT TERM ERR
		set +eE
		while :; do
			for req in "$VM_SHARE"/fence/*.req; do
				[ -e "$req" ] || continue
				local target pid result
				target=$(<"$req")
				pid=$(cat "$VM_STATE_DIR/node$target.pid" 2>/dev/null)
				if ! [[ $target =~ ^[1-9][0-9]*$ ]] || ((target > VM_NODES)); then
					result="no such node '$target'"
				elif [ "${VM_FENCE_REFUSE:-}" = "$target" ]; then
					result="refused (VM_FENCE_REFUSE)"
				elif [ -e "$VM_SHARE/fence/refuse-node$target" ]; then
					result="refused (cluster_fence_hold $target)"
				else
					[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
					for ((i = 0; i < 100; i++)); do
						[ -n "$pid" ] && _vm_pid_running "$pid" || break
						sleep 0.1
					done
					if [ -n "$pid" ] && _vm_pid_running "$pid"; then
						result="qemu $pid still running"
					else
						result=fenced
						echo "=== harness: node$target fenced (powered off) at $(date -u +%T), asked by ${req##*/}" \
							>>"$VM_LOG_DIR/node$target.console"
					fi
				fi
				printf '%s %s node%s: %s\n' "$(date -u +%T)" "${req##*/}" "$target" "$result" >>"$VM_LOG_DIR/fence.log"
				echo "$result" >"${req%.req}.tmp" && mv "${req%.req}.tmp" "${req%.req}.done"
				rm -f "$req"
			done
			sleep 0.2
		done
	) &
	VM_FENCE_SERVER_PID=$!
	vm_log "fence server: pid $VM_FENCE_SERVER_PID (agent: scripts/vm/fence_vm)"
}

# cluster_fence_hold K / cluster_fence_release K: the fence server refuses to power node K
# off until released (a fence device that fails), so a test can look at a node that the
# others want fenced while it still runs.
cluster_fence_hold() { mkdir -p "$VM_SHARE/fence" && touch "$VM_SHARE/fence/refuse-node$1"; }
cluster_fence_release() { rm -f "$VM_SHARE/fence/refuse-node$1"; }

# cluster_net_cut K / cluster_net_restore K: node K's tap goes down (up): it loses the
# cluster network but keeps its disks and the harness's control share.
cluster_net_cut() { ip -n "$VM_NETNS" link set "tap$1" down && vm_log "node$1: network cut"; }
cluster_net_restore() { ip -n "$VM_NETNS" link set "tap$1" up && vm_log "node$1: network restored"; }
