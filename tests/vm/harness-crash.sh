# The harness notices a kernel crash: a node that panics is reported dead by node_run
# (status 255) and by node_alive, the console check finds the panic, and the node boots
# again on the same disks with its data; node_kill + node_boot does the same for a SIGKILL.
# nodes: 1
# cluster: --shared-mib 64
# timeout: 420

node_run 1 'mkfs.ext4 -q $CFS_SHARED_DEV </dev/null && mkdir -p /mnt/d && mount $CFS_SHARED_DEV /mnt/d && echo before-crash >/mnt/d/f && umount /mnt/d'
vm_console_check || fail "console shows a problem before the crash"

# sysrq c: a kernel panic (oops=panic, panic=-1, -no-reboot: the VM ends).
set +e
node_run 1 -t 30 'echo 1 >/proc/sys/kernel/sysrq; echo c >/proc/sysrq-trigger; sleep 20' 2>"$VM_LOG_DIR/crash.stderr"
status=$?
set -e
assert_eq 255 "$status" "node_run status on a node that panicked"
grep -q 'node1 died' "$VM_LOG_DIR/crash.stderr" || fail "node_run did not say the node died"
if node_alive 1; then fail "node1 still alive after a panic"; fi
if vm_console_check 2>/dev/null; then fail "the console check missed a kernel panic"; fi
vm_console_accept 1
vm_console_check || fail "console check fails on accepted output"

node_boot 1
got=$(node_run 1 'mkdir -p /mnt/d && mount $CFS_SHARED_DEV /mnt/d && cat /mnt/d/f && umount /mnt/d')
assert_eq before-crash "$got" "data after reboot"

node_kill 1
if node_alive 1; then fail "node1 alive after node_kill"; fi
set +e
node_run 1 true 2>/dev/null
status=$?
set -e
assert_eq 255 "$status" "node_run status on a killed node"
node_boot 1
got=$(node_run 1 hostname)
assert_eq node1 "$got" "hostname after node_boot"
