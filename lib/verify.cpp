// Metadata verifiers (see verify.h). Each check is named after the field it rejects.
#include "verify.h"

#include "crc32c.h"
#include "endian.h"
#include "errors.h"
#include "fs.h"
#include "rgrp.h"

namespace cfs {
namespace {

int fail(VerifyFailure *f, const char *check, uint32_t offset, int err = -CFS_EUCLEAN)
{
	if (f) {
		f->check = check;
		f->offset = offset;
	}
	return err;
}

#define OFF(type, field) static_cast<uint32_t>(offsetof(type, field))

bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = static_cast<const uint8_t *>(p);
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

// Offset of the first nonzero byte in [p, p+len), or len.
size_t first_nonzero(const void *p, size_t len)
{
	const uint8_t *b = static_cast<const uint8_t *>(p);
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return i;
	return len;
}

bool nul_terminated(const char *s, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (!s[i])
			return all_zero(s + i, size - i);
	return false;
}

// Block pointers: 0 (hole / none) or inside the filesystem past the superblock.
int check_pointers(const VerifyCtx &ctx, const void *block, uint32_t offset, uint32_t count,
		   const char *check, VerifyFailure *f)
{
	const uint8_t *p = static_cast<const uint8_t *>(block) + offset;
	const uint64_t min_block = CFS_SB_OFFSET / ctx.bsize + 1;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t ptr = load_le64(p + 8u * i);
		if (ptr && (ptr < min_block || ptr >= ctx.fs_blocks))
			return fail(f, check, offset + 8u * i);
	}
	return 0;
}

bool str_equal(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

bool valid_dirent_type(unsigned t)
{
	switch (t) {
	case CFS_DT_FIFO: case CFS_DT_CHR: case CFS_DT_DIR: case CFS_DT_BLK:
	case CFS_DT_REG: case CFS_DT_LNK: case CFS_DT_SOCK:
		return true;
	default:
		return false;
	}
}

constexpr uint32_t kIfmt = 0170000;
constexpr uint32_t kIfdir = 0040000;
constexpr uint32_t kIfreg = 0100000;
constexpr uint32_t kIflnk = 0120000;
constexpr uint32_t kIfchr = 0020000;
constexpr uint32_t kIfblk = 0060000;

bool valid_file_type(uint32_t mode)
{
	switch (mode & kIfmt) {
	case 0010000: case kIfchr: case kIfdir: case kIfblk: case kIfreg: case kIflnk:
	case 0140000:
		return true;
	default:
		return false;
	}
}

}  // namespace

const char *block_type_name(uint32_t type)
{
	switch (type) {
	case CFS_BT_SB: return "superblock";
	case CFS_BT_RG: return "rgrp header";
	case CFS_BT_RB: return "rgrp bitmap";
	case CFS_BT_DI: return "dinode";
	case CFS_BT_IN: return "indirect";
	case CFS_BT_LF: return "dir leaf";
	case CFS_BT_JD: return "jdata";
	case CFS_BT_LH: return "log header";
	case CFS_BT_LD: return "log descriptor";
	case CFS_BT_EA: return "xattr";
	default: return "unknown";
	}
}

int verify_header(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint16_t type,
		  uint64_t owner, VerifyFailure *f)
{
	const auto *h = static_cast<const cfs_meta_header *>(block);
	if (from_le32(h->mh_magic) != CFS_META_MAGIC)
		return fail(f, "mh_magic", OFF(cfs_meta_header, mh_magic));
	if (from_le16(h->mh_type) != type)
		return fail(f, "mh_type", OFF(cfs_meta_header, mh_type));
	if (from_le16(h->mh_format) != CFS_FORMAT_VERSION)
		return fail(f, "mh_format", OFF(cfs_meta_header, mh_format));
	if (h->mh_reserved0)
		return fail(f, "mh_reserved0", OFF(cfs_meta_header, mh_reserved0));
	if (from_le64(h->mh_blkno) != blkno)
		return fail(f, "mh_blkno", OFF(cfs_meta_header, mh_blkno));
	if (owner && from_le64(h->mh_owner) != owner)
		return fail(f, "mh_owner", OFF(cfs_meta_header, mh_owner));
	if (ctx.uuid && __builtin_memcmp(h->mh_uuid, ctx.uuid, CFS_UUID_SIZE) != 0)
		return fail(f, "mh_uuid", OFF(cfs_meta_header, mh_uuid));
	if (h->mh_reserved1)
		return fail(f, "mh_reserved1", OFF(cfs_meta_header, mh_reserved1));
	return 0;
}

int verify_sb(const VerifyCtx &ctx, const void *block, uint64_t blkno, VerifyFailure *f)
{
	const auto *sb = static_cast<const cfs_sb *>(block);
	int err = verify_header(ctx, block, blkno, CFS_BT_SB, 0, f);
	if (err)
		return err;
	if (sb->sb_header.mh_owner)
		return fail(f, "mh_owner", OFF(cfs_meta_header, mh_owner));
	const uint32_t bsize = from_le32(sb->sb_bsize);
	if (bsize != 1024 && bsize != 2048 && bsize != 4096)
		return fail(f, "sb_bsize", OFF(cfs_sb, sb_bsize));
	if (bsize != ctx.bsize)
		return fail(f, "sb_bsize", OFF(cfs_sb, sb_bsize));
	const uint32_t shift = from_le32(sb->sb_bsize_shift);
	if (shift >= 32 || (1u << shift) != bsize)
		return fail(f, "sb_bsize_shift", OFF(cfs_sb, sb_bsize_shift));
	if (blkno != CFS_SB_OFFSET / bsize)
		return fail(f, "mh_blkno", OFF(cfs_meta_header, mh_blkno));
	const uint64_t blocks = from_le64(sb->sb_blocks);
	if (blocks <= blkno + 2)
		return fail(f, "sb_blocks", OFF(cfs_sb, sb_blocks));
	const cfs_le64 *addrs[] = {&sb->sb_master_addr, &sb->sb_root_addr, &sb->sb_rindex_addr,
				   &sb->sb_jindex_addr, &sb->sb_statfs_addr};
	const char *names[] = {"sb_master_addr", "sb_root_addr", "sb_rindex_addr",
			       "sb_jindex_addr", "sb_statfs_addr"};
	for (unsigned i = 0; i < 5; i++) {
		uint64_t a = from_le64(*addrs[i]);
		if (a <= blkno || a >= blocks)
			return fail(f, names[i],
				    static_cast<uint32_t>(reinterpret_cast<const uint8_t *>(addrs[i]) -
							  static_cast<const uint8_t *>(block)));
	}
	const uint32_t journals = from_le32(sb->sb_journals);
	if (journals < 1 || journals > CFS_MAX_JOURNALS)
		return fail(f, "sb_journals", OFF(cfs_sb, sb_journals));
	if (from_le32(sb->sb_rgrps) <= journals)
		return fail(f, "sb_rgrps", OFF(cfs_sb, sb_rgrps));
	if (from_le32(sb->sb_rgrp_blocks) < 2)
		return fail(f, "sb_rgrp_blocks", OFF(cfs_sb, sb_rgrp_blocks));
	if (sb->sb_flags)
		return fail(f, "sb_flags", OFF(cfs_sb, sb_flags));
	if (!nul_terminated(sb->sb_lockproto, sizeof(sb->sb_lockproto)))
		return fail(f, "sb_lockproto", OFF(cfs_sb, sb_lockproto));
	if (!nul_terminated(sb->sb_locktable, sizeof(sb->sb_locktable)))
		return fail(f, "sb_locktable", OFF(cfs_sb, sb_locktable));
	if (locktable_problem(sb->sb_lockproto, sb->sb_locktable)) {
		bool proto_ok = str_equal(sb->sb_lockproto, CFS_LOCKPROTO_CLUSTER) ||
				str_equal(sb->sb_lockproto, CFS_LOCKPROTO_NOLOCK);
		return proto_ok ? fail(f, "sb_locktable", OFF(cfs_sb, sb_locktable))
				: fail(f, "sb_lockproto", OFF(cfs_sb, sb_lockproto));
	}
	if (!nul_terminated(sb->sb_label, sizeof(sb->sb_label)))
		return fail(f, "sb_label", OFF(cfs_sb, sb_label));
	if (!all_zero(sb->sb_reserved, sizeof(sb->sb_reserved)))
		return fail(f, "sb_reserved", OFF(cfs_sb, sb_reserved));
	size_t nz = first_nonzero(static_cast<const uint8_t *>(block) + sizeof(cfs_sb),
				  bsize - sizeof(cfs_sb));
	if (nz != bsize - sizeof(cfs_sb))
		return fail(f, "sb_tail", static_cast<uint32_t>(sizeof(cfs_sb) + nz));
	return 0;
}

int verify_rgrp(const VerifyCtx &ctx, const void *block, uint64_t blkno, VerifyFailure *f)
{
	const auto *rg = static_cast<const cfs_rgrp *>(block);
	int err = verify_header(ctx, block, blkno, CFS_BT_RG, 0, f);
	if (err)
		return err;
	if (rg->rg_header.mh_owner)
		return fail(f, "mh_owner", OFF(cfs_meta_header, mh_owner));
	if (from_le32(rg->rg_flags) & ~(CFS_RGF_JOURNAL | CFS_RGF_NOALLOC))
		return fail(f, "rg_flags", OFF(cfs_rgrp, rg_flags));
	const uint32_t length = from_le32(rg->rg_length);
	const uint32_t data = from_le32(rg->rg_data);
	const uint32_t bitbytes = from_le32(rg->rg_bitbytes);
	if (data == 0)
		return fail(f, "rg_data", OFF(cfs_rgrp, rg_data));
	if (length != rgrp_length_for(ctx.bsize, data))
		return fail(f, "rg_length", OFF(cfs_rgrp, rg_length));
	if (from_le64(rg->rg_data0) != blkno + length)
		return fail(f, "rg_data0", OFF(cfs_rgrp, rg_data0));
	if (blkno + length + data > ctx.fs_blocks)
		return fail(f, "rg_data", OFF(cfs_rgrp, rg_data));
	if (bitbytes != (data + CFS_NBBY - 1) / CFS_NBBY)
		return fail(f, "rg_bitbytes", OFF(cfs_rgrp, rg_bitbytes));
	const uint32_t free = from_le32(rg->rg_free), dinodes = from_le32(rg->rg_dinodes);
	if (free > data)
		return fail(f, "rg_free", OFF(cfs_rgrp, rg_free));
	if (dinodes > data - free)
		return fail(f, "rg_dinodes", OFF(cfs_rgrp, rg_dinodes));
	if (from_le32(rg->rg_unlinked) > dinodes)
		return fail(f, "rg_unlinked", OFF(cfs_rgrp, rg_unlinked));
	const uint32_t skip = from_le32(rg->rg_skip);
	if (skip && (skip < length + data || blkno + skip >= ctx.fs_blocks))
		return fail(f, "rg_skip", OFF(cfs_rgrp, rg_skip));
	if (!all_zero(rg->rg_reserved, sizeof(rg->rg_reserved)))
		return fail(f, "rg_reserved", OFF(cfs_rgrp, rg_reserved));
	// The part of the bitmap in this block: no state for blocks past rg_data.
	const uint32_t here = ctx.bsize - CFS_RG_BITMAP_OFFSET;
	if (bitbytes <= here) {
		const uint8_t *bm = static_cast<const uint8_t *>(block) + CFS_RG_BITMAP_OFFSET;
		uint32_t tail_bits = (data % CFS_NBBY) * CFS_BIT_SIZE;
		if (tail_bits && (bm[bitbytes - 1] >> tail_bits))
			return fail(f, "rg_bitmap_tail", CFS_RG_BITMAP_OFFSET + bitbytes - 1);
		size_t nz = first_nonzero(bm + bitbytes, here - bitbytes);
		if (nz != here - bitbytes)
			return fail(f, "rg_bitmap_tail",
				    static_cast<uint32_t>(CFS_RG_BITMAP_OFFSET + bitbytes + nz));
	}
	return 0;
}

int verify_rgrp_bitmap(const VerifyCtx &ctx, const void *block, uint64_t blkno, VerifyFailure *f)
{
	const auto *h = static_cast<const cfs_meta_header *>(block);
	int err = verify_header(ctx, block, blkno, CFS_BT_RB, 0, f);
	if (err)
		return err;
	if (h->mh_owner)
		return fail(f, "mh_owner", OFF(cfs_meta_header, mh_owner));
	return 0;
}

int verify_dirents(const void *area, uint32_t len, uint32_t base_offset, uint32_t *entries,
		   VerifyFailure *f)
{
	const uint8_t *p = static_cast<const uint8_t *>(area);
	uint32_t off = 0, used = 0;
	if (len % CFS_DIRENT_ALIGN || len < CFS_DIRENT_HEADER_SIZE)
		return fail(f, "dirent_area", base_offset);
	while (off < len) {
		if (len - off < CFS_DIRENT_HEADER_SIZE)
			return fail(f, "de_rec_len", base_offset + off);
		cfs_dirent de;
		__builtin_memcpy(&de, p + off, sizeof(de));
		const uint32_t rec_len = from_le16(de.de_rec_len);
		const uint32_t at = base_offset + off;
		if (rec_len < CFS_DIRENT_HEADER_SIZE || rec_len % CFS_DIRENT_ALIGN ||
		    rec_len > len - off)
			return fail(f, "de_rec_len", at + OFF(cfs_dirent, de_rec_len));
		if (from_le64(de.de_inum) == 0) {
			if (off != 0)
				return fail(f, "de_inum", at + OFF(cfs_dirent, de_inum));
		} else {
			if (de.de_name_len == 0 || CFS_DIRENT_SIZE(de.de_name_len) > rec_len)
				return fail(f, "de_name_len", at + OFF(cfs_dirent, de_name_len));
			if (!valid_dirent_type(de.de_type))
				return fail(f, "de_type", at + OFF(cfs_dirent, de_type));
			const uint8_t *name = p + off + CFS_DIRENT_HEADER_SIZE;
			for (uint32_t i = 0; i < de.de_name_len; i++)
				if (name[i] == 0 || name[i] == '/')
					return fail(f, "de_name", at + CFS_DIRENT_HEADER_SIZE + i);
			used++;
		}
		off += rec_len;
	}
	if (entries)
		*entries = used;
	return 0;
}

int verify_dinode(const VerifyCtx &ctx, const void *block, uint64_t blkno, VerifyFailure *f)
{
	const auto *di = static_cast<const cfs_dinode *>(block);
	int err = verify_header(ctx, block, blkno, CFS_BT_DI, blkno, f);
	if (err)
		return err;
	const uint32_t mode = from_le32(di->di_mode);
	if ((mode & ~0177777u) || !valid_file_type(mode))
		return fail(f, "di_mode", OFF(cfs_dinode, di_mode));
	const bool is_dir = (mode & kIfmt) == kIfdir;
	const uint64_t size = from_le64(di->di_size);
	if (from_le64(di->di_blocks) < 1)
		return fail(f, "di_blocks", OFF(cfs_dinode, di_blocks));
	const cfs_le32 *nsecs[] = {&di->di_atime_nsec, &di->di_mtime_nsec, &di->di_ctime_nsec,
				   &di->di_crtime_nsec};
	for (auto *ns : nsecs)
		if (from_le32(*ns) >= 1000000000u)
			return fail(f, "di_nsec",
				    static_cast<uint32_t>(reinterpret_cast<const uint8_t *>(ns) -
							  static_cast<const uint8_t *>(block)));
	const uint32_t flags = from_le32(di->di_flags);
	if ((flags & ~CFS_DIF_KNOWN_FLAGS) || (flags & CFS_DIF_XATTR))
		return fail(f, "di_flags", OFF(cfs_dinode, di_flags));
	if ((flags & CFS_DIF_EXHASH) && !is_dir)
		return fail(f, "di_flags", OFF(cfs_dinode, di_flags));
	const unsigned height = from_le16(di->di_height);
	const unsigned depth = from_le16(di->di_depth);
	if (height > CFS_MAX_HEIGHT)
		return fail(f, "di_height", OFF(cfs_dinode, di_height));
	if (flags & CFS_DIF_EXHASH) {
		if (depth < 1 || depth > CFS_MAX_DEPTH)
			return fail(f, "di_depth", OFF(cfs_dinode, di_depth));
		if (size != (8ull << depth))
			return fail(f, "di_size", OFF(cfs_dinode, di_size));
	} else if (depth) {
		return fail(f, "di_depth", OFF(cfs_dinode, di_depth));
	}
	if (!is_dir && (di->di_entries || di->di_parent))
		return fail(f, di->di_entries ? "di_entries" : "di_parent",
			    di->di_entries ? OFF(cfs_dinode, di_entries) : OFF(cfs_dinode, di_parent));
	if (is_dir && (from_le64(di->di_parent) < CFS_SB_OFFSET / ctx.bsize + 1 ||
		       from_le64(di->di_parent) >= ctx.fs_blocks))
		return fail(f, "di_parent", OFF(cfs_dinode, di_parent));
	const uint32_t type = mode & kIfmt;
	if (type != kIfchr && type != kIfblk && (di->di_rdev_major || di->di_rdev_minor))
		return fail(f, "di_rdev", OFF(cfs_dinode, di_rdev_major));
	if (di->di_eattr) {
		err = check_pointers(ctx, block, OFF(cfs_dinode, di_eattr), 1, "di_eattr", f);
		if (err)
			return err;
		if (from_le64(di->di_eattr) == blkno)
			return fail(f, "di_eattr", OFF(cfs_dinode, di_eattr));
	}
	if (!all_zero(di->di_reserved, sizeof(di->di_reserved)))
		return fail(f, "di_reserved", OFF(cfs_dinode, di_reserved));
	const cfs_le64 *goals[] = {&di->di_goal_meta, &di->di_goal_data};
	for (const cfs_le64 *goal : goals)
		if (from_le64(*goal) >= ctx.fs_blocks)
			return fail(f, "di_goal",
				    static_cast<uint32_t>(reinterpret_cast<const uint8_t *>(goal) -
							  static_cast<const uint8_t *>(block)));

	if (is_dir && !(flags & CFS_DIF_EXHASH) && height)
		return fail(f, "di_height", OFF(cfs_dinode, di_height));
	if (height && (flags & CFS_DIF_EXHASH) && !(flags & CFS_DIF_JDATA))
		return fail(f, "di_flags", OFF(cfs_dinode, di_flags));
	const uint32_t inline_size = CFS_INLINE_SIZE(ctx.bsize);
	const uint8_t *area = static_cast<const uint8_t *>(block) + CFS_DINODE_SIZE;
	if (height >= 1)
		return check_pointers(ctx, block, CFS_DINODE_SIZE, CFS_DINODE_PTRS(ctx.bsize),
				      "di_ptrs", f);
	if (is_dir && !(flags & CFS_DIF_EXHASH)) {
		uint32_t entries = 0;
		if (size != inline_size)
			return fail(f, "di_size", OFF(cfs_dinode, di_size));
		err = verify_dirents(area, inline_size, CFS_DINODE_SIZE, &entries, f);
		if (err)
			return err;
		if (from_le64(di->di_entries) != entries)
			return fail(f, "di_entries", OFF(cfs_dinode, di_entries));
		return 0;
	}
	if (size > inline_size)
		return fail(f, "di_size", OFF(cfs_dinode, di_size));
	if (flags & CFS_DIF_EXHASH) {
		err = check_pointers(ctx, block, CFS_DINODE_SIZE, static_cast<uint32_t>(size / 8),
				     "di_hash_table", f);
		if (err)
			return err;
	}
	size_t nz = first_nonzero(area + size, inline_size - size);
	if (nz != inline_size - size)
		return fail(f, "di_inline_tail", static_cast<uint32_t>(CFS_DINODE_SIZE + size + nz));
	return 0;
}

int verify_indirect(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		    VerifyFailure *f)
{
	int err = verify_header(ctx, block, blkno, CFS_BT_IN, owner, f);
	if (err)
		return err;
	return check_pointers(ctx, block, CFS_META_HEADER_SIZE, CFS_INDIRECT_PTRS(ctx.bsize),
			      "in_ptrs", f);
}

int verify_leaf(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		VerifyFailure *f)
{
	const auto *lf = static_cast<const cfs_leaf *>(block);
	int err = verify_header(ctx, block, blkno, CFS_BT_LF, owner, f);
	if (err)
		return err;
	if (from_le16(lf->lf_depth) > CFS_MAX_DEPTH)
		return fail(f, "lf_depth", OFF(cfs_leaf, lf_depth));
	if (lf->lf_reserved0 || !all_zero(lf->lf_reserved, sizeof(lf->lf_reserved)))
		return fail(f, "lf_reserved", OFF(cfs_leaf, lf_reserved0));
	err = check_pointers(ctx, block, OFF(cfs_leaf, lf_next), 1, "lf_next", f);
	if (err)
		return err;
	if (from_le64(lf->lf_next) == blkno)
		return fail(f, "lf_next", OFF(cfs_leaf, lf_next));
	uint32_t entries = 0;
	err = verify_dirents(static_cast<const uint8_t *>(block) + CFS_LEAF_ENTRIES_OFFSET,
			     ctx.bsize - CFS_LEAF_ENTRIES_OFFSET, CFS_LEAF_ENTRIES_OFFSET, &entries, f);
	if (err)
		return err;
	if (from_le32(lf->lf_entries) != entries)
		return fail(f, "lf_entries", OFF(cfs_leaf, lf_entries));
	return 0;
}

int verify_jdata(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		 VerifyFailure *f)
{
	return verify_header(ctx, block, blkno, CFS_BT_JD, owner, f);
}

int xattr_compare(unsigned ns_a, const uint8_t *name_a, unsigned len_a, unsigned ns_b,
		  const uint8_t *name_b, unsigned len_b)
{
	if (ns_a != ns_b)
		return ns_a < ns_b ? -1 : 1;
	unsigned common = len_a < len_b ? len_a : len_b;
	for (unsigned i = 0; i < common; i++)
		if (name_a[i] != name_b[i])
			return name_a[i] < name_b[i] ? -1 : 1;
	return len_a == len_b ? 0 : (len_a < len_b ? -1 : 1);
}

bool xattr_acl_value_ok(const uint8_t *value, uint32_t len)
{
	if (len < 4 || (len - 4) % 8)
		return false;
	uint32_t version;
	__builtin_memcpy(&version, value, sizeof(version));
	return from_le32(version) == CFS_ACL_XATTR_VERSION;
}

int verify_xattr(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		 VerifyFailure *f)
{
	const auto *xb = static_cast<const cfs_xattr_block *>(block);
	const uint8_t *base = static_cast<const uint8_t *>(block);
	int err = verify_header(ctx, block, blkno, CFS_BT_EA, owner, f);
	if (err)
		return err;
	const uint32_t used = from_le32(xb->xb_used);
	const uint32_t area = CFS_XATTR_AREA(ctx.bsize);
	if (used > area || used % CFS_XATTR_ALIGN)
		return fail(f, "xb_used", OFF(cfs_xattr_block, xb_used));
	if (!all_zero(xb->xb_reserved, sizeof(xb->xb_reserved)))
		return fail(f, "xb_reserved", OFF(cfs_xattr_block, xb_reserved));
	uint32_t pos = CFS_XATTR_ENTRIES_OFFSET;
	const uint32_t end = CFS_XATTR_ENTRIES_OFFSET + used;
	uint32_t count = 0;
	unsigned prev_ns = 0, prev_len = 0;
	const uint8_t *prev_name = nullptr;
	while (pos < end) {
		const auto *xe = reinterpret_cast<const cfs_xattr_entry *>(base + pos);
		const unsigned ns = xe->xe_namespace;
		const unsigned name_len = xe->xe_name_len;
		const uint32_t value_len = from_le16(xe->xe_value_len);
		if (ns < CFS_XATTR_NS_USER || ns > CFS_XATTR_NS_MAX)
			return fail(f, "xe_namespace", pos + OFF(cfs_xattr_entry, xe_namespace));
		const bool acl = ns == CFS_XATTR_NS_ACL_ACCESS || ns == CFS_XATTR_NS_ACL_DEFAULT;
		if (acl ? name_len != 0 : name_len == 0)
			return fail(f, "xe_name_len", pos + OFF(cfs_xattr_entry, xe_name_len));
		const uint32_t size = CFS_XATTR_ENTRY_SIZE(name_len, value_len);
		if (size > end - pos)
			return fail(f, "xe_value_len", pos + OFF(cfs_xattr_entry, xe_value_len));
		const uint8_t *name = base + pos + CFS_XATTR_ENTRY_HEADER_SIZE;
		for (unsigned i = 0; i < name_len; i++)
			if (!name[i])
				return fail(f, "xe_name", pos + CFS_XATTR_ENTRY_HEADER_SIZE + i);
		if (acl && !xattr_acl_value_ok(name + name_len, value_len))
			return fail(f, "xe_acl_value", pos + CFS_XATTR_ENTRY_HEADER_SIZE);
		const uint32_t payload = CFS_XATTR_ENTRY_HEADER_SIZE + name_len + value_len;
		size_t nz = first_nonzero(base + pos + payload, size - payload);
		if (nz != size - payload)
			return fail(f, "xe_padding", static_cast<uint32_t>(pos + payload + nz));
		if (prev_name && xattr_compare(prev_ns, prev_name, prev_len, ns, name, name_len) >= 0)
			return fail(f, "xe_order", pos);
		prev_ns = ns;
		prev_name = name;
		prev_len = name_len;
		pos += size;
		count++;
	}
	if (from_le32(xb->xb_entries) != count)
		return fail(f, "xb_entries", OFF(cfs_xattr_block, xb_entries));
	size_t nz = first_nonzero(base + end, ctx.bsize - end);
	if (nz != ctx.bsize - end)
		return fail(f, "xb_tail", static_cast<uint32_t>(end + nz));
	return 0;
}

int verify_log_header(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		      VerifyFailure *f)
{
	const auto *lh = static_cast<const cfs_log_header *>(block);
	int err = verify_header(ctx, block, blkno, CFS_BT_LH, owner, f);
	if (err)
		return err;
	if (from_le64(lh->lh_sequence) == 0)
		return fail(f, "lh_sequence", OFF(cfs_log_header, lh_sequence));
	if (from_le32(lh->lh_flags) & ~(CFS_LH_UNMOUNT | CFS_LH_RECOVERY))
		return fail(f, "lh_flags", OFF(cfs_log_header, lh_flags));
	if (from_le32(lh->lh_nsec) >= 1000000000u)
		return fail(f, "lh_nsec", OFF(cfs_log_header, lh_nsec));
	if (lh->lh_reserved0 || lh->lh_reserved1 ||
	    !all_zero(lh->lh_reserved, sizeof(lh->lh_reserved)))
		return fail(f, "lh_reserved", OFF(cfs_log_header, lh_reserved0));
	size_t nz = first_nonzero(static_cast<const uint8_t *>(block) + sizeof(cfs_log_header),
				  ctx.bsize - sizeof(cfs_log_header));
	if (nz != ctx.bsize - sizeof(cfs_log_header))
		return fail(f, "lh_tail_bytes", static_cast<uint32_t>(sizeof(cfs_log_header) + nz));
	return 0;
}

int verify_log_desc(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint64_t owner,
		    VerifyFailure *f)
{
	const auto *ld = static_cast<const cfs_log_desc *>(block);
	int err = verify_header(ctx, block, blkno, CFS_BT_LD, owner, f);
	if (err)
		return err;
	if (from_le64(ld->ld_sequence) == 0)
		return fail(f, "ld_sequence", OFF(cfs_log_desc, ld_sequence));
	const uint32_t type = from_le32(ld->ld_type);
	if (type != CFS_LD_METADATA && type != CFS_LD_REVOKE)
		return fail(f, "ld_type", OFF(cfs_log_desc, ld_type));
	const uint32_t entries = from_le32(ld->ld_entries);
	const uint32_t slots = CFS_LD_SLOTS(ctx.bsize);
	if (entries < 1 || entries > slots)
		return fail(f, "ld_entries", OFF(cfs_log_desc, ld_entries));
	if (!all_zero(ld->ld_reserved, sizeof(ld->ld_reserved)))
		return fail(f, "ld_reserved", OFF(cfs_log_desc, ld_reserved));
	const uint8_t *p = static_cast<const uint8_t *>(block) + sizeof(cfs_log_desc);
	for (uint32_t i = 0; i < entries; i++)
		if (load_le64(p + 8u * i) == 0)
			return fail(f, "ld_blocks", static_cast<uint32_t>(sizeof(cfs_log_desc) + 8u * i));
	err = check_pointers(ctx, block, sizeof(cfs_log_desc), entries, "ld_blocks", f);
	if (err)
		return err;
	size_t rest = 8u * (slots - entries);
	size_t nz = first_nonzero(p + 8u * entries, rest);
	if (nz != rest)
		return fail(f, "ld_unused_slots",
			    static_cast<uint32_t>(sizeof(cfs_log_desc) + 8u * entries + nz));
	return 0;
}

int verify_block(const VerifyCtx &ctx, const void *block, uint64_t blkno, uint16_t type,
		 uint64_t owner, bool check_crc, VerifyFailure *f)
{
	const auto *h = static_cast<const cfs_meta_header *>(block);
	// Identity first: "this is not a dinode" says more than "bad CRC".
	if (from_le32(h->mh_magic) != CFS_META_MAGIC)
		return fail(f, "mh_magic", OFF(cfs_meta_header, mh_magic));
	if (from_le16(h->mh_type) != type)
		return fail(f, "mh_type", OFF(cfs_meta_header, mh_type));
	if (check_crc && !block_crc_ok(block, ctx.bsize))
		return fail(f, "crc", OFF(cfs_meta_header, mh_crc), -CFS_EBADMSG);
	switch (type) {
	case CFS_BT_SB: return verify_sb(ctx, block, blkno, f);
	case CFS_BT_RG: return verify_rgrp(ctx, block, blkno, f);
	case CFS_BT_RB: return verify_rgrp_bitmap(ctx, block, blkno, f);
	case CFS_BT_DI: return verify_dinode(ctx, block, blkno, f);
	case CFS_BT_IN: return verify_indirect(ctx, block, blkno, owner, f);
	case CFS_BT_LF: return verify_leaf(ctx, block, blkno, owner, f);
	case CFS_BT_JD: return verify_jdata(ctx, block, blkno, owner, f);
	case CFS_BT_LH: return verify_log_header(ctx, block, blkno, owner, f);
	case CFS_BT_LD: return verify_log_desc(ctx, block, blkno, owner, f);
	case CFS_BT_EA: return verify_xattr(ctx, block, blkno, owner, f);
	default: return fail(f, "mh_type", OFF(cfs_meta_header, mh_type));
	}
}

}  // namespace cfs
