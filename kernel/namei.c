// SPDX-License-Identifier: GPL-2.0
/*
 * Namespace operations: create, mkdir, mknod, symlink, link, unlink, rmdir, rename.
 * Each takes the glocks of the inodes it changes in EX (in inode-number order when
 * there are several), then runs one journaled transaction in the core.
 */
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/sort.h>

#include "clusterfs.h"
#include "core.h"

#define CFS_MAX_OP_GLOCKS 4

struct cfs_op_locks {
	struct cfs_glock *gl[CFS_MAX_OP_GLOCKS];
	struct cfs_holder gh[CFS_MAX_OP_GLOCKS];
	int count;
	int held;
	/* An inode that may lose its last link: its dinode's group changes too. */
	struct inode *victim;
};

static void cfs_op_locks_add(struct cfs_op_locks *locks, struct inode *inode)
{
	struct cfs_glock *gl;
	int i;

	if (!inode)
		return;
	gl = CFS_I(inode)->glock;
	for (i = 0; i < locks->count; i++)
		if (locks->gl[i] == gl)
			return;
	locks->gl[locks->count++] = gl;
}

static int cfs_glock_cmp(const void *a, const void *b)
{
	const struct cfs_glock *ga = *(const struct cfs_glock *const *)a;
	const struct cfs_glock *gb = *(const struct cfs_glock *const *)b;

	return ga->gl_number < gb->gl_number ? -1 : ga->gl_number > gb->gl_number;
}

static void cfs_op_unlock(struct cfs_op_locks *locks)
{
	while (locks->held > 0)
		cfs_glock_dq(&locks->gh[--locks->held]);
}

/* EX on every inode the operation changes, in inode-number order (no ABBA). */
static int cfs_op_lock(struct cfs_op_locks *locks)
{
	int err;

	sort(locks->gl, locks->count, sizeof(locks->gl[0]), cfs_glock_cmp, NULL);
	for (locks->held = 0; locks->held < locks->count; locks->held++) {
		err = cfs_glock_nq(locks->gl[locks->held], CFS_GL_EX, &locks->gh[locks->held]);
		if (err) {
			cfs_op_unlock(locks);
			return err;
		}
	}
	return 0;
}

static int cfs_op_begin(struct cfs_sb_info *sbi, struct cfs_op_locks *locks)
{
	struct cfs_trans_rgrps rs = {};
	int err;

	if (cfs_withdrawn(sbi))
		return -EIO;
	err = cfs_op_lock(locks);
	if (err)
		return err;
	if (locks->victim)
		cfs_trans_rgrps_add(sbi, &rs, locks->victim->i_ino);
	cfs_trans_lock_rgrps(sbi, &rs);
	return 0;
}

static void cfs_op_end(struct cfs_sb_info *sbi, struct cfs_op_locks *locks)
{
	cfs_trans_unlock(sbi);
	cfs_op_unlock(locks);
}

static int cfs_new_inode(struct inode *dir, struct dentry *dentry, umode_t mode, dev_t rdev,
			 const char *symlink)
{
	struct cfs_sb_info *sbi = CFS_SB(dir->i_sb);
	struct cfs_op_locks locks = {};
	struct cfs_core_new_inode init = {};
	struct cfs_acl_create acls = {};
	struct cfs_core_inode dir_before;
	struct cfs_create_guess guess = {};
	struct inode *inode;
	u64 ino = 0;
	int err;

	if (dentry->d_name.len > CFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!symlink) {
		/* The inherited ACLs are written in the create's transaction. */
		err = cfs_acl_prepare_create(dir, &mode, &acls, &init);
		if (err)
			return err;
	}
	init.mode = mode;
	init.uid = from_kuid(&init_user_ns, current_fsuid());
	init.gid = from_kgid(&init_user_ns, current_fsgid());
	if (dir->i_mode & S_ISGID) {
		init.gid = i_gid_read(dir);
		if (S_ISDIR(mode))
			init.mode |= S_ISGID;
	}
	init.rdev_major = MAJOR(rdev);
	init.rdev_minor = MINOR(rdev);
	if (symlink) {
		init.symlink = symlink;
		init.symlink_len = strlen(symlink);
	}

	cfs_op_locks_add(&locks, dir);
	err = cfs_op_begin(sbi, &locks);
	if (err)
		goto out_acl;
	err = cfs_inode_snapshot(dir, &dir_before);
	if (!err)
		err = cfs_core_create(sbi->core, dir->i_ino, dentry->d_name.name,
				      dentry->d_name.len, &init, &ino);
	if (!err)
		err = cfs_inode_refresh(dir, &dir_before, true);
	if (!err)
		cfs_create_ahead_guess(sbi, ino, &guess);
	cfs_trans_unlock(sbi);
	if (err) {
		cfs_op_unlock(&locks);
		err = cfs_core_error(sbi, err);
		goto out_acl;
	}

	/*
	 * Under the directory's glock still: no other node can know the new inode (and
	 * unlink it) before it is in our cache with its iopen lock held.
	 */
	inode = cfs_iget_new(dir->i_sb, ino);
	cfs_op_unlock(&locks);
	if (IS_ERR(inode)) {
		/*
		 * The name exists on disk (a dying task's lock wait ended, say): the
		 * negative dentry must not say otherwise to the next lookup.
		 */
		d_drop(dentry);
		err = PTR_ERR(inode);
		goto out_acl;
	}
	cfs_acl_finish_create(inode, &acls);
	d_instantiate(dentry, inode);
	cfs_create_ahead_request(sbi, &guess);
	return 0;

out_acl:
	cfs_acl_finish_create(NULL, &acls);
	return err;
}

static int cfs_create(cfs_idmap_t *idmap, struct inode *dir, struct dentry *dentry,
		      umode_t mode, bool excl)
{
	return cfs_new_inode(dir, dentry, (mode & 07777) | S_IFREG, 0, NULL);
}

static int cfs_mkdir(cfs_idmap_t *idmap, struct inode *dir, struct dentry *dentry, umode_t mode)
{
	return cfs_new_inode(dir, dentry, (mode & 07777) | S_IFDIR, 0, NULL);
}

static int cfs_mknod(cfs_idmap_t *idmap, struct inode *dir, struct dentry *dentry,
		     umode_t mode, dev_t rdev)
{
	if (!S_ISCHR(mode) && !S_ISBLK(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) &&
	    !S_ISREG(mode))
		return -EINVAL;
	return cfs_new_inode(dir, dentry, mode, rdev, NULL);
}

static int cfs_symlink(cfs_idmap_t *idmap, struct inode *dir, struct dentry *dentry,
		       const char *target)
{
	size_t len = strlen(target);

	if (len >= CFS_SB(dir->i_sb)->block_size)
		return -ENAMETOOLONG;
	return cfs_new_inode(dir, dentry, S_IFLNK | 0777, 0, target);
}

static int cfs_link(struct dentry *old_dentry, struct inode *dir, struct dentry *dentry)
{
	struct cfs_sb_info *sbi = CFS_SB(dir->i_sb);
	struct inode *inode = d_inode(old_dentry);
	struct cfs_op_locks locks = {};
	struct cfs_core_inode before[2];
	int err;

	if (dentry->d_name.len > CFS_NAME_MAX)
		return -ENAMETOOLONG;
	cfs_op_locks_add(&locks, dir);
	cfs_op_locks_add(&locks, inode);
	err = cfs_op_begin(sbi, &locks);
	if (err)
		return err;
	err = cfs_inode_snapshot(dir, &before[0]);
	if (!err)
		err = cfs_inode_snapshot(inode, &before[1]);
	if (!err)
		err = cfs_core_link(sbi->core, dir->i_ino, dentry->d_name.name,
				    dentry->d_name.len, inode->i_ino);
	if (!err)
		err = cfs_inode_refresh(dir, &before[0], true);
	if (!err)
		err = cfs_inode_refresh(inode, &before[1], false);
	cfs_op_end(sbi, &locks);
	if (err)
		return cfs_core_error(sbi, err);
	ihold(inode);
	d_instantiate(dentry, inode);
	return 0;
}

static int cfs_remove(struct inode *dir, struct dentry *dentry, bool is_dir)
{
	struct cfs_sb_info *sbi = CFS_SB(dir->i_sb);
	struct inode *inode = d_inode(dentry);
	struct cfs_op_locks locks = {};
	struct cfs_core_inode before[2];
	bool orphaned = false;
	int err;

	cfs_op_locks_add(&locks, dir);
	cfs_op_locks_add(&locks, inode);
	locks.victim = inode;
	err = cfs_op_begin(sbi, &locks);
	if (err)
		return err;
	err = cfs_inode_snapshot(dir, &before[0]);
	if (!err)
		err = cfs_inode_snapshot(inode, &before[1]);
	if (!err)
		err = cfs_core_unlink(sbi->core, dir->i_ino, dentry->d_name.name,
				      dentry->d_name.len, inode->i_ino, is_dir, &orphaned);
	if (!err)
		err = cfs_inode_refresh(dir, &before[0], true);
	if (!err)
		err = cfs_inode_refresh(inode, &before[1], false);
	cfs_op_end(sbi, &locks);
	if (err == -ENOTEMPTY)
		return err;
	/* An orphaned inode is freed by cfs_evict_inode once its last user is gone. */
	return err ? cfs_core_error(sbi, err) : 0;
}

static int cfs_unlink(struct inode *dir, struct dentry *dentry)
{
	return cfs_remove(dir, dentry, false);
}

static int cfs_rmdir(struct inode *dir, struct dentry *dentry)
{
	return cfs_remove(dir, dentry, true);
}

static int cfs_rename(cfs_idmap_t *idmap, struct inode *old_dir, struct dentry *old_dentry,
		      struct inode *new_dir, struct dentry *new_dentry, unsigned int flags)
{
	struct cfs_sb_info *sbi = CFS_SB(old_dir->i_sb);
	struct inode *src = d_inode(old_dentry);
	struct inode *dst = d_inode(new_dentry);
	/* Every inode whose dinode the rename may change, each once. */
	struct inode *changed[4] = { old_dir, new_dir != old_dir ? new_dir : NULL, src, dst };
	struct cfs_core_inode before[4];
	struct cfs_op_locks locks = {};
	struct cfs_holder rename_gh = {};
	unsigned int core_flags = 0;
	u64 orphaned = 0;
	int err, i;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (new_dentry->d_name.len > CFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (flags & RENAME_NOREPLACE)
		core_flags |= CFS_CORE_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		core_flags |= CFS_CORE_RENAME_EXCHANGE;
	/*
	 * lock_cluster: the dentries were revalidated before the glocks were taken, so
	 * another node may have made the target since. Replacing an inode we hold no glock
	 * on is not allowed: -ESTALE makes the VFS look the names up again and retry.
	 */
	if (!dst && sbi->rename_glock)
		core_flags |= CFS_CORE_RENAME_NOREPLACE;
	/* Across directories: one rename at a time in the cluster (no loops made). */
	if (sbi->rename_glock && old_dir != new_dir) {
		err = cfs_glock_nq(sbi->rename_glock, CFS_GL_EX, &rename_gh);
		if (err)
			return err;
	}

	cfs_op_locks_add(&locks, old_dir);
	cfs_op_locks_add(&locks, new_dir);
	cfs_op_locks_add(&locks, src);
	cfs_op_locks_add(&locks, dst);
	locks.victim = dst;
	err = cfs_op_begin(sbi, &locks);
	if (err) {
		cfs_glock_dq(&rename_gh);
		return err;
	}
	for (i = 0; !err && i < ARRAY_SIZE(changed); i++)
		if (changed[i])
			err = cfs_inode_snapshot(changed[i], &before[i]);
	if (!err)
		err = cfs_core_rename(sbi->core, old_dir->i_ino, old_dentry->d_name.name,
				      old_dentry->d_name.len, new_dir->i_ino,
				      new_dentry->d_name.name, new_dentry->d_name.len, core_flags,
				      &orphaned);
	for (i = 0; !err && i < ARRAY_SIZE(changed); i++)
		if (changed[i])
			err = cfs_inode_refresh(changed[i], &before[i], false);
	cfs_op_end(sbi, &locks);
	cfs_glock_dq(&rename_gh);
	if (err == -EEXIST && !dst && sbi->rename_glock && !(flags & RENAME_NOREPLACE))
		return -ESTALE;
	if (err == -ENOTEMPTY || err == -EEXIST)
		return err;
	return err ? cfs_core_error(sbi, err) : 0;
}

const struct inode_operations cfs_dir_inode_operations = {
	.lookup		= cfs_lookup,
	.create		= cfs_create,
	.mkdir		= cfs_mkdir,
	.mknod		= cfs_mknod,
	.symlink	= cfs_symlink,
	.link		= cfs_link,
	.unlink		= cfs_unlink,
	.rmdir		= cfs_rmdir,
	.rename		= cfs_rename,
	.getattr	= cfs_getattr,
	.setattr	= cfs_setattr,
	.listxattr	= cfs_listxattr,
	CFS_ACL_INODE_OPERATIONS,
};
