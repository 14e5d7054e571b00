#!/bin/sh
# Test fence agent that really fences: SIGKILLs the target node's corosync and lockd (pids
# listed in DIR/nNODE.pids), after DIR/delay.NODE seconds if that file exists (a fence
# delay decides a two_node fence race). A fencer whose own lockd died meanwhile was itself
# "powered off": it gives up without killing. Records "fenced NODEID NAME" in LOGFILE.
# usage: fence_kill.sh LOGFILE DIR NODEID NAME
log=$1 dir=$2 node=$3 name=$4
fencer=$PPID
[ -e "$dir/delay.$node" ] && sleep "$(cat "$dir/delay.$node")"
kill -0 "$fencer" 2>/dev/null || exit 1
[ -e "$dir/n$node.pids" ] && kill -9 $(cat "$dir/n$node.pids") 2>/dev/null
echo "fenced $node $name" >>"$log"
