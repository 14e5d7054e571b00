// The replicated operations of a lockspace: what its members multicast in agreed order
// over CPG (batches of Op, snapshot chunks, table digests). A header of its own because
// both sides use it: the daemon encodes clients' requests as operations (daemon.cpp)
// and every member's Lockspace applies them (lockspace.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace clusterfs::lockd {

// ---- replicated operations (the CPG payload) ----

enum class Op : uint8_t {
	Hello = 1,     // u64 incarnation
	Snapshot = 2,  // u32 target node, u32 chunk, u32 chunks, bytes
	Join = 3,      // u64 mount, u32 journal_count, u64 journal lock
	Leave = 4,     // u64 mount
	// 5-8: lock, convert, unlock, cancel before ownership (now Operation); an old
	// lockd's are refused as unknown, since its table would not follow owners.
	Recovered = 9, // u64 mount, u32 journal
	Lost = 13,     // (the table's previous holders all died: replay every journal)
	Grants = 10,   // u64 view, u8 enabled
	Fenced = 11,   // u32 node, u8 manual
	Refuse = 12,   // u32 node, u64 incarnation
	Digest = 14,   // u64 agreed event count, u64 hash of the table after it
	Withdrawn = 15, // u64 mount (its locks pinned to its journal, which another replays)
	// POSIX locks (plock_table.h); seq: the client's request seq, echoed in EV_PLOCK.
	PlockLock = 16,   // u64 mount, u32 seq, u64 number, u64 owner, u32 pid, u64 start, u64 end, u32 flags
	PlockUnlock = 17, // u64 mount, u32 seq, u64 number, u64 owner, u64 start, u64 end
	PlockCancel = 18, // u64 mount, u32 cancel_seq
	// Ownership (docs/lockd-ownership.md). A lock operation naming its resource, so that
	// copies that do not know the lock route it (encode_lock_op), and an owner's publish
	// of a resource's state (LockTable::encode_publish).
	Operation = 19,
	Publish = 20,
};

constexpr uint32_t kBatchMagic = 0x42444b4c; // "LKDB"
constexpr size_t kMaxBatchBytes = 256 * 1024;
constexpr size_t kSnapshotChunk = 512 * 1024;
// Every member hashes its replicated state after every kDigestEvery-th agreed event; the
// lowest member multicasts its hash and the others compare (a diverged table can grant
// one lock to two nodes). Hashes of the last kDigestsKept points are kept for that.
constexpr uint64_t kDigestEvery = 16;
constexpr size_t kDigestsKept = 64;

inline uint64_t fnv1a64(const std::vector<uint8_t> &bytes)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint8_t b : bytes) {
		h ^= b;
		h *= 0x100000001b3ull;
	}
	return h;
}

} // namespace clusterfs::lockd
