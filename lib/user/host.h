// The userspace host of lib/env.h: a device or image file, a block cache over
// pread/pwrite (O_DIRECT optional), malloc, stderr logging, pthread locks.
// Used by mkfs.clusterfs, fsck.clusterfs, clusterfs_tool and the unit tests.
// libc is allowed here, and only here (lib/user is never built into the kernel).
// A host is used by one thread at a time (the tools are single-threaded); the mutex and
// spinlock hooks are real pthread locks for lib's own use.
#ifndef CLUSTERFS_LIB_USER_HOST_H
#define CLUSTERFS_LIB_USER_HOST_H

#include <cstddef>
#include <cstdint>

#include "env.h"

namespace cfs::user {

struct HostOptions {
	bool read_only = false;       // open O_RDONLY; writes fail with -EROFS
	bool direct = false;          // O_DIRECT (bounce buffers keep lib's buffers unaligned-safe)
	bool exclusive = false;       // O_EXCL on block devices (refuse if mounted / in use)
	size_t cache_blocks = 16384;  // unreferenced buffers kept before eviction
};

// Opens `path` (block device or regular file). Returns 0 or a negative errno; on
// failure *out is null and `why` (if non-null) says what went wrong in a sentence.
int host_open(const char *path, const HostOptions &opts, cfs_host **out, const char **why);

// Closes the device and frees the cache. Does not sync: call cfs_env_sync first.
// Every buffer must have been released (checked: a leak is reported on stderr and
// counted in host_leaked_buffers before close).
void host_close(cfs_host *h);

// Buffers currently referenced (for tests: lib must release what it takes).
size_t host_held_buffers(const cfs_host *h);

int host_fd(const cfs_host *h);
uint32_t host_block_size(const cfs_host *h);

// Messages from lib: by default those at or below `max_level` (CFS_LOG_NOTICE) go to
// stderr as "clusterfs: <message>". A sink replaces stderr (tests capture messages).
using LogSink = void (*)(void *ctx, int level, const char *message);
void host_set_log(cfs_host *h, LogSink sink, void *ctx, int max_level);

// Tests: called with every block written home through cfs_env_buf_write, before the
// write (a test asserts what replay or a checkpoint puts on disk, and in which order).
using WriteObserver = void (*)(void *ctx, uint64_t blkno, const void *data);
void host_set_write_observer(cfs_host *h, WriteObserver observer, void *ctx);

// Counters, for tests and benchmarks.
struct HostStats {
	uint64_t reads, writes, cache_hits;
};
HostStats host_stats(const cfs_host *h);

}  // namespace cfs::user

#endif
