// Populating a real mkfs image through lib with journaled transactions: files of many
// sizes, holes, deep sparse trees, nested directories, a directory that hashes and
// splits many times; then a crash before any checkpoint and a replay, a clean close and a
// reopen. Everything is read back through lib and every allocated block is accounted
// for by the inodes that own it.
#include "algo_fixture.h"
#include "mkfs_fixture.h"

#include <map>

#include "layout.h"

namespace cfs::test {
namespace {

class PopulateTest : public ::testing::TestWithParam<uint32_t> {
protected:
	std::string path;
	cfs_host *host = nullptr;
	Fs fs{};
	Journal *j = nullptr;
	JournalLoc loc{};
	uint64_t root = 0;

	struct FileSpec {
		std::string dir, name;
		std::vector<std::pair<uint64_t, std::vector<uint8_t>>> writes;  // offset, bytes
		uint64_t size = 0;
	};
	std::vector<FileSpec> files;
	std::map<std::string, uint64_t> dirs;  // name -> ino ("" = root)
	std::vector<std::string> bigdir_names;

	void SetUp() override
	{
		const uint64_t bytes = 256ull << 20;
		ASSERT_NO_FATAL_FAILURE(create_sparse_image("populate", bytes, &path));
		mkfs::Params p;
		p.bsize = GetParam();
		p.journals = 2;
		p.journal_mb = 8;
		p.rgrp_mb = 32;
		p.locktable = "test:populate";
		p.dev_bytes = bytes;
		for (int i = 0; i < 16; i++) {
			p.uuid[i] = uint8_t(0x30 + i);
			p.hash_key[i] = uint8_t(0x51 * (i + 3));
		}
		p.now_sec = 1700000000;
		open_host();
		ASSERT_NO_FATAL_FAILURE(write_mkfs(host, p));
		close_all();
		open_fs();
	}

	void TearDown() override
	{
		close_all();
		// CFS_KEEP_POPULATED=1 keeps the image for fsck/clusterfs_tool by hand.
		if (getenv("CFS_KEEP_POPULATED"))
			fprintf(stderr, "populated image kept: %s\n", path.c_str());
		else
			unlink(path.c_str());
	}

	void open_host()
	{
		const char *why = nullptr;
		ASSERT_EQ(user::host_open(path.c_str(), user::HostOptions{}, &host, &why), 0) << why;
	}

	// Mounts the way the kernel does: superblock, rgrps, own journal (replayed if dirty).
	void open_fs(ReplayStats *stats = nullptr)
	{
		open_host();
		fs = Fs{};
		bool ro = true;
		ASSERT_EQ(fs_open(host, &fs, &ro), 0);
		ASSERT_EQ(rgrp_table_load(&fs), 0);
		ASSERT_EQ(journal_locate(&fs, 0, &loc), 0);
		ReplayStats st;
		ASSERT_EQ(journal_replay(&fs, &loc, false, &st), 0);
		if (stats)
			*stats = st;
		ASSERT_EQ(rgrp_table_load(&fs), 0);  // replay may have changed rgrp headers
		ASSERT_EQ(journal_open(&fs, &loc, &j), 0);
		root = from_le64(fs.sb.sb_root_addr);
		dirs[""] = root;
	}

	void close_all(bool clean = false)
	{
		if (j) {
			if (clean)
				EXPECT_EQ(journal_close_clean(j), 0);
			else
				journal_close(j);
		}
		j = nullptr;
		if (host) {
			if (fs.rgrps.rgrps)
				rgrp_table_free(&fs);
			EXPECT_EQ(user::host_held_buffers(host), 0u);
			user::host_close(host);
		}
		host = nullptr;
	}

	uint64_t create(uint64_t parent, const std::string &name, uint32_t mode)
	{
		InodeRef p(&fs);
		EXPECT_EQ(inode_get(&fs, parent, p.get()), 0);
		Trans tr;
		EXPECT_EQ(trans_begin(&fs, j, dir_add_max_bufs(&fs, p.get()) + 16, &tr), 0);
		InodeInit init{};
		init.mode = mode;
		init.nlink = 1;
		init.parent = parent;
		Inode ip;
		EXPECT_EQ(inode_alloc(&fs, &tr, parent, &init, &ip), 0);
		DirEntry e{ip.ino, inode_generation(&ip), dir_type_of_mode(mode)};
		EXPECT_EQ(dir_add(&fs, &tr, p.get(), name.data(), uint32_t(name.size()), &e), 0) << name;
		if ((mode & kModeTypeMask) == kModeDir) {
			EXPECT_EQ(inode_dirty(&tr, p.get()), 0);
			inode_set_nlink(p.get(), inode_nlink(p.get()) + 1);
		}
		uint64_t ino = ip.ino;
		inode_put(&fs, &ip);
		EXPECT_EQ(trans_commit(&tr), 0);
		return ino;
	}

	void write(uint64_t ino, uint64_t off, const std::vector<uint8_t> &data)
	{
		InodeRef ip(&fs);
		ASSERT_EQ(inode_get(&fs, ino, ip.get()), 0);
		// Chunks of 256 blocks keep each transaction well inside the journal.
		for (size_t done = 0; done < data.size();) {
			size_t n = std::min(data.size() - done, size_t(256) * fs.bsize);
			Trans tr;
			ASSERT_EQ(trans_begin(&fs, j, 64, &tr), 0);
			ASSERT_EQ(user::file_write(&fs, &tr, ip.get(), off + done, data.data() + done, n), 0);
			ASSERT_EQ(trans_commit(&tr), 0);
			done += n;
		}
	}

	uint64_t lookup_path(const std::string &dir, const std::string &name)
	{
		InodeRef d(&fs);
		EXPECT_EQ(inode_get(&fs, dirs[dir], d.get()), 0);
		DirEntry e{};
		EXPECT_EQ(dir_lookup(&fs, d.get(), name.data(), uint32_t(name.size()), &e), 0)
			<< dir << "/" << name;
		return e.ino;
	}

	void populate()
	{
		const uint64_t bs = fs.bsize;
		for (std::string d : {"a", "b", "a/deep"}) {
			std::string parent = d.find('/') == std::string::npos ? "" : d.substr(0, d.rfind('/'));
			std::string leaf = d.substr(d.rfind('/') + 1);
			dirs[d] = create(dirs[parent], leaf, kModeDir | 0755);
		}
		uint32_t seed = 1;
		std::vector<uint64_t> sizes = {0, 1, 100, fs.inline_size, fs.inline_size + 1, bs, 3 * bs + 7,
					       uint64_t(fs.dinode_ptrs) * bs + 1, 2000 * bs + 3};
		for (size_t i = 0; i < sizes.size(); i++) {
			FileSpec f;
			f.dir = i % 2 ? "a" : "a/deep";
			f.name = "size" + std::to_string(sizes[i]);
			if (sizes[i])
				f.writes.push_back({0, pattern(sizes[i], seed++)});
			f.size = sizes[i];
			files.push_back(f);
		}
		// Holes and deep sparse trees.
		FileSpec holes{"b", "holes", {{5 * bs, pattern(bs, seed++)}, {900 * bs + 11, pattern(100, seed++)}}, 900 * bs + 111};
		FileSpec deep{"b", "sparse-deep", {{1ull << 40, pattern(bs, seed++)}, {(1ull << 50) + 3, pattern(10, seed++)}},
			      (1ull << 50) + 13};
		files.push_back(holes);
		files.push_back(deep);
		for (auto &f : files) {
			uint64_t ino = create(dirs[f.dir], f.name, kModeReg | 0644);
			for (auto &w : f.writes)
				write(ino, w.first, w.second);
		}
		// A directory that hashes and splits many times.
		dirs["big"] = create(root, "big", kModeDir | 0755);
		for (int i = 0; i < 3000; i++) {
			bigdir_names.push_back("entry-" + std::to_string(i) + std::string(size_t(i % 29), 'z'));
			create(dirs["big"], bigdir_names.back(), kModeReg | 0600);
			if (i % 500 == 0) {
				ASSERT_EQ(journal_flush(j), 0);
			}
		}
	}

	void verify()
	{
		for (auto &f : files) {
			uint64_t ino = lookup_path(f.dir, f.name);
			InodeRef ip(&fs);
			ASSERT_EQ(inode_get(&fs, ino, ip.get()), 0);
			EXPECT_EQ(inode_size(ip.get()), f.size) << f.name;
			for (auto &w : f.writes) {
				std::vector<uint8_t> got(w.second.size());
				size_t n = 0;
				ASSERT_EQ(user::file_read(&fs, ip.get(), w.first, got.data(), got.size(), &n), 0);
				EXPECT_EQ(n, got.size());
				EXPECT_TRUE(got == w.second) << f.name << " at " << w.first;
			}
		}
		for (auto &name : bigdir_names)
			lookup_path("big", name);
		InodeRef big(&fs);
		ASSERT_EQ(inode_get(&fs, dirs["big"], big.get()), 0);
		EXPECT_TRUE(inode_flags(big.get()) & CFS_DIF_EXHASH);
		size_t count = 0;
		uint64_t cookie = kDirCookieStart;
		ASSERT_EQ(dir_readdir(&fs, big.get(), &cookie,
				      [](void *c, const char *, uint32_t, const DirEntry *, uint64_t) {
					      ++*static_cast<size_t *>(c);
					      return true;
				      },
				      &count),
			  0);
		EXPECT_EQ(count, bigdir_names.size() + 2);
		InodeRef a(&fs);
		ASSERT_EQ(inode_get(&fs, dirs["a"], a.get()), 0);
		EXPECT_EQ(inode_nlink(a.get()), 3u);  // ".", its entry in the root, "deep/.."
	}

	// Blocks in use in the rgrps must be exactly those the inodes own (mkfs's own files
	// included, measured before population).
	uint64_t used_blocks()
	{
		uint64_t used = 0;
		for (uint32_t i = 0; i < fs.rgrps.count; i++) {
			EXPECT_EQ(rgrp_refresh(&fs, &fs.rgrps.rgrps[i]), 0);
			if (!(fs.rgrps.rgrps[i].flags & CFS_RGF_JOURNAL))
				used += fs.rgrps.rgrps[i].data - fs.rgrps.rgrps[i].free;
		}
		return used;
	}

	uint64_t owned_by_populated()
	{
		uint64_t total = 0;
		std::vector<uint64_t> inos;
		for (auto &f : files)
			inos.push_back(lookup_path(f.dir, f.name));
		for (auto &n : bigdir_names)
			inos.push_back(lookup_path("big", n));
		for (auto &d : dirs)
			if (d.first != "")
				inos.push_back(d.second);
		for (uint64_t ino : inos) {
			InodeRef ip(&fs);
			EXPECT_EQ(inode_get(&fs, ino, ip.get()), 0);
			total += inode_blocks(ip.get());
		}
		return total;
	}

	uint64_t root_blocks()
	{
		InodeRef r(&fs);
		EXPECT_EQ(inode_get(&fs, root, r.get()), 0);
		return inode_blocks(r.get());
	}
};

TEST_P(PopulateTest, CrashBeforeCheckpointReplaysEverythingAndAccountsEveryBlock)
{
	// mkfs leaves a clean journal that lib recognises (owner, sequence, tail).
	JournalHead fresh;
	ASSERT_EQ(journal_find_head(&fs, &loc, &fresh), 0);
	EXPECT_FALSE(fresh.empty);
	EXPECT_TRUE(fresh.clean);
	uint64_t used_before = used_blocks(), root_before = root_blocks();
	populate();
	ASSERT_EQ(journal_flush(j), 0);
	verify();
	// Crash: nothing written in place since the last checkpoint survives but the log.
	close_all(false);
	ReplayStats st;
	open_fs(&st);
	EXPECT_GT(st.records, 0u);
	verify();
	EXPECT_EQ(used_blocks() - used_before, owned_by_populated() + root_blocks() - root_before);
	// Clean unmount, remount: nothing to replay, still all there.
	close_all(true);
	open_fs(&st);
	EXPECT_EQ(st.blocks_replayed, 0u);
	verify();
	JournalHead h;
	ASSERT_EQ(journal_find_head(&fs, &loc, &h), 0);
	EXPECT_TRUE(h.clean);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, PopulateTest, ::testing::Values(1024u, 4096u));

}  // namespace
}  // namespace cfs::test
