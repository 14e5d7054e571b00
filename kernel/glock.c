// SPDX-License-Identifier: GPL-2.0
/*
 * The glock state machine (see glock.h for the rules it enforces).
 *
 * Every decision is taken under gl_lock; calls out of the layer (lock module, go_sync,
 * go_inval) are made without it, so a lock module may complete a request synchronously
 * from inside lm_lock. Waiters sleep on gl_wait until gl_seq moves, then re-evaluate:
 * there is one rule for granting (cfs_glock_can_grant) and one for asking the lock
 * module for a new state (cfs_glock_can_request).
 */
#include <linux/debugfs.h>
#include <linux/hash.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>

#include "clusterfs.h"

static struct kmem_cache *cfs_glock_cache;

static unsigned int cfs_glock_hold_ms = CFS_GLOCK_HOLD_MS_DEFAULT;
module_param_named(glock_hold_ms, cfs_glock_hold_ms, uint, 0644);
MODULE_PARM_DESC(glock_hold_ms, "minimum time a node keeps an inode glock it was just granted, in ms (0: none)");

static const struct cfs_glock_operations cfs_plain_glops[CFS_GLT_MAX + 1] = {
	[CFS_GLT_META]    = { .name = "meta" },
	[CFS_GLT_INODE]   = { .name = "inode" },
	[CFS_GLT_RGRP]    = { .name = "rgrp" },
	[CFS_GLT_IOPEN]   = { .name = "iopen" },
	[CFS_GLT_JOURNAL] = { .name = "journal" },
	[CFS_GLT_FLOCK]   = { .name = "flock" },
};

/* Types whose cached objects need write-back/invalidation hooks override these (glops.c). */
const struct cfs_glock_operations *cfs_glock_type_ops[CFS_GLT_MAX + 1] = {
	[CFS_GLT_META] = &cfs_meta_glops,
	[CFS_GLT_INODE] = &cfs_inode_glops,
	[CFS_GLT_RGRP] = &cfs_rgrp_glops,
	[CFS_GLT_IOPEN] = &cfs_iopen_glops,
};

const char *cfs_glock_state_name(enum cfs_glock_state state)
{
	switch (state) {
	case CFS_GL_UN: return "UN";
	case CFS_GL_SH: return "SH";
	case CFS_GL_DF: return "DF";
	case CFS_GL_EX: return "EX";
	}
	return "??";
}

bool cfs_glock_state_covers(enum cfs_glock_state held, enum cfs_glock_state wanted)
{
	if (wanted == CFS_GL_UN)
		return true;
	return held == wanted || (held == CFS_GL_EX && wanted == CFS_GL_SH);
}

static void cfs_glock_changed(struct cfs_glock *gl)
{
	lockdep_assert_held(&gl->gl_lock);
	gl->gl_seq++;
}

static bool cfs_glock_holders_allow(struct cfs_glock *gl, enum cfs_glock_state state)
{
	struct cfs_holder *gh;

	list_for_each_entry(gh, &gl->gl_holders, gh_list)
		if (!cfs_glock_state_covers(state, gh->gh_state))
			return false;
	return true;
}

/* Local holders exclude each other like the node-level states do: EX is alone. */
static bool cfs_holder_states_compatible(enum cfs_glock_state a, enum cfs_glock_state b)
{
	return (a == CFS_GL_SH && b == CFS_GL_SH) || (a == CFS_GL_DF && b == CFS_GL_DF);
}

/*
 * A pending demotion goes first, so another node asking for the lock is not starved.
 * Then the node's state must cover the request and every current holder must be
 * compatible with it: the glock serialises this node's users too (as in GFS2).
 */
static bool cfs_glock_can_grant(struct cfs_glock *gl, enum cfs_glock_state state)
{
	struct cfs_holder *gh;

	if (test_bit(CFS_GLF_DEMOTE, &gl->gl_flags) ||
	    test_bit(CFS_GLF_DEMOTE_RUNNING, &gl->gl_flags) ||
	    test_bit(CFS_GLF_INSTANTIATING, &gl->gl_flags))
		return false;
	if (!cfs_glock_state_covers(gl->gl_state, state))
		return false;
	list_for_each_entry(gh, &gl->gl_holders, gh_list)
		if (!cfs_holder_states_compatible(gh->gh_state, state))
			return false;
	return true;
}

static bool cfs_glock_can_request(struct cfs_glock *gl, enum cfs_glock_state state)
{
	if (test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags) ||
	    test_bit(CFS_GLF_DEMOTE, &gl->gl_flags) ||
	    test_bit(CFS_GLF_PENDING_DEMOTE, &gl->gl_flags) ||
	    test_bit(CFS_GLF_DEMOTE_RUNNING, &gl->gl_flags))
		return false;
	/* The node already has the state: only local holders are in the way. */
	if (cfs_glock_state_covers(gl->gl_state, state))
		return false;
	/* Holders keep what they have: the new state must cover each of them. */
	return cfs_glock_holders_allow(gl, state);
}

static void cfs_glock_queue_demote_locked(struct cfs_glock *gl);

static bool cfs_glock_seq_moved(struct cfs_glock *gl, unsigned long seen)
{
	return READ_ONCE(gl->gl_seq) != seen;
}

/* Runs go_instantiate for the holder just granted; on error the holder is released. */
static int cfs_glock_instantiate(struct cfs_glock *gl, struct cfs_holder *gh)
{
	int err;

	set_bit(CFS_GLF_INSTANTIATING, &gl->gl_flags);
	spin_unlock(&gl->gl_lock);
	err = gl->gl_ops->go_instantiate(gl);
	spin_lock(&gl->gl_lock);
	clear_bit(CFS_GLF_INSTANTIATING, &gl->gl_flags);
	if (!err)
		clear_bit(CFS_GLF_INSTANTIATE_NEEDED, &gl->gl_flags);
	cfs_glock_changed(gl);
	spin_unlock(&gl->gl_lock);
	wake_up_all(&gl->gl_wait);
	if (err)
		cfs_glock_dq(gh);	/* the failed holder leaves as any other does */
	return err;
}

/* Marks a request for @state in flight and sends it; called with gl_lock, returns without. */
static void cfs_glock_send_request(struct cfs_glock *gl, enum cfs_glock_state state, bool try)
	__releases(&gl->gl_lock)
{
	set_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags);
	if (try)
		set_bit(CFS_GLF_TRY, &gl->gl_flags);
	gl->gl_target = state;
	gl->gl_error = 0;
	spin_unlock(&gl->gl_lock);
	gl->gl_sbi->glocks.module->lm_lock(gl, state);
}

int cfs_glock_nq_flags(struct cfs_glock *gl, enum cfs_glock_state state, struct cfs_holder *gh,
		       unsigned int flags)
{
	bool requested = false;
	unsigned long seen;
	int err;

	INIT_LIST_HEAD(&gh->gh_list);
	gh->gh_gl = gl;
	gh->gh_owner = current;
	gh->gh_state = state;
	gh->gh_granted = false;

	spin_lock(&gl->gl_lock);
	for (;;) {
		if (cfs_glock_can_grant(gl, state)) {
			list_add_tail(&gh->gh_list, &gl->gl_holders);
			gh->gh_granted = true;
			if (test_bit(CFS_GLF_INSTANTIATE_NEEDED, &gl->gl_flags) &&
			    gl->gl_ops->go_instantiate)
				return cfs_glock_instantiate(gl, gh);
			spin_unlock(&gl->gl_lock);
			return 0;
		}
		/* Our own request came back without the state: report the module's error. */
		if (requested && !test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags) &&
		    gl->gl_error) {
			err = gl->gl_error;
			/*
			 * A conversion deadlock (two nodes holding it SH both asked for EX, the
			 * lock manager refused one): give up the shared copy (go_inval, UN) and
			 * queue again from nothing, as the DLM's CONVDEADLK does for GFS2.
			 */
			if (err == -EDEADLK && !(flags & CFS_GH_TRY) && gl->gl_state != CFS_GL_UN) {
				gl->gl_error = 0;
				requested = false;
				gl->gl_demote_state = CFS_GL_UN;
				set_bit(CFS_GLF_DEMOTE, &gl->gl_flags);
				cfs_glock_changed(gl);
				cfs_glock_queue_demote_locked(gl);
				continue;
			}
			spin_unlock(&gl->gl_lock);
			return err;
		}
		if (cfs_glock_can_request(gl, state)) {
			cfs_glock_send_request(gl, state, flags & CFS_GH_TRY);
			requested = true;
			spin_lock(&gl->gl_lock);
			continue;
		}
		/* A try does not wait for local holders or a demotion either. */
		if ((flags & CFS_GH_TRY) && !requested) {
			spin_unlock(&gl->gl_lock);
			return -EAGAIN;
		}
		seen = gl->gl_seq;
		spin_unlock(&gl->gl_lock);
		if (flags & CFS_GH_UNINTERRUPTIBLE) {
			wait_event(gl->gl_wait, cfs_glock_seq_moved(gl, seen));
		} else if (flags & CFS_GH_INTERRUPTIBLE) {
			err = wait_event_interruptible(gl->gl_wait, cfs_glock_seq_moved(gl, seen));
			if (err)
				return err;
		} else {
			err = wait_event_killable(gl->gl_wait, cfs_glock_seq_moved(gl, seen));
			if (err)
				return err;
		}
		spin_lock(&gl->gl_lock);
	}
}

bool cfs_glock_prefetch(struct cfs_glock *gl, enum cfs_glock_state state)
{
	bool covered;

	spin_lock(&gl->gl_lock);
	covered = cfs_glock_can_grant(gl, state);
	if (covered || !cfs_glock_can_request(gl, state)) {
		spin_unlock(&gl->gl_lock);
		return !covered;
	}
	cfs_glock_send_request(gl, state, false);
	return true;
}

int cfs_glock_nq(struct cfs_glock *gl, enum cfs_glock_state state, struct cfs_holder *gh)
{
	return cfs_glock_nq_flags(gl, state, gh, 0);
}

bool cfs_glock_held_by_me(struct cfs_glock *gl)
{
	struct cfs_holder *gh;
	bool mine = false;

	spin_lock(&gl->gl_lock);
	list_for_each_entry(gh, &gl->gl_holders, gh_list)
		if (gh->gh_owner == current)
			mine = true;
	spin_unlock(&gl->gl_lock);
	return mine;
}

bool cfs_glock_held_ex(struct cfs_glock *gl)
{
	bool held;

	spin_lock(&gl->gl_lock);
	held = gl->gl_state == CFS_GL_EX &&
	       !test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags) &&
	       !test_bit(CFS_GLF_DEMOTE, &gl->gl_flags) &&
	       !test_bit(CFS_GLF_DEMOTE_RUNNING, &gl->gl_flags);
	spin_unlock(&gl->gl_lock);
	return held;
}

static void cfs_glock_queue_demote_locked(struct cfs_glock *gl)
{
	lockdep_assert_held(&gl->gl_lock);
	if (test_bit(CFS_GLF_DEMOTE, &gl->gl_flags) &&
	    !test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags) &&
	    !test_bit(CFS_GLF_DEMOTE_RUNNING, &gl->gl_flags) &&
	    cfs_glock_holders_allow(gl, gl->gl_demote_state)) {
		/* A glock being freed is released by its final put: nothing to queue. */
		if (!refcount_inc_not_zero(&gl->gl_ref))
			return;
		if (!queue_work(gl->gl_sbi->glocks.demote_wq, &gl->gl_demote_work))
			refcount_dec(&gl->gl_ref);	/* already queued: it holds a ref */
	}
}

void cfs_glock_dq(struct cfs_holder *gh)
{
	struct cfs_glock *gl = gh->gh_gl;

	if (!gh->gh_granted)
		return;
	spin_lock(&gl->gl_lock);
	list_del_init(&gh->gh_list);
	gh->gh_granted = false;
	cfs_glock_changed(gl);
	cfs_glock_queue_demote_locked(gl);
	spin_unlock(&gl->gl_lock);
	wake_up_all(&gl->gl_wait);
}

/* Writes back / invalidates what the glock covers before it drops from @from to @to. */
static int cfs_glock_prepare_demote(struct cfs_glock *gl, enum cfs_glock_state from,
				    enum cfs_glock_state to)
{
	int err = 0;

	if (from == CFS_GL_EX && to != CFS_GL_EX && gl->gl_ops->go_sync)
		err = gl->gl_ops->go_sync(gl);
	if (from != CFS_GL_UN && (to == CFS_GL_UN || (to == CFS_GL_DF) != (from == CFS_GL_DF)) &&
	    gl->gl_ops->go_inval && !READ_ONCE(gl->gl_sbi->glocks.draining)) {
		gl->gl_ops->go_inval(gl);
		spin_lock(&gl->gl_lock);
		gl->gl_inval_count++;
		set_bit(CFS_GLF_INSTANTIATE_NEEDED, &gl->gl_flags);
		spin_unlock(&gl->gl_lock);
	}
	return err;
}

static void cfs_glock_demote_work(struct work_struct *work)
{
	struct cfs_glock *gl = container_of(work, struct cfs_glock, gl_demote_work);
	const struct cfs_lock_module *lm = gl->gl_sbi->glocks.module;
	enum cfs_glock_state from, to;

	spin_lock(&gl->gl_lock);
	if (!test_bit(CFS_GLF_DEMOTE, &gl->gl_flags) ||
	    test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags) ||
	    !cfs_glock_holders_allow(gl, gl->gl_demote_state)) {
		spin_unlock(&gl->gl_lock);
		cfs_glock_put(gl);
		return;
	}
	from = gl->gl_state;
	to = gl->gl_demote_state;
	clear_bit(CFS_GLF_DEMOTE, &gl->gl_flags);
	set_bit(CFS_GLF_DEMOTE_RUNNING, &gl->gl_flags);
	spin_unlock(&gl->gl_lock);

	/*
	 * A failed write-back has already withdrawn the filesystem (the go_sync hooks
	 * withdraw on error): nothing more reaches the disk, so releasing is safe.
	 */
	cfs_glock_prepare_demote(gl, from, to);

	spin_lock(&gl->gl_lock);
	set_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags);
	gl->gl_target = to;
	spin_unlock(&gl->gl_lock);
	lm->lm_lock(gl, to);
	cfs_glock_put(gl);
}

void cfs_glock_complete(struct cfs_glock *gl, enum cfs_glock_state granted, int error)
{
	spin_lock(&gl->gl_lock);
	/* The minimum hold time counts from a grant of more than the node had. */
	if (!error && !cfs_glock_state_covers(gl->gl_state, granted))
		gl->gl_tchange = jiffies;
	if (!error)
		gl->gl_state = granted;
	gl->gl_error = error;
	clear_bit(CFS_GLF_TRY, &gl->gl_flags);
	clear_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags);
	clear_bit(CFS_GLF_DEMOTE_RUNNING, &gl->gl_flags);
	cfs_glock_changed(gl);
	cfs_glock_queue_demote_locked(gl);
	spin_unlock(&gl->gl_lock);
	wake_up_all(&gl->gl_wait);
}

/* Jiffies left of the glock's minimum hold time: only inode glocks have one. */
static unsigned long cfs_glock_hold_left(struct cfs_glock *gl)
{
	unsigned int ms = READ_ONCE(cfs_glock_hold_ms);
	unsigned long end;

	lockdep_assert_held(&gl->gl_lock);
	if (!ms || gl->gl_type != CFS_GLT_INODE || READ_ONCE(gl->gl_sbi->glocks.draining))
		return 0;
	end = gl->gl_tchange + msecs_to_jiffies(min(ms, 1000u));
	return time_before(jiffies, end) ? end - jiffies : 0;
}

/* The hold time is over: the pending demotion becomes a demotion. */
static void cfs_glock_hold_work(struct work_struct *work)
{
	struct cfs_glock *gl = container_of(to_delayed_work(work), struct cfs_glock, gl_hold_work);
	struct cfs_glock_table *table = &gl->gl_sbi->glocks;

	spin_lock(&gl->gl_lock);
	if (test_and_clear_bit(CFS_GLF_PENDING_DEMOTE, &gl->gl_flags)) {
		set_bit(CFS_GLF_DEMOTE, &gl->gl_flags);
		cfs_glock_changed(gl);
		cfs_glock_queue_demote_locked(gl);
	}
	spin_unlock(&gl->gl_lock);
	wake_up_all(&gl->gl_wait);
	cfs_glock_put(gl);
	/* After the put: unmount waits for this count before the table goes. */
	if (atomic_dec_and_test(&table->holds_pending))
		wake_up_var(&table->holds_pending);
}

void cfs_glock_callback(struct cfs_glock *gl, enum cfs_glock_state wanted)
{
	struct cfs_glock_table *table = &gl->gl_sbi->glocks;
	unsigned long delay;

	spin_lock(&gl->gl_lock);
	if (!cfs_glock_state_covers(wanted, gl->gl_state)) {
		/* Two callbacks before the demotion ran: satisfy the stronger demand. */
		if ((test_bit(CFS_GLF_DEMOTE, &gl->gl_flags) ||
		     test_bit(CFS_GLF_PENDING_DEMOTE, &gl->gl_flags)) && gl->gl_demote_state != wanted)
			wanted = CFS_GL_UN;
		gl->gl_demote_state = wanted;
		cfs_glock_changed(gl);
		if (test_bit(CFS_GLF_PENDING_DEMOTE, &gl->gl_flags)) {
			/* Its hold work is scheduled and will demote to the new state. */
		} else if (!test_bit(CFS_GLF_DEMOTE, &gl->gl_flags) && (delay = cfs_glock_hold_left(gl)) &&
			   refcount_inc_not_zero(&gl->gl_ref)) {
			/*
			 * Granted moments ago: keep it (and grant this node's holders) until
			 * the hold time ends, then demote. The work holds a reference.
			 */
			set_bit(CFS_GLF_PENDING_DEMOTE, &gl->gl_flags);
			atomic_inc(&table->holds_pending);
			queue_delayed_work(table->demote_wq, &gl->gl_hold_work, delay);
		} else {
			set_bit(CFS_GLF_DEMOTE, &gl->gl_flags);
			cfs_glock_queue_demote_locked(gl);
		}
	}
	spin_unlock(&gl->gl_lock);
}

static u32 cfs_glock_hash(enum cfs_glock_type type, u64 number)
{
	return hash_64(number ^ ((u64)type << 56), CFS_GLOCK_HASH_BITS);
}

static struct cfs_glock *cfs_glock_find_locked(struct cfs_glock_table *table,
					       enum cfs_glock_type type, u64 number)
{
	struct cfs_glock *gl;

	lockdep_assert_held(&table->lock);
	hlist_for_each_entry(gl, &table->buckets[cfs_glock_hash(type, number)], gl_hash) {
		if (gl->gl_type != type || gl->gl_number != number)
			continue;
		/* Off the LRU: the table's reference becomes the caller's. */
		if (test_and_clear_bit(CFS_GLF_LRU, &gl->gl_flags)) {
			list_del_init(&gl->gl_lru);
			table->lru_count--;
			clear_bit(CFS_GLF_NO_LRU, &gl->gl_flags);
			return gl;
		}
		if (refcount_inc_not_zero(&gl->gl_ref)) {
			clear_bit(CFS_GLF_NO_LRU, &gl->gl_flags);
			return gl;
		}
	}
	return NULL;
}

struct cfs_glock *cfs_glock_get(struct cfs_sb_info *sbi, enum cfs_glock_type type, u64 number)
{
	struct cfs_glock_table *table = &sbi->glocks;
	struct cfs_glock *gl, *found;

	if (WARN_ON_ONCE(type < CFS_GLT_META || type > CFS_GLT_MAX))
		return ERR_PTR(-EINVAL);

	spin_lock(&table->lock);
	found = cfs_glock_find_locked(table, type, number);
	spin_unlock(&table->lock);
	if (found)
		return found;

	gl = kmem_cache_zalloc(cfs_glock_cache, GFP_NOFS);
	if (!gl)
		return ERR_PTR(-ENOMEM);
	gl->gl_sbi = sbi;
	gl->gl_type = type;
	gl->gl_number = number;
	gl->gl_ops = cfs_glock_type_ops[type] ? cfs_glock_type_ops[type] : &cfs_plain_glops[type];
	refcount_set(&gl->gl_ref, 1);
	spin_lock_init(&gl->gl_lock);
	gl->gl_state = CFS_GL_UN;
	/* Whatever this node cached before it held the glock may be stale. */
	if (gl->gl_ops->go_instantiate)
		set_bit(CFS_GLF_INSTANTIATE_NEEDED, &gl->gl_flags);
	INIT_LIST_HEAD(&gl->gl_holders);
	INIT_LIST_HEAD(&gl->gl_lru);
	init_waitqueue_head(&gl->gl_wait);
	INIT_WORK(&gl->gl_demote_work, cfs_glock_demote_work);
	INIT_DELAYED_WORK(&gl->gl_hold_work, cfs_glock_hold_work);

	spin_lock(&table->lock);
	found = cfs_glock_find_locked(table, type, number);
	if (!found) {
		hlist_add_head(&gl->gl_hash, &table->buckets[cfs_glock_hash(type, number)]);
		atomic_inc(&table->count);
	}
	spin_unlock(&table->lock);
	if (found) {
		kmem_cache_free(cfs_glock_cache, gl);
		return found;
	}
	return gl;
}

void cfs_glock_hold(struct cfs_glock *gl)
{
	refcount_inc(&gl->gl_ref);
}

/*
 * table->lock held, the last reference just dropped: whether the glock stays cached on
 * the LRU instead (an inode glock the node holds, while caching is on).
 */
static bool cfs_glock_lru_keep_locked(struct cfs_glock_table *table, struct cfs_glock *gl)
{
	bool keep;

	if (!table->lru_enabled || gl->gl_type != CFS_GLT_INODE ||
	    test_bit(CFS_GLF_NO_LRU, &gl->gl_flags))
		return false;
	spin_lock(&gl->gl_lock);
	keep = gl->gl_state != CFS_GL_UN;
	spin_unlock(&gl->gl_lock);
	if (!keep)
		return false;
	refcount_set(&gl->gl_ref, 1);	/* the table's */
	gl->gl_lru_time = jiffies;
	set_bit(CFS_GLF_LRU, &gl->gl_flags);
	list_add_tail(&gl->gl_lru, &table->lru);
	table->lru_count++;
	return true;
}

void cfs_glock_put(struct cfs_glock *gl)
{
	struct cfs_glock_table *table = &gl->gl_sbi->glocks;
	const struct cfs_lock_module *lm = table->module;

	if (!refcount_dec_and_lock(&gl->gl_ref, &table->lock))
		return;
	if (cfs_glock_lru_keep_locked(table, gl)) {
		bool over = table->lru_count > CFS_GLOCK_LRU_MAX;

		spin_unlock(&table->lock);
		/*
		 * A blocking callback that came while the count was zero could not queue its
		 * demotion (cfs_glock_queue_demote_locked takes a reference): queue it now.
		 */
		spin_lock(&gl->gl_lock);
		cfs_glock_queue_demote_locked(gl);
		spin_unlock(&gl->gl_lock);
		if (over)
			queue_work(table->demote_wq, &table->lru_work);
		return;
	}
	hlist_del(&gl->gl_hash);
	atomic_dec(&table->count);
	spin_unlock(&table->lock);

	/*
	 * A request whose waiter gave up (a fatal signal) may still be in flight: let it
	 * complete first, or the lock manager would grant a lock nobody releases (and
	 * the lock id, reused, would collide with it).
	 */
	wait_event(gl->gl_wait, !test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags));
	/* Nobody can find or hold it any more: release the lock itself, synchronously. */
	if (gl->gl_state != CFS_GL_UN) {
		clear_bit(CFS_GLF_DEMOTE, &gl->gl_flags);
		cfs_glock_prepare_demote(gl, gl->gl_state, CFS_GL_UN);
		set_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags);
		lm->lm_lock(gl, CFS_GL_UN);
		wait_event(gl->gl_wait, !test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags));
	}
	if (lm->lm_put)
		lm->lm_put(gl);
	kmem_cache_free(cfs_glock_cache, gl);
}

/* An LRU glock the shrinker may release: unused for CFS_GLOCK_SHRINK_AGE_MS. */
static bool cfs_glock_lru_old(struct cfs_glock *gl)
{
	return time_after_eq(jiffies, gl->gl_lru_time + msecs_to_jiffies(CFS_GLOCK_SHRINK_AGE_MS));
}

/*
 * Releases LRU glocks, oldest first, until at most @keep remain; then up to @old more
 * among those unused for the shrinker's minimum age.
 */
static void cfs_glock_lru_trim(struct cfs_glock_table *table, unsigned int keep, unsigned int old)
{
	struct cfs_glock *gl;

	spin_lock(&table->lock);
	while (table->lru_count) {
		gl = list_first_entry(&table->lru, struct cfs_glock, gl_lru);
		if (table->lru_count <= keep) {
			if (!old || !cfs_glock_lru_old(gl))
				break;
			old--;
		}
		list_del_init(&gl->gl_lru);
		clear_bit(CFS_GLF_LRU, &gl->gl_flags);
		table->lru_count--;
		/* The table's reference is ours now; its last put releases the lock. */
		set_bit(CFS_GLF_NO_LRU, &gl->gl_flags);
		spin_unlock(&table->lock);
		cfs_glock_put(gl);
		cond_resched();
		spin_lock(&table->lock);
	}
	spin_unlock(&table->lock);
}

static void cfs_glock_lru_work(struct work_struct *work)
{
	struct cfs_glock_table *table = container_of(work, struct cfs_glock_table, lru_work);
	unsigned int old;

	/*
	 * Down to three quarters, so that the work runs once per many evictions, and the
	 * old ones the shrinker asked for.
	 */
	spin_lock(&table->lock);
	old = table->lru_shrink;
	table->lru_shrink = 0;
	spin_unlock(&table->lock);
	cfs_glock_lru_trim(table, CFS_GLOCK_LRU_MAX / 4 * 3, old);
}

/*
 * Memory pressure: unused cached glocks are released, oldest first, by lru_work (a
 * release writes back and talks to the lock manager: never from reclaim itself).
 */
static unsigned long cfs_glock_shrink_count(struct shrinker *shrink, struct shrink_control *sc)
{
	struct cfs_glock_table *table = cfs_shrinker_private(shrink);
	unsigned long n = READ_ONCE(table->lru_count);

	return n ? n : SHRINK_EMPTY;
}

/*
 * Only glocks unused for a while go: one used moments ago is likely to be used again
 * (its inode was evicted, not its lock), and re-acquiring costs a lock manager round
 * trip, while a cached glock costs a few hundred bytes.
 */
static unsigned long cfs_glock_shrink_scan(struct shrinker *shrink, struct shrink_control *sc)
{
	struct cfs_glock_table *table = cfs_shrinker_private(shrink);
	struct cfs_glock *gl;
	unsigned long n = 0;

	if (!(sc->gfp_mask & __GFP_FS))
		return SHRINK_STOP;
	spin_lock(&table->lock);
	if (table->lru_enabled) {
		list_for_each_entry(gl, &table->lru, gl_lru) {
			if (n >= sc->nr_to_scan || !cfs_glock_lru_old(gl))
				break;
			n++;
		}
	}
	if (n) {
		table->lru_shrink = max_t(unsigned int, table->lru_shrink, n);
		queue_work(table->demote_wq, &table->lru_work);
	}
	spin_unlock(&table->lock);
	return n ? n : SHRINK_STOP;
}

void cfs_glock_lru_enable(struct cfs_glock_table *table)
{
	spin_lock(&table->lock);
	table->lru_enabled = true;
	spin_unlock(&table->lock);
	/* Without a shrinker the LRU still has its fixed cap: not worth failing a mount. */
	table->shrinker = cfs_shrinker_register("clusterfs-glocks", cfs_glock_shrink_count,
						cfs_glock_shrink_scan, table);
	if (!table->shrinker)
		pr_warn("clusterfs: no shrinker for the glock cache (its cap stays %u)\n",
			CFS_GLOCK_LRU_MAX);
}

static void cfs_glock_shrinker_stop(struct cfs_glock_table *table)
{
	if (table->shrinker) {
		cfs_shrinker_unregister(table->shrinker);
		table->shrinker = NULL;
	}
}

/* Every scheduled hold work has run: each holds a glock reference and uses the queue. */
static void cfs_glock_wait_holds(struct cfs_glock_table *table)
{
	wait_var_event(&table->holds_pending, !atomic_read(&table->holds_pending));
}

void cfs_glock_lru_drain(struct cfs_glock_table *table)
{
	if (!table->demote_wq)
		return;		/* the table was never set up (a mount that failed early) */
	cfs_glock_shrinker_stop(table);
	spin_lock(&table->lock);
	table->lru_enabled = false;
	table->draining = true;
	spin_unlock(&table->lock);
	/* No hold starts from here on (draining); the running ones end within the hold time. */
	cfs_glock_wait_holds(table);
	cancel_work_sync(&table->lru_work);
	cfs_glock_lru_trim(table, 0, 0);
}

int cfs_glock_table_init(struct cfs_glock_table *table, const struct cfs_lock_module *module)
{
	int i;

	spin_lock_init(&table->lock);
	for (i = 0; i < ARRAY_SIZE(table->buckets); i++)
		INIT_HLIST_HEAD(&table->buckets[i]);
	table->module = module;
	atomic_set(&table->count, 0);
	INIT_LIST_HEAD(&table->lru);
	table->lru_count = 0;
	table->lru_enabled = false;
	table->draining = false;
	table->lru_shrink = 0;
	table->shrinker = NULL;
	atomic_set(&table->holds_pending, 0);
	INIT_WORK(&table->lru_work, cfs_glock_lru_work);
	table->demote_wq = alloc_workqueue("clusterfs_demote", WQ_MEM_RECLAIM | WQ_FREEZABLE, 0);
	return table->demote_wq ? 0 : -ENOMEM;
}

static struct dentry *cfs_debugfs_root;

/* One line per glock: "inode/1828 EX f:D h:2 SH,SH i:3 lk:17" (f:L: unused, on the LRU; f:p: a demotion waits for the minimum hold time). */
static int cfs_glocks_show(struct seq_file *m, void *unused)
{
	struct cfs_glock_table *table = m->private;
	struct cfs_holder *gh;
	struct cfs_glock *gl;
	int i, n;

	spin_lock(&table->lock);
	for (i = 0; i < ARRAY_SIZE(table->buckets); i++) {
		hlist_for_each_entry(gl, &table->buckets[i], gl_hash) {
			spin_lock(&gl->gl_lock);
			seq_printf(m, "%s/%llx %s f:%s%s%s%s%s%s", gl->gl_ops->name, gl->gl_number,
				   cfs_glock_state_name(gl->gl_state),
				   test_bit(CFS_GLF_REQUEST_PENDING, &gl->gl_flags) ? "R" : "",
				   test_bit(CFS_GLF_DEMOTE, &gl->gl_flags) ? "D" : "",
				   test_bit(CFS_GLF_PENDING_DEMOTE, &gl->gl_flags) ? "p" : "",
				   test_bit(CFS_GLF_DEMOTE_RUNNING, &gl->gl_flags) ? "d" : "",
				   test_bit(CFS_GLF_INSTANTIATE_NEEDED, &gl->gl_flags) ? "I" : "",
				   test_bit(CFS_GLF_LRU, &gl->gl_flags) ? "L" : "");
			n = 0;
			list_for_each_entry(gh, &gl->gl_holders, gh_list)
				n++;
			seq_printf(m, " h:%d", n);
			list_for_each_entry(gh, &gl->gl_holders, gh_list)
				seq_printf(m, "%c%s", gh == list_first_entry(&gl->gl_holders, struct cfs_holder, gh_list) ? ' ' : ',',
					   cfs_glock_state_name(gh->gh_state));
			seq_printf(m, " i:%lu lk:%llu ref:%u\n", gl->gl_inval_count, gl->gl_lkid,
				   refcount_read(&gl->gl_ref));
			spin_unlock(&gl->gl_lock);
		}
	}
	spin_unlock(&table->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cfs_glocks);

/*
 * Writing 1 withdraws the mount, as GFS2's sysfs `withdraw` file does: how tests (and an
 * administrator who knows the device misbehaves) stop a node's writes and have another
 * node replay its journal without taking the node down.
 */
static ssize_t cfs_withdraw_write(struct file *file, const char __user *buf, size_t len,
				  loff_t *ppos)
{
	struct cfs_glock_table *table = file->private_data;
	struct cfs_sb_info *sbi = container_of(table, struct cfs_sb_info, glocks);
	bool on;
	int err;

	err = kstrtobool_from_user(buf, len, &on);
	if (err)
		return err;
	if (on)
		cfs_withdraw(sbi, "withdrawn on request (debugfs)");
	return len;
}

static const struct file_operations cfs_withdraw_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.write	= cfs_withdraw_write,
	.llseek	= noop_llseek,
};

void cfs_glock_debugfs_add(struct cfs_glock_table *table, const char *name)
{
	if (IS_ERR_OR_NULL(cfs_debugfs_root))
		return;
	table->debugfs = debugfs_create_dir(name, cfs_debugfs_root);
	debugfs_create_file("glocks", 0400, table->debugfs, table, &cfs_glocks_fops);
	debugfs_create_file("withdraw", 0200, table->debugfs, table, &cfs_withdraw_fops);
}

void cfs_glock_table_destroy(struct cfs_glock_table *table)
{
	debugfs_remove_recursive(table->debugfs);
	table->debugfs = NULL;
	if (!table->demote_wq)
		return;
	cfs_glock_shrinker_stop(table);
	WRITE_ONCE(table->draining, true);
	cfs_glock_wait_holds(table);
	flush_workqueue(table->demote_wq);
	destroy_workqueue(table->demote_wq);
	table->demote_wq = NULL;
	/* Every owner put its glocks before this point; a survivor is a reference leak. */
	if (atomic_read(&table->count))
		pr_err("clusterfs: %d glocks still referenced at unmount\n",
		       atomic_read(&table->count));
}

int __init cfs_glock_init(void)
{
	cfs_glock_cache = kmem_cache_create("clusterfs_glock", sizeof(struct cfs_glock), 0,
					    SLAB_RECLAIM_ACCOUNT, NULL);
	if (!cfs_glock_cache)
		return -ENOMEM;
	cfs_debugfs_root = debugfs_create_dir("clusterfs", NULL);
	return 0;
}

void cfs_glock_exit(void)
{
	debugfs_remove_recursive(cfs_debugfs_root);
	kmem_cache_destroy(cfs_glock_cache);
}
