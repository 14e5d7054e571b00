/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lock_cluster: mounts of a lock_cluster filesystem and their link to the node's
 * clusterfs_lockd through the misc device /dev/clusterfs_lock (lock_cluster.c).
 *
 * This release mounts a lock_cluster filesystem on one node at a time: a mount joins
 * the lockspace named by the superblock's lock table (lockd gives it a journal slot),
 * then holds the lockspace's "mount-exclusive" lock EX until unmount, so glocks stay
 * local (lock_nolock) under it and no other node can cache anything meanwhile. While it
 * waits for that lock it replays the journals lockd assigns to it (a dead node's).
 * docs/kernel.md "Cluster mounts" says why and what comes next.
 */
#ifndef CLUSTERFS_LOCK_CLUSTER_H
#define CLUSTERFS_LOCK_CLUSTER_H

#include <linux/types.h>

struct cfs_sb_info;
struct fs_context;

int cfs_lock_cluster_init(void);
void cfs_lock_cluster_exit(void);

/*
 * Joins the lockspace (sets sbi->cluster and sbi->journal_slot), then waits for the
 * mount-exclusive lock, replaying the journals lockd assigns meanwhile. Errors name
 * their cause through @fc: no lockd, protocol mismatch, inquorate, cluster name, no free
 * journal, mounted elsewhere.
 */
int cfs_cluster_mount(struct cfs_sb_info *sbi, struct fs_context *fc);
/* fill_super succeeded: later recovery requests are served by a work item. */
void cfs_cluster_mounted(struct cfs_sb_info *sbi);
/* Leaves the lockspace (releasing every lock of the mount) and frees sbi->cluster. */
void cfs_cluster_unmount(struct cfs_sb_info *sbi);

#endif
