/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where clusterfs.ko adapts to VFS API differences between the kernels
 * it targets: Debian 12's 6.1 and the packaged 6.12. The glue calls these wrappers and
 * never tests LINUX_VERSION_CODE itself. Feature checks are preferred where Debian
 * backported an API into 6.1 (ctime accessors exist in 6.1.192).
 */
#ifndef CLUSTERFS_COMPAT_H
#define CLUSTERFS_COMPAT_H

#include <linux/fs.h>
#include <linux/mm_types.h>
#include <linux/pagemap.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/version.h>

/* The block device's page cache (metadata buffers): bd_mapping from 6.10. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
static inline struct address_space *cfs_bdev_mapping(struct block_device *bdev)
{
	return bdev->bd_mapping;
}
#else
static inline struct address_space *cfs_bdev_mapping(struct block_device *bdev)
{
	return bdev->bd_inode->i_mapping;
}
#endif

/* flock(2) and fcntl locks: type, flags, owner and pid moved into struct file_lock_core in 6.9. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
#include <linux/filelock.h>
static inline unsigned char cfs_fl_type(const struct file_lock *fl)
{
	return fl->c.flc_type;
}
static inline unsigned int cfs_fl_flags(const struct file_lock *fl)
{
	return fl->c.flc_flags;
}
static inline void cfs_fl_set_type(struct file_lock *fl, unsigned char type)
{
	fl->c.flc_type = type;
}
static inline void cfs_fl_set_flags(struct file_lock *fl, unsigned int flags)
{
	fl->c.flc_flags = flags;
}
static inline fl_owner_t cfs_fl_owner(const struct file_lock *fl)
{
	return fl->c.flc_owner;
}
static inline pid_t cfs_fl_pid(const struct file_lock *fl)
{
	return fl->c.flc_pid;
}
static inline void cfs_fl_set_pid(struct file_lock *fl, pid_t pid)
{
	fl->c.flc_pid = pid;
}
#else
static inline unsigned char cfs_fl_type(const struct file_lock *fl)
{
	return fl->fl_type;
}
static inline unsigned int cfs_fl_flags(const struct file_lock *fl)
{
	return fl->fl_flags;
}
static inline void cfs_fl_set_type(struct file_lock *fl, unsigned char type)
{
	fl->fl_type = type;
}
static inline void cfs_fl_set_flags(struct file_lock *fl, unsigned int flags)
{
	fl->fl_flags = flags;
}
static inline fl_owner_t cfs_fl_owner(const struct file_lock *fl)
{
	return fl->fl_owner;
}
static inline pid_t cfs_fl_pid(const struct file_lock *fl)
{
	return fl->fl_pid;
}
/* 6.1's fl_pid is unsigned: a remote lock's negative pid is stored as is, as fs/dlm does. */
static inline void cfs_fl_set_pid(struct file_lock *fl, pid_t pid)
{
	fl->fl_pid = pid;
}
#endif

/* Inode operations take the mount's idmapping: a user_namespace until 6.3. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
typedef struct mnt_idmap cfs_idmap_t;
#define CFS_NOP_IDMAP (&nop_mnt_idmap)
#else
typedef struct user_namespace cfs_idmap_t;
#define CFS_NOP_IDMAP (&init_user_ns)
#endif

/*
 * POSIX ACL inode operations. 6.1: ->get_acl(inode, type, rcu) serves permission checks
 * and getxattr, ->set_acl takes the inode, and system.posix_acl_* go through the
 * kernel's posix_acl xattr handlers in sb->s_xattr. From 6.2: the same getter is
 * ->get_inode_acl, ->set_acl takes the dentry, and the VFS routes system.posix_acl_*
 * to the inode operations itself (no handlers).
 */
#include <linux/posix_acl_xattr.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define CFS_IOP_GET_ACL get_inode_acl
typedef struct dentry cfs_set_acl_target_t;
static inline struct inode *cfs_set_acl_inode(struct dentry *dentry)
{
	return d_inode(dentry);
}
#define CFS_POSIX_ACL_XATTR_HANDLERS
#else
#define CFS_IOP_GET_ACL get_acl
typedef struct inode cfs_set_acl_target_t;
static inline struct inode *cfs_set_acl_inode(struct inode *inode)
{
	return inode;
}
#define CFS_POSIX_ACL_XATTR_HANDLERS \
	&posix_acl_access_xattr_handler, &posix_acl_default_xattr_handler,
#endif

static inline void cfs_generic_fillattr(cfs_idmap_t *idmap, u32 request_mask,
					struct inode *inode, struct kstat *stat)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	generic_fillattr(idmap, request_mask, inode, stat);
#else
	generic_fillattr(idmap, inode, stat);
#endif
}

/* mtime/atime accessors arrived in 6.7; 6.1 has only the ctime ones (backported). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
static inline struct timespec64 cfs_inode_get_mtime(const struct inode *inode)
{
	return inode_get_mtime(inode);
}

static inline struct timespec64 cfs_inode_get_atime(const struct inode *inode)
{
	return inode_get_atime(inode);
}

static inline void cfs_inode_set_mtime(struct inode *inode, struct timespec64 ts)
{
	inode_set_mtime_to_ts(inode, ts);
}

static inline void cfs_inode_set_atime(struct inode *inode, struct timespec64 ts)
{
	inode_set_atime_to_ts(inode, ts);
}
#else
static inline struct timespec64 cfs_inode_get_mtime(const struct inode *inode)
{
	return inode->i_mtime;
}

static inline struct timespec64 cfs_inode_get_atime(const struct inode *inode)
{
	return inode->i_atime;
}

static inline void cfs_inode_set_mtime(struct inode *inode, struct timespec64 ts)
{
	inode->i_mtime = ts;
}

static inline void cfs_inode_set_atime(struct inode *inode, struct timespec64 ts)
{
	inode->i_atime = ts;
}
#endif

/* filemap_get_folio() returns NULL on 6.1, ERR_PTR(-ENOENT) from 6.3: normalise to NULL. */
static inline struct folio *cfs_filemap_get_folio(struct address_space *mapping, pgoff_t index)
{
	struct folio *folio = filemap_get_folio(mapping, index);

	return IS_ERR(folio) ? NULL : folio;
}

/* Splice from the page cache: generic_file_splice_read was replaced in 6.5. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define cfs_splice_read filemap_splice_read
#else
#define cfs_splice_read generic_file_splice_read
#endif

/*
 * iomap_file_buffered_write: advances iocb->ki_pos itself from 6.5 (before, the caller
 * did); gained a private pointer for the iomap ops in 6.11.
 */
#include <linux/iomap.h>
static inline ssize_t cfs_iomap_file_buffered_write(struct kiocb *iocb, struct iov_iter *from,
						    const struct iomap_ops *ops)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	return iomap_file_buffered_write(iocb, from, ops, NULL);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return iomap_file_buffered_write(iocb, from, ops);
#else
	ssize_t ret = iomap_file_buffered_write(iocb, from, ops);

	if (ret > 0)
		iocb->ki_pos += ret;
	return ret;
#endif
}

/* Fault return value for an errno: vmf_fs_error() from 6.7. */
static inline vm_fault_t cfs_vmf_fs_error(int err)
{
	return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
}

/* The filesystem UUID shown by the VFS (statx, fanotify): super_set_uuid() from 6.8. */
static inline void cfs_set_sb_uuid(struct super_block *sb, const u8 *uuid)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	super_set_uuid(sb, uuid, 16);
#else
	memcpy(&sb->s_uuid, uuid, sizeof(sb->s_uuid));
#endif
}

/*
 * Writeback's map_blocks gained the dirty length in 6.8: CFS_DEFINE_MAP_BLOCKS(name, impl)
 * defines @name with the target kernel's signature around
 * int impl(struct iomap_writepage_ctx *, struct inode *, loff_t).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define CFS_DEFINE_MAP_BLOCKS(name, impl)						\
static int name(struct iomap_writepage_ctx *wpc, struct inode *inode, loff_t offset,	\
		unsigned int len)							\
{											\
	return impl(wpc, inode, offset);						\
}
#else
#define CFS_DEFINE_MAP_BLOCKS(name, impl)						\
static int name(struct iomap_writepage_ctx *wpc, struct inode *inode, loff_t offset)	\
{											\
	return impl(wpc, inode, offset);						\
}
#endif

/*
 * Address space hooks: memory-failure removal takes a folio from 6.8; from 6.6 iomap
 * tracks dirty blocks per folio, and a folio dirtied by the VM (mmap) must set them
 * through iomap_dirty_folio or writeback skips its blocks.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define CFS_AOPS_ERROR_REMOVE .error_remove_folio = generic_error_remove_folio
#else
#define CFS_AOPS_ERROR_REMOVE .error_remove_page = generic_error_remove_page
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#define cfs_dirty_folio iomap_dirty_folio
#else
#define cfs_dirty_folio filemap_dirty_folio
#endif

/* SLAB_MEM_SPREAD (cpuset memory spreading) was a no-op and went away in 6.9. */
#ifdef SLAB_MEM_SPREAD
#define CFS_SLAB_MEM_SPREAD SLAB_MEM_SPREAD
#else
#define CFS_SLAB_MEM_SPREAD 0
#endif

/*
 * Shrinkers: from 6.7 the core allocates them (shrinker_alloc/register/free, with a
 * private_data pointer); 6.1 registers one the caller embeds (and has no private_data).
 */
typedef unsigned long (*cfs_shrink_fn)(struct shrinker *, struct shrink_control *);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
static inline struct shrinker *cfs_shrinker_register(const char *name, cfs_shrink_fn count, cfs_shrink_fn scan,
						     void *private)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	s->private_data = private;
	shrinker_register(s);
	return s;
}

static inline void *cfs_shrinker_private(struct shrinker *s)
{
	return s->private_data;
}

static inline void cfs_shrinker_unregister(struct shrinker *s)
{
	shrinker_free(s);
}
#else
struct cfs_shrinker_box {
	struct shrinker shrinker;
	void *private;
};

static inline struct shrinker *cfs_shrinker_register(const char *name, cfs_shrink_fn count, cfs_shrink_fn scan,
						     void *private)
{
	struct cfs_shrinker_box *box = kzalloc(sizeof(*box), GFP_KERNEL);

	if (!box)
		return NULL;
	box->shrinker.count_objects = count;
	box->shrinker.scan_objects = scan;
	box->shrinker.seeks = DEFAULT_SEEKS;
	box->private = private;
	if (register_shrinker(&box->shrinker, "%s", name)) {
		kfree(box);
		return NULL;
	}
	return &box->shrinker;
}

static inline void *cfs_shrinker_private(struct shrinker *s)
{
	return container_of(s, struct cfs_shrinker_box, shrinker)->private;
}

static inline void cfs_shrinker_unregister(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(container_of(s, struct cfs_shrinker_box, shrinker));
}
#endif

#endif /* CLUSTERFS_COMPAT_H */
