// The daemon (class Daemon) and its clients (struct Connection): the unix socket and the
// kernel module's device, corosync's quorum service, the host of the lockd group
// (MembershipHost) and the poll loop that drives every lockspace (lockspace.h).
#pragma once

#include <corosync/quorum.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "client_proto.h"
#include "config.h"
#include "lockspace.h"
#include "membership.h"
#include "util.h"

namespace clusterfs::lockd {

struct Connection {
	int fd;
	bool device = false; // the kernel module's /dev/clusterfs_lock: read()/write(), whole messages
	proto::Framer framer;
	std::vector<uint8_t> out;
	std::map<uint32_t, std::pair<Lockspace *, uint64_t>> joined; // lockspace id -> (ls, mount)
	std::map<std::pair<uint32_t, uint64_t>, uint64_t> client_locks; // (ls id, client id) -> local lock
	uint32_t next_lockspace_id = 1;
	bool closing = false;
};

class Daemon final : public MembershipHost {
public:
	explicit Daemon(Config config) : config_(std::move(config)), membership_(*this) {}
	int run();

	const Config &config() const override { return config_; }
	NodeId node_id() const override { return node_id_; }
	bool quorate() const override
	{
		return quorate_ && (totem_ring_seq_ == 0 || quorum_ring_seq_ >= totem_ring_seq_);
	}
	const std::set<uint32_t> &corosync_members() const override { return corosync_members_; }
	void refused_by_cluster() override;
	bool two_node() const { return two_node_; }
	Membership &membership() { return membership_; }
	uint64_t next_local_id() { return id_base_ | ++id_counter_; }
	void send(Connection *c, const void *msg, size_t len);
	void note_totem_ring(uint64_t seq) override { totem_ring_seq_ = std::max(totem_ring_seq_, seq); }
	void forget_connection_lock(Connection *c, uint32_t ls_id, uint64_t client_id)
	{
		c->client_locks.erase({ls_id, client_id});
	}
	void mount_left(Connection *c, uint32_t ls_id) { c->joined.erase(ls_id); }
	void fatal_corosync(const char *what) override;
	bool connection_alive(Connection *c) const
	{
		for (const auto &conn : conns_)
			if (conn.get() == c)
				return true;
		return false;
	}
	void on_quorum(uint32_t quorate, uint64_t ring_seq, const uint32_t *view, uint32_t nview)
	{
		if (quorate != quorate_)
			log_msg("node %u is now %s", node_id_, quorate ? "quorate" : "inquorate");
		bool lost = quorate_ && !quorate;
		quorate_ = quorate;
		if (lost)
			withdraw_kernel_mounts();
		quorum_ring_seq_ = ring_seq;
		corosync_members_ = std::set<uint32_t>(view, view + nview);
	}

private:
	bool setup_socket(std::string *error);
	bool setup_quorum(std::string *error);
	// Logs whether corosync authenticates cluster traffic; false (with *error) if it does
	// not and the configuration requires it.
	bool check_crypto(std::string *error);
	void accept_client();
	void read_client(Connection *c);
	void handle(Connection *c, const std::vector<uint8_t> &msg);
	void handle_admin(Connection *c, const cfs_lock_req_admin &req);
	void handle_plock(Connection *c, const cfs_lock_req_plock &req);
	void drop_connection(Connection *c);
	void open_kernel_device();
	void reap_children();
	void admin_reply(Connection *c, uint32_t seq, int status, const std::string &text);
	void complete(Connection *c, uint32_t seq, uint32_t ls_id, uint64_t lock_id, int status, uint32_t mode);
	void handle_join(Connection *c, const std::vector<uint8_t> &msg);
	void run_deferred_joins();
	bool leave_idle_lockspaces(bool stopping);
	void withdraw_clients(uint32_t reason);
	void withdraw_kernel_mounts();

	Config config_;
	NodeId node_id_ = 0;
	int listen_fd_ = -1;
	quorum_handle_t quorum_ = 0;
	int quorum_fd_ = -1;
	bool quorate_ = false;
	uint64_t quorum_ring_seq_ = 0, totem_ring_seq_ = 0;
	int device_errno_ = 0; // last error opening the kernel device, logged once
	uint64_t id_base_ = (random_u64() & 0x3fffffffull) << 32;
	uint64_t id_counter_ = 0;
	std::vector<std::unique_ptr<Connection>> conns_;
	std::map<std::string, std::unique_ptr<Lockspace>> lockspaces_;
	Membership membership_;
	std::set<uint32_t> corosync_members_;
	bool two_node_ = false;
	// Lockspace joins waiting until the lockd group's state is known and no fence is
	// pending (a lockspace founded or joined then could forget a dead node's locks).
	struct DeferredJoin {
		Connection *conn;
		std::vector<uint8_t> msg;
	};
	std::vector<DeferredJoin> deferred_joins_;
	friend class Lockspace;
};

// The one Daemon of the process (set by main), for the libquorum callback.
extern Daemon *g_daemon;

} // namespace clusterfs::lockd
