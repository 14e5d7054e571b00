// cfs_fsx DIR --seed S --ops N [options]
//
// A random-operation file verifier in the spirit of fsx: applies a seeded random sequence of
// reads, writes, truncates up and down, mmap reads and writes, fallocate (0 and KEEP_SIZE,
// also past EOF), hole punching (also in preallocated blocks past EOF), zero range (0 and
// KEEP_SIZE), fsync/fdatasync, SEEK_HOLE/SEEK_DATA probes, cache drops and O_DIRECT reads and
// writes to one file,
// and mirrors every change in an in-memory model. Every read and every size is compared
// with the model; on the first mismatch it prints the operation log, the first differing
// offset with the bytes around it, and exits 1. The same seed replays the same operations.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kLogKeep = 2000;  // operations kept for the failure report

// splitmix64: small, seedable, identical on every platform.
class Rng {
public:
	explicit Rng(uint64_t seed) : state_(seed) {}
	uint64_t next() {
		uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		return z ^ (z >> 31);
	}
	uint64_t below(uint64_t n) { return n ? next() % n : 0; }

private:
	uint64_t state_;
};

struct Options {
	std::string dir;
	uint64_t seed = 1;
	long ops = -1;
	size_t max_len = 1 << 20;
	bool mmap = true;
	bool fallocate = true;
	bool punch = true;
	bool zero = true;
	bool seek = true;
	bool direct = true;
	bool keep = false;
	bool require_all = false;  // an operation the filesystem refuses (EOPNOTSUPP) fails the run
	long corrupt_model_at = -1;  // self-test of the verifier: flip a model byte after this op
};

class Fsx {
public:
	explicit Fsx(const Options& o) : opt_(o), rng_(o.seed) {}

	int run() {
		path_ = opt_.dir + "/cfs_fsx." + std::to_string(opt_.seed) + "." + std::to_string(getpid());
		fd_ = open(path_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0644);
		if (fd_ < 0) {
			std::fprintf(stderr, "cfs_fsx: cannot create %s: %s\n", path_.c_str(), strerror(errno));
			return 2;
		}
		std::printf("cfs_fsx: file %s seed %" PRIu64 " ops %ld max length %zu\n", path_.c_str(), opt_.seed,
			    opt_.ops, opt_.max_len);
		open_direct();
		if (opt_.require_all && !disabled_.empty()) {
			std::printf("cfs_fsx: FAIL: --require-all but disabled:%s\n", disabled_.c_str());
			return 1;
		}
		for (op_ = 1; op_ <= opt_.ops; ++op_) {
			if (!step())
				return fail_exit();
			if (op_ == opt_.corrupt_model_at && !model_.empty())
				model_[model_.size() / 2] ^= 0x5a;
			if (op_ % 100 == 0 && !verify_whole("periodic full read"))
				return fail_exit();
		}
		if (!verify_whole("final full read"))
			return fail_exit();
		drop_cache();
		if (!verify_whole("final full read after cache drop"))
			return fail_exit();
		close(fd_);
		if (direct_fd_ >= 0)
			close(direct_fd_);
		free(direct_buf_);
		if (!opt_.keep)
			unlink(path_.c_str());
		std::printf("cfs_fsx: %ld operations verified (", opt_.ops);
		const char* sep = "";
		for (size_t i = 0; i < kOpCount; ++i)
			if (counts_[i]) {
				std::printf("%s%s %ld", sep, kOpNames[i], counts_[i]);
				sep = ", ";
			}
		std::printf(")%s\n", disabled_.empty() ? "" : (", disabled:" + disabled_).c_str());
		return 0;
	}

private:
	enum Op { READ, WRITE, TRUNCATE, MAPREAD, MAPWRITE, FALLOC, PUNCH, ZERO, SYNC, SEEK, DROP, DREAD, DWRITE, kOpCount };
	static constexpr const char* kOpNames[kOpCount] = {"read",  "write", "truncate",  "mapread", "mapwrite",
							   "fallocate", "punch", "zero", "fsync",  "seek",
							   "dropcache", "dread", "dwrite"};

	bool step() {
		// Weights: data ops dominate; structure-changing ops are frequent enough to interleave.
		static const unsigned weights[kOpCount] = {20, 24, 8, 8, 8, 6, 6, 4, 4, 6, 3, 5, 5};
		unsigned total = 0;
		for (unsigned w : weights)
			total += w;
		unsigned pick = rng_.below(total);
		Op op = READ;
		for (unsigned i = 0; i < kOpCount; ++i) {
			if (pick < weights[i]) {
				op = static_cast<Op>(i);
				break;
			}
			pick -= weights[i];
		}
		if ((op == MAPREAD || op == MAPWRITE) && !opt_.mmap)
			op = op == MAPREAD ? READ : WRITE;
		if (op == FALLOC && !opt_.fallocate)
			op = WRITE;
		if (op == PUNCH && !opt_.punch)
			op = TRUNCATE;
		if (op == ZERO && !opt_.zero)
			op = WRITE;
		if (op == SEEK && !opt_.seek)
			op = READ;
		if ((op == DREAD || op == DWRITE) && direct_fd_ < 0)
			op = op == DREAD ? READ : WRITE;
		++counts_[op];
		switch (op) {
		case READ: return do_read();
		case WRITE: return do_write();
		case TRUNCATE: return do_truncate();
		case MAPREAD: return do_mapread();
		case MAPWRITE: return do_mapwrite();
		case FALLOC: return do_fallocate();
		case PUNCH: return do_punch();
		case ZERO: return do_zero_range();
		case SYNC: return do_sync();
		case SEEK: return do_seek();
		case DROP: return do_drop();
		case DREAD: return do_direct_read();
		case DWRITE: return do_direct_write();
		default: return true;
		}
	}

	// Offsets and lengths biased toward page boundaries and small sizes, where bugs live.
	size_t random_offset(size_t limit) {
		if (limit == 0)
			return 0;
		size_t off = rng_.below(limit);
		switch (rng_.below(4)) {
		case 0: off = off / kPage * kPage; break;
		case 1: off = std::min(limit - 1, off / kPage * kPage + kPage - 1 - rng_.below(3)); break;
		default: break;
		}
		return off;
	}
	size_t random_length(size_t limit) {
		if (limit == 0)
			return 0;
		size_t len;
		switch (rng_.below(4)) {
		case 0: len = 1 + rng_.below(64); break;
		case 1: len = kPage * (1 + rng_.below(4)); break;
		case 2: len = 1 + rng_.below(64 * 1024); break;
		default: len = 1 + rng_.below(limit); break;
		}
		return std::min(len, limit);
	}

	void log(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
		char buf[256];
		va_list ap;
		va_start(ap, fmt);
		int n = std::snprintf(buf, sizeof buf, "%6ld ", op_);
		std::vsnprintf(buf + n, sizeof buf - n, fmt, ap);
		va_end(ap);
		log_.emplace_back(buf);
		if (log_.size() > kLogKeep)
			log_.pop_front();
	}

	bool syscall_failed(const char* what) {
		char buf[256];
		std::snprintf(buf, sizeof buf, "%s failed: %s", what, strerror(errno));
		failure_ = buf;
		return false;
	}

	bool check_size(const char* after) {
		struct stat st;
		if (fstat(fd_, &st) != 0)
			return syscall_failed("fstat");
		if ((size_t)st.st_size != model_.size()) {
			char buf[256];
			std::snprintf(buf, sizeof buf, "size after %s: expected %zu got %lld", after, model_.size(),
				      (long long)st.st_size);
			failure_ = buf;
			return false;
		}
		return true;
	}

	bool compare(size_t off, const char* got, size_t len, const char* how) {
		const char* want = model_.data() + off;
		if (memcmp(want, got, len) == 0)
			return true;
		size_t i = 0;
		while (want[i] == got[i])
			++i;
		std::string msg = std::string(how) + ": first difference at file offset " + std::to_string(off + i) +
				  " (read covered " + std::to_string(off) + "+" + std::to_string(len) + ")\n";
		size_t from = i >= 8 ? i - 8 : 0, to = std::min(len, i + 8);
		char line[64];
		msg += "  offset    expected got\n";
		for (size_t k = from; k < to; ++k) {
			std::snprintf(line, sizeof line, "  %-9zu 0x%02x     0x%02x%s\n", off + k, (unsigned char)want[k],
				      (unsigned char)got[k], want[k] != got[k] ? "  <" : "");
			msg += line;
		}
		failure_ = msg;
		return false;
	}

	bool read_range(size_t off, size_t len, std::string& out) {
		out.assign(len, '\0');
		size_t done = 0;
		while (done < len) {
			ssize_t n = pread(fd_, out.data() + done, len - done, off + done);
			if (n < 0)
				return syscall_failed("pread");
			if (n == 0)
				break;
			done += n;
		}
		out.resize(done);
		return true;
	}

	bool verify_whole(const char* why) {
		log("verify %s (%zu bytes)", why, model_.size());
		std::string got;
		if (!read_range(0, model_.size() + kPage, got) || !check_size(why))
			return false;
		if (got.size() != model_.size()) {
			failure_ = std::string(why) + ": read returned " + std::to_string(got.size()) + " bytes, expected " +
				   std::to_string(model_.size());
			return false;
		}
		return compare(0, got.data(), got.size(), why);
	}

	bool do_read() {
		size_t off = random_offset(model_.size() + kPage), len = random_length(opt_.max_len);
		log("read      %zu+%zu", off, len);
		std::string got;
		if (!read_range(off, len, got))
			return false;
		size_t want = off >= model_.size() ? 0 : std::min(len, model_.size() - off);
		if (got.size() != want) {
			failure_ = "read length: expected " + std::to_string(want) + " got " + std::to_string(got.size());
			return false;
		}
		return compare(off, got.data(), got.size(), "read");
	}

	std::string fresh_bytes(size_t len) {
		std::string s(len, '\0');
		uint64_t v = rng_.next() | 0x0101010101010101ull;  // never zero, so holes are told apart
		for (size_t i = 0; i < len; ++i) {
			if (i % 8 == 0)
				v = v * 6364136223846793005ull + (op_ | 1);
			s[i] = static_cast<char>((v >> ((i % 8) * 8)) | 1);
		}
		return s;
	}

	bool do_write() {
		size_t off = random_offset(opt_.max_len), len = random_length(opt_.max_len - off);
		if (len == 0)
			return true;
		log("write     %zu+%zu%s", off, len, off > model_.size() ? " (past EOF)" : "");
		std::string data = fresh_bytes(len);
		size_t done = 0;
		while (done < len) {
			ssize_t n = pwrite(fd_, data.data() + done, len - done, off + done);
			if (n <= 0)
				return syscall_failed("pwrite");
			done += n;
		}
		if (model_.size() < off + len)
			model_.resize(off + len, '\0');
		model_.replace(off, len, data);
		return check_size("write");
	}

	bool do_truncate() {
		size_t len = rng_.below(2) ? random_offset(opt_.max_len) : random_offset(model_.size() + 1);
		log("truncate  %zu -> %zu (%s)", model_.size(), len, len < model_.size() ? "down" : "up");
		if (ftruncate(fd_, len) != 0)
			return syscall_failed("ftruncate");
		model_.resize(len, '\0');
		return check_size("truncate");
	}

	// Maps the pages covering [off, off+len) and returns the pointer to off inside them.
	char* map_range(size_t off, size_t len, int prot, void** base, size_t* maplen) {
		size_t start = off / kPage * kPage;
		*maplen = off + len - start;
		*base = mmap(nullptr, *maplen, prot, MAP_SHARED, fd_, start);
		if (*base == MAP_FAILED)
			return nullptr;
		return static_cast<char*>(*base) + (off - start);
	}

	bool do_mapread() {
		if (model_.empty())
			return do_read();
		size_t off = random_offset(model_.size()), len = random_length(model_.size() - off);
		log("mapread   %zu+%zu", off, len);
		void* base;
		size_t maplen;
		char* p = map_range(off, len, PROT_READ, &base, &maplen);
		if (!p)
			return syscall_failed("mmap");
		bool ok = compare(off, p, len, "mmap read");
		munmap(base, maplen);
		return ok;
	}

	bool do_mapwrite() {
		if (model_.empty())
			return do_write();
		// Grow first sometimes, so stores land in pages the file just gained.
		if (rng_.below(3) == 0 && model_.size() < opt_.max_len) {
			size_t grow = std::min(opt_.max_len, model_.size() + random_length(64 * 1024));
			log("mapwrite  extend %zu -> %zu", model_.size(), grow);
			if (ftruncate(fd_, grow) != 0)
				return syscall_failed("ftruncate");
			model_.resize(grow, '\0');
		}
		size_t off = random_offset(model_.size()), len = random_length(model_.size() - off);
		bool sync = rng_.below(2);
		log("mapwrite  %zu+%zu%s", off, len, sync ? " msync" : "");
		void* base;
		size_t maplen;
		char* p = map_range(off, len, PROT_READ | PROT_WRITE, &base, &maplen);
		if (!p)
			return syscall_failed("mmap");
		std::string data = fresh_bytes(len);
		memcpy(p, data.data(), len);
		if (sync && msync(base, maplen, MS_SYNC) != 0) {
			munmap(base, maplen);
			return syscall_failed("msync");
		}
		munmap(base, maplen);
		model_.replace(off, len, data);
		return check_size("mapwrite");
	}

	bool unsupported(const char* what, bool* flag) {
		if (errno != EOPNOTSUPP || opt_.require_all)
			return syscall_failed(what);
		*flag = false;
		disabled_ += std::string(" ") + what;
		log("%s not supported by this filesystem: disabled", what);
		std::printf("cfs_fsx: %s returns EOPNOTSUPP, operation disabled\n", what);
		return true;
	}

	bool do_fallocate() {
		size_t off = random_offset(opt_.max_len), len = random_length(opt_.max_len - off);
		if (len == 0)
			return true;
		bool keep = rng_.below(2);
		log("fallocate %zu+%zu%s", off, len, keep ? " KEEP_SIZE" : "");
		if (fallocate(fd_, keep ? FALLOC_FL_KEEP_SIZE : 0, off, len) != 0)
			return unsupported("fallocate", &opt_.fallocate);
		if (!keep && model_.size() < off + len)
			model_.resize(off + len, '\0');
		return check_size("fallocate");
	}

	bool do_punch() {
		// Mostly inside the file; sometimes anywhere, so blocks preallocated past EOF
		// (fallocate KEEP_SIZE) are punched too.
		size_t limit = rng_.below(4) == 0 ? opt_.max_len : model_.size();
		if (limit == 0)
			return true;
		size_t off = random_offset(limit), len = random_length(opt_.max_len - off + kPage);
		if (limit == model_.size())
			len = random_length(model_.size() - off + kPage);
		log("punch     %zu+%zu", off, len);
		if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) != 0)
			return unsupported("punch", &opt_.punch);
		if (off < model_.size())
			std::fill(model_.begin() + off, model_.begin() + std::min(model_.size(), off + len), '\0');
		return check_size("punch");
	}

	bool do_zero_range() {
		size_t off = random_offset(opt_.max_len), len = random_length(opt_.max_len - off);
		if (len == 0)
			return true;
		bool keep = rng_.below(2);
		log("zero      %zu+%zu%s", off, len, keep ? " KEEP_SIZE" : "");
		if (fallocate(fd_, FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE : 0), off, len) != 0)
			return unsupported("zero range", &opt_.zero);
		if (!keep && model_.size() < off + len)
			model_.resize(off + len, '\0');
		if (off < model_.size())
			std::fill(model_.begin() + off, model_.begin() + std::min(model_.size(), off + len), '\0');
		return check_size("zero range");
	}

	bool do_sync() {
		bool data_only = rng_.below(2);
		log("%s", data_only ? "fdatasync" : "fsync");
		if ((data_only ? fdatasync(fd_) : fsync(fd_)) != 0)
			return syscall_failed(data_only ? "fdatasync" : "fsync");
		return true;
	}

	// SEEK_DATA/SEEK_HOLE may report data where the model has zeros (unwritten or not yet
	// punched blocks), but a reported hole must read as zeros.
	bool do_seek() {
		if (model_.empty())
			return true;
		size_t off = random_offset(model_.size());
		off_t data = lseek(fd_, off, SEEK_DATA);
		int data_err = errno;
		off_t hole = lseek(fd_, off, SEEK_HOLE);
		int hole_err = errno;
		log("seek      from %zu: data %lld hole %lld", off, (long long)data, (long long)hole);
		if (hole < 0) {
			errno = hole_err;
			return syscall_failed("lseek SEEK_HOLE");
		}
		if (data < 0 && data_err != ENXIO) {
			errno = data_err;
			return syscall_failed("lseek SEEK_DATA");
		}
		size_t hole_end = data < 0 ? model_.size() : (size_t)data;
		if ((size_t)hole < off || (size_t)hole > model_.size() || hole_end < off || hole_end > model_.size()) {
			failure_ = "seek from " + std::to_string(off) + ": offsets out of range (data " +
				   std::to_string(data) + ", hole " + std::to_string(hole) + ", size " +
				   std::to_string(model_.size()) + ")";
			return false;
		}
		for (size_t i = off; i < hole_end; ++i)
			if (model_[i]) {
				failure_ = "SEEK_DATA from " + std::to_string(off) + " returned " +
					   (data < 0 ? std::string("ENXIO") : std::to_string(data)) +
					   " but the file has data at " + std::to_string(i);
				return false;
			}
		return true;
	}

	void drop_cache() {
		fsync(fd_);
		posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
	}

	// Reopen and drop the clean page cache so later reads come from the disk.
	bool do_drop() {
		log("dropcache (fsync, close, reopen, fadvise DONTNEED)");
		if (fsync(fd_) != 0)
			return syscall_failed("fsync");
		close(fd_);
		fd_ = open(path_.c_str(), O_RDWR);
		if (fd_ < 0)
			return syscall_failed("reopen");
		posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);
		return check_size("reopen");
	}

	// O_DIRECT through a second descriptor, in 4 KiB units (any device's logical block size
	// divides it): the page cache of the buffered descriptor must stay coherent with it.
	void open_direct() {
		if (!opt_.direct)
			return;
		direct_fd_ = open(path_.c_str(), O_RDWR | O_DIRECT);
		if (direct_fd_ < 0) {
			std::printf("cfs_fsx: O_DIRECT open fails (%s), direct I/O disabled\n", strerror(errno));
			disabled_ += " direct";
			return;
		}
		if (posix_memalign(&direct_buf_, kPage, opt_.max_len + kPage) != 0) {
			close(direct_fd_);
			direct_fd_ = -1;
			disabled_ += " direct";
		}
	}

	bool do_direct_read() {
		size_t off = random_offset(model_.size() + kPage) / kPage * kPage;
		size_t len = std::max<size_t>(1, random_length(opt_.max_len) / kPage) * kPage;
		log("dread     %zu+%zu", off, len);
		ssize_t n = pread(direct_fd_, direct_buf_, len, off);
		if (n < 0)
			return syscall_failed("O_DIRECT pread");
		size_t want = off >= model_.size() ? 0 : std::min(len, model_.size() - off);
		if ((size_t)n != want) {
			failure_ = "O_DIRECT read length: expected " + std::to_string(want) + " got " + std::to_string(n);
			return false;
		}
		return compare(off, static_cast<char*>(direct_buf_), n, "O_DIRECT read");
	}

	bool do_direct_write() {
		size_t off = random_offset(opt_.max_len) / kPage * kPage;
		size_t len = std::min(opt_.max_len - off, std::max<size_t>(1, random_length(opt_.max_len) / kPage) * kPage);
		if (len == 0)
			return true;
		log("dwrite    %zu+%zu%s", off, len, off > model_.size() ? " (past EOF)" : "");
		std::string data = fresh_bytes(len);
		memcpy(direct_buf_, data.data(), len);
		ssize_t n = pwrite(direct_fd_, direct_buf_, len, off);
		if (n < 0)
			return syscall_failed("O_DIRECT pwrite");
		if ((size_t)n != len) {
			failure_ = "O_DIRECT write: short write " + std::to_string(n) + " of " + std::to_string(len);
			return false;
		}
		if (model_.size() < off + len)
			model_.resize(off + len, '\0');
		model_.replace(off, len, data);
		return check_size("O_DIRECT write");
	}

	int fail_exit() {
		std::printf("cfs_fsx: FAIL at operation %ld (seed %" PRIu64 "): %s\n", op_, opt_.seed, failure_.c_str());
		std::printf("cfs_fsx: operation log (last %zu):\n", log_.size());
		for (const std::string& l : log_)
			std::printf("  %s\n", l.c_str());
		std::printf("cfs_fsx: file kept at %s; replay with --seed %" PRIu64 " --ops %ld\n", path_.c_str(), opt_.seed,
			    op_);
		return 1;
	}

	Options opt_;
	Rng rng_;
	std::string path_;
	int fd_ = -1;
	long op_ = 0;
	std::string model_;
	std::deque<std::string> log_;
	std::string failure_;
	std::string disabled_;
	long counts_[kOpCount] = {};
	int direct_fd_ = -1;
	void* direct_buf_ = nullptr;
};

void usage() {
	std::fprintf(stderr,
		     "usage: cfs_fsx DIR --seed S --ops N [--max-len BYTES] [--no-mmap] [--no-fallocate] [--no-punch]\n"
		     "               [--no-zero] [--no-seek] [--no-direct] [--keep] [--require-all]\n"
		     "               [--corrupt-model-at OP]\n"
		     "  Random file operations on a new file in DIR, verified against an in-memory model.\n"
		     "  --keep         leave the file (for fsck to check its blocks)\n"
		     "  --require-all  an operation the filesystem does not support fails the run\n"
		     "  --corrupt-model-at OP  self-test: corrupt the model after OP, the run must then fail\n");
}

bool parse_number(const char* s, long* out) {
	char* end;
	errno = 0;
	long v = std::strtol(s, &end, 0);
	if (errno || *end || end == s || v < 0)
		return false;
	*out = v;
	return true;
}

}  // namespace

int main(int argc, char** argv) {
	Options o;
	bool have_seed = false;
	for (int i = 1; i < argc; ++i) {
		std::string a = argv[i];
		long v;
		bool has_value = i + 1 < argc;
		if (a == "--seed" && has_value && parse_number(argv[i + 1], &v)) {
			o.seed = v;
			have_seed = true;
			++i;
		} else if (a == "--ops" && has_value && parse_number(argv[i + 1], &v)) {
			o.ops = v;
			++i;
		} else if (a == "--max-len" && has_value && parse_number(argv[i + 1], &v)) {
			if (v < (long)kPage) {
				std::fprintf(stderr, "cfs_fsx: --max-len must be at least %zu\n", kPage);
				return 2;
			}
			o.max_len = v;
			++i;
		} else if (a == "--corrupt-model-at" && has_value && parse_number(argv[i + 1], &v)) {
			o.corrupt_model_at = v;
			++i;
		} else if (a == "--no-mmap") {
			o.mmap = false;
		} else if (a == "--no-fallocate") {
			o.fallocate = false;
		} else if (a == "--no-punch") {
			o.punch = false;
		} else if (a == "--no-zero") {
			o.zero = false;
		} else if (a == "--require-all") {
			o.require_all = true;
		} else if (a == "--no-seek") {
			o.seek = false;
		} else if (a == "--no-direct") {
			o.direct = false;
		} else if (a == "--keep") {
			o.keep = true;
		} else if (a[0] != '-' && o.dir.empty()) {
			o.dir = a;
		} else {
			std::fprintf(stderr, "cfs_fsx: bad argument '%s'\n", a.c_str());
			usage();
			return 2;
		}
	}
	if (o.dir.empty() || !have_seed || o.ops < 0) {
		usage();
		return 2;
	}
	return Fsx(o).run();
}
