// A lockspace's replication (lockspace.h): CPG membership changes and deliveries,
// batches of operations and snapshots applied in agreed order, table digests, the
// quorum gate and fencing (tick), and the routing of applied events to this node's
// clients. Apart from the daemon because all of it runs at a point of the agreed order,
// identically on every member.
#include "lockspace.h"

#include <corosync/cpg.h> // CPG_REASON_LEAVE
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "client_proto.h"
#include "daemon.h"
#include "membership.h"

namespace clusterfs::lockd {

// ---- Lockspace ----

bool Lockspace::start(std::string *error)
{
	if (!transport_->join(error))
		return false;
	// Every lockd of a lockspace owns alike (the decision is replicated state).
	table_.enable_ownership(d_.node_id());
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

void Lockspace::submit(LockOp op)
{
	if (op.kind != LockOp::Kind::Request) {
		auto ll = locks_.find(op.id.local);
		if (ll != locks_.end())
			op.resource = ll->second.resource;
	}
	if (have_state_ && !refused_ && !inflight_.count(op.resource)) {
		std::vector<Event> ev;
		if (table_.local(op, ev)) {
			counts_.local++;
			route(ev);
			return;
		}
	}
	counts_.multicast++;
	inflight_[op.resource]++;
	wire::Writer w;
	w.u8(static_cast<uint8_t>(Op::Operation));
	encode_lock_op(w, op);
	queue_op(w.take());
}

// Resources a local mount owns but no longer uses are handed back after a while, so
// that the table does not grow with every name ever used and another node's first use
// costs no recall. One publish each (batched into few multicasts), at most a bounded
// number per pass.
void Lockspace::publish_idle_owned(double now)
{
	constexpr double kIdleSeconds = 30, kCheckEvery = 5;
	constexpr size_t kMaxPerPass = 4096;
	if (now - idle_checked_ < kCheckEvery)
		return;
	idle_checked_ = now;
	std::map<std::string, double> still_idle;
	size_t sent = 0;
	for (const std::string &name : table_.idle_owned()) {
		auto it = idle_owned_since_.find(name);
		double since = it == idle_owned_since_.end() ? now : it->second;
		if (now - since >= kIdleSeconds && sent < kMaxPerPass && !inflight_.count(name)) {
			wire::Writer w;
			w.u8(static_cast<uint8_t>(Op::Publish));
			if (table_.encode_publish(name, w)) {
				queue_op(w.take());
				counts_.publishes++;
				sent++;
				continue;
			}
		}
		still_idle[name] = since;
	}
	idle_owned_since_ = std::move(still_idle);
}

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
	case Op::Operation: {
		LockOp lop;
		if (!decode_lock_op(r, lop))
			break;
		// A node speaks only for its own mounts and locks.
		lop.mount.node = sender;
		lop.id.node = sender;
		if (sender == me) {
			auto it = inflight_.find(lop.resource);
			if (it != inflight_.end() && --it->second == 0)
				inflight_.erase(it);
		}
		if (trusted_)
			table_.apply(lop, ev);
		break;
	}
	case Op::Publish:
		if (trusted_ && !table_.publish(sender, r, ev))
			r.fail();
		break;
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
		if (e.kind == Event::Kind::Recall) {
			// Another mount wants a resource one of ours owns (whether or not that mount
			// is still connected): hand its state back to every member.
			counts_.recalls++;
			wire::Writer w;
			w.u8(static_cast<uint8_t>(Op::Publish));
			if (table_.encode_publish(e.resource, w)) {
				queue_op(w.take());
				counts_.publishes++;
			}
			continue;
		}
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
		case Event::Kind::Recall:
			break; // above
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
	publish_idle_owned(now_seconds());
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

} // namespace clusterfs::lockd
