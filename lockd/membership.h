// The cluster-wide lockd group and fencing (docs/locking.md, "Node death, fencing and
// recovery"). Every clusterfs_lockd joins one CPG group, "clusterfs:lockd", at start,
// whatever lockspaces it uses. A member that leaves it uncleanly (lockd or corosync died,
// network cut) is fenced exactly once, by the lowest quorate member that holds the
// group's state, whatever lockspaces the survivors hold. The group's state (who awaits
// fencing, who was fenced, whose incarnation is dead) is replicated in agreed order; a
// joiner receives it from an old member before it may found or join any lockspace.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config.h"
#include "transport.h"
#include "wire.h"

namespace clusterfs::lockd {

// What the group needs from the daemon around it.
class MembershipHost {
public:
	virtual ~MembershipHost() = default;
	virtual uint32_t node_id() const = 0;
	virtual bool quorate() const = 0;
	virtual const Config &config() const = 0;
	// Nodes corosync's quorum service lists as members now.
	virtual const std::set<uint32_t> &corosync_members() const = 0;
	virtual void note_totem_ring(uint64_t seq) = 0;
	virtual void fatal_corosync(const char *what) = 0;
	// The cluster declared this daemon dead while it was cut off: tell every client to
	// withdraw and exit (the survivors fence this node).
	virtual void refused_by_cluster() = 0;
};

class Membership final : public GroupTransport::Listener {
public:
	using TransportFactory =
		std::function<std::unique_ptr<GroupTransport>(const std::string &group, GroupTransport::Listener &)>;
	// `transport`: how to reach the group (CPG unless a test passes another).
	explicit Membership(MembershipHost &host, TransportFactory transport = make_cpg_transport);
	bool start(std::string *error);
	int fd() const { return transport_->fd(); }
	bool dispatch() { return transport_->dispatch(); }
	void flush();
	bool has_pending_output() const { return !outgoing_.empty(); }
	void tick();
	bool owns_child(pid_t pid) const { return fence_child_ == pid; }
	void child_exited(pid_t pid, int status);

	// True once this daemon knows the group's state (and its own Hello is through):
	// before that nobody can tell whether a fence is pending.
	bool ready() const { return have_state_ && hello_seen_ && !refused_; }
	const std::set<uint32_t> &pending() const { return pending_; }
	bool fence_pending(uint32_t node) const { return pending_.count(node) != 0; }
	// Was `node` fenced (its Fenced applied here) after local time `t`?
	bool fenced_after(uint32_t node, double t) const
	{
		auto it = fenced_at_.find(node);
		return it != fenced_at_.end() && it->second > t;
	}
	bool fenced_ever(uint32_t node) const { return fenced_ever_.count(node) != 0; }
	// Operator's acknowledgement (clusterfs_tool fence-ack): false if the node is not
	// pending here and not `awaited_elsewhere` (by a lockspace's table).
	bool fence_ack(uint32_t node, bool awaited_elsewhere);
	// Announces a clean leave (nothing of ours needs fencing). clean_leave_done() once
	// it was delivered back to us.
	void clean_leave();
	// Which daemons are in which lockspace, so that a lockspace whose last member died is
	// known to have lost its table (its next founder then replays every journal).
	void announce_lockspace(const std::string &name, bool joined, bool lost);
	bool lockspace_lost(const std::string &name) const { return lost_lockspaces_.count(name) != 0; }
	void lockspace_refounded(const std::string &name);
	bool clean_leave_done() const { return clean_leave_delivered_; }

	void append_json(std::string &out) const;
	void append_text(std::string &out) const;

	// GroupTransport::Listener
	void on_deliver(uint32_t sender, const uint8_t *data, size_t len) override;
	void on_membership(const std::vector<GroupTransport::Member> &members,
			   const std::vector<GroupTransport::Member> &left,
			   const std::vector<GroupTransport::Member> &joined) override;
	void on_ring(uint64_t ring_seq) override { host_.note_totem_ring(ring_seq); }

private:
	struct Buffered {
		bool is_confchg;
		uint32_t sender;
		std::vector<uint8_t> bytes;
		std::vector<uint32_t> left, joined;
	};
	void apply_confchg(const std::vector<uint32_t> &left, const std::vector<uint32_t> &joined);
	void apply_message(uint32_t sender, const uint8_t *p, size_t len);
	void queue(const std::vector<uint8_t> &op);
	void queue_hello();
	std::vector<uint8_t> encode_state() const;
	bool load_state(wire::Reader &r);
	void found(const char *why);
	uint32_t lowest_with_state() const;
	bool is_fencer() const;
	void start_fence_agent();

	MembershipHost &host_;
	uint64_t incarnation_;
	std::unique_ptr<GroupTransport> transport_;
	std::vector<std::vector<uint8_t>> outgoing_;

	// Replicated (identical on every member with state; sent to joiners).
	uint64_t view_ = 0;
	bool stale_ = false; // members left and the group has not been quorate since
	std::set<uint32_t> pending_;      // left uncleanly, not fenced yet
	std::set<uint32_t> fenced_ever_;  // fenced at least once in the group's history
	std::map<uint32_t, uint64_t> incarnations_;
	std::set<std::pair<uint32_t, uint64_t>> dead_incarnations_;
	std::set<uint32_t> joining_;      // joined, state not delivered to them yet
	std::set<uint32_t> clean_leaving_;
	std::set<uint32_t> startup_candidates_; // nodelist nodes nobody can vouch for
	std::map<std::string, std::set<uint32_t>> ls_members_;
	std::set<std::string> lost_lockspaces_;

	// Local.
	std::set<uint32_t> members_;
	bool have_state_ = false, hello_seen_ = false, refused_ = false;
	bool announced_stale_ = false; // the stale flag of our latest Hello
	std::set<uint32_t> join_old_members_;
	std::vector<Buffered> buffered_;
	std::map<uint32_t, std::vector<uint8_t>> held_states_; // joiner -> state at its join
	std::map<uint32_t, double> fenced_at_;
	uint64_t quorate_proposed_view_ = ~0ull;
	double startup_deadline_ = 0, startup_next_proposal_ = 0;
	bool clean_leave_delivered_ = false;
	pid_t fence_child_ = -1;
	uint32_t fence_target_ = 0;
	double fence_next_try_ = 0;
	int fence_attempts_ = 0;
	std::string fence_last_result_;
};

} // namespace clusterfs::lockd
