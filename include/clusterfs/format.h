/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * clusterfs on-disk format, version 1.
 *
 * This header is the code of docs/format.md (the normative text); the two change
 * together and a change to any byte bumps CFS_FORMAT_VERSION.
 *
 * Every multi-byte integer on disk is little-endian, fixed width, naturally aligned.
 * Structures contain no implicit padding: every size and offset is checked below.
 * The header compiles as kernel C (with <linux/types.h>, giving __le sparse types),
 * as freestanding C++ (lib/, in and out of the kernel) and as userspace C/C++.
 * It declares no functions and no objects: only types and constants.
 *
 * Block numbers are 64-bit and count filesystem blocks of sb_bsize bytes from the
 * start of the device. An inode number is the block number of its dinode (as GFS2).
 */
#ifndef CLUSTERFS_FORMAT_H
#define CLUSTERFS_FORMAT_H

#if defined(__KERNEL__) && !defined(__cplusplus)
#include <linux/types.h>
#include <linux/stddef.h>
typedef __u8 cfs_u8;
typedef __le16 cfs_le16;
typedef __le32 cfs_le32;
typedef __le64 cfs_le64;
#define CFS_STATIC_ASSERT(expr) _Static_assert(expr, #expr)
#elif defined(__cplusplus)
#include <cstddef>
#include <cstdint>
typedef std::uint8_t cfs_u8;
typedef std::uint16_t cfs_le16;
typedef std::uint32_t cfs_le32;
typedef std::uint64_t cfs_le64;
#define CFS_STATIC_ASSERT(expr) static_assert(expr, #expr)
#else
#include <stddef.h>
#include <stdint.h>
typedef uint8_t cfs_u8;
typedef uint16_t cfs_le16;
typedef uint32_t cfs_le32;
typedef uint64_t cfs_le64;
#define CFS_STATIC_ASSERT(expr) _Static_assert(expr, #expr)
#endif

#define CFS_CHECK_SIZE(type, size) CFS_STATIC_ASSERT(sizeof(struct type) == (size))
#define CFS_CHECK_OFFSET(type, field, off) \
	CFS_STATIC_ASSERT(offsetof(struct type, field) == (off))

/* ------------------------------------------------------------------------------------
 * Global constants
 */
#define CFS_FORMAT_VERSION     1u
#define CFS_SB_OFFSET          65536u      /* byte offset of the superblock */
#define CFS_MIN_BLOCK_SIZE     1024u
#define CFS_MAX_BLOCK_SIZE     4096u
#define CFS_DEFAULT_BLOCK_SIZE 4096u
#define CFS_UUID_SIZE          16u
#define CFS_LOCKNAME_LEN       64u         /* sb_lockproto / sb_locktable, NUL-padded */
#define CFS_CLUSTERNAME_MAX    32u         /* "cluster" part of "cluster:fsname" */
#define CFS_FSNAME_MAX         30u         /* "fsname" part */
#define CFS_LABEL_LEN          32u
#define CFS_NAME_MAX           255u        /* directory entry name, bytes */
#define CFS_MAX_JOURNALS       1024u
#define CFS_MAX_HEIGHT         10u         /* deepest pointer tree (maps 2^64 bytes) */
#define CFS_MAX_DEPTH          24u         /* deepest directory hash table: 2^24 slots */

/* Every metadata block starts with this magic ("CLFS" in on-disk byte order). */
#define CFS_META_MAGIC         0x53464c43u

/* mh_type: what a metadata block is. 0 is never valid. */
enum cfs_block_type {
	CFS_BT_SB      = 1,  /* superblock */
	CFS_BT_RG      = 2,  /* resource-group header (first block of an rgrp) */
	CFS_BT_RB      = 3,  /* resource-group bitmap continuation block */
	CFS_BT_DI      = 4,  /* dinode */
	CFS_BT_IN      = 5,  /* indirect block of a dinode's pointer tree */
	CFS_BT_LF      = 6,  /* directory leaf */
	CFS_BT_JD      = 7,  /* data block of a "jdata" file (system files, dir hash tables) */
	CFS_BT_LH      = 8,  /* journal: log header (commit record) */
	CFS_BT_LD      = 9,  /* journal: log descriptor */
	CFS_BT_EA      = 10, /* extended-attribute block (struct cfs_xattr_block) */
	CFS_BT_MAX     = 10
};

/* ------------------------------------------------------------------------------------
 * Metadata header: the first 64 bytes of every metadata block (XFS v5 style).
 *
 * mh_crc is the CRC32C (Castagnoli, reflected, init ~0, final xor ~0) of the whole
 * block computed with the 4 bytes of mh_crc taken as zero. mh_blkno is the block's own
 * number: a block read from the wrong place, or a block image replayed to the wrong
 * place, fails verification. mh_uuid is the filesystem UUID (sb's mh_uuid): a block
 * left over from an earlier mkfs fails verification. mh_owner is the inode number that
 * owns the block (its own number for a dinode; the journal's dinode for log blocks;
 * 0 for the superblock and resource-group blocks).
 */
struct cfs_meta_header {
	cfs_le32 mh_magic;      /* CFS_META_MAGIC */
	cfs_le32 mh_crc;        /* CRC32C of the block, this field as zero */
	cfs_le16 mh_type;       /* enum cfs_block_type */
	cfs_le16 mh_format;     /* CFS_FORMAT_VERSION of the code that wrote it */
	cfs_le32 mh_reserved0;  /* zero */
	cfs_le64 mh_blkno;      /* this block's own number */
	cfs_le64 mh_owner;      /* owning inode number, 0 if none */
	cfs_le64 mh_lsn;        /* journal sequence of the last logged write, 0 if none */
	cfs_u8   mh_uuid[16];   /* filesystem UUID */
	cfs_le64 mh_reserved1;  /* zero */
};
CFS_CHECK_SIZE(cfs_meta_header, 64);
CFS_CHECK_OFFSET(cfs_meta_header, mh_magic, 0);
CFS_CHECK_OFFSET(cfs_meta_header, mh_crc, 4);
CFS_CHECK_OFFSET(cfs_meta_header, mh_type, 8);
CFS_CHECK_OFFSET(cfs_meta_header, mh_format, 10);
CFS_CHECK_OFFSET(cfs_meta_header, mh_reserved0, 12);
CFS_CHECK_OFFSET(cfs_meta_header, mh_blkno, 16);
CFS_CHECK_OFFSET(cfs_meta_header, mh_owner, 24);
CFS_CHECK_OFFSET(cfs_meta_header, mh_lsn, 32);
CFS_CHECK_OFFSET(cfs_meta_header, mh_uuid, 40);
CFS_CHECK_OFFSET(cfs_meta_header, mh_reserved1, 56);
#define CFS_META_HEADER_SIZE 64u
#define CFS_META_CRC_OFFSET  4u

/* ------------------------------------------------------------------------------------
 * Superblock: one block at byte CFS_SB_OFFSET (block number CFS_SB_OFFSET / sb_bsize).
 * Blocks before it belong to no resource group and are never written by clusterfs.
 * The rest of the superblock block after struct cfs_sb is zero.
 */
#define CFS_LOCKPROTO_CLUSTER "lock_cluster"
#define CFS_LOCKPROTO_NOLOCK  "lock_nolock"

/* Feature flags. A mount refuses unknown incompat bits, mounts read-only with unknown
 * ro_compat bits, ignores unknown compat bits. Format v1 defines none as set by mkfs. */
#define CFS_FEATURE_INCOMPAT_XATTR  (1ull << 0)  /* reserved, never set: xattr blocks are part of v1 */
#define CFS_FEATURE_COMPAT_SUPP     0ull
#define CFS_FEATURE_RO_COMPAT_SUPP  0ull
#define CFS_FEATURE_INCOMPAT_SUPP   0ull

struct cfs_sb {
	struct cfs_meta_header sb_header;    /* type CFS_BT_SB, owner 0 */
	cfs_le32 sb_bsize;                   /* block size: 1024, 2048 or 4096 */
	cfs_le32 sb_bsize_shift;             /* log2(sb_bsize) */
	cfs_le64 sb_blocks;                  /* filesystem size in blocks */
	cfs_le64 sb_master_addr;             /* dinode of the hidden master directory */
	cfs_le64 sb_root_addr;               /* dinode of the root directory */
	cfs_le64 sb_rindex_addr;             /* dinode of the resource-group index */
	cfs_le64 sb_jindex_addr;             /* dinode of the journal index */
	cfs_le64 sb_statfs_addr;             /* dinode of the global statfs file */
	cfs_le32 sb_journals;                /* number of journals (node slots) */
	cfs_le32 sb_rgrps;                   /* number of resource groups (= rindex entries) */
	cfs_le32 sb_rgrp_blocks;             /* nominal resource-group size in blocks */
	cfs_le32 sb_flags;                   /* zero in v1 */
	cfs_le64 sb_features_compat;
	cfs_le64 sb_features_ro_compat;
	cfs_le64 sb_features_incompat;
	cfs_le64 sb_mkfs_time;               /* seconds since the epoch, informational */
	cfs_u8   sb_hash_key[16];            /* SipHash-2-4 key of directory hashing */
	char     sb_lockproto[64];           /* "lock_cluster" or "lock_nolock", NUL-padded */
	char     sb_locktable[64];           /* "cluster:fsname", NUL-padded, may be empty for nolock */
	char     sb_label[32];               /* volume label, NUL-padded, may be empty */
	cfs_le64 sb_reserved[13];            /* zero */
};
CFS_CHECK_SIZE(cfs_sb, 448);
CFS_CHECK_OFFSET(cfs_sb, sb_bsize, 64);
CFS_CHECK_OFFSET(cfs_sb, sb_bsize_shift, 68);
CFS_CHECK_OFFSET(cfs_sb, sb_blocks, 72);
CFS_CHECK_OFFSET(cfs_sb, sb_master_addr, 80);
CFS_CHECK_OFFSET(cfs_sb, sb_root_addr, 88);
CFS_CHECK_OFFSET(cfs_sb, sb_rindex_addr, 96);
CFS_CHECK_OFFSET(cfs_sb, sb_jindex_addr, 104);
CFS_CHECK_OFFSET(cfs_sb, sb_statfs_addr, 112);
CFS_CHECK_OFFSET(cfs_sb, sb_journals, 120);
CFS_CHECK_OFFSET(cfs_sb, sb_rgrps, 124);
CFS_CHECK_OFFSET(cfs_sb, sb_rgrp_blocks, 128);
CFS_CHECK_OFFSET(cfs_sb, sb_flags, 132);
CFS_CHECK_OFFSET(cfs_sb, sb_features_compat, 136);
CFS_CHECK_OFFSET(cfs_sb, sb_features_ro_compat, 144);
CFS_CHECK_OFFSET(cfs_sb, sb_features_incompat, 152);
CFS_CHECK_OFFSET(cfs_sb, sb_mkfs_time, 160);
CFS_CHECK_OFFSET(cfs_sb, sb_hash_key, 168);
CFS_CHECK_OFFSET(cfs_sb, sb_lockproto, 184);
CFS_CHECK_OFFSET(cfs_sb, sb_locktable, 248);
CFS_CHECK_OFFSET(cfs_sb, sb_label, 312);
CFS_CHECK_OFFSET(cfs_sb, sb_reserved, 344);

/* ------------------------------------------------------------------------------------
 * Resource groups.
 *
 * The device after the superblock is cut into resource groups. A resource group is
 * ri_length metadata blocks (one header block of type RG, then ri_length-1 bitmap
 * blocks of type RB) followed by ri_data data blocks starting at ri_data0 =
 * ri_addr + ri_length. The bitmap covers the data blocks only, 2 bits per block,
 * four blocks per byte, block (ri_data0 + i) at byte i / 4, bits 2*(i % 4) .. +1.
 * The bitmap bytes are the tail of the header block (from CFS_RG_BITMAP_OFFSET) then
 * the tail of each bitmap block (from CFS_RB_BITMAP_OFFSET), ri_bitbytes bytes in all;
 * bits past ri_data are zero. Blocks past the last resource group are unused.
 */
enum cfs_block_state {
	CFS_BLKST_FREE     = 0,
	CFS_BLKST_USED     = 1,  /* data, indirect, leaf, jdata, journal block */
	CFS_BLKST_UNLINKED = 2,  /* dinode with nlink 0 still open somewhere: to reclaim */
	CFS_BLKST_DINODE   = 3
};
#define CFS_BIT_SIZE   2u
#define CFS_BIT_MASK   3u
#define CFS_NBBY       4u    /* blocks per bitmap byte */

#define CFS_RGF_JOURNAL   (1u << 0)  /* holds exactly one journal: never allocate here */
#define CFS_RGF_NOALLOC   (1u << 1)  /* administratively closed for allocation */

struct cfs_rgrp {
	struct cfs_meta_header rg_header;    /* type CFS_BT_RG, owner 0 */
	cfs_le32 rg_flags;                   /* CFS_RGF_* */
	cfs_le32 rg_free;                    /* data blocks in state FREE */
	cfs_le32 rg_dinodes;                 /* data blocks in state DINODE or UNLINKED */
	cfs_le32 rg_unlinked;                /* data blocks in state UNLINKED */
	cfs_le64 rg_igeneration;             /* next dinode generation handed out here */
	cfs_le64 rg_data0;                   /* = rindex ri_data0 (self-description) */
	cfs_le32 rg_data;                    /* = rindex ri_data */
	cfs_le32 rg_bitbytes;                /* = rindex ri_bitbytes */
	cfs_le32 rg_length;                  /* = rindex ri_length */
	cfs_le32 rg_skip;                    /* blocks from this header to the next rgrp's, 0 if last */
	cfs_le64 rg_reserved[2];             /* zero */
};
CFS_CHECK_SIZE(cfs_rgrp, 128);
CFS_CHECK_OFFSET(cfs_rgrp, rg_flags, 64);
CFS_CHECK_OFFSET(cfs_rgrp, rg_free, 68);
CFS_CHECK_OFFSET(cfs_rgrp, rg_dinodes, 72);
CFS_CHECK_OFFSET(cfs_rgrp, rg_unlinked, 76);
CFS_CHECK_OFFSET(cfs_rgrp, rg_igeneration, 80);
CFS_CHECK_OFFSET(cfs_rgrp, rg_data0, 88);
CFS_CHECK_OFFSET(cfs_rgrp, rg_data, 96);
CFS_CHECK_OFFSET(cfs_rgrp, rg_bitbytes, 100);
CFS_CHECK_OFFSET(cfs_rgrp, rg_length, 104);
CFS_CHECK_OFFSET(cfs_rgrp, rg_skip, 108);
CFS_CHECK_OFFSET(cfs_rgrp, rg_reserved, 112);
#define CFS_RG_BITMAP_OFFSET 128u   /* bitmap bytes in the header block start here */
#define CFS_RB_BITMAP_OFFSET 64u    /* bitmap bytes in a bitmap block start here */

/* Resource-group index entry: the content of the rindex system file is an array of
 * these, ordered by ri_addr, sb_rgrps entries. */
struct cfs_rindex {
	cfs_le64 ri_addr;      /* block number of the rgrp header */
	cfs_le64 ri_data0;     /* first data block */
	cfs_le32 ri_length;    /* header + bitmap blocks */
	cfs_le32 ri_data;      /* data blocks */
	cfs_le32 ri_bitbytes;  /* bitmap bytes = ceil(ri_data / 4) */
	cfs_le32 ri_flags;     /* zero in v1 */
	cfs_le64 ri_reserved[4];
};
CFS_CHECK_SIZE(cfs_rindex, 64);
CFS_CHECK_OFFSET(cfs_rindex, ri_addr, 0);
CFS_CHECK_OFFSET(cfs_rindex, ri_data0, 8);
CFS_CHECK_OFFSET(cfs_rindex, ri_length, 16);
CFS_CHECK_OFFSET(cfs_rindex, ri_data, 20);
CFS_CHECK_OFFSET(cfs_rindex, ri_bitbytes, 24);
CFS_CHECK_OFFSET(cfs_rindex, ri_flags, 28);
CFS_CHECK_OFFSET(cfs_rindex, ri_reserved, 32);

/* Lock value block of a resource-group lock. Not on disk: shared between nodes through
 * the lock manager so a node can pick a group with free space without reading it.
 * Little-endian like the disk format so mixed nodes agree. */
#define CFS_RGRP_LVB_MAGIC 0x52474c56u   /* "VLGR" */
struct cfs_rgrp_lvb {
	cfs_le32 rl_magic;     /* CFS_RGRP_LVB_MAGIC once valid; zero = unknown, read the rgrp */
	cfs_le32 rl_flags;     /* rg_flags */
	cfs_le32 rl_free;      /* rg_free */
	cfs_le32 rl_dinodes;   /* rg_dinodes */
	cfs_le64 rl_igeneration;
	cfs_le32 rl_unlinked;
	cfs_le32 rl_reserved;
};
CFS_CHECK_SIZE(cfs_rgrp_lvb, 32);
CFS_CHECK_OFFSET(cfs_rgrp_lvb, rl_free, 8);
CFS_CHECK_OFFSET(cfs_rgrp_lvb, rl_igeneration, 16);
CFS_CHECK_OFFSET(cfs_rgrp_lvb, rl_unlinked, 24);

/* ------------------------------------------------------------------------------------
 * Dinode: one whole block of type CFS_BT_DI, mh_owner = mh_blkno = inode number.
 *
 * Bytes [0, CFS_DINODE_SIZE) are struct cfs_dinode; bytes [CFS_DINODE_SIZE, bsize) are
 * the "inline area", which holds, by di_height:
 *   height 0 ("stuffed"): the file's bytes [0, di_size) (regular file, symlink target,
 *     jdata file content) or, for a directory without CFS_DIF_EXHASH, its linear
 *     directory entries; for an EXHASH directory, its hash table (see below);
 *   height >= 1: an array of CFS_DINODE_PTRS(bsize) le64 block pointers, the root of
 *     the pointer tree. Levels 1 .. height-1 are indirect blocks (CFS_BT_IN) of
 *     CFS_INDIRECT_PTRS(bsize) pointers each; pointers of the last level address the
 *     file's data blocks. A zero pointer is a hole.
 * File block n of a tree of height h is reached through the digits of n in the mixed
 * radix (CFS_DINODE_PTRS, CFS_INDIRECT_PTRS, ..., CFS_INDIRECT_PTRS), most
 * significant first.
 *
 * Data blocks of files with CFS_DIF_JDATA (system files, directory hash tables) are
 * metadata blocks of type CFS_BT_JD: a cfs_meta_header (owner = the inode), then
 * CFS_JD_PAYLOAD(bsize) bytes of file content; file byte o lives in file block
 * o / CFS_JD_PAYLOAD(bsize) at block offset 64 + o % CFS_JD_PAYLOAD(bsize). Every
 * jdata record type (64-byte rindex/jindex entries, 8-byte pointers, 24-byte statfs
 * records padded to 64) divides the payload so no record straddles blocks.
 */
#define CFS_DIF_SYSTEM      (1u << 0)   /* system file (master directory and below) */
#define CFS_DIF_JDATA       (1u << 1)   /* data blocks are CFS_BT_JD metadata blocks */
#define CFS_DIF_EXHASH      (1u << 2)   /* directory uses extendible hashing */
#define CFS_DIF_XATTR       (1u << 3)   /* reserved, always 0: di_eattr != 0 marks xattrs */
#define CFS_DIF_IMMUTABLE   (1u << 8)   /* chattr +i */
#define CFS_DIF_APPENDONLY  (1u << 9)   /* chattr +a */
#define CFS_DIF_NOATIME     (1u << 10)  /* chattr +A */
#define CFS_DIF_SYNC        (1u << 11)  /* chattr +S */
#define CFS_DIF_KNOWN_FLAGS 0x0f0fu

struct cfs_dinode {
	struct cfs_meta_header di_header;    /* type CFS_BT_DI, owner = blkno */
	cfs_le32 di_mode;                    /* file type and permission bits (S_IF* | 07777) */
	cfs_le32 di_uid;
	cfs_le32 di_gid;
	cfs_le32 di_nlink;
	cfs_le64 di_size;                    /* bytes (directories: see below) */
	cfs_le64 di_blocks;                  /* blocks owned: dinode + tree + data (+ leaves) */
	cfs_le64 di_atime;                   /* seconds since the epoch, signed */
	cfs_le64 di_mtime;
	cfs_le64 di_ctime;
	cfs_le64 di_crtime;                  /* creation time */
	cfs_le32 di_atime_nsec;              /* 0 .. 999999999 */
	cfs_le32 di_mtime_nsec;
	cfs_le32 di_ctime_nsec;
	cfs_le32 di_crtime_nsec;
	cfs_le64 di_generation;              /* distinguishes reuses of this inode number */
	cfs_le32 di_flags;                   /* CFS_DIF_* */
	cfs_le16 di_height;                  /* 0 = stuffed; else pointer-tree height */
	cfs_le16 di_depth;                   /* EXHASH directory: log2(hash table slots) */
	cfs_le64 di_goal_meta;               /* allocation hint: last metadata block allocated */
	cfs_le64 di_goal_data;               /* allocation hint: last data block allocated */
	cfs_le64 di_entries;                 /* directory: number of entries incl. "." and ".." */
	cfs_le32 di_rdev_major;              /* character/block devices */
	cfs_le32 di_rdev_minor;
	cfs_le64 di_eattr;                   /* extended-attribute block (CFS_BT_EA), 0 = none */
	cfs_le64 di_parent;                  /* directory: inode number of its parent (for fsck) */
	cfs_le64 di_reserved[6];             /* zero */
};
CFS_CHECK_SIZE(cfs_dinode, 256);
CFS_CHECK_OFFSET(cfs_dinode, di_mode, 64);
CFS_CHECK_OFFSET(cfs_dinode, di_uid, 68);
CFS_CHECK_OFFSET(cfs_dinode, di_gid, 72);
CFS_CHECK_OFFSET(cfs_dinode, di_nlink, 76);
CFS_CHECK_OFFSET(cfs_dinode, di_size, 80);
CFS_CHECK_OFFSET(cfs_dinode, di_blocks, 88);
CFS_CHECK_OFFSET(cfs_dinode, di_atime, 96);
CFS_CHECK_OFFSET(cfs_dinode, di_mtime, 104);
CFS_CHECK_OFFSET(cfs_dinode, di_ctime, 112);
CFS_CHECK_OFFSET(cfs_dinode, di_crtime, 120);
CFS_CHECK_OFFSET(cfs_dinode, di_atime_nsec, 128);
CFS_CHECK_OFFSET(cfs_dinode, di_mtime_nsec, 132);
CFS_CHECK_OFFSET(cfs_dinode, di_ctime_nsec, 136);
CFS_CHECK_OFFSET(cfs_dinode, di_crtime_nsec, 140);
CFS_CHECK_OFFSET(cfs_dinode, di_generation, 144);
CFS_CHECK_OFFSET(cfs_dinode, di_flags, 152);
CFS_CHECK_OFFSET(cfs_dinode, di_height, 156);
CFS_CHECK_OFFSET(cfs_dinode, di_depth, 158);
CFS_CHECK_OFFSET(cfs_dinode, di_goal_meta, 160);
CFS_CHECK_OFFSET(cfs_dinode, di_goal_data, 168);
CFS_CHECK_OFFSET(cfs_dinode, di_entries, 176);
CFS_CHECK_OFFSET(cfs_dinode, di_rdev_major, 184);
CFS_CHECK_OFFSET(cfs_dinode, di_rdev_minor, 188);
CFS_CHECK_OFFSET(cfs_dinode, di_eattr, 192);
CFS_CHECK_OFFSET(cfs_dinode, di_parent, 200);
CFS_CHECK_OFFSET(cfs_dinode, di_reserved, 208);
#define CFS_DINODE_SIZE 256u

/* Geometry derived from the block size. */
#define CFS_INLINE_SIZE(bsize)    ((bsize) - CFS_DINODE_SIZE)
#define CFS_DINODE_PTRS(bsize)    (((bsize) - CFS_DINODE_SIZE) / 8u)
#define CFS_INDIRECT_PTRS(bsize)  (((bsize) - CFS_META_HEADER_SIZE) / 8u)
#define CFS_JD_PAYLOAD(bsize)     ((bsize) - CFS_META_HEADER_SIZE)

/* Indirect block: header (type CFS_BT_IN, owner = inode) then CFS_INDIRECT_PTRS le64. */
struct cfs_indirect {
	struct cfs_meta_header in_header;
	cfs_le64 in_ptrs[];                  /* CFS_INDIRECT_PTRS(bsize) entries */
};
CFS_CHECK_SIZE(cfs_indirect, 64);

/* Jdata block: header (type CFS_BT_JD, owner = inode) then CFS_JD_PAYLOAD bytes. */
struct cfs_jdata {
	struct cfs_meta_header jd_header;
	cfs_u8 jd_payload[];
};
CFS_CHECK_SIZE(cfs_jdata, 64);

/* ------------------------------------------------------------------------------------
 * Extended attributes: at most one block per inode (di_eattr), type CFS_BT_EA, owner =
 * the inode, counted in di_blocks and in state CFS_BLKST_USED. After the 96-byte block
 * header come xb_used bytes of entries, packed, each CFS_XATTR_ENTRY_SIZE(name, value)
 * bytes long (4-byte entry header, name, value, zero padding to 8); the rest of the
 * block is zero. Entries are sorted by (namespace, name bytes, name length) with no
 * duplicate, so lookups stop early and the verifier checks uniqueness in one pass.
 * The name is stored without its namespace prefix ("user.foo" is namespace 1, "foo").
 * POSIX ACLs (namespaces 4 and 5, empty name) hold the Linux xattr ACL encoding:
 * le32 version 2, then entries {le16 e_tag, le16 e_perm, le32 e_id} (ids as on disk).
 */
enum cfs_xattr_namespace {
	CFS_XATTR_NS_USER        = 1,  /* "user." */
	CFS_XATTR_NS_TRUSTED     = 2,  /* "trusted." */
	CFS_XATTR_NS_SECURITY    = 3,  /* "security." */
	CFS_XATTR_NS_ACL_ACCESS  = 4,  /* "system.posix_acl_access", empty name */
	CFS_XATTR_NS_ACL_DEFAULT = 5,  /* "system.posix_acl_default", empty name */
	CFS_XATTR_NS_MAX         = 5
};

struct cfs_xattr_block {
	struct cfs_meta_header xb_header;    /* type CFS_BT_EA, owner = inode */
	cfs_le32 xb_entries;                 /* entries in the block */
	cfs_le32 xb_used;                    /* bytes of entries from CFS_XATTR_ENTRIES_OFFSET */
	cfs_le64 xb_reserved[3];             /* zero */
};
CFS_CHECK_SIZE(cfs_xattr_block, 96);
CFS_CHECK_OFFSET(cfs_xattr_block, xb_entries, 64);
CFS_CHECK_OFFSET(cfs_xattr_block, xb_used, 68);
CFS_CHECK_OFFSET(cfs_xattr_block, xb_reserved, 72);
#define CFS_XATTR_ENTRIES_OFFSET 96u

struct cfs_xattr_entry {
	cfs_u8   xe_namespace;   /* enum cfs_xattr_namespace */
	cfs_u8   xe_name_len;    /* 1 .. CFS_XATTR_NAME_MAX; 0 for the ACL namespaces */
	cfs_le16 xe_value_len;   /* bytes of value after the name, may be 0 */
	/* char xe_name[xe_name_len], then cfs_u8 xe_value[xe_value_len], then zeros */
};
CFS_CHECK_SIZE(cfs_xattr_entry, 4);
CFS_CHECK_OFFSET(cfs_xattr_entry, xe_namespace, 0);
CFS_CHECK_OFFSET(cfs_xattr_entry, xe_name_len, 1);
CFS_CHECK_OFFSET(cfs_xattr_entry, xe_value_len, 2);
#define CFS_XATTR_ENTRY_HEADER_SIZE 4u
#define CFS_XATTR_ALIGN             8u
#define CFS_XATTR_NAME_MAX          255u
#define CFS_XATTR_ENTRY_SIZE(name_len, value_len) \
	((CFS_XATTR_ENTRY_HEADER_SIZE + (name_len) + (value_len) + CFS_XATTR_ALIGN - 1) & \
	 ~(CFS_XATTR_ALIGN - 1))
/* Bytes available for entries (a multiple of 8); the largest value of a lone attribute
 * with an n-byte name is CFS_XATTR_AREA(bsize) - 4 - n: 3992 bytes for a 4-byte name in
 * a 4096-byte block, 920 in a 1024-byte one. */
#define CFS_XATTR_AREA(bsize)       ((bsize) - CFS_XATTR_ENTRIES_OFFSET)
#define CFS_ACL_XATTR_VERSION       2u

/* ------------------------------------------------------------------------------------
 * Directories.
 *
 * Entry names are hashed with SipHash-2-4 (Aumasson & Bernstein) keyed by the
 * superblock's sb_hash_key (random at mkfs, so names cannot be chosen to collide
 * without reading the device); de_hash is the low 32 bits of the 64-bit result.
 * "." and ".." are real entries.
 *
 * Linear (inline) directory: no CFS_DIF_EXHASH, di_height 0. The inline area
 * [CFS_DINODE_SIZE, bsize) is a chain of entries whose de_rec_len add up to exactly the
 * inline size; di_size = CFS_INLINE_SIZE(bsize).
 *
 * Hashed directory: CFS_DIF_EXHASH. The directory's file content is the hash table:
 * 2^di_depth le64 leaf block numbers (di_size = 8 << di_depth), inline when it fits in
 * the inline area at height 0, else in CFS_BT_JD blocks through the pointer tree (the
 * directory also has CFS_DIF_JDATA then). An entry with hash h lives in the leaf chain
 * starting at table slot h >> (32 - di_depth). A leaf of depth d is pointed to by
 * 2^(di_depth - d) consecutive slots. Leaves chain through lf_next when a slot's
 * entries do not fit (only when lf_depth == di_depth, or all entries share one hash).
 *
 * Entry: 24-byte header then de_name_len name bytes (no NUL), record padded with
 * zeros to a multiple of 8; de_rec_len covers the record and any free space after it.
 * An entry with de_inum 0 is free space (only allowed as the first record of a leaf or
 * of the inline area, as in ext2).
 */
struct cfs_dirent {
	cfs_le64 de_inum;        /* inode number (dinode block), 0 = unused */
	cfs_le64 de_generation;  /* di_generation of the inode when the entry was made */
	cfs_le32 de_hash;        /* low 32 bits of SipHash-2-4(sb_hash_key, name) */
	cfs_le16 de_rec_len;     /* bytes to the next entry, multiple of 8 */
	cfs_u8   de_name_len;    /* 1 .. CFS_NAME_MAX */
	cfs_u8   de_type;        /* enum cfs_dirent_type */
	/* char de_name[de_name_len] follows */
};
CFS_CHECK_SIZE(cfs_dirent, 24);
CFS_CHECK_OFFSET(cfs_dirent, de_inum, 0);
CFS_CHECK_OFFSET(cfs_dirent, de_generation, 8);
CFS_CHECK_OFFSET(cfs_dirent, de_hash, 16);
CFS_CHECK_OFFSET(cfs_dirent, de_rec_len, 20);
CFS_CHECK_OFFSET(cfs_dirent, de_name_len, 22);
CFS_CHECK_OFFSET(cfs_dirent, de_type, 23);
#define CFS_DIRENT_HEADER_SIZE 24u
#define CFS_DIRENT_ALIGN       8u
#define CFS_DIRENT_SIZE(name_len) \
	((CFS_DIRENT_HEADER_SIZE + (name_len) + CFS_DIRENT_ALIGN - 1) & ~(CFS_DIRENT_ALIGN - 1))

/* de_type: the values of Linux DT_* (dirent.h), so readdir passes them through. */
enum cfs_dirent_type {
	CFS_DT_UNKNOWN = 0,
	CFS_DT_FIFO    = 1,
	CFS_DT_CHR     = 2,
	CFS_DT_DIR     = 4,
	CFS_DT_BLK     = 6,
	CFS_DT_REG     = 8,
	CFS_DT_LNK     = 10,
	CFS_DT_SOCK    = 12
};

/* Directory leaf: header (type CFS_BT_LF, owner = directory) then entries from
 * CFS_LEAF_ENTRIES_OFFSET to the end of the block. */
struct cfs_leaf {
	struct cfs_meta_header lf_header;
	cfs_le16 lf_depth;       /* local depth: prefix bits shared by its entries' hashes */
	cfs_le16 lf_reserved0;
	cfs_le32 lf_entries;     /* entries in this leaf (not its chain) */
	cfs_le64 lf_next;        /* next leaf of the chain, 0 = end */
	cfs_le64 lf_reserved[2]; /* zero */
};
CFS_CHECK_SIZE(cfs_leaf, 96);
CFS_CHECK_OFFSET(cfs_leaf, lf_depth, 64);
CFS_CHECK_OFFSET(cfs_leaf, lf_entries, 68);
CFS_CHECK_OFFSET(cfs_leaf, lf_next, 72);
CFS_CHECK_OFFSET(cfs_leaf, lf_reserved, 80);
#define CFS_LEAF_ENTRIES_OFFSET 96u

/* ------------------------------------------------------------------------------------
 * System files (all CFS_DIF_SYSTEM, owned by root, mode 0600 files / 0700 directories).
 *
 * The master directory (sb_master_addr, a linear directory, parent itself) holds:
 *   "jindex"  sb_jindex_addr: regular jdata file, sb_journals struct cfs_jindex entries,
 *             entry i for journal (node slot) i;
 *   "rindex"  sb_rindex_addr: regular jdata file, sb_rgrps struct cfs_rindex entries;
 *   "statfs"  sb_statfs_addr: regular jdata file, one struct cfs_statfs.
 * Journal files and per-node statfs-change files are reached through the jindex only
 * (nlink 1, no directory entry). The root directory's parent is itself.
 */
#define CFS_MASTER_JINDEX "jindex"
#define CFS_MASTER_RINDEX "rindex"
#define CFS_MASTER_STATFS "statfs"

struct cfs_jindex {
	cfs_le64 ji_journal_addr;   /* dinode of the journal file */
	cfs_le64 ji_first_block;    /* first block of the journal's contiguous extent */
	cfs_le64 ji_blocks;         /* journal length in blocks */
	cfs_le64 ji_statfs_addr;    /* dinode of this slot's statfs-change file */
	cfs_le32 ji_flags;          /* zero in v1 */
	cfs_le32 ji_reserved0;
	cfs_le64 ji_reserved[3];
};
CFS_CHECK_SIZE(cfs_jindex, 64);
CFS_CHECK_OFFSET(cfs_jindex, ji_journal_addr, 0);
CFS_CHECK_OFFSET(cfs_jindex, ji_first_block, 8);
CFS_CHECK_OFFSET(cfs_jindex, ji_blocks, 16);
CFS_CHECK_OFFSET(cfs_jindex, ji_statfs_addr, 24);
CFS_CHECK_OFFSET(cfs_jindex, ji_flags, 32);
CFS_CHECK_OFFSET(cfs_jindex, ji_reserved, 40);

/* Global statfs file and per-node statfs-change files: one record each (stuffed, 64
 * bytes). The global file holds absolute values; a node's change file holds signed
 * deltas it has not yet folded into the global file (GFS2 statfs_change). */
struct cfs_statfs {
	cfs_le64 sf_total;        /* data blocks in all rgrps */
	cfs_le64 sf_free;         /* free blocks (or delta, signed) */
	cfs_le64 sf_dinodes;      /* dinodes (or delta, signed) */
	cfs_le64 sf_reserved[5];
};
CFS_CHECK_SIZE(cfs_statfs, 64);
CFS_CHECK_OFFSET(cfs_statfs, sf_total, 0);
CFS_CHECK_OFFSET(cfs_statfs, sf_free, 8);
CFS_CHECK_OFFSET(cfs_statfs, sf_dinodes, 16);

/* ------------------------------------------------------------------------------------
 * Journal (one per node slot): a contiguous extent of ji_blocks blocks, used as a
 * circular log. Journal-relative block j is device block ji_first_block + j.
 *
 * A transaction is written at the head as: one or more log descriptors, each
 * followed by the images of the ld_entries blocks it lists (METADATA), or by nothing
 * (REVOKE); then a log header that commits it. Block images are verbatim copies of
 * the home blocks (their own header, CRC and mh_blkno = home block), so they need no
 * escaping and replay can verify each one. A transaction is committed iff its log
 * header is valid (CRC, lh_sequence). Replay finds the valid log header with the
 * highest sequence (the head), walks from its lh_tail to it, writes the images of
 * committed transactions home in log order, skipping blocks revoked by a later
 * descriptor of the same replay range.
 */
#define CFS_LH_UNMOUNT  (1u << 0)   /* clean unmount: nothing to replay */
#define CFS_LH_RECOVERY (1u << 1)   /* written by recovery after replaying this journal */

struct cfs_log_header {
	struct cfs_meta_header lh_header;    /* type CFS_BT_LH, owner = journal dinode */
	cfs_le64 lh_sequence;                /* transaction sequence, +1 per commit, from 1 */
	cfs_le32 lh_flags;                   /* CFS_LH_* */
	cfs_le32 lh_tail;                    /* journal block of the oldest live transaction */
	cfs_le32 lh_blkno;                   /* journal block of this header */
	cfs_le32 lh_reserved0;
	cfs_le64 lh_sec;                     /* commit time, informational */
	cfs_le32 lh_nsec;
	cfs_le32 lh_reserved1;
	cfs_le64 lh_reserved[3];
};
CFS_CHECK_SIZE(cfs_log_header, 128);
CFS_CHECK_OFFSET(cfs_log_header, lh_sequence, 64);
CFS_CHECK_OFFSET(cfs_log_header, lh_flags, 72);
CFS_CHECK_OFFSET(cfs_log_header, lh_tail, 76);
CFS_CHECK_OFFSET(cfs_log_header, lh_blkno, 80);
CFS_CHECK_OFFSET(cfs_log_header, lh_sec, 88);
CFS_CHECK_OFFSET(cfs_log_header, lh_nsec, 96);
CFS_CHECK_OFFSET(cfs_log_header, lh_reserved, 104);

enum cfs_log_desc_type {
	CFS_LD_METADATA = 1,  /* ld_entries home block numbers; that many images follow */
	CFS_LD_REVOKE   = 2   /* ld_entries revoked block numbers; no image follows */
};

struct cfs_log_desc {
	struct cfs_meta_header ld_header;    /* type CFS_BT_LD, owner = journal dinode */
	cfs_le64 ld_sequence;                /* sequence of the transaction it belongs to */
	cfs_le32 ld_type;                    /* enum cfs_log_desc_type */
	cfs_le32 ld_entries;                 /* used slots of ld_blocks */
	cfs_le64 ld_reserved[2];
	cfs_le64 ld_blocks[];                /* CFS_LD_SLOTS(bsize) slots */
};
CFS_CHECK_SIZE(cfs_log_desc, 96);
CFS_CHECK_OFFSET(cfs_log_desc, ld_sequence, 64);
CFS_CHECK_OFFSET(cfs_log_desc, ld_type, 72);
CFS_CHECK_OFFSET(cfs_log_desc, ld_entries, 76);
CFS_CHECK_OFFSET(cfs_log_desc, ld_reserved, 80);
#define CFS_LD_SLOTS(bsize) (((bsize) - 96u) / 8u)

/* mkfs defaults and limits (MiB unless stated). */
#define CFS_DEFAULT_JOURNAL_MB 128u
#define CFS_MIN_JOURNAL_MB     8u
#define CFS_MAX_JOURNAL_MB     1024u
#define CFS_DEFAULT_RGRP_MB    256u
#define CFS_MIN_RGRP_MB        4u
#define CFS_MAX_RGRP_MB        2048u

#endif /* CLUSTERFS_FORMAT_H */
