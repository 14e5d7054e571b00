// Helpers for the client protocol of include/clusterfs/lockproto.h, shared by
// clusterfs_lockd, clusterfs_tool and the test client: building messages with their
// header, checking a received header, framing a byte stream into messages, and a small
// blocking client for the unix socket.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "clusterfs/lockproto.h"

namespace clusterfs::lockd::proto {

// (lib/endian.h shadows the libc header of that name, so no htole32 here.)
constexpr bool kLittle = std::endian::native == std::endian::little;
inline uint16_t to_le16(uint16_t v) { return kLittle ? v : __builtin_bswap16(v); }
inline uint32_t to_le32(uint32_t v) { return kLittle ? v : __builtin_bswap32(v); }
inline uint64_t to_le64(uint64_t v) { return kLittle ? v : __builtin_bswap64(v); }
inline uint16_t from_le16(uint16_t v) { return to_le16(v); }
inline uint32_t from_le32(uint32_t v) { return to_le32(v); }
inline uint64_t from_le64(uint64_t v) { return to_le64(v); }

// A zeroed message of type T with its header filled in.
template <class T>
T make(uint16_t type, uint32_t seq)
{
	T m;
	memset(&m, 0, sizeof(m));
	m.hdr.magic = to_le32(CFS_LOCKPROTO_MAGIC);
	m.hdr.version = to_le16(CFS_LOCKPROTO_VERSION);
	m.hdr.type = to_le16(type);
	m.hdr.length = to_le32(sizeof(T));
	m.hdr.seq = to_le32(seq);
	return m;
}

// Size of a message of `type`: fixed for all but ADMIN_REPLY (minimum given, variable).
// 0 for an unknown type.
size_t message_size(uint16_t type);

// Checks magic, version, type and length of a header; on failure returns false and says
// why in *error. `length_out` is the whole message's length.
bool check_header(const cfs_lock_header &h, uint32_t *length_out, std::string *error);

// Splits a byte stream into messages.
class Framer {
public:
	void append(const void *p, size_t n);
	// The next complete message, or nullopt if more bytes are needed. A malformed header
	// sets *error (the stream is then unusable).
	std::optional<std::vector<uint8_t>> next(std::string *error);

private:
	std::vector<uint8_t> buf_;
};

template <class T>
const T *as(const std::vector<uint8_t> &msg)
{
	return msg.size() >= sizeof(T) ? reinterpret_cast<const T *>(msg.data()) : nullptr;
}

inline uint16_t type_of(const std::vector<uint8_t> &msg)
{
	return from_le16(reinterpret_cast<const cfs_lock_header *>(msg.data())->type);
}

// Blocking client for tools and tests.
class Client {
public:
	Client() = default;
	Client(const Client &) = delete;
	Client &operator=(const Client &) = delete;
	~Client();
	// Connects to lockd's socket; false with a message naming the path on failure.
	bool connect(const std::string &path, std::string *error);
	bool send(const void *msg, size_t len, std::string *error);
	// Waits up to timeout_ms (-1: forever) for the next message. nullopt with *error set
	// on timeout ("timed out"), EOF ("lockd closed the connection") or a bad message.
	std::optional<std::vector<uint8_t>> receive(int timeout_ms, std::string *error);
	int fd() const { return fd_; }

private:
	int fd_ = -1;
	Framer framer_;
};

// Path of the socket: $CLUSTERFS_LOCKD_SOCKET if set, else the default.
std::string default_socket_path();

} // namespace clusterfs::lockd::proto
