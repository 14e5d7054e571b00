// SPDX-License-Identifier: GPL-2.0
/*
 * Regular files and symlinks: the page cache and direct I/O through iomap. lib maps
 * file blocks (bmap); the data itself never passes through lib. Stuffed (inline)
 * files are served as IOMAP_INLINE from a copy of the dinode's inline area.
 */
#include <linux/fs.h>
#include <linux/iomap.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "clusterfs.h"
#include "core.h"

static int cfs_iomap_begin(struct inode *inode, loff_t pos, loff_t length, unsigned int flags,
			   struct iomap *iomap, struct iomap *srcmap)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);
	loff_t size = i_size_read(inode);
	struct cfs_core_map map;
	u64 lblock, last;
	void *inline_copy;
	int err;

	iomap->bdev = inode->i_sb->s_bdev;
	iomap->private = NULL;

	if (ci->height == 0) {
		/* Stuffed: bytes [0, size) live in the dinode. */
		if (pos >= size || size == 0) {
			iomap->type = IOMAP_HOLE;
			iomap->addr = IOMAP_NULL_ADDR;
			iomap->offset = pos;
			iomap->length = length;
			return 0;
		}
		inline_copy = kmalloc(sbi->block_size, GFP_NOFS);
		if (!inline_copy)
			return -ENOMEM;
		err = cfs_core_read_inline(sbi->core, inode->i_ino, 0, inline_copy, size);
		if (err) {
			kfree(inline_copy);
			return cfs_core_error(sbi, err);
		}
		iomap->type = IOMAP_INLINE;
		iomap->addr = IOMAP_NULL_ADDR;
		iomap->offset = 0;
		iomap->length = size;
		iomap->inline_data = inline_copy;
		iomap->private = inline_copy;
		return 0;
	}

	lblock = pos >> sbi->block_shift;
	last = (pos + length - 1) >> sbi->block_shift;
	err = cfs_core_bmap(sbi->core, inode->i_ino, lblock, last - lblock + 1, &map);
	if (err)
		return cfs_core_error(sbi, err);
	iomap->offset = (loff_t)lblock << sbi->block_shift;
	iomap->length = (loff_t)map.count << sbi->block_shift;
	if (!map.disk_block) {
		iomap->type = IOMAP_HOLE;
		iomap->addr = IOMAP_NULL_ADDR;
	} else {
		iomap->type = IOMAP_MAPPED;
		iomap->addr = (u64)map.disk_block << sbi->block_shift;
	}
	return 0;
}

static int cfs_iomap_end(struct inode *inode, loff_t pos, loff_t length, ssize_t written,
			 unsigned int flags, struct iomap *iomap)
{
	kfree(iomap->private);
	iomap->private = NULL;
	return 0;
}

const struct iomap_ops cfs_iomap_ops = {
	.iomap_begin	= cfs_iomap_begin,
	.iomap_end	= cfs_iomap_end,
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
	.bmap			= cfs_bmap,
	.release_folio		= iomap_release_folio,
	.invalidate_folio	= iomap_invalidate_folio,
	.is_partially_uptodate	= iomap_is_partially_uptodate,
	.error_remove_page	= generic_error_remove_page,
};

static ssize_t cfs_file_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	struct cfs_holder gh;
	ssize_t ret;

	if (!iov_iter_count(to))
		return 0;
	ret = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_SH, &gh);
	if (ret)
		return ret;
	if (iocb->ki_flags & IOCB_DIRECT) {
		inode_lock_shared(inode);
		ret = iomap_dio_rw(iocb, to, &cfs_iomap_ops, NULL, 0, NULL, 0);
		inode_unlock_shared(inode);
	} else {
		ret = generic_file_read_iter(iocb, to);
	}
	cfs_glock_dq(&gh);
	return ret;
}

static int cfs_file_open(struct inode *inode, struct file *file)
{
	file->f_mode |= FMODE_CAN_ODIRECT;
	return generic_file_open(inode, file);
}

const struct file_operations cfs_file_operations = {
	.llseek		= generic_file_llseek,
	.read_iter	= cfs_file_read_iter,
	.mmap		= generic_file_readonly_mmap,
	.splice_read	= cfs_splice_read,
	.open		= cfs_file_open,
	.fsync		= generic_file_fsync,
};

const struct inode_operations cfs_symlink_inode_operations = {
	.get_link	= page_get_link,
	.getattr	= cfs_getattr,
};
