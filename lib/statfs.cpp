// statfs accounting (see statfs.h).
#include "statfs.h"

#include "trans.h"

namespace cfs {
namespace {

cfs_statfs *record(Buf *b)
{
	return reinterpret_cast<cfs_statfs *>(static_cast<uint8_t *>(buf_data(b)) + CFS_DINODE_SIZE);
}

// Reads a statfs file's dinode and checks it holds one stuffed record.
int read_file(Fs *fs, uint64_t ino, Buf **out)
{
	Buf *b;
	int err = meta_read(fs, ino, CFS_BT_DI, ino, &b);
	if (err)
		return err;
	const auto *di = static_cast<const cfs_dinode *>(buf_data(b));
	if (from_le16(di->di_height) != 0 || from_le64(di->di_size) != sizeof(cfs_statfs)) {
		cfs_env_log(fs->host, CFS_LOG_ERR,
			    "inode %llu: a statfs file must hold one stuffed %u-byte record",
			    (unsigned long long)ino, unsigned(sizeof(cfs_statfs)));
		meta_release(fs, b);
		return -CFS_EUCLEAN;
	}
	*out = b;
	return 0;
}

void add(cfs_le64 *field, int64_t delta)
{
	*field = to_le64(uint64_t(int64_t(from_le64(*field)) + delta));
}

}  // namespace

int statfs_read(Fs *fs, uint64_t ino, StatfsCounts *out)
{
	Buf *b;
	int err = read_file(fs, ino, &b);
	if (err)
		return err;
	const cfs_statfs *r = record(b);
	out->total = int64_t(from_le64(r->sf_total));
	out->free = int64_t(from_le64(r->sf_free));
	out->dinodes = int64_t(from_le64(r->sf_dinodes));
	meta_release(fs, b);
	return 0;
}

int statfs_prepare(Fs *fs, Trans *tr, StatfsUpdate *u)
{
	*u = StatfsUpdate{};
	const uint64_t ino = fs->statfs_local_ino ? fs->statfs_local_ino
						  : from_le64(fs->sb.sb_statfs_addr);
	if (ino == 0)
		return 0;  // an Fs built without a superblock (unit-test images): no accounting
	Buf *b;
	int err = read_file(fs, ino, &b);
	if (err)
		return err;
	if (tr) {
		err = trans_add_buf(tr, b);
		if (err) {
			meta_release(fs, b);
			return err;
		}
	}
	u->bh = b;
	u->ino = ino;
	return 0;
}

int statfs_apply(Fs *fs, Trans *tr, StatfsUpdate *u, int64_t dfree, int64_t ddinodes)
{
	if (!u->bh)
		return 0;
	if (fs->statfs_lock)
		cfs_env_spin_lock(fs->statfs_lock);
	cfs_statfs *r = record(u->bh);
	add(&r->sf_free, dfree);
	add(&r->sf_dinodes, ddinodes);
	if (fs->statfs_lock)
		cfs_env_spin_unlock(fs->statfs_lock);
	int err = tr ? 0 : meta_write(fs, u->bh);
	statfs_cancel(fs, u);
	return err;
}

void statfs_cancel(Fs *fs, StatfsUpdate *u)
{
	meta_release(fs, u->bh);
	*u = StatfsUpdate{};
}

int statfs_fold(Fs *fs, Trans *tr, uint64_t local_ino)
{
	const uint64_t global_ino = from_le64(fs->sb.sb_statfs_addr);
	Buf *global, *local;
	int err = read_file(fs, global_ino, &global);
	if (err)
		return err;
	err = read_file(fs, local_ino, &local);
	if (err) {
		meta_release(fs, global);
		return err;
	}
	if (tr) {
		err = trans_add_buf(tr, global);
		if (!err)
			err = trans_add_buf(tr, local);
	}
	if (!err) {
		if (fs->statfs_lock)
			cfs_env_spin_lock(fs->statfs_lock);
		cfs_statfs *g = record(global), *l = record(local);
		add(&g->sf_free, int64_t(from_le64(l->sf_free)));
		add(&g->sf_dinodes, int64_t(from_le64(l->sf_dinodes)));
		add(&g->sf_total, int64_t(from_le64(l->sf_total)));
		l->sf_free = l->sf_dinodes = l->sf_total = 0;
		if (fs->statfs_lock)
			cfs_env_spin_unlock(fs->statfs_lock);
		if (!tr) {
			err = meta_write(fs, global);
			if (!err)
				err = meta_write(fs, local);
		}
	}
	meta_release(fs, local);
	meta_release(fs, global);
	return err;
}

}  // namespace cfs
