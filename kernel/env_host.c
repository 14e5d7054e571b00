// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel host of lib/env.h.
 *
 * Metadata buffers are buffer heads of the block device's page cache (sb_bread).
 * lib never has the host write a buffer on its own: buffer heads are never marked
 * dirty, so writeback of the block device cannot put uncommitted metadata on disk.
 * In-place writes (journal checkpoint) copy the block into a private page first and
 * write that, so a buffer changed by the next transaction while the write is in flight
 * cannot tear the block on disk. Journal writes and raw reads use bios on bounce pages:
 * lib's memory may come from kvmalloc (vmalloc), which a bio cannot map.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/buffer_head.h>
#include <linux/crc32c.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "../lib/env.h"

#include "clusterfs.h"

/* Buffer-head state bit: lib's verifier accepted the contents read from the device. */
enum { BH_CfsVerified = BH_PrivateStart, BH_CfsOwned };
BUFFER_FNS(CfsVerified, cfs_verified)
/*
 * The buffer's contents came from this filesystem: a read it issued, a block it built,
 * an image it replayed. Metadata lives in the block device's page cache, which userspace
 * fills too: mkfs's writes on this node, blkid, a `dd` or `sha256sum` of the device. Such
 * a page is uptodate but as old as that read; another node may have written the block
 * since. Trusting it served a freed file's data, or mkfs's zeros, as a dinode another
 * node had just written (the "mh_magic failed" withdraws of the cluster tests).
 */
BUFFER_FNS(CfsOwned, cfs_owned)

static inline struct buffer_head *cfs_bh(struct cfs_buf *b)
{
	return (struct buffer_head *)b;
}

static void cfs_delayed_iput_work(struct work_struct *work)
{
	struct cfs_host *host = container_of(work, struct cfs_host, delayed_iput_work);
	struct llist_node *list = llist_del_all(&host->delayed_iputs);
	struct cfs_inode_info *ci, *next;

	llist_for_each_entry_safe(ci, next, list, delayed_iput)
		iput(&ci->vfs_inode);
}

void cfs_host_run_delayed_iputs(struct cfs_host *host)
{
	flush_work(&host->delayed_iput_work);
	cfs_delayed_iput_work(&host->delayed_iput_work);
}

/*
 * Drops a reference taken under trans_mutex. Evicting a linked inode needs no
 * transaction, and link counts only change under trans_mutex, so only an unlinked
 * inode's last reference goes to the worker (see host.h).
 */
static void cfs_host_iput_nolock(struct cfs_host *host, struct cfs_inode_info *ci)
{
	if (ci->vfs_inode.i_nlink) {
		iput(&ci->vfs_inode);
		return;
	}
	if (atomic_add_unless(&ci->vfs_inode.i_count, -1, 1))
		return;	/* not the last reference */
	if (llist_add(&ci->delayed_iput, &host->delayed_iputs))
		schedule_work(&host->delayed_iput_work);
}

void cfs_host_init(struct cfs_host *host, struct super_block *sb)
{
	host->sb = sb;
	host->block_size = 0;
	atomic_set(&host->submitters, 0);
	init_waitqueue_head(&host->submitters_done);
	atomic_set(&host->writes_in_flight, 0);
	init_waitqueue_head(&host->writes_done);
	host->write_error = 0;
	spin_lock_init(&host->write_error_lock);
	mutex_init(&host->pending_lock);
	host->pending = NULL;
	host->issued_end = 0;
	spin_lock_init(&host->ordered_lock);
	INIT_LIST_HEAD(&host->ordered_inodes);
	ratelimit_state_init(&host->log_ratelimit, 5 * HZ, 20);
	init_llist_head(&host->delayed_iputs);
	INIT_WORK(&host->delayed_iput_work, cfs_delayed_iput_work);
}

static void cfs_host_submit_pending_locked(struct cfs_host *h);

/* Submits the pending bio and waits for every in-place write; pending_lock held. */
static void cfs_host_wait_writes_locked(struct cfs_host *host)
{
	lockdep_assert_held(&host->pending_lock);
	cfs_host_submit_pending_locked(host);
	wait_event(host->writes_done, atomic_read(&host->writes_in_flight) == 0);
	/*
	 * The completion that brought the count to zero may still be inside its wake-up
	 * (cfs_async_write_end_io): once we own the wait queue's lock it has left it, and
	 * the caller may free @host (unmount, failed mount).
	 */
	spin_lock_irq(&host->writes_done.lock);
	spin_unlock_irq(&host->writes_done.lock);
	host->issued_end = 0;
}

void cfs_host_drain(struct cfs_host *host)
{
	mutex_lock(&host->pending_lock);
	cfs_host_wait_writes_locked(host);
	mutex_unlock(&host->pending_lock);
}

bool cfs_host_io_enter(struct cfs_host *host)
{
	atomic_inc(&host->submitters);
	/* Pairs with the withdraw's test_and_set_bit: one of us sees the other. */
	smp_mb__after_atomic();
	if (unlikely(cfs_withdrawn(CFS_SB(host->sb)))) {
		cfs_host_io_exit(host);
		return false;
	}
	return true;
}

void cfs_host_io_exit(struct cfs_host *host)
{
	if (atomic_dec_and_test(&host->submitters))
		wake_up_all(&host->submitters_done);
}

/*
 * Withdrawn: every writer that passed its check finishes submitting, the queued in-place
 * metadata goes out and completes, and so does every data bio already submitted (a
 * queue freeze waits for the device's requests in flight; on a bio-based device such as
 * dm or DRBD it waits only for submission). Then the journal may be replayed by another
 * node without this node's writes landing behind it.
 */
void cfs_host_quiesce(struct cfs_host *host)
{
	struct request_queue *q = bdev_get_queue(host->sb->s_bdev);

	wait_event(host->submitters_done, atomic_read(&host->submitters) == 0);
	cfs_host_drain(host);
	blk_mq_freeze_queue(q);
	blk_mq_unfreeze_queue(q);
}

/* ---- memory ------------------------------------------------------------------------ */

void *cfs_env_alloc(struct cfs_host *h, size_t size, unsigned int flags)
{
	gfp_t gfp = (flags & CFS_ALLOC_ATOMIC) ? GFP_NOWAIT : GFP_NOFS;

	if (flags & CFS_ALLOC_ZERO)
		gfp |= __GFP_ZERO;
	if ((flags & CFS_ALLOC_LARGE) && !(flags & CFS_ALLOC_ATOMIC))
		return kvmalloc(size, gfp);
	return kmalloc(size, gfp);
}

void cfs_env_free(struct cfs_host *h, void *ptr)
{
	kvfree(ptr);
}

/* ---- metadata buffers -------------------------------------------------------------- */

int cfs_env_set_block_size(struct cfs_host *h, uint32_t block_size)
{
	if (block_size > PAGE_SIZE)
		return -EINVAL;
	if (!sb_set_blocksize(h->sb, block_size))
		return -EINVAL;
	h->block_size = block_size;
	h->block_shift = ilog2(block_size);
	return 0;
}

uint64_t cfs_env_dev_size(struct cfs_host *h)
{
	return bdev_nr_bytes(h->sb->s_bdev);
}

static bool cfs_host_block_in_device(struct cfs_host *h, uint64_t blkno)
{
	return h->block_size && blkno < (cfs_env_dev_size(h) >> h->block_shift);
}

int cfs_env_buf_read(struct cfs_host *h, uint64_t blkno, struct cfs_buf **out)
{
	struct buffer_head *bh;

	if (!cfs_host_block_in_device(h, blkno))
		return -ERANGE;
	bh = sb_getblk(h->sb, blkno);
	if (!bh)
		return -ENOMEM;
	if (!(buffer_uptodate(bh) && buffer_cfs_owned(bh))) {
		lock_buffer(bh);
		if (buffer_uptodate(bh) && buffer_cfs_owned(bh)) {
			unlock_buffer(bh);	/* another reader filled it meanwhile */
		} else {
			/* This read fills the buffer (again, if userspace had filled it). */
			clear_buffer_cfs_verified(bh);
			clear_buffer_uptodate(bh);
			if (__bh_read(bh, REQ_META | REQ_PRIO, true)) {
				brelse(bh);
				return -EIO;
			}
			set_buffer_cfs_owned(bh);
		}
	}
	*out = (struct cfs_buf *)bh;
	return 0;
}

int cfs_env_buf_get_new(struct cfs_host *h, uint64_t blkno, struct cfs_buf **out)
{
	struct buffer_head *bh;

	if (!cfs_host_block_in_device(h, blkno))
		return -ERANGE;
	bh = sb_getblk(h->sb, blkno);
	if (!bh)
		return -ENOMEM;
	lock_buffer(bh);
	memset(bh->b_data, 0, bh->b_size);
	clear_buffer_cfs_verified(bh);
	set_buffer_uptodate(bh);
	set_buffer_cfs_owned(bh);
	unlock_buffer(bh);
	*out = (struct cfs_buf *)bh;
	return 0;
}

void *cfs_env_buf_data(struct cfs_buf *b)
{
	return cfs_bh(b)->b_data;
}

uint64_t cfs_env_buf_blkno(const struct cfs_buf *b)
{
	return ((const struct buffer_head *)b)->b_blocknr;
}

void cfs_env_buf_hold(struct cfs_host *h, struct cfs_buf *b)
{
	get_bh(cfs_bh(b));
}

void cfs_env_buf_release(struct cfs_host *h, struct cfs_buf *b)
{
	brelse(cfs_bh(b));
}

int cfs_env_buf_verified(const struct cfs_buf *b)
{
	return buffer_cfs_verified((struct buffer_head *)b);
}

void cfs_env_buf_set_verified(struct cfs_buf *b, int verified)
{
	if (verified)
		set_buffer_cfs_verified(cfs_bh(b));
	else
		clear_buffer_cfs_verified(cfs_bh(b));
}

void cfs_env_buf_invalidate(struct cfs_host *h, struct cfs_buf *b)
{
	struct buffer_head *bh = cfs_bh(b);

	lock_buffer(bh);
	clear_buffer_cfs_verified(bh);
	clear_buffer_uptodate(bh);
	unlock_buffer(bh);
}

/* ---- bios on bounce pages ---------------------------------------------------------- */

static void cfs_host_record_write_error(struct cfs_host *h, int err)
{
	spin_lock(&h->write_error_lock);
	if (!h->write_error)
		h->write_error = err;
	spin_unlock(&h->write_error_lock);
}

static void cfs_free_bio_pages(struct bio *bio)
{
	struct bio_vec *bvec;
	struct bvec_iter_all iter;

	bio_for_each_segment_all(bvec, bio, iter)
		__free_page(bvec->bv_page);
}

static void cfs_async_write_end_io(struct bio *bio)
{
	struct cfs_host *h = bio->bi_private;
	unsigned long irqflags;

	if (bio->bi_status) {
		cfs_host_record_write_error(h, blk_status_to_errno(bio->bi_status));
		pr_err_ratelimited("clusterfs (%s): metadata write at sector %llu failed: %d\n",
				   h->sb->s_id, (unsigned long long)bio->bi_iter.bi_sector,
				   blk_status_to_errno(bio->bi_status));
	}
	cfs_free_bio_pages(bio);
	bio_put(bio);
	/*
	 * Decrement and wake-up under the wait queue's lock, which cfs_host_drain takes
	 * after it saw zero: without it a drain could see zero between the two, return, and
	 * unmount free @h while wake_up_all still locks and walks h->writes_done.
	 */
	spin_lock_irqsave(&h->writes_done.lock, irqflags);
	if (atomic_dec_and_test(&h->writes_in_flight))
		wake_up_all_locked(&h->writes_done);
	spin_unlock_irqrestore(&h->writes_done.lock, irqflags);
}

/*
 * Synchronous transfer of @len bytes (a multiple of 512) at byte @off between the
 * device and the virtually contiguous (possibly vmalloc'ed) buffer @buf, in bios of up
 * to BIO_MAX_VECS bounce pages.
 */
static int cfs_host_rw_sync(struct cfs_host *h, blk_opf_t opf, u64 off, void *buf, size_t len)
{
	struct block_device *bdev = h->sb->s_bdev;
	bool first = true;

	while (len) {
		unsigned int nr = min_t(size_t, DIV_ROUND_UP(len, PAGE_SIZE), BIO_MAX_VECS);
		size_t chunk = min_t(size_t, len, (size_t)nr * PAGE_SIZE);
		blk_opf_t flags = opf;
		struct bio *bio;
		size_t done = 0;
		int err;

		if (op_is_write(opf) && !first)
			flags &= ~REQ_PREFLUSH;
		bio = bio_alloc(bdev, nr, flags, GFP_NOFS);
		bio->bi_iter.bi_sector = off >> SECTOR_SHIFT;
		while (done < chunk) {
			size_t part = min_t(size_t, chunk - done, PAGE_SIZE);
			struct page *page = alloc_page(GFP_NOFS);

			if (!page) {
				cfs_free_bio_pages(bio);
				bio_put(bio);
				return -ENOMEM;
			}
			if (op_is_write(opf))
				memcpy(page_address(page), (u8 *)buf + done, part);
			__bio_add_page(bio, page, part, 0);
			done += part;
		}
		err = submit_bio_wait(bio);
		if (!err && !op_is_write(opf)) {
			struct bio_vec *bvec;
			struct bvec_iter_all iter;
			size_t copied = 0;

			bio_for_each_segment_all(bvec, bio, iter) {
				memcpy((u8 *)buf + copied, page_address(bvec->bv_page), bvec->bv_len);
				copied += bvec->bv_len;
			}
		}
		cfs_free_bio_pages(bio);
		bio_put(bio);
		if (err)
			return err;
		buf = (u8 *)buf + chunk;
		off += chunk;
		len -= chunk;
		first = false;
	}
	return 0;
}

/* Bounce pages per in-place write bio: 64 blocks of 4 KiB, 256 KiB. */
#define CFS_PENDING_VECS 64

static void cfs_host_submit_pending_locked(struct cfs_host *h)
{
	lockdep_assert_held(&h->pending_lock);
	if (h->pending) {
		submit_bio(h->pending);
		h->pending = NULL;
	}
}

/*
 * Diagnostic (verify_cache): a dinode or rgrp header whose generation counter on disk is
 * newer than the image about to be written home is a stale copy overwriting someone
 * else's work (generations only grow: a dinode's on reuse, an rgrp's at each inode
 * allocation). Logged with the writer's stack, and the node withdraws instead of
 * writing it: the multi-kill corruption (docs/kernel.md "Not done yet") is named where
 * it is made rather than where it is found.
 */
static int cfs_host_check_overwrite(struct cfs_host *h, struct buffer_head *bh)
{
	const struct cfs_meta_header *mh = (const void *)bh->b_data;
	const struct cfs_meta_header *dh;
	struct page *page;
	u16 type = le16_to_cpu(mh->mh_type);
	u64 ours, disk;
	int err = 0;

	if (!cfs_verify_cache || le32_to_cpu(mh->mh_magic) != CFS_META_MAGIC ||
	    (type != CFS_BT_DI && type != CFS_BT_RG))
		return 0;
	page = alloc_page(GFP_NOFS);
	if (!page || cfs_env_blocks_read(h, bh->b_blocknr, page_address(page), 1))
		goto out;
	dh = page_address(page);
	if (le32_to_cpu(dh->mh_magic) != CFS_META_MAGIC || le16_to_cpu(dh->mh_type) != type)
		goto out;
	if (type == CFS_BT_DI) {
		ours = le64_to_cpu(((const struct cfs_dinode *)bh->b_data)->di_generation);
		disk = le64_to_cpu(((const struct cfs_dinode *)dh)->di_generation);
	} else {
		ours = le64_to_cpu(((const struct cfs_rgrp *)bh->b_data)->rg_igeneration);
		disk = le64_to_cpu(((const struct cfs_rgrp *)dh)->rg_igeneration);
	}
	if (disk > ours) {
		pr_err("clusterfs (%s): %s block %llu: writing generation %llu over generation %llu on disk (a stale copy written home)\n",
		       h->sb->s_id, type == CFS_BT_DI ? "dinode" : "rgrp",
		       (unsigned long long)bh->b_blocknr, ours, disk);
		dump_stack();
		cfs_withdraw(CFS_SB(h->sb), "block %llu: a stale copy was about to be written home",
			     (unsigned long long)bh->b_blocknr);
		err = -EIO;
	}
out:
	if (page)
		__free_page(page);
	return err;
}

int cfs_env_buf_write(struct cfs_host *h, struct cfs_buf *b, unsigned int flags)
{
	struct buffer_head *bh = cfs_bh(b);
	blk_opf_t opf = REQ_OP_WRITE | REQ_META | REQ_PRIO;
	sector_t sector = bh->b_blocknr << (h->block_shift - SECTOR_SHIFT);
	struct page *page;
	struct bio *bio;

	/* A withdrawn node writes nothing more: its locks may be someone else's already. */
	if (!cfs_host_io_enter(h))
		return -EIO;
	if (cfs_host_check_overwrite(h, bh)) {
		cfs_host_io_exit(h);
		return -EIO;
	}
	if (flags & CFS_IO_PREFLUSH)
		opf |= REQ_PREFLUSH;
	if (flags & CFS_IO_FUA)
		opf |= REQ_FUA;
	page = alloc_page(GFP_NOFS);
	if (!page) {
		cfs_host_io_exit(h);
		return -ENOMEM;
	}
	memcpy(page_address(page), bh->b_data, bh->b_size);

	mutex_lock(&h->pending_lock);
	/*
	 * Nothing orders two overlapping writes in flight (the device may complete the later
	 * one first): journal replay writes a block once per record that logged it, in log
	 * order, and the older image could land last. A block below every write issued
	 * since the last wait waits for them; checkpoints write in ascending block order
	 * and never do.
	 */
	if (sector < h->issued_end)
		cfs_host_wait_writes_locked(h);
	h->issued_end = max_t(sector_t, h->issued_end, sector + (bh->b_size >> SECTOR_SHIFT));
	if (h->pending && !flags && sector == h->pending_end &&
	    bio_add_page(h->pending, page, bh->b_size, 0) == bh->b_size) {
		h->pending_end += bh->b_size >> SECTOR_SHIFT;
		mutex_unlock(&h->pending_lock);
		cfs_host_io_exit(h);
		return 0;
	}
	cfs_host_submit_pending_locked(h);
	bio = bio_alloc(h->sb->s_bdev, flags ? 1 : CFS_PENDING_VECS, opf, GFP_NOFS);
	bio->bi_iter.bi_sector = sector;
	__bio_add_page(bio, page, bh->b_size, 0);
	bio->bi_private = h;
	bio->bi_end_io = cfs_async_write_end_io;
	atomic_inc(&h->writes_in_flight);
	if (flags) {
		/* Cache-flush semantics belong to this block alone. */
		submit_bio(bio);
	} else {
		h->pending = bio;
		h->pending_end = sector + (bh->b_size >> SECTOR_SHIFT);
	}
	mutex_unlock(&h->pending_lock);
	cfs_host_io_exit(h);
	return 0;
}

int cfs_env_sync(struct cfs_host *h)
{
	int err, flush_err;

	cfs_host_drain(h);
	flush_err = blkdev_issue_flush(h->sb->s_bdev);
	spin_lock(&h->write_error_lock);
	err = h->write_error;
	h->write_error = 0;
	spin_unlock(&h->write_error_lock);
	return err ? err : flush_err;
}

/* ---- raw device I/O ---------------------------------------------------------------- */

int cfs_env_dev_read(struct cfs_host *h, uint64_t off, void *dst, size_t len)
{
	if ((off | len) & (SECTOR_SIZE - 1))
		return -EINVAL;
	if (off + len > cfs_env_dev_size(h) || off + len < off)
		return -ERANGE;
	return cfs_host_rw_sync(h, REQ_OP_READ | REQ_META, off, dst, len);
}

int cfs_env_log_write(struct cfs_host *h, uint64_t blkno, const void *const *blocks,
		      unsigned int count, unsigned int flags)
{
	blk_opf_t opf = REQ_OP_WRITE | REQ_META | REQ_SYNC;
	unsigned int i = 0;
	int err = 0;

	if (!count)
		return cfs_withdrawn(CFS_SB(h->sb)) ? -EIO : 0;
	if (blkno + count > (cfs_env_dev_size(h) >> h->block_shift))
		return -ERANGE;
	if (!cfs_host_io_enter(h))
		return -EIO;
	if (flags & CFS_IO_FUA)
		opf |= REQ_FUA;
	/*
	 * Blocks adjacent in memory (lib's journal stage: up to 32 of them) go out as one
	 * transfer, not one synchronous bio per block: a commit of a few thousand blocks
	 * was as many device round trips, most of what `sync` took after an untar
	 * (docs/bench/kernel.md). The preflush goes on the first bio only, FUA on every
	 * one, so the call is one ordered, durable unit.
	 */
	while (i < count) {
		const u8 *start = blocks[i];
		unsigned int run = 1;
		blk_opf_t this = opf;

		while (i + run < count && blocks[i + run] == start + ((size_t)run << h->block_shift))
			run++;
		if ((flags & CFS_IO_PREFLUSH) && i == 0)
			this |= REQ_PREFLUSH;
		err = cfs_host_rw_sync(h, this, (blkno + i) << h->block_shift, (void *)start,
				       (size_t)run << h->block_shift);
		if (err)
			break;
		i += run;
	}
	cfs_host_io_exit(h);
	return err;
}

int cfs_env_blocks_read(struct cfs_host *h, uint64_t blkno, void *dst, unsigned int count)
{
	if (blkno + count > (cfs_env_dev_size(h) >> h->block_shift))
		return -ERANGE;
	return cfs_host_rw_sync(h, REQ_OP_READ | REQ_META, blkno << h->block_shift, dst,
				(size_t)count << h->block_shift);
}

/* ---- ordered data ------------------------------------------------------------------ */

void cfs_host_add_ordered(struct cfs_host *host, struct cfs_inode_info *ci)
{
	spin_lock(&host->ordered_lock);
	if (list_empty(&ci->ordered_entry))
		list_add_tail(&ci->ordered_entry, &host->ordered_inodes);
	spin_unlock(&host->ordered_lock);
}

void cfs_host_remove_ordered(struct cfs_host *host, struct cfs_inode_info *ci)
{
	spin_lock(&host->ordered_lock);
	list_del_init(&ci->ordered_entry);
	spin_unlock(&host->ordered_lock);
}

/*
 * Starts writeback of every ordered inode, then waits for all of it, as GFS2's
 * ordered write/wait pair does: one inode at a time would make a commit after an untar
 * one device round trip per file. The plug lets adjacent small files merge into larger
 * requests. Runs under trans_mutex, like every cfs_host_add_ordered, so no inode joins
 * the list while this runs; each one stays referenced until its wait.
 */
int cfs_env_ordered_data_flush(struct cfs_host *h)
{
	struct cfs_inode_info *ci;
	struct blk_plug plug;
	LIST_HEAD(batch);
	LIST_HEAD(started);
	int err = 0, ret;

	spin_lock(&h->ordered_lock);
	list_splice_init(&h->ordered_inodes, &batch);
	spin_unlock(&h->ordered_lock);
	/* Eviction unlinks entries under ordered_lock: pick each one under it too. */
	blk_start_plug(&plug);
	spin_lock(&h->ordered_lock);
	while (!list_empty(&batch)) {
		ci = list_first_entry(&batch, struct cfs_inode_info, ordered_entry);
		list_del_init(&ci->ordered_entry);
		if (!igrab(&ci->vfs_inode))
			continue;	/* being evicted: eviction writes its data itself */
		list_add_tail(&ci->ordered_entry, &started);
		spin_unlock(&h->ordered_lock);
		/*
		 * Not inode_dio_wait(): a direct write allocating in iomap_begin can trigger
		 * this flush while its own I/O counts as in flight. Fresh blocks of direct
		 * writes are zeroed before use instead (file.c).
		 */
		ret = filemap_fdatawrite(ci->vfs_inode.i_mapping);
		if (ret && !err)
			err = ret;
		spin_lock(&h->ordered_lock);
	}
	spin_unlock(&h->ordered_lock);
	blk_finish_plug(&plug);

	while (!list_empty(&started)) {
		ci = list_first_entry(&started, struct cfs_inode_info, ordered_entry);
		spin_lock(&h->ordered_lock);
		list_del_init(&ci->ordered_entry);
		spin_unlock(&h->ordered_lock);
		ret = filemap_fdatawait(ci->vfs_inode.i_mapping);
		if (ret && !err)
			err = ret;
		cfs_host_iput_nolock(h, ci);
	}
	return err;
}

/* ---- crc32c, time, logging, locks ---------------------------------------------------- */

uint32_t cfs_env_crc32c(uint32_t crc, const void *p, size_t len)
{
	return crc32c(crc, p, len);
}

void cfs_env_now(struct cfs_host *h, struct cfs_timespec *ts)
{
	struct timespec64 now;

	/*
	 * The clock of the VFS's current_time() (coarse): lib's times (rename, link, unlink,
	 * directory changes) and the VFS's (write, setattr, xattr) are compared with each
	 * other, and a ctime from the precise clock could be a tick ahead of a later one.
	 */
	ktime_get_coarse_real_ts64(&now);
	ts->sec = now.tv_sec;
	ts->nsec = now.tv_nsec;
}

void cfs_env_log(struct cfs_host *h, int level, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (level <= CFS_LOG_WARN && h && !__ratelimit(&h->log_ratelimit))
		return;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	switch (level) {
	case CFS_LOG_ERR:
		pr_err("clusterfs (%s): %pV\n", h ? h->sb->s_id : "-", &vaf);
		break;
	case CFS_LOG_WARN:
		pr_warn("clusterfs (%s): %pV\n", h ? h->sb->s_id : "-", &vaf);
		break;
	case CFS_LOG_NOTICE:
		pr_notice("clusterfs (%s): %pV\n", h ? h->sb->s_id : "-", &vaf);
		break;
	case CFS_LOG_INFO:
		pr_info("clusterfs (%s): %pV\n", h ? h->sb->s_id : "-", &vaf);
		break;
	default:
		pr_debug("clusterfs (%s): %pV\n", h ? h->sb->s_id : "-", &vaf);
		break;
	}
	va_end(args);
}

struct cfs_mutex {
	struct mutex mutex;
};

struct cfs_spin {
	spinlock_t lock;
};

int cfs_env_mutex_create(struct cfs_host *h, struct cfs_mutex **out)
{
	struct cfs_mutex *m = kmalloc(sizeof(*m), GFP_NOFS);

	if (!m)
		return -ENOMEM;
	mutex_init(&m->mutex);
	*out = m;
	return 0;
}

void cfs_env_mutex_destroy(struct cfs_host *h, struct cfs_mutex *m)
{
	if (m)
		mutex_destroy(&m->mutex);
	kfree(m);
}

void cfs_env_mutex_lock(struct cfs_mutex *m)
{
	mutex_lock(&m->mutex);
}

void cfs_env_mutex_unlock(struct cfs_mutex *m)
{
	mutex_unlock(&m->mutex);
}

int cfs_env_spin_create(struct cfs_host *h, struct cfs_spin **out)
{
	struct cfs_spin *s = kmalloc(sizeof(*s), GFP_NOFS);

	if (!s)
		return -ENOMEM;
	spin_lock_init(&s->lock);
	*out = s;
	return 0;
}

void cfs_env_spin_destroy(struct cfs_host *h, struct cfs_spin *s)
{
	kfree(s);
}

void cfs_env_spin_lock(struct cfs_spin *s)
{
	spin_lock(&s->lock);
}

void cfs_env_spin_unlock(struct cfs_spin *s)
{
	spin_unlock(&s->lock);
}
