// cfs_dio_unaligned DIR [--iterations N] [--threads T] [--depth D] [--seed S]
//                       [--file-blocks B] [--scenario NAME]... [--inject-loss]
//
// Asynchronous (io_submit) O_DIRECT writes that are sector-aligned (512 bytes) but not
// block-aligned, many in flight from several threads at once, into one file: what QEMU
// sends to a VM image when the guest disk has 512-byte sectors. Neighbouring writes share
// a filesystem block, so a filesystem that zeroes the rest of a block around a sub-block
// write (a fresh block's head and tail, or the tail past EOF) while another write to that
// block is in flight loses that other write's bytes.
//
// Scenarios, each on a fresh file per iteration (DIR/NAME):
//   hole-stride     one block's worth at 512 + k*block, into a sparse file
//   alloc-stride    the same over blocks already written (a background pattern)
//   hole-partial    random runs of 512..2*block bytes with gaps, neighbours sharing blocks,
//                   into a sparse file
//   alloc-partial   the same over allocated blocks
//   eof             pairs submitted together: one write ending exactly at an unaligned
//                   EOF, then one starting there and extending the file
// Writes never overlap, so the expected content does not depend on completion order.
// Submission order alternates between ascending, descending and shuffled; write k goes
// to thread k mod T, each thread keeping D writes in flight.
//
// Every 8-byte word written holds its write's id and its own file offset, so a lost,
// zeroed or misplaced write is named on read-back. The whole file is read back with
// O_DIRECT (from the disk, not the page cache) and compared byte for byte; the size too.
// Every iteration runs even after a failure, so the output gives the failure rate.
// --inject-loss overwrites one written sector with zeros before the first read-back: the
// check must then fail (the checker's own test, tests/posix/selftest.sh).
//
// Output: one line per scenario ("ok NAME: ..." or "FAIL NAME: ..."), mismatch details.
// Exit 0 if every iteration of every scenario read back right, 1 if any did not,
// 2 on bad usage or when the setup itself fails (e.g. O_DIRECT refused).

#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr uint64_t kSector = 512;
constexpr uint32_t kBackgroundId = 0xFFFFFF;  // the "already allocated" fill's write id

[[noreturn]] void die(const char* what) {
	std::fprintf(stderr, "cfs_dio_unaligned: %s: %s\n", what, std::strerror(errno));
	std::exit(2);
}

struct Write {
	uint64_t off;
	uint64_t len;
	uint32_t id;  // 1.. ; 0 never (a zeroed word must not decode as a write)
};

// The word at file offset `off` (8-aligned) of write `id`: never zero.
uint64_t word_of(uint32_t id, uint64_t off) {
	return (uint64_t{0xA5} << 56) | (uint64_t(id & 0xFFFFFF) << 32) | ((off >> 3) & 0xFFFFFFFF);
}

void fill(uint8_t* buf, uint32_t id, uint64_t off, uint64_t len) {
	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t w = word_of(id, off + i);
		std::memcpy(buf + i, &w, 8);
	}
}

uint8_t* aligned_alloc_or_die(uint64_t len) {
	void* p = nullptr;
	if (posix_memalign(&p, 4096, std::max<uint64_t>(len, 4096)) != 0)
		die("posix_memalign");
	return static_cast<uint8_t*>(p);
}

long io_setup(unsigned nr, aio_context_t* ctx) { return syscall(SYS_io_setup, nr, ctx); }
long io_destroy(aio_context_t ctx) { return syscall(SYS_io_destroy, ctx); }
long io_submit(aio_context_t ctx, long n, iocb** cbs) { return syscall(SYS_io_submit, ctx, n, cbs); }
long io_getevents(aio_context_t ctx, long min, long max, io_event* ev) {
	return syscall(SYS_io_getevents, ctx, min, max, ev, nullptr);
}

struct Options {
	std::string dir;
	int iterations = 40;
	int threads = 4;
	int depth = 16;
	uint64_t seed = 1;
	uint64_t file_blocks = 32;
	std::vector<std::string> scenarios;
	bool inject_loss = false;
};

// Submits `writes` (in this order) from one thread keeping `depth` in flight; each
// write's data is already in its buffer. Returns false (with a message) on any error or
// short write.
bool submit_all(int fd, const std::vector<const Write*>& writes, const std::vector<uint8_t*>& bufs,
		int depth, std::string* err) {
	aio_context_t ctx = 0;
	if (io_setup(depth, &ctx) < 0) {
		*err = std::string("io_setup: ") + std::strerror(errno);
		return false;
	}
	std::vector<iocb> cbs(writes.size());
	size_t next = 0, done = 0;
	long inflight = 0;
	bool ok = true;
	std::vector<io_event> events(depth);
	while (done < writes.size() && ok) {
		// Submit as many as fit, in one call: consecutive writes of one batch share blocks.
		std::vector<iocb*> batch;
		while (next < writes.size() && inflight + long(batch.size()) < depth) {
			iocb& cb = cbs[next];
			std::memset(&cb, 0, sizeof(cb));
			cb.aio_lio_opcode = IOCB_CMD_PWRITE;
			cb.aio_fildes = fd;
			cb.aio_buf = reinterpret_cast<uint64_t>(bufs[next]);
			cb.aio_nbytes = writes[next]->len;
			cb.aio_offset = writes[next]->off;
			cb.aio_data = next;
			batch.push_back(&cb);
			next++;
		}
		size_t sent = 0;
		while (sent < batch.size()) {
			long r = io_submit(ctx, long(batch.size() - sent), batch.data() + sent);
			if (r < 0 && errno == EAGAIN)
				break;	// reap first
			if (r <= 0) {
				*err = std::string("io_submit: ") + (r < 0 ? std::strerror(errno) : "submitted nothing");
				ok = false;
				break;
			}
			sent += size_t(r);
			inflight += r;
		}
		next -= batch.size() - sent;	// resubmitted later
		if (!ok)
			break;
		if (inflight == 0) {
			*err = "io_submit: EAGAIN with nothing in flight";
			ok = false;
			break;
		}
		long got = io_getevents(ctx, 1, depth, events.data());
		if (got < 0) {
			if (errno == EINTR)
				continue;
			*err = std::string("io_getevents: ") + std::strerror(errno);
			ok = false;
			break;
		}
		for (long i = 0; i < got; i++) {
			const Write* w = writes[events[i].data];
			if (events[i].res != long(w->len)) {
				char msg[160];
				std::snprintf(msg, sizeof(msg), "write #%u at %" PRIu64 " (+%" PRIu64 "): result %lld%s%s",
					      w->id, w->off, w->len, (long long)events[i].res,
					      events[i].res < 0 ? " " : "",
					      events[i].res < 0 ? std::strerror(int(-events[i].res)) : "");
				*err = msg;
				ok = false;
			}
		}
		inflight -= got;
		done += size_t(got);
	}
	// Never leave writes in flight into a buffer that is about to be freed.
	while (inflight > 0) {
		long got = io_getevents(ctx, 1, depth, events.data());
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		inflight -= got;
	}
	io_destroy(ctx);
	return ok;
}

class Scenario {
public:
	Scenario(const Options& opt, std::string name, uint64_t bsize)
		: opt_(opt), name_(std::move(name)), bsize_(bsize), rng_(opt.seed * 7919 + std::hash<std::string>()(name_)) {}

	// Runs every iteration; returns the number that read back wrong.
	int run(std::string* setup_error) {
		int bad = 0;
		for (int it = 0; it < opt_.iterations; it++) {
			int r = iteration(it, setup_error);
			if (r < 0)
				return -1;
			bad += r;
		}
		return bad;
	}

	uint64_t writes_done() const { return writes_done_; }

private:
	const Options& opt_;
	std::string name_;
	uint64_t bsize_;
	std::mt19937_64 rng_;
	uint64_t writes_done_ = 0;
	int reported_ = 0;

	uint64_t rand_sectors(uint64_t lo, uint64_t hi) {	// lo..hi sectors, in bytes
		return kSector * std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
	}

	bool allocated() const { return name_.rfind("alloc-", 0) == 0; }

	// The writes of one iteration, and the file size before and after.
	void plan(std::vector<Write>* writes, uint64_t* size_before, uint64_t* size_after) {
		uint64_t fsize = opt_.file_blocks * bsize_;
		uint32_t id = 1;
		*size_before = *size_after = fsize;
		if (name_ == "hole-stride" || name_ == "alloc-stride") {
			for (uint64_t off = kSector; off + bsize_ <= fsize; off += bsize_)
				writes->push_back({off, bsize_, id++});
		} else if (name_ == "hole-partial" || name_ == "alloc-partial") {
			uint64_t off = 0;
			while (true) {
				// A gap now and then (left as the file had it), else back to back.
				if (rng_() % 4 == 0)
					off += rand_sectors(1, 3);
				uint64_t len = rand_sectors(1, 2 * bsize_ / kSector);
				if (off + len > fsize)
					break;
				writes->push_back({off, len, id++});
				off += len;
			}
		} else {	// eof: rounds of (ends at EOF, extends from EOF); the caller truncates
			uint64_t eof = bsize_ + rand_sectors(1, bsize_ / kSector - 1);
			*size_before = eof;
			for (int round = 0; round < int(opt_.file_blocks / 2); round++) {
				uint64_t a = rand_sectors(1, bsize_ / kSector);
				uint64_t b = rand_sectors(1, 2 * bsize_ / kSector);
				writes->push_back({eof - a, a, id++});
				writes->push_back({eof, b, id++});
				// The next round's EOF is set by ftruncate, unaligned, past this one's
				// end and far enough that its first write cannot overlap this round's.
				uint64_t end = eof + b;
				eof = end + bsize_ + rand_sectors(1, bsize_ / kSector - 1);
				*size_after = end;
			}
		}
	}

	// Returns 1 if the file read back wrong, 0 if right, -1 on a setup error.
	int iteration(int it, std::string* setup_error) {
		std::vector<Write> writes;
		uint64_t size_before, size_after;
		plan(&writes, &size_before, &size_after);
		std::string path = opt_.dir + "/" + name_;
		unlink(path.c_str());
		int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0644);
		if (fd < 0) {
			*setup_error = path + ": open O_DIRECT: " + std::strerror(errno);
			return -1;
		}
		uint64_t fsize = std::max(size_before, size_after);
		std::vector<uint8_t> expect(fsize, 0);
		if (allocated()) {
			// Allocated, written blocks (buffered, then on disk) under the writes.
			int bfd = open(path.c_str(), O_WRONLY);
			std::vector<uint8_t> bg(fsize);
			fill(bg.data(), kBackgroundId, 0, fsize);
			if (bfd < 0 || pwrite(bfd, bg.data(), fsize, 0) != ssize_t(fsize) || fsync(bfd) != 0) {
				*setup_error = path + ": background fill: " + std::strerror(errno);
				return -1;
			}
			close(bfd);
			expect = bg;
		} else if (ftruncate(fd, off_t(size_before)) != 0) {
			*setup_error = path + ": ftruncate: " + std::strerror(errno);
			return -1;
		}

		std::vector<uint8_t*> bufs(writes.size());
		for (size_t i = 0; i < writes.size(); i++) {
			bufs[i] = aligned_alloc_or_die(writes[i].len);
			fill(bufs[i], writes[i].id, writes[i].off, writes[i].len);
			std::memcpy(expect.data() + writes[i].off, bufs[i], writes[i].len);
		}

		bool ok = true;
		std::string err;
		if (name_ == "eof") {
			ok = run_eof(fd, writes, bufs, &err);
		} else {
			// Order: ascending, descending, shuffled by turns; write k to thread k mod T.
			std::vector<size_t> order(writes.size());
			for (size_t i = 0; i < order.size(); i++)
				order[i] = i;
			if (it % 3 == 1)
				std::reverse(order.begin(), order.end());
			else if (it % 3 == 2)
				std::shuffle(order.begin(), order.end(), rng_);
			int nthreads = std::max(1, opt_.threads);
			std::vector<std::vector<const Write*>> tw(nthreads);
			std::vector<std::vector<uint8_t*>> tb(nthreads);
			for (size_t k = 0; k < order.size(); k++) {
				tw[k % nthreads].push_back(&writes[order[k]]);
				tb[k % nthreads].push_back(bufs[order[k]]);
			}
			std::atomic<int> ready{0};
			std::vector<std::string> errs(nthreads);
			std::vector<char> oks(nthreads, 1);
			std::vector<std::thread> pool;
			for (int t = 0; t < nthreads; t++)
				pool.emplace_back([&, t] {
					// Start together: the threads' writes to shared blocks overlap in time.
					ready++;
					while (ready.load() < nthreads)
						std::this_thread::yield();
					oks[t] = submit_all(fd, tw[t], tb[t], opt_.depth, &errs[t]);
				});
			for (auto& th : pool)
				th.join();
			for (int t = 0; t < nthreads; t++)
				if (!oks[t]) {
					ok = false;
					err = errs[t];
				}
		}
		writes_done_ += writes.size();
		for (uint8_t* b : bufs)
			free(b);
		if (!ok) {
			close(fd);
			*setup_error = name_ + " iteration " + std::to_string(it) + ": " + err;
			return -1;
		}

		if (opt_.inject_loss && it == 0 && !writes.empty()) {
			// The checker's own test: a whole sector of a write lost.
			const Write& w = writes[writes.size() / 2];
			uint8_t* zero = aligned_alloc_or_die(kSector);
			std::memset(zero, 0, kSector);
			if (pwrite(fd, zero, kSector, off_t(w.off)) != ssize_t(kSector))
				die("inject-loss pwrite");
			free(zero);
		}

		int result = verify(fd, it, writes, expect, size_after) ? 0 : 1;
		close(fd);
		return result;
	}

	// The eof rounds run in order from one thread: ftruncate to the round's unaligned
	// EOF, then both writes in one io_submit call (the first one asynchronous, ending at
	// EOF; the second extending the file), then both reaped.
	bool run_eof(int fd, const std::vector<Write>& writes, const std::vector<uint8_t*>& bufs, std::string* err) {
		for (size_t i = 0; i + 1 < writes.size(); i += 2) {
			uint64_t eof = writes[i].off + writes[i].len;
			if (ftruncate(fd, off_t(eof)) != 0) {
				*err = std::string("ftruncate: ") + std::strerror(errno);
				return false;
			}
			std::vector<const Write*> pair = {&writes[i], &writes[i + 1]};
			std::vector<uint8_t*> pb = {bufs[i], bufs[i + 1]};
			if (!submit_all(fd, pair, pb, 2, err))
				return false;
		}
		return true;
	}

	std::string describe(uint64_t off, const std::vector<Write>& writes, const uint8_t* got) {
		uint64_t w;
		std::memcpy(&w, got, 8);
		char buf[96];
		std::string who = "a gap";
		for (const Write& x : writes)
			if (off >= x.off && off < x.off + x.len) {
				std::snprintf(buf, sizeof(buf), "write #%u (%" PRIu64 " +%" PRIu64 ")", x.id, x.off, x.len);
				who = buf;
			}
		std::string what;
		if (w == 0)
			what = "zeros";
		else if ((w >> 56) == 0xA5) {
			uint32_t id = uint32_t(w >> 32) & 0xFFFFFF;
			std::snprintf(buf, sizeof(buf), "%s for offset %" PRIu64,
				      id == kBackgroundId ? "the background" : ("write #" + std::to_string(id)).c_str(),
				      (w & 0xFFFFFFFF) << 3);
			what = buf;
		} else {
			std::snprintf(buf, sizeof(buf), "foreign bytes %016" PRIx64, w);
			what = buf;
		}
		return "offset " + std::to_string(off) + " (" + who + "): read " + what;
	}

	bool verify(int fd, int it, const std::vector<Write>& writes, const std::vector<uint8_t>& expect,
		    uint64_t size_after) {
		struct stat st;
		if (fstat(fd, &st) != 0)
			die("fstat");
		bool ok = true;
		if (uint64_t(st.st_size) != size_after) {
			std::printf("FAIL %s iteration %d: size %lld, expected %" PRIu64 "\n", name_.c_str(), it,
				    (long long)st.st_size, size_after);
			ok = false;
		}
		uint64_t len = round_up(expect.size());
		uint8_t* got = aligned_alloc_or_die(len);
		ssize_t n = pread(fd, got, len, 0);
		if (n < 0)
			die("read back (O_DIRECT)");
		uint64_t bad_sectors = 0;
		std::string first;
		for (uint64_t s = 0; s < expect.size(); s += kSector) {
			uint64_t l = std::min<uint64_t>(kSector, expect.size() - s);
			if (s + l > uint64_t(n) || std::memcmp(got + s, expect.data() + s, l) != 0) {
				if (bad_sectors++ == 0) {
					uint64_t o = s;
					while (o < s + l && o < uint64_t(n) && got[o] == expect[o])
						o++;
					o &= ~uint64_t(7);
					first = o < uint64_t(n) ? describe(o, writes, got + o) : "short read";
				}
			}
		}
		free(got);
		if (bad_sectors) {
			ok = false;
			if (reported_++ < 5)
				std::printf("FAIL %s iteration %d: %" PRIu64 " of %zu sectors differ; first at %s\n",
					    name_.c_str(), it, bad_sectors, (expect.size() + kSector - 1) / kSector,
					    first.c_str());
		}
		std::fflush(stdout);
		return ok;
	}

	uint64_t round_up(uint64_t n) const { return (n + bsize_ - 1) / bsize_ * bsize_; }
};

void usage() {
	std::fprintf(stderr,
		     "usage: cfs_dio_unaligned DIR [--iterations N] [--threads T] [--depth D] [--seed S]\n"
		     "                         [--file-blocks B] [--scenario NAME]... [--inject-loss]\n"
		     "scenarios: hole-stride alloc-stride hole-partial alloc-partial eof (default: all)\n");
	std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
	Options opt;
	const std::vector<std::string> all = {"hole-stride", "alloc-stride", "hole-partial", "alloc-partial", "eof"};
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto num = [&](const char* what) -> uint64_t {
			if (i + 1 >= argc)
				usage();
			char* end;
			uint64_t v = std::strtoull(argv[++i], &end, 0);
			if (*end || v == 0) {
				std::fprintf(stderr, "cfs_dio_unaligned: bad %s\n", what);
				usage();
			}
			return v;
		};
		if (a == "--iterations")
			opt.iterations = int(num("iterations"));
		else if (a == "--threads")
			opt.threads = int(num("threads"));
		else if (a == "--depth")
			opt.depth = int(num("depth"));
		else if (a == "--seed")
			opt.seed = num("seed");
		else if (a == "--file-blocks")
			opt.file_blocks = std::max<uint64_t>(4, num("file-blocks"));
		else if (a == "--scenario" && i + 1 < argc) {
			std::string s = argv[++i];
			if (std::find(all.begin(), all.end(), s) == all.end())
				usage();
			opt.scenarios.push_back(s);
		} else if (a == "--inject-loss")
			opt.inject_loss = true;
		else if (a[0] != '-' && opt.dir.empty())
			opt.dir = a;
		else
			usage();
	}
	if (opt.dir.empty())
		usage();
	if (opt.scenarios.empty())
		opt.scenarios = all;
	if (mkdir(opt.dir.c_str(), 0755) != 0 && errno != EEXIST)
		die(opt.dir.c_str());
	struct stat st;
	if (stat(opt.dir.c_str(), &st) != 0)
		die(opt.dir.c_str());
	uint64_t bsize = uint64_t(st.st_blksize);
	if (bsize < 2 * kSector) {
		std::printf("skip: block size %" PRIu64 " has no sub-block sector writes\n", bsize);
		return 0;
	}

	int failed = 0;
	for (const std::string& name : opt.scenarios) {
		Scenario sc(opt, name, bsize);
		std::string err;
		int bad = sc.run(&err);
		if (bad < 0) {
			std::fprintf(stderr, "cfs_dio_unaligned: %s\n", err.c_str());
			return 2;
		}
		if (bad) {
			std::printf("FAIL %s: %d of %d iterations read back wrong (%" PRIu64 " writes, block %" PRIu64 ")\n",
				    name.c_str(), bad, opt.iterations, sc.writes_done(), bsize);
			failed++;
		} else {
			std::printf("ok %s: %d iterations, %" PRIu64 " writes read back exactly (block %" PRIu64 ")\n",
				    name.c_str(), opt.iterations, sc.writes_done(), bsize);
		}
		std::fflush(stdout);
	}
	return failed ? 1 : 0;
}
