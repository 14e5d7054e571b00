#!/bin/sh
# Test fence agent: records "fenced NODEID NAME" in LOGFILE and succeeds. Fails (exit 1,
# recording "failed NODEID NAME") once if LOGFILE.fail exists (it is removed), and every
# time while LOGFILE.failall exists. If LOGFILE.delay exists it first sleeps that many
# seconds, then gives up (exit 1, nothing recorded) if the lockd that ran it died
# meanwhile: a fencer that dies mid-fence must not be counted.
# usage: fence_record.sh LOGFILE NODEID NAME
log=$1 node=$2 name=$3
fencer=$PPID
if [ -e "$log.delay" ]; then
	sleep "$(cat "$log.delay")"
	kill -0 "$fencer" 2>/dev/null || exit 1
fi
if [ -e "$log.failall" ]; then
	echo "failed $node $name" >>"$log"
	exit 1
fi
if [ -e "$log.fail" ]; then
	rm -f "$log.fail"
	echo "failed $node $name" >>"$log"
	exit 1
fi
echo "fenced $node $name" >>"$log"
