// mkfs round trips: make a filesystem with mkfs's layout code over block sizes and
// journal counts, then read it back only through lib (superblock, rindex, rgrp headers
// and bitmaps, system files, directories, journals) and check every block is accounted.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fcntl.h>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

#include "fs.h"
#include "journal.h"
#include "layout.h"
#include "rgrp.h"
#include "siphash.h"
#include "statfs.h"
#include "trans.h"
#include "user/host.h"

namespace {

using namespace cfs;

struct Image {
	std::string path;
	cfs_host *host = nullptr;
	std::vector<std::string> log;

	explicit Image(uint64_t bytes)
	{
		char tmpl[] = "/tmp/cfs-mkfs-XXXXXX";
		int fd = mkstemp(tmpl);
		EXPECT_GE(fd, 0);
		path = tmpl;
		EXPECT_EQ(ftruncate(fd, off_t(bytes)), 0);
		::close(fd);
	}
	~Image()
	{
		close();
		unlink(path.c_str());
	}
	void open()
	{
		const char *why = nullptr;
		ASSERT_EQ(user::host_open(path.c_str(), user::HostOptions{}, &host, &why), 0);
		user::host_set_log(host, [](void *ctx, int, const char *m) {
			static_cast<Image *>(ctx)->log.push_back(m);
		}, this, CFS_LOG_DEBUG);
	}
	void close()
	{
		if (host) {
			EXPECT_EQ(user::host_held_buffers(host), 0u);
			user::host_close(host);
			host = nullptr;
		}
	}
	std::string messages() const
	{
		std::string all;
		for (auto &m : log)
			all += m + "\n";
		return all;
	}
};

mkfs::Params params(uint32_t bsize, uint32_t journals, uint64_t bytes)
{
	mkfs::Params p;
	p.bsize = bsize;
	p.journals = journals;
	p.locktable = "testcluster:fs0";
	p.dev_bytes = bytes;
	for (int i = 0; i < 16; i++) {
		p.uuid[i] = uint8_t(0x10 + i);
		p.hash_key[i] = uint8_t(0x80 + 3 * i);
	}
	p.now_sec = 1700000000;
	p.now_nsec = 123456789;
	return p;
}

void make(Image &img, const mkfs::Params &p, mkfs::Plan *plan)
{
	std::string error;
	ASSERT_TRUE(mkfs::plan(p, plan, &error)) << error;
	img.open();
	ASSERT_EQ(mkfs::write(img.host, p, *plan, &error), 0) << error;
	img.close();
}

// Every block an inode owns (dinode, tree, data), read through lib's verifiers.
void collect_file(Fs *fs, uint64_t ino, std::map<uint64_t, unsigned> *owned, bool jdata_data)
{
	Buf *b;
	ASSERT_EQ(meta_read(fs, ino, CFS_BT_DI, ino, &b), 0);
	const auto *di = static_cast<const cfs_dinode *>(buf_data(b));
	const unsigned height = from_le16(di->di_height);
	const uint64_t di_blocks = from_le64(di->di_blocks);
	ASSERT_TRUE(owned->emplace(ino, CFS_BLKST_DINODE).second) << "block " << ino << " twice";
	uint64_t count = 1;
	std::vector<uint64_t> level;
	if (height) {
		for (uint32_t i = 0; i < fs->dinode_ptrs; i++)
			if (uint64_t ptr = load_le64(reinterpret_cast<const uint8_t *>(di) + CFS_DINODE_SIZE + 8 * i))
				level.push_back(ptr);
	}
	meta_release(fs, b);
	for (unsigned h = 1; h < height; h++) {
		std::vector<uint64_t> below;
		for (uint64_t blk : level) {
			ASSERT_EQ(meta_read(fs, blk, CFS_BT_IN, ino, &b), 0);
			for (uint32_t i = 0; i < fs->indirect_ptrs; i++)
				if (uint64_t ptr = load_le64(static_cast<uint8_t *>(buf_data(b)) +
							     CFS_META_HEADER_SIZE + 8 * i))
					below.push_back(ptr);
			meta_release(fs, b);
			ASSERT_TRUE(owned->emplace(blk, CFS_BLKST_USED).second);
			count++;
		}
		level = below;
	}
	for (uint64_t blk : level) {
		if (jdata_data) {
			ASSERT_EQ(meta_read(fs, blk, CFS_BT_JD, ino, &b), 0);
			meta_release(fs, b);
		}
		ASSERT_TRUE(owned->emplace(blk, CFS_BLKST_USED).second) << "block " << blk << " twice";
		count++;
	}
	EXPECT_EQ(count, di_blocks) << "inode " << ino;
}

struct DirEnt {
	uint64_t ino, generation;
	uint32_t hash;
	uint8_t type;
};

std::map<std::string, DirEnt> read_linear_dir(Fs *fs, uint64_t ino)
{
	std::map<std::string, DirEnt> out;
	Buf *b;
	EXPECT_EQ(meta_read(fs, ino, CFS_BT_DI, ino, &b), 0);
	if (!b)
		return out;
	const uint8_t *area = static_cast<uint8_t *>(buf_data(b)) + CFS_DINODE_SIZE;
	for (uint32_t off = 0; off < fs->inline_size;) {
		cfs_dirent de;
		memcpy(&de, area + off, sizeof(de));
		if (de.de_inum)
			out[std::string(reinterpret_cast<const char *>(area + off + sizeof(de)), de.de_name_len)] =
				DirEnt{from_le64(de.de_inum), from_le64(de.de_generation), from_le32(de.de_hash),
				       de.de_type};
		off += from_le16(de.de_rec_len);
	}
	meta_release(fs, b);
	return out;
}

class MkfsRoundTrip : public ::testing::TestWithParam<std::tuple<uint32_t, uint32_t>> {};

TEST_P(MkfsRoundTrip, EveryBlockIsAccountedAndReadableThroughLib)
{
	const auto [bsize, journals] = GetParam();
	const uint64_t bytes = 320ull << 20;
	Image img(bytes);
	mkfs::Params p = params(bsize, journals, bytes);
	p.journal_mb = 8;
	p.rgrp_mb = 32;
	mkfs::Plan plan;
	make(img, p, &plan);
	img.open();

	Fs fs{};
	bool ro = true;
	ASSERT_EQ(fs_open(img.host, &fs, &ro), 0) << img.messages();
	EXPECT_FALSE(ro);
	EXPECT_EQ(fs.bsize, bsize);
	EXPECT_EQ(fs.blocks, bytes / bsize);
	EXPECT_EQ(memcmp(fs.uuid, p.uuid, 16), 0);
	EXPECT_EQ(from_le32(fs.sb.sb_journals), journals);
	EXPECT_STREQ(fs.sb.sb_locktable, "testcluster:fs0");
	EXPECT_STREQ(fs.sb.sb_lockproto, "lock_cluster");
	ASSERT_EQ(rgrp_table_load(&fs), 0) << img.messages();
	ASSERT_EQ(fs.rgrps.count, from_le32(fs.sb.sb_rgrps));

	// Reachable blocks: the system files and, through the jindex, journals and
	// statfs-change files.
	std::map<uint64_t, unsigned> owned;
	collect_file(&fs, from_le64(fs.sb.sb_master_addr), &owned, false);
	collect_file(&fs, from_le64(fs.sb.sb_root_addr), &owned, false);
	collect_file(&fs, from_le64(fs.sb.sb_jindex_addr), &owned, true);
	collect_file(&fs, from_le64(fs.sb.sb_rindex_addr), &owned, true);
	collect_file(&fs, from_le64(fs.sb.sb_statfs_addr), &owned, true);
	std::vector<cfs_jindex> ji(journals);
	ASSERT_EQ(jdata_read(&fs, from_le64(fs.sb.sb_jindex_addr), 0, ji.data(),
			     uint32_t(ji.size() * sizeof(cfs_jindex))), 0);
	for (uint32_t j = 0; j < journals; j++) {
		const uint64_t jino = from_le64(ji[j].ji_journal_addr);
		collect_file(&fs, jino, &owned, false);
		collect_file(&fs, from_le64(ji[j].ji_statfs_addr), &owned, true);
		// The journal extent is contiguous and owned by its dinode.
		const uint64_t first = from_le64(ji[j].ji_first_block), n = from_le64(ji[j].ji_blocks);
		EXPECT_EQ(n, (8ull << 20) / bsize);
		for (uint64_t b = first; b < first + n; b++)
			ASSERT_EQ(owned.count(b), 1u) << "journal block " << b;
		// Its rgrp holds nothing else and is closed to allocation.
		Rgrp *rg = rgrp_of_block(&fs, first);
		ASSERT_NE(rg, nullptr);
		ASSERT_EQ(rgrp_refresh(&fs, rg), 0);
		EXPECT_TRUE(rg->flags & CFS_RGF_JOURNAL);
		EXPECT_EQ(rg->free, 0u);
		// lib's journal code sees a clean journal with one header.
		JournalLoc loc{jino, first, uint32_t(n)};
		JournalHead head;
		ASSERT_EQ(journal_find_head(&fs, &loc, &head), 0) << img.messages();
		EXPECT_FALSE(head.empty);
		EXPECT_TRUE(head.clean);
		EXPECT_TRUE(head.unmounted);
		EXPECT_EQ(head.sequence, 1u);
	}

	// Bitmaps: every data block's state is what reachability says, counts agree.
	uint64_t total = 0, free_blocks = 0, dinodes = 0;
	for (uint32_t r = 0; r < fs.rgrps.count; r++) {
		Rgrp *rg = &fs.rgrps.rgrps[r];
		ASSERT_EQ(rgrp_refresh(&fs, rg), 0);
		uint32_t counts[4] = {};
		for (uint64_t b = rg->data0; b < rg->data0 + rg->data; b++) {
			int state = block_state(&fs, b);
			ASSERT_GE(state, 0);
			counts[state]++;
			auto it = owned.find(b);
			const unsigned expected = it == owned.end() ? unsigned(CFS_BLKST_FREE) : it->second;
			ASSERT_EQ(unsigned(state), expected) << "block " << b;
		}
		EXPECT_EQ(rg->free, counts[CFS_BLKST_FREE]);
		EXPECT_EQ(rg->dinodes, counts[CFS_BLKST_DINODE]);
		total += rg->data;
		free_blocks += rg->free;
		dinodes += rg->dinodes;
		if (r + 1 < fs.rgrps.count) {
			EXPECT_GE(fs.rgrps.rgrps[r + 1].addr, rg->data0 + rg->data);
		}
	}
	// Every owned block lies in some rgrp's data.
	for (auto &[blk, state] : owned)
		EXPECT_NE(rgrp_of_block(&fs, blk), nullptr) << "block " << blk;
	EXPECT_EQ(dinodes, 5u + 2u * journals);

	cfs_statfs sf;
	ASSERT_EQ(jdata_read(&fs, from_le64(fs.sb.sb_statfs_addr), 0, &sf, sizeof(sf)), 0);
	EXPECT_EQ(from_le64(sf.sf_total), total);
	EXPECT_EQ(from_le64(sf.sf_free), free_blocks);
	EXPECT_EQ(from_le64(sf.sf_dinodes), dinodes);

	// Directories: names, targets, generations and hashes.
	const uint64_t master = from_le64(fs.sb.sb_master_addr), root = from_le64(fs.sb.sb_root_addr);
	auto m = read_linear_dir(&fs, master);
	ASSERT_EQ(m.size(), 5u);
	EXPECT_EQ(m["."].ino, master);
	EXPECT_EQ(m[".."].ino, master);
	EXPECT_EQ(m["jindex"].ino, from_le64(fs.sb.sb_jindex_addr));
	EXPECT_EQ(m["rindex"].ino, from_le64(fs.sb.sb_rindex_addr));
	EXPECT_EQ(m["statfs"].ino, from_le64(fs.sb.sb_statfs_addr));
	for (auto &[name, e] : m)
		EXPECT_EQ(e.hash, dir_hash(p.hash_key, name.data(), name.size())) << name;
	EXPECT_EQ(m["rindex"].type, CFS_DT_REG);
	auto rt = read_linear_dir(&fs, root);
	ASSERT_EQ(rt.size(), 2u);
	EXPECT_EQ(rt["."].ino, root);
	EXPECT_EQ(rt[".."].ino, root);
	EXPECT_EQ(rt["."].type, CFS_DT_DIR);

	fs_close(&fs);
	EXPECT_EQ(img.messages(), "");
}

INSTANTIATE_TEST_SUITE_P(BlockSizesAndJournals, MkfsRoundTrip,
			 ::testing::Combine(::testing::Values(1024u, 2048u, 4096u),
					    ::testing::Values(1u, 3u)));

// The kernel's first steps on a fresh filesystem, through lib: locate the slot's
// journal, open it, commit an allocation, crash before any checkpoint, replay.
TEST(Mkfs, FreshJournalTakesATransactionAndReplaysItAfterACrash)
{
	const uint64_t bytes = 256ull << 20;
	Image img(bytes);
	mkfs::Params p = params(4096, 2, bytes);
	p.journal_mb = 8;
	mkfs::Plan plan;
	make(img, p, &plan);
	img.open();
	Fs fs{};
	ASSERT_EQ(fs_open(img.host, &fs, nullptr), 0) << img.messages();
	ASSERT_EQ(rgrp_table_load(&fs), 0);
	JournalLoc loc;
	ASSERT_EQ(journal_locate(&fs, 1, &loc), 0) << img.messages();
	EXPECT_EQ(loc.first, plan.journal_files[1].data.front());
	cfs_jindex ji[2];
	ASSERT_EQ(jdata_read(&fs, from_le64(fs.sb.sb_jindex_addr), 0, ji, sizeof(ji)), 0);
	fs.statfs_local_ino = from_le64(ji[1].ji_statfs_addr);
	Journal *j = nullptr;
	ASSERT_EQ(journal_open(&fs, &loc, &j), 0) << img.messages();
	Trans tr;
	ASSERT_EQ(trans_begin(&fs, j, 8, &tr), 0);
	uint64_t blk;
	uint32_t got;
	ASSERT_EQ(rgrp_alloc(&fs, &tr, 0, 3, CFS_BLKST_USED, &blk, &got, nullptr), 0);
	ASSERT_EQ(trans_commit(&tr), 0);
	ASSERT_EQ(journal_flush(j), 0);
	journal_close(j);  // crash: logged, never written in place
	fs_close(&fs);
	img.close();

	img.open();
	ASSERT_EQ(fs_open(img.host, &fs, nullptr), 0);
	ASSERT_EQ(rgrp_table_load(&fs), 0);
	EXPECT_EQ(block_state(&fs, blk), int(CFS_BLKST_FREE)) << "home block not yet written";
	ReplayStats stats;
	ASSERT_EQ(journal_replay(&fs, &loc, false, &stats), 0) << img.messages();
	EXPECT_GE(stats.blocks_replayed, 2u) << "rgrp header and statfs-change dinode at least";
	fs_close(&fs);
	img.close();
	img.open();
	ASSERT_EQ(fs_open(img.host, &fs, nullptr), 0);
	ASSERT_EQ(rgrp_table_load(&fs), 0);
	EXPECT_EQ(block_state(&fs, blk), int(CFS_BLKST_USED));
	EXPECT_EQ(block_state(&fs, blk + got - 1), int(CFS_BLKST_USED));
	StatfsCounts local;
	ASSERT_EQ(statfs_read(&fs, from_le64(ji[1].ji_statfs_addr), &local), 0);
	EXPECT_EQ(local.free, -int64_t(got));
	JournalHead head;
	ASSERT_EQ(journal_find_head(&fs, &loc, &head), 0);
	EXPECT_TRUE(head.clean);
	fs_close(&fs);
}

TEST(Mkfs, LargeRindexAndJindexSpillIntoJdataBlocks)
{
	// 1 KiB blocks, 4 MiB rgrps and 20 journals: the rindex (and jindex) exceed the
	// 768-byte inline area and need jdata blocks, read back through jdata_read.
	const uint64_t bytes = 600ull << 20;
	Image img(bytes);
	mkfs::Params p = params(1024, 20, bytes);
	p.journal_mb = 8;
	p.rgrp_mb = 4;
	mkfs::Plan plan;
	make(img, p, &plan);
	EXPECT_GT(plan.rindex.height, 0u);
	EXPECT_GT(plan.jindex.height, 0u);
	img.open();
	Fs fs{};
	ASSERT_EQ(fs_open(img.host, &fs, nullptr), 0) << img.messages();
	ASSERT_EQ(rgrp_table_load(&fs), 0) << img.messages();
	EXPECT_EQ(fs.rgrps.count, plan.rgrps.size());
	for (uint32_t r = 0; r < fs.rgrps.count; r++)
		EXPECT_EQ(fs.rgrps.rgrps[r].addr, plan.rgrps[r].addr);
	fs_close(&fs);
}

TEST(Mkfs, RefusesParametersThatCannotWork)
{
	std::string error;
	mkfs::Plan plan;
	mkfs::Params p = params(4096, 2, 64ull << 20);
	p.journal_mb = 128;
	EXPECT_FALSE(mkfs::plan(p, &plan, &error));
	EXPECT_NE(error.find("use fewer journals (-j) or smaller ones (-J)"), std::string::npos) << error;

	p = params(4096, 0, 1ull << 30);
	EXPECT_FALSE(mkfs::plan(p, &plan, &error));
	EXPECT_NE(error.find("number of journals"), std::string::npos) << error;

	p = params(4096, 1, 1ull << 30);
	p.locktable = "no-colon";
	EXPECT_FALSE(mkfs::plan(p, &plan, &error));
	EXPECT_NE(error.find("cluster:fsname"), std::string::npos) << error;

	p.locktable = "a:b:c";
	EXPECT_FALSE(mkfs::plan(p, &plan, &error));
	p.locktable = "averyveryveryveryverylongclustername:fs";
	EXPECT_FALSE(mkfs::plan(p, &plan, &error));
	EXPECT_NE(error.find("1 to 32"), std::string::npos) << error;

	p = params(4096, 1, 1ull << 30);
	p.rgrp_mb = 3;
	EXPECT_FALSE(mkfs::plan(p, &plan, &error));
	p.rgrp_mb = 0;
	p.journal_mb = 4;
	EXPECT_FALSE(mkfs::plan(p, &plan, &error));
	p = params(3000, 1, 1ull << 30);
	EXPECT_FALSE(mkfs::plan(p, &plan, &error));
}

TEST(Mkfs, SmallDeviceGetsSmallerJournalsAndRgrps)
{
	mkfs::Plan plan;
	std::string error;
	mkfs::Params p = params(4096, 2, 256ull << 20);
	ASSERT_TRUE(mkfs::plan(p, &plan, &error)) << error;
	EXPECT_EQ(plan.journal_mb, 32u);   // 256 MiB / (4 * 2)
	EXPECT_LT(plan.rgrp_mb, 256u);
	EXPECT_GE(plan.rgrps.size(), 2u + 4u);
}

TEST(Mkfs, NoLockAllowsAnEmptyLockTable)
{
	const uint64_t bytes = 128ull << 20;
	Image img(bytes);
	mkfs::Params p = params(4096, 1, bytes);
	p.lockproto = "lock_nolock";
	p.locktable = "";
	mkfs::Plan plan;
	make(img, p, &plan);
	img.open();
	Fs fs{};
	ASSERT_EQ(fs_open(img.host, &fs, nullptr), 0) << img.messages();
	EXPECT_STREQ(fs.sb.sb_lockproto, "lock_nolock");
	EXPECT_STREQ(fs.sb.sb_locktable, "");
	fs_close(&fs);
}

TEST(Mkfs, EmptyDeviceIsNotAFilesystem)
{
	Image img(64ull << 20);
	img.open();
	Fs fs{};
	EXPECT_EQ(fs_open(img.host, &fs, nullptr), -CFS_EINVAL);
	EXPECT_NE(img.messages().find("no clusterfs superblock"), std::string::npos);
}

TEST(Mkfs, DamagedSuperblockIsRefusedNamingTheCheck)
{
	const uint64_t bytes = 128ull << 20;
	Image img(bytes);
	mkfs::Params p = params(4096, 1, bytes);
	mkfs::Plan plan;
	make(img, p, &plan);
	// Flip one bit of sb_journals: the CRC catches it.
	int fd = ::open(img.path.c_str(), O_RDWR);
	ASSERT_GE(fd, 0);
	uint8_t byte;
	ASSERT_EQ(pread(fd, &byte, 1, CFS_SB_OFFSET + offsetof(cfs_sb, sb_journals)), 1);
	byte ^= 4;
	ASSERT_EQ(pwrite(fd, &byte, 1, CFS_SB_OFFSET + offsetof(cfs_sb, sb_journals)), 1);
	::close(fd);
	img.open();
	Fs fs{};
	EXPECT_EQ(fs_open(img.host, &fs, nullptr), -CFS_EBADMSG);
	EXPECT_NE(img.messages().find("bad CRC32C"), std::string::npos) << img.messages();
}

TEST(Mkfs, FutureFormatVersionIsUnsupportedNotCorrupt)
{
	const uint64_t bytes = 128ull << 20;
	Image img(bytes);
	mkfs::Params p = params(4096, 1, bytes);
	mkfs::Plan plan;
	make(img, p, &plan);
	int fd = ::open(img.path.c_str(), O_RDWR);
	ASSERT_GE(fd, 0);
	uint16_t v = 2;
	ASSERT_EQ(pwrite(fd, &v, 2, CFS_SB_OFFSET + offsetof(cfs_meta_header, mh_format)), 2);
	::close(fd);
	img.open();
	Fs fs{};
	EXPECT_EQ(fs_open(img.host, &fs, nullptr), -CFS_EOPNOTSUPP);
	EXPECT_NE(img.messages().find("unsupported format version 2"), std::string::npos);
}

}  // namespace
