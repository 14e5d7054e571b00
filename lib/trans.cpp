// Transactions: see trans.h.
#include "trans.h"

#include "algo_util.h"
#include "journal.h"

namespace cfs {

namespace {

template <typename T>
int reserve(Fs *fs, T **arr, uint32_t *cap, uint32_t need)
{
	if (need <= *cap)
		return 0;
	uint32_t ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	T *n = static_cast<T *>(algo::mem_alloc(fs, sizeof(T) * ncap));
	if (!n)
		return -CFS_ENOMEM;
	if (*cap)
		algo::mem_copy(n, *arr, sizeof(T) * *cap);
	algo::mem_free(fs, *arr);
	*arr = n;
	*cap = ncap;
	return 0;
}

void release_all(Trans *tr)
{
	for (uint32_t i = 0; i < tr->nbufs; i++)
		meta_release(tr->fs, tr->bufs[i]);
	tr->nbufs = 0;
	tr->nrevokes = 0;
	algo::mem_free(tr->fs, tr->bufs);
	algo::mem_free(tr->fs, tr->revokes);
	tr->bufs = nullptr;
	tr->revokes = nullptr;
	tr->cap_bufs = tr->cap_revokes = 0;
}

}  // namespace

int trans_begin(Fs *fs, Journal *journal, uint32_t max_bufs, Trans *tr)
{
	*tr = Trans{};
	tr->fs = fs;
	tr->journal = journal;
	tr->max_bufs = max_bufs;
	if (journal)
		return journal_reserve(journal, max_bufs);
	return 0;
}

int trans_add_buf(Trans *tr, Buf *bh)
{
	uint64_t blk = buf_blkno(bh);
	for (uint32_t i = 0; i < tr->nbufs; i++)
		if (tr->bufs[i] == bh || buf_blkno(tr->bufs[i]) == blk)
			return 0;
	// A block freed earlier in this transaction and now reused: no longer revoked.
	for (uint32_t i = 0; i < tr->nrevokes; i++) {
		if (tr->revokes[i] == blk) {
			tr->revokes[i] = tr->revokes[--tr->nrevokes];
			break;
		}
	}
	if (tr->journal && tr->nbufs == tr->max_bufs)
		cfs_env_log(tr->fs->host, CFS_LOG_WARN,
			    "transaction exceeds its reservation of %u buffers", tr->max_bufs);
	int err = reserve(tr->fs, &tr->bufs, &tr->cap_bufs, tr->nbufs + 1);
	if (err)
		return err;
	cfs_env_buf_hold(tr->fs->host, bh);
	tr->bufs[tr->nbufs++] = bh;
	return 0;
}

int trans_add_revoke(Trans *tr, uint64_t blkno)
{
	// A buffer of this transaction that is freed before commit is not logged at all.
	for (uint32_t i = 0; i < tr->nbufs; i++) {
		if (buf_blkno(tr->bufs[i]) == blkno) {
			cfs_env_buf_invalidate(tr->fs->host, tr->bufs[i]);
			meta_release(tr->fs, tr->bufs[i]);
			tr->bufs[i] = tr->bufs[--tr->nbufs];
			break;
		}
	}
	for (uint32_t i = 0; i < tr->nrevokes; i++)
		if (tr->revokes[i] == blkno)
			return 0;
	int err = reserve(tr->fs, &tr->revokes, &tr->cap_revokes, tr->nrevokes + 1);
	if (err)
		return err;
	tr->revokes[tr->nrevokes++] = blkno;
	return 0;
}

int trans_commit(Trans *tr)
{
	int err = 0;
	if (tr->journal) {
		err = journal_take_trans(tr->journal, tr);
	} else {
		// Direct: in place now; a revoke means nothing without a journal.
		for (uint32_t i = 0; i < tr->nbufs; i++) {
			int e = meta_write(tr->fs, tr->bufs[i]);
			if (e && !err)
				err = e;
		}
	}
	release_all(tr);
	return err;
}

void trans_cancel(Trans *tr)
{
	if (tr->fs)
		release_all(tr);
}

}  // namespace cfs
