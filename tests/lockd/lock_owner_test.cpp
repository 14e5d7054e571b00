// Unit and property tests of resource ownership in lockd's table (LockTable::local,
// recall and publish, owner death): several copies of one table, one per simulated
// node, fed the same agreed operations, each owner's local operations applied to its own
// copy only, as clusterfs_lockd does (docs/lockd-ownership.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <map>
#include <random>
#include <set>

#include "lock_table.h"

using namespace clusterfs::lockd;

namespace {

constexpr uint32_t kJournals = 4;

MountId M(NodeId n) { return MountId{n, 100}; }
LockId L(NodeId n, uint64_t id) { return LockId{n, id}; }

std::vector<uint8_t> encoded(const LockTable &t)
{
	wire::Writer w;
	t.encode(w);
	return w.take();
}

// One copy of the table per node; events are kept per node, only those addressed to
// that node's mounts (what its lockd routes).
class Cluster {
public:
	explicit Cluster(int nodes)
	{
		for (NodeId n = 1; n <= static_cast<NodeId>(nodes); n++) {
			tables[n].enable_ownership(n);
			live.insert(n);
		}
		for (auto &[n, t] : tables) {
			std::vector<Event> ev;
			t.set_grants_enabled(true, ev);
		}
		for (NodeId n : live)
			agreed([&](LockTable &t, std::vector<Event> &ev) { t.join(M(n), kJournals, L(n, 1000000 + n), ev); });
		take_all();
	}

	// An agreed operation: every live copy applies it; then every copy must encode alike.
	template <class F> void agreed(F f)
	{
		for (NodeId n : live) {
			std::vector<Event> ev;
			f(tables[n], ev);
			keep(n, ev);
		}
		check_copies_agree();
	}
	void agreed_op(const LockOp &op)
	{
		agreed([&](LockTable &t, std::vector<Event> &ev) { t.apply(op, ev); });
	}
	// A local operation on node n's copy: true when applied there.
	bool local_op(NodeId n, const LockOp &op)
	{
		std::vector<Event> ev;
		bool done = tables[n].local(op, ev);
		keep(n, ev);
		return done;
	}
	// The publish node n's lockd sends for a recall: built on its copy, applied by all.
	bool publish(NodeId n, const std::string &name)
	{
		wire::Writer w;
		if (!tables[n].encode_publish(name, w))
			return false;
		auto bytes = w.take();
		agreed([&](LockTable &t, std::vector<Event> &ev) {
			wire::Reader r(bytes.data(), bytes.size());
			ASSERT_TRUE(t.publish(n, r, ev));
		});
		return true;
	}
	void kill(NodeId n)
	{
		live.erase(n);
		agreed([&](LockTable &t, std::vector<Event> &ev) { t.node_down(n, ev); });
	}

	void check_copies_agree() const
	{
		const std::vector<uint8_t> *first = nullptr;
		for (NodeId n : live) {
			const auto &bytes = snapshots[n] = encoded(tables.at(n));
			if (!first)
				first = &bytes;
			else
				EXPECT_EQ(*first, bytes) << "copy of node " << n << " diverged";
		}
	}

	std::vector<Event> take(NodeId n) { return std::exchange(events[n], {}); }
	void take_all()
	{
		for (auto &[n, e] : events)
			e.clear();
	}
	const Event *completion(NodeId n, LockId id) const
	{
		auto it = events.find(n);
		if (it == events.end())
			return nullptr;
		for (const Event &e : it->second)
			if (e.kind == Event::Kind::Complete && e.lock == id)
				return &e;
		return nullptr;
	}
	int count(NodeId n, Event::Kind kind) const
	{
		auto it = events.find(n);
		return it == events.end() ? 0
					  : static_cast<int>(std::count_if(it->second.begin(), it->second.end(),
									   [&](const Event &e) { return e.kind == kind; }));
	}

	std::map<NodeId, LockTable> tables;
	std::set<NodeId> live;
	std::map<NodeId, std::vector<Event>> events;
	mutable std::map<NodeId, std::vector<uint8_t>> snapshots;

private:
	void keep(NodeId n, const std::vector<Event> &ev)
	{
		for (const Event &e : ev)
			if (e.mount.node == n)
				events[n].push_back(e);
	}
};

LockOp request(NodeId n, uint64_t id, const std::string &res, Mode mode, uint32_t flags = 0)
{
	return LockOp{LockOp::Kind::Request, M(n), L(n, id), res, mode, flags, {}};
}
LockOp convert(NodeId n, uint64_t id, const std::string &res, Mode mode, uint32_t flags = 0)
{
	return LockOp{LockOp::Kind::Convert, M(n), L(n, id), res, mode, flags, {}};
}
LockOp unlock(NodeId n, uint64_t id, const std::string &res)
{
	return LockOp{LockOp::Kind::Unlock, M(n), L(n, id), res, kNoMode, 0, {}};
}

TEST(Ownership, SoleHolderOwnsAndWorksLocally)
{
	Cluster c(3);
	c.agreed_op(request(1, 1, "inode/10", CFS_LOCK_EX));
	ASSERT_NE(c.completion(1, L(1, 1)), nullptr);
	EXPECT_EQ(c.completion(1, L(1, 1))->mode, CFS_LOCK_EX);
	for (NodeId n = 1; n <= 3; n++)
		EXPECT_EQ(c.tables[n].owner_of("inode/10"), M(1)) << "node " << n;
	// Only the owner's copy keeps the lock.
	EXPECT_TRUE(c.tables[1].lock(L(1, 1)).has_value());
	EXPECT_FALSE(c.tables[2].lock(L(1, 1)).has_value());
	c.take_all();

	// Down, up, unlock and a new lock: all local, none needs the others.
	EXPECT_TRUE(c.local_op(1, convert(1, 1, "inode/10", CFS_LOCK_PR)));
	EXPECT_EQ(c.completion(1, L(1, 1))->mode, CFS_LOCK_PR);
	EXPECT_TRUE(c.local_op(1, convert(1, 1, "inode/10", CFS_LOCK_EX)));
	EXPECT_TRUE(c.local_op(1, unlock(1, 1, "inode/10")));
	EXPECT_TRUE(c.local_op(1, request(1, 2, "inode/10", CFS_LOCK_PW)));
	EXPECT_EQ(c.completion(1, L(1, 2))->mode, CFS_LOCK_PW);
	// The resource stays owned with no lock (a later re-acquire stays local).
	EXPECT_TRUE(c.local_op(1, unlock(1, 2, "inode/10")));
	EXPECT_EQ(c.tables[1].idle_owned(), std::vector<std::string>{"inode/10"});
	c.check_copies_agree();

	// Another node's mount cannot act locally on it, nor can a tool-less path elsewhere.
	EXPECT_FALSE(c.local_op(2, request(2, 1, "inode/10", CFS_LOCK_PR)));
	// Nor can the owner on a resource it does not own.
	EXPECT_FALSE(c.local_op(1, request(1, 3, "inode/11", CFS_LOCK_PR)));
}

TEST(Ownership, NotTakenWhenShared)
{
	Cluster c(2);
	c.agreed_op(request(1, 1, "dir/1", CFS_LOCK_EX));
	c.agreed_op(request(2, 1, "dir/1", CFS_LOCK_PR)); // recalls: parks until the publish
	EXPECT_EQ(c.count(1, Event::Kind::Recall), 1);
	EXPECT_EQ(c.completion(2, L(2, 1)), nullptr);
	ASSERT_TRUE(c.publish(1, "dir/1"));
	EXPECT_FALSE(c.tables[1].owner_of("dir/1").has_value());
	EXPECT_FALSE(c.tables[2].owner_of("dir/1").has_value());
	// Node 1 is told to release, node 2 waits.
	EXPECT_EQ(c.count(1, Event::Kind::Bast), 1);
	EXPECT_EQ(c.completion(2, L(2, 1)), nullptr);
	c.take_all();
	c.agreed_op(unlock(1, 1, "dir/1"));
	ASSERT_NE(c.completion(2, L(2, 1)), nullptr);
	EXPECT_EQ(c.completion(2, L(2, 1))->mode, CFS_LOCK_PR);
	// Two mounts used it: it stays shared even with one holder left.
	EXPECT_FALSE(c.tables[2].owner_of("dir/1").has_value());
	EXPECT_FALSE(c.local_op(2, convert(2, 1, "dir/1", CFS_LOCK_NL)));
}

TEST(Ownership, RecallPublishesLocalChangesBeforeParkedOps)
{
	Cluster c(3);
	c.agreed_op(request(1, 1, "r", CFS_LOCK_EX));
	ASSERT_TRUE(c.local_op(1, convert(1, 1, "r", CFS_LOCK_PR))); // nobody else knows
	c.take_all();
	c.agreed_op(request(2, 1, "r", CFS_LOCK_PR));
	c.agreed_op(request(3, 1, "r", CFS_LOCK_EX));
	// Parked on every copy, one recall to the owner; local operations stop.
	EXPECT_EQ(c.count(1, Event::Kind::Recall), 1);
	EXPECT_FALSE(c.local_op(1, convert(1, 1, "r", CFS_LOCK_NL)));
	for (NodeId n = 1; n <= 3; n++) {
		bool seen = false;
		for (const auto &v : c.tables[n].resources()) {
			if (v.name != "r")
				continue;
			seen = true;
			EXPECT_TRUE(v.recalling);
			EXPECT_EQ(v.parked, 2u);
		}
		EXPECT_TRUE(seen);
	}
	ASSERT_TRUE(c.publish(1, "r"));
	// PR is compatible with node 1's published PR: granted; node 3's EX waits, both
	// holders are told.
	ASSERT_NE(c.completion(2, L(2, 1)), nullptr);
	EXPECT_EQ(c.completion(2, L(2, 1))->mode, CFS_LOCK_PR);
	EXPECT_EQ(c.completion(3, L(3, 1)), nullptr);
	EXPECT_EQ(c.count(1, Event::Kind::Bast), 1);
	EXPECT_EQ(c.count(2, Event::Kind::Bast), 1);
	// A second publish of the same resource (crossed) changes nothing.
	EXPECT_FALSE(c.publish(1, "r"));
}

TEST(Ownership, OwnersInFlightOpDuringRecallRunsAfterThePublish)
{
	Cluster c(2);
	c.agreed_op(request(1, 1, "r", CFS_LOCK_EX));
	c.take_all();
	c.agreed_op(request(2, 1, "r", CFS_LOCK_EX)); // recall
	c.agreed_op(unlock(1, 1, "r"));                // node 1's, multicast before it saw the recall
	EXPECT_EQ(c.completion(1, L(1, 1)), nullptr);  // parked too
	ASSERT_TRUE(c.publish(1, "r"));
	ASSERT_NE(c.completion(1, L(1, 1)), nullptr);
	EXPECT_EQ(c.completion(1, L(1, 1))->mode, kNoMode);
	ASSERT_NE(c.completion(2, L(2, 1)), nullptr);
	EXPECT_EQ(c.completion(2, L(2, 1))->mode, CFS_LOCK_EX);
}

TEST(Ownership, ReleasedResourceMovesToItsNewSoleUser)
{
	Cluster c(2);
	c.agreed_op(request(1, 1, "r", CFS_LOCK_EX));
	ASSERT_TRUE(c.local_op(1, unlock(1, 1, "r")));
	c.agreed_op(request(2, 1, "r", CFS_LOCK_EX));
	ASSERT_TRUE(c.publish(1, "r")); // empty: node 2's request runs on a free resource
	ASSERT_NE(c.completion(2, L(2, 1)), nullptr);
	EXPECT_EQ(c.tables[1].owner_of("r"), M(2));
	EXPECT_TRUE(c.local_op(2, convert(2, 1, "r", CFS_LOCK_NL)));
}

TEST(Ownership, DeadOwnersResourceIsPinnedUntilItsJournalIsReplayed)
{
	Cluster c(3);
	c.agreed_op(request(1, 1, "r", CFS_LOCK_EX));
	ASSERT_TRUE(c.local_op(1, convert(1, 1, "r", CFS_LOCK_NL))); // the others do not know
	c.agreed_op(request(2, 1, "r", CFS_LOCK_EX));                // parked, recall sent
	c.take_all();
	c.kill(1); // before its publish
	// What node 1 held is unknown: treated as EX, so node 2 still waits.
	EXPECT_EQ(c.completion(2, L(2, 1)), nullptr);
	EXPECT_TRUE(c.tables[2].node_awaiting_fence(1));
	c.agreed([&](LockTable &t, std::vector<Event> &ev) { t.node_fenced(1, ev); });
	EXPECT_EQ(c.completion(2, L(2, 1)), nullptr); // pinned to journal 0
	auto rec = c.tables[2].recoveries();
	ASSERT_EQ(rec.size(), 1u);
	ASSERT_TRUE(rec[0].assigned.has_value());
	MountId replayer = *rec[0].assigned;
	c.agreed([&](LockTable &t, std::vector<Event> &ev) { EXPECT_EQ(t.journal_recovered(replayer, 0, ev), 0); });
	ASSERT_NE(c.completion(2, L(2, 1)), nullptr);
	EXPECT_EQ(c.completion(2, L(2, 1))->mode, CFS_LOCK_EX);
	// The value block was never used: it is not marked invalid, the resource can go.
	EXPECT_FALSE(c.completion(2, L(2, 1))->lvb_invalid);
}

TEST(Ownership, LeavingOwnerFreesItsResources)
{
	Cluster c(2);
	c.agreed_op(request(1, 1, "a", CFS_LOCK_EX));
	c.agreed_op(request(1, 2, "b", CFS_LOCK_PR));
	c.agreed_op(request(2, 1, "b", CFS_LOCK_EX)); // parked on b
	c.take_all();
	c.agreed([&](LockTable &t, std::vector<Event> &ev) { t.leave(M(1), ev); });
	EXPECT_FALSE(c.tables[2].owner_of("a").has_value());
	ASSERT_NE(c.completion(2, L(2, 1)), nullptr);
	EXPECT_EQ(c.completion(2, L(2, 1))->mode, CFS_LOCK_EX);
	// Node 2 is b's sole user now: it owns it.
	EXPECT_EQ(c.tables[1].owner_of("b"), M(2));
}

TEST(Ownership, WithdrawnOwnersResourcesArePinnedToItsJournal)
{
	Cluster c(2);
	c.agreed_op(request(1, 1, "r", CFS_LOCK_EX));
	c.agreed([&](LockTable &t, std::vector<Event> &ev) { t.mount_withdrawn(M(1), ev); });
	c.agreed_op(request(2, 1, "r", CFS_LOCK_PR));
	EXPECT_EQ(c.completion(2, L(2, 1)), nullptr);
	auto rec = c.tables[2].recoveries();
	ASSERT_EQ(rec.size(), 1u);
	ASSERT_TRUE(rec[0].assigned.has_value());
	EXPECT_EQ(*rec[0].assigned, M(2));
	c.agreed([&](LockTable &t, std::vector<Event> &ev) { EXPECT_EQ(t.journal_recovered(M(2), 0, ev), 0); });
	ASSERT_NE(c.completion(2, L(2, 1)), nullptr);
	EXPECT_EQ(c.completion(2, L(2, 1))->mode, CFS_LOCK_PR);
}

TEST(Ownership, ValueBlocksAndToolsAndJournalsAreNeverOwned)
{
	Cluster c(2);
	c.agreed_op(request(1, 1, "counter", CFS_LOCK_EX, CFS_LKF_VALBLK));
	EXPECT_FALSE(c.tables[1].owner_of("counter").has_value());
	// A tool's mount (no journal).
	MountId tool{2, 7};
	c.agreed([&](LockTable &t, std::vector<Event> &ev) { t.join(tool, 0, L(2, 77), ev); });
	c.agreed_op(LockOp{LockOp::Kind::Request, tool, L(2, 78), "t", CFS_LOCK_EX, 0, {}});
	EXPECT_FALSE(c.tables[1].owner_of("t").has_value());
	for (const auto &r : c.tables[1].resources())
		EXPECT_FALSE(r.owner.has_value()) << r.name;
	// An owner's operation with a value block recalls its own resource.
	c.agreed_op(request(1, 2, "plain", CFS_LOCK_EX));
	ASSERT_TRUE(c.tables[1].owner_of("plain").has_value());
	EXPECT_FALSE(c.local_op(1, convert(1, 2, "plain", CFS_LOCK_PR, CFS_LKF_VALBLK)));
	c.take_all();
	c.agreed_op(convert(1, 2, "plain", CFS_LOCK_PR, CFS_LKF_VALBLK));
	EXPECT_EQ(c.count(1, Event::Kind::Recall), 1);
	ASSERT_TRUE(c.publish(1, "plain"));
	EXPECT_FALSE(c.tables[2].owner_of("plain").has_value());
	ASSERT_NE(c.completion(1, L(1, 2)), nullptr);
	EXPECT_EQ(c.completion(1, L(1, 2))->mode, CFS_LOCK_PR);
}

TEST(Ownership, IdleOwnedResourceIsDroppedByItsPublish)
{
	Cluster c(2);
	c.agreed_op(request(1, 1, "idle", CFS_LOCK_EX));
	ASSERT_TRUE(c.local_op(1, unlock(1, 1, "idle")));
	EXPECT_EQ(c.tables[1].idle_owned(), std::vector<std::string>{"idle"});
	EXPECT_TRUE(c.tables[2].idle_owned().empty()); // not node 2's to hand back
	ASSERT_TRUE(c.publish(1, "idle"));
	for (NodeId n = 1; n <= 2; n++)
		for (const auto &r : c.tables[n].resources())
			EXPECT_NE(r.name, "idle") << "node " << n;
	// While a publish is under way the owner works through the agreed order.
	c.agreed_op(request(1, 2, "busy", CFS_LOCK_EX));
	wire::Writer w;
	ASSERT_TRUE(c.tables[1].encode_publish("busy", w));
	EXPECT_FALSE(c.local_op(1, convert(1, 2, "busy", CFS_LOCK_NL)));
}

TEST(Ownership, SnapshotCarriesOwnersAndParkedOps)
{
	Cluster c(2);
	c.agreed_op(request(1, 1, "r", CFS_LOCK_EX));
	c.agreed_op(request(2, 1, "r", CFS_LOCK_PR)); // parked
	auto bytes = encoded(c.tables[2]);
	LockTable joiner;
	joiner.enable_ownership(3);
	wire::Reader r(bytes.data(), bytes.size());
	ASSERT_TRUE(joiner.decode(r));
	EXPECT_TRUE(joiner.ownership_enabled());
	EXPECT_EQ(joiner.owner_of("r"), M(1));
	EXPECT_EQ(encoded(joiner), bytes);
	// The joiner then applies the publish as the others do.
	c.tables[3] = std::move(joiner);
	c.live.insert(3);
	ASSERT_TRUE(c.publish(1, "r"));
	EXPECT_FALSE(c.tables[3].owner_of("r").has_value());
}

// ---- property: random traffic, owners' local work, recalls and deaths ----

// A simulated lockd per node: a lock operation of its mount is applied locally when the
// table allows it and none of its multicast operations on that resource is still in
// flight; otherwise it is multicast (queued in the one agreed order). A Recall makes it
// queue a publish. Clients: one lock per (node, resource), released on a callback.
class Simulation {
public:
	Simulation(uint32_t seed, int nodes) : rng(seed), c(nodes)
	{
		for (NodeId n = 1; n <= static_cast<NodeId>(nodes); n++)
			node_ids.push_back(n);
	}

	struct Pending {
		NodeId sender;
		bool is_publish;
		LockOp op;
		std::vector<uint8_t> publish;
		std::string resource;
	};

	void run(int steps)
	{
		for (int step = 0; step < steps && !::testing::Test::HasFatalFailure(); step++) {
			int what = std::uniform_int_distribution<int>(0, 99)(rng);
			if (what < 45)
				client_step();
			else if (what < 90 || stats.kills + 1 >= node_ids.size())
				deliver();
			else
				kill_one();
			check_safety();
		}
		// Drain: everything in flight is delivered, every dead node is fenced and its
		// journal replayed.
		for (int i = 0; i < 10000 && !queue.empty(); i++) {
			deliver();
			check_safety();
		}
	}

private:
	void send(NodeId n, const LockOp &op)
	{
		if (!inflight[{n, op.resource}] && c.local_op(n, op)) {
			stats.local++;
			handle_events(n);
			return;
		}
		stats.multicast++;
		inflight[{n, op.resource}]++;
		queue.push_back(Pending{n, false, op, {}, op.resource});
	}

	void client_step()
	{
		NodeId n = node_ids[std::uniform_int_distribution<size_t>(0, node_ids.size() - 1)(rng)];
		if (!c.live.count(n))
			return;
		std::string res = "r" + std::to_string(std::uniform_int_distribution<int>(0, 3)(rng));
		auto &cl = clients[{n, res}];
		if (cl.busy)
			return;
		static const Mode modes[] = {CFS_LOCK_NL, CFS_LOCK_PR, CFS_LOCK_PW, CFS_LOCK_EX};
		Mode want = modes[std::uniform_int_distribution<int>(0, 3)(rng)];
		if (!cl.exists) {
			cl.id = ++next_id;
			cl.exists = true;
			cl.busy = true;
			send(n, LockOp{LockOp::Kind::Request, M(n), L(n, cl.id), res, want, 0, {}});
		} else if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
			cl.busy = true;
			cl.held = kNoMode; // stops using it when it asks to release
			send(n, LockOp{LockOp::Kind::Unlock, M(n), L(n, cl.id), res, kNoMode, 0, {}});
		} else if (want != cl.held) {
			cl.busy = true;
			if (is_down_conversion(cl.held, want))
				cl.held = want;
			send(n, LockOp{LockOp::Kind::Convert, M(n), L(n, cl.id), res, want, 0, {}});
		}
	}

	void deliver()
	{
		if (queue.empty())
			return;
		// The agreed order is one order, but which sender's message comes next is random.
		size_t i = std::uniform_int_distribution<size_t>(0, std::min<size_t>(queue.size(), 3) - 1)(rng);
		// Keep each sender's messages in its own order (CPG's guarantee).
		for (size_t k = 0; k < i; k++)
			if (queue[k].sender == queue[i].sender)
				i = k;
		Pending p = queue[i];
		queue.erase(queue.begin() + static_cast<long>(i));
		if (!c.live.count(p.sender))
			return; // lost with its sender
		if (p.is_publish) {
			c.agreed([&](LockTable &t, std::vector<Event> &ev) {
				wire::Reader r(p.publish.data(), p.publish.size());
				ASSERT_TRUE(t.publish(p.sender, r, ev));
			});
		} else {
			c.agreed_op(p.op);
			inflight[{p.sender, p.resource}]--;
		}
		for (NodeId n : c.live)
			handle_events(n);
	}

	void kill_one()
	{
		NodeId n = node_ids[std::uniform_int_distribution<size_t>(0, node_ids.size() - 1)(rng)];
		if (c.live.size() <= 1 || !c.live.count(n))
			return;
		stats.kills++;
		// What its clients held stays held until fencing (all) and replay (PW/EX).
		for (auto &[key, cl] : clients)
			if (key.first == n && cl.exists && cl.held != kNoMode)
				dead_holds.push_back(DeadHold{n, key.second, cl.held});
		for (auto it = clients.begin(); it != clients.end();)
			it = it->first.first == n ? clients.erase(it) : std::next(it);
		for (auto it = queue.begin(); it != queue.end();)
			it = it->sender == n ? queue.erase(it) : std::next(it);
		c.kill(n);
		for (NodeId m : c.live)
			handle_events(m);
		c.agreed([&](LockTable &t, std::vector<Event> &ev) { t.node_fenced(n, ev); });
		dead_holds.erase(std::remove_if(dead_holds.begin(), dead_holds.end(),
						[&](const DeadHold &d) {
							return d.node == n && d.mode != CFS_LOCK_PW && d.mode != CFS_LOCK_EX;
						}),
				 dead_holds.end());
		for (NodeId m : c.live)
			handle_events(m);
	}

	void handle_events(NodeId n)
	{
		for (const Event &e : c.take(n)) {
			switch (e.kind) {
			case Event::Kind::Recall: {
				wire::Writer w;
				stats.recalls++;
				if (c.tables[n].encode_publish(e.resource, w))
					queue.push_back(Pending{n, true, {}, w.take(), e.resource});
				break;
			}
			case Event::Kind::Recover: {
				// Replays at once: the dead node's PW/EX holds end here.
				NodeId dead = e.dead_node;
				std::vector<Event> ev;
				c.agreed([&](LockTable &t, std::vector<Event> &out) {
					EXPECT_EQ(t.journal_recovered(e.mount, e.journal, out), 0);
				});
				dead_holds.erase(std::remove_if(dead_holds.begin(), dead_holds.end(),
								[&](const DeadHold &d) { return d.node == dead; }),
						 dead_holds.end());
				for (NodeId m : c.live)
					if (m != n)
						handle_events(m);
				break;
			}
			case Event::Kind::Complete: {
				for (auto &[key, cl] : clients) {
					if (key.first != n || !cl.exists || L(n, cl.id) != e.lock)
						continue;
					cl.busy = false;
					if (e.mode == kNoMode)
						cl = Client{};
					else
						cl.held = e.mode;
				}
				break;
			}
			case Event::Kind::Bast: {
				for (auto &[key, cl] : clients) {
					if (key.first != n || !cl.exists || L(n, cl.id) != e.lock || cl.busy)
						continue;
					cl.busy = true;
					cl.held = CFS_LOCK_NL;
					send(n, LockOp{LockOp::Kind::Convert, M(n), L(n, cl.id), key.second, CFS_LOCK_NL, 0, {}});
				}
				break;
			}
			case Event::Kind::Joined:
				break;
			}
		}
	}

	// Never two incompatible modes in use at once, counting what dead nodes may still
	// hold until they are fenced (all modes) and their journal replayed (PW/EX).
	void check_safety()
	{
		std::map<std::string, std::vector<std::pair<NodeId, Mode>>> in_use;
		for (const auto &[key, cl] : clients)
			if (cl.exists && cl.held != kNoMode && c.live.count(key.first))
				in_use[key.second].push_back({key.first, cl.held});
		for (const DeadHold &d : dead_holds)
			in_use[d.resource].push_back({d.node, d.mode});
		for (const auto &[res, holders] : in_use)
			for (size_t a = 0; a < holders.size(); a++)
				for (size_t b = a + 1; b < holders.size(); b++)
					ASSERT_TRUE(modes_compatible(holders[a].second, holders[b].second))
						<< res << ": node " << holders[a].first << " uses "
						<< mode_name(holders[a].second) << ", node " << holders[b].first
						<< " uses " << mode_name(holders[b].second);
	}

	struct Client {
		bool exists = false, busy = false;
		uint64_t id = 0;
		Mode held = kNoMode;
	};
	struct DeadHold {
		NodeId node;
		std::string resource;
		Mode mode;
	};
	std::mt19937 rng;
	Cluster c;
	std::vector<NodeId> node_ids;
	std::deque<Pending> queue;
	std::map<std::pair<NodeId, std::string>, int> inflight;
	std::map<std::pair<NodeId, std::string>, Client> clients;
	std::vector<DeadHold> dead_holds;
	uint64_t next_id = 0;

public:
	struct Stats {
		uint64_t local = 0, multicast = 0, recalls = 0, kills = 0;
	} stats;
};

TEST(OwnershipProperty, NeverTwoIncompatibleModesInUse)
{
	Simulation::Stats total;
	for (uint32_t seed = 1; seed <= 1000; seed++) {
		SCOPED_TRACE("seed " + std::to_string(seed));
		Simulation sim(seed, 3);
		sim.run(400);
		if (::testing::Test::HasFatalFailure())
			return;
		total.local += sim.stats.local;
		total.multicast += sim.stats.multicast;
		total.recalls += sim.stats.recalls;
		total.kills += sim.stats.kills;
	}
	// The runs exercised what they are about (local work, recalls, deaths).
	printf("local %llu, multicast %llu, recalls %llu, kills %llu\n", (unsigned long long)total.local,
	       (unsigned long long)total.multicast, (unsigned long long)total.recalls, (unsigned long long)total.kills);
	EXPECT_GT(total.local, 1000u);
	EXPECT_GT(total.recalls, 500u);
	EXPECT_GT(total.kills, 500u);
}

} // namespace
