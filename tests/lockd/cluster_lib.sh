# Sourced by the lockd cluster tests and benchmark: a corosync cluster of N nodes on this
# machine. Each node is a network namespace joined to a bridge namespace by a veth pair;
# its corosync runs in a private mount namespace with its own /run (corosync's pid file
# is fixed). lockd runs in the node's network namespace (corosync IPC sockets are
# abstract, hence per namespace) and serves a socket under the run's directory, which
# clients anywhere on the host can reach. Names are unique per run; cleanup stops only
# the processes this run started, by PID.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCKD=${LOCKD:-$ROOT/build/bin/clusterfs_lockd} # overridable: run a test against another build
CLIENT=$ROOT/build/bin/lockd_test_client
TOOL=$ROOT/build/bin/clusterfs_tool
RUN_ID=cfl$$
WORK=$(mktemp -d /tmp/clusterfs-lockd-test.XXXXXX)
NODES=0
declare -A COROSYNC_PID LOCKD_PID CLIENT_FD CLIENT_PID
OUR_PIDS=()

count_lines() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }
log() { echo "[$(date +%T)] $*"; }
fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/n*/lockd.log; do
		[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 30 "$f"; } >&2
	done
	exit 1
}

ns() { echo "${RUN_ID}n$1"; }
sock() { echo "$WORK/n$1/lockd.sock"; }

cleanup() {
	local pid
	for pid in "${OUR_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null
	done
	for pid in "${OUR_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for pid in "${COROSYNC_PID[@]}"; do
		rm -f /dev/shm/qb-*-"$pid"-* 2>/dev/null
	done
	local i
	for i in $(seq 1 "$NODES"); do
		ip netns del "$(ns "$i")" 2>/dev/null
	done
	ip netns del "${RUN_ID}br" 2>/dev/null
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches.
wait_for() {
	local file=$1 re=$2 t=${3:-15} end=$((SECONDS + ${3:-15}))
	while [ "$SECONDS" -lt "$end" ]; do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "timed out after ${t}s waiting for /$re/ in $file: $(tail -n 5 "$file" 2>/dev/null | tr '\n' '|')"
}

# cluster_create N: namespaces, bridge and corosync configuration for N nodes.
# CLUSTER_CRYPTO=1: knet with corosync's crypto (aes256/sha256), every node keyed by
# $WORK/n<I>/authkey, a copy of one key made here (a test may replace a node's); and
# corosync's debug log on (where knet reports packets it could not authenticate).
cluster_create() {
	NODES=$1
	local br="${RUN_ID}br" i
	ip netns add "$br"
	ip -n "$br" link add br0 type bridge
	ip -n "$br" link set br0 up
	for i in $(seq 1 "$NODES"); do
		local n; n=$(ns "$i")
		ip netns add "$n"
		ip -n "$n" link add eth0 type veth peer name "p$i" netns "$br"
		ip -n "$br" link set "p$i" master br0
		ip -n "$br" link set "p$i" up
		ip -n "$n" addr add "10.77.0.$i/24" dev eth0
		ip -n "$n" link set eth0 up
		ip -n "$n" link set lo up
		mkdir -p "$WORK/n$i/state"
	done
	local crypto=${CLUSTER_CRYPTO:-0}
	[ "$crypto" = 1 ] && { corosync-keygen -k "$WORK/authkey" >/dev/null 2>&1 || fail "corosync-keygen failed"; }
	for i in $(seq 1 "$NODES"); do
		{
			if [ "$crypto" = 1 ]; then
				install -m 0400 "$WORK/authkey" "$WORK/n$i/authkey"
				printf 'totem {\n version: 2\n cluster_name: %s\n transport: knet\n token: 1000\n' "$RUN_ID"
				printf ' crypto_cipher: aes256\n crypto_hash: sha256\n keyfile: %s\n}\nnodelist {\n' "$WORK/n$i/authkey"
			else
				printf 'totem {\n version: 2\n cluster_name: %s\n transport: udpu\n token: 1000\n' "$RUN_ID"
				printf ' crypto_cipher: none\n crypto_hash: none\n}\nnodelist {\n'
			fi
			local j
			for j in $(seq 1 "$NODES"); do
				printf ' node {\n  ring0_addr: 10.77.0.%s\n  nodeid: %s\n  name: cfshost%s\n }\n' "$j" "$j" "$j"
			done
			printf '}\nquorum {\n provider: corosync_votequorum\n'
			[ "$NODES" = 2 ] && printf ' two_node: 1\n'
			printf '}\n'
			printf 'logging {\n to_logfile: yes\n logfile: %s\n to_stderr: no\n to_syslog: no\n timestamp: on\n debug: %s\n}\n' \
				"$WORK/n$i/corosync.log" "$([ "$crypto" = 1 ] && echo on || echo off)"
			printf 'system {\n state_dir: %s\n}\n' "$WORK/n$i/state"
		} >"$WORK/n$i/corosync.conf"
		{
			echo "fence_command = $ROOT/tests/lockd/fence_record.sh $WORK/fence.log"
			echo "fence_retry_seconds = 1"
		} >"$WORK/n$i/lockd.conf"
	done
}

corosync_start() {
	local i=$1
	# exec all the way down: the PID we keep is corosync's own.
	ip netns exec "$(ns "$i")" unshare -m --propagation private sh -c \
		'mount -t tmpfs tmpfs /run && ln -s /dev/shm /run/shm && exec corosync -f -c "$0"' \
		"$WORK/n$i/corosync.conf" >"$WORK/n$i/corosync.out" 2>&1 &
	COROSYNC_PID[$i]=$!
	OUR_PIDS+=($!)
}

# In a background subshell: closes the scripted clients' input fds, so that a client
# sees EOF when the test closes its input (client_stop), whatever was started after it.
close_client_fds() {
	local f
	for f in "${CLIENT_FD[@]}"; do eval "exec $f>&-"; done
}

lockd_start() {
	local i=$1 before
	touch "$WORK/n$i/lockd.log"
	before=$(grep -c "serving" "$WORK/n$i/lockd.log")
	(
		close_client_fds
		exec ip netns exec "$(ns "$i")" "$LOCKD" -f -c "$WORK/n$i/lockd.conf" -s "$(sock "$i")" \
			>>"$WORK/n$i/lockd.log" 2>&1
	) &
	LOCKD_PID[$i]=$!
	OUR_PIDS+=($!)
	local end=$((SECONDS + 20))
	until [ "$(grep -c "serving" "$WORK/n$i/lockd.log")" -gt "$before" ]; do
		kill -0 "${LOCKD_PID[$i]}" 2>/dev/null || fail "lockd on node $i exited: $(tail -n 3 "$WORK/n$i/lockd.log")"
		[ "$SECONDS" -lt "$end" ] || fail "lockd on node $i did not start"
		sleep 0.05
	done
}

# quorate_wait I: until corosync on node I reports quorum.
quorate_wait() {
	local i=$1 end=$((SECONDS + 30))
	until ip netns exec "$(ns "$i")" corosync-quorumtool -s 2>/dev/null | grep -q "Quorate: *Yes"; do
		[ "$SECONDS" -lt "$end" ] || fail "node $i not quorate after 30 s"
		sleep 0.2
	done
}

# client_start NAME NODE LOCKSPACE [JOURNALS]: a scripted client (joining with JOURNALS
# journals, default 4; 0: no journal slot); commands with `send NAME ...`, output in
# $WORK/NAME.out.
client_start() {
	local name=$1 node=$2 ls=$3 journals=${4:-4}
	mkfifo "$WORK/$name.in"
	# Without the other clients' input fds: a client must see EOF when its own is closed.
	(
		close_client_fds
		exec "$CLIENT" -s "$(sock "$node")" script "$ls" "$journals" <"$WORK/$name.in" >"$WORK/$name.out" 2>&1
	) &
	CLIENT_PID[$name]=$!
	OUR_PIDS+=($!)
	local fd
	exec {fd}>"$WORK/$name.in"
	CLIENT_FD[$name]=$fd
	wait_for "$WORK/$name.out" "^joined status=0" 20
}
send() {
	local name=$1; shift
	echo "$*" >&"${CLIENT_FD[$name]}"
}
out() { echo "$WORK/$1.out"; }
# client_stop NAME: closes the client's input: it exits, its connection closes (its mounts leave).
client_stop() {
	local fd=${CLIENT_FD[$1]} end=$((SECONDS + 10))
	exec {fd}>&-
	while kill -0 "${CLIENT_PID[$1]}" 2>/dev/null; do
		[ "$SECONDS" -lt "$end" ] || fail "client $1 did not exit when its input closed"
		sleep 0.05
	done
	wait "${CLIENT_PID[$1]}" 2>/dev/null
}
# plock NAME ARGS...: sends `plock ARGS` to a scripted client and prints the request's seq.
plock() {
	local name=$1 before end
	shift
	before=$(count_lines "$(out "$name")" "^plock-sent ")
	send "$name" plock "$@"
	end=$((SECONDS + 10))
	until [ "$(count_lines "$(out "$name")" "^plock-sent ")" -gt "$before" ]; do
		[ "$SECONDS" -lt "$end" ] || fail "client $name did not send plock $*: $(tail -n 3 "$(out "$name")")"
		sleep 0.05
	done
	grep "^plock-sent " "$(out "$name")" | tail -n 1 | sed 's/.*seq=//'
}

cluster_up() {
	cluster_create "$1"
	local i
	for i in $(seq 1 "$1"); do corosync_start "$i"; done
	for i in $(seq 1 "$1"); do quorate_wait "$i"; done
}
