// lockd_test_client: a lock client for the integration tests and benchmarks.
//
//   lockd_test_client [-s SOCKET] script LOCKSPACE JOURNALS
//       Joins LOCKSPACE, then reads commands from stdin, one per line, and prints every
//       event from lockd on stdout, one line each, flushed (tests grep them):
//         lock ID RESOURCE MODE [noqueue] [valblk]    convert ID MODE [noqueue] [valblk] [lvb=TEXT]
//         unlock ID [valblk] [lvb=TEXT]               cancel ID
//         release-on-bast ID [lvb=TEXT]  (unlock ID with VALBLK when a bast for it arrives)
//         recovered JOURNAL                            leave
//         plock lock FILE START END r|w [wait] [owner=O] [pid=P]    (END: a number or eof)
//         plock unlock FILE START END [owner=O]        plock get FILE START END r|w [owner=O]
//         plock cancel SEQ                             (owner defaults to 1, pid to ours)
//       Events: joined status=S journal=J node=N | complete id=I status=S mode=M [lvb=TEXT] [lvb_invalid]
//               bast id=I mode=M | recover journal=J dead=N | withdraw reason=R | reply status=S
//               plock-sent seq=Q (a plock request went out with seq Q)
//               plock seq=Q status=S number=F [found=r|w start=A end=B pid=P node=N | found=none (GET)]
//       Exits 0 at end of input, 3 on withdraw, 4 if lockd goes away.
//   lockd_test_client [-s SOCKET] bench-acquire LOCKSPACE COUNT
//       Uncontended: COUNT first acquires of new resources (lock EX + unlock), then COUNT
//       re-acquires of one held lock (convert NL->EX->NL). Prints latency percentiles.
//   lockd_test_client [-s SOCKET] bench-pingpong LOCKSPACE RESOURCE COUNT
//       Run on two nodes at once: each takes RESOURCE EX, holds it until a bast, releases.
//       Prints request->grant latency percentiles (each grant is a full hand-off).
//   lockd_test_client [-s SOCKET] bench-throughput LOCKSPACE SECONDS DEPTH
//       Lock/unlock cycles on private resources with DEPTH in flight; prints ops/s.
//   lockd_test_client [-s SOCKET] bench-plock LOCKSPACE COUNT
//       COUNT POSIX write locks, each answered before the next, then their unlocks
//       (one file, disjoint bytes): latency percentiles of each (an F_SETLK's cost).
//   lockd_test_client [-s SOCKET] flood-admin - COUNT
//       A client that stops reading: sends COUNT cluster-state requests without reading a
//       reply, then waits up to 20 s for lockd to drop it. Exit 0 if it was dropped, 1 if
//       not (lockd kept queueing for it).
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "client_proto.h"
#include "lock_table.h"

using namespace clusterfs::lockd;
namespace proto = clusterfs::lockd::proto;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string &msg)
{
	fprintf(stderr, "lockd_test_client: %s\n", msg.c_str());
	exit(4);
}

const char *mode_str(uint32_t mode)
{
	return mode == CFS_LOCK_IV ? "IV" : mode_name(static_cast<Mode>(mode));
}

struct Session {
	proto::Client client;
	uint32_t ls_id = 0;
	uint32_t seq = 1;

	void send_msg(const void *m, size_t n)
	{
		std::string err;
		if (!client.send(m, n, &err))
			die(err);
	}
	std::vector<uint8_t> next(int timeout_ms = 30000)
	{
		std::string err;
		auto m = client.receive(timeout_ms, &err);
		if (!m)
			die(err);
		return *m;
	}
	void join(const std::string &path, const std::string &ls, uint32_t journals, bool print)
	{
		std::string err;
		if (!client.connect(path, &err))
			die(err);
		auto m = proto::make<cfs_lock_req_join>(CFS_LOCK_REQ_JOIN, seq++);
		if (ls.size() >= sizeof(m.lockspace))
			die("lockspace name too long");
		memcpy(m.lockspace, ls.data(), ls.size());
		m.journal_count = proto::to_le32(journals);
		send_msg(&m, sizeof(m));
		for (;;) {
			auto ev = next();
			if (proto::type_of(ev) != CFS_LOCK_EV_JOINED)
				continue;
			const auto *j = proto::as<cfs_lock_ev_joined>(ev);
			int status = static_cast<int32_t>(proto::from_le32(j->status));
			if (print)
				printf("joined status=%d journal=%u node=%u\n", status, proto::from_le32(j->journal_slot),
				       proto::from_le32(j->node_id));
			fflush(stdout);
			if (status)
				die("join failed: " + std::string(strerror(-status)));
			ls_id = proto::from_le32(j->lockspace_id);
			return;
		}
	}
	void request(uint16_t type, uint64_t id, const std::string &res, uint32_t mode, uint32_t flags,
		     const std::string &lvb = {})
	{
		auto m = proto::make<cfs_lock_req_lock>(type, seq++);
		m.lockspace_id = proto::to_le32(ls_id);
		m.lock_id = proto::to_le64(id);
		m.mode = proto::to_le32(mode);
		m.flags = proto::to_le32(flags);
		m.name_len = proto::to_le32(static_cast<uint32_t>(std::min(res.size(), sizeof(m.name))));
		memcpy(m.name, res.data(), std::min(res.size(), sizeof(m.name)));
		memcpy(m.lvb, lvb.data(), std::min(lvb.size(), sizeof(m.lvb)));
		send_msg(&m, sizeof(m));
	}
	// Waits for the completion of `id`, answering basts with `on_bast`.
	template <class F>
	const cfs_lock_ev_complete wait_complete(uint64_t id, F on_bast)
	{
		for (;;) {
			auto ev = next();
			uint16_t t = proto::type_of(ev);
			if (t == CFS_LOCK_EV_BAST)
				on_bast(*proto::as<cfs_lock_ev_bast>(ev));
			if (t == CFS_LOCK_EV_WITHDRAW)
				die("withdrawn");
			if (t == CFS_LOCK_EV_COMPLETE && proto::from_le64(proto::as<cfs_lock_ev_complete>(ev)->lock_id) == id)
				return *proto::as<cfs_lock_ev_complete>(ev);
		}
	}
};

uint32_t parse_mode_or_die(const std::string &s)
{
	auto m = parse_mode(s);
	if (!m)
		die("bad mode " + s);
	return static_cast<uint32_t>(*m);
}

uint64_t parse_offset(const std::string &s) { return s == "eof" ? CFS_PLOCK_END_MAX : std::stoull(s); }

// `plock ...` of the script: sends the request, returns its seq (0: bad command).
uint32_t send_plock(Session &s, const std::vector<std::string> &w)
{
	auto m = proto::make<cfs_lock_req_plock>(CFS_LOCK_REQ_PLOCK, s.seq);
	m.lockspace_id = proto::to_le32(s.ls_id);
	uint64_t owner = 1;
	uint32_t pid = static_cast<uint32_t>(getpid()), flags = 0;
	for (const auto &x : w) {
		if (x.rfind("owner=", 0) == 0)
			owner = std::stoull(x.substr(6));
		if (x.rfind("pid=", 0) == 0)
			pid = static_cast<uint32_t>(std::stoul(x.substr(4)));
		if (x == "wait")
			flags |= CFS_PLF_WAIT;
		if (x == "w")
			flags |= CFS_PLF_WRITE;
	}
	const std::string &cmd = w.size() > 1 ? w[1] : "";
	if (cmd == "cancel" && w.size() >= 3) {
		m.command = proto::to_le32(CFS_PLOCK_CANCEL);
		m.cancel_seq = proto::to_le32(static_cast<uint32_t>(std::stoul(w[2])));
	} else if ((cmd == "lock" || cmd == "get") && w.size() >= 6) {
		m.command = proto::to_le32(cmd == "lock" ? CFS_PLOCK_LOCK : CFS_PLOCK_GET);
	} else if (cmd == "unlock" && w.size() >= 5) {
		m.command = proto::to_le32(CFS_PLOCK_UNLOCK);
		flags = 0;
	} else {
		return 0;
	}
	if (cmd != "cancel") {
		m.number = proto::to_le64(std::stoull(w[2]));
		m.start = proto::to_le64(parse_offset(w[3]));
		m.end = proto::to_le64(parse_offset(w[4]));
		m.owner = proto::to_le64(owner);
		m.pid = proto::to_le32(pid);
		m.flags = proto::to_le32(flags);
	}
	s.send_msg(&m, sizeof(m));
	return s.seq++;
}

int run_script(Session &s)
{
	std::map<uint64_t, std::string> release_on_bast; // id -> lvb text
	std::set<uint32_t> plock_gets;                   // seqs of GETs not answered yet
	std::string pending_line;
	bool input_open = true;
	for (;;) {
		pollfd fds[2] = {{s.client.fd(), POLLIN, 0}, {input_open ? 0 : -1, POLLIN, 0}};
		// Drain what the framer already holds before blocking.
		std::string err;
		for (;;) {
			auto ev = s.client.receive(0, &err);
			if (!ev)
				break;
			uint16_t t = proto::type_of(*ev);
			switch (t) {
			case CFS_LOCK_EV_COMPLETE: {
				const auto *c = proto::as<cfs_lock_ev_complete>(*ev);
				uint64_t id = proto::from_le64(c->lock_id);
				uint32_t fl = proto::from_le32(c->flags);
				printf("complete id=%llu status=%d mode=%s", static_cast<unsigned long long>(id),
				       static_cast<int32_t>(proto::from_le32(c->status)), mode_str(proto::from_le32(c->mode)));
				if (fl & CFS_LKE_LVB_PRESENT)
					printf(" lvb=%s", std::string(reinterpret_cast<const char *>(c->lvb),
								      strnlen(reinterpret_cast<const char *>(c->lvb), CFS_LVB_SIZE))
								  .c_str());
				if (fl & CFS_LKE_LVB_INVALID)
					printf(" lvb_invalid");
				printf("\n");
				break;
			}
			case CFS_LOCK_EV_BAST: {
				const auto *b = proto::as<cfs_lock_ev_bast>(*ev);
				uint64_t id = proto::from_le64(b->lock_id);
				printf("bast id=%llu mode=%s\n", static_cast<unsigned long long>(id),
				       mode_str(proto::from_le32(b->mode)));
				auto it = release_on_bast.find(id);
				if (it != release_on_bast.end()) {
					s.request(CFS_LOCK_REQ_UNLOCK, id, "", 0, CFS_LKF_VALBLK, it->second);
					release_on_bast.erase(it);
				}
				break;
			}
			case CFS_LOCK_EV_RECOVER: {
				const auto *r = proto::as<cfs_lock_ev_recover>(*ev);
				printf("recover journal=%u dead=%u\n", proto::from_le32(r->journal),
				       proto::from_le32(r->dead_node_id));
				break;
			}
			case CFS_LOCK_EV_WITHDRAW:
				printf("withdraw reason=%u\n", proto::from_le32(proto::as<cfs_lock_ev_withdraw>(*ev)->reason));
				fflush(stdout);
				return 3;
			case CFS_LOCK_EV_PLOCK: {
				const auto *p = proto::as<cfs_lock_ev_plock>(*ev);
				uint32_t q = proto::from_le32(p->hdr.seq), fl = proto::from_le32(p->flags);
				uint64_t end = proto::from_le64(p->end);
				printf("plock seq=%u status=%d number=%llu", q, static_cast<int32_t>(proto::from_le32(p->status)),
				       static_cast<unsigned long long>(proto::from_le64(p->number)));
				if (fl & CFS_PLF_FOUND)
					printf(" found=%s start=%llu end=%s pid=%u node=%u", fl & CFS_PLF_WRITE ? "w" : "r",
					       static_cast<unsigned long long>(proto::from_le64(p->start)),
					       end == CFS_PLOCK_END_MAX ? "eof" : std::to_string(end).c_str(),
					       proto::from_le32(p->pid), proto::from_le32(p->node_id));
				else if (plock_gets.count(q))
					printf(" found=none");
				plock_gets.erase(q);
				printf("\n");
				break;
			}
			case CFS_LOCK_EV_REPLY:
				printf("reply status=%d\n",
				       static_cast<int32_t>(proto::from_le32(proto::as<cfs_lock_ev_reply>(*ev)->status)));
				break;
			default:
				printf("event type=%u\n", t);
			}
			fflush(stdout);
		}
		if (err != "timed out") {
			printf("lost lockd: %s\n", err.c_str());
			fflush(stdout);
			return 4;
		}
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			die(strerror(errno));
		if (!(fds[1].revents & (POLLIN | POLLHUP)))
			continue;
		char buf[4096];
		ssize_t n = read(0, buf, sizeof(buf));
		if (n <= 0) {
			input_open = false;
			return 0;
		}
		pending_line.append(buf, n);
		size_t nl;
		while ((nl = pending_line.find('\n')) != std::string::npos) {
			std::string line = pending_line.substr(0, nl);
			pending_line.erase(0, nl + 1);
			std::istringstream in(line);
			std::vector<std::string> w;
			for (std::string x; in >> x;)
				w.push_back(x);
			if (w.empty())
				continue;
			uint32_t flags = 0;
			std::string lvb;
			for (auto &x : w) {
				if (x == "noqueue")
					flags |= CFS_LKF_NOQUEUE;
				if (x == "valblk")
					flags |= CFS_LKF_VALBLK;
				if (x.rfind("lvb=", 0) == 0)
					lvb = x.substr(4);
			}
			const std::string &cmd = w[0];
			if (cmd == "lock" && w.size() >= 4)
				s.request(CFS_LOCK_REQ_LOCK, std::stoull(w[1]), w[2], parse_mode_or_die(w[3]), flags);
			else if (cmd == "convert" && w.size() >= 3)
				s.request(CFS_LOCK_REQ_CONVERT, std::stoull(w[1]), "", parse_mode_or_die(w[2]), flags, lvb);
			else if (cmd == "unlock" && w.size() >= 2)
				s.request(CFS_LOCK_REQ_UNLOCK, std::stoull(w[1]), "", 0, flags, lvb);
			else if (cmd == "cancel" && w.size() >= 2)
				s.request(CFS_LOCK_REQ_CANCEL, std::stoull(w[1]), "", 0, 0);
			else if (cmd == "release-on-bast" && w.size() >= 2)
				release_on_bast[std::stoull(w[1])] = lvb;
			else if (cmd == "recovered" && w.size() >= 2) {
				auto m = proto::make<cfs_lock_req_recovered>(CFS_LOCK_REQ_RECOVERED, s.seq++);
				m.lockspace_id = proto::to_le32(s.ls_id);
				m.journal = proto::to_le32(static_cast<uint32_t>(std::stoul(w[1])));
				s.send_msg(&m, sizeof(m));
			} else if (cmd == "plock") {
				uint32_t q = send_plock(s, w);
				if (!q) {
					printf("error bad plock command: %s\n", line.c_str());
				} else {
					if (w[1] == "get")
						plock_gets.insert(q);
					printf("plock-sent seq=%u\n", q);
				}
				fflush(stdout);
			} else if (cmd == "leave") {
				auto m = proto::make<cfs_lock_req_leave>(CFS_LOCK_REQ_LEAVE, s.seq++);
				m.lockspace_id = proto::to_le32(s.ls_id);
				s.send_msg(&m, sizeof(m));
			} else {
				printf("error unknown command: %s\n", line.c_str());
				fflush(stdout);
			}
		}
	}
}

void print_percentiles(const char *what, std::vector<double> us)
{
	if (us.empty())
		return;
	std::sort(us.begin(), us.end());
	auto pct = [&](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))]; };
	printf("%s: n=%zu p50=%.0fus p90=%.0fus p99=%.0fus\n", what, us.size(), pct(0.5), pct(0.9), pct(0.99));
	fflush(stdout);
}

double since_us(Clock::time_point t)
{
	return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

void expect_ok(const cfs_lock_ev_complete &c, const char *what)
{
	int status = static_cast<int32_t>(proto::from_le32(c.status));
	if (status)
		die(std::string(what) + " failed: " + strerror(-status));
}

int bench_acquire(Session &s, int count)
{
	auto ignore = [](const cfs_lock_ev_bast &) {};
	std::vector<double> first, again;
	std::string tag = std::to_string(getpid());
	for (int i = 0; i < count; i++) {
		auto t = Clock::now();
		s.request(CFS_LOCK_REQ_LOCK, i + 1, "bench-" + tag + "-" + std::to_string(i), CFS_LOCK_EX, 0);
		expect_ok(s.wait_complete(i + 1, ignore), "lock");
		first.push_back(since_us(t));
		s.request(CFS_LOCK_REQ_UNLOCK, i + 1, "", 0, 0);
		expect_ok(s.wait_complete(i + 1, ignore), "unlock");
	}
	uint64_t id = count + 1;
	s.request(CFS_LOCK_REQ_LOCK, id, "bench-" + tag + "-cached", CFS_LOCK_NL, 0);
	expect_ok(s.wait_complete(id, ignore), "lock");
	for (int i = 0; i < count; i++) {
		auto t = Clock::now();
		s.request(CFS_LOCK_REQ_CONVERT, id, "", CFS_LOCK_EX, 0);
		expect_ok(s.wait_complete(id, ignore), "convert up");
		again.push_back(since_us(t));
		s.request(CFS_LOCK_REQ_CONVERT, id, "", CFS_LOCK_NL, 0);
		expect_ok(s.wait_complete(id, ignore), "convert down");
	}
	print_percentiles("first-acquire", first);
	print_percentiles("reacquire-NL-to-EX", again);
	return 0;
}

int bench_pingpong(Session &s, const std::string &res, int count)
{
	std::vector<double> handoff;
	for (int i = 0; i < count; i++) {
		uint64_t id = i + 1;
		auto t = Clock::now();
		s.request(CFS_LOCK_REQ_LOCK, id, res, CFS_LOCK_EX, 0);
		bool basted = false;
		auto on_bast = [&](const cfs_lock_ev_bast &) { basted = true; };
		expect_ok(s.wait_complete(id, on_bast), "lock");
		double us = since_us(t);
		if (i > 0)
			handoff.push_back(us);
		// Hold until the peer asks (bounded: the peer may have finished its loop).
		while (!basted && i < count - 1) {
			std::string err;
			auto ev = s.client.receive(5000, &err);
			if (!ev)
				break;
			if (proto::type_of(*ev) == CFS_LOCK_EV_BAST)
				basted = true;
		}
		s.request(CFS_LOCK_REQ_UNLOCK, id, "", 0, 0);
		expect_ok(s.wait_complete(id, on_bast), "unlock");
	}
	print_percentiles("handoff", handoff);
	return 0;
}

int bench_throughput(Session &s, double seconds, int depth)
{
	std::string tag = std::to_string(getpid());
	std::map<uint64_t, bool> held; // id -> granted (next op is unlock)
	uint64_t ops = 0;
	for (int i = 0; i < depth; i++) {
		s.request(CFS_LOCK_REQ_LOCK, i + 1, "tp-" + tag + "-" + std::to_string(i), CFS_LOCK_EX, 0);
		held[i + 1] = false;
	}
	auto start = Clock::now();
	auto end = start + std::chrono::duration<double>(seconds);
	int outstanding = depth;
	while (outstanding > 0) {
		auto ev = s.next();
		if (proto::type_of(ev) != CFS_LOCK_EV_COMPLETE)
			continue;
		const auto *c = proto::as<cfs_lock_ev_complete>(ev);
		expect_ok(*c, "throughput op");
		uint64_t id = proto::from_le64(c->lock_id);
		ops++;
		if (Clock::now() >= end) {
			outstanding--;
			continue;
		}
		if (proto::from_le32(c->mode) == CFS_LOCK_IV)
			s.request(CFS_LOCK_REQ_LOCK, id, "tp-" + tag + "-" + std::to_string(id - 1), CFS_LOCK_EX, 0);
		else
			s.request(CFS_LOCK_REQ_UNLOCK, id, "", 0, 0);
	}
	double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
	printf("throughput: ops=%llu seconds=%.2f ops_per_s=%.0f\n", static_cast<unsigned long long>(ops), elapsed,
	       ops / elapsed);
	fflush(stdout);
	return 0;
}

int bench_plock(Session &s, int count)
{
	std::vector<double> lock_us, unlock_us;
	uint64_t file = static_cast<uint64_t>(getpid());
	auto roundtrip = [&](uint32_t command, uint64_t byte, uint32_t flags) {
		auto m = proto::make<cfs_lock_req_plock>(CFS_LOCK_REQ_PLOCK, s.seq);
		m.lockspace_id = proto::to_le32(s.ls_id);
		m.command = proto::to_le32(command);
		m.number = proto::to_le64(file);
		m.owner = proto::to_le64(1);
		m.start = m.end = proto::to_le64(byte);
		m.pid = proto::to_le32(static_cast<uint32_t>(getpid()));
		m.flags = proto::to_le32(flags);
		uint32_t seq = s.seq++;
		auto t = Clock::now();
		s.send_msg(&m, sizeof(m));
		for (;;) {
			auto ev = s.next();
			if (proto::type_of(ev) != CFS_LOCK_EV_PLOCK || proto::from_le32(proto::as<cfs_lock_ev_plock>(ev)->hdr.seq) != seq)
				continue;
			int status = static_cast<int32_t>(proto::from_le32(proto::as<cfs_lock_ev_plock>(ev)->status));
			if (status)
				die("plock failed: " + std::string(strerror(-status)));
			return since_us(t);
		}
	};
	for (int i = 0; i < count; i++)
		lock_us.push_back(roundtrip(CFS_PLOCK_LOCK, i, CFS_PLF_WRITE));
	for (int i = 0; i < count; i++)
		unlock_us.push_back(roundtrip(CFS_PLOCK_UNLOCK, i, 0));
	print_percentiles("plock-lock", lock_us);
	print_percentiles("plock-unlock", unlock_us);
	return 0;
}

// Sends `count` admin requests without reading, then reads until lockd closes the
// connection (dropped: 0) or 20 s pass with the connection open (1).
int flood_admin(const std::string &path, int count)
{
	proto::Client client;
	std::string err;
	if (!client.connect(path, &err)) {
		fprintf(stderr, "lockd_test_client: %s\n", err.c_str());
		return 2;
	}
	auto m = proto::make<cfs_lock_req_admin>(CFS_LOCK_REQ_ADMIN, 1);
	m.command = proto::to_le32(CFS_ADMIN_DUMP_CLUSTER);
	m.arg = proto::to_le32(CFS_ADMIN_TEXT);
	int sent = 0;
	for (; sent < count; sent++) {
		m.hdr.seq = proto::to_le32(static_cast<uint32_t>(sent + 1));
		if (!client.send(&m, sizeof(m), &err))
			break; // dropped while we were still sending
	}
	size_t replies = 0;
	auto deadline = Clock::now() + std::chrono::seconds(20);
	for (;;) {
		auto ev = client.receive(1000, &err);
		if (ev) {
			replies++;
			continue;
		}
		if (err != "timed out") {
			printf("dropped: sent %d requests, read %zu replies, then: %s\n", sent, replies, err.c_str());
			return 0;
		}
		if (Clock::now() > deadline) {
			printf("not dropped: sent %d requests, read %zu replies, connection still open\n", sent, replies);
			return 1;
		}
	}
}

} // namespace

int main(int argc, char **argv)
{
	std::string path = proto::default_socket_path();
	int argi = 1;
	if (argi + 1 < argc && !strcmp(argv[argi], "-s")) {
		path = argv[argi + 1];
		argi += 2;
	}
	if (argc - argi < 3) {
		fprintf(stderr, "usage: lockd_test_client [-s SOCKET] script|bench-acquire|bench-pingpong|bench-throughput "
				"LOCKSPACE ARGS...\n");
		return 2;
	}
	std::string mode = argv[argi], ls = argv[argi + 1];
	if (mode == "flood-admin")
		return flood_admin(path, atoi(argv[argi + 2]));
	Session s;
	if (mode == "script") {
		s.join(path, ls, static_cast<uint32_t>(atoi(argv[argi + 2])), true);
		return run_script(s);
	}
	s.join(path, ls, 8, false);
	if (mode == "bench-plock")
		return bench_plock(s, atoi(argv[argi + 2]));
	if (mode == "bench-acquire")
		return bench_acquire(s, atoi(argv[argi + 2]));
	if (mode == "bench-pingpong" && argc - argi >= 4)
		return bench_pingpong(s, argv[argi + 2], atoi(argv[argi + 3]));
	if (mode == "bench-throughput" && argc - argi >= 4)
		return bench_throughput(s, atof(argv[argi + 2]), atoi(argv[argi + 3]));
	fprintf(stderr, "lockd_test_client: unknown mode %s\n", mode.c_str());
	return 2;
}
