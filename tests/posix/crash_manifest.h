// What cfs_crashwork writes and cfs_crashcheck verifies: deterministic file contents and the
// fsync'ed manifest of durable states. See docs/posix-tests.md ("crash loop") for the
// guarantee being checked.
//
// Three kinds of files live in the work directory:
//  - replace files "r<k>": each generation G is written whole to "r<k>.tmp", fsync'ed,
//    renamed over "r<k>" and the directory fsync'ed (the careful-application pattern). The
//    content starts with a header line naming the file, generation and length, followed by
//    bytes derived from (name, G): any generation can be recognised and regenerated.
//  - append files "a<k>.<segment>": chunk i (bytes derived from (name, i)) is appended and
//    the file fsync'ed or fdatasync'ed. A full segment is retired (a "D" record, then
//    unlink) and the next segment created and its directory fsync'ed.
//  - overwrite files "o<k>": a fixed number of 4 KiB blocks, created whole (generation 0
//    of every block) and then rewritten in place one block at a time, each rewrite
//    announced by an intent record and followed by fdatasync or fsync (the database
//    pattern: no allocation, no size change, so no metadata forces the data out).
// After each fsync the manifest ".manifest" gets one record line, itself fsync'ed:
//    R <name> <generation> <length> <crc32 of the content> *<crc32 of the line so far>
//    A <name> <chunks> <length> <crc32 of the first length bytes> *<crc>
//    D <name> *<crc>
//    C <name> <blocks> <bytes> 00000000 *<crc>          overwrite file created
//    I <name> <generation> <block> 00000000 *<crc>      about to rewrite block
//    O <name> <generation> <block> <crc32 of the block> *<crc>   block rewritten, synced
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace cfs_crash {

inline constexpr const char* kManifest = ".manifest";

inline uint64_t mix(uint64_t z) {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

inline uint64_t name_hash(const std::string& name) {
	uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
	for (unsigned char c : name)
		h = (h ^ c) * 0x100000001b3ull;
	return h;
}

// Bytes derived only from (name, index): identical in the writer and the checker.
inline std::string derived_bytes(const std::string& name, uint64_t index, size_t len) {
	std::string s(len, '\0');
	uint64_t state = name_hash(name) ^ mix(index + 0x9e3779b97f4a7c15ull);
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = mix(state += 0x9e3779b97f4a7c15ull);
		memcpy(s.data() + i, &v, std::min<size_t>(8, len - i));
	}
	return s;
}

inline uint32_t crc(const std::string& s) {
	return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), s.size()));
}

// ---- replace files ------------------------------------------------------------------------

// Length of generation `gen` of replace file `name`: mostly small, sometimes multi-block.
inline size_t replace_length(const std::string& name, uint64_t gen) {
	uint64_t h = mix(name_hash(name) + gen * 7919);
	switch (h % 8) {
	case 0: return 64 + (h >> 8) % 64;  // smaller than any block: inline-data candidates
	case 1: return 4096;
	case 2: return 512 * 1024 + (h >> 8) % 4096;
	default: return 100 + (h >> 8) % 65536;
	}
}

inline std::string replace_header(const std::string& name, uint64_t gen, size_t len) {
	char buf[96];
	std::snprintf(buf, sizeof buf, "cfs-crash %s gen %" PRIu64 " len %zu\n", name.c_str(), gen, len);
	return buf;
}

inline std::string replace_content(const std::string& name, uint64_t gen) {
	size_t len = replace_length(name, gen);
	std::string s = replace_header(name, gen, len);
	s += derived_bytes(name, gen, len);
	return s;
}

// The generation a replace file's content claims, or 0 if the header is not valid.
inline uint64_t replace_generation(const std::string& name, const std::string& content) {
	char fname[64];
	uint64_t gen = 0;
	size_t len = 0;
	if (std::sscanf(content.c_str(), "cfs-crash %63s gen %" SCNu64 " len %zu\n", fname, &gen, &len) != 3 ||
	    name != fname)
		return 0;
	return gen;
}

// ---- append files -------------------------------------------------------------------------

inline size_t chunk_length(const std::string& name, uint64_t index) {
	uint64_t h = mix(name_hash(name) * 31 + index);
	return h % 4 == 0 ? 4096 * (1 + (h >> 8) % 8) : 1 + (h >> 8) % 9000;  // aligned and ragged
}

inline std::string chunk_content(const std::string& name, uint64_t index) {
	return derived_bytes(name, index | (1ull << 63), chunk_length(name, index));
}

// The first `chunks` chunks of an append file, concatenated.
inline std::string append_prefix(const std::string& name, uint64_t chunks) {
	std::string s;
	for (uint64_t i = 0; i < chunks; ++i)
		s += chunk_content(name, i);
	return s;
}

// ---- overwrite files ------------------------------------------------------------------------

inline constexpr size_t kOverwriteBlock = 4096;

inline std::string overwrite_header(const std::string& name, uint64_t block, uint64_t gen) {
	char buf[96];
	std::snprintf(buf, sizeof buf, "cfs-crash %s block %" PRIu64 " gen %" PRIu64 "\n", name.c_str(), block, gen);
	return buf;
}

inline std::string overwrite_block(const std::string& name, uint64_t block, uint64_t gen) {
	std::string s = overwrite_header(name, block, gen);
	s += derived_bytes(name, (block << 40) ^ gen ^ (1ull << 62), kOverwriteBlock - s.size());
	return s;
}

// The generation a block of an overwrite file holds, if it is one whole, valid generation.
inline bool overwrite_block_generation(const std::string& name, uint64_t block, const std::string& bytes,
				       uint64_t* gen) {
	char fname[64];
	uint64_t b = 0;
	if (std::sscanf(bytes.c_str(), "cfs-crash %63s block %" SCNu64 " gen %" SCNu64 "\n", fname, &b, gen) != 3 ||
	    name != fname || b != block)
		return false;
	return bytes == overwrite_block(name, block, *gen);
}

// ---- the manifest -------------------------------------------------------------------------

struct Record {
	char kind = 0;  // 'R', 'A', 'D', 'C', 'I' or 'O'
	std::string name;
	uint64_t count = 0;  // generation (R) or chunks (A)
	uint64_t length = 0;
	uint32_t content_crc = 0;
};

inline std::string format_record(const Record& r) {
	char buf[160];
	if (r.kind == 'D')
		std::snprintf(buf, sizeof buf, "D %s ", r.name.c_str());
	else
		std::snprintf(buf, sizeof buf, "%c %s %" PRIu64 " %" PRIu64 " %08x ", r.kind, r.name.c_str(), r.count,
			      r.length, r.content_crc);
	std::string line = buf;
	char tail[16];
	std::snprintf(tail, sizeof tail, "*%08x\n", crc(line));
	return line + tail;
}

inline bool parse_record(const std::string& line, Record* r) {
	size_t star = line.rfind('*');
	if (star == std::string::npos || line.size() != star + 10)
		return false;
	unsigned line_crc;
	if (std::sscanf(line.c_str() + star, "*%8x", &line_crc) != 1 || line_crc != crc(line.substr(0, star)))
		return false;
	char kind, name[64];
	if (std::sscanf(line.c_str(), "%c %63s", &kind, name) != 2)
		return false;
	r->kind = kind;
	r->name = name;
	if (kind == 'D')
		return true;
	unsigned content_crc;
	if (!std::strchr("RACIO", kind) ||
	    std::sscanf(line.c_str(), "%*c %*s %" SCNu64 " %" SCNu64 " %8x", &r->count, &r->length, &content_crc) != 3)
		return false;
	r->content_crc = content_crc;
	return true;
}

// The manifest split into records. Only the last line may be torn (written but its fsync
// never returned); an invalid line before a valid one means fsync'ed data was lost.
struct Manifest {
	std::vector<Record> records;
	size_t valid_bytes = 0;	     // end of the last valid record
	size_t torn_tail_bytes = 0;  // bytes after it, ignored
	std::string error;	     // non-empty: a record before the end is damaged
};

inline Manifest parse_manifest(const std::string& text) {
	Manifest m;
	size_t pos = 0;
	while (pos < text.size()) {
		size_t nl = text.find('\n', pos);
		Record r;
		if (nl == std::string::npos || !parse_record(text.substr(pos, nl + 1 - pos), &r)) {
			// Torn tail is fine only if nothing valid follows it.
			size_t next = nl == std::string::npos ? text.size() : nl + 1;
			for (size_t p = next; p < text.size();) {
				size_t n2 = text.find('\n', p);
				Record later;
				if (n2 != std::string::npos && parse_record(text.substr(p, n2 + 1 - p), &later)) {
					m.error = "manifest record at byte " + std::to_string(pos) +
						  " is damaged but valid records follow it";
					break;
				}
				p = n2 == std::string::npos ? text.size() : n2 + 1;
			}
			m.torn_tail_bytes = text.size() - pos;
			// Records are appended one at a time, each fsync'ed before the next is written:
			// at most one (the last, unconfirmed) can be torn.
			size_t newlines = std::count(text.begin() + pos, text.end(), '\n');
			if (m.error.empty() && newlines > 1)
				m.error = "manifest tail from byte " + std::to_string(pos) + " holds " +
					  std::to_string(newlines) + " damaged records; only the last one may be torn";
			return m;
		}
		m.records.push_back(r);
		pos = nl + 1;
		m.valid_bytes = pos;
	}
	return m;
}

// What the manifest requires of the directory now: the last record of each live file.
struct Requirements {
	std::map<std::string, Record> replace;	// name -> newest R record
	std::map<std::string, Record> append;	// name -> newest A record (not retired)
	std::map<std::string, uint64_t> segment;  // "a<k>" -> newest segment number seen
	struct Overwrite {
		std::vector<uint64_t> generation;	  // per block, last synced (O) generation
		std::map<uint64_t, uint64_t> pending;  // block -> generation announced (I), not yet synced
	};
	std::map<std::string, Overwrite> overwrite;  // name -> state, once created (C)
};

inline Requirements requirements(const Manifest& m) {
	Requirements q;
	for (const Record& r : m.records) {
		if (r.kind == 'R') {
			q.replace[r.name] = r;
		} else if (r.kind == 'A') {
			q.append[r.name] = r;
		} else if (r.kind == 'D') {
			q.append.erase(r.name);
		} else if (r.kind == 'C') {
			q.overwrite[r.name].generation.assign(r.count, 0);
		} else if (q.overwrite.count(r.name) && r.length < q.overwrite[r.name].generation.size()) {
			Requirements::Overwrite& o = q.overwrite[r.name];
			if (r.kind == 'I') {
				o.pending[r.length] = r.count;
			} else {  // 'O'
				o.generation[r.length] = r.count;
				if (o.pending.count(r.length) && o.pending[r.length] == r.count)
					o.pending.erase(r.length);
			}
		}
		if (r.kind == 'A' || r.kind == 'D') {
			size_t dot = r.name.find('.');
			uint64_t seg = std::strtoull(r.name.c_str() + dot + 1, nullptr, 10);
			std::string slot = r.name.substr(0, dot);
			if (!q.segment.count(slot) || q.segment[slot] < seg)
				q.segment[slot] = seg;
		}
	}
	return q;
}

}  // namespace cfs_crash
