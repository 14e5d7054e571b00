// The daemon (daemon.h): its socket, corosync's quorum service, the kernel module's
// device, sending to clients, withdrawing them, leaving idle lockspaces, and the poll
// loop over CPG, quorum, socket and child fds that runs everything.
// Lockspaces' replication is in lockspace.cpp.
#include "daemon.h"

#include <corosync/cpg.h> // only for the local node id
#include <corosync/quorum.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "client_proto.h"
#include "membership.h"
#include "util.h"
#include "wire.h"

namespace clusterfs::lockd {

Daemon *g_daemon;

namespace {

volatile sig_atomic_t g_stop = 0;

// ---- libcpg / libquorum trampolines ----

void quorum_notify(quorum_handle_t, uint32_t quorate, quorum_ring_id ring_id, uint32_t nview, const uint32_t *view)
{
	g_daemon->on_quorum(quorate, ring_id.seq, view, nview);
}

// The device takes whole messages (it returns how many bytes of whole messages it took),
// a socket any bytes: both are written through here, never blocking unless asked.
ssize_t write_connection(const Connection *c, const void *p, size_t len, bool blocking = false)
{
	if (c->device)
		return ::write(c->fd, p, len);
	return ::send(c->fd, p, len, MSG_NOSIGNAL | (blocking ? 0 : MSG_DONTWAIT));
}

void on_signal(int sig)
{
	if (sig == SIGCHLD)
		return; // wakes poll; children are reaped in the loop
	g_stop = 1;
}

} // namespace

// ---- Daemon ----

void Daemon::send(Connection *c, const void *msg, size_t len)
{
	if (c->closing)
		return; // being dropped: nothing more reaches it
	const auto *p = static_cast<const uint8_t *>(msg);
	if (c->out.empty()) {
		ssize_t n = write_connection(c, p, len);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				c->closing = true;
				return;
			}
			n = 0;
		}
		p += n;
		len -= n;
	}
	c->out.insert(c->out.end(), p, p + len);
	if (c->out.size() > static_cast<size_t>(config_.client_backlog_kib) * 1024 && !c->closing) {
		log_msg("%s stopped reading: %zu bytes of events queued (client_backlog_kib = %d); dropping it",
			c->device ? "the kernel module" : "a client", c->out.size(), config_.client_backlog_kib);
		c->out.clear();
		c->closing = true;
	}
}

void Daemon::fatal_corosync(const char *what)
{
	log_msg("lost the connection to corosync (%s): telling clients to withdraw and exiting", what);
	withdraw_clients(CFS_WITHDRAW_COROSYNC_LOST);
	unlink(config_.socket_path.c_str());
	exit(1);
}

bool Daemon::setup_socket(std::string *error)
{
	std::string dir = config_.socket_path.substr(0, config_.socket_path.rfind('/'));
	if (!dir.empty() && mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) {
		*error = "cannot create " + dir + ": " + strerror(errno);
		return false;
	}
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (config_.socket_path.size() >= sizeof(addr.sun_path)) {
		*error = "socket path too long: " + config_.socket_path;
		return false;
	}
	memcpy(addr.sun_path, config_.socket_path.c_str(), config_.socket_path.size() + 1);
	listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	// A socket file left by a previous instance: refuse if somebody still answers on it.
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(probe, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0) {
		close(probe);
		*error = "another clusterfs_lockd is serving " + config_.socket_path;
		return false;
	}
	close(probe);
	unlink(config_.socket_path.c_str());
	mode_t old = umask(0077); // root only
	int r = bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
	umask(old);
	if (r < 0 || listen(listen_fd_, 64) < 0) {
		*error = "cannot listen on " + config_.socket_path + ": " + strerror(errno);
		return false;
	}
	return true;
}

bool Daemon::check_crypto(std::string *error)
{
	// Every message between lockds is a CPG message: corosync's crypto (knet, keyed by
	// /etc/corosync/authkey) is what keeps a host without the key from sending one, and
	// totem's sequence numbers drop a replayed one. Missing keys mean "none".
	std::string hash = corosync_config_string("totem.crypto_hash");
	std::string cipher = corosync_config_string("totem.crypto_cipher");
	if (!hash.empty() && hash != "none") {
		log_msg("corosync authenticates cluster traffic (crypto_hash %s, crypto_cipher %s): "
			"hosts without its authkey cannot send lock messages",
			hash.c_str(), cipher.empty() ? "none" : cipher.c_str());
		return true;
	}
	if (config_.require_crypto) {
		*error = "corosync does not authenticate cluster traffic (totem.crypto_hash is " +
			 (hash.empty() ? std::string("not set") : hash) +
			 ") and require_crypto = 1: set crypto_cipher and crypto_hash in corosync.conf's "
			 "totem section (knet transport, /etc/corosync/authkey on every node)";
		return false;
	}
	log_msg("warning: corosync does not authenticate cluster traffic (totem.crypto_hash %s): "
		"any host on the cluster network can send lock messages; set crypto_cipher and "
		"crypto_hash in corosync.conf (require_crypto = 1 makes this an error)",
		hash.empty() ? "not set" : hash.c_str());
	return true;
}

bool Daemon::setup_quorum(std::string *error)
{
	quorum_model_v1_data_t model{};
	model.model = QUORUM_MODEL_V1;
	model.quorum_notify_fn = quorum_notify;
	uint32_t type = 0;
	cs_error_t err;
	for (int tries = 0; (err = quorum_model_initialize(&quorum_, QUORUM_MODEL_V1,
							  reinterpret_cast<quorum_model_data_t *>(&model), &type,
							  nullptr)) == CS_ERR_TRY_AGAIN &&
			    tries < 50;
	     tries++)
		usleep(100000);
	if (err != CS_OK) {
		*error = "cannot connect to corosync quorum service (error " + std::to_string(err) +
			 "): is corosync running?";
		return false;
	}
	if (!type)
		log_msg("warning: corosync has no quorum provider configured; lockd will never grant");
	if (quorum_trackstart(quorum_, CS_TRACK_CHANGES | CS_TRACK_CURRENT) != CS_OK ||
	    quorum_fd_get(quorum_, &quorum_fd_) != CS_OK) {
		*error = "cannot track corosync quorum";
		return false;
	}
	// Our node id: from a throwaway CPG connection (libcpg knows it, libquorum doesn't say).
	cpg_handle_t h;
	cpg_callbacks_t cb{};
	if (cpg_initialize(&h, &cb) != CS_OK || cpg_local_get(h, &node_id_) != CS_OK) {
		*error = "cannot get the local node id from corosync";
		return false;
	}
	cpg_finalize(h);
	return true;
}

void Daemon::accept_client()
{
	for (;;) {
		int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		// The socket's mode already keeps others out; a lock client must be root.
		ucred cred{};
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
			log_msg("refusing a client with uid %u: only root may take cluster locks", cred.uid);
			close(fd);
			continue;
		}
		auto c = std::make_unique<Connection>();
		c->fd = fd;
		conns_.push_back(std::move(c));
	}
}

void Daemon::complete(Connection *c, uint32_t seq, uint32_t ls_id, uint64_t lock_id, int status, uint32_t mode)
{
	auto m = proto::make<cfs_lock_ev_complete>(CFS_LOCK_EV_COMPLETE, seq);
	m.lockspace_id = proto::to_le32(ls_id);
	m.status = proto::to_le32(static_cast<uint32_t>(status));
	m.lock_id = proto::to_le64(lock_id);
	m.mode = proto::to_le32(mode);
	send(c, &m, sizeof(m));
}

void Daemon::admin_reply(Connection *c, uint32_t seq, int status, const std::string &text)
{
	auto m = proto::make<cfs_lock_ev_admin_reply>(CFS_LOCK_EV_ADMIN_REPLY, seq);
	m.hdr.length = proto::to_le32(static_cast<uint32_t>(sizeof(m) + text.size()));
	m.status = proto::to_le32(static_cast<uint32_t>(status));
	m.text_len = proto::to_le32(static_cast<uint32_t>(text.size()));
	std::vector<uint8_t> buf(sizeof(m) + text.size());
	memcpy(buf.data(), &m, sizeof(m));
	memcpy(buf.data() + sizeof(m), text.data(), text.size());
	send(c, buf.data(), buf.size());
}

void Daemon::handle_admin(Connection *c, const cfs_lock_req_admin &req)
{
	uint32_t seq = proto::from_le32(req.hdr.seq);
	std::string ls(req.lockspace, strnlen(req.lockspace, sizeof(req.lockspace)));
	switch (proto::from_le32(req.command)) {
	case CFS_ADMIN_DUMP_LOCKS: {
		bool text = proto::from_le32(req.arg) & CFS_ADMIN_TEXT;
		if (text) {
			std::string out;
			for (auto &[name, l] : lockspaces_)
				if (ls.empty() || name == ls)
					l->append_locks_text(out);
			if (!ls.empty() && out.empty())
				return admin_reply(c, seq, -ENOENT, "no lockspace " + ls + " on this node");
			if (out.empty())
				out = "no lockspaces on this node\n";
			return admin_reply(c, seq, 0, out);
		}
		std::string out = "{\"node_id\":" + std::to_string(node_id_) + ",\"lockspaces\":[";
		bool first = true;
		for (auto &[name, l] : lockspaces_) {
			if (!ls.empty() && name != ls)
				continue;
			if (!first)
				out += ",";
			first = false;
			l->append_locks_json(out);
		}
		out += "]}";
		if (!ls.empty() && first)
			return admin_reply(c, seq, -ENOENT, "no lockspace " + ls + " on this node");
		return admin_reply(c, seq, 0, out);
	}
	case CFS_ADMIN_DUMP_CLUSTER: {
		if (proto::from_le32(req.arg) & CFS_ADMIN_TEXT) {
			std::string out = "node " + std::to_string(node_id_) + ", " +
					  (quorate() ? "quorate" : "INQUORATE: nothing is granted") + (two_node_ ? ", two_node" : "") +
					  "\n";
			membership_.append_text(out);
			for (auto &[name, l] : lockspaces_)
				if (ls.empty() || name == ls)
					l->append_cluster_text(out);
			return admin_reply(c, seq, 0, out);
		}
		std::string out = "{\"node_id\":" + std::to_string(node_id_) + ",\"quorate\":" +
				  (quorate() ? "true" : "false") + ",\"two_node\":" + (two_node_ ? "true" : "false") +
				  ",\"lockd_group\":";
		membership_.append_json(out);
		out += ",\"lockspaces\":[";
		bool first = true;
		for (auto &[name, l] : lockspaces_) {
			if (!ls.empty() && name != ls)
				continue;
			if (!first)
				out += ",";
			first = false;
			l->append_cluster_json(out);
		}
		out += "]}";
		return admin_reply(c, seq, 0, out);
	}
	case CFS_ADMIN_FENCE_ACK: {
		// Fencing is cluster-wide (the lockd group); a lockspace name is not needed.
		NodeId node = proto::from_le32(req.arg);
		// A lockspace may await a node the group has no record of (the group's state was
		// lost with every member that held it): the operator's word counts there too.
		bool awaited = false;
		for (auto &[name, l] : lockspaces_)
			awaited |= l->awaits_fence(node);
		if (!membership_.fence_ack(node, awaited))
			return admin_reply(c, seq, -ENOENT, "node " + std::to_string(node) + " is not awaiting fencing");
		log_msg("operator acknowledged node %u as fenced", node);
		return admin_reply(c, seq, 0, "acknowledged node " + std::to_string(node) + " as fenced");
	}
	default:
		return admin_reply(c, seq, -EINVAL, "unknown admin command");
	}
}

// POSIX locks: LOCK, UNLOCK and CANCEL go through the agreed order (answered when
// applied, LOCK perhaps much later), GET is answered at once from this node's copy.
void Daemon::handle_plock(Connection *c, const cfs_lock_req_plock &req)
{
	uint32_t seq = proto::from_le32(req.hdr.seq);
	uint32_t ls_id = proto::from_le32(req.lockspace_id);
	uint32_t command = proto::from_le32(req.command);
	uint64_t number = proto::from_le64(req.number), owner = proto::from_le64(req.owner);
	uint64_t start = proto::from_le64(req.start), end = proto::from_le64(req.end);
	uint32_t pid = proto::from_le32(req.pid), flags = proto::from_le32(req.flags);
	auto answer = [&](int status) {
		auto m = proto::make<cfs_lock_ev_plock>(CFS_LOCK_EV_PLOCK, seq);
		m.lockspace_id = proto::to_le32(ls_id);
		m.status = proto::to_le32(static_cast<uint32_t>(status));
		m.number = proto::to_le64(number);
		send(c, &m, sizeof(m));
	};
	auto it = c->joined.find(ls_id);
	if (it == c->joined.end())
		return command == CFS_PLOCK_CANCEL ? void() : answer(-ENOENT);
	auto [ls, mount] = it->second;
	auto mit = ls->mounts_.find(mount);
	// Once its leave is queued the mount's locks are as good as gone, and an answer
	// applied after the leave would reach nobody: answer now.
	bool leaving = mit == ls->mounts_.end() || mit->second.leaving;
	if (flags & ~(CFS_PLF_WRITE | CFS_PLF_WAIT))
		return command == CFS_PLOCK_CANCEL ? void() : answer(-EINVAL);
	wire::Writer w;
	switch (command) {
	case CFS_PLOCK_GET: {
		if (!PlockTable::valid_range(start, end))
			return answer(-EINVAL);
		auto found = ls->plock_get(number, mount, owner, start, end, flags & CFS_PLF_WRITE);
		auto m = proto::make<cfs_lock_ev_plock>(CFS_LOCK_EV_PLOCK, seq);
		m.lockspace_id = proto::to_le32(ls_id);
		m.number = proto::to_le64(number);
		if (found) {
			m.flags = proto::to_le32(CFS_PLF_FOUND | (found->write ? CFS_PLF_WRITE : 0));
			m.start = proto::to_le64(found->start);
			m.end = proto::to_le64(found->end);
			m.pid = proto::to_le32(found->pid);
			m.node_id = proto::to_le32(found->owner.mount.node);
		}
		return send(c, &m, sizeof(m));
	}
	case CFS_PLOCK_LOCK:
		if (leaving || !quorate())
			return answer(-ENOLCK);
		w.u8(static_cast<uint8_t>(Op::PlockLock));
		w.u64(mount);
		w.u32(seq);
		w.u64(number);
		w.u64(owner);
		w.u32(pid);
		w.u64(start);
		w.u64(end);
		w.u32(flags);
		break;
	case CFS_PLOCK_UNLOCK:
		// Works inquorate too: it only ever releases.
		if (leaving)
			return answer(PlockTable::valid_range(start, end) ? 0 : -EINVAL);
		w.u8(static_cast<uint8_t>(Op::PlockUnlock));
		w.u64(mount);
		w.u32(seq);
		w.u64(number);
		w.u64(owner);
		w.u64(start);
		w.u64(end);
		break;
	case CFS_PLOCK_CANCEL:
		if (leaving)
			return;
		w.u8(static_cast<uint8_t>(Op::PlockCancel));
		w.u64(mount);
		w.u32(proto::from_le32(req.cancel_seq));
		break;
	default:
		return answer(-EINVAL);
	}
	ls->queue_op(w.take());
}

void Daemon::handle_join(Connection *c, const std::vector<uint8_t> &msg)
{
	uint32_t seq = proto::from_le32(proto::as<cfs_lock_header>(msg)->seq);
	const auto *req = proto::as<cfs_lock_req_join>(msg);
	std::string name(req->lockspace, strnlen(req->lockspace, sizeof(req->lockspace)));
	auto fail = [&](int status) {
		auto m = proto::make<cfs_lock_ev_joined>(CFS_LOCK_EV_JOINED, seq);
		m.status = proto::to_le32(static_cast<uint32_t>(status));
		send(c, &m, sizeof(m));
	};
	bool printable = !name.empty();
	for (char ch : name)
		printable &= ch > ' ' && ch < 0x7f;
	uint32_t journals = proto::from_le32(req->journal_count);
	if (!printable || journals > 65536)
		return fail(-EINVAL);
	if (!quorate())
		return fail(-ENOLCK);
	// A filesystem's lock table is "cluster:fsname": it may only be mounted in that cluster.
	if (auto colon = name.find(':'); colon != std::string::npos) {
		std::string ours = corosync_cluster_name();
		if (!ours.empty() && name.compare(0, colon, ours) != 0) {
			log_msg("refusing to join lockspace %s: its cluster name \"%s\" is not corosync's cluster_name \"%s\"",
				name.c_str(), name.substr(0, colon).c_str(), ours.c_str());
			return fail(-EXDEV);
		}
	}
	if (!membership_.ready() || !membership_.pending().empty()) {
		// Founding or joining now could forget locks of a dead node: wait for its
		// fencing (or for the lockd group's state, which says whether one is pending).
		log_msg("lockspace %s: join waits for %s", name.c_str(),
			!membership_.ready() ? "the lockd group's state" : "fencing of a dead node");
		deferred_joins_.push_back(DeferredJoin{c, msg});
		return;
	}
	auto it = lockspaces_.find(name);
	if (it == lockspaces_.end()) {
		auto ls = std::make_unique<Lockspace>(*this, name);
		std::string error;
		membership_.announce_lockspace(name, true, false);
		if (!ls->start(&error)) {
			membership_.announce_lockspace(name, false, false);
			log_msg("%s", error.c_str());
			return fail(-EIO);
		}
		it = lockspaces_.emplace(name, std::move(ls)).first;
	}
	Lockspace *ls = it->second.get();
	uint64_t mount = next_local_id();
	uint32_t ls_id = c->next_lockspace_id++;
	LocalMount lm;
	lm.conn = c;
	lm.lockspace_id = ls_id;
	lm.join_seq = seq;
	ls->mounts_[mount] = std::move(lm);
	c->joined[ls_id] = {ls, mount};
	wire::Writer w;
	w.u8(static_cast<uint8_t>(Op::Join));
	w.u64(mount);
	w.u32(journals);
	w.u64(next_local_id());
	ls->queue_op(w.take());
}

void Daemon::run_deferred_joins()
{
	if (deferred_joins_.empty() || !membership_.ready() || !membership_.pending().empty())
		return;
	auto joins = std::move(deferred_joins_);
	deferred_joins_.clear();
	for (auto &j : joins)
		if (connection_alive(j.conn) && !j.conn->closing)
			handle_join(j.conn, j.msg);
}

void Daemon::handle(Connection *c, const std::vector<uint8_t> &msg)
{
	uint16_t type = proto::type_of(msg);
	uint32_t seq = proto::from_le32(proto::as<cfs_lock_header>(msg)->seq);
	auto reply = [&](int status) {
		auto m = proto::make<cfs_lock_ev_reply>(CFS_LOCK_EV_REPLY, seq);
		m.status = proto::to_le32(static_cast<uint32_t>(status));
		send(c, &m, sizeof(m));
	};
	switch (type) {
	case CFS_LOCK_REQ_HELLO: {
		const auto *req = proto::as<cfs_lock_hello>(msg);
		uint16_t lo = proto::from_le16(req->revision_min), hi = proto::from_le16(req->revision_max);
		auto m = proto::make<cfs_lock_hello>(CFS_LOCK_EV_HELLO, seq);
		bool meet = lo <= CFS_LOCKPROTO_REVISION_MAX && hi >= CFS_LOCKPROTO_REVISION_MIN;
		m.status = proto::to_le32(static_cast<uint32_t>(meet ? 0 : -EPROTONOSUPPORT));
		m.revision_min = proto::to_le16(meet ? std::min<uint16_t>(hi, CFS_LOCKPROTO_REVISION_MAX) : CFS_LOCKPROTO_REVISION_MIN);
		m.revision_max = proto::to_le16(meet ? std::min<uint16_t>(hi, CFS_LOCKPROTO_REVISION_MAX) : CFS_LOCKPROTO_REVISION_MAX);
		if (!meet)
			log_msg("%s speaks lock protocol revisions %u-%u, this lockd %u-%u: it cannot mount through us",
				c->device ? "the kernel module" : "a client", lo, hi, CFS_LOCKPROTO_REVISION_MIN,
				CFS_LOCKPROTO_REVISION_MAX);
		send(c, &m, sizeof(m));
		return;
	}
	case CFS_LOCK_REQ_JOIN:
		return handle_join(c, msg);
	case CFS_LOCK_REQ_LEAVE:
	case CFS_LOCK_REQ_WITHDRAWN: {
		uint32_t ls_id = proto::from_le32(proto::as<cfs_lock_req_leave>(msg)->lockspace_id);
		auto it = c->joined.find(ls_id);
		if (it == c->joined.end())
			return reply(-ENOENT);
		auto [ls, mount] = it->second;
		auto mit = ls->mounts_.find(mount);
		if (mit == ls->mounts_.end() || mit->second.leaving)
			return reply(-EBUSY);
		mit->second.leaving = true;
		mit->second.leave_seq = seq;
		wire::Writer w;
		w.u8(static_cast<uint8_t>(type == CFS_LOCK_REQ_WITHDRAWN ? Op::Withdrawn : Op::Leave));
		w.u64(mount);
		ls->queue_op(w.take());
		return;
	}
	case CFS_LOCK_REQ_LOCK:
	case CFS_LOCK_REQ_CONVERT:
	case CFS_LOCK_REQ_UNLOCK:
	case CFS_LOCK_REQ_CANCEL: {
		const auto *req = proto::as<cfs_lock_req_lock>(msg);
		uint32_t ls_id = proto::from_le32(req->lockspace_id);
		uint64_t client_id = proto::from_le64(req->lock_id);
		uint32_t mode = proto::from_le32(req->mode);
		uint32_t flags = proto::from_le32(req->flags);
		auto it = c->joined.find(ls_id);
		if (it == c->joined.end())
			return complete(c, seq, ls_id, client_id, -ENOENT, CFS_LOCK_IV);
		auto [ls, mount] = it->second;
		if (flags & ~(CFS_LKF_NOQUEUE | CFS_LKF_VALBLK))
			return complete(c, seq, ls_id, client_id, -EINVAL, CFS_LOCK_IV);
		auto key = std::make_pair(ls_id, client_id);
		auto lit = c->client_locks.find(key);
		LockOp op;
		op.mount = MountId{node_id(), mount};
		op.flags = flags;
		if (type == CFS_LOCK_REQ_LOCK) {
			uint32_t len = proto::from_le32(req->name_len);
			if (lit != c->client_locks.end())
				return complete(c, seq, ls_id, client_id, -EEXIST, CFS_LOCK_IV);
			if (len == 0 || len > CFS_RESOURCE_NAME_MAX || mode >= CFS_LOCK_MODE_COUNT)
				return complete(c, seq, ls_id, client_id, -EINVAL, CFS_LOCK_IV);
			if (!quorate())
				return complete(c, seq, ls_id, client_id, -ENOLCK, CFS_LOCK_IV);
			uint64_t local = next_local_id();
			op.kind = LockOp::Kind::Request;
			op.id = LockId{node_id(), local};
			op.resource.assign(reinterpret_cast<const char *>(req->name), len);
			op.mode = static_cast<Mode>(mode);
			c->client_locks[key] = local;
			ls->locks_[local] = LocalLock{c, ls_id, client_id, seq, op.resource};
		} else {
			if (lit == c->client_locks.end()) {
				if (type == CFS_LOCK_REQ_CANCEL)
					return;
				return complete(c, seq, ls_id, client_id, -ENOENT, CFS_LOCK_IV);
			}
			uint64_t local = lit->second;
			auto ll = ls->locks_.find(local);
			if (ll != ls->locks_.end() && type != CFS_LOCK_REQ_CANCEL)
				ll->second.seq = seq;
			if (type == CFS_LOCK_REQ_CONVERT && mode >= CFS_LOCK_MODE_COUNT)
				return complete(c, seq, ls_id, client_id, -EINVAL, CFS_LOCK_IV);
			op.kind = type == CFS_LOCK_REQ_CONVERT  ? LockOp::Kind::Convert
				  : type == CFS_LOCK_REQ_UNLOCK ? LockOp::Kind::Unlock
								: LockOp::Kind::Cancel;
			op.id = LockId{node_id(), local};
			if (op.kind == LockOp::Kind::Convert)
				op.mode = static_cast<Mode>(mode);
			if (op.kind == LockOp::Kind::Cancel)
				op.flags = 0;
			else
				memcpy(op.lvb.data(), req->lvb, CFS_LVB_SIZE);
		}
		ls->submit(std::move(op));
		return;
	}
	case CFS_LOCK_REQ_RECOVERED: {
		const auto *req = proto::as<cfs_lock_req_recovered>(msg);
		auto it = c->joined.find(proto::from_le32(req->lockspace_id));
		if (it == c->joined.end())
			return reply(-ENOENT);
		auto [ls, mount] = it->second;
		uint32_t journal = proto::from_le32(req->journal);
		auto mit = ls->mounts_.find(mount);
		if (mit != ls->mounts_.end())
			mit->second.recovered_seq[journal] = seq;
		wire::Writer w;
		w.u8(static_cast<uint8_t>(Op::Recovered));
		w.u64(mount);
		w.u32(journal);
		ls->queue_op(w.take());
		return; // REPLY when applied: -EINVAL if this mount was not assigned the journal
	}
	case CFS_LOCK_REQ_PLOCK:
		return handle_plock(c, *proto::as<cfs_lock_req_plock>(msg));
	case CFS_LOCK_REQ_ADMIN:
		return handle_admin(c, *proto::as<cfs_lock_req_admin>(msg));
	default: {
		std::string error = "unexpected message type " + std::to_string(type) + " from a client";
		log_msg("%s", error.c_str());
		c->closing = true;
	}
	}
}

void Daemon::read_client(Connection *c)
{
	uint8_t buf[65536];
	for (;;) {
		ssize_t n = c->device ? ::read(c->fd, buf, sizeof(buf)) : recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			c->closing = true;
			return;
		}
		c->framer.append(buf, n);
	}
	std::string error;
	while (auto msg = c->framer.next(&error))
		handle(c, *msg);
	if (!error.empty()) {
		log_msg("dropping a client: %s", error.c_str());
		c->closing = true;
	}
}

// A client that goes away leaves its lockspaces: its locks are released.
void Daemon::drop_connection(Connection *c)
{
	for (auto &[ls_id, pair] : c->joined) {
		auto [ls, mount] = pair;
		auto mit = ls->mounts_.find(mount);
		if (mit != ls->mounts_.end()) {
			mit->second.conn = nullptr;
			if (!mit->second.leaving && c->device) {
				// The kernel withdraws the mount, but writes it had in flight may still
				// land, and its journal may hold what its locks cover: neither a release
				// nor a hand-over is safe. Its locks stay held until this node is fenced
				// (stop or restart this lockd: it is then a dead member).
				log_msg("lockspace %s: the kernel's connection closed under a mount: its locks stay held "
					"until this node is fenced; restart clusterfs_lockd to have it fenced",
					ls->name().c_str());
			} else if (!mit->second.leaving) {
				mit->second.leaving = true;
				wire::Writer w;
				w.u8(static_cast<uint8_t>(Op::Leave));
				w.u64(mount);
				ls->queue_op(w.take());
			}
		}
		for (auto &[id, ll] : ls->locks_)
			if (ll.conn == c)
				ll.conn = nullptr;
	}
	for (auto it = deferred_joins_.begin(); it != deferred_joins_.end();)
		it = it->conn == c ? deferred_joins_.erase(it) : std::next(it);
	close(c->fd);
	for (auto it = conns_.begin(); it != conns_.end(); ++it)
		if (it->get() == c) {
			conns_.erase(it);
			break;
		}
}

// The kernel module's device: opened whenever it exists and nobody serves it yet, so
// that lockd may start before `modprobe clusterfs` or survive a module reload.
void Daemon::open_kernel_device()
{
	if (config_.kernel_device.empty())
		return;
	for (auto &c : conns_)
		if (c->device)
			return;
	int fd = ::open(config_.kernel_device.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENODEV && errno != ENXIO && errno != device_errno_) {
			log_msg("cannot open %s: %s%s", config_.kernel_device.c_str(), strerror(errno),
				errno == EBUSY ? " (another clusterfs_lockd serves it)" : "");
		}
		device_errno_ = errno;
		return;
	}
	device_errno_ = 0;
	log_msg("serving the kernel module through %s", config_.kernel_device.c_str());
	auto c = std::make_unique<Connection>();
	c->fd = fd;
	c->device = true;
	conns_.push_back(std::move(c));
}

void Daemon::reap_children()
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		membership_.child_exited(pid, status);
	}
}

void Daemon::withdraw_clients(uint32_t reason)
{
	for (auto &c : conns_) {
		auto m = proto::make<cfs_lock_ev_withdraw>(CFS_LOCK_EV_WITHDRAW, 0);
		m.lockspace_id = proto::to_le32(CFS_LOCKSPACE_ALL);
		m.reason = proto::to_le32(reason);
		// Blocking write: this is the last thing we tell them.
		int flags = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
		if (!c->out.empty())
			write_connection(c.get(), c->out.data(), c->out.size(), true);
		write_connection(c.get(), &m, sizeof(m), true);
	}
}

// Quorum lost: the quorate side (if any) will fence this node and replay its journals,
// so its mounts stop writing now rather than when the fence lands (docs/kernel.md,
// "Errors and withdraw"). Userspace clients keep their locks: grants stop, as in a fenced-off DLM.
void Daemon::withdraw_kernel_mounts()
{
	for (auto &c : conns_) {
		if (!c->device)
			continue;
		log_msg("quorum lost: telling the kernel's mounts to withdraw");
		auto m = proto::make<cfs_lock_ev_withdraw>(CFS_LOCK_EV_WITHDRAW, 0);
		m.lockspace_id = proto::to_le32(CFS_LOCKSPACE_ALL);
		m.reason = proto::to_le32(CFS_WITHDRAW_INQUORATE);
		send(c.get(), &m, sizeof(m));
	}
}

// The surviving side declared us dead and will fence this node: whatever we hold is
// already orphaned there. Clients withdraw; exiting leaves every group.
void Daemon::refused_by_cluster()
{
	withdraw_clients(CFS_WITHDRAW_REFUSED);
	unlink(config_.socket_path.c_str());
	exit(1);
}

// Leaves lockspaces nobody here uses any more (or that refused us). A lockspace whose
// table still holds a dead node's locks, a pending fence or a journal awaiting replay is
// kept while we are... unless we are stopping. Returns whether any lockspace remains.
bool Daemon::leave_idle_lockspaces(bool stopping)
{
	for (auto it = lockspaces_.begin(); it != lockspaces_.end();) {
		Lockspace *ls = it->second.get();
		bool idle = ls->empty_of_local_mounts() && !ls->has_pending_output();
		if (!idle)
			ls->idle_since = 0;
		else if (ls->idle_since == 0)
			ls->idle_since = now_seconds();
		// Lingering in the group keeps the table warm for the next mount and avoids
		// leaving while a joiner may still need our snapshot.
		bool expired = idle && (stopping || now_seconds() - ls->idle_since >= config_.lockspace_linger_seconds);
		// Dead state must outlive its last holders: we stay even when unused, so the next
		// joiner inherits the orphaned locks, pending fences and journal recoveries.
		if (expired && ls->holds_dead_state() && !stopping)
			expired = false;
		if (expired || ls->refused()) {
			bool used = false;
			for (auto &c : conns_)
				for (auto &[id, p] : c->joined)
					used |= p.first == ls;
			if (!used) {
				log_msg("lockspace %s: no local users, leaving", it->first.c_str());
				membership_.announce_lockspace(it->first, false, !ls->refused() && ls->last_holder_of_dead_state());
				it = lockspaces_.erase(it);
				continue;
			}
		}
		++it;
	}
	return !lockspaces_.empty();
}

int Daemon::run()
{
	std::string error;
	// The socket first: a second daemon on this node must fail before it joins the lockd
	// group, whose members would take its exit for this node's death.
	if (!setup_quorum(&error) || !check_crypto(&error) || !setup_socket(&error) ||
	    !membership_.start(&error)) {
		log_msg("%s", error.c_str());
		return 1;
	}
	two_node_ = corosync_two_node();
	log_msg("node %u serving %s (%s%s)", node_id_, config_.socket_path.c_str(),
		config_.fence_command.empty() ? "no fence_command: fencing waits for fence-ack"
					      : ("fence_command " + config_.fence_command[0]).c_str(),
		two_node_ ? "; two_node: grants wait for the fence race after a split" : "");
	sd_notify(0, "READY=1"); // systemd Type=notify; a no-op outside systemd
	struct sigaction sa{};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGCHLD, &sa, nullptr);
	signal(SIGPIPE, SIG_IGN);

	while (!g_stop) {
		open_kernel_device();
		// Drain the lockd group before any lockspace judges fencing state: corosync
		// queues a death there before it queues any later event of a lockspace.
		if (!membership_.dispatch())
			fatal_corosync("CPG dispatch (lockd group)");
		membership_.tick();
		membership_.flush();
		run_deferred_joins();
		for (auto &[name, ls] : lockspaces_) {
			ls->tick();
			// What we announce in the lockd group (joining a lockspace) goes first.
			if (!membership_.has_pending_output())
				ls->flush();
		}
		membership_.flush();
		std::vector<pollfd> fds;
		fds.push_back({listen_fd_, POLLIN, 0});
		fds.push_back({quorum_fd_, POLLIN, 0});
		fds.push_back({membership_.fd(), POLLIN, 0});
		std::vector<Lockspace *> ls_order;
		bool pending = membership_.has_pending_output();
		for (auto &[name, ls] : lockspaces_) {
			fds.push_back({ls->fd(), POLLIN, 0});
			ls_order.push_back(ls.get());
			pending |= ls->has_pending_output();
		}
		std::vector<Connection *> conn_order;
		for (auto &c : conns_) {
			fds.push_back({c->fd, static_cast<short>(POLLIN | (c->out.empty() ? 0 : POLLOUT)), 0});
			conn_order.push_back(c.get());
		}
		// Short timeouts only while something waits on time: a multicast to retry, a
		// fence agent to run again, quorum to propose.
		int timeout = pending ? 2 : 200;
		int r = poll(fds.data(), fds.size(), timeout);
		int poll_errno = errno;
		reap_children();
		if (r < 0) {
			if (poll_errno == EINTR)
				continue;
			log_msg("poll: %s", strerror(poll_errno));
			return 1;
		}
		if (fds[1].revents) {
			cs_error_t err = quorum_dispatch(quorum_, CS_DISPATCH_ALL);
			if (err != CS_OK && err != CS_ERR_TRY_AGAIN)
				fatal_corosync("quorum dispatch");
		}
		// The lockd group first: a death it reports is then known before a lockspace
		// acts on the same ring change.
		if (fds[2].revents && !membership_.dispatch())
			fatal_corosync("CPG dispatch (lockd group)");
		for (size_t i = 0; i < ls_order.size(); i++)
			if (fds[3 + i].revents && !ls_order[i]->dispatch())
				fatal_corosync("CPG dispatch");
		size_t base = 3 + ls_order.size();
		for (size_t i = 0; i < conn_order.size(); i++) {
			Connection *c = conn_order[i];
			short ev = fds[base + i].revents;
			if (ev & (POLLIN | POLLHUP | POLLERR))
				read_client(c);
			if ((ev & POLLOUT) && !c->out.empty()) {
				ssize_t n = write_connection(c, c->out.data(), c->out.size());
				if (n > 0)
					c->out.erase(c->out.begin(), c->out.begin() + n);
				else if (n < 0 && errno != EAGAIN)
					c->closing = true;
			}
		}
		if (fds[0].revents)
			accept_client();
		for (size_t i = 0; i < conn_order.size(); i++)
			if (conn_order[i]->closing)
				drop_connection(conn_order[i]);
		leave_idle_lockspaces(false);
	}
	log_msg("stopping");
	withdraw_clients(CFS_WITHDRAW_SHUTDOWN);
	close(listen_fd_);
	unlink(config_.socket_path.c_str());
	// With no local mount in any lockspace nothing of ours can need fencing: say so in
	// the lockd group before leaving it, so that nobody fences us. Otherwise the leave
	// is unclean and the survivors fence this node.
	bool mounts = false;
	for (auto &[name, ls] : lockspaces_)
		mounts |= !ls->empty_of_local_mounts();
	if (mounts || !membership_.ready()) {
		log_msg("leaving with lockspaces in use: the other nodes will fence this node");
		return 0;
	}
	for (auto &c : conns_)
		c->joined.clear();
	leave_idle_lockspaces(true);
	membership_.clean_leave();
	double deadline = now_seconds() + 5;
	while (!membership_.clean_leave_done() && now_seconds() < deadline) {
		membership_.flush();
		pollfd pfd{membership_.fd(), POLLIN, 0};
		if (poll(&pfd, 1, 100) > 0 && !membership_.dispatch())
			break;
	}
	log_msg(membership_.clean_leave_done() ? "left the lockd group cleanly"
					       : "clean leave not confirmed: the other nodes may fence this node");
	return 0;
}

} // namespace clusterfs::lockd
