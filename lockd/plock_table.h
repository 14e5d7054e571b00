// POSIX (fcntl) byte-range locks of one lockspace, replicated like LockTable: a pure,
// deterministic function of the operations applied to it (CPG agreed order), so every
// member holds the same table. No I/O, no clock. Contract: the "POSIX byte-range locks"
// section of include/clusterfs/lockproto.h; rules: docs/locking.md, "POSIX locks (fcntl)".
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "lock_table.h" // NodeId, MountId
#include "wire.h"

namespace clusterfs::lockd {

// A POSIX lock owner: the kernel's owner cookie is unique only within its mount.
struct PlockOwner {
	MountId mount;
	uint64_t owner = 0;
	auto operator<=>(const PlockOwner &) const = default;
};

// A request's answer, addressed to the mount that sent it (seq: the request's).
struct PlockEvent {
	MountId mount;
	uint32_t seq = 0;
	int status = 0;
	uint64_t number = 0;
};

class PlockTable {
public:
	// Largest first byte / last byte a range may name, apart from end == kEndOfFile:
	// file offsets are signed 64-bit (loff_t).
	static constexpr uint64_t kMaxOffset = INT64_MAX;
	static constexpr uint64_t kEndOfFile = UINT64_MAX;
	static bool valid_range(uint64_t start, uint64_t end);

	// LOCK: granted (status 0) when no other owner holds an overlapping lock where
	// either is a write lock; the owner's own locks in the range are replaced (converted).
	// Else -EAGAIN, or with `wait` queued (its answer comes when granted or cancelled), or
	// -EDEADLK when queueing would close a cycle of waiting owners. While grants are
	// disabled a waiting LOCK queues, a non-waiting one fails: -EAGAIN if it conflicts,
	// -ENOLCK if not. -EINVAL for a malformed range.
	void lock(MountId mount, uint32_t seq, uint64_t number, uint64_t owner, uint32_t pid, uint64_t start,
		  uint64_t end, bool write, bool wait, std::vector<PlockEvent> &out);
	// Always succeeds (status 0): removes the owner's locks in the range, then grants
	// what it unblocked.
	void unlock(MountId mount, uint32_t seq, uint64_t number, uint64_t owner, uint64_t start, uint64_t end,
		    std::vector<PlockEvent> &out);
	// Withdraws the mount's queued LOCK `cancel_seq` (it completes with -ECANCELED); no
	// effect, no event if none is queued.
	void cancel(MountId mount, uint32_t cancel_seq, std::vector<PlockEvent> &out);

	struct PlockView {
		uint64_t number = 0;
		PlockOwner owner;
		uint32_t pid = 0;
		uint64_t start = 0, end = 0;
		bool write = false;
		bool operator==(const PlockView &) const = default;
	};
	// GET: the first lock (in the table's order: owner, then start) of another owner
	// conflicting with the range in that type; nullopt if none (or a malformed range).
	std::optional<PlockView> get(uint64_t number, MountId mount, uint64_t owner, uint64_t start, uint64_t end,
				     bool write) const;

	// The mount left or withdrew: its locks and queued requests go (no answers: the
	// mount is gone), then waiters it blocked are granted.
	void mount_gone(MountId mount, std::vector<PlockEvent> &out);
	// The node died: its queued requests vanish; its locks stay (they still block
	// others: it may still be writing) until node_fenced.
	void node_down(NodeId node);
	void node_fenced(NodeId node, std::vector<PlockEvent> &out);

	// Quorum gate (replicated, driven with LockTable's): while disabled nothing is granted;
	// enabling grants what waits.
	void set_grants_enabled(bool enabled, std::vector<PlockEvent> &out);
	bool grants_enabled() const { return grants_enabled_; }

	void encode(wire::Writer &w) const;
	bool decode(wire::Reader &r); // false on malformed input (table left empty)

	// Introspection.
	struct WaiterView {
		MountId mount;
		uint32_t seq = 0;
		PlockView lock;
		bool operator==(const WaiterView &) const = default;
	};
	struct FileView {
		uint64_t number = 0;
		std::vector<PlockView> held;     // by owner, then start
		std::vector<WaiterView> waiting; // FIFO
		bool operator==(const FileView &) const = default;
	};
	std::vector<FileView> files() const;
	size_t held_count() const;
	size_t waiting_count() const;

private:
	struct Segment {
		uint64_t end = 0;
		uint32_t pid = 0;
		bool write = false;
	};
	using Segments = std::map<uint64_t, Segment>; // start -> segment; disjoint
	struct Waiter {
		MountId mount;
		uint32_t seq = 0;
		uint64_t owner = 0;
		uint32_t pid = 0;
		uint64_t start = 0, end = 0;
		bool write = false;
	};
	struct File {
		std::map<PlockOwner, Segments> held;
		std::deque<Waiter> waiting;
	};

	static void set_range(Segments &segs, uint64_t start, uint64_t end, std::optional<bool> write, uint32_t pid);
	static bool conflicts(const File &f, const PlockOwner &who, uint64_t start, uint64_t end, bool write,
			      std::vector<PlockOwner> *blockers);
	bool would_deadlock(const PlockOwner &who, const std::vector<PlockOwner> &blockers) const;
	void retry(uint64_t number, std::vector<PlockEvent> &out);
	void retry_all(std::vector<PlockEvent> &out);
	void drop_if_empty(uint64_t number);

	std::map<uint64_t, File> files_;
	bool grants_enabled_ = false;
};

} // namespace clusterfs::lockd
