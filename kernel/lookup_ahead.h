/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lock_cluster: the inode and iopen glocks of the inodes a directory walk will most
 * likely read next, requested ahead of the lookups (docs/kernel.md "Looking up ahead").
 */
#ifndef CLUSTERFS_LOOKUP_AHEAD_H
#define CLUSTERFS_LOOKUP_AHEAD_H

#include <linux/types.h>
#include <linux/workqueue.h>

#include "ahead_ring.h"

struct cfs_sb_info;
struct cfs_glock;
struct dentry;

/* Most inodes requested ahead of the last one read; the window adapts below it. */
#define CFS_LOOKUP_AHEAD 16
/*
 * Inode numbers of the latest readdir entries, in the order they were returned: more
 * than one getdents buffer of short names (glibc's 32 KiB hold about 1000), since `ls -l`
 * stats each batch's entries after reading it.
 */
#define CFS_LOOKUP_TRAIL 4096

/* A slot unread this long is given up (its iopen lock may keep an unlinked inode). */
#define CFS_LOOKUP_AHEAD_EXPIRE_MS 5000

struct cfs_lookup_ahead {
	/*
	 * Slots: 2 * CFS_LOOKUP_AHEAD; debugfs lookup_ahead_{requested,used,dropped}. Its
	 * lock guards the fields below too.
	 */
	struct cfs_ahead_ring ring;
	u64 *trail;			/* CFS_LOOKUP_TRAIL entries; NULL: no looking ahead */
	u64 trail_count;		/* entries ever added: trail[count % size] is next */
	u64 cursor;			/* trail position of the last inode read */
	u64 requested_to;		/* trail position up to which requests went out */
	/*
	 * How many inodes past the one read get requested: doubled (from 4, up to
	 * CFS_LOOKUP_AHEAD) when a read finds its inode requested, halved (down to 1)
	 * when a requested one is given up unread.
	 */
	unsigned int window;
	struct delayed_work expire_work;	/* gives up slots unread for EXPIRE_MS */
	bool stopping;			/* unmount: slots are put, nothing is freed */
	u64 freed;			/* debugfs lookup_ahead_freed: unlinked inodes freed */
};

void cfs_lookup_ahead_init(struct cfs_lookup_ahead *ahead);
void cfs_lookup_ahead_debugfs(struct cfs_lookup_ahead *ahead, struct dentry *dir);
/* readdir returned an entry for inode @ino. */
void cfs_lookup_ahead_note(struct cfs_sb_info *sbi, u64 ino);
/*
 * Inode @ino is being read into memory (it holds its own glock references): its slot
 * goes, and the next inodes of the trail after it get their locks requested.
 */
void cfs_lookup_ahead_reading(struct cfs_sb_info *sbi, u64 ino);
/*
 * Unmount (or a failed mount), before the journal stops: every slot put (its locks
 * released or cached), the trail freed.
 */
void cfs_lookup_ahead_drain(struct cfs_sb_info *sbi);

#endif
