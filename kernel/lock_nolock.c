// SPDX-License-Identifier: GPL-2.0
/*
 * lock_nolock: the lock module of a filesystem mounted by one node only. Every state
 * is granted at once; no other node ever asks for a demotion, so glocks stay cached in
 * their state until their owner drops them.
 */
#include "clusterfs.h"

static void cfs_nolock_lock(struct cfs_glock *gl, enum cfs_glock_state state)
{
	cfs_glock_complete(gl, state, 0);
}

const struct cfs_lock_module cfs_lock_nolock = {
	.name = CFS_LOCKPROTO_NOLOCK,
	.lm_lock = cfs_nolock_lock,
};
