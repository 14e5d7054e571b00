// The seam between a lockspace's replicated table and the group communication under it.
// The replicated design needs exactly this from corosync CPG: a group per lockspace,
// agreed-order multicast that includes the sender, and membership changes delivered at
// a point of that order (extended virtual synchrony). A test double or another group
// system can implement it; a mastered design would keep it for membership and recovery
// only and send lock requests point to point.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace clusterfs::lockd {

class GroupTransport {
public:
	struct Member {
		uint32_t node;
		uint32_t pid;
		uint32_t reason; // why it left (transport-specific code, for logs)
	};
	class Listener {
	public:
		virtual ~Listener() = default;
		// A message in agreed order; our own messages come back too (the commit point).
		virtual void on_deliver(uint32_t sender, const uint8_t *data, size_t len) = 0;
		// Membership changed at this point of the order.
		virtual void on_membership(const std::vector<Member> &members, const std::vector<Member> &left,
					   const std::vector<Member> &joined) = 0;
		// The underlying ring changed (for matching quorum notifications).
		virtual void on_ring(uint64_t ring_seq) = 0;
	};
	enum class SendResult { Sent, Retry, Lost };

	virtual ~GroupTransport() = default;
	virtual bool join(std::string *error) = 0;
	virtual int fd() const = 0;
	// Runs the callbacks for whatever arrived. False: the transport is gone for good.
	virtual bool dispatch() = 0;
	// Retry: the transport is congested or reconfiguring; call again later with the
	// same message. Lost: the transport is gone.
	virtual SendResult multicast(const std::vector<uint8_t> &msg) = 0;
};

std::unique_ptr<GroupTransport> make_cpg_transport(const std::string &group, GroupTransport::Listener &listener);

} // namespace clusterfs::lockd
