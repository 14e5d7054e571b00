// Unit tests of the replicated POSIX byte-range lock table (lockd/plock_table.*).
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <map>
#include <random>
#include <set>
#include <string>

#include "plock_table.h"

using namespace clusterfs::lockd;

namespace {

constexpr uint64_t kFile = 42;
constexpr uint64_t kEof = PlockTable::kEndOfFile;

class PlockTest : public ::testing::Test {
protected:
	void SetUp() override { table.set_grants_enabled(true, ev); }

	static MountId M(NodeId n, uint64_t local = 100) { return MountId{n, local}; }

	std::vector<PlockEvent> take()
	{
		auto v = std::move(ev);
		ev.clear();
		return v;
	}
	// The status of the single answer to (mount, seq) among the pending events; consumed.
	int status(MountId m, uint32_t seq)
	{
		int found = 0, st = 1;
		for (auto it = ev.begin(); it != ev.end();) {
			if (it->mount == m && it->seq == seq) {
				found++;
				st = it->status;
				it = ev.erase(it);
			} else {
				++it;
			}
		}
		EXPECT_EQ(found, 1) << "answers to seq " << seq;
		return st;
	}
	bool answered(MountId m, uint32_t seq) const
	{
		for (const auto &e : ev)
			if (e.mount == m && e.seq == seq)
				return true;
		return false;
	}
	// lock() and its immediate answer (1 if none yet: queued).
	int lock(MountId m, uint64_t owner, uint64_t start, uint64_t end, bool write, bool wait = false,
		 uint32_t pid = 0, uint64_t file = kFile)
	{
		uint32_t seq = next_seq++;
		last_seq = seq;
		table.lock(m, seq, file, owner, pid ? pid : static_cast<uint32_t>(1000 + owner), start, end, write, wait, ev);
		if (!answered(m, seq))
			return 1;
		return status(m, seq);
	}
	void unlock(MountId m, uint64_t owner, uint64_t start, uint64_t end, uint64_t file = kFile)
	{
		uint32_t seq = next_seq++;
		table.unlock(m, seq, file, owner, start, end, ev);
		EXPECT_EQ(status(m, seq), 0);
	}
	// The locks `owner` of mount `m` holds on kFile as "start-end:r/w" strings.
	std::vector<std::string> held(MountId m, uint64_t owner)
	{
		std::vector<std::string> v;
		for (const auto &f : table.files())
			if (f.number == kFile)
				for (const auto &l : f.held)
					if (l.owner == PlockOwner{m, owner})
						v.push_back(std::to_string(l.start) + "-" +
							    (l.end == kEof ? std::string("eof") : std::to_string(l.end)) +
							    (l.write ? ":w" : ":r"));
		return v;
	}
	using V = std::vector<std::string>;

	PlockTable table;
	std::vector<PlockEvent> ev;
	uint32_t next_seq = 1;
	uint32_t last_seq = 0;
};

TEST_F(PlockTest, ReadReadShareReadWriteAndWriteWriteConflict)
{
	EXPECT_EQ(lock(M(1), 1, 0, 99, false), 0);
	EXPECT_EQ(lock(M(2), 1, 50, 150, false), 0) << "two read locks share";
	EXPECT_EQ(lock(M(2), 2, 90, 90, true), -EAGAIN) << "write over a read of another owner";
	EXPECT_EQ(lock(M(2), 2, 100, 149, true), -EAGAIN) << "write over node 2 owner 1's read (another owner)";
	EXPECT_EQ(lock(M(3), 1, 200, 299, true), 0) << "disjoint write";
	EXPECT_EQ(lock(M(1), 2, 299, 299, false), -EAGAIN) << "read over a write";
	EXPECT_EQ(lock(M(1), 2, 299, 299, true), -EAGAIN) << "write over a write";
	EXPECT_EQ(lock(M(1), 2, 300, kEof, true), 0) << "adjacent, not overlapping";
	EXPECT_EQ(lock(M(1), 3, 0, 0, true, false, 0, kFile + 1), 0) << "another file";
}

TEST_F(PlockTest, SameOwnerNeverConflictsDifferentOwnersOnOneMountDo)
{
	EXPECT_EQ(lock(M(1), 7, 0, 99, true), 0);
	EXPECT_EQ(lock(M(1), 7, 50, 60, true), 0);
	EXPECT_EQ(lock(M(1), 7, 0, kEof, false), 0);
	EXPECT_EQ(lock(M(1), 8, 10, 10, true), -EAGAIN) << "another owner of the same mount";
	EXPECT_EQ(lock(M(2), 7, 10, 10, true), -EAGAIN) << "the same owner cookie on another mount is another owner";
}

TEST_F(PlockTest, UnlockOfAMiddleRangeSplits)
{
	ASSERT_EQ(lock(M(1), 1, 0, 99, true), 0);
	unlock(M(1), 1, 40, 59);
	EXPECT_EQ(held(M(1), 1), (V{"0-39:w", "60-99:w"}));
	EXPECT_EQ(lock(M(2), 1, 40, 59, true), 0) << "the hole is free";
	EXPECT_EQ(lock(M(2), 2, 39, 39, false), -EAGAIN);
	EXPECT_EQ(lock(M(2), 2, 60, 60, false), -EAGAIN);
	unlock(M(1), 1, 0, kEof);
	EXPECT_EQ(held(M(1), 1), V{});
}

TEST_F(PlockTest, LockOverOwnLockOfOtherTypeConvertsThatPart)
{
	ASSERT_EQ(lock(M(1), 1, 0, 99, true), 0);
	ASSERT_EQ(lock(M(1), 1, 20, 29, false), 0);
	EXPECT_EQ(held(M(1), 1), (V{"0-19:w", "20-29:r", "30-99:w"}));
	EXPECT_EQ(lock(M(2), 1, 25, 25, false), 0) << "the converted part is shared now";
	EXPECT_EQ(lock(M(2), 1, 30, 30, false), -EAGAIN) << "the rest is still written";
	// Converting back over a range another owner reads conflicts.
	EXPECT_EQ(lock(M(1), 1, 0, 99, true), -EAGAIN);
	EXPECT_EQ(held(M(1), 1), (V{"0-19:w", "20-29:r", "30-99:w"})) << "a failed lock changes nothing";
}

TEST_F(PlockTest, AdjacentAndOverlappingSameTypeRangesMerge)
{
	ASSERT_EQ(lock(M(1), 1, 0, 9, false), 0);
	ASSERT_EQ(lock(M(1), 1, 10, 19, false), 0);
	EXPECT_EQ(held(M(1), 1), (V{"0-19:r"}));
	ASSERT_EQ(lock(M(1), 1, 30, 39, false), 0);
	ASSERT_EQ(lock(M(1), 1, 15, 34, false), 0);
	EXPECT_EQ(held(M(1), 1), (V{"0-39:r"}));
	ASSERT_EQ(lock(M(1), 1, 40, kEof, true), 0);
	EXPECT_EQ(held(M(1), 1), (V{"0-39:r", "40-eof:w"})) << "different types stay apart";
	ASSERT_EQ(lock(M(1), 1, 0, kEof, true), 0);
	EXPECT_EQ(held(M(1), 1), (V{"0-eof:w"}));
}

TEST_F(PlockTest, WaitQueuesAndIsGrantedOnUnlockWithItsOwnSeq)
{
	ASSERT_EQ(lock(M(1), 1, 0, 99, true), 0);
	ASSERT_EQ(lock(M(2), 1, 50, 50, false, true), 1) << "queued";
	uint32_t waiter = last_seq;
	EXPECT_EQ(table.waiting_count(), 1u);
	unlock(M(1), 1, 0, 49);
	EXPECT_FALSE(answered(M(2), waiter)) << "still blocked by 50-99";
	unlock(M(1), 1, 50, 99);
	EXPECT_EQ(status(M(2), waiter), 0);
	EXPECT_EQ(held(M(2), 1), (V{"50-50:r"}));
	EXPECT_EQ(table.waiting_count(), 0u);
}

TEST_F(PlockTest, WaitersAreGrantedInFifoOrder)
{
	ASSERT_EQ(lock(M(1), 1, 0, 0, true), 0);
	ASSERT_EQ(lock(M(2), 1, 0, 0, true, true), 1);
	uint32_t first = last_seq;
	ASSERT_EQ(lock(M(3), 1, 0, 0, true, true), 1);
	uint32_t second = last_seq;
	unlock(M(1), 1, 0, 0);
	EXPECT_EQ(status(M(2), first), 0);
	EXPECT_FALSE(answered(M(3), second));
	unlock(M(2), 1, 0, 0);
	EXPECT_EQ(status(M(3), second), 0);
}

TEST_F(PlockTest, WaiterIsGrantedPastAnEarlierBlockedOne)
{
	ASSERT_EQ(lock(M(1), 1, 0, 9, true), 0);
	ASSERT_EQ(lock(M(1), 2, 10, 19, true), 0);
	ASSERT_EQ(lock(M(2), 1, 0, 19, true, true), 1); // needs both released
	uint32_t blocked = last_seq;
	ASSERT_EQ(lock(M(3), 1, 0, 9, false, true), 1);
	uint32_t later = last_seq;
	unlock(M(1), 1, 0, 9);
	EXPECT_FALSE(answered(M(2), blocked));
	EXPECT_EQ(status(M(3), later), 0);
}

TEST_F(PlockTest, CancelOfQueuedWaiterAnswersEcanceledCancelOfGrantedDoesNothing)
{
	ASSERT_EQ(lock(M(1), 1, 0, 0, true), 0);
	ASSERT_EQ(lock(M(2), 1, 0, 0, true, true), 1);
	uint32_t waiter = last_seq;
	table.cancel(M(2), waiter, ev);
	EXPECT_EQ(status(M(2), waiter), -ECANCELED);
	EXPECT_EQ(table.waiting_count(), 0u);
	unlock(M(1), 1, 0, 0);
	EXPECT_TRUE(take().empty()) << "the cancelled waiter is not granted";
	ASSERT_EQ(lock(M(2), 1, 0, 0, true, true), 0);
	uint32_t granted = last_seq;
	table.cancel(M(2), granted, ev);
	EXPECT_TRUE(take().empty());
	EXPECT_EQ(held(M(2), 1), (V{"0-0:w"}));
	table.cancel(M(3), waiter, ev); // another mount's seq: nothing
	EXPECT_TRUE(take().empty());
}

TEST_F(PlockTest, TwoOwnerCycleAcrossTwoMountsIsEdeadlk)
{
	ASSERT_EQ(lock(M(1), 1, 0, 0, true), 0);
	ASSERT_EQ(lock(M(2), 1, 10, 10, true), 0);
	ASSERT_EQ(lock(M(1), 1, 10, 10, true, true), 1) << "owner (1,1) waits for (2,1)";
	uint32_t first = last_seq;
	EXPECT_EQ(lock(M(2), 1, 0, 0, true, true), -EDEADLK) << "(2,1) would wait for (1,1)";
	EXPECT_EQ(table.waiting_count(), 1u) << "the failing request is not queued";
	// The same owner cookie on a third mount is another owner: no cycle.
	EXPECT_EQ(lock(M(3), 1, 0, 0, true, true), 1);
	uint32_t third = last_seq;
	unlock(M(2), 1, 10, 10);
	EXPECT_EQ(status(M(1), first), 0);
	unlock(M(1), 1, 0, kEof);
	EXPECT_EQ(status(M(3), third), 0);
}

TEST_F(PlockTest, ThreeOwnerCycleIsEdeadlk)
{
	ASSERT_EQ(lock(M(1), 1, 1, 1, true), 0);
	ASSERT_EQ(lock(M(2), 1, 2, 2, true), 0);
	ASSERT_EQ(lock(M(3), 1, 3, 3, true), 0);
	ASSERT_EQ(lock(M(1), 1, 2, 2, true, true), 1);
	ASSERT_EQ(lock(M(2), 1, 3, 3, true, true), 1);
	EXPECT_EQ(lock(M(3), 1, 1, 1, false, true), -EDEADLK);
}

TEST_F(PlockTest, MountGoneReleasesItsLocksAndGrantsWaiters)
{
	ASSERT_EQ(lock(M(1), 1, 0, 99, true), 0);
	ASSERT_EQ(lock(M(1), 2, 200, 299, true), 0);
	ASSERT_EQ(lock(M(2), 1, 500, 500, true), 0);
	ASSERT_EQ(lock(M(1), 3, 500, 500, true, true), 1); // a waiter of the leaving mount
	ASSERT_EQ(lock(M(2), 2, 50, 250, true, true), 1);
	uint32_t waiter = last_seq;
	table.mount_gone(M(1), ev);
	EXPECT_EQ(status(M(2), waiter), 0);
	EXPECT_TRUE(take().empty()) << "the gone mount's waiter is dropped without an answer";
	for (const auto &f : table.files()) {
		for (const auto &l : f.held)
			EXPECT_NE(l.owner.mount, M(1));
		EXPECT_TRUE(f.waiting.empty());
	}
}

TEST_F(PlockTest, NodeDownKeepsItsLocksButDropsItsWaitersNodeFencedReleases)
{
	ASSERT_EQ(lock(M(1), 1, 0, 0, true), 0);
	ASSERT_EQ(lock(M(2), 1, 5, 5, true), 0);
	ASSERT_EQ(lock(M(2), 1, 0, 0, true, true), 1); // node 2 waits for node 1
	ASSERT_EQ(lock(M(3), 1, 5, 5, true, true), 1); // node 3 waits for node 2
	uint32_t waiter3 = last_seq;
	table.node_down(2);
	EXPECT_TRUE(take().empty());
	EXPECT_EQ(table.waiting_count(), 1u) << "only node 3's waiter is left";
	EXPECT_EQ(lock(M(1), 2, 5, 5, false), -EAGAIN) << "the dead node's lock still blocks";
	unlock(M(1), 1, 0, 0);
	EXPECT_TRUE(take().empty()) << "the dead node's waiter was dropped, nothing to grant";
	table.node_fenced(2, ev);
	EXPECT_EQ(status(M(3), waiter3), 0);
	EXPECT_EQ(held(M(2), 1), V{});
}

TEST_F(PlockTest, GetReportsTheConflictingLockWithPidAndNode)
{
	ASSERT_EQ(lock(M(1), 1, 0, 9, false, false, 4711), 0);
	ASSERT_EQ(lock(M(2), 1, 100, kEof, true, false, 815), 0);
	auto g = table.get(kFile, M(3), 1, 0, 0, false);
	EXPECT_FALSE(g) << "read vs read";
	g = table.get(kFile, M(3), 1, 5, 5, true);
	ASSERT_TRUE(g);
	EXPECT_EQ(g->owner.mount.node, 1u);
	EXPECT_EQ(g->pid, 4711u);
	EXPECT_EQ(g->start, 0u);
	EXPECT_EQ(g->end, 9u);
	EXPECT_FALSE(g->write);
	g = table.get(kFile, M(3), 1, 50, 1000, false);
	ASSERT_TRUE(g);
	EXPECT_EQ(g->owner.mount.node, 2u);
	EXPECT_EQ(g->pid, 815u);
	EXPECT_EQ(g->end, kEof);
	EXPECT_TRUE(g->write);
	EXPECT_FALSE(table.get(kFile, M(2), 1, 100, 200, true)) << "the asker's own lock is no conflict";
	EXPECT_FALSE(table.get(kFile + 1, M(3), 1, 0, kEof, true));
}

TEST_F(PlockTest, MalformedRangesAreEinval)
{
	EXPECT_EQ(lock(M(1), 1, 10, 9, true), -EINVAL);
	EXPECT_EQ(lock(M(1), 1, 0, uint64_t{INT64_MAX} + 1, true), -EINVAL);
	EXPECT_EQ(lock(M(1), 1, uint64_t{INT64_MAX} + 1, kEof, true), -EINVAL);
	EXPECT_EQ(lock(M(1), 1, uint64_t{INT64_MAX}, kEof, true), 0);
	EXPECT_EQ(lock(M(1), 2, 0, uint64_t{INT64_MAX} - 1, false), 0);
}

TEST_F(PlockTest, GrantsDisabledQueueWaitersFailOthersUnlockWorks)
{
	ASSERT_EQ(lock(M(1), 1, 0, 0, true), 0);
	table.set_grants_enabled(false, ev);
	EXPECT_EQ(lock(M(2), 1, 10, 10, true), -ENOLCK) << "no conflict, but nothing may be granted";
	EXPECT_EQ(lock(M(2), 1, 0, 0, true), -EAGAIN) << "a conflict is still a conflict";
	ASSERT_EQ(lock(M(2), 1, 10, 10, true, true), 1);
	uint32_t waiter = last_seq;
	unlock(M(1), 1, 0, 0);
	EXPECT_EQ(held(M(1), 1), V{});
	EXPECT_FALSE(answered(M(2), waiter));
	table.set_grants_enabled(true, ev);
	EXPECT_EQ(status(M(2), waiter), 0);
}

TEST_F(PlockTest, EncodeDecodeRoundTripEquals)
{
	ASSERT_EQ(lock(M(1), 1, 0, 99, true), 0);
	ASSERT_EQ(lock(M(1), 1, 20, 29, false), 0);
	ASSERT_EQ(lock(M(2, 7), 3, 1000, kEof, false, false, 99), 0);
	ASSERT_EQ(lock(M(3), 1, 50, 50, false, true), 1);
	ASSERT_EQ(lock(M(3), 2, 1000, 1000, true, true), 1);
	ASSERT_EQ(lock(M(1), 1, 5, 5, true, false, 0, 7), 0);
	wire::Writer w;
	table.encode(w);
	PlockTable copy;
	wire::Reader r(w.data().data(), w.size());
	ASSERT_TRUE(copy.decode(r));
	EXPECT_TRUE(r.at_end());
	EXPECT_EQ(copy.files(), table.files());
	EXPECT_EQ(copy.grants_enabled(), table.grants_enabled());
	wire::Writer again;
	copy.encode(again);
	EXPECT_EQ(again.data(), w.data());
	// The copy behaves alike: releasing grants the same waiters with the same seqs.
	std::vector<PlockEvent> ev_copy;
	copy.unlock(M(1), 900, kFile, 1, 0, kEof, ev_copy);
	table.unlock(M(1), 900, kFile, 1, 0, kEof, ev);
	ASSERT_EQ(ev.size(), ev_copy.size());
	for (size_t i = 0; i < ev.size(); i++) {
		EXPECT_EQ(ev[i].mount, ev_copy[i].mount);
		EXPECT_EQ(ev[i].seq, ev_copy[i].seq);
		EXPECT_EQ(ev[i].status, ev_copy[i].status);
	}
	// Truncated input is refused and leaves the table empty.
	for (size_t cut : {size_t{0}, size_t{5}, w.size() / 2, w.size() - 1}) {
		PlockTable t;
		wire::Reader tr(w.data().data(), cut);
		EXPECT_FALSE(t.decode(tr)) << "cut at " << cut;
		EXPECT_TRUE(t.files().empty());
	}
}

// Random operations against a byte-map model: per owner, per byte, the lock type it holds.
TEST_F(PlockTest, RandomOperationsMatchAByteModel)
{
	constexpr uint64_t kBytes = 24;
	std::mt19937 rng(12345);
	std::map<std::pair<uint32_t, uint64_t>, std::array<int, kBytes>> model; // (node, owner) -> 0 none, 1 r, 2 w
	auto conflict_in_model = [&](uint32_t node, uint64_t owner, uint64_t s, uint64_t e, bool write) {
		for (auto &[who, bytes] : model)
			if (who != std::make_pair(node, owner))
				for (uint64_t b = s; b <= e; b++)
					if (bytes[b] && (write || bytes[b] == 2))
						return true;
		return false;
	};
	for (int step = 0; step < 4000; step++) {
		uint32_t node = 1 + rng() % 3;
		uint64_t owner = rng() % 2;
		uint64_t s = rng() % kBytes, e = s + rng() % (kBytes - s);
		bool write = rng() % 2;
		auto &bytes = model.try_emplace({node, owner}).first->second;
		if (rng() % 3) {
			bool c = conflict_in_model(node, owner, s, e, write);
			ASSERT_EQ(lock(M(node), owner, s, e, write), c ? -EAGAIN : 0) << "step " << step;
			if (!c)
				for (uint64_t b = s; b <= e; b++)
					bytes[b] = write ? 2 : 1;
		} else {
			unlock(M(node), owner, s, e);
			for (uint64_t b = s; b <= e; b++)
				bytes[b] = 0;
		}
		// The table's segments: disjoint, merged when adjacent with one type, equal to the model.
		std::map<std::pair<uint32_t, uint64_t>, std::array<int, kBytes>> seen;
		std::map<std::pair<uint32_t, uint64_t>, std::pair<uint64_t, bool>> last_end;
		for (const auto &f : table.files())
			for (const auto &l : f.held) {
				auto who = std::make_pair(l.owner.mount.node, l.owner.owner);
				auto &sb = seen.try_emplace(who).first->second;
				auto le = last_end.find(who);
				if (le != last_end.end()) {
					ASSERT_FALSE(le->second.first + 1 == l.start && le->second.second == l.write)
						<< "unmerged neighbours at step " << step;
				}
				last_end[who] = {l.end, l.write};
				for (uint64_t b = l.start; b <= l.end; b++) {
					ASSERT_EQ(sb[b], 0) << "overlap at step " << step;
					sb[b] = l.write ? 2 : 1;
				}
			}
		for (auto &[who, mb] : model) {
			std::array<int, kBytes> empty{};
			auto it = seen.find(who);
			ASSERT_EQ(it == seen.end() ? empty : it->second, mb) << "step " << step;
		}
	}
}

// Random waits, cancels, leaves, deaths and fencing over 3 nodes, 2 mounts each, 2 files:
// after every step no two owners hold conflicting ranges, no queued request could be
// granted (the retry reached its fixpoint), every request is answered at most once, and
// the table survives an encode/decode round trip unchanged.
TEST_F(PlockTest, RandomWaitersKeepTheInvariants)
{
	for (uint32_t seed = 1; seed <= 40; seed++) {
		PlockTable t;
		std::vector<PlockEvent> out;
		t.set_grants_enabled(true, out);
		std::mt19937 rng(seed);
		std::map<std::pair<MountId, uint32_t>, int> answers;
		std::set<NodeId> down;
		uint32_t seq = 1;
		for (int step = 0; step < 300; step++) {
			NodeId node = 1 + rng() % 3;
			MountId m{node, 100 + rng() % 2};
			uint64_t file = rng() % 2, owner = rng() % 2, s0 = rng() % 16, e0 = s0 + rng() % 8;
			bool alive = !down.count(node);
			switch (rng() % 10) {
			case 0: case 1: case 2: case 3:
				if (alive)
					t.lock(m, seq++, file, owner, 1, s0, e0, rng() % 2, rng() % 2, out);
				break;
			case 4: case 5: case 6:
				if (alive)
					t.unlock(m, seq++, file, owner, s0, e0, out);
				break;
			case 7:
				if (alive && seq > 1)
					t.cancel(m, 1 + rng() % (seq - 1), out);
				break;
			case 8:
				if (alive)
					t.mount_gone(m, out);
				break;
			case 9:
				if (alive) {
					t.node_down(node);
					down.insert(node);
				} else {
					t.node_fenced(node, out);
					down.erase(node);
				}
				break;
			}
			for (const auto &e : out)
				ASSERT_EQ(++answers[std::make_pair(e.mount, e.seq)], 1) << "seed " << seed << " step " << step;
			out.clear();
			for (const auto &f : t.files()) {
				for (size_t i = 0; i < f.held.size(); i++)
					for (size_t j = i + 1; j < f.held.size(); j++) {
						const auto &a = f.held[i], &b = f.held[j];
						bool clash = a.owner != b.owner && a.start <= b.end && b.start <= a.end &&
							     (a.write || b.write);
						ASSERT_FALSE(clash) << "seed " << seed << " step " << step;
					}
				for (const auto &w : f.waiting) {
					ASSERT_FALSE(down.count(w.mount.node)) << "a dead node's request stayed queued";
					bool blocked = false;
					for (const auto &h : f.held)
						blocked |= h.owner != w.lock.owner && h.start <= w.lock.end &&
							   w.lock.start <= h.end && (h.write || w.lock.write);
					ASSERT_TRUE(blocked) << "a grantable request stayed queued: seed " << seed << " step "
							     << step;
				}
			}
			wire::Writer wr;
			t.encode(wr);
			PlockTable copy;
			wire::Reader rd(wr.data().data(), wr.size());
			ASSERT_TRUE(copy.decode(rd));
			ASSERT_EQ(copy.files(), t.files());
		}
	}
}

} // namespace
