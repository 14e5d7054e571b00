// SPDX-License-Identifier: GPL-2.0
// kernel/core.h implemented on lib/: the only place the glue's plain C structs meet
// lib's C++ types. Each write operation is one journaled transaction; the caller
// serialises them (sbi->trans_mutex) and holds the VFS locks and glocks lib expects.
//
// lib has no rollback (trans.h): it performs every step that can fail before the first
// change it cannot undo. Where an operation here has two such phases (allocate an
// inode, then add its name), a failure of the second undoes the first inside the same
// transaction, which then commits a net no-op, so memory never runs ahead of the log.
#include <cstddef>
#include <cstdint>
#include <new>

#include "bmap.h"
#include "core.h"
#include "dir.h"
#include "fs.h"
#include "inode.h"
#include "journal.h"
#include "rgrp.h"
#include "statfs.h"
#include "trans.h"
#include "xattr.h"

struct cfs_core {
	cfs::Fs fs;
	cfs::JournalLoc journal_loc;
	cfs::Journal *journal;  // nullptr: read-only, nothing may change
	cfs::BmapGeometry geometry;
	std::uint8_t *block_buffer;  // one block, for unstuffing (under trans_mutex)
	cfs_core_free_observer free_observer;  // discard (all members null: none)
};

namespace {

// Budgets (buffers one transaction may dirty) beyond what lib computes itself.
constexpr std::uint32_t kInodeAllocBufs = 4;    // dinode + rgrp header + bitmap block + slack
constexpr std::uint32_t kAllocBufs = 2 * cfs::BmapGeometry::kMaxHeight + 12;
constexpr unsigned kFreeBudget = 64;            // per transaction while freeing blocks
constexpr std::uint64_t kMaxAllocRun = 1024;    // blocks one cfs_core_alloc maps at most
static_assert(kFreeBudget + kAllocBufs + kInodeAllocBufs <= CFS_CORE_MAP_CHANGE_BUFS,
	      "a block-map transaction may exceed what the glue reserves for it");

class InodeRef {
public:
	explicit InodeRef(cfs::Fs *fs) : fs_(fs) {}
	~InodeRef() { cfs::inode_put(fs_, &ip_); }
	InodeRef(const InodeRef &) = delete;
	InodeRef &operator=(const InodeRef &) = delete;

	[[nodiscard]] int get(std::uint64_t ino) { return cfs::inode_get(fs_, ino, &ip_); }
	cfs::Inode *operator->() { return &ip_; }
	cfs::Inode *ptr() { return &ip_; }

private:
	cfs::Fs *fs_;
	cfs::Inode ip_{0, nullptr};
};

// journal_reserve returns -ENOSPC when the record being assembled plus this
// transaction exceed the ring, even when flushing that record would make room: checkpoint
// and ask again.
[[nodiscard]] int reserve_log(cfs::Journal *j, std::uint32_t nbufs)
{
	int err = cfs::journal_reserve(j, nbufs);
	if (err == -CFS_ENOSPC) {
		err = cfs::journal_checkpoint(j);
		if (!err)
			err = cfs::journal_reserve(j, nbufs);
	}
	return err;
}

// One transaction, one operation, one time: the clock is read once, at begin, and every
// timestamp lib sets until commit is that one (Fs::op_time), as ext4 stamps a new inode's
// four times from one current_time(). Read twice, a tick could fall between the new
// inode's times and its ctime after the inherited ACLs, or its parent's mtime.
class Txn {
public:
	explicit Txn(cfs_core *core) : core_(core) {}
	~Txn()
	{
		if (open_)
			cfs::trans_cancel(&tr_);
		end_op_time();
	}
	Txn(const Txn &) = delete;
	Txn &operator=(const Txn &) = delete;

	[[nodiscard]] int begin(std::uint32_t max_bufs)
	{
		if (!core_->journal)
			return -CFS_EROFS;
		max_bufs += 1;  // the statfs change file the allocator updates (statfs.h)
		int err = reserve_log(core_->journal, max_bufs);
		if (err)
			return err;
		err = cfs::trans_begin(&core_->fs, core_->journal, max_bufs, &tr_);
		if (!err) {
			open_ = true;
			cfs_env_now(core_->fs.host, &now_);
			core_->fs.op_time = &now_;
		}
		return err;
	}
	[[nodiscard]] int commit()
	{
		open_ = false;
		end_op_time();
		return cfs::trans_commit(&tr_);
	}
	cfs::Trans *get() { return &tr_; }

private:
	void end_op_time()
	{
		if (core_->fs.op_time == &now_)
			core_->fs.op_time = nullptr;
	}

	cfs_core *core_;
	cfs::Trans tr_{};
	cfs_timespec now_{};
	bool open_ = false;
};

constexpr std::uint32_t kModeTypeMask = 0170000;
constexpr std::uint32_t kModeDir = 0040000;
constexpr std::uint32_t kModeReg = 0100000;
constexpr std::uint32_t kModeLnk = 0120000;

bool is_dir_mode(std::uint32_t mode) { return (mode & kModeTypeMask) == kModeDir; }

void copy_name(char *dst, const char *src, unsigned size)
{
	unsigned i = 0;
	for (; i + 1 < size && src[i]; i++)
		dst[i] = src[i];
	for (; i < size; i++)
		dst[i] = '\0';
}

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

}  // namespace

// ---- Mount ------------------------------------------------------------------------------

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

// ---- Journal ----------------------------------------------------------------------------

namespace {

// Finds the journal at @loc's head and replays it if it is dirty (-EROFS when it is and
// !@may_write): the part of mounting a journal that is the same for our own slot and for
// another node's.
int replay_if_dirty(cfs::Fs *fs, const cfs::JournalLoc *loc, bool may_write, cfs_core_replay *out)
{
	*out = cfs_core_replay{};
	cfs::JournalHead head;
	int err = cfs::journal_find_head(fs, loc, &head);
	if (err)
		return err;
	out->was_unmounted = head.unmounted;
	if (head.clean || head.empty)
		return 0;
	out->was_dirty = 1;
	if (!may_write)
		return -CFS_EROFS;
	cfs::ReplayStats stats{};
	err = cfs::journal_replay(fs, loc, false, &stats);
	out->records = stats.records;
	out->blocks_replayed = stats.blocks_replayed;
	out->blocks_revoked = stats.blocks_revoked;
	return err;
}

}  // namespace

extern "C" int cfs_core_journal_start(struct cfs_core *core, cfs_core_u32 slot, bool may_write,
				      bool open_for_write, struct cfs_core_replay *out)
{
	cfs::Fs *fs = &core->fs;
	*out = cfs_core_replay{};
	int err = cfs::journal_locate(fs, slot, &core->journal_loc);
	if (!err)
		err = replay_if_dirty(fs, &core->journal_loc, may_write, out);
	if (err || !open_for_write)
		return err;
	return cfs::journal_open(fs, &core->journal_loc, &core->journal);
}

extern "C" int cfs_core_journal_recover(struct cfs_core *core, cfs_core_u32 slot, bool may_write,
					struct cfs_core_replay *out)
{
	cfs::JournalLoc loc;
	*out = cfs_core_replay{};
	int err = cfs::journal_locate(&core->fs, slot, &loc);
	return err ? err : replay_if_dirty(&core->fs, &loc, may_write, out);
}

namespace {

// Every transaction so far is in the log: the blocks they freed may now be discarded.
void notify_committed(cfs_core *core)
{
	if (core->free_observer.committed)
		core->free_observer.committed(core->free_observer.ctx);
}

}  // namespace

extern "C" int cfs_core_journal_flush(struct cfs_core *core)
{
	if (!core->journal)
		return 0;
	int err = cfs::journal_flush(core->journal);
	if (!err)
		notify_committed(core);
	return err;
}

extern "C" bool cfs_core_journal_idle(struct cfs_core *core)
{
	return !core->journal || !cfs::journal_needs_checkpoint(core->journal);
}

extern "C" int cfs_core_journal_checkpoint(struct cfs_core *core)
{
	if (!core->journal || !cfs::journal_needs_checkpoint(core->journal))
		return 0;
	int err = cfs::journal_checkpoint(core->journal);
	if (!err)
		notify_committed(core);
	return err;
}

extern "C" cfs_core_u32 cfs_core_journal_backlog(struct cfs_core *core)
{
	if (!core->journal)
		return 0;
	return core->journal_loc.length - cfs::journal_free_blocks(core->journal);
}

extern "C" int cfs_core_journal_flush_wrote(struct cfs_core *core, bool *wrote)
{
	*wrote = core->journal && cfs::journal_has_pending(core->journal);
	return cfs_core_journal_flush(core);
}

extern "C" int cfs_core_journal_stop(struct cfs_core *core, bool clean)
{
	cfs::Journal *j = core->journal;
	core->journal = nullptr;
	if (!j)
		return 0;
	if (clean) {
		int err = cfs::journal_close_clean(j);
		if (!err)
			notify_committed(core);
		return err;
	}
	cfs::journal_close(j);
	return 0;
}

// ---- Discard --------------------------------------------------------------------------------

extern "C" void cfs_core_set_free_observer(struct cfs_core *core,
					   const struct cfs_core_free_observer *obs)
{
	core->free_observer = obs ? *obs : cfs_core_free_observer{};
	core->fs.blocks_freed = core->free_observer.freed;
	core->fs.blocks_freed_ctx = core->free_observer.ctx;
}

extern "C" void cfs_core_set_rgrp_filter(struct cfs_core *core,
					 bool (*allowed)(void *ctx, cfs_core_u32 index), void *ctx)
{
	core->fs.rgrp_allowed = allowed;
	core->fs.rgrp_allowed_ctx = ctx;
}

extern "C" cfs_core_u64 cfs_core_take_rgrp_wanted(struct cfs_core *core)
{
	const std::uint64_t blkno = core->fs.rgrp_wanted;
	core->fs.rgrp_wanted = 0;
	return blkno;
}

extern "C" int cfs_core_rgrp_spread(struct cfs_core *core, cfs_core_u32 slot,
				    cfs_core_u32 slots, cfs_core_u32 *index)
{
	cfs::Fs *fs = &core->fs;
	std::uint32_t usable = 0;
	*index = 0;
	for (std::uint32_t i = 0; i < fs->rgrps.count; i++) {
		int err = cfs::rgrp_refresh(fs, &fs->rgrps.rgrps[i]);
		if (err)
			return err;
		if (!(fs->rgrps.rgrps[i].flags & (CFS_RGF_JOURNAL | CFS_RGF_NOALLOC)))
			usable++;
	}
	if (!usable || !slots)
		return 0;
	std::uint32_t want = static_cast<std::uint32_t>(std::uint64_t(usable) * (slot % slots) / slots);
	for (std::uint32_t i = 0; i < fs->rgrps.count; i++) {
		if (fs->rgrps.rgrps[i].flags & (CFS_RGF_JOURNAL | CFS_RGF_NOALLOC))
			continue;
		if (want-- == 0) {
			*index = i;
			break;
		}
	}
	return 0;
}

extern "C" cfs_core_u32 cfs_core_rgrp_count(struct cfs_core *core)
{
	return core->fs.rgrps.count;
}

extern "C" int cfs_core_rgrp_of_block(struct cfs_core *core, cfs_core_u64 blkno,
				      cfs_core_u32 *index)
{
	const cfs::Rgrp *rg = cfs::rgrp_of_block(&core->fs, blkno);
	if (!rg)
		return -CFS_ERANGE;
	*index = static_cast<cfs_core_u32>(rg - core->fs.rgrps.rgrps);
	return 0;
}

extern "C" cfs_core_u32 cfs_core_rgrp_free_known(struct cfs_core *core, cfs_core_u32 index)
{
	if (index >= core->fs.rgrps.count)
		return 0;
	const cfs::Rgrp &rg = core->fs.rgrps.rgrps[index];
	return (rg.flags & (CFS_RGF_JOURNAL | CFS_RGF_NOALLOC)) ? 0 : rg.free;
}

extern "C" int cfs_core_rgrp_room(struct cfs_core *core, cfs_core_u32 index, cfs_core_u32 *free)
{
	if (index >= core->fs.rgrps.count)
		return -CFS_EINVAL;
	cfs::Rgrp *rg = &core->fs.rgrps.rgrps[index];
	int err = cfs::rgrp_refresh(&core->fs, rg);
	if (err)
		return err;
	*free = (rg->flags & (CFS_RGF_JOURNAL | CFS_RGF_NOALLOC)) ? 0 : rg->free;
	return 0;
}

extern "C" int cfs_core_rgrp_meta(struct cfs_core *core, cfs_core_u32 index, cfs_core_u64 *addr,
				  cfs_core_u32 *length)
{
	if (index >= core->fs.rgrps.count)
		return -CFS_EINVAL;
	*addr = core->fs.rgrps.rgrps[index].addr;
	*length = core->fs.rgrps.rgrps[index].length;
	return 0;
}

extern "C" int cfs_core_rgrp_data(struct cfs_core *core, cfs_core_u32 index, cfs_core_u64 *first,
				  cfs_core_u32 *count)
{
	if (index >= core->fs.rgrps.count)
		return -CFS_EINVAL;
	*first = core->fs.rgrps.rgrps[index].data0;
	*count = core->fs.rgrps.rgrps[index].data;
	return 0;
}

extern "C" int cfs_core_free_runs(struct cfs_core *core, cfs_core_u64 first, cfs_core_u64 end,
				  cfs_core_u32 minlen,
				  int (*visit)(void *ctx, cfs_core_u64 first, cfs_core_u32 count),
				  void *ctx)
{
	cfs::Fs *fs = &core->fs;
	for (std::uint32_t i = 0; i < fs->rgrps.count && first < end; i++) {
		cfs::Rgrp *rg = &fs->rgrps.rgrps[i];
		if (rg->data0 + rg->data <= first || rg->data0 >= end)
			continue;
		int err = cfs::rgrp_free_runs(fs, rg, first, end, minlen, visit, ctx);
		if (err)
			return err;
	}
	return 0;
}

extern "C" bool cfs_core_journal_active(struct cfs_core *core)
{
	return core->journal != nullptr;
}

// ---- Reads --------------------------------------------------------------------------------

extern "C" int cfs_core_inode_read(struct cfs_core *core, cfs_core_u64 ino, struct cfs_core_inode *out)
{
	InodeRef ip(&core->fs);
	int err = ip.get(ino);
	if (err)
		return err;
	fill_core_inode(ip.ptr(), out);
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

bool readdir_adapter(void *opaque, const char *name, std::uint32_t len, const cfs::DirEntry *entry,
		     std::uint64_t cookie_after)
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

namespace {
void apply_attrs(cfs::Inode *ip, const struct cfs_core_inode *attrs, unsigned int mask);
}  // namespace

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

// ---- Namespace changes ------------------------------------------------------------------

namespace {

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

// ---- Inode attributes, size, blocks -----------------------------------------------------

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

}  // namespace

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

namespace {

// Converts a stuffed file to a block-mapped one; its inline bytes go to the new block,
// written before the transaction commits.
[[nodiscard]] int unstuff(cfs_core *core, cfs::Trans *tr, cfs::Inode *ip)
{
	std::uint64_t data_block = 0;
	int err = cfs::inode_unstuff(&core->fs, tr, ip, core->block_buffer, &data_block);
	if (err || !data_block)
		return err;
	const void *blocks[1] = {core->block_buffer};
	return cfs_env_log_write(core->fs.host, data_block, blocks, 1, 0);
}

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

extern "C" int cfs_core_alloc(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 lblock,
			      cfs_core_u64 max_count, struct cfs_core_map *out)
{
	cfs::Fs *fs = &core->fs;
	InodeRef ip(fs);
	int err = ip.get(ino);
	if (err)
		return err;
	if (max_count > kMaxAllocRun)
		max_count = kMaxAllocRun;
	if (cfs::inode_height(ip.ptr()) > 0) {
		// Already mapped: no transaction needed.
		cfs::BmapExtent extent;
		err = cfs::bmap_lookup(fs, ip.ptr(), lblock, max_count, &extent);
		if (err)
			return err;
		if (extent.disk_block) {
			out->disk_block = extent.disk_block;
			out->count = extent.count;
			out->fresh = 0;
			return 0;
		}
		max_count = extent.count;  // the hole's length bounds the allocation
	}
	Txn tx(core);
	err = tx.begin(kAllocBufs + kInodeAllocBufs);
	if (err)
		return err;
	if (cfs::inode_height(ip.ptr()) == 0) {
		err = unstuff(core, tx.get(), ip.ptr());
		if (err)
			return err;
	}
	cfs::BmapExtent extent;
	err = cfs::bmap_alloc(fs, tx.get(), ip.ptr(), lblock, max_count, 0, &extent);
	if (err == -CFS_ENOSPC && tx.get()->nbufs) {
		// Out of space for the data block after a taller tree, a new indirect block or
		// the unstuffed first block: each is complete and consistent, and already in
		// the buffers. Commit them: cancelled, they would reach the disk with some later
		// transaction of one buffer but not the others (an indirect block pointed at but
		// never written).
		int cerr = tx.commit();
		return cerr ? cerr : err;
	}
	if (err)
		return err;
	err = tx.commit();
	if (err)
		return err;
	out->disk_block = extent.disk_block;
	out->count = extent.count;
	out->fresh = extent.fresh;
	return 0;
}

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

extern "C" int cfs_core_reserve(struct cfs_core *core, cfs_core_u32 nbufs)
{
	if (!core->journal)
		return -CFS_EROFS;
	return reserve_log(core->journal, nbufs);
}
