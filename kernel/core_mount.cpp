// SPDX-License-Identifier: GPL-2.0
// Mounting and unmounting (struct cfs_core), the lock table check, the resource group
// table (load, refresh), statfs and the largest file size.
#include <new>

#include "core_internal.h"
#include "rgrp.h"
#include "statfs.h"

using namespace cfs_core_detail;

// ---- Mount ------------------------------------------------------------------------------

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
	core->block_buffer = static_cast<std::uint8_t *>(cfs_env_alloc(host, core->fs.bsize, 0));
	if (!core->block_buffer) {
		cfs::fs_close(&core->fs);
		delete core;
		return -CFS_ENOMEM;
	}
	cfs::bmap_geometry_init(&core->geometry, core->fs.bsize);
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
	if (core->journal)
		cfs::journal_close(core->journal);
	cfs_env_free(core->fs.host, core->block_buffer);
	cfs::fs_close(&core->fs);
	delete core;
}

extern "C" const char *cfs_core_locktable_problem(const char *lockproto, const char *locktable)
{
	return cfs::locktable_problem(lockproto, locktable);
}

extern "C" int cfs_core_load_rgrps(struct cfs_core *core)
{
	int err = cfs::rgrp_table_load(&core->fs);
	if (err)
		return err;
	for (std::uint32_t i = 0; i < core->fs.rgrps.count; i++) {
		err = cfs::rgrp_refresh(&core->fs, &core->fs.rgrps.rgrps[i]);
		if (err)
			return err;
	}
	return 0;
}

extern "C" int cfs_core_statfs_start(struct cfs_core *core, cfs_core_u32 slot)
{
	cfs::Fs *fs = &core->fs;
	cfs_jindex entry;
	int err = cfs::jdata_read(fs, cfs::from_le64(fs->sb.sb_jindex_addr),
				  std::uint64_t(slot) * sizeof(entry), &entry, sizeof(entry));
	if (err)
		return err;
	// From now on the allocator sends count changes to this slot's change file, in
	// the transaction that makes them (statfs.h). trans_mutex serialises the updates,
	// so lib needs no statfs_lock of its own.
	fs->statfs_local_ino = cfs::from_le64(entry.ji_statfs_addr);
	return 0;
}

extern "C" int cfs_core_statfs_sync(struct cfs_core *core)
{
	cfs::Fs *fs = &core->fs;
	if (!fs->statfs_local_ino || !core->journal)
		return 0;
	cfs::StatfsCounts delta;
	int err = cfs::statfs_read(fs, fs->statfs_local_ino, &delta);
	if (err || (!delta.free && !delta.dinodes))
		return err;
	Txn tx(core);
	err = tx.begin(2);
	if (err)
		return err;
	err = cfs::statfs_fold(fs, tx.get(), fs->statfs_local_ino);
	if (err)
		return err;
	return tx.commit();
}

extern "C" int cfs_core_statfs(struct cfs_core *core, struct cfs_core_statfs *out)
{
	out->total = out->free = out->dinodes = 0;
	for (std::uint32_t i = 0; i < core->fs.rgrps.count; i++) {
		const cfs::Rgrp &rg = core->fs.rgrps.rgrps[i];
		if (rg.flags & CFS_RGF_JOURNAL)
			continue;
		out->total += rg.data;
		out->free += rg.free;
		out->dinodes += rg.dinodes;
	}
	return 0;
}

extern "C" int cfs_core_refresh_rgrps(struct cfs_core *core)
{
	for (std::uint32_t i = 0; i < core->fs.rgrps.count; i++) {
		int err = cfs::rgrp_refresh(&core->fs, &core->fs.rgrps.rgrps[i]);
		if (err)
			return err;
	}
	return 0;
}

extern "C" cfs_core_u64 cfs_core_max_file_size(struct cfs_core *core)
{
	const cfs::BmapGeometry &g = core->geometry;
	std::uint64_t blocks = g.blocks_at_height[g.max_height];
	std::uint64_t limit = ~std::uint64_t(0) >> 1;  // loff_t
	if (blocks >= (limit >> core->fs.bsize_shift))
		return limit;
	return blocks << core->fs.bsize_shift;
}
