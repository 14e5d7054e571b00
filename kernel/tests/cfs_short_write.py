#!/usr/bin/env python3
"""A buffered write that stops short (its source buffer's second page is unmapped, so
the copy faults there) into fresh blocks: inside EOF (filling a hole) and past EOF.

usage: cfs_short_write.py FILE
Writes 8 KiB at 1 MiB (a hole of a 2 MiB file) and 8 KiB at 2 MiB (past EOF), each from
a buffer of which only the first 4 KiB is mapped, and prints the two write results. The
blocks allocated for the part that was not copied must never show earlier bytes of the
device: the caller checks the file reads zeros there (after growing it over them)."""
import ctypes
import mmap
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.pwrite.restype = ctypes.c_ssize_t
libc.pwrite.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long]

PAGE = 4096


def short_write(fd, off):
    addr = libc.mmap(None, 2 * PAGE, mmap.PROT_READ | mmap.PROT_WRITE,
                     mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        sys.exit("mmap failed")
    ctypes.memset(addr, 0x41, PAGE)
    if libc.munmap(addr + PAGE, PAGE) != 0:
        sys.exit("munmap failed")
    n = libc.pwrite(fd, addr, 2 * PAGE, off)
    err = ctypes.get_errno()
    libc.munmap(addr, PAGE)
    return n if n >= 0 else -err


fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.pwrite(fd, b"\x42" * PAGE, 2 * 1024 * 1024 - PAGE)  # size 2 MiB, a hole at 1 MiB
print("inside", short_write(fd, 1024 * 1024))
print("past", short_write(fd, 2 * 1024 * 1024))
os.fsync(fd)
os.close(fd)
