// SPDX-License-Identifier: GPL-2.0
// Resource groups seen from the glue (discard's free observer, the allocation filter and
// spread, room, free runs), block allocation for writes (unstuffing, cfs_core_alloc) and
// the log space reservation that block-map changes take first.
#include "core_internal.h"
#include "rgrp.h"

using namespace cfs_core_detail;

// ---- Discard --------------------------------------------------------------------------------

extern "C" void cfs_core_set_free_observer(struct cfs_core *core,
					   const struct cfs_core_free_observer *obs)
{
	core->free_observer = obs ? *obs : cfs_core_free_observer{};
	core->fs.blocks_freed = core->free_observer.freed;
	core->fs.blocks_freed_ctx = core->free_observer.ctx;
}

extern "C" void cfs_core_set_rgrp_filter(struct cfs_core *core,
					 bool (*allowed)(void *ctx, cfs_core_u32 index), void *ctx)
{
	core->fs.rgrp_allowed = allowed;
	core->fs.rgrp_allowed_ctx = ctx;
}

extern "C" cfs_core_u64 cfs_core_take_rgrp_wanted(struct cfs_core *core)
{
	const std::uint64_t blkno = core->fs.rgrp_wanted;
	core->fs.rgrp_wanted = 0;
	return blkno;
}

extern "C" int cfs_core_rgrp_spread(struct cfs_core *core, cfs_core_u32 slot,
				    cfs_core_u32 slots, cfs_core_u32 *index)
{
	cfs::Fs *fs = &core->fs;
	std::uint32_t usable = 0;
	*index = 0;
	for (std::uint32_t i = 0; i < fs->rgrps.count; i++) {
		int err = cfs::rgrp_refresh(fs, &fs->rgrps.rgrps[i]);
		if (err)
			return err;
		if (!(fs->rgrps.rgrps[i].flags & (CFS_RGF_JOURNAL | CFS_RGF_NOALLOC)))
			usable++;
	}
	if (!usable || !slots)
		return 0;
	std::uint32_t want = static_cast<std::uint32_t>(std::uint64_t(usable) * (slot % slots) / slots);
	for (std::uint32_t i = 0; i < fs->rgrps.count; i++) {
		if (fs->rgrps.rgrps[i].flags & (CFS_RGF_JOURNAL | CFS_RGF_NOALLOC))
			continue;
		if (want-- == 0) {
			*index = i;
			break;
		}
	}
	return 0;
}

extern "C" cfs_core_u32 cfs_core_rgrp_count(struct cfs_core *core)
{
	return core->fs.rgrps.count;
}

extern "C" int cfs_core_rgrp_of_block(struct cfs_core *core, cfs_core_u64 blkno,
				      cfs_core_u32 *index)
{
	const cfs::Rgrp *rg = cfs::rgrp_of_block(&core->fs, blkno);
	if (!rg)
		return -CFS_ERANGE;
	*index = static_cast<cfs_core_u32>(rg - core->fs.rgrps.rgrps);
	return 0;
}

extern "C" cfs_core_u32 cfs_core_rgrp_free_known(struct cfs_core *core, cfs_core_u32 index)
{
	if (index >= core->fs.rgrps.count)
		return 0;
	const cfs::Rgrp &rg = core->fs.rgrps.rgrps[index];
	return (rg.flags & (CFS_RGF_JOURNAL | CFS_RGF_NOALLOC)) ? 0 : rg.free;
}

extern "C" int cfs_core_rgrp_room(struct cfs_core *core, cfs_core_u32 index, cfs_core_u32 *free)
{
	if (index >= core->fs.rgrps.count)
		return -CFS_EINVAL;
	cfs::Rgrp *rg = &core->fs.rgrps.rgrps[index];
	int err = cfs::rgrp_refresh(&core->fs, rg);
	if (err)
		return err;
	*free = (rg->flags & (CFS_RGF_JOURNAL | CFS_RGF_NOALLOC)) ? 0 : rg->free;
	return 0;
}

extern "C" int cfs_core_rgrp_meta(struct cfs_core *core, cfs_core_u32 index, cfs_core_u64 *addr,
				  cfs_core_u32 *length)
{
	if (index >= core->fs.rgrps.count)
		return -CFS_EINVAL;
	*addr = core->fs.rgrps.rgrps[index].addr;
	*length = core->fs.rgrps.rgrps[index].length;
	return 0;
}

extern "C" int cfs_core_rgrp_data(struct cfs_core *core, cfs_core_u32 index, cfs_core_u64 *first,
				  cfs_core_u32 *count)
{
	if (index >= core->fs.rgrps.count)
		return -CFS_EINVAL;
	*first = core->fs.rgrps.rgrps[index].data0;
	*count = core->fs.rgrps.rgrps[index].data;
	return 0;
}

extern "C" int cfs_core_free_runs(struct cfs_core *core, cfs_core_u64 first, cfs_core_u64 end,
				  cfs_core_u32 minlen,
				  int (*visit)(void *ctx, cfs_core_u64 first, cfs_core_u32 count),
				  void *ctx)
{
	cfs::Fs *fs = &core->fs;
	for (std::uint32_t i = 0; i < fs->rgrps.count && first < end; i++) {
		cfs::Rgrp *rg = &fs->rgrps.rgrps[i];
		if (rg->data0 + rg->data <= first || rg->data0 >= end)
			continue;
		int err = cfs::rgrp_free_runs(fs, rg, first, end, minlen, visit, ctx);
		if (err)
			return err;
	}
	return 0;
}

// ---- Block allocation -------------------------------------------------------------------

namespace cfs_core_detail {

// Converts a stuffed file to a block-mapped one; its inline bytes go to the new block,
// written before the transaction commits.
[[nodiscard]] int unstuff(cfs_core *core, cfs::Trans *tr, cfs::Inode *ip)
{
	std::uint64_t data_block = 0;
	int err = cfs::inode_unstuff(&core->fs, tr, ip, core->block_buffer, &data_block);
	if (err || !data_block)
		return err;
	const void *blocks[1] = {core->block_buffer};
	return cfs_env_log_write(core->fs.host, data_block, blocks, 1, 0);
}

}  // namespace cfs_core_detail

extern "C" int cfs_core_alloc(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 lblock,
			      cfs_core_u64 max_count, struct cfs_core_map *out)
{
	cfs::Fs *fs = &core->fs;
	InodeRef ip(fs);
	int err = ip.get(ino);
	if (err)
		return err;
	if (max_count > kMaxAllocRun)
		max_count = kMaxAllocRun;
	if (cfs::inode_height(ip.ptr()) > 0) {
		// Already mapped: no transaction needed.
		cfs::BmapExtent extent;
		err = cfs::bmap_lookup(fs, ip.ptr(), lblock, max_count, &extent);
		if (err)
			return err;
		if (extent.disk_block) {
			out->disk_block = extent.disk_block;
			out->count = extent.count;
			out->fresh = 0;
			return 0;
		}
		max_count = extent.count;  // the hole's length bounds the allocation
	}
	Txn tx(core);
	err = tx.begin(kAllocBufs + kInodeAllocBufs);
	if (err)
		return err;
	if (cfs::inode_height(ip.ptr()) == 0) {
		err = unstuff(core, tx.get(), ip.ptr());
		if (err)
			return err;
	}
	cfs::BmapExtent extent;
	err = cfs::bmap_alloc(fs, tx.get(), ip.ptr(), lblock, max_count, 0, &extent);
	if (err == -CFS_ENOSPC && tx.get()->nbufs) {
		// Out of space for the data block after a taller tree, a new indirect block or
		// the unstuffed first block: each is complete and consistent, and already in
		// the buffers. Commit them: cancelled, they would reach the disk with some later
		// transaction of one buffer but not the others (an indirect block pointed at but
		// never written).
		int cerr = tx.commit();
		return cerr ? cerr : err;
	}
	if (err)
		return err;
	err = tx.commit();
	if (err)
		return err;
	out->disk_block = extent.disk_block;
	out->count = extent.count;
	out->fresh = extent.fresh;
	return 0;
}

extern "C" int cfs_core_reserve(struct cfs_core *core, cfs_core_u32 nbufs)
{
	if (!core->journal)
		return -CFS_EROFS;
	return reserve_log(core->journal, nbufs);
}
