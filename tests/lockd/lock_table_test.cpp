// Unit tests of lockd's grant state machine (lockd/lock_table.*).
#include <gtest/gtest.h>

#include <cerrno>
#include <random>
#include <set>

#include "lock_table.h"

using namespace clusterfs::lockd;

namespace {

constexpr uint32_t kJournals = 4;

class TableTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		table.set_grants_enabled(true, ev);
		for (NodeId n = 1; n <= 3; n++)
			mount_node(n);
		ev.clear();
	}

	MountId mount_node(NodeId n)
	{
		MountId m{n, 100};
		table.join(m, kJournals, LockId{n, 1000000 + n}, ev);
		return m;
	}
	static MountId M(NodeId n) { return MountId{n, 100}; }
	static LockId L(NodeId n, uint64_t id) { return LockId{n, id}; }

	std::vector<Event> take()
	{
		auto v = std::move(ev);
		ev.clear();
		return v;
	}
	void lock(NodeId n, uint64_t id, const std::string &res, Mode mode, uint32_t flags = 0)
	{
		table.request(M(n), L(n, id), res, mode, flags, ev);
	}
	void convert(NodeId n, uint64_t id, Mode mode, uint32_t flags = 0, Lvb lvb = {})
	{
		table.convert(M(n), L(n, id), mode, flags, lvb, ev);
	}
	void unlock(NodeId n, uint64_t id, uint32_t flags = 0, Lvb lvb = {})
	{
		table.unlock(M(n), L(n, id), flags, lvb, ev);
	}
	Mode granted(NodeId n, uint64_t id)
	{
		auto v = table.lock(L(n, id));
		return v ? v->granted : kNoMode;
	}
	// The single completion for lock (n,id) among the pending events, checked and consumed.
	const Event *completion(NodeId n, uint64_t id)
	{
		for (const Event &e : ev)
			if (e.kind == Event::Kind::Complete && e.lock == L(n, id))
				return &e;
		return nullptr;
	}
	// The RECOVER_JOURNAL events among the pending ones.
	std::vector<Event> recover_events() const
	{
		std::vector<Event> out;
		for (const Event &e : ev)
			if (e.kind == Event::Kind::Recover)
				out.push_back(e);
		return out;
	}
	int basts_to(NodeId n, uint64_t id, Mode mode)
	{
		int count = 0;
		for (const Event &e : ev)
			if (e.kind == Event::Kind::Bast && e.lock == L(n, id) && e.mode == mode)
				count++;
		return count;
	}

	LockTable table;
	std::vector<Event> ev;
};

TEST(Modes, CompatibilityMatrixIsTheDlms)
{
	EXPECT_TRUE(modes_compatible(CFS_LOCK_PR, CFS_LOCK_PR));
	EXPECT_FALSE(modes_compatible(CFS_LOCK_PR, CFS_LOCK_CW));
	EXPECT_TRUE(modes_compatible(CFS_LOCK_CW, CFS_LOCK_CW));
	EXPECT_TRUE(modes_compatible(CFS_LOCK_CR, CFS_LOCK_PW));
	EXPECT_FALSE(modes_compatible(CFS_LOCK_CR, CFS_LOCK_EX));
	for (Mode a = CFS_LOCK_NL; a <= CFS_LOCK_EX; a++) {
		EXPECT_TRUE(modes_compatible(CFS_LOCK_NL, a));
		for (Mode b = CFS_LOCK_NL; b <= CFS_LOCK_EX; b++)
			EXPECT_EQ(modes_compatible(a, b), modes_compatible(b, a));
	}
}

TEST(Modes, DownConversionsAreTheWeakerModes)
{
	EXPECT_TRUE(is_down_conversion(CFS_LOCK_EX, CFS_LOCK_PR));
	EXPECT_TRUE(is_down_conversion(CFS_LOCK_PW, CFS_LOCK_CW));
	EXPECT_TRUE(is_down_conversion(CFS_LOCK_PR, CFS_LOCK_NL));
	EXPECT_FALSE(is_down_conversion(CFS_LOCK_PR, CFS_LOCK_CW));
	EXPECT_FALSE(is_down_conversion(CFS_LOCK_CW, CFS_LOCK_PR));
	EXPECT_FALSE(is_down_conversion(CFS_LOCK_NL, CFS_LOCK_CR));
	EXPECT_EQ(parse_mode("PW"), CFS_LOCK_PW);
	EXPECT_FALSE(parse_mode("XX").has_value());
}

TEST_F(TableTest, JoinTakesLowestFreeJournal)
{
	auto mounts = table.mounts();
	ASSERT_EQ(mounts.size(), 3u);
	EXPECT_EQ(mounts[0].journal, 0);
	EXPECT_EQ(mounts[1].journal, 1);
	EXPECT_EQ(mounts[2].journal, 2);
	table.leave(M(2), ev);
	table.join(MountId{4, 1}, kJournals, L(4, 1), ev);
	auto e = take();
	ASSERT_EQ(e.size(), 1u);
	EXPECT_EQ(e[0].kind, Event::Kind::Joined);
	EXPECT_EQ(e[0].status, 0);
	EXPECT_EQ(e[0].journal, 1u); // the slot node 2 gave back
	table.join(MountId{5, 1}, kJournals, L(5, 1), ev);
	table.join(MountId{6, 1}, kJournals, L(6, 1), ev);
	e = take();
	ASSERT_EQ(e.size(), 2u);
	EXPECT_EQ(e[0].journal, 3u);
	EXPECT_EQ(e[1].status, -ENOSPC);
}

TEST_F(TableTest, JoinWaitsWhileGrantsAreDisabled)
{
	table.set_grants_enabled(false, ev);
	table.join(MountId{4, 1}, kJournals, L(4, 1), ev);
	EXPECT_TRUE(take().empty());
	table.set_grants_enabled(true, ev);
	auto e = take();
	ASSERT_EQ(e.size(), 1u);
	EXPECT_EQ(e[0].kind, Event::Kind::Joined);
	EXPECT_EQ(e[0].journal, 3u);
}

TEST_F(TableTest, CompatibleRequestsAreGrantedAtOnce)
{
	lock(1, 1, "inode:10", CFS_LOCK_PR);
	lock(2, 1, "inode:10", CFS_LOCK_PR);
	lock(3, 1, "inode:10", CFS_LOCK_CR);
	EXPECT_EQ(completion(1, 1)->status, 0);
	EXPECT_EQ(completion(2, 1)->mode, CFS_LOCK_PR);
	EXPECT_EQ(completion(3, 1)->mode, CFS_LOCK_CR);
	EXPECT_EQ(std::count_if(ev.begin(), ev.end(), [](auto &e) { return e.kind == Event::Kind::Bast; }), 0);
}

TEST_F(TableTest, ConflictQueuesSendsBastAndHandsOffOnRelease)
{
	lock(1, 1, "r", CFS_LOCK_EX);
	take();
	lock(2, 1, "r", CFS_LOCK_PR);
	EXPECT_EQ(completion(2, 1), nullptr);
	EXPECT_EQ(basts_to(1, 1, CFS_LOCK_PR), 1);
	take();
	convert(1, 1, CFS_LOCK_PR); // holder demotes: both now share PR
	EXPECT_EQ(completion(1, 1)->mode, CFS_LOCK_PR);
	EXPECT_EQ(completion(2, 1)->mode, CFS_LOCK_PR);
}

TEST_F(TableTest, RepeatedBastsAreSuppressedUntilTheHolderChanges)
{
	lock(1, 1, "r", CFS_LOCK_EX);
	lock(2, 1, "r", CFS_LOCK_EX);
	lock(3, 1, "r", CFS_LOCK_PR); // PR is covered by the EX bast already sent
	EXPECT_EQ(basts_to(1, 1, CFS_LOCK_EX), 1);
	EXPECT_EQ(basts_to(1, 1, CFS_LOCK_PR), 0);
	take();
	unlock(1, 1); // node 2 gets EX, node 3 still waits: node 2 is told once
	EXPECT_EQ(completion(2, 1)->mode, CFS_LOCK_EX);
	EXPECT_EQ(basts_to(2, 1, CFS_LOCK_PR), 1);
	take();
	lock(1, 2, "r", CFS_LOCK_PR);
	EXPECT_EQ(basts_to(2, 1, CFS_LOCK_PR), 0);
}

TEST_F(TableTest, WeakerBastDoesNotCoverStrongerRequest)
{
	lock(1, 1, "r", CFS_LOCK_PR);
	lock(2, 1, "r", CFS_LOCK_CW);
	EXPECT_EQ(basts_to(1, 1, CFS_LOCK_CW), 1);
	lock(3, 1, "r", CFS_LOCK_EX);
	EXPECT_EQ(basts_to(1, 1, CFS_LOCK_EX), 1);
}

TEST_F(TableTest, NoQueueFailsWithoutBasts)
{
	lock(1, 1, "r", CFS_LOCK_EX);
	take();
	lock(2, 1, "r", CFS_LOCK_PR, CFS_LKF_NOQUEUE);
	ASSERT_NE(completion(2, 1), nullptr);
	EXPECT_EQ(completion(2, 1)->status, -EAGAIN);
	EXPECT_EQ(completion(2, 1)->mode, kNoMode);
	EXPECT_EQ(basts_to(1, 1, CFS_LOCK_PR), 0);
	EXPECT_FALSE(table.lock(L(2, 1)).has_value());
	lock(3, 1, "free", CFS_LOCK_EX, CFS_LKF_NOQUEUE);
	EXPECT_EQ(completion(3, 1)->status, 0);
}

TEST_F(TableTest, NoQueueConversionKeepsTheGrantedMode)
{
	lock(1, 1, "r", CFS_LOCK_PR);
	lock(2, 1, "r", CFS_LOCK_PR);
	take();
	convert(1, 1, CFS_LOCK_EX, CFS_LKF_NOQUEUE);
	EXPECT_EQ(completion(1, 1)->status, -EAGAIN);
	EXPECT_EQ(completion(1, 1)->mode, CFS_LOCK_PR);
	EXPECT_EQ(basts_to(2, 1, CFS_LOCK_EX), 0);
}

TEST_F(TableTest, NewRequestsWaitBehindQueuedOnes)
{
	lock(1, 1, "r", CFS_LOCK_PR);
	lock(2, 1, "r", CFS_LOCK_EX); // queued
	lock(3, 1, "r", CFS_LOCK_PR); // compatible with the holder, but must not overtake
	EXPECT_EQ(completion(3, 1), nullptr);
	take();
	unlock(1, 1);
	EXPECT_EQ(completion(2, 1)->mode, CFS_LOCK_EX);
	EXPECT_EQ(completion(3, 1), nullptr);
	take();
	unlock(2, 1);
	EXPECT_EQ(completion(3, 1)->mode, CFS_LOCK_PR);
}

TEST_F(TableTest, ConversionsOvertakeWaiters)
{
	lock(1, 1, "r", CFS_LOCK_PR);
	lock(2, 1, "r", CFS_LOCK_PR);
	lock(3, 1, "r", CFS_LOCK_EX); // waits
	EXPECT_EQ(basts_to(2, 1, CFS_LOCK_EX), 1);
	take();
	convert(1, 1, CFS_LOCK_PW); // blocked by node 2's PR: converting
	EXPECT_EQ(completion(1, 1), nullptr);
	EXPECT_EQ(basts_to(2, 1, CFS_LOCK_PW), 0); // releasing for EX already frees PW
	take();
	unlock(2, 1);
	EXPECT_EQ(completion(1, 1)->mode, CFS_LOCK_PW); // not node 3's EX
	EXPECT_EQ(completion(3, 1), nullptr);
}

TEST_F(TableTest, ConversionDeadlockIsDetectedAtRequest)
{
	lock(1, 1, "r", CFS_LOCK_PR);
	lock(2, 1, "r", CFS_LOCK_PR);
	convert(1, 1, CFS_LOCK_EX);
	take();
	convert(2, 1, CFS_LOCK_EX);
	ASSERT_NE(completion(2, 1), nullptr);
	EXPECT_EQ(completion(2, 1)->status, -EDEADLK);
	EXPECT_EQ(completion(2, 1)->mode, CFS_LOCK_PR);
	take();
	unlock(2, 1); // the loser gives way; the first conversion completes
	EXPECT_EQ(completion(1, 1)->mode, CFS_LOCK_EX);
}

TEST_F(TableTest, CancelWithdrawsQueuedRequestAndConversion)
{
	lock(1, 1, "r", CFS_LOCK_EX);
	lock(2, 1, "r", CFS_LOCK_PR);
	lock(3, 1, "r", CFS_LOCK_NL);
	take();
	table.cancel(M(2), L(2, 1), ev);
	EXPECT_EQ(completion(2, 1)->status, -ECANCELED);
	EXPECT_EQ(completion(2, 1)->mode, kNoMode);
	EXPECT_EQ(completion(3, 1)->mode, CFS_LOCK_NL); // no longer behind node 2
	take();
	convert(3, 1, CFS_LOCK_PR);
	take();
	table.cancel(M(3), L(3, 1), ev);
	EXPECT_EQ(completion(3, 1)->status, -ECANCELED);
	EXPECT_EQ(completion(3, 1)->mode, CFS_LOCK_NL);
	take();
	table.cancel(M(1), L(1, 1), ev); // nothing queued: no event
	EXPECT_TRUE(ev.empty());
}

TEST_F(TableTest, BusyAndUnknownLocksAreRefused)
{
	lock(1, 1, "r", CFS_LOCK_EX);
	lock(2, 1, "r", CFS_LOCK_EX);
	take();
	unlock(2, 1);
	EXPECT_EQ(completion(2, 1)->status, -EBUSY);
	convert(2, 1, CFS_LOCK_PR);
	EXPECT_EQ(completion(2, 1)->status, -EBUSY);
	take();
	unlock(3, 9);
	EXPECT_EQ(completion(3, 9)->status, -ENOENT);
	take();
	table.unlock(M(2), L(1, 1), 0, {}, ev); // another mount's lock
	EXPECT_EQ(completion(1, 1)->status, -ENOENT);
	EXPECT_EQ(granted(1, 1), CFS_LOCK_EX);
	take();
	lock(1, 1, "other", CFS_LOCK_PR);
	EXPECT_EQ(completion(1, 1)->status, -EEXIST);
	take();
	lock(1, 5, "journal/3", CFS_LOCK_EX);
	EXPECT_EQ(completion(1, 5)->status, -EINVAL);
	take();
	table.request(MountId{9, 9}, L(9, 1), "r", CFS_LOCK_NL, 0, ev);
	EXPECT_EQ(completion(9, 1)->status, -ENOENT);
}

TEST_F(TableTest, LvbIsWrittenOnlyFromPwOrExAndReturnedOnGrantUp)
{
	Lvb value{};
	value[0] = 0xab;
	value[31] = 0xcd;
	lock(1, 1, "rgrp:7", CFS_LOCK_PR, CFS_LKF_VALBLK);
	take();
	unlock(1, 1, CFS_LKF_VALBLK, value); // from PR: not written
	lock(1, 2, "rgrp:7", CFS_LOCK_EX, CFS_LKF_VALBLK);
	ASSERT_TRUE(completion(1, 2)->lvb_present);
	EXPECT_EQ(completion(1, 2)->lvb, Lvb{});
	take();
	convert(1, 2, CFS_LOCK_NL, CFS_LKF_VALBLK, value); // down from EX: written
	lock(2, 1, "rgrp:7", CFS_LOCK_PR, CFS_LKF_VALBLK);
	ASSERT_TRUE(completion(2, 1)->lvb_present);
	EXPECT_EQ(completion(2, 1)->lvb, value);
	EXPECT_FALSE(completion(2, 1)->lvb_invalid);
	take();
	lock(3, 1, "rgrp:7", CFS_LOCK_PR); // no VALBLK: nothing returned
	EXPECT_FALSE(completion(3, 1)->lvb_present);
}

TEST_F(TableTest, QueuedRequestsWaitWhileGrantsAreDisabled)
{
	table.set_grants_enabled(false, ev);
	lock(1, 1, "r", CFS_LOCK_EX);
	EXPECT_EQ(completion(1, 1), nullptr);
	lock(2, 1, "q", CFS_LOCK_PR, CFS_LKF_NOQUEUE);
	EXPECT_EQ(completion(2, 1)->status, -EAGAIN);
	take();
	table.set_grants_enabled(true, ev);
	EXPECT_EQ(completion(1, 1)->mode, CFS_LOCK_EX);
}

TEST_F(TableTest, DeadNodesLocksBlockUntilFencedThenPinnedUntilReplayed)
{
	Lvb value{};
	value[3] = 7;
	lock(2, 1, "inode:1", CFS_LOCK_EX, CFS_LKF_VALBLK);
	convert(2, 1, CFS_LOCK_NL, CFS_LKF_VALBLK, value); // LVB = value
	convert(2, 1, CFS_LOCK_EX, CFS_LKF_VALBLK);
	lock(2, 2, "inode:2", CFS_LOCK_PR);
	lock(2, 3, "inode:3", CFS_LOCK_EX);
	lock(2, 4, "inode:4", CFS_LOCK_EX); // node 2's queued request dies with it
	lock(1, 1, "inode:4", CFS_LOCK_PR);
	take();
	lock(2, 5, "inode:4", CFS_LOCK_EX);
	take();

	EXPECT_TRUE(table.node_down(2, ev));
	EXPECT_TRUE(table.node_awaiting_fence(2));
	EXPECT_FALSE(table.lock(L(2, 5)).has_value());
	EXPECT_TRUE(table.lock(L(2, 1))->orphaned);
	take();
	lock(1, 2, "inode:1", CFS_LOCK_PR, CFS_LKF_VALBLK);
	lock(1, 3, "inode:2", CFS_LOCK_EX);
	lock(3, 1, "unrelated", CFS_LOCK_EX);
	EXPECT_EQ(completion(1, 2), nullptr);
	EXPECT_EQ(completion(1, 3), nullptr);
	EXPECT_EQ(completion(3, 1)->mode, CFS_LOCK_EX); // only the dead node's resources wait
	EXPECT_EQ(basts_to(2, 1, CFS_LOCK_PR), 0); // nobody to tell
	take();

	table.node_fenced(2, ev);
	EXPECT_EQ(completion(1, 3)->mode, CFS_LOCK_EX); // PR holder: released at fencing
	EXPECT_EQ(completion(1, 2), nullptr);          // EX holder: pinned until replay
	// Exactly one survivor (the lowest mount) replays journal 1, holding its lock.
	std::vector<Event> recover = recover_events();
	ASSERT_EQ(recover.size(), 1u);
	EXPECT_EQ(recover[0].mount, M(1));
	EXPECT_EQ(recover[0].journal, 1u);
	EXPECT_EQ(recover[0].dead_node, 2u);
	EXPECT_EQ(granted(1, recovery_lock_id(1, 1).local), CFS_LOCK_EX);
	take();

	table.join(MountId{4, 1}, kJournals, L(4, 1), ev); // journal 1 is not free while pending
	EXPECT_EQ(ev[0].journal, 3u);
	take();
	EXPECT_EQ(table.journal_recovered(M(3), 1, ev), -EINVAL);
	EXPECT_EQ(table.journal_recovered(M(1), 1, ev), 0);
	ASSERT_NE(completion(1, 2), nullptr);
	EXPECT_EQ(completion(1, 2)->mode, CFS_LOCK_PR);
	EXPECT_TRUE(completion(1, 2)->lvb_invalid); // EX holder died
	EXPECT_TRUE(table.recoveries().empty());
	EXPECT_EQ(table.lock_count(), 2u /*live journal locks*/ + 1 /*node 4*/ + 3 /*1:1,1:2,1:3*/ + 1 /*3:1*/);
}

TEST_F(TableTest, WithdrawnMountsDirtyLocksWaitForItsJournalWithoutAFence)
{
	lock(2, 1, "inode:1", CFS_LOCK_EX, CFS_LKF_VALBLK);
	lock(2, 2, "inode:2", CFS_LOCK_PR);
	lock(2, 3, "inode:3", CFS_LOCK_PR);
	lock(3, 1, "inode:9", CFS_LOCK_EX);
	lock(2, 4, "inode:9", CFS_LOCK_PR); // queued behind node 3
	lock(1, 9, "inode:3", CFS_LOCK_PR);
	take();
	convert(2, 3, CFS_LOCK_EX); // waits for node 1's PR: abandoned when it withdraws
	EXPECT_EQ(completion(2, 3), nullptr);
	take();

	table.mount_withdrawn(M(2), ev);
	EXPECT_FALSE(table.node_awaiting_fence(2)); // the node vouched: no fence
	EXPECT_FALSE(table.lock(L(2, 4)).has_value());
	EXPECT_FALSE(table.lock(L(2, 2)).has_value());
	EXPECT_FALSE(table.lock(L(2, 3)).has_value()); // held PR: nothing it could have dirtied
	EXPECT_EQ(granted(1, 9), CFS_LOCK_PR);
	ASSERT_TRUE(table.lock(L(2, 1)).has_value());
	EXPECT_EQ(table.lock(L(2, 1))->pinned_journal, 1);
	std::vector<Event> recover = recover_events();
	ASSERT_EQ(recover.size(), 1u);
	EXPECT_EQ(recover[0].mount, M(1));
	EXPECT_EQ(recover[0].journal, 1u);
	EXPECT_EQ(recover[0].dead_node, 2u);
	take();

	lock(1, 1, "inode:1", CFS_LOCK_PR, CFS_LKF_VALBLK);
	lock(3, 2, "inode:2", CFS_LOCK_EX);
	EXPECT_EQ(completion(1, 1), nullptr); // pinned until the journal is replayed
	EXPECT_EQ(completion(3, 2)->mode, CFS_LOCK_EX);
	take();
	table.leave(M(2), ev); // the withdrawn mount's unmount changes nothing
	EXPECT_TRUE(table.lock(L(2, 1)).has_value());
	table.join(MountId{2, 101}, kJournals, L(2, 77), ev); // its node mounts again meanwhile
	ASSERT_EQ(ev.size(), 1u);
	EXPECT_EQ(ev[0].status, 0);
	EXPECT_EQ(ev[0].journal, 3u); // not its old journal: that awaits replay
	take();
	EXPECT_EQ(table.journal_recovered(M(1), 1, ev), 0);
	ASSERT_NE(completion(1, 1), nullptr);
	EXPECT_TRUE(completion(1, 1)->lvb_invalid);
	EXPECT_TRUE(table.recoveries().empty());
}

TEST_F(TableTest, RecoveryAssignedToAWithdrawnMountGoesToTheNextMount)
{
	table.leave(M(1), ev);
	lock(3, 1, "inode:5", CFS_LOCK_EX);
	table.node_down(3, ev);
	table.node_fenced(3, ev);
	ASSERT_EQ(table.recoveries().size(), 1u);
	EXPECT_EQ(table.recoveries()[0].assigned, M(2));
	take();

	table.mount_withdrawn(M(2), ev); // it cannot replay any more
	ASSERT_EQ(table.recoveries().size(), 2u);
	for (const auto &r : table.recoveries())
		EXPECT_FALSE(r.assigned.has_value()); // no live mount with a journal left
	take();
	table.join(M(1), kJournals, L(1, 5), ev);
	std::set<uint32_t> journals;
	for (const Event &e : ev)
		if (e.kind == Event::Kind::Recover) {
			EXPECT_EQ(e.mount, M(1));
			journals.insert(e.journal);
		}
	EXPECT_EQ(journals, (std::set<uint32_t>{1u, 2u}));
	take();
	lock(1, 1, "inode:5", CFS_LOCK_PR);
	EXPECT_EQ(completion(1, 1), nullptr);
	EXPECT_EQ(table.journal_recovered(M(1), 2, ev), 0);
	EXPECT_EQ(completion(1, 1)->mode, CFS_LOCK_PR);
}

TEST_F(TableTest, ToolMountsHaveNoJournalAndAreNeverAskedToRecover)
{
	table.leave(M(1), ev); // the lowest journal mount goes: the tool mount is now lowest
	table.join(MountId{0, 7}, 0, L(0, 7), ev);
	auto e = take();
	ASSERT_EQ(e.size(), 1u);
	EXPECT_EQ(e[0].status, 0);
	EXPECT_EQ(e[0].journal, CFS_NO_JOURNAL);
	table.request(MountId{0, 7}, L(0, 8), "r", CFS_LOCK_EX, 0, ev);
	EXPECT_EQ(completion(0, 8)->mode, CFS_LOCK_EX);
	take();
	table.node_down(3, ev);
	table.node_fenced(3, ev);
	for (const Event &e2 : ev) {
		if (e2.kind == Event::Kind::Recover) {
			EXPECT_EQ(e2.mount, M(2)); // not the tool's mount, though it is lower
		}
	}
	ASSERT_EQ(table.recoveries().size(), 1u);
	EXPECT_EQ(table.recoveries()[0].assigned, M(2));
	// A dead tool node needs fencing for its locks but leaves no journal to replay.
	table.node_down(0, ev);
	table.node_fenced(0, ev);
	EXPECT_EQ(table.recoveries().size(), 1u);
	EXPECT_FALSE(table.lock(L(0, 8)).has_value());
}

TEST_F(TableTest, InvalidLvbIsValidAgainAfterTheNextWrite)
{
	lock(3, 1, "r", CFS_LOCK_PW, CFS_LKF_VALBLK);
	table.node_down(3, ev);
	table.node_fenced(3, ev);
	EXPECT_EQ(table.journal_recovered(M(1), 2, ev), 0);
	take();
	lock(1, 1, "r", CFS_LOCK_EX, CFS_LKF_VALBLK);
	EXPECT_TRUE(completion(1, 1)->lvb_invalid);
	Lvb value{};
	value[0] = 1;
	convert(1, 1, CFS_LOCK_PR, CFS_LKF_VALBLK, value); // down from EX: written, valid again
	take();
	lock(2, 1, "r", CFS_LOCK_PR, CFS_LKF_VALBLK);
	EXPECT_FALSE(completion(2, 1)->lvb_invalid);
	EXPECT_EQ(completion(2, 1)->lvb, value);
}

TEST(Wire, ReaderLatchesFailureInsteadOfReadingPastTheEnd)
{
	wire::Writer w;
	w.u32(0x01020304);
	w.str("abc");
	auto bytes = w.take();
	EXPECT_EQ(bytes[0], 0x04); // little-endian
	wire::Reader r(bytes.data(), bytes.size());
	EXPECT_EQ(r.u32(), 0x01020304u);
	EXPECT_EQ(r.str(8), "abc");
	EXPECT_TRUE(r.ok() && r.at_end());
	EXPECT_EQ(r.u64(), 0u);
	EXPECT_FALSE(r.ok());
	wire::Reader limited(bytes.data(), bytes.size());
	limited.u32();
	EXPECT_EQ(limited.str(2), ""); // longer than the caller allows
	EXPECT_FALSE(limited.ok());
}

TEST_F(TableTest, NodeWithNothingNeedsNoFence)
{
	EXPECT_FALSE(table.node_down(7, ev));
	EXPECT_FALSE(table.node_awaiting_fence(7));
}

TEST_F(TableTest, RecoveryIsReassignedWhenTheRecovererDies)
{
	lock(3, 1, "r", CFS_LOCK_EX);
	table.node_down(3, ev);
	table.node_fenced(3, ev);
	take();
	ASSERT_EQ(table.recoveries().size(), 1u);
	EXPECT_EQ(table.recoveries()[0].assigned, M(1));
	table.node_down(1, ev);
	table.node_fenced(1, ev);
	std::vector<uint32_t> journals;
	for (const Event &e : ev)
		if (e.kind == Event::Kind::Recover) {
			EXPECT_EQ(e.mount, M(2));
			journals.push_back(e.journal);
		}
	EXPECT_EQ(journals, (std::vector<uint32_t>{0, 2}));
}

TEST_F(TableTest, SnapshotRoundTripsTheWholeTable)
{
	Lvb value{};
	value[5] = 5;
	lock(1, 1, "a", CFS_LOCK_EX, CFS_LKF_VALBLK);
	convert(1, 1, CFS_LOCK_PR, CFS_LKF_VALBLK, value);
	lock(2, 1, "a", CFS_LOCK_EX);
	lock(3, 1, "a", CFS_LOCK_PR);
	lock(3, 2, "b", CFS_LOCK_PW);
	table.node_down(3, ev);
	wire::Writer w;
	table.encode(w);
	LockTable copy;
	wire::Reader r(w.data().data(), w.size());
	ASSERT_TRUE(copy.decode(r));
	wire::Writer w2;
	copy.encode(w2);
	EXPECT_EQ(w.data(), w2.data());
	// The copy behaves the same: releasing node 1's PR hands node 2 the EX.
	std::vector<Event> a, b;
	table.unlock(M(1), L(1, 1), 0, {}, a);
	copy.unlock(M(1), L(1, 1), 0, {}, b);
	ASSERT_EQ(a.size(), b.size());
	auto truncated = w.data();
	truncated.resize(truncated.size() - 3);
	wire::Reader tr(truncated.data(), truncated.size());
	EXPECT_FALSE(copy.decode(tr));
	EXPECT_EQ(copy.lock_count(), 0u);
}

// Random operation sequences: no two incompatible locks are ever granted together, and
// once every holder lets go all remaining requests are granted.
// Every holder of the table died: the first mount with journals replays every other free
// slot, nothing is granted before, and a tool's mount (no journal) changes nothing.
TEST(LostTable, FirstJournalMountReplaysEveryOtherSlotBeforeAnyGrant)
{
	LockTable t;
	std::vector<Event> ev;
	t.mark_state_lost();
	t.set_grants_enabled(true, ev);
	t.join(MountId{5, 1}, 0, LockId{5, 1}, ev); // a tool: no journal, no recovery
	EXPECT_TRUE(t.recoveries().empty());
	EXPECT_TRUE(t.state_lost());
	t.join(MountId{1, 1}, 3, LockId{1, 1}, ev);
	ev.clear();
	auto recs = t.recoveries();
	ASSERT_EQ(recs.size(), 2u); // slots 1 and 2; the joiner took 0 and replays it itself
	EXPECT_EQ(recs[0].journal, 1u);
	EXPECT_EQ(recs[1].journal, 2u);
	EXPECT_EQ(recs[0].dead_node, 0u);
	EXPECT_FALSE(t.state_lost());
	t.request(MountId{5, 1}, LockId{5, 10}, "inode/7", CFS_LOCK_PR, 0, ev);
	for (const Event &e : ev)
		EXPECT_FALSE(e.kind == Event::Kind::Complete && e.lock == (LockId{5, 10})) << "granted before the replays";
	EXPECT_EQ(t.journal_recovered(MountId{1, 1}, 1, ev), 0);
	ev.clear();
	EXPECT_EQ(t.journal_recovered(MountId{1, 1}, 2, ev), 0);
	bool granted = false;
	for (const Event &e : ev)
		granted |= e.kind == Event::Kind::Complete && e.lock == (LockId{5, 10}) && e.status == 0;
	EXPECT_TRUE(granted);
	// The flag travels in snapshots.
	LockTable lost;
	lost.mark_state_lost();
	wire::Writer w;
	lost.encode(w);
	LockTable copy;
	wire::Reader r(w.data().data(), w.size());
	ASSERT_TRUE(copy.decode(r));
	EXPECT_TRUE(copy.state_lost());
}

TEST(TableProperty, RandomOperationsNeverGrantIncompatibleLocksAndNeverStarve)
{
	const char *const names[] = {"a", "b", "c"};
	for (unsigned seed = 1; seed <= 300; seed++) {
		std::mt19937 rng(seed);
		LockTable t;
		std::vector<Event> ev;
		t.set_grants_enabled(true, ev);
		for (NodeId n = 1; n <= 4; n++)
			t.join(MountId{n, 1}, 8, LockId{n, 1u << 30}, ev);
		uint64_t next_id = 1;
		std::vector<LockId> ids;
		auto check = [&]() {
			for (const auto &r : t.resources()) {
				std::vector<Mode> held;
				for (const auto *q : {&r.granted, &r.converting})
					for (const auto &l : *q)
						held.push_back(l.granted);
				for (size_t i = 0; i < held.size(); i++)
					for (size_t j = i + 1; j < held.size(); j++)
						ASSERT_TRUE(modes_compatible(held[i], held[j]))
							<< "seed " << seed << " resource " << r.name;
			}
		};
		for (int step = 0; step < 200; step++) {
			int op = rng() % 10;
			NodeId n = 1 + rng() % 4;
			Mode mode = rng() % 6;
			uint32_t flags = (rng() % 5 == 0) ? CFS_LKF_NOQUEUE : 0;
			if (op < 4 || ids.empty()) {
				LockId id{n, next_id++};
				t.request(MountId{n, 1}, id, names[rng() % 3], mode, flags, ev);
				ids.push_back(id);
			} else {
				LockId id = ids[rng() % ids.size()];
				MountId m{id.node, 1};
				if (op < 7)
					t.convert(m, id, mode, flags, {}, ev);
				else if (op < 9)
					t.unlock(m, id, 0, {}, ev);
				else
					t.cancel(m, id, ev);
			}
			check();
			if (HasFatalFailure())
				return;
		}
		// Release phase: holders give up whatever they hold, in turns, never cancelling.
		for (int round = 0; round < 100; round++) {
			bool queued = false;
			std::vector<LockId> holders;
			for (const auto &r : t.resources()) {
				if (r.name.rfind("journal/", 0) == 0)
					continue;
				queued |= !r.converting.empty() || !r.waiting.empty();
				for (const auto &l : r.granted)
					holders.push_back(l.id);
			}
			if (!queued)
				break;
			ASSERT_FALSE(holders.empty()) << "seed " << seed << ": requests queued with nobody holding";
			for (LockId id : holders)
				t.unlock(MountId{id.node, 1}, id, 0, {}, ev);
			check();
		}
		for (const auto &r : t.resources()) {
			EXPECT_TRUE(r.converting.empty()) << "seed " << seed << " starved conversion on " << r.name;
			EXPECT_TRUE(r.waiting.empty()) << "seed " << seed << " starved request on " << r.name;
		}
	}
}

} // namespace
