// clusterfs_tool's subcommands. Each group lives in its own file and exports a table
// terminated by an entry with a null name; clusterfs_tool.cpp only dispatches.
#pragma once

#include <string>

struct ToolCommand {
	const char *name;     // "sb", "locks", ...
	const char *usage;    // one line: arguments after the name
	const char *summary;  // one line: what it does
	int (*run)(int argc, char **argv);  // argv[0] is the subcommand name; returns exit status
};

// Filesystem diagnostics and administration (tools/tool_fs_cmds.cpp).
extern const ToolCommand fs_tool_commands[];
// Cluster and lock commands that talk to the local clusterfs_lockd (tools/tool_lock_cmds.cpp).
extern const ToolCommand lock_tool_commands[];
// The kernel module's glock cache as debugfs shows it (tools/tool_glock_cmds.cpp).
extern const ToolCommand glock_tool_commands[];

// What the local clusterfs_lockd answered to CFS_ADMIN_DUMP_CLUSTER for `lockspace`
// ("" = all) on `socket` ("" = $CLUSTERFS_LOCKD_SOCKET or the default path).
struct LockdReply {
	std::string socket;      // the path asked
	bool reachable = false;  // the connection was made
	bool answered = false;   // text holds the JSON dump
	std::string text;
	std::string error;       // why not reachable, or why no dump came back
};
LockdReply lockd_cluster_dump(const std::string &socket, const std::string &lockspace, int timeout_ms);
