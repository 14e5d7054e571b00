// SPDX-License-Identifier: GPL-2.0
/*
 * Creating ahead (lock_cluster). A new inode's first lock requests are a lockd round trip
 * (an agreed multicast: nobody owns the name yet), and a create waited for it in
 * cfs_iget_new. The allocator gives a directory's new dinodes the first free blocks
 * after the directory in the group this node holds, so the next creates' blocks are
 * known: right after a create, under the group's lock, the inode glock (EX) and iopen
 * glock (SH) of the next free blocks are requested without a holder
 * (cfs_glock_prefetch), and a slot keeps a reference on each so that they stay cached
 * until used. The next create finds them granted (or in flight), and later operations
 * on a name this node is the sole user of are local to its lockd (docs/lockd-ownership.md).
 *
 * Safety is the lock manager's as for any request: a prefetched lock is an ordinary
 * lock on an ordinary name, granted in the agreed order and yielded on any blocking
 * callback (there is no holder). A wrong guess (the block became a data block, or a
 * group another node then took) costs a lock that is never used, dropped when its slot
 * is reused or at unmount.
 */
#include "clusterfs.h"
#include "core.h"
#include "create_ahead.h"
#include "glock.h"

void cfs_create_ahead_init(struct cfs_create_ahead *ahead)
{
	cfs_ahead_ring_init(&ahead->ring, 2 * CFS_CREATE_AHEAD, cfs_ahead_slot_put);
	ahead->window = CFS_CREATE_AHEAD;
}

void cfs_create_ahead_debugfs(struct cfs_create_ahead *ahead, struct dentry *dir)
{
	cfs_ahead_ring_debugfs(&ahead->ring, dir, "create_ahead");
}

static int cfs_collect_free(void *ctx, cfs_core_u64 first, cfs_core_u32 count)
{
	struct cfs_create_guess *guess = ctx;

	while (count-- && guess->count < guess->want)
		guess->blocks[guess->count++] = first++;
	return guess->count < guess->want ? 0 : 1;
}

void cfs_create_ahead_guess(struct cfs_sb_info *sbi, u64 ino, struct cfs_create_guess *guess)
{
	cfs_core_u64 first;
	cfs_core_u32 index, count;

	struct cfs_create_ahead *ahead = &sbi->create_ahead;

	guess->count = 0;
	guess->want = 0;
	if (!cfs_clustered_sb(sbi) || cfs_withdrawn(sbi))
		return;
	spin_lock(&ahead->ring.lock);
	guess->want = ahead->window;
	if (!guess->want && ++ahead->since_probe >= CFS_CREATE_AHEAD) {
		ahead->since_probe = 0;
		guess->want = 1;
	}
	spin_unlock(&ahead->ring.lock);
	if (!guess->want)
		return;
	if (cfs_core_rgrp_of_block(sbi->core, ino, &index) || index >= sbi->rgrp_count ||
	    !test_bit(index, sbi->rgrp_held) ||
	    cfs_core_rgrp_data(sbi->core, index, &first, &count))
		return;
	if (cfs_core_free_runs(sbi->core, ino + 1, first + count, 1, cfs_collect_free, guess) < 0)
		guess->count = 0;
}

void cfs_create_ahead_request(struct cfs_sb_info *sbi, const struct cfs_create_guess *guess)
{
	struct cfs_ahead_ring *ring = &sbi->create_ahead.ring;
	unsigned int i;

	for (i = 0; i < guess->count; i++) {
		struct cfs_ahead_slot fresh = { .number = guess->blocks[i] };
		bool busy, replaced;

		spin_lock(&ring->lock);
		busy = cfs_ahead_ring_busy_locked(ring, fresh.number);
		spin_unlock(&ring->lock);
		if (busy)
			continue;	/* already requested, or no room to drop the oldest */
		fresh.inode_gl = cfs_glock_get(sbi, CFS_GLT_INODE, fresh.number);
		if (IS_ERR(fresh.inode_gl))
			break;
		fresh.iopen_gl = cfs_glock_get(sbi, CFS_GLT_IOPEN, fresh.number);
		if (IS_ERR(fresh.iopen_gl)) {
			cfs_glock_put(fresh.inode_gl);
			break;
		}
		/* The states cfs_iget_new asks for: both requests go out now, unheld. */
		cfs_glock_prefetch(fresh.inode_gl, CFS_GL_EX);
		cfs_glock_prefetch(fresh.iopen_gl, CFS_GL_SH);
		fresh.requested_at = jiffies;
		cfs_ahead_ring_add(ring, &fresh, &replaced);
	}
}

void cfs_create_ahead_used(struct cfs_sb_info *sbi, u64 ino)
{
	struct cfs_create_ahead *ahead = &sbi->create_ahead;
	struct cfs_ahead_slot used = {};
	bool hit;

	if (!cfs_clustered_sb(sbi))
		return;
	spin_lock(&ahead->ring.lock);
	hit = cfs_ahead_ring_take_locked(&ahead->ring, ino, &used);
	ahead->window = hit ? min(max(ahead->window, 1U) * 2, (unsigned int)CFS_CREATE_AHEAD)
			    : ahead->window / 2;
	spin_unlock(&ahead->ring.lock);
	cfs_ahead_slot_put(&ahead->ring, &used);
}

struct cfs_block_range {
	u64 first, end;
};

static bool cfs_create_ahead_in_range(const struct cfs_ahead_slot *slot, void *arg)
{
	const struct cfs_block_range *range = arg;

	return slot->number >= range->first && slot->number < range->end;
}

void cfs_create_ahead_forget(struct cfs_sb_info *sbi, u64 first, u64 end)
{
	struct cfs_block_range range = { first, end };

	cfs_ahead_ring_drop(&sbi->create_ahead.ring, cfs_create_ahead_in_range, &range);
}

void cfs_create_ahead_drain(struct cfs_sb_info *sbi)
{
	cfs_ahead_ring_drain(&sbi->create_ahead.ring);
}
