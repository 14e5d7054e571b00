// clusterfs_tool: diagnostics and administration. Dispatches to the command tables.
#include <cstdio>
#include <cstring>

#include "tool_commands.h"

static const ToolCommand *const command_tables[] = {fs_tool_commands, lock_tool_commands, glock_tool_commands};

static void usage(FILE *out)
{
	fprintf(out, "usage: clusterfs_tool COMMAND [ARGS...]\n\ncommands:\n");
	for (const ToolCommand *table : command_tables)
		for (const ToolCommand *c = table; c->name; c++)
			fprintf(out, "  %-10s %-40s %s\n", c->name, c->usage, c->summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	// `clusterfs_tool --json CMD ARGS` means `clusterfs_tool CMD --json ARGS`: every command
	// parses --json itself, so move the global spelling after the command name.
	if (!strcmp(argv[1], "--json") && argc >= 3) {
		argv[1] = argv[2];
		argv[2] = const_cast<char *>("--json");
	}
	for (const ToolCommand *table : command_tables)
		for (const ToolCommand *c = table; c->name; c++)
			if (!strcmp(c->name, argv[1]))
				return c->run(argc - 1, argv + 1);
	fprintf(stderr, "clusterfs_tool: unknown command '%s' (try --help)\n", argv[1]);
	return 2;
}
