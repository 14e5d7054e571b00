# Three nodes form one quorate corosync membership (knet, token 10 s); after node3 is
# killed (SIGKILL of its VM) the two survivors see 2 members and stay quorate (2 of 3 votes).
# nodes: 3
# cluster: --no-shared --mem 512
# timeout: 400

cluster_corosync_start
cluster_wait_quorate -t 90

# Every node sees the same three members by name.
for k in 1 2 3; do
	members=$(node_run "$k" 'corosync-quorumtool -l | awk "/^ *[0-9]+ +[0-9]+ +node/ {print \$3}" | sort | tr "\n" " "')
	assert_eq "node1 node2 node3 " "$members" "members seen by node$k"
done

node_kill 3
# Failure detection is token (10 s) + consensus (12 s) under TCG.
cluster_wait_quorate -t 90 --members 2 1 2
for k in 1 2; do
	node_run "$k" 'corosync-quorumtool -s' | grep -Eq '^Total votes: +2$' || fail "node$k does not count 2 votes"
	node_run "$k" 'corosync-quorumtool -s' | grep -Eq '^Expected votes: +3$' || fail "node$k lost the expected 3 votes"
done
