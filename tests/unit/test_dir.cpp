// Directory tests: linear directories, conversion to hashing, many splits and table
// doublings (inline table, then jdata blocks), readdir order and cookie stability
// across splits, removal, replace, freeing a directory.
#include "algo_fixture.h"

#include <map>
#include <set>

#include "siphash.h"

namespace cfs::test {
namespace {

class DirTest : public ::testing::TestWithParam<uint32_t> {
protected:
	TestFs t;
	void SetUp() override
	{
		TestFsOptions o;
		o.bsize = GetParam();
		o.blocks = 65536;
		o.rgrp_data = 16000;
		o.journal_blocks = 256;
		t.create(o);
	}

	uint64_t mkdir_at(uint64_t parent, const std::string &name)
	{
		Trans tr;
		EXPECT_EQ(trans_begin(&t.fs, nullptr, 256, &tr), 0);
		InodeInit init{};
		init.mode = kModeDir | 0755;
		init.parent = parent;
		Inode d;
		EXPECT_EQ(inode_alloc(&t.fs, &tr, parent, &init, &d), 0);
		InodeRef p(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, parent, p.get()), 0);
		DirEntry e{d.ino, inode_generation(&d), CFS_DT_DIR};
		EXPECT_EQ(dir_add(&t.fs, &tr, p.get(), name.data(), uint32_t(name.size()), &e), 0);
		uint64_t ino = d.ino;
		inode_put(&t.fs, &d);
		EXPECT_EQ(trans_commit(&tr), 0);
		return ino;
	}

	int add(uint64_t dir, const std::string &name, uint64_t target)
	{
		InodeRef d(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, dir, d.get()), 0);
		Trans tr;
		EXPECT_EQ(trans_begin(&t.fs, nullptr, dir_add_max_bufs(&t.fs, d.get()), &tr), 0);
		DirEntry e{target, 7, CFS_DT_REG};
		int err = dir_add(&t.fs, &tr, d.get(), name.data(), uint32_t(name.size()), &e);
		EXPECT_EQ(trans_commit(&tr), 0);
		return err;
	}

	int remove(uint64_t dir, const std::string &name, DirEntry *out = nullptr)
	{
		InodeRef d(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, dir, d.get()), 0);
		Trans tr;
		EXPECT_EQ(trans_begin(&t.fs, nullptr, 8, &tr), 0);
		int err = dir_remove(&t.fs, &tr, d.get(), name.data(), uint32_t(name.size()), out);
		EXPECT_EQ(trans_commit(&tr), 0);
		return err;
	}

	int lookup(uint64_t dir, const std::string &name, DirEntry *out)
	{
		InodeRef d(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, dir, d.get()), 0);
		return dir_lookup(&t.fs, d.get(), name.data(), uint32_t(name.size()), out);
	}

	struct Seen {
		std::string name;
		uint64_t ino;
		uint64_t cookie;
	};

	// One readdir call taking at most `max` entries.
	std::vector<Seen> readdir_batch(uint64_t dir, uint64_t *cookie, size_t max)
	{
		struct Ctx {
			std::vector<Seen> out;
			size_t max;
		} ctx{{}, max};
		InodeRef d(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, dir, d.get()), 0);
		EXPECT_EQ(dir_readdir(&t.fs, d.get(), cookie,
				      [](void *c, const char *name, uint32_t len, const DirEntry *e,
					 uint64_t after) {
					      auto *x = static_cast<Ctx *>(c);
					      if (x->out.size() == x->max)
						      return false;
					      x->out.push_back({std::string(name, len), e->ino, after});
					      return true;
				      },
				      &ctx),
			  0);
		return ctx.out;
	}

	std::vector<Seen> readdir_all(uint64_t dir)
	{
		uint64_t cookie = kDirCookieStart;
		auto all = readdir_batch(dir, &cookie, SIZE_MAX);
		EXPECT_EQ(cookie, kDirCookieEnd);
		return all;
	}

	uint64_t entries_of(uint64_t dir)
	{
		InodeRef d(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, dir, d.get()), 0);
		return from_le64(static_cast<cfs_dinode *>(buf_data(d->bh))->di_entries);
	}

	uint32_t flags_of(uint64_t dir)
	{
		InodeRef d(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, dir, d.get()), 0);
		return inode_flags(d.get());
	}

	static std::string name_for(int i)
	{
		// Varying lengths so leaves hold different numbers of entries.
		return "file-" + std::to_string(i) + std::string(size_t(i % 37), 'x');
	}
};

TEST_P(DirTest, NewDirectoryHasDotAndDotDot)
{
	uint64_t sub = mkdir_at(t.root, "sub");
	DirEntry e;
	ASSERT_EQ(lookup(sub, ".", &e), 0);
	EXPECT_EQ(e.ino, sub);
	ASSERT_EQ(lookup(sub, "..", &e), 0);
	EXPECT_EQ(e.ino, t.root);
	ASSERT_EQ(lookup(t.root, "..", &e), 0);
	EXPECT_EQ(e.ino, t.root);  // the root is its own parent
	EXPECT_EQ(entries_of(sub), 2u);
	InodeRef d(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, sub, d.get()), 0);
	EXPECT_EQ(inode_nlink(d.get()), 2u);
	EXPECT_EQ(inode_parent(d.get()), t.root);
	bool empty = false;
	ASSERT_EQ(dir_is_empty(&t.fs, d.get(), &empty), 0);
	EXPECT_TRUE(empty);
}

TEST_P(DirTest, AddLookupRemoveInALinearDirectory)
{
	ASSERT_EQ(add(t.root, "a", 100), 0);
	ASSERT_EQ(add(t.root, "bb", 101), 0);
	EXPECT_EQ(add(t.root, "a", 102), -CFS_EEXIST);
	DirEntry e;
	ASSERT_EQ(lookup(t.root, "a", &e), 0);
	EXPECT_EQ(e.ino, 100u);
	EXPECT_EQ(e.type, CFS_DT_REG);
	EXPECT_EQ(e.generation, 7u);
	EXPECT_EQ(lookup(t.root, "c", &e), -CFS_ENOENT);
	ASSERT_EQ(remove(t.root, "a", &e), 0);
	EXPECT_EQ(e.ino, 100u);
	EXPECT_EQ(lookup(t.root, "a", &e), -CFS_ENOENT);
	EXPECT_EQ(remove(t.root, "a"), -CFS_ENOENT);
	ASSERT_EQ(lookup(t.root, "bb", &e), 0);
	EXPECT_EQ(entries_of(t.root), 3u);
	EXPECT_EQ(flags_of(t.root) & CFS_DIF_EXHASH, 0u);
	// The space of a removed entry is reused.
	ASSERT_EQ(add(t.root, "a", 103), 0);
	ASSERT_EQ(lookup(t.root, "a", &e), 0);
	EXPECT_EQ(e.ino, 103u);
}

TEST_P(DirTest, BadNamesAreRejected)
{
	EXPECT_EQ(add(t.root, "", 5), -CFS_EINVAL);
	EXPECT_EQ(add(t.root, "a/b", 5), -CFS_EINVAL);
	EXPECT_EQ(add(t.root, std::string("a\0b", 3), 5), -CFS_EINVAL);
	EXPECT_EQ(add(t.root, std::string(256, 'n'), 5), -CFS_ENAMETOOLONG);
	EXPECT_EQ(add(t.root, std::string(255, 'n'), 5), 0);
	DirEntry e;
	EXPECT_EQ(lookup(t.root, std::string(256, 'n'), &e), -CFS_ENAMETOOLONG);
	EXPECT_EQ(lookup(t.root, std::string(255, 'n'), &e), 0);
}

TEST_P(DirTest, FullLinearDirectoryConvertsToHashedKeepingEveryEntry)
{
	uint64_t dir = mkdir_at(t.root, "d");
	int n = 0;
	while (!(flags_of(dir) & CFS_DIF_EXHASH)) {
		ASSERT_EQ(add(dir, name_for(n), 1000 + n), 0);
		n++;
		ASSERT_LT(n, 1000);
	}
	for (int i = 0; i < n; i++) {
		DirEntry e;
		ASSERT_EQ(lookup(dir, name_for(i), &e), 0) << name_for(i);
		EXPECT_EQ(e.ino, uint64_t(1000 + i));
	}
	DirEntry e;
	ASSERT_EQ(lookup(dir, "..", &e), 0);
	EXPECT_EQ(e.ino, t.root);
	EXPECT_EQ(entries_of(dir), uint64_t(n + 2));
	EXPECT_EQ(readdir_all(dir).size(), size_t(n + 2));
}

TEST_P(DirTest, ThousandsOfEntriesSplitLeavesAndGrowTheTableOutOfTheDinode)
{
	uint64_t dir = mkdir_at(t.root, "big");
	const int n = GetParam() == 1024 ? 6000 : 40000;
	uint64_t free_before = t.free_blocks();
	for (int i = 0; i < n; i++)
		ASSERT_EQ(add(dir, name_for(i), 10 + i), 0) << i;
	InodeRef d(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, dir, d.get()), 0);
	auto *di = static_cast<cfs_dinode *>(buf_data(d->bh));
	unsigned depth = from_le16(di->di_depth);
	EXPECT_GT(inode_height(d.get()), 0u) << "table should have left the inline area";
	EXPECT_TRUE(inode_flags(d.get()) & CFS_DIF_JDATA);
	EXPECT_EQ(from_le64(di->di_size), 8ull << depth);
	EXPECT_EQ(from_le64(di->di_entries), uint64_t(n + 2));
	EXPECT_EQ(inode_blocks(d.get()), 1 + (free_before - t.free_blocks()));
	for (int i = 0; i < n; i++) {
		DirEntry e;
		ASSERT_EQ(lookup(dir, name_for(i), &e), 0) << name_for(i);
		ASSERT_EQ(e.ino, uint64_t(10 + i));
	}
	// readdir: every entry exactly once, in strictly increasing key order.
	auto all = readdir_all(dir);
	ASSERT_EQ(all.size(), size_t(n + 2));
	std::set<std::string> names;
	uint64_t prev = 0;
	for (auto &s : all) {
		EXPECT_TRUE(names.insert(s.name).second) << "repeated " << s.name;
		EXPECT_GT(s.cookie, prev);
		prev = s.cookie;
		EXPECT_EQ(s.cookie, dir_name_key(&t.fs, s.name.data(), uint32_t(s.name.size())) + 1);
	}
}

TEST_P(DirTest, ReaddirCookiesStayValidAcrossSplitsAndDoublings)
{
	uint64_t dir = mkdir_at(t.root, "stable");
	const int initial = 400, added = GetParam() == 1024 ? 5000 : 8000;
	for (int i = 0; i < initial; i++)
		ASSERT_EQ(add(dir, name_for(i), 10 + i), 0);
	std::map<std::string, int> seen;
	uint64_t cookie = kDirCookieStart;
	int next = initial, calls = 0;
	while (cookie != kDirCookieEnd) {
		ASSERT_LT(calls++, 100000);
		for (auto &s : readdir_batch(dir, &cookie, 7))
			seen[s.name]++;
		// Grow the directory between calls: leaves split, the table doubles.
		for (int k = 0; k < 60 && next < initial + added; k++, next++)
			ASSERT_EQ(add(dir, name_for(next), 10 + next), 0);
	}
	EXPECT_EQ(next, initial + added) << "the readdir ended before the growth did";
	for (int i = 0; i < initial; i++)
		EXPECT_EQ(seen[name_for(i)], 1) << name_for(i) << " skipped or repeated";
	EXPECT_EQ(seen["."], 1);
	EXPECT_EQ(seen[".."], 1);
	for (auto &kv : seen)
		EXPECT_EQ(kv.second, 1) << kv.first << " repeated";
}

TEST_P(DirTest, ReservationsCoverWhatEachInsertDirties)
{
	uint64_t dir = mkdir_at(t.root, "reserve");
	InodeRef d(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, dir, d.get()), 0);
	unsigned small = 0;
	for (int i = 0; i < 6000; i++) {
		std::string name = name_for(i);
		uint32_t exact = 0;
		ASSERT_EQ(dir_add_bufs_for_name(&t.fs, d.get(), name.data(), uint32_t(name.size()), &exact), 0);
		uint32_t general = dir_add_max_bufs(&t.fs, d.get());
		ASSERT_LE(exact, general);
		small += exact <= 2;
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, exact, &tr), 0);
		DirEntry e{uint64_t(10 + i), 1, CFS_DT_REG};
		ASSERT_EQ(dir_add(&t.fs, &tr, d.get(), name.data(), uint32_t(name.size()), &e), 0);
		ASSERT_LE(tr.nbufs, exact) << "insert " << i << " dirtied more than reserved";
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	EXPECT_GT(small, 5000u) << "most inserts fit their leaf and should reserve 2 buffers";
}

TEST_P(DirTest, ResumingFromAnyCookieReturnsExactlyTheRest)
{
	uint64_t dir = mkdir_at(t.root, "resume");
	for (int i = 0; i < 700; i++)
		ASSERT_EQ(add(dir, name_for(i), 10 + i), 0);
	auto all = readdir_all(dir);
	ASSERT_EQ(all.size(), 702u);
	for (size_t k : {size_t(0), size_t(1), size_t(350), size_t(700), size_t(701)}) {
		uint64_t cookie = all[k].cookie;
		auto rest = readdir_batch(dir, &cookie, SIZE_MAX);
		ASSERT_EQ(rest.size(), all.size() - k - 1);
		if (!rest.empty()) {
			EXPECT_EQ(rest[0].name, all[k + 1].name);
		}
		EXPECT_EQ(cookie, kDirCookieEnd);
	}
}

TEST_P(DirTest, RemovingEntriesFromAHashedDirectory)
{
	uint64_t dir = mkdir_at(t.root, "rm");
	const int n = 3000;
	for (int i = 0; i < n; i++)
		ASSERT_EQ(add(dir, name_for(i), 10 + i), 0);
	for (int i = 0; i < n; i += 2) {
		DirEntry e;
		ASSERT_EQ(remove(dir, name_for(i), &e), 0);
		EXPECT_EQ(e.ino, uint64_t(10 + i));
	}
	for (int i = 0; i < n; i++) {
		DirEntry e;
		EXPECT_EQ(lookup(dir, name_for(i), &e), i % 2 ? 0 : -CFS_ENOENT) << name_for(i);
	}
	EXPECT_EQ(entries_of(dir), uint64_t(n / 2 + 2));
	EXPECT_EQ(readdir_all(dir).size(), size_t(n / 2 + 2));
	// Freed room is reused before the directory grows again.
	uint64_t free_now = t.free_blocks();
	for (int i = 0; i < n; i += 2)
		ASSERT_EQ(add(dir, name_for(i), 10 + i), 0);
	EXPECT_GE(t.free_blocks() + 4, free_now);
}

TEST_P(DirTest, ReplaceRepointsAnEntry)
{
	ASSERT_EQ(add(t.root, "target", 500), 0);
	InodeRef d(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, t.root, d.get()), 0);
	Trans tr;
	ASSERT_EQ(trans_begin(&t.fs, nullptr, 8, &tr), 0);
	DirEntry now{600, 3, CFS_DT_LNK}, old;
	ASSERT_EQ(dir_replace(&t.fs, &tr, d.get(), "target", 6, &now, &old), 0);
	EXPECT_EQ(dir_replace(&t.fs, &tr, d.get(), "nothere", 7, &now, &old), -CFS_ENOENT);
	ASSERT_EQ(trans_commit(&tr), 0);
	EXPECT_EQ(old.ino, 500u);
	DirEntry e;
	ASSERT_EQ(lookup(t.root, "target", &e), 0);
	EXPECT_EQ(e.ino, 600u);
	EXPECT_EQ(e.type, CFS_DT_LNK);
}

TEST_P(DirTest, FreeingAHashedDirectoryReturnsEveryBlock)
{
	uint64_t before = t.free_blocks();
	uint64_t dir = mkdir_at(t.root, "gone");
	for (int i = 0; i < 4000; i++)
		ASSERT_EQ(add(dir, name_for(i), 10 + i), 0);
	EXPECT_LT(t.free_blocks(), before - 10);
	Inode d;
	ASSERT_EQ(inode_get(&t.fs, dir, &d), 0);
	bool done = false;
	for (int steps = 0; !done; steps++) {
		ASSERT_LT(steps, 10000);
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, 64, &tr), 0);
		ASSERT_EQ(inode_free(&t.fs, &tr, &d, 16, &done), 0);
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	EXPECT_EQ(t.free_blocks(), before);
}

TEST_P(DirTest, EntriesSurviveReopen)
{
	uint64_t dir = mkdir_at(t.root, "persist");
	for (int i = 0; i < 2000; i++)
		ASSERT_EQ(add(dir, name_for(i), 10 + i), 0);
	ASSERT_EQ(cfs_env_sync(t.host), 0);
	t.crash_and_reopen();
	for (int i = 0; i < 2000; i++) {
		DirEntry e;
		ASSERT_EQ(lookup(dir, name_for(i), &e), 0);
		EXPECT_EQ(e.ino, uint64_t(10 + i));
	}
	EXPECT_EQ(readdir_all(dir).size(), 2002u);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, DirTest, ::testing::Values(1024u, 4096u));

}  // namespace
}  // namespace cfs::test

namespace cfs::test {
namespace {

// Names whose hashes share their top 17 bits all land in one slot even at the deepest
// table lib grows (2^17 slots): splits cannot separate them, so past one leaf's worth
// they chain (as soon as a split fails to make room, see docs/lib-algo.md).
class DirChainTest : public ::testing::Test {
protected:
	TestFs t;
	void SetUp() override
	{
		TestFsOptions o;
		o.bsize = 1024;
		o.blocks = 65536;
		o.rgrp_data = 16000;
		o.journal_blocks = 256;
		t.create(o);
	}

	std::vector<std::string> colliding_names(size_t want)
	{
		std::vector<std::string> out;
		uint32_t target = dir_hash(t.fs.sb.sb_hash_key, "c0", 2) >> 15;
		char buf[32];
		for (uint64_t i = 0; out.size() < want; i++) {
			int n = snprintf(buf, sizeof(buf), "c%llu", (unsigned long long)i);
			if (dir_hash(t.fs.sb.sb_hash_key, buf, size_t(n)) >> 15 == target)
				out.emplace_back(buf, size_t(n));
		}
		return out;
	}
};

TEST_F(DirChainTest, EntriesSharingTheDeepestPrefixChainLeaves)
{
	auto names = colliding_names(100);
	uint64_t free_before = t.free_blocks();
	InodeRef d(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, t.root, d.get()), 0);
	for (size_t i = 0; i < names.size(); i++) {
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, dir_add_max_bufs(&t.fs, d.get()), &tr), 0);
		DirEntry e{1000 + i, 1, CFS_DT_REG};
		ASSERT_EQ(dir_add(&t.fs, &tr, d.get(), names[i].data(), uint32_t(names[i].size()), &e), 0)
			<< i;
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	auto *di = static_cast<cfs_dinode *>(buf_data(d->bh));
	unsigned depth = from_le16(di->di_depth);
	EXPECT_GE(depth, 1u);
	EXPECT_EQ(inode_blocks(d.get()), 1 + free_before - t.free_blocks());
	// The slot of the shared prefix heads a chain of several leaves, each of the table's
	// depth (a chain only forms when splitting cannot separate the entries).
	uint64_t slot = dir_hash(t.fs.sb.sb_hash_key, names[0].data(), names[0].size()) >> (32 - depth);
	uint64_t leaf = 0;
	ASSERT_EQ(jdata_read(&t.fs, t.root, slot * 8, &leaf, 8), 0) << (t.log.empty() ? "" : t.log.back());
	unsigned chain = 0;
	for (uint64_t blk = from_le64(leaf); blk; chain++) {
		Buf *b;
		ASSERT_EQ(meta_read(&t.fs, blk, CFS_BT_LF, t.root, &b), 0);
		EXPECT_EQ(from_le16(static_cast<cfs_leaf *>(buf_data(b))->lf_depth), depth);
		blk = from_le64(static_cast<cfs_leaf *>(buf_data(b))->lf_next);
		meta_release(&t.fs, b);
	}
	EXPECT_GE(chain, 3u);
	for (size_t i = 0; i < names.size(); i++) {
		DirEntry e;
		ASSERT_EQ(dir_lookup(&t.fs, d.get(), names[i].data(), uint32_t(names[i].size()), &e), 0);
		EXPECT_EQ(e.ino, 1000 + i);
	}
	// readdir in small batches walks the chain once.
	std::map<std::string, int> seen;
	uint64_t cookie = kDirCookieStart;
	for (int calls = 0; cookie != kDirCookieEnd; calls++) {
		ASSERT_LT(calls, 1000);
		struct Ctx {
			std::map<std::string, int> *seen;
			int left;
		} ctx{&seen, 5};
		ASSERT_EQ(dir_readdir(&t.fs, d.get(), &cookie,
				      [](void *c, const char *name, uint32_t len, const DirEntry *, uint64_t) {
					      auto *x = static_cast<Ctx *>(c);
					      if (x->left-- == 0)
						      return false;
					      (*x->seen)[std::string(name, len)]++;
					      return true;
				      },
				      &ctx),
			  0);
	}
	EXPECT_EQ(seen.size(), names.size() + 2);
	for (auto &kv : seen)
		EXPECT_EQ(kv.second, 1) << kv.first;
	// Removing from the middle of the chain, then freeing everything.
	for (size_t i = 0; i < names.size(); i += 3) {
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, 8, &tr), 0);
		ASSERT_EQ(dir_remove(&t.fs, &tr, d.get(), names[i].data(), uint32_t(names[i].size()), nullptr), 0);
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	for (size_t i = 0; i < names.size(); i++) {
		DirEntry e;
		EXPECT_EQ(dir_lookup(&t.fs, d.get(), names[i].data(), uint32_t(names[i].size()), &e),
			  i % 3 ? 0 : -CFS_ENOENT);
	}
}

}  // namespace
}  // namespace cfs::test
