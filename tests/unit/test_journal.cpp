// Journal tests: transactions committed to the log but never written in place survive a
// crash through replay; replay is idempotent; the ring wraps; revokes keep an old image
// from overwriting a reused block; a torn or damaged record is handled; dry runs write
// nothing; a dirty journal cannot be opened for writing.
#include "algo_fixture.h"

#include <fcntl.h>

namespace cfs::test {
namespace {

class JournalTest : public ::testing::TestWithParam<uint32_t> {
protected:
	TestFs t;
	Journal *j = nullptr;

	virtual uint32_t journal_blocks() { return 256; }
	void SetUp() override { make(journal_blocks()); }

	void make(uint32_t journal_blocks)
	{
		TestFsOptions o;
		o.bsize = GetParam();
		o.blocks = 32768;
		o.rgrp_data = 8000;
		o.journal_blocks = journal_blocks;
		t.create(o);
		ASSERT_EQ(journal_open(&t.fs, &t.jloc, &j), 0);
	}

	void TearDown() override
	{
		if (j)
			journal_close(j);
		j = nullptr;
	}

	// A regular file `name` in the root holding `data`, in one journaled transaction.
	uint64_t create_file(const std::string &name, const std::vector<uint8_t> &data)
	{
		Trans tr;
		InodeRef root(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, t.root, root.get()), 0);
		EXPECT_EQ(trans_begin(&t.fs, j, dir_add_max_bufs(&t.fs, root.get()) + 32, &tr), 0);
		InodeInit init{};
		init.mode = kModeReg | 0644;
		init.nlink = 1;
		Inode ip;
		EXPECT_EQ(inode_alloc(&t.fs, &tr, t.root, &init, &ip), 0);
		if (!data.empty()) {
			EXPECT_EQ(user::file_write(&t.fs, &tr, &ip, 0, data.data(), data.size()), 0);
		}
		DirEntry e{ip.ino, inode_generation(&ip), CFS_DT_REG};
		EXPECT_EQ(dir_add(&t.fs, &tr, root.get(), name.data(), uint32_t(name.size()), &e), 0);
		uint64_t ino = ip.ino;
		inode_put(&t.fs, &ip);
		EXPECT_EQ(trans_commit(&tr), 0);
		return ino;
	}

	// Looks `name` up in the root and reads the whole file back.
	bool file_is(const std::string &name, const std::vector<uint8_t> &data)
	{
		InodeRef root(&t.fs);
		if (inode_get(&t.fs, t.root, root.get()))
			return false;
		DirEntry e;
		if (dir_lookup(&t.fs, root.get(), name.data(), uint32_t(name.size()), &e))
			return false;
		InodeRef ip(&t.fs);
		if (inode_get(&t.fs, e.ino, ip.get()))
			return false;
		std::vector<uint8_t> got(data.size() + 1);
		size_t n = 0;
		if (user::file_read(&t.fs, ip.get(), 0, got.data(), got.size(), &n))
			return false;
		got.resize(n);
		return got == data;
	}

	// Crash: forget everything not on disk, reopen the image.
	void crash()
	{
		journal_close(j);
		j = nullptr;
		t.crash_and_reopen();
	}

	ReplayStats replay(int expect = 0)
	{
		ReplayStats st{};
		EXPECT_EQ(journal_replay(&t.fs, &t.jloc, false, &st), expect);
		return st;
	}

	void corrupt_block(uint64_t blk, uint32_t offset)
	{
		int fd = ::open(t.path.c_str(), O_RDWR);
		ASSERT_GE(fd, 0);
		uint8_t b;
		off_t off = off_t(blk) * t.opt.bsize + offset;
		ASSERT_EQ(pread(fd, &b, 1, off), 1);
		b ^= 0x40;
		ASSERT_EQ(pwrite(fd, &b, 1, off), 1);
		::close(fd);
	}
};

TEST_P(JournalTest, FreshJournalIsEmptyAndCleanCloseLeavesAnUnmountHeader)
{
	JournalHead h;
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	EXPECT_TRUE(h.empty);
	create_file("a", pattern(10, 1));
	ASSERT_EQ(journal_close_clean(j), 0);
	j = nullptr;
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	EXPECT_FALSE(h.empty);
	EXPECT_TRUE(h.clean);
	EXPECT_TRUE(h.unmounted);
	// Everything is in place: visible without replay after a "crash".
	t.crash_and_reopen();
	EXPECT_TRUE(file_is("a", pattern(10, 1)));
	ReplayStats st = replay();
	EXPECT_EQ(st.blocks_replayed, 0u);
}

TEST_P(JournalTest, CommittedButNotCheckpointedSurvivesACrashThroughReplay)
{
	std::vector<std::vector<uint8_t>> data;
	for (int i = 0; i < 20; i++) {
		data.push_back(pattern(size_t(i) * 700, uint32_t(i)));
		create_file("f" + std::to_string(i), data.back());
		if (i % 5 == 4) {
			ASSERT_EQ(journal_flush(j), 0);
		}
	}
	crash();
	// Nothing was written in place: the files are not there yet.
	EXPECT_FALSE(file_is("f0", data[0]));
	JournalHead h;
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	EXPECT_FALSE(h.clean);
	EXPECT_FALSE(h.unmounted);
	ReplayStats st = replay();
	EXPECT_EQ(st.records, 4u);
	EXPECT_GT(st.blocks_replayed, 20u);
	for (int i = 0; i < 20; i++)
		EXPECT_TRUE(file_is("f" + std::to_string(i), data[size_t(i)])) << i;
	// A second replay finds a clean journal.
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	EXPECT_TRUE(h.clean);
	st = replay();
	EXPECT_EQ(st.blocks_replayed, 0u);
	// And the journal can be written again, after the recovery header.
	ASSERT_EQ(journal_open(&t.fs, &t.jloc, &j), 0);
	create_file("after", pattern(5, 77));
	ASSERT_EQ(journal_flush(j), 0);
	crash();
	replay();
	EXPECT_TRUE(file_is("after", pattern(5, 77)));
	EXPECT_TRUE(file_is("f19", data[19]));
}

TEST_P(JournalTest, UnflushedTransactionsAreLostAsAWhole)
{
	create_file("kept", pattern(100, 2));
	ASSERT_EQ(journal_flush(j), 0);
	create_file("lost", pattern(100, 3));  // committed to memory only
	crash();
	replay();
	EXPECT_TRUE(file_is("kept", pattern(100, 2)));
	InodeRef root(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, t.root, root.get()), 0);
	DirEntry e;
	EXPECT_EQ(dir_lookup(&t.fs, root.get(), "lost", 4, &e), -CFS_ENOENT);
}

TEST_P(JournalTest, CheckpointWritesInPlaceSoNothingIsLeftToReplay)
{
	create_file("cp", pattern(3000, 4));
	ASSERT_EQ(journal_checkpoint(j), 0);
	crash();
	EXPECT_TRUE(file_is("cp", pattern(3000, 4)));
	JournalHead h;
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	EXPECT_TRUE(h.clean);
}

TEST_P(JournalTest, AfterACheckpointTheJournalIsIdleAndTheNextRecordReplays)
{
	create_file("a", pattern(100, 5));
	ASSERT_EQ(journal_checkpoint(j), 0);
	// A cluster node checkpoints at every lock release: with nothing logged since, the
	// next one must find nothing to write.
	EXPECT_FALSE(journal_needs_checkpoint(j));
	EXPECT_EQ(journal_free_blocks(j), t.jloc.length);
	create_file("b", pattern(100, 6));
	ASSERT_EQ(journal_flush(j), 0);
	crash();
	ReplayStats st = replay();
	EXPECT_EQ(st.records, 1u);
	EXPECT_TRUE(file_is("a", pattern(100, 5)));
	EXPECT_TRUE(file_is("b", pattern(100, 6)));
}

// A journal a few records fill.
class SmallJournalTest : public JournalTest {
protected:
	uint32_t journal_blocks() override { return 128; }
};

TEST_P(SmallJournalTest, TheRingWrapsAndReplayCrossesTheEnd)
{
	std::vector<std::vector<uint8_t>> data;
	bool wrapped_live = false;
	int i = 0;
	for (; i < 400 && !wrapped_live; i++) {
		data.push_back(pattern(50 + size_t(i), uint32_t(i)));
		create_file("w" + std::to_string(i), data.back());
		ASSERT_EQ(journal_flush(j), 0);
		JournalHead h;
		ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
		// The live part of the log runs across the ring's end, with 2+ records.
		wrapped_live = i > 40 && h.tail > h.head + 1 && h.head > 3;
	}
	ASSERT_TRUE(wrapped_live) << "never saw the live log wrap";
	crash();
	ReplayStats st = replay();
	EXPECT_GE(st.records, 1u);
	for (int k = 0; k < i; k++)
		EXPECT_TRUE(file_is("w" + std::to_string(k), data[size_t(k)])) << k;
}

TEST_P(JournalTest, RevokedBlockIsNotOverwrittenByAnOlderImage)
{
	// A file big enough for an indirect block (height 2), logged in record 1.
	uint64_t big = uint64_t(t.fs.dinode_ptrs + 8) * t.fs.bsize;
	uint64_t ino = create_file("tree", pattern(size_t(big), 5));
	ASSERT_EQ(journal_flush(j), 0);
	uint64_t indirect;
	{
		InodeRef ip(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		ASSERT_EQ(inode_height(ip.get()), 2u);
		indirect = from_le64(reinterpret_cast<const cfs_le64 *>(
			static_cast<uint8_t *>(buf_data(ip->bh)) + CFS_DINODE_SIZE)[0]);
		ASSERT_NE(indirect, 0u);
		// Record 2: truncate frees (and revokes) the indirect block.
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, j, 64, &tr), 0);
		bool done = false;
		ASSERT_EQ(inode_truncate(&t.fs, &tr, ip.get(), 0, 1000, &done), 0);
		ASSERT_TRUE(done);
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	ASSERT_EQ(journal_flush(j), 0);
	EXPECT_EQ(t.block_state_of(indirect), int(CFS_BLKST_FREE));
	// The block is reused for file data, written in place (ordered data).
	std::vector<uint8_t> reuse = pattern(t.fs.bsize, 6);
	const void *p = reuse.data();
	ASSERT_EQ(cfs_env_log_write(t.host, indirect, &p, 1, 0), 0);
	crash();
	ReplayStats st = replay();
	EXPECT_GE(st.blocks_revoked, 1u);
	EXPECT_GE(st.revokes, 1u);
	std::vector<uint8_t> now(t.fs.bsize);
	ASSERT_EQ(cfs_env_blocks_read(t.host, indirect, now.data(), 1), 0);
	EXPECT_EQ(now, reuse) << "replay wrote a revoked image over a reused block";
	EXPECT_TRUE(file_is("tree", {}));
	EXPECT_EQ(t.block_state_of(indirect), int(CFS_BLKST_FREE));
}

// A checkpoint writes every logged block home, then a bare header moving the tail. Killed
// between the two, the log still holds every record while the disk already holds each
// block's newest image. Replaying record by record would write the root directory's
// first image over its newest until the last record comes: a window in which the disk
// is rolled back (and a cluster node checking generations withdraws). Replay writes
// each block once, with its newest image.
TEST_P(JournalTest, ReplayNeverWritesAnOlderImageOverANewerOne)
{
	for (int i = 0; i < 5; i++) {
		create_file("g" + std::to_string(i), pattern(100, uint32_t(i)));
		ASSERT_EQ(journal_flush(j), 0);
	}
	std::vector<uint8_t> newest_root(t.fs.bsize);
	{
		InodeRef root(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, t.root, root.get()), 0);
		memcpy(newest_root.data(), buf_data(root->bh), t.fs.bsize);
	}
	// The cut-short checkpoint: the newest root image is home, the tail has not moved.
	const void *p = newest_root.data();
	ASSERT_EQ(cfs_env_log_write(t.host, t.root, &p, 1, 0), 0);
	crash();
	struct Seen {
		uint64_t root;
		std::vector<uint8_t> newest;
		int root_writes = 0, older_writes = 0;
	} seen{t.root, newest_root};
	user::host_set_write_observer(t.host, [](void *ctx, uint64_t blkno, const void *data) {
		auto *s = static_cast<Seen *>(ctx);
		if (blkno != s->root)
			return;
		s->root_writes++;
		if (memcmp(data, s->newest.data(), s->newest.size()))
			s->older_writes++;
	}, &seen);
	ReplayStats st = replay();
	user::host_set_write_observer(t.host, nullptr, nullptr);
	EXPECT_EQ(st.records, 5u);
	EXPECT_EQ(seen.root_writes, 1) << "each block is written home once";
	EXPECT_EQ(seen.older_writes, 0) << "an older image of the root directory was written home";
	EXPECT_GE(st.blocks_superseded, 4u) << "the root was logged in all five records";
	for (int i = 0; i < 5; i++)
		EXPECT_TRUE(file_is("g" + std::to_string(i), pattern(100, uint32_t(i)))) << i;
}

TEST_P(JournalTest, TornCommitHeaderIsIgnored)
{
	create_file("first", pattern(10, 7));
	ASSERT_EQ(journal_flush(j), 0);
	create_file("second", pattern(10, 8));
	ASSERT_EQ(journal_flush(j), 0);
	JournalHead h;
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	crash();
	// The newest commit header was torn: its CRC no longer matches.
	corrupt_block(t.jloc.first + h.head, 200);
	t.crash_and_reopen();
	JournalHead h2;
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h2), 0);
	EXPECT_EQ(h2.sequence, h.sequence - 1);
	ReplayStats st = replay();
	EXPECT_EQ(st.records, 1u);
	EXPECT_TRUE(file_is("first", pattern(10, 7)));
	InodeRef root(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, t.root, root.get()), 0);
	DirEntry e;
	EXPECT_EQ(dir_lookup(&t.fs, root.get(), "second", 6, &e), -CFS_ENOENT);
}

TEST_P(JournalTest, DamagedImageInACommittedRecordFailsWithoutWriting)
{
	create_file("x", pattern(10, 9));
	ASSERT_EQ(journal_flush(j), 0);
	JournalHead h;
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	crash();
	// Block tail+1 is the first image after the first descriptor.
	corrupt_block(t.jloc.first + h.tail + 1, 300);
	t.crash_and_reopen();
	ReplayStats st;
	EXPECT_EQ(journal_replay(&t.fs, &t.jloc, false, &st), -CFS_EUCLEAN);
	EXPECT_EQ(st.blocks_replayed, 0u);
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	EXPECT_FALSE(h.clean) << "a failed replay must leave the journal dirty";
}

TEST_P(JournalTest, DryRunReportsButWritesNothing)
{
	create_file("dry", pattern(10, 10));
	ASSERT_EQ(journal_flush(j), 0);
	crash();
	ReplayStats st;
	ASSERT_EQ(journal_replay(&t.fs, &t.jloc, true, &st), 0);
	EXPECT_GT(st.blocks_replayed, 0u);
	t.crash_and_reopen();
	EXPECT_FALSE(file_is("dry", pattern(10, 10)));
	JournalHead h;
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	EXPECT_FALSE(h.clean);
	replay();
	EXPECT_TRUE(file_is("dry", pattern(10, 10)));
}

TEST_P(JournalTest, DirtyJournalCannotBeOpenedForWriting)
{
	create_file("d", pattern(10, 11));
	ASSERT_EQ(journal_flush(j), 0);
	crash();
	Journal *j2 = nullptr;
	EXPECT_EQ(journal_open(&t.fs, &t.jloc, &j2), -CFS_EUCLEAN);
	EXPECT_EQ(j2, nullptr);
}

TEST_P(JournalTest, BlockFreedAndReusedInOneRecordReplaysItsNewContents)
{
	// A directory that converts to hashed and back to many leaves, then is removed and
	// its blocks reused, all before one flush: revokes must not hide the new images.
	for (int i = 0; i < 60; i++)
		create_file("m" + std::to_string(i), pattern(20, uint32_t(i)));
	ASSERT_EQ(journal_flush(j), 0);
	for (int i = 60; i < 120; i++)
		create_file("m" + std::to_string(i), pattern(20, uint32_t(i)));
	ASSERT_EQ(journal_flush(j), 0);
	crash();
	replay();
	for (int i = 0; i < 120; i++)
		EXPECT_TRUE(file_is("m" + std::to_string(i), pattern(20, uint32_t(i)))) << i;
}

TEST_P(SmallJournalTest, TransactionsWithoutFlushesCheckpointWhenTheRingFills)
{
	// No explicit flush: trans_begin writes the record and checkpoints when the next
	// transaction might not fit, instead of failing.
	std::vector<std::vector<uint8_t>> data;
	for (int i = 0; i < 150; i++) {
		data.push_back(pattern(30, uint32_t(i)));
		create_file("n" + std::to_string(i), data.back());
		ASSERT_FALSE(HasFailure()) << "transaction " << i;
	}
	ASSERT_EQ(journal_flush(j), 0);
	crash();
	replay();
	for (int i = 0; i < 150; i++)
		EXPECT_TRUE(file_is("n" + std::to_string(i), data[size_t(i)])) << i;
}

TEST_P(JournalTest, BlockRevokedThenReusedAsMetadataIsCheckpointedInPlace)
{
	// Record 1 logs file A's dinode D (D joins the AIL); record 2 frees A (D revoked,
	// dropped from the AIL); record 3 allocates D again for file B. The checkpoint must
	// write B's dinode in place: after it the log no longer covers D.
	uint64_t a = create_file("a", pattern(10, 20));
	ASSERT_EQ(journal_flush(j), 0);
	{
		InodeRef root(&t.fs);
		ASSERT_EQ(inode_get(&t.fs, t.root, root.get()), 0);
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, j, 32, &tr), 0);
		ASSERT_EQ(dir_remove(&t.fs, &tr, root.get(), "a", 1, nullptr), 0);
		Inode ip;
		ASSERT_EQ(inode_get(&t.fs, a, &ip), 0);
		bool done = false;
		ASSERT_EQ(inode_free(&t.fs, &tr, &ip, 100, &done), 0);
		ASSERT_TRUE(done);
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	ASSERT_EQ(journal_flush(j), 0);
	uint64_t b = create_file("b", pattern(10, 21));
	ASSERT_EQ(b, a) << "the allocator did not reuse the freed dinode; the test needs it";
	ASSERT_EQ(journal_checkpoint(j), 0);
	crash();
	JournalHead h;
	ASSERT_EQ(journal_find_head(&t.fs, &t.jloc, &h), 0);
	EXPECT_TRUE(h.clean);
	EXPECT_TRUE(file_is("b", pattern(10, 21))) << "the re-used dinode never reached its home";
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, JournalTest, ::testing::Values(1024u, 4096u));
INSTANTIATE_TEST_SUITE_P(BlockSizes, SmallJournalTest, ::testing::Values(1024u, 4096u));

}  // namespace
}  // namespace cfs::test
