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
#include <linux/debugfs.h>

#include "clusterfs.h"
#include "core.h"
#include "create_ahead.h"
#include "glock.h"

static void cfs_create_ahead_put(struct cfs_create_ahead_slot *slot)
{
	if (slot->inode_gl)
		cfs_glock_put(slot->inode_gl);
	if (slot->iopen_gl)
		cfs_glock_put(slot->iopen_gl);
}

static void cfs_create_ahead_put_work(struct work_struct *work)
{
	struct cfs_create_ahead *ahead = container_of(work, struct cfs_create_ahead, put_work);

	for (;;) {
		struct cfs_create_ahead_slot slot;

		spin_lock(&ahead->lock);
		if (!ahead->ndropped) {
			spin_unlock(&ahead->lock);
			return;
		}
		slot = ahead->dropped[--ahead->ndropped];
		spin_unlock(&ahead->lock);
		cfs_create_ahead_put(&slot);
	}
}

void cfs_create_ahead_init(struct cfs_create_ahead *ahead)
{
	memset(ahead, 0, sizeof(*ahead));
	ahead->window = CFS_CREATE_AHEAD;
	spin_lock_init(&ahead->lock);
	INIT_WORK(&ahead->put_work, cfs_create_ahead_put_work);
}

void cfs_create_ahead_debugfs(struct cfs_create_ahead *ahead, struct dentry *dir)
{
	if (IS_ERR_OR_NULL(dir))
		return;
	debugfs_create_u64("create_ahead_requested", 0400, dir, &ahead->requested);
	debugfs_create_u64("create_ahead_used", 0400, dir, &ahead->used);
	debugfs_create_u64("create_ahead_dropped", 0400, dir, &ahead->dropped_count);
}

static int cfs_collect_free(void *ctx, cfs_core_u64 first, cfs_core_u32 count)
{
	struct cfs_create_guess *guess = ctx;

	while (count-- && guess->count < guess->want)
		guess->blocks[guess->count++] = first++;
	return guess->count < guess->want ? 0 : 1;
}

static bool cfs_create_ahead_has(struct cfs_create_ahead *ahead, u64 block)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ahead->slots); i++)
		if (ahead->slots[i].block == block)
			return true;
	return false;
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
	spin_lock(&ahead->lock);
	guess->want = ahead->window;
	if (!guess->want && ++ahead->since_probe >= CFS_CREATE_AHEAD) {
		ahead->since_probe = 0;
		guess->want = 1;
	}
	spin_unlock(&ahead->lock);
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
	struct cfs_create_ahead *ahead = &sbi->create_ahead;
	bool queue = false;
	unsigned int i;

	for (i = 0; i < guess->count; i++) {
		struct cfs_create_ahead_slot fresh = { .block = guess->blocks[i] };
		struct cfs_create_ahead_slot *slot;

		spin_lock(&ahead->lock);
		/* Already requested, or no room to drop the oldest: nothing to do. */
		if (cfs_create_ahead_has(ahead, fresh.block) ||
		    ahead->ndropped == ARRAY_SIZE(ahead->dropped)) {
			spin_unlock(&ahead->lock);
			continue;
		}
		spin_unlock(&ahead->lock);

		fresh.inode_gl = cfs_glock_get(sbi, CFS_GLT_INODE, fresh.block);
		if (IS_ERR(fresh.inode_gl))
			break;
		fresh.iopen_gl = cfs_glock_get(sbi, CFS_GLT_IOPEN, fresh.block);
		if (IS_ERR(fresh.iopen_gl)) {
			cfs_glock_put(fresh.inode_gl);
			break;
		}
		/* The states cfs_iget_new asks for: both requests go out now, unheld. */
		cfs_glock_prefetch(fresh.inode_gl, CFS_GL_EX);
		cfs_glock_prefetch(fresh.iopen_gl, CFS_GL_SH);

		spin_lock(&ahead->lock);
		if (cfs_create_ahead_has(ahead, fresh.block) ||
		    ahead->ndropped == ARRAY_SIZE(ahead->dropped)) {
			/* Another create got there first: our references are extra ones. */
			spin_unlock(&ahead->lock);
			cfs_glock_put(fresh.inode_gl);
			cfs_glock_put(fresh.iopen_gl);
			continue;
		}
		slot = &ahead->slots[ahead->next];
		ahead->next = (ahead->next + 1) % ARRAY_SIZE(ahead->slots);
		if (slot->block) {
			ahead->dropped[ahead->ndropped++] = *slot;
			ahead->dropped_count++;
			queue = true;
		}
		*slot = fresh;
		ahead->requested++;
		spin_unlock(&ahead->lock);
	}
	if (queue)
		queue_work(system_unbound_wq, &ahead->put_work);
}

void cfs_create_ahead_used(struct cfs_sb_info *sbi, u64 ino)
{
	struct cfs_create_ahead *ahead = &sbi->create_ahead;
	struct cfs_create_ahead_slot used = {};
	unsigned int i;

	if (!cfs_clustered_sb(sbi))
		return;
	spin_lock(&ahead->lock);
	for (i = 0; i < ARRAY_SIZE(ahead->slots); i++) {
		if (ahead->slots[i].block == ino) {
			used = ahead->slots[i];
			memset(&ahead->slots[i], 0, sizeof(ahead->slots[i]));
			ahead->used++;
			break;
		}
	}
	ahead->window = used.block ? min(max(ahead->window, 1U) * 2, (unsigned int)CFS_CREATE_AHEAD)
				   : ahead->window / 2;
	spin_unlock(&ahead->lock);
	cfs_create_ahead_put(&used);
}

void cfs_create_ahead_forget(struct cfs_sb_info *sbi, u64 first, u64 end)
{
	struct cfs_create_ahead *ahead = &sbi->create_ahead;
	bool queue = false;
	unsigned int i;

	spin_lock(&ahead->lock);
	for (i = 0; i < ARRAY_SIZE(ahead->slots); i++) {
		struct cfs_create_ahead_slot *slot = &ahead->slots[i];

		if (!slot->block || slot->block < first || slot->block >= end ||
		    ahead->ndropped == ARRAY_SIZE(ahead->dropped))
			continue;
		ahead->dropped[ahead->ndropped++] = *slot;
		ahead->dropped_count++;
		memset(slot, 0, sizeof(*slot));
		queue = true;
	}
	spin_unlock(&ahead->lock);
	if (queue)
		queue_work(system_unbound_wq, &ahead->put_work);
}

void cfs_create_ahead_drain(struct cfs_sb_info *sbi)
{
	struct cfs_create_ahead *ahead = &sbi->create_ahead;
	unsigned int i;

	flush_work(&ahead->put_work);
	for (i = 0; i < ARRAY_SIZE(ahead->slots); i++) {
		struct cfs_create_ahead_slot slot;

		spin_lock(&ahead->lock);
		slot = ahead->slots[i];
		memset(&ahead->slots[i], 0, sizeof(ahead->slots[i]));
		spin_unlock(&ahead->lock);
		cfs_create_ahead_put(&slot);
	}
	/* Nothing adds to the list now (no create runs at unmount). */
	cfs_create_ahead_put_work(&ahead->put_work);
}
