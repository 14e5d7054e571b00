# The control agent of a test VM (run by busybox init as root; bash, from the host's
# checkout over the read-only 9p root).
#
# The host drops jobs into /cfs/run/node$CFS_NODE/jobs/ as ID.cmd (written elsewhere and
# renamed, so a visible .cmd is complete). The agent claims a job by renaming it to
# ID.running, runs it with bash in the background (jobs on one node may overlap: a test
# can start a daemon and talk to it), stdout to ID.out, stderr to ID.err, and publishes
# the exit status by renaming ID.rc.tmp to ID.rc. The job's first line is
# "# timeout: SECONDS": the agent enforces it (status 124, as timeout(1)).
# When it is ready it writes the boot id to /cfs/run/node$CFS_NODE/ready.

node_dir=/cfs/run/node$CFS_NODE
jobs_dir=$node_dir/jobs
mkdir -p "$jobs_dir"
exec >>"$node_dir/agent.log" 2>&1 </dev/null
echo "agent: node$CFS_NODE up at $(date -u +%T), uptime $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r)"

export CFS_NODE CFS_NODES CFS_IP
export CFS_SHARED_DEV=/dev/cfs-shared CFS_PRIVATE_DEV=/dev/cfs-private CFS_SCRATCH=/scratch
cat >/etc/profile.d/cfs-vm.sh <<EOF
export CFS_NODE=$CFS_NODE CFS_NODES=$CFS_NODES CFS_IP=$CFS_IP
export CFS_SHARED_DEV=$CFS_SHARED_DEV CFS_PRIVATE_DEV=$CFS_PRIVATE_DEV CFS_SCRATCH=$CFS_SCRATCH
EOF

run_job() {
	local id=$1 limit=120 first
	read -r first <"$jobs_dir/$id.running" || true
	[[ $first =~ ^#\ timeout:\ ([0-9]+)$ ]] && limit=${BASH_REMATCH[1]}
	timeout -k 5 "$limit" bash "$jobs_dir/$id.running" >"$jobs_dir/$id.out" 2>"$jobs_dir/$id.err" </dev/null
	echo $? >"$jobs_dir/$id.rc.tmp"
	mv "$jobs_dir/$id.rc.tmp" "$jobs_dir/$id.rc"
}

# Sleeping by a read with a timeout on a private FIFO avoids forking sleep(1) 10 times a
# second on an emulated CPU.
mkfifo /run/cfs-agent.tick
exec 9<>/run/cfs-agent.tick

cat /proc/sys/kernel/random/boot_id >"$node_dir/ready.tmp"
mv "$node_dir/ready.tmp" "$node_dir/ready"
echo "cfs-agent: node$CFS_NODE ready" >/dev/kmsg
shopt -s nullglob
while :; do
	for job in "$jobs_dir"/*.cmd; do
		id=${job##*/}
		id=${id%.cmd}
		mv "$job" "$jobs_dir/$id.running" || continue
		run_job "$id" &
	done
	read -r -t 0.1 -u 9 _ || true
done
