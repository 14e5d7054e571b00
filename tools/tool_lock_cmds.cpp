// Cluster and lock commands of clusterfs_tool: they talk to the local clusterfs_lockd
// over its unix socket with the protocol of include/clusterfs/lockproto.h.
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../lockd/client_proto.h"
#include "tool_commands.h"

namespace proto = clusterfs::lockd::proto;

namespace {

// Exit statuses of `lock` when the command could not be run (sysexits.h values).
constexpr int kExitUnavailable = 69; // lockd unreachable, node inquorate, lock refused
constexpr int kExitTimeout = 75;     // -w elapsed before the grant

std::string socket_path_option; // -s/--socket, else $CLUSTERFS_LOCKD_SOCKET, else default

std::string socket_path()
{
	return socket_path_option.empty() ? proto::default_socket_path() : socket_path_option;
}

bool connect_lockd(proto::Client &client, const char *cmd)
{
	std::string err;
	if (client.connect(socket_path(), &err))
		return true;
	fprintf(stderr, "clusterfs_tool %s: %s (is clusterfs_lockd running?)\n", cmd, err.c_str());
	return false;
}

// Sends `req` on a connected client and waits up to `timeout_ms` for its ADMIN_REPLY:
// true with lockd's status and text, false with *error (no answer, malformed reply).
bool admin_exchange(proto::Client &client, const cfs_lock_req_admin &req, int timeout_ms, int *status,
		    std::string *text, std::string *error)
{
	if (!client.send(&req, sizeof(req), error))
		return false;
	for (;;) {
		auto msg = client.receive(timeout_ms, error);
		if (!msg) {
			*error = "no answer from clusterfs_lockd: " + *error;
			return false;
		}
		if (proto::type_of(*msg) != CFS_LOCK_EV_ADMIN_REPLY)
			continue;
		const auto *r = proto::as<cfs_lock_ev_admin_reply>(*msg);
		uint32_t len = proto::from_le32(r->text_len);
		if (len > msg->size() - sizeof(*r)) {
			*error = "malformed reply from clusterfs_lockd";
			return false;
		}
		*status = static_cast<int32_t>(proto::from_le32(r->status));
		text->assign(reinterpret_cast<const char *>(msg->data() + sizeof(*r)), len);
		return true;
	}
}

// Sends an admin request and prints its reply text. Returns the exit status.
int admin(const char *cmd, uint32_t command, uint32_t arg, const std::string &lockspace)
{
	proto::Client client;
	if (!connect_lockd(client, cmd))
		return 1;
	auto req = proto::make<cfs_lock_req_admin>(CFS_LOCK_REQ_ADMIN, 1);
	req.command = proto::to_le32(command);
	req.arg = proto::to_le32(arg);
	if (lockspace.size() >= sizeof(req.lockspace)) {
		fprintf(stderr, "clusterfs_tool %s: lockspace name longer than %zu bytes\n", cmd, sizeof(req.lockspace) - 1);
		return 2;
	}
	memcpy(req.lockspace, lockspace.data(), lockspace.size());
	std::string err, text;
	int status = 0;
	if (!admin_exchange(client, req, 10000, &status, &text, &err)) {
		fprintf(stderr, "clusterfs_tool %s: %s\n", cmd, err.c_str());
		return 1;
	}
	if (status) {
		fprintf(stderr, "clusterfs_tool %s: %s\n", cmd, text.c_str());
		return 1;
	}
	fputs(text.c_str(), stdout);
	if (!text.empty() && text.back() != '\n')
		fputc('\n', stdout);
	return 0;
}

} // namespace

LockdReply lockd_cluster_dump(const std::string &socket, const std::string &lockspace, int timeout_ms)
{
	LockdReply out;
	out.socket = socket.empty() ? proto::default_socket_path() : socket;
	proto::Client client;
	if (!client.connect(out.socket, &out.error))
		return out;
	out.reachable = true;
	auto req = proto::make<cfs_lock_req_admin>(CFS_LOCK_REQ_ADMIN, 1);
	req.command = proto::to_le32(CFS_ADMIN_DUMP_CLUSTER);
	req.arg = proto::to_le32(0);
	if (lockspace.size() >= sizeof(req.lockspace)) {
		out.error = "lockspace name too long";
		return out;
	}
	memcpy(req.lockspace, lockspace.data(), lockspace.size());
	int status = 0;
	std::string text;
	if (!admin_exchange(client, req, timeout_ms, &status, &text, &out.error))
		return out;
	if (status) {
		out.error = text.empty() ? strerror(-status) : text;
		return out;
	}
	out.answered = true;
	out.text = std::move(text);
	return out;
}

namespace {

// Parses the common options of locks/cluster: --json, --lockspace NAME, -s SOCKET.
bool parse_dump_options(int argc, char **argv, const char *cmd, bool *json, std::string *lockspace)
{
	static const option longopts[] = {{"json", no_argument, nullptr, 'j'},
					  {"lockspace", required_argument, nullptr, 'l'},
					  {"socket", required_argument, nullptr, 's'},
					  {nullptr, 0, nullptr, 0}};
	optind = 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "jl:s:", longopts, nullptr)) != -1) {
		switch (opt) {
		case 'j': *json = true; break;
		case 'l': *lockspace = optarg; break;
		case 's': socket_path_option = optarg; break;
		default: return false;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "clusterfs_tool %s: unexpected argument '%s'\n", cmd, argv[optind]);
		return false;
	}
	return true;
}

int cmd_locks(int argc, char **argv)
{
	bool json = false;
	std::string lockspace;
	if (!parse_dump_options(argc, argv, "locks", &json, &lockspace))
		return 2;
	return admin("locks", CFS_ADMIN_DUMP_LOCKS, json ? 0 : CFS_ADMIN_TEXT, lockspace);
}

int cmd_cluster(int argc, char **argv)
{
	bool json = false;
	std::string lockspace;
	if (!parse_dump_options(argc, argv, "cluster", &json, &lockspace))
		return 2;
	return admin("cluster", CFS_ADMIN_DUMP_CLUSTER, json ? 0 : CFS_ADMIN_TEXT, lockspace);
}

int cmd_fence_ack(int argc, char **argv)
{
	bool json = false;
	std::string lockspace;
	// The node id is the one positional argument; options may come before or after it.
	std::string node;
	std::vector<char *> rest;
	for (int i = 0; i < argc; i++) {
		bool positional = i > 0 && argv[i][0] != '-' && (i == 0 || (strcmp(argv[i - 1], "--lockspace") &&
									   strcmp(argv[i - 1], "-l") &&
									   strcmp(argv[i - 1], "-s") &&
									   strcmp(argv[i - 1], "--socket")));
		if (positional && node.empty())
			node = argv[i];
		else
			rest.push_back(argv[i]);
	}
	if (!parse_dump_options(static_cast<int>(rest.size()), rest.data(), "fence-ack", &json, &lockspace))
		return 2;
	char *end;
	unsigned long id = node.empty() ? 0 : strtoul(node.c_str(), &end, 10);
	if (node.empty() || *end || id == 0 || id > UINT32_MAX) {
		fprintf(stderr, "clusterfs_tool fence-ack: give the corosync node id of the fenced node\n");
		return 2;
	}
	fprintf(stderr,
		"clusterfs_tool fence-ack: declaring node %lu fenced. Only do this if the node is really off or\n"
		"cut from the shared disk: if it is still writing, the filesystem will be corrupted.\n",
		id);
	return admin("fence-ack", CFS_ADMIN_FENCE_ACK, static_cast<uint32_t>(id), lockspace);
}

// `lock`: join as a journal-less mount, take the lock, run the command, release.
int cmd_lock(int argc, char **argv)
{
	static const option longopts[] = {{"mode", required_argument, nullptr, 'm'},
					  {"wait", required_argument, nullptr, 'w'},
					  {"socket", required_argument, nullptr, 's'},
					  {nullptr, 0, nullptr, 0}};
	std::string mode_name = "EX";
	double wait_seconds = -1;
	optind = 1;
	int opt;
	// '+': stop at the first non-option so the command's own options are left alone.
	while ((opt = getopt_long(argc, argv, "+m:w:s:", longopts, nullptr)) != -1) {
		switch (opt) {
		case 'm': mode_name = optarg; break;
		case 'w': {
			char *end;
			wait_seconds = strtod(optarg, &end);
			if (*end || wait_seconds < 0) {
				fprintf(stderr, "clusterfs_tool lock: -w wants a number of seconds\n");
				return 2;
			}
			break;
		}
		case 's': socket_path_option = optarg; break;
		default: return 2;
		}
	}
	static const char *const names[] = {"NL", "CR", "CW", "PR", "PW", "EX"};
	int mode = -1;
	for (int m = 0; m < 6; m++)
		if (mode_name == names[m])
			mode = m;
	if (mode < 0) {
		fprintf(stderr, "clusterfs_tool lock: unknown mode '%s' (NL, CR, CW, PR, PW or EX)\n", mode_name.c_str());
		return 2;
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: clusterfs_tool lock [-m MODE] [-w SECONDS] LOCKSPACE RESOURCE -- COMMAND...\n");
		return 2;
	}
	std::string lockspace = argv[optind], resource = argv[optind + 1];
	int cmd_index = optind + 2;
	if (cmd_index < argc && !strcmp(argv[cmd_index], "--"))
		cmd_index++;
	if (cmd_index >= argc) {
		fprintf(stderr, "clusterfs_tool lock: no command to run\n");
		return 2;
	}
	if (lockspace.empty() || lockspace.size() >= CFS_LOCKSPACE_NAME_MAX || resource.empty() ||
	    resource.size() > CFS_RESOURCE_NAME_MAX) {
		fprintf(stderr, "clusterfs_tool lock: lockspace must be 1..%d bytes and resource 1..%d bytes\n",
			CFS_LOCKSPACE_NAME_MAX - 1, CFS_RESOURCE_NAME_MAX);
		return 2;
	}

	proto::Client client;
	if (!connect_lockd(client, "lock"))
		return kExitUnavailable;
	std::string err;
	auto fail_io = [&]() {
		fprintf(stderr, "clusterfs_tool lock: %s\n", err.c_str());
		return kExitUnavailable;
	};
	auto join = proto::make<cfs_lock_req_join>(CFS_LOCK_REQ_JOIN, 1);
	memcpy(join.lockspace, lockspace.data(), lockspace.size());
	join.journal_count = 0;
	if (!client.send(&join, sizeof(join), &err))
		return fail_io();
	uint32_t ls_id = 0;
	for (;;) {
		auto msg = client.receive(30000, &err);
		if (!msg)
			return fail_io();
		if (proto::type_of(*msg) != CFS_LOCK_EV_JOINED)
			continue;
		const auto *j = proto::as<cfs_lock_ev_joined>(*msg);
		int status = static_cast<int32_t>(proto::from_le32(j->status));
		if (status == -ENOLCK) {
			fprintf(stderr, "clusterfs_tool lock: this node is inquorate: no cluster lock can be granted\n");
			return kExitUnavailable;
		}
		if (status) {
			fprintf(stderr, "clusterfs_tool lock: joining lockspace %s failed: %s\n", lockspace.c_str(),
				strerror(-status));
			return kExitUnavailable;
		}
		ls_id = proto::from_le32(j->lockspace_id);
		break;
	}
	auto req = proto::make<cfs_lock_req_lock>(CFS_LOCK_REQ_LOCK, 2);
	req.lockspace_id = proto::to_le32(ls_id);
	req.lock_id = proto::to_le64(1);
	req.mode = proto::to_le32(static_cast<uint32_t>(mode));
	req.name_len = proto::to_le32(static_cast<uint32_t>(resource.size()));
	memcpy(req.name, resource.data(), resource.size());
	if (!client.send(&req, sizeof(req), &err))
		return fail_io();
	using Clock = std::chrono::steady_clock;
	auto deadline = Clock::now() + std::chrono::duration<double>(wait_seconds < 0 ? 0 : wait_seconds);
	for (;;) {
		int timeout = -1;
		if (wait_seconds >= 0) {
			auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
			timeout = left > 0 ? static_cast<int>(left) : 0;
		}
		auto msg = client.receive(timeout, &err);
		if (!msg && err == "timed out") {
			fprintf(stderr, "clusterfs_tool lock: timed out after %g s waiting for %s in lockspace %s\n",
				wait_seconds, resource.c_str(), lockspace.c_str());
			return kExitTimeout; // closing the connection withdraws the request
		}
		if (!msg)
			return fail_io();
		uint16_t type = proto::type_of(*msg);
		if (type == CFS_LOCK_EV_WITHDRAW) {
			fprintf(stderr, "clusterfs_tool lock: clusterfs_lockd withdrew this node from the cluster\n");
			return kExitUnavailable;
		}
		if (type != CFS_LOCK_EV_COMPLETE)
			continue;
		int status = static_cast<int32_t>(proto::from_le32(proto::as<cfs_lock_ev_complete>(*msg)->status));
		if (status == -ENOLCK) {
			fprintf(stderr, "clusterfs_tool lock: this node is inquorate: no cluster lock can be granted\n");
			return kExitUnavailable;
		}
		if (status) {
			fprintf(stderr, "clusterfs_tool lock: lock %s refused: %s\n", resource.c_str(), strerror(-status));
			return kExitUnavailable;
		}
		break;
	}

	pid_t child = fork();
	if (child < 0) {
		perror("clusterfs_tool lock: fork");
		return kExitUnavailable;
	}
	if (child == 0) {
		close(client.fd());
		execvp(argv[cmd_index], argv + cmd_index);
		fprintf(stderr, "clusterfs_tool lock: cannot run %s: %s\n", argv[cmd_index], strerror(errno));
		_exit(127);
	}
	// Hold the lock while the command runs; if lockd withdraws us the lock is gone, so the
	// command is stopped rather than left running unprotected.
	int pidfd = static_cast<int>(syscall(SYS_pidfd_open, child, 0));
	int status = 0;
	for (;;) {
		pollfd fds[2] = {{client.fd(), POLLIN, 0}, {pidfd, POLLIN, 0}};
		int r = poll(fds, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? -1 : 100);
		if (r < 0 && errno != EINTR)
			break;
		if (waitpid(child, &status, WNOHANG) == child)
			break;
		if (fds[0].revents) {
			auto msg = client.receive(0, &err);
			bool lost = !msg && err != "timed out";
			if (lost || (msg && proto::type_of(*msg) == CFS_LOCK_EV_WITHDRAW)) {
				fprintf(stderr, "clusterfs_tool lock: lost the cluster lock (%s); stopping %s\n",
					lost ? err.c_str() : "node withdrawn", argv[cmd_index]);
				kill(child, SIGTERM);
				waitpid(child, &status, 0);
				return kExitUnavailable;
			}
		}
	}
	auto unlock = proto::make<cfs_lock_req_lock>(CFS_LOCK_REQ_UNLOCK, 3);
	unlock.lockspace_id = proto::to_le32(ls_id);
	unlock.lock_id = proto::to_le64(1);
	if (client.send(&unlock, sizeof(unlock), &err)) {
		// Wait for the release to be committed so a follower's grant never precedes our exit.
		for (;;) {
			auto msg = client.receive(10000, &err);
			if (!msg || proto::type_of(*msg) == CFS_LOCK_EV_COMPLETE)
				break;
		}
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

} // namespace

const ToolCommand lock_tool_commands[] = {
	{"locks", "[--lockspace NAME] [--json]", "dump the cluster lock table of the local clusterfs_lockd", cmd_locks},
	{"cluster", "[--lockspace NAME] [--json]", "show members, quorum, fencing and journal recovery", cmd_cluster},
	{"lock", "[-m MODE] [-w SECONDS] LOCKSPACE RESOURCE -- COMMAND...",
	 "run COMMAND holding a cluster lock (exit 69: unavailable, 75: timed out)", cmd_lock},
	{"fence-ack", "NODEID [--lockspace NAME]", "declare a dead node fenced by hand (dangerous)", cmd_fence_ack},
	{nullptr, nullptr, nullptr, nullptr},
};
