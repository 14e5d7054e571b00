// SPDX-License-Identifier: GPL-2.0
/*
 * Per-type glock hooks: what must be written back before a glock leaves EX, what must
 * be dropped before it leaves a caching state, and what is reloaded by the first holder
 * after that (glock.h).
 *
 * With lock_nolock these run only when a glock is freed (inode eviction, unmount): no
 * other node can have changed anything, so only the data write-back runs then. With
 * lock_cluster another node takes the lock next, so the hooks make the disk current
 * (journal checkpoint) and forget every cached copy of what the glock covers.
 */
#include <linux/buffer_head.h>
#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/posix_acl.h>

#include "../lib/env.h"

#include "clusterfs.h"
#include "core.h"

/*
 * Everything this node logged reaches its home blocks: the next holder on another node
 * reads the disk. Whole-journal granularity: a per-glock log position is future work
 * (docs/kernel.md "Cluster mounts").
 */
static int cfs_checkpoint_for_release(struct cfs_glock *gl)
{
	struct cfs_sb_info *sbi = gl->gl_sbi;
	int err = 0;

	if (!cfs_clustered_sb(sbi))
		return 0;
	mutex_lock(&sbi->trans_mutex);
	if (!cfs_withdrawn(sbi))
		err = cfs_core_journal_checkpoint(sbi->core);
	mutex_unlock(&sbi->trans_mutex);
	if (err)
		cfs_withdraw(sbi, "%s lock %llu: journal checkpoint failed (%d) while releasing it",
			     gl->gl_ops->name, gl->gl_number, err);
	return err;
}

typedef bool (*cfs_meta_match_fn)(struct cfs_sb_info *sbi, const struct cfs_meta_header *h,
				  u64 key);

/*
 * Forgets the cached copy of every metadata block @match selects (its header, as
 * cached, names the owner and type): the next meta_read reads and verifies it again.
 * A buffer under I/O is skipped (a read is filling it: it will be current). A held one
 * is not: the per-CPU buffer-head LRU holds references to recently used buffers, no
 * holder of this glock remains and the checkpoint released the journal's holds.
 */
static void cfs_meta_invalidate(struct cfs_sb_info *sbi, cfs_meta_match_fn match, u64 key)
{
	struct address_space *mapping = cfs_bdev_mapping(sbi->sb->s_bdev);
	struct folio_batch fbatch;
	pgoff_t index = 0;
	unsigned int i, n;

	folio_batch_init(&fbatch);
	while ((n = filemap_get_folios(mapping, &index, ULONG_MAX, &fbatch))) {
		for (i = 0; i < n; i++) {
			struct folio *folio = fbatch.folios[i];
			struct buffer_head *head, *bh;

			folio_lock(folio);
			head = folio_buffers(folio);
			bh = head;
			while (bh) {
				if (bh->b_size == sbi->block_size && buffer_uptodate(bh) &&
				    !buffer_dirty(bh) && !buffer_locked(bh) &&
				    match(sbi, (const struct cfs_meta_header *)bh->b_data, key)) {
					lock_buffer(bh);
					cfs_env_buf_set_verified((struct cfs_buf *)bh, 0);
					clear_buffer_uptodate(bh);
					unlock_buffer(bh);
				}
				bh = bh->b_this_page;
				if (bh == head)
					break;
			}
			folio_unlock(folio);
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

static bool cfs_meta_owned_by(struct cfs_sb_info *sbi, const struct cfs_meta_header *h, u64 owner)
{
	return le32_to_cpu(h->mh_magic) == CFS_META_MAGIC && le64_to_cpu(h->mh_owner) == owner;
}

/*
 * Forgets the cached copies of blocks [@first, @first + @count), as cfs_meta_invalidate
 * does, looking each one up instead of walking the device's cache: a resource group's
 * blocks are known, and a walk costs as much as everything cached.
 */
void cfs_meta_invalidate_range(struct cfs_sb_info *sbi, u64 first, u32 count)
{
	struct block_device *bdev = sbi->sb->s_bdev;
	u32 i;

	for (i = 0; i < count; i++) {
		struct buffer_head *bh = __find_get_block(bdev, first + i, sbi->block_size);

		if (!bh)
			continue;
		if (buffer_uptodate(bh) && !buffer_dirty(bh) && trylock_buffer(bh)) {
			cfs_env_buf_set_verified((struct cfs_buf *)bh, 0);
			clear_buffer_uptodate(bh);
			unlock_buffer(bh);
		}
		brelse(bh);
	}
}

static bool cfs_meta_owned_by_statfs(struct cfs_sb_info *sbi, const struct cfs_meta_header *h,
				     u64 unused)
{
	return cfs_meta_owned_by(sbi, h, sbi->statfs_addr);
}

static bool cfs_meta_any(struct cfs_sb_info *sbi, const struct cfs_meta_header *h, u64 unused)
{
	return le32_to_cpu(h->mh_magic) == CFS_META_MAGIC;
}

void cfs_meta_forget_all(struct cfs_sb_info *sbi)
{
	cfs_meta_invalidate(sbi, cfs_meta_any, 0);
}

/*
 * Diagnostic (module parameter verify_cache, off by default; the multi-kill VM test
 * turns it on). When an inode glock is granted after another node held it and this
 * node's journal is idle, a dinode still cached as valid is compared with the disk: a
 * difference is a stale copy that survived the invalidation (logged). And every dinode
 * or rgrp header written home is first compared with the disk (env_host.c): a newer
 * generation there means a stale copy is being written (logged with the stack, the node
 * withdraws). The allocation lock needs no grant-time check: its grant drops every
 * cached rgrp block (cfs_rgrp_go_instantiate). The cluster's "a block's current image
 * replaced by an older one" failures (docs/kernel.md, "Not done yet") start from one.
 */
bool cfs_verify_cache;
module_param_named(verify_cache, cfs_verify_cache, bool, 0644);
MODULE_PARM_DESC(verify_cache, "compare cached metadata with the disk at every glock grant (diagnostic)");

/* trans_mutex held and this node's journal idle: every cached copy must match the disk. */
static void cfs_verify_cached_block(struct cfs_sb_info *sbi, u64 blkno, void *disk, const char *what)
{
	struct buffer_head *bh = sb_find_get_block(sbi->sb, blkno);

	if (!bh)
		return;
	lock_buffer(bh);
	if (buffer_uptodate(bh) && !buffer_dirty(bh) &&
	    !cfs_env_blocks_read(&sbi->host, blkno, disk, 1) &&
	    memcmp(bh->b_data, disk, sbi->block_size)) {
		pr_err("clusterfs (%s): %s block %llu: the cached copy differs from the disk at a glock grant (a stale copy survived invalidation)\n",
		       sbi->sb->s_id, what, blkno);
	}
	unlock_buffer(bh);
	brelse(bh);
}

static void cfs_verify_cached_dinode(struct cfs_glock *gl)
{
	struct page *page;

	if (!cfs_verify_cache || !cfs_clustered_sb(gl->gl_sbi))
		return;
	page = alloc_page(GFP_NOFS);
	if (!page)
		return;
	mutex_lock(&gl->gl_sbi->trans_mutex);
	if (cfs_core_journal_idle(gl->gl_sbi->core))
		cfs_verify_cached_block(gl->gl_sbi, gl->gl_number, page_address(page), "dinode");
	mutex_unlock(&gl->gl_sbi->trans_mutex);
	__free_page(page);
}

/* ---- inode glocks ------------------------------------------------------------------ */

/* The inode's dirty pages and attributes reach disk before another node may read them. */
static int cfs_inode_go_sync(struct cfs_glock *gl)
{
	struct inode *inode = gl->gl_object;
	int err = 0;

	if (inode) {
		inode_dio_wait(inode);
		err = filemap_write_and_wait(inode->i_mapping);
		if (err)
			cfs_withdraw(gl->gl_sbi, "inode %llu: data write-back failed (%d) while releasing its lock",
				     gl->gl_number, err);
		else if (cfs_clustered_sb(gl->gl_sbi))
			err = cfs_inode_persist_for_release(inode);
	}
	if (!err)
		err = cfs_checkpoint_for_release(gl);
	return err;
}

static void cfs_inode_prune_work(struct work_struct *work)
{
	struct cfs_inode_info *ci = container_of(work, struct cfs_inode_info, prune_work);

	/* Unused dentries go; if nothing else holds the inode, eviction frees it if unlinked. */
	d_prune_aliases(&ci->vfs_inode);
	iput(&ci->vfs_inode);
}

/* Another node may change the file: forget the cached pages, ACLs and metadata. */
static void cfs_inode_go_inval(struct cfs_glock *gl)
{
	struct inode *inode = gl->gl_object;

	if (inode) {
		truncate_inode_pages(inode->i_mapping, 0);
		forget_all_cached_acls(inode);
	}
	if (!cfs_clustered_sb(gl->gl_sbi))
		return;
	cfs_meta_invalidate(gl->gl_sbi, cfs_meta_owned_by, gl->gl_number);
	/*
	 * The other node may be unlinking it: let an unused inode go, so that the last
	 * node to drop it frees it (the iopen lock decides, cfs_evict_inode).
	 */
	if (inode && !work_pending(&CFS_I(inode)->prune_work) && igrab(inode))
		queue_work(system_long_wq, &CFS_I(inode)->prune_work);
}

static int cfs_inode_go_instantiate(struct cfs_glock *gl)
{
	struct inode *inode = gl->gl_object;

	cfs_verify_cached_dinode(gl);
	return inode ? cfs_inode_reload(inode) : 0;
}

const struct cfs_glock_operations cfs_inode_glops = {
	.name		= "inode",
	.go_sync	= cfs_inode_go_sync,
	.go_inval	= cfs_inode_go_inval,
	.go_instantiate	= cfs_inode_go_instantiate,
};

void cfs_inode_glops_init_once(struct cfs_inode_info *ci)
{
	INIT_WORK(&ci->prune_work, cfs_inode_prune_work);
}

/* ---- resource groups (trans_lock.c) ------------------------------------------------ */

static int cfs_rgrp_go_sync(struct cfs_glock *gl)
{
	struct cfs_sb_info *sbi = gl->gl_sbi;
	uintptr_t index = (uintptr_t)READ_ONCE(gl->gl_object);
	u64 first;
	u32 count;

	/* No more allocation here: the guesses of the next creates' blocks go. */
	if (cfs_clustered_sb(sbi) && index && sbi->core &&
	    !cfs_core_rgrp_data(sbi->core, (u32)(index - 1), &first, &count))
		cfs_create_ahead_forget(sbi, first, first + count);
	return cfs_checkpoint_for_release(gl);
}

/* Exactly the group's header and bitmap blocks (gl_object: its index + 1). */
static void cfs_rgrp_go_inval(struct cfs_glock *gl)
{
	struct cfs_sb_info *sbi = gl->gl_sbi;
	uintptr_t index = (uintptr_t)READ_ONCE(gl->gl_object);
	u64 addr;
	u32 length;

	if (!cfs_clustered_sb(sbi) || !index || !sbi->core ||
	    cfs_core_rgrp_meta(sbi->core, (u32)(index - 1), &addr, &length))
		return;
	cfs_meta_invalidate_range(sbi, addr, length);
}

/* Copies read while we did not hold the lock (statfs) may predate other nodes' changes. */
static int cfs_rgrp_go_instantiate(struct cfs_glock *gl)
{
	cfs_rgrp_go_inval(gl);
	return 0;
}

const struct cfs_glock_operations cfs_rgrp_glops = {
	.name		= "rgrp",
	.go_sync	= cfs_rgrp_go_sync,
	.go_inval	= cfs_rgrp_go_inval,
	.go_instantiate	= cfs_rgrp_go_instantiate,
};

/* ---- filesystem-wide locks: the global statfs file is folded into under STATFS EX -- */

static int cfs_meta_go_sync(struct cfs_glock *gl)
{
	return gl->gl_number == CFS_META_STATFS ? cfs_checkpoint_for_release(gl) : 0;
}

static void cfs_meta_go_inval(struct cfs_glock *gl)
{
	if (gl->gl_number == CFS_META_STATFS && cfs_clustered_sb(gl->gl_sbi))
		cfs_meta_invalidate(gl->gl_sbi, cfs_meta_owned_by_statfs, 0);
}

static int cfs_meta_go_instantiate(struct cfs_glock *gl)
{
	cfs_meta_go_inval(gl);
	return 0;
}

const struct cfs_glock_operations cfs_meta_glops = {
	.name		= "meta",
	.go_sync	= cfs_meta_go_sync,
	.go_inval	= cfs_meta_go_inval,
	.go_instantiate	= cfs_meta_go_instantiate,
};

/* Held SH by every node with the inode in memory; caches nothing. */
const struct cfs_glock_operations cfs_iopen_glops = {
	.name		= "iopen",
};
