#!/usr/bin/env python3
"""Latency probe for node-failure tests: in DIR, create a small file, write it and
fsync it, over and over, until STOPFILE exists; every operation's start and length go
to DIR/../probe-<name>.log as "start_monotonic seconds" lines (written after each
operation, so a stalled operation shows up when it ends).

usage: cfs_op_probe.py DIR STOPFILE LOG
"""
import os
import sys
import time


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    work, stopfile, logpath = sys.argv[1:]
    os.makedirs(work, exist_ok=True)
    with open(logpath, "w", buffering=1) as log:
        i = 0
        while not os.path.exists(stopfile):
            start = time.monotonic()
            path = os.path.join(work, "p%d" % (i % 64))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"probe %d\n" % i)
                os.fsync(fd)
            finally:
                os.close(fd)
            log.write("%.6f %.6f\n" % (start, time.monotonic() - start))
            i += 1
            time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
