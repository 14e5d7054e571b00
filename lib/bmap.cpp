// Block map: see bmap.h. Follows GFS2's metapath idea (one index per tree level,
// computed from the bottom by repeated division) with explicit, bounded recursion.
#include "bmap.h"

#include "algo_util.h"
#include "rgrp.h"
#include "trans.h"

namespace cfs {

namespace {

constexpr uint64_t kNoLimit = ~uint64_t(0);

uint64_t saturating_mul(uint64_t a, uint64_t b)
{
	if (a == 0 || b == 0)
		return 0;
	if (a > kNoLimit / b)
		return kNoLimit;
	return a * b;
}

// File blocks covered by one pointer at `level` of a tree of `height`:
// ptrs_per_indirect ^ (height - 1 - level), saturating.
uint64_t span_of_pointer(const BmapGeometry *g, unsigned height, unsigned level)
{
	uint64_t span = 1;
	for (unsigned l = level + 1; l < height; l++)
		span = saturating_mul(span, g->ptrs_per_indirect);
	return span;
}

// The pointer array of a tree level: the dinode's (level 0) or an indirect block's.
struct Level {
	Buf *bh;         // dinode buffer (not owned) or indirect buffer (owned)
	cfs_le64 *ptrs;
	uint32_t nptrs;
	bool owned;
};

Level dinode_level(Fs *fs, const Inode *ip)
{
	return Level{ip->bh, algo::dinode_ptrs(ip->bh), fs->dinode_ptrs, false};
}

int read_indirect(Fs *fs, const Inode *ip, uint64_t blkno, Level *out)
{
	Buf *bh;
	int err = meta_read(fs, blkno, CFS_BT_IN, ip->ino, &bh);
	if (err)
		return err;
	*out = Level{bh, algo::indirect_ptrs(bh), fs->indirect_ptrs, true};
	return 0;
}

void put_level(Fs *fs, Level *lv)
{
	if (lv->owned && lv->bh)
		meta_release(fs, lv->bh);
	lv->bh = nullptr;
}

// Blocks of the tree (indirect and data) are all in state USED; the allocator takes a
// 32-bit count.
int alloc_blocks(Fs *fs, Trans *tr, uint64_t goal, uint64_t want, bool data, uint64_t *first,
		 uint32_t *got)
{
	(void)data;
	if (want > 0xffffffffu)
		want = 0xffffffffu;
	return rgrp_alloc(fs, tr, goal, uint32_t(want), CFS_BLKST_USED, first, got, nullptr);
}

// Frees a run of blocks. Metadata blocks (and data blocks of jdata files, which are
// journaled) are revoked so replay cannot write an old image over their next use.
int free_blocks(Fs *fs, Trans *tr, uint64_t first, uint32_t count, bool revoke)
{
	int err = rgrp_free(fs, tr, first, count);
	for (uint32_t i = 0; !err && revoke && i < count; i++)
		err = trans_add_revoke(tr, first + i);
	return err;
}

// Gives back blocks allocated by a step that failed before using them.
void free_block_list(Fs *fs, Trans *tr, const uint64_t *blocks, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		(void)rgrp_free(fs, tr, blocks[i], 1);
}

bool ptrs_all_zero(const cfs_le64 *ptrs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (algo::load64(&ptrs[i]))
			return false;
	return true;
}

// Length of the run starting at ptrs[i] that is contiguous on disk (first != 0) or a
// hole (first == 0), capped at `cap`.
uint64_t run_length(const cfs_le64 *ptrs, uint32_t n, uint32_t i, uint64_t cap)
{
	uint64_t first = algo::load64(&ptrs[i]);
	uint64_t len = 1;
	while (len < cap && i + len < n) {
		uint64_t p = algo::load64(&ptrs[i + len]);
		if (first == 0 ? p != 0 : p != first + len)
			break;
		len++;
	}
	return len;
}

}  // namespace

void bmap_geometry_init(BmapGeometry *g, uint32_t block_size)
{
	g->ptrs_in_dinode = CFS_DINODE_PTRS(block_size);
	g->ptrs_per_indirect = CFS_INDIRECT_PTRS(block_size);
	g->blocks_at_height[0] = 0;
	uint64_t blocks = g->ptrs_in_dinode;
	// Every byte offset below 2^64 must be mappable: file blocks up to 2^64 / bsize.
	uint64_t needed = (kNoLimit / block_size) + 1;
	g->max_height = BmapGeometry::kMaxHeight;
	for (unsigned h = 1; h <= BmapGeometry::kMaxHeight; h++) {
		g->blocks_at_height[h] = blocks;
		if (blocks >= needed && g->max_height == BmapGeometry::kMaxHeight)
			g->max_height = h;
		blocks = saturating_mul(blocks, g->ptrs_per_indirect);
	}
}

unsigned bmap_height_for_block(const BmapGeometry *g, uint64_t last_block)
{
	unsigned h = 1;
	while (h < g->max_height && last_block >= g->blocks_at_height[h])
		h++;
	return h;
}

void bmap_metapath(const BmapGeometry *g, uint64_t lblock, unsigned height,
		   uint32_t path[BmapGeometry::kMaxHeight])
{
	for (unsigned level = height; level-- > 1;) {
		path[level] = uint32_t(lblock % g->ptrs_per_indirect);
		lblock /= g->ptrs_per_indirect;
	}
	path[0] = uint32_t(lblock);
}

int bmap_lookup(Fs *fs, const Inode *ip, uint64_t lblock, uint64_t max_count, BmapExtent *out)
{
	BmapGeometry geom;
	bmap_geometry_init(&geom, fs->bsize);
	const BmapGeometry *g = &geom;
	unsigned height = inode_height(ip);
	if (max_count == 0)
		max_count = 1;
	*out = BmapExtent{0, max_count, false};
	if (height == 0)
		return 0;
	if (height > g->max_height)
		return algo::corrupt(fs, ip->ino, "dinode height exceeds the maximum");
	if (lblock >= g->blocks_at_height[height])
		return 0;  // beyond the tree: a hole up to max_count

	uint32_t path[BmapGeometry::kMaxHeight];
	bmap_metapath(g, lblock, height, path);
	Level lv = dinode_level(fs, ip);
	for (unsigned level = 0;; level++) {
		uint32_t idx = path[level];
		uint64_t ptr = algo::load64(&lv.ptrs[idx]);
		if (level == height - 1) {
			out->count = run_length(lv.ptrs, lv.nptrs, idx, max_count);
			out->disk_block = ptr;
			put_level(fs, &lv);
			return 0;
		}
		if (ptr == 0) {
			uint64_t span = span_of_pointer(g, height, level);
			uint64_t left = span == kNoLimit ? kNoLimit : span - lblock % span;
			out->count = left < max_count ? left : max_count;
			put_level(fs, &lv);
			return 0;
		}
		Level next;
		int err = read_indirect(fs, ip, ptr, &next);
		put_level(fs, &lv);
		if (err)
			return err;
		lv = next;
	}
}

namespace {

// Adds levels on top of the tree until it has `new_height`. An empty tree just changes
// its height; otherwise each new level is one indirect block whose first pointers are the
// dinode's old array. All blocks are allocated before anything is rewired, so a failed
// allocation leaves the tree unchanged.
int grow_tree(Fs *fs, Trans *tr, Inode *ip, unsigned new_height)
{
	unsigned height = inode_height(ip);
	cfs_le64 *dptrs = algo::dinode_ptrs(ip->bh);
	uint32_t p0 = fs->dinode_ptrs;
	int err = trans_add_buf(tr, ip->bh);
	if (err)
		return err;
	if (height == 0 || ptrs_all_zero(dptrs, p0)) {
		inode_set_height(ip, new_height);
		return 0;
	}
	unsigned add = new_height - height;
	uint64_t blocks[BmapGeometry::kMaxHeight];
	unsigned have = 0;
	uint64_t goal = ip->ino + 1;
	while (have < add) {
		uint64_t first;
		uint32_t got;
		err = alloc_blocks(fs, tr, goal, add - have, false, &first,
					 &got);
		if (err) {
			free_block_list(fs, tr, blocks, have);
			return err;
		}
		for (uint32_t i = 0; i < got; i++)
			blocks[have++] = first + i;
		goal = first + got;
	}
	// blocks[0] becomes the old top level; blocks[k] points at blocks[k-1].
	for (unsigned k = 0; k < add; k++) {
		Buf *bh;
		err = meta_new(fs, blocks[k], CFS_BT_IN, ip->ino, &bh);
		if (!err)
			err = trans_add_buf(tr, bh);
		if (err) {
			if (bh)
				meta_release(fs, bh);
			// Nothing is rewired yet: the fresh blocks just go back.
			free_block_list(fs, tr, blocks, add);
			return err;
		}
		cfs_le64 *ptrs = algo::indirect_ptrs(bh);
		if (k == 0) {
			for (uint32_t i = 0; i < p0; i++)
				ptrs[i] = dptrs[i];
		} else {
			algo::store64(&ptrs[0], blocks[k - 1]);
		}
		meta_release(fs, bh);
	}
	for (uint32_t i = 0; i < p0; i++)
		algo::store64(&dptrs[i], 0);
	algo::store64(&dptrs[0], blocks[add - 1]);
	inode_add_blocks(ip, add);
	inode_set_height(ip, new_height);
	return 0;
}

}  // namespace

int bmap_alloc(Fs *fs, Trans *tr, Inode *ip, uint64_t lblock, uint64_t max_count,
	       uint64_t goal, BmapExtent *out)
{
	BmapGeometry geom;
	bmap_geometry_init(&geom, fs->bsize);
	const BmapGeometry *g = &geom;
	if (max_count == 0)
		max_count = 1;
	unsigned height = inode_height(ip);
	if (height == 0 && inode_has_inline_data(ip))
		return -CFS_EINVAL;  // caller bug: unstuff first
	unsigned need = bmap_height_for_block(g, lblock);
	if (lblock >= g->blocks_at_height[g->max_height])
		return -CFS_EFBIG;
	if (need > height) {
		int err = grow_tree(fs, tr, ip, need);
		if (err)
			return err;
		height = need;
	}

	uint32_t path[BmapGeometry::kMaxHeight];
	bmap_metapath(g, lblock, height, path);
	Level lv = dinode_level(fs, ip);
	for (unsigned level = 0;; level++) {
		uint32_t idx = path[level];
		uint64_t ptr = algo::load64(&lv.ptrs[idx]);
		uint64_t here = lv.owned ? buf_blkno(lv.bh) : ip->ino;
		if (level == height - 1) {
			uint64_t run = run_length(lv.ptrs, lv.nptrs, idx, max_count);
			if (ptr != 0) {
				*out = BmapExtent{ptr, run, false};
				put_level(fs, &lv);
				return 0;
			}
			if (goal == 0) {
				goal = here + 1;
				for (uint32_t i = idx; i-- > 0;) {
					uint64_t prev = algo::load64(&lv.ptrs[i]);
					if (prev) {
						goal = prev + (idx - i);
						break;
					}
				}
			}
			int err = trans_add_buf(tr, lv.bh);
			uint64_t first = 0;
			uint32_t got = 0;
			if (!err)
				err = alloc_blocks(fs, tr, goal,
							 run > 0xffffffffu ? 0xffffffffu : uint32_t(run),
							 true, &first, &got);
			if (err) {
				put_level(fs, &lv);
				return err;
			}
			for (uint32_t i = 0; i < got; i++)
				algo::store64(&lv.ptrs[idx + i], first + i);
			inode_add_blocks(ip, got);
			*out = BmapExtent{first, got, true};
			put_level(fs, &lv);
			return 0;
		}
		if (ptr == 0) {
			uint64_t blk;
			uint32_t got;
			int err = trans_add_buf(tr, lv.bh);
			if (!err)
				err = alloc_blocks(fs, tr, goal ? goal : here + 1, 1,
							 false, &blk, &got);
			Buf *nbh = nullptr;
			if (!err)
				err = meta_new(fs, blk, CFS_BT_IN, ip->ino, &nbh);
			if (!err)
				err = trans_add_buf(tr, nbh);
			if (err) {
				if (nbh)
					meta_release(fs, nbh);
				put_level(fs, &lv);
				return err;
			}
			algo::store64(&lv.ptrs[idx], blk);
			inode_add_blocks(ip, 1);
			put_level(fs, &lv);
			lv = Level{nbh, algo::indirect_ptrs(nbh), fs->indirect_ptrs, true};
			continue;
		}
		Level next;
		int err = read_indirect(fs, ip, ptr, &next);
		put_level(fs, &lv);
		if (err)
			return err;
		lv = next;
	}
}

namespace {

struct PunchState {
	Fs *fs;
	Trans *tr;
	Inode *ip;
	const BmapGeometry *g;
	unsigned height;
	uint64_t first, end;  // file block range to free
	unsigned budget;      // buffers we may still dirty
	uint64_t freed;       // blocks freed (for the dinode's count)
	bool stopped;         // budget exhausted, or a block's group may not be changed
	bool jdata;           // data blocks are journaled metadata: revoke them too
};

// Frees data runs from ptrs[lo..hi) of a last-level array.
int punch_data(PunchState *st, Level *lv, uint32_t lo, uint32_t hi)
{
	bool dirtied = false;
	uint32_t i = lo;
	while (i < hi) {
		uint64_t p = algo::load64(&lv->ptrs[i]);
		uint64_t len = run_length(lv->ptrs, hi, i, hi - i);
		if (p == 0) {
			i += uint32_t(len);
			continue;
		}
		if (!rgrp_check_wanted(st->fs, p)) {
			st->stopped = true;
			return 0;
		}
		if (!dirtied) {
			int err = trans_add_buf(st->tr, lv->bh);
			if (err)
				return err;
			dirtied = true;
		}
		int err = free_blocks(st->fs, st->tr, p, uint32_t(len), st->jdata);
		if (err)
			return err;
		for (uint32_t k = 0; k < len; k++)
			algo::store64(&lv->ptrs[i + k], 0);
		st->freed += len;
		i += uint32_t(len);
		if (st->budget)
			st->budget--;
	}
	return 0;
}

// Frees [first,end) under the array `lv` at `level`, whose first pointer maps file
// block `base`.
int punch_level(PunchState *st, Level *lv, unsigned level, uint64_t base)
{
	uint64_t span = span_of_pointer(st->g, st->height, level);
	// Pointer range intersecting [first, end).
	uint64_t lo = st->first > base ? (st->first - base) / span : 0;
	uint64_t hi_blocks = st->end - base;  // end > base is guaranteed by the caller
	uint64_t hi = span == kNoLimit ? 1 : hi_blocks / span + (hi_blocks % span != 0);
	if (hi > lv->nptrs || st->end == kNoLimit)
		hi = lv->nptrs;
	if (lo >= hi)
		return 0;
	if (level == st->height - 1)
		return punch_data(st, lv, uint32_t(lo), uint32_t(hi));

	for (uint64_t i = lo; i < hi; i++) {
		if (st->budget == 0 || st->stopped) {
			st->stopped = true;
			return 0;
		}
		uint64_t p = algo::load64(&lv->ptrs[i]);
		if (p == 0)
			continue;
		Level child;
		int err = read_indirect(st->fs, st->ip, p, &child);
		if (err)
			return err;
		uint64_t child_base = base + i * span;
		err = punch_level(st, &child, level + 1, child_base);
		bool empty = !err && ptrs_all_zero(child.ptrs, child.nptrs);
		put_level(st->fs, &child);
		if (err)
			return err;
		if (!empty)
			continue;
		if (!rgrp_check_wanted(st->fs, p)) {
			st->stopped = true;
			return 0;
		}
		err = trans_add_buf(st->tr, lv->bh);
		if (!err)
			err = free_blocks(st->fs, st->tr, p, 1, true);
		if (err)
			return err;
		algo::store64(&lv->ptrs[i], 0);
		st->freed++;
		if (st->budget)
			st->budget--;
	}
	return 0;
}

}  // namespace

int bmap_punch(Fs *fs, Trans *tr, Inode *ip, uint64_t first, uint64_t end, unsigned budget,
	       bool *done)
{
	BmapGeometry geom;
	bmap_geometry_init(&geom, fs->bsize);
	const BmapGeometry *g = &geom;
	unsigned height = inode_height(ip);
	*done = true;
	if (height == 0 || first >= end || first >= g->blocks_at_height[height])
		return 0;
	PunchState st{fs, tr, ip, g, height, first, end, budget ? budget : 1, 0, false,
		       (inode_flags(ip) & CFS_DIF_JDATA) != 0};
	Level top = dinode_level(fs, ip);
	int err = punch_level(&st, &top, 0, 0);
	if (st.freed) {
		int derr = trans_add_buf(tr, ip->bh);
		if (!derr)
			inode_sub_blocks(ip, st.freed);
		if (!err)
			err = derr;
	}
	*done = !err && !st.stopped;
	return err;
}

namespace {

int walk_level(Fs *fs, const Inode *ip, const BmapGeometry *g, unsigned height, Level *lv,
	       unsigned level, uint64_t base, BmapVisitFn visit, void *ctx)
{
	uint64_t span = span_of_pointer(g, height, level);
	for (uint32_t i = 0; i < lv->nptrs; i++) {
		uint64_t p = algo::load64(&lv->ptrs[i]);
		if (p == 0)
			continue;
		uint64_t lb = base + i * span;
		if (level == height - 1) {
			int r = visit(ctx, lb, p, height);
			if (r)
				return r;
			continue;
		}
		int r = visit(ctx, lb, p, level + 1);
		if (r)
			return r;
		Level child;
		r = read_indirect(fs, ip, p, &child);
		if (r)
			return r;
		r = walk_level(fs, ip, g, height, &child, level + 1, lb, visit, ctx);
		put_level(fs, &child);
		if (r)
			return r;
	}
	return 0;
}

}  // namespace

int bmap_walk(Fs *fs, const Inode *ip, BmapVisitFn visit, void *ctx)
{
	BmapGeometry geom;
	bmap_geometry_init(&geom, fs->bsize);
	const BmapGeometry *g = &geom;
	unsigned height = inode_height(ip);
	if (height == 0)
		return 0;
	if (height > g->max_height)
		return algo::corrupt(fs, ip->ino, "dinode height exceeds the maximum");
	Level top = dinode_level(fs, ip);
	return walk_level(fs, ip, g, height, &top, 0, 0, visit, ctx);
}

}  // namespace cfs
