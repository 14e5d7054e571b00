// SPDX-License-Identifier: GPL-2.0
/*
 * Withdraw: what the filesystem does when it finds its metadata damaged or cannot
 * write it. With errors=withdraw (the default) it stops every further write to the
 * device, the mount turns read-only and readers of intact data carry on; with
 * errors=panic the node panics so a cluster fences it and another node recovers its
 * journal. Nothing reachable from disk contents may BUG or oops instead.
 */
#include <linux/fs.h>
#include <linux/printk.h>

#include "clusterfs.h"
#include "lock_cluster.h"

void cfs_withdraw(struct cfs_sb_info *sbi, const char *fmt, ...)
{
	struct super_block *sb = sbi->sb;
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	if (sbi->opts.errors == CFS_ERRORS_PANIC)
		panic("clusterfs (%s): %pV (errors=panic)\n", sb->s_id, &vaf);
	if (!test_and_set_bit(CFS_SDF_WITHDRAWN, &sbi->flags)) {
		pr_err("clusterfs (%s): %pV\n", sb->s_id, &vaf);
		pr_err("clusterfs (%s): withdrawn: no further writes; unmount and run fsck.clusterfs\n",
		       sb->s_id);
		/*
		 * Readers keep working; every write path checks cfs_withdrawn() and the
		 * read-only flag stops new writers at the VFS.
		 */
		sb->s_flags |= SB_RDONLY;
		/* Its locks go to lockd pinned to its journal, once its writes stopped. */
		cfs_cluster_withdrawn(sbi);
	}
	va_end(args);
}

int cfs_core_error(struct cfs_sb_info *sbi, int err)
{
	/* A mount that fails reports its error and writes nothing anyway. */
	if (!sbi->sb->s_root && (err == -EUCLEAN || err == -EBADMSG || err == -EIO))
		return -EIO;
	switch (err) {
	case -EUCLEAN:
	case -EBADMSG:
		/* lib has already named the block, the check and the offset. */
		cfs_withdraw(sbi, "metadata corruption detected");
		return -EIO;
	case -EIO:
		cfs_withdraw(sbi, "metadata I/O error");
		return -EIO;
	default:
		return err;
	}
}
