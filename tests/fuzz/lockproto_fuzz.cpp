// libFuzzer target: the client protocol's stream decoder (lockd/client_proto.cpp), which
// lockd runs on every byte a client or the kernel's device sends it. The input is a
// byte stream cut into appends at points taken from its first bytes. Findings: a crash or
// sanitizer report, or a message handed out whose length differs from what its type
// allows (the handlers cast messages to their struct on that guarantee), or a decoder
// that keeps handing out messages after it reported the stream broken.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "client_proto.h"

using namespace clusterfs::lockd::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t chunk = 1 + (data[0] | data[1] << 8) % 512;
	data += 2;
	size -= 2;
	Framer framer;
	std::string error;
	size_t handed_out = 0;
	for (size_t off = 0; off < size && error.empty(); off += chunk) {
		framer.append(data + off, std::min(chunk, size - off));
		while (auto msg = framer.next(&error)) {
			if (msg->size() < sizeof(cfs_lock_header))
				abort();
			uint16_t type = type_of(*msg);
			size_t want = message_size(type);
			if (want == 0)
				abort();
			bool variable = type == CFS_LOCK_EV_ADMIN_REPLY;
			if (variable ? (msg->size() < want || msg->size() > want + CFS_ADMIN_TEXT_MAX)
				     : msg->size() != want)
				abort();
			handed_out += msg->size();
			if (handed_out > size)
				abort();
		}
	}
	if (!error.empty() && framer.next(&error).has_value())
		abort();
	return 0;
}
