// Extended attributes: see xattr.h.
#include "xattr.h"

#include "algo_util.h"
#include "rgrp.h"
#include "trans.h"

namespace cfs {

namespace {

struct Prefix {
	unsigned ns;
	const char *text;
	uint32_t len;
	bool whole;  // the prefix is the whole name (ACLs)
};

constexpr Prefix kPrefixes[] = {
	{CFS_XATTR_NS_USER, "user.", 5, false},
	{CFS_XATTR_NS_TRUSTED, "trusted.", 8, false},
	{CFS_XATTR_NS_SECURITY, "security.", 9, false},
	{CFS_XATTR_NS_ACL_ACCESS, "system.posix_acl_access", 23, true},
	{CFS_XATTR_NS_ACL_DEFAULT, "system.posix_acl_default", 24, true},
};

bool is_acl_ns(unsigned ns)
{
	return ns == CFS_XATTR_NS_ACL_ACCESS || ns == CFS_XATTR_NS_ACL_DEFAULT;
}

const Prefix *prefix_of(unsigned ns)
{
	for (const Prefix &p : kPrefixes)
		if (p.ns == ns)
			return &p;
	return nullptr;
}

cfs_xattr_block *xblock(Buf *b) { return static_cast<cfs_xattr_block *>(buf_data(b)); }
uint8_t *xbytes(Buf *b) { return static_cast<uint8_t *>(buf_data(b)); }

// One entry as found in a block.
struct Entry {
	uint32_t pos;  // byte offset in the block
	unsigned ns;
	const uint8_t *name;
	uint32_t name_len;
	const uint8_t *value;
	uint32_t value_len;
	uint32_t size;  // padded size
};

// Walks the entries of a verified block. The verifier has proved every entry in bounds.
class EntryWalk {
public:
	explicit EntryWalk(Buf *b)
		: base_(xbytes(b)),
		  end_(CFS_XATTR_ENTRIES_OFFSET + algo::load32(&xblock(b)->xb_used)),
		  pos_(CFS_XATTR_ENTRIES_OFFSET)
	{
	}
	bool next(Entry *e)
	{
		if (pos_ >= end_)
			return false;
		const auto *xe = reinterpret_cast<const cfs_xattr_entry *>(base_ + pos_);
		e->pos = pos_;
		e->ns = xe->xe_namespace;
		e->name_len = xe->xe_name_len;
		e->value_len = algo::load16(&xe->xe_value_len);
		e->name = base_ + pos_ + CFS_XATTR_ENTRY_HEADER_SIZE;
		e->value = e->name + e->name_len;
		e->size = CFS_XATTR_ENTRY_SIZE(e->name_len, e->value_len);
		pos_ += e->size;
		return true;
	}

private:
	const uint8_t *base_;
	uint32_t end_;
	uint32_t pos_;
};

// Finds `name` in the block: *found and its entry, else the offset where it would be
// inserted to keep the order.
void find_entry(Buf *b, const XattrName &name, bool *found, Entry *at, uint32_t *insert_pos)
{
	const auto *wanted = reinterpret_cast<const uint8_t *>(name.name);
	EntryWalk walk(b);
	Entry e;
	*found = false;
	*insert_pos = CFS_XATTR_ENTRIES_OFFSET + algo::load32(&xblock(b)->xb_used);
	while (walk.next(&e)) {
		int c = xattr_compare(e.ns, e.name, e.name_len, name.ns, wanted, name.len);
		if (c < 0)
			continue;
		if (c == 0) {
			*found = true;
			*at = e;
		}
		*insert_pos = e.pos;
		return;
	}
}

[[nodiscard]] int read_block(Fs *fs, const Inode *ip, Buf **out)
{
	*out = nullptr;
	uint64_t blk = inode_xattr_block(ip);
	if (!blk)
		return 0;
	return meta_read(fs, blk, CFS_BT_EA, ip->ino, out);
}

class BufRef {
public:
	BufRef(Fs *fs, Buf *b) : fs_(fs), b_(b) {}
	~BufRef()
	{
		if (b_)
			meta_release(fs_, b_);
	}
	BufRef(const BufRef &) = delete;
	BufRef &operator=(const BufRef &) = delete;

private:
	Fs *fs_;
	Buf *b_;
};

[[nodiscard]] int check_name(const XattrName &name)
{
	if (name.ns < CFS_XATTR_NS_USER || name.ns > CFS_XATTR_NS_MAX)
		return -CFS_EOPNOTSUPP;
	if (is_acl_ns(name.ns) ? name.len != 0 : name.len == 0)
		return -CFS_EINVAL;
	if (name.len > CFS_XATTR_NAME_MAX)
		return -CFS_ERANGE;
	for (uint32_t i = 0; i < name.len; i++)
		if (!name.name[i])
			return -CFS_EINVAL;
	return 0;
}

}  // namespace

uint64_t inode_xattr_block(const Inode *ip)
{
	return algo::load64(&algo::dinode_of(ip->bh)->di_eattr);
}

const char *xattr_prefix(unsigned ns)
{
	const Prefix *p = prefix_of(ns);
	return p ? p->text : nullptr;
}

int xattr_parse_name(const char *full, uint32_t len, XattrName *out)
{
	for (const Prefix &p : kPrefixes) {
		if (len < p.len || !algo::mem_equal(full, p.text, p.len))
			continue;
		if (p.whole && len != p.len)
			continue;
		out->ns = uint8_t(p.ns);
		out->name = full + p.len;
		out->len = len - p.len;
		if (!p.whole && out->len == 0)
			return -CFS_EINVAL;
		if (out->len > CFS_XATTR_NAME_MAX)
			return -CFS_ERANGE;
		return 0;
	}
	return -CFS_EOPNOTSUPP;
}

uint32_t xattr_value_max(const Fs *fs, uint32_t name_len)
{
	uint32_t area = CFS_XATTR_AREA(fs->bsize);
	uint32_t overhead = CFS_XATTR_ENTRY_HEADER_SIZE + name_len;
	return area > overhead ? area - overhead : 0;
}

int xattr_get(Fs *fs, const Inode *ip, const XattrName &name, void *buf, uint32_t size,
	      uint32_t *value_len)
{
	*value_len = 0;
	int err = check_name(name);
	if (err)
		return err;
	Buf *b;
	err = read_block(fs, ip, &b);
	if (err)
		return err;
	if (!b)
		return -CFS_ENODATA;
	BufRef hold(fs, b);
	bool found;
	Entry e;
	uint32_t insert_pos;
	find_entry(b, name, &found, &e, &insert_pos);
	if (!found)
		return -CFS_ENODATA;
	*value_len = e.value_len;
	if (size == 0)
		return 0;
	if (size < e.value_len)
		return -CFS_ERANGE;
	algo::mem_copy(buf, e.value, e.value_len);
	return 0;
}

int xattr_for_each(Fs *fs, const Inode *ip, XattrVisitFn fn, void *ctx)
{
	Buf *b;
	int err = read_block(fs, ip, &b);
	if (err || !b)
		return err;
	BufRef hold(fs, b);
	EntryWalk walk(b);
	Entry e;
	while (walk.next(&e)) {
		err = fn(ctx, e.ns, reinterpret_cast<const char *>(e.name), e.name_len, e.value,
			 e.value_len);
		if (err)
			return err;
	}
	return 0;
}

namespace {

struct ListCtx {
	bool with_trusted;
	char *buf;
	uint32_t size;
	uint32_t total;
	bool overflow;
};

int list_one(void *vctx, unsigned ns, const char *name, uint32_t name_len, const uint8_t *,
	     uint32_t)
{
	auto *c = static_cast<ListCtx *>(vctx);
	if (ns == CFS_XATTR_NS_TRUSTED && !c->with_trusted)
		return 0;
	const Prefix *p = prefix_of(ns);
	if (!p)
		return 0;  // the verifier rejects unknown namespaces: unreachable
	uint32_t need = p->len + name_len + 1;
	if (c->size) {
		if (c->total + need > c->size) {
			c->overflow = true;
		} else {
			algo::mem_copy(c->buf + c->total, p->text, p->len);
			algo::mem_copy(c->buf + c->total + p->len, name, name_len);
			c->buf[c->total + need - 1] = '\0';
		}
	}
	c->total += need;
	return 0;
}

}  // namespace

int xattr_list(Fs *fs, const Inode *ip, bool with_trusted, char *buf, uint32_t size,
	       uint32_t *total)
{
	ListCtx c{with_trusted, buf, size, 0, false};
	int err = xattr_for_each(fs, ip, list_one, &c);
	*total = c.total;
	if (err)
		return err;
	return c.overflow ? -CFS_ERANGE : 0;
}

int xattr_set(Fs *fs, Trans *tr, Inode *ip, const XattrName &name, const void *value,
	      uint32_t value_len, unsigned flags)
{
	int err = check_name(name);
	if (err)
		return err;
	if (value && is_acl_ns(name.ns) &&
	    !xattr_acl_value_ok(static_cast<const uint8_t *>(value), value_len))
		return -CFS_EINVAL;
	if (value && value_len > xattr_value_max(fs, name.len))
		return -CFS_ENOSPC;  // as ext4 without ea_inode: it can never fit

	Buf *b;
	err = read_block(fs, ip, &b);
	if (err)
		return err;
	BufRef hold(fs, b);
	bool found = false;
	Entry old{};
	uint32_t insert_pos = CFS_XATTR_ENTRIES_OFFSET;
	uint32_t used = 0;
	if (b) {
		find_entry(b, name, &found, &old, &insert_pos);
		used = algo::load32(&xblock(b)->xb_used);
	}
	if (found && (flags & kXattrCreate))
		return -CFS_EEXIST;
	if (!found && ((flags & kXattrReplace) || !value))
		return -CFS_ENODATA;
	const uint32_t new_size = value ? CFS_XATTR_ENTRY_SIZE(name.len, value_len) : 0;
	const uint32_t new_used = used - (found ? old.size : 0) + new_size;
	if (new_used > CFS_XATTR_AREA(fs->bsize))
		return -CFS_ENOSPC;

	// Everything that can fail comes first: the group of a block to free, the
	// transaction slots and the allocation.
	if (new_used == 0 && b && !rgrp_check_wanted(fs, buf_blkno(b)))
		return -CFS_EAGAIN;
	err = inode_dirty(tr, ip);
	if (err)
		return err;
	cfs_dinode *d = algo::dinode_of(ip->bh);
	if (new_used == 0) {
		// The last entry goes: so does the block.
		const uint64_t blk = buf_blkno(b);
		cfs_env_buf_invalidate(fs->host, b);
		err = rgrp_free(fs, tr, blk, 1);
		if (!err)
			err = trans_add_revoke(tr, blk);
		if (err)
			return err;
		algo::store64(&d->di_eattr, 0);
		inode_sub_blocks(ip, 1);
		inode_touch(fs, ip, false);
		return 0;
	}
	Buf *nb = b;
	if (!b) {
		uint64_t blk;
		uint32_t got;
		err = rgrp_alloc(fs, tr, ip->ino + 1, 1, CFS_BLKST_USED, &blk, &got, nullptr);
		if (err)
			return err;
		err = meta_new(fs, blk, CFS_BT_EA, ip->ino, &nb);
		if (!err) {
			err = trans_add_buf(tr, nb);
			if (err)
				meta_release(fs, nb);
		}
		if (err) {
			(void)rgrp_free(fs, tr, blk, 1);
			return err;
		}
		algo::store64(&d->di_eattr, blk);
		algo::store64(&d->di_goal_meta, blk);
		inode_add_blocks(ip, 1);
	} else {
		err = trans_add_buf(tr, b);
		if (err)
			return err;
	}
	BufRef new_hold(fs, nb == b ? nullptr : nb);

	uint8_t *base = xbytes(nb);
	uint32_t end = CFS_XATTR_ENTRIES_OFFSET + used;
	if (found) {
		// Close the gap of the old entry; the insertion point is where it was.
		algo::mem_move(base + old.pos, base + old.pos + old.size, end - old.pos - old.size);
		end -= old.size;
		algo::mem_zero(base + end, old.size);
		insert_pos = old.pos;
	}
	if (value) {
		algo::mem_move(base + insert_pos + new_size, base + insert_pos, end - insert_pos);
		uint8_t *p = base + insert_pos;
		algo::mem_zero(p, new_size);
		auto *xe = reinterpret_cast<cfs_xattr_entry *>(p);
		xe->xe_namespace = name.ns;
		xe->xe_name_len = uint8_t(name.len);
		algo::store16(&xe->xe_value_len, uint16_t(value_len));
		algo::mem_copy(p + CFS_XATTR_ENTRY_HEADER_SIZE, name.name, name.len);
		if (value_len)
			algo::mem_copy(p + CFS_XATTR_ENTRY_HEADER_SIZE + name.len, value, value_len);
	}
	cfs_xattr_block *xb = xblock(nb);
	uint32_t entries = algo::load32(&xb->xb_entries);
	entries = entries - (found ? 1 : 0) + (value ? 1 : 0);
	algo::store32(&xb->xb_entries, entries);
	algo::store32(&xb->xb_used, new_used);
	inode_touch(fs, ip, false);
	return 0;
}

int xattr_free_block(Fs *fs, Trans *tr, Inode *ip)
{
	const uint64_t blk = inode_xattr_block(ip);
	if (!blk)
		return 0;
	if (!rgrp_may_change(fs, blk))
		return -CFS_EDEADLK;  // before any change (the caller checks first: inode_free)
	int err = inode_dirty(tr, ip);
	if (err)
		return err;
	// A cached copy must not outlive the block (it may come back as file data).
	Buf *b = nullptr;
	if (meta_read(fs, blk, CFS_BT_EA, ip->ino, &b) == 0) {
		cfs_env_buf_invalidate(fs->host, b);
		meta_release(fs, b);
	}
	err = rgrp_free(fs, tr, blk, 1);
	if (!err)
		err = trans_add_revoke(tr, blk);
	if (err)
		return err;
	algo::store64(&algo::dinode_of(ip->bh)->di_eattr, 0);
	inode_sub_blocks(ip, 1);
	return 0;
}

}  // namespace cfs
