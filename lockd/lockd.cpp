// clusterfs_lockd: one daemon per node. Serves the lock protocol of lockproto.h on a
// unix socket and replicates one lock table per lockspace over a corosync CPG group:
// every operation is multicast in agreed order and applied by every member (see
// docs/locking.md). One thread, one poll loop over CPG, quorum, socket and child fds.
#include <corosync/cmap.h>
#include <corosync/cpg.h> // only for the local node id
#include <corosync/quorum.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client_proto.h"
#include "config.h"
#include "lock_table.h"
#include "membership.h"
#include "plock_table.h"
#include "transport.h"
#include "util.h"
#include "wire.h"

using namespace clusterfs::lockd;
namespace proto = clusterfs::lockd::proto;

namespace {

volatile sig_atomic_t g_stop = 0;

std::string hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	std::string s;
	for (size_t i = 0; i < n; i++) {
		s += digits[p[i] >> 4];
		s += digits[p[i] & 15];
	}
	return s;
}

// ---- replicated operations (the CPG payload) ----

enum class Op : uint8_t {
	Hello = 1,     // u64 incarnation
	Snapshot = 2,  // u32 target node, u32 chunk, u32 chunks, bytes
	Join = 3,      // u64 mount, u32 journal_count, u64 journal lock
	Leave = 4,     // u64 mount
	Lock = 5,      // u64 mount, u64 lock, i32 mode, u32 flags, str name
	Convert = 6,   // u64 mount, u64 lock, i32 mode, u32 flags, lvb
	Unlock = 7,    // u64 mount, u64 lock, u32 flags, lvb
	Cancel = 8,    // u64 mount, u64 lock
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
};

constexpr uint32_t kBatchMagic = 0x42444b4c; // "LKDB"
constexpr size_t kMaxBatchBytes = 256 * 1024;
constexpr size_t kSnapshotChunk = 512 * 1024;
// Every member hashes its replicated state after every kDigestEvery-th agreed event; the
// lowest member multicasts its hash and the others compare (a diverged table can grant
// one lock to two nodes). Hashes of the last kDigestsKept points are kept for that.
constexpr uint64_t kDigestEvery = 16;
constexpr size_t kDigestsKept = 64;

uint64_t fnv1a64(const std::vector<uint8_t> &bytes)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint8_t b : bytes) {
		h ^= b;
		h *= 0x100000001b3ull;
	}
	return h;
}

struct Connection;

struct LocalLock {
	Connection *conn;
	uint32_t lockspace_id;
	uint64_t client_id;
	uint32_t seq; // of the request in progress, echoed in its completion
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
};

struct Connection {
	int fd;
	bool device = false; // the kernel module's /dev/clusterfs_lock: read()/write(), whole messages
	proto::Framer framer;
	std::vector<uint8_t> out;
	std::map<uint32_t, std::pair<Lockspace *, uint64_t>> joined; // lockspace id -> (ls, mount)
	std::map<std::pair<uint32_t, uint64_t>, uint64_t> client_locks; // (ls id, client id) -> local lock
	uint32_t next_lockspace_id = 1;
	bool closing = false;
};

class Daemon final : public MembershipHost {
public:
	explicit Daemon(Config config) : config_(std::move(config)), membership_(*this) {}
	int run();

	const Config &config() const override { return config_; }
	NodeId node_id() const override { return node_id_; }
	bool quorate() const override
	{
		return quorate_ && (totem_ring_seq_ == 0 || quorum_ring_seq_ >= totem_ring_seq_);
	}
	const std::set<uint32_t> &corosync_members() const override { return corosync_members_; }
	void refused_by_cluster() override;
	bool two_node() const { return two_node_; }
	Membership &membership() { return membership_; }
	uint64_t next_local_id() { return id_base_ | ++id_counter_; }
	void send(Connection *c, const void *msg, size_t len);
	void note_totem_ring(uint64_t seq) override { totem_ring_seq_ = std::max(totem_ring_seq_, seq); }
	void forget_connection_lock(Connection *c, uint32_t ls_id, uint64_t client_id)
	{
		c->client_locks.erase({ls_id, client_id});
	}
	void mount_left(Connection *c, uint32_t ls_id) { c->joined.erase(ls_id); }
	void fatal_corosync(const char *what) override;
	bool connection_alive(Connection *c) const
	{
		for (const auto &conn : conns_)
			if (conn.get() == c)
				return true;
		return false;
	}
	void on_quorum(uint32_t quorate, uint64_t ring_seq, const uint32_t *view, uint32_t nview)
	{
		if (quorate != quorate_)
			log_msg("node %u is now %s", node_id_, quorate ? "quorate" : "inquorate");
		bool lost = quorate_ && !quorate;
		quorate_ = quorate;
		if (lost)
			withdraw_kernel_mounts();
		quorum_ring_seq_ = ring_seq;
		corosync_members_ = std::set<uint32_t>(view, view + nview);
	}

private:
	bool setup_socket(std::string *error);
	bool setup_quorum(std::string *error);
	void accept_client();
	void read_client(Connection *c);
	void handle(Connection *c, const std::vector<uint8_t> &msg);
	void handle_admin(Connection *c, const cfs_lock_req_admin &req);
	void handle_plock(Connection *c, const cfs_lock_req_plock &req);
	void drop_connection(Connection *c);
	void open_kernel_device();
	void reap_children();
	void admin_reply(Connection *c, uint32_t seq, int status, const std::string &text);
	void complete(Connection *c, uint32_t seq, uint32_t ls_id, uint64_t lock_id, int status, uint32_t mode);
	void handle_join(Connection *c, const std::vector<uint8_t> &msg);
	void run_deferred_joins();
	bool leave_idle_lockspaces(bool stopping);
	void withdraw_clients(uint32_t reason);
	void withdraw_kernel_mounts();

	Config config_;
	NodeId node_id_ = 0;
	int listen_fd_ = -1;
	quorum_handle_t quorum_ = 0;
	int quorum_fd_ = -1;
	bool quorate_ = false;
	uint64_t quorum_ring_seq_ = 0, totem_ring_seq_ = 0;
	int device_errno_ = 0; // last error opening the kernel device, logged once
	uint64_t id_base_ = (random_u64() & 0x3fffffffull) << 32;
	uint64_t id_counter_ = 0;
	std::vector<std::unique_ptr<Connection>> conns_;
	std::map<std::string, std::unique_ptr<Lockspace>> lockspaces_;
	Membership membership_;
	std::set<uint32_t> corosync_members_;
	bool two_node_ = false;
	// Lockspace joins waiting until the lockd group's state is known and no fence is
	// pending (a lockspace founded or joined then could forget a dead node's locks).
	struct DeferredJoin {
		Connection *conn;
		std::vector<uint8_t> msg;
	};
	std::vector<DeferredJoin> deferred_joins_;
	friend class Lockspace;
};

Daemon *g_daemon;

// ---- libcpg / libquorum trampolines ----

void quorum_notify(quorum_handle_t, uint32_t quorate, quorum_ring_id ring_id, uint32_t nview, const uint32_t *view)
{
	g_daemon->on_quorum(quorate, ring_id.seq, view, nview);
}

// ---- Lockspace ----

bool Lockspace::start(std::string *error)
{
	if (!transport_->join(error))
		return false;
	log_msg("lockspace %s: joining (incarnation %016llx)", name_.c_str(),
		static_cast<unsigned long long>(incarnation_));
	return true;
}

bool Lockspace::dispatch() { return transport_->dispatch(); }

std::optional<PlockTable::PlockView> Lockspace::plock_get(uint64_t number, uint64_t mount, uint64_t owner,
							  uint64_t start, uint64_t end, bool write) const
{
	return plocks_.get(number, MountId{d_.node_id(), mount}, owner, start, end, write);
}

void Lockspace::on_ring(uint64_t ring_seq) { d_.note_totem_ring(ring_seq); }

void Lockspace::flush()
{
	if (!pending_ops_.empty()) {
		// Batch every queued operation into as few multicasts as the size bound allows.
		size_t i = 0;
		while (i < pending_ops_.size()) {
			wire::Writer w;
			w.u32(kBatchMagic);
			w.u64(incarnation_);
			size_t count_at = w.size();
			w.u32(0);
			uint32_t count = 0;
			while (i < pending_ops_.size() && (count == 0 || w.size() + pending_ops_[i].size() <= kMaxBatchBytes)) {
				w.bytes(pending_ops_[i].data(), pending_ops_[i].size());
				count++;
				i++;
			}
			w.patch_u32(count_at, count);
			outgoing_.push_back(w.take());
		}
		pending_ops_.clear();
	}
	while (!outgoing_.empty()) {
		auto result = transport_->multicast(outgoing_.front());
		if (result == GroupTransport::SendResult::Retry)
			return; // retried from the poll loop
		if (result == GroupTransport::SendResult::Lost)
			d_.fatal_corosync("multicast");
		outgoing_.pop_front();
	}
}

void Lockspace::on_membership(const std::vector<GroupTransport::Member> &members,
			      const std::vector<GroupTransport::Member> &left,
			      const std::vector<GroupTransport::Member> &joined)
{
	size_t nmembers = members.size(), nleft = left.size(), njoined = joined.size();
	NodeId me = d_.node_id();
	bool i_joined = false;
	std::set<NodeId> joined_set;
	for (size_t i = 0; i < njoined; i++) {
		joined_set.insert(joined[i].node);
		if (joined[i].node == me && joined[i].pid == static_cast<uint32_t>(getpid()))
			i_joined = true;
	}
	members_.clear();
	for (size_t i = 0; i < nmembers; i++)
		members_.insert(members[i].node);
	std::vector<NodeId> left_nodes;
	for (size_t i = 0; i < nleft; i++) {
		log_msg("lockspace %s: node %u left (reason %u)", name_.c_str(), left[i].node, left[i].reason);
		left_nodes.push_back(left[i].node);
	}
	for (NodeId n : joined_set)
		log_msg("lockspace %s: node %u joined", name_.c_str(), n);

	if (i_joined) {
		bool founder = true; // nobody was there before us: the table starts empty
		for (size_t i = 0; i < nmembers; i++)
			if (!joined_set.count(members[i].node))
				founder = false;
		if (founder) {
			have_state_ = true;
			fresh_table_ = true;
			view_ = 1;
			log_msg("lockspace %s: founded the group", name_.c_str());
		}
		for (size_t i = 0; i < nmembers; i++)
			if (!joined_set.count(members[i].node))
				join_old_members_.insert(members[i].node);
		queue_hello();
		return;
	}
	if (!have_state_) {
		buffered_.push_back(Buffered{true, 0, {}, left, now_seconds()});
		for (NodeId n : left_nodes)
			join_old_members_.erase(n);
		if (join_old_members_.empty()) {
			// Everybody who held the table left before sending it: nobody has state to
			// lose any more, so the table restarts empty (with their buffered ops).
			// The lockd group fences those members before anything is granted (their
			// deaths stop grants below); what they held is lost: docs/locking.md, Limits.
			log_msg("lockspace %s: every member holding the table left before sending it; starting afresh "
				"(their locks are lost; grants wait for their fencing)",
				name_.c_str());
			have_state_ = true;
			fresh_table_ = true;
			table_.mark_state_lost();
			view_ = 1;
			auto buffered = std::move(buffered_);
			buffered_.clear();
			for (auto &b : buffered)
				if (b.is_confchg)
					apply_membership(b.left, b.when);
				else
					apply_batch(b.sender, b.bytes.data(), b.bytes.size());
		}
		return;
	}
	apply_membership(left, now_seconds());

	if (!joined_set.empty()) {
		// Everybody re-announces its incarnation so a merging partition's stale members
		// can be told apart from fresh joiners.
		queue_hello();
		// The lowest member that was already here sends the joiners the table as it is at
		// this point of the agreed order; they buffer what is delivered after it.
		NodeId lowest_old = 0;
		for (size_t i = 0; i < nmembers; i++)
			if (!joined_set.count(members[i].node) && (!lowest_old || members[i].node < lowest_old))
				lowest_old = members[i].node;
		// Every old member keeps the snapshot taken here until one reaches the joiner:
		// if the sender leaves first, the next old member sends its identical copy.
		std::vector<uint8_t> snap;
		encode_snapshot(snap);
		for (NodeId target : joined_set)
			held_snapshots_[target] = snap;
		if (lowest_old == me)
			for (NodeId target : joined_set)
				send_snapshot(target);
	}
	if (!left_nodes.empty() && !held_snapshots_.empty()) {
		NodeId lowest_with_state = 0;
		for (NodeId n : members_)
			if (!held_snapshots_.count(n) && (!lowest_with_state || n < lowest_with_state))
				lowest_with_state = n;
		for (auto it = held_snapshots_.begin(); it != held_snapshots_.end();) {
			if (!members_.count(it->first)) {
				it = held_snapshots_.erase(it);
				continue;
			}
			if (lowest_with_state == me)
				send_snapshot(it->first);
			++it;
		}
	}
}

void Lockspace::send_snapshot(NodeId target)
{
	const std::vector<uint8_t> &snap = held_snapshots_.at(target);
	uint32_t chunks = static_cast<uint32_t>(std::max<size_t>(1, (snap.size() + kSnapshotChunk - 1) / kSnapshotChunk));
	for (uint32_t c = 0; c < chunks; c++) {
		size_t off = c * kSnapshotChunk, n = std::min(kSnapshotChunk, snap.size() - off);
		wire::Writer w;
		w.u32(kBatchMagic);
		w.u64(incarnation_);
		w.u32(1);
		w.u8(static_cast<uint8_t>(Op::Snapshot));
		w.u32(target);
		w.u32(c);
		w.u32(chunks);
		w.u32(static_cast<uint32_t>(n));
		w.bytes(snap.data() + off, n);
		mcast_raw(w.take());
	}
	log_msg("lockspace %s: sent a %zu-byte snapshot to node %u", name_.c_str(), snap.size(), target);
}

void Lockspace::queue_hello()
{
	wire::Writer w;
	w.u8(static_cast<uint8_t>(Op::Hello));
	w.u64(incarnation_);
	w.u8(stale_);
	announced_stale_ = stale_;
	queue_op(w.take());
}

// A membership change at the same point of the agreed order on every member.
void Lockspace::apply_membership(const std::vector<GroupTransport::Member> &left_members, double when)
{
	view_++;
	std::vector<Event> ev;
	std::vector<PlockEvent> pev;
	std::vector<NodeId> left;
	for (const auto &m : left_members) {
		left.push_back(m.node);
		fail_time_[m.node] = when;
		if (m.reason != CPG_REASON_LEAVE)
			died_since_enable_[m.node] = when;
	}
	for (NodeId n : left) {
		auto it = incarnations_.find(n);
		if (it != incarnations_.end()) {
			dead_incarnations_.insert({n, it->second});
			incarnations_.erase(it);
		}
		if (table_.node_down(n, ev))
			log_msg("lockspace %s: node %u died holding locks: they are orphaned until it is fenced",
				name_.c_str(), n);
		plocks_.node_down(n);
	}
	// Quorum must be confirmed for the new membership before anything is granted again.
	if (!left.empty()) {
		table_.set_grants_enabled(false, ev);
		plocks_.set_grants_enabled(false, pev);
		stale_ = true;
	}
	route(ev);
	route(pev);
	agreed_event_applied();
}

void Lockspace::on_deliver(uint32_t nodeid, const uint8_t *p, size_t len)
{
	if (!have_state_) {
		// Only our snapshot is applied now; everything else waits for it.
		wire::Reader r(p, len);
		if (r.u32() == kBatchMagic) {
			r.u64();
			uint32_t count = r.u32();
			if (count == 1 && r.u8() == static_cast<uint8_t>(Op::Snapshot)) {
				NodeId target = r.u32();
				uint32_t chunk = r.u32(), chunks = r.u32(), n = r.u32();
				if (target == d_.node_id() && r.ok() && n == r.remaining() && chunk < chunks) {
					// Applied after the snapshot as the others apply it (a no-op that
					// counts as an agreed event, so that digests line up).
					buffered_.push_back(Buffered{false, nodeid, std::vector<uint8_t>(p, p + len), {}, 0});
					snapshot_chunks_[chunk].assign(p + len - n, p + len);
					if (snapshot_chunks_.size() == chunks) {
						std::vector<uint8_t> all;
						for (auto &[i, bytes] : snapshot_chunks_)
							all.insert(all.end(), bytes.begin(), bytes.end());
						snapshot_chunks_.clear();
						if (!load_snapshot(all)) {
							log_msg("lockspace %s: malformed snapshot from node %u", name_.c_str(),
								nodeid);
							return;
						}
						have_state_ = true;
						log_msg("lockspace %s: loaded snapshot from node %u, replaying %zu buffered events",
							name_.c_str(), nodeid, buffered_.size());
						auto buffered = std::move(buffered_);
						buffered_.clear();
						for (NodeId n : table_.nodes_awaiting_fence())
							fail_time_.emplace(n, 0.0);
						for (auto &b : buffered) {
							if (b.is_confchg)
								apply_membership(b.left, b.when);
							else
								apply_batch(b.sender, b.bytes.data(), b.bytes.size());
						}
					}
				}
				return;
			}
		}
		buffered_.push_back(Buffered{false, nodeid, std::vector<uint8_t>(p, p + len), {}, 0});
		return;
	}
	apply_batch(nodeid, p, len);
}

void Lockspace::apply_batch(NodeId sender, const uint8_t *p, size_t len)
{
	wire::Reader r(p, len);
	if (r.u32() != kBatchMagic) {
		log_msg("lockspace %s: ignoring a foreign message from node %u", name_.c_str(), sender);
		return;
	}
	uint64_t inc = r.u64();
	uint32_t count = r.u32();
	// A member we declared dead that speaks again with its old state is never trusted:
	// only its Hello (which gets it refused) and a Refuse it sends are looked at.
	trusted_ = !dead_incarnations_.count({sender, inc});
	for (uint32_t i = 0; i < count && r.ok(); i++) {
		Op op = static_cast<Op>(r.u8());
		apply_op(sender, inc, op, r);
	}
	if (!r.ok())
		log_msg("lockspace %s: truncated batch from node %u", name_.c_str(), sender);
	agreed_event_applied();
}

void Lockspace::agreed_event_applied()
{
	if (++applied_ % kDigestEvery)
		return;
	std::vector<uint8_t> state;
	encode_snapshot(state);
	uint64_t hash = fnv1a64(state);
	digests_[applied_] = hash;
	while (digests_.size() > kDigestsKept)
		digests_.erase(digests_.begin());
	if (lowest_member() == d_.node_id() && members_.size() > 1) {
		wire::Writer w;
		w.u8(static_cast<uint8_t>(Op::Digest));
		w.u64(applied_);
		w.u64(hash);
		queue_op(w.take());
	}
}

void Lockspace::apply_op(NodeId sender, uint64_t sender_inc, Op op, wire::Reader &r)
{
	std::vector<Event> ev;
	std::vector<PlockEvent> pev;
	NodeId me = d_.node_id();
	switch (op) {
	case Op::Hello: {
		uint64_t inc = r.u64();
		bool sender_stale = r.u8();
		if (!r.ok())
			break;
		if (!dead_incarnations_.count({sender, inc})) {
			incarnations_[sender] = inc;
			break;
		}
		// A partition merged back (rule: wins_partition_merge). The losing side withdraws
		// its clients and rejoins fresh; its old locks go through fencing.
		bool we_win = wins_partition_merge(announced_stale_, sender_stale, me, sender);
		if (!refused_ && we_win) {
			log_msg("lockspace %s: node %u came back with state from before it was declared dead: refusing it",
				name_.c_str(), sender);
			wire::Writer w;
			w.u8(static_cast<uint8_t>(Op::Refuse));
			w.u32(sender);
			w.u64(inc);
			queue_op(w.take());
		}
		break;
	}
	case Op::Snapshot: {
		// Addressed to a joiner; we have state already. Once its last chunk is through,
		// our own copy is no longer needed.
		NodeId target = r.u32();
		uint32_t chunk = r.u32(), chunks = r.u32();
		if (r.ok() && chunk + 1 == chunks)
			held_snapshots_.erase(target);
		uint32_t n = r.u32();
		std::vector<uint8_t> skip(n <= r.remaining() ? n : 0);
		if (n > r.remaining())
			r.fail();
		else
			r.bytes(skip.data(), n);
		break;
	}
	case Op::Join: {
		MountId m{sender, r.u64()};
		uint32_t journals = r.u32();
		LockId jl{sender, r.u64()};
		if (r.ok() && trusted_)
			table_.join(m, journals, jl, ev);
		break;
	}
	case Op::Leave:
	case Op::Withdrawn: {
		MountId m{sender, r.u64()};
		if (!r.ok() || !trusted_)
			break;
		if (op == Op::Withdrawn) {
			log_msg("lockspace %s: node %u's mount withdrew: its PW/EX locks stay until another mount "
				"replays its journal",
				name_.c_str(), sender);
			table_.mount_withdrawn(m, ev);
		} else {
			table_.leave(m, ev);
		}
		// Its POSIX locks go either way: nothing on disk depends on them.
		plocks_.mount_gone(m, pev);
		if (sender == me) {
			auto it = mounts_.find(m.local);
			if (it != mounts_.end()) {
				Connection *c = it->second.conn;
				if (c && d_.connection_alive(c)) {
					auto reply = proto::make<cfs_lock_ev_reply>(CFS_LOCK_EV_REPLY, it->second.leave_seq);
					d_.send(c, &reply, sizeof(reply));
					d_.mount_left(c, it->second.lockspace_id);
				}
				for (auto lit = locks_.begin(); lit != locks_.end();) {
					if (lit->second.conn == c && lit->second.lockspace_id == it->second.lockspace_id) {
						if (c && d_.connection_alive(c))
							d_.forget_connection_lock(c, lit->second.lockspace_id, lit->second.client_id);
						lit = locks_.erase(lit);
					} else {
						++lit;
					}
				}
				mounts_.erase(it);
			}
		}
		break;
	}
	case Op::Lock: {
		MountId m{sender, r.u64()};
		LockId id{sender, r.u64()};
		Mode mode = r.i32();
		uint32_t flags = r.u32();
		std::string name = r.str(CFS_RESOURCE_NAME_MAX);
		if (r.ok() && trusted_)
			table_.request(m, id, name, mode, flags, ev);
		break;
	}
	case Op::Convert:
	case Op::Unlock: {
		MountId m{sender, r.u64()};
		LockId id{sender, r.u64()};
		Mode mode = op == Op::Convert ? r.i32() : kNoMode;
		uint32_t flags = r.u32();
		Lvb lvb;
		r.bytes(lvb.data(), lvb.size());
		if (!r.ok() || !trusted_)
			break;
		if (op == Op::Convert)
			table_.convert(m, id, mode, flags, lvb, ev);
		else
			table_.unlock(m, id, flags, lvb, ev);
		break;
	}
	case Op::Cancel: {
		MountId m{sender, r.u64()};
		LockId id{sender, r.u64()};
		if (r.ok() && trusted_)
			table_.cancel(m, id, ev);
		break;
	}
	case Op::Recovered: {
		MountId m{sender, r.u64()};
		uint32_t journal = r.u32();
		if (!r.ok() || !trusted_)
			break;
		int status = table_.journal_recovered(m, journal, ev);
		log_msg("lockspace %s: journal %u %s by node %u", name_.c_str(), journal,
			status ? "reported recovered by a mount not assigned it" : "recovered", sender);
		if (sender == me) {
			auto mit = mounts_.find(m.local);
			if (mit != mounts_.end() && mit->second.conn && d_.connection_alive(mit->second.conn)) {
				auto reply = proto::make<cfs_lock_ev_reply>(CFS_LOCK_EV_REPLY,
									    mit->second.recovered_seq[journal]);
				reply.status = proto::to_le32(static_cast<uint32_t>(status));
				d_.send(mit->second.conn, &reply, sizeof(reply));
				mit->second.recovered_seq.erase(journal);
			}
		}
		break;
	}
	case Op::Grants: {
		uint64_t view = r.u64();
		bool enabled = r.u8();
		if (r.ok() && trusted_ && view == view_ && enabled != table_.grants_enabled()) {
			stale_ = stale_ && !enabled;
			if (enabled) {
				died_since_enable_.clear();
				fresh_table_ = false;
			}
			table_.set_grants_enabled(enabled, ev);
			plocks_.set_grants_enabled(enabled, pev);
			log_msg("lockspace %s: grants %s", name_.c_str(), enabled ? "enabled (quorate)" : "stopped (inquorate)");
		}
		break;
	}
	case Op::Fenced: {
		NodeId node = r.u32();
		bool manual = r.u8();
		if (r.ok() && trusted_ && table_.node_awaiting_fence(node)) {
			log_msg("lockspace %s: node %u fenced%s; dropping its locks", name_.c_str(), node,
				manual ? " (acknowledged by hand)" : "");
			table_.node_fenced(node, ev);
			plocks_.node_fenced(node, pev);
			fail_time_.erase(node);
			fenced_sent_view_.erase(node);
		}
		break;
	}
	case Op::Lost:
		if (trusted_ && !table_.state_lost()) {
			log_msg("lockspace %s: its previous members all died: the next mount with journals replays every "
				"other journal before anything is granted",
				name_.c_str());
			table_.mark_state_lost();
		}
		break;
	case Op::Digest: {
		uint64_t at = r.u64(), hash = r.u64();
		auto it = digests_.find(at);
		if (r.ok() && sender != me && it != digests_.end() && it->second == hash && !digest_confirmed_) {
			digest_confirmed_ = true;
			log_msg("lockspace %s: table agrees with node %u's after agreed event %llu", name_.c_str(), sender,
				static_cast<unsigned long long>(at));
		}
		if (r.ok() && sender != me && it != digests_.end() && it->second != hash) {
			divergences_++;
			log_msg("lockspace %s: LOCK TABLE DIVERGED: after agreed event %llu node %u hashes its table to "
				"%016llx, this node to %016llx",
				name_.c_str(), static_cast<unsigned long long>(at), sender,
				static_cast<unsigned long long>(hash), static_cast<unsigned long long>(it->second));
		}
		break;
	}
	case Op::Refuse: {
		NodeId node = r.u32();
		uint64_t inc = r.u64();
		if (r.ok() && node == me && inc == incarnation_ && !refused_) {
			log_msg("lockspace %s: the cluster refused our stale state (we were declared dead): withdrawing",
				name_.c_str());
			refused_ = true;
			withdraw_all(CFS_WITHDRAW_REFUSED);
		}
		break;
	}
	case Op::PlockLock: {
		MountId m{sender, r.u64()};
		uint32_t seq = r.u32();
		uint64_t number = r.u64(), owner = r.u64();
		uint32_t pid = r.u32();
		uint64_t start = r.u64(), end = r.u64();
		uint32_t flags = r.u32();
		if (!r.ok() || !trusted_)
			break;
		// A request that crossed its mount's leave (or withdraw) gets -ENOLCK.
		if (!table_.mount_joined(m))
			pev.push_back(PlockEvent{m, seq, -ENOLCK, number});
		else
			plocks_.lock(m, seq, number, owner, pid, start, end, flags & CFS_PLF_WRITE, flags & CFS_PLF_WAIT,
				     pev);
		break;
	}
	case Op::PlockUnlock: {
		MountId m{sender, r.u64()};
		uint32_t seq = r.u32();
		uint64_t number = r.u64(), owner = r.u64(), start = r.u64(), end = r.u64();
		if (r.ok() && trusted_)
			plocks_.unlock(m, seq, number, owner, start, end, pev);
		break;
	}
	case Op::PlockCancel: {
		MountId m{sender, r.u64()};
		uint32_t cancel_seq = r.u32();
		if (r.ok() && trusted_)
			plocks_.cancel(m, cancel_seq, pev);
		break;
	}
	default:
		log_msg("lockspace %s: unknown operation %u from node %u", name_.c_str(), static_cast<unsigned>(op),
			sender);
		r.fail();
	}
	(void)sender_inc;
	route(ev);
	route(pev);
}

// Answers to this node's POSIX lock requests, each with its request's seq.
void Lockspace::route(const std::vector<PlockEvent> &events)
{
	for (const PlockEvent &e : events) {
		if (e.mount.node != d_.node_id())
			continue;
		auto mit = mounts_.find(e.mount.local);
		if (mit == mounts_.end() || !mit->second.conn || !d_.connection_alive(mit->second.conn))
			continue;
		auto m = proto::make<cfs_lock_ev_plock>(CFS_LOCK_EV_PLOCK, e.seq);
		m.lockspace_id = proto::to_le32(mit->second.lockspace_id);
		m.status = proto::to_le32(static_cast<uint32_t>(e.status));
		m.number = proto::to_le64(e.number);
		d_.send(mit->second.conn, &m, sizeof(m));
	}
}

// Hands this node's events to the clients they belong to.
void Lockspace::route(const std::vector<Event> &events)
{
	NodeId me = d_.node_id();
	for (const Event &e : events) {
		if (e.mount.node != me)
			continue;
		auto mit = mounts_.find(e.mount.local);
		if (mit == mounts_.end())
			continue;
		LocalMount &lm = mit->second;
		Connection *c = lm.conn;
		bool alive = c && d_.connection_alive(c);
		switch (e.kind) {
		case Event::Kind::Joined: {
			if (alive) {
				auto m = proto::make<cfs_lock_ev_joined>(CFS_LOCK_EV_JOINED, lm.join_seq);
				m.status = proto::to_le32(static_cast<uint32_t>(e.status));
				m.lockspace_id = proto::to_le32(lm.lockspace_id);
				m.node_id = proto::to_le32(me);
				m.journal_slot = proto::to_le32(e.journal);
				d_.send(c, &m, sizeof(m));
				if (e.status)
					d_.mount_left(c, lm.lockspace_id);
			}
			if (e.status)
				mounts_.erase(mit);
			break;
		}
		case Event::Kind::Complete:
		case Event::Kind::Bast: {
			auto lit = locks_.find(e.lock.local);
			if (lit == locks_.end())
				break;
			LocalLock &ll = lit->second;
			if (alive && e.kind == Event::Kind::Bast) {
				auto m = proto::make<cfs_lock_ev_bast>(CFS_LOCK_EV_BAST, 0);
				m.lockspace_id = proto::to_le32(ll.lockspace_id);
				m.mode = proto::to_le32(static_cast<uint32_t>(e.mode));
				m.lock_id = proto::to_le64(ll.client_id);
				d_.send(c, &m, sizeof(m));
				break;
			}
			if (alive) {
				auto m = proto::make<cfs_lock_ev_complete>(CFS_LOCK_EV_COMPLETE, ll.seq);
				m.lockspace_id = proto::to_le32(ll.lockspace_id);
				m.status = proto::to_le32(static_cast<uint32_t>(e.status));
				m.lock_id = proto::to_le64(ll.client_id);
				m.mode = proto::to_le32(e.mode == kNoMode ? CFS_LOCK_IV : static_cast<uint32_t>(e.mode));
				m.flags = proto::to_le32((e.lvb_present ? CFS_LKE_LVB_PRESENT : 0) |
							 (e.lvb_invalid ? CFS_LKE_LVB_INVALID : 0));
				memcpy(m.lvb, e.lvb.data(), CFS_LVB_SIZE);
				d_.send(c, &m, sizeof(m));
			}
			if (e.mode == kNoMode) {
				if (alive)
					d_.forget_connection_lock(c, ll.lockspace_id, ll.client_id);
				locks_.erase(lit);
			}
			break;
		}
		case Event::Kind::Recover: {
			log_msg("lockspace %s: this node replays journal %u of dead node %u", name_.c_str(), e.journal,
				e.dead_node);
			if (alive) {
				auto m = proto::make<cfs_lock_ev_recover>(CFS_LOCK_EV_RECOVER, 0);
				m.lockspace_id = proto::to_le32(lm.lockspace_id);
				m.journal = proto::to_le32(e.journal);
				m.dead_node_id = proto::to_le32(e.dead_node);
				d_.send(c, &m, sizeof(m));
			}
			break;
		}
		}
	}
}

void Lockspace::withdraw_all(uint32_t reason)
{
	for (auto &[local, lm] : mounts_) {
		if (lm.conn && d_.connection_alive(lm.conn)) {
			auto m = proto::make<cfs_lock_ev_withdraw>(CFS_LOCK_EV_WITHDRAW, 0);
			m.lockspace_id = proto::to_le32(lm.lockspace_id);
			m.reason = proto::to_le32(reason);
			d_.send(lm.conn, &m, sizeof(m));
			d_.mount_left(lm.conn, lm.lockspace_id);
			for (auto &[id, ll] : locks_)
				if (ll.conn == lm.conn)
					d_.forget_connection_lock(lm.conn, ll.lockspace_id, ll.client_id);
		}
	}
	mounts_.clear();
	locks_.clear();
}

void Lockspace::encode_snapshot(std::vector<uint8_t> &out) const
{
	wire::Writer w;
	w.u64(view_);
	w.u64(applied_);
	w.u32(static_cast<uint32_t>(incarnations_.size()));
	for (auto &[n, inc] : incarnations_) {
		w.u32(n);
		w.u64(inc);
	}
	w.u32(static_cast<uint32_t>(dead_incarnations_.size()));
	for (auto &[n, inc] : dead_incarnations_) {
		w.u32(n);
		w.u64(inc);
	}
	table_.encode(w);
	plocks_.encode(w);
	out = w.take();
}

bool Lockspace::load_snapshot(const std::vector<uint8_t> &bytes)
{
	wire::Reader r(bytes.data(), bytes.size());
	view_ = r.u64();
	applied_ = r.u64();
	uint32_t n = r.u32();
	for (uint32_t i = 0; i < n && r.ok(); i++) {
		NodeId node = r.u32();
		incarnations_[node] = r.u64();
	}
	n = r.u32();
	for (uint32_t i = 0; i < n && r.ok(); i++) {
		NodeId node = r.u32();
		dead_incarnations_.insert({node, r.u64()});
	}
	return r.ok() && table_.decode(r) && plocks_.decode(r) && r.at_end();
}

// Work that depends on time and local state rather than on a delivery: propose the
// quorum gate's state; pass on the lockd group's fencing of a node that left us.
void Lockspace::tick()
{
	if (!have_state_ || refused_)
		return;
	NodeId me = d_.node_id();
	if (lowest_member() != me)
		return;
	Membership &group = d_.membership();
	bool may_grant = d_.quorate();
	if (fresh_table_ && (!group.ready() || !group.pending().empty()))
		may_grant = false;
	// two_node: both halves of a split stay quorate, so grants wait until the fence race
	// is decided (the loser is dead; the winner saw its Fenced).
	if (d_.two_node())
		for (auto &[n, when] : died_since_enable_)
			if (!group.fenced_after(n, when))
				may_grant = false;
	// A table founded afresh where the lockd group saw the last member die: whatever
	// that member held is unknown, so every journal is replayed before any grant.
	if (may_grant && fresh_table_ && !lost_proposed_ && group.lockspace_lost(name_)) {
		wire::Writer w;
		w.u8(static_cast<uint8_t>(Op::Lost));
		queue_op(w.take());
		group.lockspace_refounded(name_);
		lost_proposed_ = true;
	}
	// One proposal per (view, value): it takes effect when delivered in the same view.
	if (may_grant != table_.grants_enabled() && (grants_request_view_ != view_ || grants_proposed_ != may_grant)) {
		wire::Writer w;
		w.u8(static_cast<uint8_t>(Op::Grants));
		w.u64(view_);
		w.u8(may_grant);
		queue_op(w.take());
		grants_request_view_ = view_;
		grants_proposed_ = may_grant;
	}
	// A node is fenced here once the lockd group fenced it after we saw it leave (for
	// one already dead in the snapshot we loaded: once the group fenced it at all and
	// has nothing pending for it).
	for (NodeId n : table_.nodes_awaiting_fence()) {
		auto ft = fail_time_.find(n);
		double when = ft == fail_time_.end() ? 0.0 : ft->second;
		bool fenced = when > 0 ? group.fenced_after(n, when) : !group.fence_pending(n) && group.fenced_ever(n);
		auto sent = fenced_sent_view_.find(n);
		if (!fenced || (sent != fenced_sent_view_.end() && sent->second == view_))
			continue;
		wire::Writer w;
		w.u8(static_cast<uint8_t>(Op::Fenced));
		w.u32(n);
		w.u8(0);
		queue_op(w.take());
		fenced_sent_view_[n] = view_;
	}
}

void Lockspace::append_locks_json(std::string &out) const
{
	out += "{\"name\":\"" + json_escape(name_) + "\",\"resources\":[";
	bool first = true;
	auto lock_json = [](const LockTable::LockView &l, bool queued) {
		std::string s = "{\"node\":" + std::to_string(l.id.node) + ",\"lock\":\"" + std::to_string(l.id.local) +
				"\",\"mode\":\"" + mode_name(l.granted) + "\"";
		if (queued)
			s += std::string(",\"requested\":\"") + mode_name(l.requested) + "\"";
		if (l.orphaned)
			s += ",\"orphaned\":true";
		if (l.pinned_journal >= 0)
			s += ",\"pinned_journal\":" + std::to_string(l.pinned_journal);
		return s + "}";
	};
	for (const auto &r : table_.resources()) {
		if (!first)
			out += ",";
		first = false;
		out += "{\"resource\":\"" + json_escape(r.name) + "\",\"lvb\":\"" + hex(r.lvb.data(), r.lvb.size()) +
		       "\",\"lvb_valid\":" + (r.lvb_valid ? "true" : "false");
		const std::pair<const char *, const std::vector<LockTable::LockView> *> queues[] = {
			{"granted", &r.granted}, {"converting", &r.converting}, {"waiting", &r.waiting}};
		for (auto &[qname, q] : queues) {
			out += std::string(",\"") + qname + "\":[";
			for (size_t i = 0; i < q->size(); i++)
				out += (i ? "," : "") + lock_json((*q)[i], q != &r.granted);
			out += "]";
		}
		out += "}";
	}
	out += "],\"plocks\":[";
	// Offsets as JSON numbers (end 18446744073709551615: to the end of the file); the
	// owner cookie and mount id as strings, like lock ids.
	auto plock_json = [](const PlockTable::PlockView &l) {
		return "\"node\":" + std::to_string(l.owner.mount.node) + ",\"mount\":\"" +
		       std::to_string(l.owner.mount.local) + "\",\"owner\":\"" + std::to_string(l.owner.owner) +
		       "\",\"pid\":" + std::to_string(l.pid) + ",\"start\":" + std::to_string(l.start) +
		       ",\"end\":" + std::to_string(l.end) + ",\"type\":\"" + (l.write ? "write" : "read") + "\"";
	};
	first = true;
	for (const auto &f : plocks_.files()) {
		out += std::string(first ? "" : ",") + "{\"number\":" + std::to_string(f.number) + ",\"held\":[";
		first = false;
		for (size_t i = 0; i < f.held.size(); i++)
			out += std::string(i ? "," : "") + "{" + plock_json(f.held[i]) + "}";
		out += "],\"waiting\":[";
		for (size_t i = 0; i < f.waiting.size(); i++)
			out += std::string(i ? "," : "") + "{" + plock_json(f.waiting[i].lock) +
			       ",\"seq\":" + std::to_string(f.waiting[i].seq) + "}";
		out += "]}";
	}
	out += "]}";
}

void Lockspace::append_cluster_json(std::string &out) const
{
	out += "{\"name\":\"" + json_escape(name_) + "\",\"state\":\"" +
	       (refused_ ? "refused" : have_state_ ? "member" : "joining") + "\",\"grants_enabled\":" +
	       (table_.grants_enabled() ? "true" : "false") + ",\"table_divergences\":" + std::to_string(divergences_) +
	       ",\"members\":[";
	bool first = true;
	for (NodeId n : members_) {
		out += (first ? "" : ",") + std::to_string(n);
		first = false;
	}
	out += "],\"mounts\":[";
	first = true;
	for (const auto &m : table_.mounts()) {
		out += std::string(first ? "" : ",") + "{\"node\":" + std::to_string(m.id.node) +
		       ",\"journal\":" +
		       (m.journal == LockTable::kNoJournal ? std::string("null") : std::to_string(m.journal)) + "}";
		first = false;
	}
	out += "],\"awaiting_fence\":[";
	first = true;
	for (NodeId n : table_.nodes_awaiting_fence()) {
		out += (first ? "" : ",") + std::to_string(n);
		first = false;
	}
	out += "],\"recoveries\":[";
	first = true;
	for (const auto &rec : table_.recoveries()) {
		out += std::string(first ? "" : ",") + "{\"journal\":" + std::to_string(rec.journal) +
		       ",\"dead_node\":" + std::to_string(rec.dead_node) + ",\"assigned_node\":" +
		       (rec.assigned ? std::to_string(rec.assigned->node) : "null") + "}";
		first = false;
	}
	out += "]}";
}

void Lockspace::append_locks_text(std::string &out) const
{
	out += "lockspace " + name_ + "\n";
	auto lock_text = [](const LockTable::LockView &l, bool queued) {
		std::string s = "node " + std::to_string(l.id.node) + " " + mode_name(l.granted);
		if (queued)
			s += std::string("->") + mode_name(l.requested);
		if (l.orphaned)
			s += l.pinned_journal >= 0 ? " (dead, pinned until journal " + std::to_string(l.pinned_journal) +
							     " is replayed)"
						   : std::string(" (dead, awaiting fencing)");
		return s;
	};
	auto resources = table_.resources();
	if (resources.empty())
		out += "  (no resources)\n";
	for (const auto &r : resources) {
		out += "  " + json_escape(r.name) + "  lvb " + hex(r.lvb.data(), r.lvb.size()) +
		       (r.lvb_valid ? "" : " INVALID") + "\n";
		const std::pair<const char *, const std::vector<LockTable::LockView> *> queues[] = {
			{"granted", &r.granted}, {"converting", &r.converting}, {"waiting", &r.waiting}};
		for (auto &[qname, q] : queues)
			for (const auto &l : *q)
				out += std::string("    ") + qname + std::string(11 - strlen(qname), ' ') +
				       lock_text(l, q != &r.granted) + "\n";
	}
	auto plock_text = [](const PlockTable::PlockView &l) {
		return std::string(l.write ? "write " : "read ") + std::to_string(l.start) + "-" +
		       (l.end == PlockTable::kEndOfFile ? std::string("eof") : std::to_string(l.end)) + " node " +
		       std::to_string(l.owner.mount.node) + " pid " + std::to_string(l.pid);
	};
	for (const auto &f : plocks_.files()) {
		out += "  posix locks of inode " + std::to_string(f.number) + "\n";
		for (const auto &l : f.held)
			out += "    held       " + plock_text(l) + "\n";
		for (const auto &w : f.waiting)
			out += "    waiting    " + plock_text(w.lock) + "\n";
	}
}

void Lockspace::append_cluster_text(std::string &out) const
{
	out += "lockspace " + name_ + ": " + (refused_ ? "refused" : have_state_ ? "member" : "joining") +
	       ", grants " + (table_.grants_enabled() ? "enabled" : "STOPPED (waiting for quorum)") + "\n  members:";
	for (NodeId n : members_)
		out += " " + std::to_string(n);
	out += "\n  mounts:";
	for (const auto &m : table_.mounts())
		out += " node " + std::to_string(m.id.node) +
		       (m.journal == LockTable::kNoJournal ? std::string(" (no journal)")
							   : " journal " + std::to_string(m.journal)) +
		       ";";
	out += "\n";
	for (NodeId n : table_.nodes_awaiting_fence())
		out += "  node " + std::to_string(n) + " awaits fencing" +
		       (d_.config().fence_command.empty() ? " (no fence_command: run clusterfs_tool fence-ack " +
								  std::to_string(n) + ")"
							    : "") +
		       "\n";
	for (const auto &rec : table_.recoveries())
		out += "  journal " + std::to_string(rec.journal) + " of dead node " + std::to_string(rec.dead_node) +
		       (rec.assigned ? " being replayed by node " + std::to_string(rec.assigned->node)
				     : std::string(" awaits a mount to replay it")) +
		       "\n";
}

// ---- Daemon ----

// The device takes whole messages (it returns how many bytes of whole messages it took),
// a socket any bytes: both are written through here, never blocking unless asked.
ssize_t write_connection(const Connection *c, const void *p, size_t len, bool blocking = false)
{
	if (c->device)
		return ::write(c->fd, p, len);
	return ::send(c->fd, p, len, MSG_NOSIGNAL | (blocking ? 0 : MSG_DONTWAIT));
}

void Daemon::send(Connection *c, const void *msg, size_t len)
{
	if (c->closing)
		return; // being dropped: nothing more reaches it
	const auto *p = static_cast<const uint8_t *>(msg);
	if (c->out.empty()) {
		ssize_t n = write_connection(c, p, len);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				c->closing = true;
				return;
			}
			n = 0;
		}
		p += n;
		len -= n;
	}
	c->out.insert(c->out.end(), p, p + len);
	if (c->out.size() > static_cast<size_t>(config_.client_backlog_kib) * 1024 && !c->closing) {
		log_msg("%s stopped reading: %zu bytes of events queued (client_backlog_kib = %d); dropping it",
			c->device ? "the kernel module" : "a client", c->out.size(), config_.client_backlog_kib);
		c->out.clear();
		c->closing = true;
	}
}

void Daemon::fatal_corosync(const char *what)
{
	log_msg("lost the connection to corosync (%s): telling clients to withdraw and exiting", what);
	withdraw_clients(CFS_WITHDRAW_COROSYNC_LOST);
	unlink(config_.socket_path.c_str());
	exit(1);
}

bool Daemon::setup_socket(std::string *error)
{
	std::string dir = config_.socket_path.substr(0, config_.socket_path.rfind('/'));
	if (!dir.empty() && mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) {
		*error = "cannot create " + dir + ": " + strerror(errno);
		return false;
	}
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (config_.socket_path.size() >= sizeof(addr.sun_path)) {
		*error = "socket path too long: " + config_.socket_path;
		return false;
	}
	memcpy(addr.sun_path, config_.socket_path.c_str(), config_.socket_path.size() + 1);
	listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	// A socket file left by a previous instance: refuse if somebody still answers on it.
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(probe, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0) {
		close(probe);
		*error = "another clusterfs_lockd is serving " + config_.socket_path;
		return false;
	}
	close(probe);
	unlink(config_.socket_path.c_str());
	mode_t old = umask(0077); // root only
	int r = bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
	umask(old);
	if (r < 0 || listen(listen_fd_, 64) < 0) {
		*error = "cannot listen on " + config_.socket_path + ": " + strerror(errno);
		return false;
	}
	return true;
}

bool Daemon::setup_quorum(std::string *error)
{
	quorum_model_v1_data_t model{};
	model.model = QUORUM_MODEL_V1;
	model.quorum_notify_fn = quorum_notify;
	uint32_t type = 0;
	cs_error_t err;
	for (int tries = 0; (err = quorum_model_initialize(&quorum_, QUORUM_MODEL_V1,
							  reinterpret_cast<quorum_model_data_t *>(&model), &type,
							  nullptr)) == CS_ERR_TRY_AGAIN &&
			    tries < 50;
	     tries++)
		usleep(100000);
	if (err != CS_OK) {
		*error = "cannot connect to corosync quorum service (error " + std::to_string(err) +
			 "): is corosync running?";
		return false;
	}
	if (!type)
		log_msg("warning: corosync has no quorum provider configured; lockd will never grant");
	if (quorum_trackstart(quorum_, CS_TRACK_CHANGES | CS_TRACK_CURRENT) != CS_OK ||
	    quorum_fd_get(quorum_, &quorum_fd_) != CS_OK) {
		*error = "cannot track corosync quorum";
		return false;
	}
	// Our node id: from a throwaway CPG connection (libcpg knows it, libquorum doesn't say).
	cpg_handle_t h;
	cpg_callbacks_t cb{};
	if (cpg_initialize(&h, &cb) != CS_OK || cpg_local_get(h, &node_id_) != CS_OK) {
		*error = "cannot get the local node id from corosync";
		return false;
	}
	cpg_finalize(h);
	return true;
}

void Daemon::accept_client()
{
	for (;;) {
		int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		// The socket's mode already keeps others out; a lock client must be root.
		ucred cred{};
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
			log_msg("refusing a client with uid %u: only root may take cluster locks", cred.uid);
			close(fd);
			continue;
		}
		auto c = std::make_unique<Connection>();
		c->fd = fd;
		conns_.push_back(std::move(c));
	}
}

void Daemon::complete(Connection *c, uint32_t seq, uint32_t ls_id, uint64_t lock_id, int status, uint32_t mode)
{
	auto m = proto::make<cfs_lock_ev_complete>(CFS_LOCK_EV_COMPLETE, seq);
	m.lockspace_id = proto::to_le32(ls_id);
	m.status = proto::to_le32(static_cast<uint32_t>(status));
	m.lock_id = proto::to_le64(lock_id);
	m.mode = proto::to_le32(mode);
	send(c, &m, sizeof(m));
}

void Daemon::admin_reply(Connection *c, uint32_t seq, int status, const std::string &text)
{
	auto m = proto::make<cfs_lock_ev_admin_reply>(CFS_LOCK_EV_ADMIN_REPLY, seq);
	m.hdr.length = proto::to_le32(static_cast<uint32_t>(sizeof(m) + text.size()));
	m.status = proto::to_le32(static_cast<uint32_t>(status));
	m.text_len = proto::to_le32(static_cast<uint32_t>(text.size()));
	std::vector<uint8_t> buf(sizeof(m) + text.size());
	memcpy(buf.data(), &m, sizeof(m));
	memcpy(buf.data() + sizeof(m), text.data(), text.size());
	send(c, buf.data(), buf.size());
}

void Daemon::handle_admin(Connection *c, const cfs_lock_req_admin &req)
{
	uint32_t seq = proto::from_le32(req.hdr.seq);
	std::string ls(req.lockspace, strnlen(req.lockspace, sizeof(req.lockspace)));
	switch (proto::from_le32(req.command)) {
	case CFS_ADMIN_DUMP_LOCKS: {
		bool text = proto::from_le32(req.arg) & CFS_ADMIN_TEXT;
		if (text) {
			std::string out;
			for (auto &[name, l] : lockspaces_)
				if (ls.empty() || name == ls)
					l->append_locks_text(out);
			if (!ls.empty() && out.empty())
				return admin_reply(c, seq, -ENOENT, "no lockspace " + ls + " on this node");
			if (out.empty())
				out = "no lockspaces on this node\n";
			return admin_reply(c, seq, 0, out);
		}
		std::string out = "{\"node_id\":" + std::to_string(node_id_) + ",\"lockspaces\":[";
		bool first = true;
		for (auto &[name, l] : lockspaces_) {
			if (!ls.empty() && name != ls)
				continue;
			if (!first)
				out += ",";
			first = false;
			l->append_locks_json(out);
		}
		out += "]}";
		if (!ls.empty() && first)
			return admin_reply(c, seq, -ENOENT, "no lockspace " + ls + " on this node");
		return admin_reply(c, seq, 0, out);
	}
	case CFS_ADMIN_DUMP_CLUSTER: {
		if (proto::from_le32(req.arg) & CFS_ADMIN_TEXT) {
			std::string out = "node " + std::to_string(node_id_) + ", " +
					  (quorate() ? "quorate" : "INQUORATE: nothing is granted") + (two_node_ ? ", two_node" : "") +
					  "\n";
			membership_.append_text(out);
			for (auto &[name, l] : lockspaces_)
				if (ls.empty() || name == ls)
					l->append_cluster_text(out);
			return admin_reply(c, seq, 0, out);
		}
		std::string out = "{\"node_id\":" + std::to_string(node_id_) + ",\"quorate\":" +
				  (quorate() ? "true" : "false") + ",\"two_node\":" + (two_node_ ? "true" : "false") +
				  ",\"lockd_group\":";
		membership_.append_json(out);
		out += ",\"lockspaces\":[";
		bool first = true;
		for (auto &[name, l] : lockspaces_) {
			if (!ls.empty() && name != ls)
				continue;
			if (!first)
				out += ",";
			first = false;
			l->append_cluster_json(out);
		}
		out += "]}";
		return admin_reply(c, seq, 0, out);
	}
	case CFS_ADMIN_FENCE_ACK: {
		// Fencing is cluster-wide (the lockd group); a lockspace name is not needed.
		NodeId node = proto::from_le32(req.arg);
		// A lockspace may await a node the group has no record of (the group's state was
		// lost with every member that held it): the operator's word counts there too.
		bool awaited = false;
		for (auto &[name, l] : lockspaces_)
			awaited |= l->awaits_fence(node);
		if (!membership_.fence_ack(node, awaited))
			return admin_reply(c, seq, -ENOENT, "node " + std::to_string(node) + " is not awaiting fencing");
		log_msg("operator acknowledged node %u as fenced", node);
		return admin_reply(c, seq, 0, "acknowledged node " + std::to_string(node) + " as fenced");
	}
	default:
		return admin_reply(c, seq, -EINVAL, "unknown admin command");
	}
}

// POSIX locks: LOCK, UNLOCK and CANCEL go through the agreed order (answered when
// applied, LOCK perhaps much later), GET is answered at once from this node's copy.
void Daemon::handle_plock(Connection *c, const cfs_lock_req_plock &req)
{
	uint32_t seq = proto::from_le32(req.hdr.seq);
	uint32_t ls_id = proto::from_le32(req.lockspace_id);
	uint32_t command = proto::from_le32(req.command);
	uint64_t number = proto::from_le64(req.number), owner = proto::from_le64(req.owner);
	uint64_t start = proto::from_le64(req.start), end = proto::from_le64(req.end);
	uint32_t pid = proto::from_le32(req.pid), flags = proto::from_le32(req.flags);
	auto answer = [&](int status) {
		auto m = proto::make<cfs_lock_ev_plock>(CFS_LOCK_EV_PLOCK, seq);
		m.lockspace_id = proto::to_le32(ls_id);
		m.status = proto::to_le32(static_cast<uint32_t>(status));
		m.number = proto::to_le64(number);
		send(c, &m, sizeof(m));
	};
	auto it = c->joined.find(ls_id);
	if (it == c->joined.end())
		return command == CFS_PLOCK_CANCEL ? void() : answer(-ENOENT);
	auto [ls, mount] = it->second;
	auto mit = ls->mounts_.find(mount);
	// Once its leave is queued the mount's locks are as good as gone, and an answer
	// applied after the leave would reach nobody: answer now.
	bool leaving = mit == ls->mounts_.end() || mit->second.leaving;
	if (flags & ~(CFS_PLF_WRITE | CFS_PLF_WAIT))
		return command == CFS_PLOCK_CANCEL ? void() : answer(-EINVAL);
	wire::Writer w;
	switch (command) {
	case CFS_PLOCK_GET: {
		if (!PlockTable::valid_range(start, end))
			return answer(-EINVAL);
		auto found = ls->plock_get(number, mount, owner, start, end, flags & CFS_PLF_WRITE);
		auto m = proto::make<cfs_lock_ev_plock>(CFS_LOCK_EV_PLOCK, seq);
		m.lockspace_id = proto::to_le32(ls_id);
		m.number = proto::to_le64(number);
		if (found) {
			m.flags = proto::to_le32(CFS_PLF_FOUND | (found->write ? CFS_PLF_WRITE : 0));
			m.start = proto::to_le64(found->start);
			m.end = proto::to_le64(found->end);
			m.pid = proto::to_le32(found->pid);
			m.node_id = proto::to_le32(found->owner.mount.node);
		}
		return send(c, &m, sizeof(m));
	}
	case CFS_PLOCK_LOCK:
		if (leaving || !quorate())
			return answer(-ENOLCK);
		w.u8(static_cast<uint8_t>(Op::PlockLock));
		w.u64(mount);
		w.u32(seq);
		w.u64(number);
		w.u64(owner);
		w.u32(pid);
		w.u64(start);
		w.u64(end);
		w.u32(flags);
		break;
	case CFS_PLOCK_UNLOCK:
		// Works inquorate too: it only ever releases.
		if (leaving)
			return answer(PlockTable::valid_range(start, end) ? 0 : -EINVAL);
		w.u8(static_cast<uint8_t>(Op::PlockUnlock));
		w.u64(mount);
		w.u32(seq);
		w.u64(number);
		w.u64(owner);
		w.u64(start);
		w.u64(end);
		break;
	case CFS_PLOCK_CANCEL:
		if (leaving)
			return;
		w.u8(static_cast<uint8_t>(Op::PlockCancel));
		w.u64(mount);
		w.u32(proto::from_le32(req.cancel_seq));
		break;
	default:
		return answer(-EINVAL);
	}
	ls->queue_op(w.take());
}

void Daemon::handle_join(Connection *c, const std::vector<uint8_t> &msg)
{
	uint32_t seq = proto::from_le32(proto::as<cfs_lock_header>(msg)->seq);
	const auto *req = proto::as<cfs_lock_req_join>(msg);
	std::string name(req->lockspace, strnlen(req->lockspace, sizeof(req->lockspace)));
	auto fail = [&](int status) {
		auto m = proto::make<cfs_lock_ev_joined>(CFS_LOCK_EV_JOINED, seq);
		m.status = proto::to_le32(static_cast<uint32_t>(status));
		send(c, &m, sizeof(m));
	};
	bool printable = !name.empty();
	for (char ch : name)
		printable &= ch > ' ' && ch < 0x7f;
	uint32_t journals = proto::from_le32(req->journal_count);
	if (!printable || journals > 65536)
		return fail(-EINVAL);
	if (!quorate())
		return fail(-ENOLCK);
	// A filesystem's lock table is "cluster:fsname": it may only be mounted in that cluster.
	if (auto colon = name.find(':'); colon != std::string::npos) {
		std::string ours = corosync_cluster_name();
		if (!ours.empty() && name.compare(0, colon, ours) != 0) {
			log_msg("refusing to join lockspace %s: its cluster name \"%s\" is not corosync's cluster_name \"%s\"",
				name.c_str(), name.substr(0, colon).c_str(), ours.c_str());
			return fail(-EXDEV);
		}
	}
	if (!membership_.ready() || !membership_.pending().empty()) {
		// Founding or joining now could forget locks of a dead node: wait for its
		// fencing (or for the lockd group's state, which says whether one is pending).
		log_msg("lockspace %s: join waits for %s", name.c_str(),
			!membership_.ready() ? "the lockd group's state" : "fencing of a dead node");
		deferred_joins_.push_back(DeferredJoin{c, msg});
		return;
	}
	auto it = lockspaces_.find(name);
	if (it == lockspaces_.end()) {
		auto ls = std::make_unique<Lockspace>(*this, name);
		std::string error;
		membership_.announce_lockspace(name, true, false);
		if (!ls->start(&error)) {
			membership_.announce_lockspace(name, false, false);
			log_msg("%s", error.c_str());
			return fail(-EIO);
		}
		it = lockspaces_.emplace(name, std::move(ls)).first;
	}
	Lockspace *ls = it->second.get();
	uint64_t mount = next_local_id();
	uint32_t ls_id = c->next_lockspace_id++;
	LocalMount lm;
	lm.conn = c;
	lm.lockspace_id = ls_id;
	lm.join_seq = seq;
	ls->mounts_[mount] = std::move(lm);
	c->joined[ls_id] = {ls, mount};
	wire::Writer w;
	w.u8(static_cast<uint8_t>(Op::Join));
	w.u64(mount);
	w.u32(journals);
	w.u64(next_local_id());
	ls->queue_op(w.take());
}

void Daemon::run_deferred_joins()
{
	if (deferred_joins_.empty() || !membership_.ready() || !membership_.pending().empty())
		return;
	auto joins = std::move(deferred_joins_);
	deferred_joins_.clear();
	for (auto &j : joins)
		if (connection_alive(j.conn) && !j.conn->closing)
			handle_join(j.conn, j.msg);
}

void Daemon::handle(Connection *c, const std::vector<uint8_t> &msg)
{
	uint16_t type = proto::type_of(msg);
	uint32_t seq = proto::from_le32(proto::as<cfs_lock_header>(msg)->seq);
	auto reply = [&](int status) {
		auto m = proto::make<cfs_lock_ev_reply>(CFS_LOCK_EV_REPLY, seq);
		m.status = proto::to_le32(static_cast<uint32_t>(status));
		send(c, &m, sizeof(m));
	};
	switch (type) {
	case CFS_LOCK_REQ_HELLO: {
		const auto *req = proto::as<cfs_lock_hello>(msg);
		uint16_t lo = proto::from_le16(req->revision_min), hi = proto::from_le16(req->revision_max);
		auto m = proto::make<cfs_lock_hello>(CFS_LOCK_EV_HELLO, seq);
		bool meet = lo <= CFS_LOCKPROTO_REVISION_MAX && hi >= CFS_LOCKPROTO_REVISION_MIN;
		m.status = proto::to_le32(static_cast<uint32_t>(meet ? 0 : -EPROTONOSUPPORT));
		m.revision_min = proto::to_le16(meet ? std::min<uint16_t>(hi, CFS_LOCKPROTO_REVISION_MAX) : CFS_LOCKPROTO_REVISION_MIN);
		m.revision_max = proto::to_le16(meet ? std::min<uint16_t>(hi, CFS_LOCKPROTO_REVISION_MAX) : CFS_LOCKPROTO_REVISION_MAX);
		if (!meet)
			log_msg("%s speaks lock protocol revisions %u-%u, this lockd %u-%u: it cannot mount through us",
				c->device ? "the kernel module" : "a client", lo, hi, CFS_LOCKPROTO_REVISION_MIN,
				CFS_LOCKPROTO_REVISION_MAX);
		send(c, &m, sizeof(m));
		return;
	}
	case CFS_LOCK_REQ_JOIN:
		return handle_join(c, msg);
	case CFS_LOCK_REQ_LEAVE:
	case CFS_LOCK_REQ_WITHDRAWN: {
		uint32_t ls_id = proto::from_le32(proto::as<cfs_lock_req_leave>(msg)->lockspace_id);
		auto it = c->joined.find(ls_id);
		if (it == c->joined.end())
			return reply(-ENOENT);
		auto [ls, mount] = it->second;
		auto mit = ls->mounts_.find(mount);
		if (mit == ls->mounts_.end() || mit->second.leaving)
			return reply(-EBUSY);
		mit->second.leaving = true;
		mit->second.leave_seq = seq;
		wire::Writer w;
		w.u8(static_cast<uint8_t>(type == CFS_LOCK_REQ_WITHDRAWN ? Op::Withdrawn : Op::Leave));
		w.u64(mount);
		ls->queue_op(w.take());
		return;
	}
	case CFS_LOCK_REQ_LOCK:
	case CFS_LOCK_REQ_CONVERT:
	case CFS_LOCK_REQ_UNLOCK:
	case CFS_LOCK_REQ_CANCEL: {
		const auto *req = proto::as<cfs_lock_req_lock>(msg);
		uint32_t ls_id = proto::from_le32(req->lockspace_id);
		uint64_t client_id = proto::from_le64(req->lock_id);
		uint32_t mode = proto::from_le32(req->mode);
		uint32_t flags = proto::from_le32(req->flags);
		auto it = c->joined.find(ls_id);
		if (it == c->joined.end())
			return complete(c, seq, ls_id, client_id, -ENOENT, CFS_LOCK_IV);
		auto [ls, mount] = it->second;
		if (flags & ~(CFS_LKF_NOQUEUE | CFS_LKF_VALBLK))
			return complete(c, seq, ls_id, client_id, -EINVAL, CFS_LOCK_IV);
		auto key = std::make_pair(ls_id, client_id);
		auto lit = c->client_locks.find(key);
		wire::Writer w;
		if (type == CFS_LOCK_REQ_LOCK) {
			uint32_t len = proto::from_le32(req->name_len);
			if (lit != c->client_locks.end())
				return complete(c, seq, ls_id, client_id, -EEXIST, CFS_LOCK_IV);
			if (len == 0 || len > CFS_RESOURCE_NAME_MAX || mode >= CFS_LOCK_MODE_COUNT)
				return complete(c, seq, ls_id, client_id, -EINVAL, CFS_LOCK_IV);
			if (!quorate())
				return complete(c, seq, ls_id, client_id, -ENOLCK, CFS_LOCK_IV);
			uint64_t local = next_local_id();
			c->client_locks[key] = local;
			ls->locks_[local] = LocalLock{c, ls_id, client_id, seq};
			w.u8(static_cast<uint8_t>(Op::Lock));
			w.u64(mount);
			w.u64(local);
			w.i32(static_cast<int32_t>(mode));
			w.u32(flags);
			w.str(std::string(reinterpret_cast<const char *>(req->name), len));
		} else {
			if (lit == c->client_locks.end()) {
				if (type == CFS_LOCK_REQ_CANCEL)
					return;
				return complete(c, seq, ls_id, client_id, -ENOENT, CFS_LOCK_IV);
			}
			uint64_t local = lit->second;
			auto ll = ls->locks_.find(local);
			if (ll != ls->locks_.end() && type != CFS_LOCK_REQ_CANCEL)
				ll->second.seq = seq;
			if (type == CFS_LOCK_REQ_CONVERT && mode >= CFS_LOCK_MODE_COUNT)
				return complete(c, seq, ls_id, client_id, -EINVAL, CFS_LOCK_IV);
			Op op = type == CFS_LOCK_REQ_CONVERT ? Op::Convert : type == CFS_LOCK_REQ_UNLOCK ? Op::Unlock : Op::Cancel;
			w.u8(static_cast<uint8_t>(op));
			w.u64(mount);
			w.u64(local);
			if (op == Op::Convert)
				w.i32(static_cast<int32_t>(mode));
			if (op != Op::Cancel) {
				w.u32(flags);
				w.bytes(req->lvb, CFS_LVB_SIZE);
			}
		}
		ls->queue_op(w.take());
		return;
	}
	case CFS_LOCK_REQ_RECOVERED: {
		const auto *req = proto::as<cfs_lock_req_recovered>(msg);
		auto it = c->joined.find(proto::from_le32(req->lockspace_id));
		if (it == c->joined.end())
			return reply(-ENOENT);
		auto [ls, mount] = it->second;
		uint32_t journal = proto::from_le32(req->journal);
		auto mit = ls->mounts_.find(mount);
		if (mit != ls->mounts_.end())
			mit->second.recovered_seq[journal] = seq;
		wire::Writer w;
		w.u8(static_cast<uint8_t>(Op::Recovered));
		w.u64(mount);
		w.u32(journal);
		ls->queue_op(w.take());
		return; // REPLY when applied: -EINVAL if this mount was not assigned the journal
	}
	case CFS_LOCK_REQ_PLOCK:
		return handle_plock(c, *proto::as<cfs_lock_req_plock>(msg));
	case CFS_LOCK_REQ_ADMIN:
		return handle_admin(c, *proto::as<cfs_lock_req_admin>(msg));
	default: {
		std::string error = "unexpected message type " + std::to_string(type) + " from a client";
		log_msg("%s", error.c_str());
		c->closing = true;
	}
	}
}

void Daemon::read_client(Connection *c)
{
	uint8_t buf[65536];
	for (;;) {
		ssize_t n = c->device ? ::read(c->fd, buf, sizeof(buf)) : recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			c->closing = true;
			return;
		}
		c->framer.append(buf, n);
	}
	std::string error;
	while (auto msg = c->framer.next(&error))
		handle(c, *msg);
	if (!error.empty()) {
		log_msg("dropping a client: %s", error.c_str());
		c->closing = true;
	}
}

// A client that goes away leaves its lockspaces: its locks are released.
void Daemon::drop_connection(Connection *c)
{
	for (auto &[ls_id, pair] : c->joined) {
		auto [ls, mount] = pair;
		auto mit = ls->mounts_.find(mount);
		if (mit != ls->mounts_.end()) {
			mit->second.conn = nullptr;
			if (!mit->second.leaving && c->device) {
				// The kernel withdraws the mount, but writes it had in flight may still
				// land, and its journal may hold what its locks cover: neither a release
				// nor a hand-over is safe. Its locks stay held until this node is fenced
				// (stop or restart this lockd: it is then a dead member).
				log_msg("lockspace %s: the kernel's connection closed under a mount: its locks stay held "
					"until this node is fenced; restart clusterfs_lockd to have it fenced",
					ls->name().c_str());
			} else if (!mit->second.leaving) {
				mit->second.leaving = true;
				wire::Writer w;
				w.u8(static_cast<uint8_t>(Op::Leave));
				w.u64(mount);
				ls->queue_op(w.take());
			}
		}
		for (auto &[id, ll] : ls->locks_)
			if (ll.conn == c)
				ll.conn = nullptr;
	}
	for (auto it = deferred_joins_.begin(); it != deferred_joins_.end();)
		it = it->conn == c ? deferred_joins_.erase(it) : std::next(it);
	close(c->fd);
	for (auto it = conns_.begin(); it != conns_.end(); ++it)
		if (it->get() == c) {
			conns_.erase(it);
			break;
		}
}

// The kernel module's device: opened whenever it exists and nobody serves it yet, so
// that lockd may start before `modprobe clusterfs` or survive a module reload.
void Daemon::open_kernel_device()
{
	if (config_.kernel_device.empty())
		return;
	for (auto &c : conns_)
		if (c->device)
			return;
	int fd = ::open(config_.kernel_device.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENODEV && errno != ENXIO && errno != device_errno_) {
			log_msg("cannot open %s: %s%s", config_.kernel_device.c_str(), strerror(errno),
				errno == EBUSY ? " (another clusterfs_lockd serves it)" : "");
		}
		device_errno_ = errno;
		return;
	}
	device_errno_ = 0;
	log_msg("serving the kernel module through %s", config_.kernel_device.c_str());
	auto c = std::make_unique<Connection>();
	c->fd = fd;
	c->device = true;
	conns_.push_back(std::move(c));
}

void Daemon::reap_children()
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		membership_.child_exited(pid, status);
	}
}

void on_signal(int sig)
{
	if (sig == SIGCHLD)
		return; // wakes poll; children are reaped in the loop
	g_stop = 1;
}

void Daemon::withdraw_clients(uint32_t reason)
{
	for (auto &c : conns_) {
		auto m = proto::make<cfs_lock_ev_withdraw>(CFS_LOCK_EV_WITHDRAW, 0);
		m.lockspace_id = proto::to_le32(CFS_LOCKSPACE_ALL);
		m.reason = proto::to_le32(reason);
		// Blocking write: this is the last thing we tell them.
		int flags = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
		if (!c->out.empty())
			write_connection(c.get(), c->out.data(), c->out.size(), true);
		write_connection(c.get(), &m, sizeof(m), true);
	}
}

// Quorum lost: the quorate side (if any) will fence this node and replay its journals,
// so its mounts stop writing now rather than when the fence lands (docs/kernel.md,
// "Errors and withdraw"). Userspace clients keep their locks: grants stop, as in a fenced-off DLM.
void Daemon::withdraw_kernel_mounts()
{
	for (auto &c : conns_) {
		if (!c->device)
			continue;
		log_msg("quorum lost: telling the kernel's mounts to withdraw");
		auto m = proto::make<cfs_lock_ev_withdraw>(CFS_LOCK_EV_WITHDRAW, 0);
		m.lockspace_id = proto::to_le32(CFS_LOCKSPACE_ALL);
		m.reason = proto::to_le32(CFS_WITHDRAW_INQUORATE);
		send(c.get(), &m, sizeof(m));
	}
}

// The surviving side declared us dead and will fence this node: whatever we hold is
// already orphaned there. Clients withdraw; exiting leaves every group.
void Daemon::refused_by_cluster()
{
	withdraw_clients(CFS_WITHDRAW_REFUSED);
	unlink(config_.socket_path.c_str());
	exit(1);
}

// Leaves lockspaces nobody here uses any more (or that refused us). A lockspace whose
// table still holds a dead node's locks, a pending fence or a journal awaiting replay is
// kept while we are... unless we are stopping. Returns whether any lockspace remains.
bool Daemon::leave_idle_lockspaces(bool stopping)
{
	for (auto it = lockspaces_.begin(); it != lockspaces_.end();) {
		Lockspace *ls = it->second.get();
		bool idle = ls->empty_of_local_mounts() && !ls->has_pending_output();
		if (!idle)
			ls->idle_since = 0;
		else if (ls->idle_since == 0)
			ls->idle_since = now_seconds();
		// Lingering in the group keeps the table warm for the next mount and avoids
		// leaving while a joiner may still need our snapshot.
		bool expired = idle && (stopping || now_seconds() - ls->idle_since >= config_.lockspace_linger_seconds);
		// Dead state must outlive its last holders: we stay even when unused, so the next
		// joiner inherits the orphaned locks, pending fences and journal recoveries.
		if (expired && ls->holds_dead_state() && !stopping)
			expired = false;
		if (expired || ls->refused()) {
			bool used = false;
			for (auto &c : conns_)
				for (auto &[id, p] : c->joined)
					used |= p.first == ls;
			if (!used) {
				log_msg("lockspace %s: no local users, leaving", it->first.c_str());
				membership_.announce_lockspace(it->first, false, !ls->refused() && ls->last_holder_of_dead_state());
				it = lockspaces_.erase(it);
				continue;
			}
		}
		++it;
	}
	return !lockspaces_.empty();
}

int Daemon::run()
{
	std::string error;
	// The socket first: a second daemon on this node must fail before it joins the lockd
	// group, whose members would take its exit for this node's death.
	if (!setup_quorum(&error) || !setup_socket(&error) || !membership_.start(&error)) {
		log_msg("%s", error.c_str());
		return 1;
	}
	two_node_ = corosync_two_node();
	log_msg("node %u serving %s (%s%s)", node_id_, config_.socket_path.c_str(),
		config_.fence_command.empty() ? "no fence_command: fencing waits for fence-ack"
					      : ("fence_command " + config_.fence_command[0]).c_str(),
		two_node_ ? "; two_node: grants wait for the fence race after a split" : "");
	sd_notify(0, "READY=1"); // systemd Type=notify; a no-op outside systemd
	struct sigaction sa{};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGCHLD, &sa, nullptr);
	signal(SIGPIPE, SIG_IGN);

	while (!g_stop) {
		open_kernel_device();
		// Drain the lockd group before any lockspace judges fencing state: corosync
		// queues a death there before it queues any later event of a lockspace.
		if (!membership_.dispatch())
			fatal_corosync("CPG dispatch (lockd group)");
		membership_.tick();
		membership_.flush();
		run_deferred_joins();
		for (auto &[name, ls] : lockspaces_) {
			ls->tick();
			// What we announce in the lockd group (joining a lockspace) goes first.
			if (!membership_.has_pending_output())
				ls->flush();
		}
		membership_.flush();
		std::vector<pollfd> fds;
		fds.push_back({listen_fd_, POLLIN, 0});
		fds.push_back({quorum_fd_, POLLIN, 0});
		fds.push_back({membership_.fd(), POLLIN, 0});
		std::vector<Lockspace *> ls_order;
		bool pending = membership_.has_pending_output();
		for (auto &[name, ls] : lockspaces_) {
			fds.push_back({ls->fd(), POLLIN, 0});
			ls_order.push_back(ls.get());
			pending |= ls->has_pending_output();
		}
		std::vector<Connection *> conn_order;
		for (auto &c : conns_) {
			fds.push_back({c->fd, static_cast<short>(POLLIN | (c->out.empty() ? 0 : POLLOUT)), 0});
			conn_order.push_back(c.get());
		}
		// Short timeouts only while something waits on time: a multicast to retry, a
		// fence agent to run again, quorum to propose.
		int timeout = pending ? 2 : 200;
		int r = poll(fds.data(), fds.size(), timeout);
		int poll_errno = errno;
		reap_children();
		if (r < 0) {
			if (poll_errno == EINTR)
				continue;
			log_msg("poll: %s", strerror(poll_errno));
			return 1;
		}
		if (fds[1].revents) {
			cs_error_t err = quorum_dispatch(quorum_, CS_DISPATCH_ALL);
			if (err != CS_OK && err != CS_ERR_TRY_AGAIN)
				fatal_corosync("quorum dispatch");
		}
		// The lockd group first: a death it reports is then known before a lockspace
		// acts on the same ring change.
		if (fds[2].revents && !membership_.dispatch())
			fatal_corosync("CPG dispatch (lockd group)");
		for (size_t i = 0; i < ls_order.size(); i++)
			if (fds[3 + i].revents && !ls_order[i]->dispatch())
				fatal_corosync("CPG dispatch");
		size_t base = 3 + ls_order.size();
		for (size_t i = 0; i < conn_order.size(); i++) {
			Connection *c = conn_order[i];
			short ev = fds[base + i].revents;
			if (ev & (POLLIN | POLLHUP | POLLERR))
				read_client(c);
			if ((ev & POLLOUT) && !c->out.empty()) {
				ssize_t n = write_connection(c, c->out.data(), c->out.size());
				if (n > 0)
					c->out.erase(c->out.begin(), c->out.begin() + n);
				else if (n < 0 && errno != EAGAIN)
					c->closing = true;
			}
		}
		if (fds[0].revents)
			accept_client();
		for (size_t i = 0; i < conn_order.size(); i++)
			if (conn_order[i]->closing)
				drop_connection(conn_order[i]);
		leave_idle_lockspaces(false);
	}
	log_msg("stopping");
	withdraw_clients(CFS_WITHDRAW_SHUTDOWN);
	close(listen_fd_);
	unlink(config_.socket_path.c_str());
	// With no local mount in any lockspace nothing of ours can need fencing: say so in
	// the lockd group before leaving it, so that nobody fences us. Otherwise the leave
	// is unclean and the survivors fence this node.
	bool mounts = false;
	for (auto &[name, ls] : lockspaces_)
		mounts |= !ls->empty_of_local_mounts();
	if (mounts || !membership_.ready()) {
		log_msg("leaving with lockspaces in use: the other nodes will fence this node");
		return 0;
	}
	for (auto &c : conns_)
		c->joined.clear();
	leave_idle_lockspaces(true);
	membership_.clean_leave();
	double deadline = now_seconds() + 5;
	while (!membership_.clean_leave_done() && now_seconds() < deadline) {
		membership_.flush();
		pollfd pfd{membership_.fd(), POLLIN, 0};
		if (poll(&pfd, 1, 100) > 0 && !membership_.dispatch())
			break;
	}
	log_msg(membership_.clean_leave_done() ? "left the lockd group cleanly"
					       : "clean leave not confirmed: the other nodes may fence this node");
	return 0;
}

void usage(FILE *out)
{
	fprintf(out, "usage: clusterfs_lockd [-f] [-c CONFIG] [-s SOCKET]\n"
		     "  -f         stay in the foreground, log to stderr\n"
		     "  -c CONFIG  configuration file (default /etc/clusterfs/lockd.conf)\n"
		     "  -s SOCKET  serve the lock protocol on SOCKET (overrides socket_path)\n");
}

} // namespace

int main(int argc, char **argv)
{
	std::string config_path = "/etc/clusterfs/lockd.conf", socket_override;
	bool config_given = false;
	int opt;
	while ((opt = getopt(argc, argv, "fc:s:h")) != -1) {
		switch (opt) {
		case 'f': g_log_foreground = true; break;
		case 'c':
			config_path = optarg;
			config_given = true;
			break;
		case 's': socket_override = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	Config config;
	std::string error;
	if (!load_config(config_path, config_given, &config, &error)) {
		fprintf(stderr, "clusterfs_lockd: %s\n", error.c_str());
		return 2;
	}
	if (!socket_override.empty())
		config.socket_path = socket_override;
	if (!g_log_foreground && daemon(0, 0) < 0) {
		perror("clusterfs_lockd: daemon");
		return 1;
	}
	Daemon d(std::move(config));
	g_daemon = &d;
	return d.run();
}
