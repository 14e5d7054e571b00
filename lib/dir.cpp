// Directories: see dir.h. Linear entries live in the dinode's inline area; hashed
// directories keep a table of 2^depth leaf pointers (inline, or in jdata blocks through
// the pointer tree) and leaves of entries.
#include "dir.h"

#include "algo_util.h"
#include "bmap.h"
#include "rgrp.h"
#include "siphash.h"
#include "trans.h"

namespace cfs {

namespace {

// Deepest table we grow to. CFS_MAX_DEPTH allows 2^24 slots, but doubling rewrites the
// whole table in one transaction; 2^17 slots (1 MiB of table, ~13 million entries of
// average length before chains form) keeps that transaction a few hundred blocks.
constexpr unsigned kMaxGrowDepth = 17 < CFS_MAX_DEPTH ? 17 : CFS_MAX_DEPTH;
static_assert(kMaxGrowDepth <= CFS_MAX_DEPTH);

// An area of chained entries: the inline area or a leaf's body.
struct Area {
	uint8_t *base;
	uint32_t len;
};

cfs_dirent *dent_at(const Area &a, uint32_t off)
{
	return reinterpret_cast<cfs_dirent *>(a.base + off);
}

const char *dent_name(const cfs_dirent *de)
{
	return reinterpret_cast<const char *>(de) + CFS_DIRENT_HEADER_SIZE;
}

Area inline_area(Fs *fs, const Inode *dir)
{
	return Area{static_cast<uint8_t *>(buf_data(dir->bh)) + CFS_DINODE_SIZE, fs->inline_size};
}

Area leaf_area(Fs *fs, Buf *leaf)
{
	return Area{static_cast<uint8_t *>(buf_data(leaf)) + CFS_LEAF_ENTRIES_OFFSET,
		    fs->bsize - CFS_LEAF_ENTRIES_OFFSET};
}

cfs_leaf *leaf_hdr(Buf *leaf) { return static_cast<cfs_leaf *>(buf_data(leaf)); }
cfs_dinode *dinode(const Inode *ip) { return algo::dinode_of(ip->bh); }

unsigned dir_depth(const Inode *dir) { return algo::load16(&dinode(dir)->di_depth); }
bool is_hashed(const Inode *dir) { return (inode_flags(dir) & CFS_DIF_EXHASH) != 0; }

uint64_t slot_of(uint32_t hash, unsigned depth)
{
	return depth == 0 ? 0 : hash >> (32 - depth);
}

// Walks an area's records, checking each record's bounds (the verifier checked the
// block when it was read, but an area we changed must never send us out of bounds).
// fn(off, prev_off, de) returns nonzero to stop; that value is returned. prev_off is
// ~0u for the first record.
template <typename Fn>
int area_walk(Fs *fs, uint64_t blkno, const Area &a, Fn fn)
{
	uint32_t off = 0, prev = ~0u;
	while (off < a.len) {
		cfs_dirent *de = dent_at(a, off);
		uint32_t rec = algo::load16(&de->de_rec_len);
		if (a.len - off < CFS_DIRENT_HEADER_SIZE || rec < CFS_DIRENT_HEADER_SIZE ||
		    rec % CFS_DIRENT_ALIGN || rec > a.len - off ||
		    (de->de_inum && CFS_DIRENT_SIZE(de->de_name_len) > rec))
			return algo::corrupt(fs, blkno, "directory entry record out of bounds");
		int r = fn(off, prev, de);
		if (r)
			return r;
		prev = off;
		off += rec;
	}
	return 0;
}

constexpr int kFound = 1;

// Finds `name` in an area: *off and *prev of its record.
int area_find(Fs *fs, uint64_t blkno, const Area &a, uint32_t hash, const char *name,
	      uint32_t len, uint32_t *off, uint32_t *prev)
{
	int r = area_walk(fs, blkno, a, [&](uint32_t o, uint32_t p, cfs_dirent *de) {
		if (de->de_inum && algo::load32(&de->de_hash) == hash && de->de_name_len == len &&
		    algo::mem_equal(dent_name(de), name, len)) {
			*off = o;
			*prev = p;
			return kFound;
		}
		return 0;
	});
	if (r == kFound)
		return 0;
	return r ? r : -CFS_ENOENT;
}

void dent_fill(cfs_dirent *de, uint32_t rec_len, uint32_t hash, const char *name, uint32_t len,
	       const DirEntry *e)
{
	algo::store64(&de->de_inum, e->ino);
	algo::store64(&de->de_generation, e->generation);
	algo::store32(&de->de_hash, hash);
	algo::store16(&de->de_rec_len, uint16_t(rec_len));
	de->de_name_len = uint8_t(len);
	de->de_type = e->type;
	char *dst = reinterpret_cast<char *>(de) + CFS_DIRENT_HEADER_SIZE;
	algo::mem_copy(dst, name, len);
	algo::mem_zero(dst + len, CFS_DIRENT_SIZE(len) - CFS_DIRENT_HEADER_SIZE - len);
}

// Places a new record in the first record with enough slack. Returns false if full.
bool area_insert(Fs *fs, uint64_t blkno, const Area &a, uint32_t hash, const char *name,
		 uint32_t len, const DirEntry *e)
{
	uint32_t need = CFS_DIRENT_SIZE(len);
	int r = area_walk(fs, blkno, a, [&](uint32_t off, uint32_t, cfs_dirent *de) {
		uint32_t rec = algo::load16(&de->de_rec_len);
		if (!de->de_inum) {
			if (rec < need)
				return 0;
			dent_fill(de, rec, hash, name, len, e);
			return kFound;
		}
		uint32_t used = CFS_DIRENT_SIZE(de->de_name_len);
		if (rec - used < need)
			return 0;
		algo::store16(&de->de_rec_len, uint16_t(used));
		dent_fill(dent_at(a, off + used), rec - used, hash, name, len, e);
		return kFound;
	});
	return r == kFound;
}

// Removes the record at `off` (prev as returned by area_find): merged into the previous
// record, or marked free when it is the first.
void area_remove(const Area &a, uint32_t off, uint32_t prev)
{
	cfs_dirent *de = dent_at(a, off);
	uint32_t rec = algo::load16(&de->de_rec_len);
	if (prev == ~0u) {
		algo::store64(&de->de_inum, 0);
		algo::store64(&de->de_generation, 0);
		algo::store32(&de->de_hash, 0);
		de->de_name_len = 0;
		de->de_type = 0;
		algo::mem_zero(a.base + off + CFS_DIRENT_HEADER_SIZE, rec - CFS_DIRENT_HEADER_SIZE);
		return;
	}
	cfs_dirent *p = dent_at(a, prev);
	algo::store16(&p->de_rec_len, uint16_t(algo::load16(&p->de_rec_len) + rec));
	algo::mem_zero(de, rec);
}

void area_init_empty(const Area &a)
{
	algo::mem_zero(a.base, a.len);
	algo::store16(&dent_at(a, 0)->de_rec_len, uint16_t(a.len));
}

bool valid_name(const char *name, uint32_t len)
{
	if (len == 0)
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == '\0')
			return false;
	return true;
}

// ---- the hash table ------------------------------------------------------------------

// Slot access for a hashed directory's table, inline or in jdata blocks. Keeps the
// last two table blocks it touched referenced (doubling reads one and writes another).
struct Table {
	Fs *fs;
	Inode *dir;
	Trans *tr;  // nullptr: read-only
	Buf *bh[2] = {nullptr, nullptr};
	uint64_t lblock[2] = {~uint64_t(0), ~uint64_t(0)};
	bool dirty[2] = {false, false};
	unsigned next_victim = 0;

	~Table() { release(); }
	void release()
	{
		for (unsigned i = 0; i < 2; i++) {
			if (bh[i])
				meta_release(fs, bh[i]);
			bh[i] = nullptr;
			lblock[i] = ~uint64_t(0);
			dirty[i] = false;
		}
	}

	// Locates slot `slot`: a pointer to its 8 bytes, the block added to tr if `write`.
	int locate(uint64_t slot, bool write, cfs_le64 **out)
	{
		if (inode_height(dir) == 0) {
			if ((slot + 1) * 8 > fs->inline_size)
				return algo::corrupt(fs, dir->ino, "hash table slot outside the inline area");
			if (write) {
				int err = trans_add_buf(tr, dir->bh);
				if (err)
					return err;
			}
			*out = reinterpret_cast<cfs_le64 *>(static_cast<uint8_t *>(buf_data(dir->bh)) +
							   CFS_DINODE_SIZE) + slot;
			return 0;
		}
		uint64_t byte = slot * 8;
		uint64_t lb = byte / fs->jd_payload;
		uint32_t in_block = uint32_t(byte % fs->jd_payload);
		unsigned k = lblock[0] == lb ? 0 : lblock[1] == lb ? 1 : 2;
		if (k == 2) {
			k = next_victim;
			next_victim ^= 1;
			if (bh[k])
				meta_release(fs, bh[k]);
			bh[k] = nullptr;
			lblock[k] = ~uint64_t(0);
			dirty[k] = false;
			BmapExtent ext;
			int err = bmap_lookup(fs, dir, lb, 1, &ext);
			if (err)
				return err;
			if (!ext.disk_block)
				return algo::corrupt(fs, dir->ino, "hole in a directory hash table");
			err = meta_read(fs, ext.disk_block, CFS_BT_JD, dir->ino, &bh[k]);
			if (err)
				return err;
			lblock[k] = lb;
		}
		if (write && !dirty[k]) {
			int err = trans_add_buf(tr, bh[k]);
			if (err)
				return err;
			dirty[k] = true;
		}
		*out = reinterpret_cast<cfs_le64 *>(static_cast<uint8_t *>(buf_data(bh[k])) +
						   CFS_META_HEADER_SIZE + in_block);
		return 0;
	}

	int get(uint64_t slot, uint64_t *leaf)
	{
		cfs_le64 *p;
		int err = locate(slot, false, &p);
		if (!err)
			*leaf = algo::load64(p);
		return err;
	}

	int set(uint64_t slot, uint64_t leaf)
	{
		cfs_le64 *p;
		int err = locate(slot, true, &p);
		if (!err)
			algo::store64(p, leaf);
		return err;
	}
};

int read_leaf(Fs *fs, const Inode *dir, uint64_t blkno, Buf **out)
{
	if (blkno == 0)
		return algo::corrupt(fs, dir->ino, "directory hash table slot is empty");
	return meta_read(fs, blkno, CFS_BT_LF, dir->ino, out);
}

int new_leaf(Fs *fs, Trans *tr, Inode *dir, uint64_t goal, unsigned depth, Buf **out)
{
	uint64_t blk;
	uint32_t got;
	int err = rgrp_alloc(fs, tr, goal, 1, CFS_BLKST_USED, &blk, &got, nullptr);
	if (err)
		return err;
	Buf *bh;
	err = meta_new(fs, blk, CFS_BT_LF, dir->ino, &bh);
	if (!err) {
		err = trans_add_buf(tr, bh);
		if (err)
			meta_release(fs, bh);
	}
	if (err) {
		(void)rgrp_free(fs, tr, blk, 1);
		return err;
	}
	algo::store16(&leaf_hdr(bh)->lf_depth, uint16_t(depth));
	area_init_empty(leaf_area(fs, bh));
	inode_add_blocks(dir, 1);
	*out = bh;
	return 0;
}

// The leaf chain of one slot, each leaf referenced.
struct Chain {
	explicit Chain(Fs *f) : fs(f) {}
	Chain(const Chain &) = delete;
	Chain &operator=(const Chain &) = delete;
	~Chain()
	{
		for (unsigned i = 0; i < n; i++)
			meta_release(fs, bh[i]);
		algo::mem_free(fs, bh);
	}
	int push(Buf *b)
	{
		if (n == cap) {
			unsigned ncap = cap ? cap * 2 : 4;
			auto *nb = static_cast<Buf **>(algo::mem_alloc(fs, sizeof(Buf *) * ncap));
			if (!nb)
				return -CFS_ENOMEM;
			for (unsigned i = 0; i < n; i++)
				nb[i] = bh[i];
			algo::mem_free(fs, bh);
			bh = nb;
			cap = ncap;
		}
		bh[n++] = b;
		return 0;
	}
	Fs *fs;
	Buf **bh = nullptr;
	unsigned n = 0, cap = 0;
};

// A chain can only be as long as the leaves needed for every entry of a directory
// sharing one slot; far more means a loop.
constexpr unsigned kMaxChain = 1u << 16;

// Reads the chain starting at `first`.
int read_chain(Fs *fs, const Inode *dir, uint64_t first, Chain *c)
{
	uint64_t blk = first;
	while (blk) {
		if (c->n == kMaxChain)
			return algo::corrupt(fs, first, "directory leaf chain too long (or a loop)");
		Buf *b;
		int err = read_leaf(fs, dir, blk, &b);
		if (!err) {
			err = c->push(b);
			if (err)
				meta_release(fs, b);
		}
		if (err)
			return err;
		blk = algo::load64(&leaf_hdr(b)->lf_next);
	}
	return 0;
}

// Entries of an area collected for sorting.
struct KeyedEntry {
	uint64_t key;
	const cfs_dirent *de;
};

void sort_entries(KeyedEntry *v, uint32_t n)
{
	algo::heap_sort(v, n, [](const KeyedEntry &a, const KeyedEntry &b) { return a.key < b.key; });
}

uint64_t key_of(const Fs *fs, const cfs_dirent *de)
{
	return dir_name_key(fs, dent_name(de), de->de_name_len);
}

}  // namespace

uint64_t dir_name_key(const Fs *fs, const char *name, uint32_t len)
{
	uint64_t h = siphash24(fs->sb.sb_hash_key, name, len);
	uint64_t low = uint32_t(h);  // de_hash
	return (low << 30) | (h >> 34);
}

uint8_t dir_type_of_mode(uint32_t mode)
{
	switch (mode & kModeTypeMask) {
	case kModeReg: return CFS_DT_REG;
	case kModeDir: return CFS_DT_DIR;
	case kModeLnk: return CFS_DT_LNK;
	case kModeChr: return CFS_DT_CHR;
	case kModeBlk: return CFS_DT_BLK;
	case kModeFifo: return CFS_DT_FIFO;
	case kModeSock: return CFS_DT_SOCK;
	default: return CFS_DT_UNKNOWN;
	}
}

void dir_init_linear(Fs *fs, Inode *dir, uint64_t self_generation, uint64_t parent,
		     uint64_t parent_generation)
{
	Area a = inline_area(fs, dir);
	algo::mem_zero(a.base, a.len);
	DirEntry dot{dir->ino, self_generation, CFS_DT_DIR};
	DirEntry dotdot{parent, parent_generation, CFS_DT_DIR};
	uint32_t first = CFS_DIRENT_SIZE(1);
	dent_fill(dent_at(a, 0), first, dir_hash(fs->sb.sb_hash_key, ".", 1), ".", 1, &dot);
	dent_fill(dent_at(a, first), a.len - first, dir_hash(fs->sb.sb_hash_key, "..", 2), "..", 2,
		  &dotdot);
	cfs_dinode *d = dinode(dir);
	algo::store64(&d->di_entries, 2);
	algo::store64(&d->di_size, fs->inline_size);
	algo::store64(&d->di_parent, parent);
	algo::store16(&d->di_depth, 0);
	algo::store16(&d->di_height, 0);
}

namespace {

// Finds `name` in a hashed directory: the chain (referenced) and the record's place.
struct HashedHit {
	unsigned leaf;  // index in the chain
	uint32_t off, prev;
};

int hashed_find(Fs *fs, const Inode *dir, uint32_t hash, const char *name, uint32_t len,
		Chain *c, uint64_t *slot_out, HashedHit *hit)
{
	Table t{fs, const_cast<Inode *>(dir), nullptr};
	uint64_t slot = slot_of(hash, dir_depth(dir));
	uint64_t first;
	int err = t.get(slot, &first);
	if (!err)
		err = read_chain(fs, dir, first, c);
	if (err)
		return err;
	if (slot_out)
		*slot_out = slot;
	for (unsigned i = 0; i < c->n; i++) {
		err = area_find(fs, buf_blkno(c->bh[i]), leaf_area(fs, c->bh[i]), hash, name, len,
				&hit->off, &hit->prev);
		if (err == 0) {
			hit->leaf = i;
			return 0;
		}
		if (err != -CFS_ENOENT)
			return err;
	}
	return -CFS_ENOENT;
}

}  // namespace

int dir_lookup(Fs *fs, const Inode *dir, const char *name, uint32_t len, DirEntry *out)
{
	if (!inode_is_dir(dir))
		return -CFS_ENOTDIR;
	if (len == 0 || len > CFS_NAME_MAX)
		return len ? -CFS_ENAMETOOLONG : -CFS_ENOENT;
	uint32_t hash = dir_hash(fs->sb.sb_hash_key, name, len);
	const cfs_dirent *de;
	Chain c(fs);
	if (!is_hashed(dir)) {
		Area a = inline_area(fs, dir);
		uint32_t off, prev;
		int err = area_find(fs, dir->ino, a, hash, name, len, &off, &prev);
		if (err)
			return err;
		de = dent_at(a, off);
	} else {
		HashedHit hit;
		int err = hashed_find(fs, dir, hash, name, len, &c, nullptr, &hit);
		if (err)
			return err;
		de = dent_at(leaf_area(fs, c.bh[hit.leaf]), hit.off);
	}
	out->ino = algo::load64(&de->de_inum);
	out->generation = algo::load64(&de->de_generation);
	out->type = de->de_type;
	return 0;
}

namespace {

// Moves a full linear directory's entries into one leaf and makes the inline area a
// hash table pointing at it.
int convert_to_hashed(Fs *fs, Trans *tr, Inode *dir)
{
	Buf *leaf;
	int err = new_leaf(fs, tr, dir, dir->ino + 1, 0, &leaf);
	if (err)
		return err;
	Area from = inline_area(fs, dir);
	Area to = leaf_area(fs, leaf);
	uint32_t count = 0;
	err = area_walk(fs, dir->ino, from, [&](uint32_t, uint32_t, cfs_dirent *de) {
		if (!de->de_inum)
			return 0;
		DirEntry e{algo::load64(&de->de_inum), algo::load64(&de->de_generation), de->de_type};
		if (!area_insert(fs, buf_blkno(leaf), to, algo::load32(&de->de_hash), dent_name(de),
				 de->de_name_len, &e))
			return algo::corrupt(fs, dir->ino, "linear directory does not fit a leaf");
		count++;
		return 0;
	});
	if (err) {
		meta_release(fs, leaf);
		return err;
	}
	algo::store32(&leaf_hdr(leaf)->lf_entries, count);
	// The smallest table the format allows has depth 1: both slots name the one leaf
	// (local depth 0), so the first split needs no doubling.
	algo::mem_zero(from.base, from.len);
	cfs_le64 *table = reinterpret_cast<cfs_le64 *>(from.base);
	algo::store64(&table[0], buf_blkno(leaf));
	algo::store64(&table[1], buf_blkno(leaf));
	meta_release(fs, leaf);
	cfs_dinode *d = dinode(dir);
	algo::store32(&d->di_flags, algo::load32(&d->di_flags) | CFS_DIF_EXHASH);
	algo::store16(&d->di_depth, 1);
	algo::store64(&d->di_size, 16);
	return 0;
}

// Splits the leaf of `slot` (local depth below the table's): a new leaf takes the upper
// half of its slots and the entries whose next hash bit is 1.
int split_leaf(Fs *fs, Trans *tr, Inode *dir, uint64_t slot, Buf *old)
{
	unsigned depth = dir_depth(dir);
	unsigned ld = algo::load16(&leaf_hdr(old)->lf_depth);
	uint64_t span = uint64_t(1) << (depth - ld);
	uint64_t start = slot & ~(span - 1);
	uint64_t half = span / 2;

	Buf *nb;
	int err = trans_add_buf(tr, old);
	if (!err)
		err = new_leaf(fs, tr, dir, buf_blkno(old) + 1, ld + 1, &nb);
	if (err)
		return err;
	// Rebuild the old leaf from a copy of its entries.
	uint32_t area_len = fs->bsize - CFS_LEAF_ENTRIES_OFFSET;
	uint8_t *copy = static_cast<uint8_t *>(algo::mem_alloc(fs, area_len));
	if (!copy) {
		meta_release(fs, nb);
		return -CFS_ENOMEM;
	}
	Area oa = leaf_area(fs, old), na = leaf_area(fs, nb);
	Area ca{copy, area_len};
	algo::mem_copy(copy, oa.base, area_len);
	area_init_empty(oa);
	uint32_t kept = 0, moved = 0;
	unsigned bit = 31 - ld;  // the hash bit that picks the half
	err = area_walk(fs, buf_blkno(old), ca, [&](uint32_t, uint32_t, cfs_dirent *de) {
		if (!de->de_inum)
			return 0;
		uint32_t h = algo::load32(&de->de_hash);
		DirEntry e{algo::load64(&de->de_inum), algo::load64(&de->de_generation), de->de_type};
		bool upper = (h >> bit) & 1;
		Buf *to = upper ? nb : old;
		if (!area_insert(fs, buf_blkno(to), upper ? na : oa, h, dent_name(de),
				 de->de_name_len, &e))
			return algo::corrupt(fs, buf_blkno(old), "leaf split overflow");
		(upper ? moved : kept)++;
		return 0;
	});
	algo::mem_free(fs, copy);
	if (!err) {
		algo::store16(&leaf_hdr(old)->lf_depth, uint16_t(ld + 1));
		algo::store32(&leaf_hdr(old)->lf_entries, kept);
		algo::store32(&leaf_hdr(nb)->lf_entries, moved);
		Table t{fs, dir, tr};
		for (uint64_t s = start + half; !err && s < start + span; s++)
			err = t.set(s, buf_blkno(nb));
	}
	meta_release(fs, nb);
	return err;
}

// Doubles the hash table: slot j of the new table is slot j/2 of the old one. Moves the
// table out of the inline area into jdata blocks when it no longer fits.
int double_table(Fs *fs, Trans *tr, Inode *dir)
{
	unsigned depth = dir_depth(dir);
	uint64_t old_slots = uint64_t(1) << depth, new_slots = old_slots * 2;
	uint64_t new_bytes = new_slots * 8;
	int err = trans_add_buf(tr, dir->bh);
	if (err)
		return err;
	cfs_dinode *d = dinode(dir);
	if (inode_height(dir) == 0 && new_bytes <= fs->inline_size) {
		cfs_le64 *tab = reinterpret_cast<cfs_le64 *>(static_cast<uint8_t *>(buf_data(dir->bh)) +
							     CFS_DINODE_SIZE);
		for (uint64_t j = new_slots; j-- > 0;)
			tab[j] = tab[j / 2];
		algo::store16(&d->di_depth, uint16_t(depth + 1));
		algo::store64(&d->di_size, new_bytes);
		return 0;
	}
	uint64_t new_blocks = (new_bytes + fs->jd_payload - 1) / fs->jd_payload;
	uint64_t *saved = nullptr;
	uint64_t old_blocks = 0;
	if (inode_height(dir) == 0) {
		// Leave the inline area: keep the old table in memory, empty the dinode.
		saved = static_cast<uint64_t *>(algo::mem_alloc(fs, old_slots * 8));
		if (!saved)
			return -CFS_ENOMEM;
		cfs_le64 *tab = reinterpret_cast<cfs_le64 *>(static_cast<uint8_t *>(buf_data(dir->bh)) +
							     CFS_DINODE_SIZE);
		for (uint64_t i = 0; i < old_slots; i++)
			saved[i] = algo::load64(&tab[i]);
		algo::mem_zero(tab, fs->inline_size);
		algo::store64(&d->di_size, 0);
		algo::store32(&d->di_flags, algo::load32(&d->di_flags) | CFS_DIF_JDATA);
	} else {
		old_blocks = (old_slots * 8 + fs->jd_payload - 1) / fs->jd_payload;
	}
	// New jdata blocks for the grown part of the table.
	for (uint64_t lb = old_blocks; !err && lb < new_blocks; lb++) {
		BmapExtent ext;
		err = bmap_alloc(fs, tr, dir, lb, 1, 0, &ext);
		if (err)
			break;
		Buf *bh;
		err = meta_new(fs, ext.disk_block, CFS_BT_JD, dir->ino, &bh);
		if (err)
			break;
		err = trans_add_buf(tr, bh);
		meta_release(fs, bh);
	}
	if (!err) {
		algo::store16(&d->di_depth, uint16_t(depth + 1));
		algo::store64(&d->di_size, new_bytes);
		Table t{fs, dir, tr};
		for (uint64_t j = new_slots; !err && j-- > 0;) {
			uint64_t v;
			if (saved) {
				v = saved[j / 2];
			} else {
				// Old slot j/2 is still intact: every slot below j is unwritten.
				cfs_le64 *p;
				err = t.locate(j / 2, false, &p);
				if (err)
					break;
				v = algo::load64(p);
			}
			err = t.set(j, v);
		}
	}
	algo::mem_free(fs, saved);
	return err;
}

int hashed_add(Fs *fs, Trans *tr, Inode *dir, uint32_t hash, const char *name, uint32_t len,
	       const DirEntry *e)
{
	bool doubled = false;
	for (unsigned round = 0; round < 2 * CFS_MAX_DEPTH + 2; round++) {
		Chain c(fs);
		uint64_t slot;
		HashedHit hit;
		int err = hashed_find(fs, dir, hash, name, len, &c, &slot, &hit);
		if (err == 0)
			return -CFS_EEXIST;
		if (err != -CFS_ENOENT)
			return err;
		for (unsigned i = 0; i < c.n; i++) {
			Area a = leaf_area(fs, c.bh[i]);
			// Try without dirtying first: trans_add_buf only for the leaf that takes it.
			uint32_t need = CFS_DIRENT_SIZE(len);
			bool fits = false;
			(void)area_walk(fs, buf_blkno(c.bh[i]), a, [&](uint32_t, uint32_t, cfs_dirent *de) {
				uint32_t rec = algo::load16(&de->de_rec_len);
				uint32_t used = de->de_inum ? CFS_DIRENT_SIZE(de->de_name_len) : 0;
				if (rec - used >= need) {
					fits = true;
					return kFound;
				}
				return 0;
			});
			if (!fits)
				continue;
			err = trans_add_buf(tr, c.bh[i]);
			if (err)
				return err;
			if (!area_insert(fs, buf_blkno(c.bh[i]), a, hash, name, len, e))
				return algo::corrupt(fs, buf_blkno(c.bh[i]), "directory leaf space changed");
			cfs_leaf *lh = leaf_hdr(c.bh[i]);
			algo::store32(&lh->lf_entries, algo::load32(&lh->lf_entries) + 1);
			return 0;
		}
		unsigned depth = dir_depth(dir);
		unsigned ld = algo::load16(&leaf_hdr(c.bh[0])->lf_depth);
		if (ld > depth)
			return algo::corrupt(fs, buf_blkno(c.bh[0]), "leaf depth above the table depth");
		if (c.n == 1 && ld < depth) {
			err = split_leaf(fs, tr, dir, slot, c.bh[0]);
			if (err)
				return err;
			continue;
		}
		// One doubling per insert bounds the transaction (dir_add_max_bufs).
		if (c.n == 1 && depth < kMaxGrowDepth && !doubled) {
			err = double_table(fs, tr, dir);
			if (err)
				return err;
			doubled = true;
			continue;
		}
		// Chain a new leaf after the last one.
		Buf *last = c.bh[c.n - 1];
		Buf *nb;
		err = trans_add_buf(tr, last);
		if (!err)
			err = new_leaf(fs, tr, dir, buf_blkno(last) + 1, ld, &nb);
		if (err)
			return err;
		algo::store64(&leaf_hdr(last)->lf_next, buf_blkno(nb));
		bool ok = area_insert(fs, buf_blkno(nb), leaf_area(fs, nb), hash, name, len, e);
		algo::store32(&leaf_hdr(nb)->lf_entries, ok ? 1 : 0);
		meta_release(fs, nb);
		return ok ? 0 : algo::corrupt(fs, dir->ino, "entry does not fit an empty leaf");
	}
	return algo::corrupt(fs, dir->ino, "directory insert does not converge");
}

void touch_dir(Fs *fs, Inode *dir)
{
	cfs_timespec now;
	fs_now(fs, &now);
	inode_set_time(dir, InodeTime::mtime, now);
	inode_set_time(dir, InodeTime::ctime, now);
}

}  // namespace

int dir_add(Fs *fs, Trans *tr, Inode *dir, const char *name, uint32_t len, const DirEntry *e)
{
	if (!inode_is_dir(dir))
		return -CFS_ENOTDIR;
	if (len > CFS_NAME_MAX)
		return -CFS_ENAMETOOLONG;
	if (!valid_name(name, len) || e->ino == 0)
		return -CFS_EINVAL;
	uint32_t hash = dir_hash(fs->sb.sb_hash_key, name, len);
	int err = trans_add_buf(tr, dir->bh);
	if (err)
		return err;
	if (!is_hashed(dir)) {
		Area a = inline_area(fs, dir);
		uint32_t off, prev;
		err = area_find(fs, dir->ino, a, hash, name, len, &off, &prev);
		if (err == 0)
			return -CFS_EEXIST;
		if (err != -CFS_ENOENT)
			return err;
		err = 0;
		if (!area_insert(fs, dir->ino, a, hash, name, len, e)) {
			err = convert_to_hashed(fs, tr, dir);
			if (!err)
				err = hashed_add(fs, tr, dir, hash, name, len, e);
		}
	} else {
		err = hashed_add(fs, tr, dir, hash, name, len, e);
	}
	if (err)
		return err;
	cfs_dinode *d = dinode(dir);
	algo::store64(&d->di_entries, algo::load64(&d->di_entries) + 1);
	touch_dir(fs, dir);
	return 0;
}

namespace {

// Finds `name` and hands its record to fn(area, off, prev, leaf or nullptr).
template <typename Fn>
int with_entry(Fs *fs, const Inode *dir, const char *name, uint32_t len, Fn fn)
{
	if (!inode_is_dir(dir))
		return -CFS_ENOTDIR;
	if (len == 0 || len > CFS_NAME_MAX)
		return len ? -CFS_ENAMETOOLONG : -CFS_ENOENT;
	uint32_t hash = dir_hash(fs->sb.sb_hash_key, name, len);
	if (!is_hashed(dir)) {
		Area a = inline_area(fs, dir);
		uint32_t off, prev;
		int err = area_find(fs, dir->ino, a, hash, name, len, &off, &prev);
		return err ? err : fn(a, off, prev, static_cast<Buf *>(nullptr));
	}
	Chain c(fs);
	HashedHit hit;
	int err = hashed_find(fs, dir, hash, name, len, &c, nullptr, &hit);
	if (err)
		return err;
	Buf *leaf = c.bh[hit.leaf];
	return fn(leaf_area(fs, leaf), hit.off, hit.prev, leaf);
}

void entry_out(const cfs_dirent *de, DirEntry *out)
{
	if (!out)
		return;
	out->ino = algo::load64(&de->de_inum);
	out->generation = algo::load64(&de->de_generation);
	out->type = de->de_type;
}

}  // namespace

int dir_remove(Fs *fs, Trans *tr, Inode *dir, const char *name, uint32_t len, DirEntry *removed)
{
	int err = with_entry(fs, dir, name, len, [&](const Area &a, uint32_t off, uint32_t prev,
						     Buf *leaf) {
		int e = trans_add_buf(tr, dir->bh);
		if (!e && leaf)
			e = trans_add_buf(tr, leaf);
		if (e)
			return e;
		entry_out(dent_at(a, off), removed);
		area_remove(a, off, prev);
		if (leaf) {
			cfs_leaf *lh = leaf_hdr(leaf);
			uint32_t n = algo::load32(&lh->lf_entries);
			algo::store32(&lh->lf_entries, n ? n - 1 : 0);
		}
		return 0;
	});
	if (err)
		return err;
	cfs_dinode *d = dinode(dir);
	uint64_t n = algo::load64(&d->di_entries);
	algo::store64(&d->di_entries, n ? n - 1 : 0);
	touch_dir(fs, dir);
	return 0;
}

int dir_replace(Fs *fs, Trans *tr, Inode *dir, const char *name, uint32_t len,
		const DirEntry *entry, DirEntry *old)
{
	if (entry->ino == 0)
		return -CFS_EINVAL;
	int err = with_entry(fs, dir, name, len, [&](const Area &a, uint32_t off, uint32_t,
						     Buf *leaf) {
		int e = trans_add_buf(tr, dir->bh);
		if (!e && leaf)
			e = trans_add_buf(tr, leaf);
		if (e)
			return e;
		cfs_dirent *de = dent_at(a, off);
		entry_out(de, old);
		algo::store64(&de->de_inum, entry->ino);
		algo::store64(&de->de_generation, entry->generation);
		de->de_type = entry->type;
		return 0;
	});
	if (!err)
		touch_dir(fs, dir);
	return err;
}

int dir_is_empty(Fs *fs, const Inode *dir, bool *empty)
{
	if (!inode_is_dir(dir))
		return -CFS_ENOTDIR;
	*empty = algo::load64(&dinode(dir)->di_entries) <= 2;
	return 0;
}

uint32_t dir_add_max_bufs(Fs *fs, const Inode *dir)
{
	unsigned depth = is_hashed(dir) ? dir_depth(dir) : 0;
	unsigned next = depth < kMaxGrowDepth ? depth + 1 : depth;
	uint64_t table_bytes = uint64_t(8) << (next ? next : 1);
	uint64_t table_blocks = 0, tree = 0;
	if (table_bytes > fs->inline_size) {
		// A doubling rewrites every table block; the tree above them grows too.
		table_blocks = (table_bytes + fs->jd_payload - 1) / fs->jd_payload;
		tree = table_blocks / fs->indirect_ptrs + CFS_MAX_HEIGHT;
	}
	// The dinode; the full leaf, a chain's last leaf and one new leaf per split level
	// (splits stop at the table depth); the table; allocator buffers: allocations of one
	// insert go near each other, so a few rgrps (header + bitmap block each) at most.
	uint64_t leaves = 2 + next;
	// + the statfs file the allocator records count changes in.
	uint64_t n = 1 + leaves + table_blocks + tree + 3 * 2 + 1;
	return n > 0xffffffffu ? 0xffffffffu : uint32_t(n);
}

int dir_add_bufs_for_name(Fs *fs, const Inode *dir, const char *name, uint32_t len,
			  uint32_t *out)
{
	*out = dir_add_max_bufs(fs, dir);
	if (!inode_is_dir(dir) || !is_hashed(dir) || len == 0 || len > CFS_NAME_MAX)
		return 0;
	unsigned depth = dir_depth(dir);
	uint32_t hash = dir_hash(fs->sb.sb_hash_key, name, len);
	Table t{fs, const_cast<Inode *>(dir), nullptr};
	uint64_t first;
	int err = t.get(slot_of(hash, depth), &first);
	Chain c(fs);
	if (!err)
		err = read_chain(fs, dir, first, &c);
	if (err)
		return err;
	const uint32_t need = CFS_DIRENT_SIZE(len);
	const uint32_t allocator = 3 * 2 + 1;  // a few rgrps (header + bitmap) + statfs file
	for (unsigned i = 0; i < c.n; i++) {
		bool fits = false;
		err = area_walk(fs, buf_blkno(c.bh[i]), leaf_area(fs, c.bh[i]),
				[&](uint32_t, uint32_t, cfs_dirent *de) {
			uint32_t rec = algo::load16(&de->de_rec_len);
			uint32_t used = de->de_inum ? CFS_DIRENT_SIZE(de->de_name_len) : 0;
			fits = rec - used >= need;
			return fits ? kFound : 0;
		});
		if (err < 0)
			return err;
		if (fits) {
			*out = 2;  // the dinode and this leaf: no allocation
			return 0;
		}
	}
	unsigned ld = algo::load16(&leaf_hdr(c.bh[0])->lf_depth);
	if (ld > depth)
		return algo::corrupt(fs, first, "leaf depth above the table depth");
	if (c.n > 1 || (ld == depth && depth >= kMaxGrowDepth)) {
		*out = 1 + 2 + allocator;  // chains one more leaf after the last
		return 0;
	}
	if (depth < kMaxGrowDepth)
		return 0;  // a doubling may follow the splits: the general bound
	// Only splits: each one touches the slots of the leaf being split.
	uint64_t span_bytes = (uint64_t(1) << (depth - ld)) * 8;
	uint64_t table = inode_height(dir) ? span_bytes / fs->jd_payload + 2 : 0;
	uint64_t n = 1 + 2 + (depth - ld) + table + allocator;
	if (n < *out)
		*out = uint32_t(n);
	return 0;
}

namespace {

struct Emitter {
	Fs *fs;
	uint64_t *cookie;
	DirEmitFn emit;
	void *ctx;
	KeyedEntry *v = nullptr;
	uint32_t n = 0, cap = 0;

	~Emitter() { algo::mem_free(fs, v); }

	// Adds the entries of an area whose key is at or past the cookie.
	int collect(const Area &a, uint64_t blkno)
	{
		return area_walk(fs, blkno, a, [&](uint32_t, uint32_t, cfs_dirent *de) {
			if (!de->de_inum)
				return 0;
			uint64_t key = key_of(fs, de);
			if (key < *cookie)
				return 0;
			if (n == cap) {
				uint32_t ncap = cap ? cap * 2 : 64;
				auto *nv = static_cast<KeyedEntry *>(algo::mem_alloc(fs, sizeof(KeyedEntry) * ncap));
				if (!nv)
					return -CFS_ENOMEM;
				for (uint32_t i = 0; i < n; i++)
					nv[i] = v[i];
				algo::mem_free(fs, v);
				v = nv;
				cap = ncap;
			}
			v[n++] = KeyedEntry{key, de};
			return 0;
		});
	}

	// Emits what was collected in key order. Returns 1 when the consumer is full.
	int emit_sorted()
	{
		sort_entries(v, n);
		uint32_t count = n;
		n = 0;
		for (uint32_t i = 0; i < count; i++) {
			const cfs_dirent *de = v[i].de;
			DirEntry e;
			entry_out(de, &e);
			if (!emit(ctx, dent_name(de), de->de_name_len, &e, v[i].key + 1)) {
				*cookie = v[i].key;
				return 1;
			}
			*cookie = v[i].key + 1;
		}
		return 0;
	}
};

}  // namespace

int dir_readdir(Fs *fs, const Inode *dir, uint64_t *cookie, DirEmitFn emit, void *ctx)
{
	if (!inode_is_dir(dir))
		return -CFS_ENOTDIR;
	if (*cookie >= kDirCookieEnd)
		return 0;
	Emitter em{fs, cookie, emit, ctx};
	if (!is_hashed(dir)) {
		int r = em.collect(inline_area(fs, dir), dir->ino);
		if (r == 0)
			r = em.emit_sorted();
		if (r < 0)
			return r;
		if (r == 0)
			*cookie = kDirCookieEnd;
		return 0;
	}
	unsigned depth = dir_depth(dir);
	uint64_t slots = uint64_t(1) << depth;
	Table t{fs, const_cast<Inode *>(dir), nullptr};
	uint64_t slot = slot_of(uint32_t(*cookie >> 30), depth);
	while (slot < slots) {
		uint64_t first;
		int err = t.get(slot, &first);
		if (err)
			return err;
		Chain c(fs);
		err = read_chain(fs, dir, first, &c);
		if (err)
			return err;
		unsigned ld = algo::load16(&leaf_hdr(c.bh[0])->lf_depth);
		if (ld > depth)
			return algo::corrupt(fs, first, "leaf depth above the table depth");
		for (unsigned i = 0; i < c.n; i++) {
			err = em.collect(leaf_area(fs, c.bh[i]), buf_blkno(c.bh[i]));
			if (err)
				return err;
		}
		int r = em.emit_sorted();
		if (r < 0)
			return r;
		if (r > 0)
			return 0;
		uint64_t span = uint64_t(1) << (depth - ld);
		slot = (slot & ~(span - 1)) + span;
		// Entries of later leaves all have larger keys: resume at the next leaf's range.
		uint64_t next_key = slot < slots ? (slot << (32 - depth)) << 30 : kDirCookieEnd;
		if (*cookie < next_key)
			*cookie = next_key;
	}
	*cookie = kDirCookieEnd;
	return 0;
}

int dir_free_leaves(Fs *fs, Trans *tr, Inode *dir, unsigned budget, bool *done)
{
	*done = true;
	if (!is_hashed(dir))
		return 0;
	unsigned depth = dir_depth(dir);
	uint64_t slots = uint64_t(1) << depth;
	Table t{fs, dir, tr};
	unsigned spent = 0;
	for (uint64_t slot = 0; slot < slots;) {
		uint64_t first;
		int err = t.get(slot, &first);
		if (err)
			return err;
		if (first == 0) {
			slot++;
			continue;
		}
		if (spent >= budget) {
			*done = false;
			return 0;
		}
		Buf *lb;
		err = read_leaf(fs, dir, first, &lb);
		if (err)
			return err;
		unsigned ld = algo::load16(&leaf_hdr(lb)->lf_depth);
		meta_release(fs, lb);
		if (ld > depth)
			return algo::corrupt(fs, first, "leaf depth above the table depth");
		uint64_t span = uint64_t(1) << (depth - ld);
		uint64_t start = slot & ~(span - 1);
		// The whole chain goes in this step or none of it: every group it touches
		// must be one this transaction may change.
		for (uint64_t blk = first, guard = 0; blk; guard++) {
			if (guard == kMaxChain)
				return algo::corrupt(fs, first, "directory leaf chain too long (or a loop)");
			if (!rgrp_check_wanted(fs, blk)) {
				*done = false;
				return 0;
			}
			err = read_leaf(fs, dir, blk, &lb);
			if (err)
				return err;
			blk = algo::load64(&leaf_hdr(lb)->lf_next);
			meta_release(fs, lb);
		}
		uint64_t blk = first;
		for (unsigned guard = 0; blk; guard++) {
			if (guard == kMaxChain)
				return algo::corrupt(fs, first, "directory leaf chain too long (or a loop)");
			err = read_leaf(fs, dir, blk, &lb);
			if (err)
				return err;
			uint64_t next = algo::load64(&leaf_hdr(lb)->lf_next);
			cfs_env_buf_invalidate(fs->host, lb);
			meta_release(fs, lb);
			err = rgrp_free(fs, tr, blk, 1);
			if (!err)
				err = trans_add_revoke(tr, blk);
			if (err)
				return err;
			inode_sub_blocks(dir, 1);
			spent++;
			blk = next;
		}
		for (uint64_t s = start; s < start + span; s++) {
			err = t.set(s, 0);
			if (err)
				return err;
		}
		slot = start + span;
	}
	return 0;
}

}  // namespace cfs
