// lockd.conf parsing (lockd/config.*): values land, mistakes are named with file and line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "config.h"

using clusterfs::lockd::Config;
using clusterfs::lockd::load_config;

namespace {

std::string write_temp(const std::string &text)
{
	char path[] = "/tmp/lockd-conf-test.XXXXXX";
	int fd = mkstemp(path);
	EXPECT_GE(fd, 0);
	close(fd);
	std::ofstream(path) << text;
	return path;
}

TEST(LockdConfig, ReadsEveryKey)
{
	std::string path = write_temp("# comment\n fence_command = /usr/sbin/fence_ipmi -a 10.0.0.1  # trailing\n"
				      "fence_retry_seconds=7\nsocket_path = /tmp/x.sock\nlockspace_linger_seconds = 0\n");
	Config c;
	std::string err;
	ASSERT_TRUE(load_config(path, true, &c, &err)) << err;
	EXPECT_EQ(c.fence_command, (std::vector<std::string>{"/usr/sbin/fence_ipmi", "-a", "10.0.0.1"}));
	EXPECT_EQ(c.fence_retry_seconds, 7);
	EXPECT_EQ(c.socket_path, "/tmp/x.sock");
	EXPECT_EQ(c.lockspace_linger_seconds, 0);
	unlink(path.c_str());
}

TEST(LockdConfig, MistakesAreNamedWithFileAndLine)
{
	std::string path = write_temp("fence_retry_seconds = 5\nfence_retries = 3\n");
	Config c;
	std::string err;
	EXPECT_FALSE(load_config(path, true, &c, &err));
	EXPECT_EQ(err, path + ":2: unknown key 'fence_retries'");
	unlink(path.c_str());
	path = write_temp("fence_retry_seconds = soon\n");
	EXPECT_FALSE(load_config(path, true, &c, &err));
	EXPECT_NE(err.find(":1: fence_retry_seconds must be 1..3600"), std::string::npos) << err;
	unlink(path.c_str());
	path = write_temp("socket_path\n");
	EXPECT_FALSE(load_config(path, true, &c, &err));
	EXPECT_NE(err.find("expected `key = value`"), std::string::npos) << err;
	unlink(path.c_str());
}

TEST(LockdConfig, MissingDefaultFileIsFineButANamedOneIsNot)
{
	Config c;
	std::string err;
	EXPECT_TRUE(load_config("/nonexistent/lockd.conf", false, &c, &err));
	EXPECT_TRUE(c.fence_command.empty());
	EXPECT_FALSE(load_config("/nonexistent/lockd.conf", true, &c, &err));
	EXPECT_NE(err.find("No such file"), std::string::npos) << err;
}

} // namespace
