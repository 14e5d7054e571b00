// SPDX-License-Identifier: GPL-2.0
// Inode changes: attributes (setattr, writeback), extended attributes, size (truncate,
// extend, punch), and freeing unlinked inodes (one at a time, or every leftover after a
// crash).
#include "core_internal.h"
#include "rgrp.h"
#include "xattr.h"

using namespace cfs_core_detail;

// ---- Inode attributes -------------------------------------------------------------------

namespace {

bool same_time(cfs::Inode *ip, cfs::InodeTime which, cfs_core_s64 sec, cfs_core_u32 nsec)
{
	cfs_timespec t = cfs::inode_time(ip, which);
	return t.sec == sec && t.nsec == nsec;
}

// Whether cfs_core_update_inode would leave the dinode as it is: writeback of an inode
// whose changes were already journaled by the operation that made them (create, write,
// setattr) must not log its dinode a second time.
bool update_is_noop(cfs::Inode *ip, const cfs_core_inode *attrs, unsigned int mask)
{
	if ((mask & CFS_CORE_ATTR_MODE) && (cfs::inode_mode(ip) & 07777) != (attrs->mode & 07777))
		return false;
	if ((mask & CFS_CORE_ATTR_OWNER) &&
	    (cfs::inode_uid(ip) != attrs->uid || cfs::inode_gid(ip) != attrs->gid))
		return false;
	if ((mask & CFS_CORE_ATTR_TIMES) &&
	    !(same_time(ip, cfs::InodeTime::atime, attrs->atime_sec, attrs->atime_nsec) &&
	      same_time(ip, cfs::InodeTime::mtime, attrs->mtime_sec, attrs->mtime_nsec) &&
	      same_time(ip, cfs::InodeTime::ctime, attrs->ctime_sec, attrs->ctime_nsec)))
		return false;
	if ((mask & CFS_CORE_ATTR_SIZE) &&
	    (cfs::inode_mode(ip) & kModeTypeMask) == kModeReg && cfs::inode_height(ip) > 0 &&
	    attrs->size > cfs::inode_size(ip))
		return false;
	return true;
}

}  // namespace

namespace cfs_core_detail {

// Copies the VFS's attributes named by `mask` into a dinode already in a transaction.
void apply_attrs(cfs::Inode *ip, const struct cfs_core_inode *attrs, unsigned int mask)
{
	if (mask & CFS_CORE_ATTR_MODE) {
		// The file type never changes: only permission bits come from the VFS.
		std::uint32_t mode = cfs::inode_mode(ip);
		cfs::inode_set_mode(ip, (mode & kModeTypeMask) | (attrs->mode & 07777));
	}
	if (mask & CFS_CORE_ATTR_OWNER)
		cfs::inode_set_owner(ip, attrs->uid, attrs->gid);
	if (mask & CFS_CORE_ATTR_TIMES) {
		cfs::inode_set_time(ip, cfs::InodeTime::atime, {attrs->atime_sec, attrs->atime_nsec});
		cfs::inode_set_time(ip, cfs::InodeTime::mtime, {attrs->mtime_sec, attrs->mtime_nsec});
		cfs::inode_set_time(ip, cfs::InodeTime::ctime, {attrs->ctime_sec, attrs->ctime_nsec});
	}
	if ((mask & CFS_CORE_ATTR_SIZE) &&
	    (cfs::inode_mode(ip) & kModeTypeMask) == kModeReg &&
	    cfs::inode_height(ip) > 0 && attrs->size > cfs::inode_size(ip))
		cfs::inode_set_size(ip, attrs->size);
}

}  // namespace cfs_core_detail

extern "C" int cfs_core_update_inode(struct cfs_core *core, cfs_core_u64 ino,
				     const struct cfs_core_inode *attrs, unsigned int mask)
{
	cfs::Fs *fs = &core->fs;
	InodeRef ip(fs);
	int err = ip.get(ino);
	if (err)
		return err;
	// The VFS inode of a number another node freed and reused is not this dinode's.
	if (cfs::inode_generation(ip.ptr()) != attrs->generation)
		return -CFS_ESTALE;
	if (update_is_noop(ip.ptr(), attrs, mask))
		return 0;
	Txn tx(core);
	err = tx.begin(1);
	if (err)
		return err;
	err = cfs::inode_dirty(tx.get(), ip.ptr());
	if (err)
		return err;
	apply_attrs(ip.ptr(), attrs, mask);
	return tx.commit();
}

// ---- Extended attributes -----------------------------------------------------------------

extern "C" int cfs_core_xattr_get(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u32 ns,
				  const char *name, cfs_core_u32 len, void *buf,
				  cfs_core_u32 size, cfs_core_u32 *value_len)
{
	InodeRef ip(&core->fs);
	int err = ip.get(ino);
	if (err)
		return err;
	const cfs::XattrName xn{static_cast<std::uint8_t>(ns), name, len};
	return cfs::xattr_get(&core->fs, ip.ptr(), xn, buf, size, value_len);
}

extern "C" int cfs_core_xattr_list(struct cfs_core *core, cfs_core_u64 ino, bool with_trusted,
				   char *buf, cfs_core_u32 size, cfs_core_u32 *total)
{
	InodeRef ip(&core->fs);
	int err = ip.get(ino);
	if (err)
		return err;
	return cfs::xattr_list(&core->fs, ip.ptr(), with_trusted, buf, size, total);
}

extern "C" int cfs_core_xattr_set(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u32 ns,
				  const char *name, cfs_core_u32 len, const void *value,
				  cfs_core_u32 value_len, unsigned int flags,
				  const struct cfs_core_inode *attrs, unsigned int attr_mask,
				  cfs_core_u64 *blocks)
{
	cfs::Fs *fs = &core->fs;
	if (ns > 0xff)
		return -CFS_EOPNOTSUPP;
	InodeRef ip(fs);
	int err = ip.get(ino);
	if (err)
		return err;
	Txn tx(core);
	err = tx.begin(cfs::kXattrSetMaxBufs);
	if (err)
		return err;
	unsigned lib_flags = 0;
	if (flags & CFS_CORE_XATTR_CREATE)
		lib_flags |= cfs::kXattrCreate;
	if (flags & CFS_CORE_XATTR_REPLACE)
		lib_flags |= cfs::kXattrReplace;
	const cfs::XattrName xn{static_cast<std::uint8_t>(ns), name, len};
	err = cfs::xattr_set(fs, tx.get(), ip.ptr(), xn, value, value_len, lib_flags);
	// lib checks everything before its first change: on an error nothing changed.
	if (err == -CFS_ENODATA && !value && (flags & CFS_CORE_XATTR_ABSENT_OK))
		err = 0;
	if (err)
		return err;
	if (attr_mask) {
		err = cfs::inode_dirty(tx.get(), ip.ptr());
		if (err)
			return err;
		apply_attrs(ip.ptr(), attrs, attr_mask);
	}
	*blocks = cfs::inode_blocks(ip.ptr());
	return tx.commit();
}

// ---- Size and blocks --------------------------------------------------------------------

namespace {

// A stuffed file set to a size past its inline area is unstuffed first: the tail
// becomes a hole.
[[nodiscard]] int unstuff_for_size(cfs_core *core, cfs::Trans *tr, cfs::Inode *ip, std::uint64_t size)
{
	if (cfs::inode_height(ip) != 0 || size <= cfs::inode_inline_capacity(&core->fs))
		return 0;
	return unstuff(core, tr, ip);
}

}  // namespace

extern "C" int cfs_core_truncate_step(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 size,
				      bool *done)
{
	cfs::Fs *fs = &core->fs;
	*done = false;
	InodeRef ip(fs);
	int err = ip.get(ino);
	if (err)
		return err;
	Txn tx(core);
	err = tx.begin(kFreeBudget + kAllocBufs);
	if (err)
		return err;
	err = unstuff_for_size(core, tx.get(), ip.ptr(), size);
	if (err)
		return err;
	err = cfs::inode_truncate(fs, tx.get(), ip.ptr(), size, kFreeBudget, done);
	if (err)
		return err;
	return tx.commit();
}

extern "C" int cfs_core_extend(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 size)
{
	cfs::Fs *fs = &core->fs;
	InodeRef ip(fs);
	int err = ip.get(ino);
	if (err)
		return err;
	Txn tx(core);
	err = tx.begin(kAllocBufs);
	if (err)
		return err;
	err = unstuff_for_size(core, tx.get(), ip.ptr(), size);
	if (err)
		return err;
	err = cfs::inode_extend(fs, tx.get(), ip.ptr(), size);
	if (err)
		return err;
	return tx.commit();
}

extern "C" int cfs_core_punch_step(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 first,
				   cfs_core_u64 end, bool *done)
{
	cfs::Fs *fs = &core->fs;
	*done = false;
	InodeRef ip(fs);
	int err = ip.get(ino);
	if (err)
		return err;
	if (cfs::inode_height(ip.ptr()) == 0) {
		*done = true;  // stuffed: the caller zeroes inline bytes through the page cache
		return 0;
	}
	Txn tx(core);
	err = tx.begin(kFreeBudget + kInodeAllocBufs);
	if (err)
		return err;
	err = cfs::inode_dirty(tx.get(), ip.ptr());
	if (err)
		return err;
	err = cfs::bmap_punch(fs, tx.get(), ip.ptr(), first, end, kFreeBudget, done);
	if (err)
		return err;
	cfs::inode_touch(fs, ip.ptr(), true);
	return tx.commit();
}

// ---- Unlinked inodes --------------------------------------------------------------------

extern "C" int cfs_core_free_inode_step(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 generation,
					bool *done)
{
	cfs::Fs *fs = &core->fs;
	*done = false;
	InodeRef ip(fs);
	int err = ip.get(ino);
	if (err)
		return err;
	// Only the inode the caller knows, still marked unlinked in its group's bitmap (the
	// last unlink marks it, GFS2 checks the same): with other nodes, an inode freed
	// elsewhere, whose block now holds a new inode or nothing, is never freed twice.
	if (cfs::inode_generation(ip.ptr()) != generation)
		return -CFS_ESTALE;
	int state = cfs::block_state(fs, ino);
	if (state < 0)
		return state;
	if (state != CFS_BLKST_UNLINKED)
		return -CFS_ESTALE;
	if (cfs::inode_nlink(ip.ptr()) != 0)
		return -CFS_EUCLEAN;  // marked unlinked but still linked: damage
	Txn tx(core);
	err = tx.begin(kFreeBudget + kInodeAllocBufs);
	if (err)
		return err;
	err = cfs::inode_free(fs, tx.get(), ip.ptr(), kFreeBudget, done);
	if (err)
		return err;
	return tx.commit();
}

namespace {

// Frees every dinode of resource group `rg` left in state UNLINKED (unlinked while open,
// then a crash): nobody can have it open after a fresh mount of a lock_nolock fs.
[[nodiscard]] int reclaim_rgrp_unlinked(cfs_core *core, const cfs::Rgrp &rg, cfs_core_u32 *freed)
{
	cfs::Fs *fs = &core->fs;
	const std::uint32_t bsize = fs->bsize;
	std::uint32_t first_byte = 0;  // bitmap byte at the start of metadata block k
	for (std::uint32_t k = 0; k < rg.length && std::uint64_t(first_byte) * CFS_NBBY < rg.data; k++) {
		const std::uint32_t offset = k == 0 ? CFS_RG_BITMAP_OFFSET : CFS_RB_BITMAP_OFFSET;
		const std::uint32_t bytes = bsize - offset;
		std::uint32_t entries = bytes * CFS_NBBY;
		if (std::uint64_t(first_byte) * CFS_NBBY + entries > rg.data)
			entries = rg.data - first_byte * CFS_NBBY;
		// Collect first: freeing rewrites this very bitmap block.
		std::uint64_t victims[64];
		std::uint32_t nvictims = 0;
		{
			cfs::Buf *b;
			int err = cfs::meta_read(fs, rg.addr + k, k == 0 ? CFS_BT_RG : CFS_BT_RB, 0, &b);
			if (err)
				return err;
			const auto *bitmap = static_cast<const std::uint8_t *>(cfs::buf_data(b)) + offset;
			for (std::uint32_t i = cfs::bitmap_find(bitmap, 0, entries, CFS_BLKST_UNLINKED);
			     i < entries && nvictims < 64;
			     i = cfs::bitmap_find(bitmap, i + 1, entries, CFS_BLKST_UNLINKED))
				victims[nvictims++] = rg.data0 + std::uint64_t(first_byte) * CFS_NBBY + i;
			cfs::meta_release(fs, b);
		}
		for (std::uint32_t v = 0; v < nvictims; v++) {
			bool done = false;
			while (!done) {
				cfs_core_inode di;
				int err = cfs_core_inode_read(core, victims[v], &di);
				if (!err)
					err = cfs_core_free_inode_step(core, victims[v], di.generation, &done);
				if (err)
					return err;
			}
			(*freed)++;
		}
		if (nvictims == 64)
			k--;  // more in this block: look again
		else
			first_byte += bytes;
	}
	return 0;
}

// rg_unlinked of resource group `rg`, read from its header (verified).
[[nodiscard]] int rgrp_unlinked_count(cfs::Fs *fs, const cfs::Rgrp &rg, std::uint32_t *unlinked)
{
	cfs::Buf *b;
	int err = cfs::meta_read(fs, rg.addr, CFS_BT_RG, 0, &b);
	if (err)
		return err;
	*unlinked = cfs::from_le32(static_cast<const cfs_rgrp *>(cfs::buf_data(b))->rg_unlinked);
	cfs::meta_release(fs, b);
	return 0;
}

}  // namespace

extern "C" int cfs_core_reclaim_unlinked(struct cfs_core *core, cfs_core_u32 *freed)
{
	cfs::Fs *fs = &core->fs;
	*freed = 0;
	if (!core->journal)
		return 0;
	for (std::uint32_t i = 0; i < fs->rgrps.count; i++) {
		const cfs::Rgrp &rg = fs->rgrps.rgrps[i];
		std::uint32_t unlinked;
		int err = rgrp_unlinked_count(fs, rg, &unlinked);
		if (err)
			return err;
		if (unlinked) {
			err = reclaim_rgrp_unlinked(core, rg, freed);
			if (err)
				return err;
		}
	}
	return 0;
}

extern "C" int cfs_core_next_unlinked(struct cfs_core *core, cfs_core_u64 from, cfs_core_u64 *ino)
{
	cfs::Fs *fs = &core->fs;
	const std::uint32_t bsize = fs->bsize;
	for (std::uint32_t r = 0; r < fs->rgrps.count; r++) {
		const cfs::Rgrp &rg = fs->rgrps.rgrps[r];
		if (from >= rg.data0 + rg.data)
			continue;
		std::uint32_t unlinked;
		cfs::Buf *b;
		int err = rgrp_unlinked_count(fs, rg, &unlinked);
		if (err)
			return err;
		if (!unlinked)
			continue;
		std::uint32_t first_byte = 0;  // bitmap byte at the start of metadata block k
		for (std::uint32_t k = 0; k < rg.length && std::uint64_t(first_byte) * CFS_NBBY < rg.data; k++) {
			const std::uint32_t offset = k == 0 ? CFS_RG_BITMAP_OFFSET : CFS_RB_BITMAP_OFFSET;
			const std::uint32_t bytes = bsize - offset;
			std::uint32_t entries = bytes * CFS_NBBY;
			const std::uint64_t base = rg.data0 + std::uint64_t(first_byte) * CFS_NBBY;
			if (std::uint64_t(first_byte) * CFS_NBBY + entries > rg.data)
				entries = rg.data - first_byte * CFS_NBBY;
			first_byte += bytes;
			if (from >= base + entries)
				continue;
			err = cfs::meta_read(fs, rg.addr + k, k == 0 ? CFS_BT_RG : CFS_BT_RB, 0, &b);
			if (err)
				return err;
			const auto *bitmap = static_cast<const std::uint8_t *>(cfs::buf_data(b)) + offset;
			const std::uint32_t start = from > base ? std::uint32_t(from - base) : 0;
			const std::uint32_t i = cfs::bitmap_find(bitmap, start, entries, CFS_BLKST_UNLINKED);
			cfs::meta_release(fs, b);
			if (i < entries) {
				*ino = base + i;
				return 0;
			}
		}
	}
	return -CFS_ENOENT;
}
