// Filesystem commands of clusterfs_tool: filled in by the format/tools work.
#include "tool_commands.h"

const ToolCommand fs_tool_commands[] = {
	{nullptr, nullptr, nullptr, nullptr},
};
