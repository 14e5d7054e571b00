// Unit tests of the cluster-wide lockd group (lockd/membership.*) over an in-memory group
// with agreed order and membership changes at points of that order, as CPG gives them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <corosync/cpg.h>

#include <deque>
#include <functional>

#include "membership.h"

using namespace clusterfs::lockd;

namespace {

class Bus;

class FakeTransport final : public GroupTransport {
public:
	FakeTransport(Bus &bus, uint32_t node, Listener &l) : bus_(bus), node_(node), listener_(l) {}
	bool join(std::string *) override;
	int fd() const override { return -1; }
	bool dispatch() override { return true; }
	SendResult multicast(const std::vector<uint8_t> &msg) override;
	uint32_t node() const { return node_; }
	Listener &listener() { return listener_; }

private:
	Bus &bus_;
	uint32_t node_;
	Listener &listener_;
};

// Events are queued and delivered in one order to whoever is a member when the event is
// delivered: the agreed order.
class Bus {
public:
	void join(FakeTransport *t)
	{
		queue_.push_back([this, t]() {
			members_.push_back(t);
			confchg({member(t)}, {});
		});
	}
	// The daemon leaves: `reason` CPG_REASON_LEAVE (clean) or PROCDOWN/NODEDOWN (died).
	void leave(uint32_t node, uint32_t reason)
	{
		queue_.push_back([this, node, reason]() {
			for (auto it = members_.begin(); it != members_.end(); ++it)
				if ((*it)->node() == node) {
					GroupTransport::Member m = member(*it);
					m.reason = reason;
					members_.erase(it);
					confchg({}, {m});
					return;
				}
		});
	}
	// Delivered to the members on the sender's side of a partition.
	void mcast(FakeTransport *from, const std::vector<uint8_t> &msg)
	{
		uint32_t sender = from->node();
		queue_.push_back([this, from, sender, msg]() {
			for (FakeTransport *t : std::vector<FakeTransport *>(members_))
				if (side_[t] == side_[from])
					t->listener().on_deliver(sender, msg.data(), msg.size());
		});
	}
	// The network splits `cut` off: each side sees the other leave (node down).
	void partition(const std::set<uint32_t> &cut)
	{
		queue_.push_back([this, cut]() {
			for (FakeTransport *t : members_)
				side_[t] = cut.count(t->node()) ? 1 : 0;
			for (int side = 0; side < 2; side++) {
				std::vector<GroupTransport::Member> here, gone;
				for (FakeTransport *t : members_) {
					GroupTransport::Member m = member(t);
					m.reason = CPG_REASON_NODEDOWN;
					(side_[t] == side ? here : gone).push_back(m);
				}
				for (FakeTransport *t : std::vector<FakeTransport *>(members_))
					if (side_[t] == side)
						t->listener().on_membership(here, gone, {});
			}
		});
	}
	// The partition heals: each side sees the other join.
	void heal()
	{
		queue_.push_back([this]() {
			std::vector<GroupTransport::Member> all;
			for (FakeTransport *t : members_)
				all.push_back(member(t));
			for (int side = 0; side < 2; side++) {
				std::vector<GroupTransport::Member> others;
				for (FakeTransport *t : members_)
					if (side_[t] != side)
						others.push_back(member(t));
				for (FakeTransport *t : std::vector<FakeTransport *>(members_))
					if (side_[t] == side)
						t->listener().on_membership(all, {}, others);
			}
			side_.clear();
		});
	}
	bool step()
	{
		if (queue_.empty())
			return false;
		auto e = std::move(queue_.front());
		queue_.pop_front();
		e();
		return true;
	}

private:
	static GroupTransport::Member member(FakeTransport *t)
	{
		return GroupTransport::Member{t->node(), static_cast<uint32_t>(getpid()), CPG_REASON_JOIN};
	}
	void confchg(const std::vector<GroupTransport::Member> &joined, const std::vector<GroupTransport::Member> &left)
	{
		std::vector<GroupTransport::Member> all;
		for (FakeTransport *t : members_)
			all.push_back(member(t));
		for (FakeTransport *t : std::vector<FakeTransport *>(members_))
			t->listener().on_membership(all, left, joined);
	}
	std::vector<FakeTransport *> members_;
	std::map<FakeTransport *, int> side_;
	std::deque<std::function<void()>> queue_;
};

bool FakeTransport::join(std::string *)
{
	bus_.join(this);
	return true;
}

GroupTransport::SendResult FakeTransport::multicast(const std::vector<uint8_t> &msg)
{
	bus_.mcast(this, msg);
	return SendResult::Sent;
}

class FakeHost final : public MembershipHost {
public:
	explicit FakeHost(uint32_t node) : node_(node) { config_.startup_fencing = false; }
	uint32_t node_id() const override { return node_; }
	bool quorate() const override { return quorate_; }
	const Config &config() const override { return config_; }
	const std::set<uint32_t> &corosync_members() const override { return members_; }
	void note_totem_ring(uint64_t) override {}
	void fatal_corosync(const char *what) override { ADD_FAILURE() << "fatal_corosync " << what; }
	void refused_by_cluster() override { refused = true; }
	bool refused = false;
	bool quorate_ = true;

private:
	uint32_t node_;
	Config config_; // no fence_command: fencing waits for fence_ack
	std::set<uint32_t> members_;
};

// A daemon: its host and its lockd-group member on the shared bus.
struct Daemon {
	Daemon(Bus &bus, uint32_t node)
		: host(node), group(host, [&bus, node](const std::string &, GroupTransport::Listener &l) {
			  return std::make_unique<FakeTransport>(bus, node, l);
		  })
	{
		std::string err;
		EXPECT_TRUE(group.start(&err)) << err;
	}
	FakeHost host;
	Membership group;
};

class LockdGroup : public ::testing::Test {
protected:
	Daemon &start(uint32_t node)
	{
		daemons.push_back(std::make_unique<Daemon>(bus, node));
		settle();
		return *daemons.back();
	}
	// Runs every daemon's loop work and the bus until nothing moves.
	void settle()
	{
		for (int rounds = 0; rounds < 1000; rounds++) {
			for (auto &d : daemons) {
				d->group.tick();
				d->group.flush();
			}
			bool moved = false;
			while (bus.step())
				moved = true;
			if (!moved)
				return;
		}
		ADD_FAILURE() << "the group did not settle";
	}
	// The daemon stops running (it died); the bus still delivers to it until its leave.
	void remove(uint32_t node)
	{
		for (auto it = daemons.begin(); it != daemons.end(); ++it)
			if ((*it)->host.node_id() == node) {
				dead.push_back(std::move(*it));
				daemons.erase(it);
				return;
			}
	}

	void split_and_heal(const std::set<uint32_t> &minority);

	Bus bus;
	std::vector<std::unique_ptr<Daemon>> daemons, dead;
};

TEST_F(LockdGroup, UncleanLeaverAwaitsFencingOnEveryMemberUntilAcknowledged)
{
	Daemon &d1 = start(1);
	Daemon &d2 = start(2);
	start(3);
	EXPECT_TRUE(d1.group.ready() && d2.group.ready());
	double before = 0;
	bus.leave(3, CPG_REASON_PROCDOWN);
	remove(3);
	settle();
	EXPECT_EQ(d1.group.pending(), std::set<uint32_t>{3});
	EXPECT_EQ(d2.group.pending(), std::set<uint32_t>{3});
	EXPECT_FALSE(d2.group.fenced_after(3, before));
	EXPECT_FALSE(d2.group.fence_ack(2, false)) << "node 2 is alive, nothing to acknowledge";
	EXPECT_TRUE(d2.group.fence_ack(3, false));
	settle();
	EXPECT_TRUE(d1.group.pending().empty());
	EXPECT_TRUE(d2.group.pending().empty());
	EXPECT_TRUE(d1.group.fenced_after(3, before) && d1.group.fenced_ever(3));
}

TEST_F(LockdGroup, CleanLeaveIsNotFenced)
{
	Daemon &d1 = start(1);
	Daemon &d2 = start(2);
	d2.group.clean_leave();
	settle();
	EXPECT_TRUE(d2.group.clean_leave_done());
	bus.leave(2, CPG_REASON_LEAVE);
	remove(2);
	settle();
	EXPECT_TRUE(d1.group.pending().empty());
}

TEST_F(LockdGroup, JoinerLearnsPendingFencesBeforeItIsReady)
{
	Daemon &d1 = start(1);
	start(2);
	bus.leave(2, CPG_REASON_NODEDOWN);
	remove(2);
	settle();
	daemons.push_back(std::make_unique<Daemon>(bus, 4));
	Daemon &d4 = *daemons.back();
	EXPECT_FALSE(d4.group.ready()) << "ready before the group's state arrived";
	settle();
	EXPECT_TRUE(d4.group.ready());
	EXPECT_EQ(d4.group.pending(), std::set<uint32_t>{2});
	EXPECT_TRUE(d1.group.fence_ack(2, false));
	settle();
	EXPECT_TRUE(d4.group.pending().empty());
}

TEST_F(LockdGroup, LastMemberDyingLosesTheLockspaceUntilRefounded)
{
	Daemon &d1 = start(1);
	Daemon &d2 = start(2);
	Daemon &d3 = start(3);
	d2.group.announce_lockspace("fs", true, false);
	d3.group.announce_lockspace("fs", true, false);
	settle();
	bus.leave(3, CPG_REASON_PROCDOWN);
	remove(3);
	settle();
	EXPECT_FALSE(d1.group.lockspace_lost("fs")) << "node 2 still holds its table";
	bus.leave(2, CPG_REASON_PROCDOWN);
	remove(2);
	settle();
	EXPECT_TRUE(d1.group.lockspace_lost("fs"));
	d1.group.lockspace_refounded("fs");
	settle();
	EXPECT_FALSE(d1.group.lockspace_lost("fs"));
	(void)d3;
}

TEST_F(LockdGroup, EveryOldMemberLeavingBeforeTheStateArrivesFencesThem)
{
	start(1);
	daemons.push_back(std::make_unique<Daemon>(bus, 2));
	Daemon &d2 = *daemons.back();
	// Node 2's join and node 1's death are ordered before node 1 could send the state.
	bus.leave(1, CPG_REASON_NODEDOWN);
	remove(1);
	settle();
	EXPECT_TRUE(d2.group.ready());
	EXPECT_EQ(d2.group.pending(), std::set<uint32_t>{1});
}

// After a partition heals, the side that stayed quorate refuses the other (which exits and
// is fenced), whatever the node ids.
void LockdGroup::split_and_heal(const std::set<uint32_t> &minority)
{
	for (uint32_t n = 1; n <= 3; n++)
		start(n);
	for (auto &d : daemons)
		d->host.quorate_ = !minority.count(d->host.node_id());
	bus.partition(minority);
	settle();
	for (auto &d : daemons) {
		std::set<uint32_t> others;
		for (uint32_t n = 1; n <= 3; n++)
			if (minority.count(n) != minority.count(d->host.node_id()))
				others.insert(n);
		EXPECT_EQ(d->group.pending(), others) << "node " << d->host.node_id();
	}
	for (auto &d : daemons)
		d->host.quorate_ = true;
	bus.heal();
	settle();
	for (auto &d : daemons)
		EXPECT_EQ(d->host.refused, minority.count(d->host.node_id()) != 0) << "node " << d->host.node_id();
}

TEST_F(LockdGroup, MergeRefusesTheMinorityWithTheLowestId) { split_and_heal({1}); }
TEST_F(LockdGroup, MergeRefusesTheMinorityWithTheHighestId) { split_and_heal({3}); }

} // namespace
