/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The narrow C interface between the VFS glue (C) and the C++ core (lib/ through
 * kernel/core_*.cpp). Plain structs in CPU byte order; errors are negative errnos.
 * The glue holds the locks lib expects (inode rwsem, glocks) around every call.
 */
#ifndef CLUSTERFS_CORE_H
#define CLUSTERFS_CORE_H

#ifdef __cplusplus
#include <cstdint>
extern "C" {
typedef std::uint8_t cfs_core_u8;
typedef std::uint16_t cfs_core_u16;
typedef std::uint32_t cfs_core_u32;
typedef std::uint64_t cfs_core_u64;
typedef std::int64_t cfs_core_s64;
#else
#include <linux/types.h>
typedef u8 cfs_core_u8;
typedef u16 cfs_core_u16;
typedef u32 cfs_core_u32;
typedef u64 cfs_core_u64;
typedef s64 cfs_core_s64;
#endif

struct cfs_host;
struct cfs_core;	/* wraps lib's cfs::Fs */

/* What the glue needs from the verified superblock. */
struct cfs_core_sb {
	cfs_core_u32 block_size;
	cfs_core_u32 block_shift;
	cfs_core_u64 blocks;
	cfs_core_u64 root_addr;
	cfs_core_u64 master_addr;
	cfs_core_u64 rindex_addr;
	cfs_core_u64 jindex_addr;
	cfs_core_u64 statfs_addr;
	cfs_core_u32 journals;
	cfs_core_u32 rgrps;
	cfs_core_u32 format_version;
	cfs_core_u8 ro_only;		/* unknown ro_compat features: mount read-only */
	cfs_core_u8 uuid[16];
	char lockproto[64];		/* NUL-terminated */
	char locktable[64];
	char label[32];
};

/*
 * Reads and verifies the superblock through lib, sets the host's block size.
 * -EINVAL: no clusterfs superblock; -EUCLEAN/-EBADMSG: a damaged one; -EOPNOTSUPP:
 * unsupported version or incompatible features. lib has logged the details.
 */
int cfs_core_mount(struct cfs_host *host, struct cfs_core **out, struct cfs_core_sb *sb);
void cfs_core_unmount(struct cfs_core *core);

/* A dinode's fields, CPU order. */
struct cfs_core_inode {
	cfs_core_u32 mode;
	cfs_core_u32 uid;
	cfs_core_u32 gid;
	cfs_core_u32 nlink;
	cfs_core_u64 size;
	cfs_core_u64 blocks;		/* filesystem blocks owned, dinode included */
	cfs_core_u64 generation;
	cfs_core_s64 atime_sec, mtime_sec, ctime_sec, crtime_sec;
	cfs_core_u32 atime_nsec, mtime_nsec, ctime_nsec, crtime_nsec;
	cfs_core_u32 flags;		/* CFS_DIF_* */
	cfs_core_u32 height;
	cfs_core_u32 rdev_major;
	cfs_core_u32 rdev_minor;
};

/* Reads and verifies dinode @ino. -EUCLEAN/-EBADMSG: corrupt (lib logged which check). */
int cfs_core_inode_read(struct cfs_core *core, cfs_core_u64 ino, struct cfs_core_inode *out);

/* Filesystem-wide counts from the statfs system file, in blocks / dinodes. */
struct cfs_core_statfs {
	cfs_core_u64 total;
	cfs_core_u64 free;
	cfs_core_u64 dinodes;
};
int cfs_core_statfs(struct cfs_core *core, struct cfs_core_statfs *out);
/* Rereads every rgrp header's counts (another node may have allocated since). */
int cfs_core_refresh_rgrps(struct cfs_core *core);
/* Largest file size the pointer tree can map. */
cfs_core_u64 cfs_core_max_file_size(struct cfs_core *core);

/* Directory entries. */
struct cfs_core_dirent {
	cfs_core_u64 ino;
	cfs_core_u64 generation;
	cfs_core_u8 type;		/* DT_* */
};

#define CFS_CORE_DIR_COOKIE_END (1ull << 62)	/* readdir position after the last entry */

/* Looks @name up in directory @dir: 0, -ENOENT, or an error. */
int cfs_core_lookup(struct cfs_core *core, cfs_core_u64 dir, const char *name,
		    cfs_core_u32 len, struct cfs_core_dirent *out);

/* Returns false to stop: that entry is not consumed. */
typedef bool (*cfs_core_emit_fn)(void *ctx, const char *name, cfs_core_u32 len,
				 const struct cfs_core_dirent *entry, cfs_core_u64 cookie_after);

/* Emits the entries after *@cookie in cookie order; *@cookie is where to resume. */
int cfs_core_readdir(struct cfs_core *core, cfs_core_u64 dir, cfs_core_u64 *cookie,
		     cfs_core_emit_fn emit, void *ctx);

/* One mapping from file block @lblock: @count blocks at @disk_block, or a hole (0). */
struct cfs_core_map {
	cfs_core_u64 disk_block;
	cfs_core_u64 count;
	cfs_core_u8 fresh;		/* newly allocated: contents undefined until written */
};

/* Looks up at most @max_count blocks from @lblock; never allocates. */
int cfs_core_bmap(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 lblock,
		  cfs_core_u64 max_count, struct cfs_core_map *out);

/* Bytes a stuffed (height 0) regular file holds in its dinode. */
cfs_core_u32 cfs_core_inline_capacity(struct cfs_core *core);
/*
 * Writes @len bytes at @off into a stuffed inode's inline data, extending its size, in
 * one transaction of one buffer (the dinode): small files stay in their dinode, as in
 * GFS2. -EFBIG past the inline capacity, -EINVAL if the inode is not stuffed. The
 * @attr_mask fields of @attrs (CFS_CORE_ATTR_*, may be 0) go into the same dinode:
 * the write's mtime and ctime.
 */
int cfs_core_write_inline(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 off,
			  const void *buf, cfs_core_u32 len, const struct cfs_core_inode *attrs,
			  unsigned int attr_mask);
/* Copies bytes [@off, @off + @len) of a stuffed inode's inline data (zeros past EOF). */
int cfs_core_read_inline(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 off,
			 void *buf, cfs_core_u32 len);

/* ---- Journal (callers serialise all of these and every transaction: sbi->trans_mutex) */

struct cfs_core_replay {
	cfs_core_u32 records;
	cfs_core_u32 blocks_replayed;
	cfs_core_u32 blocks_revoked;
	cfs_core_u32 blocks_superseded;	/* older images of a block logged again later */
	cfs_core_u8 was_dirty;		/* the journal needed replay */
	cfs_core_u8 was_unmounted;	/* its newest header says clean unmount */
};

/* Loads the resource groups (allocation, statfs). */
int cfs_core_load_rgrps(struct cfs_core *core);

/* statfs accounting through journal @slot's statfs change file (after load_rgrps). */
int cfs_core_statfs_start(struct cfs_core *core, cfs_core_u32 slot);
/* Folds this node's change file into the global statfs file (one transaction). */
int cfs_core_statfs_sync(struct cfs_core *core);

/*
 * Replays journal @slot if it is dirty (-EROFS when it is and !@may_write), then, with
 * @open_for_write, opens it for new transactions: write operations are possible after.
 */
int cfs_core_journal_start(struct cfs_core *core, cfs_core_u32 slot, bool may_write,
			   bool open_for_write, struct cfs_core_replay *out);
/*
 * Replays journal @slot of another node if it is dirty (-EROFS when it is and
 * !@may_write; replay leaves a clean header, so a second call finds nothing), without
 * opening it or touching this mount's own journal. The caller holds what makes that node
 * unable to write (it is fenced, or this mount holds the filesystem exclusively).
 */
int cfs_core_journal_recover(struct cfs_core *core, cfs_core_u32 slot, bool may_write,
			     struct cfs_core_replay *out);
/* Writes committed transactions to the log: durable when it returns 0. */
int cfs_core_journal_flush(struct cfs_core *core);
/* Nothing logged that is not home yet (trans_mutex held). */
bool cfs_core_journal_idle(struct cfs_core *core);
/*
 * Flushes the log and writes every logged block in place (a checkpoint), if anything
 * is not home yet: what a glock covered reaches its home before another node reads it.
 */
int cfs_core_journal_checkpoint(struct cfs_core *core);
/* Log blocks written since the last checkpoint: what a replay after a crash goes through. */
cfs_core_u32 cfs_core_journal_backlog(struct cfs_core *core);
/*
 * cfs_core_journal_flush that also tells whether it wrote a record (*@wrote): the
 * record's header carries a cache flush, so data written before is durable too.
 */
int cfs_core_journal_flush_wrote(struct cfs_core *core, bool *wrote);
/* Clean shutdown (checkpoint + unmount header) when @clean, else just drops it. */
int cfs_core_journal_stop(struct cfs_core *core, bool clean);
bool cfs_core_journal_active(struct cfs_core *core);

/* ---- Namespace and inode changes: one transaction each ------------------------------ */

/* An extended attribute a new inode starts with (inherited ACLs), set in its transaction. */
struct cfs_core_new_xattr {
	cfs_core_u32 ns;		/* enum cfs_xattr_namespace */
	const char *name;		/* without the prefix; "" for ACLs */
	cfs_core_u32 name_len;
	const void *value;
	cfs_core_u32 value_len;
};
#define CFS_CORE_NEW_XATTRS_MAX 2u

struct cfs_core_new_inode {
	cfs_core_u32 mode;
	cfs_core_u32 uid;
	cfs_core_u32 gid;
	cfs_core_u32 rdev_major;
	cfs_core_u32 rdev_minor;
	const char *symlink;		/* S_IFLNK: the target */
	cfs_core_u32 symlink_len;
	struct cfs_core_new_xattr xattrs[CFS_CORE_NEW_XATTRS_MAX];
	cfs_core_u32 nxattrs;
};

/* Creates an inode and its entry @name in @dir (a directory bumps @dir's link count). */
int cfs_core_create(struct cfs_core *core, cfs_core_u64 dir, const char *name,
		    cfs_core_u32 len, const struct cfs_core_new_inode *init, cfs_core_u64 *ino);
/* A hard link: entry @name in @dir for @ino, whose link count grows. */
int cfs_core_link(struct cfs_core *core, cfs_core_u64 dir, const char *name, cfs_core_u32 len,
		  cfs_core_u64 ino);
/*
 * Removes entry @name (naming @ino) from @dir. @is_dir: rmdir (-ENOTEMPTY unless empty).
 * An inode left with no link is marked unlinked in its rgrp; *@orphaned tells the caller
 * to free it once nobody has it open (cfs_core_free_inode).
 */
int cfs_core_unlink(struct cfs_core *core, cfs_core_u64 dir, const char *name,
		    cfs_core_u32 len, cfs_core_u64 ino, bool is_dir, bool *orphaned);

#define CFS_CORE_RENAME_NOREPLACE	(1u << 0)
#define CFS_CORE_RENAME_EXCHANGE	(1u << 1)
/* *@orphaned_ino: an overwritten target that lost its last link (0 if none). */
int cfs_core_rename(struct cfs_core *core, cfs_core_u64 old_dir, const char *old_name,
		    cfs_core_u32 old_len, cfs_core_u64 new_dir, const char *new_name,
		    cfs_core_u32 new_len, unsigned int flags, cfs_core_u64 *orphaned_ino);

/* What cfs_core_update_inode copies from the VFS inode into the dinode. */
#define CFS_CORE_ATTR_MODE	(1u << 0)
#define CFS_CORE_ATTR_OWNER	(1u << 1)
#define CFS_CORE_ATTR_TIMES	(1u << 2)	/* atime, mtime, ctime */
#define CFS_CORE_ATTR_SIZE	(1u << 3)	/* regular files: size only grows this way */
int cfs_core_update_inode(struct cfs_core *core, cfs_core_u64 ino,
			  const struct cfs_core_inode *attrs, unsigned int mask);

/*
 * Block-map changes (allocation, truncation, freeing) run with the inode's map lock held
 * exclusively, which writeback also takes: a journal flush inside them could wait on
 * writeback of that very inode. The caller therefore reserves log space first, under
 * trans_mutex and before the map lock, so that the transaction never flushes.
 */
#define CFS_CORE_MAP_CHANGE_BUFS 128u
int cfs_core_reserve(struct cfs_core *core, cfs_core_u32 nbufs);

/*
 * One transaction of a truncation to a smaller @size (every block past it is freed,
 * preallocated ones included); repeat until *@done.
 */
int cfs_core_truncate_step(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 size,
			   bool *done);
/*
 * Grows the size to @size (the VFS size was smaller) in one transaction, freeing
 * nothing: blocks preallocated past the old size stay (docs/format.md).
 */
int cfs_core_extend(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 size);

/* One transaction of freeing file blocks [@first, @end) (a punched hole); repeat until *@done. */
int cfs_core_punch_step(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 first,
			cfs_core_u64 end, bool *done);

/*
 * Maps file block @lblock for writing, allocating up to @max_count blocks for a hole and
 * unstuffing an inline file first (its bytes are written to the new block before the
 * transaction commits). out->fresh: the blocks' contents are undefined.
 */
int cfs_core_alloc(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 lblock,
		   cfs_core_u64 max_count, struct cfs_core_map *out);

/*
 * Frees the dinodes left in state UNLINKED by a crash (unlinked while open). Only when
 * no node can have them open: a fresh lock_nolock mount. Needs the journal open.
 */
int cfs_core_reclaim_unlinked(struct cfs_core *core, cfs_core_u32 *freed);
/*
 * The first inode at or after @from whose bitmap state is UNLINKED (*ino), or -ENOENT.
 * Caller holds the allocation lock (cfs_trans_lock): the bitmaps are read through it.
 */
int cfs_core_next_unlinked(struct cfs_core *core, cfs_core_u64 from, cfs_core_u64 *ino);

/* One transaction of freeing an unlinked inode and its blocks; repeat until *@done. */
int cfs_core_free_inode_step(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 generation, bool *done);

/* ---- Discard ---------------------------------------------------------------------- */

/*
 * Mount option `discard`: @freed hears of every run of blocks a transaction frees (inside
 * that transaction, under trans_mutex); @committed runs, still under trans_mutex, after
 * each journal flush through cfs_core_journal_flush or a clean cfs_core_journal_stop has
 * made every transaction so far durable: only then may freed blocks be discarded.
 * A NULL member is not called; NULL @obs removes the observer.
 */
struct cfs_core_free_observer {
	void (*freed)(void *ctx, cfs_core_u64 first, cfs_core_u32 count);
	void (*committed)(void *ctx);
	void *ctx;
};
void cfs_core_set_free_observer(struct cfs_core *core, const struct cfs_core_free_observer *obs);

/*
 * lock_cluster: which resource groups the running transaction may change (lib/rgrp.h):
 * the glue locks groups before trans_mutex and answers for their indexes. NULL
 * @allowed: every group (lock_nolock).
 */
void cfs_core_set_rgrp_filter(struct cfs_core *core, bool (*allowed)(void *ctx, cfs_core_u32 index),
			      void *ctx);
/*
 * A block whose group an operation needs and the transaction may not change: a freeing
 * step stopped before it (done false), or an operation refused with -EAGAIN before it
 * changed anything. 0 if none. Clears it.
 */
cfs_core_u64 cfs_core_take_rgrp_wanted(struct cfs_core *core);
/*
 * Where journal slot @slot of @slots allocates first: slot i of n starts i/n of the way
 * through the groups that take allocations (journal groups left out), so that nodes
 * begin in different groups. Reads every group's header (flags).
 */
int cfs_core_rgrp_spread(struct cfs_core *core, cfs_core_u32 slot, cfs_core_u32 slots,
			 cfs_core_u32 *index);
/* Resource groups in the table (after cfs_core_load_rgrps). */
cfs_core_u32 cfs_core_rgrp_count(struct cfs_core *core);
/* Index of the resource group holding data block @blkno; -ERANGE if none does. */
int cfs_core_rgrp_of_block(struct cfs_core *core, cfs_core_u64 blkno, cfs_core_u32 *index);
/*
 * Reads group @index's header again (under its lock: the cached copy is current) and
 * returns its free blocks in *@free, 0 for a group nothing is allocated in (journal,
 * noalloc). Under trans_mutex.
 */
int cfs_core_rgrp_room(struct cfs_core *core, cfs_core_u32 index, cfs_core_u32 *free);
/*
 * Group @index's free blocks as lib last knew them (read or changed by this node; no
 * I/O), 0 for a group nothing is allocated in. Current while the caller has held the
 * group's lock since the last cfs_core_rgrp_room.
 */
cfs_core_u32 cfs_core_rgrp_free_known(struct cfs_core *core, cfs_core_u32 index);

/* Header and bitmap blocks of resource group @index (< rgrps): [*@addr, *@addr + *@length). */
int cfs_core_rgrp_meta(struct cfs_core *core, cfs_core_u32 index, cfs_core_u64 *addr,
		       cfs_core_u32 *length);

/* Data blocks of resource group @index (< rgrps): [*@first, *@first + *@count). */
int cfs_core_rgrp_data(struct cfs_core *core, cfs_core_u32 index, cfs_core_u64 *first,
		       cfs_core_u32 *count);

/*
 * Visits every run of >= @minlen free blocks among blocks [@first, @end), in block order,
 * clipped to the range; a non-zero return of @visit stops the walk and is returned. The
 * caller holds trans_mutex (no allocation or free in between).
 */
int cfs_core_free_runs(struct cfs_core *core, cfs_core_u64 first, cfs_core_u64 end,
		       cfs_core_u32 minlen,
		       int (*visit)(void *ctx, cfs_core_u64 first, cfs_core_u32 count), void *ctx);

/* ---- Extended attributes: @ns is enum cfs_xattr_namespace, @name without its prefix -- */

/*
 * Copies the value into @buf when @size >= its length; *@value_len is the length either
 * way (@size 0 asks only for it). -ENODATA if absent, -ERANGE if @size is too small.
 */
int cfs_core_xattr_get(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u32 ns,
		       const char *name, cfs_core_u32 len, void *buf, cfs_core_u32 size,
		       cfs_core_u32 *value_len);
/* listxattr(2) for @ino: full names, NUL-terminated; trusted.* only with @with_trusted. */
int cfs_core_xattr_list(struct cfs_core *core, cfs_core_u64 ino, bool with_trusted,
			char *buf, cfs_core_u32 size, cfs_core_u32 *total);

#define CFS_CORE_XATTR_CREATE		(1u << 0)	/* XATTR_CREATE */
#define CFS_CORE_XATTR_REPLACE		(1u << 1)	/* XATTR_REPLACE */
#define CFS_CORE_XATTR_ABSENT_OK	(1u << 2)	/* removing an absent name is no error */
/*
 * Sets (@value non-NULL) or removes one attribute, and in the same transaction copies
 * @attr_mask fields of @attrs (CFS_CORE_ATTR_*, may be 0) into the dinode, after the
 * attribute change touched ctime. *@blocks: the inode's block count afterwards.
 */
int cfs_core_xattr_set(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u32 ns,
		       const char *name, cfs_core_u32 len, const void *value,
		       cfs_core_u32 value_len, unsigned int flags,
		       const struct cfs_core_inode *attrs, unsigned int attr_mask,
		       cfs_core_u64 *blocks);

/* NULL when "lockproto"/"locktable" are a valid pair, else what is wrong. */
const char *cfs_core_locktable_problem(const char *lockproto, const char *locktable);

#ifdef __cplusplus
}
#endif
#endif
