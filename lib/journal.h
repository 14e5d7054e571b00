// The journal: physical block logging with write-ahead ordering, and its replay.
//
// One journal per node slot: a contiguous run of blocks [first, first + length) (from
// the journal index). It is a ring of log records. A record is written by one
// journal_flush and is laid out as
//
//     descriptor(metadata: home block numbers h1..hn)  image(h1) .. image(hn)
//     [more descriptor + images groups]  [revoke descriptors]  commit header
//
// The commit header (sequence number, the tail = where the oldest record that is not
// yet checkpointed starts, the record's first block, flags, CRC32C) is written last,
// after a cache flush, with FUA: a record counts only if its header is intact. Replay
// finds the valid header with the highest sequence (the head), walks the records from
// its tail to it, collects revokes, then writes every image home unless a revoke in the
// same or a later record covers it. A torn record (its header missing or with a bad
// CRC) is ignored, so is anything older than the tail.
//
// Checkpoint: once the host has written every logged buffer in place (env sync), the
// tail moves up to the head and the log space is reused (the ring wraps).
//
// The same code runs at kernel mount (own journal), at recovery of a dead node's
// journal, and in fsck.
//
// Locking: the caller serialises every call on one Journal (kernel: the log rwsem held
// exclusively for flush/checkpoint, shared around trans_commit), and holds the journal's
// cluster lock (its own slot, or a dead node's during recovery).
#ifndef CLUSTERFS_LIB_JOURNAL_H
#define CLUSTERFS_LIB_JOURNAL_H

#include "fs.h"

namespace cfs {

struct Trans;
struct Journal;

// Where a journal is: its dinode (owner of every log block) and its extent.
struct JournalLoc {
	uint64_t ino;     // journal file's dinode
	uint64_t first;   // first block of the contiguous extent
	uint32_t length;  // blocks
};

// Reads journal slot `slot` from the journal index (sb_jindex_addr).
[[nodiscard]] int journal_locate(Fs *fs, uint32_t slot, JournalLoc *out);

// What replay (or a head search) found in a journal.
struct JournalHead {
	uint64_t sequence;      // of the newest valid commit header
	uint32_t head;          // journal-relative block of that header
	uint32_t tail;          // journal-relative first block still to replay
	bool clean;             // nothing to replay (the head header's tail is itself)
	bool unmounted;         // the newest header carries the unmount flag
	bool empty;             // no valid header at all (fresh or foreign journal)
};

// Scans the journal for its newest valid commit header.
[[nodiscard]] int journal_find_head(Fs *fs, const JournalLoc *loc, JournalHead *out);

struct ReplayStats {
	uint32_t records;       // commit records walked
	uint32_t blocks_replayed;  // images written home
	uint32_t blocks_revoked;   // images skipped because of a revoke
	uint32_t blocks_superseded;  // images skipped because a later record logs the block
	uint32_t revokes;       // revoke entries seen
};

// Replays the journal (if dirty) and writes a new clean header so a second replay finds
// nothing to do. Each block logged between tail and head is written once, with its
// newest image (unless a revoke at least as new covers it): never older-then-newer,
// since the newer image may already be home. With `dry_run`, reads and checks
// everything and reports what it would write, writing nothing (fsck -n). Returns -EUCLEAN if a committed record is damaged
// (a descriptor or image that fails its check): nothing is written in that case.
[[nodiscard]] int journal_replay(Fs *fs, const JournalLoc *loc, bool dry_run,
				 ReplayStats *stats);

// Opens a journal for writing. It must be clean (replay first); the next record goes
// after the newest header. *out is released with journal_close.
[[nodiscard]] int journal_open(Fs *fs, const JournalLoc *loc, Journal **out);

// Writes every committed transaction not yet in the log as one record (no-op when there
// is none). After it returns 0 the changes survive a crash.
[[nodiscard]] int journal_flush(Journal *j);

// Whether journal_flush has a record to write. A record ends with a header written with
// a cache flush before it and FUA, so everything written before the flush is durable.
bool journal_has_pending(const Journal *j);

// Flushes, has the host write every logged buffer in place (env sync), then moves the
// tail to the head so the whole ring is free again.
[[nodiscard]] int journal_checkpoint(Journal *j);

// Whether anything logged (or about to be) is not yet home: journal_checkpoint would
// write. A cluster node checkpoints before another node may read what its locks cover.
bool journal_needs_checkpoint(const Journal *j);

// Checkpoints and writes a header with the unmount flag: a clean journal. Then closes.
[[nodiscard]] int journal_close_clean(Journal *j);

// Frees the in-core journal without writing anything (after a withdraw or a failed
// mount). Committed but unflushed transactions are lost, as in a crash.
void journal_close(Journal *j);

// Blocks currently free in the ring (for transaction reservations and statistics).
uint32_t journal_free_blocks(const Journal *j);

// Log blocks a record with `nbufs` images and `nrevokes` revokes takes.
uint32_t journal_record_blocks(const Journal *j, uint32_t nbufs, uint32_t nrevokes);

// Called by trans_commit: moves the transaction's buffers and revokes into the record
// being assembled (the journal keeps the holds until the record is written).
[[nodiscard]] int journal_take_trans(Journal *j, Trans *tr);

// Called by trans_begin: makes sure a record with `nbufs` more buffers fits in the ring,
// flushing and checkpointing as needed. -ENOSPC if it never can.
[[nodiscard]] int journal_reserve(Journal *j, uint32_t nbufs);

// Whether a transaction of `nbufs` buffers fits without a checkpoint. A kernel that
// holds its log lock shared around transactions checks this first and, when false,
// checkpoints under the exclusive lock before trans_begin (which then never has to).
bool journal_has_room(const Journal *j, uint32_t nbufs);

}  // namespace cfs

#endif
