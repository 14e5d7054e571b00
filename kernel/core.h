/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The narrow C interface between the VFS glue (C) and the C++ core (lib/ through
 * kernel/core.cpp). Plain structs in CPU byte order; errors are negative errnos.
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

/* Copies bytes [@off, @off + @len) of a stuffed inode's inline data (zeros past EOF). */
int cfs_core_read_inline(struct cfs_core *core, cfs_core_u64 ino, cfs_core_u64 off,
			 void *buf, cfs_core_u32 len);

/* NULL when "lockproto"/"locktable" are a valid pair, else what is wrong. */
const char *cfs_core_locktable_problem(const char *lockproto, const char *locktable);

#ifdef __cplusplus
}
#endif
#endif
