// Resource groups: the rgrp table (from the rindex), the 2-bit block bitmaps, and the
// block allocator (find free runs, allocate near a goal, free) with per-rgrp counts.
//
// Bitmap semantics (format.h): data block ri_data0 + i has state bits at byte i / 4,
// bits 2 * (i % 4); the bytes are spread over the header block (from offset 128) and the
// bitmap blocks (from offset 64).
//
// Every allocation or free also changes the statfs counts (statfs.h): one more buffer
// (the node's statfs-change dinode) joins the transaction.
//
// Locking: lib takes no lock. The caller holds the resource group exclusively while
// allocating or freeing in it (kernel: the rgrp glock in EX plus a local mutex; tools:
// single-threaded). The allocator adds every rgrp buffer it changes to the caller's
// transaction (trans_add_buf) before changing it.
//
// A host that locks groups one by one tells lib which ones the running transaction may
// change (Fs::rgrp_allowed). rgrp_alloc then allocates only in those; a free or state
// change elsewhere is refused with -CFS_EDEADLK (the host's bug: it did not lock what
// the operation changes). Operations that free in bounded steps (bmap_punch,
// inode_free, dir_free_leaves) check first: they stop before a block whose group they
// may not change, report it in Fs::rgrp_wanted and leave the work undone, so that the
// host locks that group and runs the next step. Operations that free one known block
// (xattr removal) refuse with -CFS_EAGAIN and rgrp_wanted before changing anything.
#ifndef CLUSTERFS_LIB_RGRP_H
#define CLUSTERFS_LIB_RGRP_H

#include <cstdint>

#include "fs.h"

namespace cfs {

struct Trans;

// One resource group as the rindex describes it (CPU byte order).
struct Rgrp {
	uint64_t addr;       // header block
	uint64_t data0;      // first data block
	uint32_t length;     // header + bitmap blocks
	uint32_t data;       // data blocks
	uint32_t bitbytes;   // bitmap bytes
	uint32_t flags;      // rg_flags as last read (CFS_RGF_*)
	uint32_t free;       // rg_free as last read or changed by lib
	uint32_t dinodes;    // rg_dinodes as last read or changed by lib
};

// ---- Pure bitmap helpers over one contiguous byte array (testable without a device) --

unsigned bitmap_get(const uint8_t *bitmap, uint32_t index);
void bitmap_set(uint8_t *bitmap, uint32_t index, unsigned state);

// First index in [start, end) whose state is `state`, or `end` if none. Skips whole
// 64-bit words that cannot match.
uint32_t bitmap_find(const uint8_t *bitmap, uint32_t start, uint32_t end, unsigned state);

// Number of consecutive blocks from `start` (< end) in `state`, at most `max`.
uint32_t bitmap_run(const uint8_t *bitmap, uint32_t start, uint32_t end, unsigned state,
		    uint32_t max);

// Counts of each state over [0, nblocks): counts[CFS_BLKST_*].
void bitmap_count(const uint8_t *bitmap, uint32_t nblocks, uint32_t counts[4]);

// Where a resource group's bitmap byte `byte` lives: block index (0 = header) within the
// rgrp's metadata blocks and offset within that block.
void rgrp_bitmap_locate(uint32_t bsize, uint32_t byte, uint32_t *block_index, uint32_t *offset);

// Header + bitmap blocks needed for `data` data blocks.
uint32_t rgrp_length_for(uint32_t bsize, uint32_t data);

// ---- The rgrp table ----------------------------------------------------------------

// Loads the rgrp table from the rindex system file (sb_rindex_addr) and checks it:
// sorted, non-overlapping, inside the device, consistent lengths. Replaces fs->rgrps.
// Reads no rgrp header: flags/free/dinodes stay 0 until rgrp_refresh (or an
// allocation in that rgrp) reads it, so mounting a large filesystem costs one rindex
// read, not one read per rgrp.
int rgrp_table_load(Fs *fs);

// Builds fs->rgrps from an array of on-disk rindex entries (mkfs, fsck rebuilding).
int rgrp_table_from_rindex(Fs *fs, const cfs_rindex *entries, uint32_t count);

void rgrp_table_free(Fs *fs);

// The resource group whose data blocks contain `blkno`, or nullptr.
Rgrp *rgrp_of_block(Fs *fs, uint64_t blkno);

// Reads and verifies the rgrp header and refreshes rg->flags/free/dinodes.
int rgrp_refresh(Fs *fs, Rgrp *rg);

// State of block `blkno` (a data block of some rgrp); -CFS_ERANGE if it is in none.
int block_state(Fs *fs, uint64_t blkno);

// ---- Allocation --------------------------------------------------------------------

// Whether the running transaction may change the group of block `blkno` (true without
// an Fs::rgrp_allowed hook, and for a block in no group: the change itself reports that).
bool rgrp_may_change(Fs *fs, uint64_t blkno);

// rgrp_may_change, recording `blkno` in Fs::rgrp_wanted when it may not.
bool rgrp_check_wanted(Fs *fs, uint64_t blkno);

// Where allocations without a goal start: the mounting host calls this with its journal
// slot so nodes begin in different resource groups (slot i of n starts i/n of the way
// through the table) instead of all contending for the first one.
void rgrp_spread_start(Fs *fs, uint32_t slot, uint32_t slots);

// Allocates up to `want` (>= 1) contiguous blocks in `state` (CFS_BLKST_USED or
// CFS_BLKST_DINODE; DINODE allocates exactly one), starting the search at `goal` (a
// block number; 0: the rgrp used last) and moving forward through the rgrps, wrapping
// once. Takes the first free run found at or after the goal in the goal's rgrp,
// preferring a run of `want` blocks within that rgrp if one exists. Skips rgrps with
// CFS_RGF_JOURNAL/CFS_RGF_NOALLOC or no free block, and groups the transaction may not
// change (Fs::rgrp_allowed), without reading them. On success *first, *got (1..want).
// Updates rg_free, rg_dinodes (and rg_igeneration's successor in *generation for a
// dinode when generation is non-null). -CFS_ENOSPC when no rgrp has a free block.
int rgrp_alloc(Fs *fs, Trans *tr, uint64_t goal, uint32_t want, unsigned state,
	       uint64_t *first, uint32_t *got, uint64_t *generation);

// Frees `count` blocks from `first` (all in one rgrp, none free already: -CFS_EUCLEAN
// otherwise, naming the block). Updates the counts.
int rgrp_free(Fs *fs, Trans *tr, uint64_t first, uint32_t count);

// Calls `visit` for every run of free blocks of length >= minlen (>= 1) among the data
// blocks [first, end) of resource group `rg`, in block order; a run is clipped to the
// range. Reads (and verifies) the bitmap; changes nothing. The caller excludes
// allocation and freeing in `rg` for the duration, as for rgrp_alloc. A non-zero return
// of `visit` stops the walk and is returned.
int rgrp_free_runs(Fs *fs, Rgrp *rg, uint64_t first, uint64_t end, uint32_t minlen,
		   int (*visit)(void *ctx, uint64_t first, uint32_t count), void *ctx);

// Changes one block's state (DINODE <-> UNLINKED, for unlink of an open file), with
// the counts.
int rgrp_set_state(Fs *fs, Trans *tr, uint64_t blkno, unsigned state);

}  // namespace cfs

#endif
