#!/usr/bin/env python3
"""Small file operations for tests/vm/kernel-cluster-coherence.sh that the shell tools
do not do, or do not report precisely enough.

usage:
  cfs_coherence.py absent PATH...
      every PATH must be gone: lstat fails with ENOENT (not another error, and the name
      must not resolve to anything). Exit 1 naming the first PATH that is not.
  cfs_coherence.py zeros FILE OFFSET LENGTH
      FILE's bytes [OFFSET, OFFSET+LENGTH) must all be zero and present (not past EOF).
  cfs_coherence.py mmap-store FILE OFFSET LENGTH BYTE
      stores LENGTH bytes of value BYTE (0-255) at OFFSET through a shared mapping of
      FILE (which must already be that long), msync (mmap.flush), unmaps, closes. No
      write(2) is involved.
  cfs_coherence.py hold FILE CTLDIR
      opens FILE read-only and keeps the descriptor: writes CTLDIR/ready once open,
      waits (at most 600 s) for CTLDIR/release, then reads the whole file through the
      descriptor (pread from 0, to EOF), writes "LENGTH SHA256" to CTLDIR/result, closes
      the descriptor and writes CTLDIR/closed. Any error goes to CTLDIR/error instead,
      so a caller polling for result/closed learns about it.
  cfs_coherence.py map-hold FILE CTLDIR OFFSET LENGTH BYTE
      maps FILE shared and stores LENGTH bytes of value BYTE at OFFSET through the
      mapping, with no msync, keeping the mapping: writes CTLDIR/ready, waits (at most
      600 s) for CTLDIR/check, then writes to CTLDIR/result the byte values the mapping
      now shows in that range (sorted, hex, e.g. "3c"), unmaps and writes CTLDIR/closed.
      Another node's read of the range must see BYTE (the dirty mapped pages written
      back when this node gives up its lock); after another node overwrote the range,
      the mapping must show the new bytes (this node's mapped pages invalidated)."""
import errno
import hashlib
import mmap
import os
import sys
import time


def absent(paths):
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as e:
            sys.exit(f"{path}: lstat failed with {errno.errorcode.get(e.errno, e.errno)}, not ENOENT")
        sys.exit(f"{path}: still exists (inode {st.st_ino}, size {st.st_size}, nlink {st.st_nlink})")


def zeros(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    if len(data) != length:
        sys.exit(f"{path}: only {len(data)} of {length} bytes at {offset} (EOF)")
    nonzero = next((i for i, b in enumerate(data) if b), None)
    if nonzero is not None:
        sys.exit(f"{path}: byte {offset + nonzero} is 0x{data[nonzero]:02x}, not zero")


def mmap_store(path, offset, length, value):
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if offset + length > size:
            sys.exit(f"{path}: {size} bytes, the store needs {offset + length}")
        m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m[offset:offset + length] = bytes([value]) * length
        m.flush()
        m.close()
    finally:
        os.close(fd)


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def hold(path, ctl):
    try:
        fd = os.open(path, os.O_RDONLY)
        write_atomic(os.path.join(ctl, "ready"), f"{os.getpid()}\n")
        wait_for(os.path.join(ctl, "release"))
        h = hashlib.sha256()
        pos = 0
        while True:
            chunk = os.pread(fd, 1 << 20, pos)
            if not chunk:
                break
            h.update(chunk)
            pos += len(chunk)
        write_atomic(os.path.join(ctl, "result"), f"{pos} {h.hexdigest()}\n")
        os.close(fd)
        write_atomic(os.path.join(ctl, "closed"), "closed\n")
    except Exception as e:  # reported through the control directory, the caller polls it
        write_atomic(os.path.join(ctl, "error"), f"{type(e).__name__}: {e}\n")
        sys.exit(1)


def wait_for(path):
    deadline = time.monotonic() + 600
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {path} within 600 s")
        time.sleep(0.1)


def map_hold(path, ctl, offset, length, value):
    try:
        fd = os.open(path, os.O_RDWR)
        m = mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m[offset:offset + length] = bytes([value]) * length
        write_atomic(os.path.join(ctl, "ready"), f"{os.getpid()}\n")
        wait_for(os.path.join(ctl, "check"))
        seen = sorted(set(m[offset:offset + length]))
        write_atomic(os.path.join(ctl, "result"), " ".join(f"{b:02x}" for b in seen) + "\n")
        m.close()
        os.close(fd)
        write_atomic(os.path.join(ctl, "closed"), "closed\n")
    except Exception as e:  # reported through the control directory, the caller polls it
        write_atomic(os.path.join(ctl, "error"), f"{type(e).__name__}: {e}\n")
        sys.exit(1)


def main(argv):
    if len(argv) >= 2 and argv[0] == "absent":
        absent(argv[1:])
    elif len(argv) == 4 and argv[0] == "zeros":
        zeros(argv[1], int(argv[2]), int(argv[3]))
    elif len(argv) == 5 and argv[0] == "mmap-store":
        mmap_store(argv[1], int(argv[2]), int(argv[3]), int(argv[4], 0))
    elif len(argv) == 3 and argv[0] == "hold":
        hold(argv[1], argv[2])
    elif len(argv) == 6 and argv[0] == "map-hold":
        map_hold(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5], 0))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
