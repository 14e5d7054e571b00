// SPDX-License-Identifier: GPL-2.0
/*
 * Looking up ahead (lock_cluster). Reading an inode into memory needs its iopen lock
 * (SH) and its inode glock, and the first request for either is a lockd round trip, so a
 * walk over a directory this node has not read yet (`ls -l`, `find`, `du`, rsync)
 * waited one round trip per entry. The walk reads the entries in readdir order, so the
 * next inodes are known: readdir notes each entry's inode number in a trail, and each
 * inode read finds itself in the trail and requests the locks of the next ones without
 * a holder (cfs_glock_prefetch, as two requests of one lookup already are). A slot keeps
 * a reference on each until the inode is read; the window adapts to how many get read.
 *
 * Safety is the lock order's and the lock manager's, unchanged: a lookup still takes
 * the inode's iopen lock under its directory's glock, and a prefetched lock is an
 * ordinary lock with no holder, which yields to any callback. One thing is new: an
 * iopen lock held SH by a slot stops another node's unlink from freeing the inode at
 * once (its iopen try fails), and nothing here would ever evict it. So a slot given up
 * unread checks the inode's link count (under its inode glock) and, if another node
 * unlinked it, lets its iopen lock go and frees the inode (cfs_free_unlinked_ino) if no
 * node has it any more, as GFS2's iopen callback does with its delete work.
 */
#include <linux/debugfs.h>
#include <linux/slab.h>

#include "clusterfs.h"
#include "core.h"
#include "glock.h"
#include "lookup_ahead.h"

/* An inode another node may have unlinked while this slot held its iopen lock. */
static void cfs_lookup_ahead_release(struct cfs_sb_info *sbi, struct cfs_lookup_ahead_slot *slot)
{
	struct cfs_lookup_ahead *ahead = &sbi->lookup_ahead;
	struct cfs_core_inode di;
	struct cfs_holder gh;
	struct inode *inode;
	bool unlinked = false;

	if (!slot->ino)
		return;
	if (!READ_ONCE(ahead->stopping) && !cfs_withdrawn(sbi)) {
		inode = ilookup(sbi->sb, slot->ino);
		if (inode) {
			/* In memory: its own iopen lock decides who frees it, at eviction. */
			iput(inode);
		} else if (!cfs_glock_nq(slot->inode_gl, CFS_GL_SH, &gh)) {
			/* A block that is no dinode any more is not ours to judge: no withdraw. */
			unlinked = !cfs_core_inode_read(sbi->core, slot->ino, &di) && !di.nlink;
			cfs_glock_dq(&gh);
		}
	}
	/* Our iopen lock goes first: an unlink that failed its try because of it is ours. */
	cfs_glock_put(slot->iopen_gl);
	if (unlinked && !READ_ONCE(ahead->stopping) && !sb_rdonly(sbi->sb) &&
	    cfs_free_unlinked_ino(sbi, slot->ino) == 1) {
		spin_lock(&ahead->lock);
		ahead->freed++;
		spin_unlock(&ahead->lock);
	}
	cfs_glock_put(slot->inode_gl);
}

static void cfs_lookup_ahead_put_work(struct work_struct *work)
{
	struct cfs_lookup_ahead *ahead = container_of(work, struct cfs_lookup_ahead, put_work);
	struct cfs_sb_info *sbi = container_of(ahead, struct cfs_sb_info, lookup_ahead);

	for (;;) {
		struct cfs_lookup_ahead_slot slot;

		spin_lock(&ahead->lock);
		if (!ahead->ndropped) {
			spin_unlock(&ahead->lock);
			return;
		}
		slot = ahead->dropped[--ahead->ndropped];
		spin_unlock(&ahead->lock);
		cfs_lookup_ahead_release(sbi, &slot);
	}
}

/*
 * Slots unread for CFS_LOOKUP_AHEAD_EXPIRE_MS go: a walk that stopped must not keep
 * iopen locks that another node's unlink needs to free its inodes at once.
 */
static void cfs_lookup_ahead_expire_work(struct work_struct *work)
{
	struct cfs_lookup_ahead *ahead =
		container_of(to_delayed_work(work), struct cfs_lookup_ahead, expire_work);
	unsigned long expire = msecs_to_jiffies(CFS_LOOKUP_AHEAD_EXPIRE_MS);
	bool queue = false, more = false;
	unsigned int i;

	spin_lock(&ahead->lock);
	for (i = 0; i < ARRAY_SIZE(ahead->slots); i++) {
		struct cfs_lookup_ahead_slot *slot = &ahead->slots[i];

		if (!slot->ino)
			continue;
		if (time_before(jiffies, slot->requested_at + expire) ||
		    ahead->ndropped == ARRAY_SIZE(ahead->dropped)) {
			more = true;
			continue;
		}
		ahead->dropped[ahead->ndropped++] = *slot;
		ahead->dropped_count++;
		memset(slot, 0, sizeof(*slot));
		queue = true;
	}
	if (more && !READ_ONCE(ahead->stopping))
		queue_delayed_work(system_unbound_wq, &ahead->expire_work, expire);
	spin_unlock(&ahead->lock);
	if (queue)
		queue_work(system_unbound_wq, &ahead->put_work);
}

void cfs_lookup_ahead_init(struct cfs_lookup_ahead *ahead)
{
	memset(ahead, 0, sizeof(*ahead));
	ahead->window = 4;
	ahead->trail = kvcalloc(CFS_LOOKUP_TRAIL, sizeof(*ahead->trail), GFP_KERNEL);
	spin_lock_init(&ahead->lock);
	INIT_WORK(&ahead->put_work, cfs_lookup_ahead_put_work);
	INIT_DELAYED_WORK(&ahead->expire_work, cfs_lookup_ahead_expire_work);
}

void cfs_lookup_ahead_debugfs(struct cfs_lookup_ahead *ahead, struct dentry *dir)
{
	if (IS_ERR_OR_NULL(dir))
		return;
	debugfs_create_u64("lookup_ahead_requested", 0400, dir, &ahead->requested);
	debugfs_create_u64("lookup_ahead_used", 0400, dir, &ahead->used);
	debugfs_create_u64("lookup_ahead_dropped", 0400, dir, &ahead->dropped_count);
	debugfs_create_u64("lookup_ahead_freed", 0400, dir, &ahead->freed);
}

void cfs_lookup_ahead_note(struct cfs_sb_info *sbi, u64 ino)
{
	struct cfs_lookup_ahead *ahead = &sbi->lookup_ahead;

	if (!cfs_clustered_sb(sbi) || !ahead->trail)
		return;
	spin_lock(&ahead->lock);
	ahead->trail[ahead->trail_count % CFS_LOOKUP_TRAIL] = ino;
	ahead->trail_count++;
	spin_unlock(&ahead->lock);
}

/* ahead->lock held: the slot of @ino, or NULL. */
static struct cfs_lookup_ahead_slot *cfs_lookup_ahead_slot(struct cfs_lookup_ahead *ahead, u64 ino)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ahead->slots); i++)
		if (ahead->slots[i].ino == ino)
			return &ahead->slots[i];
	return NULL;
}

/* ahead->lock held: the trail position of @ino (from the cursor on first), or -1. */
static s64 cfs_lookup_ahead_find(struct cfs_lookup_ahead *ahead, u64 ino)
{
	u64 oldest = ahead->trail_count > CFS_LOOKUP_TRAIL ? ahead->trail_count - CFS_LOOKUP_TRAIL : 0;
	u64 pos;

	for (pos = max(ahead->cursor, oldest); pos < ahead->trail_count; pos++)
		if (ahead->trail[pos % CFS_LOOKUP_TRAIL] == ino)
			return pos;
	for (pos = oldest; pos < min(ahead->cursor, ahead->trail_count); pos++)
		if (ahead->trail[pos % CFS_LOOKUP_TRAIL] == ino)
			return pos;
	return -1;
}

/* Requests @ino's inode (SH) and iopen (SH) glocks into a slot. */
static bool cfs_lookup_ahead_request(struct cfs_sb_info *sbi, u64 ino)
{
	struct cfs_lookup_ahead *ahead = &sbi->lookup_ahead;
	struct cfs_lookup_ahead_slot fresh = { .ino = ino };
	struct cfs_lookup_ahead_slot *slot;
	bool queue = false;

	fresh.inode_gl = cfs_glock_get(sbi, CFS_GLT_INODE, ino);
	if (IS_ERR(fresh.inode_gl))
		return false;
	fresh.iopen_gl = cfs_glock_get(sbi, CFS_GLT_IOPEN, ino);
	if (IS_ERR(fresh.iopen_gl)) {
		cfs_glock_put(fresh.inode_gl);
		return false;
	}
	/*
	 * The states cfs_iget asks for: both requests go out now, unheld. An iopen lock
	 * this node has already means the inode is in memory (or requested ahead): no slot.
	 */
	if (!cfs_glock_prefetch(fresh.iopen_gl, CFS_GL_SH)) {
		cfs_glock_put(fresh.inode_gl);
		cfs_glock_put(fresh.iopen_gl);
		return false;
	}
	cfs_glock_prefetch(fresh.inode_gl, CFS_GL_SH);

	spin_lock(&ahead->lock);
	if (cfs_lookup_ahead_slot(ahead, ino) || ahead->ndropped == ARRAY_SIZE(ahead->dropped)) {
		/* Requested by another walk meanwhile, or no room to give the oldest up. */
		spin_unlock(&ahead->lock);
		cfs_glock_put(fresh.inode_gl);
		cfs_glock_put(fresh.iopen_gl);
		return false;
	}
	slot = &ahead->slots[ahead->next];
	ahead->next = (ahead->next + 1) % ARRAY_SIZE(ahead->slots);
	if (slot->ino) {
		ahead->dropped[ahead->ndropped++] = *slot;
		ahead->dropped_count++;
		ahead->window = max(ahead->window / 2, 1U);
		queue = true;
	}
	fresh.requested_at = jiffies;
	*slot = fresh;
	ahead->requested++;
	if (!READ_ONCE(ahead->stopping))
		queue_delayed_work(system_unbound_wq, &ahead->expire_work,
				   msecs_to_jiffies(CFS_LOOKUP_AHEAD_EXPIRE_MS));
	spin_unlock(&ahead->lock);
	return queue;
}

void cfs_lookup_ahead_reading(struct cfs_sb_info *sbi, u64 ino)
{
	struct cfs_lookup_ahead *ahead = &sbi->lookup_ahead;
	struct cfs_lookup_ahead_slot used = {};
	struct cfs_lookup_ahead_slot *slot;
	u64 wanted[CFS_LOOKUP_AHEAD];
	unsigned int count = 0, i;
	bool queue = false;
	s64 pos;

	if (!cfs_clustered_sb(sbi) || cfs_withdrawn(sbi) || !ahead->trail)
		return;
	spin_lock(&ahead->lock);
	slot = cfs_lookup_ahead_slot(ahead, ino);
	if (slot) {
		used = *slot;
		memset(slot, 0, sizeof(*slot));
		ahead->used++;
		ahead->window = min(ahead->window * 2, (unsigned int)CFS_LOOKUP_AHEAD);
	}
	pos = cfs_lookup_ahead_find(ahead, ino);
	if (pos >= 0) {
		u64 from = max((u64)pos, ahead->requested_to) + 1;
		u64 to = min((u64)pos + ahead->window, ahead->trail_count - 1);

		ahead->cursor = pos;
		for (; from <= to && count < ARRAY_SIZE(wanted); from++)
			wanted[count++] = ahead->trail[from % CFS_LOOKUP_TRAIL];
		if (count)
			ahead->requested_to = from - 1;
	}
	spin_unlock(&ahead->lock);
	/* The caller holds its own references: these puts are never the last. */
	if (used.ino) {
		cfs_glock_put(used.inode_gl);
		cfs_glock_put(used.iopen_gl);
	}
	for (i = 0; i < count; i++)
		queue |= cfs_lookup_ahead_request(sbi, wanted[i]);
	if (queue)
		queue_work(system_unbound_wq, &ahead->put_work);
}

void cfs_lookup_ahead_drain(struct cfs_sb_info *sbi)
{
	struct cfs_lookup_ahead *ahead = &sbi->lookup_ahead;
	unsigned int i;

	WRITE_ONCE(ahead->stopping, true);
	cancel_delayed_work_sync(&ahead->expire_work);
	flush_work(&ahead->put_work);
	for (i = 0; i < ARRAY_SIZE(ahead->slots); i++) {
		struct cfs_lookup_ahead_slot slot;

		spin_lock(&ahead->lock);
		slot = ahead->slots[i];
		memset(&ahead->slots[i], 0, sizeof(ahead->slots[i]));
		spin_unlock(&ahead->lock);
		cfs_lookup_ahead_release(sbi, &slot);
	}
	/* Nothing adds to the list now (no lookup runs at unmount). */
	cfs_lookup_ahead_put_work(&ahead->put_work);
	kvfree(ahead->trail);
	ahead->trail = NULL;
}
