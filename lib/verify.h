// Metadata verifiers: one per block type, run on every block read from the device
// (meta_read) and on every block before it is written or logged (meta_seal).
//
// A verifier returns 0, -CFS_EBADMSG (CRC mismatch) or -CFS_EUCLEAN (a structural check
// failed) and fills VerifyFailure with the name of the failed check and the byte offset
// in the block of the field it rejected, so every error message can say which check,
// which block, which offset. Verifiers are pure functions of the bytes: they never read
// other blocks, never allocate, never log.
#ifndef CLUSTERFS_LIB_VERIFY_H
#define CLUSTERFS_LIB_VERIFY_H

#include <cstdint>

#include "clusterfs/format.h"

namespace cfs {

// What the verifiers need to know about the filesystem.
struct VerifyCtx {
	uint32_t bsize;          // block size
	uint64_t fs_blocks;      // sb_blocks: every block pointer must be below it
	const uint8_t *uuid;     // filesystem UUID (16 bytes); nullptr: accept any (superblock probe)
};

struct VerifyFailure {
	const char *check;  // short name of the failed check, e.g. "crc", "magic", "di_height"
	uint32_t offset;    // byte offset in the block of the offending field
};

// Name of a block type for messages ("superblock", "dinode", ...); "unknown" if invalid.
const char *block_type_name(uint32_t type);

// Common header checks: magic, type, format version, own block number, UUID, reserved
// fields; owner when `owner` is nonzero (dinodes: must be blkno; sb/rgrp: must be 0,
// checked by their verifiers). Does not check the CRC.
int verify_header(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint16_t type,
		  uint64_t owner, VerifyFailure *f);

// Per-type structural checks (header included, CRC not included).
int verify_sb(const VerifyCtx &ctx, const void *block, uint64_t blkno, VerifyFailure *f);
int verify_rgrp(const VerifyCtx &ctx, const void *block, uint64_t blkno, VerifyFailure *f);
int verify_rgrp_bitmap(const VerifyCtx &ctx, const void *block, uint64_t blkno, VerifyFailure *f);
int verify_dinode(const VerifyCtx &ctx, const void *block, uint64_t blkno, VerifyFailure *f);
int verify_indirect(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		    VerifyFailure *f);
int verify_leaf(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		VerifyFailure *f);
int verify_jdata(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		 VerifyFailure *f);
int verify_log_header(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		      VerifyFailure *f);
// Xattr block: entries tile [96, 96 + xb_used), known namespaces, sane lengths, sorted
// without duplicates, ACL values well formed, zero padding and tail.
int verify_xattr(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		 VerifyFailure *f);

// The order of xattr entries in a block: namespace, then name bytes (unsigned), then
// length. <0, 0, >0 like memcmp.
int xattr_compare(unsigned ns_a, const uint8_t *name_a, unsigned len_a, unsigned ns_b,
		  const uint8_t *name_b, unsigned len_b);
// A POSIX ACL value in the Linux xattr encoding: version 2, 4 + 8k bytes.
bool xattr_acl_value_ok(const uint8_t *value, uint32_t len);
int verify_log_desc(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		    VerifyFailure *f);

// A chain of directory entries filling exactly `len` bytes (inline area or leaf body):
// record lengths, name lengths, types, no entry past the end. `base_offset` is the
// offset of `area` in its block (for VerifyFailure). Returns the number of used
// entries in *entries.
int verify_dirents(const void *area, uint32_t len, uint32_t base_offset, uint32_t *entries,
		   VerifyFailure *f);

// Dispatches on `type` (which the caller expects): CRC first when check_crc, then the
// type's verifier. owner 0 = not checked (for types whose owner is not implied).
int verify_block(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint16_t type,
		 uint64_t owner, bool check_crc, VerifyFailure *f);

}  // namespace cfs

#endif
