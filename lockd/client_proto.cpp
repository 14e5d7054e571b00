#include "client_proto.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace clusterfs::lockd::proto {

size_t message_size(uint16_t type)
{
	switch (type) {
	case CFS_LOCK_REQ_JOIN: return sizeof(cfs_lock_req_join);
	case CFS_LOCK_REQ_LEAVE:
	case CFS_LOCK_REQ_WITHDRAWN: return sizeof(cfs_lock_req_leave);
	case CFS_LOCK_REQ_LOCK:
	case CFS_LOCK_REQ_CONVERT:
	case CFS_LOCK_REQ_UNLOCK:
	case CFS_LOCK_REQ_CANCEL: return sizeof(cfs_lock_req_lock);
	case CFS_LOCK_REQ_RECOVERED: return sizeof(cfs_lock_req_recovered);
	case CFS_LOCK_REQ_ADMIN: return sizeof(cfs_lock_req_admin);
	case CFS_LOCK_REQ_PLOCK: return sizeof(cfs_lock_req_plock);
	case CFS_LOCK_EV_PLOCK: return sizeof(cfs_lock_ev_plock);
	case CFS_LOCK_REQ_HELLO:
	case CFS_LOCK_EV_HELLO: return sizeof(cfs_lock_hello);
	case CFS_LOCK_EV_JOINED: return sizeof(cfs_lock_ev_joined);
	case CFS_LOCK_EV_COMPLETE: return sizeof(cfs_lock_ev_complete);
	case CFS_LOCK_EV_BAST: return sizeof(cfs_lock_ev_bast);
	case CFS_LOCK_EV_RECOVER: return sizeof(cfs_lock_ev_recover);
	case CFS_LOCK_EV_WITHDRAW: return sizeof(cfs_lock_ev_withdraw);
	case CFS_LOCK_EV_REPLY: return sizeof(cfs_lock_ev_reply);
	case CFS_LOCK_EV_ADMIN_REPLY: return sizeof(cfs_lock_ev_admin_reply);
	default: return 0;
	}
}

bool check_header(const cfs_lock_header &h, uint32_t *length_out, std::string *error)
{
	if (from_le32(h.magic) != CFS_LOCKPROTO_MAGIC) {
		*error = "bad magic";
		return false;
	}
	if (from_le16(h.version) != CFS_LOCKPROTO_VERSION) {
		*error = "protocol version " + std::to_string(from_le16(h.version)) + " (this side speaks " +
			 std::to_string(CFS_LOCKPROTO_VERSION) + ")";
		return false;
	}
	uint16_t type = from_le16(h.type);
	uint32_t length = from_le32(h.length);
	size_t size = message_size(type);
	if (size == 0) {
		*error = "unknown message type " + std::to_string(type);
		return false;
	}
	bool variable = type == CFS_LOCK_EV_ADMIN_REPLY;
	if (variable ? (length < size || length > size + CFS_ADMIN_TEXT_MAX) : length != size) {
		*error = "message type " + std::to_string(type) + " has length " + std::to_string(length) +
			 ", expected " + std::to_string(size);
		return false;
	}
	*length_out = length;
	return true;
}

void Framer::append(const void *p, size_t n)
{
	const auto *b = static_cast<const uint8_t *>(p);
	buf_.insert(buf_.end(), b, b + n);
}

std::optional<std::vector<uint8_t>> Framer::next(std::string *error)
{
	if (buf_.size() < sizeof(cfs_lock_header))
		return std::nullopt;
	cfs_lock_header h;
	memcpy(&h, buf_.data(), sizeof(h));
	uint32_t length;
	if (!check_header(h, &length, error))
		return std::nullopt;
	if (buf_.size() < length)
		return std::nullopt;
	std::vector<uint8_t> msg(buf_.begin(), buf_.begin() + length);
	buf_.erase(buf_.begin(), buf_.begin() + length);
	return msg;
}

Client::~Client()
{
	if (fd_ >= 0)
		close(fd_);
}

bool Client::connect(const std::string &path, std::string *error)
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path.size() >= sizeof(addr.sun_path)) {
		*error = "socket path too long: " + path;
		return false;
	}
	memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0) {
		*error = "cannot reach clusterfs_lockd at " + path + ": " + strerror(errno);
		return false;
	}
	return true;
}

bool Client::send(const void *msg, size_t len, std::string *error)
{
	const auto *p = static_cast<const uint8_t *>(msg);
	while (len) {
		ssize_t n = ::send(fd_, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error = std::string("sending to clusterfs_lockd: ") + strerror(errno);
			return false;
		}
		p += n;
		len -= n;
	}
	return true;
}

std::optional<std::vector<uint8_t>> Client::receive(int timeout_ms, std::string *error)
{
	using clock = std::chrono::steady_clock;
	auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
	for (;;) {
		error->clear();
		if (auto msg = framer_.next(error))
			return msg;
		if (!error->empty())
			return std::nullopt;
		int wait = -1;
		if (timeout_ms >= 0) {
			auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
			wait = left > 0 ? static_cast<int>(left) : 0;
		}
		pollfd pfd{fd_, POLLIN, 0};
		int r = poll(&pfd, 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			*error = "timed out";
			return std::nullopt;
		}
		uint8_t buf[65536];
		ssize_t n = recv(fd_, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error = n == 0 ? "clusterfs_lockd closed the connection"
					: std::string("reading from clusterfs_lockd: ") + strerror(errno);
			return std::nullopt;
		}
		framer_.append(buf, n);
	}
}

std::string default_socket_path()
{
	const char *env = getenv("CLUSTERFS_LOCKD_SOCKET");
	return env && *env ? env : CFS_LOCKD_SOCKET_PATH;
}

} // namespace clusterfs::lockd::proto
