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
static void cfs_lookup_ahead_release(struct cfs_ahead_ring *ring, struct cfs_ahead_slot *slot)
{
	struct cfs_lookup_ahead *ahead = container_of(ring, struct cfs_lookup_ahead, ring);
	struct cfs_sb_info *sbi = container_of(ahead, struct cfs_sb_info, lookup_ahead);
	struct cfs_core_inode di;
	struct cfs_holder gh;
	struct inode *inode;
	bool unlinked = false;

	if (!READ_ONCE(ahead->stopping) && !cfs_withdrawn(sbi)) {
		inode = ilookup(sbi->sb, slot->number);
		if (inode) {
			/* In memory: its own iopen lock decides who frees it, at eviction. */
			iput(inode);
		} else if (!cfs_glock_nq(slot->inode_gl, CFS_GL_SH, &gh)) {
			/* A block that is no dinode any more is not ours to judge: no withdraw. */
			unlinked = !cfs_core_inode_read(sbi->core, slot->number, &di) && !di.nlink;
			cfs_glock_dq(&gh);
		}
	}
	/* Our iopen lock goes first: an unlink that failed its try because of it is ours. */
	cfs_glock_put(slot->iopen_gl);
	if (unlinked && !READ_ONCE(ahead->stopping) && !sb_rdonly(sbi->sb) &&
	    cfs_free_unlinked_ino(sbi, slot->number) == 1) {
		spin_lock(&ring->lock);
		ahead->freed++;
		spin_unlock(&ring->lock);
	}
	cfs_glock_put(slot->inode_gl);
}

static bool cfs_lookup_ahead_expired(const struct cfs_ahead_slot *slot, void *arg)
{
	bool *more = arg;

	if (time_before(jiffies, slot->requested_at + msecs_to_jiffies(CFS_LOOKUP_AHEAD_EXPIRE_MS))) {
		*more = true;
		return false;
	}
	return true;
}

/*
 * Slots unread for CFS_LOOKUP_AHEAD_EXPIRE_MS go: a walk that stopped must not keep
 * iopen locks that another node's unlink needs to free its inodes at once.
 */
static void cfs_lookup_ahead_expire_work(struct work_struct *work)
{
	struct cfs_lookup_ahead *ahead =
		container_of(to_delayed_work(work), struct cfs_lookup_ahead, expire_work);
	bool more = false;

	cfs_ahead_ring_drop(&ahead->ring, cfs_lookup_ahead_expired, &more);
	if (more && !READ_ONCE(ahead->stopping))
		queue_delayed_work(system_unbound_wq, &ahead->expire_work,
				   msecs_to_jiffies(CFS_LOOKUP_AHEAD_EXPIRE_MS));
}

void cfs_lookup_ahead_init(struct cfs_lookup_ahead *ahead)
{
	memset(ahead, 0, sizeof(*ahead));
	cfs_ahead_ring_init(&ahead->ring, 2 * CFS_LOOKUP_AHEAD, cfs_lookup_ahead_release);
	ahead->window = 4;
	ahead->trail = kvcalloc(CFS_LOOKUP_TRAIL, sizeof(*ahead->trail), GFP_KERNEL);
	INIT_DELAYED_WORK(&ahead->expire_work, cfs_lookup_ahead_expire_work);
}

void cfs_lookup_ahead_debugfs(struct cfs_lookup_ahead *ahead, struct dentry *dir)
{
	if (IS_ERR_OR_NULL(dir))
		return;
	cfs_ahead_ring_debugfs(&ahead->ring, dir, "lookup_ahead");
	debugfs_create_u64("lookup_ahead_freed", 0400, dir, &ahead->freed);
}

void cfs_lookup_ahead_note(struct cfs_sb_info *sbi, u64 ino)
{
	struct cfs_lookup_ahead *ahead = &sbi->lookup_ahead;

	if (!cfs_clustered_sb(sbi) || !ahead->trail)
		return;
	spin_lock(&ahead->ring.lock);
	ahead->trail[ahead->trail_count % CFS_LOOKUP_TRAIL] = ino;
	ahead->trail_count++;
	spin_unlock(&ahead->ring.lock);
}

/* ring.lock held: the trail position of @ino (from the cursor on first), or -1. */
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
static void cfs_lookup_ahead_request(struct cfs_sb_info *sbi, u64 ino)
{
	struct cfs_lookup_ahead *ahead = &sbi->lookup_ahead;
	struct cfs_ahead_slot fresh = { .number = ino };
	bool busy, replaced;

	spin_lock(&ahead->ring.lock);
	busy = cfs_ahead_ring_busy_locked(&ahead->ring, ino);
	spin_unlock(&ahead->ring.lock);
	if (busy)
		return;	/* requested already, or the work item is behind: no more now */
	fresh.inode_gl = cfs_glock_get(sbi, CFS_GLT_INODE, ino);
	if (IS_ERR(fresh.inode_gl))
		return;
	fresh.iopen_gl = cfs_glock_get(sbi, CFS_GLT_IOPEN, ino);
	if (IS_ERR(fresh.iopen_gl)) {
		cfs_glock_put(fresh.inode_gl);
		return;
	}
	/*
	 * The states cfs_iget asks for: both requests go out now, unheld. An iopen lock
	 * this node has already means the inode is in memory (or requested ahead): no slot.
	 */
	if (!cfs_glock_prefetch(fresh.iopen_gl, CFS_GL_SH)) {
		cfs_ahead_slot_put(&ahead->ring, &fresh);
		return;
	}
	cfs_glock_prefetch(fresh.inode_gl, CFS_GL_SH);
	fresh.requested_at = jiffies;
	if (!cfs_ahead_ring_add(&ahead->ring, &fresh, &replaced))
		return;
	if (replaced) {
		spin_lock(&ahead->ring.lock);
		ahead->window = max(ahead->window / 2, 1U);
		spin_unlock(&ahead->ring.lock);
	}
	if (!READ_ONCE(ahead->stopping))
		queue_delayed_work(system_unbound_wq, &ahead->expire_work,
				   msecs_to_jiffies(CFS_LOOKUP_AHEAD_EXPIRE_MS));
}

void cfs_lookup_ahead_reading(struct cfs_sb_info *sbi, u64 ino)
{
	struct cfs_lookup_ahead *ahead = &sbi->lookup_ahead;
	struct cfs_ahead_slot used = {};
	u64 wanted[CFS_LOOKUP_AHEAD];
	unsigned int count = 0, i;
	s64 pos;

	if (!cfs_clustered_sb(sbi) || cfs_withdrawn(sbi) || !ahead->trail)
		return;
	spin_lock(&ahead->ring.lock);
	if (cfs_ahead_ring_take_locked(&ahead->ring, ino, &used))
		ahead->window = min(ahead->window * 2, (unsigned int)CFS_LOOKUP_AHEAD);
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
	spin_unlock(&ahead->ring.lock);
	/* The caller holds its own references: these puts are never the last. */
	cfs_ahead_slot_put(&ahead->ring, &used);
	for (i = 0; i < count; i++)
		cfs_lookup_ahead_request(sbi, wanted[i]);
}

void cfs_lookup_ahead_drain(struct cfs_sb_info *sbi)
{
	struct cfs_lookup_ahead *ahead = &sbi->lookup_ahead;

	WRITE_ONCE(ahead->stopping, true);
	cancel_delayed_work_sync(&ahead->expire_work);
	cfs_ahead_ring_drain(&ahead->ring);
	kvfree(ahead->trail);
	ahead->trail = NULL;
}
