// Test filesystems made by mkfs's own layout code (mkfs/layout.h) in a sparse image file,
// for the tests that need a real layout (journal rgrps, system files, the root directory)
// rather than algo_fixture.h's hand-made one.
#ifndef CLUSTERFS_TESTS_MKFS_FIXTURE_H
#define CLUSTERFS_TESTS_MKFS_FIXTURE_H

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "algo_fixture.h"
#include "fs.h"
#include "layout.h"
#include "rgrp.h"
#include "user/host.h"

namespace cfs::test {

// Creates an empty sparse file of `bytes`, /tmp/cfs-<name>-XXXXXX; its path goes to *path
// as soon as it exists, so that the caller's teardown removes it even after a failure.
inline void create_sparse_image(const char *name, uint64_t bytes, std::string *path)
{
	std::string tmpl = std::string("/tmp/cfs-") + name + "-XXXXXX";
	int fd = mkstemp(tmpl.data());
	ASSERT_GE(fd, 0);
	*path = tmpl;
	ASSERT_EQ(ftruncate(fd, off_t(bytes)), 0);
	::close(fd);
}

// Plans the filesystem `p` describes and writes it through `host`.
inline void write_mkfs(cfs_host *host, const mkfs::Params &p)
{
	mkfs::Plan plan;
	std::string error;
	ASSERT_TRUE(mkfs::plan(p, &plan, &error)) << error;
	ASSERT_EQ(mkfs::write(host, p, plan, &error), 0) << error;
}

// An mkfs image opened as an Fs with its rgrp table loaded and every rgrp header read, as
// the allocator's tests want it; each test (or SetUp) calls make() first. TearDown checks
// that lib let go of every buffer.
class MkfsFsTest : public ::testing::Test {
protected:
	std::string path;
	cfs_host *host = nullptr;
	Fs fs{};
	std::vector<std::string> log;  // messages lib logged

	// One 8 MiB journal; the rest in resource groups of rgrp_mb.
	void make(uint32_t bsize, uint64_t bytes, uint32_t rgrp_mb)
	{
		ASSERT_NO_FATAL_FAILURE(create_sparse_image("rgrp", bytes, &path));
		mkfs::Params p;
		p.bsize = bsize;
		p.journals = 1;
		p.journal_mb = 8;
		p.rgrp_mb = rgrp_mb;
		p.locktable = "t:rgrp";
		p.dev_bytes = bytes;
		p.uuid[0] = 7;
		ASSERT_NO_FATAL_FAILURE(open_host());
		ASSERT_NO_FATAL_FAILURE(write_mkfs(host, p));
		ASSERT_EQ(fs_open(host, &fs, nullptr), 0);
		ASSERT_EQ(rgrp_table_load(&fs), 0);
		refresh_all();
	}

	void TearDown() override
	{
		if (host) {
			fs_close(&fs);
			EXPECT_EQ(user::host_held_buffers(host), 0u) << "lib leaked buffer references";
			user::host_close(host);
		}
		if (!path.empty())
			unlink(path.c_str());
	}

	// rgrp_table_load reads only the rindex; flags and counts come from the headers.
	void refresh_all()
	{
		for (uint32_t i = 0; i < fs.rgrps.count; i++)
			ASSERT_EQ(rgrp_refresh(&fs, &fs.rgrps.rgrps[i]), 0);
	}

	// Drops all cached state and reads the image again, as after a remount. With `refresh`
	// false the rgrp headers stay unread (flags, free and dinodes 0), as a mount leaves them.
	void reopen(bool refresh = true)
	{
		fs_close(&fs);
		ASSERT_EQ(cfs_env_sync(host), 0);
		user::host_close(host);
		open_host();
		ASSERT_EQ(fs_open(host, &fs, nullptr), 0);
		ASSERT_EQ(rgrp_table_load(&fs), 0);
		if (refresh)
			refresh_all();
	}

	// Index of the first rgrp that is not a journal's (count if none).
	uint32_t first_ordinary() const
	{
		for (uint32_t i = 0; i < fs.rgrps.count; i++)
			if (!(fs.rgrps.rgrps[i].flags & CFS_RGF_JOURNAL))
				return i;
		return fs.rgrps.count;
	}

	uint64_t total_free() { return rgrps_free(&fs); }

private:
	void open_host()
	{
		const char *why = nullptr;
		ASSERT_EQ(user::host_open(path.c_str(), user::HostOptions{}, &host, &why), 0);
		user::host_set_log(host, [](void *ctx, int, const char *m) {
			static_cast<MkfsFsTest *>(ctx)->log.push_back(m);
		}, this, CFS_LOG_DEBUG);
	}
};

}  // namespace cfs::test

#endif
