// lockd.conf parsing (lockd/config.*): values land, mistakes are named with file and line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "config.h"
#include "util.h"

using clusterfs::lockd::Config;
using clusterfs::lockd::load_config;
using clusterfs::lockd::split_command;
using Words = std::vector<std::string>;

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
				      "fence_retry_seconds=7\nsocket_path = /tmp/x.sock\nlockspace_linger_seconds = 0\n"
				      "client_backlog_kib = 64\n");
	Config c;
	std::string err;
	ASSERT_TRUE(load_config(path, true, &c, &err)) << err;
	EXPECT_EQ(c.fence_command, (std::vector<std::string>{"/usr/sbin/fence_ipmi", "-a", "10.0.0.1"}));
	EXPECT_EQ(c.fence_retry_seconds, 7);
	EXPECT_EQ(c.socket_path, "/tmp/x.sock");
	EXPECT_EQ(c.lockspace_linger_seconds, 0);
	EXPECT_EQ(c.client_backlog_kib, 64);
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
	path = write_temp("client_backlog_kib = 8\n");
	EXPECT_FALSE(load_config(path, true, &c, &err));
	EXPECT_NE(err.find(":1: client_backlog_kib must be 64..1048576"), std::string::npos) << err;
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

Words split(const std::string &line)
{
	Words w;
	std::string err;
	EXPECT_TRUE(split_command(line, &w, &err)) << line << ": " << err;
	return w;
}

TEST(LockdConfig, FenceCommandSplitsLikeAShell)
{
	EXPECT_EQ(split("  fence_ipmi   -a 10.0.0.1 "), (Words{"fence_ipmi", "-a", "10.0.0.1"}));
	EXPECT_EQ(split("agent 'two words' \"and three words\""), (Words{"agent", "two words", "and three words"}));
	// Single quotes keep backslashes and double quotes literally.
	EXPECT_EQ(split("agent 'a\\b \"c\"'"), (Words{"agent", "a\\b \"c\""}));
	// In double quotes a backslash escapes only \\ \" $ `; elsewhere it stays.
	EXPECT_EQ(split("agent \"x\\\"y\\\\z\\n$\""), (Words{"agent", "x\"y\\z\\n$"}));
	// Outside quotes a backslash makes the next character literal, blank included.
	EXPECT_EQ(split("agent pass\\ word \\'q"), (Words{"agent", "pass word", "'q"}));
	// Quoted parts join the word they touch; an empty quoted word is a word.
	EXPECT_EQ(split("agent --pw='se cret'x \"\" ''"), (Words{"agent", "--pw=se cretx", "", ""}));
	EXPECT_EQ(split(""), Words{});
}

TEST(LockdConfig, FenceCommandQuotingMistakesAreErrors)
{
	Words w;
	std::string err;
	EXPECT_FALSE(split_command("agent 'open", &w, &err));
	EXPECT_EQ(err, "unterminated single quote");
	EXPECT_FALSE(split_command("agent \"open\\\"", &w, &err));
	EXPECT_EQ(err, "unterminated double quote");
	EXPECT_FALSE(split_command("agent x\\", &w, &err));
	EXPECT_EQ(err, "trailing backslash");
	std::string path = write_temp("fence_command = agent 'unterminated\n");
	Config c;
	EXPECT_FALSE(load_config(path, true, &c, &err));
	EXPECT_EQ(err, path + ":1: fence_command: unterminated single quote");
	unlink(path.c_str());
}

TEST(LockdConfig, QuotedHashIsNotAComment)
{
	std::string path = write_temp("fence_command = agent --pw 'a#b' \"c # d\" e\\#f # real comment\n"
				      "startup_fencing = 0\nstartup_fencing_delay = 12\n");
	Config c;
	std::string err;
	ASSERT_TRUE(load_config(path, true, &c, &err)) << err;
	EXPECT_EQ(c.fence_command, (Words{"agent", "--pw", "a#b", "c # d", "e#f"}));
	EXPECT_FALSE(c.startup_fencing);
	EXPECT_EQ(c.startup_fencing_delay, 12);
	unlink(path.c_str());
}

TEST(LockdConfig, RequireCryptoIsOffByDefaultAndTakesZeroOrOne)
{
	Config defaults;
	EXPECT_FALSE(defaults.require_crypto);
	std::string path = write_temp("require_crypto = 1\n");
	Config c;
	std::string err;
	ASSERT_TRUE(load_config(path, true, &c, &err)) << err;
	EXPECT_TRUE(c.require_crypto);
	unlink(path.c_str());
	path = write_temp("require_crypto = yes\n");
	EXPECT_FALSE(load_config(path, true, &c, &err));
	EXPECT_EQ(err, path + ":1: require_crypto must be 0 or 1");
	unlink(path.c_str());
}

} // namespace

// lockd's JSON dumps (clusterfs_tool locks/cluster --json) carry resource and lockspace
// names, which are arbitrary bytes: UTF-8 passes through intact (it used to come out as
// one \u00XX per byte, "é" read back as "Ã©"), an invalid byte becomes U+FFFD, and
// quotes, backslashes and control characters are escaped.
TEST(LockdUtil, JsonEscapeKeepsUtf8AndReplacesInvalidBytes)
{
	using clusterfs::lockd::json_escape;
	EXPECT_EQ(json_escape("r\xc3\xa9sum\xc3\xa9"), "r\xc3\xa9sum\xc3\xa9");
	EXPECT_EQ(json_escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
	EXPECT_EQ(json_escape(std::string("x\xff" "y")), "x\xef\xbf\xbdy");
	EXPECT_EQ(json_escape(std::string("\x01", 1)), "\\u0001");
}
