// SPDX-License-Identifier: GPL-2.0
/*
 * Mount, unmount, remount and filesystem-wide operations: fs_context option parsing,
 * superblock verification through lib (core.h), the root inode, statfs, show_options.
 */
#include <linux/blkdev.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/statfs.h>

#include "clusterfs.h"
#include "lock_cluster.h"
#include "core.h"

struct cfs_fs_context {
	struct cfs_mount_options opts;
	unsigned long given;		/* bit per Opt_* that appeared */
};

enum {
	Opt_acl,
	Opt_lockproto,
	Opt_locktable,
	Opt_journal,
	Opt_errors,
	Opt_commit,
	Opt_statfs_quantum,
	Opt_discard,
};

static const struct constant_table cfs_param_errors[] = {
	{ "withdraw",	CFS_ERRORS_WITHDRAW },
	{ "panic",	CFS_ERRORS_PANIC },
	{}
};

static const struct fs_parameter_spec cfs_fs_parameters[] = {
	fsparam_flag_no("acl",		 Opt_acl),
	fsparam_string("lockproto",	 Opt_lockproto),
	fsparam_string("locktable",	 Opt_locktable),
	fsparam_u32("journal",		 Opt_journal),
	fsparam_enum("errors",		 Opt_errors, cfs_param_errors),
	fsparam_u32("commit",		 Opt_commit),
	fsparam_u32("statfs_quantum",	 Opt_statfs_quantum),
	fsparam_flag_no("discard",	 Opt_discard),
	{}
};

static int cfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct cfs_fs_context *ctx = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, cfs_fs_parameters, param, &result);
	if (opt < 0)
		return opt;

	switch (opt) {
	case Opt_acl:
		ctx->opts.noacl = result.negated;
		break;
	case Opt_lockproto:
		if (strcmp(param->string, CFS_LOCKPROTO_NOLOCK) &&
		    strcmp(param->string, CFS_LOCKPROTO_CLUSTER))
			return invalfc(fc, "lockproto=%s: expected %s or %s", param->string,
				       CFS_LOCKPROTO_NOLOCK, CFS_LOCKPROTO_CLUSTER);
		strscpy(ctx->opts.lockproto, param->string, sizeof(ctx->opts.lockproto));
		break;
	case Opt_locktable:
		if (strscpy(ctx->opts.locktable, param->string, sizeof(ctx->opts.locktable)) < 0)
			return invalfc(fc, "locktable=%s: longer than %u characters", param->string,
				       CFS_LOCKNAME_LEN - 1);
		break;
	case Opt_journal:
		if (result.uint_32 >= CFS_MAX_JOURNALS)
			return invalfc(fc, "journal=%u: slots are 0..%u", result.uint_32,
				       CFS_MAX_JOURNALS - 1);
		ctx->opts.journal = result.uint_32;
		break;
	case Opt_errors:
		ctx->opts.errors = result.uint_32;
		break;
	case Opt_commit:
		if (result.uint_32 < 1 || result.uint_32 > CFS_MAX_INTERVAL_SECS)
			return invalfc(fc, "commit=%u: seconds between 1 and %u", result.uint_32,
				       CFS_MAX_INTERVAL_SECS);
		ctx->opts.commit_secs = result.uint_32;
		break;
	case Opt_statfs_quantum:
		if (result.uint_32 < 1 || result.uint_32 > CFS_MAX_INTERVAL_SECS)
			return invalfc(fc, "statfs_quantum=%u: seconds between 1 and %u",
				       result.uint_32, CFS_MAX_INTERVAL_SECS);
		ctx->opts.statfs_quantum = result.uint_32;
		break;
	case Opt_discard:
		ctx->opts.discard = !result.negated;
		break;
	default:
		return -EINVAL;
	}
	__set_bit(opt, &ctx->given);
	return 0;
}

/* ---- superblock ------------------------------------------------------------------ */

static struct kmem_cache *cfs_inode_cache;

static struct inode *cfs_alloc_inode(struct super_block *sb)
{
	struct cfs_inode_info *ci = alloc_inode_sb(sb, cfs_inode_cache, GFP_NOFS);

	if (!ci)
		return NULL;
	ci->glock = NULL;
	ci->iopen_gl = NULL;
	INIT_LIST_HEAD(&ci->ordered_entry);
	init_rwsem(&ci->map_lock);
	ci->generation = 0;
	ci->stale = false;
	ci->di_flags = 0;
	ci->height = 0;
	return &ci->vfs_inode;
}

static void cfs_free_inode(struct inode *inode)
{
	kmem_cache_free(cfs_inode_cache, CFS_I(inode));
}

static void cfs_inode_init_once(void *obj)
{
	struct cfs_inode_info *ci = obj;

	inode_init_once(&ci->vfs_inode);
	cfs_inode_glops_init_once(ci);
}

int cfs_init_inode_cache(void)
{
	cfs_inode_cache = kmem_cache_create("clusterfs_inode", sizeof(struct cfs_inode_info), 0,
					    SLAB_RECLAIM_ACCOUNT | CFS_SLAB_MEM_SPREAD | SLAB_ACCOUNT,
					    cfs_inode_init_once);
	return cfs_inode_cache ? 0 : -ENOMEM;
}

void cfs_destroy_inode_cache(void)
{
	rcu_barrier();	/* inodes are freed after an RCU grace period */
	kmem_cache_destroy(cfs_inode_cache);
}

/* ---- journal lifecycle ------------------------------------------------------------ */

static void cfs_log_work(struct work_struct *work)
{
	struct cfs_sb_info *sbi = container_of(to_delayed_work(work), struct cfs_sb_info, log_work);
	int err = 0;

	mutex_lock(&sbi->trans_mutex);
	if (!cfs_withdrawn(sbi) && cfs_core_journal_active(sbi->core))
		/* lock_cluster: a long log is a long replay for the node that recovers us. */
		err = sbi->rgrp_count && cfs_core_journal_backlog(sbi->core) >= CFS_CLUSTER_LOG_BACKLOG
			? cfs_core_journal_checkpoint(sbi->core)
			: cfs_core_journal_flush(sbi->core);
	mutex_unlock(&sbi->trans_mutex);
	if (err) {
		cfs_core_error(sbi, err == -EIO ? err : -EIO);
		return;
	}
	if (cfs_core_journal_active(sbi->core))
		queue_delayed_work(system_long_wq, &sbi->log_work, sbi->opts.commit_secs * HZ);
}

/*
 * lock_cluster: the global statfs file is shared; a node folds its changes into it
 * under the statfs lock in EX (taken before the transaction lock, as every glock).
 */
static bool cfs_statfs_lock(struct cfs_sb_info *sbi, struct cfs_holder *gh)
{
	int err;

	if (!sbi->statfs_glock)
		return false;
	err = cfs_glock_nq_flags(sbi->statfs_glock, CFS_GL_EX, gh, CFS_GH_UNINTERRUPTIBLE);
	if (err)
		/* Without the lock nothing may be written: the fold fails. */
		cfs_withdraw(sbi, "cannot take the statfs lock (%d)", err);
	return !err;
}

/* Folds this node's statfs changes into the global file every statfs_quantum seconds. */
static void cfs_statfs_work(struct work_struct *work)
{
	struct cfs_sb_info *sbi = container_of(to_delayed_work(work), struct cfs_sb_info,
					       statfs_work);
	struct cfs_holder statfs_gh;
	bool statfs_held;
	int err = 0;

	statfs_held = cfs_statfs_lock(sbi, &statfs_gh);
	cfs_trans_lock(sbi);
	if (!cfs_withdrawn(sbi) && cfs_core_journal_active(sbi->core))
		err = cfs_core_statfs_sync(sbi->core);
	cfs_trans_unlock(sbi);
	if (statfs_held)
		cfs_glock_dq(&statfs_gh);
	if (err) {
		cfs_core_error(sbi, err);
		return;
	}
	if (cfs_core_journal_active(sbi->core))
		queue_delayed_work(system_long_wq, &sbi->statfs_work,
				   sbi->opts.statfs_quantum * HZ);
}

/* Replays our journal if needed and, for a writable mount, opens it and starts the timer. */
static int cfs_journal_start(struct cfs_sb_info *sbi, bool writable, struct fs_context *fc)
{
	struct super_block *sb = sbi->sb;
	struct cfs_core_replay replay;
	bool may_write = !bdev_read_only(sb->s_bdev);
	int err;

	mutex_lock(&sbi->trans_mutex);
	err = cfs_core_journal_start(sbi->core, sbi->journal_slot, may_write, writable, &replay);
	mutex_unlock(&sbi->trans_mutex);
	if (err == -EROFS) {
		if (fc)
			errorfc(fc, "%s: journal %u needs recovery but the device is read-only",
				sb->s_id, sbi->journal_slot);
		return err;
	}
	if (err) {
		if (fc)
			errorfc(fc, "%s: cannot recover journal %u (%d)", sb->s_id, sbi->journal_slot, err);
		return err == -EUCLEAN || err == -EBADMSG ? -EUCLEAN : err;
	}
	if (replay.was_dirty) {
		pr_info("clusterfs (%s): journal %u replayed: %u records, %u blocks written, %u revoked, %u superseded\n",
			sb->s_id, sbi->journal_slot, replay.records, replay.blocks_replayed,
			replay.blocks_revoked, replay.blocks_superseded);
		/* Replay wrote home locations behind the buffer cache. */
		invalidate_bdev(sb->s_bdev);
	}
	if (writable) {
		queue_delayed_work(system_long_wq, &sbi->log_work, sbi->opts.commit_secs * HZ);
		queue_delayed_work(system_long_wq, &sbi->statfs_work, sbi->opts.statfs_quantum * HZ);
	}
	return 0;
}

/* Stops journaling: a clean unmount header unless the mount is withdrawn. */
static int cfs_journal_stop(struct cfs_sb_info *sbi)
{
	struct cfs_holder statfs_gh;
	bool statfs_held;
	int err;

	cancel_delayed_work_sync(&sbi->log_work);
	cancel_delayed_work_sync(&sbi->statfs_work);
	statfs_held = cfs_statfs_lock(sbi, &statfs_gh);
	cfs_trans_lock(sbi);
	err = cfs_withdrawn(sbi) ? 0 : cfs_core_statfs_sync(sbi->core);
	if (!err)
		err = cfs_core_journal_stop(sbi->core, !cfs_withdrawn(sbi));
	else
		cfs_core_journal_stop(sbi->core, false);
	cfs_trans_unlock(sbi);
	if (statfs_held)
		cfs_glock_dq(&statfs_gh);
	if (err)
		cfs_withdraw(sbi, "clean shutdown of journal %u failed (%d)", sbi->journal_slot, err);
	return err;
}

static int cfs_sync_fs(struct super_block *sb, int wait)
{
	struct cfs_sb_info *sbi = CFS_SB(sb);
	struct cfs_holder statfs_gh;
	bool statfs_held;
	int err = 0;

	if (cfs_withdrawn(sbi))
		return -EIO;
	statfs_held = cfs_statfs_lock(sbi, &statfs_gh);
	cfs_trans_lock(sbi);
	if (cfs_core_journal_active(sbi->core)) {
		err = cfs_core_statfs_sync(sbi->core);
		/* lock_cluster: home too, so that every node's df agrees after sync. */
		if (!err)
			err = sbi->cluster ? cfs_core_journal_checkpoint(sbi->core)
					   : cfs_core_journal_flush(sbi->core);
	}
	cfs_trans_unlock(sbi);
	if (statfs_held)
		cfs_glock_dq(&statfs_gh);
	return err ? cfs_core_error(sbi, err) : 0;
}

static void cfs_cluster_locks_release(struct cfs_sb_info *sbi);

static void cfs_release_sbi(struct cfs_sb_info *sbi)
{
	cfs_cluster_stop_reclaim(sbi);
	cfs_lookup_ahead_drain(sbi);
	if (sbi->core && cfs_core_journal_active(sbi->core))
		cfs_journal_stop(sbi);
	cfs_discard_destroy(sbi);
	cfs_create_ahead_drain(sbi);
	/* Evicted inodes' glocks still held (glock.h): released while lockd is there. */
	cfs_glock_lru_drain(&sbi->glocks);
	cfs_cluster_locks_release(sbi);
	if (sbi->sb_glock) {
		cfs_glock_dq(&sbi->sb_holder);
		cfs_glock_put(sbi->sb_glock);
		sbi->sb_glock = NULL;
	}
	cfs_glock_table_destroy(&sbi->glocks);
	/* The releases since the drain skipped go_inval: forget it all at once. */
	if (cfs_clustered_sb(sbi) && sbi->glocks.draining)
		cfs_meta_forget_all(sbi);
	cfs_host_drain(&sbi->host);
	/* Every write is done: only now may another node take the filesystem. */
	cfs_cluster_unmount(sbi);
	cfs_core_unmount(sbi->core);
	sbi->core = NULL;
}

/*
 * lock_cluster: the last node to unmount frees the inodes left unlinked when every
 * node that had one failed its iopen try at once (cfs_evict_inode), so that a
 * filesystem nobody has mounted holds no unlinked inode: fsck finds it clean.
 */
static void cfs_cluster_last_reclaim(struct cfs_sb_info *sbi)
{
	u32 freed = 0;
	int err;

	if (!sbi->live_glock || sb_rdonly(sbi->sb) || cfs_withdrawn(sbi))
		return;
	cfs_glock_dq(&sbi->live_gh);
	if (cfs_glock_nq_flags(sbi->live_glock, CFS_GL_EX, &sbi->live_gh, CFS_GH_TRY))
		return;	/* another node is still mounted: it reclaims */
	cfs_trans_lock_all(sbi);
	err = cfs_core_reclaim_unlinked(sbi->core, &freed);
	cfs_trans_unlock(sbi);
	if (err)
		cfs_core_error(sbi, err);
	else if (freed)
		pr_info("clusterfs (%s): last node to unmount: freed %u unlinked inodes\n",
			sbi->sb->s_id, freed);
}

static void cfs_put_super(struct super_block *sb)
{
	struct cfs_sb_info *sbi = CFS_SB(sb);

	cfs_cluster_last_reclaim(sbi);
	cfs_release_sbi(sbi);
	sb->s_fs_info = NULL;
	kfree(sbi);
}

static int cfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct super_block *sb = dentry->d_sb;
	struct cfs_sb_info *sbi = CFS_SB(sb);
	struct cfs_core_statfs counts;
	int err;

	if (sbi->rgrp_count) {
		u32 i;

		/*
		 * lock_cluster: the counts of a group this node does not hold in EX are
		 * another node's, as its last release (or sync) wrote them home: read its
		 * header again, without the lock (a header caught mid-write keeps the
		 * previous counts, no error). A group held in EX may have changed buffers in
		 * our journal not yet home: those must not be reread, and the cached ones are
		 * current (the grant dropped older copies). Under trans_mutex no transaction
		 * of ours runs. lib refreshes a group's in-memory counts only when it
		 * allocates there, so every header is read again (from the cache if held).
		 */
		mutex_lock(&sbi->trans_mutex);
		for (i = 0; i < sbi->rgrp_count; i++) {
			u64 addr;
			u32 length;

			if (!cfs_rgrp_held_ex(sbi, i) &&
			    !cfs_core_rgrp_meta(sbi->core, i, &addr, &length))
				cfs_meta_invalidate_range(sbi, addr, 1);
		}
		cfs_core_refresh_rgrps(sbi->core);
		err = cfs_core_statfs(sbi->core, &counts);
		mutex_unlock(&sbi->trans_mutex);
	} else {
		err = cfs_core_statfs(sbi->core, &counts);
	}
	if (err)
		return cfs_core_error(sbi, err);
	buf->f_type = CFS_META_MAGIC;
	buf->f_bsize = sbi->block_size;
	buf->f_frsize = sbi->block_size;
	buf->f_blocks = counts.total;
	buf->f_bfree = min(counts.free, counts.total);
	buf->f_bavail = buf->f_bfree;
	/* Every free block can become a dinode. */
	buf->f_files = counts.dinodes + buf->f_bfree;
	buf->f_ffree = buf->f_bfree;
	buf->f_namelen = CFS_NAME_MAX;
	buf->f_fsid = uuid_to_fsid(sbi->uuid);
	return 0;
}

static int cfs_show_options(struct seq_file *seq, struct dentry *root)
{
	struct cfs_sb_info *sbi = CFS_SB(root->d_sb);
	const struct cfs_mount_options *opts = &sbi->opts;

	seq_printf(seq, ",lockproto=%s", sbi->lockproto);
	if (sbi->locktable[0])
		seq_show_option(seq, "locktable", sbi->locktable);
	seq_printf(seq, ",journal=%u", sbi->journal_slot);
	if (opts->noacl)
		seq_puts(seq, ",noacl");
	if (opts->errors == CFS_ERRORS_PANIC)
		seq_puts(seq, ",errors=panic");
	if (opts->commit_secs != CFS_DEFAULT_COMMIT_SECS)
		seq_printf(seq, ",commit=%u", opts->commit_secs);
	if (opts->statfs_quantum != CFS_DEFAULT_STATFS_QUANTUM)
		seq_printf(seq, ",statfs_quantum=%u", opts->statfs_quantum);
	if (opts->discard)
		seq_puts(seq, ",discard");
	if (cfs_withdrawn(sbi))
		seq_puts(seq, ",withdrawn");
	return 0;
}

/*
 * Unmount: the VFS evicts every unused inode after its sync; a reference parked with
 * the delayed-iput worker would make an inode look busy. Sync and drain them first.
 */
static void cfs_kill_sb(struct super_block *sb)
{
	if (sb->s_root && CFS_SB(sb)) {
		sync_filesystem(sb);
		cfs_host_run_delayed_iputs(&CFS_SB(sb)->host);
	}
	kill_block_super(sb);
}

static const struct super_operations cfs_super_ops = {
	.alloc_inode	= cfs_alloc_inode,
	.free_inode	= cfs_free_inode,
	.evict_inode	= cfs_evict_inode,
	.write_inode	= cfs_write_inode,
	.put_super	= cfs_put_super,
	.sync_fs	= cfs_sync_fs,
	.statfs		= cfs_statfs,
	.show_options	= cfs_show_options,
};

/* Chooses the lock protocol, table and journal slot from the superblock and options. */
static int cfs_select_locking(struct fs_context *fc, struct cfs_sb_info *sbi,
			      const struct cfs_core_sb *disk)
{
	const struct cfs_mount_options *opts = &sbi->opts;
	const char *problem;

	strscpy(sbi->lockproto, opts->lockproto[0] ? opts->lockproto : disk->lockproto,
		sizeof(sbi->lockproto));
	strscpy(sbi->locktable, opts->locktable[0] ? opts->locktable : disk->locktable,
		sizeof(sbi->locktable));
	problem = cfs_core_locktable_problem(sbi->lockproto, sbi->locktable);
	if (problem)
		return invalfc(fc, "lock protocol %s, lock table \"%s\": %s", sbi->lockproto,
			       sbi->locktable, problem);
	if (strcmp(sbi->lockproto, CFS_LOCKPROTO_NOLOCK)) {
		/* lock_cluster: clusterfs_lockd gives the journal slot (cfs_cluster_mount). */
		if (opts->journal != CFS_JOURNAL_AUTO)
			return invalfc(fc, "journal=%u: with %s, clusterfs_lockd chooses the journal",
				       opts->journal, sbi->lockproto);
		return 0;
	}
	set_bit(CFS_SDF_NOLOCK, &sbi->flags);

	sbi->journal_slot = opts->journal == CFS_JOURNAL_AUTO ? 0 : opts->journal;
	if (sbi->journal_slot >= disk->journals)
		return invalfc(fc, "journal=%u: the filesystem has %u journal%s (slots 0..%u)",
			       sbi->journal_slot, disk->journals, disk->journals == 1 ? "" : "s",
			       disk->journals - 1);
	return 0;
}

/*
 * The first lock_cluster mounter (no other node has it mounted: cfs_cluster_locks) owns
 * every journal: a dirty one is a crashed node's and is replayed here, before anyone
 * writes, as GFS2's first mounter replays every journal. Later mounters leave journals
 * to lockd, which assigns a dead node's journal to a survivor.
 */
static int cfs_recover_other_journals(struct cfs_sb_info *sbi, struct fs_context *fc)
{
	struct super_block *sb = sbi->sb;
	bool may_write = !bdev_read_only(sb->s_bdev);
	struct cfs_core_replay replay;
	u32 slot;
	int err;

	for (slot = 0; slot < sbi->journals; slot++) {
		if (slot == sbi->journal_slot)
			continue;
		/* trans_mutex: lockd may assign the same journal to our recovery work. */
		mutex_lock(&sbi->trans_mutex);
		err = cfs_core_journal_recover(sbi->core, slot, may_write, &replay);
		mutex_unlock(&sbi->trans_mutex);
		if (err == -EROFS)
			return errorfc(fc, "%s: journal %u needs recovery but the device is read-only",
				       sb->s_id, slot), err;
		if (err)
			return errorfc(fc, "%s: cannot recover journal %u (%d)", sb->s_id, slot, err),
			       cfs_core_error(sbi, err);
		if (replay.was_dirty)
			pr_info("clusterfs (%s): journal %u (a node that did not unmount cleanly) replayed: %u records, %u blocks written, %u revoked, %u superseded\n",
				sb->s_id, slot, replay.records, replay.blocks_replayed,
				replay.blocks_revoked, replay.blocks_superseded);
	}
	return 0;
}

/*
 * lock_cluster's filesystem-wide glocks. "live" is held SH by every mounted node; a
 * mount that gets it EX without waiting is the first (no other node has it mounted, or
 * ever will before this one is done recovering: they wait for SH). The statfs lock is
 * taken to fold into the global statfs file (resource groups have their own locks,
 * trans_lock.c); the rename lock around renames across directories, as the VFS's
 * s_vfs_rename_mutex does on one node.
 */
static int cfs_cluster_locks(struct cfs_sb_info *sbi, struct fs_context *fc)
{
	int err;

	mutex_init(&sbi->alloc_mutex);
	sbi->live_glock = cfs_glock_get(sbi, CFS_GLT_META, CFS_META_LIVE);
	if (IS_ERR(sbi->live_glock))
		goto fail_live;
	sbi->statfs_glock = cfs_glock_get(sbi, CFS_GLT_META, CFS_META_STATFS);
	if (IS_ERR(sbi->statfs_glock))
		goto fail_statfs;
	sbi->rename_glock = cfs_glock_get(sbi, CFS_GLT_META, CFS_META_RENAME);
	if (IS_ERR(sbi->rename_glock))
		goto fail_rename;
	sbi->sb->s_d_op = &cfs_cluster_dentry_ops;

	err = cfs_glock_nq_flags(sbi->live_glock, CFS_GL_EX, &sbi->live_gh, CFS_GH_TRY);
	if (!err) {
		sbi->first_mounter = true;
		return 0;
	}
	if (err != -EAGAIN)
		return errorfc(fc, "cannot take the cluster mount lock (%d)", err), err;
	err = cfs_glock_nq(sbi->live_glock, CFS_GL_SH, &sbi->live_gh);
	if (err)
		return errorfc(fc, "waiting for the cluster mount lock: %d", err), err;
	return 0;

fail_rename:
	err = PTR_ERR(sbi->rename_glock);
	sbi->rename_glock = NULL;
	return err;
fail_statfs:
	err = PTR_ERR(sbi->statfs_glock);
	sbi->statfs_glock = NULL;
	return err;
fail_live:
	err = PTR_ERR(sbi->live_glock);
	sbi->live_glock = NULL;
	return err;
}

static void cfs_cluster_locks_release(struct cfs_sb_info *sbi)
{
	if (sbi->live_glock) {
		cfs_glock_dq(&sbi->live_gh);
		cfs_glock_put(sbi->live_glock);
		sbi->live_glock = NULL;
	}
	cfs_trans_locks_release(sbi);
	if (sbi->statfs_glock) {
		cfs_glock_put(sbi->statfs_glock);
		sbi->statfs_glock = NULL;
	}
	if (sbi->rename_glock) {
		cfs_glock_put(sbi->rename_glock);
		sbi->rename_glock = NULL;
	}
}

static int cfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct cfs_fs_context *ctx = fc->fs_private;
	struct cfs_sb_info *sbi;
	struct cfs_core_sb disk;
	struct inode *root;
	u64 device_blocks;
	int err;

	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	sbi->sb = sb;
	sbi->opts = ctx->opts;
	sb->s_fs_info = sbi;
	cfs_host_init(&sbi->host, sb);
	mutex_init(&sbi->trans_mutex);
	cfs_create_ahead_init(&sbi->create_ahead);
	cfs_lookup_ahead_init(&sbi->lookup_ahead);
	INIT_DELAYED_WORK(&sbi->log_work, cfs_log_work);
	INIT_DELAYED_WORK(&sbi->statfs_work, cfs_statfs_work);

	sb->s_op = &cfs_super_ops;
	sb->s_magic = CFS_META_MAGIC;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
	sb->s_time_min = S64_MIN;
	sb->s_time_max = S64_MAX;
	sb->s_flags |= SB_NOSEC;
	sb->s_xattr = cfs_xattr_handlers;
	/* POSIX ACLs on unless noacl, as GFS2: the VFS then leaves the umask to us. */
	if (!sbi->opts.noacl)
		sb->s_flags |= SB_POSIXACL;

	err = cfs_core_mount(&sbi->host, &sbi->core, &disk);
	if (err) {
		/* lib has logged what exactly it rejected, on the line before. */
		switch (err) {
		case -EOPNOTSUPP:
			errorfc(fc, "%s: unsupported format version or features", sb->s_id);
			break;
		case -EUCLEAN:
		case -EBADMSG:
			errorfc(fc, "%s: the superblock is damaged", sb->s_id);
			err = -EUCLEAN;
			break;
		case -EIO:
			errorfc(fc, "%s: cannot read the superblock", sb->s_id);
			break;
		default:
			errorfc(fc, "%s: superblock rejected (%d)", sb->s_id, err);
			break;
		}
		goto fail;
	}
	cfs_discard_init(sbi);
	sbi->block_size = disk.block_size;
	sbi->block_shift = disk.block_shift;
	sbi->fs_blocks = disk.blocks;
	sbi->root_addr = disk.root_addr;
	sbi->master_addr = disk.master_addr;
	sbi->rindex_addr = disk.rindex_addr;
	sbi->jindex_addr = disk.jindex_addr;
	sbi->statfs_addr = disk.statfs_addr;
	sbi->journals = disk.journals;
	sbi->rgrps = disk.rgrps;
	memcpy(sbi->uuid, disk.uuid, sizeof(sbi->uuid));

	device_blocks = bdev_nr_bytes(sb->s_bdev) >> sbi->block_shift;
	if (device_blocks < sbi->fs_blocks) {
		errorfc(fc, "%s is too small: %llu blocks of %u bytes, the filesystem needs %llu",
			sb->s_id, device_blocks, sbi->block_size, sbi->fs_blocks);
		err = -EINVAL;
		goto fail;
	}
	if (disk.ro_only && !sb_rdonly(sb)) {
		warnfc(fc, "%s has read-only-compatible features this module does not know: mounting read-only",
		       sb->s_id);
		sb->s_flags |= SB_RDONLY;
	}

	err = cfs_select_locking(fc, sbi, &disk);
	if (err)
		goto fail;
	/* lock_cluster: join the lockspace first, the glocks are its locks. */
	if (!test_bit(CFS_SDF_NOLOCK, &sbi->flags)) {
		err = cfs_cluster_mount(sbi, fc);
		if (err)
			goto fail;
	}
	err = cfs_glock_table_init(&sbi->glocks, sbi->cluster ? &cfs_lock_cluster : &cfs_lock_nolock);
	if (err)
		goto fail;
	cfs_glock_debugfs_add(&sbi->glocks, sb->s_id);
	cfs_create_ahead_debugfs(&sbi->create_ahead, sbi->glocks.debugfs);
	cfs_lookup_ahead_debugfs(&sbi->lookup_ahead, sbi->glocks.debugfs);
	if (sbi->cluster)
		cfs_glock_lru_enable(&sbi->glocks);

	/* The meta glock covers the superblock and statfs; held for the life of the mount. */
	sbi->sb_glock = cfs_glock_get(sbi, CFS_GLT_META, CFS_META_SUPER);
	if (IS_ERR(sbi->sb_glock)) {
		err = PTR_ERR(sbi->sb_glock);
		sbi->sb_glock = NULL;
		goto fail;
	}
	err = cfs_glock_nq(sbi->sb_glock, CFS_GL_SH, &sbi->sb_holder);
	if (err) {
		cfs_glock_put(sbi->sb_glock);
		sbi->sb_glock = NULL;
		goto fail;
	}

	cfs_set_sb_uuid(sb, sbi->uuid);
	sb->s_maxbytes = min_t(u64, MAX_LFS_FILESIZE, cfs_core_max_file_size(sbi->core));

	if (sbi->cluster) {
		err = cfs_cluster_locks(sbi, fc);
		if (!err && sbi->first_mounter)
			err = cfs_recover_other_journals(sbi, fc);
		if (err)
			goto fail;
	}
	err = cfs_journal_start(sbi, !sb_rdonly(sb), fc);
	if (err)
		goto fail;
	err = cfs_core_load_rgrps(sbi->core);
	if (!err)
		err = cfs_core_statfs_start(sbi->core, sbi->journal_slot);
	if (!err)
		err = cfs_trans_locks_init(sbi);
	if (err) {
		errorfc(fc, "%s: cannot load the resource groups (%d)", sb->s_id, err);
		err = cfs_core_error(sbi, err);
		goto fail;
	}
	/* With other nodes mounted, an unlinked inode may be open on one of them. */
	if (!sb_rdonly(sb) && (!sbi->cluster || sbi->first_mounter)) {
		u32 freed = 0;

		cfs_trans_lock_all(sbi);
		err = cfs_core_reclaim_unlinked(sbi->core, &freed);
		cfs_trans_unlock(sbi);
		if (err) {
			errorfc(fc, "%s: cannot free inodes unlinked before a crash (%d)", sb->s_id, err);
			err = cfs_core_error(sbi, err);
			goto fail;
		}
		if (freed)
			pr_info("clusterfs (%s): freed %u inodes unlinked while open before an unclean shutdown\n",
				sb->s_id, freed);
	}

	root = cfs_iget(sb, sbi->root_addr);
	if (IS_ERR(root)) {
		err = PTR_ERR(root);
		errorfc(fc, "%s: cannot read the root directory (inode %llu): %d", sb->s_id,
			sbi->root_addr, err);
		goto fail;
	}
	if (!S_ISDIR(root->i_mode)) {
		iput(root);
		errorfc(fc, "%s: the root inode %llu is not a directory", sb->s_id, sbi->root_addr);
		err = -EUCLEAN;
		goto fail;
	}
	sb->s_root = d_make_root(root);
	if (!sb->s_root) {
		err = -ENOMEM;
		goto fail;
	}
	if (sbi->cluster) {
		/* Recovery done: other mounters may proceed (they wait for SH). */
		cfs_glock_dq(&sbi->live_gh);
		err = cfs_glock_nq_flags(sbi->live_glock, CFS_GL_SH, &sbi->live_gh,
					 CFS_GH_UNINTERRUPTIBLE);
		if (err) {
			errorfc(fc, "lost the cluster mount lock (%d)", err);
			goto fail;
		}
		cfs_cluster_mounted(sbi);
	}
	pr_info("clusterfs (%s): mounted %s, %u-byte blocks, %llu blocks, journal %u of %u, %s\n",
		sb->s_id, sbi->locktable[0] ? sbi->locktable : "(no lock table)", sbi->block_size,
		sbi->fs_blocks, sbi->journal_slot, sbi->journals, sbi->lockproto);
	return 0;

fail:
	cfs_release_sbi(sbi);
	sb->s_fs_info = NULL;
	kfree(sbi);
	return err;
}

static int cfs_get_tree(struct fs_context *fc)
{
	return get_tree_bdev(fc, cfs_fill_super);
}

static int cfs_reconfigure(struct fs_context *fc)
{
	struct cfs_fs_context *ctx = fc->fs_private;
	struct super_block *sb = fc->root->d_sb;
	struct cfs_sb_info *sbi = CFS_SB(sb);
	int err;

	sync_filesystem(sb);
	if ((test_bit(Opt_lockproto, &ctx->given) && strcmp(ctx->opts.lockproto, sbi->lockproto)) ||
	    (test_bit(Opt_locktable, &ctx->given) && strcmp(ctx->opts.locktable, sbi->locktable)) ||
	    (test_bit(Opt_journal, &ctx->given) && ctx->opts.journal != sbi->journal_slot))
		return invalfc(fc, "lockproto, locktable and journal cannot change on remount");
	if (!(fc->sb_flags & SB_RDONLY) && cfs_withdrawn(sbi))
		return invalfc(fc, "%s is withdrawn: it cannot be made writable; unmount and run fsck.clusterfs",
			       sb->s_id);

	if ((fc->sb_flags & SB_RDONLY) && !sb_rdonly(sb)) {
		err = cfs_journal_stop(sbi);
		if (err)
			return err;
	} else if (!(fc->sb_flags & SB_RDONLY) && sb_rdonly(sb)) {
		err = cfs_journal_start(sbi, true, fc);
		if (err)
			return err;
	}

	if (test_bit(Opt_errors, &ctx->given))
		sbi->opts.errors = ctx->opts.errors;
	if (test_bit(Opt_acl, &ctx->given)) {
		sbi->opts.noacl = ctx->opts.noacl;
		if (sbi->opts.noacl)
			sb->s_flags &= ~SB_POSIXACL;
		else
			sb->s_flags |= SB_POSIXACL;
	}
	if (test_bit(Opt_commit, &ctx->given) && ctx->opts.commit_secs != sbi->opts.commit_secs) {
		sbi->opts.commit_secs = ctx->opts.commit_secs;
		if (cfs_core_journal_active(sbi->core))
			mod_delayed_work(system_long_wq, &sbi->log_work, sbi->opts.commit_secs * HZ);
	}
	if (test_bit(Opt_statfs_quantum, &ctx->given) &&
	    ctx->opts.statfs_quantum != sbi->opts.statfs_quantum) {
		sbi->opts.statfs_quantum = ctx->opts.statfs_quantum;
		if (cfs_core_journal_active(sbi->core))
			mod_delayed_work(system_long_wq, &sbi->statfs_work,
					 sbi->opts.statfs_quantum * HZ);
	}
	if (test_bit(Opt_discard, &ctx->given))
		sbi->opts.discard = ctx->opts.discard;
	return 0;
}

static void cfs_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations cfs_context_ops = {
	.parse_param	= cfs_parse_param,
	.get_tree	= cfs_get_tree,
	.reconfigure	= cfs_reconfigure,
	.free		= cfs_free_fc,
};

static int cfs_init_fs_context(struct fs_context *fc)
{
	struct cfs_fs_context *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->opts.journal = CFS_JOURNAL_AUTO;
	ctx->opts.errors = CFS_ERRORS_WITHDRAW;
	ctx->opts.commit_secs = CFS_DEFAULT_COMMIT_SECS;
	ctx->opts.statfs_quantum = CFS_DEFAULT_STATFS_QUANTUM;
	fc->fs_private = ctx;
	fc->ops = &cfs_context_ops;
	return 0;
}

struct file_system_type clusterfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "clusterfs",
	.init_fs_context	= cfs_init_fs_context,
	.parameters		= cfs_fs_parameters,
	.kill_sb		= cfs_kill_sb,
	.fs_flags		= FS_REQUIRES_DEV,
};
MODULE_ALIAS_FS("clusterfs");
