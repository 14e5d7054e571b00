// cfs_crashwork DIR --seed S [--ops N] [--replace-files N] [--append-files N] [--overwrite-files N]
//               [--segment-bytes B] [--ack FILE]
//
// The workload side of the crash loop: writes files with deterministic content, makes each
// new state durable with fsync (and a directory fsync where a name changes), and after each
// one appends an fsync'ed record to DIR/.manifest. Runs until killed (or for N operations).
// Restarting it on the same DIR continues from the manifest, so one directory serves a
// whole kill/replay loop. cfs_crashcheck DIR verifies the manifest's promises.
// --ack FILE: after each record is durable, its count is written to FILE, a file outside
// the filesystem under test (the VM harness's host share): a replay that lost the
// manifest's tail together with the files it names still leaves the manifest consistent,
// and only a count kept elsewhere (cfs_crashcheck --acked FILE) shows the loss.
// Format and guarantee: crash_manifest.h and docs/posix-tests.md.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crash_manifest.h"

using namespace cfs_crash;

namespace {

struct Options {
	std::string dir;
	uint64_t seed = 0;
	bool have_seed = false;
	long ops = 0;  // 0: forever
	int replace_files = 8;
	int append_files = 4;
	int overwrite_files = 2;
	size_t overwrite_blocks = 64;
	size_t segment_bytes = 4 << 20;
	std::string ack_path;
};

[[noreturn]] void die(const std::string& what) {
	std::fprintf(stderr, "cfs_crashwork: %s: %s\n", what.c_str(), strerror(errno));
	std::exit(1);
}

void write_all(int fd, const std::string& data, off_t off, uint64_t* rng) {
	// Varying write sizes, so block-straddling and sub-block writes both occur.
	size_t done = 0;
	while (done < data.size()) {
		*rng = mix(*rng + 1);
		size_t piece = std::min(data.size() - done, (size_t)(1 + *rng % 70000));
		ssize_t n = pwrite(fd, data.data() + done, piece, off + done);
		if (n <= 0)
			die("write");
		done += n;
	}
}

void fsync_dir(const std::string& dir) {
	int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
	if (fd < 0 || fsync(fd) != 0)
		die("fsync of directory " + dir);
	close(fd);
}

class Workload {
public:
	explicit Workload(const Options& o) : opt_(o) {}

	void start() {
		std::string manifest_path = opt_.dir + "/" + kManifest;
		int fd = open(manifest_path.c_str(), O_RDWR);
		if (fd < 0 && errno == ENOENT) {
			fd = open(manifest_path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
			if (fd < 0 || fsync(fd) != 0)
				die("create " + manifest_path);
			fsync_dir(opt_.dir);
		}
		if (fd < 0)
			die("open " + manifest_path);
		manifest_fd_ = fd;
		if (!opt_.ack_path.empty()) {
			// Emptied first: the records found on resume were acknowledged by the run
			// that wrote them, if at all; this run acknowledges only its own.
			ack_fd_ = open(opt_.ack_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (ack_fd_ < 0)
				die("open " + opt_.ack_path);
		}
		resume();
	}

	void run() {
		std::printf("cfs_crashwork: %s seed %llu, %zu records so far, %s\n", opt_.dir.c_str(),
			    (unsigned long long)opt_.seed, records_, opt_.ops ? "bounded" : "running until killed");
		std::fflush(stdout);
		for (long op = 0; opt_.ops == 0 || op < opt_.ops; ++op) {
			rng_ = mix(rng_ + op);
			int slot = rng_ % (opt_.replace_files + opt_.append_files + opt_.overwrite_files);
			if (slot < opt_.replace_files)
				replace_step(slot);
			else if (slot < opt_.replace_files + opt_.append_files)
				append_step(slot - opt_.replace_files);
			else
				overwrite_step(slot - opt_.replace_files - opt_.append_files);
		}
		std::printf("cfs_crashwork: done, %zu records\n", records_);
	}

private:
	// Continue after a crash: keep the manifest's valid prefix, roll append files back to
	// their recorded length, and remove temporary files of unfinished replacements.
	void resume() {
		std::string text;
		struct stat st;
		if (fstat(manifest_fd_, &st) != 0)
			die("fstat manifest");
		text.resize(st.st_size);
		if (pread(manifest_fd_, text.data(), text.size(), 0) != (ssize_t)text.size())
			die("read manifest");
		Manifest m = parse_manifest(text);
		if (!m.error.empty()) {
			std::fprintf(stderr, "cfs_crashwork: %s; run cfs_crashcheck\n", m.error.c_str());
			std::exit(1);
		}
		if (m.torn_tail_bytes && (ftruncate(manifest_fd_, m.valid_bytes) != 0 || fsync(manifest_fd_) != 0))
			die("truncate torn manifest tail");
		manifest_end_ = m.valid_bytes;
		records_ = m.records.size();
		Requirements q = requirements(m);
		for (int k = 0; k < opt_.replace_files; ++k) {
			std::string name = "r" + std::to_string(k);
			generation_.push_back(q.replace.count(name) ? q.replace[name].count : 0);
			unlink((opt_.dir + "/" + name + ".tmp").c_str());
		}
		for (int k = 0; k < opt_.append_files; ++k) {
			std::string slot = "a" + std::to_string(k);
			uint64_t seg = q.segment.count(slot) ? q.segment[slot] : 0;
			std::string name = slot + "." + std::to_string(seg);
			Segment s{seg, 0, 0, -1, 0};
			if (q.append.count(name)) {
				s.chunks = q.append[name].count;
				s.length = q.append[name].length;
				s.crc = q.append[name].content_crc;
			} else if (q.segment.count(slot)) {
				s.number = seg + 1;  // the newest segment was retired
			}
			segments_.push_back(s);
			open_segment(k, q.append.count(name) > 0);
		}
		for (int k = 0; k < opt_.overwrite_files; ++k)
			resume_overwrite(k, q);
		rng_ = mix(opt_.seed ^ mix(records_));
	}

	// Overwrite files: create whole at generation 0, or reopen and finish a rewrite whose
	// intent was recorded but whose completion was not (the block may be torn).
	void resume_overwrite(int k, Requirements& q) {
		std::string name = "o" + std::to_string(k), path = opt_.dir + "/" + name;
		Overwrite o;
		if (q.overwrite.count(name)) {
			const Requirements::Overwrite& state = q.overwrite[name];
			o.generation = state.generation;
			o.fd = open(path.c_str(), O_WRONLY);
			if (o.fd < 0)
				die("open " + path);
			overwrites_.push_back(o);
			for (const auto& [block, gen] : state.pending)
				rewrite_block(k, block, gen, false);
			return;
		}
		o.generation.assign(opt_.overwrite_blocks, 0);
		o.fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (o.fd < 0)
			die("create " + path);
		std::string all;
		for (size_t b = 0; b < opt_.overwrite_blocks; ++b)
			all += overwrite_block(name, b, 0);
		write_all(o.fd, all, 0, &rng_);
		if (fsync(o.fd) != 0)
			die("fsync " + path);
		fsync_dir(opt_.dir);
		overwrites_.push_back(o);
		append_record(Record{'C', name, opt_.overwrite_blocks, all.size(), 0});
	}

	// Rewrites one block in place: intent record, one aligned write, fdatasync/fsync, record.
	void rewrite_block(int k, uint64_t block, uint64_t gen, bool announce) {
		std::string name = "o" + std::to_string(k);
		Overwrite& o = overwrites_[k];
		if (announce)
			append_record(Record{'I', name, gen, block, 0});
		std::string data = overwrite_block(name, block, gen);
		if (pwrite(o.fd, data.data(), data.size(), block * kOverwriteBlock) != (ssize_t)data.size())
			die("overwrite " + name);
		if ((rng_ & 4 ? fdatasync(o.fd) : fsync(o.fd)) != 0)
			die("fdatasync " + name);
		o.generation[block] = gen;
		append_record(Record{'O', name, gen, block, crc(data)});
	}

	void overwrite_step(int k) {
		uint64_t block = mix(rng_ ^ 0x5bd1e995) % overwrites_[k].generation.size();
		rewrite_block(k, block, overwrites_[k].generation[block] + 1, true);
	}

	void append_record(const Record& r) {
		std::string line = format_record(r);
		if (pwrite(manifest_fd_, line.data(), line.size(), manifest_end_) != (ssize_t)line.size() ||
		    fsync(manifest_fd_) != 0)
			die("append manifest record");
		manifest_end_ += line.size();
		++records_;
		acknowledge();
	}

	// The fsync of record records_ returned: say so outside the filesystem under test.
	void acknowledge() {
		if (ack_fd_ < 0)
			return;
		char text[32];
		int len = std::snprintf(text, sizeof(text), "%020zu\n", records_);
		if (pwrite(ack_fd_, text, len, 0) != len)
			die("write " + opt_.ack_path);
	}

	// One replacement: whole new generation in a temporary file, fsync, rename, dir fsync.
	void replace_step(int k) {
		std::string name = "r" + std::to_string(k);
		uint64_t gen = generation_[k] + 1;
		std::string content = replace_content(name, gen);
		std::string tmp = opt_.dir + "/" + name + ".tmp", final_path = opt_.dir + "/" + name;
		int fd = open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (fd < 0)
			die("create " + tmp);
		write_all(fd, content, 0, &rng_);
		if ((rng_ & 1 ? fsync(fd) : fdatasync(fd)) != 0)
			die("fsync " + tmp);
		close(fd);
		if (rename(tmp.c_str(), final_path.c_str()) != 0)
			die("rename " + tmp);
		fsync_dir(opt_.dir);
		generation_[k] = gen;
		append_record(Record{'R', name, gen, content.size(), crc(content)});
	}

	struct Segment {
		uint64_t number;
		uint64_t chunks;
		uint64_t length;
		int fd;
		uint32_t crc;  // of the segment's first `length` bytes
	};

	std::string segment_name(int k) const {
		return "a" + std::to_string(k) + "." + std::to_string(segments_[k].number);
	}

	// Opens segment k: an existing one is rolled back to its recorded length (its unrecorded
	// tail was never promised); a new one is created and its name made durable.
	void open_segment(int k, bool existing) {
		Segment& s = segments_[k];
		std::string path = opt_.dir + "/" + segment_name(k);
		if (existing) {
			s.fd = open(path.c_str(), O_WRONLY);
			struct stat st;
			if (s.fd < 0 || fstat(s.fd, &st) != 0)
				die("open " + path);
			if ((uint64_t)st.st_size < s.length) {
				std::fprintf(stderr, "cfs_crashwork: %s is %lld bytes, manifest promised %llu; run cfs_crashcheck\n",
					     path.c_str(), (long long)st.st_size, (unsigned long long)s.length);
				std::exit(1);
			}
			if (ftruncate(s.fd, s.length) != 0 || fsync(s.fd) != 0)
				die("roll back " + path);
		} else {
			s.fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
			if (s.fd < 0)
				die("create " + path);
			s.chunks = s.length = 0;
			s.crc = 0;
			fsync_dir(opt_.dir);
		}
	}

	void append_step(int k) {
		Segment& s = segments_[k];
		std::string name = segment_name(k);
		if (s.length >= opt_.segment_bytes) {
			// Retire: the record first, so the checker stops requiring the file, then unlink.
			append_record(Record{'D', name, 0, 0, 0});
			close(s.fd);
			if (unlink((opt_.dir + "/" + name).c_str()) != 0)
				die("unlink " + name);
			++s.number;
			open_segment(k, false);
			name = segment_name(k);
		}
		std::string chunk = chunk_content(name, s.chunks);
		write_all(s.fd, chunk, s.length, &rng_);
		if ((rng_ & 2 ? fsync(s.fd) : fdatasync(s.fd)) != 0)
			die("fsync " + name);
		s.length += chunk.size();
		++s.chunks;
		s.crc = static_cast<uint32_t>(crc32(s.crc, reinterpret_cast<const Bytef*>(chunk.data()), chunk.size()));
		append_record(Record{'A', name, s.chunks, s.length, s.crc});
	}

	Options opt_;
	int manifest_fd_ = -1;
	int ack_fd_ = -1;
	size_t manifest_end_ = 0;
	size_t records_ = 0;
	uint64_t rng_ = 0;
	std::vector<uint64_t> generation_;
	std::vector<Segment> segments_;
	struct Overwrite {
		std::vector<uint64_t> generation;  // per block, last synced
		int fd = -1;
	};
	std::vector<Overwrite> overwrites_;
};

void usage() {
	std::fprintf(stderr,
		     "usage: cfs_crashwork DIR --seed S [--ops N] [--replace-files N] [--append-files N]\n"
		     "                     [--overwrite-files N] [--segment-bytes B] [--ack FILE]\n"
		     "  Writes fsync'ed files and an fsync'ed manifest of them into DIR until killed\n"
		     "  (or for N operations); continues an existing DIR/.manifest. --ack FILE: the\n"
		     "  count of durable records, kept up to date in FILE outside the filesystem.\n");
}

bool number(const char* s, long min, long* out) {
	char* end;
	errno = 0;
	long v = std::strtol(s, &end, 0);
	if (errno || *end || end == s || v < min)
		return false;
	*out = v;
	return true;
}

}  // namespace

int main(int argc, char** argv) {
	Options o;
	for (int i = 1; i < argc; ++i) {
		std::string a = argv[i];
		long v;
		bool val = i + 1 < argc;
		if (a == "--seed" && val && number(argv[i + 1], 0, &v)) {
			o.seed = v, o.have_seed = true, ++i;
		} else if (a == "--ops" && val && number(argv[i + 1], 1, &v)) {
			o.ops = v, ++i;
		} else if (a == "--replace-files" && val && number(argv[i + 1], 0, &v) && v <= 1000) {
			o.replace_files = v, ++i;
		} else if (a == "--append-files" && val && number(argv[i + 1], 0, &v) && v <= 1000) {
			o.append_files = v, ++i;
		} else if (a == "--overwrite-files" && val && number(argv[i + 1], 0, &v) && v <= 1000) {
			o.overwrite_files = v, ++i;
		} else if (a == "--segment-bytes" && val && number(argv[i + 1], 1, &v)) {
			o.segment_bytes = v, ++i;
		} else if (a == "--ack" && val) {
			o.ack_path = argv[++i];
		} else if (a[0] != '-' && o.dir.empty()) {
			o.dir = a;
		} else {
			std::fprintf(stderr, "cfs_crashwork: bad argument '%s'\n", a.c_str());
			usage();
			return 2;
		}
	}
	struct stat st;
	if (o.dir.empty() || !o.have_seed || o.replace_files + o.append_files + o.overwrite_files == 0) {
		usage();
		return 2;
	}
	if (stat(o.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
		std::fprintf(stderr, "cfs_crashwork: %s is not a directory\n", o.dir.c_str());
		return 2;
	}
	Workload w(o);
	w.start();
	w.run();
	return 0;
}
