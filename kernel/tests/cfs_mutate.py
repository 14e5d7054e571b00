#!/usr/bin/env python3
"""Structure-aware corruption of a clusterfs image for the mount fuzz test
(tests/vm/kernel-fuzz.sh). Every block that starts with the metadata magic is a target;
the tool picks block types evenly (so the one superblock and the few rgrp headers are hit
as often as the many dinodes), changes a few fields or bytes of 1-3 blocks and, most of
the time, recomputes the block's CRC so that the damage gets past the checksum to the
verifiers and the code behind them.

  cfs_mutate.py IMAGE SEED      mutate IMAGE in place, print one line per change
Deterministic for a given image and seed.
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cfs_corrupt import MAGIC, SB_OFFSET, crc32c  # noqa: E402

INTERESTING64 = [0, 1, 2, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 1 << 32, 1 << 40, 4096]
INTERESTING32 = [0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 4096, 65535]
INTERESTING16 = [0, 1, 0x7FFF, 0xFFFF, 24, 25, 11]


def metadata_blocks(image, bsize):
    """(block number, type) of every block that starts with the metadata magic."""
    found = []
    with open(image, "rb") as f:
        blkno = 0
        while True:
            data = f.read(bsize)
            if len(data) < 16:
                break
            if struct.unpack_from("<I", data, 0)[0] == MAGIC:
                found.append((blkno, struct.unpack_from("<H", data, 8)[0]))
            blkno += 1
    return found


def mutate_block(data, rng, notes):
    bsize = len(data)
    for _ in range(rng.randint(1, 4)):
        what = rng.random()
        if what < 0.1:
            off = rng.choice([8, 10, 16, 24, 32])  # type, format, blkno, owner, lsn
        else:
            off = rng.randrange(64, bsize - 8)
        kind = rng.random()
        if kind < 0.35:
            off &= ~7
            old = struct.unpack_from("<Q", data, off)[0]
            new = rng.choice(INTERESTING64 + [old + 1, (old - 1) & (2**64 - 1), rng.getrandbits(64)])
            struct.pack_into("<Q", data, off, new & (2**64 - 1))
            notes.append(f"u64@{off}:{old}->{new & (2**64 - 1)}")
        elif kind < 0.6:
            off &= ~3
            old = struct.unpack_from("<I", data, off)[0]
            new = rng.choice(INTERESTING32 + [old + 1, (old - 1) & 0xFFFFFFFF]) & 0xFFFFFFFF
            struct.pack_into("<I", data, off, new)
            notes.append(f"u32@{off}:{old}->{new}")
        elif kind < 0.8:
            off &= ~1
            old = struct.unpack_from("<H", data, off)[0]
            new = rng.choice(INTERESTING16 + [old + 1, (old - 1) & 0xFFFF]) & 0xFFFF
            struct.pack_into("<H", data, off, new)
            notes.append(f"u16@{off}:{old}->{new}")
        else:
            old = data[off]
            data[off] = rng.randrange(256)
            notes.append(f"byte@{off}:{old}->{data[off]}")


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    image, seed = argv[1], int(argv[2])
    rng = random.Random(seed)
    with open(image, "r+b") as f:
        sb = bytearray(os.pread(f.fileno(), 4096, SB_OFFSET))
        bsize = struct.unpack_from("<I", sb, 64)[0]
        if struct.unpack_from("<I", sb, 0)[0] != MAGIC or bsize not in (1024, 2048, 4096):
            sys.exit(f"{image}: not a clusterfs image")
        blocks = metadata_blocks(image, bsize)
        by_type = {}
        for blkno, btype in blocks:
            by_type.setdefault(btype, []).append(blkno)
        types = sorted(by_type)
        for _ in range(rng.randint(1, 3)):
            btype = rng.choice(types)
            blkno = rng.choice(by_type[btype])
            data = bytearray(os.pread(f.fileno(), bsize, blkno * bsize))
            notes = []
            mutate_block(data, rng, notes)
            reseal = rng.random() < 0.9
            if reseal:
                struct.pack_into("<I", data, 4, 0)
                struct.pack_into("<I", data, 4, crc32c(data))
            os.pwrite(f.fileno(), bytes(data), blkno * bsize)
            print(f"block {blkno} type {btype}{'' if reseal else ' (CRC left stale)'}: {' '.join(notes)}")
        os.fsync(f.fileno())


if __name__ == "__main__":
    main(sys.argv)
