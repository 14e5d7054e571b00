// Dinodes: see inode.h.
#include "inode.h"

#include "algo_util.h"
#include "bmap.h"
#include "dir.h"
#include "rgrp.h"
#include "trans.h"
#include "xattr.h"

namespace cfs {

namespace {

cfs_dinode *di(const Inode *ip) { return algo::dinode_of(ip->bh); }

uint8_t *inline_area(const Inode *ip)
{
	return static_cast<uint8_t *>(buf_data(ip->bh)) + CFS_DINODE_SIZE;
}

}  // namespace

int inode_get(Fs *fs, uint64_t ino, Inode *ip)
{
	ip->ino = ino;
	ip->bh = nullptr;
	if (ino == 0 || ino >= fs->blocks)
		return algo::corrupt(fs, ino, "inode number outside the filesystem");
	return meta_read(fs, ino, CFS_BT_DI, ino, &ip->bh);
}

void inode_put(Fs *fs, Inode *ip)
{
	if (ip->bh)
		meta_release(fs, ip->bh);
	ip->bh = nullptr;
}

uint32_t inode_mode(const Inode *ip) { return algo::load32(&di(ip)->di_mode); }
uint32_t inode_uid(const Inode *ip) { return algo::load32(&di(ip)->di_uid); }
uint32_t inode_gid(const Inode *ip) { return algo::load32(&di(ip)->di_gid); }
uint32_t inode_nlink(const Inode *ip) { return algo::load32(&di(ip)->di_nlink); }
uint64_t inode_size(const Inode *ip) { return algo::load64(&di(ip)->di_size); }
uint64_t inode_blocks(const Inode *ip) { return algo::load64(&di(ip)->di_blocks); }
uint64_t inode_generation(const Inode *ip) { return algo::load64(&di(ip)->di_generation); }
unsigned inode_height(const Inode *ip) { return algo::load16(&di(ip)->di_height); }
uint32_t inode_flags(const Inode *ip) { return algo::load32(&di(ip)->di_flags); }
uint64_t inode_parent(const Inode *ip) { return algo::load64(&di(ip)->di_parent); }

bool inode_is_dir(const Inode *ip)
{
	return (inode_mode(ip) & kModeTypeMask) == kModeDir;
}

bool inode_has_inline_data(const Inode *ip)
{
	// A linear directory's di_size is its inline area; a hashed directory at height 0
	// holds its table (di_size bytes) there.
	return inode_height(ip) == 0 && inode_size(ip) > 0;
}

void inode_rdev(const Inode *ip, uint32_t *major, uint32_t *minor)
{
	*major = algo::load32(&di(ip)->di_rdev_major);
	*minor = algo::load32(&di(ip)->di_rdev_minor);
}

cfs_timespec inode_time(const Inode *ip, InodeTime which)
{
	const cfs_dinode *d = di(ip);
	switch (which) {
	case InodeTime::atime:
		return {int64_t(algo::load64(&d->di_atime)), algo::load32(&d->di_atime_nsec)};
	case InodeTime::mtime:
		return {int64_t(algo::load64(&d->di_mtime)), algo::load32(&d->di_mtime_nsec)};
	case InodeTime::ctime:
		return {int64_t(algo::load64(&d->di_ctime)), algo::load32(&d->di_ctime_nsec)};
	case InodeTime::crtime:
		break;
	}
	return {int64_t(algo::load64(&d->di_crtime)), algo::load32(&d->di_crtime_nsec)};
}

int inode_dirty(Trans *tr, Inode *ip) { return trans_add_buf(tr, ip->bh); }

void inode_set_mode(Inode *ip, uint32_t mode) { algo::store32(&di(ip)->di_mode, mode); }
void inode_set_nlink(Inode *ip, uint32_t n) { algo::store32(&di(ip)->di_nlink, n); }
void inode_set_size(Inode *ip, uint64_t size) { algo::store64(&di(ip)->di_size, size); }
void inode_set_flags(Inode *ip, uint32_t flags) { algo::store32(&di(ip)->di_flags, flags); }
void inode_set_parent(Inode *ip, uint64_t p) { algo::store64(&di(ip)->di_parent, p); }

void inode_set_owner(Inode *ip, uint32_t uid, uint32_t gid)
{
	algo::store32(&di(ip)->di_uid, uid);
	algo::store32(&di(ip)->di_gid, gid);
}

void inode_set_height(Inode *ip, unsigned height)
{
	algo::store16(&di(ip)->di_height, uint16_t(height));
}

void inode_add_blocks(Inode *ip, uint64_t n)
{
	algo::store64(&di(ip)->di_blocks, inode_blocks(ip) + n);
}

void inode_sub_blocks(Inode *ip, uint64_t n)
{
	uint64_t have = inode_blocks(ip);
	// Never below the dinode itself; fsck reports a count that was wrong to begin with.
	algo::store64(&di(ip)->di_blocks, have > n + 1 ? have - n : 1);
}

void inode_set_time(Inode *ip, InodeTime which, cfs_timespec t)
{
	cfs_dinode *d = di(ip);
	cfs_le64 *sec = &d->di_crtime;
	cfs_le32 *nsec = &d->di_crtime_nsec;
	switch (which) {
	case InodeTime::atime: sec = &d->di_atime; nsec = &d->di_atime_nsec; break;
	case InodeTime::mtime: sec = &d->di_mtime; nsec = &d->di_mtime_nsec; break;
	case InodeTime::ctime: sec = &d->di_ctime; nsec = &d->di_ctime_nsec; break;
	case InodeTime::crtime: break;
	}
	algo::store64(sec, uint64_t(t.sec));
	algo::store32(nsec, t.nsec);
}

void inode_touch(Fs *fs, Inode *ip, bool mtime)
{
	cfs_timespec now;
	fs_now(fs, &now);
	inode_set_time(ip, InodeTime::ctime, now);
	if (mtime)
		inode_set_time(ip, InodeTime::mtime, now);
}

int inode_alloc(Fs *fs, Trans *tr, uint64_t goal, const InodeInit *init, Inode *ip)
{
	ip->ino = 0;
	ip->bh = nullptr;
	uint32_t type = init->mode & kModeTypeMask;
	if (type == 0)
		return -CFS_EINVAL;
	uint64_t blk, generation = 0;
	uint32_t got;
	int err = rgrp_alloc(fs, tr, goal, 1, CFS_BLKST_DINODE, &blk, &got, &generation);
	if (err)
		return err;
	Buf *bh;
	err = meta_new(fs, blk, CFS_BT_DI, blk, &bh);
	if (!err) {
		err = trans_add_buf(tr, bh);
		if (err)
			meta_release(fs, bh);
	}
	if (err) {
		(void)rgrp_free(fs, tr, blk, 1);
		return err;
	}
	ip->ino = blk;
	ip->bh = bh;
	cfs_dinode *d = di(ip);
	cfs_timespec now;
	if (init->now)
		now = *init->now;
	else
		fs_now(fs, &now);
	algo::store32(&d->di_mode, init->mode);
	algo::store32(&d->di_uid, init->uid);
	algo::store32(&d->di_gid, init->gid);
	algo::store32(&d->di_nlink, type == kModeDir ? 2 : init->nlink);
	algo::store64(&d->di_blocks, 1);
	algo::store64(&d->di_generation, generation);
	algo::store32(&d->di_flags, init->flags);
	if (type == kModeChr || type == kModeBlk) {
		algo::store32(&d->di_rdev_major, init->rdev_major);
		algo::store32(&d->di_rdev_minor, init->rdev_minor);
	}
	inode_set_time(ip, InodeTime::atime, now);
	inode_set_time(ip, InodeTime::mtime, now);
	inode_set_time(ip, InodeTime::ctime, now);
	inode_set_time(ip, InodeTime::crtime, now);
	if (type == kModeDir) {
		uint64_t parent = init->parent ? init->parent : blk;
		uint64_t parent_gen = generation;
		if (parent != blk) {
			Inode p;
			err = inode_get(fs, parent, &p);
			if (err)
				return err;  // the dinode is in tr: caller cancels or withdraws
			parent_gen = inode_generation(&p);
			inode_put(fs, &p);
		}
		dir_init_linear(fs, ip, generation, parent, parent_gen);
	}
	return 0;
}

uint32_t inode_inline_capacity(Fs *fs) { return fs->inline_size; }

int inode_read_inline(Fs *fs, const Inode *ip, uint64_t off, void *buf, uint32_t len)
{
	if (inode_height(ip) != 0 || inode_is_dir(ip))
		return -CFS_EINVAL;
	uint64_t size = inode_size(ip);
	if (size > fs->inline_size)
		return algo::corrupt(fs, ip->ino, "stuffed dinode larger than its inline area");
	uint8_t *dst = static_cast<uint8_t *>(buf);
	uint32_t have = off < size ? uint32_t(size - off < len ? size - off : len) : 0;
	if (have)
		algo::mem_copy(dst, inline_area(ip) + off, have);
	if (have < len)
		algo::mem_zero(dst + have, len - have);
	return 0;
}

int inode_write_inline(Fs *fs, Trans *tr, Inode *ip, uint64_t off, const void *buf,
		       uint32_t len)
{
	if (inode_height(ip) != 0 || inode_is_dir(ip))
		return -CFS_EINVAL;
	if (off > fs->inline_size || len > fs->inline_size - off)
		return -CFS_EFBIG;
	int err = trans_add_buf(tr, ip->bh);
	if (err)
		return err;
	algo::mem_copy(inline_area(ip) + off, buf, len);
	if (off + len > inode_size(ip))
		inode_set_size(ip, off + len);
	return 0;
}

int inode_unstuff(Fs *fs, Trans *tr, Inode *ip, void *data_out, uint64_t *data_block)
{
	*data_block = 0;
	if (inode_height(ip) != 0 || inode_is_dir(ip))
		return -CFS_EINVAL;
	uint64_t size = inode_size(ip);
	if (size > fs->inline_size)
		return algo::corrupt(fs, ip->ino, "stuffed dinode larger than its inline area");
	int err = trans_add_buf(tr, ip->bh);
	if (err)
		return err;
	if (size == 0) {
		algo::mem_zero(inline_area(ip), fs->inline_size);
		inode_set_height(ip, 1);
		return 0;
	}
	uint64_t blk;
	uint32_t got;
	err = rgrp_alloc(fs, tr, ip->ino + 1, 1, CFS_BLKST_USED, &blk, &got, nullptr);
	if (err)
		return err;
	uint8_t *out = static_cast<uint8_t *>(data_out);
	algo::mem_copy(out, inline_area(ip), size_t(size));
	algo::mem_zero(out + size, fs->bsize - size);
	algo::mem_zero(inline_area(ip), fs->inline_size);
	algo::store64(algo::dinode_ptrs(ip->bh), blk);
	inode_set_height(ip, 1);
	inode_add_blocks(ip, 1);
	algo::store64(&di(ip)->di_goal_data, blk);
	*data_block = blk;
	return 0;
}

int inode_truncate(Fs *fs, Trans *tr, Inode *ip, uint64_t new_size, unsigned budget,
		   bool *done)
{
	*done = true;
	int err = trans_add_buf(tr, ip->bh);
	if (err)
		return err;
	if (inode_height(ip) == 0) {
		if (inode_is_dir(ip))
			return -CFS_EISDIR;
		uint64_t size = inode_size(ip);
		if (new_size > fs->inline_size) {
			// Growing past the inline area leaves a hole: the caller unstuffs first.
			return -CFS_EFBIG;
		}
		if (new_size < size)
			algo::mem_zero(inline_area(ip) + new_size, size_t(size - new_size));
		inode_set_size(ip, new_size);
		inode_touch(fs, ip, true);
		return 0;
	}
	// Every block past the new end goes, blocks preallocated past the old size included
	// (as ext4). A size that grows goes through inode_extend, which frees nothing.
	uint64_t first_free = (new_size + fs->bsize - 1) >> fs->bsize_shift;
	err = bmap_punch(fs, tr, ip, first_free, ~uint64_t(0), budget, done);
	if (err || !*done)
		return err;
	if (new_size == 0 && !inode_is_dir(ip)) {
		// Back to an empty stuffed file: no pointer is left in the dinode.
		algo::mem_zero(inline_area(ip), fs->inline_size);
		inode_set_height(ip, 0);
	}
	inode_set_size(ip, new_size);
	inode_touch(fs, ip, true);
	return 0;
}

int inode_extend(Fs *fs, Trans *tr, Inode *ip, uint64_t new_size)
{
	if (new_size < inode_size(ip))
		return -CFS_EINVAL;  // a shrink: inode_truncate
	if (inode_height(ip) == 0 && (inode_is_dir(ip) || new_size > fs->inline_size))
		return inode_is_dir(ip) ? -CFS_EISDIR : -CFS_EFBIG;  // past inline: unstuff first
	int err = trans_add_buf(tr, ip->bh);
	if (err)
		return err;
	inode_set_size(ip, new_size);
	inode_touch(fs, ip, true);
	return 0;
}

int inode_free(Fs *fs, Trans *tr, Inode *ip, unsigned budget, bool *done)
{
	*done = false;
	int err = trans_add_buf(tr, ip->bh);
	if (err)
		return err;
	if (const uint64_t xblk = inode_xattr_block(ip)) {
		if (!rgrp_check_wanted(fs, xblk))
			return 0;
		// A step of its own, so the tree's budget below stays what the caller planned.
		return xattr_free_block(fs, tr, ip);
	}
	if (inode_is_dir(ip) && (inode_flags(ip) & CFS_DIF_EXHASH)) {
		bool leaves_done;
		err = dir_free_leaves(fs, tr, ip, budget, &leaves_done);
		if (err || !leaves_done)
			return err;
	}
	bool tree_done;
	err = bmap_punch(fs, tr, ip, 0, ~uint64_t(0), budget, &tree_done);
	if (err || !tree_done)
		return err;
	// The tree is empty: the dinode itself goes. Its buffer stays in the transaction
	// (and the journal) but is revoked, so a replay never resurrects it.
	if (!rgrp_check_wanted(fs, ip->ino))
		return 0;
	err = rgrp_free(fs, tr, ip->ino, 1);
	if (!err)
		err = trans_add_revoke(tr, ip->ino);
	if (err)
		return err;
	inode_put(fs, ip);
	*done = true;
	return 0;
}

}  // namespace cfs
