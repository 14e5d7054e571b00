/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lock_cluster: a ring of inode numbers whose inode and iopen glocks were requested
 * ahead of use (creating ahead, looking up ahead). Each slot keeps a reference on both
 * glocks until an inode takes them or the slot is given up; slots given up go to a work
 * item, since the last put of a glock with a request in flight waits for the answer,
 * which a create or a lookup must not do.
 */
#ifndef CLUSTERFS_AHEAD_RING_H
#define CLUSTERFS_AHEAD_RING_H

#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct cfs_glock;
struct dentry;

#define CFS_AHEAD_RING_MAX 32

struct cfs_ahead_slot {
	u64 number;			/* 0: empty */
	unsigned long requested_at;	/* jiffies */
	struct cfs_glock *inode_gl;
	struct cfs_glock *iopen_gl;
};

struct cfs_ahead_ring;
/* Gives up one slot's references (from the work item, or at drain). */
typedef void (*cfs_ahead_release_t)(struct cfs_ahead_ring *ring, struct cfs_ahead_slot *slot);

struct cfs_ahead_ring {
	spinlock_t lock;		/* also guards the owner's fields */
	unsigned int size;		/* slots in use, <= CFS_AHEAD_RING_MAX */
	unsigned int next;		/* the slot replaced next (oldest first) */
	struct cfs_ahead_slot slots[CFS_AHEAD_RING_MAX];
	/*
	 * Slots given up, for the work item. Twice the ring: a request starts only while
	 * fewer than `size` wait here (cfs_ahead_ring_busy_locked), which leaves room for
	 * the slots that requests already under way replace, so that a fresh pair is
	 * never refused after its requests went out (its put would be the last, and wait).
	 */
	unsigned int ndropped;
	struct cfs_ahead_slot dropped[2 * CFS_AHEAD_RING_MAX];
	struct work_struct put_work;
	cfs_ahead_release_t release;
	/* debugfs PREFIX_{requested,used,dropped}: slots filled, taken, given up unused */
	u64 requested;
	u64 used;
	u64 dropped_count;
};

void cfs_ahead_ring_init(struct cfs_ahead_ring *ring, unsigned int size, cfs_ahead_release_t release);
void cfs_ahead_ring_debugfs(struct cfs_ahead_ring *ring, struct dentry *dir, const char *prefix);
/* Puts both references of @slot (a release that needs nothing more). */
void cfs_ahead_slot_put(struct cfs_ahead_ring *ring, struct cfs_ahead_slot *slot);
/* ring->lock held: whether @number has a slot, or too many slots wait for the work item. */
bool cfs_ahead_ring_busy_locked(struct cfs_ahead_ring *ring, u64 number);
/*
 * Puts @fresh (its references) into the ring, replacing the oldest slot. Returns false
 * (references put: never the last ones, the slot of @number has its own) if @number
 * has a slot already; sets *replaced when a slot went unused.
 */
bool cfs_ahead_ring_add(struct cfs_ahead_ring *ring, struct cfs_ahead_slot *fresh, bool *replaced);
/* ring->lock held: takes @number's slot into *out (counted as used); false if none. */
bool cfs_ahead_ring_take_locked(struct cfs_ahead_ring *ring, u64 number, struct cfs_ahead_slot *out);
/* Gives up every slot @match accepts (to the work item). */
void cfs_ahead_ring_drop(struct cfs_ahead_ring *ring,
			 bool (*match)(const struct cfs_ahead_slot *slot, void *arg), void *arg);
/* Unmount: the work item finished, every slot released. */
void cfs_ahead_ring_drain(struct cfs_ahead_ring *ring);

#endif
