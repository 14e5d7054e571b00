// Block map: file block -> disk block, through a GFS2-style height-based pointer tree.
//
// A dinode of height 0 is "stuffed": its bytes live in the dinode's inline area and it
// owns no other block. Height h >= 1: the dinode's pointer array holds ptrs_in_dinode
// pointers; each of the h-1 levels below is made of indirect blocks holding
// ptrs_per_indirect pointers; the pointers of the last level address data blocks. A zero
// pointer is a hole (the whole subtree under it is unallocated).
//
// Locking: the caller holds the inode exclusively for anything taking a Trans (kernel:
// i_rwsem + the inode glock in EX; tools: single-threaded), at least shared for lookups,
// and the resource-group locks the allocator needs. lib takes no lock itself.
//
// Data blocks are not lib's business: bmap maps them, allocates them and frees them,
// but the caller reads and writes their contents (kernel: iomap + bios; userspace tools:
// lib/user's data helpers). Ordered mode: the caller writes new data blocks before the
// transaction that points at them commits.
#ifndef CLUSTERFS_LIB_BMAP_H
#define CLUSTERFS_LIB_BMAP_H

#include "inode.h"

namespace cfs {

struct Trans;

// Tree geometry of one filesystem (derived from the block size only).
struct BmapGeometry {
	static constexpr unsigned kMaxHeight = 10;
	uint32_t ptrs_in_dinode;     // pointers in the dinode's pointer array
	uint32_t ptrs_per_indirect;  // pointers in one indirect block
	unsigned max_height;         // smallest height that maps every 64-bit byte offset
	// blocks_at_height[h]: file blocks mappable by a tree of height h (saturates at
	// UINT64_MAX). blocks_at_height[0] is 0: stuffed files own no data block.
	uint64_t blocks_at_height[kMaxHeight + 1];
};

// Geometry for a block size; ptrs_in_dinode / ptrs_per_indirect come from format.h.
void bmap_geometry_init(BmapGeometry *geom, uint32_t block_size);

// Height a file needs so that file block `last_block` is mappable.
unsigned bmap_height_for_block(const BmapGeometry *geom, uint64_t last_block);

// The per-level indices (metapath) of file block `lblock` in a tree of `height`:
// path[0] indexes the dinode's array, path[height-1] the last indirect level.
void bmap_metapath(const BmapGeometry *geom, uint64_t lblock, unsigned height,
		   uint32_t path[BmapGeometry::kMaxHeight]);

// One mapping, iomap-style: `count` file blocks from the requested one are either all
// mapped to disk blocks disk_block .. disk_block+count-1, or all a hole (disk_block 0).
struct BmapExtent {
	uint64_t disk_block;  // 0: hole
	uint64_t count;       // >= 1
	bool fresh;           // allocated by this call: contents undefined until written
};

// Looks up file block `lblock`, up to `max_count` blocks (>= 1). Never allocates.
// A stuffed inode reports a hole of max_count blocks: its data is inline (inode.h).
[[nodiscard]] int bmap_lookup(Fs *fs, const Inode *ip, uint64_t lblock, uint64_t max_count,
			      BmapExtent *out);

// Maps file block `lblock`, allocating data blocks for a hole (up to max_count, and
// fewer when the allocator returns a shorter run) plus any missing indirect blocks, and
// growing the tree. Already-mapped blocks are returned as with bmap_lookup. The inode
// must not be stuffed with data (call inode_unstuff first); an empty stuffed inode is
// converted in place. New blocks are allocated near `goal` (0: near the previous
// mapped block, or the dinode).
[[nodiscard]] int bmap_alloc(Fs *fs, Trans *tr, Inode *ip, uint64_t lblock, uint64_t max_count,
			     uint64_t goal, BmapExtent *out);

// Frees file blocks [first, end) (end == UINT64_MAX: to the end of the tree), and every
// indirect block left with no pointer. Stops after dirtying about `budget` buffers so
// one transaction stays bounded; *done tells whether the range is now wholly free.
// Call again with a new transaction while !*done. Freed blocks are revoked in the
// journal when they were metadata. The dinode's block count is updated; its size is not.
[[nodiscard]] int bmap_punch(Fs *fs, Trans *tr, Inode *ip, uint64_t first, uint64_t end,
			     unsigned budget, bool *done);

// Visits every block the tree owns (indirect blocks first, level by level within one
// subtree, then data runs). For fsck and debugging tools; `visit` returns nonzero to stop
// (that value is returned). level: 1..height-1 for indirect blocks, `height` for data.
typedef int (*BmapVisitFn)(void *ctx, uint64_t first_lblock, uint64_t disk_block,
			   unsigned level);
[[nodiscard]] int bmap_walk(Fs *fs, const Inode *ip, BmapVisitFn visit, void *ctx);

}  // namespace cfs

#endif
