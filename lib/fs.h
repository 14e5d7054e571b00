// The per-filesystem context (Fs), the superblock, and metadata buffer I/O with
// verification. Everything in lib/ takes an Fs*; lib has no globals.
//
// Locking: lib takes no lock. The caller serialises access to an Fs's mutable parts
// (kernel: the glocks and the locks named in each header; tools: single-threaded).
#ifndef CLUSTERFS_LIB_FS_H
#define CLUSTERFS_LIB_FS_H

#include <cstdint>

#include "clusterfs/format.h"
#include "endian.h"
#include "env.h"
#include "errors.h"
#include "verify.h"

namespace cfs {

using Buf = ::cfs_buf;

struct Rgrp;

struct RgrpTable {
	Rgrp *rgrps;     // sorted by address; allocated with cfs_env_alloc
	uint32_t count;
};

struct Fs {
	cfs_host *host;
	uint32_t bsize;          // block size in bytes
	uint32_t bsize_shift;    // log2(bsize)
	uint64_t blocks;         // sb_blocks
	uint64_t sb_blkno;       // CFS_SB_OFFSET / bsize
	uint32_t inline_size;    // CFS_INLINE_SIZE(bsize)
	uint32_t dinode_ptrs;    // CFS_DINODE_PTRS(bsize)
	uint32_t indirect_ptrs;  // CFS_INDIRECT_PTRS(bsize)
	uint32_t jd_payload;     // CFS_JD_PAYLOAD(bsize)
	uint32_t ld_slots;       // CFS_LD_SLOTS(bsize)
	uint8_t uuid[16];
	cfs_sb sb;               // the verified superblock (on-disk byte order)
	RgrpTable rgrps;         // loaded by rgrp_table_load (rgrp.h)
	uint32_t rgrp_hint;      // index of the rgrp the last allocation used
	// statfs accounting (statfs.h): the statfs-change file of this node's journal slot,
	// set by the mounting host; 0 (tools owning the whole fs) sends the allocator's
	// count changes to the global statfs file directly.
	uint64_t statfs_local_ino;
	cfs_spin *statfs_lock;   // optional, created by a multi-threaded host
	// Optional: told of every run of blocks rgrp_free made free, after the bitmap changed
	// and before the transaction commits (kernel `discard`: the blocks may be discarded
	// once that transaction is in the log, never before).
	void (*blocks_freed)(void *ctx, uint64_t first, uint32_t count) = nullptr;
	void *blocks_freed_ctx = nullptr;
	// Optional (cluster mounts, where each resource group has its own lock): whether the
	// running transaction may change resource group `index` (the host locked it before
	// the transaction began). Without it every group may be changed. rgrp.h says what
	// each allocator call does with a group it may not change.
	bool (*rgrp_allowed)(void *ctx, uint32_t index) = nullptr;
	void *rgrp_allowed_ctx = nullptr;
	// Set when an operation stopped (or refused to start) because it must free a block
	// in a group it may not change: that block, so that the host locks its group and
	// calls again. 0: none. The host clears it.
	uint64_t rgrp_wanted = 0;
	// Optional: the time of the operation in progress, set by a host around it. Every
	// timestamp lib stamps meanwhile (a new inode's four times, ctime, a directory's
	// mtime) is this one, so one operation never shows two times (fs_now).
	const cfs_timespec *op_time = nullptr;

	VerifyCtx verify_ctx() const { return VerifyCtx{bsize, blocks, uuid}; }
};

// "Now" for a timestamp: the operation's time (op_time) when the host set one, else
// the host's clock.
void fs_now(Fs *fs, cfs_timespec *now);

// Fills the geometry fields of *fs for a block size (1024, 2048 or 4096); -EINVAL else.
int fs_set_geometry(Fs *fs, uint32_t bsize);

// Reads the superblock at byte CFS_SB_OFFSET through cfs_env_dev_read, verifies it
// (CRC included) and its feature flags, sets the host's block size and fills *fs
// (rgrps not loaded). Messages about a bad superblock go to cfs_env_log.
// -CFS_EINVAL: not a clusterfs superblock (bad magic or type: "no filesystem here");
// -CFS_EUCLEAN / -CFS_EBADMSG: a damaged one; -CFS_EOPNOTSUPP: unsupported version or
// incompatible features (*ro_only set instead for unknown ro_compat features).
int fs_open(cfs_host *host, Fs *fs, bool *ro_only);

// Frees what fs_open and rgrp_table_load allocated.
void fs_close(Fs *fs);

// Lock protocol and lock table validation (mkfs, tune, mount). Returns nullptr when
// valid, else a sentence saying what is wrong. A table is "cluster:fsname" with
// cluster 1..CFS_CLUSTERNAME_MAX and fsname 1..CFS_FSNAME_MAX characters from
// [A-Za-z0-9_-]; it may be empty only with lock_nolock.
const char *locktable_problem(const char *proto, const char *table);

// ---- Metadata buffers --------------------------------------------------------------

inline void *buf_data(Buf *b) { return cfs_env_buf_data(b); }
inline uint64_t buf_blkno(const Buf *b) { return cfs_env_buf_blkno(b); }

// Reads block `blkno` expecting `type` (and `owner` when nonzero) and verifies it: the
// header on every call, the whole block (CRC and structure) once per read from the
// device. On failure logs "block N (type): check failed at offset X", invalidates the
// cached copy and returns the verifier's error; -CFS_ERANGE if blkno is outside the fs.
int meta_read(Fs *fs, uint64_t blkno, uint16_t type, uint64_t owner, Buf **out);

// A zeroed buffer for newly allocated block `blkno`, with its header filled in (magic,
// type, format, blkno, owner, uuid). The caller fills the body; meta_seal before write.
int meta_new(Fs *fs, uint64_t blkno, uint16_t type, uint64_t owner, Buf **out);

// Fills a metadata header in place (for blocks built outside the buffer cache, e.g. mkfs).
void meta_header_init(const Fs *fs, void *block, uint64_t blkno, uint16_t type, uint64_t owner);

void meta_release(Fs *fs, Buf *b);

// Runs the write verifier on a block about to be written or logged and, if it passes,
// stores its CRC. A failure means lib built a bad block: it is logged and returned, and
// the block must not reach the disk.
int meta_seal(Fs *fs, void *block, uint64_t blkno);

// meta_seal + cfs_env_buf_write (in-place write; completion through cfs_env_sync).
int meta_write(Fs *fs, Buf *b);

// ---- System files --------------------------------------------------------------------

// Reads bytes [off, off+len) of the content of a jdata system file (rindex, jindex,
// statfs files, any CFS_DIF_JDATA file) into dst, verifying every block on the way.
// Read-only and allocation-free, so mount can load the rindex before anything else.
// -CFS_EUCLEAN if the range is past di_size or the tree is malformed.
int jdata_read(Fs *fs, uint64_t ino, uint64_t off, void *dst, uint32_t len);

}  // namespace cfs

#endif
