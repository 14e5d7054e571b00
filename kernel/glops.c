// SPDX-License-Identifier: GPL-2.0
/*
 * Per-type glock hooks: what must be written back before a glock leaves EX and what
 * must be dropped before it leaves a caching state (glock.h).
 */
#include <linux/fs.h>
#include <linux/pagemap.h>

#include "clusterfs.h"

/* The inode's dirty pages reach disk before another node may read them. */
static int cfs_inode_go_sync(struct cfs_glock *gl)
{
	struct inode *inode = gl->gl_object;
	int err;

	if (!inode)
		return 0;
	err = filemap_write_and_wait(inode->i_mapping);
	if (err)
		cfs_withdraw(gl->gl_sbi, "inode %llu: data write-back failed (%d) while releasing its lock",
			     gl->gl_number, err);
	return err;
}

/* Another node may change the file: forget the cached pages. */
static void cfs_inode_go_inval(struct cfs_glock *gl)
{
	struct inode *inode = gl->gl_object;

	if (inode) {
		truncate_inode_pages(inode->i_mapping, 0);
		forget_all_cached_acls(inode);
	}
}

const struct cfs_glock_operations cfs_inode_glops = {
	.name		= "inode",
	.go_sync	= cfs_inode_go_sync,
	.go_inval	= cfs_inode_go_inval,
};
