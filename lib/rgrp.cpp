// Resource groups: rgrp table, 2-bit bitmaps, allocator.
#include "rgrp.h"

#include "statfs.h"
#include "trans.h"

namespace cfs {

// ---- Pure bitmap helpers ------------------------------------------------------------

unsigned bitmap_get(const uint8_t *bitmap, uint32_t index)
{
	return (bitmap[index / CFS_NBBY] >> ((index % CFS_NBBY) * CFS_BIT_SIZE)) & CFS_BIT_MASK;
}

void bitmap_set(uint8_t *bitmap, uint32_t index, unsigned state)
{
	const unsigned shift = (index % CFS_NBBY) * CFS_BIT_SIZE;
	uint8_t &byte = bitmap[index / CFS_NBBY];
	byte = static_cast<uint8_t>((byte & ~(CFS_BIT_MASK << shift)) | ((state & CFS_BIT_MASK) << shift));
}

namespace {

// 0x55.. pattern times the state: the 64-bit word whose 32 entries all equal `state`.
constexpr uint64_t kLow = 0x5555555555555555ull;

inline uint64_t load_word(const uint8_t *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return from_le64(v);
}

// Whether some 2-bit entry of `w` equals `state`.
inline bool word_has_state(uint64_t w, unsigned state)
{
	uint64_t x = w ^ (kLow * state);  // entries equal to state become 00
	uint64_t nonzero = (x | (x >> 1)) & kLow;
	return nonzero != kLow;
}

// Bits set in x. Not popcount64: without hardware popcnt it calls libgcc's
// __popcountdi2, which the kernel does not export.
inline uint32_t popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return static_cast<uint32_t>((x * 0x0101010101010101ull) >> 56);
}

}  // namespace

uint32_t bitmap_find(const uint8_t *bitmap, uint32_t start, uint32_t end, unsigned state)
{
	uint32_t i = start;
	while (i < end) {
		// Skip whole words (32 entries) when aligned and fully inside the range.
		if (i % 32 == 0 && end - i >= 32) {
			if (!word_has_state(load_word(bitmap + i / CFS_NBBY), state)) {
				i += 32;
				continue;
			}
		}
		if (bitmap_get(bitmap, i) == state)
			return i;
		i++;
	}
	return end;
}

uint32_t bitmap_run(const uint8_t *bitmap, uint32_t start, uint32_t end, unsigned state,
		    uint32_t max)
{
	uint32_t i = start;
	while (i < end && i - start < max) {
		if (i % 32 == 0 && end - i >= 32 && max - (i - start) >= 32 &&
		    load_word(bitmap + i / CFS_NBBY) == kLow * state) {
			i += 32;
			continue;
		}
		if (bitmap_get(bitmap, i) != state)
			break;
		i++;
	}
	return i - start;
}

void bitmap_count(const uint8_t *bitmap, uint32_t nblocks, uint32_t counts[4])
{
	counts[0] = counts[1] = counts[2] = counts[3] = 0;
	uint32_t i = 0;
	for (; i + 32 <= nblocks; i += 32) {
		uint64_t w = load_word(bitmap + i / CFS_NBBY);
		uint64_t lo = w & kLow, hi = (w >> 1) & kLow;
		uint32_t n3 = static_cast<uint32_t>(popcount64(lo & hi));
		uint32_t n1 = static_cast<uint32_t>(popcount64(lo & ~hi));
		uint32_t n2 = static_cast<uint32_t>(popcount64(~lo & hi & kLow));
		counts[1] += n1;
		counts[2] += n2;
		counts[3] += n3;
		counts[0] += 32 - n1 - n2 - n3;
	}
	for (; i < nblocks; i++)
		counts[bitmap_get(bitmap, i)]++;
}

void rgrp_bitmap_locate(uint32_t bsize, uint32_t byte, uint32_t *block_index, uint32_t *offset)
{
	const uint32_t first = bsize - CFS_RG_BITMAP_OFFSET;
	if (byte < first) {
		*block_index = 0;
		*offset = CFS_RG_BITMAP_OFFSET + byte;
		return;
	}
	const uint32_t per = bsize - CFS_RB_BITMAP_OFFSET;
	*block_index = 1 + (byte - first) / per;
	*offset = CFS_RB_BITMAP_OFFSET + (byte - first) % per;
}

uint32_t rgrp_length_for(uint32_t bsize, uint32_t data)
{
	const uint32_t bitbytes = (data + CFS_NBBY - 1) / CFS_NBBY;
	const uint32_t first = bsize - CFS_RG_BITMAP_OFFSET;
	if (bitbytes <= first)
		return 1;
	const uint32_t per = bsize - CFS_RB_BITMAP_OFFSET;
	return 1 + (bitbytes - first + per - 1) / per;
}

// ---- The rgrp table ------------------------------------------------------------------

void rgrp_table_free(Fs *fs)
{
	cfs_env_free(fs->host, fs->rgrps.rgrps);
	fs->rgrps.rgrps = nullptr;
	fs->rgrps.count = 0;
}

int rgrp_table_from_rindex(Fs *fs, const cfs_rindex *entries, uint32_t count)
{
	if (count == 0)
		return -CFS_EUCLEAN;
	auto *rgs = static_cast<Rgrp *>(
		cfs_env_alloc(fs->host, sizeof(Rgrp) * count, CFS_ALLOC_ZERO | CFS_ALLOC_LARGE));
	if (!rgs)
		return -CFS_ENOMEM;
	uint64_t next_free = fs->sb_blkno + 1;
	for (uint32_t i = 0; i < count; i++) {
		const cfs_rindex &ri = entries[i];
		Rgrp &rg = rgs[i];
		rg.addr = from_le64(ri.ri_addr);
		rg.data0 = from_le64(ri.ri_data0);
		rg.length = from_le32(ri.ri_length);
		rg.data = from_le32(ri.ri_data);
		rg.bitbytes = from_le32(ri.ri_bitbytes);
		const char *problem = nullptr;
		if (rg.addr < next_free)
			problem = "overlaps the previous one or the superblock";
		else if (rg.data == 0 || rg.length != rgrp_length_for(fs->bsize, rg.data))
			problem = "has an inconsistent length";
		else if (rg.data0 != rg.addr + rg.length)
			problem = "has an inconsistent first data block";
		else if (rg.bitbytes != (rg.data + CFS_NBBY - 1) / CFS_NBBY)
			problem = "has an inconsistent bitmap size";
		else if (rg.data0 + rg.data > fs->blocks)
			problem = "extends past the end of the filesystem";
		else if (ri.ri_flags)
			problem = "has unknown flags";
		if (problem) {
			cfs_env_log(fs->host, CFS_LOG_ERR, "rindex entry %u (rgrp at block %llu) %s",
				    i, (unsigned long long)rg.addr, problem);
			cfs_env_free(fs->host, rgs);
			return -CFS_EUCLEAN;
		}
		next_free = rg.data0 + rg.data;
	}
	rgrp_table_free(fs);
	fs->rgrps.rgrps = rgs;
	fs->rgrps.count = count;
	fs->rgrp_hint = 0;
	return 0;
}

int rgrp_table_load(Fs *fs)
{
	const uint32_t count = from_le32(fs->sb.sb_rgrps);
	const uint64_t rindex = from_le64(fs->sb.sb_rindex_addr);
	const uint64_t bytes = sizeof(cfs_rindex) * uint64_t(count);
	// Every rgrp has at least one header block and one data block.
	if (count == 0 || count > fs->blocks / 2 || bytes > UINT32_MAX) {
		cfs_env_log(fs->host, CFS_LOG_ERR, "superblock: implausible rgrp count %u", count);
		return -CFS_EUCLEAN;
	}
	auto *entries = static_cast<cfs_rindex *>(cfs_env_alloc(fs->host, bytes, CFS_ALLOC_LARGE));
	if (!entries)
		return -CFS_ENOMEM;
	int err = jdata_read(fs, rindex, 0, entries, static_cast<uint32_t>(bytes));
	if (!err)
		err = rgrp_table_from_rindex(fs, entries, count);
	cfs_env_free(fs->host, entries);
	return err;
}

Rgrp *rgrp_of_block(Fs *fs, uint64_t blkno)
{
	uint32_t lo = 0, hi = fs->rgrps.count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		Rgrp &rg = fs->rgrps.rgrps[mid];
		if (blkno < rg.data0)
			hi = mid;
		else if (blkno >= rg.data0 + rg.data)
			lo = mid + 1;
		else
			return &rg;
	}
	return nullptr;
}

namespace {

void rgrp_sync_from_header(Rgrp *rg, const cfs_rgrp *h)
{
	rg->flags = from_le32(h->rg_flags);
	rg->free = from_le32(h->rg_free);
	rg->dinodes = from_le32(h->rg_dinodes);
}

// The header and bitmap buffers of one resource group, held and verified.
class RgrpBufs {
public:
	RgrpBufs(Fs *fs, Rgrp *rg) : fs_(fs), rg_(rg) {}
	~RgrpBufs()
	{
		if (!bufs_)
			return;
		for (uint32_t i = 0; i < rg_->length; i++)
			meta_release(fs_, bufs_[i]);
		cfs_env_free(fs_->host, bufs_);
	}
	RgrpBufs(const RgrpBufs &) = delete;
	RgrpBufs &operator=(const RgrpBufs &) = delete;

	int read()
	{
		bufs_ = static_cast<Buf **>(cfs_env_alloc(fs_->host, sizeof(Buf *) * rg_->length,
							  CFS_ALLOC_ZERO | CFS_ALLOC_NOFS));
		if (!bufs_)
			return -CFS_ENOMEM;
		for (uint32_t i = 0; i < rg_->length; i++) {
			int err = meta_read(fs_, rg_->addr + i, i ? CFS_BT_RB : CFS_BT_RG, 0, &bufs_[i]);
			if (err)
				return err;
		}
		const auto *h = header();
		if (from_le64(h->rg_data0) != rg_->data0 || from_le32(h->rg_data) != rg_->data ||
		    from_le32(h->rg_length) != rg_->length) {
			cfs_env_log(fs_->host, CFS_LOG_ERR,
				    "rgrp at block %llu: header disagrees with its rindex entry",
				    (unsigned long long)rg_->addr);
			return -CFS_EUCLEAN;
		}
		rgrp_sync_from_header(rg_, h);
		return 0;
	}

	cfs_rgrp *header() { return static_cast<cfs_rgrp *>(buf_data(bufs_[0])); }

	// Bitmap segment k: the bytes in metadata block k, covering blocks [first, end).
	uint32_t segments() const { return rg_->length; }
	void segment(uint32_t k, uint8_t **bytes, uint32_t *first, uint32_t *end)
	{
		const uint32_t head = fs_->bsize - CFS_RG_BITMAP_OFFSET;
		const uint32_t per = fs_->bsize - CFS_RB_BITMAP_OFFSET;
		uint32_t first_byte = k == 0 ? 0 : head + (k - 1) * per;
		uint32_t nbytes = k == 0 ? head : per;
		*bytes = static_cast<uint8_t *>(buf_data(bufs_[k])) +
			 (k == 0 ? CFS_RG_BITMAP_OFFSET : CFS_RB_BITMAP_OFFSET);
		*first = first_byte * CFS_NBBY;
		uint64_t e = uint64_t(first_byte + nbytes) * CFS_NBBY;
		*end = e > rg_->data ? rg_->data : static_cast<uint32_t>(e);
	}
	uint32_t segment_of(uint32_t index) const
	{
		uint32_t blk, off;
		rgrp_bitmap_locate(fs_->bsize, index / CFS_NBBY, &blk, &off);
		return blk;
	}

	unsigned get(uint32_t index)
	{
		uint8_t *bytes;
		uint32_t first, end;
		segment(segment_of(index), &bytes, &first, &end);
		return bitmap_get(bytes, index - first);
	}

	// Next index >= start (< rg data) in `state`, or rg->data.
	uint32_t find(uint32_t start, unsigned state)
	{
		for (uint32_t k = start < rg_->data ? segment_of(start) : segments(); k < segments(); k++) {
			uint8_t *bytes;
			uint32_t first, end;
			segment(k, &bytes, &first, &end);
			if (end <= start)
				continue;
			uint32_t from = start > first ? start - first : 0;
			uint32_t at = bitmap_find(bytes, from, end - first, state);
			if (at < end - first)
				return first + at;
		}
		return rg_->data;
	}

	// Length of the run of `state` from `start`, at most max, crossing segments.
	uint32_t run(uint32_t start, unsigned state, uint32_t max)
	{
		uint32_t len = 0;
		for (uint32_t k = segment_of(start); k < segments() && len < max; k++) {
			uint8_t *bytes;
			uint32_t first, end;
			segment(k, &bytes, &first, &end);
			uint32_t from = start + len - first;
			uint32_t got = bitmap_run(bytes, from, end - first, state, max - len);
			len += got;
			if (from + got < end - first)
				break;
		}
		return len;
	}

	// Adds the buffers covering [index, index+count) and the header to the transaction
	// (or, without one, remembers to write them) before they change.
	int prepare(Trans *tr, uint32_t index, uint32_t count)
	{
		const uint32_t k0 = segment_of(index), k1 = segment_of(index + count - 1);
		if (tr) {
			int err = trans_add_buf(tr, bufs_[0]);
			for (uint32_t k = k0 ? k0 : 1; !err && k <= k1; k++)
				err = trans_add_buf(tr, bufs_[k]);
			return err;
		}
		dirty_first_ = k0;
		dirty_last_ = k1;
		return 0;
	}

	void set_range(uint32_t index, uint32_t count, unsigned state)
	{
		for (uint32_t i = index; i < index + count; i++) {
			uint8_t *bytes;
			uint32_t first, end;
			segment(segment_of(i), &bytes, &first, &end);
			bitmap_set(bytes, i - first, state);
		}
	}

	// Without a transaction: write the changed buffers in place (offline tools).
	int write_direct(Trans *tr)
	{
		if (tr)
			return 0;
		int err = meta_write(fs_, bufs_[0]);
		for (uint32_t k = dirty_first_ ? dirty_first_ : 1; !err && k <= dirty_last_; k++)
			err = meta_write(fs_, bufs_[k]);
		return err;
	}

private:
	Fs *fs_;
	Rgrp *rg_;
	Buf **bufs_ = nullptr;
	uint32_t dirty_first_ = 0, dirty_last_ = 0;
};

void adjust_counts(cfs_rgrp *h, Rgrp *rg, unsigned from, unsigned to, uint32_t count)
{
	auto delta = [&](unsigned state, int64_t sign) {
		switch (state) {
		case CFS_BLKST_FREE:
			h->rg_free = to_le32(uint32_t(from_le32(h->rg_free) + sign * count));
			break;
		case CFS_BLKST_UNLINKED:
			h->rg_unlinked = to_le32(uint32_t(from_le32(h->rg_unlinked) + sign * count));
			h->rg_dinodes = to_le32(uint32_t(from_le32(h->rg_dinodes) + sign * count));
			break;
		case CFS_BLKST_DINODE:
			h->rg_dinodes = to_le32(uint32_t(from_le32(h->rg_dinodes) + sign * count));
			break;
		default:
			break;
		}
	};
	delta(from, -1);
	delta(to, +1);
	rgrp_sync_from_header(rg, h);
}

// Finds a run in one rgrp: the first run of `want` free blocks at or after `start`
// (wrapping once), else the longest free run seen. Returns 0 and sets *index/*len, or
// -CFS_ENOSPC.
int find_run(RgrpBufs &bm, const Rgrp *rg, uint32_t start, uint32_t want, uint32_t *index,
	     uint32_t *len)
{
	uint32_t best = 0, best_len = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t i = pass == 0 ? start : 0;
		uint32_t stop = pass == 0 ? rg->data : (start < rg->data ? start : rg->data);
		while (i < stop) {
			i = bm.find(i, CFS_BLKST_FREE);
			if (i >= stop)
				break;
			uint32_t n = bm.run(i, CFS_BLKST_FREE, want);
			if (n >= want) {
				*index = i;
				*len = want;
				return 0;
			}
			if (n > best_len) {
				best = i;
				best_len = n;
			}
			i += n;
		}
	}
	if (!best_len)
		return -CFS_ENOSPC;
	*index = best;
	*len = best_len;
	return 0;
}

}  // namespace

int rgrp_refresh(Fs *fs, Rgrp *rg)
{
	Buf *b;
	int err = meta_read(fs, rg->addr, CFS_BT_RG, 0, &b);
	if (err)
		return err;
	rgrp_sync_from_header(rg, static_cast<const cfs_rgrp *>(buf_data(b)));
	meta_release(fs, b);
	return 0;
}

int block_state(Fs *fs, uint64_t blkno)
{
	Rgrp *rg = rgrp_of_block(fs, blkno);
	if (!rg)
		return -CFS_ERANGE;
	const uint32_t index = static_cast<uint32_t>(blkno - rg->data0);
	uint32_t blk, off;
	rgrp_bitmap_locate(fs->bsize, index / CFS_NBBY, &blk, &off);
	Buf *b;
	int err = meta_read(fs, rg->addr + blk, blk ? CFS_BT_RB : CFS_BT_RG, 0, &b);
	if (err)
		return err;
	const uint8_t byte = static_cast<const uint8_t *>(buf_data(b))[off];
	meta_release(fs, b);
	return (byte >> ((index % CFS_NBBY) * CFS_BIT_SIZE)) & CFS_BIT_MASK;
}

void rgrp_spread_start(Fs *fs, uint32_t slot, uint32_t slots)
{
	if (fs->rgrps.count == 0 || slots == 0)
		return;
	fs->rgrp_hint = uint32_t(uint64_t(fs->rgrps.count) * (slot % slots) / slots);
}

bool rgrp_may_change(Fs *fs, uint64_t blkno)
{
	if (!fs->rgrp_allowed)
		return true;
	Rgrp *rg = rgrp_of_block(fs, blkno);
	return !rg || fs->rgrp_allowed(fs->rgrp_allowed_ctx, uint32_t(rg - fs->rgrps.rgrps));
}

bool rgrp_check_wanted(Fs *fs, uint64_t blkno)
{
	if (rgrp_may_change(fs, blkno))
		return true;
	fs->rgrp_wanted = blkno;
	return false;
}

int rgrp_alloc(Fs *fs, Trans *tr, uint64_t goal, uint32_t want, unsigned state,
	       uint64_t *first, uint32_t *got, uint64_t *generation)
{
	if (want == 0 || (state != CFS_BLKST_USED && state != CFS_BLKST_DINODE) ||
	    fs->rgrps.count == 0)
		return -CFS_EINVAL;
	if (state == CFS_BLKST_DINODE)
		want = 1;
	uint32_t start_rg = fs->rgrp_hint < fs->rgrps.count ? fs->rgrp_hint : 0;
	uint32_t start_index = 0;
	if (goal) {
		if (Rgrp *g = rgrp_of_block(fs, goal)) {
			start_rg = static_cast<uint32_t>(g - fs->rgrps.rgrps);
			start_index = static_cast<uint32_t>(goal - g->data0);
		}
	}
	for (uint32_t n = 0; n < fs->rgrps.count; n++) {
		const uint32_t r = (start_rg + n) % fs->rgrps.count;
		Rgrp *rg = &fs->rgrps.rgrps[r];
		// A journal rgrp stays one (flags are known once its header was read).
		if (rg->flags & CFS_RGF_JOURNAL)
			continue;
		if (fs->rgrp_allowed && !fs->rgrp_allowed(fs->rgrp_allowed_ctx, r))
			continue;
		RgrpBufs bm(fs, rg);
		int err = bm.read();
		if (err)
			return err;
		if ((rg->flags & (CFS_RGF_JOURNAL | CFS_RGF_NOALLOC)) || rg->free == 0)
			continue;
		uint32_t index, len;
		err = find_run(bm, rg, n == 0 ? start_index : 0, want, &index, &len);
		if (err == -CFS_ENOSPC) {
			cfs_env_log(fs->host, CFS_LOG_ERR,
				    "rgrp at block %llu: header says %u free blocks, bitmap has none",
				    (unsigned long long)rg->addr, rg->free);
			return -CFS_EUCLEAN;
		}
		if (err)
			return err;
		// Everything that can fail comes before the first change.
		StatfsUpdate su;
		err = bm.prepare(tr, index, len);
		if (!err)
			err = statfs_prepare(fs, tr, &su);
		if (err)
			return err;
		cfs_rgrp *h = bm.header();
		bm.set_range(index, len, state);
		adjust_counts(h, rg, CFS_BLKST_FREE, state, len);
		if (state == CFS_BLKST_DINODE) {
			uint64_t gen = from_le64(h->rg_igeneration);
			if (generation)
				*generation = gen;
			h->rg_igeneration = to_le64(gen + 1);
		}
		err = bm.write_direct(tr);
		const int serr = statfs_apply(fs, tr, &su, -int64_t(len),
					      state == CFS_BLKST_DINODE ? 1 : 0);
		if (err || serr)
			return err ? err : serr;
		fs->rgrp_hint = r;
		*first = rg->data0 + index;
		*got = len;
		return 0;
	}
	return -CFS_ENOSPC;
}

namespace {

int change_state(Fs *fs, Trans *tr, uint64_t first, uint32_t count, unsigned to, bool from_any_used)
{
	Rgrp *rg = rgrp_of_block(fs, first);
	if (!rg || count == 0 || first + count > rg->data0 + rg->data) {
		cfs_env_log(fs->host, CFS_LOG_ERR,
			    "blocks %llu+%u are not the data blocks of one resource group",
			    (unsigned long long)first, count);
		return -CFS_EUCLEAN;
	}
	if (!rgrp_may_change(fs, first)) {
		cfs_env_log(fs->host, CFS_LOG_ERR,
			    "blocks %llu+%u: their resource group at block %llu is not locked for this change",
			    (unsigned long long)first, count, (unsigned long long)rg->addr);
		return -CFS_EDEADLK;
	}
	RgrpBufs bm(fs, rg);
	int err = bm.read();
	if (err)
		return err;
	const uint32_t index = static_cast<uint32_t>(first - rg->data0);
	// Validate before changing anything: all blocks share one current state.
	const unsigned from = bm.get(index);
	for (uint32_t i = 0; i < count; i++) {
		unsigned s = bm.get(index + i);
		bool ok = from_any_used ? (s != CFS_BLKST_FREE && s == from)
					: (s == CFS_BLKST_DINODE || s == CFS_BLKST_UNLINKED);
		if (!ok) {
			cfs_env_log(fs->host, CFS_LOG_ERR, "block %llu: state %u cannot become %u",
				    (unsigned long long)(first + i), s, to);
			return -CFS_EUCLEAN;
		}
	}
	if (from == to)
		return 0;
	// statfs counts free blocks and dinodes (unlinked ones included).
	auto is_dinode = [](unsigned s) { return s == CFS_BLKST_DINODE || s == CFS_BLKST_UNLINKED; };
	const int64_t dfree = (to == CFS_BLKST_FREE ? int64_t(count) : 0) -
			      (from == CFS_BLKST_FREE ? int64_t(count) : 0);
	const int64_t ddinodes = (is_dinode(to) ? int64_t(count) : 0) -
				 (is_dinode(from) ? int64_t(count) : 0);
	StatfsUpdate su;
	err = bm.prepare(tr, index, count);
	if (!err && (dfree || ddinodes))
		err = statfs_prepare(fs, tr, &su);
	if (err)
		return err;
	bm.set_range(index, count, to);
	adjust_counts(bm.header(), rg, from, to, count);
	err = bm.write_direct(tr);
	const int serr = statfs_apply(fs, tr, &su, dfree, ddinodes);
	return err ? err : serr;
}

}  // namespace

int rgrp_free(Fs *fs, Trans *tr, uint64_t first, uint32_t count)
{
	int err = change_state(fs, tr, first, count, CFS_BLKST_FREE, true);
	if (!err && fs->blocks_freed)
		fs->blocks_freed(fs->blocks_freed_ctx, first, count);
	return err;
}

int rgrp_free_runs(Fs *fs, Rgrp *rg, uint64_t first, uint64_t end, uint32_t minlen,
		   int (*visit)(void *ctx, uint64_t first, uint32_t count), void *ctx)
{
	if (first < rg->data0)
		first = rg->data0;
	if (end > rg->data0 + rg->data)
		end = rg->data0 + rg->data;
	if (first >= end)
		return 0;
	if (minlen == 0)
		minlen = 1;
	RgrpBufs bm(fs, rg);
	int err = bm.read();
	if (err)
		return err;
	const uint32_t stop = static_cast<uint32_t>(end - rg->data0);
	uint32_t i = static_cast<uint32_t>(first - rg->data0);
	while (i < stop) {
		i = bm.find(i, CFS_BLKST_FREE);
		if (i >= stop)
			break;
		const uint32_t n = bm.run(i, CFS_BLKST_FREE, stop - i);
		if (n >= minlen) {
			err = visit(ctx, rg->data0 + i, n);
			if (err)
				return err;
		}
		i += n;
	}
	return 0;
}

int rgrp_set_state(Fs *fs, Trans *tr, uint64_t blkno, unsigned state)
{
	if (state != CFS_BLKST_DINODE && state != CFS_BLKST_UNLINKED)
		return -CFS_EINVAL;
	return change_state(fs, tr, blkno, 1, state, false);
}

}  // namespace cfs
