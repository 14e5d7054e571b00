// Offline view of a clusterfs device: see fsimage.h.
#include "fsimage.h"

#include <algorithm>
#include <blkid/blkid.h>
#include <cstdarg>
#include <cstdio>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <unistd.h>
#include <unordered_set>

#include "crc32c.h"
#include "endian.h"
#include "errors.h"

namespace fsck {

using cfs::from_le16;
using cfs::from_le32;
using cfs::from_le64;

namespace {

std::string format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return buf;
}

// What libblkid recognises on the device, for "not a clusterfs filesystem" messages.
std::string probe_other_filesystem(int fd)
{
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return {};
	std::string found;
	if (blkid_probe_set_device(pr, fd, 0, 0) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_enable_partitions(pr, 1);
		const char *type = nullptr;
		if (blkid_do_safeprobe(pr) == 0) {
			if (blkid_probe_lookup_value(pr, "TYPE", &type, nullptr) == 0)
				found = std::string("it contains a ") + type + " filesystem";
			else if (blkid_probe_lookup_value(pr, "PTTYPE", &type, nullptr) == 0)
				found = std::string("it contains a ") + type + " partition table";
		}
	}
	blkid_free_probe(pr);
	return found;
}

uint64_t sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

const char *type_name(uint16_t type)
{
	return cfs::block_type_name(type);
}

bool FsImage::read_block(uint64_t blkno, Block *out) const
{
	out->assign(bsize_, 0);
	if (bsize_ == 0 || blkno >= dev_bytes_ / bsize_)
		return false;
	ssize_t got = pread(fd_, out->data(), bsize_, static_cast<off_t>(blkno * bsize_));
	return got == static_cast<ssize_t>(bsize_);
}

bool FsImage::write_block(uint64_t blkno, const Block &data)
{
	if (!writable_ || data.size() != bsize_ || blkno >= blocks_)
		return false;
	ssize_t put = pwrite(fd_, data.data(), bsize_, static_cast<off_t>(blkno * bsize_));
	return put == static_cast<ssize_t>(bsize_);
}

MetaRead FsImage::read_meta(uint64_t blkno, uint16_t type, uint64_t owner, Block *out) const
{
	MetaRead r;
	if (blkno == 0 || blkno >= blocks_) {
		r.problem = format("block %" PRIu64 " (%s): outside the filesystem (%" PRIu64
		                   " blocks)", blkno, type_name(type), blocks_);
		out->assign(bsize_, 0);
		return r;
	}
	if (!read_block(blkno, out)) {
		r.problem = format("block %" PRIu64 " (%s): read error: %s", blkno, type_name(type),
		                   strerror(errno ? errno : EIO));
		return r;
	}
	r.io_ok = true;
	r.error = cfs::verify_block(verify_ctx(), out->data(), blkno, type, owner, true, &r.failure);
	r.valid = r.error == 0;
	if (!r.valid) {
		const auto *mh = reinterpret_cast<const cfs_meta_header *>(out->data());
		uint16_t found = from_le16(mh->mh_type);
		if (from_le32(mh->mh_magic) != CFS_META_MAGIC)
			r.problem = format("block %" PRIu64 " (%s): not a metadata block (bad magic)",
			                   blkno, type_name(type));
		else if (found != type)
			r.problem = format("block %" PRIu64 " (%s): holds a %s block instead", blkno,
			                   type_name(type), type_name(found));
		else if (r.error == -CFS_EBADMSG)
			r.problem = format("block %" PRIu64 " (%s): CRC mismatch", blkno, type_name(type));
		else
			r.problem = format("block %" PRIu64 " (%s): check '%s' failed at offset %u", blkno,
			                   type_name(type), r.failure.check ? r.failure.check : "?",
			                   r.failure.offset);
	}
	return r;
}

bool FsImage::write_meta(uint64_t blkno, Block *data, std::string *why)
{
	const auto *mh = reinterpret_cast<const cfs_meta_header *>(data->data());
	uint16_t type = from_le16(mh->mh_type);
	cfs::VerifyFailure f{};
	int err = cfs::verify_block(verify_ctx(), data->data(), blkno, type, 0, false, &f);
	if (err) {
		*why = format("repaired block %" PRIu64 " (%s) would still fail check '%s' at offset %u;"
		              " not written", blkno, type_name(type), f.check ? f.check : "?", f.offset);
		return false;
	}
	cfs::block_crc_set(data->data(), bsize_);
	if (!write_block(blkno, *data)) {
		*why = format("writing block %" PRIu64 " failed: %s", blkno,
		              writable_ ? strerror(errno ? errno : EIO) : "opened read-only");
		return false;
	}
	return true;
}

bool FsImage::open_superblock(std::string *why)
{
	off_t end = lseek(fd_, 0, SEEK_END);
	if (end < 0) {
		*why = format("cannot size the device: %s", strerror(errno));
		return false;
	}
	dev_bytes_ = static_cast<uint64_t>(end);
	if (dev_bytes_ < CFS_SB_OFFSET + CFS_MIN_BLOCK_SIZE) {
		*why = format("device is only %" PRIu64 " bytes: too small to hold a clusterfs "
		              "superblock at byte %u", dev_bytes_, CFS_SB_OFFSET);
		return false;
	}
	uint8_t head[CFS_MIN_BLOCK_SIZE];
	if (pread(fd_, head, sizeof head, CFS_SB_OFFSET) != static_cast<ssize_t>(sizeof head)) {
		*why = format("cannot read the superblock at byte %u: %s", CFS_SB_OFFSET,
		              strerror(errno ? errno : EIO));
		return false;
	}
	const auto *raw = reinterpret_cast<const cfs_sb *>(head);
	if (from_le32(raw->sb_header.mh_magic) != CFS_META_MAGIC ||
	    from_le16(raw->sb_header.mh_type) != CFS_BT_SB) {
		std::string other = probe_other_filesystem(fd_);
		*why = format("no clusterfs superblock at byte %u%s%s", CFS_SB_OFFSET,
		              other.empty() ? "" : ": ", other.c_str());
		return false;
	}
	uint32_t bsize = from_le32(raw->sb_bsize);
	if (bsize != 1024 && bsize != 2048 && bsize != 4096) {
		*why = format("superblock: block size %u is not 1024, 2048 or 4096", bsize);
		return false;
	}
	bsize_ = bsize;
	blocks_ = from_le64(raw->sb_blocks);
	Block block;
	if (!read_block(sb_blkno(), &block)) {
		*why = format("cannot read the %u-byte superblock block: %s", bsize,
		              strerror(errno ? errno : EIO));
		return false;
	}
	cfs::VerifyCtx ctx{bsize_, blocks_, nullptr};
	cfs::VerifyFailure f{};
	if (!cfs::block_crc_ok(block.data(), bsize_)) {
		*why = "superblock CRC mismatch: the superblock is damaged";
		return false;
	}
	if (int err = cfs::verify_sb(ctx, block.data(), sb_blkno(), &f); err) {
		*why = format("superblock: check '%s' failed at offset %u", f.check ? f.check : "?",
		              f.offset);
		return false;
	}
	memcpy(&sb_, block.data(), sizeof sb_);
	if (sat_mul(blocks_, bsize_) > dev_bytes_) {
		*why = format("device is %" PRIu64 " bytes but the superblock says %" PRIu64
		              " blocks of %u (%" PRIu64 " bytes): truncated image or wrong device",
		              dev_bytes_, blocks_, bsize_, sat_mul(blocks_, bsize_));
		return false;
	}
	return true;
}

int FsImage::rgrp_index_of(uint64_t blkno) const
{
	size_t lo = 0, hi = rgrps_.size();
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const cfs::Rgrp &rg = rgrps_[mid].rg;
		if (blkno < rg.addr)
			hi = mid;
		else if (blkno >= rg.data0 + rg.data)
			lo = mid + 1;
		else
			return blkno >= rg.data0 ? static_cast<int>(mid) : -1;
	}
	return -1;
}

bool FsImage::load_rgrps(std::string *why)
{
	rgrps_.clear();
	uint64_t ino = from_le64(sb_.sb_rindex_addr);
	uint32_t count = from_le32(sb_.sb_rgrps);
	Block di;
	MetaRead r = read_meta(ino, CFS_BT_DI, ino, &di);
	if (!r.valid) {
		*why = "rindex dinode: " + r.problem;
		return false;
	}
	uint64_t size = from_le64(as_dinode(di)->di_size);
	if (count == 0 || size != uint64_t(count) * sizeof(cfs_rindex)) {
		*why = format("rindex: size %" PRIu64 " does not hold the superblock's %u entries",
		              size, count);
		return false;
	}
	std::vector<uint8_t> bytes;
	if (!read_file(ino, di, 0, size, &bytes, why)) {
		*why = "rindex: " + *why;
		return false;
	}
	uint64_t next_free = sb_blkno() + 1;
	for (uint32_t i = 0; i < count; i++) {
		cfs_rindex e;
		memcpy(&e, bytes.data() + uint64_t(i) * sizeof e, sizeof e);
		RgrpInfo info{};
		info.index = i;
		info.rg.addr = from_le64(e.ri_addr);
		info.rg.data0 = from_le64(e.ri_data0);
		info.rg.length = from_le32(e.ri_length);
		info.rg.data = from_le32(e.ri_data);
		info.rg.bitbytes = from_le32(e.ri_bitbytes);
		const cfs::Rgrp &g = info.rg;
		const char *bad = nullptr;
		if (g.addr < next_free)
			bad = "overlaps the superblock or the previous resource group";
		else if (g.length == 0 || g.data0 != g.addr + g.length)
			bad = "first data block is not right after its header and bitmaps";
		else if (g.data == 0 || g.data0 + g.data > blocks_ || g.data0 + g.data < g.data0)
			bad = "data blocks extend past the end of the filesystem";
		else if (g.bitbytes != (g.data + 3) / 4)
			bad = "bitmap size does not match its data block count";
		else if (g.length != cfs::rgrp_length_for(bsize_, g.data))
			bad = "header + bitmap block count does not match its data block count";
		if (bad) {
			*why = format("rindex entry %u (rgrp at block %" PRIu64 "): %s", i, g.addr, bad);
			rgrps_.clear();
			return false;
		}
		next_free = g.data0 + g.data;

		Block hb;
		MetaRead hr = read_meta(g.addr, CFS_BT_RG, 0, &hb);
		info.header_ok = hr.valid;
		info.header_problem = hr.problem;
		if (hr.io_ok) {
			const auto *h = reinterpret_cast<const cfs_rgrp *>(hb.data());
			info.rg.flags = from_le32(h->rg_flags);
			info.rg.free = from_le32(h->rg_free);
			info.rg.dinodes = from_le32(h->rg_dinodes);
			info.unlinked = from_le32(h->rg_unlinked);
			info.igeneration = from_le64(h->rg_igeneration);
			info.skip = from_le32(h->rg_skip);
			if (hr.valid && (from_le64(h->rg_data0) != g.data0 || from_le32(h->rg_data) != g.data ||
			                 from_le32(h->rg_length) != g.length ||
			                 from_le32(h->rg_bitbytes) != g.bitbytes)) {
				info.header_ok = false;
				info.header_problem = format("rgrp %u at block %" PRIu64
				                             ": header geometry differs from its rindex entry",
				                             i, g.addr);
			}
		}
		rgrps_.push_back(info);
	}
	return true;
}

bool FsImage::load_journals(std::string *why)
{
	journals_.clear();
	uint64_t ino = from_le64(sb_.sb_jindex_addr);
	uint32_t count = from_le32(sb_.sb_journals);
	Block di;
	MetaRead r = read_meta(ino, CFS_BT_DI, ino, &di);
	if (!r.valid) {
		*why = "jindex dinode: " + r.problem;
		return false;
	}
	uint64_t size = from_le64(as_dinode(di)->di_size);
	if (count == 0 || count > CFS_MAX_JOURNALS || size != uint64_t(count) * sizeof(cfs_jindex)) {
		*why = format("jindex: size %" PRIu64 " does not hold the superblock's %u journals",
		              size, count);
		return false;
	}
	std::vector<uint8_t> bytes;
	if (!read_file(ino, di, 0, size, &bytes, why)) {
		*why = "jindex: " + *why;
		return false;
	}
	for (uint32_t i = 0; i < count; i++) {
		cfs_jindex e;
		memcpy(&e, bytes.data() + uint64_t(i) * sizeof e, sizeof e);
		JournalInfo j{};
		j.slot = i;
		j.entry.ji_journal_addr = from_le64(e.ji_journal_addr);
		j.entry.ji_first_block = from_le64(e.ji_first_block);
		j.entry.ji_blocks = from_le64(e.ji_blocks);
		j.entry.ji_statfs_addr = from_le64(e.ji_statfs_addr);
		j.entry.ji_flags = from_le32(e.ji_flags);
		journals_.push_back(j);
	}
	return true;
}

bool FsImage::read_bitmap(const RgrpInfo &rg, std::vector<uint8_t> *bits,
                          std::vector<std::string> *problems) const
{
	bits->assign(rg.rg.bitbytes, 0);
	uint32_t done = 0;
	for (uint32_t i = 0; i < rg.rg.length && done < rg.rg.bitbytes; i++) {
		uint16_t type = i == 0 ? CFS_BT_RG : CFS_BT_RB;
		uint32_t start = i == 0 ? CFS_RG_BITMAP_OFFSET : CFS_RB_BITMAP_OFFSET;
		Block b;
		MetaRead r = read_meta(rg.rg.addr + i, type, 0, &b);
		if (!r.io_ok) {
			problems->push_back(r.problem);
			return false;
		}
		if (!r.valid && i > 0)
			problems->push_back(r.problem);
		uint32_t n = std::min<uint32_t>(bsize_ - start, rg.rg.bitbytes - done);
		memcpy(bits->data() + done, b.data() + start, n);
		done += n;
	}
	return done == rg.rg.bitbytes;
}

bool FsImage::write_bitmap(const RgrpInfo &rg, const std::vector<uint8_t> &bits,
                           std::string *why)
{
	uint32_t done = 0;
	for (uint32_t i = 0; i < rg.rg.length && done < rg.rg.bitbytes; i++) {
		uint32_t start = i == 0 ? CFS_RG_BITMAP_OFFSET : CFS_RB_BITMAP_OFFSET;
		Block b;
		if (!read_block(rg.rg.addr + i, &b)) {
			*why = format("cannot read bitmap block %" PRIu64, rg.rg.addr + i);
			return false;
		}
		uint32_t n = std::min<uint32_t>(bsize_ - start, rg.rg.bitbytes - done);
		Block want = b;
		memcpy(want.data() + start, bits.data() + done, n);
		if (done + n == rg.rg.bitbytes) {
			// The block holding the bitmap's end: no state past rg_data.
			memset(want.data() + start + n, 0, bsize_ - start - n);
			uint32_t tail_bits = (rg.rg.data % CFS_NBBY) * CFS_BIT_SIZE;
			if (tail_bits && n)
				want.data()[start + n - 1] &= static_cast<uint8_t>((1u << tail_bits) - 1);
		}
		if (memcmp(b.data(), want.data(), bsize_) != 0) {
			if (!write_meta(rg.rg.addr + i, &want, why))
				return false;
		}
		done += n;
	}
	return true;
}

void FsImage::walk_tree(uint64_t ino, const Block &dinode,
                        const std::function<bool(const TreeBlock &)> &visit,
                        const std::function<void(const TreeBlock &, const std::string &)> &bad) const
{
	const cfs_dinode *di = as_dinode(dinode);
	unsigned height = from_le16(di->di_height);
	if (height == 0 || height > CFS_MAX_HEIGHT)
		return;
	// span[l]: file blocks mapped by one pointer held at level l-1 (l = 1: dinode's).
	uint64_t span[CFS_MAX_HEIGHT + 2];
	span[height] = 1;
	for (unsigned l = height; l > 1; l--)
		span[l - 1] = sat_mul(span[l], indirect_ptrs());
	std::unordered_set<uint64_t> seen_indirect;
	bool stop = false;

	std::function<void(const uint8_t *, uint32_t, unsigned, uint64_t, uint64_t)> walk;
	walk = [&](const uint8_t *ptrs, uint32_t nptrs, unsigned level, uint64_t parent,
	           uint64_t first_file_block) {
		for (uint32_t i = 0; i < nptrs && !stop; i++) {
			uint64_t p = cfs::load_le64(ptrs + 8 * uint64_t(i));
			if (p == 0)
				continue;
			uint64_t fb = first_file_block + sat_mul(i, span[level]);
			if (fb < first_file_block)
				fb = UINT64_MAX;
			TreeBlock tb{p, level, parent, i, fb};
			if (p >= blocks_ || p <= sb_blkno()) {
				bad(tb, format("pointer %u of block %" PRIu64 " points outside the "
				               "filesystem's data area (block %" PRIu64 ")", i, parent, p));
				continue;
			}
			if (level < height) {
				if (!seen_indirect.insert(p).second) {
					bad(tb, format("indirect block %" PRIu64 " appears twice in the tree", p));
					continue;
				}
				Block ib;
				MetaRead r = read_meta(p, CFS_BT_IN, ino, &ib);
				if (!r.valid) {
					bad(tb, r.problem);
					continue;
				}
				if (!visit(tb)) {
					stop = true;
					return;
				}
				walk(ib.data() + CFS_META_HEADER_SIZE, indirect_ptrs(), level + 1, p, fb);
			} else if (!visit(tb)) {
				stop = true;
				return;
			}
		}
	};
	walk(dinode.data() + CFS_DINODE_SIZE, dinode_ptrs(), 1, ino, 0);
}

uint64_t FsImage::map_block(uint64_t ino, const Block &dinode, uint64_t lblock,
                            std::string *why) const
{
	const cfs_dinode *di = as_dinode(dinode);
	unsigned height = from_le16(di->di_height);
	if (height == 0 || height > CFS_MAX_HEIGHT)
		return 0;
	uint32_t digits[CFS_MAX_HEIGHT];
	uint64_t n = lblock;
	for (unsigned l = height; l > 1; l--) {
		digits[l - 1] = static_cast<uint32_t>(n % indirect_ptrs());
		n /= indirect_ptrs();
	}
	if (n >= dinode_ptrs())
		return 0;  // past what this height maps
	digits[0] = static_cast<uint32_t>(n);
	uint64_t p = cfs::load_le64(dinode.data() + CFS_DINODE_SIZE + 8 * digits[0]);
	for (unsigned l = 1; l < height && p != 0; l++) {
		Block ib;
		MetaRead r = read_meta(p, CFS_BT_IN, ino, &ib);
		if (!r.valid) {
			*why = r.problem;
			return 0;
		}
		p = cfs::load_le64(ib.data() + CFS_META_HEADER_SIZE + 8 * uint64_t(digits[l]));
	}
	if (p >= blocks_) {
		*why = format("inode %" PRIu64 " file block %" PRIu64 " maps outside the filesystem",
		              ino, lblock);
		return 0;
	}
	return p;
}

bool FsImage::read_file(uint64_t ino, const Block &dinode, uint64_t off, uint64_t len,
                        std::vector<uint8_t> *out, std::string *why) const
{
	const cfs_dinode *di = as_dinode(dinode);
	uint64_t size = from_le64(di->di_size);
	out->assign(len, 0);
	if (off > size || len > size - off) {
		*why = format("inode %" PRIu64 ": read of %" PRIu64 " bytes at %" PRIu64
		              " is past its size %" PRIu64, ino, len, off, size);
		return false;
	}
	if (from_le16(di->di_height) == 0) {
		if (off + len > CFS_INLINE_SIZE(bsize_)) {
			*why = format("inode %" PRIu64 ": stuffed but its size %" PRIu64
			              " exceeds the inline area", ino, size);
			return false;
		}
		memcpy(out->data(), dinode.data() + CFS_DINODE_SIZE + off, len);
		return true;
	}
	bool jdata = from_le32(di->di_flags) & CFS_DIF_JDATA;
	uint32_t per_block = jdata ? jd_payload() : bsize_;
	uint32_t skip = jdata ? CFS_META_HEADER_SIZE : 0;
	uint64_t done = 0;
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t lblock = pos / per_block;
		uint32_t in = static_cast<uint32_t>(pos % per_block);
		uint64_t n = std::min<uint64_t>(per_block - in, len - done);
		why->clear();
		uint64_t blk = map_block(ino, dinode, lblock, why);
		if (blk != 0) {
			Block b;
			if (jdata) {
				MetaRead r = read_meta(blk, CFS_BT_JD, ino, &b);
				if (!r.valid) {
					*why = r.problem;
					return false;
				}
			} else if (!read_block(blk, &b)) {
				*why = format("data block %" PRIu64 ": read error", blk);
				return false;
			}
			memcpy(out->data() + done, b.data() + skip + in, n);
		} else if (!why->empty()) {
			return false;
		}
		done += n;
	}
	return true;
}

void FsImage::walk_dirent_area(uint64_t ino, const Block &block, uint64_t blkno, uint32_t start,
                               const Dirent &proto,
                               const std::function<bool(const Dirent &)> &visit,
                               const std::function<void(uint64_t, const std::string &)> &bad,
                               DirWalk *summary, bool *stop) const
{
	cfs::VerifyFailure f{};
	uint32_t used = 0;
	if (cfs::verify_dirents(block.data() + start, bsize_ - start, start, &used, &f) != 0) {
		bad(blkno, format("directory %" PRIu64 ": entries in block %" PRIu64
		                  " are malformed: check '%s' failed at offset %u", ino, blkno,
		                  f.check ? f.check : "?", f.offset));
		return;
	}
	uint32_t prev = kNoPrev;
	for (uint32_t off = start; off + CFS_DIRENT_HEADER_SIZE <= bsize_ && !*stop;) {
		const auto *de = reinterpret_cast<const cfs_dirent *>(block.data() + off);
		uint16_t rec_len = from_le16(de->de_rec_len);
		if (rec_len == 0)
			break;  // verify_dirents rejects this; never loop
		if (from_le64(de->de_inum) != 0) {
			Dirent d = proto;
			d.name.assign(reinterpret_cast<const char *>(block.data() + off + CFS_DIRENT_HEADER_SIZE),
			              std::min<uint32_t>(de->de_name_len, bsize_ - off - CFS_DIRENT_HEADER_SIZE));
			d.ino = from_le64(de->de_inum);
			d.generation = from_le64(de->de_generation);
			d.hash = from_le32(de->de_hash);
			d.type = de->de_type;
			d.block = blkno;
			d.offset = off;
			d.prev_offset = prev;
			summary->entries++;
			if (!visit(d))
				*stop = true;
		}
		prev = off;
		off += rec_len;
	}
}

void FsImage::walk_dir(uint64_t ino, const Block &dinode,
                       const std::function<bool(const Dirent &)> &visit,
                       const std::function<void(uint64_t, const std::string &)> &bad,
                       DirWalk *summary) const
{
	const cfs_dinode *di = as_dinode(dinode);
	uint32_t flags = from_le32(di->di_flags);
	bool stop = false;
	Dirent proto{};
	if (!(flags & CFS_DIF_EXHASH)) {
		if (from_le16(di->di_height) != 0) {
			bad(ino, format("directory %" PRIu64 ": linear but not stuffed (height %u)", ino,
			                from_le16(di->di_height)));
			return;
		}
		proto.slot_first = 0;
		proto.slot_count = 1;
		walk_dirent_area(ino, dinode, ino, CFS_DINODE_SIZE, proto, visit, bad, summary, &stop);
		return;
	}
	uint32_t depth = from_le16(di->di_depth);
	uint64_t size = from_le64(di->di_size);
	if (depth == 0 || depth > CFS_MAX_DEPTH || size != (uint64_t(8) << depth) ||
	    size > blocks_ * jd_payload()) {
		bad(ino, format("directory %" PRIu64 ": hash table depth %u does not match its size %"
		                PRIu64, ino, depth, size));
		return;
	}
	std::vector<uint8_t> table;
	std::string why;
	if (!read_file(ino, dinode, 0, size, &table, &why)) {
		bad(ino, format("directory %" PRIu64 ": hash table unreadable: %s", ino, why.c_str()));
		return;
	}
	if (from_le16(di->di_height) > 0)
		walk_tree(ino, dinode, [&](const TreeBlock &tb) {
			if (tb.level == from_le16(di->di_height))
				summary->table_blocks.push_back(tb.blkno);
			return true;
		}, [](const TreeBlock &, const std::string &) {});
	uint32_t slots = 1u << depth;
	std::unordered_set<uint64_t> seen_leaves;
	proto.depth = depth;
	for (uint32_t slot = 0; slot < slots && !stop;) {
		uint64_t leaf = cfs::load_le64(table.data() + 8 * uint64_t(slot));
		uint32_t run = 1;
		while (slot + run < slots && cfs::load_le64(table.data() + 8 * uint64_t(slot + run)) == leaf)
			run++;
		Block lb;
		MetaRead r = read_meta(leaf, CFS_BT_LF, ino, &lb);
		if (!r.valid) {
			bad(leaf ? leaf : ino, format("directory %" PRIu64 ": hash table slot %u: %s", ino,
			                              slot, r.problem.c_str()));
			slot += run;
			continue;
		}
		uint32_t lf_depth = from_le16(reinterpret_cast<const cfs_leaf *>(lb.data())->lf_depth);
		uint64_t want_run = lf_depth <= depth ? uint64_t(1) << (depth - lf_depth) : 0;
		if (want_run != run || slot % run != 0)
			bad(leaf, format("directory %" PRIu64 ": leaf %" PRIu64 " (depth %u) fills table "
			                 "slots %u..%u, expected %" PRIu64 " aligned slots", ino, leaf,
			                 lf_depth, slot, slot + run - 1, want_run));
		proto.slot_first = slot;
		proto.slot_count = run;
		for (uint64_t blk = leaf; blk != 0 && !stop;) {
			if (!seen_leaves.insert(blk).second) {
				bad(blk, format("directory %" PRIu64 ": leaf %" PRIu64 " is reached twice (from "
				                "two table ranges or a chain loop)", ino, blk));
				break;
			}
			if (blk != leaf) {
				MetaRead cr = read_meta(blk, CFS_BT_LF, ino, &lb);
				if (!cr.valid) {
					bad(blk, format("directory %" PRIu64 ": leaf chain: %s", ino, cr.problem.c_str()));
					break;
				}
			}
			summary->leaves.push_back(blk);
			uint64_t before = summary->entries;
			walk_dirent_area(ino, lb, blk, CFS_LEAF_ENTRIES_OFFSET, proto, visit, bad, summary, &stop);
			const auto *lf = reinterpret_cast<const cfs_leaf *>(lb.data());
			if (!stop && summary->entries - before != from_le32(lf->lf_entries))
				bad(blk, format("directory %" PRIu64 ": leaf %" PRIu64 " says %u entries, holds %"
				                PRIu64, ino, blk, from_le32(lf->lf_entries),
				                summary->entries - before));
			blk = from_le64(lf->lf_next);
		}
		slot += run;
	}
}

std::string hexdump(const uint8_t *data, size_t len)
{
	std::string out;
	char line[128];
	static const uint8_t zero16[16] = {};
	bool starred = false;
	for (size_t off = 0; off < len; off += 16) {
		size_t n = std::min<size_t>(16, len - off);
		// Runs of zero lines collapse into one "*", like hexdump(1).
		if (off > 0 && n == 16 && off + 16 < len && !memcmp(data + off, zero16, 16) &&
		    !memcmp(data + off - 16, zero16, 16)) {
			if (!starred)
				out += "*\n";
			starred = true;
			continue;
		}
		starred = false;
		int p = snprintf(line, sizeof line, "%06zx ", off);
		for (size_t i = 0; i < 16; i++)
			p += i < n ? snprintf(line + p, sizeof line - p, " %02x", data[off + i])
			           : snprintf(line + p, sizeof line - p, "   ");
		p += snprintf(line + p, sizeof line - p, "  |");
		for (size_t i = 0; i < n; i++)
			line[p++] = data[off + i] >= 0x20 && data[off + i] < 0x7f ? char(data[off + i]) : '.';
		line[p++] = '|';
		line[p++] = '\n';
		line[p] = '\0';
		out += line;
	}
	return out;
}

}  // namespace fsck
