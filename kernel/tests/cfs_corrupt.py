#!/usr/bin/env python3
"""Damages one structure of a clusterfs device in a controlled way, for the kernel
module's refusal and withdraw tests (tests/vm/kernel-*.sh).

  cfs_corrupt.py DEV sb-magic                 zero the superblock magic
  cfs_corrupt.py DEV sb-version N             set the format version, CRC kept valid
  cfs_corrupt.py DEV sb-bsize N               set the block size (and shift), CRC valid
  cfs_corrupt.py DEV sb-blocks N              set the filesystem size in blocks, CRC valid
  cfs_corrupt.py DEV flip BLOCK [OFFSET]      flip one byte: the block's CRC no longer matches
  cfs_corrupt.py DEV retype BLOCK TYPE        change the block type, CRC valid
  cfs_corrupt.py DEV root                     print the root directory's inode number
  cfs_corrupt.py DEV first-leaf INO           print the first leaf block of hashed directory INO
  cfs_corrupt.py DEV first-rgrp               print the first non-journal rgrp header block

Offsets follow include/clusterfs/format.h; the CRC is CRC-32C over the whole block with
the 4-byte mh_crc field (offset 4) taken as zero.
"""
import os
import struct
import sys

SB_OFFSET = 65536
MAGIC = 0x53464C43


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class Device:
    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR)
        sb = self.pread(SB_OFFSET, 4096)
        magic, = struct.unpack_from("<I", sb, 0)
        self.bsize, = struct.unpack_from("<I", sb, 64)
        if magic != MAGIC or self.bsize not in (1024, 2048, 4096):
            self.bsize = 4096  # damaged already: still allow raw edits

    def pread(self, off, n):
        return bytearray(os.pread(self.fd, n, off))

    def pwrite(self, off, data):
        os.pwrite(self.fd, bytes(data), off)
        os.fsync(self.fd)

    def block(self, blkno, size=None):
        size = size or self.bsize
        return self.pread(blkno * self.bsize, size)

    def put_block(self, blkno, data, reseal):
        if reseal:
            struct.pack_into("<I", data, 4, 0)
            struct.pack_into("<I", data, 4, crc32c(data))
        self.pwrite(blkno * self.bsize, data)

    def sb(self):
        return self.pread(SB_OFFSET, self.bsize)

    def put_sb(self, data, reseal=True):
        bsize = self.bsize
        if reseal:
            struct.pack_into("<I", data, 4, 0)
            struct.pack_into("<I", data, 4, crc32c(data[:bsize]))
        self.pwrite(SB_OFFSET, data)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    dev, action, args = Device(argv[1]), argv[2], argv[3:]
    if action == "sb-magic":
        sb = dev.sb()
        struct.pack_into("<I", sb, 0, 0)
        dev.put_sb(sb, reseal=False)
    elif action == "sb-version":
        sb = dev.sb()
        struct.pack_into("<H", sb, 10, int(args[0]))
        dev.put_sb(sb)
    elif action == "sb-bsize":
        n = int(args[0])
        sb = dev.sb()
        struct.pack_into("<II", sb, 64, n, n.bit_length() - 1)
        dev.put_sb(sb)
    elif action == "sb-blocks":
        sb = dev.sb()
        struct.pack_into("<Q", sb, 72, int(args[0]))
        dev.put_sb(sb)
    elif action == "flip":
        blkno = int(args[0])
        off = int(args[1]) if len(args) > 1 else 200
        data = dev.block(blkno)
        data[off] ^= 0xFF
        dev.put_block(blkno, data, reseal=False)
    elif action == "retype":
        blkno, btype = int(args[0]), int(args[1])
        data = dev.block(blkno)
        struct.pack_into("<H", data, 8, btype)
        dev.put_block(blkno, data, reseal=True)
    elif action == "root":
        print(struct.unpack_from("<Q", dev.sb(), 88)[0])
    elif action == "first-leaf":
        data = dev.block(int(args[0]))
        flags, height = struct.unpack_from("<IH", data, 152)
        if not flags & (1 << 2) or height != 0:
            sys.exit("inode %s is not a hashed directory with an inline table" % args[0])
        print(struct.unpack_from("<Q", data, 256)[0])
    elif action == "first-rgrp":
        sb = dev.sb()
        blkno = SB_OFFSET // dev.bsize + 1
        while True:
            data = dev.block(blkno)
            flags, = struct.unpack_from("<I", data, 64)
            length, skip = struct.unpack_from("<II", data, 104)
            if not flags & 1:
                print(blkno)
                return
            if not skip:
                sys.exit("no resource group outside the journals")
            blkno += skip
    else:
        sys.exit("unknown action %s\n%s" % (action, __doc__))


if __name__ == "__main__":
    main(sys.argv)
