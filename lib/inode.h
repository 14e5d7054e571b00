// Dinodes: allocate, free, read/verify, update fields, inline ("stuffed") data, unstuff.
//
// An inode number is the dinode's block number. An Inode is a short-lived handle: the
// inode number plus the dinode's buffer, held (and verified) for the duration of one
// operation. The dinode buffer is the truth; lib keeps no other copy of its fields, so
// a host's cached copy (the VFS inode) is refreshed from it after a lib call.
//
// Locking: the caller holds the inode (kernel: i_rwsem and the inode glock, EX for any
// call taking a Trans; tools: single-threaded) and, for inode_alloc/inode_free, whatever
// the allocator needs for the resource group. lib takes no lock itself.
#ifndef CLUSTERFS_LIB_INODE_H
#define CLUSTERFS_LIB_INODE_H

#include "fs.h"

namespace cfs {

struct Trans;

// File type bits of di_mode: the Linux S_IF* values (lib cannot include <sys/stat.h>).
constexpr uint32_t kModeTypeMask = 0170000;
constexpr uint32_t kModeSock = 0140000;
constexpr uint32_t kModeLnk = 0120000;
constexpr uint32_t kModeReg = 0100000;
constexpr uint32_t kModeBlk = 0060000;
constexpr uint32_t kModeDir = 0040000;
constexpr uint32_t kModeChr = 0020000;
constexpr uint32_t kModeFifo = 0010000;

struct Inode {
	uint64_t ino;  // dinode block number
	Buf *bh;       // the dinode's buffer, verified, held by this handle
};

// Reads and verifies dinode `ino` (the format's dinode verifier: type, self number, fs
// uuid, CRC, field sanity). On success `*ip` holds the buffer: release with inode_put.
[[nodiscard]] int inode_get(Fs *fs, uint64_t ino, Inode *ip);
void inode_put(Fs *fs, Inode *ip);

// Field access. Setters must only be called on an inode already added to a transaction
// with inode_dirty (they change the held buffer in place).
uint32_t inode_mode(const Inode *ip);
uint32_t inode_uid(const Inode *ip);
uint32_t inode_gid(const Inode *ip);
uint32_t inode_nlink(const Inode *ip);
uint64_t inode_size(const Inode *ip);
uint64_t inode_blocks(const Inode *ip);  // fs blocks owned besides the dinode
uint64_t inode_generation(const Inode *ip);
unsigned inode_height(const Inode *ip);
bool inode_is_dir(const Inode *ip);
bool inode_has_inline_data(const Inode *ip);  // stuffed with at least one byte

uint32_t inode_flags(const Inode *ip);  // CFS_DIF_*
uint64_t inode_parent(const Inode *ip);  // directories: di_parent
void inode_rdev(const Inode *ip, uint32_t *major, uint32_t *minor);

enum class InodeTime { atime, mtime, ctime, crtime };
cfs_timespec inode_time(const Inode *ip, InodeTime which);

[[nodiscard]] int inode_dirty(Trans *tr, Inode *ip);  // adds the dinode to `tr`
void inode_set_mode(Inode *ip, uint32_t mode);
void inode_set_owner(Inode *ip, uint32_t uid, uint32_t gid);
void inode_set_nlink(Inode *ip, uint32_t nlink);
void inode_set_size(Inode *ip, uint64_t size);
void inode_set_time(Inode *ip, InodeTime which, cfs_timespec t);
void inode_set_flags(Inode *ip, uint32_t flags);
void inode_set_parent(Inode *ip, uint64_t parent);
void inode_set_height(Inode *ip, unsigned height);
void inode_add_blocks(Inode *ip, uint64_t n);
void inode_sub_blocks(Inode *ip, uint64_t n);

// What a new dinode starts with. Times are fs_now's (fs.h) when `now` is null.
struct InodeInit {
	uint32_t mode;  // S_IF* type bits + permissions
	uint32_t uid, gid;
	uint32_t nlink;  // ignored for directories: they start with 2 ("." and the parent's entry)
	uint32_t rdev_major, rdev_minor;  // S_IFCHR/S_IFBLK
	uint32_t flags;  // CFS_DIF_* to start with (e.g. CFS_DIF_SYSTEM | CFS_DIF_JDATA)
	uint64_t parent; // directories: the parent's inode number (0: itself, for a root)
	const cfs_timespec *now;
};

// Allocates a dinode block near `goal` (usually the parent directory's inode number),
// writes an empty stuffed dinode and returns it held in `*ip` (already in `tr`). A
// directory is created as an empty linear directory holding "." and "..": the caller
// adds its entry in the parent and bumps the parent's link count.
[[nodiscard]] int inode_alloc(Fs *fs, Trans *tr, uint64_t goal, const InodeInit *init,
			      Inode *ip);

// Frees every block of the file, its xattr block first (in steps of at most `budget`
// dirtied buffers: call again with a new transaction while !*done) and, once the tree
// is empty, the dinode itself.
// The caller has already removed the last link and checked no node holds it open.
// On *done the handle is released.
[[nodiscard]] int inode_free(Fs *fs, Trans *tr, Inode *ip, unsigned budget, bool *done);

// Inline data of a stuffed inode.
uint32_t inode_inline_capacity(Fs *fs);
// Copies bytes [off, off+len) of a stuffed inode (zeros past its size); -EINVAL if the
// inode is not stuffed.
[[nodiscard]] int inode_read_inline(Fs *fs, const Inode *ip, uint64_t off, void *buf,
				    uint32_t len);
// Writes bytes into a stuffed inode and extends its size; -EFBIG if off+len exceeds the
// inline capacity (unstuff first).
[[nodiscard]] int inode_write_inline(Fs *fs, Trans *tr, Inode *ip, uint64_t off,
				     const void *buf, uint32_t len);

// Converts a stuffed regular file to height 1: allocates its first data block near the
// dinode and points at it. The inline bytes (inode_size of them) are copied to
// `data_out` (at least one block long) first: the caller writes them to *data_block
// before the transaction commits (ordered mode). An empty stuffed inode just becomes
// height 1 with no block (*data_block = 0).
[[nodiscard]] int inode_unstuff(Fs *fs, Trans *tr, Inode *ip, void *data_out,
				uint64_t *data_block);

// Sets ctime (and mtime when `mtime`) to now (fs_now, fs.h).
void inode_touch(Fs *fs, Inode *ip, bool mtime);

// Truncates to `new_size`: frees every block past the new end, blocks preallocated past
// the old size included (bounded by `budget`, see inode_free), zeroes the inline tail
// of a stuffed inode, sets the size. A file emptied to size 0 returns to stuffed (height
// 0). The caller zeroes the tail of a partial last data block (it owns data I/O). For a
// size that grows use inode_extend: this frees blocks past `new_size` whatever the
// dinode's size says (a host's cached size may be ahead of it).
[[nodiscard]] int inode_truncate(Fs *fs, Trans *tr, Inode *ip, uint64_t new_size,
				 unsigned budget, bool *done);

// Grows the size to `new_size` (>= the dinode's size, else -EINVAL) in one step and
// frees nothing: blocks preallocated past the old size stay, and hold zeros
// (docs/format.md "Blocks past the end of a regular file"), as GFS2 keeps them. A
// stuffed inode must be unstuffed first when `new_size` exceeds the inline area
// (-EFBIG).
[[nodiscard]] int inode_extend(Fs *fs, Trans *tr, Inode *ip, uint64_t new_size);

}  // namespace cfs

#endif
