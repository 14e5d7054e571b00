# Benchmark helper run by scripts/bench/tools.sh through scripts/vm/run-test.sh (not a
# test): GFS2 cannot create files offline and this host's kernel has no gfs2 module, so
# one VM node makes a lock_nolock GFS2 on the shared disk, creates 100 000 empty files
# in 100 directories of 1000 (the layout cfs_populate gives clusterfs), unmounts, and
# the image is copied to $GFS2_INODES_IMAGE for fsck.gfs2 to run on the host.
# nodes: 1
# cluster: --shared-mib 8192
# timeout: 3600
: "${GFS2_INODES_IMAGE:?set GFS2_INODES_IMAGE to where the populated image goes}"
node_run 1 modprobe gfs2
node_run 1 -t 300 'mkfs.gfs2 -O -p lock_nolock -j 1 $CFS_SHARED_DEV </dev/null >/dev/null'
node_run 1 -t 120 'mkdir -p /mnt/g && mount -t gfs2 -o noatime $CFS_SHARED_DEV /mnt/g'
node_run 1 -t 3000 'cd /mnt/g && for d in $(seq 0 99); do mkdir d$d && (cd d$d && seq 0 999 | sed s/^/f/ | xargs touch) || exit 1; done'
node_run 1 -t 600 'umount /mnt/g'
cp --sparse=always "$_vm_shared_image" "$GFS2_INODES_IMAGE"
