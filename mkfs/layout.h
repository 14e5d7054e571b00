// mkfs.clusterfs's core: plan the layout of an empty filesystem, then write it through
// lib/env.h. Separate from the command line so unit tests and other tools (fsck's tests,
// benchmarks) can build images in-process.
#ifndef CLUSTERFS_MKFS_LAYOUT_H
#define CLUSTERFS_MKFS_LAYOUT_H

#include <cstdint>
#include <string>
#include <vector>

#include "clusterfs/format.h"

struct cfs_host;

namespace cfs::mkfs {

struct Params {
	uint32_t bsize = CFS_DEFAULT_BLOCK_SIZE;
	uint32_t journals = 1;
	uint32_t journal_mb = 0;  // 0: automatic (128 MiB, less on small devices)
	uint32_t rgrp_mb = 0;     // 0: automatic (256 MiB, less on small devices)
	std::string lockproto = CFS_LOCKPROTO_CLUSTER;
	std::string locktable;
	std::string label;
	uint8_t uuid[16] = {};
	uint8_t hash_key[16] = {};
	uint64_t dev_bytes = 0;
	int64_t now_sec = 0;
	uint32_t now_nsec = 0;
};

struct RgrpPlan {
	uint64_t addr;
	uint32_t length;  // header + bitmap blocks
	uint32_t data;    // data blocks
	uint32_t skip;    // to the next rgrp's header, 0 for the last
	uint32_t flags;
	uint32_t dinodes = 0, used = 0;  // filled by planning
	uint64_t next_generation = 1;
};

// A file mkfs creates: its dinode, data blocks (in file order) and pointer-tree blocks.
struct FilePlan {
	uint64_t ino = 0;
	uint64_t generation = 0;
	uint32_t mode = 0;
	uint32_t flags = 0;
	uint32_t nlink = 1;
	uint64_t size = 0;
	unsigned height = 0;
	std::vector<uint64_t> data;      // data blocks, file order (empty when stuffed)
	std::vector<std::vector<uint64_t>> levels;  // indirect blocks per level 1..height-1
	std::vector<uint8_t> content;    // stuffed content or jdata payload (jdata files)
	uint64_t parent = 0;             // directories
};

struct Plan {
	uint64_t blocks = 0;             // sb_blocks
	uint64_t sb_blkno = 0;
	uint32_t journal_blocks = 0;
	uint32_t journal_mb = 0;
	uint32_t rgrp_blocks = 0;        // nominal
	uint32_t rgrp_mb = 0;
	std::vector<RgrpPlan> rgrps;     // journal rgrps first
	FilePlan master, root, jindex, rindex, statfs;
	std::vector<FilePlan> journal_files, statfs_change;
	uint64_t total_data = 0, free_data = 0, dinodes = 0;
	uint64_t slack = 0;              // blocks after the last rgrp
};

// Computes the layout. Returns false with a one-sentence reason when the parameters
// cannot make a filesystem on this device.
bool plan(const Params &p, Plan *out, std::string *error);

// Writes the planned filesystem: erases the old superblock first, writes every rgrp,
// system file and journal header, syncs, then writes the superblock and syncs again, so
// an interrupted mkfs never leaves a valid superblock in front of a half-made
// filesystem. Every block goes through lib's write verifier. Returns 0 or -errno.
int write(cfs_host *host, const Params &p, const Plan &plan, std::string *error);

}  // namespace cfs::mkfs

#endif
