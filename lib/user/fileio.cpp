// File data I/O for userspace (see fileio.h).
#include "fileio.h"

#include <cstring>
#include <vector>

#include "bmap.h"
#include "trans.h"

namespace cfs::user {

namespace {

int write_blocks(Fs *fs, uint64_t blk, const uint8_t *data, uint32_t count)
{
	std::vector<const void *> ptrs(count);
	for (uint32_t i = 0; i < count; i++)
		ptrs[i] = data + size_t(i) * fs->bsize;
	return cfs_env_log_write(fs->host, blk, ptrs.data(), count, 0);
}

}  // namespace

int file_write(Fs *fs, Trans *tr, Inode *ip, uint64_t off, const void *buf, size_t len)
{
	if (inode_is_dir(ip))
		return -CFS_EISDIR;
	if (len == 0)
		return 0;
	if (off + len < off)
		return -CFS_EFBIG;
	const uint8_t *src = static_cast<const uint8_t *>(buf);
	const uint32_t bs = fs->bsize;
	int err = inode_dirty(tr, ip);
	if (err)
		return err;
	if (inode_height(ip) == 0) {
		if (off + len <= inode_inline_capacity(fs)) {
			err = inode_write_inline(fs, tr, ip, off, src, uint32_t(len));
			if (!err)
				inode_touch(fs, ip, true);
			return err;
		}
		std::vector<uint8_t> first(bs);
		uint64_t blk;
		err = inode_unstuff(fs, tr, ip, first.data(), &blk);
		if (!err && blk)
			err = write_blocks(fs, blk, first.data(), 1);
		if (err)
			return err;
	}
	std::vector<uint8_t> block(bs);
	uint64_t pos = off, end = off + len;
	while (pos < end) {
		uint64_t lblock = pos / bs;
		uint64_t last = (end - 1) / bs;
		BmapExtent ext;
		err = bmap_alloc(fs, tr, ip, lblock, last - lblock + 1, 0, &ext);
		if (err)
			return err;
		for (uint64_t i = 0; i < ext.count && pos < end; i++) {
			uint32_t in = uint32_t(pos % bs);
			uint32_t n = uint32_t(end - pos < bs - in ? end - pos : bs - in);
			if (n < bs) {
				if (ext.fresh)
					std::memset(block.data(), 0, bs);
				else if ((err = cfs_env_blocks_read(fs->host, ext.disk_block + i, block.data(), 1)))
					return err;
			}
			std::memcpy(block.data() + in, src + (pos - off), n);
			err = write_blocks(fs, ext.disk_block + i, block.data(), 1);
			if (err)
				return err;
			pos += n;
		}
	}
	if (end > inode_size(ip))
		inode_set_size(ip, end);
	inode_touch(fs, ip, true);
	return 0;
}

int file_read(Fs *fs, const Inode *ip, uint64_t off, void *buf, size_t len, size_t *got)
{
	*got = 0;
	if (inode_is_dir(ip))
		return -CFS_EISDIR;
	uint64_t size = inode_size(ip);
	if (off >= size)
		return 0;
	if (len > size - off)
		len = size_t(size - off);
	uint8_t *dst = static_cast<uint8_t *>(buf);
	if (inode_height(ip) == 0) {
		int err = inode_read_inline(fs, ip, off, dst, uint32_t(len));
		if (!err)
			*got = len;
		return err;
	}
	const uint32_t bs = fs->bsize;
	std::vector<uint8_t> block(bs);
	uint64_t pos = off, end = off + len;
	while (pos < end) {
		uint64_t lblock = pos / bs;
		BmapExtent ext;
		int err = bmap_lookup(fs, ip, lblock, (end - 1) / bs - lblock + 1, &ext);
		if (err)
			return err;
		for (uint64_t i = 0; i < ext.count && pos < end; i++) {
			uint32_t in = uint32_t(pos % bs);
			uint32_t n = uint32_t(end - pos < bs - in ? end - pos : bs - in);
			if (ext.disk_block == 0) {
				std::memset(dst + (pos - off), 0, n);
			} else {
				err = cfs_env_blocks_read(fs->host, ext.disk_block + i, block.data(), 1);
				if (err)
					return err;
				std::memcpy(dst + (pos - off), block.data() + in, n);
			}
			pos += n;
		}
	}
	*got = len;
	return 0;
}

}  // namespace cfs::user
