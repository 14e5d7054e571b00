// Block map and dinode tests: geometry, inline data, unstuffing, files of many sizes,
// holes, deep trees, truncate/punch returning every block, bounded punch steps.
#include "algo_fixture.h"

namespace cfs::test {
namespace {

TEST(BmapGeometry, HeightsCoverEvery64BitOffset)
{
	for (uint32_t bs : {1024u, 2048u, 4096u}) {
		BmapGeometry g;
		bmap_geometry_init(&g, bs);
		EXPECT_EQ(g.ptrs_in_dinode, CFS_DINODE_PTRS(bs));
		EXPECT_EQ(g.ptrs_per_indirect, CFS_INDIRECT_PTRS(bs));
		EXPECT_LE(g.max_height, CFS_MAX_HEIGHT);
		EXPECT_EQ(g.blocks_at_height[1], g.ptrs_in_dinode);
		EXPECT_EQ(g.blocks_at_height[2], uint64_t(g.ptrs_in_dinode) * g.ptrs_per_indirect);
		// The last byte of a 2^64-byte file is mappable, the height below is not enough.
		uint64_t last = ~uint64_t(0) / bs;
		EXPECT_EQ(bmap_height_for_block(&g, last), g.max_height);
		EXPECT_LT(g.blocks_at_height[g.max_height - 1], last);
	}
}

TEST(BmapGeometry, MetapathIsMixedRadixOfTheBlockNumber)
{
	BmapGeometry g;
	bmap_geometry_init(&g, 4096);
	const uint32_t P = g.ptrs_per_indirect;
	uint32_t path[BmapGeometry::kMaxHeight];
	bmap_metapath(&g, 0, 3, path);
	EXPECT_EQ(path[0], 0u);
	EXPECT_EQ(path[2], 0u);
	uint64_t lb = 7ull * P * P + 5ull * P + 3;
	bmap_metapath(&g, lb, 3, path);
	EXPECT_EQ(path[0], 7u);
	EXPECT_EQ(path[1], 5u);
	EXPECT_EQ(path[2], 3u);
	EXPECT_EQ(bmap_height_for_block(&g, 0), 1u);
	EXPECT_EQ(bmap_height_for_block(&g, g.ptrs_in_dinode - 1), 1u);
	EXPECT_EQ(bmap_height_for_block(&g, g.ptrs_in_dinode), 2u);
}

class BmapTest : public ::testing::TestWithParam<uint32_t> {
protected:
	TestFs t;
	void SetUp() override
	{
		TestFsOptions o;
		o.bsize = GetParam();
		o.blocks = 65536;
		o.rgrp_data = 8000;
		o.journal_blocks = 256;
		t.create(o);
	}

	uint64_t new_file(uint32_t mode = kModeReg | 0644)
	{
		Trans tr;
		EXPECT_EQ(trans_begin(&t.fs, nullptr, 16, &tr), 0);
		InodeInit init{};
		init.mode = mode;
		init.nlink = 1;
		Inode ip;
		EXPECT_EQ(inode_alloc(&t.fs, &tr, t.root, &init, &ip), 0);
		uint64_t ino = ip.ino;
		inode_put(&t.fs, &ip);
		EXPECT_EQ(trans_commit(&tr), 0);
		return ino;
	}

	void write(uint64_t ino, uint64_t off, const std::vector<uint8_t> &data)
	{
		InodeRef ip(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, 1024, &tr), 0);
		ASSERT_EQ(user::file_write(&t.fs, &tr, ip.get(), off, data.data(), data.size()), 0);
		ASSERT_EQ(trans_commit(&tr), 0);
	}

	std::vector<uint8_t> read(uint64_t ino, uint64_t off, size_t len)
	{
		InodeRef ip(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		std::vector<uint8_t> out(len);
		size_t got = 0;
		EXPECT_EQ(user::file_read(&t.fs, ip.get(), off, out.data(), len, &got), 0);
		out.resize(got);
		return out;
	}

	void truncate(uint64_t ino, uint64_t size)
	{
		InodeRef ip(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		bool done = false;
		for (int steps = 0; !done; steps++) {
			ASSERT_LT(steps, 100000);
			Trans tr;
			ASSERT_EQ(trans_begin(&t.fs, nullptr, 64, &tr), 0);
			ASSERT_EQ(inode_truncate(&t.fs, &tr, ip.get(), size, 32, &done), 0);
			ASSERT_EQ(trans_commit(&tr), 0);
		}
	}

	void extend(uint64_t ino, uint64_t size)
	{
		InodeRef ip(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, 64, &tr), 0);
		ASSERT_EQ(inode_extend(&t.fs, &tr, ip.get(), size), 0);
		ASSERT_EQ(trans_commit(&tr), 0);
	}

	// Allocates file blocks [first, end) without changing the size (fallocate KEEP_SIZE).
	void preallocate(uint64_t ino, uint64_t first, uint64_t end)
	{
		InodeRef ip(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		for (uint64_t lb = first; lb < end;) {
			Trans tr;
			ASSERT_EQ(trans_begin(&t.fs, nullptr, 64, &tr), 0);
			BmapExtent e;
			ASSERT_EQ(bmap_alloc(&t.fs, &tr, ip.get(), lb, end - lb, 0, &e), 0);
			ASSERT_EQ(trans_commit(&tr), 0);
			lb += e.count;
		}
	}

	uint64_t blocks_of(uint64_t ino)
	{
		InodeRef ip(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		return inode_blocks(ip.get());
	}

	unsigned height_of(uint64_t ino)
	{
		InodeRef ip(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		return inode_height(ip.get());
	}
};

TEST_P(BmapTest, SmallFileStaysInlineAndReadsBack)
{
	uint64_t before = t.free_blocks();
	uint64_t ino = new_file();
	auto data = pattern(100, 1);
	write(ino, 0, data);
	EXPECT_EQ(read(ino, 0, 1000), data);
	EXPECT_EQ(height_of(ino), 0u);
	EXPECT_EQ(blocks_of(ino), 1u);  // the dinode only
	EXPECT_EQ(t.free_blocks(), before - 1);
}

TEST_P(BmapTest, GrowingPastInlineUnstuffsAndKeepsTheBytes)
{
	uint64_t ino = new_file();
	auto head = pattern(t.fs.inline_size, 2);
	write(ino, 0, head);
	EXPECT_EQ(height_of(ino), 0u);
	auto more = pattern(3 * t.fs.bsize, 3);
	write(ino, head.size(), more);
	EXPECT_EQ(height_of(ino), 1u);
	auto all = head;
	all.insert(all.end(), more.begin(), more.end());
	EXPECT_EQ(read(ino, 0, all.size() + 10), all);
}

TEST_P(BmapTest, FilesOfManySizesReadBackExactly)
{
	const uint32_t bs = t.fs.bsize;
	std::vector<uint64_t> sizes = {0,      1,          t.fs.inline_size, t.fs.inline_size + 1,
				       bs,     bs + 1,     7 * bs - 3,       uint64_t(t.fs.dinode_ptrs) * bs,
				       uint64_t(t.fs.dinode_ptrs) * bs + 1, 300 * uint64_t(bs) + 17};
	std::vector<uint64_t> inos;
	for (size_t i = 0; i < sizes.size(); i++) {
		inos.push_back(new_file());
		if (sizes[i])
			write(inos.back(), 0, pattern(sizes[i], uint32_t(10 + i)));
	}
	for (size_t i = 0; i < sizes.size(); i++) {
		auto got = read(inos[i], 0, sizes[i] + 100);
		EXPECT_EQ(got, pattern(sizes[i], uint32_t(10 + i))) << "size " << sizes[i];
	}
	// Crossing into height 2 exactly at dinode_ptrs blocks.
	EXPECT_EQ(height_of(inos[7]), 1u);
	EXPECT_EQ(height_of(inos[8]), 2u);
}

TEST_P(BmapTest, HolesReadAsZerosAndAreReportedAsHoles)
{
	const uint32_t bs = t.fs.bsize;
	uint64_t ino = new_file();
	auto a = pattern(bs, 4), b = pattern(bs, 5);
	write(ino, 0, std::vector<uint8_t>(1, 1));  // inline first, then unstuffed below
	write(ino, 10ull * bs, a);
	write(ino, 5000ull * bs, b);
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	BmapExtent e;
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 1, 100, &e), 0);
	EXPECT_EQ(e.disk_block, 0u);
	EXPECT_EQ(e.count, 9u);  // blocks 1..9, up to the mapped block 10
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 10, 100, &e), 0);
	EXPECT_NE(e.disk_block, 0u);
	EXPECT_EQ(e.count, 1u);
	auto mid = read(ino, 11ull * bs, 3 * bs);
	EXPECT_EQ(mid, std::vector<uint8_t>(3 * bs, 0));
	EXPECT_EQ(read(ino, 5000ull * bs, bs), b);
	EXPECT_EQ(read(ino, 10ull * bs, bs), a);
	// 3 data blocks + indirect blocks; a dense file of that size would own ~5000.
	EXPECT_LT(blocks_of(ino), 12u);
}

TEST_P(BmapTest, SparseWritesFarAwayBuildDeepTrees)
{
	const uint32_t bs = t.fs.bsize;
	BmapGeometry g;
	bmap_geometry_init(&g, bs);
	uint64_t ino = new_file();
	std::vector<std::pair<uint64_t, std::vector<uint8_t>>> writes;
	// One block at the start of each height's range, and the very last block of a
	// 2^63-byte file.
	for (unsigned h = 1; h < g.max_height && g.blocks_at_height[h] < (1ull << 50); h++)
		writes.push_back({g.blocks_at_height[h] * bs, pattern(bs, 100 + h)});
	writes.push_back({(1ull << 62) - bs, pattern(bs, 99)});
	for (auto &w : writes)
		write(ino, w.first, w.second);
	for (auto &w : writes)
		EXPECT_EQ(read(ino, w.first, bs), w.second) << "offset " << w.first;
	BmapGeometry gg;
	bmap_geometry_init(&gg, bs);
	EXPECT_EQ(height_of(ino), bmap_height_for_block(&gg, ((1ull << 62) - 1) / bs));
	EXPECT_GE(height_of(ino), 4u);
	// Far beyond the tree: a hole.
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	BmapExtent e;
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 3, 1, &e), 0);
	EXPECT_EQ(e.disk_block, 0u);
}

TEST_P(BmapTest, AllocatedBlocksAreContiguousWhenSpaceAllows)
{
	uint64_t ino = new_file();
	write(ino, 0, pattern(40 * t.fs.bsize, 6));
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	BmapExtent e;
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 0, 40, &e), 0);
	EXPECT_EQ(e.count, 40u);
}

TEST_P(BmapTest, TruncateToZeroFreesEveryBlockAndRestuffs)
{
	uint64_t before = t.free_blocks();
	uint64_t ino = new_file();
	write(ino, 0, pattern(700 * uint64_t(t.fs.bsize), 7));
	write(ino, 100000ull * t.fs.bsize, pattern(10, 8));
	EXPECT_LT(t.free_blocks(), before - 700);
	truncate(ino, 0);
	EXPECT_EQ(t.free_blocks(), before - 1);  // the dinode remains
	EXPECT_EQ(blocks_of(ino), 1u);
	EXPECT_EQ(height_of(ino), 0u);
	EXPECT_TRUE(read(ino, 0, 10).empty());
}

TEST_P(BmapTest, TruncateKeepsTheHeadAndFreesTheTail)
{
	const uint32_t bs = t.fs.bsize;
	uint64_t ino = new_file();
	auto data = pattern(600 * uint64_t(bs), 9);
	write(ino, 0, data);
	uint64_t with_all = t.free_blocks();
	truncate(ino, 100 * uint64_t(bs) + 5);
	EXPECT_GE(t.free_blocks(), with_all + 499);
	auto head = read(ino, 0, 101 * bs);
	ASSERT_EQ(head.size(), 100 * size_t(bs) + 5);
	EXPECT_TRUE(std::equal(head.begin(), head.end(), data.begin()));
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	BmapExtent e;
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 101, 1, &e), 0);
	EXPECT_EQ(e.disk_block, 0u);
}

// Blocks past EOF (fallocate KEEP_SIZE): growing the size (inode_extend) keeps them, a
// truncate frees them with everything else past the new end, also when the dinode's
// size is below the new end (the kernel's cached size may be ahead of the dinode's).
TEST_P(BmapTest, TruncateUpKeepsPreallocatedBlocksTruncateDownFreesThem)
{
	const uint32_t bs = t.fs.bsize;
	uint64_t ino = new_file();
	write(ino, 0, pattern(2 * uint64_t(bs), 10));
	preallocate(ino, 2, 300);
	{
		InodeRef ip(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		ASSERT_EQ(inode_size(ip.get()), 2 * uint64_t(bs));
	}
	uint64_t owned = blocks_of(ino), free_with_all = t.free_blocks();

	extend(ino, 100 * uint64_t(bs) + 7);  // up, into the preallocation
	EXPECT_EQ(blocks_of(ino), owned);
	EXPECT_EQ(t.free_blocks(), free_with_all);
	extend(ino, 1000 * uint64_t(bs));  // up, past it
	EXPECT_EQ(blocks_of(ino), owned);
	{
		InodeRef ip(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		EXPECT_EQ(inode_size(ip.get()), 1000 * uint64_t(bs));
		BmapExtent e;
		ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 299, 1, &e), 0);
		EXPECT_NE(e.disk_block, 0u) << "a growing truncate freed a preallocated block";
	}

	{
		InodeRef ip(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, 64, &tr), 0);
		EXPECT_EQ(inode_extend(&t.fs, &tr, ip.get(), 10), -CFS_EINVAL) << "extend must not shrink";
		trans_cancel(&tr);
	}
	truncate(ino, uint64_t(bs) + 5);  // down: two blocks stay
	EXPECT_GE(t.free_blocks(), free_with_all + 298);
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	BmapExtent e;
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 1, 1, &e), 0);
	EXPECT_NE(e.disk_block, 0u);
	for (uint64_t lb = 2; lb < 300; lb += e.count) {
		ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), lb, 300 - lb, &e), 0);
		EXPECT_EQ(e.disk_block, 0u) << "block " << lb << " kept after a shrinking truncate";
	}
}

// The kernel truncates by its cached size, which may be ahead of the dinode's: a truncate
// to a size above the dinode's still frees the blocks preallocated past it.
TEST_P(BmapTest, TruncateAboveTheDinodeSizeFreesBlocksPastTheNewEnd)
{
	const uint32_t bs = t.fs.bsize;
	uint64_t ino = new_file();
	write(ino, 0, pattern(2 * uint64_t(bs), 16));
	preallocate(ino, 2, 300);
	uint64_t free_with_all = t.free_blocks();
	truncate(ino, 100 * uint64_t(bs));
	EXPECT_GE(t.free_blocks(), free_with_all + 200);
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	EXPECT_EQ(inode_size(ip.get()), 100 * uint64_t(bs));
	BmapExtent e;
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 99, 1, &e), 0);
	EXPECT_NE(e.disk_block, 0u) << "block 99 is below the new size";
	for (uint64_t lb = 100; lb < 300; lb += e.count) {
		ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), lb, 300 - lb, &e), 0);
		EXPECT_EQ(e.disk_block, 0u) << "block " << lb << " kept past the new size";
	}
}

TEST_P(BmapTest, PunchInBoundedStepsFreesTheRange)
{
	const uint32_t bs = t.fs.bsize;
	uint64_t ino = new_file();
	write(ino, 0, pattern(1000 * uint64_t(bs), 11));
	uint64_t before = t.free_blocks();
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	bool done = false;
	int steps = 0;
	while (!done) {
		ASSERT_LT(steps++, 1000);
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, 16, &tr), 0);
		ASSERT_EQ(bmap_punch(&t.fs, &tr, ip.get(), 200, 800, 1, &done), 0);
		EXPECT_LE(tr.nbufs, 16u) << "a punch step dirtied more than its budget allows";
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	EXPECT_GT(steps, 1);
	EXPECT_GE(t.free_blocks(), before + 600);
	BmapExtent e;
	for (uint64_t lb = 200; lb < 800; lb += e.count) {
		ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), lb, 800 - lb, &e), 0);
		EXPECT_EQ(e.disk_block, 0u) << "block " << lb;
	}
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 199, 1, &e), 0);
	EXPECT_NE(e.disk_block, 0u);
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 800, 1, &e), 0);
	EXPECT_NE(e.disk_block, 0u);
}

TEST_P(BmapTest, WalkVisitsEveryOwnedBlockOnce)
{
	uint64_t ino = new_file();
	write(ino, 0, pattern(3 * t.fs.bsize, 12));
	write(ino, 70000ull * t.fs.bsize, pattern(t.fs.bsize, 13));
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	std::vector<uint64_t> seen;
	ASSERT_EQ(bmap_walk(&t.fs, ip.get(), [](void *ctx, uint64_t, uint64_t blk, unsigned) {
		static_cast<std::vector<uint64_t> *>(ctx)->push_back(blk);
		return 0;
	}, &seen), 0);
	EXPECT_EQ(seen.size() + 1, inode_blocks(ip.get()));  // + the dinode
	for (uint64_t b : seen)
		EXPECT_EQ(t.block_state_of(b), int(CFS_BLKST_USED));
}

TEST_P(BmapTest, FreeingAFileReturnsEveryBlockIncludingTheDinode)
{
	uint64_t before = t.free_blocks();
	uint64_t ino = new_file();
	write(ino, 0, pattern(300 * uint64_t(t.fs.bsize), 14));
	write(ino, 90000ull * t.fs.bsize, pattern(1, 15));
	Inode ip;
	ASSERT_EQ(inode_get(&t.fs, ino, &ip), 0);
	bool done = false;
	for (int steps = 0; !done; steps++) {
		ASSERT_LT(steps, 1000);
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, 64, &tr), 0);
		ASSERT_EQ(inode_free(&t.fs, &tr, &ip, 16, &done), 0);
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	EXPECT_EQ(t.free_blocks(), before);
	EXPECT_EQ(t.block_state_of(ino), int(CFS_BLKST_FREE));
}

TEST_P(BmapTest, RunningOutOfSpaceFailsCleanly)
{
	uint64_t ino = new_file();
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	int err = 0;
	uint64_t lb = 0;
	while (!err && lb < t.opt.blocks * 2) {
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, 1024, &tr), 0);
		BmapExtent e;
		err = bmap_alloc(&t.fs, &tr, ip.get(), lb, 4096, 0, &e);
		if (!err)
			lb += e.count;
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	EXPECT_EQ(err, -CFS_ENOSPC);
	EXPECT_EQ(t.free_blocks(), 0u);
}

TEST_P(BmapTest, InodeFieldsRoundTrip)
{
	Trans tr;
	ASSERT_EQ(trans_begin(&t.fs, nullptr, 16, &tr), 0);
	InodeInit init{};
	init.mode = kModeChr | 0600;
	init.uid = 1000;
	init.gid = 100;
	init.nlink = 1;
	init.rdev_major = 8;
	init.rdev_minor = 3;
	cfs_timespec now{1700000000, 123456789};
	init.now = &now;
	Inode ip;
	ASSERT_EQ(inode_alloc(&t.fs, &tr, t.root, &init, &ip), 0);
	uint64_t ino = ip.ino;
	uint64_t gen = inode_generation(&ip);
	inode_put(&t.fs, &ip);
	ASSERT_EQ(trans_commit(&tr), 0);
	ASSERT_EQ(cfs_env_sync(t.host), 0);
	t.crash_and_reopen();
	InodeRef r(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, r.get()), 0);
	EXPECT_EQ(inode_mode(r.get()), kModeChr | 0600);
	EXPECT_EQ(inode_uid(r.get()), 1000u);
	EXPECT_EQ(inode_gid(r.get()), 100u);
	EXPECT_EQ(inode_nlink(r.get()), 1u);
	EXPECT_EQ(inode_generation(r.get()), gen);
	uint32_t ma, mi;
	inode_rdev(r.get(), &ma, &mi);
	EXPECT_EQ(ma, 8u);
	EXPECT_EQ(mi, 3u);
	cfs_timespec c = inode_time(r.get(), InodeTime::crtime);
	EXPECT_EQ(c.sec, now.sec);
	EXPECT_EQ(c.nsec, now.nsec);
	EXPECT_EQ(t.block_state_of(ino), int(CFS_BLKST_DINODE));
}

TEST_P(BmapTest, InodeGetRejectsABlockThatIsNotADinode)
{
	uint64_t ino = new_file();
	write(ino, 0, pattern(2 * t.fs.bsize, 16));
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	BmapExtent e;
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 0, 1, &e), 0);
	Inode bogus;
	EXPECT_NE(inode_get(&t.fs, e.disk_block, &bogus), 0);  // a data block
	EXPECT_EQ(inode_get(&t.fs, t.opt.blocks + 5, &bogus), -CFS_EUCLEAN);
}

TEST_P(BmapTest, ShrinkingAStuffedFileZeroesTheTailItDropped)
{
	uint64_t ino = new_file();
	auto data = pattern(200, 17);
	write(ino, 0, data);
	truncate(ino, 50);
	EXPECT_EQ(read(ino, 0, 500), std::vector<uint8_t>(data.begin(), data.begin() + 50));
	// Growing again (a hole past the old end) reads zeros, not the old bytes.
	truncate(ino, 120);
	auto got = read(ino, 0, 500);
	ASSERT_EQ(got.size(), 120u);
	EXPECT_EQ(std::vector<uint8_t>(got.begin() + 50, got.end()), std::vector<uint8_t>(70, 0));
	EXPECT_EQ(height_of(ino), 0u);
}

TEST_P(BmapTest, UnstuffHandsTheInlineBytesToTheCaller)
{
	uint64_t ino = new_file();
	write(ino, 0, pattern(300, 18));
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	Trans tr;
	ASSERT_EQ(trans_begin(&t.fs, nullptr, 16, &tr), 0);
	std::vector<uint8_t> out(t.fs.bsize, 0xee);
	uint64_t blk = 0;
	ASSERT_EQ(inode_unstuff(&t.fs, &tr, ip.get(), out.data(), &blk), 0);
	ASSERT_EQ(trans_commit(&tr), 0);
	ASSERT_NE(blk, 0u);
	auto expect = pattern(300, 18);
	expect.resize(t.fs.bsize, 0);
	EXPECT_EQ(out, expect);
	EXPECT_EQ(inode_height(ip.get()), 1u);
	EXPECT_EQ(inode_size(ip.get()), 300u);
	EXPECT_EQ(inode_blocks(ip.get()), 2u);
	BmapExtent e;
	ASSERT_EQ(bmap_lookup(&t.fs, ip.get(), 0, 1, &e), 0);
	EXPECT_EQ(e.disk_block, blk);
	EXPECT_EQ(t.block_state_of(blk), int(CFS_BLKST_USED));
	// Unstuffing twice or a directory is a caller bug, refused.
	ASSERT_EQ(trans_begin(&t.fs, nullptr, 16, &tr), 0);
	EXPECT_EQ(inode_unstuff(&t.fs, &tr, ip.get(), out.data(), &blk), -CFS_EINVAL);
	InodeRef root(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, t.root, root.get()), 0);
	EXPECT_EQ(inode_unstuff(&t.fs, &tr, root.get(), out.data(), &blk), -CFS_EINVAL);
	trans_cancel(&tr);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, BmapTest, ::testing::Values(1024u, 4096u));

}  // namespace
}  // namespace cfs::test
