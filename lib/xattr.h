// Extended attributes: the one xattr block of an inode (di_eattr, docs/format.md
// "Extended attributes"): look up, list, set, replace and remove entries, allocate the
// block on the first set, free it with the last entry or with the inode.
//
// Names are split into a namespace (enum cfs_xattr_namespace) and the name without its
// prefix; xattr_parse_name does that for a full name ("user.foo"). The POSIX ACL
// namespaces have an empty name.
//
// Locking: as inode.h (the inode's glock, EX for xattr_set / xattr_free_block).
#ifndef CLUSTERFS_LIB_XATTR_H
#define CLUSTERFS_LIB_XATTR_H

#include "inode.h"

namespace cfs {

struct Trans;

// Buffers one xattr_set may dirty: dinode, xattr block, rgrp header and bitmap block.
constexpr uint32_t kXattrSetMaxBufs = 4;

struct XattrName {
	uint8_t ns;        // enum cfs_xattr_namespace
	const char *name;  // without the prefix; not NUL-terminated
	uint32_t len;      // 0 only for the ACL namespaces
};

// Splits a full attribute name. -CFS_EOPNOTSUPP for an unknown prefix (e.g. "system.foo",
// "os2."), -CFS_ERANGE for a name longer than CFS_XATTR_NAME_MAX after the prefix,
// -CFS_EINVAL for an empty name after "user." etc.
[[nodiscard]] int xattr_parse_name(const char *full, uint32_t len, XattrName *out);

// The prefix of a namespace ("user.", "system.posix_acl_access"), nullptr if unknown.
const char *xattr_prefix(unsigned ns);

// Largest value a lone attribute with a `name_len`-byte name can have in this fs.
uint32_t xattr_value_max(const Fs *fs, uint32_t name_len);

// Copies the value of (ns, name) into buf when size >= its length; *value_len is its
// length either way (size 0 asks only for the length). -CFS_ENODATA if absent,
// -CFS_ERANGE if size is nonzero and too small.
[[nodiscard]] int xattr_get(Fs *fs, const Inode *ip, const XattrName &name, void *buf,
			    uint32_t size, uint32_t *value_len);

// Writes the full names of the inode's attributes, each NUL-terminated, into buf (as
// listxattr(2)); *total is the bytes needed. Trusted names only with `with_trusted`.
// -CFS_ERANGE if size is nonzero and too small.
[[nodiscard]] int xattr_list(Fs *fs, const Inode *ip, bool with_trusted, char *buf,
			     uint32_t size, uint32_t *total);

// Calls fn(ctx, ns, name, name_len, value, value_len) for each attribute in block order;
// stops at the first nonzero return and returns it.
using XattrVisitFn = int (*)(void *ctx, unsigned ns, const char *name, uint32_t name_len,
			     const uint8_t *value, uint32_t value_len);
[[nodiscard]] int xattr_for_each(Fs *fs, const Inode *ip, XattrVisitFn fn, void *ctx);

// Flags of xattr_set, the values of Linux XATTR_CREATE / XATTR_REPLACE.
constexpr unsigned kXattrCreate = 1;
constexpr unsigned kXattrReplace = 2;

// Sets (value != nullptr) or removes (value == nullptr) one attribute and touches ctime.
// -CFS_EEXIST (kXattrCreate, present), -CFS_ENODATA (kXattrReplace or remove, absent),
// -CFS_ENOSPC (does not fit in the block, or no free block), -CFS_ERANGE (name too long),
// -CFS_E2BIG (value larger than any block holds). Every check runs before the first
// change. `tr` must have room for kXattrSetMaxBufs buffers.
[[nodiscard]] int xattr_set(Fs *fs, Trans *tr, Inode *ip, const XattrName &name,
			    const void *value, uint32_t value_len, unsigned flags);

// Frees the inode's xattr block, if any, and clears di_eattr (inode deletion, fsck
// repair). Needs room for kXattrSetMaxBufs buffers.
[[nodiscard]] int xattr_free_block(Fs *fs, Trans *tr, Inode *ip);

// The inode's xattr block number, 0 if none.
uint64_t inode_xattr_block(const Inode *ip);

}  // namespace cfs

#endif
