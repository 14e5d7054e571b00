// SPDX-License-Identifier: GPL-2.0
/*
 * The transaction lock: what a node holds while it runs a journaled transaction.
 *
 * lib's journal is single-threaded: trans_mutex serialises this node's transactions.
 * With lock_cluster the resource groups (allocation bitmaps and counts) are shared by
 * every node, and each has its own glock (CFS_GLT_RGRP, numbered by its header block),
 * as in GFS2. A transaction holds in EX, taken before trans_mutex and in group order
 * (so two nodes never wait for each other in a cycle):
 *  - the node's allocation group ("home"), where it allocates; nodes start in different
 *    groups (by journal slot) and keep their home while it has room, so its glock stays
 *    cached here and the common transaction costs no lock-manager message;
 *  - the groups of the blocks the operation frees, when the caller knows them (an
 *    unlinked inode's dinode);
 *  - nothing else: lib allocates only in held groups, and a freeing step that reaches a
 *    block of another group stops before it (lib/rgrp.h); the caller then adds that
 *    group and runs the next step (cfs_trans_want).
 * The dead node's groups stay locked until its journal is replayed; a survivor
 * allocating in its own home never waits for them.
 *
 * With lock_nolock only trans_mutex is taken and lib may change every group.
 */
#include <linux/bitmap.h>
#include <linux/jiffies.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "clusterfs.h"
#include "core.h"

/* A home with fewer free blocks is left for one with more (one operation's worth). */
#define CFS_HOME_MIN_FREE	64
/* After finding no group with room, look again only this much later. */
#define CFS_HOME_FULL_RETRY	(5 * HZ)

static bool cfs_rgrp_allowed(void *ctx, u32 index)
{
	struct cfs_sb_info *sbi = ctx;

	return index < sbi->rgrp_count && test_bit(index, sbi->rgrp_held);
}

int cfs_trans_locks_init(struct cfs_sb_info *sbi)
{
	u32 n = cfs_core_rgrp_count(sbi->core);
	int err;

	if (!sbi->cluster || n == 0)
		return 0;
	sbi->rgrp_glocks = kvcalloc(n, sizeof(*sbi->rgrp_glocks), GFP_KERNEL);
	sbi->rgrp_gh = kvcalloc(n, sizeof(*sbi->rgrp_gh), GFP_KERNEL);
	sbi->rgrp_held = bitmap_zalloc(n, GFP_KERNEL);
	if (!sbi->rgrp_glocks || !sbi->rgrp_gh || !sbi->rgrp_held) {
		cfs_trans_locks_release(sbi);
		return -ENOMEM;
	}
	sbi->rgrp_count = n;
	/*
	 * Nodes start in different groups. The headers read here without their locks are
	 * dropped when each lock is first granted (go_instantiate).
	 */
	mutex_lock(&sbi->trans_mutex);
	err = cfs_core_rgrp_spread(sbi->core, sbi->journal_slot, sbi->journals, &sbi->home_rgrp);
	mutex_unlock(&sbi->trans_mutex);
	if (err) {
		cfs_trans_locks_release(sbi);
		return err;
	}
	/* Not "full until" some time: jiffies starts negative, 0 would read as the future. */
	sbi->home_full_until = jiffies;
	sbi->home_inval_seen = ~0UL;
	cfs_core_set_rgrp_filter(sbi->core, cfs_rgrp_allowed, sbi);
	return 0;
}

void cfs_trans_locks_release(struct cfs_sb_info *sbi)
{
	u32 i;

	if (sbi->core)
		cfs_core_set_rgrp_filter(sbi->core, NULL, NULL);
	if (sbi->rgrp_glocks) {
		for (i = 0; i < sbi->rgrp_count; i++)
			if (sbi->rgrp_glocks[i])
				cfs_glock_put(sbi->rgrp_glocks[i]);
	}
	kvfree(sbi->rgrp_glocks);
	kvfree(sbi->rgrp_gh);
	bitmap_free(sbi->rgrp_held);
	sbi->rgrp_glocks = NULL;
	sbi->rgrp_gh = NULL;
	sbi->rgrp_held = NULL;
	sbi->rgrp_count = 0;
}

/* The glock of group @index, created on first use and kept until unmount. */
static struct cfs_glock *cfs_rgrp_glock(struct cfs_sb_info *sbi, u32 index)
{
	struct cfs_glock *gl = READ_ONCE(sbi->rgrp_glocks[index]);
	u64 addr;
	u32 length;
	int err;

	if (gl)
		return gl;
	err = cfs_core_rgrp_meta(sbi->core, index, &addr, &length);
	if (err)
		return ERR_PTR(err);
	gl = cfs_glock_get(sbi, CFS_GLT_RGRP, addr);
	if (IS_ERR(gl))
		return gl;
	/* go_inval finds the group's blocks through it. */
	gl->gl_object = (void *)(uintptr_t)(index + 1);
	/* alloc_mutex serialises first uses. */
	WRITE_ONCE(sbi->rgrp_glocks[index], gl);
	return gl;
}

bool cfs_rgrp_held_ex(struct cfs_sb_info *sbi, u32 index)
{
	struct cfs_glock *gl;

	if (!sbi->rgrp_glocks || index >= sbi->rgrp_count)
		return false;
	gl = READ_ONCE(sbi->rgrp_glocks[index]);
	return gl && READ_ONCE(gl->gl_state) == CFS_GL_EX;
}

void cfs_trans_rgrps_add(struct cfs_sb_info *sbi, struct cfs_trans_rgrps *rs, u64 blkno)
{
	u32 index, i;

	if (!sbi->rgrp_count || cfs_core_rgrp_of_block(sbi->core, blkno, &index))
		return;
	for (i = 0; i < rs->count; i++)
		if (rs->index[i] == index)
			return;
	if (rs->count == CFS_TRANS_RGRPS) {
		/* Long free lists: forget the oldest; a later step asks for it again. */
		memmove(rs->index, rs->index + 1, (CFS_TRANS_RGRPS - 1) * sizeof(rs->index[0]));
		rs->count--;
	}
	rs->index[rs->count++] = index;
}

static void cfs_rgrps_drop(struct cfs_sb_info *sbi)
{
	u32 i;

	/* Release in reverse order of taking: highest index first. */
	for (i = sbi->rgrp_count; i-- > 0;)
		if (test_and_clear_bit(i, sbi->rgrp_held))
			cfs_glock_dq(&sbi->rgrp_gh[i]);
}

static int cfs_rgrp_take(struct cfs_sb_info *sbi, u32 index, unsigned int flags)
{
	struct cfs_glock *gl;
	int err;

	if (test_bit(index, sbi->rgrp_held))
		return 0;
	gl = cfs_rgrp_glock(sbi, index);
	if (IS_ERR(gl))
		return PTR_ERR(gl);
	err = cfs_glock_nq_flags(gl, CFS_GL_EX, &sbi->rgrp_gh[index], flags);
	if (!err)
		set_bit(index, sbi->rgrp_held);
	return err;
}

static int cfs_u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/* Takes @rs's groups and the home (all: every group), in index order. */
static int cfs_rgrps_take(struct cfs_sb_info *sbi, const struct cfs_trans_rgrps *rs, bool all,
			  unsigned int flags)
{
	u32 order[CFS_TRANS_RGRPS + 1];
	u32 n = 0, i;
	int err = 0;

	if (all) {
		for (i = 0; i < sbi->rgrp_count && !err; i++)
			err = cfs_rgrp_take(sbi, i, flags);
		return err;
	}
	if (rs)
		for (i = 0; i < rs->count; i++)
			order[n++] = rs->index[i];
	order[n++] = sbi->home_rgrp;
	sort(order, n, sizeof(order[0]), cfs_u32_cmp, NULL);
	for (i = 0; i < n && !err; i++)
		err = cfs_rgrp_take(sbi, order[i], flags);
	return err;
}

/*
 * Free blocks of the home group, which the caller holds. While the node has held it
 * since the last look (the glock was not invalidated: no other node had it), lib's
 * count is current: only this node's transactions changed it. Otherwise the header is
 * read again.
 */
static u32 cfs_home_room(struct cfs_sb_info *sbi)
{
	struct cfs_glock *gl = sbi->rgrp_glocks[sbi->home_rgrp];
	unsigned long inval = READ_ONCE(gl->gl_inval_count);
	u32 free = 0;

	if (inval == sbi->home_inval_seen)
		return cfs_core_rgrp_free_known(sbi->core, sbi->home_rgrp);
	mutex_lock(&sbi->trans_mutex);
	if (cfs_core_rgrp_room(sbi->core, sbi->home_rgrp, &free))
		free = 0;
	else
		sbi->home_inval_seen = inval;
	mutex_unlock(&sbi->trans_mutex);
	return free;
}

/* Free blocks of group @index, which the caller holds (0 on a read error: no room). */
static u32 cfs_rgrp_room(struct cfs_sb_info *sbi, u32 index)
{
	u32 free = 0;

	mutex_lock(&sbi->trans_mutex);
	if (cfs_core_rgrp_room(sbi->core, index, &free))
		free = 0;
	mutex_unlock(&sbi->trans_mutex);
	return free;
}

/*
 * The home has (nearly) no room left: move it to the next group with room, first among
 * groups no other node holds (a try never waits, nor takes a group from another node),
 * then any. Called with alloc_mutex held and no group held.
 */
static void cfs_home_move(struct cfs_sb_info *sbi)
{
	u32 n = sbi->rgrp_count, start = sbi->home_rgrp, best = start, best_free = 0, i, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 1; i <= n; i++) {
			u32 index = (start + i) % n;
			u32 free;

			if (cfs_rgrp_take(sbi, index, pass ? CFS_GH_UNINTERRUPTIBLE : CFS_GH_TRY))
				continue;
			free = cfs_rgrp_room(sbi, index);
			clear_bit(index, sbi->rgrp_held);
			cfs_glock_dq(&sbi->rgrp_gh[index]);
			if (free >= CFS_HOME_MIN_FREE) {
				sbi->home_rgrp = index;
				sbi->home_inval_seen = ~0UL;
				return;
			}
			if (free > best_free) {
				best_free = free;
				best = index;
			}
		}
	}
	/* Nowhere with room: the one with the most keeps the node going until ENOSPC. */
	sbi->home_rgrp = best;
	sbi->home_inval_seen = ~0UL;
	sbi->home_full_until = jiffies + CFS_HOME_FULL_RETRY;
}

static void cfs_trans_lock_groups(struct cfs_sb_info *sbi, const struct cfs_trans_rgrps *rs,
				  bool all)
{
	int err;

	if (!sbi->rgrp_count) {
		mutex_lock(&sbi->trans_mutex);
		return;
	}
	mutex_lock(&sbi->alloc_mutex);
	for (;;) {
		err = cfs_rgrps_take(sbi, rs, all, CFS_GH_UNINTERRUPTIBLE);
		if (err) {
			/* Without the locks nothing may be written: the transaction fails. */
			cfs_rgrps_drop(sbi);
			cfs_withdraw(sbi, "cannot take a resource group lock (%d)", err);
			break;
		}
		if (all || time_before(jiffies, sbi->home_full_until) ||
		    cfs_home_room(sbi) >= CFS_HOME_MIN_FREE)
			break;
		cfs_rgrps_drop(sbi);
		/* Sets home_full_until when no group has room: the next round keeps it. */
		cfs_home_move(sbi);
	}
	mutex_lock(&sbi->trans_mutex);
}

void cfs_trans_lock(struct cfs_sb_info *sbi)
{
	cfs_trans_lock_groups(sbi, NULL, false);
}

void cfs_trans_lock_rgrps(struct cfs_sb_info *sbi, const struct cfs_trans_rgrps *rs)
{
	cfs_trans_lock_groups(sbi, rs, false);
}

void cfs_trans_lock_all(struct cfs_sb_info *sbi)
{
	cfs_trans_lock_groups(sbi, NULL, true);
}

/* Never waits: only groups this node holds with no other user (background writeback). */
bool cfs_trans_trylock(struct cfs_sb_info *sbi)
{
	if (!sbi->rgrp_count)
		return mutex_trylock(&sbi->trans_mutex);
	if (!mutex_trylock(&sbi->alloc_mutex))
		return false;
	if (cfs_rgrp_held_ex(sbi, sbi->home_rgrp) &&
	    !cfs_rgrps_take(sbi, NULL, false, CFS_GH_TRY)) {
		if (mutex_trylock(&sbi->trans_mutex))
			return true;
	}
	cfs_rgrps_drop(sbi);
	mutex_unlock(&sbi->alloc_mutex);
	return false;
}

void cfs_trans_unlock(struct cfs_sb_info *sbi)
{
	bool checkpoint;

	if (!sbi->rgrp_count) {
		mutex_unlock(&sbi->trans_mutex);
		return;
	}
	/* An active journal only: unmount cancels the log work before it stops it. */
	checkpoint = cfs_core_journal_active(sbi->core) &&
		     cfs_core_journal_backlog(sbi->core) >= CFS_CLUSTER_LOG_BACKLOG;
	mutex_unlock(&sbi->trans_mutex);
	if (checkpoint)
		mod_delayed_work(system_long_wq, &sbi->log_work, 0);
	cfs_rgrps_drop(sbi);
	mutex_unlock(&sbi->alloc_mutex);
}

bool cfs_trans_wanted(struct cfs_sb_info *sbi, struct cfs_trans_rgrps *rs)
{
	u64 blkno;

	lockdep_assert_held(&sbi->trans_mutex);
	if (!sbi->rgrp_count)
		return false;
	blkno = cfs_core_take_rgrp_wanted(sbi->core);
	if (!blkno)
		return false;
	cfs_trans_rgrps_add(sbi, rs, blkno);
	return true;
}

void cfs_trans_relock(struct cfs_sb_info *sbi, const struct cfs_trans_rgrps *rs)
{
	cfs_trans_unlock(sbi);
	cfs_trans_lock_rgrps(sbi, rs);
}
