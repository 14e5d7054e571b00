/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel host of lib/env.h: per-filesystem state lib reaches through its opaque
 * struct cfs_host, implemented with buffer heads (metadata cache) and bios (journal,
 * in-place metadata writes, raw reads).
 */
#ifndef CLUSTERFS_HOST_H
#define CLUSTERFS_HOST_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/workqueue.h>
#include <linux/ratelimit.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

struct super_block;

struct cfs_host {
	struct super_block *sb;
	u32 block_size;			/* 0 until lib read the superblock */
	u8 block_shift;

	/*
	 * Threads between their withdraw check and the end of their bio submissions (every
	 * metadata, log and data write path): a withdraw waits them out (cfs_host_quiesce),
	 * so that once it returns nothing more of this node reaches the disk.
	 */
	atomic_t submitters;
	wait_queue_head_t submitters_done;

	/* In-place metadata writes in flight (cfs_env_buf_write), collected by cfs_env_sync. */
	atomic_t writes_in_flight;
	wait_queue_head_t writes_done;
	int write_error;		/* first error since the last cfs_env_sync */
	spinlock_t write_error_lock;
	/*
	 * The in-place write being built: consecutive blocks (a checkpoint writes in block
	 * order) join one bio, submitted when the next block does not follow, when it is
	 * full, or by cfs_env_sync / cfs_host_drain.
	 */
	struct mutex pending_lock;
	struct bio *pending;
	sector_t pending_end;		/* first sector after the pending bio */
	/*
	 * First sector after every in-place write issued since the last wait for all of
	 * them (pending_lock): a write below it may overlap one still in flight, and the
	 * block layer does not order overlapping writes.
	 */
	sector_t issued_end;

	/* Inodes whose dirty data must reach disk before the next journal commit. */
	spinlock_t ordered_lock;
	struct list_head ordered_inodes;

	/*
	 * Inode references the ordered flush took and cannot drop itself: it runs under
	 * trans_mutex, and a final iput of an unlinked inode frees it in a transaction.
	 */
	struct llist_head delayed_iputs;
	struct work_struct delayed_iput_work;

	/* Error and warning messages from lib (corrupt blocks) are rate limited. */
	struct ratelimit_state log_ratelimit;
};

void cfs_host_init(struct cfs_host *host, struct super_block *sb);
/* Waits for in-place writes still in flight (unmount, failed mount). */
void cfs_host_drain(struct cfs_host *host);
/* A write path enters before it checks for a withdraw: false (and not entered) if withdrawn. */
bool cfs_host_io_enter(struct cfs_host *host);
void cfs_host_io_exit(struct cfs_host *host);
/* After a withdraw: returns once no write of this node is being submitted or in flight. */
void cfs_host_quiesce(struct cfs_host *host);
/* Drops the references left to the delayed-iput worker (unmount, before evict_inodes). */
void cfs_host_run_delayed_iputs(struct cfs_host *host);

/* Ordered data: @inode's dirty pages are written before the next commit. */
struct cfs_inode_info;
void cfs_host_add_ordered(struct cfs_host *host, struct cfs_inode_info *ci);
void cfs_host_remove_ordered(struct cfs_host *host, struct cfs_inode_info *ci);

#endif
