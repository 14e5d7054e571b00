// SPDX-License-Identifier: GPL-2.0
// Reads: inodes, directory lookup and readdir, the block map, inline data (and its
// write, which lives next to its read).
#include "core_internal.h"
#include "dir.h"

using namespace cfs_core_detail;

// ---- Reads --------------------------------------------------------------------------------

namespace {

void fill_core_inode(const cfs::Inode *ip, cfs_core_inode *out)
{
	const auto *di = static_cast<const cfs_dinode *>(cfs::buf_data(ip->bh));
	out->mode = cfs::from_le32(di->di_mode);
	out->uid = cfs::from_le32(di->di_uid);
	out->gid = cfs::from_le32(di->di_gid);
	out->nlink = cfs::from_le32(di->di_nlink);
	out->size = cfs::from_le64(di->di_size);
	out->blocks = cfs::from_le64(di->di_blocks);
	out->generation = cfs::from_le64(di->di_generation);
	out->atime_sec = static_cast<cfs_core_s64>(cfs::from_le64(di->di_atime));
	out->mtime_sec = static_cast<cfs_core_s64>(cfs::from_le64(di->di_mtime));
	out->ctime_sec = static_cast<cfs_core_s64>(cfs::from_le64(di->di_ctime));
	out->crtime_sec = static_cast<cfs_core_s64>(cfs::from_le64(di->di_crtime));
	out->atime_nsec = cfs::from_le32(di->di_atime_nsec);
	out->mtime_nsec = cfs::from_le32(di->di_mtime_nsec);
	out->ctime_nsec = cfs::from_le32(di->di_ctime_nsec);
	out->crtime_nsec = cfs::from_le32(di->di_crtime_nsec);
	out->flags = cfs::from_le32(di->di_flags);
	out->height = cfs::from_le16(di->di_height);
	out->rdev_major = cfs::from_le32(di->di_rdev_major);
	out->rdev_minor = cfs::from_le32(di->di_rdev_minor);
}

void to_core_dirent(const cfs::DirEntry &from, cfs_core_dirent *to)
{
	to->ino = from.ino;
	to->generation = from.generation;
	to->type = from.type;
}

struct ReaddirAdapter {
	cfs_core_emit_fn emit;
	void *ctx;
};

bool readdir_adapter(void *opaque, const char *name, std::uint32_t len, const cfs::DirEntry *entry,
		     std::uint64_t cookie_after)
{
	auto *adapter = static_cast<ReaddirAdapter *>(opaque);
	cfs_core_dirent out;
	to_core_dirent(*entry, &out);
	return adapter->emit(adapter->ctx, name, len, &out, cookie_after);
}
}  // namespace

extern "C" int cfs_core_inode_read(struct cfs_core *core, cfs_core_u64 ino, struct cfs_core_inode *out)
{
	InodeRef ip(&core->fs);
	int err = ip.get(ino);
	if (err)
		return err;
	fill_core_inode(ip.ptr(), out);
	return 0;
}

static_assert(CFS_CORE_DIR_COOKIE_END == cfs::kDirCookieEnd, "readdir cookie space differs from lib's");

extern "C" int cfs_core_lookup(struct cfs_core *core, cfs_core_u64 dir, const char *name,
			       cfs_core_u32 len, struct cfs_core_dirent *out)
{
	InodeRef dp(&core->fs);
	int err = dp.get(dir);
	if (err)
		return err;
	cfs::DirEntry entry;
	err = cfs::dir_lookup(&core->fs, dp.ptr(), name, len, &entry);
	if (!err)
		to_core_dirent(entry, out);
	return err;
}

extern "C" int cfs_core_readdir(struct cfs_core *core, cfs_core_u64 dir, cfs_core_u64 *cookie,
				cfs_core_emit_fn emit, void *ctx)
{
	InodeRef dp(&core->fs);
	int err = dp.get(dir);
	if (err)
		return err;
	ReaddirAdapter adapter{emit, ctx};
	return cfs::dir_readdir(&core->fs, dp.ptr(), cookie, readdir_adapter, &adapter);
}

extern "C" int cfs_core_bmap(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 lblock,
			     cfs_core_u64 max_count, struct cfs_core_map *out)
{
	InodeRef ip(&core->fs);
	int err = ip.get(ino);
	if (err)
		return err;
	cfs::BmapExtent extent;
	err = cfs::bmap_lookup(&core->fs, ip.ptr(), lblock, max_count, &extent);
	if (err)
		return err;
	out->disk_block = extent.disk_block;
	out->count = extent.count;
	out->fresh = extent.fresh;
	return 0;
}

extern "C" int cfs_core_read_inline(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 off,
				    void *buf, cfs_core_u32 len)
{
	InodeRef ip(&core->fs);
	int err = ip.get(ino);
	if (err)
		return err;
	return cfs::inode_read_inline(&core->fs, ip.ptr(), off, buf, len);
}

extern "C" cfs_core_u32 cfs_core_inline_capacity(struct cfs_core *core)
{
	return cfs::inode_inline_capacity(&core->fs);
}

extern "C" int cfs_core_write_inline(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 off,
				     const void *buf, cfs_core_u32 len,
				     const struct cfs_core_inode *attrs, unsigned int attr_mask)
{
	InodeRef ip(&core->fs);
	int err = ip.get(ino);
	if (err)
		return err;
	Txn tx(core);
	err = tx.begin(1);
	if (err)
		return err;
	err = cfs::inode_write_inline(&core->fs, tx.get(), ip.ptr(), off, buf, len);
	if (err)
		return err;
	if (attr_mask)
		apply_attrs(ip.ptr(), attrs, attr_mask & ~CFS_CORE_ATTR_SIZE);
	return tx.commit();
}
