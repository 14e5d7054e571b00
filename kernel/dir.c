// SPDX-License-Identifier: GPL-2.0
/*
 * Directory operations: lookup and readdir, under the directory's glock.
 */
#include <linux/fs.h>
#include <linux/namei.h>

#include "clusterfs.h"
#include "core.h"

struct dentry *cfs_lookup(struct inode *dir, struct dentry *dentry, unsigned int flags)
{
	struct cfs_sb_info *sbi = CFS_SB(dir->i_sb);
	struct cfs_glock *dir_gl = CFS_I(dir)->glock;
	struct cfs_core_dirent entry;
	struct inode *inode = NULL;
	struct cfs_glock *iopen_gl = NULL, *inode_gl = NULL;
	struct cfs_holder gh, iopen_gh;
	unsigned long inval_count;
	int attempt, err;

	if (dentry->d_name.len > CFS_NAME_MAX)
		return ERR_PTR(-ENAMETOOLONG);

	err = cfs_glock_nq(dir_gl, CFS_GL_SH, &gh);
	if (err)
		return ERR_PTR(err);
	/* Valid until the directory's cached state is next dropped (cfs_d_revalidate). */
	inval_count = READ_ONCE(dir_gl->gl_inval_count);
	err = cfs_core_lookup(sbi->core, dir->i_ino, dentry->d_name.name, dentry->d_name.len,
			      &entry);
	dentry->d_time = inval_count;
	if (err == -ENOENT) {
		cfs_glock_dq(&gh);
		return d_splice_alias(NULL, dentry);
	}
	if (err) {
		cfs_glock_dq(&gh);
		return ERR_PTR(cfs_core_error(sbi, err));
	}

	/*
	 * lock_cluster: the inode's iopen lock is taken SH before the directory's glock is
	 * released, as GFS2's lookup does: released in between, another node could unlink
	 * and free the inode, and this node would read a freed dinode for the name it found.
	 * Only the iopen lock: the inode glock comes after the directory's is released,
	 * since unlink and rename take inode glocks in number order, child before directory
	 * when the child's number is lower.
	 */
	if (cfs_clustered_sb(sbi)) {
		iopen_gl = cfs_glock_get(sbi, CFS_GLT_IOPEN, entry.ino);
		if (IS_ERR(iopen_gl)) {
			cfs_glock_dq(&gh);
			return ERR_CAST(iopen_gl);
		}
		/*
		 * The inode glock's request goes out with the iopen lock's (one lockd round
		 * trip, not two). Only requested, never held here: a state granted with no
		 * holder yields to any other node's callback, so this adds no wait to the lock
		 * order above. The reference is kept until cfs_iget has the glock.
		 */
		inode_gl = cfs_glock_get(sbi, CFS_GLT_INODE, entry.ino);
		if (!IS_ERR(inode_gl))
			cfs_glock_prefetch(inode_gl, CFS_GL_SH);
		else
			inode_gl = NULL;
		/*
		 * A directory walk: the next entries' locks go out before we wait for ours
		 * (with our own references held, its puts of this inode's are never the last).
		 */
		if (inode_gl)
			cfs_lookup_ahead_reading(sbi, entry.ino);
		err = cfs_glock_nq(iopen_gl, CFS_GL_SH, &iopen_gh);
		if (err) {
			if (inode_gl)
				cfs_glock_put(inode_gl);
			cfs_glock_put(iopen_gl);
			cfs_glock_dq(&gh);
			return ERR_PTR(err);
		}
	}
	cfs_glock_dq(&gh);

	for (attempt = 0;; attempt++) {
		inode = cfs_iget(dir->i_sb, entry.ino);
		if (IS_ERR(inode))
			break;
		if (CFS_I(inode)->generation == entry.generation)
			break;
		/*
		 * With other nodes, a cached inode of that number may be one they freed and
		 * reused: drop it from the cache and read the new one.
		 */
		if (cfs_clustered_sb(sbi) && attempt == 0) {
			cfs_inode_mark_stale(inode);
			iput(inode);
			continue;
		}
		pr_err_ratelimited("clusterfs (%s): directory %lu entry \"%pd\" names inode %llu generation %llu, the inode has generation %llu\n",
				   dir->i_sb->s_id, dir->i_ino, dentry, entry.ino,
				   entry.generation, CFS_I(inode)->generation);
		iput(inode);
		inode = ERR_PTR(cfs_core_error(sbi, -EUCLEAN));
		break;
	}
	if (iopen_gl) {
		cfs_glock_dq(&iopen_gh);
		cfs_glock_put(iopen_gl);
	}
	if (inode_gl)
		cfs_glock_put(inode_gl);
	if (IS_ERR(inode))
		return ERR_CAST(inode);
	return d_splice_alias(inode, dentry);
}

/*
 * lock_cluster: a dentry is valid while its directory's glock has not been invalidated
 * since the lookup that made it (no other node can have changed the directory); else
 * the name is looked up again under the directory's glock and must still name the same
 * inode (or still nothing, for a negative dentry).
 */
static int cfs_d_revalidate(struct dentry *dentry, unsigned int flags)
{
	struct cfs_core_dirent entry;
	struct dentry *parent;
	struct inode *dir, *inode;
	struct cfs_glock *dir_gl;
	struct cfs_holder gh;
	unsigned long inval_count;
	int err, valid;

	if (flags & LOOKUP_RCU) {
		parent = READ_ONCE(dentry->d_parent);
		dir = d_inode_rcu(parent);
		if (!dir)
			return -ECHILD;
		dir_gl = CFS_I(dir)->glock;
		return dir_gl && dentry->d_time == READ_ONCE(dir_gl->gl_inval_count) ? 1 : -ECHILD;
	}
	parent = dget_parent(dentry);
	dir = d_inode(parent);
	dir_gl = CFS_I(dir)->glock;
	if (dentry->d_time == READ_ONCE(dir_gl->gl_inval_count)) {
		dput(parent);
		return 1;
	}
	err = cfs_glock_nq(dir_gl, CFS_GL_SH, &gh);
	if (err) {
		dput(parent);
		return err;
	}
	inval_count = READ_ONCE(dir_gl->gl_inval_count);
	err = cfs_core_lookup(CFS_SB(dir->i_sb)->core, dir->i_ino, dentry->d_name.name,
			      dentry->d_name.len, &entry);
	cfs_glock_dq(&gh);
	dput(parent);
	inode = d_inode(dentry);
	if (err == -ENOENT)
		valid = !inode;
	else if (err)
		return err;
	else
		valid = inode && inode->i_ino == entry.ino &&
			CFS_I(inode)->generation == entry.generation;
	if (valid)
		dentry->d_time = inval_count;
	return valid;
}

/*
 * lock_cluster: the last reference to a dentry whose inode another node changed since
 * we last held its glock goes now rather than being cached: the inode may have been
 * unlinked there, and only its eviction here (cfs_evict_inode) lets the last node with
 * it in memory free it, e.g. right after a file unlinked elsewhere is closed here.
 */
static int cfs_d_delete(const struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);

	return inode && CFS_I(inode)->glock &&
	       test_bit(CFS_GLF_INSTANTIATE_NEEDED, &CFS_I(inode)->glock->gl_flags);
}

const struct dentry_operations cfs_cluster_dentry_ops = {
	.d_revalidate	= cfs_d_revalidate,
	.d_delete	= cfs_d_delete,
};

struct cfs_readdir_ctx {
	struct dir_context *ctx;
	struct cfs_sb_info *sbi;
};

static bool cfs_readdir_emit(void *opaque, const char *name, u32 len,
			     const struct cfs_core_dirent *entry, u64 cookie_after)
{
	struct cfs_readdir_ctx *rc = opaque;

	if (!dir_emit(rc->ctx, name, len, entry->ino, entry->type))
		return false;
	if (!(name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'))))
		cfs_lookup_ahead_note(rc->sbi, entry->ino);
	rc->ctx->pos = cookie_after;
	return true;
}

static int cfs_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	struct cfs_sb_info *sbi = CFS_SB(dir->i_sb);
	struct cfs_readdir_ctx rc = { .ctx = ctx, .sbi = sbi };
	struct cfs_holder gh;
	u64 cookie;
	int err;

	if (ctx->pos < 0 || ctx->pos >= CFS_CORE_DIR_COOKIE_END)
		return 0;
	cookie = ctx->pos;
	err = cfs_glock_nq(CFS_I(dir)->glock, CFS_GL_SH, &gh);
	if (err)
		return err;
	err = cfs_core_readdir(sbi->core, dir->i_ino, &cookie, cfs_readdir_emit, &rc);
	cfs_glock_dq(&gh);
	if (err)
		return cfs_core_error(sbi, err);
	if (cookie >= CFS_CORE_DIR_COOKIE_END)
		ctx->pos = CFS_CORE_DIR_COOKIE_END;
	return 0;
}

static loff_t cfs_dir_llseek(struct file *file, loff_t offset, int whence)
{
	return generic_file_llseek_size(file, offset, whence, CFS_CORE_DIR_COOKIE_END,
					CFS_CORE_DIR_COOKIE_END);
}

const struct file_operations cfs_dir_operations = {
	.llseek		= cfs_dir_llseek,
	.read		= generic_read_dir,
	.iterate_shared	= cfs_readdir,
	.fsync		= cfs_fsync,
	.unlocked_ioctl	= cfs_ioctl,	/* fstrim calls FITRIM on the mount point */
	.compat_ioctl	= compat_ptr_ioctl,
};
