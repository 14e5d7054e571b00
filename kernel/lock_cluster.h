/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lock_cluster: mounts of a lock_cluster filesystem and their link to the node's
 * clusterfs_lockd through the misc device /dev/clusterfs_lock (lock_cluster.c).
 *
 * Every node mounts at once: a mount joins the lockspace named by the superblock's lock
 * table (lockd gives it a journal slot), and its glocks are lockd locks in that
 * lockspace (cfs_lock_cluster). Journals lockd assigns to it (a dead node's) are
 * replayed by a work item at any time from the join on. docs/kernel.md "Cluster mounts".
 */
#ifndef CLUSTERFS_LOCK_CLUSTER_H
#define CLUSTERFS_LOCK_CLUSTER_H

#include <linux/types.h>

#include "glock.h"

struct cfs_sb_info;
extern const struct cfs_lock_module cfs_lock_cluster;
struct fs_context;

int cfs_lock_cluster_init(void);
void cfs_lock_cluster_exit(void);

/*
 * Joins the lockspace (sets sbi->cluster and sbi->journal_slot). Errors name their
 * cause through @fc: no lockd, protocol mismatch, inquorate, cluster name, no free
 * journal.
 */
int cfs_cluster_mount(struct cfs_sb_info *sbi, struct fs_context *fc);
/* fill_super succeeded: later recovery requests are served by a work item. */
void cfs_cluster_mounted(struct cfs_sb_info *sbi);
/* Leaves the lockspace (releasing every lock of the mount) and frees sbi->cluster. */
void cfs_cluster_unmount(struct cfs_sb_info *sbi);
/* cfs_withdraw: a withdrawn mount hands its locks over to lockd (see lock_cluster.c). */
void cfs_cluster_withdrawn(struct cfs_sb_info *sbi);
/* Unmount, before the journal and glocks go: the dead nodes' unlinked-inode reclaim stops. */
void cfs_cluster_stop_reclaim(struct cfs_sb_info *sbi);
struct file;
struct file_lock;
/* fcntl (POSIX) locks, cluster-wide through lockd: the ->lock file operation's work. */
int cfs_cluster_plock(struct cfs_sb_info *sbi, struct file *file, int cmd, struct file_lock *fl);

#endif
