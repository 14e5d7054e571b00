// SPDX-License-Identifier: GPL-2.0
// Namespace changes: create (symlinks and inherited xattrs included), link, unlink,
// rename; the link count and orphan bookkeeping they share.
#include "core_internal.h"
#include "dir.h"
#include "rgrp.h"
#include "xattr.h"

using namespace cfs_core_detail;

// ---- Namespace changes ------------------------------------------------------------------

namespace {

bool is_dir_mode(std::uint32_t mode) { return (mode & kModeTypeMask) == kModeDir; }

void touch_ctime(cfs::Fs *fs, cfs::Inode *ip) { cfs::inode_touch(fs, ip, false); }

// Link count changes of a directory's parent when a subdirectory comes or goes.
void add_nlink(cfs::Inode *ip, int delta)
{
	std::uint32_t n = cfs::inode_nlink(ip);
	cfs::inode_set_nlink(ip, delta < 0 && n == 0 ? 0 : n + delta);
}

// An inode that lost its last link: marked unlinked so that after a crash fsck (or a
// later mount) finds and frees it; freed for real when the last opener closes it.
[[nodiscard]] int orphan(cfs::Fs *fs, cfs::Trans *tr, cfs::Inode *ip)
{
	return cfs::rgrp_set_state(fs, tr, ip->ino, CFS_BLKST_UNLINKED);
}

[[nodiscard]] int drop_link(cfs::Fs *fs, cfs::Trans *tr, cfs::Inode *ip, bool *orphaned)
{
	int err = cfs::inode_dirty(tr, ip);
	if (err)
		return err;
	if (cfs::inode_is_dir(ip))
		cfs::inode_set_nlink(ip, 0);  // its "." and its parent's entry go together
	else
		add_nlink(ip, -1);
	touch_ctime(fs, ip);
	*orphaned = cfs::inode_nlink(ip) == 0;
	return *orphaned ? orphan(fs, tr, ip) : 0;
}

std::uint32_t dir_budget(cfs::Fs *fs, cfs::Inode *dir)
{
	return cfs::dir_add_max_bufs(fs, dir) + 8;
}

// Writes a long symlink's target into a data block of its own; the block reaches the
// disk before the transaction that points at it commits (ordered data).
[[nodiscard]] int write_symlink_block(cfs_core *core, cfs::Trans *tr, cfs::Inode *ip,
				      const char *target, std::uint32_t len)
{
	cfs::Fs *fs = &core->fs;
	cfs::BmapExtent extent;
	int err = cfs::bmap_alloc(fs, tr, ip, 0, 1, ip->ino + 1, &extent);
	if (err)
		return err;
	std::uint8_t *block = core->block_buffer;
	__builtin_memset(block, 0, fs->bsize);
	__builtin_memcpy(block, target, len);
	const void *blocks[1] = {block};
	err = cfs_env_log_write(fs->host, extent.disk_block, blocks, 1, 0);
	if (err)
		return err;
	cfs::inode_set_size(ip, len);
	return 0;
}

[[nodiscard]] int fill_new_inode(cfs_core *core, cfs::Trans *tr, cfs::Inode *ip,
				 const cfs_core_new_inode *init)
{
	if ((init->mode & kModeTypeMask) != kModeLnk)
		return 0;
	cfs::Fs *fs = &core->fs;
	if (init->symlink_len < cfs::inode_inline_capacity(fs))
		return cfs::inode_write_inline(fs, tr, ip, 0, init->symlink, init->symlink_len);
	if (init->symlink_len >= fs->bsize)
		return -CFS_ENAMETOOLONG;
	return write_symlink_block(core, tr, ip, init->symlink, init->symlink_len);
}

}  // namespace

extern "C" int cfs_core_create(struct cfs_core *core, cfs_core_u64 dir, const char *name,
			       cfs_core_u32 len, const struct cfs_core_new_inode *init,
			       cfs_core_u64 *ino_out)
{
	cfs::Fs *fs = &core->fs;
	if (init->nxattrs > CFS_CORE_NEW_XATTRS_MAX)
		return -CFS_EINVAL;
	InodeRef dp(fs);
	int err = dp.get(dir);
	if (err)
		return err;
	Txn tx(core);
	err = tx.begin(dir_budget(fs, dp.ptr()) + kInodeAllocBufs + kAllocBufs +
		       init->nxattrs * cfs::kXattrSetMaxBufs);
	if (err)
		return err;

	cfs::InodeInit ii{};
	ii.mode = init->mode;
	ii.uid = init->uid;
	ii.gid = init->gid;
	ii.nlink = 1;
	ii.rdev_major = init->rdev_major;
	ii.rdev_minor = init->rdev_minor;
	ii.parent = dir;
	InodeRef ip(fs);
	err = cfs::inode_alloc(fs, tx.get(), dir, &ii, ip.ptr());
	if (err)
		return err;

	cfs::DirEntry entry{ip->ino, cfs::inode_generation(ip.ptr()), cfs::dir_type_of_mode(init->mode)};
	err = fill_new_inode(core, tx.get(), ip.ptr(), init);
	for (cfs_core_u32 i = 0; !err && i < init->nxattrs; i++) {
		const cfs_core_new_xattr &x = init->xattrs[i];
		if (x.ns > 0xff)
			err = -CFS_EOPNOTSUPP;
		else
			err = cfs::xattr_set(fs, tx.get(), ip.ptr(),
					     cfs::XattrName{static_cast<std::uint8_t>(x.ns), x.name, x.name_len},
					     x.value, x.value_len, cfs::kXattrCreate);
	}
	if (!err)
		err = cfs::dir_add(fs, tx.get(), dp.ptr(), name, len, &entry);
	if (!err && is_dir_mode(init->mode)) {
		err = cfs::inode_dirty(tx.get(), dp.ptr());
		if (!err)
			add_nlink(dp.ptr(), +1);
	}
	if (err) {
		// Give the inode back inside the same transaction: it commits as a no-op.
		bool done = false;
		int undo = 0;
		while (!undo && !done)
			undo = cfs::inode_free(fs, tx.get(), ip.ptr(), kFreeBudget, &done);
		int commit = tx.commit();
		return undo ? undo : (commit ? commit : err);
	}
	*ino_out = ip->ino;
	return tx.commit();
}

extern "C" int cfs_core_link(struct cfs_core *core, cfs_core_u64 dir, const char *name,
			     cfs_core_u32 len, cfs_core_u64 ino)
{
	cfs::Fs *fs = &core->fs;
	InodeRef dp(fs), ip(fs);
	int err = dp.get(dir);
	if (!err)
		err = ip.get(ino);
	if (err)
		return err;
	if (cfs::inode_nlink(ip.ptr()) >= 0xffffffffu)
		return -CFS_EMLINK;
	Txn tx(core);
	err = tx.begin(dir_budget(fs, dp.ptr()) + 1);
	if (err)
		return err;
	cfs::DirEntry entry{ino, cfs::inode_generation(ip.ptr()), cfs::dir_type_of_mode(cfs::inode_mode(ip.ptr()))};
	err = cfs::dir_add(fs, tx.get(), dp.ptr(), name, len, &entry);
	if (err)
		return err;
	err = cfs::inode_dirty(tx.get(), ip.ptr());
	if (err)
		return err;
	add_nlink(ip.ptr(), +1);
	touch_ctime(fs, ip.ptr());
	return tx.commit();
}

extern "C" int cfs_core_unlink(struct cfs_core *core, cfs_core_u64 dir, const char *name,
			       cfs_core_u32 len, cfs_core_u64 ino, bool is_dir, bool *orphaned)
{
	cfs::Fs *fs = &core->fs;
	*orphaned = false;
	InodeRef dp(fs), ip(fs);
	int err = dp.get(dir);
	if (!err)
		err = ip.get(ino);
	if (err)
		return err;
	if (is_dir) {
		bool empty = false;
		err = cfs::dir_is_empty(fs, ip.ptr(), &empty);
		if (err)
			return err;
		if (!empty)
			return -CFS_ENOTEMPTY;
	}
	Txn tx(core);
	err = tx.begin(dir_budget(fs, dp.ptr()) + kInodeAllocBufs);
	if (err)
		return err;
	cfs::DirEntry removed;
	err = cfs::dir_remove(fs, tx.get(), dp.ptr(), name, len, &removed);
	if (err)
		return err;
	if (removed.ino != ino) {
		// The dentry and the directory disagree: the directory changed under us,
		// which the caller's locks exclude. Treat as corruption.
		return -CFS_EUCLEAN;
	}
	if (is_dir) {
		err = cfs::inode_dirty(tx.get(), dp.ptr());
		if (err)
			return err;
		add_nlink(dp.ptr(), -1);
	}
	err = drop_link(fs, tx.get(), ip.ptr(), orphaned);
	if (err)
		return err;
	return tx.commit();
}

namespace {

// A directory moved from old_parent to new_parent: its ".." and di_parent follow.
[[nodiscard]] int reparent_dir(cfs::Fs *fs, cfs::Trans *tr, cfs::Inode *moved,
			       cfs::Inode *old_parent, cfs::Inode *new_parent)
{
	cfs::DirEntry dotdot{new_parent->ino, cfs::inode_generation(new_parent), CFS_DT_DIR};
	int err = cfs::dir_replace(fs, tr, moved, "..", 2, &dotdot, nullptr);
	if (!err)
		err = cfs::inode_dirty(tr, moved);
	if (!err)
		err = cfs::inode_dirty(tr, old_parent);
	if (!err)
		err = cfs::inode_dirty(tr, new_parent);
	if (err)
		return err;
	cfs::inode_set_parent(moved, new_parent->ino);
	add_nlink(old_parent, -1);
	add_nlink(new_parent, +1);
	return 0;
}

}  // namespace

extern "C" int cfs_core_rename(struct cfs_core *core, cfs_core_u64 old_dir, const char *old_name,
			       cfs_core_u32 old_len, cfs_core_u64 new_dir, const char *new_name,
			       cfs_core_u32 new_len, unsigned int flags, cfs_core_u64 *orphaned_ino)
{
	cfs::Fs *fs = &core->fs;
	*orphaned_ino = 0;
	InodeRef odp(fs), ndp(fs);
	int err = odp.get(old_dir);
	if (!err)
		err = ndp.get(new_dir);
	if (err)
		return err;

	cfs::DirEntry src, dst;
	err = cfs::dir_lookup(fs, odp.ptr(), old_name, old_len, &src);
	if (err)
		return err;
	err = cfs::dir_lookup(fs, ndp.ptr(), new_name, new_len, &dst);
	const bool dst_exists = err == 0;
	if (err && err != -CFS_ENOENT)
		return err;
	if (dst_exists && (flags & CFS_CORE_RENAME_NOREPLACE))
		return -CFS_EEXIST;
	if (!dst_exists && (flags & CFS_CORE_RENAME_EXCHANGE))
		return -CFS_ENOENT;
	if (dst_exists && dst.ino == src.ino)
		return 0;  // two names of one inode: POSIX says do nothing

	InodeRef sp(fs), tp(fs);
	err = sp.get(src.ino);
	if (!err && dst_exists)
		err = tp.get(dst.ino);
	if (err)
		return err;
	const bool src_dir = cfs::inode_is_dir(sp.ptr());
	const bool dst_dir = dst_exists && cfs::inode_is_dir(tp.ptr());
	const bool cross = old_dir != new_dir;
	if (dst_dir && !(flags & CFS_CORE_RENAME_EXCHANGE)) {
		bool empty = false;
		err = cfs::dir_is_empty(fs, tp.ptr(), &empty);
		if (err)
			return err;
		if (!empty)
			return -CFS_ENOTEMPTY;
	}

	Txn tx(core);
	err = tx.begin(dir_budget(fs, odp.ptr()) + dir_budget(fs, ndp.ptr()) + 2 * kInodeAllocBufs + 8);
	if (err)
		return err;
	cfs::Trans *tr = tx.get();

	if (flags & CFS_CORE_RENAME_EXCHANGE) {
		err = cfs::dir_replace(fs, tr, odp.ptr(), old_name, old_len, &dst, nullptr);
		if (!err)
			err = cfs::dir_replace(fs, tr, ndp.ptr(), new_name, new_len, &src, nullptr);
		if (!err && cross && src_dir)
			err = reparent_dir(fs, tr, sp.ptr(), odp.ptr(), ndp.ptr());
		if (!err && cross && dst_dir)
			err = reparent_dir(fs, tr, tp.ptr(), ndp.ptr(), odp.ptr());
		if (!err)
			err = cfs::inode_dirty(tr, tp.ptr());
		if (err)
			return err;
		touch_ctime(fs, tp.ptr());
	} else {
		if (dst_exists) {
			err = cfs::dir_replace(fs, tr, ndp.ptr(), new_name, new_len, &src, nullptr);
			if (err)
				return err;
			bool orphaned = false;
			err = drop_link(fs, tr, tp.ptr(), &orphaned);
			if (!err && dst_dir) {
				// The replaced directory's ".." no longer counts for the new parent.
				err = cfs::inode_dirty(tr, ndp.ptr());
				if (!err)
					add_nlink(ndp.ptr(), -1);
			}
			if (err)
				return err;
			if (orphaned)
				*orphaned_ino = dst.ino;
		} else {
			err = cfs::dir_add(fs, tr, ndp.ptr(), new_name, new_len, &src);
			if (err)
				return err;
		}
		err = cfs::dir_remove(fs, tr, odp.ptr(), old_name, old_len, nullptr);
		if (!err && cross && src_dir)
			err = reparent_dir(fs, tr, sp.ptr(), odp.ptr(), ndp.ptr());
		if (err)
			return err;
	}
	err = cfs::inode_dirty(tr, sp.ptr());
	if (err)
		return err;
	touch_ctime(fs, sp.ptr());
	return tx.commit();
}
