// SPDX-License-Identifier: GPL-2.0
/*
 * Inodes: reading a dinode into a VFS inode (under its glock), eviction, getattr.
 */
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/stat.h>

#include "clusterfs.h"
#include "core.h"

static void cfs_inode_apply(struct inode *inode, const struct cfs_core_inode *di)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);

	inode->i_mode = di->mode;
	i_uid_write(inode, di->uid);
	i_gid_write(inode, di->gid);
	set_nlink(inode, di->nlink);
	i_size_write(inode, di->size);
	inode->i_blocks = di->blocks << (sbi->block_shift - 9);
	inode->i_generation = (u32)di->generation;
	cfs_inode_set_atime(inode, (struct timespec64){ di->atime_sec, di->atime_nsec });
	cfs_inode_set_mtime(inode, (struct timespec64){ di->mtime_sec, di->mtime_nsec });
	inode_set_ctime(inode, di->ctime_sec, di->ctime_nsec);
	ci->crtime.tv_sec = di->crtime_sec;
	ci->crtime.tv_nsec = di->crtime_nsec;
	ci->generation = di->generation;
	ci->di_flags = di->flags;
	ci->height = di->height;

	inode->i_flags &= ~(S_IMMUTABLE | S_APPEND | S_NOATIME | S_SYNC);
	if (di->flags & CFS_DIF_IMMUTABLE)
		inode->i_flags |= S_IMMUTABLE;
	if (di->flags & CFS_DIF_APPENDONLY)
		inode->i_flags |= S_APPEND;
	if (di->flags & CFS_DIF_NOATIME)
		inode->i_flags |= S_NOATIME;
	if (di->flags & CFS_DIF_SYNC)
		inode->i_flags |= S_SYNC;
}

static int cfs_inode_set_ops(struct inode *inode, const struct cfs_core_inode *di)
{
	switch (inode->i_mode & S_IFMT) {
	case S_IFDIR:
		inode->i_op = &cfs_dir_inode_operations;
		inode->i_fop = &cfs_dir_operations;
		return 0;
	case S_IFREG:
		inode->i_op = &cfs_file_inode_operations;
		inode->i_fop = &cfs_file_operations;
		inode->i_mapping->a_ops = &cfs_file_aops;
		return 0;
	case S_IFLNK:
		inode->i_op = &cfs_symlink_inode_operations;
		inode->i_mapping->a_ops = &cfs_file_aops;
		inode_nohighmem(inode);
		return 0;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		inode->i_op = &cfs_special_inode_operations;
		init_special_inode(inode, inode->i_mode, MKDEV(di->rdev_major, di->rdev_minor));
		return 0;
	default:
		return -EUCLEAN;
	}
}

struct inode *cfs_iget(struct super_block *sb, u64 ino)
{
	struct cfs_sb_info *sbi = CFS_SB(sb);
	struct cfs_core_inode di;
	struct cfs_holder gh;
	struct cfs_inode_info *ci;
	struct inode *inode;
	int err;

	inode = iget_locked(sb, ino);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (!(inode->i_state & I_NEW))
		return inode;
	ci = CFS_I(inode);

	ci->glock = cfs_glock_get(sbi, CFS_GLT_INODE, ino);
	if (IS_ERR(ci->glock)) {
		err = PTR_ERR(ci->glock);
		ci->glock = NULL;
		goto fail;
	}
	ci->glock->gl_object = inode;
	err = cfs_glock_nq(ci->glock, CFS_GL_SH, &gh);
	if (err)
		goto fail;
	err = cfs_core_inode_read(sbi->core, ino, &di);
	cfs_glock_dq(&gh);
	if (err) {
		err = cfs_core_error(sbi, err);
		goto fail;
	}
	cfs_inode_apply(inode, &di);
	err = cfs_inode_set_ops(inode, &di);
	if (err) {
		pr_err_ratelimited("clusterfs (%s): inode %llu has an invalid mode %o\n",
				   sb->s_id, ino, di.mode);
		err = cfs_core_error(sbi, err);
		goto fail;
	}
	unlock_new_inode(inode);
	return inode;

fail:
	iget_failed(inode);
	return ERR_PTR(err);
}

void cfs_evict_inode(struct inode *inode)
{
	struct cfs_inode_info *ci = CFS_I(inode);

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	cfs_host_remove_ordered(&CFS_SB(inode->i_sb)->host, ci);
	if (ci->glock) {
		ci->glock->gl_object = NULL;
		cfs_glock_put(ci->glock);
		ci->glock = NULL;
	}
}

int cfs_getattr(cfs_idmap_t *idmap, const struct path *path, struct kstat *stat,
		       u32 request_mask, unsigned int query_flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct cfs_inode_info *ci = CFS_I(inode);

	cfs_generic_fillattr(idmap, request_mask, inode, stat);
	stat->blksize = CFS_SB(inode->i_sb)->block_size;
	if (request_mask & STATX_BTIME) {
		stat->btime = ci->crtime;
		stat->result_mask |= STATX_BTIME;
	}
	if (ci->di_flags & CFS_DIF_IMMUTABLE)
		stat->attributes |= STATX_ATTR_IMMUTABLE;
	if (ci->di_flags & CFS_DIF_APPENDONLY)
		stat->attributes |= STATX_ATTR_APPEND;
	stat->attributes_mask |= STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND;
	return 0;
}

const struct inode_operations cfs_file_inode_operations = {
	.getattr	= cfs_getattr,
};

const struct inode_operations cfs_special_inode_operations = {
	.getattr	= cfs_getattr,
};
