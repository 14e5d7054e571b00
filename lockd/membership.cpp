// The cluster-wide lockd group: who must be fenced, and fencing it (see membership.h).
#include "membership.h"

#include <corosync/cpg.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util.h"

namespace clusterfs::lockd {

namespace {

constexpr uint32_t kMagic = 0x4d444b4c; // "LKDM"

enum class MOp : uint8_t {
	Hello = 1,        // u8 stale
	State = 2,        // u32 target, state
	CleanLeave = 3,   //
	Fenced = 4,       // u32 node, u8 manual
	Refuse = 5,       // u32 node, u64 incarnation
	Quorate = 6,      // u64 view
	StartupFence = 7, // u32 count, u32 nodes...
	LsJoin = 8,       // str lockspace
	LsLeave = 9,      // str lockspace, u8 lost (we were its last member and it held dead state)
	LsRefounded = 10, // str lockspace
};

constexpr size_t kMaxName = 256;

void put_set(wire::Writer &w, const std::set<uint32_t> &s)
{
	w.u32(static_cast<uint32_t>(s.size()));
	for (uint32_t n : s)
		w.u32(n);
}

std::set<uint32_t> get_set(wire::Reader &r)
{
	std::set<uint32_t> s;
	uint32_t n = r.u32();
	for (uint32_t i = 0; i < n && r.ok(); i++)
		s.insert(r.u32());
	return s;
}

std::string list(const std::set<uint32_t> &s)
{
	std::string out;
	for (uint32_t n : s)
		out += (out.empty() ? "" : " ") + std::to_string(n);
	return out;
}

} // namespace

Membership::Membership(MembershipHost &host, TransportFactory transport)
	: host_(host), incarnation_(random_u64()), transport_(transport("clusterfs:lockd", *this))
{
}

bool Membership::start(std::string *error)
{
	if (!transport_->join(error))
		return false;
	log_msg("lockd group: joining (incarnation %016llx)", static_cast<unsigned long long>(incarnation_));
	return true;
}

void Membership::queue(const std::vector<uint8_t> &op)
{
	wire::Writer w;
	w.u32(kMagic);
	w.u64(incarnation_);
	w.bytes(op.data(), op.size());
	outgoing_.push_back(w.take());
}

void Membership::queue_hello()
{
	wire::Writer w;
	w.u8(static_cast<uint8_t>(MOp::Hello));
	w.u8(stale_);
	announced_stale_ = stale_;
	queue(w.take());
}

void Membership::flush()
{
	while (!outgoing_.empty()) {
		auto result = transport_->multicast(outgoing_.front());
		if (result == GroupTransport::SendResult::Retry)
			return;
		if (result == GroupTransport::SendResult::Lost)
			host_.fatal_corosync("multicast (lockd group)");
		outgoing_.erase(outgoing_.begin());
	}
}

// Nobody can hand us the group's state: we start it. Nodes of the nodelist that are not
// here yet may hold anything (a daemon that died before we came): unless they show up,
// or corosync shows them alive, they are fenced after startup_fencing_delay.
void Membership::found(const char *why)
{
	have_state_ = true;
	log_msg("lockd group: %s", why);
	if (!host_.config().startup_fencing)
		return;
	for (uint32_t n : corosync_nodelist())
		if (!members_.count(n))
			startup_candidates_.insert(n);
	if (!startup_candidates_.empty()) {
		startup_deadline_ = now_seconds() + host_.config().startup_fencing_delay;
		log_msg("lockd group: startup fencing of node(s) %s unless they join or are cluster members within %d s",
			list(startup_candidates_).c_str(), host_.config().startup_fencing_delay);
	}
}

void Membership::on_membership(const std::vector<GroupTransport::Member> &members,
			       const std::vector<GroupTransport::Member> &left,
			       const std::vector<GroupTransport::Member> &joined)
{
	uint32_t me = host_.node_id();
	members_.clear();
	for (const auto &m : members)
		members_.insert(m.node);
	std::vector<uint32_t> left_nodes, joined_nodes;
	bool i_joined = false;
	for (const auto &m : left)
		left_nodes.push_back(m.node);
	for (const auto &m : joined) {
		joined_nodes.push_back(m.node);
		if (m.node == me && m.pid == static_cast<uint32_t>(getpid()))
			i_joined = true;
	}
	if (i_joined) {
		for (const auto &m : members)
			if (std::find(joined_nodes.begin(), joined_nodes.end(), m.node) == joined_nodes.end())
				join_old_members_.insert(m.node);
		if (join_old_members_.empty()) {
			view_ = 1;
			found("founded the group (no other lockd running)");
		}
		queue_hello();
		return;
	}
	if (!have_state_) {
		buffered_.push_back(Buffered{true, 0, {}, left_nodes, joined_nodes});
		for (uint32_t n : left_nodes)
			join_old_members_.erase(n);
		if (join_old_members_.empty()) {
			// Every old member left before handing us the state. What they knew is lost:
			// found afresh (startup fencing covers nodes nobody vouches for); the old
			// members' own leaves are applied below from the buffer.
			view_ = 1;
			found("every member holding the group's state left before sending it: starting afresh");
			auto buffered = std::move(buffered_);
			buffered_.clear();
			for (auto &b : buffered) {
				if (b.is_confchg) {
					// Their Hellos may not have reached us: treat each as a live incarnation.
					for (uint32_t n : b.left)
						if (!incarnations_.count(n) && n != me)
							incarnations_[n] = 0;
					apply_confchg(b.left, b.joined);
				} else {
					apply_message(b.sender, b.bytes.data(), b.bytes.size());
				}
			}
		}
		return;
	}
	apply_confchg(left_nodes, joined_nodes);
	if (!joined_nodes.empty()) {
		// Everybody re-announces its incarnation (a merging partition's members are told
		// apart from fresh daemons); the lowest old member sends the joiners the state as
		// it is at this point of the order, every old member keeps a copy in case it dies.
		queue_hello();
		std::vector<uint8_t> state = encode_state();
		uint32_t lowest_old = 0;
		for (uint32_t n : members_)
			if (std::find(joined_nodes.begin(), joined_nodes.end(), n) == joined_nodes.end() &&
			    !joining_.count(n) && (!lowest_old || n < lowest_old))
				lowest_old = n;
		for (uint32_t target : joined_nodes) {
			held_states_[target] = state;
			if (lowest_old == me) {
				wire::Writer w;
				w.u8(static_cast<uint8_t>(MOp::State));
				w.u32(target);
				w.bytes(state.data(), state.size());
				queue(w.take());
			}
		}
	}
	if (!left_nodes.empty() && !held_states_.empty()) {
		// The sender may have left: the lowest remaining old member resends.
		bool resend = lowest_with_state() == me;
		for (auto it = held_states_.begin(); it != held_states_.end();) {
			if (!members_.count(it->first)) {
				it = held_states_.erase(it);
				continue;
			}
			if (resend) {
				wire::Writer w;
				w.u8(static_cast<uint8_t>(MOp::State));
				w.u32(it->first);
				w.bytes(it->second.data(), it->second.size());
				queue(w.take());
			}
			++it;
		}
	}
}

// A membership change at the same point of the order on every member with state.
void Membership::apply_confchg(const std::vector<uint32_t> &left, const std::vector<uint32_t> &joined)
{
	view_++;
	for (uint32_t n : joined) {
		joining_.insert(n);
		startup_candidates_.erase(n);
		log_msg("lockd group: node %u joined", n);
	}
	for (uint32_t n : left) {
		joining_.erase(n);
		auto inc = incarnations_.find(n);
		if (clean_leaving_.erase(n)) {
			log_msg("lockd group: node %u left cleanly", n);
			if (inc != incarnations_.end())
				incarnations_.erase(inc);
			// It announced leaving its lockspaces first; nothing of it remains in them.
			for (auto it = ls_members_.begin(); it != ls_members_.end();)
				it = it->second.erase(n) && it->second.empty() ? ls_members_.erase(it) : std::next(it);
		} else if (inc != incarnations_.end()) {
			for (auto it = ls_members_.begin(); it != ls_members_.end();) {
				if (it->second.erase(n) && it->second.empty()) {
					log_msg("lockd group: node %u died as the last member of lockspace %s: its table is lost",
						n, it->first.c_str());
					lost_lockspaces_.insert(it->first);
				}
				it = it->second.empty() ? ls_members_.erase(it) : std::next(it);
			}
			dead_incarnations_.insert({n, inc->second});
			incarnations_.erase(inc);
			if (pending_.insert(n).second)
				log_msg("lockd group: node %u left uncleanly: it must be fenced before any lockspace is "
					"founded or joined",
					n);
		} else {
			// Never announced itself (or was already declared dead and came back stale):
			// nothing it could hold is new.
			log_msg("lockd group: node %u left (no live incarnation: nothing new to fence)", n);
		}
	}
	if (!left.empty())
		stale_ = true;
}

void Membership::on_deliver(uint32_t sender, const uint8_t *p, size_t len)
{
	if (have_state_) {
		apply_message(sender, p, len);
		return;
	}
	wire::Reader r(p, len);
	if (r.u32() == kMagic) {
		r.u64();
		if (r.u8() == static_cast<uint8_t>(MOp::State) && r.u32() == host_.node_id()) {
			if (!load_state(r)) {
				log_msg("lockd group: malformed state from node %u", sender);
				return;
			}
			have_state_ = true;
			joining_.erase(host_.node_id());
			log_msg("lockd group: state received from node %u (awaiting fence: %s); replaying %zu events",
				sender, pending_.empty() ? "none" : list(pending_).c_str(), buffered_.size());
			auto buffered = std::move(buffered_);
			buffered_.clear();
			for (auto &b : buffered) {
				if (b.is_confchg)
					apply_confchg(b.left, b.joined);
				else
					apply_message(b.sender, b.bytes.data(), b.bytes.size());
			}
			return;
		}
	}
	buffered_.push_back(Buffered{false, sender, std::vector<uint8_t>(p, p + len), {}, {}});
}

void Membership::apply_message(uint32_t sender, const uint8_t *p, size_t len)
{
	uint32_t me = host_.node_id();
	wire::Reader r(p, len);
	if (r.u32() != kMagic)
		return;
	uint64_t inc = r.u64();
	MOp op = static_cast<MOp>(r.u8());
	bool trusted = !dead_incarnations_.count({sender, inc});
	switch (op) {
	case MOp::Hello: {
		bool sender_stale = r.u8();
		if (!r.ok())
			break;
		if (sender == me && inc == incarnation_)
			hello_seen_ = true;
		if (trusted) {
			incarnations_[sender] = inc;
			break;
		}
		// A partition merged back: the sender's daemon is one we declared dead (rule:
		// wins_partition_merge).
		bool we_win = wins_partition_merge(announced_stale_, sender_stale, me, sender);
		if (!refused_ && we_win) {
			log_msg("lockd group: node %u came back with state from before it was declared dead: refusing it",
				sender);
			wire::Writer w;
			w.u8(static_cast<uint8_t>(MOp::Refuse));
			w.u32(sender);
			w.u64(inc);
			queue(w.take());
		}
		break;
	}
	case MOp::State: {
		uint32_t target = r.u32();
		if (r.ok()) {
			held_states_.erase(target);
			joining_.erase(target);
		}
		break;
	}
	case MOp::CleanLeave:
		if (!trusted)
			break;
		clean_leaving_.insert(sender);
		if (sender == me && inc == incarnation_)
			clean_leave_delivered_ = true;
		break;
	case MOp::Fenced: {
		uint32_t node = r.u32();
		bool manual = r.u8();
		if (!r.ok() || !trusted || (!pending_.count(node) && !manual))
			break;
		pending_.erase(node);
		fenced_ever_.insert(node);
		fenced_at_[node] = now_seconds();
		log_msg("lockd group: node %u fenced%s (reported by node %u)", node,
			manual ? " (acknowledged by hand)" : "", sender);
		if (fence_target_ == node && fence_child_ < 0) {
			fence_target_ = 0;
			fence_attempts_ = 0;
			fence_last_result_.clear();
		}
		break;
	}
	case MOp::Refuse: {
		uint32_t node = r.u32();
		uint64_t target_inc = r.u64();
		if (r.ok() && node == me && target_inc == incarnation_ && !refused_) {
			refused_ = true;
			log_msg("lockd group: the cluster declared this node dead while it was cut off: withdrawing every "
				"client and exiting (this node will be fenced)");
			host_.refused_by_cluster();
		}
		break;
	}
	case MOp::Quorate: {
		uint64_t view = r.u64();
		if (r.ok() && trusted && view == view_)
			stale_ = false;
		break;
	}
	case MOp::StartupFence: {
		std::set<uint32_t> nodes = get_set(r);
		if (!r.ok() || !trusted)
			break;
		for (uint32_t n : nodes)
			if (startup_candidates_.count(n) && !members_.count(n) && pending_.insert(n).second)
				log_msg("lockd group: startup fencing: node %u never joined and is not a cluster member", n);
		startup_candidates_.clear();
		break;
	}
	case MOp::LsJoin:
	case MOp::LsLeave:
	case MOp::LsRefounded: {
		std::string name = r.str(kMaxName);
		bool lost = op == MOp::LsLeave && r.u8();
		if (!r.ok() || !trusted)
			break;
		if (op == MOp::LsJoin) {
			ls_members_[name].insert(sender);
		} else if (op == MOp::LsLeave) {
			auto it = ls_members_.find(name);
			if (it != ls_members_.end() && it->second.erase(sender) && it->second.empty()) {
				ls_members_.erase(it);
				if (lost) {
					log_msg("lockd group: node %u left lockspace %s last, with a dead node's state: its table is lost",
						sender, name.c_str());
					lost_lockspaces_.insert(name);
				}
			}
		} else {
			lost_lockspaces_.erase(name);
		}
		break;
	}
	default:
		log_msg("lockd group: unknown message %u from node %u", static_cast<unsigned>(op), sender);
	}
}

std::vector<uint8_t> Membership::encode_state() const
{
	wire::Writer w;
	w.u64(view_);
	w.u8(stale_);
	put_set(w, pending_);
	put_set(w, fenced_ever_);
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
	put_set(w, joining_);
	put_set(w, clean_leaving_);
	put_set(w, startup_candidates_);
	w.u32(static_cast<uint32_t>(ls_members_.size()));
	for (auto &[name, nodes] : ls_members_) {
		w.str(name);
		put_set(w, nodes);
	}
	w.u32(static_cast<uint32_t>(lost_lockspaces_.size()));
	for (auto &name : lost_lockspaces_)
		w.str(name);
	return w.take();
}

bool Membership::load_state(wire::Reader &r)
{
	view_ = r.u64();
	stale_ = r.u8();
	pending_ = get_set(r);
	fenced_ever_ = get_set(r);
	uint32_t n = r.u32();
	for (uint32_t i = 0; i < n && r.ok(); i++) {
		uint32_t node = r.u32();
		incarnations_[node] = r.u64();
	}
	n = r.u32();
	for (uint32_t i = 0; i < n && r.ok(); i++) {
		uint32_t node = r.u32();
		dead_incarnations_.insert({node, r.u64()});
	}
	joining_ = get_set(r);
	clean_leaving_ = get_set(r);
	startup_candidates_ = get_set(r);
	n = r.u32();
	for (uint32_t i = 0; i < n && r.ok(); i++) {
		std::string name = r.str(kMaxName);
		ls_members_[name] = get_set(r);
	}
	n = r.u32();
	for (uint32_t i = 0; i < n && r.ok(); i++)
		lost_lockspaces_.insert(r.str(kMaxName));
	if (!startup_candidates_.empty())
		startup_deadline_ = now_seconds() + host_.config().startup_fencing_delay;
	return r.ok() && r.at_end();
}

uint32_t Membership::lowest_with_state() const
{
	for (uint32_t n : members_)
		if (!joining_.count(n))
			return n;
	return 0;
}

bool Membership::is_fencer() const
{
	return have_state_ && !refused_ && host_.quorate() && lowest_with_state() == host_.node_id();
}

// Work that depends on time and local state: confirm quorum after a loss, startup
// fencing, and running the fence agent (one node at a time, lowest id first).
void Membership::tick()
{
	if (!is_fencer())
		return;
	if (stale_ && quorate_proposed_view_ != view_) {
		wire::Writer w;
		w.u8(static_cast<uint8_t>(MOp::Quorate));
		w.u64(view_);
		queue(w.take());
		quorate_proposed_view_ = view_;
	}
	double now = now_seconds();
	if (!startup_candidates_.empty() && now >= startup_deadline_ && now >= startup_next_proposal_) {
		std::set<uint32_t> victims;
		for (uint32_t n : startup_candidates_)
			if (!members_.count(n) && !host_.corosync_members().count(n))
				victims.insert(n);
		wire::Writer w;
		w.u8(static_cast<uint8_t>(MOp::StartupFence));
		put_set(w, victims);
		queue(w.take());
		startup_next_proposal_ = now + 5;
	}
	if (fence_child_ >= 0 || pending_.empty() || now < fence_next_try_)
		return;
	if (host_.config().fence_command.empty())
		return; // waits for clusterfs_tool fence-ack
	start_fence_agent();
}

void Membership::start_fence_agent()
{
	const auto &cmd = host_.config().fence_command;
	fence_target_ = *pending_.begin();
	fence_attempts_++;
	std::vector<std::string> args = cmd;
	args.push_back(std::to_string(fence_target_));
	args.push_back(corosync_node_name(fence_target_));
	log_msg("lockd group: fencing node %u (attempt %d): %s", fence_target_, fence_attempts_, cmd[0].c_str());
	pid_t pid = fork();
	if (pid == 0) {
		std::vector<char *> argv;
		for (auto &a : args)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		execvp(argv[0], argv.data());
		fprintf(stderr, "clusterfs_lockd: cannot run fence command %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		log_msg("fork for fence command: %s", strerror(errno));
		fence_next_try_ = now_seconds() + host_.config().fence_retry_seconds;
		return;
	}
	fence_child_ = pid;
}

void Membership::child_exited(pid_t pid, int status)
{
	if (pid != fence_child_)
		return;
	fence_child_ = -1;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	fence_last_result_ = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
					       : "signal " + std::to_string(WTERMSIG(status));
	if (ok) {
		log_msg("lockd group: fence agent succeeded for node %u", fence_target_);
		wire::Writer w;
		w.u8(static_cast<uint8_t>(MOp::Fenced));
		w.u32(fence_target_);
		w.u8(0);
		queue(w.take());
		fence_next_try_ = now_seconds() + 1; // until the result is delivered
		return;
	}
	log_msg("lockd group: fencing node %u FAILED (%s); retrying in %d s", fence_target_, fence_last_result_.c_str(),
		host_.config().fence_retry_seconds);
	fence_next_try_ = now_seconds() + host_.config().fence_retry_seconds;
}

bool Membership::fence_ack(uint32_t node, bool awaited_elsewhere)
{
	if (!have_state_ || (!pending_.count(node) && !awaited_elsewhere))
		return false;
	wire::Writer w;
	w.u8(static_cast<uint8_t>(MOp::Fenced));
	w.u32(node);
	w.u8(1);
	queue(w.take());
	return true;
}

void Membership::clean_leave()
{
	wire::Writer w;
	w.u8(static_cast<uint8_t>(MOp::CleanLeave));
	queue(w.take());
}

void Membership::announce_lockspace(const std::string &name, bool joined, bool lost)
{
	wire::Writer w;
	w.u8(static_cast<uint8_t>(joined ? MOp::LsJoin : MOp::LsLeave));
	w.str(name);
	if (!joined)
		w.u8(lost);
	queue(w.take());
}

void Membership::lockspace_refounded(const std::string &name)
{
	wire::Writer w;
	w.u8(static_cast<uint8_t>(MOp::LsRefounded));
	w.str(name);
	queue(w.take());
}

void Membership::append_json(std::string &out) const
{
	out += "{\"state\":\"" + std::string(refused_ ? "refused" : !have_state_ ? "joining" : "member") +
	       "\",\"members\":[";
	bool first = true;
	for (uint32_t n : members_) {
		out += (first ? "" : ",") + std::to_string(n);
		first = false;
	}
	out += "],\"awaiting_fence\":[";
	first = true;
	for (uint32_t n : pending_) {
		out += (first ? "" : ",") + std::to_string(n);
		first = false;
	}
	out += "],\"fencer\":" + std::to_string(lowest_with_state()) + ",\"fencing\":";
	if (fence_child_ >= 0 || fence_attempts_)
		out += "{\"node\":" + std::to_string(fence_target_) + ",\"attempts\":" + std::to_string(fence_attempts_) +
		       ",\"running\":" + (fence_child_ >= 0 ? "true" : "false") + ",\"last_result\":\"" +
		       json_escape(fence_last_result_) + "\"}";
	else
		out += "null";
	out += "}";
}

void Membership::append_text(std::string &out) const
{
	out += std::string("lockd group: ") + (refused_ ? "REFUSED" : !have_state_ ? "joining" : "member") +
	       ", members:";
	for (uint32_t n : members_)
		out += " " + std::to_string(n);
	out += "\n";
	for (uint32_t n : pending_)
		out += "  node " + std::to_string(n) + " awaits fencing" +
		       (host_.config().fence_command.empty()
			       ? " (no fence_command: run clusterfs_tool fence-ack " + std::to_string(n) + ")"
			       : "") +
		       "; no lockspace is founded or joined until then\n";
	if (fence_child_ >= 0 || fence_attempts_)
		out += "  fencing node " + std::to_string(fence_target_) + ": attempt " + std::to_string(fence_attempts_) +
		       (fence_child_ >= 0 ? " running" : ", last result " + fence_last_result_) + "\n";
}

} // namespace clusterfs::lockd
