// One lockspace (class Lockspace): its CPG group, its replicated lock and POSIX lock
// tables and this node's side of them (LocalMount, LocalLock). Its replication is in
// lockspace.cpp, its admin dumps in lockspace_dump.cpp; the Daemon (daemon.h) owns the
// lockspaces and the client connections their events are routed to.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lock_table.h"
#include "plock_table.h"
#include "replicated_ops.h"
#include "transport.h"
#include "util.h"
#include "wire.h"

namespace clusterfs::lockd {

struct Connection;

struct LocalLock {
	Connection *conn;
	uint32_t lockspace_id;
	uint64_t client_id;
	uint32_t seq; // of the request in progress, echoed in its completion
	std::string resource;
};

struct LocalMount {
	Connection *conn = nullptr;
	uint32_t lockspace_id = 0;
	uint32_t join_seq = 0;
	uint32_t leave_seq = 0;
	bool leaving = false;
	std::map<uint32_t, uint32_t> recovered_seq; // journal -> seq of its RECOVERED request
};

class Daemon;

// One lockspace: its CPG group, its replicated table and this node's side of it.
class Lockspace final : public GroupTransport::Listener {
public:
	Lockspace(Daemon &d, std::string name)
		: d_(d), name_(std::move(name)), incarnation_(random_u64()), transport_(make_cpg_transport("clusterfs:" + name_, *this))
	{
	}
	bool start(std::string *error);
	int fd() const { return transport_->fd(); }
	const std::string &name() const { return name_; }
	bool dispatch(); // false: corosync connection lost
	void flush();
	bool has_pending_output() const { return !outgoing_.empty() || !pending_ops_.empty(); }
	void queue_op(const std::vector<uint8_t> &op) { pending_ops_.push_back(op); }
	// A lock operation of a local mount: applied to this node's copy at once when the
	// mount owns the resource (LockTable::local) and none of this node's multicast
	// operations on it is still in flight (they must apply first); else multicast.
	void submit(LockOp op);
	void tick(); // quorum gate and fencing state; run every loop iteration
	void append_locks_json(std::string &out) const;
	// GET of a POSIX lock: answered from this node's copy of the table.
	std::optional<PlockTable::PlockView> plock_get(uint64_t number, uint64_t mount, uint64_t owner, uint64_t start,
						       uint64_t end, bool write) const;
	void append_cluster_json(std::string &out) const;
	void append_locks_text(std::string &out) const;
	void append_cluster_text(std::string &out) const;
	bool empty_of_local_mounts() const { return mounts_.empty(); }
	// Orphaned locks, nodes awaiting fencing or journals awaiting replay: state that
	// would be lost if the last members left, so they stay.
	bool holds_dead_state() const { return table_.holds_dead_state(); }
	bool awaits_fence(NodeId node) const { return table_.node_awaiting_fence(node); }
	// Leaving would lose dead state that nobody else holds.
	bool last_holder_of_dead_state() const
	{
		return members_.size() <= 1 && (table_.holds_dead_state() || table_.state_lost());
	}
	bool refused() const { return refused_; }
	uint64_t divergences() const { return divergences_; }
	double idle_since = 0; // when the last local mount left (0: in use)

	std::map<uint64_t, LocalMount> mounts_;
	std::map<uint64_t, LocalLock> locks_;

	// GroupTransport::Listener
	void on_deliver(uint32_t nodeid, const uint8_t *msg, size_t len) override;
	void on_membership(const std::vector<GroupTransport::Member> &members,
			   const std::vector<GroupTransport::Member> &left,
			   const std::vector<GroupTransport::Member> &joined) override;
	void on_ring(uint64_t ring_seq) override;

private:
	void apply_batch(NodeId sender, const uint8_t *p, size_t len);
	void apply_op(NodeId sender, uint64_t sender_incarnation, Op op, wire::Reader &r);
	void apply_membership(const std::vector<GroupTransport::Member> &left, double when);
	void queue_hello();
	void route(const std::vector<Event> &events);
	void route(const std::vector<PlockEvent> &events);
	void encode_snapshot(std::vector<uint8_t> &out) const;
	void send_snapshot(NodeId target);
	bool load_snapshot(const std::vector<uint8_t> &bytes);
	NodeId lowest_member() const { return members_.empty() ? 0 : *members_.begin(); }
	void mcast_raw(std::vector<uint8_t> bytes) { outgoing_.push_back(std::move(bytes)); }
	void withdraw_all(uint32_t reason);
	void agreed_event_applied();
	void publish_idle_owned(double now);

	Daemon &d_;
	std::string name_;
	uint64_t incarnation_;
	std::unique_ptr<GroupTransport> transport_;
	LockTable table_;
	PlockTable plocks_; // POSIX locks: same operations order, same snapshot, same digest
	bool have_state_ = false; // false until our snapshot arrived (or we founded the group)
	bool refused_ = false;
	std::set<NodeId> members_;
	std::map<NodeId, uint64_t> incarnations_;
	std::set<std::pair<NodeId, uint64_t>> dead_incarnations_;
	uint64_t view_ = 0; // CPG membership changes applied; same on every member
	uint64_t applied_ = 0; // agreed events (deliveries, membership changes) applied; same on every member
	std::map<uint64_t, uint64_t> digests_; // applied_ -> hash of the state after it
	uint64_t divergences_ = 0; // digests of another member that differed from ours
	bool digest_confirmed_ = false; // logged the first digest that matched
	bool trusted_ = true; // the batch being applied comes from a live incarnation
	bool stale_ = false;  // members left and quorum was not confirmed since
	uint64_t grants_request_view_ = ~0ull;
	bool grants_proposed_ = false;
	std::map<uint32_t, std::vector<uint8_t>> snapshot_chunks_;
	std::map<NodeId, std::vector<uint8_t>> held_snapshots_; // joiner -> table at its join
	std::set<NodeId> join_old_members_; // members with state when we joined
	struct Buffered {
		bool is_confchg;
		NodeId sender;
		std::vector<uint8_t> bytes;
		std::vector<GroupTransport::Member> left;
		double when;
	};
	std::vector<Buffered> buffered_;
	std::vector<std::vector<uint8_t>> pending_ops_;
	std::deque<std::vector<uint8_t>> outgoing_;
	bool announced_stale_ = false; // our latest Hello's stale flag
	// The table started empty (we founded the group, or everyone holding it left): a
	// node that died holding locks here may be unknown to it, so nothing is granted
	// until the lockd group has no fence pending. Cleared by the first enable.
	bool fresh_table_ = false;
	bool lost_proposed_ = false;
	// Local time each node was seen leaving; its Fenced goes out once the lockd group
	// fenced it after that (a node awaiting fence in a loaded snapshot: time 0).
	std::map<NodeId, double> fail_time_;
	std::map<NodeId, uint64_t> fenced_sent_view_;
	// Members that died (not a clean CPG leave) since grants were last enabled: with
	// two_node, grants wait until each is fenced (both halves of a split are quorate).
	std::map<NodeId, double> died_since_enable_;

	// Ownership: this node's multicast lock operations not yet applied, per resource.
	std::map<std::string, uint32_t> inflight_;
	// Resources a local mount owns without holding a lock, since when (publish_idle_owned).
	std::map<std::string, double> idle_owned_since_;
	double idle_checked_ = 0;
	// What `clusterfs_tool cluster --json` shows of lock traffic (per lockspace, this node).
	struct OpCounts {
		uint64_t local = 0;      // lock operations applied with no message
		uint64_t multicast = 0;  // lock operations multicast
		uint64_t recalls = 0;    // recalls of resources this node owned
		uint64_t publishes = 0;  // publishes sent (recalls and idle resources)
	} counts_;
};

} // namespace clusterfs::lockd
