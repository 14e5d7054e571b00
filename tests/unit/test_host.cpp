// The userspace host (lib/user/host) and verified metadata reads (meta_read/meta_seal):
// cache rules the journal depends on, invalidation after a failed verification, the
// raw journal path bypassing the cache, read-only mode.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "fs.h"
#include "layout.h"
#include "user/host.h"

namespace {

using namespace cfs;

class HostTest : public ::testing::Test {
protected:
	std::string path;
	std::vector<std::string> log;

	void SetUp() override
	{
		char tmpl[] = "/tmp/cfs-host-XXXXXX";
		int fd = mkstemp(tmpl);
		ASSERT_GE(fd, 0);
		path = tmpl;
		// Block i holds the byte pattern i (first byte), 4 KiB blocks, 64 blocks.
		std::vector<uint8_t> b(4096);
		for (int i = 0; i < 64; i++) {
			memset(b.data(), i, b.size());
			ASSERT_EQ(pwrite(fd, b.data(), b.size(), off_t(i) * 4096), 4096);
		}
		::close(fd);
	}
	void TearDown() override { unlink(path.c_str()); }

	cfs_host *open(user::HostOptions o = {})
	{
		cfs_host *h = nullptr;
		const char *why = nullptr;
		EXPECT_EQ(user::host_open(path.c_str(), o, &h, &why), 0) << (why ? why : "");
		if (h) {
			EXPECT_EQ(cfs_env_set_block_size(h, 4096), 0);
			user::host_set_log(h, [](void *ctx, int, const char *m) {
				static_cast<HostTest *>(ctx)->log.push_back(m);
			}, this, CFS_LOG_DEBUG);
		}
		return h;
	}
	uint8_t disk_byte(uint64_t blk)
	{
		int fd = ::open(path.c_str(), O_RDONLY);
		uint8_t v = 0;
		EXPECT_EQ(pread(fd, &v, 1, off_t(blk) * 4096), 1);
		::close(fd);
		return v;
	}
};

TEST_F(HostTest, HeldBuffersSurviveEvictionUnreferencedOnesAreReread)
{
	user::HostOptions o;
	o.cache_blocks = 2;
	cfs_host *h = open(o);
	Buf *held;
	ASSERT_EQ(cfs_env_buf_read(h, 5, &held), 0);
	static_cast<uint8_t *>(cfs_env_buf_data(held))[0] = 0xee;  // changed in memory only
	for (uint64_t i = 10; i < 20; i++) {
		Buf *b;
		ASSERT_EQ(cfs_env_buf_read(h, i, &b), 0);
		EXPECT_EQ(static_cast<uint8_t *>(cfs_env_buf_data(b))[0], i);
		cfs_env_buf_release(h, b);
	}
	Buf *again;
	ASSERT_EQ(cfs_env_buf_read(h, 5, &again), 0);
	EXPECT_EQ(again, held);
	EXPECT_EQ(static_cast<uint8_t *>(cfs_env_buf_data(again))[0], 0xee);
	EXPECT_EQ(disk_byte(5), 5) << "the host never writes on its own";
	cfs_env_buf_release(h, again);
	cfs_env_buf_release(h, held);
	const auto reads = user::host_stats(h).reads;
	Buf *b;
	ASSERT_EQ(cfs_env_buf_read(h, 10, &b), 0);  // evicted long ago: read again
	EXPECT_EQ(user::host_stats(h).reads, reads + 1);
	cfs_env_buf_release(h, b);
	EXPECT_EQ(user::host_held_buffers(h), 0u);
	user::host_close(h);
}

TEST_F(HostTest, GetNewZeroesWriteReachesDiskLogWriteBypassesTheCache)
{
	cfs_host *h = open();
	Buf *b;
	ASSERT_EQ(cfs_env_buf_read(h, 7, &b), 0);
	EXPECT_EQ(cfs_env_buf_verified(b), 0);
	cfs_env_buf_set_verified(b, 1);
	Buf *n;
	ASSERT_EQ(cfs_env_buf_get_new(h, 7, &n), 0);
	EXPECT_EQ(n, b);
	EXPECT_EQ(static_cast<uint8_t *>(cfs_env_buf_data(n))[100], 0);
	EXPECT_EQ(cfs_env_buf_verified(n), 0);
	static_cast<uint8_t *>(cfs_env_buf_data(n))[0] = 0x42;
	ASSERT_EQ(cfs_env_buf_write(h, n, 0), 0);
	ASSERT_EQ(cfs_env_sync(h), 0);
	EXPECT_EQ(disk_byte(7), 0x42);
	// A journal write to the same block does not touch the cached copy.
	std::vector<uint8_t> img(4096, 0x99);
	const void *p = img.data();
	ASSERT_EQ(cfs_env_log_write(h, 7, &p, 1, CFS_IO_FUA), 0);
	EXPECT_EQ(disk_byte(7), 0x99);
	EXPECT_EQ(static_cast<uint8_t *>(cfs_env_buf_data(n))[0], 0x42);
	// Invalidate: the next read sees the device.
	cfs_env_buf_invalidate(h, n);
	cfs_env_buf_release(h, n);
	cfs_env_buf_release(h, b);
	ASSERT_EQ(cfs_env_buf_read(h, 7, &b), 0);
	EXPECT_EQ(static_cast<uint8_t *>(cfs_env_buf_data(b))[0], 0x99);
	cfs_env_buf_release(h, b);
	// Raw reads: several blocks at once, past the end refused.
	std::vector<uint8_t> two(8192);
	ASSERT_EQ(cfs_env_blocks_read(h, 8, two.data(), 2), 0);
	EXPECT_EQ(two[0], 8);
	EXPECT_EQ(two[4096], 9);
	EXPECT_EQ(cfs_env_blocks_read(h, 63, two.data(), 2), -ERANGE);
	EXPECT_EQ(cfs_env_buf_read(h, 64, &b), -ERANGE);
	user::host_close(h);
}

TEST_F(HostTest, ReadOnlyRefusesEveryWrite)
{
	user::HostOptions o;
	o.read_only = true;
	cfs_host *h = open(o);
	Buf *b;
	ASSERT_EQ(cfs_env_buf_read(h, 3, &b), 0);
	EXPECT_EQ(cfs_env_buf_write(h, b, 0), -EROFS);
	const void *p = cfs_env_buf_data(b);
	EXPECT_EQ(cfs_env_log_write(h, 3, &p, 1, 0), -EROFS);
	cfs_env_buf_release(h, b);
	EXPECT_EQ(disk_byte(3), 3);
	user::host_close(h);
}

TEST_F(HostTest, DirectIoRoundTripsWhereTheFilesystemSupportsIt)
{
	int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT);
	if (fd < 0) {
		// Counted by scripts/run-suites.sh (tests/skip-reasons).
		std::printf("SKIP: no-odirect-tmp: HostTest.DirectIoRoundTripsWhereTheFilesystemSupportsIt (%s)\n",
		            strerror(errno));
		GTEST_SKIP() << "/tmp does not support O_DIRECT (" << strerror(errno) << ")";
	}
	::close(fd);
	user::HostOptions o;
	o.direct = true;
	cfs_host *h = open(o);
	Buf *b;
	ASSERT_EQ(cfs_env_buf_read(h, 9, &b), 0);
	EXPECT_EQ(static_cast<uint8_t *>(cfs_env_buf_data(b))[4095], 9);
	static_cast<uint8_t *>(cfs_env_buf_data(b))[1] = 0x77;
	ASSERT_EQ(cfs_env_buf_write(h, b, CFS_IO_FUA), 0);
	cfs_env_buf_release(h, b);
	std::vector<uint8_t> unaligned(4096 + 1);
	ASSERT_EQ(cfs_env_dev_read(h, 9 * 4096, unaligned.data() + 1, 4096), 0);
	EXPECT_EQ(unaligned[1 + 1], 0x77);
	user::host_close(h);
}

TEST_F(HostTest, OpenReportsWhatIsWrong)
{
	cfs_host *h = nullptr;
	const char *why = nullptr;
	EXPECT_EQ(user::host_open("/nonexistent/dev", {}, &h, &why), -ENOENT);
	EXPECT_STREQ(why, "cannot access the device");
	EXPECT_EQ(user::host_open("/tmp", {}, &h, &why), -EINVAL);
	EXPECT_STREQ(why, "not a block device or a regular file");
	EXPECT_EQ(h, nullptr);
}

// ---- meta_read on a real filesystem -----------------------------------------------

class MetaRead : public HostTest {
protected:
	cfs_host *h = nullptr;
	Fs fs{};
	mkfs::Plan plan;

	void SetUp() override
	{
		HostTest::SetUp();
		ASSERT_EQ(truncate(path.c_str(), 128 << 20), 0);
		mkfs::Params p;
		p.journals = 1;
		p.locktable = "m:r";
		p.dev_bytes = 128 << 20;
		p.uuid[3] = 9;
		std::string error;
		ASSERT_TRUE(mkfs::plan(p, &plan, &error)) << error;
		h = open();
		ASSERT_EQ(mkfs::write(h, p, plan, &error), 0) << error;
		ASSERT_EQ(fs_open(h, &fs, nullptr), 0);
	}
	void TearDown() override
	{
		fs_close(&fs);
		EXPECT_EQ(user::host_held_buffers(h), 0u);
		user::host_close(h);
		HostTest::TearDown();
	}
	void poke(uint64_t offset, uint8_t xor_mask)
	{
		int fd = ::open(path.c_str(), O_RDWR);
		uint8_t v;
		ASSERT_EQ(pread(fd, &v, 1, off_t(offset)), 1);
		v ^= xor_mask;
		ASSERT_EQ(pwrite(fd, &v, 1, off_t(offset)), 1);
		::close(fd);
	}
};

TEST_F(MetaRead, BadCrcIsReportedNamingTheBlockAndTheCacheForgetsIt)
{
	const uint64_t root = plan.root.ino;
	poke(root * 4096 + 300, 0x01);  // a byte of the root's inline directory
	Buf *b = nullptr;
	EXPECT_EQ(meta_read(&fs, root, CFS_BT_DI, root, &b), -CFS_EBADMSG);
	EXPECT_EQ(b, nullptr);
	ASSERT_FALSE(log.empty());
	EXPECT_EQ(log.back(), "block " + std::to_string(root) + " (dinode): bad CRC32C");
	// Repaired on disk: the next read goes to the device and succeeds.
	poke(root * 4096 + 300, 0x01);
	ASSERT_EQ(meta_read(&fs, root, CFS_BT_DI, root, &b), 0);
	meta_release(&fs, b);
}

TEST_F(MetaRead, FullVerificationOncePerDeviceReadHeaderOnEveryLookup)
{
	const uint64_t root = plan.root.ino;
	Buf *b;
	ASSERT_EQ(meta_read(&fs, root, CFS_BT_DI, root, &b), 0);
	// An in-memory change (as a transaction makes) leaves the CRC stale: still readable.
	static_cast<uint8_t *>(buf_data(b))[4000] ^= 0xff;
	Buf *again;
	ASSERT_EQ(meta_read(&fs, root, CFS_BT_DI, root, &again), 0);
	meta_release(&fs, again);
	// Asking for the wrong type is refused even from the cache.
	EXPECT_EQ(meta_read(&fs, root, CFS_BT_LF, root, &again), -CFS_EUCLEAN);
	EXPECT_NE(log.back().find("check mh_type failed at offset 8"), std::string::npos) << log.back();
	// meta_seal refuses to write the block while it is malformed (nonzero inline tail
	// of a linear directory's chain is fine, but a broken record length is not).
	static_cast<uint8_t *>(buf_data(b))[4000] ^= 0xff;
	auto *rec_len = static_cast<uint8_t *>(buf_data(b)) + CFS_DINODE_SIZE + 20;
	rec_len[0] ^= 0x04;
	EXPECT_EQ(meta_write(&fs, b), -CFS_EUCLEAN);
	EXPECT_NE(log.back().find("refusing to write block " + std::to_string(root)), std::string::npos);
	rec_len[0] ^= 0x04;
	EXPECT_EQ(meta_write(&fs, b), 0);
	meta_release(&fs, b);
}

TEST_F(MetaRead, PointersOutsideTheFilesystemAreCorruptionNotIoErrors)
{
	Buf *b;
	EXPECT_EQ(meta_read(&fs, fs.blocks + 10, CFS_BT_IN, 0, &b), -CFS_EUCLEAN);
	EXPECT_NE(log.back().find("past the end of the filesystem"), std::string::npos);
	EXPECT_EQ(meta_read(&fs, 3, CFS_BT_IN, 0, &b), -CFS_EUCLEAN);
	EXPECT_NE(log.back().find("inside the reserved area"), std::string::npos);
}

TEST_F(MetaRead, JdataReadRejectsRangesPastTheEnd)
{
	uint8_t buf[128];
	EXPECT_EQ(jdata_read(&fs, plan.statfs.ino, 0, buf, 64), 0);
	EXPECT_EQ(jdata_read(&fs, plan.statfs.ino, 32, buf, 64), -CFS_EUCLEAN);
	EXPECT_EQ(jdata_read(&fs, plan.statfs.ino, 65, buf, 0), -CFS_EUCLEAN);
}

}  // namespace
