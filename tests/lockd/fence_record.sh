#!/bin/sh
# Test fence agent: records "NODEID NAME" in LOGFILE and succeeds, unless LOGFILE.fail
# exists, in which case it removes it and fails once (to test retries).
# usage: fence_record.sh LOGFILE NODEID NAME
log=$1 node=$2 name=$3
if [ -e "$log.fail" ]; then
	rm -f "$log.fail"
	echo "failed $node $name" >>"$log"
	exit 1
fi
echo "fenced $node $name" >>"$log"
