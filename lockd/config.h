// clusterfs_lockd's configuration file: `key = value` lines, `#` comments.
#pragma once

#include <string>
#include <vector>

namespace clusterfs::lockd {

struct Config {
	std::string socket_path = "/run/clusterfs/lockd.sock";
	// The clusterfs kernel module's device; empty: do not serve the kernel.
	std::string kernel_device = "/dev/clusterfs_lock";
	// Program and arguments; the dead node's id and name are appended. Empty: recovery
	// waits for `clusterfs_tool fence-ack NODE`.
	std::vector<std::string> fence_command;
	int fence_retry_seconds = 5;
	// How long an unused lockspace stays joined after its last local mount left.
	int lockspace_linger_seconds = 10;
};

// Reads `path` into *config. A missing file is fine when !must_exist (defaults apply).
// Returns false with a message naming file, line and problem.
bool load_config(const std::string &path, bool must_exist, Config *config, std::string *error);

} // namespace clusterfs::lockd
