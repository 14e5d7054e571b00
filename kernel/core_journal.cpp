// SPDX-License-Identifier: GPL-2.0
// This mount's journal (start with replay, flush, checkpoint, stop) and the replay of
// another node's journal (recovery).
#include "core_internal.h"

using namespace cfs_core_detail;

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
	out->blocks_superseded = stats.blocks_superseded;
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

extern "C" bool cfs_core_journal_active(struct cfs_core *core)
{
	return core->journal != nullptr;
}
