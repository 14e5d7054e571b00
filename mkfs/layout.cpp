// Layout planning and writing of an empty clusterfs (see layout.h, docs/format.md).
//
// mkfs builds its few dinodes and two small linear directories directly from format.h
// rather than through lib's inode/dir code: it places every block at a planned address
// (journals contiguous in their own rgrps, system files at the start of the first
// ordinary rgrp) and writes the whole image without a journal or an allocator. Every
// block still passes lib's write verifier (meta_seal) before it is written.
#include "layout.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "endian.h"
#include "env.h"
#include "fs.h"
#include "rgrp.h"
#include "siphash.h"

namespace cfs::mkfs {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint32_t kMinRgrpData = 64;  // a smaller remainder is left as slack

constexpr uint32_t kModeDir = 0040000, kModeReg = 0100000;

// Smallest pointer-tree height mapping n blocks (n >= 1).
unsigned tree_height(uint64_t n, uint32_t p0, uint32_t p1)
{
	unsigned h = 1;
	uint64_t cap = p0;
	while (cap < n) {
		cap = cap > UINT64_MAX / p1 ? UINT64_MAX : cap * p1;
		h++;
	}
	return h;
}

// Indirect blocks per level (index 0 = level 1) of a dense tree of height h over n blocks.
std::vector<uint64_t> level_counts(uint64_t n, unsigned h, uint32_t p1)
{
	std::vector<uint64_t> counts(h > 1 ? h - 1 : 0);
	uint64_t c = n;
	for (unsigned level = h - 1; level >= 1; level--) {
		c = (c + p1 - 1) / p1;
		counts[level - 1] = c;
	}
	return counts;
}

// Hands out blocks from the ordinary rgrps in order, counting them per rgrp.
class Cursor {
public:
	Cursor(Plan *plan, size_t first_rgrp) : plan_(plan), rg_(first_rgrp)
	{
		if (rg_ < plan_->rgrps.size())
			next_ = data0(rg_);
	}
	bool take(unsigned state, uint64_t *blk)
	{
		while (rg_ < plan_->rgrps.size() && next_ >= data0(rg_) + plan_->rgrps[rg_].data) {
			if (++rg_ < plan_->rgrps.size())
				next_ = data0(rg_);
		}
		if (rg_ >= plan_->rgrps.size())
			return false;
		*blk = next_++;
		RgrpPlan &rg = plan_->rgrps[rg_];
		if (state == CFS_BLKST_DINODE)
			rg.dinodes++;
		else
			rg.used++;
		return true;
	}
	uint64_t generation() { return plan_->rgrps[rg_].next_generation++; }

private:
	uint64_t data0(size_t i) const { return plan_->rgrps[i].addr + plan_->rgrps[i].length; }
	Plan *plan_;
	size_t rg_;
	uint64_t next_ = 0;
};

bool new_dinode(Cursor &cur, FilePlan *f, uint32_t mode, uint32_t flags)
{
	// The generation comes from the rgrp the dinode lands in: take the block first.
	if (!cur.take(CFS_BLKST_DINODE, &f->ino))
		return false;
	f->generation = cur.generation();
	f->mode = mode;
	f->flags = flags;
	return true;
}

// Gives a file its data blocks (nblocks of them, from the cursor) and pointer tree.
bool place_blocks(Cursor &cur, FilePlan *f, uint64_t nblocks, uint32_t p0, uint32_t p1)
{
	if (nblocks == 0)
		return true;
	f->height = tree_height(nblocks, p0, p1);
	for (uint64_t count : level_counts(nblocks, f->height, p1)) {
		f->levels.emplace_back();
		for (uint64_t i = 0; i < count; i++) {
			uint64_t b;
			if (!cur.take(CFS_BLKST_USED, &b))
				return false;
			f->levels.back().push_back(b);
		}
	}
	for (uint64_t i = 0; i < nblocks; i++) {
		uint64_t b;
		if (!cur.take(CFS_BLKST_USED, &b))
			return false;
		f->data.push_back(b);
	}
	return true;
}

// A jdata file's content: stuffed when it fits the inline area, else in jdata blocks.
bool place_jdata(Cursor &cur, FilePlan *f, uint32_t bsize)
{
	f->size = f->content.size();
	if (f->size <= CFS_INLINE_SIZE(bsize))
		return true;
	uint64_t nblocks = (f->size + CFS_JD_PAYLOAD(bsize) - 1) / CFS_JD_PAYLOAD(bsize);
	return place_blocks(cur, f, nblocks, CFS_DINODE_PTRS(bsize), CFS_INDIRECT_PTRS(bsize));
}

struct DirEntryPlan {
	const char *name;
	const FilePlan *target;
	uint8_t type;
};

std::vector<uint8_t> linear_dir(const std::vector<DirEntryPlan> &entries, uint32_t area,
				const uint8_t key[16])
{
	std::vector<uint8_t> out(area, 0);
	uint32_t off = 0;
	for (size_t i = 0; i < entries.size(); i++) {
		const auto &e = entries[i];
		const uint32_t len = uint32_t(strlen(e.name));
		const uint32_t rec = i + 1 == entries.size() ? area - off : CFS_DIRENT_SIZE(len);
		cfs_dirent de{};
		de.de_inum = to_le64(e.target->ino);
		de.de_generation = to_le64(e.target->generation);
		de.de_hash = to_le32(dir_hash(key, e.name, len));
		de.de_rec_len = to_le16(uint16_t(rec));
		de.de_name_len = uint8_t(len);
		de.de_type = e.type;
		memcpy(out.data() + off, &de, sizeof(de));
		memcpy(out.data() + off + sizeof(de), e.name, len);
		off += rec;
	}
	return out;
}

template <typename T>
void append_record(std::vector<uint8_t> *content, const T &rec)
{
	const uint8_t *p = reinterpret_cast<const uint8_t *>(&rec);
	content->insert(content->end(), p, p + sizeof(rec));
}

}  // namespace

bool plan(const Params &p, Plan *out, std::string *error)
{
	*out = Plan{};
	Fs geo{};
	if (fs_set_geometry(&geo, p.bsize)) {
		*error = "the block size must be 1024, 2048 or 4096";
		return false;
	}
	const uint32_t bsize = p.bsize;
	if (p.journals < 1 || p.journals > CFS_MAX_JOURNALS) {
		*error = "the number of journals must be 1 to " + std::to_string(CFS_MAX_JOURNALS);
		return false;
	}
	if (const char *why = locktable_problem(p.lockproto.c_str(), p.locktable.c_str())) {
		*error = why;
		return false;
	}
	if (p.locktable.size() >= CFS_LOCKNAME_LEN || p.label.size() >= CFS_LABEL_LEN) {
		*error = "the lock table or the label is too long";
		return false;
	}
	const uint64_t blocks = p.dev_bytes / bsize;
	const uint64_t dev_mb = p.dev_bytes / kMiB;
	out->blocks = blocks;
	out->sb_blkno = CFS_SB_OFFSET / bsize;

	// Journal size: as asked, or 128 MiB shrunk so journals take at most a quarter of
	// a small device.
	uint32_t journal_mb = p.journal_mb;
	if (journal_mb == 0) {
		uint64_t fit = dev_mb / (4ull * p.journals);
		journal_mb = uint32_t(std::min<uint64_t>(CFS_DEFAULT_JOURNAL_MB, fit));
		if (journal_mb < CFS_MIN_JOURNAL_MB)
			journal_mb = CFS_MIN_JOURNAL_MB;
	} else if (journal_mb < CFS_MIN_JOURNAL_MB || journal_mb > CFS_MAX_JOURNAL_MB) {
		*error = "the journal size must be " + std::to_string(CFS_MIN_JOURNAL_MB) + " to " +
			 std::to_string(CFS_MAX_JOURNAL_MB) + " MiB";
		return false;
	}
	if (p.rgrp_mb && (p.rgrp_mb < CFS_MIN_RGRP_MB || p.rgrp_mb > CFS_MAX_RGRP_MB)) {
		*error = "the resource group size must be " + std::to_string(CFS_MIN_RGRP_MB) +
			 " to " + std::to_string(CFS_MAX_RGRP_MB) + " MiB";
		return false;
	}
	out->journal_mb = journal_mb;
	out->journal_blocks = uint32_t(journal_mb * kMiB / bsize);
	const uint32_t jblocks = out->journal_blocks;

	// Journal rgrps: dinode, pointer tree, then the journal extent, exactly filling it.
	const unsigned jheight = tree_height(jblocks, geo.dinode_ptrs, geo.indirect_ptrs);
	uint64_t jind = 0;
	for (uint64_t c : level_counts(jblocks, jheight, geo.indirect_ptrs))
		jind += c;
	const uint32_t jdata = uint32_t(1 + jind + jblocks);
	const uint32_t jlength = rgrp_length_for(bsize, jdata);
	uint64_t next = out->sb_blkno + 1;
	const uint64_t journals_end = next + uint64_t(p.journals) * (jlength + jdata);
	// Room for the journals plus at least one ordinary rgrp of a useful size.
	const uint64_t min_blocks = journals_end + 1024 + kMinRgrpData;
	if (blocks < min_blocks) {
		*error = std::to_string(p.journals) + " journal" + (p.journals > 1 ? "s" : "") +
			 " of " + std::to_string(journal_mb) + " MiB and the metadata need at least " +
			 std::to_string((min_blocks * bsize + kMiB - 1) / kMiB) +
			 " MiB; the device has " + std::to_string(dev_mb) +
			 " MiB: use fewer journals (-j) or smaller ones (-J)";
		return false;
	}
	for (uint32_t j = 0; j < p.journals; j++) {
		out->rgrps.push_back(RgrpPlan{next, jlength, jdata, 0, CFS_RGF_JOURNAL});
		next += jlength + jdata;
	}

	// Ordinary rgrps: as asked, or 256 MiB, smaller when the space left is under 1 GiB
	// so a small filesystem still has several groups to spread allocations over.
	const uint64_t left = blocks - next;
	uint64_t rgrp_blocks;
	if (p.rgrp_mb) {
		rgrp_blocks = p.rgrp_mb * kMiB / bsize;
	} else {
		rgrp_blocks = CFS_DEFAULT_RGRP_MB * kMiB / bsize;
		if (left < 4 * rgrp_blocks)
			rgrp_blocks = std::max<uint64_t>(left / 4, CFS_MIN_RGRP_MB * kMiB / bsize);
	}
	out->rgrp_blocks = uint32_t(rgrp_blocks);
	out->rgrp_mb = uint32_t(rgrp_blocks * bsize / kMiB);
	const size_t first_ordinary = out->rgrps.size();
	while (next < blocks) {
		const uint64_t size = std::min<uint64_t>(rgrp_blocks, blocks - next);
		uint32_t length = 1;
		while (rgrp_length_for(bsize, uint32_t(size - length)) > length)
			length++;
		const uint32_t data = uint32_t(size - length);
		if (data < kMinRgrpData)
			break;
		// length may exceed what `data` needs by one block: keep header+bitmaps exact
		// and leave that block unused before the next rgrp (rg_skip jumps over it).
		const uint32_t exact = rgrp_length_for(bsize, data);
		out->rgrps.push_back(RgrpPlan{next, exact, data, 0, 0});
		next += size;
	}
	out->slack = blocks - std::min(blocks, next);
	if (out->rgrps.size() == first_ordinary) {
		*error = "the device is too small for a resource group after the journals";
		return false;
	}
	for (size_t i = 0; i + 1 < out->rgrps.size(); i++)
		out->rgrps[i].skip = uint32_t(out->rgrps[i + 1].addr - out->rgrps[i].addr);

	// Journal files: one per journal rgrp, laid out dinode | tree | extent.
	for (uint32_t j = 0; j < p.journals; j++) {
		RgrpPlan &rg = out->rgrps[j];
		FilePlan f;
		const uint64_t data0 = rg.addr + rg.length;
		f.ino = data0;
		f.generation = rg.next_generation++;
		f.mode = kModeReg | 0600;
		f.flags = CFS_DIF_SYSTEM;
		f.size = uint64_t(jblocks) * bsize;
		f.height = jheight;
		uint64_t b = data0 + 1;
		for (uint64_t count : level_counts(jblocks, jheight, geo.indirect_ptrs)) {
			f.levels.emplace_back();
			for (uint64_t i = 0; i < count; i++)
				f.levels.back().push_back(b++);
		}
		for (uint32_t i = 0; i < jblocks; i++)
			f.data.push_back(b++);
		rg.dinodes = 1;
		rg.used = rg.data - 1;
		out->journal_files.push_back(std::move(f));
	}

	// System files at the start of the first ordinary rgrp.
	Cursor cur(out, first_ordinary);
	bool ok = new_dinode(cur, &out->master, kModeDir | 0700, CFS_DIF_SYSTEM) &&
		  new_dinode(cur, &out->root, kModeDir | 0755, 0) &&
		  new_dinode(cur, &out->jindex, kModeReg | 0600, CFS_DIF_SYSTEM | CFS_DIF_JDATA) &&
		  new_dinode(cur, &out->rindex, kModeReg | 0600, CFS_DIF_SYSTEM | CFS_DIF_JDATA) &&
		  new_dinode(cur, &out->statfs, kModeReg | 0600, CFS_DIF_SYSTEM | CFS_DIF_JDATA);
	for (uint32_t j = 0; ok && j < p.journals; j++) {
		FilePlan f;
		ok = new_dinode(cur, &f, kModeReg | 0600, CFS_DIF_SYSTEM | CFS_DIF_JDATA);
		f.content.assign(sizeof(cfs_statfs), 0);
		f.size = f.content.size();
		out->statfs_change.push_back(std::move(f));
	}
	for (uint32_t j = 0; ok && j < p.journals; j++) {
		cfs_jindex ji{};
		const FilePlan &jf = out->journal_files[j];
		ji.ji_journal_addr = to_le64(jf.ino);
		ji.ji_first_block = to_le64(jf.data.front());
		ji.ji_blocks = to_le64(jblocks);
		ji.ji_statfs_addr = to_le64(out->statfs_change[j].ino);
		append_record(&out->jindex.content, ji);
	}
	for (const RgrpPlan &rg : out->rgrps) {
		cfs_rindex ri{};
		ri.ri_addr = to_le64(rg.addr);
		ri.ri_data0 = to_le64(rg.addr + rg.length);
		ri.ri_length = to_le32(rg.length);
		ri.ri_data = to_le32(rg.data);
		ri.ri_bitbytes = to_le32((rg.data + CFS_NBBY - 1) / CFS_NBBY);
		append_record(&out->rindex.content, ri);
	}
	ok = ok && place_jdata(cur, &out->jindex, bsize) && place_jdata(cur, &out->rindex, bsize);
	if (!ok) {
		*error = "the device is too small for the system files";
		return false;
	}
	out->root.nlink = out->master.nlink = 2;
	out->root.parent = out->root.ino;
	out->master.parent = out->master.ino;
	out->root.content = linear_dir({{".", &out->root, CFS_DT_DIR}, {"..", &out->root, CFS_DT_DIR}},
				       CFS_INLINE_SIZE(bsize), p.hash_key);
	out->master.content = linear_dir({{".", &out->master, CFS_DT_DIR},
					  {"..", &out->master, CFS_DT_DIR},
					  {CFS_MASTER_JINDEX, &out->jindex, CFS_DT_REG},
					  {CFS_MASTER_RINDEX, &out->rindex, CFS_DT_REG},
					  {CFS_MASTER_STATFS, &out->statfs, CFS_DT_REG}},
					 CFS_INLINE_SIZE(bsize), p.hash_key);
	out->root.size = out->master.size = CFS_INLINE_SIZE(bsize);

	for (const RgrpPlan &rg : out->rgrps) {
		out->total_data += rg.data;
		out->free_data += rg.data - rg.used - rg.dinodes;
		out->dinodes += rg.dinodes;
	}
	cfs_statfs sf{};
	sf.sf_total = to_le64(out->total_data);
	sf.sf_free = to_le64(out->free_data);
	sf.sf_dinodes = to_le64(out->dinodes);
	append_record(&out->statfs.content, sf);
	out->statfs.size = out->statfs.content.size();
	return true;
}

namespace {

// Block images keyed by block number, written in contiguous runs.
class ImageWriter {
public:
	ImageWriter(Fs *fs) : fs_(fs) {}
	uint8_t *block(uint64_t blkno)
	{
		auto &v = blocks_[blkno];
		v.assign(fs_->bsize, 0);
		return v.data();
	}
	int seal_and_write(std::string *error)
	{
		for (auto &[blkno, data] : blocks_) {
			int err = meta_seal(fs_, data.data(), blkno);
			if (err) {
				*error = "internal error: block " + std::to_string(blkno) +
					 " failed lib's write verifier";
				return err;
			}
		}
		auto it = blocks_.begin();
		while (it != blocks_.end()) {
			std::vector<const void *> run;
			uint64_t start = it->first;
			while (it != blocks_.end() && it->first == start + run.size() && run.size() < 256) {
				run.push_back(it->second.data());
				++it;
			}
			int err = cfs_env_log_write(fs_->host, start, run.data(), unsigned(run.size()), 0);
			if (err) {
				*error = "write error at block " + std::to_string(start) + ": " +
					 strerror(-err);
				return err;
			}
		}
		blocks_.clear();
		return 0;
	}

private:
	Fs *fs_;
	std::map<uint64_t, std::vector<uint8_t>> blocks_;
};

void fill_dinode(Fs *fs, const Params &p, const FilePlan &f, uint8_t *blk)
{
	meta_header_init(fs, blk, f.ino, CFS_BT_DI, f.ino);
	auto *di = reinterpret_cast<cfs_dinode *>(blk);
	di->di_mode = to_le32(f.mode);
	di->di_nlink = to_le32(f.nlink);
	di->di_size = to_le64(f.size);
	uint64_t owned = 1 + f.data.size();
	for (const auto &level : f.levels)
		owned += level.size();
	di->di_blocks = to_le64(owned);
	for (cfs_le64 *t : {&di->di_atime, &di->di_mtime, &di->di_ctime, &di->di_crtime})
		*t = to_le64(uint64_t(p.now_sec));
	for (cfs_le32 *t : {&di->di_atime_nsec, &di->di_mtime_nsec, &di->di_ctime_nsec,
			    &di->di_crtime_nsec})
		*t = to_le32(p.now_nsec);
	di->di_generation = to_le64(f.generation);
	di->di_flags = to_le32(f.flags);
	di->di_height = to_le16(uint16_t(f.height));
	if ((f.mode & 0170000) == kModeDir) {
		di->di_parent = to_le64(f.parent);
		uint64_t entries = 0;
		for (uint32_t off = 0; off < f.content.size();) {
			cfs_dirent de;
			memcpy(&de, f.content.data() + off, sizeof(de));
			entries += de.de_inum != 0;
			off += from_le16(de.de_rec_len);
		}
		di->di_entries = to_le64(entries);
	}
	if (!f.data.empty()) {
		di->di_goal_data = to_le64(f.data.back());
		if (!f.levels.empty())
			di->di_goal_meta = to_le64(f.levels.back().back());
	}
	uint8_t *area = blk + CFS_DINODE_SIZE;
	if (f.height == 0) {
		memcpy(area, f.content.data(), f.content.size());
		return;
	}
	const std::vector<uint64_t> &top = f.height == 1 ? f.data : f.levels.front();
	for (size_t i = 0; i < top.size(); i++)
		store_le64(area + 8 * i, top[i]);
}

void add_file(Fs *fs, ImageWriter &w, const Params &p, const FilePlan &f, bool jdata_blocks)
{
	fill_dinode(fs, p, f, w.block(f.ino));
	const uint32_t per = fs->indirect_ptrs;
	for (size_t level = 0; level < f.levels.size(); level++) {
		const std::vector<uint64_t> &below =
			level + 1 < f.levels.size() ? f.levels[level + 1] : f.data;
		for (size_t i = 0; i < f.levels[level].size(); i++) {
			uint8_t *blk = w.block(f.levels[level][i]);
			meta_header_init(fs, blk, f.levels[level][i], CFS_BT_IN, f.ino);
			for (size_t k = 0; k < per && i * per + k < below.size(); k++)
				store_le64(blk + CFS_META_HEADER_SIZE + 8 * k, below[i * per + k]);
		}
	}
	if (!jdata_blocks)
		return;
	for (size_t i = 0; i < f.data.size(); i++) {
		uint8_t *blk = w.block(f.data[i]);
		meta_header_init(fs, blk, f.data[i], CFS_BT_JD, f.ino);
		const size_t off = i * fs->jd_payload;
		const size_t n = std::min<size_t>(fs->jd_payload, f.content.size() - off);
		memcpy(blk + CFS_META_HEADER_SIZE, f.content.data() + off, n);
	}
}

// The state of every data block of one rgrp, from the plan.
std::vector<uint8_t> rgrp_bitmap(const RgrpPlan &rg,
				 const std::vector<std::pair<uint64_t, unsigned>> &states)
{
	std::vector<uint8_t> bm((rg.data + CFS_NBBY - 1) / CFS_NBBY, 0);
	const uint64_t data0 = rg.addr + rg.length;
	if (rg.flags & CFS_RGF_JOURNAL) {
		bitmap_set(bm.data(), 0, CFS_BLKST_DINODE);
		for (uint32_t i = 1; i < rg.data; i++)
			bitmap_set(bm.data(), i, CFS_BLKST_USED);
		return bm;
	}
	auto it = std::lower_bound(states.begin(), states.end(), std::make_pair(data0, 0u));
	for (; it != states.end() && it->first < data0 + rg.data; ++it)
		bitmap_set(bm.data(), uint32_t(it->first - data0), it->second);
	return bm;
}

}  // namespace

int write(cfs_host *host, const Params &p, const Plan &plan, std::string *error)
{
	Fs fs{};
	fs.host = host;
	fs_set_geometry(&fs, p.bsize);
	fs.blocks = plan.blocks;
	memcpy(fs.uuid, p.uuid, sizeof(fs.uuid));
	int err = cfs_env_set_block_size(host, p.bsize);
	if (err) {
		*error = "cannot use block size " + std::to_string(p.bsize);
		return err;
	}

	// 1. No valid superblock while the rest is being written.
	std::vector<uint8_t> zero(p.bsize, 0);
	const void *zp = zero.data();
	err = cfs_env_log_write(host, plan.sb_blkno, &zp, 1, 0);
	if (err) {
		*error = std::string("cannot write the superblock area: ") + strerror(-err);
		return err;
	}

	// 2. Every block state that is not implied (system files in ordinary rgrps).
	std::vector<std::pair<uint64_t, unsigned>> states;
	auto note = [&](const FilePlan &f) {
		states.emplace_back(f.ino, CFS_BLKST_DINODE);
		for (const auto &level : f.levels)
			for (uint64_t b : level)
				states.emplace_back(b, CFS_BLKST_USED);
		for (uint64_t b : f.data)
			states.emplace_back(b, CFS_BLKST_USED);
	};
	for (const FilePlan *f : {&plan.master, &plan.root, &plan.jindex, &plan.rindex, &plan.statfs})
		note(*f);
	for (const FilePlan &f : plan.statfs_change)
		note(f);
	std::sort(states.begin(), states.end());

	// 3. Resource groups: header and bitmap blocks, one vectored write per rgrp.
	for (size_t r = 0; r < plan.rgrps.size(); r++) {
		const RgrpPlan &rg = plan.rgrps[r];
		std::vector<uint8_t> bm = rgrp_bitmap(rg, states);
		uint32_t counts[4];
		bitmap_count(bm.data(), rg.data, counts);
		std::vector<std::vector<uint8_t>> blks(rg.length, std::vector<uint8_t>(p.bsize, 0));
		meta_header_init(&fs, blks[0].data(), rg.addr, CFS_BT_RG, 0);
		auto *h = reinterpret_cast<cfs_rgrp *>(blks[0].data());
		h->rg_flags = to_le32(rg.flags);
		h->rg_free = to_le32(counts[CFS_BLKST_FREE]);
		h->rg_dinodes = to_le32(counts[CFS_BLKST_DINODE] + counts[CFS_BLKST_UNLINKED]);
		h->rg_unlinked = to_le32(counts[CFS_BLKST_UNLINKED]);
		h->rg_igeneration = to_le64(rg.next_generation);
		h->rg_data0 = to_le64(rg.addr + rg.length);
		h->rg_data = to_le32(rg.data);
		h->rg_bitbytes = to_le32(uint32_t(bm.size()));
		h->rg_length = to_le32(rg.length);
		h->rg_skip = to_le32(rg.skip);
		for (uint32_t k = 1; k < rg.length; k++)
			meta_header_init(&fs, blks[k].data(), rg.addr + k, CFS_BT_RB, 0);
		for (uint32_t byte = 0; byte < bm.size(); byte++) {
			uint32_t blk, off;
			rgrp_bitmap_locate(p.bsize, byte, &blk, &off);
			blks[blk][off] = bm[byte];
		}
		std::vector<const void *> ptrs;
		for (uint32_t k = 0; k < rg.length; k++) {
			err = meta_seal(&fs, blks[k].data(), rg.addr + k);
			if (err) {
				*error = "internal error: rgrp block " + std::to_string(rg.addr + k) +
					 " failed lib's write verifier";
				return err;
			}
			ptrs.push_back(blks[k].data());
		}
		err = cfs_env_log_write(host, rg.addr, ptrs.data(), rg.length, 0);
		if (err) {
			*error = "write error in the resource group at block " + std::to_string(rg.addr) +
				 ": " + strerror(-err);
			return err;
		}
	}

	// 4. System files and the first log header of every journal.
	ImageWriter w(&fs);
	add_file(&fs, w, p, plan.master, false);
	add_file(&fs, w, p, plan.root, false);
	add_file(&fs, w, p, plan.jindex, true);
	add_file(&fs, w, p, plan.rindex, true);
	add_file(&fs, w, p, plan.statfs, true);
	for (const FilePlan &f : plan.statfs_change)
		add_file(&fs, w, p, f, true);
	for (const FilePlan &f : plan.journal_files) {
		add_file(&fs, w, p, f, false);
		uint8_t *blk = w.block(f.data.front());
		meta_header_init(&fs, blk, f.data.front(), CFS_BT_LH, f.ino);
		auto *lh = reinterpret_cast<cfs_log_header *>(blk);
		lh->lh_sequence = to_le64(1);
		lh->lh_flags = to_le32(CFS_LH_UNMOUNT);
		lh->lh_tail = to_le32(0);
		lh->lh_blkno = to_le32(0);
		lh->lh_sec = to_le64(uint64_t(p.now_sec));
		lh->lh_nsec = to_le32(p.now_nsec);
	}
	err = w.seal_and_write(error);
	if (err)
		return err;
	err = cfs_env_sync(host);
	if (err) {
		*error = std::string("cannot flush the device: ") + strerror(-err);
		return err;
	}

	// 5. The superblock, last.
	std::vector<uint8_t> sbblk(p.bsize, 0);
	meta_header_init(&fs, sbblk.data(), plan.sb_blkno, CFS_BT_SB, 0);
	auto *sb = reinterpret_cast<cfs_sb *>(sbblk.data());
	sb->sb_bsize = to_le32(p.bsize);
	sb->sb_bsize_shift = to_le32(fs.bsize_shift);
	sb->sb_blocks = to_le64(plan.blocks);
	sb->sb_master_addr = to_le64(plan.master.ino);
	sb->sb_root_addr = to_le64(plan.root.ino);
	sb->sb_rindex_addr = to_le64(plan.rindex.ino);
	sb->sb_jindex_addr = to_le64(plan.jindex.ino);
	sb->sb_statfs_addr = to_le64(plan.statfs.ino);
	sb->sb_journals = to_le32(p.journals);
	sb->sb_rgrps = to_le32(uint32_t(plan.rgrps.size()));
	sb->sb_rgrp_blocks = to_le32(plan.rgrp_blocks);
	sb->sb_mkfs_time = to_le64(uint64_t(p.now_sec));
	memcpy(sb->sb_hash_key, p.hash_key, sizeof(sb->sb_hash_key));
	memcpy(sb->sb_lockproto, p.lockproto.data(), p.lockproto.size());
	memcpy(sb->sb_locktable, p.locktable.data(), p.locktable.size());
	memcpy(sb->sb_label, p.label.data(), p.label.size());
	err = meta_seal(&fs, sbblk.data(), plan.sb_blkno);
	if (err) {
		*error = "internal error: the superblock failed lib's write verifier";
		return err;
	}
	const void *sp = sbblk.data();
	err = cfs_env_log_write(host, plan.sb_blkno, &sp, 1, CFS_IO_PREFLUSH | CFS_IO_FUA);
	if (!err)
		err = cfs_env_sync(host);
	if (err)
		*error = std::string("cannot write the superblock: ") + strerror(-err);
	return err;
}

}  // namespace cfs::mkfs
