/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lock_cluster: the inode and iopen glocks of the blocks the next creates will most
 * likely get, requested ahead of them (docs/kernel.md "Creating ahead").
 */
#ifndef CLUSTERFS_CREATE_AHEAD_H
#define CLUSTERFS_CREATE_AHEAD_H

#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct cfs_sb_info;
struct cfs_glock;
struct dentry;

/* How many free blocks past a new dinode get their locks requested. */
#define CFS_CREATE_AHEAD 8

struct cfs_create_ahead_slot {
	u64 block;			/* 0: empty */
	struct cfs_glock *inode_gl;
	struct cfs_glock *iopen_gl;
};

struct cfs_create_ahead {
	spinlock_t lock;
	unsigned int next;		/* the slot replaced next (oldest first) */
	/*
	 * How many guesses to request: doubled (from 1) when a create finds its block
	 * guessed, halved when not. At 0 (file data keeps taking the blocks after each new
	 * dinode) one guess in every CFS_CREATE_AHEAD creates probes for a change.
	 */
	unsigned int window;
	unsigned int since_probe;
	struct cfs_create_ahead_slot slots[2 * CFS_CREATE_AHEAD];
	/*
	 * Slots replaced before use, put by put_work: the last put of a glock whose
	 * request is still in flight waits for it, which a create must not do.
	 */
	unsigned int ndropped;
	struct cfs_create_ahead_slot dropped[2 * CFS_CREATE_AHEAD];
	struct work_struct put_work;
	/* debugfs create_ahead_{requested,used,dropped}: blocks whose locks were requested, */
	u64 requested;
	u64 used;			/* ... that a create then got, */
	u64 dropped_count;		/* ... and that were given up unused */
};

/* The free blocks after a new dinode, found under the transaction lock. */
struct cfs_create_guess {
	u64 blocks[CFS_CREATE_AHEAD];
	unsigned int want;		/* the window when it was taken */
	unsigned int count;
};

void cfs_create_ahead_init(struct cfs_create_ahead *ahead);
void cfs_create_ahead_debugfs(struct cfs_create_ahead *ahead, struct dentry *dir);
/*
 * Under the transaction lock, right after a create allocated dinode @ino (its group's
 * lock still held, so the bitmap is current): the next free blocks after it, as many as
 * the window asks for (none, and no bitmap read, when it is closed).
 */
void cfs_create_ahead_guess(struct cfs_sb_info *sbi, u64 ino, struct cfs_create_guess *guess);
/* With no lock held: requests the guessed blocks' inode and iopen glocks. */
void cfs_create_ahead_request(struct cfs_sb_info *sbi, const struct cfs_create_guess *guess);
/* The new inode @ino holds its own references now: the slot's go. */
void cfs_create_ahead_used(struct cfs_sb_info *sbi, u64 ino);
/*
 * This node gives up its lock on the group of blocks [first, end): another node will
 * allocate there, and this node's guesses in it would hold that node's new inodes' iopen
 * locks SH (their unlinks could not free them at once). The slots go.
 */
void cfs_create_ahead_forget(struct cfs_sb_info *sbi, u64 first, u64 end);
/* Unmount: every reference dropped (the locks are released or cached as usual). */
void cfs_create_ahead_drain(struct cfs_sb_info *sbi);

#endif
