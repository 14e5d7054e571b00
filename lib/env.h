/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The environment seam: everything lib/ needs from its host, and nothing more.
 *
 * lib/ (the C++ core) includes no kernel and no libc header. Each host implements
 * these functions with C linkage:
 *   - the kernel module (kernel/): kvmalloc, buffer heads, bios, crc32c(), printk;
 *   - userspace (lib/user/): malloc, a block cache over pread/pwrite, stdio.
 * Every call that touches a filesystem takes the host's opaque per-filesystem handle
 * (struct cfs_host), so two mounted filesystems never share state; lib/ has no
 * globals. Exceptions, by nature: cfs_env_crc32c (a pure function) and
 * cfs_env_alloc/free (which accept a NULL host for allocations not tied to a
 * filesystem, e.g. from operator new).
 *
 * Errors are negative errno values (lib/errors.h lists the ones lib uses; they are
 * the Linux numbers, identical in the kernel and in glibc on every Linux arch lib
 * targets). Functions returning int return 0 on success.
 *
 * Besides these functions, lib/ code may reference only what the compiler emits calls
 * to and every host provides: memcpy, memset, memmove, memcmp (from __builtin_mem* and
 * struct copies), and in the kernel build __stack_chk_fail, __fentry__ and the
 * retpoline/return thunks. The lib-freestanding suite enforces this list.
 *
 * Context: every function may sleep unless it says otherwise. lib calls none of them
 * with a spinlock held (cfs_env_spin_* excepted).
 *
 * This header is C and C++; it compiles in kernel C (with <linux/types.h>), in
 * freestanding C++ and in userspace.
 */
#ifndef CLUSTERFS_LIB_ENV_H
#define CLUSTERFS_LIB_ENV_H

#if defined(__KERNEL__) && !defined(__cplusplus)
#include <linux/types.h>
#elif defined(__cplusplus)
#include <cstddef>
#include <cstdint>
#else
#include <stddef.h>
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque per-filesystem host state (kernel: hangs off the super_block's fs info;
 * userspace: lib/user's device + block cache). */
struct cfs_host;

/* Opaque metadata buffer: one filesystem block cached by the host (kernel: a
 * struct buffer_head; userspace: a block-cache entry). Reference counted. */
struct cfs_buf;

/* ----------------------------------------------------------------------------------
 * Memory
 */
#define CFS_ALLOC_ZERO   (1u << 0)  /* zero the memory */
#define CFS_ALLOC_NOFS   (1u << 1)  /* may sleep, but must not recurse into fs reclaim
				       (kernel: GFP_NOFS); use inside transactions */
#define CFS_ALLOC_ATOMIC (1u << 2)  /* must not sleep (kernel: GFP_NOWAIT); may fail */
#define CFS_ALLOC_LARGE  (1u << 3)  /* may be large (> a page): kernel kvmalloc */

/* Returns NULL on failure. Memory is aligned to at least 8 bytes (kmalloc's guarantee
 * for non-power-of-two sizes; see KERNEL-NOTES). h may be NULL. */
void *cfs_env_alloc(struct cfs_host *h, size_t size, unsigned flags);
/* Frees memory from cfs_env_alloc (any flags). NULL is allowed. */
void cfs_env_free(struct cfs_host *h, void *ptr);

/* ----------------------------------------------------------------------------------
 * Metadata buffers
 *
 * Buffers are the host's cache of metadata blocks of the filesystem block size set by
 * cfs_env_set_block_size. lib verifies block contents (lib/verify.h) and tracks which
 * buffers a transaction changed (lib/trans.h); the host never writes a buffer on its
 * own initiative: in-place writes happen only through cfs_env_buf_write (called by
 * lib's journal checkpoint, or directly by tools that write without a journal such as
 * mkfs and fsck). The kernel host therefore never marks metadata buffer heads dirty.
 *
 * A buffer stays valid while its caller holds a reference. lib holds references across
 * calls only inside a transaction.
 */

/* Sets the block size (1024, 2048 or 4096) after lib read the superblock. Until then
 * only cfs_env_dev_read works. Drops any cached buffer of another size. */
int cfs_env_set_block_size(struct cfs_host *h, uint32_t block_size);

/* Total size of the device in bytes. */
uint64_t cfs_env_dev_size(struct cfs_host *h);

/* Returns a referenced buffer holding block blkno's contents, read from the device
 * unless cached. -EIO on read error, -ERANGE if blkno is past the device. The
 * buffer's "verified" mark (below) is clear after a read from the device. */
int cfs_env_buf_read(struct cfs_host *h, uint64_t blkno, struct cfs_buf **out);

/* Returns a referenced buffer for block blkno whose contents are zeroed and are about
 * to be written entirely (a newly allocated block): the device is not read. Any cached
 * contents are discarded. Verified mark clear. */
int cfs_env_buf_get_new(struct cfs_host *h, uint64_t blkno, struct cfs_buf **out);

/* The block's bytes (block_size of them) and its number. */
void *cfs_env_buf_data(struct cfs_buf *b);
uint64_t cfs_env_buf_blkno(const struct cfs_buf *b);

/* Takes one more reference / drops one. Release never writes. */
void cfs_env_buf_hold(struct cfs_host *h, struct cfs_buf *b);
void cfs_env_buf_release(struct cfs_host *h, struct cfs_buf *b);

/* "Verified" mark: set by lib after the block's verifier accepted the contents read
 * from the device, so the full check (CRC included) runs once per read, not on every
 * cache hit. Cleared by the host whenever it (re)reads the block from the device. */
int cfs_env_buf_verified(const struct cfs_buf *b);
void cfs_env_buf_set_verified(struct cfs_buf *b, int verified);

/* Drops the cached contents of a buffer that failed verification or was freed, so the
 * next cfs_env_buf_read reads the device again. The caller still releases its ref. */
void cfs_env_buf_invalidate(struct cfs_host *h, struct cfs_buf *b);

/* Writes the buffer to its home location on the device. lib has already run the
 * block's write verifier and updated its CRC. flags: CFS_IO_* below. The write may be
 * asynchronous: completion and errors are collected by cfs_env_sync. */
int cfs_env_buf_write(struct cfs_host *h, struct cfs_buf *b, unsigned flags);

/* Waits for every write submitted through cfs_env_buf_write, then flushes the device's
 * volatile cache. Returns the first error since the last cfs_env_sync (-EIO). */
int cfs_env_sync(struct cfs_host *h);

/* ----------------------------------------------------------------------------------
 * Raw device I/O (superblock probing, the journal): uncached, synchronous.
 */
#define CFS_IO_PREFLUSH (1u << 0)  /* flush the device cache before this write */
#define CFS_IO_FUA      (1u << 1)  /* this write is durable when the call returns */

/* Reads len bytes at byte offset off (both multiples of 512) into dst. */
int cfs_env_dev_read(struct cfs_host *h, uint64_t off, void *dst, size_t len);

/* Writes count whole blocks, blocks[0] at device block blkno, blocks[1] at blkno+1...
 * (a contiguous run of the journal), returning when they are on stable storage if
 * CFS_IO_FUA, else when they are written to the device. Bypasses the buffer cache:
 * a cached buffer of one of these blocks is not changed. */
int cfs_env_log_write(struct cfs_host *h, uint64_t blkno, const void *const *blocks,
		      unsigned count, unsigned flags);

/* Reads count whole blocks from device block blkno into dst (count * block size
 * bytes), uncached (journal replay, fsck scans). */
int cfs_env_blocks_read(struct cfs_host *h, uint64_t blkno, void *dst, unsigned count);

/* Ordered data mode: writes back and waits for the file data that the transaction
 * being committed points at (kernel: the ordered-inode list; userspace tools write
 * their data synchronously and return 0). Called by the journal before the commit. */
int cfs_env_ordered_data_flush(struct cfs_host *h);

/* ----------------------------------------------------------------------------------
 * CRC32C (Castagnoli), as the kernel's crc32c(): continues the raw register crc over
 * len bytes, no inversion on input or output. The standard CRC-32C of a buffer is
 * ~cfs_env_crc32c(~0u, p, len). Pure; callable from any context.
 */
uint32_t cfs_env_crc32c(uint32_t crc, const void *p, size_t len);

/* ----------------------------------------------------------------------------------
 * Time: the current wall-clock time (kernel: ktime_get_real_ts64).
 */
struct cfs_timespec {
	int64_t sec;
	uint32_t nsec;
};
void cfs_env_now(struct cfs_host *h, struct cfs_timespec *ts);

/* ----------------------------------------------------------------------------------
 * Logging. The host prefixes the filesystem's identity (kernel: "clusterfs (dev): ").
 * Formats use only %d %i %u %x %ld %lu %lld %llu %llx %s %c %% (printk and printf
 * agree on these); pass 64-bit values as (unsigned long long). Any context.
 */
enum cfs_log_level {
	CFS_LOG_ERR = 3,
	CFS_LOG_WARN = 4,
	CFS_LOG_NOTICE = 5,
	CFS_LOG_INFO = 6,
	CFS_LOG_DEBUG = 7
};
void cfs_env_log(struct cfs_host *h, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ----------------------------------------------------------------------------------
 * Locks for lib's own shared in-memory state (e.g. rgrp reservations). lib never
 * takes cluster locks (glocks): its callers do. Userspace tools are single-threaded
 * and may implement these as no-ops, but lib/user uses real pthread mutexes so unit
 * tests can be threaded.
 */
struct cfs_mutex;  /* sleeping lock */
struct cfs_spin;   /* non-sleeping lock; nothing inside may sleep */
int cfs_env_mutex_create(struct cfs_host *h, struct cfs_mutex **out);
void cfs_env_mutex_destroy(struct cfs_host *h, struct cfs_mutex *m);
void cfs_env_mutex_lock(struct cfs_mutex *m);
void cfs_env_mutex_unlock(struct cfs_mutex *m);
int cfs_env_spin_create(struct cfs_host *h, struct cfs_spin **out);
void cfs_env_spin_destroy(struct cfs_host *h, struct cfs_spin *s);
void cfs_env_spin_lock(struct cfs_spin *s);
void cfs_env_spin_unlock(struct cfs_spin *s);

#ifdef __cplusplus
}
#endif

#endif /* CLUSTERFS_LIB_ENV_H */
