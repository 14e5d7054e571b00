// The grant state machine of one lockspace: a pure, deterministic function of the
// operations applied to it. Every member of the lockspace applies the same operations in
// the same (CPG agreed) order and so holds the same table; each node then acts only on
// the events addressed to its own node. No I/O, no clock, no randomness in here.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "clusterfs/lockproto.h"
#include "wire.h"

namespace clusterfs::lockd {

using NodeId = uint32_t;
using Mode = int;                 // CFS_LOCK_NL..CFS_LOCK_EX, or kNoMode
constexpr Mode kNoMode = -1;
using Lvb = std::array<uint8_t, CFS_LVB_SIZE>;

bool modes_compatible(Mode a, Mode b);
// True when every mode compatible with `from` is also compatible with `to`: a holder
// moving from `from` to `to` never blocks anybody new (a down-conversion).
bool is_down_conversion(Mode from, Mode to);
const char *mode_name(Mode m);
std::optional<Mode> parse_mode(const std::string &s);

// A lock is named cluster-wide by the node that created it and that node's own id.
struct LockId {
	NodeId node = 0;
	uint64_t local = 0;
	auto operator<=>(const LockId &) const = default;
};

// A client's membership of the lockspace (a mount): node + node-chosen id.
struct MountId {
	NodeId node = 0;
	uint64_t local = 0;
	auto operator<=>(const MountId &) const = default;
};

struct Event {
	// Recall: another mount wants a resource the addressee owns (see "Ownership" below):
	// its lockd must publish the resource's state (LockTable::encode_publish).
	enum class Kind { Joined, Complete, Bast, Recover, Recall };
	Kind kind = Kind::Complete;
	MountId mount;        // addressee
	LockId lock;          // Complete, Bast
	int status = 0;       // Joined, Complete: 0 or negative errno
	Mode mode = kNoMode;  // Complete: mode held now; Bast: mode requested
	uint32_t journal = 0; // Joined: slot; Recover: journal to replay
	NodeId dead_node = 0; // Recover
	bool lvb_present = false, lvb_invalid = false;
	Lvb lvb{};
	std::string resource; // Recall
};

// One lock operation of a mount, as multicast and as parked on a recalled resource.
struct LockOp {
	enum class Kind : uint8_t { Request = 1, Convert = 2, Unlock = 3, Cancel = 4 };
	Kind kind = Kind::Request;
	MountId mount;
	LockId id;
	std::string resource; // always set by lockd; empty: looked up from the lock
	Mode mode = kNoMode;  // Request, Convert
	uint32_t flags = 0;   // Request, Convert, Unlock
	Lvb lvb{};            // Convert, Unlock
};

class LockTable {
public:
	// A mount with journal_count 0 (a tool) joins without a journal (MountView::journal =
	// kNoJournal) and is never assigned a recovery.
	static constexpr int64_t kNoJournal = INT64_MAX;
	// A mount joins; it receives the lowest free journal slot below journal_count, whose
	// journal lock it then holds EX as lock `journal_lock`. While grants are disabled the
	// join waits; -ENOSPC when every journal is taken or awaiting recovery.
	void join(MountId mount, uint32_t journal_count, LockId journal_lock, std::vector<Event> &out);
	// Releases every lock of the mount (LVBs untouched).
	void leave(MountId mount, std::vector<Event> &out);
	// The mount withdrew (its node stopped writing to the device and said so with
	// WITHDRAWN): like a dead node's, but no fence is needed, the node vouched that
	// nothing more of it reaches the disk. Its PW/EX locks stay pinned to its
	// journal (LVBs marked invalid), the rest go; its journal is replayed by another
	// mount, and recoveries it was assigned go to another. The mount is gone from the
	// table (a later leave of it does nothing).
	void mount_withdrawn(MountId mount, std::vector<Event> &out);

	void request(MountId mount, LockId id, const std::string &resource, Mode mode, uint32_t flags,
		     std::vector<Event> &out);
	// convert/unlock/cancel act only on a lock owned by `mount` (else -ENOENT).
	void convert(MountId mount, LockId id, Mode mode, uint32_t flags, const Lvb &lvb,
		     std::vector<Event> &out);
	void unlock(MountId mount, LockId id, uint32_t flags, const Lvb &lvb, std::vector<Event> &out);
	void cancel(MountId mount, LockId id, std::vector<Event> &out);
	// The same four, as one agreed operation (the resource name routes it on copies that
	// do not know the lock: see "Ownership").
	void apply(const LockOp &op, std::vector<Event> &out);

	// ---- Ownership (docs/lockd-ownership.md) ----
	// Off unless enabled (identically on every member). Once on: after an agreed
	// operation, a resource whose locks are all granted to one mount with a journal (no
	// queue, no orphan, never two mounts, never a value block) becomes owned by that
	// mount. The owner's node alone keeps its locks and changes them with local(), with
	// no message; the other copies keep only its name and owner. Another mount's agreed
	// operation on it (or an owner's operation with a value block) parks on every copy
	// and sends the owner a Recall; the owner's publish (encode_publish, then the agreed
	// publish()) puts the state back in every copy and the parked operations run after
	// it. A dead owner's resource becomes one orphaned EX lock of its mount (pinned to
	// its journal at fencing as any dead EX holder's); a leaving owner's goes.
	void enable_ownership(NodeId self)
	{
		owning_ = true;
		self_ = self;
	}
	bool ownership_enabled() const { return owning_; }
	// A local operation of a mount of this node: applied (true) when the resource is
	// owned by that mount and is not being recalled or published; false: multicast it.
	bool local(const LockOp &op, std::vector<Event> &out);
	// The resource the lock is on, or "" (this copy does not know the lock).
	std::string resource_of_lock(LockId id) const;
	std::optional<MountId> owner_of(const std::string &name) const;
	// Owner side: the resource's state for a publish; local operations on it stop. False
	// when no mount of this node owns it (or a publish of it is already under way).
	bool encode_publish(const std::string &name, wire::Writer &w);
	// Agreed: `sender`'s publish. Ignored unless a mount of `sender` owns the resource.
	// False on malformed input.
	bool publish(NodeId sender, wire::Reader &r, std::vector<Event> &out);
	// Resources owned by mounts of this node that hold no lock and are not being
	// published: candidates for a publish that drops them.
	std::vector<std::string> idle_owned() const;
	size_t owned_count() const;

	// Membership. node_down: the node's granted locks stay as orphans (they still block
	// conflicting requests), its queued requests vanish. Returns whether the node held
	// anything in this lockspace, i.e. whether it must be fenced before recovery.
	bool node_down(NodeId node, std::vector<Event> &out);
	// The dead node is fenced: its locks go, except those it held in PW/EX, which stay
	// pinned (LVB marked invalid) until its journal is replayed; one live mount per dead
	// journal is told to replay it.
	void node_fenced(NodeId node, std::vector<Event> &out);
	// The mount assigned `journal` replayed it: the pinned resources are released.
	// Returns -EINVAL if that mount is not the one assigned.
	int journal_recovered(MountId mount, uint32_t journal, std::vector<Event> &out);

	// Quorum gate (replicated): while disabled, nothing new is granted; releases and
	// down-conversions still complete.
	void set_grants_enabled(bool enabled, std::vector<Event> &out);
	bool grants_enabled() const { return grants_enabled_; }

	// The mount's join completed and it has not left, withdrawn or died.
	bool mount_joined(MountId mount) const;
	bool node_awaiting_fence(NodeId node) const { return awaiting_fence_.count(node) != 0; }
	const std::set<NodeId> &nodes_awaiting_fence() const { return awaiting_fence_; }
	// A dead node's orphaned or pinned locks, a node awaiting fencing, or a journal
	// awaiting replay: state that must outlive the members that hold it.
	bool holds_dead_state() const;
	// Every member holding this table died (or left before handing it on): what they
	// held is unknown. The next mount with journals (journal_count > 0) is told to replay
	// every other slot that is free (RECOVER_JOURNAL with dead node 0), and nothing is
	// granted until those replays are reported (journal locks aside).
	void mark_state_lost() { state_lost_ = true; }
	bool state_lost() const { return state_lost_; }

	void encode(wire::Writer &w) const;
	bool decode(wire::Reader &r); // false on malformed input (table left empty)

	// Introspection (tools, tests, invariant checks).
	struct LockView {
		LockId id;
		MountId mount;
		Mode granted, requested;
		uint32_t flags;
		bool orphaned;
		int64_t pinned_journal; // -1 if not pinned
		uint8_t bast_modes;     // bit per mode basted since the last grant
	};
	struct ResourceView {
		std::string name;
		std::vector<LockView> granted, converting, waiting;
		Lvb lvb;
		bool lvb_valid;
		std::optional<MountId> owner;
		bool recalling = false;
		size_t parked = 0;
	};
	struct MountView {
		MountId id;
		int64_t journal; // -1 while the join waits
	};
	struct RecoveryView {
		uint32_t journal;
		NodeId dead_node;
		std::optional<MountId> assigned;
	};
	std::vector<ResourceView> resources() const;
	std::vector<MountView> mounts() const;
	std::vector<RecoveryView> recoveries() const;
	std::optional<LockView> lock(LockId id) const;
	size_t lock_count() const { return locks_.size(); }

private:
	enum class Queue : uint8_t { Granted, Converting, Waiting };
	struct Lock {
		LockId id;
		MountId mount;
		std::string resource;
		Mode granted = kNoMode, requested = kNoMode;
		uint32_t flags = 0;
		Queue queue = Queue::Waiting;
		uint8_t bast_modes = 0; // bit per mode basted since the last grant (repeat suppression)
		bool orphaned = false;
		int64_t pinned_journal = -1;
	};
	struct Resource {
		std::list<LockId> granted, converting, waiting;
		Lvb lvb{};
		bool lvb_valid = true;
		std::optional<MountId> owner;
		bool contended = false;  // locks of two mounts were seen on it: never owned again
		bool uses_lvb = false;   // a lock asked for the value block: never owned again
		bool recalling = false;  // owned; operations park until the owner publishes
		bool publishing = false; // owner's copy only (not replicated): publish sent
		std::vector<LockOp> parked;
	};
	struct Mount {
		int64_t journal = -1;
		uint32_t journal_count = 0;
		LockId journal_lock;
		bool dead = false;
	};
	struct Recovery {
		NodeId dead_node = 0;
		std::optional<MountId> assigned;
	};

	Resource &resource_of(const Lock &l) { return resources_.at(l.resource); }
	void remove_lock(LockId id);
	void grant(Lock &l, std::vector<Event> &out);
	bool compatible_with_holders(const Resource &r, const Lock &l, Mode mode) const;
	void process(const std::string &name, std::vector<Event> &out);
	void process_all(std::vector<Event> &out);
	void send_basts(Resource &r, std::vector<Event> &out);
	void complete(const Lock &l, int status, std::vector<Event> &out);
	void fail(MountId mount, LockId id, int status, Mode mode, std::vector<Event> &out);
	void unlink(Lock &l);
	void create_granted(MountId mount, LockId id, const std::string &resource, Mode mode);
	bool journal_free(uint32_t j) const;
	void try_pending_joins(std::vector<Event> &out);
	void assign_recoveries(std::vector<Event> &out);
	void execute(const LockOp &op, std::vector<Event> &out);
	void do_request(MountId mount, LockId id, const std::string &resource, Mode mode, uint32_t flags,
			std::vector<Event> &out);
	void do_convert(MountId mount, LockId id, Mode mode, uint32_t flags, const Lvb &lvb, std::vector<Event> &out);
	void do_unlock(MountId mount, LockId id, uint32_t flags, const Lvb &lvb, std::vector<Event> &out);
	void do_cancel(MountId mount, LockId id, std::vector<Event> &out);
	void after_agreed(const std::string &name);
	void drop_resource_locks(Resource &r);
	// The owner is gone: its resources lose their owner (dead: one orphaned EX lock of
	// it, pinned to `pin_journal` if >= 0), and what parked on them runs.
	bool disown(MountId owner_mount, bool by_node, bool orphan, int64_t pin_journal, std::vector<Event> &out);
	void share_again(const std::string &name, NodeId dead_node, std::vector<Event> &out);

	std::map<LockId, Lock> locks_;
	std::map<std::string, Resource> resources_;
	std::map<MountId, Mount> mounts_;
	std::map<uint32_t, Recovery> recoveries_; // journals awaiting replay
	std::set<NodeId> awaiting_fence_;
	bool grants_enabled_ = false;
	bool state_lost_ = false;
	bool owning_ = false;
	NodeId self_ = 0;
	uint64_t synthetic_seq_ = 0; // ids of the EX locks that stand for a dead owner's
	bool may_grant() const;
};

// A LockOp on the wire (replicated operations and parked ones in snapshots).
void encode_lock_op(wire::Writer &w, const LockOp &op);
bool decode_lock_op(wire::Reader &r, LockOp &op); // false on malformed input

std::string journal_lock_name(uint32_t journal);
// Lock id of the journal lock the table takes for a recovering mount.
LockId recovery_lock_id(NodeId node, uint32_t journal);

} // namespace clusterfs::lockd
