// Extended attributes (lib/xattr.h) and the xattr block verifier: values round-trip
// through the block and the disk, the block is allocated by the first set and freed by
// the last remove or with the inode, limits give the errno Linux users expect, and the
// verifier rejects every malformed block naming the check.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "algo_fixture.h"
#include "crc32c.h"
#include "verify.h"
#include "xattr.h"

namespace cfs::test {
namespace {

XattrName user(const std::string &n)
{
	return XattrName{CFS_XATTR_NS_USER, n.data(), uint32_t(n.size())};
}

std::vector<uint8_t> acl_value(unsigned entries)
{
	std::vector<uint8_t> v(4 + 8 * entries, 0);
	v[0] = CFS_ACL_XATTR_VERSION;
	for (unsigned i = 0; i < entries; i++) {
		v[4 + 8 * i] = uint8_t(1u << i);  // tag
		v[6 + 8 * i] = 6;                  // perm rw-
	}
	return v;
}

class XattrTest : public ::testing::TestWithParam<uint32_t> {
protected:
	TestFs t;

	void SetUp() override
	{
		TestFsOptions o;
		o.bsize = GetParam();
		o.blocks = 16384;
		o.rgrp_data = 4000;
		o.journal_blocks = 256;
		t.create(o);
	}

	uint64_t new_file()
	{
		Trans tr;
		EXPECT_EQ(trans_begin(&t.fs, nullptr, 16, &tr), 0);
		InodeInit init{};
		init.mode = kModeReg | 0644;
		init.nlink = 1;
		Inode ip;
		EXPECT_EQ(inode_alloc(&t.fs, &tr, t.root, &init, &ip), 0);
		uint64_t ino = ip.ino;
		inode_put(&t.fs, &ip);
		EXPECT_EQ(trans_commit(&tr), 0);
		return ino;
	}

	int set(uint64_t ino, const XattrName &n, const void *value, uint32_t len, unsigned flags = 0)
	{
		InodeRef ip(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		Trans tr;
		EXPECT_EQ(trans_begin(&t.fs, nullptr, kXattrSetMaxBufs, &tr), 0);
		int err = xattr_set(&t.fs, &tr, ip.get(), n, value, len, flags);
		EXPECT_EQ(trans_commit(&tr), 0);
		return err;
	}
	int set(uint64_t ino, const std::string &n, const std::string &v, unsigned flags = 0)
	{
		return set(ino, user(n), v.data(), uint32_t(v.size()), flags);
	}
	int remove(uint64_t ino, const std::string &n)
	{
		return set(ino, user(n), nullptr, 0, 0);
	}

	int get(uint64_t ino, const XattrName &n, std::string *out)
	{
		InodeRef ip(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		uint32_t len = 0;
		int err = xattr_get(&t.fs, ip.get(), n, nullptr, 0, &len);
		if (err)
			return err;
		std::string v(len, '\0');
		err = xattr_get(&t.fs, ip.get(), n, v.data(), uint32_t(v.size() ? v.size() : 1), &len);
		if (!err)
			*out = v;
		return err;
	}
	int get(uint64_t ino, const std::string &n, std::string *out) { return get(ino, user(n), out); }

	std::vector<std::string> list(uint64_t ino, bool with_trusted = true)
	{
		InodeRef ip(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		uint32_t total = 0;
		EXPECT_EQ(xattr_list(&t.fs, ip.get(), with_trusted, nullptr, 0, &total), 0);
		std::vector<char> buf(total + 1);
		EXPECT_EQ(xattr_list(&t.fs, ip.get(), with_trusted, buf.data(), uint32_t(buf.size()), &total), 0);
		std::vector<std::string> names;
		for (uint32_t pos = 0; pos < total;) {
			names.emplace_back(buf.data() + pos);
			pos += uint32_t(names.back().size()) + 1;
		}
		return names;
	}

	uint64_t xattr_block(uint64_t ino)
	{
		InodeRef ip(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		return inode_xattr_block(ip.get());
	}
	uint64_t blocks_of(uint64_t ino)
	{
		InodeRef ip(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		return inode_blocks(ip.get());
	}
};

TEST_P(XattrTest, FirstSetAllocatesTheBlockAndLastRemoveFreesIt)
{
	uint64_t ino = new_file();
	uint64_t free_before = t.free_blocks();
	EXPECT_EQ(xattr_block(ino), 0u);
	ASSERT_EQ(set(ino, "color", "blue"), 0);
	uint64_t blk = xattr_block(ino);
	ASSERT_NE(blk, 0u);
	EXPECT_EQ(t.block_state_of(blk), int(CFS_BLKST_USED));
	EXPECT_EQ(blocks_of(ino), 2u);
	EXPECT_EQ(t.free_blocks(), free_before - 1);
	std::string v;
	ASSERT_EQ(get(ino, "color", &v), 0);
	EXPECT_EQ(v, "blue");

	ASSERT_EQ(remove(ino, "color"), 0);
	EXPECT_EQ(xattr_block(ino), 0u);
	EXPECT_EQ(t.block_state_of(blk), int(CFS_BLKST_FREE));
	EXPECT_EQ(blocks_of(ino), 1u);
	EXPECT_EQ(t.free_blocks(), free_before);
	EXPECT_EQ(get(ino, "color", &v), -CFS_ENODATA);
}

TEST_P(XattrTest, CreateAndReplaceFlagsGiveLinuxErrors)
{
	uint64_t ino = new_file();
	EXPECT_EQ(set(ino, "a", "1", kXattrReplace), -CFS_ENODATA);
	EXPECT_EQ(remove(ino, "a"), -CFS_ENODATA);
	ASSERT_EQ(set(ino, "a", "1", kXattrCreate), 0);
	EXPECT_EQ(set(ino, "a", "2", kXattrCreate), -CFS_EEXIST);
	ASSERT_EQ(set(ino, "a", "22", kXattrReplace), 0);
	std::string v;
	ASSERT_EQ(get(ino, "a", &v), 0);
	EXPECT_EQ(v, "22");
	ASSERT_EQ(set(ino, "empty", ""), 0);
	ASSERT_EQ(get(ino, "empty", &v), 0);
	EXPECT_EQ(v, "");
}

TEST_P(XattrTest, GetIntoTooSmallBufferIsErange)
{
	uint64_t ino = new_file();
	ASSERT_EQ(set(ino, "k", "0123456789"), 0);
	InodeRef ip(&t.fs);
	ASSERT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
	char buf[4];
	uint32_t len = 0;
	EXPECT_EQ(xattr_get(&t.fs, ip.get(), user("k"), buf, sizeof(buf), &len), -CFS_ERANGE);
	EXPECT_EQ(len, 10u);
	char names[3];
	uint32_t total = 0;
	EXPECT_EQ(xattr_list(&t.fs, ip.get(), true, names, sizeof(names), &total), -CFS_ERANGE);
	EXPECT_EQ(total, 7u);  // "user.k\0"
}

TEST_P(XattrTest, ListShowsPrefixesAndHidesTrustedWhenAsked)
{
	uint64_t ino = new_file();
	ASSERT_EQ(set(ino, "u", "1"), 0);
	std::string tn = "t";
	ASSERT_EQ(set(ino, XattrName{CFS_XATTR_NS_TRUSTED, tn.data(), 1}, "2", 1), 0);
	ASSERT_EQ(set(ino, XattrName{CFS_XATTR_NS_SECURITY, "selinux", 7}, "3", 1), 0);
	std::vector<uint8_t> acl = acl_value(3);
	ASSERT_EQ(set(ino, XattrName{CFS_XATTR_NS_ACL_ACCESS, "", 0}, acl.data(), uint32_t(acl.size())), 0);
	EXPECT_EQ(list(ino), (std::vector<std::string>{"user.u", "trusted.t", "security.selinux",
							"system.posix_acl_access"}));
	EXPECT_EQ(list(ino, false), (std::vector<std::string>{"user.u", "security.selinux",
							       "system.posix_acl_access"}));
}

TEST_P(XattrTest, ParseNameSplitsNamespaces)
{
	XattrName n;
	ASSERT_EQ(xattr_parse_name("user.foo", 8, &n), 0);
	EXPECT_EQ(n.ns, CFS_XATTR_NS_USER);
	EXPECT_EQ(std::string(n.name, n.len), "foo");
	ASSERT_EQ(xattr_parse_name("system.posix_acl_default", 24, &n), 0);
	EXPECT_EQ(n.ns, CFS_XATTR_NS_ACL_DEFAULT);
	EXPECT_EQ(n.len, 0u);
	EXPECT_EQ(xattr_parse_name("system.foo", 10, &n), -CFS_EOPNOTSUPP);
	EXPECT_EQ(xattr_parse_name("system.posix_acl_accessX", 24, &n), -CFS_EOPNOTSUPP);
	EXPECT_EQ(xattr_parse_name("user.", 5, &n), -CFS_EINVAL);
	std::string longname = "user." + std::string(256, 'x');
	EXPECT_EQ(xattr_parse_name(longname.data(), uint32_t(longname.size()), &n), -CFS_ERANGE);
}

TEST_P(XattrTest, LimitsAreEnospcAndErange)
{
	uint64_t ino = new_file();
	uint32_t max = xattr_value_max(&t.fs, 4);
	EXPECT_EQ(max, t.fs.bsize - 96 - 4 - 4);
	std::string big(max, 'v');
	ASSERT_EQ(set(ino, "huge", big), 0);
	std::string v;
	ASSERT_EQ(get(ino, "huge", &v), 0);
	EXPECT_EQ(v, big);
	// The block is full: nothing else fits, and a failed set changes nothing.
	EXPECT_EQ(set(ino, "more", "x"), -CFS_ENOSPC);
	EXPECT_EQ(list(ino), std::vector<std::string>{"user.huge"});
	ASSERT_EQ(remove(ino, "huge"), 0);
	EXPECT_EQ(set(ino, "huge", std::string(max + 1, 'v')), -CFS_ENOSPC);
	EXPECT_EQ(xattr_block(ino), 0u) << "a refused set must not leave an empty block";
	std::string n256(256, 'n');
	EXPECT_EQ(set(ino, XattrName{CFS_XATTR_NS_USER, n256.data(), 256}, "x", 1), -CFS_ERANGE);
	std::vector<uint8_t> bad_acl = {1, 0, 0, 0};
	EXPECT_EQ(set(ino, XattrName{CFS_XATTR_NS_ACL_ACCESS, "", 0}, bad_acl.data(), 4), -CFS_EINVAL);
}

TEST_P(XattrTest, RandomOperationsMatchAModelAndSurviveReopen)
{
	uint64_t ino = new_file();
	std::map<std::string, std::string> model;
	std::mt19937 rng(GetParam());
	for (int i = 0; i < 600; i++) {
		std::string name = "n" + std::to_string(rng() % 40);
		if (rng() % 3 == 0) {
			int err = remove(ino, name);
			EXPECT_EQ(err, model.erase(name) ? 0 : -CFS_ENODATA) << name;
			continue;
		}
		std::string value(rng() % (t.fs.bsize / 16), char('a' + rng() % 26));
		int err = set(ino, name, value);
		if (err == -CFS_ENOSPC)
			continue;
		ASSERT_EQ(err, 0);
		model[name] = value;
	}
	ASSERT_EQ(cfs_env_sync(t.host), 0);
	t.crash_and_reopen();
	std::vector<std::string> want;
	for (auto &kv : model) {
		want.push_back("user." + kv.first);
		std::string v;
		ASSERT_EQ(get(ino, kv.first, &v), 0);
		EXPECT_EQ(v, kv.second);
	}
	// Stored sorted by name bytes then length, which is std::map's order here.
	EXPECT_EQ(list(ino), want);
}

TEST_P(XattrTest, FreeingTheInodeFreesItsXattrBlock)
{
	uint64_t free_before = t.free_blocks();
	uint64_t ino = new_file();
	ASSERT_EQ(set(ino, "x", "y"), 0);
	uint64_t blk = xattr_block(ino);
	Inode ip;
	ASSERT_EQ(inode_get(&t.fs, ino, &ip), 0);
	bool done = false;
	for (int steps = 0; !done; steps++) {
		ASSERT_LT(steps, 100);
		Trans tr;
		ASSERT_EQ(trans_begin(&t.fs, nullptr, 64, &tr), 0);
		ASSERT_EQ(inode_free(&t.fs, &tr, &ip, 16, &done), 0);
		ASSERT_EQ(trans_commit(&tr), 0);
	}
	EXPECT_EQ(t.block_state_of(blk), int(CFS_BLKST_FREE));
	EXPECT_EQ(t.free_blocks(), free_before);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, XattrTest, ::testing::Values(1024u, 4096u));

// Journaled changes: replay brings xattr blocks back (their verifier runs on the logged
// image), and a freed xattr block is revoked so replay never resurrects it.
class XattrJournalTest : public XattrTest {
protected:
	Journal *j = nullptr;

	void TearDown() override
	{
		if (j)
			journal_close(j);
	}
	int jset(uint64_t ino, const std::string &n, const std::string *v)
	{
		InodeRef ip(&t.fs);
		EXPECT_EQ(inode_get(&t.fs, ino, ip.get()), 0);
		Trans tr;
		EXPECT_EQ(trans_begin(&t.fs, j, kXattrSetMaxBufs + 1, &tr), 0);
		int err = xattr_set(&t.fs, &tr, ip.get(), user(n), v ? v->data() : nullptr,
				    v ? uint32_t(v->size()) : 0, 0);
		EXPECT_EQ(trans_commit(&tr), 0);
		return err;
	}
	void crash_and_replay()
	{
		journal_close(j);
		j = nullptr;
		t.crash_and_reopen();
		ReplayStats st{};
		ASSERT_EQ(journal_replay(&t.fs, &t.jloc, false, &st), 0);
	}
};

TEST_P(XattrJournalTest, CommittedXattrsComeBackThroughReplay)
{
	uint64_t ino = new_file();
	ASSERT_EQ(cfs_env_sync(t.host), 0);
	ASSERT_EQ(journal_open(&t.fs, &t.jloc, &j), 0);
	std::string a = "alpha", b(300, 'b');
	ASSERT_EQ(jset(ino, "a", &a), 0);
	ASSERT_EQ(jset(ino, "b", &b), 0);
	ASSERT_EQ(journal_flush(j), 0);
	crash_and_replay();
	std::string v;
	ASSERT_EQ(get(ino, "a", &v), 0);
	EXPECT_EQ(v, a);
	ASSERT_EQ(get(ino, "b", &v), 0);
	EXPECT_EQ(v, b);
	EXPECT_EQ(blocks_of(ino), 2u);
}

TEST_P(XattrJournalTest, FreedXattrBlockIsRevokedNotResurrected)
{
	uint64_t ino = new_file();
	ASSERT_EQ(cfs_env_sync(t.host), 0);
	ASSERT_EQ(journal_open(&t.fs, &t.jloc, &j), 0);
	std::string a = "alpha";
	ASSERT_EQ(jset(ino, "a", &a), 0);
	ASSERT_EQ(journal_flush(j), 0);
	uint64_t blk = xattr_block(ino);
	ASSERT_NE(blk, 0u);
	ASSERT_EQ(jset(ino, "a", nullptr), 0);  // the last entry: the block is freed
	ASSERT_EQ(journal_flush(j), 0);
	EXPECT_EQ(t.block_state_of(blk), int(CFS_BLKST_FREE));
	// The block comes back as file data, written in place.
	std::vector<uint8_t> reuse = pattern(t.fs.bsize, 9);
	const void *p = reuse.data();
	ASSERT_EQ(cfs_env_log_write(t.host, blk, &p, 1, 0), 0);
	crash_and_replay();
	std::vector<uint8_t> now(t.fs.bsize);
	ASSERT_EQ(cfs_env_blocks_read(t.host, blk, now.data(), 1), 0);
	EXPECT_EQ(now, reuse) << "replay wrote the freed xattr block's old image";
	EXPECT_EQ(xattr_block(ino), 0u);
	EXPECT_EQ(blocks_of(ino), 1u);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, XattrJournalTest, ::testing::Values(1024u, 4096u));

// ---- Verifier ------------------------------------------------------------------------

constexpr uint64_t kFsBlocks = 100000;
const uint8_t kUuid[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
constexpr uint64_t kBlk = 7000, kOwner = 6999;

struct XattrBlockBuilder {
	std::vector<uint8_t> b;
	uint32_t pos = CFS_XATTR_ENTRIES_OFFSET;
	uint32_t entries = 0;

	XattrBlockBuilder() : b(4096, 0)
	{
		Fs fs{};
		fs_set_geometry(&fs, 4096);
		fs.blocks = kFsBlocks;
		memcpy(fs.uuid, kUuid, 16);
		meta_header_init(&fs, b.data(), kBlk, CFS_BT_EA, kOwner);
	}
	XattrBlockBuilder &add(uint8_t ns, const std::string &name, const std::vector<uint8_t> &value)
	{
		b[pos] = ns;
		b[pos + 1] = uint8_t(name.size());
		b[pos + 2] = uint8_t(value.size());
		b[pos + 3] = uint8_t(value.size() >> 8);
		memcpy(&b[pos + 4], name.data(), name.size());
		if (!value.empty())
			memcpy(&b[pos + 4 + name.size()], value.data(), value.size());
		pos += CFS_XATTR_ENTRY_SIZE(uint32_t(name.size()), uint32_t(value.size()));
		entries++;
		finish();
		return *this;
	}
	void finish()
	{
		auto *xb = reinterpret_cast<cfs_xattr_block *>(b.data());
		xb->xb_entries = to_le32(entries);
		xb->xb_used = to_le32(pos - CFS_XATTR_ENTRIES_OFFSET);
	}
	int verify(VerifyFailure *f)
	{
		block_crc_set(b.data(), 4096);
		VerifyCtx ctx{4096, kFsBlocks, kUuid};
		return verify_block(ctx, b.data(), kBlk, CFS_BT_EA, kOwner, true, f);
	}
};

std::vector<uint8_t> bytes(const std::string &s) { return {s.begin(), s.end()}; }

XattrBlockBuilder good_block()
{
	XattrBlockBuilder x;
	x.add(CFS_XATTR_NS_USER, "a", bytes("1"))
		.add(CFS_XATTR_NS_USER, "ab", bytes("22"))
		.add(CFS_XATTR_NS_USER, "b", {})
		.add(CFS_XATTR_NS_SECURITY, "selinux", bytes("ctx"))
		.add(CFS_XATTR_NS_ACL_ACCESS, "", acl_value(4));
	return x;
}

void expect_rejected(XattrBlockBuilder x, const char *check)
{
	VerifyFailure f{};
	EXPECT_EQ(x.verify(&f), -CFS_EUCLEAN) << check;
	EXPECT_STREQ(f.check, check);
}

TEST(XattrVerify, AcceptsAWellFormedBlock)
{
	XattrBlockBuilder x = good_block();
	VerifyFailure f{};
	EXPECT_EQ(x.verify(&f), 0) << (f.check ? f.check : "");
	XattrBlockBuilder empty;
	EXPECT_EQ(empty.verify(&f), 0);
}

TEST(XattrVerify, RejectsCorruptBlocks)
{
	{
		XattrBlockBuilder x = good_block();
		x.b[40] ^= 1;  // a flipped bit in the UUID, CRC recomputed: identity check
		expect_rejected(x, "mh_uuid");
	}
	{
		XattrBlockBuilder x = good_block();
		block_crc_set(x.b.data(), 4096);
		x.b[200] ^= 0x10;
		VerifyFailure f{};
		VerifyCtx ctx{4096, kFsBlocks, kUuid};
		EXPECT_EQ(verify_block(ctx, x.b.data(), kBlk, CFS_BT_EA, kOwner, true, &f), -CFS_EBADMSG);
	}
	{
		XattrBlockBuilder x;
		x.add(CFS_XATTR_NS_USER, "b", {}).add(CFS_XATTR_NS_USER, "a", {});
		expect_rejected(x, "xe_order");
	}
	{
		XattrBlockBuilder x;
		x.add(CFS_XATTR_NS_USER, "dup", bytes("1")).add(CFS_XATTR_NS_USER, "dup", bytes("2"));
		expect_rejected(x, "xe_order");
	}
	{
		XattrBlockBuilder x;
		x.add(9, "x", {});
		expect_rejected(x, "xe_namespace");
	}
	{
		XattrBlockBuilder x;
		x.add(CFS_XATTR_NS_USER, "", bytes("v"));
		expect_rejected(x, "xe_name_len");
	}
	{
		XattrBlockBuilder x;
		x.add(CFS_XATTR_NS_ACL_DEFAULT, "named", acl_value(1));
		expect_rejected(x, "xe_name_len");
	}
	{
		XattrBlockBuilder x;
		x.add(CFS_XATTR_NS_ACL_ACCESS, "", bytes("junk!"));
		expect_rejected(x, "xe_acl_value");
	}
	{
		XattrBlockBuilder x;
		x.add(CFS_XATTR_NS_USER, std::string("a\0b", 3), {});
		expect_rejected(x, "xe_name");
	}
	{
		XattrBlockBuilder x = good_block();
		x.b[CFS_XATTR_ENTRIES_OFFSET + 2] = 0xff;  // value length past xb_used
		x.b[CFS_XATTR_ENTRIES_OFFSET + 3] = 0x0f;
		expect_rejected(x, "xe_value_len");
	}
	{
		XattrBlockBuilder x;
		x.add(CFS_XATTR_NS_USER, "a", bytes("1"));
		x.b[CFS_XATTR_ENTRIES_OFFSET + 7] = 1;  // padding of the 6-byte entry
		expect_rejected(x, "xe_padding");
	}
	{
		XattrBlockBuilder x = good_block();
		x.entries++;
		x.finish();
		expect_rejected(x, "xb_entries");
	}
	{
		XattrBlockBuilder x = good_block();
		x.b[4000] = 1;
		expect_rejected(x, "xb_tail");
	}
	{
		XattrBlockBuilder x = good_block();
		auto *xb = reinterpret_cast<cfs_xattr_block *>(x.b.data());
		xb->xb_used = to_le32(4096);
		expect_rejected(x, "xb_used");
	}
	{
		XattrBlockBuilder x = good_block();
		x.b[80] = 1;
		expect_rejected(x, "xb_reserved");
	}
	{
		XattrBlockBuilder x = good_block();
		VerifyFailure f{};
		block_crc_set(x.b.data(), 4096);
		VerifyCtx ctx{4096, kFsBlocks, kUuid};
		EXPECT_EQ(verify_block(ctx, x.b.data(), kBlk, CFS_BT_EA, kOwner + 1, true, &f), -CFS_EUCLEAN);
		EXPECT_STREQ(f.check, "mh_owner");
	}
}

}  // namespace
}  // namespace cfs::test
