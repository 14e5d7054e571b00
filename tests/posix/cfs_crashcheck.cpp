// cfs_crashcheck DIR [--acked FILE]
//
// The verifying side of the crash loop: after cfs_crashwork DIR was killed (or the machine
// lost power) and the filesystem mounted again, checks that every state the manifest
// DIR/.manifest recorded as fsync'ed is still there:
//  - replace file r<k> recorded at generation G: the file holds one complete generation
//    G' >= G (a later generation may have become durable before its record), byte-exact;
//  - append file a<k>.<s> recorded at length L: its first L bytes are exactly the chunks
//    written; bytes past L (appended, fsync not confirmed) are the next chunks or zeros,
//    never other data;
//  - overwrite file o<k>: every block holds exactly its last fdatasync'ed generation, except
//    the one block whose rewrite was announced but not confirmed (old, new or torn);
//  - the manifest itself: only its last record may be torn;
//  - with --acked FILE (cfs_crashwork --ack FILE, kept outside the filesystem): the manifest
//    holds at least the records whose fsync returned. Without it, a manifest that lost its
//    tail together with the files it names would look complete.
// Prints one "LOSS ..." line per violation and a summary; exits 1 on any loss, 2 on bad usage.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "crash_manifest.h"

using namespace cfs_crash;

namespace {

bool read_file(const std::string& path, std::string* out, std::string* err) {
	int fd = open(path.c_str(), O_RDONLY);
	if (fd < 0) {
		*err = strerror(errno);
		return false;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		*err = strerror(errno);
		close(fd);
		return false;
	}
	out->assign(st.st_size, '\0');
	size_t done = 0;
	while (done < out->size()) {
		ssize_t n = pread(fd, out->data() + done, out->size() - done, done);
		if (n <= 0) {
			*err = n < 0 ? strerror(errno) : "short read";
			close(fd);
			return false;
		}
		done += n;
	}
	close(fd);
	return true;
}

size_t first_difference(const std::string& a, const std::string& b) {
	size_t i = 0;
	while (i < a.size() && i < b.size() && a[i] == b[i])
		++i;
	return i;
}

class Checker {
public:
	Checker(std::string dir, long acked) : dir_(std::move(dir)), acked_(acked) {}

	int run() {
		std::string text, err;
		if (!read_file(dir_ + "/" + kManifest, &text, &err)) {
			std::fprintf(stderr, "cfs_crashcheck: cannot read %s/%s: %s\n", dir_.c_str(), kManifest, err.c_str());
			return 2;
		}
		Manifest m = parse_manifest(text);
		if (!m.error.empty())
			loss(kManifest, m.error);
		if (acked_ >= 0 && m.records.size() < (size_t)acked_)
			loss(kManifest, std::to_string(acked_) + " records were acknowledged (their fsync returned) but only " +
						std::to_string(m.records.size()) + " are in the manifest: fsync'ed records lost");
		Requirements q = requirements(m);
		for (const auto& [name, record] : q.replace)
			check_replace(record);
		for (const auto& [name, record] : q.append)
			check_append(record);
		size_t in_flight = 0;
		for (const auto& [name, state] : q.overwrite) {
			check_overwrite(name, state);
			in_flight += state.pending.size();
		}
		// Rewrites happen one at a time and a restart completes an unfinished one first.
		if (in_flight > 1)
			loss(kManifest, std::to_string(in_flight) + " block rewrites announced and never completed; at most "
				       "one can be in flight (lost manifest records?)");
		check_unrecorded(m, q);
		std::string acked = acked_ >= 0 ? " (" + std::to_string(acked_) + " acknowledged)" : "";
		std::printf("cfs_crashcheck: %s: %zu manifest records%s (%zu torn tail bytes ignored); "
			    "%d replace files verified (%d at a newer generation than recorded); "
			    "%d append files verified (%zu unrecorded tail bytes); %d overwrite files verified (%d torn "
			    "block in flight); %d files not yet recorded; %d losses\n",
			    dir_.c_str(), m.records.size(), acked.c_str(), m.torn_tail_bytes, replace_ok_, replace_newer_, append_ok_,
			    tail_bytes_, overwrite_ok_, torn_in_flight_, unrecorded_, losses_);
		return losses_ ? 1 : 0;
	}

private:
	void loss(const std::string& name, const std::string& what) {
		++losses_;
		std::printf("LOSS %s: %s\n", name.c_str(), what.c_str());
	}

	void check_replace(const Record& r) {
		std::string content, err;
		if (!read_file(dir_ + "/" + r.name, &content, &err))
			return loss(r.name, "manifest promises generation " + std::to_string(r.count) + ", file unreadable: " + err);
		uint64_t gen = replace_generation(r.name, content);
		if (gen == 0)
			return loss(r.name, "manifest promises generation " + std::to_string(r.count) + ", file (" +
						    std::to_string(content.size()) + " bytes) has no valid header");
		if (gen < r.count)
			return loss(r.name, "manifest promises generation " + std::to_string(r.count) + ", file holds older generation " +
						    std::to_string(gen));
		// The writer records generation G before it starts G+1: anything newer means the
		// manifest itself lost fsync'ed records.
		if (gen > r.count + 1)
			return loss(r.name, "file holds generation " + std::to_string(gen) + " but the manifest ends at " +
						    std::to_string(r.count) + ": fsync'ed manifest records were lost");
		std::string want = replace_content(r.name, gen);
		if (content != want)
			return loss(r.name, "generation " + std::to_string(gen) + " is damaged: " + std::to_string(content.size()) +
						    " bytes (want " + std::to_string(want.size()) + "), first difference at offset " +
						    std::to_string(first_difference(want, content)));
		if (gen == r.count && (want.size() != r.length || crc(want) != r.content_crc))
			return loss(r.name, "manifest record does not match the generator (writer/checker version skew?)");
		++replace_ok_;
		if (gen > r.count)
			++replace_newer_;
	}

	void check_append(const Record& r) {
		std::string content, err;
		if (!read_file(dir_ + "/" + r.name, &content, &err))
			return loss(r.name, "manifest promises " + std::to_string(r.length) + " bytes, file unreadable: " + err);
		if (content.size() < r.length)
			return loss(r.name, "manifest promises " + std::to_string(r.length) + " bytes, file has " +
						    std::to_string(content.size()));
		std::string want = append_prefix(r.name, r.count);
		if (want.size() != r.length || crc(want) != r.content_crc)
			return loss(r.name, "manifest record does not match the generator (writer/checker version skew?)");
		std::string got = content.substr(0, r.length);
		if (got != want)
			return loss(r.name, "fsync'ed bytes damaged: first difference at offset " +
						    std::to_string(first_difference(want, got)) + " of " + std::to_string(r.length));
		// The unconfirmed tail: the writer's next chunks, or zeros (size became durable before
		// the data) — anything else is data the file never held.
		uint64_t chunks = r.count;
		while (want.size() < content.size())
			want += chunk_content(r.name, chunks++);
		for (size_t i = r.length; i < content.size(); ++i)
			if (content[i] != want[i] && content[i] != 0)
				return loss(r.name, "bytes past the fsync'ed length " + std::to_string(r.length) +
							    " are neither written data nor zeros (offset " + std::to_string(i) + ")");
		// Only one chunk is ever in flight past the last record.
		if (content.size() - r.length > chunk_length(r.name, r.count))
			return loss(r.name, std::to_string(content.size() - r.length) + " bytes past the recorded length, more than "
						    "the one chunk in flight: fsync'ed manifest records were lost");
		tail_bytes_ += content.size() - r.length;
		++append_ok_;
	}

	// Each block holds exactly its last synced generation, or, for the one block whose
	// rewrite was announced but not confirmed, the announced one or anything at all (an
	// in-place overwrite interrupted by a crash may be torn).
	void check_overwrite(const std::string& name, const Requirements::Overwrite& state) {
		std::string content, err;
		size_t want_size = state.generation.size() * kOverwriteBlock;
		if (!read_file(dir_ + "/" + name, &content, &err))
			return loss(name, "created with " + std::to_string(state.generation.size()) + " blocks, file unreadable: " + err);
		if (content.size() != want_size)
			return loss(name, "size " + std::to_string(content.size()) + ", never changes from " + std::to_string(want_size));
		int bad = 0;
		std::string first;
		for (uint64_t b = 0; b < state.generation.size(); ++b) {
			uint64_t gen = 0, synced = state.generation[b];
			auto pending = state.pending.find(b);
			bool valid = overwrite_block_generation(name, b, content.substr(b * kOverwriteBlock, kOverwriteBlock), &gen);
			if (pending != state.pending.end()) {
				if (valid && gen != synced && gen != pending->second && bad++ == 0)
					first = "block " + std::to_string(b) + " (rewrite in flight) holds generation " +
						std::to_string(gen) + ", neither " + std::to_string(synced) + " nor " +
						std::to_string(pending->second);
				torn_in_flight_ += !valid;
			} else if (!valid) {
				if (bad++ == 0)
					first = "block " + std::to_string(b) + " is damaged, synced generation " + std::to_string(synced);
			} else if (gen != synced && bad++ == 0) {
				first = "block " + std::to_string(b) + " holds generation " + std::to_string(gen) +
					", last synced " + std::to_string(synced) +
					(gen < synced ? " (fdatasync'ed overwrite lost)" : " (lost manifest records?)");
			}
		}
		if (bad)
			return loss(name, std::to_string(bad) + " bad blocks; first: " + first);
		++overwrite_ok_;
	}

	// Files the manifest never mentions may only be the first state in flight: generation 1
	// of a replace file, or the first chunk of the newest segment of an append slot.
	void check_unrecorded(const Manifest& m, const Requirements& q) {
		std::set<std::string> mentioned;
		for (const Record& r : m.records)
			mentioned.insert(r.name);
		DIR* dir = opendir(dir_.c_str());
		if (!dir)
			return loss(".", std::string("cannot list the directory: ") + strerror(errno));
		while (struct dirent* e = readdir(dir)) {
			std::string name = e->d_name;
			unsigned k = 0, seg = 0;
			char tail;
			if (mentioned.count(name))
				continue;
			if (std::sscanf(name.c_str(), "r%u%c", &k, &tail) == 1 && name == "r" + std::to_string(k)) {
				std::string content, err;
				if (!read_file(dir_ + "/" + name, &content, &err))
					loss(name, "unreadable: " + err);
				else if (replace_generation(name, content) != 1 || content != replace_content(name, 1))
					loss(name, "not in the manifest, so it must be a complete generation 1, and is not"
						   " (lost manifest records?)");
				++unrecorded_;
			} else if (std::sscanf(name.c_str(), "a%u.%u%c", &k, &seg, &tail) == 2 &&
				   name == "a" + std::to_string(k) + "." + std::to_string(seg)) {
				std::string slot = "a" + std::to_string(k);
				uint64_t newest = q.segment.count(slot) ? q.segment.at(slot) : 0;
				bool next_segment = q.segment.count(slot) ? seg == newest + 1 : seg == 0;
				std::string content, err;
				if (!next_segment)
					loss(name, "segment not in the manifest and not the next one of " + slot +
						   " (lost manifest records?)");
				else if (!read_file(dir_ + "/" + name, &content, &err))
					loss(name, "unreadable: " + err);
				else if (content.size() > chunk_length(name, 0))
					loss(name, "not in the manifest but holds " + std::to_string(content.size()) +
						   " bytes, more than its first chunk (lost manifest records?)");
				++unrecorded_;
			}
		}
		closedir(dir);
	}

	std::string dir_;
	long acked_;  // records acknowledged outside the filesystem, or -1: not known
	int unrecorded_ = 0;
	int overwrite_ok_ = 0;
	int torn_in_flight_ = 0;
	int losses_ = 0;
	int replace_ok_ = 0;
	int replace_newer_ = 0;
	int append_ok_ = 0;
	size_t tail_bytes_ = 0;
};

// The count cfs_crashwork --ack wrote: one decimal number, or an empty file (nothing
// acknowledged yet); -1 and a message if FILE is missing or holds anything else.
long read_acked(const char* path) {
	std::string text, err;
	if (!read_file(path, &text, &err)) {
		std::fprintf(stderr, "cfs_crashcheck: cannot read the acknowledged count %s: %s\n", path, err.c_str());
		return -1;
	}
	if (text.empty())
		return 0;
	char* end;
	errno = 0;
	long v = std::strtol(text.c_str(), &end, 10);
	if (errno || end == text.c_str() || (*end && *end != '\n') || v < 0) {
		std::fprintf(stderr, "cfs_crashcheck: %s does not hold a record count\n", path);
		return -1;
	}
	return v;
}

}  // namespace

int main(int argc, char** argv) {
	long acked = -1;
	if (argc == 4 && std::strcmp(argv[2], "--acked") == 0) {
		acked = read_acked(argv[3]);
		if (acked < 0)
			return 2;
	}
	if ((argc != 2 && acked < 0) || argv[1][0] == '-') {
		std::fprintf(stderr,
			     "usage: cfs_crashcheck DIR [--acked FILE]\n"
			     "  Verifies that every state DIR/.manifest records as fsync'ed survived a crash;\n"
			     "  with FILE (cfs_crashwork --ack), that no acknowledged record is missing.\n");
		return 2;
	}
	return Checker(argv[1], acked).run();
}
