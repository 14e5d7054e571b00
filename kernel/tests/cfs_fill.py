#!/usr/bin/env python3
"""Fills a mounted filesystem until it reports ENOSPC, one way per command, and prints
what happened as `key value` lines for the VM test (tests/vm/kernel-enospc.sh) to check.

usage: cfs_fill.py bigfile|smallfiles|mkdirs|direct|fallocate DIR
Exit 0 when the fill stopped with ENOSPC, 1 on any other outcome (printed)."""
import errno
import mmap
import os
import sys


def report_stop(err, done, unit):
    print(f"stopped {errno.errorcode.get(err.errno, err.errno)}")
    print(f"{unit} {done}")
    return 0 if err.errno == errno.ENOSPC else 1


def bigfile(d):
    fd = os.open(f"{d}/big", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    block = b"\x5a" * (1 << 20)
    written = 0
    try:
        while True:
            n = os.write(fd, block)
            written += n
            if n < len(block):  # a short write: the next one reports the error
                continue
    except OSError as e:
        # What was written before ENOSPC must be readable and in i_size.
        size = os.fstat(fd).st_size
        os.close(fd)
        print(f"size {size}")
        return report_stop(e, written, "bytes")


def smallfiles(d):
    os.makedirs(f"{d}/small", exist_ok=True)
    data = b"s" * 2000  # fits a dinode's inline area: needs one block each
    n = 0
    try:
        while True:
            fd = os.open(f"{d}/small/{n}", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            n += 1
    except OSError as e:
        return report_stop(e, n, "files")


def mkdirs(d):
    n = 0
    try:
        while True:
            os.mkdir(f"{d}/dir{n}")
            n += 1
    except OSError as e:
        return report_stop(e, n, "dirs")


def direct(d):
    fd = os.open(f"{d}/direct", os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_DIRECT, 0o644)
    buf = mmap.mmap(-1, 1 << 20)  # page aligned, as O_DIRECT needs
    buf.write(b"\xd1" * (1 << 20))
    written = 0
    try:
        while True:
            written += os.write(fd, buf)
    except OSError as e:
        os.close(fd)
        return report_stop(e, written, "bytes")


def fallocate(d):
    fd = os.open(f"{d}/falloc", os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.posix_fallocate(fd, 0, 1 << 40)  # far more than the device
    except OSError as e:
        size = os.fstat(fd).st_size
        os.close(fd)
        print(f"size {size}")
        return report_stop(e, 0, "bytes")
    print("stopped none")
    return 1


if __name__ == "__main__":
    mode, target = sys.argv[1], sys.argv[2]
    sys.exit({"bigfile": bigfile, "smallfiles": smallfiles, "mkdirs": mkdirs,
              "direct": direct, "fallocate": fallocate}[mode](target))
