// Resource groups: the pure 2-bit bitmap helpers, and the allocator on a real mkfs image
// (allocate near a goal, contiguous runs, counts, free, state changes, ENOSPC).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "fs.h"
#include "mkfs_fixture.h"
#include "rgrp.h"
#include "statfs.h"
#include "trans.h"

namespace {

using namespace cfs;

// ---- Pure bitmap helpers -----------------------------------------------------------

TEST(Bitmap, GetSetUseTwoBitsPerBlockLowBitsFirst)
{
	uint8_t bm[4] = {};
	bitmap_set(bm, 0, CFS_BLKST_DINODE);
	bitmap_set(bm, 1, CFS_BLKST_USED);
	bitmap_set(bm, 3, CFS_BLKST_UNLINKED);
	bitmap_set(bm, 5, CFS_BLKST_USED);
	EXPECT_EQ(bm[0], 0x03 | 0x04 | 0x80);
	EXPECT_EQ(bm[1], 0x04);
	EXPECT_EQ(bitmap_get(bm, 0), CFS_BLKST_DINODE);
	EXPECT_EQ(bitmap_get(bm, 2), CFS_BLKST_FREE);
	EXPECT_EQ(bitmap_get(bm, 3), CFS_BLKST_UNLINKED);
	bitmap_set(bm, 0, CFS_BLKST_FREE);
	EXPECT_EQ(bm[0], 0x04 | 0x80);
}

// Reference implementations: one entry at a time.
uint32_t slow_find(const uint8_t *bm, uint32_t start, uint32_t end, unsigned state)
{
	for (uint32_t i = start; i < end; i++)
		if (bitmap_get(bm, i) == state)
			return i;
	return end;
}

uint32_t slow_run(const uint8_t *bm, uint32_t start, uint32_t end, unsigned state, uint32_t max)
{
	uint32_t n = 0;
	while (start + n < end && n < max && bitmap_get(bm, start + n) == state)
		n++;
	return n;
}

TEST(Bitmap, FindRunAndCountAgreeWithOneByOneScans)
{
	std::vector<uint8_t> bm(1024);
	uint32_t seed = 12345;
	auto rnd = [&] { return seed = seed * 1103515245 + 12345, seed >> 16; };
	for (int round = 0; round < 20; round++) {
		// Long runs of one state with sparse exceptions: exercises the word skipping.
		for (uint32_t i = 0; i < bm.size() * 4; i++)
			bitmap_set(bm.data(), i, (rnd() % 97 == 0) ? rnd() % 4 : unsigned(round % 4));
		const uint32_t n = uint32_t(bm.size() * 4 - rnd() % 50);
		for (int q = 0; q < 200; q++) {
			uint32_t start = rnd() % n, state = rnd() % 4, max = 1 + rnd() % 300;
			ASSERT_EQ(bitmap_find(bm.data(), start, n, state), slow_find(bm.data(), start, n, state));
			ASSERT_EQ(bitmap_run(bm.data(), start, n, state, max),
				  slow_run(bm.data(), start, n, state, max));
		}
		uint32_t counts[4], expect[4] = {};
		bitmap_count(bm.data(), n, counts);
		for (uint32_t i = 0; i < n; i++)
			expect[bitmap_get(bm.data(), i)]++;
		for (int s = 0; s < 4; s++)
			ASSERT_EQ(counts[s], expect[s]);
	}
}

TEST(Bitmap, LocateSpansHeaderThenBitmapBlocks)
{
	uint32_t blk, off;
	rgrp_bitmap_locate(4096, 0, &blk, &off);
	EXPECT_EQ(blk, 0u);
	EXPECT_EQ(off, 128u);
	rgrp_bitmap_locate(4096, 4096 - 128 - 1, &blk, &off);
	EXPECT_EQ(blk, 0u);
	EXPECT_EQ(off, 4095u);
	rgrp_bitmap_locate(4096, 4096 - 128, &blk, &off);
	EXPECT_EQ(blk, 1u);
	EXPECT_EQ(off, 64u);
	rgrp_bitmap_locate(1024, 896 + 960, &blk, &off);
	EXPECT_EQ(blk, 2u);
	EXPECT_EQ(off, 64u);
	EXPECT_EQ(rgrp_length_for(4096, (4096 - 128) * 4), 1u);
	EXPECT_EQ(rgrp_length_for(4096, (4096 - 128) * 4 + 1), 2u);
	// 256 MiB of 4 KiB blocks: 65536 blocks, 16384 bitmap bytes: header + 4 blocks.
	EXPECT_EQ(rgrp_length_for(4096, 65536 - 5), 5u);
}

// ---- The allocator on an mkfs image ----------------------------------------------

class AllocFs : public cfs::test::MkfsFsTest {};

TEST_F(AllocFs, AllocatesAContiguousRunAtTheGoalAndPersistsIt)
{
	make(4096, 128ull << 20, 16);
	const uint64_t free_before = total_free();
	Rgrp &rg = fs.rgrps.rgrps[first_ordinary() + 1];
	const uint64_t goal = rg.data0 + 100;
	uint64_t first = 0;
	uint32_t got = 0;
	// Direct mode (no transaction): the rgrp blocks are written in place at once.
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, goal, 50, CFS_BLKST_USED, &first, &got, nullptr), 0);
	EXPECT_EQ(first, goal);
	EXPECT_EQ(got, 50u);
	reopen();
	for (uint64_t b = goal; b < goal + 50; b++)
		EXPECT_EQ(block_state(&fs, b), int(CFS_BLKST_USED));
	EXPECT_EQ(block_state(&fs, goal - 1), int(CFS_BLKST_FREE));
	EXPECT_EQ(block_state(&fs, goal + 50), int(CFS_BLKST_FREE));
	EXPECT_EQ(total_free(), free_before - 50);
	EXPECT_TRUE(log.empty());
}

TEST_F(AllocFs, SkipsUsedBlocksAndPrefersAFullRunOverTheFirstFragment)
{
	make(1024, 64ull << 20, 8);
	Rgrp &rg = fs.rgrps.rgrps[first_ordinary() + 1];
	uint64_t a, b;
	uint32_t got;
	// Used: [data0, +10); free hole of 5 at +10; used [+15, +16); then free.
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg.data0, 16, CFS_BLKST_USED, &a, &got, nullptr), 0);
	ASSERT_EQ(got, 16u);
	ASSERT_EQ(rgrp_free(&fs, nullptr, rg.data0 + 10, 5), 0);
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg.data0, 8, CFS_BLKST_USED, &b, &got, nullptr), 0);
	EXPECT_EQ(b, rg.data0 + 16) << "the 5-block hole is too short for 8";
	EXPECT_EQ(got, 8u);
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg.data0, 5, CFS_BLKST_USED, &b, &got, nullptr), 0);
	EXPECT_EQ(b, rg.data0 + 10) << "a run of exactly 5 fits the hole";
}

TEST_F(AllocFs, NeverAllocatesInJournalRgrpsOrOverSystemFiles)
{
	make(4096, 96ull << 20, 16);
	const Rgrp &jr = fs.rgrps.rgrps[0];
	ASSERT_TRUE(jr.flags & CFS_RGF_JOURNAL);
	std::set<uint64_t> taken;
	uint64_t first;
	uint32_t got;
	// Goal inside the journal: the allocator moves on.
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, jr.data0 + 5, 1, CFS_BLKST_DINODE, &first, &got, nullptr), 0);
	EXPECT_GE(first, jr.data0 + jr.data);
	EXPECT_EQ(block_state(&fs, first), int(CFS_BLKST_DINODE));
	// The master directory is at the start of the first ordinary rgrp: not reused.
	EXPECT_NE(first, from_le64(fs.sb.sb_master_addr));
}

TEST_F(AllocFs, DinodeGetsTheRgrpGenerationWhichAdvances)
{
	make(4096, 96ull << 20, 16);
	uint64_t a, b, ga = 0, gb = 0;
	uint32_t got;
	Rgrp &rg = fs.rgrps.rgrps[first_ordinary() + 1];
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg.data0, 1, CFS_BLKST_DINODE, &a, &got, &ga), 0);
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg.data0, 1, CFS_BLKST_DINODE, &b, &got, &gb), 0);
	EXPECT_EQ(gb, ga + 1);
	EXPECT_NE(a, b);
	reopen();
	Rgrp &again = fs.rgrps.rgrps[first_ordinary() + 1];
	EXPECT_EQ(again.dinodes, 2u);
}

TEST_F(AllocFs, UnlinkedStateIsCountedAndFreedCleanly)
{
	make(4096, 96ull << 20, 16);
	uint64_t d;
	uint32_t got;
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, 0, 1, CFS_BLKST_DINODE, &d, &got, nullptr), 0);
	ASSERT_EQ(rgrp_set_state(&fs, nullptr, d, CFS_BLKST_UNLINKED), 0);
	EXPECT_EQ(block_state(&fs, d), int(CFS_BLKST_UNLINKED));
	Rgrp *rg = rgrp_of_block(&fs, d);
	Buf *b;
	ASSERT_EQ(meta_read(&fs, rg->addr, CFS_BT_RG, 0, &b), 0);
	EXPECT_EQ(from_le32(static_cast<cfs_rgrp *>(buf_data(b))->rg_unlinked), 1u);
	meta_release(&fs, b);
	const uint32_t dinodes = rg->dinodes;
	ASSERT_EQ(rgrp_free(&fs, nullptr, d, 1), 0);
	EXPECT_EQ(block_state(&fs, d), int(CFS_BLKST_FREE));
	EXPECT_EQ(rg->dinodes, dinodes - 1);
	ASSERT_EQ(meta_read(&fs, rg->addr, CFS_BT_RG, 0, &b), 0);
	EXPECT_EQ(from_le32(static_cast<cfs_rgrp *>(buf_data(b))->rg_unlinked), 0u);
	meta_release(&fs, b);
}

TEST_F(AllocFs, FreeReportsEachFreedRunToTheHostOnly)
{
	make(4096, 96ull << 20, 16);
	std::vector<std::pair<uint64_t, uint32_t>> freed;
	fs.blocks_freed = [](void *ctx, uint64_t first, uint32_t count) {
		static_cast<std::vector<std::pair<uint64_t, uint32_t>> *>(ctx)->push_back({first, count});
	};
	fs.blocks_freed_ctx = &freed;
	uint64_t d;
	uint32_t got;
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, 0, 8, CFS_BLKST_USED, &d, &got, nullptr), 0);
	ASSERT_EQ(got, 8u);
	EXPECT_TRUE(freed.empty()) << "allocation is not a free";
	ASSERT_EQ(rgrp_free(&fs, nullptr, d + 2, 3), 0);
	EXPECT_EQ(rgrp_free(&fs, nullptr, d + 3, 1), -CFS_EUCLEAN);
	ASSERT_EQ(freed.size(), 1u) << "a refused free reports nothing";
	EXPECT_EQ(freed[0].first, d + 2);
	EXPECT_EQ(freed[0].second, 3u);
}

TEST_F(AllocFs, FreeRunsListsFreeRunsOfMinimumLengthClippedToTheRange)
{
	make(4096, 96ull << 20, 16);
	Rgrp &rg = fs.rgrps.rgrps[first_ordinary() + 1];
	uint64_t a;
	uint32_t got;
	// The rgrp: [0, 20) used, then free [5, 7) and [10, 16) punched back into it.
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, rg.data0, 20, CFS_BLKST_USED, &a, &got, nullptr), 0);
	ASSERT_EQ(a, rg.data0);
	ASSERT_EQ(got, 20u);
	ASSERT_EQ(rgrp_free(&fs, nullptr, rg.data0 + 5, 2), 0);
	ASSERT_EQ(rgrp_free(&fs, nullptr, rg.data0 + 10, 6), 0);
	using Runs = std::vector<std::pair<uint64_t, uint32_t>>;
	auto runs = [&](uint64_t first, uint64_t end, uint32_t minlen) {
		Runs out;
		int err = rgrp_free_runs(&fs, &rg, first, end, minlen, [](void *ctx, uint64_t f, uint32_t n) {
			static_cast<Runs *>(ctx)->push_back({f, n});
			return 0;
		}, &out);
		EXPECT_EQ(err, 0);
		return out;
	};
	const uint64_t d = rg.data0;
	EXPECT_EQ(runs(d, d + 20, 1), (Runs{{d + 5, 2}, {d + 10, 6}}));
	EXPECT_EQ(runs(d, d + 20, 3), (Runs{{d + 10, 6}})) << "runs shorter than minlen are skipped";
	EXPECT_EQ(runs(d + 6, d + 12, 1), (Runs{{d + 6, 1}, {d + 10, 2}})) << "clipped to the range";
	// The rest of the rgrp is one free run to its last data block.
	Runs tail = runs(d + 16, ~0ull, 1);
	ASSERT_EQ(tail.size(), 1u);
	EXPECT_EQ(tail[0].first, d + 20);
	EXPECT_EQ(tail[0].first + tail[0].second, d + rg.data);
	// A visitor's error stops the walk and is returned.
	int calls = 0;
	EXPECT_EQ(rgrp_free_runs(&fs, &rg, d, d + 20, 1, [](void *ctx, uint64_t, uint32_t) {
		++*static_cast<int *>(ctx);
		return -CFS_EIO;
	}, &calls), -CFS_EIO);
	EXPECT_EQ(calls, 1);
}

TEST_F(AllocFs, DoubleFreeIsCorruptionNamingTheBlock)
{
	make(4096, 96ull << 20, 16);
	uint64_t d;
	uint32_t got;
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, 0, 4, CFS_BLKST_USED, &d, &got, nullptr), 0);
	ASSERT_EQ(rgrp_free(&fs, nullptr, d, 4), 0);
	log.clear();
	EXPECT_EQ(rgrp_free(&fs, nullptr, d + 1, 1), -CFS_EUCLEAN);
	ASSERT_FALSE(log.empty());
	EXPECT_NE(log.back().find(std::to_string(d + 1)), std::string::npos) << log.back();
}

TEST_F(AllocFs, FillsTheFilesystemThenReportsNoSpace)
{
	make(4096, 64ull << 20, 8);
	const uint64_t free_blocks = total_free();
	uint64_t allocated = 0, first;
	uint32_t got;
	int err;
	while ((err = rgrp_alloc(&fs, nullptr, 0, 1000, CFS_BLKST_USED, &first, &got, nullptr)) == 0)
		allocated += got;
	EXPECT_EQ(err, -CFS_ENOSPC);
	EXPECT_EQ(allocated, free_blocks);
	EXPECT_EQ(total_free(), 0u);
}

TEST_F(AllocFs, WithATransactionTheBuffersJoinItAndReachDiskOnCommit)
{
	make(4096, 96ull << 20, 16);
	Trans tr;
	ASSERT_EQ(trans_begin(&fs, nullptr, 16, &tr), 0);
	uint64_t first;
	uint32_t got;
	ASSERT_EQ(rgrp_alloc(&fs, &tr, 0, 10, CFS_BLKST_USED, &first, &got, nullptr), 0);
	EXPECT_GE(tr.nbufs, 1u) << "the rgrp header must be in the transaction";
	ASSERT_EQ(trans_commit(&tr), 0);
	reopen();
	EXPECT_EQ(block_state(&fs, first), int(CFS_BLKST_USED));
	EXPECT_EQ(block_state(&fs, first + got - 1), int(CFS_BLKST_USED));
}

TEST_F(AllocFs, NodesWithoutAGoalStartInDifferentRgrps)
{
	make(4096, 256ull << 20, 16);
	std::set<const Rgrp *> used;
	for (uint32_t slot = 0; slot < 4; slot++) {
		rgrp_spread_start(&fs, slot, 4);
		uint64_t b;
		uint32_t got;
		ASSERT_EQ(rgrp_alloc(&fs, nullptr, 0, 1, CFS_BLKST_USED, &b, &got, nullptr), 0);
		used.insert(rgrp_of_block(&fs, b));
	}
	EXPECT_EQ(used.size(), 4u);
}

TEST_F(AllocFs, OfflineAllocationsKeepTheGlobalStatfsExact)
{
	make(4096, 96ull << 20, 16);
	const uint64_t statfs_ino = from_le64(fs.sb.sb_statfs_addr);
	StatfsCounts before, after;
	ASSERT_EQ(statfs_read(&fs, statfs_ino, &before), 0);
	EXPECT_EQ(uint64_t(before.free), total_free());
	uint64_t a, d;
	uint32_t got;
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, 0, 40, CFS_BLKST_USED, &a, &got, nullptr), 0);
	ASSERT_EQ(rgrp_alloc(&fs, nullptr, 0, 1, CFS_BLKST_DINODE, &d, &got, nullptr), 0);
	ASSERT_EQ(rgrp_free(&fs, nullptr, a + 10, 5), 0);
	reopen();
	ASSERT_EQ(statfs_read(&fs, statfs_ino, &after), 0);
	EXPECT_EQ(after.free, before.free - 40 - 1 + 5);
	EXPECT_EQ(after.dinodes, before.dinodes + 1);
	EXPECT_EQ(after.total, before.total);
	EXPECT_EQ(uint64_t(after.free), total_free());
}

TEST_F(AllocFs, MountedNodeAccumulatesDeltasInItsSlotFileUntilFolded)
{
	make(4096, 96ull << 20, 16);
	cfs_jindex ji;
	ASSERT_EQ(jdata_read(&fs, from_le64(fs.sb.sb_jindex_addr), 0, &ji, sizeof(ji)), 0);
	const uint64_t local = from_le64(ji.ji_statfs_addr), global = from_le64(fs.sb.sb_statfs_addr);
	fs.statfs_local_ino = local;
	StatfsCounts g0, l, g1;
	ASSERT_EQ(statfs_read(&fs, global, &g0), 0);
	Trans tr;
	ASSERT_EQ(trans_begin(&fs, nullptr, 16, &tr), 0);
	uint64_t a, d;
	uint32_t got;
	ASSERT_EQ(rgrp_alloc(&fs, &tr, 0, 7, CFS_BLKST_USED, &a, &got, nullptr), 0);
	ASSERT_EQ(rgrp_alloc(&fs, &tr, 0, 1, CFS_BLKST_DINODE, &d, &got, nullptr), 0);
	ASSERT_EQ(rgrp_set_state(&fs, &tr, d, CFS_BLKST_UNLINKED), 0);
	ASSERT_EQ(trans_commit(&tr), 0);
	ASSERT_EQ(statfs_read(&fs, local, &l), 0);
	EXPECT_EQ(l.free, -8);
	EXPECT_EQ(l.dinodes, 1) << "an unlinked dinode is still a dinode";
	ASSERT_EQ(statfs_read(&fs, global, &g1), 0);
	EXPECT_EQ(g1.free, g0.free) << "the global file changes only when folded";
	ASSERT_EQ(statfs_fold(&fs, nullptr, local), 0);
	reopen();
	ASSERT_EQ(statfs_read(&fs, global, &g1), 0);
	ASSERT_EQ(statfs_read(&fs, local, &l), 0);
	EXPECT_EQ(g1.free, g0.free - 8);
	EXPECT_EQ(g1.dinodes, g0.dinodes + 1);
	EXPECT_EQ(l.free, 0);
	EXPECT_EQ(l.dinodes, 0);
	EXPECT_EQ(uint64_t(g1.free), total_free());
}

}  // namespace
