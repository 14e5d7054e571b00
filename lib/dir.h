// Directories: an inline linear directory while the entries fit in the dinode, then
// extendible hashing (hash table of leaf pointers, leaves split as they fill, the
// table doubling when a full leaf already has the table's depth; leaf chains past the
// maximum depth). Format: format.h "Directories".
//
// Readdir order and cookies: entries are returned in the order of a 62-bit key made of
// the entry's 32-bit de_hash (high bits, the order of the hash table and of leaf
// splits) and 30 more bits of the name's 64-bit SipHash. A cookie is the key of the
// last entry returned, plus one; resuming returns the entries with a larger key. A
// split or a table doubling moves entries between leaves but never changes a key, so a
// readdir spanning any number of inserts and splits neither skips nor repeats an entry
// that was there all along (POSIX leaves entries added or removed meanwhile
// unspecified). Two names with equal 62-bit keys (about 1e-7 odds in a million-entry
// directory) are returned together: if a readdir buffer fills between them, the second
// is skipped. Cookies are below 2^62 so they fit a positive loff_t.
//
// Locking: the caller holds the directory (kernel: i_rwsem and the directory's glock,
// EX for changes, at least shared for lookup/readdir). lib takes no lock.
#ifndef CLUSTERFS_LIB_DIR_H
#define CLUSTERFS_LIB_DIR_H

#include "inode.h"

namespace cfs {

struct Trans;

struct DirEntry {
	uint64_t ino;
	uint64_t generation;
	uint8_t type;  // CFS_DT_*
};

// The de_type for a mode's file type (CFS_DT_UNKNOWN for none).
uint8_t dir_type_of_mode(uint32_t mode);

// Looks `name` up. -CFS_ENOENT if absent.
[[nodiscard]] int dir_lookup(Fs *fs, const Inode *dir, const char *name, uint32_t len,
			     DirEntry *out);

// Adds an entry. -CFS_EEXIST if the name is there, -CFS_ENAMETOOLONG, -CFS_EINVAL for
// an empty name or one containing '/' or NUL. Updates di_entries, size and mtime/ctime
// of the directory. May convert a linear directory to a hashed one, split leaves, double
// the table: at most dir_add_max_bufs() buffers.
[[nodiscard]] int dir_add(Fs *fs, Trans *tr, Inode *dir, const char *name, uint32_t len,
			  const DirEntry *entry);

// Removes an entry; *removed (optional) receives what it pointed to. -CFS_ENOENT.
[[nodiscard]] int dir_remove(Fs *fs, Trans *tr, Inode *dir, const char *name, uint32_t len,
			     DirEntry *removed);

// Points an existing entry at another inode (rename over an existing name, or ".." of
// a moved directory); *old (optional) receives the previous target. -CFS_ENOENT.
[[nodiscard]] int dir_replace(Fs *fs, Trans *tr, Inode *dir, const char *name, uint32_t len,
			      const DirEntry *entry, DirEntry *old);

// Buffers one dir_add may dirty in `dir` (for trans_begin), allocator buffers included.
// Conservative: in a directory whose table lives in jdata blocks it counts a doubling.
uint32_t dir_add_max_bufs(Fs *fs, const Inode *dir);

// The same bound for adding `name` specifically: reads the leaf the name hashes to, so
// an insert that fits (the common case) reserves 2 buffers, not a whole table. Falls
// back to dir_add_max_bufs when a doubling is possible. Valid until the directory
// changes (call it under the same lock as the dir_add).
[[nodiscard]] int dir_add_bufs_for_name(Fs *fs, const Inode *dir, const char *name,
					uint32_t len, uint32_t *out);

// True if the directory holds only "." and "..".
[[nodiscard]] int dir_is_empty(Fs *fs, const Inode *dir, bool *empty);

constexpr uint64_t kDirCookieStart = 0;
constexpr uint64_t kDirCookieEnd = uint64_t(1) << 62;

// Called for each entry in order; returns false to stop (buffer full): that entry
// is not consumed and the next readdir starts with it.
typedef bool (*DirEmitFn)(void *ctx, const char *name, uint32_t len, const DirEntry *entry,
			  uint64_t cookie_after);

// Emits the entries after *cookie; on return *cookie is the position to resume from
// (kDirCookieEnd when every entry was emitted).
[[nodiscard]] int dir_readdir(Fs *fs, const Inode *dir, uint64_t *cookie, DirEmitFn emit,
			      void *ctx);

// Writes the empty linear layout ("." -> the directory, ".." -> parent) into a new
// directory's dinode (inode_alloc does this for S_IFDIR).
void dir_init_linear(Fs *fs, Inode *dir, uint64_t self_generation, uint64_t parent,
		     uint64_t parent_generation);

// Frees the leaf blocks of a hashed directory (at most `budget` per call; *done when
// none is left). inode_free calls it before freeing the table's tree.
[[nodiscard]] int dir_free_leaves(Fs *fs, Trans *tr, Inode *dir, unsigned budget, bool *done);

// Readdir key of a name: what cookies are made of (exported for fsck and tests).
uint64_t dir_name_key(const Fs *fs, const char *name, uint32_t len);

}  // namespace cfs

#endif
