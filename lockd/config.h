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
	// Bytes of events queued for one client that does not read them before lockd drops
	// it (its locks are released; for the kernel's device its mounts withdraw): a stuck
	// client must not make lockd grow without bound.
	int client_backlog_kib = 16384;
	// Fence nodes of corosync's nodelist that are not cluster members when this daemon
	// founds the cluster-wide lockd group (nobody can vouch for their state) and have not
	// joined within startup_fencing_delay seconds.
	bool startup_fencing = true;
	int startup_fencing_delay = 30;
	// Refuse to start unless corosync authenticates cluster traffic (totem.crypto_hash
	// set, with the shared /etc/corosync/authkey): every lock message between nodes
	// rides corosync, so without it any host on the cluster network could forge a
	// grant or a release. Off: lockd only warns.
	bool require_crypto = false;
};

// Splits a command line like a shell does for a simple command: words separated by
// blanks; 'single quotes' keep everything literally; "double quotes" keep everything
// but a backslash escapes \, " and $ (and backquote) in them; outside quotes a backslash
// makes the next character literal. No expansion of any kind. False with a message for
// an unterminated quote or a trailing backslash.
bool split_command(const std::string &line, std::vector<std::string> *words, std::string *error);

// Reads `path` into *config. A missing file is fine when !must_exist (defaults apply).
// Returns false with a message naming file, line and problem.
bool load_config(const std::string &path, bool must_exist, Config *config, std::string *error);

} // namespace clusterfs::lockd
