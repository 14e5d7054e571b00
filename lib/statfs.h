// statfs accounting, as GFS2's statfs_change: the allocator adds every change of the
// free-block and dinode counts to this node's statfs-change file (jindex
// ji_statfs_addr of its slot) inside the same transaction, so the counts stay exact
// across crashes without a cluster-wide lock per allocation; a node folds its deltas
// into the global statfs file (sb_statfs_addr) under the statfs cluster lock (periodically,
// at unmount, when recovering a dead node's slot). df = global + every slot's deltas.
//
// Locking: Fs::statfs_lock (optional spinlock created by the host; null for
// single-threaded tools) serialises in-memory updates of the local record between
// threads; the caller of statfs_fold holds the statfs cluster lock exclusively.
#ifndef CLUSTERFS_LIB_STATFS_H
#define CLUSTERFS_LIB_STATFS_H

#include <cstdint>

#include "fs.h"

namespace cfs {

struct Trans;

struct StatfsCounts {
	int64_t total;
	int64_t free;
	int64_t dinodes;
};

// Reads a statfs or statfs-change file (one stuffed 64-byte record).
int statfs_read(Fs *fs, uint64_t ino, StatfsCounts *out);

// A pending change of the counts, prepared before the caller changes anything so that
// the only failure point comes first (lib's no-rollback rule).
struct StatfsUpdate {
	Buf *bh = nullptr;   // the statfs file the deltas go to, held and in the transaction
	uint64_t ino = 0;
};

// Reads the file deltas go to — fs->statfs_local_ino, or the global statfs file when
// it is 0 (offline tools that own the whole filesystem) — and adds it to `tr` (tr null:
// direct mode, written in place by statfs_apply). An Fs with neither (no superblock
// loaded: unit-test images) does no accounting.
int statfs_prepare(Fs *fs, Trans *tr, StatfsUpdate *u);

// Adds the deltas to the record and releases the update. Returns the direct-mode write
// error, else 0.
int statfs_apply(Fs *fs, Trans *tr, StatfsUpdate *u, int64_t dfree, int64_t ddinodes);

// Drops a prepared update without applying it.
void statfs_cancel(Fs *fs, StatfsUpdate *u);

// Adds the deltas of change file `local_ino` into the global file and zeroes them, in
// one transaction (two buffers).
int statfs_fold(Fs *fs, Trans *tr, uint64_t local_ino);

}  // namespace cfs

#endif
