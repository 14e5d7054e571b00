// clusterfs_lockd: one daemon per node. Serves the lock protocol of lockproto.h on a
// unix socket and replicates one lock table per lockspace over a corosync CPG group:
// every operation is multicast in agreed order and applied by every member (see
// docs/locking.md). One thread, one poll loop over CPG, quorum, socket and child fds.
// This file: the command line (usage, main). The rest: daemon.h/.cpp (the daemon, its
// clients and poll loop), lockspace.h/.cpp (a lockspace's replication), lockspace_dump.cpp
// (its admin dumps), replicated_ops.h (the operations multicast in a lockspace's group).
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "config.h"
#include "daemon.h"
#include "util.h"

using namespace clusterfs::lockd;

namespace {

void usage(FILE *out)
{
	fprintf(out, "usage: clusterfs_lockd [-f] [-c CONFIG] [-s SOCKET]\n"
		     "  -f         stay in the foreground, log to stderr\n"
		     "  -c CONFIG  configuration file (default /etc/clusterfs/lockd.conf)\n"
		     "  -s SOCKET  serve the lock protocol on SOCKET (overrides socket_path)\n");
}

} // namespace

int main(int argc, char **argv)
{
	std::string config_path = "/etc/clusterfs/lockd.conf", socket_override;
	bool config_given = false;
	int opt;
	while ((opt = getopt(argc, argv, "fc:s:h")) != -1) {
		switch (opt) {
		case 'f': g_log_foreground = true; break;
		case 'c':
			config_path = optarg;
			config_given = true;
			break;
		case 's': socket_override = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	Config config;
	std::string error;
	if (!load_config(config_path, config_given, &config, &error)) {
		fprintf(stderr, "clusterfs_lockd: %s\n", error.c_str());
		return 2;
	}
	if (!socket_override.empty())
		config.socket_path = socket_override;
	if (!g_log_foreground && daemon(0, 0) < 0) {
		perror("clusterfs_lockd: daemon");
		return 1;
	}
	Daemon d(std::move(config));
	g_daemon = &d;
	return d.run();
}
