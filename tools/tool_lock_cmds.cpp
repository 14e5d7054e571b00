// Cluster and lock commands of clusterfs_tool: filled in by the lockd work.
#include "tool_commands.h"

const ToolCommand lock_tool_commands[] = {
	{nullptr, nullptr, nullptr, nullptr},
};
