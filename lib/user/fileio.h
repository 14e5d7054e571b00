// File data I/O for the userspace tools and tests (lib-algo). The kernel does data I/O
// through iomap and never uses this; lib/ itself only maps blocks (bmap.h).
//
// Writes go straight to the device (cfs_env_log_write, uncached, synchronous) before the
// caller commits the transaction that maps them: the ordered-data rule of the journal.
// Locking: single-threaded tools; the caller owns the inode.
#ifndef CLUSTERFS_LIB_USER_FILEIO_H
#define CLUSTERFS_LIB_USER_FILEIO_H

#include <cstddef>
#include <cstdint>

#include "inode.h"

namespace cfs {
struct Trans;
}

namespace cfs::user {

// Writes `len` bytes at `off` into regular file `ip`, inline while the file fits in its
// dinode, else unstuffing it and allocating blocks (holes stay holes). Extends the size.
// A journaled transaction must have room for the tree blocks and rgrp buffers this
// touches: keep each call to a few MiB per transaction.
int file_write(Fs *fs, Trans *tr, Inode *ip, uint64_t off, const void *buf, size_t len);

// Reads up to `len` bytes at `off`; holes and bytes past the end of a block read as
// zeros; *got is the count before end of file.
int file_read(Fs *fs, const Inode *ip, uint64_t off, void *buf, size_t len, size_t *got);

}  // namespace cfs::user

#endif
