/* SPDX-License-Identifier: GPL-2.0 */
/*
 * clusterfs.ko: in-memory superblock and inode state shared by the C glue files.
 */
#ifndef CLUSTERFS_H
#define CLUSTERFS_H

#include <linux/fs.h>
#include <linux/iomap.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>

#include <clusterfs/format.h>

#include "compat.h"
#include "create_ahead.h"
#include "lookup_ahead.h"
#include "glock.h"
#include "host.h"

enum cfs_errors_mode {
	CFS_ERRORS_WITHDRAW,	/* stop writing, keep the mount readable */
	CFS_ERRORS_PANIC,	/* panic the node: a cluster fences and recovers it */
};

#define CFS_DEFAULT_COMMIT_SECS		30u
/*
 * lock_cluster: once this many log blocks are not yet home, the log work checkpoints
 * (queued at once by the transaction that crossed it): a survivor replaying a dead
 * node's journal, while its own transactions wait, goes through at most about this
 * much (docs/bench/cluster-failure.md).
 */
#define CFS_CLUSTER_LOG_BACKLOG		256u
#define CFS_DEFAULT_STATFS_QUANTUM	30u
#define CFS_MAX_INTERVAL_SECS		86400u
#define CFS_JOURNAL_AUTO		(~0u)

/* Mount options (fs_context) as given; empty strings / AUTO mean "from the superblock". */
struct cfs_mount_options {
	char lockproto[CFS_LOCKNAME_LEN];
	char locktable[CFS_LOCKNAME_LEN];
	u32 journal;			/* node slot, CFS_JOURNAL_AUTO */
	enum cfs_errors_mode errors;
	u32 commit_secs;		/* journal flush interval */
	u32 statfs_quantum;		/* seconds between statfs-change syncs */
	bool discard;			/* issue discards for freed blocks */
	bool noacl;			/* POSIX ACLs off (default: on, SB_POSIXACL) */
};

/* sd_flags bits */
enum {
	CFS_SDF_WITHDRAWN,		/* metadata error: no further writes */
	CFS_SDF_NOLOCK,			/* lock_nolock: this node is alone */
};

struct cfs_core;
struct cfs_discard_extent;

struct cfs_sb_info {
	struct super_block *sb;
	struct cfs_host host;		/* lib/env.h host: buffer heads and bios */
	struct cfs_core *core;		/* lib's filesystem context (core.h) */
	struct cfs_mount_options opts;
	unsigned long flags;		/* CFS_SDF_* */

	/* From the verified superblock. */
	u32 block_size;
	u8 block_shift;
	u64 fs_blocks;
	u64 root_addr;
	u64 master_addr;
	u64 rindex_addr;
	u64 jindex_addr;
	u64 statfs_addr;
	u32 journals;
	u32 rgrps;
	u32 journal_slot;		/* our journal */
	u8 uuid[CFS_UUID_SIZE];
	char lockproto[CFS_LOCKNAME_LEN];
	char locktable[CFS_LOCKNAME_LEN];

	/*
	 * Serialises transactions and journal flushes (lib's journal is single-threaded).
	 * Taken after glocks and i_rwsem, before any per-inode map_lock.
	 */
	struct mutex trans_mutex;
	struct delayed_work log_work;	/* flushes the journal every commit= seconds */
	struct delayed_work statfs_work; /* folds statfs changes every statfs_quantum= s */

	/* Runs freed since the last journal flush, discarded after it (discard.c). */
	struct cfs_discard_extent *discard_pending;
	u32 discard_count, discard_cap;
	u64 discard_dropped;		/* runs not recorded: memory or bookkeeping limit */

	struct cfs_glock_table glocks;
	struct cfs_cluster *cluster;	/* lock_cluster: lockspace membership (lock_cluster.c) */
	struct cfs_glock *sb_glock;	/* covers the superblock and statfs */
	struct cfs_holder sb_holder;	/* held SH for the life of the mount */

	/* lock_cluster only (none with lock_nolock): resource-group locks, trans_lock.c. */
	u32 rgrp_count;			/* groups with a lock; 0: lock_nolock */
	struct cfs_glock **rgrp_glocks;	/* per group, created on first use */
	struct cfs_holder *rgrp_gh;	/* the running transaction's holders, per group */
	unsigned long *rgrp_held;	/* groups the running transaction holds (lib asks) */
	u32 home_rgrp;			/* the group this node allocates in */
	unsigned long home_full_until;	/* jiffies: no group had room; keep the home till then */
	unsigned long home_inval_seen;	/* home glock's gl_inval_count at the last header read */
	struct mutex alloc_mutex;	/* one transaction at a time takes group locks */
	struct cfs_glock *statfs_glock;	/* EX while folding into the global statfs file */
	struct cfs_glock *live_glock;	/* held SH while mounted; EX-try = first mounter */
	struct cfs_holder live_gh;
	struct cfs_glock *rename_glock;	/* EX around renames across directories */
	bool first_mounter;		/* no other node had it mounted: we recovered all */
	struct cfs_create_ahead create_ahead;	/* the next creates' locks, requested early */
	struct cfs_lookup_ahead lookup_ahead;	/* a directory walk's next locks, likewise */
};

struct cfs_inode_info {
	struct inode vfs_inode;
	struct cfs_glock *glock;	/* covers the dinode, its tree and its data */
	struct list_head ordered_entry;	/* on host.ordered_inodes while data is pending */
	struct llist_node delayed_iput;	/* on host.delayed_iputs */
	/* Protects the block map against lookups while it grows (writeback, reads). */
	struct rw_semaphore map_lock;
	/* lock_cluster: held SH while the inode is in memory (unlinked-inode freeing). */
	struct cfs_glock *iopen_gl;
	struct cfs_holder iopen_gh;
	struct work_struct prune_work;	/* drops unused dentries after another node's change */
	/*
	 * lock_cluster: another node freed this inode (its number may hold a new inode
	 * now): it is unhashed, and nothing of it is written or freed any more.
	 */
	bool stale;
	u64 generation;
	struct timespec64 crtime;
	u32 di_flags;
	u16 height;
};

static inline struct cfs_sb_info *CFS_SB(const struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct cfs_inode_info *CFS_I(const struct inode *inode)
{
	return container_of(inode, struct cfs_inode_info, vfs_inode);
}

static inline bool cfs_withdrawn(const struct cfs_sb_info *sbi)
{
	return test_bit(CFS_SDF_WITHDRAWN, &sbi->flags);
}

/* super.c */
extern struct file_system_type clusterfs_fs_type;
int cfs_init_inode_cache(void);
void cfs_destroy_inode_cache(void);

/* inode.c */
struct inode *cfs_iget(struct super_block *sb, u64 ino);
struct inode *cfs_iget_new(struct super_block *sb, u64 ino);
void cfs_evict_inode(struct inode *inode);
int cfs_setattr(cfs_idmap_t *idmap, struct dentry *dentry, struct iattr *attr);
int cfs_write_inode(struct inode *inode, struct writeback_control *wbc);
/*
 * Around a core operation that changes @inode's dinode, under trans_mutex: snapshot
 * before it, refresh after it. The refresh takes from the dinode what the operation
 * changed and keeps the VFS inode's other attributes, which may be ahead of the disk
 * (not yet written back). @with_size: the size too for a regular file, whose page cache
 * may otherwise be ahead of the disk.
 */
struct cfs_core_inode;
int cfs_inode_snapshot(struct inode *inode, struct cfs_core_inode *before);
int cfs_inode_refresh(struct inode *inode, const struct cfs_core_inode *before, bool with_size);

/*
 * The first holder of the inode glock after another node's change: reloads the dinode
 * into the VFS inode. -ESTALE if the inode is gone (freed, or its number reused).
 */
int cfs_inode_reload(struct inode *inode);
void cfs_inode_mark_stale(struct inode *inode);
/* go_sync: writes the attributes the VFS inode has ahead of the dinode (glock EX). */
int cfs_inode_persist_for_release(struct inode *inode);

/* dir.c */
extern const struct dentry_operations cfs_cluster_dentry_ops;
struct dentry *cfs_lookup(struct inode *dir, struct dentry *dentry, unsigned int flags);

int cfs_getattr(cfs_idmap_t *idmap, const struct path *path, struct kstat *stat,
		u32 request_mask, unsigned int query_flags);
extern const struct inode_operations cfs_dir_inode_operations;
extern const struct inode_operations cfs_file_inode_operations;
extern const struct inode_operations cfs_special_inode_operations;
extern const struct file_operations cfs_dir_operations;

/* file.c */
extern const struct iomap_ops cfs_iomap_ops;
extern const struct address_space_operations cfs_file_aops;
extern const struct file_operations cfs_file_operations;
extern const struct inode_operations cfs_symlink_inode_operations;
int cfs_fsync(struct file *file, loff_t start, loff_t end, int datasync);
int cfs_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo, u64 start, u64 len);

/* discard.c */
void cfs_discard_init(struct cfs_sb_info *sbi);
void cfs_discard_destroy(struct cfs_sb_info *sbi);
long cfs_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* inode.c: the VFS inode's attributes as cfs_core_update_inode takes them. */
void cfs_inode_fill_core_attrs(struct inode *inode, struct cfs_core_inode *attrs);

/* xattr.c */
extern const struct xattr_handler *cfs_xattr_handlers[];
ssize_t cfs_listxattr(struct dentry *dentry, char *buffer, size_t size);
struct posix_acl *cfs_get_acl(struct inode *inode, int type, bool rcu);
int cfs_set_acl(cfs_idmap_t *idmap, cfs_set_acl_target_t *target, struct posix_acl *acl,
		int type);
/* ACL inode operations of files, directories and special files. */
#define CFS_ACL_INODE_OPERATIONS \
	.CFS_IOP_GET_ACL = cfs_get_acl, \
	.set_acl = cfs_set_acl
/*
 * A chmod with the inode glock EX held: if the inode has an access ACL, rewrites it for
 * the new mode and writes the VFS inode's mode, owner and times in that transaction
 * (*@persisted); else changes nothing.
 */
int cfs_acl_chmod_locked(struct inode *inode, bool *persisted);
/*
 * Default ACL inheritance for a new inode. Before the create, with no glock held:
 * applies the parent's default ACL (or the umask) to *mode and adds the new inode's
 * ACLs to @init, which cfs_core_create writes in the create's own transaction. After
 * it (@inode NULL if the create failed): caches them on the inode and frees @ac.
 */
struct cfs_core_new_inode;
struct cfs_acl_create {
	struct posix_acl *acl[2];	/* [0] access, [1] default */
	void *value[2];
};
int cfs_acl_prepare_create(struct inode *dir, umode_t *mode, struct cfs_acl_create *ac,
			   struct cfs_core_new_inode *init);
void cfs_acl_finish_create(struct inode *inode, struct cfs_acl_create *ac);

/* glops.c */
void cfs_inode_glops_init_once(struct cfs_inode_info *ci);
/* Forgets the cached copies of blocks [@first, @first + @count) (another node's now). */
void cfs_meta_invalidate_range(struct cfs_sb_info *sbi, u64 first, u32 count);
/* Unmount, after the glock LRU's drain: every cached metadata block is forgotten. */
void cfs_meta_forget_all(struct cfs_sb_info *sbi);

/*
 * trans_lock.c: around every transaction, instead of a bare trans_mutex. With
 * lock_cluster also the node's allocation group and any group the caller names, in EX,
 * taken first (glocks before trans_mutex). A node that cannot get them withdraws, so
 * the transaction then fails.
 */
#define CFS_TRANS_RGRPS 8
/* Groups a transaction frees in, besides the home (by index, at most CFS_TRANS_RGRPS). */
struct cfs_trans_rgrps {
	u32 count;
	u32 index[CFS_TRANS_RGRPS];
};
int cfs_trans_locks_init(struct cfs_sb_info *sbi);
void cfs_trans_locks_release(struct cfs_sb_info *sbi);
/* Adds the group of block @blkno (nothing with lock_nolock). */
void cfs_trans_rgrps_add(struct cfs_sb_info *sbi, struct cfs_trans_rgrps *rs, u64 blkno);
void cfs_trans_lock(struct cfs_sb_info *sbi);
void cfs_trans_lock_rgrps(struct cfs_sb_info *sbi, const struct cfs_trans_rgrps *rs);
/* Every group: scans for unlinked inodes anywhere (mount, last unmount, recovery). */
void cfs_trans_lock_all(struct cfs_sb_info *sbi);
bool cfs_trans_trylock(struct cfs_sb_info *sbi);
void cfs_trans_unlock(struct cfs_sb_info *sbi);
/*
 * Under the transaction lock, after a step that did not finish or an -EAGAIN: whether
 * lib stopped for a group not held; if so it is added to @rs, and the caller takes
 * the lock again with it (cfs_trans_relock) and runs the next step.
 */
bool cfs_trans_wanted(struct cfs_sb_info *sbi, struct cfs_trans_rgrps *rs);
void cfs_trans_relock(struct cfs_sb_info *sbi, const struct cfs_trans_rgrps *rs);
/* Whether this node holds group @index's lock in EX (its cached copy is current). */
bool cfs_rgrp_held_ex(struct cfs_sb_info *sbi, u32 index);

static inline bool cfs_clustered_sb(const struct cfs_sb_info *sbi)
{
	return !test_bit(CFS_SDF_NOLOCK, &sbi->flags);
}

/* withdraw.c */
/* Maps a lib error to what the caller gets; metadata corruption withdraws, gives -EIO. */
int cfs_core_error(struct cfs_sb_info *sbi, int err);
__printf(2, 3) void cfs_withdraw(struct cfs_sb_info *sbi, const char *fmt, ...);
extern bool cfs_verify_cache;	/* glops.c: diagnostic checks of cached and written metadata */
/*
 * inode.c: after replaying a dead node's journal, frees its unlinked inodes nobody has
 * open, never waiting for a glock; returns early once @stop(sbi) is true.
 */
void cfs_reclaim_dead_unlinked(struct cfs_sb_info *sbi, bool (*stop)(struct cfs_sb_info *sbi));
int cfs_free_unlinked_ino(struct cfs_sb_info *sbi, u64 ino);

#endif
