// SPDX-License-Identifier: GPL-2.0
/*
 * Regular files and symlinks: the page cache and direct I/O through iomap. lib maps
 * file blocks (bmap); the data itself never passes through lib. Stuffed (inline)
 * files are served as IOMAP_INLINE from a copy of the dinode's inline area.
 */
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/iomap.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/writeback.h>

#include "clusterfs.h"
#include "core.h"
#include "lock_cluster.h"

/* iomap->flags bit: this mapping holds sbi->trans_mutex until iomap_end. */
#define IOMAP_F_CFS_HOLDS_TRANS (IOMAP_F_PRIVATE << 1)
/* iomap->flags bit: a buffered write into the inline area, journaled by iomap_end. */
#define IOMAP_F_CFS_INLINE_WRITE (IOMAP_F_PRIVATE << 2)

/* Inline (stuffed) data: a private copy of the dinode's inline bytes, freed in iomap_end. */
static int cfs_iomap_inline(struct inode *inode, loff_t pos, loff_t length, struct iomap *iomap)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	loff_t size = i_size_read(inode);
	void *inline_copy;
	int err;

	if (pos >= size) {
		iomap->type = IOMAP_HOLE;
		iomap->addr = IOMAP_NULL_ADDR;
		iomap->offset = pos;
		iomap->length = length;
		return 0;
	}
	/*
	 * A growing truncate sets i_size (truncate_setsize) before the core unstuffs the
	 * dinode and the height here changes; a reader that takes no glock or i_rwsem (a
	 * page fault on lock_nolock, splice, readahead(2)) can come in between. Reading
	 * i_size bytes then overran the block-sized copy (lib zero-fills up to the length
	 * asked) and iomap copied that length into a one-page folio: fail such a read.
	 * Up to a block the copy holds it (the tail reads as zeros, which it is).
	 */
	if (size > sbi->block_size)
		return -EIO;
	inline_copy = kmalloc(sbi->block_size, GFP_NOFS);
	if (!inline_copy)
		return -ENOMEM;
	err = cfs_core_read_inline(sbi->core, inode->i_ino, 0, inline_copy, size);
	if (err) {
		kfree(inline_copy);
		return cfs_core_error(sbi, err);
	}
	iomap->type = IOMAP_INLINE;
	/* Where the bytes live (the dinode's inline area): what fiemap reports, as gfs2. */
	iomap->addr = ((u64)inode->i_ino << sbi->block_shift) + CFS_DINODE_SIZE;
	iomap->offset = 0;
	iomap->length = size;
	iomap->inline_data = inline_copy;
	iomap->private = inline_copy;
	iomap->flags |= IOMAP_F_PRIVATE;
	return 0;
}

static void cfs_iomap_fill(struct inode *inode, u64 lblock, const struct cfs_core_map *map,
			   struct iomap *iomap)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);

	iomap->offset = (loff_t)lblock << sbi->block_shift;
	iomap->length = (loff_t)map->count << sbi->block_shift;
	if (!map->disk_block) {
		iomap->type = IOMAP_HOLE;
		iomap->addr = IOMAP_NULL_ADDR;
	} else {
		iomap->type = IOMAP_MAPPED;
		iomap->addr = (u64)map->disk_block << sbi->block_shift;
		if (map->fresh)
			iomap->flags |= IOMAP_F_NEW;
	}
}

/* Read-only mapping: holes stay holes. */
static int cfs_iomap_lookup(struct inode *inode, loff_t pos, loff_t length, struct iomap *iomap)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);
	struct cfs_core_map map;
	u64 lblock = pos >> sbi->block_shift;
	u64 last = (pos + length - 1) >> sbi->block_shift;
	int err;

	down_read(&ci->map_lock);
	if (ci->height == 0) {
		err = cfs_iomap_inline(inode, pos, length, iomap);
		up_read(&ci->map_lock);
		return err;
	}
	err = cfs_core_bmap(sbi->core, inode->i_ino, lblock, last - lblock + 1, &map);
	up_read(&ci->map_lock);
	if (err)
		return cfs_core_error(sbi, err);
	cfs_iomap_fill(inode, lblock, &map, iomap);
	return 0;
}

/*
 * Mapping for a write: allocates blocks for holes (unstuffing an inline file first).
 * Runs under trans_mutex, reserving log space before taking the map lock (core.h).
 * The caller keeps trans_mutex until its data is in the page cache (see
 * cfs_iomap_write_begin) or returns it at once.
 */
static int cfs_iomap_allocate(struct inode *inode, loff_t pos, loff_t length, struct iomap *iomap)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);
	struct cfs_core_inode before;
	struct cfs_core_map map;
	u64 lblock = pos >> sbi->block_shift;
	u64 last = (pos + length - 1) >> sbi->block_shift;
	int err;

	lockdep_assert_held(&sbi->trans_mutex);
	if (cfs_withdrawn(sbi))
		return -EIO;
	err = cfs_core_reserve(sbi->core, CFS_CORE_MAP_CHANGE_BUFS);
	if (err)
		return cfs_core_error(sbi, err);
	down_write(&ci->map_lock);
	/* The caller may just have set new times (file_update_time): the refresh keeps them. */
	err = cfs_inode_snapshot(inode, &before);
	if (!err)
		err = cfs_core_alloc(sbi->core, inode->i_ino, lblock, last - lblock + 1, &map);
	if (!err)
		err = cfs_inode_refresh(inode, &before, false);
	up_write(&ci->map_lock);
	if (err)
		return cfs_core_error(sbi, err);
	cfs_iomap_fill(inode, lblock, &map, iomap);
	cfs_host_add_ordered(&sbi->host, ci);
	return 0;
}

/*
 * A buffered write that ends inside the inline area of a stuffed file stays inline, as
 * in GFS2: iomap copies the bytes into a copy of the inline area (IOMAP_INLINE, the
 * folio is not dirtied) and iomap_end journals them with the dinode. A small file then
 * costs one block and one write, not a dinode plus a data block written apart
 * (docs/bench/kernel.md, untar). Holds trans_mutex until iomap_end, like an allocating
 * write, with log space reserved so that the commit there never flushes.
 * Returns -EAGAIN when the write does not qualify.
 */
static int cfs_iomap_inline_write(struct inode *inode, loff_t pos, loff_t length,
				  struct iomap *iomap)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);
	u32 capacity = cfs_core_inline_capacity(sbi->core);
	loff_t size;
	void *copy;
	int err;

	if (READ_ONCE(ci->height) != 0 || pos + length > capacity)
		return -EAGAIN;
	cfs_trans_lock(sbi);
	/* The height only changes under trans_mutex: this check is stable. */
	if (ci->height != 0) {
		cfs_trans_unlock(sbi);
		return -EAGAIN;
	}
	err = cfs_withdrawn(sbi) ? -EIO : cfs_core_reserve(sbi->core, 1);
	if (err) {
		cfs_trans_unlock(sbi);
		return err == -EIO ? err : cfs_core_error(sbi, err);
	}
	/* iomap requires the inline buffer not to cross a page: kmalloc aligns a block. */
	copy = kzalloc(sbi->block_size, GFP_NOFS);
	if (!copy) {
		cfs_trans_unlock(sbi);
		return -ENOMEM;
	}
	size = i_size_read(inode);
	err = size ? cfs_core_read_inline(sbi->core, inode->i_ino, 0, copy, size) : 0;
	if (err) {
		kfree(copy);
		cfs_trans_unlock(sbi);
		return cfs_core_error(sbi, err);
	}
	iomap->type = IOMAP_INLINE;
	iomap->addr = IOMAP_NULL_ADDR;
	iomap->offset = 0;
	iomap->length = capacity;
	iomap->inline_data = copy;
	iomap->private = copy;
	iomap->flags |= IOMAP_F_PRIVATE | IOMAP_F_CFS_HOLDS_TRANS | IOMAP_F_CFS_INLINE_WRITE;
	return 0;
}

/*
 * A write that starts in allocated blocks changes no metadata (times go through
 * write_inode): map it read-only, without trans_mutex, a log reservation or the map
 * lock held for writing. The mapping stays valid: every change that frees blocks
 * (truncate, punch) holds i_rwsem, as the writer does. -EAGAIN: a hole or inline data
 * at @pos, for the allocating paths.
 */
static int cfs_iomap_overwrite(struct inode *inode, loff_t pos, loff_t length,
			       struct iomap *iomap)
{
	int err;

	if (READ_ONCE(CFS_I(inode)->height) == 0)
		return -EAGAIN;
	err = cfs_iomap_lookup(inode, pos, length, iomap);
	if (err || iomap->type == IOMAP_MAPPED)
		return err;
	if (iomap->flags & IOMAP_F_PRIVATE)
		kfree(iomap->private);
	iomap->private = NULL;
	iomap->inline_data = NULL;
	iomap->flags = 0;
	return -EAGAIN;
}

static int cfs_iomap_begin(struct inode *inode, loff_t pos, loff_t length, unsigned int flags,
			   struct iomap *iomap, struct iomap *srcmap)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	int err;

	iomap->bdev = inode->i_sb->s_bdev;
	iomap->private = NULL;
	iomap->flags = 0;

	if (!(flags & IOMAP_WRITE) || (flags & IOMAP_ZERO))
		return cfs_iomap_lookup(inode, pos, length, iomap);
	if (cfs_withdrawn(sbi))
		return -EIO;
	if ((flags & (IOMAP_DIRECT | IOMAP_FAULT | IOMAP_UNSHARE)) == 0) {
		err = cfs_iomap_inline_write(inode, pos, length, iomap);
		if (err != -EAGAIN)
			return err;
	}
	if ((flags & (IOMAP_FAULT | IOMAP_UNSHARE)) == 0) {
		err = cfs_iomap_overwrite(inode, pos, length, iomap);
		/*
		 * The block may come from an allocation not yet committed (nothing here
		 * tracks which transaction last touched this inode's map): an O_DSYNC direct
		 * write must end with a journal flush (generic_write_sync), never with FUA
		 * alone, or a crash could lose the allocation and with it the data.
		 */
		if (!err && (flags & IOMAP_DIRECT))
			iomap->flags |= IOMAP_F_DIRTY;
		if (err != -EAGAIN)
			return err;
	}

	/*
	 * Freshly allocated blocks must not be committed before their data is written
	 * (ordered mode). Buffered writes keep trans_mutex, which every journal flush
	 * takes, until iomap_end, when the data is dirty in the page cache and on the
	 * ordered list; direct writes get zeroed blocks before the mapping is used.
	 */
	cfs_trans_lock(sbi);
	err = cfs_iomap_allocate(inode, pos, length, iomap);
	if (!err && (flags & IOMAP_DIRECT) && (iomap->flags & IOMAP_F_NEW)) {
		/*
		 * The direct write's bios complete after this mapping is returned, and a
		 * journal flush must not wait for them (this very write may be what triggers
		 * the flush): zero the fresh blocks first, so a commit of the allocation can
		 * never expose stale data.
		 */
		err = blkdev_issue_zeroout(inode->i_sb->s_bdev, iomap->addr >> SECTOR_SHIFT,
					   iomap->length >> SECTOR_SHIFT, GFP_NOFS, 0);
		/*
		 * The blocks are zero on disk now, before i_rwsem is released: iomap must not
		 * zero their sub-block head and tail again (IOMAP_F_NEW). It would do so with
		 * bios of this write that may still be in flight when the next write, into
		 * the same block, lands: the zeroing then wipes that write's bytes (unaligned
		 * AIO, docs/kernel.md). IOMAP_F_DIRTY instead: the allocation is not
		 * committed, so an O_DSYNC write may not complete with FUA alone.
		 */
		iomap->flags &= ~IOMAP_F_NEW;
		iomap->flags |= IOMAP_F_DIRTY;
	}
	if (err || (flags & IOMAP_DIRECT) || !(iomap->flags & IOMAP_F_NEW)) {
		cfs_trans_unlock(sbi);
		return err;
	}
	iomap->flags |= IOMAP_F_CFS_HOLDS_TRANS;
	return 0;
}

static int cfs_iomap_end(struct inode *inode, loff_t pos, loff_t length, ssize_t written,
			 unsigned int flags, struct iomap *iomap)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	int err = 0;

	if ((iomap->flags & (IOMAP_F_NEW | IOMAP_F_CFS_HOLDS_TRANS)) ==
	    (IOMAP_F_NEW | IOMAP_F_CFS_HOLDS_TRANS)) {
		/*
		 * A buffered write that stopped short (its source faulted, a signal) leaves
		 * blocks allocated for it unwritten: zero them on disk before trans_mutex goes,
		 * so no commit of the allocation can expose stale bytes, inside EOF or past it
		 * (docs/format.md "Blocks past the end of a regular file").
		 */
		loff_t unused = written > 0 ? round_up(pos + written, sbi->block_size) :
					      round_down(pos, sbi->block_size);
		loff_t end = iomap->offset + iomap->length;

		unused = max(unused, iomap->offset);
		if (unused < end &&
		    blkdev_issue_zeroout(inode->i_sb->s_bdev,
					 (iomap->addr + (unused - iomap->offset)) >> SECTOR_SHIFT,
					 (end - unused) >> SECTOR_SHIFT, GFP_NOFS, 0))
			err = cfs_core_error(sbi, -EIO);	/* withdraw: never commit them */
	}
	if (!err && (iomap->flags & IOMAP_F_CFS_INLINE_WRITE) && written > 0) {
		struct cfs_core_inode attrs;

		/*
		 * iomap copied the bytes to inline_data + pos (offset 0 mapping). The dinode
		 * logged with them carries the write's times (file_update_time), not older ones.
		 */
		cfs_inode_fill_core_attrs(inode, &attrs);
		err = cfs_core_write_inline(sbi->core, inode->i_ino, pos,
					    (const u8 *)iomap->inline_data + pos, written,
					    &attrs, CFS_CORE_ATTR_TIMES);
		if (err)
			err = cfs_core_error(sbi, err);
	}
	if (iomap->flags & IOMAP_F_PRIVATE) {
		kfree(iomap->private);
		iomap->private = NULL;
	}
	if (iomap->flags & IOMAP_F_SIZE_CHANGED)
		mark_inode_dirty(inode);
	if (iomap->flags & IOMAP_F_CFS_HOLDS_TRANS)
		cfs_trans_unlock(sbi);
	return err;
}

const struct iomap_ops cfs_iomap_ops = {
	.iomap_begin	= cfs_iomap_begin,
	.iomap_end	= cfs_iomap_end,
};

/* For page_mkwrite: blocks were allocated before the folio was locked; only map. */
static int cfs_iomap_mkwrite_begin(struct inode *inode, loff_t pos, loff_t length,
				   unsigned int flags, struct iomap *iomap, struct iomap *srcmap)
{
	int err;

	iomap->bdev = inode->i_sb->s_bdev;
	iomap->private = NULL;
	iomap->flags = 0;
	err = cfs_iomap_lookup(inode, pos, length, iomap);
	if (!err && iomap->type != IOMAP_MAPPED)
		err = -EIO;	/* allocation was done just before: a hole here is a bug */
	return err;
}

static const struct iomap_ops cfs_iomap_mkwrite_ops = {
	.iomap_begin	= cfs_iomap_mkwrite_begin,
	.iomap_end	= cfs_iomap_end,
};

/*
 * Writeback: every dirty block was allocated when it was dirtied. One lookup maps the
 * whole contiguous extent up to EOF (at most CFS_WRITEBACK_MAP_BYTES), not one block:
 * iomap asks again only when writeback leaves the mapping.
 */
#define CFS_WRITEBACK_MAP_BYTES (16ll << 20)

static int cfs_map_blocks_at(struct iomap_writepage_ctx *wpc, struct inode *inode, loff_t offset)
{
	u32 block_size = CFS_SB(inode->i_sb)->block_size;
	loff_t length = round_up(i_size_read(inode), block_size) - offset;
	int err;

	/* Withdrawn: no data block reaches the disk any more (the pages are dropped). */
	if (cfs_withdrawn(CFS_SB(inode->i_sb)))
		return -EIO;

	if (offset >= wpc->iomap.offset && offset < wpc->iomap.offset + wpc->iomap.length &&
	    wpc->iomap.type == IOMAP_MAPPED)
		return 0;
	memset(&wpc->iomap, 0, sizeof(wpc->iomap));
	wpc->iomap.bdev = inode->i_sb->s_bdev;
	length = clamp_t(loff_t, length, block_size, CFS_WRITEBACK_MAP_BYTES);
	err = cfs_iomap_lookup(inode, offset, length, &wpc->iomap);
	if (err)
		return err;
	if (wpc->iomap.flags & IOMAP_F_PRIVATE) {
		kfree(wpc->iomap.private);
		wpc->iomap.private = NULL;
		wpc->iomap.flags &= ~IOMAP_F_PRIVATE;
	}
	if (wpc->iomap.type != IOMAP_MAPPED) {
		pr_err_ratelimited("clusterfs (%s): inode %lu: dirty page at %lld has no block\n",
				   inode->i_sb->s_id, inode->i_ino, offset);
		return -EIO;
	}
	return 0;
}

CFS_DEFINE_MAP_BLOCKS(cfs_map_blocks, cfs_map_blocks_at)

static const struct iomap_writeback_ops cfs_writeback_ops = {
	.map_blocks	= cfs_map_blocks,
};

static int cfs_writepages(struct address_space *mapping, struct writeback_control *wbc)
{
	struct cfs_host *host = &CFS_SB(mapping->host->i_sb)->host;
	struct iomap_writepage_ctx wpc = {};
	/* Not entered: withdrawn, and map_blocks refuses every page. */
	bool entered = cfs_host_io_enter(host);
	int err;

	err = iomap_writepages(mapping, wbc, &wpc, &cfs_writeback_ops);
	if (entered)
		cfs_host_io_exit(host);
	return err;
}

/* Direct writes: a bio built before a withdraw is not submitted after it. */
static void cfs_dio_submit_io(const struct iomap_iter *iter, struct bio *bio, loff_t file_offset)
{
	struct cfs_host *host = &CFS_SB(iter->inode->i_sb)->host;

	if (!cfs_host_io_enter(host)) {
		bio_io_error(bio);
		return;
	}
	submit_bio(bio);
	cfs_host_io_exit(host);
}

static const struct iomap_dio_ops cfs_dio_write_ops = {
	.submit_io	= cfs_dio_submit_io,
};

static int cfs_read_folio(struct file *file, struct folio *folio)
{
	return iomap_read_folio(folio, &cfs_iomap_ops);
}

static void cfs_readahead(struct readahead_control *rac)
{
	iomap_readahead(rac, &cfs_iomap_ops);
}

static sector_t cfs_bmap(struct address_space *mapping, sector_t block)
{
	return iomap_bmap(mapping, block, &cfs_iomap_ops);
}

const struct address_space_operations cfs_file_aops = {
	.read_folio		= cfs_read_folio,
	.readahead		= cfs_readahead,
	.writepages		= cfs_writepages,
	.dirty_folio		= cfs_dirty_folio,
	.direct_IO		= noop_direct_IO,
	.migrate_folio		= filemap_migrate_folio,
	.bmap			= cfs_bmap,
	.release_folio		= iomap_release_folio,
	.invalidate_folio	= iomap_invalidate_folio,
	.is_partially_uptodate	= iomap_is_partially_uptodate,
	CFS_AOPS_ERROR_REMOVE,
};

static ssize_t cfs_file_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	struct cfs_holder gh;
	ssize_t ret;

	if (!iov_iter_count(to))
		return 0;
	/* i_rwsem before the glock (writers' order): local glock holders exclude each other. */
	if (iocb->ki_flags & IOCB_DIRECT)
		inode_lock_shared(inode);
	ret = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_SH, &gh);
	if (!ret) {
		if (iocb->ki_flags & IOCB_DIRECT)
			ret = iomap_dio_rw(iocb, to, &cfs_iomap_ops, NULL, 0, NULL, 0);
		else
			ret = generic_file_read_iter(iocb, to);
		cfs_glock_dq(&gh);
	}
	if (iocb->ki_flags & IOCB_DIRECT) {
		inode_unlock_shared(inode);
		/* The page cache path's file_accessed, which iomap_dio_rw leaves to us (as ext4). */
		file_accessed(iocb->ki_filp);
	}
	return ret;
}

static ssize_t cfs_file_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_holder gh;
	ssize_t ret;

	if (cfs_withdrawn(sbi))
		return -EIO;
	inode_lock(inode);
	ret = generic_write_checks(iocb, from);
	if (ret <= 0)
		goto out_unlock;
	ret = file_remove_privs(file);
	if (ret)
		goto out_unlock;
	ret = file_update_time(file);
	if (ret)
		goto out_unlock;
	ret = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_EX, &gh);
	if (ret)
		goto out_unlock;
	if (iocb->ki_flags & IOCB_DIRECT) {
		loff_t isize = i_size_read(inode);
		loff_t end = iocb->ki_pos + iov_iter_count(from);
		unsigned int dio_flags = 0;

		/*
		 * i_size is extended below, once the write is done: a write past EOF must not
		 * complete asynchronously (io_submit returns -EIOCBQUEUED) or the size update
		 * would be skipped, leaving written blocks mapped past i_size.
		 * A write ending at EOF inside a block is waited for too: iomap zeroes the rest
		 * of that block (past EOF) with a bio of its own, which must be on disk before
		 * the next write, extending into that block, can be issued.
		 */
		if (end > isize || (end == isize && (end & (sbi->block_size - 1))))
			dio_flags |= IOMAP_DIO_FORCE_WAIT;
		/* Allocating direct writes stay direct: blocks are allocated, never buffered. */
		ret = iomap_dio_rw(iocb, from, &cfs_iomap_ops, &cfs_dio_write_ops, dio_flags, NULL, 0);
		end = iocb->ki_pos;
		if (ret > 0 && end > i_size_read(inode)) {
			i_size_write(inode, end);
			mark_inode_dirty(inode);
		}
	} else {
		ret = cfs_iomap_file_buffered_write(iocb, from, &cfs_iomap_ops);
	}
	cfs_glock_dq(&gh);
out_unlock:
	inode_unlock(inode);
	if (ret > 0)
		ret = generic_write_sync(iocb, ret);
	return ret;
}

/* fsync/fdatasync: data, then the dinode, then the journal up to now. */
int cfs_fsync(struct file *file, loff_t start, loff_t end, int datasync)
{
	struct inode *inode = file->f_mapping->host;
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	bool wrote_record = false;
	int err;

	err = file_write_and_wait_range(file, start, end);
	if (err)
		return err;
	if (cfs_withdrawn(sbi))
		return -EIO;
	if (!sb_rdonly(inode->i_sb)) {
		err = sync_inode_metadata(inode, 1);
		if (err)
			return err;
		/* Our own journal only: no allocation lock needed. */
		mutex_lock(&sbi->trans_mutex);
		err = cfs_core_journal_flush_wrote(sbi->core, &wrote_record);
		mutex_unlock(&sbi->trans_mutex);
		if (err)
			return cfs_core_error(sbi, err);
	}
	/*
	 * A record's header went out after a cache flush, with our data already written
	 * (file_write_and_wait_range): durable. Overwrites of allocated blocks need no
	 * record, so the flush may have written nothing: make the data itself durable.
	 */
	return wrote_record ? 0 : blkdev_issue_flush(inode->i_sb->s_bdev);
}

static vm_fault_t cfs_page_mkwrite(struct vm_fault *vmf)
{
	struct inode *inode = file_inode(vmf->vma->vm_file);
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct folio *folio = page_folio(vmf->page);
	loff_t pos = folio_pos(folio);
	loff_t size;
	size_t len;
	struct iomap iomap = {};
	struct cfs_holder gh = {};
	vm_fault_t ret;
	int err;

	sb_start_pagefault(inode->i_sb);
	/*
	 * lock_cluster: the page becomes dirty, so no other node may cache the file
	 * meanwhile. Not when this task holds the glock already (a read(2) into a shared
	 * mapping of the same file): waiting for ourselves would never end.
	 */
	if (cfs_clustered_sb(sbi) && !cfs_glock_held_by_me(CFS_I(inode)->glock)) {
		err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_EX, &gh);
		if (err) {
			sb_end_pagefault(inode->i_sb);
			return cfs_vmf_fs_error(err);
		}
	}
	file_update_time(vmf->vma->vm_file);
	size = i_size_read(inode);
	if (pos >= size) {
		ret = VM_FAULT_SIGBUS;	/* truncated under us */
		goto out;
	}
	len = min_t(loff_t, folio_size(folio), size - pos);

	/* Allocate before iomap_page_mkwrite locks the folio: writeback may hold it. */
	cfs_trans_lock(sbi);
	err = cfs_iomap_allocate(inode, pos, len, &iomap);
	while (!err && iomap.offset + iomap.length < pos + len) {
		loff_t next = iomap.offset + iomap.length;

		memset(&iomap, 0, sizeof(iomap));
		err = cfs_iomap_allocate(inode, next, pos + len - next, &iomap);
	}
	if (err) {
		cfs_trans_unlock(sbi);
		ret = cfs_vmf_fs_error(err);
		goto out;
	}
	/* Still under trans_mutex: the folio is dirty before any commit can happen. */
	ret = iomap_page_mkwrite(vmf, &cfs_iomap_mkwrite_ops);
	cfs_trans_unlock(sbi);
out:
	cfs_glock_dq(&gh);
	sb_end_pagefault(inode->i_sb);
	return ret;
}

/* Pages read in by a fault are covered by the inode glock, as read(2)'s are. */
static vm_fault_t cfs_fault(struct vm_fault *vmf)
{
	struct inode *inode = file_inode(vmf->vma->vm_file);
	struct cfs_holder gh;
	vm_fault_t ret;
	int err;

	/* A write(2) from a mapping of the same file faults under its own glock. */
	if (!cfs_clustered_sb(CFS_SB(inode->i_sb)) || cfs_glock_held_by_me(CFS_I(inode)->glock))
		return filemap_fault(vmf);
	err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_SH, &gh);
	if (err)
		return cfs_vmf_fs_error(err);
	ret = filemap_fault(vmf);
	cfs_glock_dq(&gh);
	return ret;
}

static const struct vm_operations_struct cfs_file_vm_ops = {
	.fault		= cfs_fault,
	.map_pages	= filemap_map_pages,
	.page_mkwrite	= cfs_page_mkwrite,
};

static int cfs_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	file_accessed(file);
	vma->vm_ops = &cfs_file_vm_ops;
	return 0;
}

static loff_t cfs_file_llseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);
	struct cfs_holder gh;
	loff_t ret;

	switch (whence) {
	case SEEK_HOLE:
	case SEEK_DATA:
		inode_lock_shared(inode);	/* before the glock, as writers */
		ret = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_SH, &gh);
		if (!ret) {
			if (whence == SEEK_HOLE)
				ret = iomap_seek_hole(inode, offset, &cfs_iomap_ops);
			else
				ret = iomap_seek_data(inode, offset, &cfs_iomap_ops);
			cfs_glock_dq(&gh);
		}
		inode_unlock_shared(inode);
		if (ret < 0)
			return ret;
		return vfs_setpos(file, ret, inode->i_sb->s_maxbytes);
	default:
		return generic_file_llseek(file, offset, whence);
	}
}

/*
 * FS_IOC_FIEMAP: the read mapping as it is (holes skipped, mapped runs, inline data as
 * DATA_INLINE | NOT_ALIGNED at its byte address in the dinode). i_rwsem keeps local
 * truncation and hole punching out, the shared glock another node's changes.
 */
int cfs_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo, u64 start, u64 len)
{
	struct cfs_holder gh;
	int err;

	inode_lock_shared(inode);	/* i_rwsem before the glock, as writers take them */
	err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_SH, &gh);
	if (!err) {
		err = iomap_fiemap(inode, fieinfo, start, len, &cfs_iomap_ops);
		cfs_glock_dq(&gh);
	}
	inode_unlock_shared(inode);
	return err;
}

/*
 * Frees file blocks [@first, @end) in bounded transactions; trans_mutex held. The caller
 * has dropped the page cache over the range.
 */
static int cfs_free_blocks_locked(struct inode *inode, struct cfs_trans_rgrps *rs, u64 first,
				  u64 end)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);
	struct cfs_core_inode before;
	bool done = false;
	int err = 0;

	lockdep_assert_held(&sbi->trans_mutex);
	while (!err && !done) {
		/* The previous step stopped at a block of a group we do not hold. */
		if (cfs_trans_wanted(sbi, rs))
			cfs_trans_relock(sbi, rs);
		err = cfs_core_reserve(sbi->core, CFS_CORE_MAP_CHANGE_BUFS);
		if (err)
			break;
		down_write(&ci->map_lock);
		err = cfs_inode_snapshot(inode, &before);
		if (!err)
			err = cfs_core_punch_step(sbi->core, inode->i_ino, first, end, &done);
		if (!err)
			err = cfs_inode_refresh(inode, &before, false);
		up_write(&ci->map_lock);
	}
	return err;
}

/*
 * Allocates [offset, offset + len) with zeroed blocks, as GFS2: the format has no
 * unwritten extents, and blocks past EOF must hold zeros (docs/format.md). Blocks that
 * cannot be zeroed withdraw the mount before any journal flush can commit them. On an
 * error (ENOSPC part-way) the blocks allocated so far stay, zeroed.
 */
static long cfs_fallocate_range(struct inode *inode, loff_t offset, loff_t len)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	loff_t pos = offset, end = offset + len;
	int err = 0;

	while (!err && pos < end) {
		struct iomap iomap = {};

		cfs_trans_lock(sbi);
		err = cfs_iomap_allocate(inode, pos, end - pos, &iomap);
		if (!err && (iomap.flags & IOMAP_F_NEW)) {
			/* Zeroed before any commit can make the blocks part of the file. */
			err = blkdev_issue_zeroout(inode->i_sb->s_bdev,
						   iomap.addr >> SECTOR_SHIFT,
						   iomap.length >> SECTOR_SHIFT, GFP_NOFS, 0);
			if (err)
				/* Withdraw: the allocation of unzeroed blocks must never commit. */
				err = cfs_core_error(sbi, -EIO);
		}
		cfs_trans_unlock(sbi);
		if (!err)
			pos = iomap.offset + iomap.length;
		if (fatal_signal_pending(current))
			err = -EINTR;
	}
	return err;
}

static long cfs_punch_hole(struct inode *inode, loff_t offset, loff_t len)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);
	loff_t bsize = sbi->block_size;
	loff_t first = round_up(offset, bsize), last = round_down(offset + len, bsize);
	struct cfs_trans_rgrps rs = {};
	loff_t zero_end;
	int err;

	if (ci->height == 0 && i_size_read(inode) == 0)
		return 0;	/* an empty inline file owns no block */
	if (ci->height == 0) {
		/* Inline data is zeroed through blocks: unstuff first. */
		struct iomap iomap = {};

		cfs_trans_lock(sbi);
		err = cfs_iomap_allocate(inode, 0, bsize, &iomap);
		cfs_trans_unlock(sbi);
		if (err)
			return err;
	}
	/*
	 * Partial blocks at either end are zeroed in place (only below EOF: zeroing through
	 * the page cache past EOF would grow the file), whole blocks freed.
	 */
	zero_end = min_t(loff_t, offset + len, i_size_read(inode));
	err = 0;
	if (first > offset && zero_end > offset)	/* 6.1 warns on an empty range */
		err = iomap_zero_range(inode, offset, min(first, zero_end) - offset, NULL,
				       &cfs_iomap_ops);
	if (!err && last >= first && zero_end > last)
		err = iomap_zero_range(inode, last, zero_end - last, NULL, &cfs_iomap_ops);
	if (err || last <= first)
		return err;
	truncate_pagecache_range(inode, first, last - 1);
	err = filemap_write_and_wait(inode->i_mapping);
	if (err)
		return err;
	cfs_trans_rgrps_add(sbi, &rs, inode->i_ino);
	cfs_trans_lock_rgrps(sbi, &rs);
	err = cfs_free_blocks_locked(inode, &rs, first >> sbi->block_shift, last >> sbi->block_shift);
	cfs_trans_unlock(sbi);
	return err ? cfs_core_error(sbi, err) : 0;
}

/*
 * FALLOC_FL_ZERO_RANGE: the range reads zeros and is allocated. Whole blocks are punched
 * and allocated again zeroed (no unwritten extents to convert), partial blocks zeroed in
 * place by the punch.
 */
static long cfs_zero_range(struct inode *inode, loff_t offset, loff_t len)
{
	long err = cfs_punch_hole(inode, offset, len);

	return err ? err : cfs_fallocate_range(inode, offset, len);
}

static long cfs_fallocate(struct file *file, int mode, loff_t offset, loff_t len)
{
	struct inode *inode = file_inode(file);
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_holder gh;
	loff_t end = offset + len;
	long err;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (!S_ISREG(inode->i_mode))
		return -ENODEV;
	if (cfs_withdrawn(sbi))
		return -EIO;

	inode_lock(inode);
	err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_EX, &gh);
	if (err)
		goto out_unlock;
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > i_size_read(inode)) {
		err = inode_newsize_ok(inode, end);
		if (err)
			goto out_dq;
	}
	inode_dio_wait(inode);
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		err = cfs_punch_hole(inode, offset, len);
	} else {
		if (mode & FALLOC_FL_ZERO_RANGE)
			err = cfs_zero_range(inode, offset, len);
		else
			err = cfs_fallocate_range(inode, offset, len);
		if (!err && !(mode & FALLOC_FL_KEEP_SIZE) && end > i_size_read(inode))
			i_size_write(inode, end);
	}
	if (!err) {
		inode_set_ctime_current(inode);
		if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
			cfs_inode_set_mtime(inode, inode_get_ctime(inode));
		mark_inode_dirty(inode);
	}
out_dq:
	cfs_glock_dq(&gh);
out_unlock:
	inode_unlock(inode);
	return err;
}

static int cfs_file_open(struct inode *inode, struct file *file)
{
	file->f_mode |= FMODE_CAN_ODIRECT;
	return generic_file_open(inode, file);
}

/*
 * flock(2), cluster-wide with lock_cluster (GFS2's way): an open file's flock is a
 * holder of the inode's flock glock (SH for LOCK_SH, EX for LOCK_EX; LOCK_NB tries
 * without waiting), and the VFS records it locally as well, which also releases it at
 * the last close. A change of mode is a release and a new request, as flock(2) allows.
 * Released flock glocks are dropped at once, not cached: another node's LOCK_NB must
 * not fail against a lock nobody holds.
 */
struct cfs_file_flock {
	struct mutex mutex;
	struct cfs_glock *gl;
	struct cfs_holder gh;
};

static void cfs_flock_release_locked(struct cfs_file_flock *ff)
{
	if (!ff->gh.gh_granted)
		return;
	cfs_glock_dq(&ff->gh);
	cfs_glock_callback(ff->gl, CFS_GL_UN);
}

static struct cfs_file_flock *cfs_file_flock(struct file *file)
{
	struct inode *inode = file_inode(file);
	struct cfs_file_flock *ff = READ_ONCE(file->private_data), *old;

	if (ff)
		return ff;
	ff = kzalloc(sizeof(*ff), GFP_KERNEL);
	if (!ff)
		return ERR_PTR(-ENOMEM);
	mutex_init(&ff->mutex);
	ff->gl = cfs_glock_get(CFS_SB(inode->i_sb), CFS_GLT_FLOCK, inode->i_ino);
	if (IS_ERR(ff->gl)) {
		long err = PTR_ERR(ff->gl);

		kfree(ff);
		return ERR_PTR(err);
	}
	old = cmpxchg(&file->private_data, NULL, ff);
	if (old) {
		cfs_glock_put(ff->gl);
		kfree(ff);
		return old;
	}
	return ff;
}

static int cfs_flock(struct file *file, int cmd, struct file_lock *fl)
{
	struct cfs_file_flock *ff;
	enum cfs_glock_state state;
	unsigned int flags;
	int err;

	if (!(cfs_fl_flags(fl) & FL_FLOCK))
		return -ENOLCK;
	if (!cfs_clustered_sb(CFS_SB(file_inode(file)->i_sb)))
		return locks_lock_file_wait(file, fl);
	ff = cfs_file_flock(file);
	if (IS_ERR(ff))
		return PTR_ERR(ff);
	mutex_lock(&ff->mutex);
	if (cfs_fl_type(fl) == F_UNLCK) {
		err = locks_lock_file_wait(file, fl);
		cfs_flock_release_locked(ff);
		mutex_unlock(&ff->mutex);
		return err;
	}
	state = cfs_fl_type(fl) == F_WRLCK ? CFS_GL_EX : CFS_GL_SH;
	if (ff->gh.gh_granted && ff->gh.gh_state == state) {
		mutex_unlock(&ff->mutex);
		return locks_lock_file_wait(file, fl);
	}
	cfs_flock_release_locked(ff);
	flags = cfs_fl_flags(fl) & FL_SLEEP ? CFS_GH_INTERRUPTIBLE : CFS_GH_TRY;
	err = cfs_glock_nq_flags(ff->gl, state, &ff->gh, flags);
	if (err == -EAGAIN)
		err = -EWOULDBLOCK;
	if (!err) {
		err = locks_lock_file_wait(file, fl);
		if (err)
			cfs_flock_release_locked(ff);
	}
	mutex_unlock(&ff->mutex);
	return err;
}

/*
 * fcntl (POSIX) locks: with lock_cluster cluster-wide through lockd
 * (cfs_cluster_plock); with lock_nolock what the VFS does for a filesystem without
 * ->lock.
 */
static int cfs_posix_lock(struct file *file, int cmd, struct file_lock *fl)
{
	struct cfs_sb_info *sbi = CFS_SB(file_inode(file)->i_sb);

	if (!(cfs_fl_flags(fl) & FL_POSIX))
		return -ENOLCK;
	if (!cfs_clustered_sb(sbi)) {
		if (IS_GETLK(cmd)) {
			posix_test_lock(file, fl);
			return 0;
		}
		return posix_lock_file(file, fl, NULL);
	}
	/* nfsd's cancel of a blocked request: we never leave one blocked, so it unlocks. */
	if (cmd == F_CANCELLK) {
		cmd = F_SETLK;
		cfs_fl_set_type(fl, F_UNLCK);
	}
	return cfs_cluster_plock(sbi, file, cmd, fl);
}

static int cfs_file_release(struct inode *inode, struct file *file)
{
	struct cfs_file_flock *ff = file->private_data;

	if (ff) {
		cfs_flock_release_locked(ff);
		cfs_glock_put(ff->gl);
		kfree(ff);
		file->private_data = NULL;
	}
	return 0;
}

const struct file_operations cfs_file_operations = {
	.llseek		= cfs_file_llseek,
	.read_iter	= cfs_file_read_iter,
	.write_iter	= cfs_file_write_iter,
	.mmap		= cfs_file_mmap,
	.splice_read	= cfs_splice_read,
	.splice_write	= iter_file_splice_write,
	.open		= cfs_file_open,
	.release	= cfs_file_release,
	.flock		= cfs_flock,
	.lock		= cfs_posix_lock,
	.fsync		= cfs_fsync,
	.fallocate	= cfs_fallocate,
	.unlocked_ioctl	= cfs_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/*
 * setattr as every other type: without it the VFS's simple_setattr changed only the
 * VFS inode (lchown, utimensat with AT_SYMLINK_NOFOLLOW), journaled nothing.
 */
const struct inode_operations cfs_symlink_inode_operations = {
	.get_link	= page_get_link,
	.getattr	= cfs_getattr,
	.setattr	= cfs_setattr,
	.listxattr	= cfs_listxattr,
};
