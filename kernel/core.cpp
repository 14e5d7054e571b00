// SPDX-License-Identifier: GPL-2.0
// kernel/core.h implemented on lib/: the only place the glue's plain C structs meet
// lib's C++ types.
#include <new>

#include "core.h"
#include "bmap.h"
#include "dir.h"
#include "fs.h"
#include "inode.h"

struct cfs_core {
	cfs::Fs fs;
};

namespace {
void copy_name(char *dst, const char *src, unsigned size)
{
	unsigned i = 0;
	for (; i + 1 < size && src[i]; i++)
		dst[i] = src[i];
	for (; i < size; i++)
		dst[i] = '\0';
}
}  // namespace

extern "C" int cfs_core_mount(struct cfs_host *host, struct cfs_core **out, struct cfs_core_sb *sb)
{
	cfs_core *core = new (std::nothrow) cfs_core{};
	if (!core)
		return -CFS_ENOMEM;
	bool ro_only = false;
	int err = cfs::fs_open(host, &core->fs, &ro_only);
	if (err) {
		delete core;
		return err;
	}
	const cfs::Fs &fs = core->fs;
	const cfs_sb &disk = fs.sb;
	sb->block_size = fs.bsize;
	sb->block_shift = fs.bsize_shift;
	sb->blocks = fs.blocks;
	sb->root_addr = cfs::from_le64(disk.sb_root_addr);
	sb->master_addr = cfs::from_le64(disk.sb_master_addr);
	sb->rindex_addr = cfs::from_le64(disk.sb_rindex_addr);
	sb->jindex_addr = cfs::from_le64(disk.sb_jindex_addr);
	sb->statfs_addr = cfs::from_le64(disk.sb_statfs_addr);
	sb->journals = cfs::from_le32(disk.sb_journals);
	sb->rgrps = cfs::from_le32(disk.sb_rgrps);
	sb->format_version = cfs::from_le16(disk.sb_header.mh_format);
	sb->ro_only = ro_only;
	for (unsigned i = 0; i < 16; i++)
		sb->uuid[i] = fs.uuid[i];
	copy_name(sb->lockproto, disk.sb_lockproto, sizeof(sb->lockproto));
	copy_name(sb->locktable, disk.sb_locktable, sizeof(sb->locktable));
	copy_name(sb->label, disk.sb_label, sizeof(sb->label));
	*out = core;
	return 0;
}

extern "C" void cfs_core_unmount(struct cfs_core *core)
{
	if (!core)
		return;
	cfs::fs_close(&core->fs);
	delete core;
}

extern "C" const char *cfs_core_locktable_problem(const char *lockproto, const char *locktable)
{
	return cfs::locktable_problem(lockproto, locktable);
}

extern "C" int cfs_core_inode_read(struct cfs_core *core, cfs_core_u64 ino, struct cfs_core_inode *out)
{
	cfs::Buf *bh;
	int err = cfs::meta_read(&core->fs, ino, CFS_BT_DI, ino, &bh);
	if (err)
		return err;
	const cfs_dinode *di = static_cast<const cfs_dinode *>(cfs::buf_data(bh));
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
	cfs::meta_release(&core->fs, bh);
	return 0;
}

extern "C" int cfs_core_statfs(struct cfs_core *core, struct cfs_core_statfs *out)
{
	cfs_statfs sf;
	cfs::Fs *fs = &core->fs;
	int err = cfs::jdata_read(fs, cfs::from_le64(fs->sb.sb_statfs_addr), 0, &sf, sizeof(sf));
	if (err)
		return err;
	out->total = cfs::from_le64(sf.sf_total);
	out->free = cfs::from_le64(sf.sf_free);
	out->dinodes = cfs::from_le64(sf.sf_dinodes);
	return 0;
}

namespace {
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

bool readdir_adapter(void *opaque, const char *name, uint32_t len, const cfs::DirEntry *entry,
		     uint64_t cookie_after)
{
	auto *adapter = static_cast<ReaddirAdapter *>(opaque);
	cfs_core_dirent out;
	to_core_dirent(*entry, &out);
	return adapter->emit(adapter->ctx, name, len, &out, cookie_after);
}
}  // namespace

static_assert(CFS_CORE_DIR_COOKIE_END == cfs::kDirCookieEnd, "readdir cookie space differs from lib's");

extern "C" int cfs_core_lookup(struct cfs_core *core, cfs_core_u64 dir, const char *name,
			       cfs_core_u32 len, struct cfs_core_dirent *out)
{
	cfs::Inode ip;
	int err = cfs::inode_get(&core->fs, dir, &ip);
	if (err)
		return err;
	cfs::DirEntry entry;
	err = cfs::dir_lookup(&core->fs, &ip, name, len, &entry);
	cfs::inode_put(&core->fs, &ip);
	if (!err)
		to_core_dirent(entry, out);
	return err;
}

extern "C" int cfs_core_readdir(struct cfs_core *core, cfs_core_u64 dir, cfs_core_u64 *cookie,
				cfs_core_emit_fn emit, void *ctx)
{
	cfs::Inode ip;
	int err = cfs::inode_get(&core->fs, dir, &ip);
	if (err)
		return err;
	ReaddirAdapter adapter{emit, ctx};
	err = cfs::dir_readdir(&core->fs, &ip, cookie, readdir_adapter, &adapter);
	cfs::inode_put(&core->fs, &ip);
	return err;
}

extern "C" int cfs_core_bmap(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 lblock,
			     cfs_core_u64 max_count, struct cfs_core_map *out)
{
	cfs::Inode ip;
	int err = cfs::inode_get(&core->fs, ino, &ip);
	if (err)
		return err;
	cfs::BmapExtent extent;
	err = cfs::bmap_lookup(&core->fs, &ip, lblock, max_count, &extent);
	cfs::inode_put(&core->fs, &ip);
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
	cfs::Inode ip;
	int err = cfs::inode_get(&core->fs, ino, &ip);
	if (err)
		return err;
	err = cfs::inode_read_inline(&core->fs, &ip, off, buf, len);
	cfs::inode_put(&core->fs, &ip);
	return err;
}
