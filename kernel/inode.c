// SPDX-License-Identifier: GPL-2.0
/*
 * Inodes: reading a dinode into a VFS inode (under its glock), eviction, getattr.
 */
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/stat.h>
#include <linux/writeback.h>

#include "clusterfs.h"
#include "core.h"

/* The dinode fields only the core changes: links, blocks, the map, flags, birth time. */
static void cfs_inode_apply_core_owned(struct inode *inode, const struct cfs_core_inode *di)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);

	set_nlink(inode, di->nlink);
	inode->i_blocks = di->blocks << (sbi->block_shift - 9);
	inode->i_generation = (u32)di->generation;
	ci->crtime.tv_sec = di->crtime_sec;
	ci->crtime.tv_nsec = di->crtime_nsec;
	ci->generation = di->generation;
	ci->di_flags = di->flags;
	ci->height = di->height;

	inode->i_flags &= ~(S_IMMUTABLE | S_APPEND | S_NOATIME | S_SYNC);
	if (di->flags & CFS_DIF_IMMUTABLE)
		inode->i_flags |= S_IMMUTABLE;
	if (di->flags & CFS_DIF_APPENDONLY)
		inode->i_flags |= S_APPEND;
	if (di->flags & CFS_DIF_NOATIME)
		inode->i_flags |= S_NOATIME;
	if (di->flags & CFS_DIF_SYNC)
		inode->i_flags |= S_SYNC;
}

static void cfs_inode_apply(struct inode *inode, const struct cfs_core_inode *di, bool with_size)
{
	inode->i_mode = di->mode;
	i_uid_write(inode, di->uid);
	i_gid_write(inode, di->gid);
	if (with_size)
		i_size_write(inode, di->size);
	cfs_inode_set_atime(inode, (struct timespec64){ di->atime_sec, di->atime_nsec });
	cfs_inode_set_mtime(inode, (struct timespec64){ di->mtime_sec, di->mtime_nsec });
	inode_set_ctime(inode, di->ctime_sec, di->ctime_nsec);
	cfs_inode_apply_core_owned(inode, di);
}

static int cfs_inode_set_ops(struct inode *inode, const struct cfs_core_inode *di)
{
	switch (inode->i_mode & S_IFMT) {
	case S_IFDIR:
		inode->i_op = &cfs_dir_inode_operations;
		inode->i_fop = &cfs_dir_operations;
		return 0;
	case S_IFREG:
		inode->i_op = &cfs_file_inode_operations;
		inode->i_fop = &cfs_file_operations;
		inode->i_mapping->a_ops = &cfs_file_aops;
		/* Page cache allocations happen under trans_mutex: no fs reclaim. */
		mapping_set_gfp_mask(inode->i_mapping, GFP_NOFS);
		return 0;
	case S_IFLNK:
		inode->i_op = &cfs_symlink_inode_operations;
		inode->i_mapping->a_ops = &cfs_file_aops;
		inode_nohighmem(inode);
		return 0;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		inode->i_op = &cfs_special_inode_operations;
		init_special_inode(inode, inode->i_mode, MKDEV(di->rdev_major & 0xfff,
							      di->rdev_minor & 0xfffff));
		return 0;
	default:
		return -EUCLEAN;
	}
}

static struct inode *cfs_iget_state(struct super_block *sb, u64 ino, enum cfs_glock_state state);

struct inode *cfs_iget(struct super_block *sb, u64 ino)
{
	return cfs_iget_state(sb, ino, CFS_GL_SH);
}

/*
 * A node that just created the inode takes its glock EX: its dinode was written under
 * the directory's glock only and is in this node's journal, so the glock's release must
 * write it home (go_sync runs only when leaving EX) before another node reads it.
 */
struct inode *cfs_iget_new(struct super_block *sb, u64 ino)
{
	struct inode *inode = cfs_iget_state(sb, ino, CFS_GL_EX);

	/* The inode holds its own glock references now. */
	if (!IS_ERR(inode))
		cfs_create_ahead_used(CFS_SB(sb), ino);
	return inode;
}

static struct inode *cfs_iget_state(struct super_block *sb, u64 ino, enum cfs_glock_state state)
{
	struct cfs_sb_info *sbi = CFS_SB(sb);
	struct cfs_core_inode di;
	struct cfs_holder gh;
	struct cfs_inode_info *ci;
	struct inode *inode;
	int err;

	inode = iget_locked(sb, ino);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (!(inode->i_state & I_NEW))
		return inode;
	ci = CFS_I(inode);

	ci->glock = cfs_glock_get(sbi, CFS_GLT_INODE, ino);
	if (IS_ERR(ci->glock)) {
		err = PTR_ERR(ci->glock);
		ci->glock = NULL;
		goto fail;
	}
	ci->glock->gl_object = inode;
	if (cfs_clustered_sb(sbi)) {
		/* While we have it in memory, no other node frees it (cfs_evict_inode). */
		ci->iopen_gl = cfs_glock_get(sbi, CFS_GLT_IOPEN, ino);
		if (IS_ERR(ci->iopen_gl)) {
			err = PTR_ERR(ci->iopen_gl);
			ci->iopen_gl = NULL;
			goto fail;
		}
		/* Both requests in flight at once: one lockd round trip, not two. */
		cfs_glock_prefetch(ci->glock, state);
		err = cfs_glock_nq(ci->iopen_gl, CFS_GL_SH, &ci->iopen_gh);
		if (err)
			goto fail;
	}
	err = cfs_glock_nq(ci->glock, state, &gh);
	if (err)
		goto fail;
	err = cfs_core_inode_read(sbi->core, ino, &di);
	cfs_glock_dq(&gh);
	if (err) {
		err = cfs_core_error(sbi, err);
		goto fail;
	}
	cfs_inode_apply(inode, &di, true);
	err = cfs_inode_set_ops(inode, &di);
	if (err) {
		pr_err_ratelimited("clusterfs (%s): inode %llu has an invalid mode %o\n",
				   sb->s_id, ino, di.mode);
		err = cfs_core_error(sbi, err);
		goto fail;
	}
	unlock_new_inode(inode);
	return inode;

fail:
	iget_failed(inode);
	return ERR_PTR(err);
}

/*
 * Times the VFS set without a transaction (a write's or a page fault's mtime and ctime,
 * a read's atime: file_update_time, touch_atime) go to the dinode first, in a
 * transaction of their own just ahead of the operation's. Otherwise the operation logged
 * the dinode with the older times on disk: the refresh kept the new ones in memory, but
 * after a crash the replay brought back the rename or link and not the write's mtime
 * before it (docs/kernel.md "Timestamps").
 */
int cfs_inode_snapshot(struct inode *inode, struct cfs_core_inode *before)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_core_inode attrs;
	int err;

	lockdep_assert_held(&sbi->trans_mutex);
	if (!sb_rdonly(inode->i_sb) && cfs_core_journal_active(sbi->core)) {
		cfs_inode_fill_core_attrs(inode, &attrs);
		/* No transaction when the dinode has them already. */
		err = cfs_core_update_inode(sbi->core, inode->i_ino, &attrs, CFS_CORE_ATTR_TIMES);
		if (err)
			return err;
	}
	return cfs_core_inode_read(sbi->core, inode->i_ino, before);
}

static bool cfs_time_eq(s64 sec_a, u32 nsec_a, s64 sec_b, u32 nsec_b)
{
	return sec_a == sec_b && nsec_a == nsec_b;
}

/*
 * Three-way merge of the dinode after a core operation into the VFS inode: a field the
 * operation changed (after != before) comes from the disk; any other mode, owner or time
 * stays as the VFS inode has it. Those may be ahead of the disk (times of a write or a
 * page fault, atime) and are written back by cfs_write_inode: copying the dinode over
 * them lost them (docs/kernel.md "Inode attributes").
 */
int cfs_inode_refresh(struct inode *inode, const struct cfs_core_inode *before, bool with_size)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_core_inode after;
	struct timespec64 ts;
	bool ahead = false;
	int err;

	err = cfs_core_inode_read(sbi->core, inode->i_ino, &after);
	if (err)
		return err;
	if (after.mode != before->mode)
		inode->i_mode = after.mode;
	else
		ahead |= inode->i_mode != after.mode;
	if (after.uid != before->uid || after.gid != before->gid) {
		i_uid_write(inode, after.uid);
		i_gid_write(inode, after.gid);
	} else {
		ahead |= i_uid_read(inode) != after.uid || i_gid_read(inode) != after.gid;
	}
	if (!cfs_time_eq(after.atime_sec, after.atime_nsec, before->atime_sec, before->atime_nsec)) {
		cfs_inode_set_atime(inode, (struct timespec64){ after.atime_sec, after.atime_nsec });
	} else {
		ts = cfs_inode_get_atime(inode);
		ahead |= !cfs_time_eq(ts.tv_sec, ts.tv_nsec, after.atime_sec, after.atime_nsec);
	}
	if (!cfs_time_eq(after.mtime_sec, after.mtime_nsec, before->mtime_sec, before->mtime_nsec)) {
		cfs_inode_set_mtime(inode, (struct timespec64){ after.mtime_sec, after.mtime_nsec });
	} else {
		ts = cfs_inode_get_mtime(inode);
		ahead |= !cfs_time_eq(ts.tv_sec, ts.tv_nsec, after.mtime_sec, after.mtime_nsec);
	}
	if (!cfs_time_eq(after.ctime_sec, after.ctime_nsec, before->ctime_sec, before->ctime_nsec)) {
		inode_set_ctime(inode, after.ctime_sec, after.ctime_nsec);
	} else {
		ts = inode_get_ctime(inode);
		ahead |= !cfs_time_eq(ts.tv_sec, ts.tv_nsec, after.ctime_sec, after.ctime_nsec);
	}
	if (with_size || !S_ISREG(inode->i_mode))
		i_size_write(inode, after.size);
	cfs_inode_apply_core_owned(inode, &after);
	/* Whoever changed the kept fields marked the inode dirty; make sure of it. */
	if (ahead)
		mark_inode_dirty_sync(inode);
	return 0;
}

/*
 * Another node freed this inode (and may have reused its number): the VFS inode goes
 * from the hash so that a lookup reads the new one, and lets go of the glock's object,
 * which is the new inode's once that is read. It writes and frees nothing any more.
 */
void cfs_inode_mark_stale(struct inode *inode)
{
	struct cfs_inode_info *ci = CFS_I(inode);

	WRITE_ONCE(ci->stale, true);
	remove_inode_hash(inode);
	if (ci->glock)
		cmpxchg(&ci->glock->gl_object, (void *)inode, NULL);
}

int cfs_inode_reload(struct inode *inode)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);
	struct cfs_core_inode di;
	int err;

	if (inode->i_state & I_NEW)
		return 0;	/* cfs_iget reads it */
	err = cfs_core_inode_read(sbi->core, inode->i_ino, &di);
	/*
	 * Another node freed it (the block is something else now) or freed and reused its
	 * number: a race with that node, not damage. The VFS inode goes; a new lookup
	 * finds what the directory names now.
	 */
	if (err == -EUCLEAN || err == -EBADMSG || (!err && (di.generation != ci->generation ||
	    (di.mode & S_IFMT) != (inode->i_mode & S_IFMT)))) {
		cfs_inode_mark_stale(inode);
		return -ESTALE;
	}
	if (err)
		return cfs_core_error(sbi, err);
	cfs_inode_apply(inode, &di, true);
	return 0;
}

/* Frees the blocks and dinode of an inode whose last link and last user are gone. */
static void cfs_free_unlinked(struct inode *inode)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);
	struct cfs_trans_rgrps rs = {};
	struct cfs_holder gh;
	bool done = false;
	int err;

	if (cfs_withdrawn(sbi) || sb_rdonly(inode->i_sb) || !ci->glock)
		return;	/* left marked unlinked: fsck.clusterfs reclaims it */
	err = cfs_glock_nq(ci->glock, CFS_GL_EX, &gh);
	if (err)
		return;
	cfs_trans_rgrps_add(sbi, &rs, inode->i_ino);
	cfs_trans_lock_rgrps(sbi, &rs);
	while (!err && !done) {
		err = cfs_core_reserve(sbi->core, CFS_CORE_MAP_CHANGE_BUFS);
		if (err)
			break;
		down_write(&ci->map_lock);
		err = cfs_core_free_inode_step(sbi->core, inode->i_ino, ci->generation, &done);
		up_write(&ci->map_lock);
		/* Its next blocks are in a group we do not hold: take it for the next step. */
		if (!err && !done && cfs_trans_wanted(sbi, &rs))
			cfs_trans_relock(sbi, &rs);
	}
	cfs_trans_unlock(sbi);
	cfs_glock_dq(&gh);
	/* Freed (and perhaps reused) by another node already: not ours to free. */
	if (err == -ESTALE)
		pr_warn_ratelimited("clusterfs (%s): inode %lu: another node freed it; not freed again\n",
				    inode->i_sb->s_id, inode->i_ino);
	else if (err)
		cfs_core_error(sbi, err);
}

/*
 * lock_cluster: frees inode @ino if it is still UNLINKED and no node has it in memory.
 * Only under its iopen lock in EX, then its inode glock in EX, both got without
 * waiting, and only if the bitmap still says UNLINKED with the generation read under
 * that lock (cfs_core_free_inode_step). A node with the inode in memory holds its iopen
 * lock SH and frees it itself; an inode glock another dead node still pins waits for
 * the next recovery or first mount. Never waiting on a glock keeps this from blocking
 * recovery and unmount. Returns 1 if freed, 0 if it is not ours to free (freed or
 * reused already), -EBUSY if some node has it, or another error.
 */
int cfs_free_unlinked_ino(struct cfs_sb_info *sbi, u64 ino)
{
	struct cfs_glock *iopen, *gl;
	struct cfs_holder iopen_gh, gh;
	struct cfs_core_inode di;
	bool done = false;
	int err;

	iopen = cfs_glock_get(sbi, CFS_GLT_IOPEN, ino);
	if (IS_ERR(iopen))
		return PTR_ERR(iopen);
	if (cfs_glock_nq_flags(iopen, CFS_GL_EX, &iopen_gh, CFS_GH_TRY)) {
		cfs_glock_put(iopen);
		return -EBUSY;
	}
	gl = cfs_glock_get(sbi, CFS_GLT_INODE, ino);
	err = IS_ERR(gl) ? PTR_ERR(gl) : cfs_glock_nq_flags(gl, CFS_GL_EX, &gh, CFS_GH_TRY);
	if (err == -EAGAIN) {
		err = -EBUSY;
	} else if (!err) {
		struct cfs_trans_rgrps rs = {};
		u64 again;

		cfs_trans_rgrps_add(sbi, &rs, ino);
		cfs_trans_lock_rgrps(sbi, &rs);
		/* Freed (and its block reused) by another node since it was seen: not ours. */
		err = cfs_core_next_unlinked(sbi->core, ino, &again);
		if (err == -ENOENT || (!err && again != ino))
			err = -ESTALE;
		if (!err)
			err = cfs_core_inode_read(sbi->core, ino, &di);
		while (!err && !done) {
			err = cfs_core_reserve(sbi->core, CFS_CORE_MAP_CHANGE_BUFS);
			if (!err)
				err = cfs_core_free_inode_step(sbi->core, ino, di.generation, &done);
			if (!err && !done && cfs_trans_wanted(sbi, &rs))
				cfs_trans_relock(sbi, &rs);
		}
		cfs_trans_unlock(sbi);
		cfs_glock_dq(&gh);
	}
	if (!IS_ERR(gl))
		cfs_glock_put(gl);
	cfs_glock_dq(&iopen_gh);
	cfs_glock_put(iopen);
	if (done)
		return 1;
	return err == -ESTALE ? 0 : err;
}

/*
 * lock_cluster, after this node replayed a dead node's journal: frees the inodes left
 * unlinked that no node has open any more (the dead node's: it held them open, and its
 * iopen locks went with its fence), each by cfs_free_unlinked_ino. It runs in its own
 * work item; @stop says unmount began. GFS2 does the same lazily, when it allocates in
 * a resource group with unlinked inodes.
 */
void cfs_reclaim_dead_unlinked(struct cfs_sb_info *sbi, bool (*stop)(struct cfs_sb_info *sbi))
{
	u32 freed = 0, busy = 0;
	u64 next = 0, ino;
	int err;

	/* Not while mounting (the mount's own reclaim runs) or unmounting. */
	while (!cfs_withdrawn(sbi) && !sb_rdonly(sbi->sb) && (sbi->sb->s_flags & SB_ACTIVE) &&
	       !stop(sbi) && cfs_core_journal_active(sbi->core)) {
		/* Bitmaps of every group, current: each one's lock (after a recovery only). */
		cfs_trans_lock_all(sbi);
		err = cfs_core_next_unlinked(sbi->core, next, &ino);
		cfs_trans_unlock(sbi);
		if (err == -ENOENT)
			break;
		if (err) {
			cfs_core_error(sbi, err);
			return;
		}
		next = ino + 1;
		err = cfs_free_unlinked_ino(sbi, ino);
		if (err == 1)
			freed++;
		else if (err == -EBUSY)
			busy++;
		else if (err == -EUCLEAN || err == -EBADMSG) {
			cfs_core_error(sbi, err);
			return;
		} else if (err)
			break;	/* lock or I/O trouble: the next recovery or first mount retries */
	}
	if (freed || busy)
		pr_info("clusterfs (%s): after recovery: freed %u unlinked inodes, left %u in use on some node\n",
			sbi->sb->s_id, freed, busy);
}

/*
 * lock_cluster: whether this node may free an unlinked inode now. Its link count is
 * reloaded if another node changed it since (it may have unlinked it), and only the
 * last node with the inode in memory frees it: the one that gets the iopen lock EX
 * without waiting. A node that fails leaves it to the others' eviction (or, if they
 * all fail at once, to the next first mount's reclaim).
 */
static bool cfs_cluster_may_free(struct inode *inode, struct cfs_holder *iopen_ex)
{
	struct cfs_inode_info *ci = CFS_I(inode);
	struct cfs_holder gh;

	if (!ci->iopen_gl || !ci->glock || is_bad_inode(inode) || READ_ONCE(ci->stale))
		return false;
	if (inode->i_nlink && test_bit(CFS_GLF_INSTANTIATE_NEEDED, &ci->glock->gl_flags)) {
		if (cfs_glock_nq(ci->glock, CFS_GL_SH, &gh))
			return false;	/* gone or unreadable: not ours to free */
		cfs_glock_dq(&gh);
	}
	if (inode->i_nlink)
		return false;
	cfs_glock_dq(&ci->iopen_gh);
	return !cfs_glock_nq_flags(ci->iopen_gl, CFS_GL_EX, iopen_ex, CFS_GH_TRY);
}

void cfs_evict_inode(struct inode *inode)
{
	struct cfs_inode_info *ci = CFS_I(inode);
	struct cfs_holder iopen_ex = {};
	bool freed = false;

	truncate_inode_pages_final(&inode->i_data);
	cfs_host_remove_ordered(&CFS_SB(inode->i_sb)->host, ci);
	if (ci->iopen_gl) {
		if (cfs_cluster_may_free(inode, &iopen_ex)) {
			cfs_free_unlinked(inode);
			freed = true;
		}
	} else if (!inode->i_nlink && !is_bad_inode(inode) && !ci->stale) {
		cfs_free_unlinked(inode);
	}
	clear_inode(inode);
	/*
	 * Unlinked but still open on another node: its glock is not kept cached (glock.h),
	 * since whoever frees it later (that node, or a survivor's reclaim after it died)
	 * takes it without waiting, which a cached copy here would make fail.
	 */
	if (ci->glock && ci->iopen_gl && !inode->i_nlink && !freed)
		set_bit(CFS_GLF_NO_LRU, &ci->glock->gl_flags);
	if (ci->glock) {
		/* A stale inode's glock may serve the inode that reused its number. */
		cmpxchg(&ci->glock->gl_object, (void *)inode, NULL);
		cfs_glock_put(ci->glock);
		ci->glock = NULL;
	}
	if (ci->iopen_gl) {
		cfs_glock_dq(&iopen_ex);
		cfs_glock_dq(&ci->iopen_gh);
		cfs_glock_put(ci->iopen_gl);
		ci->iopen_gl = NULL;
	}
}

int cfs_getattr(cfs_idmap_t *idmap, const struct path *path, struct kstat *stat,
		       u32 request_mask, unsigned int query_flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct cfs_inode_info *ci = CFS_I(inode);
	struct cfs_holder gh;
	int err;

	/* Another node may have changed it: the glock reloads the dinode if so. */
	if (cfs_clustered_sb(CFS_SB(inode->i_sb))) {
		err = cfs_glock_nq(ci->glock, CFS_GL_SH, &gh);
		if (err)
			return err;
		cfs_glock_dq(&gh);
	}
	cfs_generic_fillattr(idmap, request_mask, inode, stat);
	stat->blksize = CFS_SB(inode->i_sb)->block_size;
	if (request_mask & STATX_BTIME) {
		stat->btime = ci->crtime;
		stat->result_mask |= STATX_BTIME;
	}
	if (ci->di_flags & CFS_DIF_IMMUTABLE)
		stat->attributes |= STATX_ATTR_IMMUTABLE;
	if (ci->di_flags & CFS_DIF_APPENDONLY)
		stat->attributes |= STATX_ATTR_APPEND;
	stat->attributes_mask |= STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND;
	return 0;
}

void cfs_inode_fill_core_attrs(struct inode *inode, struct cfs_core_inode *attrs_out)
{
	struct cfs_core_inode attrs = {};
	struct timespec64 ts;

	attrs.mode = inode->i_mode;
	attrs.uid = i_uid_read(inode);
	attrs.gid = i_gid_read(inode);
	ts = cfs_inode_get_atime(inode);
	attrs.atime_sec = ts.tv_sec;
	attrs.atime_nsec = ts.tv_nsec;
	ts = cfs_inode_get_mtime(inode);
	attrs.mtime_sec = ts.tv_sec;
	attrs.mtime_nsec = ts.tv_nsec;
	ts = inode_get_ctime(inode);
	attrs.ctime_sec = ts.tv_sec;
	attrs.ctime_nsec = ts.tv_nsec;
	attrs.size = i_size_read(inode);
	attrs.generation = CFS_I(inode)->generation;
	*attrs_out = attrs;
}

/* Copies the VFS inode's attributes into the dinode (one transaction); trans_mutex held. */
static int cfs_inode_persist_locked(struct inode *inode, unsigned int mask)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_core_inode attrs;
	int err;

	if (READ_ONCE(CFS_I(inode)->stale))
		return 0;
	cfs_inode_fill_core_attrs(inode, &attrs);
	err = cfs_core_update_inode(sbi->core, inode->i_ino, &attrs, mask);
	if (err == -ESTALE) {
		/* Another node freed it and reused its number: the dinode is not ours. */
		cfs_inode_mark_stale(inode);
		return 0;
	}
	return err;
}

static int cfs_inode_persist(struct inode *inode, unsigned int mask)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	int err;

	cfs_trans_lock(sbi);
	err = cfs_inode_persist_locked(inode, mask);
	cfs_trans_unlock(sbi);
	return err;
}

int cfs_inode_persist_for_release(struct inode *inode)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	unsigned int mask = CFS_CORE_ATTR_MODE | CFS_CORE_ATTR_OWNER | CFS_CORE_ATTR_TIMES;
	int err;

	/*
	 * Whatever the inode's dirty state says: writeback clears it before it calls
	 * write_inode, which may have given up meanwhile (cfs_write_inode). The core writes
	 * nothing when the dinode has these values already.
	 */
	struct cfs_core_inode disk, mem;

	if (cfs_withdrawn(sbi) || sb_rdonly(inode->i_sb) || !cfs_core_journal_active(sbi->core) ||
	    READ_ONCE(CFS_I(inode)->stale))
		return 0;
	if (S_ISREG(inode->i_mode))
		mask |= CFS_CORE_ATTR_SIZE;
	/* Nothing ahead (the common case): no transaction, so no allocation lock either. */
	cfs_inode_fill_core_attrs(inode, &mem);
	if (!cfs_core_inode_read(sbi->core, inode->i_ino, &disk) && disk.mode == mem.mode &&
	    disk.uid == mem.uid && disk.gid == mem.gid &&
	    (!(mask & CFS_CORE_ATTR_SIZE) || disk.size >= mem.size) &&
	    cfs_time_eq(disk.atime_sec, disk.atime_nsec, mem.atime_sec, mem.atime_nsec) &&
	    cfs_time_eq(disk.mtime_sec, disk.mtime_nsec, mem.mtime_sec, mem.mtime_nsec) &&
	    cfs_time_eq(disk.ctime_sec, disk.ctime_nsec, mem.ctime_sec, mem.ctime_nsec))
		return 0;
	err = cfs_inode_persist(inode, mask);
	return err ? cfs_core_error(sbi, err) : 0;
}

int cfs_write_inode(struct inode *inode, struct writeback_control *wbc)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	unsigned int mask = CFS_CORE_ATTR_MODE | CFS_CORE_ATTR_OWNER | CFS_CORE_ATTR_TIMES;
	int err;

	if (cfs_withdrawn(sbi))
		return -EIO;
	if (sb_rdonly(inode->i_sb) || !cfs_core_journal_active(sbi->core))
		return 0;
	if (S_ISREG(inode->i_mode))
		mask |= CFS_CORE_ATTR_SIZE;
	/*
	 * With lock_cluster the dinode may be written only under the inode glock EX. When
	 * this node does not hold it so, the release of that lock already wrote what the VFS
	 * inode had ahead (go_sync), and another node may have changed the dinode since.
	 */
	if (cfs_clustered_sb(sbi)) {
		struct cfs_glock *gl = CFS_I(inode)->glock;
		struct cfs_holder gh;

		if (READ_ONCE(gl->gl_state) != CFS_GL_EX)
			return 0;
		/* Busy or being released: stay dirty; the holder or go_sync writes it. */
		if (!cfs_glock_held_ex(gl) || cfs_glock_nq_flags(gl, CFS_GL_EX, &gh, CFS_GH_TRY)) {
			mark_inode_dirty_sync(inode);
			return 0;
		}
		cfs_trans_lock(sbi);
		err = cfs_inode_persist_locked(inode, mask);
		cfs_trans_unlock(sbi);
		cfs_glock_dq(&gh);
		return err ? cfs_core_error(sbi, err) : 0;
	}
	/*
	 * Background writeback must not wait for trans_mutex: a buffered write holds it
	 * while it throttles on dirty pages. Keep the inode dirty and come back later.
	 */
	if (wbc->sync_mode == WB_SYNC_ALL) {
		cfs_trans_lock(sbi);
	} else if (!cfs_trans_trylock(sbi)) {
		mark_inode_dirty_sync(inode);
		return 0;
	}
	err = cfs_inode_persist_locked(inode, mask);
	cfs_trans_unlock(sbi);
	return err ? cfs_core_error(sbi, err) : 0;
}

/* Size changes: zero the tail of the new last block, drop the cache, free the blocks. */
static int cfs_setsize(struct inode *inode, loff_t newsize)
{
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_inode_info *ci = CFS_I(inode);
	loff_t oldsize = i_size_read(inode);
	struct cfs_trans_rgrps rs = {};
	struct cfs_core_inode before;
	bool done = false;
	int err;

	if (newsize > sbi->sb->s_maxbytes)
		return -EFBIG;
	if (ci->height > 0 && newsize < oldsize) {
		err = iomap_truncate_page(inode, newsize, NULL, &cfs_iomap_ops);
		if (err)
			return err;
	}
	truncate_setsize(inode, newsize);
	/* Nothing dirty may need the map lock while the block map shrinks (core.h). */
	err = filemap_write_and_wait(inode->i_mapping);
	if (err)
		return err;

	cfs_trans_rgrps_add(sbi, &rs, inode->i_ino);
	cfs_trans_lock_rgrps(sbi, &rs);
	err = cfs_inode_snapshot(inode, &before);
	/*
	 * Growing frees nothing (blocks preallocated past the old size stay, as GFS2); the
	 * direction comes from the VFS size, which may be ahead of the dinode's.
	 */
	if (!err && newsize > oldsize) {
		err = cfs_core_reserve(sbi->core, CFS_CORE_MAP_CHANGE_BUFS);
		if (!err) {
			down_write(&ci->map_lock);
			err = cfs_core_extend(sbi->core, inode->i_ino, newsize);
			up_write(&ci->map_lock);
		}
		done = true;
	}
	while (!err && !done) {
		err = cfs_core_reserve(sbi->core, CFS_CORE_MAP_CHANGE_BUFS);
		if (err)
			break;
		down_write(&ci->map_lock);
		err = cfs_core_truncate_step(sbi->core, inode->i_ino, newsize, &done);
		up_write(&ci->map_lock);
		if (!err && !done && cfs_trans_wanted(sbi, &rs))
			cfs_trans_relock(sbi, &rs);
	}
	if (!err)
		err = cfs_inode_refresh(inode, &before, true);
	cfs_trans_unlock(sbi);
	return err;
}

int cfs_setattr(cfs_idmap_t *idmap, struct dentry *dentry, struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	struct cfs_sb_info *sbi = CFS_SB(inode->i_sb);
	struct cfs_holder gh;
	unsigned int mask = 0;
	bool persisted = false;
	int err;

	if (cfs_withdrawn(sbi))
		return -EIO;
	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;
	err = cfs_glock_nq(CFS_I(inode)->glock, CFS_GL_EX, &gh);
	if (err)
		return err;
	if ((attr->ia_valid & ATTR_SIZE) && S_ISREG(inode->i_mode) &&
	    attr->ia_size != i_size_read(inode)) {
		inode_dio_wait(inode);
		err = cfs_setsize(inode, attr->ia_size);
		if (err)
			goto out;
	}
	setattr_copy(idmap, inode, attr);
	if (attr->ia_valid & ATTR_MODE)
		mask |= CFS_CORE_ATTR_MODE;
	if (attr->ia_valid & (ATTR_UID | ATTR_GID))
		mask |= CFS_CORE_ATTR_OWNER;
	mask |= CFS_CORE_ATTR_TIMES;	/* ctime changes with any attribute */
	if (attr->ia_valid & ATTR_MODE) {
		/* An access ACL follows the mode, in the same transaction as the attributes. */
		err = cfs_acl_chmod_locked(inode, &persisted);
		if (err)
			goto out;
	}
	if (!persisted)
		err = cfs_inode_persist(inode, mask);
out:
	cfs_glock_dq(&gh);
	return err ? cfs_core_error(sbi, err) : 0;
}

const struct inode_operations cfs_file_inode_operations = {
	.getattr	= cfs_getattr,
	.setattr	= cfs_setattr,
	.fiemap		= cfs_fiemap,
	.listxattr	= cfs_listxattr,
	CFS_ACL_INODE_OPERATIONS,
};

const struct inode_operations cfs_special_inode_operations = {
	.getattr	= cfs_getattr,
	.setattr	= cfs_setattr,
	.listxattr	= cfs_listxattr,
	CFS_ACL_INODE_OPERATIONS,
};
