// A read-mostly view of a clusterfs device for the offline tools (fsck.clusterfs,
// clusterfs_tool): pread/pwrite on a descriptor, the verified superblock, the rgrp
// table, the journal index, and bounded walks of dinode pointer trees.
//
// Unlike lib's mount path (fs_open, meta_read), nothing here trusts what it reads: every
// pointer is range-checked, every loop is bounded by the device size, and a failure is
// returned as a sentence saying which structure is wrong and why, so that fsck can
// report it and carry on, and the tool can print it. Format checks themselves are lib's
// verifiers (lib/verify.h); this file only adds the cross-block ones.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "clusterfs/format.h"
#include "rgrp.h"
#include "verify.h"

namespace fsck {

using Block = std::vector<uint8_t>;

// One rgrp as the rindex describes it, with the index it has there.
struct RgrpInfo {
	uint32_t index;
	cfs::Rgrp rg;  // addr, data0, length, data, bitbytes (counts filled from the header)
	uint32_t unlinked;
	uint64_t igeneration;
	uint32_t skip;
	bool header_ok;          // the header block passed its verifier
	std::string header_problem;
};

struct JournalInfo {
	uint32_t slot;
	cfs_jindex entry;  // CPU byte order
};

// The result of reading a metadata block: the bytes, and why it was rejected if it was.
struct MetaRead {
	bool io_ok = false;    // the block could be read at all
	bool valid = false;    // io_ok and it passed its verifier (CRC included)
	int error = 0;         // verifier error (-CFS_EBADMSG: CRC, -CFS_EUCLEAN: structure)
	cfs::VerifyFailure failure{};
	std::string problem;   // "block 1234 (dinode): crc mismatch at offset 4"
};

class FsImage {
public:
	FsImage(int fd, bool writable) : fd_(fd), writable_(writable) {}

	// Reads and verifies the superblock; fills geometry. On failure returns false and
	// sets *why to what an administrator needs to know ("no clusterfs superblock at byte
	// 65536", "superblock CRC mismatch", "device is 12 MiB, superblock says 64 MiB").
	bool open_superblock(std::string *why);

	// Reads the rindex through its dinode; checks every entry against the device and
	// its neighbours. Returns false (with *why) if the table cannot be used at all.
	bool load_rgrps(std::string *why);
	// Reads the jindex; false (with *why) if it cannot be read.
	bool load_journals(std::string *why);

	// ---- raw I/O ----
	uint64_t device_bytes() const { return dev_bytes_; }
	bool read_block(uint64_t blkno, Block *out) const;
	bool write_block(uint64_t blkno, const Block &data);  // false if not writable / I/O error
	bool writable() const { return writable_; }
	int fd() const { return fd_; }

	// Reads `blkno` expecting `type` (owner checked when nonzero), CRC and verifier.
	MetaRead read_meta(uint64_t blkno, uint16_t type, uint64_t owner, Block *out) const;
	// Re-seals (CRC) a metadata block changed by a repair and writes it. Runs the type's
	// verifier first: a repair never writes a block the kernel would reject.
	bool write_meta(uint64_t blkno, Block *data, std::string *why);

	// ---- geometry ----
	uint32_t bsize() const { return bsize_; }
	uint64_t blocks() const { return blocks_; }
	uint64_t sb_blkno() const { return CFS_SB_OFFSET / bsize_; }
	const cfs_sb &sb() const { return sb_; }
	const uint8_t *uuid() const { return sb_.sb_header.mh_uuid; }
	cfs::VerifyCtx verify_ctx() const { return {bsize_, blocks_, uuid()}; }
	uint32_t dinode_ptrs() const { return CFS_DINODE_PTRS(bsize_); }
	uint32_t indirect_ptrs() const { return CFS_INDIRECT_PTRS(bsize_); }
	uint32_t jd_payload() const { return CFS_JD_PAYLOAD(bsize_); }

	const std::vector<RgrpInfo> &rgrps() const { return rgrps_; }
	std::vector<RgrpInfo> &rgrps() { return rgrps_; }
	const std::vector<JournalInfo> &journals() const { return journals_; }
	// Index in rgrps() of the rgrp whose data blocks contain blkno, or -1.
	int rgrp_index_of(uint64_t blkno) const;

	// Reads an rgrp's whole bitmap (bitbytes bytes) into *bits. Blocks that fail
	// verification are reported in *problems and read as they are.
	bool read_bitmap(const RgrpInfo &rg, std::vector<uint8_t> *bits,
	                 std::vector<std::string> *problems) const;
	// Writes a whole bitmap back, resealing each block it spans.
	bool write_bitmap(const RgrpInfo &rg, const std::vector<uint8_t> &bits, std::string *why);

	// ---- files ----
	// One block of a pointer tree: level 1..height-1 = indirect, height = data/jdata.
	struct TreeBlock {
		uint64_t blkno;
		unsigned level;
		uint64_t parent;      // block holding the pointer (the dinode or an indirect)
		uint32_t slot;        // index of the pointer in its parent
		uint64_t file_block;  // first file block mapped under this pointer
	};
	// Walks every pointer of dinode `ino` (whose verified block is `dinode`). Indirect
	// blocks are read and verified; one that fails is reported through `bad` and its
	// subtree skipped. `visit` returns false to stop. Pointers outside the filesystem are
	// reported through `bad` without being followed. Bounded: each level's fan-out is
	// fixed and height <= CFS_MAX_HEIGHT.
	void walk_tree(uint64_t ino, const Block &dinode,
	               const std::function<bool(const TreeBlock &)> &visit,
	               const std::function<void(const TreeBlock &, const std::string &)> &bad) const;

	// Maps file block `lblock` of a file of the given height through its tree; 0 = hole
	// or unreadable (*why set for unreadable).
	uint64_t map_block(uint64_t ino, const Block &dinode, uint64_t lblock,
	                   std::string *why) const;
	// Reads bytes [off, off+len) of a file's content: inline when stuffed, else through
	// the tree (jdata payloads for JDATA files). Holes read as zeros. False with *why if
	// a block on the way is unreadable or fails its verifier.
	bool read_file(uint64_t ino, const Block &dinode, uint64_t off, uint64_t len,
	               std::vector<uint8_t> *out, std::string *why) const;

	// ---- directories ----
	struct Dirent {
		std::string name;
		uint64_t ino;
		uint64_t generation;
		uint32_t hash;
		uint8_t type;
		uint64_t block;         // block holding the entry (the dinode, or a leaf)
		uint32_t offset;        // byte offset of the entry in that block
		uint32_t prev_offset;   // offset of the previous record of its chain, or kNoPrev
		// Hashed directories: the table slots [slot_first, slot_first + slot_count)
		// that lead to the entry's leaf chain (its hash must select one of them).
		uint32_t slot_first;
		uint32_t slot_count;
		uint32_t depth;         // di_depth of the directory (0: linear)
	};
	static constexpr uint32_t kNoPrev = UINT32_MAX;
	struct DirWalk {
		uint64_t entries = 0;            // used entries seen
		std::vector<uint64_t> leaves;    // leaf blocks of a hashed directory
		std::vector<uint64_t> table_blocks;  // jdata blocks holding its hash table
	};
	// Visits every used entry of directory `ino`. Structural problems (a leaf that
	// fails its verifier, a record chain that does not add up, a hash table whose slots
	// do not match the leaves' depths, a leaf chain loop) go to `bad` with the block
	// concerned; what can still be read is visited. `visit` returns false to stop.
	void walk_dir(uint64_t ino, const Block &dinode,
	              const std::function<bool(const Dirent &)> &visit,
	              const std::function<void(uint64_t block, const std::string &)> &bad,
	              DirWalk *summary) const;

private:
	void walk_dirent_area(uint64_t ino, const Block &block, uint64_t blkno, uint32_t start,
	                      const Dirent &proto, const std::function<bool(const Dirent &)> &visit,
	                      const std::function<void(uint64_t, const std::string &)> &bad,
	                      DirWalk *summary, bool *stop) const;

	int fd_;
	bool writable_;
	uint64_t dev_bytes_ = 0;
	uint32_t bsize_ = 0;
	uint64_t blocks_ = 0;
	cfs_sb sb_{};
	std::vector<RgrpInfo> rgrps_;
	std::vector<JournalInfo> journals_;
};

// "dinode", "indirect", ... for messages.
const char *type_name(uint16_t type);
// Hexdump lines "000000  43 4c 46 53 ...  |CLFS....|" of [0, len).
std::string hexdump(const uint8_t *data, size_t len);

// Field access on raw blocks in CPU order.
inline const cfs_dinode *as_dinode(const Block &b)
{
	return reinterpret_cast<const cfs_dinode *>(b.data());
}
inline cfs_dinode *as_dinode(Block &b) { return reinterpret_cast<cfs_dinode *>(b.data()); }

}  // namespace fsck
