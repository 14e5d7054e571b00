// Test filesystem for lib-algo's unit tests: a sparse image file with resource groups and
// a journal extent, opened through lib/user's host, plus a root directory. Small and
// fast (no mkfs needed), and reopenable to simulate a crash: the host writes nothing on
// its own, so closing it without a sync leaves exactly what lib wrote.
#ifndef CLUSTERFS_TESTS_ALGO_FIXTURE_H
#define CLUSTERFS_TESTS_ALGO_FIXTURE_H

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "bmap.h"
#include "dir.h"
#include "fs.h"
#include "inode.h"
#include "journal.h"
#include "rgrp.h"
#include "trans.h"
#include "user/fileio.h"
#include "user/host.h"

namespace cfs::test {

// Free blocks in all of fs's rgrps, each header read again (from its buffer or disk).
inline uint64_t rgrps_free(Fs *fs)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < fs->rgrps.count; i++) {
		EXPECT_EQ(rgrp_refresh(fs, &fs->rgrps.rgrps[i]), 0);
		total += fs->rgrps.rgrps[i].free;
	}
	return total;
}

struct TestFsOptions {
	uint32_t bsize = 4096;
	uint64_t blocks = 16384;          // filesystem size
	uint32_t rgrp_data = 4000;        // data blocks per resource group
	uint32_t journal_blocks = 1024;   // journal extent (before the first rgrp)
};

class TestFs {
public:
	TestFsOptions opt;
	std::string path;
	cfs_host *host = nullptr;
	Fs fs{};
	std::vector<cfs_rindex> rindex;
	JournalLoc jloc{};
	uint64_t root = 0;
	std::vector<std::string> log;  // messages lib logged

	~TestFs()
	{
		close_host();
		if (!path.empty())
			unlink(path.c_str());
	}

	// Creates the image: journal extent, rgrps (header + bitmap blocks written), root.
	void create(const TestFsOptions &o = TestFsOptions{})
	{
		opt = o;
		char tmpl[] = "/tmp/cfs-algo-XXXXXX";
		int fd = mkstemp(tmpl);
		ASSERT_GE(fd, 0);
		path = tmpl;
		ASSERT_EQ(ftruncate(fd, off_t(opt.blocks) * opt.bsize), 0);
		::close(fd);
		open_host();
		ASSERT_EQ(fs_set_geometry(&fs, opt.bsize), 0);
		uint64_t next = fs.sb_blkno + 1;
		jloc = JournalLoc{next, next, opt.journal_blocks};
		next += opt.journal_blocks;
		while (true) {
			uint64_t room = opt.blocks - next;
			uint32_t data = opt.rgrp_data;
			uint32_t len = rgrp_length_for(opt.bsize, data);
			if (room < uint64_t(len) + data) {
				if (room < 64)
					break;
				data = uint32_t(room) - rgrp_length_for(opt.bsize, uint32_t(room));
				len = rgrp_length_for(opt.bsize, data);
				if (len + data > room || data == 0)
					break;
			}
			cfs_rindex ri{};
			ri.ri_addr = to_le64(next);
			ri.ri_data0 = to_le64(next + len);
			ri.ri_length = to_le32(len);
			ri.ri_data = to_le32(data);
			ri.ri_bitbytes = to_le32((data + CFS_NBBY - 1) / CFS_NBBY);
			rindex.push_back(ri);
			next += len + data;
		}
		ASSERT_FALSE(rindex.empty());
		setup_fs();
		write_rgrps();
		ASSERT_EQ(rgrp_table_from_rindex(&fs, rindex.data(), uint32_t(rindex.size())), 0);
		// The root directory, written in place (no journal yet).
		Trans tr;
		ASSERT_EQ(trans_begin(&fs, nullptr, 64, &tr), 0);
		InodeInit init{};
		init.mode = kModeDir | 0755;
		Inode r;
		ASSERT_EQ(inode_alloc(&fs, &tr, 0, &init, &r), 0);
		root = r.ino;
		inode_put(&fs, &r);
		ASSERT_EQ(trans_commit(&tr), 0);
		ASSERT_EQ(cfs_env_sync(host), 0);
	}

	// Drops everything in memory (a crash: only what lib wrote is on disk) and opens the
	// image again.
	void crash_and_reopen()
	{
		close_host();
		open_host();
		setup_fs();
		ASSERT_EQ(rgrp_table_from_rindex(&fs, rindex.data(), uint32_t(rindex.size())), 0);
	}

	void close_host()
	{
		if (!host)
			return;
		rgrp_table_free(&fs);
		EXPECT_EQ(user::host_held_buffers(host), 0u) << "lib leaked buffer references";
		user::host_close(host);
		host = nullptr;
	}

	uint64_t free_blocks() { return rgrps_free(&fs); }

	int block_state_of(uint64_t blk) { return block_state(&fs, blk); }

private:
	static void sink(void *ctx, int, const char *msg)
	{
		static_cast<TestFs *>(ctx)->log.push_back(msg);
	}

	void open_host()
	{
		const char *why = nullptr;
		user::HostOptions ho;
		ASSERT_EQ(user::host_open(path.c_str(), ho, &host, &why), 0) << (why ? why : "");
		user::host_set_log(host, sink, this, CFS_LOG_DEBUG);
	}

	void setup_fs()
	{
		Fs fresh{};
		fs = fresh;
		ASSERT_EQ(fs_set_geometry(&fs, opt.bsize), 0);
		fs.host = host;
		fs.blocks = opt.blocks;
		for (int i = 0; i < 16; i++) {
			fs.uuid[i] = uint8_t(0xa0 + i);
			fs.sb.sb_hash_key[i] = uint8_t(0x11 * (i + 1));
		}
		std::memcpy(fs.sb.sb_header.mh_uuid, fs.uuid, 16);
		ASSERT_EQ(cfs_env_set_block_size(host, opt.bsize), 0);
	}

	void write_block(uint64_t blk, std::vector<uint8_t> &b)
	{
		ASSERT_EQ(meta_seal(&fs, b.data(), blk), 0);
		const void *p = b.data();
		ASSERT_EQ(cfs_env_log_write(host, blk, &p, 1, 0), 0);
	}

	void write_rgrps()
	{
		for (size_t i = 0; i < rindex.size(); i++) {
			const cfs_rindex &ri = rindex[i];
			uint64_t addr = from_le64(ri.ri_addr);
			uint32_t len = from_le32(ri.ri_length), data = from_le32(ri.ri_data);
			std::vector<uint8_t> b(opt.bsize, 0);
			meta_header_init(&fs, b.data(), addr, CFS_BT_RG, 0);
			auto *rg = reinterpret_cast<cfs_rgrp *>(b.data());
			rg->rg_free = to_le32(data);
			rg->rg_data0 = ri.ri_data0;
			rg->rg_data = ri.ri_data;
			rg->rg_bitbytes = ri.ri_bitbytes;
			rg->rg_length = ri.ri_length;
			rg->rg_skip = to_le32(i + 1 < rindex.size() ? len + data : 0);
			rg->rg_igeneration = to_le64(1);
			write_block(addr, b);
			for (uint32_t k = 1; k < len; k++) {
				std::vector<uint8_t> bb(opt.bsize, 0);
				meta_header_init(&fs, bb.data(), addr + k, CFS_BT_RB, 0);
				write_block(addr + k, bb);
			}
		}
	}
};

// RAII inode handle for tests.
struct InodeRef {
	Fs *fs;
	Inode ip{0, nullptr};
	explicit InodeRef(Fs *f) : fs(f) {}
	~InodeRef() { inode_put(fs, &ip); }
	Inode *operator->() { return &ip; }
	Inode *get() { return &ip; }
};

inline std::vector<uint8_t> pattern(size_t len, uint32_t seed)
{
	std::vector<uint8_t> v(len);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		v[i] = uint8_t(x);
	}
	return v;
}

}  // namespace cfs::test

#endif
