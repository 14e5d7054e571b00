// The client protocol's byte layout and framing (include/clusterfs/lockproto.h,
// lockd/client_proto.*).
#include <gtest/gtest.h>

#include <cstddef>

#include "client_proto.h"

using namespace clusterfs::lockd::proto;

TEST(LockProto, FieldsSitAtFixedOffsets)
{
	EXPECT_EQ(offsetof(cfs_lock_header, type), 6u);
	EXPECT_EQ(offsetof(cfs_lock_header, seq), 12u);
	EXPECT_EQ(offsetof(cfs_lock_req_lock, lock_id), 24u);
	EXPECT_EQ(offsetof(cfs_lock_req_lock, name), 40u);
	EXPECT_EQ(offsetof(cfs_lock_req_lock, lvb), 104u);
	EXPECT_EQ(offsetof(cfs_lock_ev_complete, lvb), 40u);
	EXPECT_EQ(offsetof(cfs_lock_req_join, journal_count), 80u);
}

TEST(LockProto, HeaderIsLittleEndianOnTheWire)
{
	auto m = make<cfs_lock_req_lock>(CFS_LOCK_REQ_LOCK, 0x01020304);
	m.lock_id = to_le64(0x1122334455667788ull);
	const auto *b = reinterpret_cast<const uint8_t *>(&m);
	EXPECT_EQ(b[0], 'C');
	EXPECT_EQ(b[1], 'L');
	EXPECT_EQ(b[2], 'C');
	EXPECT_EQ(b[3], 'K');
	EXPECT_EQ(b[4], CFS_LOCKPROTO_VERSION);
	EXPECT_EQ(b[6], CFS_LOCK_REQ_LOCK);
	EXPECT_EQ(b[8], sizeof(cfs_lock_req_lock));
	EXPECT_EQ(b[12], 0x04);
	EXPECT_EQ(b[15], 0x01);
	EXPECT_EQ(b[24], 0x88);
	EXPECT_EQ(b[31], 0x11);
}

TEST(LockProto, FramerSplitsAStreamAndRejectsBadHeaders)
{
	auto a = make<cfs_lock_ev_bast>(CFS_LOCK_EV_BAST, 0);
	auto c = make<cfs_lock_ev_reply>(CFS_LOCK_EV_REPLY, 9);
	std::vector<uint8_t> stream;
	stream.insert(stream.end(), reinterpret_cast<uint8_t *>(&a), reinterpret_cast<uint8_t *>(&a) + sizeof(a));
	stream.insert(stream.end(), reinterpret_cast<uint8_t *>(&c), reinterpret_cast<uint8_t *>(&c) + sizeof(c));
	Framer f;
	std::string err;
	f.append(stream.data(), 20); // a partial message yields nothing yet
	EXPECT_FALSE(f.next(&err).has_value());
	EXPECT_TRUE(err.empty());
	f.append(stream.data() + 20, stream.size() - 20);
	auto m1 = f.next(&err);
	auto m2 = f.next(&err);
	ASSERT_TRUE(m1 && m2);
	EXPECT_EQ(type_of(*m1), CFS_LOCK_EV_BAST);
	EXPECT_EQ(from_le32(as<cfs_lock_ev_reply>(*m2)->hdr.seq), 9u);

	auto bad = make<cfs_lock_ev_reply>(CFS_LOCK_EV_REPLY, 1);
	bad.hdr.length = to_le32(sizeof(bad) + 4);
	Framer g;
	g.append(&bad, sizeof(bad));
	EXPECT_FALSE(g.next(&err).has_value());
	EXPECT_NE(err.find("expected 24"), std::string::npos) << err;

	auto old = make<cfs_lock_ev_reply>(CFS_LOCK_EV_REPLY, 1);
	old.hdr.version = to_le16(99);
	Framer h;
	h.append(&old, sizeof(old));
	err.clear();
	EXPECT_FALSE(h.next(&err).has_value());
	EXPECT_NE(err.find("version 99"), std::string::npos) << err;
}

// The version handshake the kernel sends first on /dev/clusterfs_lock: same size both
// ways, fields where the kernel (kernel/lock_cluster.c) and lockd expect them.
TEST(LockProto, HelloIsFramedBothWays)
{
	EXPECT_EQ(sizeof(cfs_lock_hello), 32u);
	EXPECT_EQ(offsetof(cfs_lock_hello, status), 16u);
	EXPECT_EQ(offsetof(cfs_lock_hello, revision_min), 20u);
	EXPECT_EQ(offsetof(cfs_lock_hello, revision_max), 22u);
	EXPECT_EQ(offsetof(cfs_lock_hello, features), 24u);
	EXPECT_LE(CFS_LOCKPROTO_REVISION_MIN, CFS_LOCKPROTO_REVISION_MAX);
	for (uint16_t type : {uint16_t(CFS_LOCK_REQ_HELLO), uint16_t(CFS_LOCK_EV_HELLO)}) {
		auto m = make<cfs_lock_hello>(type, 3);
		m.revision_min = to_le16(1);
		m.revision_max = to_le16(4);
		Framer f;
		f.append(&m, sizeof(m));
		std::string err;
		auto got = f.next(&err);
		ASSERT_TRUE(got.has_value()) << err;
		EXPECT_EQ(got->size(), sizeof(cfs_lock_hello));
		EXPECT_EQ(from_le16(as<cfs_lock_hello>(*got)->revision_max), 4u);
	}
	auto short_hello = make<cfs_lock_hello>(CFS_LOCK_REQ_HELLO, 1);
	short_hello.hdr.length = to_le32(24);
	Framer g;
	g.append(&short_hello, sizeof(short_hello));
	std::string err;
	EXPECT_FALSE(g.next(&err).has_value());
	EXPECT_NE(err.find("expected 32"), std::string::npos) << err;
}

// POSIX lock messages (revision 3): the framer knows both sizes, and the fields sit
// where the kernel writes and reads them.
TEST(LockProto, PlockMessagesAreFramed)
{
	EXPECT_EQ(offsetof(cfs_lock_req_plock, number), 24u);
	EXPECT_EQ(offsetof(cfs_lock_req_plock, end), 48u);
	EXPECT_EQ(offsetof(cfs_lock_req_plock, cancel_seq), 64u);
	EXPECT_EQ(offsetof(cfs_lock_ev_plock, pid), 48u);
	EXPECT_EQ(offsetof(cfs_lock_ev_plock, flags), 56u);
	EXPECT_EQ(message_size(CFS_LOCK_REQ_PLOCK), sizeof(cfs_lock_req_plock));
	EXPECT_EQ(message_size(CFS_LOCK_EV_PLOCK), sizeof(cfs_lock_ev_plock));
	auto req = make<cfs_lock_req_plock>(CFS_LOCK_REQ_PLOCK, 7);
	req.end = to_le64(CFS_PLOCK_END_MAX);
	auto ev = make<cfs_lock_ev_plock>(CFS_LOCK_EV_PLOCK, 7);
	ev.status = to_le32(static_cast<uint32_t>(-11));
	Framer f;
	f.append(&req, sizeof(req));
	f.append(&ev, sizeof(ev));
	std::string err;
	auto m1 = f.next(&err);
	auto m2 = f.next(&err);
	ASSERT_TRUE(m1 && m2) << err;
	EXPECT_EQ(from_le64(as<cfs_lock_req_plock>(*m1)->end), CFS_PLOCK_END_MAX);
	EXPECT_EQ(static_cast<int32_t>(from_le32(as<cfs_lock_ev_plock>(*m2)->status)), -11);
	auto bad = make<cfs_lock_req_plock>(CFS_LOCK_REQ_PLOCK, 1);
	bad.hdr.length = to_le32(sizeof(bad) - 8);
	Framer g;
	g.append(&bad, sizeof(bad));
	EXPECT_FALSE(g.next(&err).has_value());
	EXPECT_NE(err.find("expected 72"), std::string::npos) << err;
}
