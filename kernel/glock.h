/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Glocks: one cluster lock object per cached resource (the superblock/statfs, each
 * inode, each resource group, ...), as in GFS2. A glock's state is what this node holds
 * from the lock module; holders are local users that need the glock in some state.
 *
 * Invariants (DESIGN.md "Cluster locking"):
 *  - data or metadata covered by a glock is cached only while the glock is held in a
 *    compatible state;
 *  - before the state leaves EX, ops->go_sync writes back what the glock covers
 *    (journal flushed up to the glock's last transaction, then data and metadata in
 *    place); before it leaves SH/DF/EX for UN, ops->go_inval drops the cached copies;
 *  - glocks stay cached in their state after the last holder leaves, and are demoted
 *    only when the lock module asks (blocking callback) or at unmount. With a cluster
 *    lock module an inode glock also outlives its inode: on the last put it goes to the
 *    table's LRU list still in its state (as GFS2's glock LRU), so that evicting an
 *    inode costs no journal checkpoint, cache scan or lock manager round trip, and the
 *    inode read back later finds its lock already held. The LRU is capped; the oldest
 *    are released from a work item, every one at unmount.
 *
 * Lock modules (struct cfs_lock_module) grant states asynchronously through
 * cfs_glock_complete() and ask for demotions through cfs_glock_callback(). The local
 * module (lock_nolock) grants everything at once and never calls back.
 */
#ifndef CLUSTERFS_GLOCK_H
#define CLUSTERFS_GLOCK_H

#include <linux/list.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

struct cfs_sb_info;
struct cfs_glock;

enum cfs_glock_state {
	CFS_GL_UN = 0,		/* unlocked: nothing may be cached */
	CFS_GL_SH,		/* shared: read and cache, other nodes may share */
	CFS_GL_DF,		/* deferred: shared for direct I/O, no page cache */
	CFS_GL_EX,		/* exclusive: read, write, cache */
};

/* CFS_GLT_META glock numbers. */
enum {
	CFS_META_SUPER = 0,	/* the superblock and statfs: SH for the life of a mount */
	CFS_META_LIVE = 1,	/* lock_cluster: mounted nodes hold it SH (first mounter) */
	CFS_META_RENAME = 2,	/* lock_cluster: renames across directories */
	CFS_META_STATFS = 3,	/* lock_cluster: EX to fold into the global statfs file */
};

enum cfs_glock_type {
	CFS_GLT_META = 1,	/* the superblock and filesystem-wide statfs */
	CFS_GLT_INODE,		/* a dinode, its pointer tree and its data */
	CFS_GLT_RGRP,		/* a resource group's header and bitmaps (by header block) */
	CFS_GLT_IOPEN,		/* held SH by every node that has the inode open */
	CFS_GLT_JOURNAL,	/* ownership of a journal (node slot) */
	CFS_GLT_FLOCK,		/* flock(2) on an inode, cluster-wide */
	CFS_GLT_MAX = CFS_GLT_FLOCK,
};

/* Per-type cache hooks. Both may sleep; neither is called with gl->lock held. */
struct cfs_glock_operations {
	const char *name;
	/* Leaving EX: make what this node changed under the glock durable in place. */
	int (*go_sync)(struct cfs_glock *gl);
	/* Leaving for UN (or for DF from SH/EX): drop cached copies. */
	void (*go_inval)(struct cfs_glock *gl);
	/*
	 * First holder after an invalidation, with that holder granted and no other one
	 * yet: reload what go_inval dropped (the dinode into the VFS inode). An error is
	 * returned to that holder, and the next holder tries again.
	 */
	int (*go_instantiate)(struct cfs_glock *gl);
};

/* A lock module: how glock states are obtained from the cluster. */
struct cfs_lock_module {
	const char *name;
	/* Asks for @state; must eventually call cfs_glock_complete(). May sleep. */
	void (*lm_lock)(struct cfs_glock *gl, enum cfs_glock_state state);
	/* The glock is being freed in state UN: forget it. */
	void (*lm_put)(struct cfs_glock *gl);
};

/* gl_flags bits */
enum {
	CFS_GLF_REQUEST_PENDING,	/* lm_lock in flight */
	CFS_GLF_DEMOTE,			/* the lock module wants gl_demote_state */
	CFS_GLF_DEMOTE_RUNNING,		/* go_sync/go_inval/lm_lock(demote) in progress */
	CFS_GLF_INSTANTIATE_NEEDED,	/* go_inval ran: the next holder reloads the object */
	CFS_GLF_INSTANTIATING,		/* a holder runs go_instantiate; others wait */
	CFS_GLF_TRY,			/* the pending request must not queue (CFS_GH_TRY) */
	CFS_GLF_LRU,			/* on the table's LRU: its reference is the table's */
	CFS_GLF_NO_LRU,			/* taken off the LRU to be released: the last put frees it */
	CFS_GLF_PENDING_DEMOTE,		/* a callback within the minimum hold time: DEMOTE when it ends */
};

/* cfs_glock_nq_flags() flags */
#define CFS_GH_TRY	0x1u	/* fail with -EAGAIN rather than wait for another node or holder */
#define CFS_GH_UNINTERRUPTIBLE 0x2u	/* not even a fatal signal stops the wait */
#define CFS_GH_INTERRUPTIBLE 0x4u	/* any signal stops the wait (-ERESTARTSYS) */

struct cfs_glock {
	struct hlist_node gl_hash;
	struct cfs_sb_info *gl_sbi;
	u64 gl_number;
	enum cfs_glock_type gl_type;
	const struct cfs_glock_operations *gl_ops;
	refcount_t gl_ref;

	spinlock_t gl_lock;		/* everything below */
	enum cfs_glock_state gl_state;	/* granted by the lock module */
	enum cfs_glock_state gl_target;	/* being requested */
	enum cfs_glock_state gl_demote_state;
	unsigned long gl_flags;
	int gl_error;			/* last lock module error, reported to waiters */
	unsigned long gl_seq;		/* bumped on every change waiters may care about */
	struct list_head gl_holders;	/* granted cfs_holders */
	wait_queue_head_t gl_wait;
	struct work_struct gl_demote_work;
	unsigned long gl_tchange;	/* jiffies when the lock module last granted a stronger state */
	struct delayed_work gl_hold_work;	/* turns PENDING_DEMOTE into DEMOTE */

	unsigned long gl_inval_count;	/* go_inval runs so far (dentry revalidation) */
	u64 gl_lkid;			/* lock module's handle (lock_cluster), 0 = none */

	struct list_head gl_lru;	/* on cfs_glock_table.lru (table->lock) */
	unsigned long gl_lru_time;	/* jiffies when it went on the LRU */
	void *gl_object;		/* the inode or rgrp it covers, NULL if none */
	u8 gl_lvb[32];			/* lock value block (rgrp free counts) */
};

struct cfs_holder {
	struct list_head gh_list;
	struct cfs_glock *gh_gl;
	struct task_struct *gh_owner;	/* the task that asked (page faults under a holder) */
	enum cfs_glock_state gh_state;
	bool gh_granted;
};

#define CFS_GLOCK_HASH_BITS 10
/* Unused inode glocks kept cached: a few hundred bytes each here and in lockd. */
#define CFS_GLOCK_LRU_MAX 4096
/*
 * Minimum hold time of an inode glock (module parameter glock_hold_ms): another node's
 * callback that comes sooner after the grant waits for its end, and this node's holders
 * are still granted meanwhile, so that two nodes contending for one directory each get
 * some work done per hand-off instead of one operation (GFS2's gl_hold_time).
 */
#define CFS_GLOCK_HOLD_MS_DEFAULT 20
/* The shrinker releases only glocks unused (on the LRU) for at least this long. */
#define CFS_GLOCK_SHRINK_AGE_MS 10000

struct cfs_glock_table {
	spinlock_t lock;
	struct hlist_head buckets[1 << CFS_GLOCK_HASH_BITS];
	const struct cfs_lock_module *module;
	struct workqueue_struct *demote_wq;
	atomic_t count;
	/* Unused glocks kept in their state, oldest first (table->lock); see above. */
	struct list_head lru;
	unsigned int lru_count;
	bool lru_enabled;		/* set by a cluster mount, cleared to drain */
	bool draining;			/* unmount: releases skip go_inval (see drain) */
	struct work_struct lru_work;	/* releases the oldest beyond the cap, and lru_shrink */
	unsigned int lru_shrink;	/* old glocks the shrinker asked lru_work to release */
	struct shrinker *shrinker;	/* memory pressure trims the LRU */
	atomic_t holds_pending;		/* scheduled gl_hold_work (each holds a reference) */
	struct dentry *debugfs;		/* clusterfs/<device>/glocks, as GFS2's */
};

int cfs_glock_table_init(struct cfs_glock_table *table, const struct cfs_lock_module *module);
/* debugfs clusterfs/<@name>/glocks: one line per glock (state, holders, flags). */
void cfs_glock_debugfs_add(struct cfs_glock_table *table, const char *name);
/* Cluster mounts: unused inode glocks stay cached (LRU) from now on. */
void cfs_glock_lru_enable(struct cfs_glock_table *table);
/*
 * Releases every glock on the LRU and caches no more: unmount, after the journal's
 * clean stop, before the lock module goes. From here on releases skip go_inval (one
 * walk of the block device's cache per glock made unmount slow): the caller forgets
 * every cached metadata block once, after the last glock is gone.
 */
void cfs_glock_lru_drain(struct cfs_glock_table *table);
/* Demotes every glock to UN (go_sync + go_inval) and frees them: unmount. */
void cfs_glock_table_destroy(struct cfs_glock_table *table);

/*
 * Finds or creates the glock (@type, @number); returns a reference or an ERR_PTR.
 * Glocks are freed when the last reference goes: the owner of the cached object (the
 * inode, the rgrp table, the mount) holds one while it caches anything covered.
 * The final put demotes to UN (go_sync, go_inval) and may sleep.
 */
struct cfs_glock *cfs_glock_get(struct cfs_sb_info *sbi, enum cfs_glock_type type, u64 number);
void cfs_glock_hold(struct cfs_glock *gl);
void cfs_glock_put(struct cfs_glock *gl);

/*
 * Acquires @gl in @state for @gh, waiting (killable) until the lock module grants it
 * and no incompatible local holder remains (an EX holder is alone; SH holders share).
 * A glock held EX by the node satisfies SH holders. Returns 0, -EINTR, or the lock
 * module's error.
 */
int cfs_glock_nq(struct cfs_glock *gl, enum cfs_glock_state state, struct cfs_holder *gh);
int cfs_glock_nq_flags(struct cfs_glock *gl, enum cfs_glock_state state, struct cfs_holder *gh,
		       unsigned int flags);
/*
 * Asks the lock module for @state now, without a holder and without waiting, so that a
 * later cfs_glock_nq() of the same state overlaps its wait with another lock's (an
 * inode's glock while its iopen lock is acquired: one lock manager round trip instead
 * of two). Does nothing when the node has the state or a request or demotion is under
 * way. A state granted this way is cached like any other and yields to other nodes.
 * False if the node has the state already (nothing to wait for).
 */
bool cfs_glock_prefetch(struct cfs_glock *gl, enum cfs_glock_state state);
/* Whether the current task holds @gl (a page fault while read/write copy user data). */
bool cfs_glock_held_by_me(struct cfs_glock *gl);
/* Whether this node holds @gl in EX with no demotion asked for or running. */
bool cfs_glock_held_ex(struct cfs_glock *gl);
/* Releases @gh. The glock keeps its state (cached) unless a demotion is pending. */
void cfs_glock_dq(struct cfs_holder *gh);

/* Lock module → glock layer. Any context that may take a spinlock. */
void cfs_glock_complete(struct cfs_glock *gl, enum cfs_glock_state granted, int error);
void cfs_glock_callback(struct cfs_glock *gl, enum cfs_glock_state wanted);

/* Whether a holder in state @wanted may proceed while the glock is held in @held. */
bool cfs_glock_state_covers(enum cfs_glock_state held, enum cfs_glock_state wanted);
const char *cfs_glock_state_name(enum cfs_glock_state state);

int cfs_glock_init(void);
void cfs_glock_exit(void);
/* glock_selftest.c: the state machine against a scripted lock module (module load). */
int cfs_glock_selftest(void);

/* glops.c: per-type cache hooks. */
extern const struct cfs_glock_operations cfs_inode_glops;
extern const struct cfs_glock_operations cfs_rgrp_glops;
extern const struct cfs_glock_operations cfs_meta_glops;
extern const struct cfs_glock_operations cfs_iopen_glops;

/* lock_nolock.c: the single-node lock module. */
extern const struct cfs_lock_module cfs_lock_nolock;

#endif
