// Verifiers: each block type accepts a well-formed block and rejects a flipped bit, a
// wrong type, a wrong self-number, a wrong filesystem UUID, and its own structural
// errors, naming the failed check and the offset of the offending field.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "crc32c.h"
#include "endian.h"
#include "fs.h"
#include "rgrp.h"
#include "siphash.h"
#include "verify.h"

namespace {

using namespace cfs;

constexpr uint64_t kFsBlocks = 100000;
const uint8_t kUuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
const uint8_t kOtherUuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17};

struct Sample {
	uint16_t type;
	uint64_t blkno;
	uint64_t owner;
	std::vector<uint8_t> block;
};

class Builder {
public:
	explicit Builder(uint32_t bsize) : bsize_(bsize)
	{
		fs_set_geometry(&fs_, bsize);
		fs_.blocks = kFsBlocks;
		memcpy(fs_.uuid, kUuid, 16);
	}
	VerifyCtx ctx() const { return VerifyCtx{bsize_, kFsBlocks, kUuid}; }
	uint32_t bsize() const { return bsize_; }

	Sample start(uint16_t type, uint64_t blkno, uint64_t owner)
	{
		Sample s{type, blkno, owner, std::vector<uint8_t>(bsize_, 0)};
		meta_header_init(&fs_, s.block.data(), blkno, type, owner);
		return s;
	}

	Sample sb()
	{
		Sample s = start(CFS_BT_SB, CFS_SB_OFFSET / bsize_, 0);
		auto *sb = reinterpret_cast<cfs_sb *>(s.block.data());
		sb->sb_bsize = to_le32(bsize_);
		sb->sb_bsize_shift = to_le32(fs_.bsize_shift);
		sb->sb_blocks = to_le64(kFsBlocks);
		sb->sb_master_addr = to_le64(5000);
		sb->sb_root_addr = to_le64(5001);
		sb->sb_rindex_addr = to_le64(5002);
		sb->sb_jindex_addr = to_le64(5003);
		sb->sb_statfs_addr = to_le64(5004);
		sb->sb_journals = to_le32(2);
		sb->sb_rgrps = to_le32(10);
		sb->sb_rgrp_blocks = to_le32(10000);
		strcpy(sb->sb_lockproto, "lock_cluster");
		strcpy(sb->sb_locktable, "alpha:beta");
		return s;
	}
	Sample rgrp()
	{
		Sample s = start(CFS_BT_RG, 2000, 0);
		auto *rg = reinterpret_cast<cfs_rgrp *>(s.block.data());
		const uint32_t data = 1000;
		const uint32_t length = rgrp_length_for(bsize_, data);
		rg->rg_free = to_le32(data - 3);
		rg->rg_dinodes = to_le32(1);
		rg->rg_igeneration = to_le64(7);
		rg->rg_data0 = to_le64(2000 + length);
		rg->rg_data = to_le32(data);
		rg->rg_bitbytes = to_le32(data / 4);
		rg->rg_length = to_le32(length);
		rg->rg_skip = to_le32(length + data);
		uint8_t *bm = s.block.data() + CFS_RG_BITMAP_OFFSET;
		bitmap_set(bm, 0, CFS_BLKST_DINODE);
		bitmap_set(bm, 1, CFS_BLKST_USED);
		bitmap_set(bm, 2, CFS_BLKST_USED);
		return s;
	}
	Sample bitmap() { return start(CFS_BT_RB, 2001, 0); }
	Sample dinode_file()
	{
		Sample s = start(CFS_BT_DI, 3000, 3000);
		auto *di = reinterpret_cast<cfs_dinode *>(s.block.data());
		di->di_mode = to_le32(0100644);
		di->di_nlink = to_le32(1);
		di->di_size = to_le64(11);
		di->di_blocks = to_le64(1);
		di->di_mtime_nsec = to_le32(999999999);
		di->di_generation = to_le64(3);
		memcpy(s.block.data() + CFS_DINODE_SIZE, "hello world", 11);
		return s;
	}
	Sample dinode_dir()
	{
		Sample s = start(CFS_BT_DI, 3001, 3001);
		auto *di = reinterpret_cast<cfs_dinode *>(s.block.data());
		di->di_mode = to_le32(0040755);
		di->di_nlink = to_le32(2);
		di->di_size = to_le64(CFS_INLINE_SIZE(bsize_));
		di->di_blocks = to_le64(1);
		di->di_entries = to_le64(2);
		di->di_parent = to_le64(3001);
		put_dirents(s.block.data() + CFS_DINODE_SIZE, CFS_INLINE_SIZE(bsize_), 3001);
		return s;
	}
	Sample dinode_tree()
	{
		Sample s = start(CFS_BT_DI, 3002, 3002);
		auto *di = reinterpret_cast<cfs_dinode *>(s.block.data());
		di->di_mode = to_le32(0100600);
		di->di_nlink = to_le32(1);
		di->di_size = to_le64(uint64_t(bsize_) * 3);
		di->di_blocks = to_le64(4);
		di->di_height = to_le16(1);
		for (int i = 0; i < 3; i++)
			store_le64(s.block.data() + CFS_DINODE_SIZE + 8 * i, 4000 + i);
		return s;
	}
	Sample indirect()
	{
		Sample s = start(CFS_BT_IN, 3100, 3002);
		store_le64(s.block.data() + CFS_META_HEADER_SIZE, 4100);
		store_le64(s.block.data() + CFS_META_HEADER_SIZE + 16, 4101);
		return s;
	}
	Sample leaf()
	{
		Sample s = start(CFS_BT_LF, 3200, 3001);
		auto *lf = reinterpret_cast<cfs_leaf *>(s.block.data());
		lf->lf_depth = to_le16(3);
		lf->lf_entries = to_le32(2);
		lf->lf_next = to_le64(3201);
		put_dirents(s.block.data() + CFS_LEAF_ENTRIES_OFFSET, bsize_ - CFS_LEAF_ENTRIES_OFFSET, 3001);
		return s;
	}
	Sample jdata()
	{
		Sample s = start(CFS_BT_JD, 3300, 3002);
		memset(s.block.data() + CFS_META_HEADER_SIZE, 0xab, 100);
		return s;
	}
	Sample log_header()
	{
		Sample s = start(CFS_BT_LH, 6000, 5999);
		auto *lh = reinterpret_cast<cfs_log_header *>(s.block.data());
		lh->lh_sequence = to_le64(42);
		lh->lh_flags = to_le32(CFS_LH_UNMOUNT);
		lh->lh_tail = to_le32(7);
		lh->lh_blkno = to_le32(9);
		return s;
	}
	Sample log_desc()
	{
		Sample s = start(CFS_BT_LD, 6001, 5999);
		auto *ld = reinterpret_cast<cfs_log_desc *>(s.block.data());
		ld->ld_sequence = to_le64(43);
		ld->ld_type = to_le32(CFS_LD_METADATA);
		ld->ld_entries = to_le32(2);
		store_le64(s.block.data() + sizeof(cfs_log_desc), 3000);
		store_le64(s.block.data() + sizeof(cfs_log_desc) + 8, 3100);
		return s;
	}

	std::vector<Sample> all()
	{
		return {sb(), rgrp(), bitmap(), dinode_file(), dinode_dir(), dinode_tree(), indirect(),
			leaf(), jdata(), log_header(), log_desc()};
	}

private:
	void put_dirents(uint8_t *area, uint32_t len, uint64_t self)
	{
		uint8_t key[16] = {};
		cfs_dirent de{};
		de.de_inum = to_le64(self);
		de.de_generation = to_le64(1);
		de.de_hash = to_le32(dir_hash(key, ".", 1));
		de.de_rec_len = to_le16(CFS_DIRENT_SIZE(1));
		de.de_name_len = 1;
		de.de_type = CFS_DT_DIR;
		memcpy(area, &de, sizeof(de));
		area[sizeof(de)] = '.';
		const uint32_t off = CFS_DIRENT_SIZE(1);
		de.de_hash = to_le32(dir_hash(key, "..", 2));
		de.de_rec_len = to_le16(uint16_t(len - off));
		de.de_name_len = 2;
		memcpy(area + off, &de, sizeof(de));
		memcpy(area + off + sizeof(de), "..", 2);
	}

	uint32_t bsize_;
	Fs fs_{};
};

int check(const VerifyCtx &ctx, Sample &s, VerifyFailure *f, bool reseal = true)
{
	if (reseal)
		block_crc_set(s.block.data(), uint32_t(s.block.size()));
	return verify_block(ctx, s.block.data(), s.blkno, s.type, s.owner, true, f);
}

std::string describe(const Sample &s) { return block_type_name(s.type); }

class Verifiers : public ::testing::TestWithParam<uint32_t> {};

TEST_P(Verifiers, AcceptWellFormedBlocks)
{
	Builder b(GetParam());
	for (Sample &s : b.all()) {
		VerifyFailure f{};
		EXPECT_EQ(check(b.ctx(), s, &f), 0) << describe(s) << ": " << (f.check ? f.check : "");
	}
}

TEST_P(Verifiers, RejectEveryFlippedBitSampled)
{
	Builder b(GetParam());
	for (Sample &s : b.all()) {
		block_crc_set(s.block.data(), b.bsize());
		// Every 8th bit plus every bit of the header: all must be caught.
		for (uint32_t bit = 0; bit < b.bsize() * 8; bit += (bit < 512 ? 1 : 8)) {
			s.block[bit / 8] ^= uint8_t(1u << (bit % 8));
			VerifyFailure f{};
			ASSERT_NE(check(b.ctx(), s, &f, false), 0) << describe(s) << " bit " << bit;
			s.block[bit / 8] ^= uint8_t(1u << (bit % 8));
		}
	}
}

TEST_P(Verifiers, RejectWrongTypeSelfNumberAndUuid)
{
	Builder b(GetParam());
	for (Sample &s : b.all()) {
		VerifyFailure f{};
		// Wrong type: a valid block of this type read where another type is expected.
		const uint16_t other = s.type == CFS_BT_DI ? CFS_BT_IN : CFS_BT_DI;
		block_crc_set(s.block.data(), b.bsize());
		EXPECT_EQ(verify_block(b.ctx(), s.block.data(), s.blkno, other, 0, true, &f), -CFS_EUCLEAN);
		EXPECT_STREQ(f.check, "mh_type") << describe(s);
		EXPECT_EQ(f.offset, 8u);
		// Wrong self-number: the block found at another address (misdirected write).
		f = {};
		EXPECT_EQ(verify_block(b.ctx(), s.block.data(), s.blkno + 1, s.type, s.owner, true, &f),
			  -CFS_EUCLEAN);
		EXPECT_STREQ(f.check, "mh_blkno") << describe(s);
		EXPECT_EQ(f.offset, 16u);
		// Wrong UUID: a block left over from an earlier mkfs.
		f = {};
		VerifyCtx other_fs{b.bsize(), kFsBlocks, kOtherUuid};
		EXPECT_EQ(verify_block(other_fs, s.block.data(), s.blkno, s.type, s.owner, true, &f),
			  -CFS_EUCLEAN);
		EXPECT_STREQ(f.check, "mh_uuid") << describe(s);
		EXPECT_EQ(f.offset, 40u);
		// Bad CRC alone is reported as such.
		f = {};
		s.block[s.block.size() - 1] ^= 0x80;
		EXPECT_EQ(check(b.ctx(), s, &f, false), -CFS_EBADMSG) << describe(s);
		EXPECT_STREQ(f.check, "crc");
		s.block[s.block.size() - 1] ^= 0x80;
		// Wrong format version, even with a correct CRC.
		f = {};
		reinterpret_cast<cfs_meta_header *>(s.block.data())->mh_format = to_le16(2);
		EXPECT_EQ(check(b.ctx(), s, &f), -CFS_EUCLEAN);
		EXPECT_STREQ(f.check, "mh_format") << describe(s);
	}
}

TEST_P(Verifiers, OwnerMustMatchWhenKnown)
{
	Builder b(GetParam());
	Sample s = b.indirect();
	s.owner = 1234;
	VerifyFailure f{};
	EXPECT_EQ(check(b.ctx(), s, &f), -CFS_EUCLEAN);
	EXPECT_STREQ(f.check, "mh_owner");
	Sample d = b.dinode_file();
	reinterpret_cast<cfs_meta_header *>(d.block.data())->mh_owner = to_le64(99);
	EXPECT_EQ(check(b.ctx(), d, &f), -CFS_EUCLEAN);
	EXPECT_STREQ(f.check, "mh_owner");
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, Verifiers, ::testing::Values(1024u, 2048u, 4096u));

// Structural checks: change one field (then reseal, so only the structure is wrong).
struct Case {
	const char *name;
	std::function<Sample(Builder &)> make;
	std::function<void(Sample &)> damage;
	const char *check;
	uint32_t offset;
};

template <typename T>
T *as(Sample &s) { return reinterpret_cast<T *>(s.block.data()); }

TEST(VerifierChecks, NameTheFieldAndOffset)
{
	const std::vector<Case> cases = {
		{"sb bsize", [](Builder &b) { return b.sb(); }, [](Sample &s) { as<cfs_sb>(s)->sb_bsize = to_le32(8192); }, "sb_bsize", 64},
		{"sb shift", [](Builder &b) { return b.sb(); }, [](Sample &s) { as<cfs_sb>(s)->sb_bsize_shift = to_le32(11); }, "sb_bsize_shift", 68},
		{"sb root", [](Builder &b) { return b.sb(); }, [](Sample &s) { as<cfs_sb>(s)->sb_root_addr = to_le64(kFsBlocks); }, "sb_root_addr", 88},
		{"sb journals", [](Builder &b) { return b.sb(); }, [](Sample &s) { as<cfs_sb>(s)->sb_journals = 0; }, "sb_journals", 120},
		{"sb proto", [](Builder &b) { return b.sb(); }, [](Sample &s) { strcpy(as<cfs_sb>(s)->sb_lockproto, "lock_dlm"); }, "sb_lockproto", 184},
		{"sb table", [](Builder &b) { return b.sb(); }, [](Sample &s) { strcpy(as<cfs_sb>(s)->sb_locktable, "nocolon"); }, "sb_locktable", 248},
		{"sb unterminated", [](Builder &b) { return b.sb(); }, [](Sample &s) { memset(as<cfs_sb>(s)->sb_label, 'x', 32); }, "sb_label", 312},
		{"sb reserved", [](Builder &b) { return b.sb(); }, [](Sample &s) { as<cfs_sb>(s)->sb_reserved[3] = 1; }, "sb_reserved", 344},
		{"rg free", [](Builder &b) { return b.rgrp(); }, [](Sample &s) { as<cfs_rgrp>(s)->rg_free = to_le32(1001); }, "rg_free", 68},
		{"rg dinodes", [](Builder &b) { return b.rgrp(); }, [](Sample &s) { as<cfs_rgrp>(s)->rg_dinodes = to_le32(4); }, "rg_dinodes", 72},
		{"rg data0", [](Builder &b) { return b.rgrp(); }, [](Sample &s) { as<cfs_rgrp>(s)->rg_data0 = to_le64(5); }, "rg_data0", 88},
		{"rg bitbytes", [](Builder &b) { return b.rgrp(); }, [](Sample &s) { as<cfs_rgrp>(s)->rg_bitbytes = to_le32(251); }, "rg_bitbytes", 100},
		{"rg tail bits", [](Builder &b) { return b.rgrp(); }, [](Sample &s) { s.block[CFS_RG_BITMAP_OFFSET + 250] = 1; }, "rg_bitmap_tail", CFS_RG_BITMAP_OFFSET + 250},
		{"di mode", [](Builder &b) { return b.dinode_file(); }, [](Sample &s) { as<cfs_dinode>(s)->di_mode = to_le32(0170644); }, "di_mode", 64},
		{"di nsec", [](Builder &b) { return b.dinode_file(); }, [](Sample &s) { as<cfs_dinode>(s)->di_ctime_nsec = to_le32(1000000000); }, "di_nsec", 136},
		{"di height", [](Builder &b) { return b.dinode_file(); }, [](Sample &s) { as<cfs_dinode>(s)->di_height = to_le16(11); }, "di_height", 156},
		{"di size stuffed", [](Builder &b) { return b.dinode_file(); }, [](Sample &s) { as<cfs_dinode>(s)->di_size = to_le64(5000); }, "di_size", 80},
		{"di inline tail", [](Builder &b) { return b.dinode_file(); }, [](Sample &s) { s.block[CFS_DINODE_SIZE + 20] = 1; }, "di_inline_tail", CFS_DINODE_SIZE + 20},
		{"di flags", [](Builder &b) { return b.dinode_file(); }, [](Sample &s) { as<cfs_dinode>(s)->di_flags = to_le32(1u << 20); }, "di_flags", 152},
		{"di exhash file", [](Builder &b) { return b.dinode_file(); }, [](Sample &s) { as<cfs_dinode>(s)->di_flags = to_le32(CFS_DIF_EXHASH); }, "di_flags", 152},
		{"di pointer", [](Builder &b) { return b.dinode_tree(); }, [](Sample &s) { store_le64(s.block.data() + CFS_DINODE_SIZE + 16, kFsBlocks + 5); }, "di_ptrs", CFS_DINODE_SIZE + 16},
		{"di entries", [](Builder &b) { return b.dinode_dir(); }, [](Sample &s) { as<cfs_dinode>(s)->di_entries = to_le64(3); }, "di_entries", 176},
		{"di parent", [](Builder &b) { return b.dinode_dir(); }, [](Sample &s) { as<cfs_dinode>(s)->di_parent = 0; }, "di_parent", 200},
		{"dirent rec_len", [](Builder &b) { return b.dinode_dir(); }, [](Sample &s) { s.block[CFS_DINODE_SIZE + 20] = 12; }, "de_rec_len", CFS_DINODE_SIZE + 20},
		{"dirent name", [](Builder &b) { return b.dinode_dir(); }, [](Sample &s) { s.block[CFS_DINODE_SIZE + 24] = '/'; }, "de_name", CFS_DINODE_SIZE + 24},
		{"dirent type", [](Builder &b) { return b.dinode_dir(); }, [](Sample &s) { s.block[CFS_DINODE_SIZE + 23] = 3; }, "de_type", CFS_DINODE_SIZE + 23},
		{"in pointer", [](Builder &b) { return b.indirect(); }, [](Sample &s) { store_le64(s.block.data() + CFS_META_HEADER_SIZE + 8, 3); }, "in_ptrs", CFS_META_HEADER_SIZE + 8},
		{"lf depth", [](Builder &b) { return b.leaf(); }, [](Sample &s) { as<cfs_leaf>(s)->lf_depth = to_le16(25); }, "lf_depth", 64},
		{"lf entries", [](Builder &b) { return b.leaf(); }, [](Sample &s) { as<cfs_leaf>(s)->lf_entries = to_le32(1); }, "lf_entries", 68},
		{"lf next self", [](Builder &b) { return b.leaf(); }, [](Sample &s) { as<cfs_leaf>(s)->lf_next = to_le64(3200); }, "lf_next", 72},
		{"lh sequence", [](Builder &b) { return b.log_header(); }, [](Sample &s) { as<cfs_log_header>(s)->lh_sequence = 0; }, "lh_sequence", 64},
		{"lh flags", [](Builder &b) { return b.log_header(); }, [](Sample &s) { as<cfs_log_header>(s)->lh_flags = to_le32(8); }, "lh_flags", 72},
		{"ld type", [](Builder &b) { return b.log_desc(); }, [](Sample &s) { as<cfs_log_desc>(s)->ld_type = to_le32(3); }, "ld_type", 72},
		{"ld entries", [](Builder &b) { return b.log_desc(); }, [](Sample &s) { as<cfs_log_desc>(s)->ld_entries = 0; }, "ld_entries", 76},
		{"ld zero slot", [](Builder &b) { return b.log_desc(); }, [](Sample &s) { store_le64(s.block.data() + 96 + 8, 0); }, "ld_blocks", 104},
		{"ld stray slot", [](Builder &b) { return b.log_desc(); }, [](Sample &s) { store_le64(s.block.data() + 96 + 40, 77); }, "ld_unused_slots", 136},
	};
	for (uint32_t bsize : {1024u, 4096u}) {
		Builder b(bsize);
		for (const Case &c : cases) {
			Sample s = c.make(b);
			c.damage(s);
			VerifyFailure f{};
			EXPECT_EQ(check(b.ctx(), s, &f), -CFS_EUCLEAN) << c.name << " bsize " << bsize;
			EXPECT_STREQ(f.check, c.check) << c.name;
			EXPECT_EQ(f.offset, c.offset) << c.name;
		}
	}
}

// Garbage with a valid CRC (as a malicious or buggy writer could produce) must never
// make a verifier read out of bounds or loop: each returns 0 or an error, and an error
// always names a check and an offset inside the block. ASan checks the bounds in the
// lib-unit-asan suite.
TEST_P(Verifiers, SurviveRandomFieldsWithAValidCrc)
{
	Builder b(GetParam());
	uint64_t x = 0x9e3779b97f4a7c15ull;
	auto rnd = [&] {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		return x;
	};
	for (Sample &base : b.all()) {
		for (int round = 0; round < 300; round++) {
			Sample s = base;
			// Scribble on 1..8 random bytes past the header's identity fields.
			const int n = 1 + int(rnd() % 8);
			for (int k = 0; k < n; k++) {
				size_t at = 24 + rnd() % (s.block.size() - 24);
				if (at >= 40 && at < 56)
					continue;  // keep the UUID: we want to reach the type checks
				s.block[at] = uint8_t(rnd());
			}
			VerifyFailure f{};
			int err = check(b.ctx(), s, &f);
			if (err) {
				ASSERT_TRUE(err == -CFS_EUCLEAN || err == -CFS_EBADMSG) << err;
				ASSERT_NE(f.check, nullptr);
				ASSERT_LT(f.offset, b.bsize());
			}
		}
	}
}

TEST(LockTable, ValidatesSyntaxAndLengths)
{
	EXPECT_EQ(locktable_problem("lock_cluster", "c1:fs_1"), nullptr);
	EXPECT_EQ(locktable_problem("lock_nolock", ""), nullptr);
	EXPECT_NE(locktable_problem("lock_cluster", ""), nullptr);
	EXPECT_NE(locktable_problem("lock_dlm", "a:b"), nullptr);
	EXPECT_NE(locktable_problem("lock_cluster", ":fs"), nullptr);
	EXPECT_NE(locktable_problem("lock_cluster", "c:"), nullptr);
	EXPECT_NE(locktable_problem("lock_cluster", "c:f s"), nullptr);
	EXPECT_EQ(locktable_problem("lock_cluster", std::string(32, 'c').append(":").append(30, 'f').c_str()), nullptr);
	EXPECT_NE(locktable_problem("lock_cluster", std::string(33, 'c').append(":f").c_str()), nullptr);
	EXPECT_NE(locktable_problem("lock_cluster", std::string("c:").append(31, 'f').c_str()), nullptr);
}

}  // namespace
