// SPDX-License-Identifier: GPL-2.0
/*
 * Discards: the `discard` mount option (freed blocks are discarded once the transaction
 * that freed them is in the log) and the FITRIM ioctl (fstrim: every free run of a range).
 *
 * Why after the commit: until the freeing transaction is durable, a crash replays the
 * journal to a state in which the blocks still belong to their file, so their contents
 * must survive. Why re-read the bitmap before discarding: a block freed and allocated
 * again before the flush holds new data; only the runs still free at discard time (under
 * trans_mutex, so nothing can allocate them meanwhile) are discarded.
 */
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "clusterfs.h"
#include "core.h"

/* Pending extents beyond this are dropped (discard is advisory): 16 MiB of bookkeeping. */
#define CFS_DISCARD_MAX_PENDING (1u << 20)

/* Runs of freed blocks awaiting the next journal commit; under trans_mutex. */
struct cfs_discard_extent {
	u64 first;
	u64 count;
};

static bool cfs_discard_enabled(struct cfs_sb_info *sbi)
{
	return sbi->opts.discard && bdev_max_discard_sectors(sbi->sb->s_bdev);
}

/* lib's free hook: remembers the run, merging it with the previous one when adjacent. */
static void cfs_discard_freed(void *ctx, u64 first, u32 count)
{
	struct cfs_sb_info *sbi = ctx;
	struct cfs_discard_extent *last;

	lockdep_assert_held(&sbi->trans_mutex);
	if (!cfs_discard_enabled(sbi))
		return;
	last = sbi->discard_count ? &sbi->discard_pending[sbi->discard_count - 1] : NULL;
	if (last && last->first + last->count == first) {
		last->count += count;
		return;
	}
	if (last && first + count == last->first) {	/* frees running backwards (truncate) */
		last->first = first;
		last->count += count;
		return;
	}
	if (sbi->discard_count == sbi->discard_cap) {
		u32 cap = max(2 * sbi->discard_cap, 256u);
		struct cfs_discard_extent *grown;

		if (cap > CFS_DISCARD_MAX_PENDING) {
			sbi->discard_dropped++;
			return;
		}
		grown = kvmalloc_array(cap, sizeof(*grown), GFP_NOFS);
		if (!grown) {
			sbi->discard_dropped++;
			return;
		}
		if (sbi->discard_count)
			memcpy(grown, sbi->discard_pending, sbi->discard_count * sizeof(*grown));
		kvfree(sbi->discard_pending);
		sbi->discard_pending = grown;
		sbi->discard_cap = cap;
	}
	sbi->discard_pending[sbi->discard_count++] = (struct cfs_discard_extent){ first, count };
}

struct cfs_trim_ctx {
	struct cfs_sb_info *sbi;
	u64 blocks;		/* discarded */
	int err;		/* first failure other than "not supported" */
};

static int cfs_discard_run(void *ctx, u64 first, u32 count)
{
	struct cfs_trim_ctx *tc = ctx;
	struct cfs_sb_info *sbi = tc->sbi;
	unsigned int to_sectors = sbi->block_shift - SECTOR_SHIFT;
	int err;

	err = blkdev_issue_discard(sbi->sb->s_bdev, (sector_t)first << to_sectors,
				   (sector_t)count << to_sectors, GFP_NOFS);
	if (!err)
		tc->blocks += count;
	else if (err != -EOPNOTSUPP && !tc->err)
		tc->err = err;
	return 0;	/* one failed run does not stop the others */
}

static int cfs_extent_cmp(const void *a, const void *b)
{
	const struct cfs_discard_extent *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* After a journal flush: discard what the now durable transactions freed. */
static void cfs_discard_committed(void *ctx)
{
	struct cfs_sb_info *sbi = ctx;
	struct cfs_trim_ctx tc = { .sbi = sbi };
	u32 i, merged = 0;
	int err = 0;

	lockdep_assert_held(&sbi->trans_mutex);
	if (!sbi->discard_count)
		return;
	if (cfs_discard_enabled(sbi) && !cfs_withdrawn(sbi)) {
		sort(sbi->discard_pending, sbi->discard_count, sizeof(*sbi->discard_pending),
		     cfs_extent_cmp, NULL);
		for (i = 1; i < sbi->discard_count; i++) {
			struct cfs_discard_extent *m = &sbi->discard_pending[merged];
			struct cfs_discard_extent *e = &sbi->discard_pending[i];

			if (e->first <= m->first + m->count)
				m->count = max(m->count, e->first + e->count - m->first);
			else
				sbi->discard_pending[++merged] = *e;
		}
		for (i = 0; i <= merged && !err; i++) {
			struct cfs_discard_extent *e = &sbi->discard_pending[i];

			err = cfs_core_free_runs(sbi->core, e->first, e->first + e->count, 1,
						 cfs_discard_run, &tc);
		}
		if (err || tc.err)
			pr_warn_ratelimited("clusterfs (%s): discarding freed blocks failed (%d)\n",
					    sbi->sb->s_id, err ? err : tc.err);
	}
	sbi->discard_count = 0;
	if (sbi->discard_cap > 4096) {	/* a big delete: give the memory back */
		kvfree(sbi->discard_pending);
		sbi->discard_pending = NULL;
		sbi->discard_cap = 0;
	}
}

void cfs_discard_init(struct cfs_sb_info *sbi)
{
	struct cfs_core_free_observer observer = {
		.freed		= cfs_discard_freed,
		.committed	= cfs_discard_committed,
		.ctx		= sbi,
	};

	cfs_core_set_free_observer(sbi->core, &observer);
}

void cfs_discard_destroy(struct cfs_sb_info *sbi)
{
	if (sbi->core)
		cfs_core_set_free_observer(sbi->core, NULL);
	if (sbi->discard_dropped)
		pr_info("clusterfs (%s): %llu freed extents were not discarded (bookkeeping limit)\n",
			sbi->sb->s_id, sbi->discard_dropped);
	kvfree(sbi->discard_pending);
	sbi->discard_pending = NULL;
	sbi->discard_count = sbi->discard_cap = 0;
}

/*
 * FITRIM: discards the free runs of at least range.minlen bytes within
 * [range.start, range.start + range.len), one resource group at a time under trans_mutex
 * (no allocation can take a block while it is discarded), after a journal flush (no free
 * that is not yet durable is discarded). Reports the bytes discarded in range.len.
 */
static int cfs_fitrim(struct file *file, struct fstrim_range __user *argp)
{
	struct super_block *sb = file_inode(file)->i_sb;
	struct cfs_sb_info *sbi = CFS_SB(sb);
	struct block_device *bdev = sb->s_bdev;
	struct cfs_trim_ctx tc = { .sbi = sbi };
	struct fstrim_range range;
	u64 start, end, minlen;
	u32 i;
	int err = 0;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (!bdev_max_discard_sectors(bdev))
		return -EOPNOTSUPP;
	if (copy_from_user(&range, argp, sizeof(range)))
		return -EFAULT;
	if (sb_rdonly(sb))
		return -EROFS;
	if (cfs_withdrawn(sbi))
		return -EIO;
	start = range.start >> sbi->block_shift;
	if (start >= sbi->fs_blocks)
		return -EINVAL;
	end = range.len >= ((u64)sbi->fs_blocks << sbi->block_shift) - range.start ?
		sbi->fs_blocks : (range.start + range.len) >> sbi->block_shift;
	minlen = max_t(u64, range.minlen, bdev_discard_granularity(bdev));
	minlen = max_t(u64, DIV_ROUND_UP(minlen, sbi->block_size), 1);
	if (minlen > U32_MAX)
		return -EINVAL;

	for (i = 0; i < sbi->rgrps && !err; i++) {
		struct cfs_trans_rgrps rs = {};
		u64 first;
		u32 count;

		err = cfs_core_rgrp_data(sbi->core, i, &first, &count);
		if (err || first + count <= start || first >= end)
			continue;
		/* The group's bitmap, current and unchanging while its free runs are sent. */
		cfs_trans_rgrps_add(sbi, &rs, first);
		cfs_trans_lock_rgrps(sbi, &rs);
		if (cfs_withdrawn(sbi) || !cfs_core_journal_active(sbi->core)) {
			/* withdrawn or remounted read-only meanwhile */
			cfs_trans_unlock(sbi);
			return -EIO;
		}
		err = cfs_core_journal_flush(sbi->core);
		if (!err)
			err = cfs_core_free_runs(sbi->core, max(first, start), min(first + count, end),
						 (u32)minlen, cfs_discard_run, &tc);
		cfs_trans_unlock(sbi);
		if (err)
			return cfs_core_error(sbi, err);
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	if (tc.err && !tc.blocks)
		return tc.err;
	range.len = tc.blocks << sbi->block_shift;
	if (copy_to_user(argp, &range, sizeof(range)))
		return -EFAULT;
	return 0;
}

long cfs_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case FITRIM:
		return cfs_fitrim(file, (struct fstrim_range __user *)arg);
	default:
		return -ENOTTY;
	}
}
