// SPDX-License-Identifier: GPL-2.0
// What the kernel/core_*.cpp files share. Together they implement kernel/core.h on lib/:
// the only place the glue's plain C structs meet lib's C++ types. Each write operation
// is one journaled transaction; the caller serialises them (sbi->trans_mutex) and holds
// the VFS locks and glocks lib expects.
//
// lib has no rollback (trans.h): it performs every step that can fail before the first
// change it cannot undo. Where an operation here has two such phases (allocate an
// inode, then add its name), a failure of the second undoes the first inside the same
// transaction, which then commits a net no-op, so memory never runs ahead of the log.
//
// Here: struct cfs_core, the transaction budgets, the inode and transaction guards
// (InodeRef, Txn) and the helpers more than one core_*.cpp uses, in namespace
// cfs_core_detail. No global object may have a constructor: the module never runs it
// (docs/kernel.md).
#ifndef CLUSTERFS_CORE_INTERNAL_H
#define CLUSTERFS_CORE_INTERNAL_H

#include <cstddef>
#include <cstdint>

#include "bmap.h"
#include "core.h"
#include "fs.h"
#include "inode.h"
#include "journal.h"
#include "trans.h"

struct cfs_core {
	cfs::Fs fs;
	cfs::JournalLoc journal_loc;
	cfs::Journal *journal;  // nullptr: read-only, nothing may change
	cfs::BmapGeometry geometry;
	std::uint8_t *block_buffer;  // one block, for unstuffing (under trans_mutex)
	cfs_core_free_observer free_observer;  // discard (all members null: none)
};

namespace cfs_core_detail {

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
[[nodiscard]] inline int reserve_log(cfs::Journal *j, std::uint32_t nbufs)
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

// Copies the VFS's attributes named by `mask` into a dinode already in a transaction
// (core_inode.cpp).
void apply_attrs(cfs::Inode *ip, const struct cfs_core_inode *attrs, unsigned int mask);

// Converts a stuffed file to a block-mapped one (core_alloc.cpp).
[[nodiscard]] int unstuff(cfs_core *core, cfs::Trans *tr, cfs::Inode *ip);

}  // namespace cfs_core_detail

#endif  // CLUSTERFS_CORE_INTERNAL_H
