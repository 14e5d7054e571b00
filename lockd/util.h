// Small helpers shared by the daemon's parts: logging, time, randomness, and what
// corosync's configuration (cmap) says about the cluster.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clusterfs::lockd {

extern bool g_log_foreground; // stderr instead of syslog

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t random_u64();
double now_seconds(); // monotonic
std::string json_escape(const std::string &s);

// After a partition merged back, whether this side's state wins over the sender's: the
// side that stayed quorate since the split (did not announce itself stale) wins; between
// equals the lower node id. Both sides judge the same announced flags, so they agree.
// Used by every replicated group (lockspaces and the lockd group).
inline bool wins_partition_merge(bool we_stale, bool sender_stale, uint32_t me, uint32_t sender)
{
	return (!we_stale && sender_stale) || (we_stale == sender_stale && me < sender);
}

// The node's name in corosync's nodelist (`name`, else `ring0_addr`), for the fence
// agent; "node<ID>" if corosync does not list it.
std::string corosync_node_name(uint32_t node);
// A string key of corosync's cmap (its configuration as loaded); empty if it is not set
// or cmap cannot be read.
std::string corosync_config_string(const char *key);
// totem.cluster_name from corosync's cmap; empty if it cannot be read.
std::string corosync_cluster_name();
// Every node id in corosync's nodelist (empty if cmap is unreachable).
std::vector<uint32_t> corosync_nodelist();
// votequorum's two_node mode: both halves of a split stay quorate.
bool corosync_two_node();

} // namespace clusterfs::lockd
