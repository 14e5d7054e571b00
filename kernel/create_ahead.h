/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lock_cluster: the inode and iopen glocks of the blocks the next creates will most
 * likely get, requested ahead of them (docs/kernel.md "Creating ahead").
 */
#ifndef CLUSTERFS_CREATE_AHEAD_H
#define CLUSTERFS_CREATE_AHEAD_H

#include <linux/types.h>

#include "ahead_ring.h"

struct cfs_sb_info;
struct cfs_glock;
struct dentry;

/* How many free blocks past a new dinode get their locks requested. */
#define CFS_CREATE_AHEAD 8

struct cfs_create_ahead {
	/* Slots: 2 * CFS_CREATE_AHEAD; debugfs create_ahead_{requested,used,dropped} */
	struct cfs_ahead_ring ring;
	/*
	 * How many guesses to request (under ring.lock): doubled (from 1) when a create
	 * finds its block guessed, halved when not. At 0 (file data keeps taking the
	 * blocks after each new dinode) one guess in every CFS_CREATE_AHEAD creates probes
	 * for a change.
	 */
	unsigned int window;
	unsigned int since_probe;
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
