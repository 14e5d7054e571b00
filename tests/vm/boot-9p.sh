# One node boots, its root is the host's / over 9p (read-only, same paths), /etc /var
# /run /tmp and /scratch are writable, the shared disk is there, and files travel both ways.
# nodes: 1
# cluster: --shared-mib 64 --private-mib 16
# timeout: 240

got=$(node_run 1 hostname)
assert_eq "node1" "$got" "hostname"
got=$(node_run 1 uname -m)
assert_eq "$(uname -m)" "$got" "machine"
got=$(node_run 1 uname -r)
assert_eq "$(vm_kernel_version)" "$got" "kernel release"

# The checkout is visible at the same path, byte-identical, and read-only.
got=$(node_run 1 sha256sum scripts/vm/lib.sh)
assert_eq "$(sha256sum scripts/vm/lib.sh)" "$got" "checkout file over 9p"
got=$(node_run 1 pwd)
assert_eq "$PWD" "$got" "working directory"
if node_run 1 "touch $(printf %q "$PWD")/vm-write-probe" 2>/dev/null; then
	rm -f vm-write-probe
	fail "the host root is writable from the VM"
fi
node_run 1 'findmnt -no OPTIONS /usr | grep -qw ro' || fail "/usr is not mounted read-only"

# Writable per-node places, and the node's own modules (from the host over 9p).
node_run 1 'for dir in /etc /var/lib /run /tmp /scratch /mnt /root; do echo probe >$dir/probe && rm $dir/probe || exit 1; done'
node_run 1 'modprobe loop && grep -qw ^loop /proc/modules'

# Disks by role: a 64 MiB shared disk and a 16 MiB private one.
got=$(node_run 1 'blockdev --getsize64 $CFS_SHARED_DEV')
assert_eq 67108864 "$got" "shared disk size"
got=$(node_run 1 'blockdev --getsize64 $CFS_PRIVATE_DEV')
assert_eq 16777216 "$got" "private disk size"

# Exit status, stdout and stderr come back separately.
set +e
output=$(node_run 1 'echo out; echo err >&2; exit 7' 2>"$VM_LOG_DIR/stderr.probe")
status=$?
set -e
assert_eq 7 "$status" "exit status"
assert_eq out "$output" "stdout"
assert_eq err "$(cat "$VM_LOG_DIR/stderr.probe")" "stderr"

# A command over its time limit is stopped with status 124 (an expected timeout: no
# blocked-task dump).
set +e
VM_NO_TASK_DUMP=1 node_run 1 -t 2 'sleep 30'
status=$?
set -e
assert_eq 124 "$status" "status of a command over its time limit"

# Copy in and out, byte-identical.
head -c 1048576 /dev/urandom >"$VM_LOG_DIR/random.in"
node_copy_in 1 "$VM_LOG_DIR/random.in" /tmp/random
node_copy_out 1 /tmp/random "$VM_LOG_DIR/random.out"
cmp "$VM_LOG_DIR/random.in" "$VM_LOG_DIR/random.out" || fail "copied file differs"
rm -f "$VM_LOG_DIR"/random.*

# The node's address exists only inside the run's network namespace.
node_run 1 'ip -4 -o addr show eth0' | grep -q "inet $VM_SUBNET.1/24" || fail "node1 has no address $VM_SUBNET.1"
if ip -4 -o addr | grep -q "inet $VM_SUBNET\."; then
	fail "a $VM_SUBNET.x address leaked into the host's namespace"
fi
