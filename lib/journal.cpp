// Journal writer and replay: see journal.h for the log layout and the rules.
#include "journal.h"

#include "algo_util.h"
#include "trans.h"

namespace cfs {

namespace {

// Open-addressing map from block number to a slot index, for the record being assembled
// (dedup of buffers logged twice, revoke cancellation). Block 0 is never metadata, so it
// marks an empty slot.
struct BlockIndex {
	uint64_t *keys = nullptr;
	uint32_t *vals = nullptr;
	uint32_t cap = 0;  // power of two
	uint32_t count = 0;
};

uint32_t hash_block(uint64_t b)
{
	b ^= b >> 33;
	b *= 0xff51afd7ed558ccdull;
	b ^= b >> 33;
	return uint32_t(b);
}

void index_free(Fs *fs, BlockIndex *ix)
{
	algo::mem_free(fs, ix->keys);
	algo::mem_free(fs, ix->vals);
	*ix = BlockIndex{};
}

void index_clear(BlockIndex *ix)
{
	for (uint32_t i = 0; i < ix->cap; i++)
		ix->keys[i] = 0;
	ix->count = 0;
}

uint32_t *index_find(const BlockIndex *ix, uint64_t key)
{
	if (!ix->cap)
		return nullptr;
	for (uint32_t i = hash_block(key) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
		if (ix->keys[i] == key)
			return &ix->vals[i];
		if (ix->keys[i] == 0)
			return nullptr;
	}
}

int index_insert(Fs *fs, BlockIndex *ix, uint64_t key, uint32_t val)
{
	if ((ix->count + 1) * 2 > ix->cap) {
		uint32_t ncap = ix->cap ? ix->cap * 2 : 64;
		auto *nkeys = static_cast<uint64_t *>(algo::mem_alloc(fs, sizeof(uint64_t) * ncap));
		auto *nvals = static_cast<uint32_t *>(algo::mem_alloc(fs, sizeof(uint32_t) * ncap));
		if (!nkeys || !nvals) {
			algo::mem_free(fs, nkeys);
			algo::mem_free(fs, nvals);
			return -CFS_ENOMEM;
		}
		for (uint32_t i = 0; i < ncap; i++)
			nkeys[i] = 0;
		for (uint32_t i = 0; i < ix->cap; i++) {
			if (!ix->keys[i])
				continue;
			uint32_t k = hash_block(ix->keys[i]) & (ncap - 1);
			while (nkeys[k])
				k = (k + 1) & (ncap - 1);
			nkeys[k] = ix->keys[i];
			nvals[k] = ix->vals[i];
		}
		algo::mem_free(fs, ix->keys);
		algo::mem_free(fs, ix->vals);
		ix->keys = nkeys;
		ix->vals = nvals;
		ix->cap = ncap;
	}
	uint32_t i = hash_block(key) & (ix->cap - 1);
	while (ix->keys[i] && ix->keys[i] != key)
		i = (i + 1) & (ix->cap - 1);
	if (!ix->keys[i])
		ix->count++;
	ix->keys[i] = key;
	ix->vals[i] = val;
	return 0;
}

template <typename T>
int grow_array(Fs *fs, T **arr, uint32_t *cap, uint32_t need)
{
	if (need <= *cap)
		return 0;
	uint32_t ncap = *cap ? *cap : 32;
	while (ncap < need)
		ncap *= 2;
	T *n = static_cast<T *>(algo::mem_alloc(fs, sizeof(T) * ncap));
	if (!n)
		return -CFS_ENOMEM;
	for (uint32_t i = 0; i < *cap; i++)
		n[i] = (*arr)[i];
	algo::mem_free(fs, *arr);
	*arr = n;
	*cap = ncap;
	return 0;
}

// Stores `value` for block `key` in an array indexed by `ix`: in its old slot when the
// block had one (`slot`, from index_find), else appended and indexed.
template <typename T>
int indexed_store(Fs *fs, T **arr, uint32_t *cap, uint32_t *count, BlockIndex *ix,
		  uint32_t *slot, uint64_t key, T value)
{
	if (slot) {
		(*arr)[*slot] = value;
		return 0;
	}
	int err = grow_array(fs, arr, cap, *count + 1);
	if (!err)
		err = index_insert(fs, ix, key, *count);
	if (err)
		return err;
	(*arr)[(*count)++] = value;
	return 0;
}

constexpr uint32_t kStageBlocks = 32;  // log blocks written per I/O
constexpr uint32_t kScanBytes = 1u << 20;  // journal bytes read per I/O by the head search

uint32_t ring_add(uint32_t length, uint32_t rel, uint32_t n = 1)
{
	return uint32_t((uint64_t(rel) + n) % length);
}

// The fields of a log header lib uses (CPU order).
struct LogHeader {
	uint64_t sequence;
	uint32_t flags;
	uint32_t tail;
	uint32_t blkno;  // journal-relative position of the header
};

void encode_header(Fs *fs, uint64_t owner, void *block, uint64_t disk_blkno, const LogHeader &h)
{
	algo::mem_zero(block, fs->bsize);
	meta_header_init(fs, block, disk_blkno, CFS_BT_LH, owner);
	auto *lh = static_cast<cfs_log_header *>(block);
	algo::store64(&lh->lh_sequence, h.sequence);
	algo::store32(&lh->lh_flags, h.flags);
	algo::store32(&lh->lh_tail, h.tail);
	algo::store32(&lh->lh_blkno, h.blkno);
	algo::store64(&lh->lh_header.mh_lsn, h.sequence);
	cfs_timespec now;
	cfs_env_now(fs->host, &now);
	algo::store64(&lh->lh_sec, uint64_t(now.sec));
	algo::store32(&lh->lh_nsec, now.nsec);
}

// 0 if `block` is a valid log header of this journal at journal block `rel`.
int decode_header(Fs *fs, uint64_t owner, const void *block, uint64_t disk_blkno, uint32_t rel,
		  LogHeader *h)
{
	VerifyFailure f;
	int err = verify_block(fs->verify_ctx(), block, disk_blkno, CFS_BT_LH, owner, true, &f);
	if (err)
		return err;
	auto *lh = static_cast<const cfs_log_header *>(block);
	h->sequence = algo::load64(&lh->lh_sequence);
	h->flags = algo::load32(&lh->lh_flags);
	h->tail = algo::load32(&lh->lh_tail);
	h->blkno = algo::load32(&lh->lh_blkno);
	return h->blkno == rel ? 0 : -CFS_EUCLEAN;
}

void encode_desc(Fs *fs, uint64_t owner, void *block, uint64_t disk_blkno, uint32_t type,
		 uint64_t seq, const uint64_t *list, uint32_t n)
{
	algo::mem_zero(block, fs->bsize);
	meta_header_init(fs, block, disk_blkno, CFS_BT_LD, owner);
	auto *ld = static_cast<cfs_log_desc *>(block);
	algo::store64(&ld->ld_sequence, seq);
	algo::store32(&ld->ld_type, type);
	algo::store32(&ld->ld_entries, n);
	algo::store64(&ld->ld_header.mh_lsn, seq);
	for (uint32_t i = 0; i < n; i++)
		algo::store64(&ld->ld_blocks[i], list[i]);
}

}  // namespace

struct Journal {
	Fs *fs;
	JournalLoc loc;
	uint32_t bsize;
	uint64_t next_seq;  // sequence of the next commit header
	uint32_t head;      // journal-relative block the next record starts at
	uint32_t tail;      // first block of the oldest record not yet checkpointed
	uint32_t used;      // blocks from tail to head

	// The record being assembled: buffers (nullptr once revoked) and revokes (0 once
	// cancelled), each indexed by block number.
	Buf **bufs;
	uint32_t nbufs, cap_bufs, live_bufs;
	BlockIndex buf_index;
	uint64_t *revokes;
	uint32_t nrevokes, cap_revokes, live_revokes;
	BlockIndex revoke_index;

	// Logged buffers not yet written in place (GFS2's AIL): the checkpoint writes them.
	Buf **ail;
	uint32_t nail, cap_ail;
	BlockIndex ail_index;

	uint8_t *stage;       // kStageBlocks blocks of log being written
	uint32_t staged;      // blocks in stage
	uint32_t stage_pos;   // journal-relative block of stage[0]
};

namespace {

uint64_t disk_block(const Journal *j, uint32_t rel) { return j->loc.first + rel; }

int stage_flush(Journal *j, unsigned flags)
{
	if (!j->staged)
		return 0;
	const void *blocks[kStageBlocks];
	for (uint32_t i = 0; i < j->staged; i++)
		blocks[i] = j->stage + size_t(i) * j->bsize;
	int err = cfs_env_log_write(j->fs->host, disk_block(j, j->stage_pos), blocks, j->staged,
				    flags);
	j->staged = 0;
	return err;
}

// The buffer for log block `pos` in the stage, writing the stage out first if `pos` is
// not its continuation (a write never wraps the ring's end).
int stage_next(Journal *j, uint32_t pos, uint8_t **block)
{
	if (j->staged &&
	    (j->staged == kStageBlocks || j->stage_pos + j->staged != pos)) {
		int err = stage_flush(j, 0);
		if (err)
			return err;
	}
	if (!j->staged)
		j->stage_pos = pos;
	*block = j->stage + size_t(j->staged) * j->bsize;
	j->staged++;
	return 0;
}

void drop_record(Journal *j)
{
	for (uint32_t i = 0; i < j->nbufs; i++)
		if (j->bufs[i])
			meta_release(j->fs, j->bufs[i]);
	j->nbufs = j->live_bufs = 0;
	j->nrevokes = j->live_revokes = 0;
	index_clear(&j->buf_index);
	index_clear(&j->revoke_index);
}

// After the record is on disk: its buffers join the AIL (one reference each).
int record_to_ail(Journal *j)
{
	int err = 0;
	for (uint32_t i = 0; i < j->nbufs; i++) {
		Buf *bh = j->bufs[i];
		if (!bh)
			continue;
		j->bufs[i] = nullptr;
		uint32_t *slot = index_find(&j->ail_index, buf_blkno(bh));
		if (slot && j->ail[*slot]) {
			meta_release(j->fs, bh);  // already there: same cached block
			continue;
		}
		// A free slot: the block was freed (revoked) earlier and logged again since.
		int e = indexed_store(j->fs, &j->ail, &j->cap_ail, &j->nail, &j->ail_index, slot,
				      buf_blkno(bh), bh);
		if (e) {
			// Cannot track it: write it in place now rather than lose it.
			(void)meta_write(j->fs, bh);
			meta_release(j->fs, bh);
			err = err ? err : e;
		}
	}
	drop_record(j);
	return err;
}

void ail_forget(Journal *j, uint64_t blk)
{
	uint32_t *slot = index_find(&j->ail_index, blk);
	if (!slot || !j->ail[*slot])
		return;
	meta_release(j->fs, j->ail[*slot]);
	j->ail[*slot] = nullptr;
}

uint32_t record_blocks(const Journal *j, uint32_t nbufs, uint32_t nrevokes)
{
	uint32_t slots = j->fs->ld_slots;
	uint32_t n = 1;  // commit header
	n += (nbufs + slots - 1) / slots + nbufs;
	n += (nrevokes + slots - 1) / slots;
	return n;
}

// Writes the assembled record (possibly empty: a bare header) at j->head.
int write_record(Journal *j, uint32_t header_flags)
{
	Fs *fs = j->fs;
	uint64_t owner = j->loc.ino;
	uint32_t nblocks = record_blocks(j, j->live_bufs, j->live_revokes);
	if (nblocks > j->loc.length - j->used)
		return -CFS_ENOSPC;
	uint32_t pos = j->head;
	uint32_t slots = fs->ld_slots;
	uint64_t *list = static_cast<uint64_t *>(algo::mem_alloc(fs, sizeof(uint64_t) * slots));
	if (!list)
		return -CFS_ENOMEM;
	int err = 0;
	if (j->live_bufs)
		err = cfs_env_ordered_data_flush(fs->host);  // data before the metadata naming it

	// Metadata: a descriptor, then the images it lists.
	uint32_t i = 0;
	while (!err && i < j->nbufs) {
		uint32_t n = 0, group_first = i;
		for (; i < j->nbufs && n < slots; i++)
			if (j->bufs[i])
				list[n++] = buf_blkno(j->bufs[i]);
		if (!n)
			break;
		uint8_t *block;
		err = stage_next(j, pos, &block);
		if (err)
			break;
		encode_desc(fs, owner, block, disk_block(j, pos), CFS_LD_METADATA, j->next_seq, list, n);
		err = meta_seal(fs, block, disk_block(j, pos));
		pos = ring_add(j->loc.length, pos);
		for (uint32_t k = group_first; !err && k < i; k++) {
			Buf *bh = j->bufs[k];
			if (!bh)
				continue;
			// Stamp and seal the cached block: its home write later has the same bytes.
			auto *mh = static_cast<cfs_meta_header *>(buf_data(bh));
			algo::store64(&mh->mh_lsn, j->next_seq);
			err = meta_seal(fs, buf_data(bh), buf_blkno(bh));
			if (!err)
				err = stage_next(j, pos, &block);
			if (!err) {
				algo::mem_copy(block, buf_data(bh), j->bsize);
				pos = ring_add(j->loc.length, pos);
			}
		}
	}
	// Revokes.
	i = 0;
	while (!err && i < j->nrevokes) {
		uint32_t n = 0;
		for (; i < j->nrevokes && n < slots; i++)
			if (j->revokes[i])
				list[n++] = j->revokes[i];
		if (!n)
			break;
		uint8_t *block;
		err = stage_next(j, pos, &block);
		if (err)
			break;
		encode_desc(fs, owner, block, disk_block(j, pos), CFS_LD_REVOKE, j->next_seq, list, n);
		err = meta_seal(fs, block, disk_block(j, pos));
		pos = ring_add(j->loc.length, pos);
	}
	algo::mem_free(fs, list);
	if (!err)
		err = stage_flush(j, 0);
	// The header commits the record: the cache flush before it makes everything above
	// stable first, FUA makes the header itself stable.
	if (!err) {
		uint8_t *block;
		err = stage_next(j, pos, &block);
		if (!err) {
			LogHeader h{j->next_seq, header_flags, j->tail, pos};
			encode_header(fs, owner, block, disk_block(j, pos), h);
			err = meta_seal(fs, block, disk_block(j, pos));
		}
		if (!err)
			err = stage_flush(j, CFS_IO_PREFLUSH | CFS_IO_FUA);
	}
	if (err) {
		j->staged = 0;
		return err;
	}
	j->head = ring_add(j->loc.length, pos);
	j->used += nblocks;
	j->next_seq++;
	return 0;
}
}  // namespace

uint32_t journal_free_blocks(const Journal *j)
{
	return j->loc.length - j->used;
}

uint32_t journal_record_blocks(const Journal *j, uint32_t nbufs, uint32_t nrevokes)
{
	return record_blocks(j, nbufs, nrevokes);
}

int journal_take_trans(Journal *j, Trans *tr)
{
	Fs *fs = j->fs;
	for (uint32_t r = 0; r < tr->nrevokes; r++) {
		uint64_t blk = tr->revokes[r];
		// Freed: an image of it in this record need not be logged, and an older logged
		// copy must not be written in place by the checkpoint any more.
		if (uint32_t *slot = index_find(&j->buf_index, blk); slot && j->bufs[*slot]) {
			meta_release(fs, j->bufs[*slot]);
			j->bufs[*slot] = nullptr;
			j->live_bufs--;
		}
		ail_forget(j, blk);
		uint32_t *rslot = index_find(&j->revoke_index, blk);
		if (rslot && j->revokes[*rslot])
			continue;
		if (int err = indexed_store(fs, &j->revokes, &j->cap_revokes, &j->nrevokes,
					    &j->revoke_index, rslot, blk, blk))
			return err;
		j->live_revokes++;
	}
	for (uint32_t b = 0; b < tr->nbufs; b++) {
		Buf *bh = tr->bufs[b];
		uint64_t blk = buf_blkno(bh);
		// Logged again after being freed: the new image must replay, so the revoke goes.
		if (uint32_t *rslot = index_find(&j->revoke_index, blk); rslot && j->revokes[*rslot]) {
			j->revokes[*rslot] = 0;
			j->live_revokes--;
		}
		uint32_t *slot = index_find(&j->buf_index, blk);
		if (slot && j->bufs[*slot])
			continue;  // already in the record
		if (int err = indexed_store(fs, &j->bufs, &j->cap_bufs, &j->nbufs, &j->buf_index,
					    slot, blk, bh))
			return err;
		cfs_env_buf_hold(fs->host, bh);
		j->live_bufs++;
	}
	return 0;
}

bool journal_has_pending(const Journal *j)
{
	return j->live_bufs || j->live_revokes;
}

int journal_flush(Journal *j)
{
	if (!j->live_bufs && !j->live_revokes) {
		drop_record(j);
		return 0;
	}
	int err = write_record(j, 0);
	if (err)
		return err;
	return record_to_ail(j);
}

namespace {

// Writes every AIL buffer in place and waits for it: afterwards no log record is
// needed any more. In block order, so that the host can merge neighbours into one
// request (the AIL itself stays in log order: ail_index points into it).
int write_ail(Journal *j)
{
	int err = 0;
	Buf **order = static_cast<Buf **>(algo::mem_alloc(j->fs, sizeof(Buf *) * (j->nail + 1)));
	uint32_t n = 0;
	for (uint32_t i = 0; i < j->nail; i++)
		if (j->ail[i]) {
			if (order)
				order[n++] = j->ail[i];
			else if (int e = meta_write(j->fs, j->ail[i]); e && !err)
				err = e;  // no memory to sort: write in log order
		}
	if (order) {
		algo::heap_sort(order, n, [](Buf *a, Buf *b) { return buf_blkno(a) < buf_blkno(b); });
		for (uint32_t i = 0; i < n; i++)
			if (int e = meta_write(j->fs, order[i]); e && !err)
				err = e;
		algo::mem_free(j->fs, order);
	}
	int e = cfs_env_sync(j->fs->host);
	if (e && !err)
		err = e;
	if (err)
		return err;  // keep the AIL: the log still covers those blocks
	for (uint32_t i = 0; i < j->nail; i++)
		if (j->ail[i])
			meta_release(j->fs, j->ail[i]);
	j->nail = 0;
	index_clear(&j->ail_index);
	return 0;
}

}  // namespace

bool journal_needs_checkpoint(const Journal *j)
{
	return journal_has_pending(j) || j->nail != 0 || j->used != 0;
}

int journal_checkpoint(Journal *j)
{
	int err = journal_flush(j);
	if (!err)
		err = write_ail(j);
	if (err)
		return err;
	// Everything logged is home: the tail may pass it. A bare header records that, so a
	// replay after a crash here has nothing to do.
	j->tail = j->head;
	j->used = 0;
	err = write_record(j, 0);
	if (err)
		return err;
	// Nothing needs the bare header's block either (found as the head, it says "clean"):
	// the journal is idle, as journal_open leaves a clean one, so that the next release
	// with nothing logged since writes nothing (it cost two cache flushes and a FUA).
	j->tail = j->head;
	j->used = 0;
	return 0;
}

namespace {

// The record being assembled plus a transaction of `nbufs`, in the worst case where
// every buffer it dirties is also freed (one revoke each); +1 for a checkpoint's header.
uint32_t blocks_needed(const Journal *j, uint32_t nbufs)
{
	return record_blocks(j, j->live_bufs + nbufs, j->live_revokes + nbufs) + 1;
}

}  // namespace

bool journal_has_room(const Journal *j, uint32_t nbufs)
{
	return blocks_needed(j, nbufs) <= j->loc.length - j->used;
}

int journal_reserve(Journal *j, uint32_t nbufs)
{
	if (blocks_needed(j, nbufs) <= j->loc.length - j->used)
		return 0;
	// This transaction alone (a record of its own after the checkpoint's header) must
	// fit the ring; the record being assembled fits by its own reservation.
	if (record_blocks(j, nbufs, nbufs) + 1 > j->loc.length)
		return -CFS_ENOSPC;
	int err = journal_checkpoint(j);
	if (err)
		return err;
	return blocks_needed(j, nbufs) <= j->loc.length - j->used ? 0 : -CFS_ENOSPC;
}

int journal_close_clean(Journal *j)
{
	int err = journal_flush(j);
	if (!err)
		err = write_ail(j);
	if (!err) {
		j->tail = j->head;
		j->used = 0;
		err = write_record(j, CFS_LH_UNMOUNT);
	}
	journal_close(j);
	return err;
}

void journal_close(Journal *j)
{
	if (!j)
		return;
	Fs *fs = j->fs;
	drop_record(j);
	for (uint32_t i = 0; i < j->nail; i++)
		if (j->ail[i])
			meta_release(fs, j->ail[i]);
	index_free(fs, &j->buf_index);
	index_free(fs, &j->revoke_index);
	index_free(fs, &j->ail_index);
	algo::mem_free(fs, j->bufs);
	algo::mem_free(fs, j->revokes);
	algo::mem_free(fs, j->ail);
	algo::mem_free(fs, j->stage);
	algo::mem_free(fs, j);
}

// ---- locating, head search and replay ----

int journal_locate(Fs *fs, uint32_t slot, JournalLoc *out)
{
	uint32_t count = from_le32(fs->sb.sb_journals);
	if (slot >= count)
		return -CFS_ENOENT;
	cfs_jindex ji;
	int err = jdata_read(fs, from_le64(fs->sb.sb_jindex_addr), uint64_t(slot) * sizeof(ji), &ji,
			     sizeof(ji));
	if (err)
		return err;
	uint64_t first = from_le64(ji.ji_first_block), blocks = from_le64(ji.ji_blocks);
	if (blocks < 2 || blocks > 0xffffffffu || first >= fs->blocks || blocks > fs->blocks - first)
		return algo::corrupt(fs, from_le64(fs->sb.sb_jindex_addr),
				     "journal index entry outside the filesystem");
	*out = JournalLoc{from_le64(ji.ji_journal_addr), first, uint32_t(blocks)};
	return 0;
}

namespace {

struct RevokeEntry {
	uint64_t blkno;
	uint64_t sequence;  // of the newest record revoking it
};

struct ReplayCtx {
	Fs *fs;
	JournalLoc loc;
	JournalHead head;
	RevokeEntry *revokes;
	uint32_t nrevokes, cap_revokes;
	BlockIndex revoke_index;
	// Home block -> ring position of its newest image between tail and head. Only that
	// image is written: an older one would put the block back in time until the newer
	// one follows, and the newer may already be home (a checkpoint cut short after its
	// in-place writes, before its header), so writing old-then-new is a rollback window.
	BlockIndex newest_image;
	uint8_t *block;   // one block
	uint64_t *homes;  // a descriptor's list, copied out (ld_slots entries)
	// Read-ahead: the walks go forward through the ring, so blocks are read
	// kReplayWindow at a time instead of one synchronous read each (a survivor replays a
	// dead node's journal while its own transactions wait). Null: one at a time.
	uint8_t *window;
	uint32_t win_first, win_count;  // ring positions [win_first, win_first + win_count)
};

constexpr uint32_t kReplayWindow = 32;

int read_rel(ReplayCtx *c, uint32_t rel, uint8_t *into)
{
	if (!c->window)
		return cfs_env_blocks_read(c->fs->host, c->loc.first + rel, into, 1);
	if (rel < c->win_first || rel - c->win_first >= c->win_count) {
		uint32_t n = c->loc.length - rel;  // the ring is contiguous up to its end
		if (n > kReplayWindow)
			n = kReplayWindow;
		c->win_count = 0;
		int err = cfs_env_blocks_read(c->fs->host, c->loc.first + rel, c->window, n);
		if (err)
			return err;
		c->win_first = rel;
		c->win_count = n;
	}
	algo::mem_copy(into, c->window + size_t(rel - c->win_first) * c->fs->bsize, c->fs->bsize);
	return 0;
}

// Walks the records from the tail to the head header. For each descriptor calls
// on_desc(type, seq, desc, first image position). Checks that every block on the way
// is a descriptor of the expected sequence or a commit header, and that the walk ends
// exactly on the head.
template <typename OnDesc>
int walk_records(ReplayCtx *c, uint32_t *records, OnDesc on_desc)
{
	Fs *fs = c->fs;
	uint32_t length = c->loc.length;
	uint32_t pos = c->head.tail;
	uint64_t walked = 0;
	uint64_t seq = 0;  // sequence of the record being walked, from its first descriptor
	*records = 0;
	for (;;) {
		if (walked++ > length)
			return algo::corrupt(fs, c->loc.first, "journal walk does not reach its head");
		int err = read_rel(c, pos, c->block);
		if (err)
			return err;
		uint64_t disk = c->loc.first + pos;
		LogHeader h;
		if (decode_header(fs, c->loc.ino, c->block, disk, pos, &h) == 0) {
			if (seq && h.sequence != seq)
				return algo::corrupt(fs, disk, "journal header sequence differs from its descriptors");
			(*records)++;
			if (pos == c->head.head)
				return 0;
			seq = 0;
			pos = ring_add(length, pos);
			continue;
		}
		VerifyFailure f;
		if (verify_block(fs->verify_ctx(), c->block, disk, CFS_BT_LD, c->loc.ino, true, &f))
			return algo::corrupt(fs, disk, "journal block between tail and head is neither a "
						       "valid descriptor nor a commit header");
		auto *ld = reinterpret_cast<const cfs_log_desc *>(c->block);
		uint64_t dseq = algo::load64(&ld->ld_sequence);
		uint32_t type = algo::load32(&ld->ld_type);
		uint32_t n = algo::load32(&ld->ld_entries);
		if (n > fs->ld_slots || (type != CFS_LD_METADATA && type != CFS_LD_REVOKE) ||
		    (seq && dseq != seq) || dseq > c->head.sequence)
			return algo::corrupt(fs, disk, "journal descriptor is inconsistent");
		seq = dseq;
		uint32_t images = type == CFS_LD_METADATA ? n : 0;
		err = on_desc(type, dseq, ld, n, ring_add(length, pos));
		if (err)
			return err;
		walked += images;
		pos = ring_add(length, pos, 1 + images);
	}
}

// Writes a replayed image home through the host's cache, so a copy the host cached
// before the replay (or, at recovery of another node's journal, while that node was
// alive) is replaced rather than left stale.
int write_home(Fs *fs, uint64_t home, const uint8_t *image)
{
	Buf *bh;
	int err = cfs_env_buf_get_new(fs->host, home, &bh);
	if (err)
		return err;
	algo::mem_copy(buf_data(bh), image, fs->bsize);
	err = cfs_env_buf_write(fs->host, bh, 0);
	cfs_env_buf_release(fs->host, bh);
	return err;
}

}  // namespace

int journal_find_head(Fs *fs, const JournalLoc *loc, JournalHead *out)
{
	*out = JournalHead{0, 0, 0, true, false, true};
	if (loc->length < 2)
		return algo::corrupt(fs, loc->first, "journal shorter than two blocks");
	uint32_t bsize = fs->bsize;
	const uint32_t per_read = kScanBytes / bsize;
	uint8_t *chunk = static_cast<uint8_t *>(algo::mem_alloc(fs, kScanBytes));
	if (!chunk)
		return -CFS_ENOMEM;
	LogHeader best{};
	bool found = false;
	int err = 0;
	// Every block is read: a header can sit anywhere, and a torn record can leave a
	// stale higher-looking block only if it carries a valid CRC, which it cannot.
	for (uint32_t done = 0; !err && done < loc->length;) {
		uint32_t n = loc->length - done < per_read ? loc->length - done : per_read;
		err = cfs_env_blocks_read(fs->host, loc->first + done, chunk, n);
		for (uint32_t k = 0; !err && k < n; k++) {
			const uint8_t *blk = chunk + size_t(k) * bsize;
			// Cheap prefilter before the CRC: magic and type.
			auto *mh = reinterpret_cast<const cfs_meta_header *>(blk);
			if (from_le32(mh->mh_magic) != CFS_META_MAGIC || from_le16(mh->mh_type) != CFS_BT_LH)
				continue;
			LogHeader h;
			if (decode_header(fs, loc->ino, blk, loc->first + done + k, done + k, &h) == 0 &&
			    (!found || h.sequence > best.sequence)) {
				best = h;
				found = true;
			}
		}
		done += n;
	}
	algo::mem_free(fs, chunk);
	if (err || !found)
		return err;
	if (best.tail >= loc->length)
		return algo::corrupt(fs, loc->first + best.blkno, "journal tail outside the journal");
	out->sequence = best.sequence;
	out->head = best.blkno;
	out->tail = best.tail;
	out->empty = false;
	out->unmounted = (best.flags & CFS_LH_UNMOUNT) != 0;
	// A bare header whose tail is itself: everything before it was checkpointed.
	out->clean = best.tail == best.blkno;
	return 0;
}

int journal_replay(Fs *fs, const JournalLoc *loc, bool dry_run, ReplayStats *stats)
{
	*stats = ReplayStats{};
	ReplayCtx c{};
	c.fs = fs;
	c.loc = *loc;
	uint32_t length = loc->length;
	uint8_t *image = nullptr;
	int err = journal_find_head(fs, loc, &c.head);
	if (err)
		return err;
	if (c.head.empty || c.head.clean)
		return 0;
	c.block = static_cast<uint8_t *>(algo::mem_alloc(fs, fs->bsize));
	image = static_cast<uint8_t *>(algo::mem_alloc(fs, fs->bsize));
	c.homes = static_cast<uint64_t *>(algo::mem_alloc(fs, sizeof(uint64_t) * fs->ld_slots));
	if (!c.block || !image || !c.homes) {
		err = -CFS_ENOMEM;
		goto out;
	}
	// Optional: without it the walks read one block at a time.
	c.window = static_cast<uint8_t *>(algo::mem_alloc(fs, size_t(kReplayWindow) * fs->bsize));

	// Pass 1: collect revokes with the newest sequence revoking each block and the newest
	// image of each block; check every descriptor on the way.
	err = walk_records(&c, &stats->records, [&](uint32_t type, uint64_t seq,
						    const cfs_log_desc *ld, uint32_t n, uint32_t pos) {
		if (type != CFS_LD_REVOKE) {
			for (uint32_t i = 0; i < n; i++, pos = ring_add(length, pos))
				if (int e = index_insert(fs, &c.newest_image, algo::load64(&ld->ld_blocks[i]), pos))
					return e;
			return 0;
		}
		for (uint32_t i = 0; i < n; i++) {
			uint64_t blk = algo::load64(&ld->ld_blocks[i]);
			stats->revokes++;
			if (uint32_t *slot = index_find(&c.revoke_index, blk)) {
				if (c.revokes[*slot].sequence < seq)
					c.revokes[*slot].sequence = seq;
				continue;
			}
			int e = grow_array(fs, &c.revokes, &c.cap_revokes, c.nrevokes + 1);
			if (!e)
				e = index_insert(fs, &c.revoke_index, blk, c.nrevokes);
			if (e)
				return e;
			c.revokes[c.nrevokes++] = RevokeEntry{blk, seq};
		}
		return 0;
	});
	if (err)
		goto out;

	// Pass 2 checks every image that would be written, so a damaged record is found
	// before anything is written; pass 3 writes (not in a dry run).
	for (int write_pass = 0; write_pass < 2 && !err; write_pass++) {
		if (write_pass && dry_run)
			break;
		uint32_t records, replayed = 0, revoked = 0, superseded = 0;
		// Descriptor lists are copied out: c.block is reused by the walk.
		err = walk_records(&c, &records, [&](uint32_t type, uint64_t seq,
						     const cfs_log_desc *ld, uint32_t n, uint32_t pos) {
			if (type != CFS_LD_METADATA)
				return 0;
			uint64_t *homes = c.homes;
			for (uint32_t i = 0; i < n; i++)
				homes[i] = algo::load64(&ld->ld_blocks[i]);
			for (uint32_t i = 0; i < n; i++, pos = ring_add(length, pos)) {
				uint64_t home = homes[i];
				uint32_t *slot = index_find(&c.revoke_index, home);
				if (slot && c.revokes[*slot].sequence >= seq) {
					revoked++;
					continue;
				}
				int e = read_rel(&c, pos, image);
				if (e)
					return e;
				VerifyFailure f;
				auto *mh = reinterpret_cast<const cfs_meta_header *>(image);
				if (verify_block(fs->verify_ctx(), image, home, from_le16(mh->mh_type), 0, true, &f))
					return algo::corrupt(fs, c.loc.first + pos,
							     "journal image fails its block check");
				// Checked like every image, written only if no later record logs it.
				if (*index_find(&c.newest_image, home) != pos) {
					superseded++;
					continue;
				}
				if (write_pass)
					e = write_home(fs, home, image);
				if (e)
					return e;
				replayed++;
			}
			return 0;
		});
		stats->blocks_replayed = replayed;
		stats->blocks_revoked = revoked;
		stats->blocks_superseded = superseded;
	}
	if (err || dry_run)
		goto out;
	err = cfs_env_sync(fs->host);
	if (err)
		goto out;
	// Mark the journal clean: a bare header after the head whose tail is itself, written
	// after a cache flush so it never claims blocks that are not home yet.
	{
		uint32_t pos = ring_add(length, c.head.head);
		LogHeader h{c.head.sequence + 1, CFS_LH_RECOVERY, pos, pos};
		encode_header(fs, loc->ino, c.block, loc->first + pos, h);
		err = meta_seal(fs, c.block, loc->first + pos);
		const void *blocks[1] = {c.block};
		if (!err)
			err = cfs_env_log_write(fs->host, loc->first + pos, blocks, 1,
						CFS_IO_PREFLUSH | CFS_IO_FUA);
	}
out:
	algo::mem_free(fs, image);
	algo::mem_free(fs, c.window);
	algo::mem_free(fs, c.block);
	algo::mem_free(fs, c.homes);
	algo::mem_free(fs, c.revokes);
	index_free(fs, &c.revoke_index);
	index_free(fs, &c.newest_image);
	return err;
}

int journal_open(Fs *fs, const JournalLoc *loc, Journal **out)
{
	*out = nullptr;
	JournalHead head;
	int err = journal_find_head(fs, loc, &head);
	if (err)
		return err;
	if (!head.empty && !head.clean)
		return algo::report(fs, -CFS_EUCLEAN, loc->first, "journal needs replay before it is written");
	Journal *j = static_cast<Journal *>(algo::mem_alloc(fs, sizeof(Journal)));
	if (!j)
		return -CFS_ENOMEM;
	*j = Journal{};
	j->fs = fs;
	j->loc = *loc;
	j->bsize = fs->bsize;
	j->stage = static_cast<uint8_t *>(algo::mem_alloc(fs, size_t(kStageBlocks) * j->bsize));
	if (!j->stage) {
		algo::mem_free(fs, j);
		return -CFS_ENOMEM;
	}
	if (head.empty) {
		// A journal mkfs left blank: start at block 0 with sequence 1.
		j->next_seq = 1;
		j->head = j->tail = 0;
	} else {
		j->next_seq = head.sequence + 1;
		j->head = j->tail = ring_add(loc->length, head.head);
	}
	*out = j;
	return 0;
}

}  // namespace cfs
