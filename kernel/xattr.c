// SPDX-License-Identifier: GPL-2.0
/*
 * Extended attributes and POSIX ACLs: the user./trusted./security. handlers of
 * sb->s_xattr, listxattr, and the ACL inode operations. The values live in the inode's
 * xattr block (lib/xattr.h through core.h): reads run under the inode glock SH, every
 * change under EX as one journaled transaction. ACLs are stored in the Linux xattr
 * encoding (docs/format.md "Extended attributes"), ids in the initial user namespace.
 */
#include <linux/fs.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/slab.h>
#include <linux/xattr.h>

#include "clusterfs.h"
#include "core.h"

/* Errors that are answers, not failures; anything else may mean a damaged block. */
static int cfs_xattr_error(struct cfs_sb_info *sbi, int err)
{
	switch (err) {
	case -ENODATA:
	case -ERANGE:
	case -EEXIST:
	case -ENOSPC:
	case -EINVAL:
	case -EOPNOTSUPP:
		return err;
	default:
		return cfs_core_error(sbi, err);
	}
}

/*
 * Changes one attribute of @inode (value NULL: remove) and, in the same transaction,
 * writes the VFS inode's mode (@new_mode instead when given), owner and times with a
 * new ctime. The caller holds the inode glock EX.
 */
static int cfs_xattr_change_locked(struct inode *inode, u32 ns, const char *name, u32 len,
				   const void *value, size_t size, unsigned int core_flags,
				   const umode_t *new_mode)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_trans_rgrps rs = {};
	struct cfs_core_inode attrs;
	struct timespec64 now;
	u64 blocks = 0;
	int err;

	if (cfs_withdrawn(sbi))
		return -EIO;
	if (size > sbi->block_size)
		return -ENOSPC;	/* no value larger than the block fits (as ext4) */
	cfs_trans_lock(sbi);
again:
	now = current_time(inode);
	cfs_inode_fill_core_attrs(inode, &attrs);
	attrs.ctime_sec = now.tv_sec;
	attrs.ctime_nsec = now.tv_nsec;
	if (new_mode)
		attrs.mode = *new_mode;
	err = cfs_core_xattr_set(sbi->core, inode->i_ino, ns, name, len, value, size, core_flags,
				 &attrs, CFS_CORE_ATTR_MODE | CFS_CORE_ATTR_OWNER | CFS_CORE_ATTR_TIMES,
				 &blocks);
	/* Removing the last attribute frees its block, in a group we do not hold. */
	if (err == -EAGAIN && cfs_trans_wanted(sbi, &rs)) {
		cfs_trans_relock(sbi, &rs);
		goto again;
	}
	if (!err) {
		inode_set_ctime(inode, now.tv_sec, now.tv_nsec);
		if (new_mode)
			inode->i_mode = *new_mode;
		inode->i_blocks = blocks << (sbi->block_shift - 9);
	}
	cfs_trans_unlock(sbi);
	return err ? cfs_xattr_error(sbi, err) : 0;
}

static int cfs_xattr_change(struct inode *inode, u32 ns, const char *name, u32 len,
			    const void *value, size_t size, unsigned int core_flags,
			    const umode_t *new_mode)
{
	struct cfs_holder gh;
	int err;

	err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_EX, &gh);
	if (err)
		return err;
	err = cfs_xattr_change_locked(inode, ns, name, len, value, size, core_flags, new_mode);
	cfs_glock_dq(&gh);
	return err;
}

/* ---- user., trusted., security. ---------------------------------------------------- */

static int cfs_xattr_get(const struct xattr_handler *handler, struct dentry *unused,
			 struct inode *inode, const char *name, void *buffer, size_t size)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	size_t len = strlen(name);
	struct cfs_holder gh;
	u32 value_len = 0;
	int err;

	if (len > CFS_XATTR_NAME_MAX)
		return -ERANGE;
	err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_SH, &gh);
	if (err)
		return err;
	err = cfs_core_xattr_get(sbi->core, inode->i_ino, handler->flags, name, len, buffer,
				 min_t(size_t, size, U32_MAX), &value_len);
	cfs_glock_dq(&gh);
	if (err)
		return cfs_xattr_error(sbi, err);
	return value_len;
}

static int cfs_xattr_set(const struct xattr_handler *handler, cfs_idmap_t *idmap,
			 struct dentry *unused, struct inode *inode, const char *name,
			 const void *value, size_t size, int flags)
{
	size_t len = strlen(name);
	unsigned int core_flags = 0;

	if (len > CFS_XATTR_NAME_MAX)
		return -ERANGE;
	if (flags & XATTR_CREATE)
		core_flags |= CFS_CORE_XATTR_CREATE;
	if (flags & XATTR_REPLACE)
		core_flags |= CFS_CORE_XATTR_REPLACE;
	return cfs_xattr_change(inode, handler->flags, name, len, value, size, core_flags, NULL);
}

static const struct xattr_handler cfs_xattr_user_handler = {
	.prefix	= XATTR_USER_PREFIX,
	.flags	= CFS_XATTR_NS_USER,
	.get	= cfs_xattr_get,
	.set	= cfs_xattr_set,
};

static const struct xattr_handler cfs_xattr_trusted_handler = {
	.prefix	= XATTR_TRUSTED_PREFIX,
	.flags	= CFS_XATTR_NS_TRUSTED,
	.get	= cfs_xattr_get,
	.set	= cfs_xattr_set,
};

static const struct xattr_handler cfs_xattr_security_handler = {
	.prefix	= XATTR_SECURITY_PREFIX,
	.flags	= CFS_XATTR_NS_SECURITY,
	.get	= cfs_xattr_get,
	.set	= cfs_xattr_set,
};

/* Not const on 6.1, where sb->s_xattr points to non-const handler pointers. */
const struct xattr_handler *cfs_xattr_handlers[] = {
	&cfs_xattr_user_handler,
	&cfs_xattr_trusted_handler,
	&cfs_xattr_security_handler,
	CFS_POSIX_ACL_XATTR_HANDLERS
	NULL
};

ssize_t cfs_listxattr(struct dentry *dentry, char *buffer, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_holder gh;
	u32 total = 0;
	int err;

	err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_SH, &gh);
	if (err)
		return err;
	err = cfs_core_xattr_list(sbi->core, inode->i_ino, capable(CAP_SYS_ADMIN), buffer,
				  min_t(size_t, size, U32_MAX), &total);
	cfs_glock_dq(&gh);
	/*
	 * Not a ?: with the u32 total: that would convert a negative error to a large
	 * unsigned count, which the VFS then copies to the caller as a list length.
	 */
	if (err)
		return cfs_xattr_error(sbi, err);
	if (size && total > size)
		return -ERANGE;
	return total;
}

/* ---- POSIX ACLs ------------------------------------------------------------------- */

static u32 cfs_acl_namespace(int type)
{
	return type == ACL_TYPE_ACCESS ? CFS_XATTR_NS_ACL_ACCESS : CFS_XATTR_NS_ACL_DEFAULT;
}

/* Reads an ACL from disk; the caller holds the inode glock. NULL: none. */
static struct posix_acl *cfs_acl_read_locked(struct inode *inode, int type)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct posix_acl *acl;
	u32 len = 0;
	void *buf;
	int err;

	/* A value never exceeds the block (lib/xattr.h), so one buffer holds any ACL. */
	buf = kmalloc(sbi->block_size, GFP_NOFS);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	err = cfs_core_xattr_get(sbi->core, inode->i_ino, cfs_acl_namespace(type), "", 0, buf,
				 sbi->block_size, &len);
	if (err == -ENODATA)
		acl = NULL;
	else if (err)
		acl = ERR_PTR(cfs_xattr_error(sbi, err));
	else
		acl = posix_acl_from_xattr(&init_user_ns, buf, len);
	kfree(buf);
	return acl;
}

/* Stores (or with NULL removes) an ACL and the mode; the caller holds the glock EX. */
static int cfs_acl_write_locked(struct inode *inode, int type, struct posix_acl *acl,
				umode_t mode)
{
	void *buf = NULL;
	size_t size = 0;
	int err;

	if (acl) {
		size = posix_acl_xattr_size(acl->a_count);
		buf = kmalloc(size, GFP_NOFS);
		if (!buf)
			return -ENOMEM;
		err = posix_acl_to_xattr(&init_user_ns, acl, buf, size);
		if (err < 0)
			goto out;
	}
	err = cfs_xattr_change_locked(inode, cfs_acl_namespace(type), "", 0, buf, size,
				      acl ? 0 : CFS_CORE_XATTR_ABSENT_OK,
				      mode != inode->i_mode ? &mode : NULL);
	if (!err)
		set_cached_acl(inode, type, acl);
out:
	kfree(buf);
	return err;
}

struct posix_acl *cfs_get_acl(struct inode *inode, int type, bool rcu)
{
	struct cfs_holder gh;
	struct posix_acl *acl;
	int err;

	if (rcu)
		return ERR_PTR(-ECHILD);
	err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_SH, &gh);
	if (err)
		return ERR_PTR(err);
	acl = cfs_acl_read_locked(inode, type);
	cfs_glock_dq(&gh);
	return acl;
}

int cfs_set_acl(cfs_idmap_t *idmap, cfs_set_acl_target_t *target, struct posix_acl *acl,
		int type)
{
	struct inode *inode = cfs_set_acl_inode(target);
	struct cfs_holder gh;
	umode_t mode;
	int err;

	err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_EX, &gh);
	if (err)
		return err;
	mode = inode->i_mode;	/* read under the glock: the mode the ACL is merged into */
	if (type == ACL_TYPE_ACCESS && acl) {
		/* May drop an ACL the mode bits express fully (acl becomes NULL). */
		err = posix_acl_update_mode(idmap, inode, &mode, &acl);
		if (err)
			goto out;
	}
	err = cfs_acl_write_locked(inode, type, acl, mode);
out:
	cfs_glock_dq(&gh);
	return err;
}

int cfs_acl_chmod_locked(struct inode *inode, bool *persisted)
{
	struct posix_acl *acl;
	int err;

	*persisted = false;
	if (!IS_POSIXACL(inode) || S_ISLNK(inode->i_mode))
		return 0;
	acl = cfs_acl_read_locked(inode, ACL_TYPE_ACCESS);
	if (IS_ERR_OR_NULL(acl))
		return PTR_ERR_OR_ZERO(acl);
	err = __posix_acl_chmod(&acl, GFP_NOFS, inode->i_mode);
	if (!err)
		err = cfs_acl_write_locked(inode, ACL_TYPE_ACCESS, acl, inode->i_mode);
	*persisted = !err;
	posix_acl_release(acl);
	return err;
}

int cfs_acl_prepare_create(struct inode *dir, umode_t *mode, struct cfs_acl_create *ac,
			   struct cfs_core_new_inode *init)
{
	static const u32 ns[2] = { CFS_XATTR_NS_ACL_ACCESS, CFS_XATTR_NS_ACL_DEFAULT };
	int err, i;

	memset(ac, 0, sizeof(*ac));
	/* Applies the umask when the parent has no default ACL: with SB_POSIXACL the VFS
	 * leaves that to the filesystem. Reads the parent's ACL under its glock SH. */
	err = posix_acl_create(dir, mode, &ac->acl[1], &ac->acl[0]);
	if (err)
		return err;
	for (i = 0; i < 2; i++) {
		struct cfs_core_new_xattr *x;
		size_t size;

		if (!ac->acl[i])
			continue;
		size = posix_acl_xattr_size(ac->acl[i]->a_count);
		ac->value[i] = kmalloc(size, GFP_NOFS);
		if (!ac->value[i]) {
			err = -ENOMEM;
			goto fail;
		}
		err = posix_acl_to_xattr(&init_user_ns, ac->acl[i], ac->value[i], size);
		if (err < 0)
			goto fail;
		x = &init->xattrs[init->nxattrs++];
		x->ns = ns[i];
		x->name = "";
		x->name_len = 0;
		x->value = ac->value[i];
		x->value_len = size;
	}
	return 0;
fail:
	cfs_acl_finish_create(NULL, ac);
	return err;
}

void cfs_acl_finish_create(struct inode *inode, struct cfs_acl_create *ac)
{
	int i;

	if (inode) {
		/* What the new inode has, cached: its first permission check reads nothing
		 * (NULL caches "no ACL"). */
		set_cached_acl(inode, ACL_TYPE_ACCESS, ac->acl[0]);
		set_cached_acl(inode, ACL_TYPE_DEFAULT, ac->acl[1]);
	}
	for (i = 0; i < 2; i++) {
		posix_acl_release(ac->acl[i]);
		kfree(ac->value[i]);
		ac->acl[i] = NULL;
		ac->value[i] = NULL;
	}
}
