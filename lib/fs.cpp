// The per-filesystem context: geometry, superblock, verified metadata I/O, jdata reads.
#include "fs.h"

#include "crc32c.h"
#include "rgrp.h"

namespace cfs {
namespace {

void log_verify_failure(Fs *fs, uint64_t blkno, uint16_t type, int err, const VerifyFailure &vf)
{
	if (err == -CFS_EBADMSG)
		cfs_env_log(fs->host, CFS_LOG_ERR, "block %llu (%s): bad CRC32C",
			    (unsigned long long)blkno, block_type_name(type));
	else
		cfs_env_log(fs->host, CFS_LOG_ERR,
			    "block %llu (%s): corrupted: check %s failed at offset %u",
			    (unsigned long long)blkno, block_type_name(type), vf.check, vf.offset);
}

bool str_equal(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

bool lockname_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

}  // namespace

void fs_now(Fs *fs, cfs_timespec *now)
{
	if (fs->op_time)
		*now = *fs->op_time;
	else
		cfs_env_now(fs->host, now);
}

int fs_set_geometry(Fs *fs, uint32_t bsize)
{
	unsigned shift;
	switch (bsize) {
	case 1024: shift = 10; break;
	case 2048: shift = 11; break;
	case 4096: shift = 12; break;
	default: return -CFS_EINVAL;
	}
	fs->bsize = bsize;
	fs->bsize_shift = shift;
	fs->sb_blkno = CFS_SB_OFFSET / bsize;
	fs->inline_size = CFS_INLINE_SIZE(bsize);
	fs->dinode_ptrs = CFS_DINODE_PTRS(bsize);
	fs->indirect_ptrs = CFS_INDIRECT_PTRS(bsize);
	fs->jd_payload = CFS_JD_PAYLOAD(bsize);
	fs->ld_slots = CFS_LD_SLOTS(bsize);
	return 0;
}

const char *locktable_problem(const char *proto, const char *table)
{
	const bool nolock = str_equal(proto, CFS_LOCKPROTO_NOLOCK);
	if (!nolock && !str_equal(proto, CFS_LOCKPROTO_CLUSTER))
		return "the lock protocol must be lock_cluster or lock_nolock";
	if (!table[0])
		return nolock ? nullptr
			      : "lock_cluster needs a lock table \"cluster:fsname\" (-t)";
	const char *colon = nullptr;
	size_t len = 0;
	for (const char *p = table; *p; p++, len++) {
		if (*p == ':') {
			if (colon)
				return "the lock table must contain exactly one ':' (cluster:fsname)";
			colon = p;
		} else if (!lockname_char(*p)) {
			return "the lock table may only contain letters, digits, '_' and '-' around its ':'";
		}
	}
	if (!colon)
		return "the lock table must have the form cluster:fsname";
	const size_t cluster_len = static_cast<size_t>(colon - table);
	const size_t fsname_len = len - cluster_len - 1;
	if (cluster_len == 0 || cluster_len > CFS_CLUSTERNAME_MAX)
		return "the cluster name (before ':') must be 1 to 32 characters";
	if (fsname_len == 0 || fsname_len > CFS_FSNAME_MAX)
		return "the filesystem name (after ':') must be 1 to 30 characters";
	return nullptr;
}

int fs_open(cfs_host *host, Fs *fs, bool *ro_only)
{
	*fs = Fs{};
	fs->host = host;
	if (ro_only)
		*ro_only = false;
	const uint64_t dev_size = cfs_env_dev_size(host);
	if (dev_size < CFS_SB_OFFSET + CFS_MIN_BLOCK_SIZE) {
		cfs_env_log(host, CFS_LOG_ERR, "device too small (%llu bytes) to hold clusterfs",
			    (unsigned long long)dev_size);
		return -CFS_EINVAL;
	}
	uint64_t avail = dev_size - CFS_SB_OFFSET;
	size_t len = avail >= CFS_MAX_BLOCK_SIZE ? CFS_MAX_BLOCK_SIZE : (avail & ~511ull);
	auto *raw = static_cast<uint8_t *>(cfs_env_alloc(host, CFS_MAX_BLOCK_SIZE, CFS_ALLOC_ZERO));
	if (!raw)
		return -CFS_ENOMEM;
	int err = cfs_env_dev_read(host, CFS_SB_OFFSET, raw, len);
	if (err) {
		cfs_env_log(host, CFS_LOG_ERR, "cannot read the superblock: error %d", err);
		cfs_env_free(host, raw);
		return err;
	}
	const auto *sb = reinterpret_cast<const cfs_sb *>(raw);
	const uint32_t bsize = from_le32(sb->sb_bsize);
	if (from_le32(sb->sb_header.mh_magic) != CFS_META_MAGIC ||
	    from_le16(sb->sb_header.mh_type) != CFS_BT_SB) {
		cfs_env_log(host, CFS_LOG_ERR, "no clusterfs superblock at byte %u",
			    CFS_SB_OFFSET);
		err = -CFS_EINVAL;
	} else if (from_le16(sb->sb_header.mh_format) != CFS_FORMAT_VERSION) {
		cfs_env_log(host, CFS_LOG_ERR,
			    "unsupported format version %u (this code supports %u)",
			    from_le16(sb->sb_header.mh_format), CFS_FORMAT_VERSION);
		err = -CFS_EOPNOTSUPP;
	} else if (fs_set_geometry(fs, bsize) || bsize > len) {
		cfs_env_log(host, CFS_LOG_ERR, "superblock: invalid block size %u", bsize);
		err = -CFS_EUCLEAN;
	}
	if (!err) {
		VerifyFailure vf{};
		const VerifyCtx ctx{bsize, from_le64(sb->sb_blocks), nullptr};
		err = verify_block(ctx, raw, fs->sb_blkno, CFS_BT_SB, 0, true, &vf);
		if (err)
			log_verify_failure(fs, fs->sb_blkno, CFS_BT_SB, err, vf);
	}
	if (!err) {
		const uint64_t incompat = from_le64(sb->sb_features_incompat);
		const uint64_t ro_compat = from_le64(sb->sb_features_ro_compat);
		if (incompat & ~CFS_FEATURE_INCOMPAT_SUPP) {
			cfs_env_log(host, CFS_LOG_ERR, "unsupported incompatible features 0x%llx",
				    (unsigned long long)(incompat & ~CFS_FEATURE_INCOMPAT_SUPP));
			err = -CFS_EOPNOTSUPP;
		} else if ((ro_compat & ~CFS_FEATURE_RO_COMPAT_SUPP) && ro_only) {
			*ro_only = true;
		}
	}
	if (!err && from_le64(sb->sb_blocks) > dev_size / bsize) {
		cfs_env_log(host, CFS_LOG_ERR,
			    "the device (%llu blocks) is smaller than the filesystem (%llu blocks)",
			    (unsigned long long)(dev_size / bsize),
			    (unsigned long long)from_le64(sb->sb_blocks));
		err = -CFS_EINVAL;
	}
	if (!err)
		err = cfs_env_set_block_size(host, bsize);
	if (!err) {
		__builtin_memcpy(&fs->sb, raw, sizeof(fs->sb));
		fs->blocks = from_le64(sb->sb_blocks);
		__builtin_memcpy(fs->uuid, sb->sb_header.mh_uuid, CFS_UUID_SIZE);
	}
	cfs_env_free(host, raw);
	return err;
}

void fs_close(Fs *fs)
{
	rgrp_table_free(fs);
}

void meta_header_init(const Fs *fs, void *block, uint64_t blkno, uint16_t type, uint64_t owner)
{
	auto *h = static_cast<cfs_meta_header *>(block);
	*h = cfs_meta_header{};
	h->mh_magic = to_le32(CFS_META_MAGIC);
	h->mh_type = to_le16(type);
	h->mh_format = to_le16(CFS_FORMAT_VERSION);
	h->mh_blkno = to_le64(blkno);
	h->mh_owner = to_le64(owner);
	__builtin_memcpy(h->mh_uuid, fs->uuid, CFS_UUID_SIZE);
}

int meta_read(Fs *fs, uint64_t blkno, uint16_t type, uint64_t owner, Buf **out)
{
	*out = nullptr;
	if (blkno <= fs->sb_blkno && type != CFS_BT_SB) {
		cfs_env_log(fs->host, CFS_LOG_ERR, "%s pointer to block %llu, inside the reserved area",
			    block_type_name(type), (unsigned long long)blkno);
		return -CFS_EUCLEAN;
	}
	if (blkno >= fs->blocks) {
		cfs_env_log(fs->host, CFS_LOG_ERR,
			    "%s pointer to block %llu, past the end of the filesystem (%llu blocks)",
			    block_type_name(type), (unsigned long long)blkno,
			    (unsigned long long)fs->blocks);
		return -CFS_EUCLEAN;
	}
	Buf *b;
	int err = cfs_env_buf_read(fs->host, blkno, &b);
	if (err) {
		cfs_env_log(fs->host, CFS_LOG_ERR, "block %llu (%s): read error %d",
			    (unsigned long long)blkno, block_type_name(type), err);
		return err;
	}
	const VerifyCtx ctx = fs->verify_ctx();
	VerifyFailure vf{};
	if (cfs_env_buf_verified(b))
		err = verify_header(ctx, cfs_env_buf_data(b), blkno, type,
				    type == CFS_BT_DI ? blkno : owner, &vf);
	else
		err = verify_block(ctx, cfs_env_buf_data(b), blkno, type, owner, true, &vf);
	if (err) {
		log_verify_failure(fs, blkno, type, err, vf);
		if (!cfs_env_buf_verified(b))
			cfs_env_buf_invalidate(fs->host, b);
		cfs_env_buf_release(fs->host, b);
		return err;
	}
	cfs_env_buf_set_verified(b, 1);
	*out = b;
	return 0;
}

int meta_new(Fs *fs, uint64_t blkno, uint16_t type, uint64_t owner, Buf **out)
{
	*out = nullptr;
	if (blkno <= fs->sb_blkno || blkno >= fs->blocks)
		return -CFS_ERANGE;
	Buf *b;
	int err = cfs_env_buf_get_new(fs->host, blkno, &b);
	if (err)
		return err;
	meta_header_init(fs, cfs_env_buf_data(b), blkno, type, type == CFS_BT_DI ? blkno : owner);
	// Built in memory by lib: trusted; its CRC is set by meta_seal before any write.
	cfs_env_buf_set_verified(b, 1);
	*out = b;
	return 0;
}

void meta_release(Fs *fs, Buf *b)
{
	if (b)
		cfs_env_buf_release(fs->host, b);
}

int meta_seal(Fs *fs, void *block, uint64_t blkno)
{
	const auto *h = static_cast<const cfs_meta_header *>(block);
	const uint16_t type = from_le16(h->mh_type);
	VerifyFailure vf{};
	int err = verify_block(fs->verify_ctx(), block, blkno, type, 0, false, &vf);
	if (err) {
		cfs_env_log(fs->host, CFS_LOG_ERR,
			    "refusing to write block %llu (%s): check %s failed at offset %u",
			    (unsigned long long)blkno, block_type_name(type), vf.check, vf.offset);
		return err;
	}
	block_crc_set(block, fs->bsize);
	return 0;
}

int meta_write(Fs *fs, Buf *b)
{
	int err = meta_seal(fs, cfs_env_buf_data(b), cfs_env_buf_blkno(b));
	if (err)
		return err;
	return cfs_env_buf_write(fs->host, b, 0);
}

int jdata_read(Fs *fs, uint64_t ino, uint64_t off, void *dst, uint32_t len)
{
	Buf *dib;
	int err = meta_read(fs, ino, CFS_BT_DI, ino, &dib);
	if (err)
		return err;
	const auto *di = static_cast<const cfs_dinode *>(cfs_env_buf_data(dib));
	const uint64_t size = from_le64(di->di_size);
	const unsigned height = from_le16(di->di_height);
	const bool jdata = from_le32(di->di_flags) & CFS_DIF_JDATA;
	if (off > size || len > size - off || (height && !jdata)) {
		cfs_env_log(fs->host, CFS_LOG_ERR,
			    "inode %llu: cannot read bytes %llu+%u of a %llu-byte%s file",
			    (unsigned long long)ino, (unsigned long long)off, len,
			    (unsigned long long)size, jdata ? "" : " non-jdata");
		meta_release(fs, dib);
		return -CFS_EUCLEAN;
	}
	auto *out = static_cast<uint8_t *>(dst);
	if (height == 0) {
		__builtin_memcpy(out, static_cast<const uint8_t *>(cfs_env_buf_data(dib)) +
					      CFS_DINODE_SIZE + off, len);
		meta_release(fs, dib);
		return 0;
	}
	while (len) {
		const uint64_t lblock = off / fs->jd_payload;
		const uint32_t in_block = static_cast<uint32_t>(off % fs->jd_payload);
		const uint32_t chunk = len < fs->jd_payload - in_block ? len : fs->jd_payload - in_block;
		// Digits of lblock: path[0] indexes the dinode, path[h-1] the last level.
		uint32_t path[CFS_MAX_HEIGHT];
		uint64_t rest = lblock;
		for (unsigned level = height - 1; level > 0; level--) {
			path[level] = static_cast<uint32_t>(rest % fs->indirect_ptrs);
			rest /= fs->indirect_ptrs;
		}
		if (rest >= fs->dinode_ptrs) {
			err = -CFS_EUCLEAN;
			break;
		}
		path[0] = static_cast<uint32_t>(rest);
		uint64_t ptr = load_le64(static_cast<const uint8_t *>(cfs_env_buf_data(dib)) +
					 CFS_DINODE_SIZE + 8u * path[0]);
		for (unsigned level = 1; level < height && ptr; level++) {
			Buf *ib;
			err = meta_read(fs, ptr, CFS_BT_IN, ino, &ib);
			if (err)
				break;
			ptr = load_le64(static_cast<const uint8_t *>(cfs_env_buf_data(ib)) +
					CFS_META_HEADER_SIZE + 8u * path[level]);
			meta_release(fs, ib);
		}
		if (err)
			break;
		if (!ptr) {
			cfs_env_log(fs->host, CFS_LOG_ERR, "inode %llu: hole at block %llu of a system file",
				    (unsigned long long)ino, (unsigned long long)lblock);
			err = -CFS_EUCLEAN;
			break;
		}
		Buf *jb;
		err = meta_read(fs, ptr, CFS_BT_JD, ino, &jb);
		if (err)
			break;
		__builtin_memcpy(out, static_cast<const uint8_t *>(cfs_env_buf_data(jb)) +
					      CFS_META_HEADER_SIZE + in_block, chunk);
		meta_release(fs, jb);
		out += chunk;
		off += chunk;
		len -= chunk;
	}
	meta_release(fs, dib);
	return err;
}

}  // namespace cfs
