// Transactions: the set of metadata buffers one filesystem operation changed, and the
// blocks it freed that must not be replayed (revokes).
//
// Use: trans_begin; for every metadata buffer, trans_add_buf BEFORE changing its bytes
// (the transaction takes a hold so the host cannot write back or evict it); change it;
// trans_commit. A journaled transaction hands its buffers to the journal's current log
// record (journal.h): they reach the disk in place only after the log record holding
// them is on disk (write-ahead). An unjournaled transaction (journal == nullptr: mkfs,
// offline repair) marks its buffers dirty for the host to write back directly.
//
// There is no rollback: lib orders each operation so that every step that can fail
// (allocation, reading a block) comes before the first change it cannot undo. If a
// commit fails, the in-memory metadata is ahead of the disk: the kernel withdraws, the
// tools stop without flushing.
//
// Write-ahead contract with the host: from trans_add_buf until the journal has written
// the record holding the buffer, the host must not write that buffer in place, even if
// it is dirty from an earlier record (kernel: pin it, as GFS2 does; userspace: the block
// cache never writes a held buffer). lib marks it dirty once the log record is on disk.
//
// Locking: a Trans belongs to one thread. A journaled transaction, from trans_begin to
// trans_commit, must exclude journal_flush/journal_checkpoint (kernel: the log rwsem,
// shared for the transaction, exclusive for a flush), and every buffer added is covered
// by a lock the caller holds.
#ifndef CLUSTERFS_LIB_TRANS_H
#define CLUSTERFS_LIB_TRANS_H

#include "fs.h"

namespace cfs {

struct Journal;

struct Trans {
	Fs *fs;
	Journal *journal;  // nullptr: unjournaled (direct) transaction
	Buf **bufs;        // held buffers, each once
	uint32_t nbufs, cap_bufs;
	uint64_t *revokes;  // freed metadata blocks
	uint32_t nrevokes, cap_revokes;
	uint32_t max_bufs;  // reservation: adding more is a caller bug (-E2BIG)
};

// Starts a transaction that will dirty at most `max_bufs` metadata buffers. With a
// journal, makes log space for that many blocks first: may flush and checkpoint the
// journal (a kernel holding its log lock shared checks journal_has_room beforehand and
// checkpoints under the exclusive lock, so this never needs to).
[[nodiscard]] int trans_begin(Fs *fs, Journal *journal, uint32_t max_bufs, Trans *tr);

// Adds a buffer the caller is about to change; idempotent. Takes its own hold.
[[nodiscard]] int trans_add_buf(Trans *tr, Buf *bh);

// Records that metadata block `blkno` was freed: replay must not write an older image
// of it over whatever the block holds next. Adding the block again later cancels it.
[[nodiscard]] int trans_add_revoke(Trans *tr, uint64_t blkno);

// Ends the transaction (see above) and releases its holds. The Trans can be reused
// with trans_begin afterwards.
[[nodiscard]] int trans_commit(Trans *tr);

// Releases the holds without committing. Only valid when no buffer was changed yet:
// lib uses it on an early error; a caller that changed buffers must withdraw instead.
void trans_cancel(Trans *tr);

}  // namespace cfs

#endif
