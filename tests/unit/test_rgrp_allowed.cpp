// The per-transaction resource-group hook (Fs::rgrp_allowed, rgrp.h top comment) on a
// real mkfs image with several small ordinary rgrps: the allocator only allocates in
// allowed groups (and never reads the others), a free or state change in a rejected
// group is refused with -CFS_EDEADLK and changes nothing, the stepwise frees (bmap_punch,
// inode_free, dir_free_leaves through inode_free) stop before a block of a rejected
// group and name it in Fs::rgrp_wanted, xattr removal refuses with -CFS_EAGAIN before
// any change, and without a hook everything behaves as before.
//
// Blocks are steered into two different groups A and B with the hook itself: while
// only A is allowed, every allocation lands in A; while only B is, in B.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "algo_fixture.h"
#include "mkfs_fixture.h"
#include "xattr.h"

namespace cfs::test {
namespace {

class RgrpAllowed : public MkfsFsTest {
protected:
	uint32_t A = 0, B = 0;  // two ordinary groups, neither holding system files
	uint64_t root = 0;

	// The hook's state: which group indices may change, and which ones lib asked about.
	struct Hook {
		std::set<uint32_t> allowed;
		std::vector<uint32_t> asked;
	} hook;

	static bool allowed_fn(void *ctx, uint32_t index)
	{
		auto *h = static_cast<Hook *>(ctx);
		h->asked.push_back(index);
		return h->allowed.count(index) != 0;
	}

	// Installs the hook allowing exactly `groups` (possibly none). The hook is a host
	// setting kept in Fs: reopen() drops it.
	void allow(std::initializer_list<uint32_t> groups)
	{
		hook.allowed = std::set<uint32_t>(groups);
		hook.asked.clear();
		fs.rgrp_allowed = allowed_fn;
		fs.rgrp_allowed_ctx = &hook;
	}
	void no_hook()
	{
		fs.rgrp_allowed = nullptr;
		fs.rgrp_allowed_ctx = nullptr;
	}

	void SetUp() override
	{
		// 2048-block groups: several ordinary ones in 64 MiB.
		ASSERT_NO_FATAL_FAILURE(make(4096, 64ull << 20, 8));
		const uint32_t ord = first_ordinary();
		ASSERT_LE(ord + 4, fs.rgrps.count) << "the image needs several ordinary rgrps";
		A = ord + 1;
		B = ord + 2;
		root = from_le64(fs.sb.sb_root_addr);
	}

	Rgrp &rg(uint32_t index) { return fs.rgrps.rgrps[index]; }

	// Index of the group holding `blk` (count if none).
	uint32_t group_of(uint64_t blk)
	{
		Rgrp *r = rgrp_of_block(&fs, blk);
		return r ? uint32_t(r - fs.rgrps.rgrps) : fs.rgrps.count;
	}

	// rg_free as the header (buffer or disk) says now.
	uint32_t free_of(uint32_t index)
	{
		EXPECT_EQ(rgrp_refresh(&fs, &rg(index)), 0);
		return rg(index).free;
	}

	// A new inode whose dinode lands in `group` (only that group allowed meanwhile).
	uint64_t new_inode(uint32_t group, uint32_t mode = kModeReg | 0644)
	{
		allow({group});
		Trans tr;
		EXPECT_EQ(trans_begin(&fs, nullptr, 16, &tr), 0);
		InodeInit init{};
		init.mode = mode;
		init.nlink = 1;
		init.parent = root;
		Inode ip;
		EXPECT_EQ(inode_alloc(&fs, &tr, rg(group).data0, &init, &ip), 0);
		uint64_t ino = ip.ino;
		inode_put(&fs, &ip);
		EXPECT_EQ(trans_commit(&tr), 0);
		EXPECT_EQ(group_of(ino), group);
		return ino;
	}

	// Maps file blocks [lblock, lblock + count) with every new block (data and
	// indirect) in `group`; returns the disk blocks of the data, in file order.
	std::vector<uint64_t> map_in(uint64_t ino, uint32_t group, uint64_t lblock, uint64_t count)
	{
		allow({group});
		std::vector<uint64_t> disk;
		InodeRef ip(&fs);
		EXPECT_EQ(inode_get(&fs, ino, ip.get()), 0);
		for (uint64_t lb = lblock; lb < lblock + count;) {
			Trans tr;
			EXPECT_EQ(trans_begin(&fs, nullptr, 64, &tr), 0);
			BmapExtent e{};
			int err = bmap_alloc(&fs, &tr, ip.get(), lb, lblock + count - lb, 0, &e);
			EXPECT_EQ(trans_commit(&tr), 0);
			EXPECT_EQ(err, 0);
			if (err)
				break;
			for (uint64_t k = 0; k < e.count; k++) {
				disk.push_back(e.disk_block + k);
				EXPECT_EQ(group_of(e.disk_block + k), group);
			}
			lb += e.count;
		}
		return disk;
	}

	// Every block the file's tree owns (indirect and data).
	std::vector<uint64_t> tree_blocks(uint64_t ino, std::vector<uint64_t> *indirect = nullptr)
	{
		struct Ctx {
			std::vector<uint64_t> all, ind;
			unsigned height;
		} c;
		InodeRef ip(&fs);
		EXPECT_EQ(inode_get(&fs, ino, ip.get()), 0);
		c.height = inode_height(ip.get());
		EXPECT_EQ(bmap_walk(&fs, ip.get(), [](void *ctx, uint64_t, uint64_t blk, unsigned level) {
			auto *x = static_cast<Ctx *>(ctx);
			x->all.push_back(blk);
			if (level < x->height)
				x->ind.push_back(blk);
			return 0;
		}, &c), 0);
		if (indirect)
			*indirect = c.ind;
		return c.all;
	}

	uint64_t blocks_of(uint64_t ino)
	{
		InodeRef ip(&fs);
		EXPECT_EQ(inode_get(&fs, ino, ip.get()), 0);
		return inode_blocks(ip.get());
	}

	// Sets (value) or removes (nullptr) user.<name> in one transaction; the transaction's
	// buffer count after the call goes to *nbufs.
	int xattr(uint64_t ino, const char *name, const char *value, uint32_t *nbufs = nullptr)
	{
		InodeRef ip(&fs);
		EXPECT_EQ(inode_get(&fs, ino, ip.get()), 0);
		Trans tr;
		EXPECT_EQ(trans_begin(&fs, nullptr, kXattrSetMaxBufs, &tr), 0);
		XattrName n{CFS_XATTR_NS_USER, name, uint32_t(strlen(name))};
		int err = xattr_set(&fs, &tr, ip.get(), n, value, value ? uint32_t(strlen(value)) : 0, 0);
		if (nbufs)
			*nbufs = tr.nbufs;
		EXPECT_EQ(trans_commit(&tr), 0);
		return err;
	}

	uint64_t xattr_block_of(uint64_t ino)
	{
		InodeRef ip(&fs);
		EXPECT_EQ(inode_get(&fs, ino, ip.get()), 0);
		return inode_xattr_block(ip.get());
	}

	// One inode_free step in its own transaction.
	int free_step(Inode *ip, unsigned budget, bool *done)
	{
		Trans tr;
		EXPECT_EQ(trans_begin(&fs, nullptr, 64, &tr), 0);
		int err = inode_free(&fs, &tr, ip, budget, done);
		EXPECT_EQ(trans_commit(&tr), 0);
		return err;
	}

	// One bmap_punch step (the whole file) in its own transaction.
	int punch_step(Inode *ip, unsigned budget, bool *done)
	{
		Trans tr;
		EXPECT_EQ(trans_begin(&fs, nullptr, 64, &tr), 0);
		int err = bmap_punch(&fs, &tr, ip, 0, ~uint64_t(0), budget, done);
		EXPECT_EQ(trans_commit(&tr), 0);
		return err;
	}

	// Whether every block of `blocks` is in `state`; the failure names those that are not.
	::testing::AssertionResult all_in_state(const std::vector<uint64_t> &blocks, unsigned state)
	{
		std::string wrong;
		for (uint64_t blk : blocks) {
			const int got = block_state(&fs, blk);
			if (got != int(state))
				wrong += " " + std::to_string(blk) + " (state " + std::to_string(got) + ")";
		}
		if (wrong.empty())
			return ::testing::AssertionSuccess();
		return ::testing::AssertionFailure() << "not in state " << state << ":" << wrong;
	}

	// The stepwise frees the tests drive: punch_step or free_step.
	enum class Step { punch, free };

	int step(Step kind, Inode *ip, unsigned budget, bool *done)
	{
		return kind == Step::punch ? punch_step(ip, budget, done) : free_step(ip, budget, done);
	}

	// The host holds A's lock only: one step must stop short, wanting `wanted`.
	void expect_stop_with_only_a(Step kind, Inode *ip, bool *done, uint64_t wanted, unsigned budget = 64)
	{
		allow({A});
		fs.rgrp_wanted = 0;
		ASSERT_EQ(step(kind, ip, budget, done), 0);
		EXPECT_FALSE(*done);
		EXPECT_EQ(fs.rgrp_wanted, wanted);
	}

	// The host has taken B's lock as well: with A and B allowed the steps run to the end
	// and want nothing more.
	void finish_with_a_and_b(Step kind, Inode *ip, bool *done, unsigned budget = 64, int max_steps = 10)
	{
		allow({A, B});
		fs.rgrp_wanted = 0;
		for (int steps = 0; !*done; steps++) {
			ASSERT_LT(steps, max_steps);
			ASSERT_EQ(step(kind, ip, budget, done), 0);
		}
		EXPECT_EQ(fs.rgrp_wanted, 0u);
	}
};

// ---- rgrp_may_change / rgrp_check_wanted -------------------------------------------

TEST_F(RgrpAllowed, MayChangeAsksTheHookForTheBlocksGroupOnly)
{
	const uint64_t a = rg(A).data0 + 5, b = rg(B).data0 + 5;
	EXPECT_TRUE(rgrp_may_change(&fs, a)) << "without a hook every group may change";
	EXPECT_TRUE(rgrp_may_change(&fs, b));
	allow({A});
	EXPECT_TRUE(rgrp_may_change(&fs, a));
	EXPECT_FALSE(rgrp_may_change(&fs, b));
	EXPECT_EQ(hook.asked, (std::vector<uint32_t>{A, B}));
	EXPECT_EQ(fs.rgrp_wanted, 0u) << "rgrp_may_change records nothing";
	// A block in no group: "may change" (the change itself reports the bad block).
	EXPECT_TRUE(rgrp_may_change(&fs, fs.blocks + 10));
	EXPECT_TRUE(rgrp_check_wanted(&fs, a));
	EXPECT_EQ(fs.rgrp_wanted, 0u);
	EXPECT_FALSE(rgrp_check_wanted(&fs, b));
	EXPECT_EQ(fs.rgrp_wanted, b);
}

// ---- rgrp_alloc --------------------------------------------------------------------

TEST_F(RgrpAllowed, AllocSkipsRejectedGroupsWithoutReadingThem)
{
	const uint32_t C = B + 1;
	// After a remount no header is read yet: a group the allocator reads gets its
	// counts (free != 0), one it skips unread keeps free == 0.
	reopen(false);
	for (uint32_t i = 0; i < fs.rgrps.count; i++)
		ASSERT_EQ(rg(i).free, 0u);
	allow({A});
	uint64_t first = 0;
	uint32_t got = 0;
	// The goal is in B; B, C, ... and the journal group are rejected: A gets it.
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg(B).data0 + 10, 8, CFS_BLKST_USED, &first, &got, nullptr), 0);
	EXPECT_EQ(group_of(first), A);
	EXPECT_EQ(got, 8u);
	EXPECT_TRUE(std::count(hook.asked.begin(), hook.asked.end(), B)) << "the goal's group was not asked";
	for (uint32_t i = 0; i < fs.rgrps.count; i++) {
		if (i != A) {
			EXPECT_EQ(rg(i).free, 0u) << "rejected group " << i << " was read";
		}
	}
	EXPECT_NE(rg(A).free, 0u);
	// A dinode too: the first allowed group after the goal's.
	allow({A, C});
	uint64_t d = 0;
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg(B).data0, 1, CFS_BLKST_DINODE, &d, &got, nullptr), 0);
	EXPECT_EQ(group_of(d), C);
	EXPECT_EQ(rg(B).free, 0u) << "B was read";
	// With the goal's group allowed the goal is honoured.
	refresh_all();
	const uint32_t free_b = rg(B).free;
	allow({B});
	uint64_t g = 0;
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg(B).data0 + 10, 4, CFS_BLKST_USED, &g, &got, nullptr), 0);
	EXPECT_EQ(g, rg(B).data0 + 10);
	EXPECT_EQ(free_of(B), free_b - 4);
	reopen();
	for (uint64_t k = 0; k < 8; k++)
		EXPECT_EQ(block_state(&fs, first + k), int(CFS_BLKST_USED));
	EXPECT_EQ(block_state(&fs, d), int(CFS_BLKST_DINODE));
	EXPECT_EQ(block_state(&fs, rg(B).data0 + 9), int(CFS_BLKST_FREE));
}

TEST_F(RgrpAllowed, AllocReportsNoSpaceWhenNoAllowedGroupHasRoom)
{
	const uint64_t free_all = total_free();
	uint64_t first = 0;
	uint32_t got = 0;
	// No group allowed at all.
	allow({});
	EXPECT_EQ(rgrp_alloc(&fs, nullptr, 0, 1, CFS_BLKST_USED, &first, &got, nullptr), -CFS_ENOSPC);
	EXPECT_EQ(rgrp_alloc(&fs, nullptr, rg(A).data0, 1, CFS_BLKST_DINODE, &first, &got, nullptr),
		  -CFS_ENOSPC);
	EXPECT_EQ(total_free(), free_all);
	// Only A allowed: fill it, then ENOSPC although B and the others have room.
	allow({A});
	const uint32_t free_a = free_of(A);
	ASSERT_GT(free_a, 0u);
	uint64_t taken = 0;
	int err;
	while ((err = rgrp_alloc(&fs, nullptr, rg(A).data0, 4096, CFS_BLKST_USED, &first, &got, nullptr)) == 0) {
		EXPECT_EQ(group_of(first), A);
		taken += got;
		ASSERT_LE(taken, free_a);
	}
	EXPECT_EQ(err, -CFS_ENOSPC);
	EXPECT_EQ(taken, free_a);
	EXPECT_EQ(free_of(A), 0u);
	EXPECT_EQ(total_free(), free_all - free_a) << "only A changed";
	EXPECT_GT(free_of(B), 0u);
	// Through a lib caller: inode_alloc gets the same ENOSPC and changes nothing.
	Trans tr;
	ASSERT_EQ(trans_begin(&fs, nullptr, 16, &tr), 0);
	InodeInit init{};
	init.mode = kModeReg | 0644;
	init.nlink = 1;
	Inode ip;
	EXPECT_EQ(inode_alloc(&fs, &tr, rg(B).data0, &init, &ip), -CFS_ENOSPC);
	trans_cancel(&tr);
	EXPECT_EQ(total_free(), free_all - free_a);
	// With B allowed too, the next allocation succeeds in B.
	allow({A, B});
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg(A).data0, 1, CFS_BLKST_USED, &first, &got, nullptr), 0);
	EXPECT_EQ(group_of(first), B);
}

// ---- rgrp_free / rgrp_set_state ----------------------------------------------------

TEST_F(RgrpAllowed, FreeAndSetStateInARejectedGroupAreRefusedAndChangeNothing)
{
	uint64_t a, b, d;
	uint32_t got;
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg(A).data0, 4, CFS_BLKST_USED, &a, &got, nullptr), 0);
	ASSERT_EQ(got, 4u);
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg(B).data0, 4, CFS_BLKST_USED, &b, &got, nullptr), 0);
	ASSERT_EQ(got, 4u);
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg(B).data0, 1, CFS_BLKST_DINODE, &d, &got, nullptr), 0);
	ASSERT_EQ(group_of(a), A);
	ASSERT_EQ(group_of(b), B);
	ASSERT_EQ(group_of(d), B);
	std::vector<std::pair<uint64_t, uint32_t>> freed;
	fs.blocks_freed = [](void *ctx, uint64_t first, uint32_t count) {
		static_cast<std::vector<std::pair<uint64_t, uint32_t>> *>(ctx)->push_back({first, count});
	};
	fs.blocks_freed_ctx = &freed;
	const uint32_t free_a = free_of(A), free_b = free_of(B), dinodes_b = rg(B).dinodes;
	const uint64_t free_all = total_free();

	allow({A});
	log.clear();
	Trans tr;
	ASSERT_EQ(trans_begin(&fs, nullptr, 16, &tr), 0);
	EXPECT_EQ(rgrp_free(&fs, &tr, b, 4), -CFS_EDEADLK);
	EXPECT_EQ(rgrp_free(&fs, &tr, b + 1, 1), -CFS_EDEADLK);
	EXPECT_EQ(rgrp_free(&fs, &tr, d, 1), -CFS_EDEADLK);
	EXPECT_EQ(rgrp_set_state(&fs, &tr, d, CFS_BLKST_UNLINKED), -CFS_EDEADLK);
	EXPECT_EQ(tr.nbufs, 0u) << "a refused change joined a buffer to the transaction";
	EXPECT_TRUE(freed.empty()) << "a refused free was reported to the host";
	EXPECT_EQ(fs.rgrp_wanted, 0u) << "a refusal is the host's bug, not a step to retry";
	ASSERT_FALSE(log.empty());
	EXPECT_NE(log.back().find(std::to_string(d)), std::string::npos) << log.back();
	// The allowed group still changes in the same transaction.
	EXPECT_EQ(rgrp_free(&fs, &tr, a + 1, 2), 0);
	ASSERT_EQ(trans_commit(&tr), 0);
	ASSERT_EQ(freed.size(), 1u);
	EXPECT_EQ(freed[0], std::make_pair(a + 1, 2u));

	reopen();
	for (uint64_t k = 0; k < 4; k++)
		EXPECT_EQ(block_state(&fs, b + k), int(CFS_BLKST_USED)) << "block " << b + k;
	EXPECT_EQ(block_state(&fs, d), int(CFS_BLKST_DINODE));
	EXPECT_EQ(block_state(&fs, a), int(CFS_BLKST_USED));
	EXPECT_EQ(block_state(&fs, a + 1), int(CFS_BLKST_FREE));
	EXPECT_EQ(block_state(&fs, a + 2), int(CFS_BLKST_FREE));
	EXPECT_EQ(free_of(B), free_b);
	EXPECT_EQ(rg(B).dinodes, dinodes_b);
	EXPECT_EQ(free_of(A), free_a + 2);
	EXPECT_EQ(total_free(), free_all + 2);

	// Once B is allowed the same calls succeed.
	allow({B});
	ASSERT_EQ(rgrp_set_state(&fs, nullptr, d, CFS_BLKST_UNLINKED), 0);
	EXPECT_EQ(block_state(&fs, d), int(CFS_BLKST_UNLINKED));
	ASSERT_EQ(rgrp_free(&fs, nullptr, b, 4), 0);
	EXPECT_EQ(block_state(&fs, b + 3), int(CFS_BLKST_FREE));
	EXPECT_EQ(free_of(B), free_b + 4);
}

// ---- bmap_punch --------------------------------------------------------------------

TEST_F(RgrpAllowed, PunchStopsBeforeADataRunOfARejectedGroupAndResumes)
{
	const uint32_t free_a0 = free_of(A), free_b0 = free_of(B);
	const uint64_t ino = new_inode(A);
	// File blocks 0..4 in A, 5..9 in B, 10..14 in A (height 1: no indirect block).
	std::vector<uint64_t> r1 = map_in(ino, A, 0, 5);
	std::vector<uint64_t> r2 = map_in(ino, B, 5, 5);
	std::vector<uint64_t> r3 = map_in(ino, A, 10, 5);
	ASSERT_EQ(r1.size() + r2.size() + r3.size(), 15u);
	const uint32_t free_a = free_of(A), free_b = free_of(B);
	ASSERT_EQ(free_a, free_a0 - 11);  // 10 data blocks + the dinode
	ASSERT_EQ(free_b, free_b0 - 5);
	const uint64_t owned = blocks_of(ino);

	InodeRef ip(&fs);
	ASSERT_EQ(inode_get(&fs, ino, ip.get()), 0);
	ASSERT_EQ(inode_height(ip.get()), 1u);
	bool done = true;
	// The first block of B's run is the one wanted.
	ASSERT_NO_FATAL_FAILURE(expect_stop_with_only_a(Step::punch, ip.get(), &done, r2[0]));
	// The run before it went for good, the rejected run and everything after it stay.
	EXPECT_TRUE(all_in_state(r1, CFS_BLKST_FREE));
	EXPECT_TRUE(all_in_state(r2, CFS_BLKST_USED));
	EXPECT_TRUE(all_in_state(r3, CFS_BLKST_USED));
	EXPECT_EQ(free_of(A), free_a + 5);
	EXPECT_EQ(free_of(B), free_b);
	EXPECT_EQ(inode_blocks(ip.get()), owned - 5);
	BmapExtent e;
	ASSERT_EQ(bmap_lookup(&fs, ip.get(), 0, 5, &e), 0);
	EXPECT_EQ(e.disk_block, 0u);
	ASSERT_EQ(bmap_lookup(&fs, ip.get(), 5, 1, &e), 0);
	EXPECT_EQ(e.disk_block, r2[0]);

	// Asking again without the lock changes nothing more.
	ASSERT_NO_FATAL_FAILURE(expect_stop_with_only_a(Step::punch, ip.get(), &done, r2[0]));
	EXPECT_EQ(free_of(B), free_b);

	// The host locks B (and keeps A): the next step finishes the punch.
	ASSERT_NO_FATAL_FAILURE(finish_with_a_and_b(Step::punch, ip.get(), &done));
	EXPECT_TRUE(all_in_state(r2, CFS_BLKST_FREE));
	EXPECT_TRUE(all_in_state(r3, CFS_BLKST_FREE));
	EXPECT_EQ(inode_blocks(ip.get()), owned - 15);
	EXPECT_TRUE(tree_blocks(ino).empty());
	EXPECT_EQ(free_of(A), free_a0 - 1);  // the dinode remains
	EXPECT_EQ(free_of(B), free_b0);
}

TEST_F(RgrpAllowed, PunchStopsBeforeAnIndirectBlockOfARejectedGroupAndResumes)
{
	const uint32_t free_a0 = free_of(A), free_b0 = free_of(B);
	const uint64_t ino = new_inode(A);
	// Data for file blocks 0..3 in A; then a block far out, mapped while only B is
	// allowed: the tree grows to height 2, the indirect block holding 0..3 goes to B.
	std::vector<uint64_t> low = map_in(ino, A, 0, 4);
	const uint64_t far = 3ull * fs.indirect_ptrs + 7;
	std::vector<uint64_t> high = map_in(ino, B, far, 1);
	std::vector<uint64_t> ind;
	std::vector<uint64_t> all = tree_blocks(ino, &ind);
	ASSERT_EQ(ind.size(), 2u) << "height 2: the old top level and the one above `far`";
	for (uint64_t blk : ind)
		ASSERT_EQ(group_of(blk), B);
	const uint64_t ind_low = ind[0];  // walked first: it maps file blocks 0..
	ASSERT_EQ(all.size(), 7u);
	const uint64_t owned = blocks_of(ino);
	const uint32_t free_a = free_of(A), free_b = free_of(B);

	Inode ip;
	ASSERT_EQ(inode_get(&fs, ino, &ip), 0);
	ASSERT_EQ(inode_height(&ip), 2u);
	bool done = true;
	// The emptied indirect block in B is the one wanted.
	ASSERT_NO_FATAL_FAILURE(expect_stop_with_only_a(Step::punch, &ip, &done, ind_low));
	EXPECT_TRUE(all_in_state(low, CFS_BLKST_FREE)) << "data in A stays freed";
	EXPECT_TRUE(all_in_state(ind, CFS_BLKST_USED));
	EXPECT_EQ(block_state(&fs, high[0]), int(CFS_BLKST_USED));
	EXPECT_EQ(free_of(A), free_a + 4);
	EXPECT_EQ(free_of(B), free_b);
	EXPECT_EQ(inode_blocks(&ip), owned - 4);
	EXPECT_EQ(tree_blocks(ino).size(), 3u) << "two indirect blocks and the far data block";

	// The whole-file free goes through the same stop (inode_free runs the punch first).
	ASSERT_NO_FATAL_FAILURE(expect_stop_with_only_a(Step::free, &ip, &done, ind_low));
	EXPECT_EQ(block_state(&fs, ino), int(CFS_BLKST_DINODE));

	ASSERT_NO_FATAL_FAILURE(finish_with_a_and_b(Step::free, &ip, &done));
	EXPECT_TRUE(all_in_state(all, CFS_BLKST_FREE));
	EXPECT_EQ(block_state(&fs, ino), int(CFS_BLKST_FREE));
	EXPECT_EQ(free_of(A), free_a0);
	EXPECT_EQ(free_of(B), free_b0);
}

TEST_F(RgrpAllowed, PunchStoppedInOneSubtreeDoesNotGoOnToTheNext)
{
	const uint32_t free_a0 = free_of(A), free_b0 = free_of(B);
	const uint64_t ino = new_inode(A);
	// Height 2 with two indirect blocks, both in A. The first maps file blocks 0..1
	// (A) and 2..3 (B); the second maps file blocks P..P+1 (A).
	const uint64_t P = fs.indirect_ptrs;
	std::vector<uint64_t> a0 = map_in(ino, A, 0, 2);
	std::vector<uint64_t> b0 = map_in(ino, B, 2, 2);
	std::vector<uint64_t> a1 = map_in(ino, A, P, 2);
	std::vector<uint64_t> ind;
	tree_blocks(ino, &ind);
	ASSERT_EQ(ind.size(), 2u);
	for (uint64_t blk : ind)
		ASSERT_EQ(group_of(blk), A);
	const uint32_t free_a = free_of(A);

	Inode ip;
	ASSERT_EQ(inode_get(&fs, ino, &ip), 0);
	ASSERT_EQ(inode_height(&ip), 2u);
	bool done = true;
	ASSERT_NO_FATAL_FAILURE(expect_stop_with_only_a(Step::punch, &ip, &done, b0[0]));
	EXPECT_TRUE(all_in_state(a0, CFS_BLKST_FREE));
	EXPECT_TRUE(all_in_state(b0, CFS_BLKST_USED));
	// The stop ends the step: the second subtree (all in A) is left for the next one.
	EXPECT_TRUE(all_in_state(a1, CFS_BLKST_USED)) << "punched past the stop";
	EXPECT_TRUE(all_in_state(ind, CFS_BLKST_USED)) << "punched past the stop";
	EXPECT_EQ(free_of(A), free_a + 2);

	ASSERT_NO_FATAL_FAILURE(finish_with_a_and_b(Step::free, &ip, &done));
	EXPECT_EQ(free_of(A), free_a0);
	EXPECT_EQ(free_of(B), free_b0);
}

TEST_F(RgrpAllowed, TruncateKeepsTheSizeUntilTheStoppedPunchCompletes)
{
	const uint64_t ino = new_inode(A);
	std::vector<uint64_t> a = map_in(ino, A, 0, 3);
	std::vector<uint64_t> b = map_in(ino, B, 3, 3);
	InodeRef ip(&fs);
	ASSERT_EQ(inode_get(&fs, ino, ip.get()), 0);
	{
		Trans tr;
		ASSERT_EQ(trans_begin(&fs, nullptr, 8, &tr), 0);
		ASSERT_EQ(inode_extend(&fs, &tr, ip.get(), 6ull * fs.bsize), 0);
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	allow({A});
	bool done = true;
	Trans tr;
	ASSERT_EQ(trans_begin(&fs, nullptr, 64, &tr), 0);
	ASSERT_EQ(inode_truncate(&fs, &tr, ip.get(), fs.bsize, 64, &done), 0);
	ASSERT_EQ(trans_commit(&tr), 0);
	EXPECT_FALSE(done);
	EXPECT_EQ(fs.rgrp_wanted, b[0]);
	EXPECT_EQ(inode_size(ip.get()), 6ull * fs.bsize) << "size changed before the punch completed";
	EXPECT_EQ(block_state(&fs, a[0]), int(CFS_BLKST_USED)) << "below the new size";
	EXPECT_EQ(block_state(&fs, a[1]), int(CFS_BLKST_FREE));
	EXPECT_EQ(block_state(&fs, b[0]), int(CFS_BLKST_USED));
	allow({A, B});
	ASSERT_EQ(trans_begin(&fs, nullptr, 64, &tr), 0);
	ASSERT_EQ(inode_truncate(&fs, &tr, ip.get(), fs.bsize, 64, &done), 0);
	ASSERT_EQ(trans_commit(&tr), 0);
	EXPECT_TRUE(done);
	EXPECT_EQ(inode_size(ip.get()), uint64_t(fs.bsize));
	EXPECT_TRUE(all_in_state(b, CFS_BLKST_FREE));
}

// ---- inode_free --------------------------------------------------------------------

TEST_F(RgrpAllowed, InodeFreeStopsAtTheXattrBlockOfARejectedGroup)
{
	const uint32_t free_a0 = free_of(A), free_b0 = free_of(B);
	const uint64_t ino = new_inode(A);
	std::vector<uint64_t> data = map_in(ino, A, 0, 4);
	allow({B});
	ASSERT_EQ(xattr(ino, "k", "v"), 0);
	const uint64_t xblk = xattr_block_of(ino);
	ASSERT_NE(xblk, 0u);
	ASSERT_EQ(group_of(xblk), B) << "only B was allowed for the xattr block";
	const uint32_t free_a = free_of(A), free_b = free_of(B);
	const uint64_t owned = blocks_of(ino);

	Inode ip;
	ASSERT_EQ(inode_get(&fs, ino, &ip), 0);
	bool done = true;
	ASSERT_NO_FATAL_FAILURE(expect_stop_with_only_a(Step::free, &ip, &done, xblk));
	EXPECT_EQ(inode_xattr_block(&ip), xblk);
	EXPECT_EQ(inode_blocks(&ip), owned);
	EXPECT_EQ(block_state(&fs, xblk), int(CFS_BLKST_USED));
	EXPECT_EQ(block_state(&fs, ino), int(CFS_BLKST_DINODE));
	EXPECT_TRUE(all_in_state(data, CFS_BLKST_USED)) << "the xattr block goes first";
	EXPECT_EQ(free_of(A), free_a);
	EXPECT_EQ(free_of(B), free_b);

	ASSERT_NO_FATAL_FAILURE(finish_with_a_and_b(Step::free, &ip, &done));
	EXPECT_EQ(block_state(&fs, xblk), int(CFS_BLKST_FREE));
	EXPECT_EQ(block_state(&fs, ino), int(CFS_BLKST_FREE));
	EXPECT_TRUE(all_in_state(data, CFS_BLKST_FREE));
	EXPECT_EQ(free_of(A), free_a0);
	EXPECT_EQ(free_of(B), free_b0);
}

TEST_F(RgrpAllowed, InodeFreeStopsAtTheDinodeOfARejectedGroup)
{
	const uint32_t free_a0 = free_of(A), free_b0 = free_of(B);
	const uint64_t ino = new_inode(B);
	std::vector<uint64_t> data = map_in(ino, A, 0, 6);
	const uint32_t free_a = free_of(A), free_b = free_of(B);

	Inode ip;
	ASSERT_EQ(inode_get(&fs, ino, &ip), 0);
	bool done = true;
	ASSERT_NO_FATAL_FAILURE(expect_stop_with_only_a(Step::free, &ip, &done, ino));
	ASSERT_NE(ip.bh, nullptr) << "the handle is released only when done";
	EXPECT_TRUE(all_in_state(data, CFS_BLKST_FREE)) << "the tree in A goes";
	EXPECT_EQ(block_state(&fs, ino), int(CFS_BLKST_DINODE));
	EXPECT_EQ(free_of(A), free_a + 6);
	EXPECT_EQ(free_of(B), free_b);
	EXPECT_EQ(rg(B).dinodes, 1u);

	allow({B});  // the tree is gone: B alone is enough now
	fs.rgrp_wanted = 0;
	ASSERT_EQ(free_step(&ip, 64, &done), 0);
	EXPECT_TRUE(done);
	EXPECT_EQ(fs.rgrp_wanted, 0u);
	EXPECT_EQ(block_state(&fs, ino), int(CFS_BLKST_FREE));
	EXPECT_EQ(free_of(A), free_a0);
	EXPECT_EQ(free_of(B), free_b0);
	EXPECT_EQ(rg(B).dinodes, 0u);
	reopen();
	EXPECT_EQ(block_state(&fs, ino), int(CFS_BLKST_FREE));
	EXPECT_EQ(free_of(B), free_b0);
}

TEST_F(RgrpAllowed, InodeFreeStopsAtDirectoryLeavesOfARejectedGroup)
{
	const uint32_t free_a0 = free_of(A), free_b0 = free_of(B);
	const uint64_t dir = new_inode(A, kModeDir | 0755);
	// Entries added while only A is allowed: the directory hashes, its first leaves in
	// A; then more while only B is: the leaves split off later are in B.
	auto add = [&](int i) {
		InodeRef d(&fs);
		ASSERT_EQ(inode_get(&fs, dir, d.get()), 0);
		Trans tr;
		ASSERT_EQ(trans_begin(&fs, nullptr, dir_add_max_bufs(&fs, d.get()), &tr), 0);
		const std::string name = "entry-" + std::to_string(i);
		DirEntry e{1000u + uint64_t(i), 1, CFS_DT_REG};
		ASSERT_EQ(dir_add(&fs, &tr, d.get(), name.data(), uint32_t(name.size()), &e), 0);
		ASSERT_EQ(trans_commit(&tr), 0);
	};
	allow({A});
	int n = 0;
	for (; n < 200; n++)
		add(n);
	{
		InodeRef d(&fs);
		ASSERT_EQ(inode_get(&fs, dir, d.get()), 0);
		ASSERT_TRUE(inode_flags(d.get()) & CFS_DIF_EXHASH);
	}
	const uint32_t used_a = free_a0 - free_of(A);  // dinode + leaves (+ table blocks)
	ASSERT_GE(used_a, 3u);
	allow({B});
	for (; n < 1500; n++)
		add(n);
	const uint32_t used_b = free_b0 - free_of(B);
	ASSERT_GE(used_b, 2u) << "no leaf was split off into B";
	const uint32_t free_a = free_of(A), free_b = free_of(B);

	Inode ip;
	ASSERT_EQ(inode_get(&fs, dir, &ip), 0);
	const uint64_t owned = inode_blocks(&ip);
	allow({A});
	fs.rgrp_wanted = 0;
	bool done = false;
	int steps = 0;
	// Small steps: each frees what it may, until one stops at a leaf in B.
	while (!done && fs.rgrp_wanted == 0) {
		ASSERT_LT(steps++, 1000);
		ASSERT_EQ(free_step(&ip, 2, &done), 0);
	}
	EXPECT_FALSE(done);
	const uint64_t wanted = fs.rgrp_wanted;
	ASSERT_NE(wanted, 0u);
	EXPECT_EQ(group_of(wanted), B);
	EXPECT_EQ(block_state(&fs, wanted), int(CFS_BLKST_USED)) << "the wanted leaf was freed";
	EXPECT_EQ(free_of(B), free_b) << "a block in the rejected group was freed";
	EXPECT_EQ(block_state(&fs, dir), int(CFS_BLKST_DINODE));
	// Whatever went before the stop is freed for good, and accounted in the dinode. Slot
	// 0's leaf is the one the conversion made (splits move the upper half out): in A,
	// so at least that one went before the stop.
	const uint32_t freed_a = free_of(A) - free_a;
	EXPECT_GE(freed_a, 1u);
	EXPECT_EQ(inode_blocks(&ip), owned - freed_a);
	// Another step without B: nothing more.
	ASSERT_NO_FATAL_FAILURE(expect_stop_with_only_a(Step::free, &ip, &done, wanted, 2));
	EXPECT_EQ(free_of(A), free_a + freed_a);
	EXPECT_EQ(free_of(B), free_b);

	ASSERT_NO_FATAL_FAILURE(finish_with_a_and_b(Step::free, &ip, &done, 16, 10000));
	EXPECT_EQ(block_state(&fs, wanted), int(CFS_BLKST_FREE));
	EXPECT_EQ(block_state(&fs, dir), int(CFS_BLKST_FREE));
	EXPECT_EQ(free_of(A), free_a0);
	EXPECT_EQ(free_of(B), free_b0);
}

// ---- xattr_set ---------------------------------------------------------------------

TEST_F(RgrpAllowed, XattrRemovalOfTheLastEntryIsRefusedWithEagainBeforeAnyChange)
{
	const uint32_t free_b0 = free_of(B);
	const uint64_t ino = new_inode(A);
	allow({B});
	ASSERT_EQ(xattr(ino, "one", "1"), 0);
	ASSERT_EQ(xattr(ino, "two", "22"), 0);
	const uint64_t xblk = xattr_block_of(ino);
	ASSERT_EQ(group_of(xblk), B);
	const uint64_t owned = blocks_of(ino);
	const uint32_t free_b = free_of(B);
	ASSERT_EQ(free_b, free_b0 - 1);

	allow({A});
	fs.rgrp_wanted = 0;
	// Removing an entry that is not the last changes the block, not its group.
	ASSERT_EQ(xattr(ino, "one", nullptr), 0);
	EXPECT_EQ(fs.rgrp_wanted, 0u);
	EXPECT_EQ(xattr_block_of(ino), xblk);
	// Removing the last one would free the block: refused before anything changes.
	InodeRef ip(&fs);
	ASSERT_EQ(inode_get(&fs, ino, ip.get()), 0);
	const cfs_timespec ctime = inode_time(ip.get(), InodeTime::ctime);
	uint32_t nbufs = 99;
	EXPECT_EQ(xattr(ino, "two", nullptr, &nbufs), -CFS_EAGAIN);
	EXPECT_EQ(nbufs, 0u) << "the refused removal joined a buffer to the transaction";
	EXPECT_EQ(fs.rgrp_wanted, xblk);
	EXPECT_EQ(xattr_block_of(ino), xblk);
	EXPECT_EQ(blocks_of(ino), owned);
	EXPECT_EQ(block_state(&fs, xblk), int(CFS_BLKST_USED));
	EXPECT_EQ(free_of(B), free_b);
	{
		InodeRef again(&fs);
		ASSERT_EQ(inode_get(&fs, ino, again.get()), 0);
		const cfs_timespec now = inode_time(again.get(), InodeTime::ctime);
		EXPECT_EQ(now.sec, ctime.sec);
		EXPECT_EQ(now.nsec, ctime.nsec);
		char v[8];
		uint32_t len = 0;
		EXPECT_EQ(xattr_get(&fs, again.get(), XattrName{CFS_XATTR_NS_USER, "two", 3}, v, sizeof(v), &len), 0);
		EXPECT_EQ(std::string(v, len), "22");
	}

	// With B locked the removal goes through and frees the block.
	allow({B});
	fs.rgrp_wanted = 0;
	EXPECT_EQ(xattr(ino, "two", nullptr), 0);
	EXPECT_EQ(fs.rgrp_wanted, 0u);
	EXPECT_EQ(xattr_block_of(ino), 0u);
	EXPECT_EQ(blocks_of(ino), owned - 1);
	EXPECT_EQ(block_state(&fs, xblk), int(CFS_BLKST_FREE));
	EXPECT_EQ(free_of(B), free_b0);
}

// ---- No hook -----------------------------------------------------------------------

TEST_F(RgrpAllowed, WithoutAHookEveryGroupMayChangeAsBefore)
{
	const uint32_t free_a0 = free_of(A), free_b0 = free_of(B);
	// Build the same two-group file as above, then drop the hook.
	const uint64_t ino = new_inode(A);
	std::vector<uint64_t> r1 = map_in(ino, A, 0, 5);
	std::vector<uint64_t> r2 = map_in(ino, B, 5, 5);
	const uint64_t far = 3ull * fs.indirect_ptrs + 7;
	std::vector<uint64_t> r3 = map_in(ino, B, far, 2);
	allow({B});
	ASSERT_EQ(xattr(ino, "k", "v"), 0);
	ASSERT_EQ(xattr(ino, "l", "w"), 0);
	const uint64_t xblk = xattr_block_of(ino);
	ASSERT_EQ(group_of(xblk), B);
	no_hook();

	// The allocator honours a goal in any group.
	uint64_t first;
	uint32_t got;
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg(B).data0 + 500, 2, CFS_BLKST_USED, &first, &got, nullptr), 0);
	EXPECT_EQ(first, rg(B).data0 + 500);
	ASSERT_EQ(rgrp_free(&fs, nullptr, first, 2), 0);
	EXPECT_EQ(block_state(&fs, first), int(CFS_BLKST_FREE));

	// The last xattr goes at once.
	ASSERT_EQ(xattr(ino, "k", nullptr), 0);
	ASSERT_EQ(xattr(ino, "l", nullptr), 0);
	EXPECT_EQ(block_state(&fs, xblk), int(CFS_BLKST_FREE));

	// One punch step with room enough frees the whole two-group tree.
	std::vector<uint64_t> all = tree_blocks(ino);
	Inode ip;
	ASSERT_EQ(inode_get(&fs, ino, &ip), 0);
	bool done = false;
	ASSERT_EQ(punch_step(&ip, 64, &done), 0);
	EXPECT_TRUE(done);
	EXPECT_TRUE(all_in_state(all, CFS_BLKST_FREE));
	// And the dinode in the next inode_free step.
	ASSERT_EQ(free_step(&ip, 64, &done), 0);
	EXPECT_TRUE(done);
	EXPECT_EQ(block_state(&fs, ino), int(CFS_BLKST_FREE));
	EXPECT_EQ(fs.rgrp_wanted, 0u);
	EXPECT_EQ(free_of(A), free_a0);
	EXPECT_EQ(free_of(B), free_b0);
	(void)r1, (void)r2, (void)r3;
}

}  // namespace
}  // namespace cfs::test
