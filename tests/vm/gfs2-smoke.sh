# GFS2 peer smoke test: two nodes run corosync and dlm_controld, node1 makes a lock_dlm
# GFS2 (-t vmtest:gfs -j 2) on the shared disk, both mount it, and what each node writes
# the other reads back byte-identical.
# nodes: 2
# cluster: --shared-mib 512
# timeout: 480

source scripts/bench/fs/gfs2.sh
fs_setup 2
fs_mkfs 2
fs_mount 1 /mnt/gfs
fs_mount 2 /mnt/gfs
for k in 1 2; do
	node_run "$k" 'findmnt -no FSTYPE /mnt/gfs' | grep -qx gfs2 || fail "node$k: /mnt/gfs is not gfs2"
done

# 4 MiB of random bytes written on node1, read on node2 (no sync: GFS2's glocks must
# make node1 write it back when node2 asks for the inode).
head -c 4194304 /dev/urandom >"$VM_LOG_DIR/data.host"
expected=$(sha256sum <"$VM_LOG_DIR/data.host" | cut -d' ' -f1)
node_copy_in 1 "$VM_LOG_DIR/data.host" /tmp/data
node_run 1 'cp /tmp/data /mnt/gfs/from-node1'
got=$(node_run 2 'sha256sum </mnt/gfs/from-node1' | cut -d' ' -f1)
assert_eq "$expected" "$got" "node2's copy of node1's file"

# And the other way, with an append by node1 to a file node2 created.
node_run 2 'printf "written by node2\n" >/mnt/gfs/from-node2'
node_run 1 'printf "appended by node1\n" >>/mnt/gfs/from-node2'
got=$(node_run 2 'cat /mnt/gfs/from-node2')
assert_eq "$(printf 'written by node2\nappended by node1')" "$got" "file written by both nodes"
got=$(node_run 2 'ls /mnt/gfs | tr "\n" " " | sed "s/ $//"')
assert_eq "from-node1 from-node2" "$got" "directory listing on node2"

fs_umount 2 /mnt/gfs
fs_umount 1 /mnt/gfs
rm -f "$VM_LOG_DIR/data.host"
