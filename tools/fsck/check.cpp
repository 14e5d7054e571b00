// fsck.clusterfs: the passes. docs/fsck.md explains the order; in short:
//   0  superblock, resource-group index and headers, journal index
//   J  journals: find each head with lib; replay dirty ones (lib's replay)
//   1  dinodes: every block the bitmaps call a dinode, plus the system files; verify,
//      walk each pointer tree claiming blocks (second claims are duplicates), read
//      directories; each journal file must map exactly its jindex extent
//   2  directory entries: target valid, type, hash, placement in the hash table,
//      generation, "." and ".."; one parent per directory
//   5  bitmaps and rgrp counts against the claims (before anything allocates)
//   3  connectivity: dinodes not reachable from the root or the master directory go
//      to /lost+found (through lib's inode and directory code)
//   4  link counts, directory parent pointers, block and entry counts
//   S  the statfs file against the rgrp totals
// Bitmaps are repaired before lost+found is populated because lib's allocator trusts
// them; everything lib changes is consistent by construction.
#include "check.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <unistd.h>
#include <cinttypes>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "dir.h"
#include "endian.h"
#include "fsimage.h"
#include "inode.h"
#include "journal.h"
#include "libfs.h"
#include "progress.h"
#include "rgrp.h"
#include "siphash.h"
#include "trans.h"

namespace fsck {
namespace {

using cfs::from_le16;
using cfs::from_le32;
using cfs::from_le64;
using cfs::to_le16;
using cfs::to_le32;
using cfs::to_le64;

constexpr uint32_t kIfmt = 0170000, kIfdir = 0040000, kIfreg = 0100000;
constexpr const char kLostFound[] = "lost+found";

// What pass 1 decided a block is (bitmap state values, so they compare directly).
enum Claim : uint8_t {
	kFree = CFS_BLKST_FREE,
	kUsed = CFS_BLKST_USED,
	kUnlinked = CFS_BLKST_UNLINKED,
	kDinode = CFS_BLKST_DINODE,
};

struct InodeRec {
	uint32_t mode = 0;
	uint32_t nlink = 0;
	uint64_t generation = 0;
	uint64_t parent_field = 0;  // di_parent
	uint64_t blocks_field = 0;  // di_blocks
	uint64_t entries_field = 0; // di_entries
	uint64_t blocks_counted = 1;
	uint64_t entries_counted = 0;
	uint32_t links = 0;          // entries naming it (incl. "." and "..")
	uint64_t dotdot = 0;         // directories: target of ".."
	uint64_t parent_found = 0;   // directories: the directory holding its name entry
	bool is_dir = false;
	bool system = false;         // referenced from the superblock or jindex
	bool jindex_only = false;    // journals and statfs-change files: nlink 1, no entry
	bool reached = false;
	bool dir_reset = false;      // its entries were dropped by a repair
};

struct EntryRef {
	uint64_t dir;
	FsImage::Dirent d;
	bool removed = false;  // by a pass 2 repair
};

std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char *f, ...)
{
	char buf[640];
	va_list ap;
	va_start(ap, f);
	vsnprintf(buf, sizeof buf, f, ap);
	va_end(ap);
	return buf;
}

uint8_t dtype_of_mode(uint32_t mode)
{
	switch (mode & kIfmt) {
	case 0010000: return CFS_DT_FIFO;
	case 0020000: return CFS_DT_CHR;
	case 0040000: return CFS_DT_DIR;
	case 0060000: return CFS_DT_BLK;
	case 0100000: return CFS_DT_REG;
	case 0120000: return CFS_DT_LNK;
	case 0140000: return CFS_DT_SOCK;
	default: return CFS_DT_UNKNOWN;
	}
}

class Checker {
public:
	Checker(const CheckTarget &target, Repairs &repairs, Progress *progress)
		: target_(target), r_(repairs), progress_(progress), img_(target.fd, repairs.may_write())
	{
	}
	void run();

private:
	bool pass0_layout();
	void pass_journals();
	void pass1_dinodes();
	void check_dinode(uint64_t ino, bool system);
	void pass2_entries();
	void pass5_bitmaps();
	void fix_rgrp_header(RgrpInfo &rg, const std::vector<uint8_t> &bits);
	void pass3_connectivity();
	void pass4_counts();
	void pass_statfs();

	bool claim(uint64_t blkno, Claim what, uint64_t owner);
	void zero_pointer(uint64_t ino, const FsImage::TreeBlock &tb);
	void reset_directory(uint64_t ino, uint64_t parent);
	bool remove_entry(const EntryRef &e, const char *why);
	bool patch_entry(const EntryRef &e, const std::function<void(cfs_dirent *)> &change);
	bool update_dinode(uint64_t ino, const std::function<void(cfs_dinode *)> &change);
	void init_header(Block *b, uint64_t blkno, uint16_t type, uint64_t owner);
	void write_area_dirent(uint8_t *p, uint64_t ino, uint64_t gen, const char *name,
	                       uint16_t rec_len, uint8_t type);

	const CheckTarget &target_;
	Repairs &r_;
	Progress *progress_;  // null without -C
	FsImage img_;
	std::vector<uint8_t> claims_;              // per block: Claim
	std::unordered_set<uint64_t> duplicates_;  // blocks claimed twice
	std::unordered_map<uint64_t, InodeRec> inodes_;
	std::vector<EntryRef> entries_;
	std::unordered_set<uint64_t> system_inodes_;
	uint64_t lost_found_ = 0;
	bool bitmaps_trusted_ = true;              // false: pass 5 left a bitmap unrepaired
	std::vector<uint64_t> rebuilt_links_;      // links made by reset_directory
};

void Checker::init_header(Block *b, uint64_t blkno, uint16_t type, uint64_t owner)
{
	auto *mh = reinterpret_cast<cfs_meta_header *>(b->data());
	uint64_t lsn = from_le64(mh->mh_lsn);
	memset(mh, 0, sizeof *mh);
	mh->mh_magic = to_le32(CFS_META_MAGIC);
	mh->mh_type = to_le16(type);
	mh->mh_format = to_le16(CFS_FORMAT_VERSION);
	mh->mh_blkno = to_le64(blkno);
	mh->mh_owner = to_le64(owner);
	mh->mh_lsn = to_le64(lsn);
	memcpy(mh->mh_uuid, img_.uuid(), CFS_UUID_SIZE);
}

bool Checker::update_dinode(uint64_t ino, const std::function<void(cfs_dinode *)> &change)
{
	Block b;
	MetaRead mr = img_.read_meta(ino, CFS_BT_DI, ino, &b);
	if (!mr.valid) {
		r_.repair_failed("%s", mr.problem.c_str());
		return false;
	}
	change(as_dinode(b));
	std::string why;
	if (!img_.write_meta(ino, &b, &why)) {
		r_.repair_failed("%s", why.c_str());
		return false;
	}
	return true;
}

// ---- pass 0 ------------------------------------------------------------------------

bool Checker::pass0_layout()
{
	r_.info(1, "pass 0: superblock, resource groups, journal index");
	// Three steps: the superblock, the rgrp index with every rgrp header, the jindex.
	PassProgress progress(progress_, "0", "superblock, resource groups, journal index", 3);
	std::string why;
	if (!img_.open_superblock(&why)) {
		// A block that carries the superblock magic but fails its checks is damage this
		// version cannot repair (format v1 keeps no backup superblock); anything else
		// means this is not a clusterfs device at all.
		Block raw(CFS_MIN_BLOCK_SIZE);
		bool ours = pread(target_.fd, raw.data(), raw.size(), CFS_SB_OFFSET) ==
		                    static_cast<ssize_t>(raw.size()) &&
		            from_le32(reinterpret_cast<cfs_meta_header *>(raw.data())->mh_magic) ==
		                    CFS_META_MAGIC;
		if (ours && why.find("truncated") == std::string::npos) {
			r_.problem(PreenSafety::kNeedsOperator, "repair the superblock",
			           "%s: %s", target_.name, why.c_str());
			r_.repair_failed("the superblock cannot be rebuilt by this version (format v1 "
			                 "keeps no copy): restore bytes %u to %u of the device from a backup",
			                 CFS_SB_OFFSET, CFS_SB_OFFSET + CFS_MAX_BLOCK_SIZE - 1);
		} else {
			r_.fatal("%s: %s", target_.name, why.c_str());
		}
		return false;
	}
	r_.info(1, "  block size %u, %" PRIu64 " blocks, %u journals, %u rgrps", img_.bsize(),
	        img_.blocks(), from_le32(img_.sb().sb_journals), from_le32(img_.sb().sb_rgrps));
	progress.update(1);
	if (!img_.load_rgrps(&why)) {
		r_.problem(PreenSafety::kNeedsOperator, "rebuild the resource-group index", "%s",
		           why.c_str());
		r_.repair_failed("rebuilding the rindex is not supported by this version: the "
		                 "check stops here");
		return false;
	}
	progress.update(2);
	if (!img_.load_journals(&why)) {
		r_.problem(PreenSafety::kNeedsOperator, "rebuild the journal index", "%s", why.c_str());
		r_.repair_failed("rebuilding the jindex is not supported by this version: the check "
		                 "stops here");
		return false;
	}
	claims_.assign(img_.blocks(), kFree);
	for (uint64_t b = 0; b <= img_.sb_blkno(); b++)
		claims_[b] = kUsed;
	for (const RgrpInfo &rg : img_.rgrps())
		for (uint32_t i = 0; i < rg.rg.length; i++)
			claims_[rg.rg.addr + i] = kUsed;
	return true;
}

// ---- journals ----------------------------------------------------------------------

void Checker::pass_journals()
{
	r_.info(1, "pass J: journals");
	std::string why;
	LibFs lib;
	// /proc/self/fd gives lib its own descriptor on the very same open file.
	std::string path = "/proc/self/fd/" + std::to_string(target_.fd);
	if (!lib.open(path.c_str(), !r_.may_write(), false, &why)) {
		r_.problem(PreenSafety::kNeedsOperator, "check the journals", "journals: %s",
		           why.c_str());
		r_.repair_failed("journals cannot be checked or replayed");
		return;
	}
	bool cluster = !strncmp(img_.sb().sb_lockproto, CFS_LOCKPROTO_CLUSTER, sizeof CFS_LOCKPROTO_CLUSTER);
	PassProgress progress(progress_, "J", "journals", img_.journals().size());
	uint64_t journals_done = 0;
	for (const JournalInfo &j : img_.journals()) {
		progress.update(journals_done++);
		if (j.entry.ji_blocks < 2 || j.entry.ji_blocks > UINT32_MAX ||
		    j.entry.ji_first_block <= img_.sb_blkno() ||
		    j.entry.ji_first_block + j.entry.ji_blocks > img_.blocks()) {
			r_.problem(PreenSafety::kNeedsOperator, "repair the journal index",
			           "journal %u: extent %" PRIu64 "+%" PRIu64 " lies outside the filesystem",
			           j.slot, j.entry.ji_first_block, j.entry.ji_blocks);
			r_.repair_failed("the journal index cannot be rebuilt by this version");
			continue;
		}
		cfs::JournalLoc loc{j.entry.ji_journal_addr, j.entry.ji_first_block,
		                    static_cast<uint32_t>(j.entry.ji_blocks)};
		cfs::JournalHead head{};
		int err = cfs::journal_find_head(lib.fs(), &loc, &head);
		if (err) {
			std::string detail;
			for (const std::string &m : lib.take_messages())
				detail += "; " + m;
			r_.problem(PreenSafety::kNeedsOperator, "reset the journal",
			           "journal %u: head search failed: %s%s", j.slot, strerror(-err),
			           detail.c_str());
			r_.repair_failed("resetting a damaged journal is not supported by this version");
			continue;
		}
		if (head.empty) {
			r_.problem(PreenSafety::kNeedsOperator, "reinitialise the journal",
			           "journal %u: no valid log header anywhere in it", j.slot);
			r_.repair_failed("journal reinitialisation is not supported by this version");
			continue;
		}
		r_.info(2, "  journal %u: head %u sequence %" PRIu64 " %s", j.slot, head.head,
		        head.sequence, head.clean ? "clean" : "dirty");
		if (head.clean)
			continue;
		cfs::ReplayStats dry{};
		err = cfs::journal_replay(lib.fs(), &loc, true, &dry);
		std::string detail;
		for (const std::string &m : lib.take_messages())
			detail += "; " + m;
		if (err) {
			r_.problem(PreenSafety::kNeedsOperator, "replay the journal",
			           "journal %u is dirty and a committed record in it is damaged: %s%s",
			           j.slot, strerror(-err), detail.c_str());
			r_.repair_failed("replay refused: nothing written");
			continue;
		}
		// Unattended (-p), a cluster filesystem's dirty journal is not replayed: its node
		// may be alive and mounted, which only the operator can rule out.
		if (!r_.problem(cluster ? PreenSafety::kNeedsOperator : PreenSafety::kSafe, "replay it",
		                "journal %u is dirty: node slot %u did not unmount cleanly%s; %u "
		                "records, %u blocks to write back", j.slot, j.slot,
		                cluster ? " (or still has the filesystem mounted: make sure it does not)"
		                        : "", dry.records, dry.blocks_replayed))
			continue;
		cfs::ReplayStats stats{};
		err = cfs::journal_replay(lib.fs(), &loc, false, &stats);
		if (err) {
			r_.repair_failed("journal %u replay failed: %s", j.slot, strerror(-err));
			continue;
		}
		r_.repaired();
		r_.info(1, "  journal %u replayed: %u blocks written, %u revoked, %u superseded", j.slot,
		        stats.blocks_replayed, stats.blocks_revoked, stats.blocks_superseded);
	}
	if (!lib.close(&why)) {
		r_.repair_failed("%s", why.c_str());
	}
	// Replay may have rewritten rgrp headers and the index files: read them again.
	if (!img_.load_rgrps(&why) || !img_.load_journals(&why))
		r_.fatal("after journal replay: %s", why.c_str());
}

// ---- pass 1 ------------------------------------------------------------------------

bool Checker::claim(uint64_t blkno, Claim what, uint64_t owner)
{
	if (blkno >= claims_.size())
		return false;
	if (claims_[blkno] != kFree) {
		duplicates_.insert(blkno);
		return false;
	}
	claims_[blkno] = what;
	return true;
}

void Checker::zero_pointer(uint64_t ino, const FsImage::TreeBlock &tb)
{
	if (tb.parent == ino) {
		if (update_dinode(ino, [&](cfs_dinode *di) {
			    cfs::store_le64(reinterpret_cast<uint8_t *>(di) + CFS_DINODE_SIZE + 8 * uint64_t(tb.slot), 0);
		    }))
			r_.repaired();
		return;
	}
	Block b;
	MetaRead mr = img_.read_meta(tb.parent, CFS_BT_IN, ino, &b);
	std::string why;
	if (!mr.valid) {
		r_.repair_failed("%s", mr.problem.c_str());
		return;
	}
	cfs::store_le64(b.data() + CFS_META_HEADER_SIZE + 8 * uint64_t(tb.slot), 0);
	if (img_.write_meta(tb.parent, &b, &why))
		r_.repaired();
	else
		r_.repair_failed("%s", why.c_str());
}

void Checker::write_area_dirent(uint8_t *p, uint64_t ino, uint64_t gen, const char *name,
                                uint16_t rec_len, uint8_t type)
{
	auto *de = reinterpret_cast<cfs_dirent *>(p);
	size_t len = strlen(name);
	memset(p, 0, rec_len);
	de->de_inum = to_le64(ino);
	de->de_generation = to_le64(gen);
	de->de_hash = to_le32(cfs::dir_hash(img_.sb().sb_hash_key, name, len));
	de->de_rec_len = to_le16(rec_len);
	de->de_name_len = static_cast<uint8_t>(len);
	de->de_type = type;
	memcpy(p + CFS_DIRENT_HEADER_SIZE, name, len);
}

// Rewrites a directory whose entries cannot be trusted as an empty linear directory
// ("." and ".."). Blocks it owned become unclaimed (pass 5 frees them); the files it
// named become orphans (pass 3 moves them to lost+found).
void Checker::reset_directory(uint64_t ino, uint64_t parent)
{
	InodeRec &rec = inodes_[ino];
	uint64_t parent_gen = inodes_.count(parent) ? inodes_[parent].generation : 0;
	uint64_t blocks = 1;  // the dinode, plus its xattr block, which pass 1 kept
	bool ok = update_dinode(ino, [&](cfs_dinode *di) {
		blocks = di->di_eattr ? 2 : 1;
		uint8_t *area = reinterpret_cast<uint8_t *>(di) + CFS_DINODE_SIZE;
		uint32_t size = CFS_INLINE_SIZE(img_.bsize());
		memset(area, 0, size);
		uint16_t dot = CFS_DIRENT_SIZE(1);
		write_area_dirent(area, ino, rec.generation, ".", dot, CFS_DT_DIR);
		write_area_dirent(area + dot, parent, parent_gen, "..", static_cast<uint16_t>(size - dot),
		                  CFS_DT_DIR);
		di->di_flags = to_le32(from_le32(di->di_flags) & ~(CFS_DIF_EXHASH | CFS_DIF_JDATA));
		di->di_height = 0;
		di->di_depth = 0;
		di->di_size = to_le64(size);
		di->di_blocks = to_le64(blocks);
		di->di_entries = to_le64(2);
		di->di_parent = to_le64(parent);
	});
	if (ok)
		r_.repaired();
	rec.dir_reset = true;
	// Its new "." and ".." are links; pass 2 adds them (the parent may not be read yet).
	rebuilt_links_.push_back(ino);
	rebuilt_links_.push_back(parent);
	rec.dotdot = parent;
	rec.blocks_counted = blocks;
	rec.blocks_field = blocks;
	rec.entries_counted = 2;
	rec.entries_field = 2;
}

void Checker::check_dinode(uint64_t ino, bool system)
{
	if (inodes_.count(ino))
		return;
	Block b;
	MetaRead mr = img_.read_meta(ino, CFS_BT_DI, ino, &b);
	if (!mr.valid) {
		if (system) {
			r_.problem(PreenSafety::kNeedsOperator, "rebuild it", "system dinode %" PRIu64
			           ": %s", ino, mr.problem.c_str());
			r_.repair_failed("system dinodes cannot be rebuilt by this version");
			claim(ino, kDinode, ino);  // keep its block out of the free space
		} else if (r_.problem(PreenSafety::kNeedsOperator, "clear the dinode",
		                      "dinode %" PRIu64 ": %s", ino, mr.problem.c_str())) {
			r_.repaired();  // unclaimed: pass 5 frees it, pass 2 drops entries to it
		} else {
			claim(ino, kDinode, ino);
		}
		return;
	}
	const cfs_dinode *di = as_dinode(b);
	InodeRec rec;
	rec.mode = from_le32(di->di_mode);
	rec.nlink = from_le32(di->di_nlink);
	rec.generation = from_le64(di->di_generation);
	rec.parent_field = from_le64(di->di_parent);
	rec.blocks_field = from_le64(di->di_blocks);
	rec.entries_field = from_le64(di->di_entries);
	rec.is_dir = (rec.mode & kIfmt) == kIfdir;
	rec.system = system;

	int rgi = img_.rgrp_index_of(ino);
	if (rgi < 0) {
		r_.problem(PreenSafety::kNeedsOperator, "leave it", "dinode %" PRIu64
		           " lies outside every resource group", ino);
		r_.repair_failed("a dinode outside the resource groups cannot be reached by the allocator");
		return;
	}
	if (!claim(ino, kDinode, ino)) {
		r_.problem(PreenSafety::kNeedsOperator, "leave it", "dinode %" PRIu64
		           " is also claimed as a block of another file", ino);
		r_.repair_failed("duplicate block: resolve by hand (clusterfs_tool inode/blk)");
	}
	inodes_[ino] = rec;

	// The pointer tree.
	unsigned height = from_le16(di->di_height);
	bool jdata = from_le32(di->di_flags) & CFS_DIF_JDATA;
	uint64_t tree_blocks = 0, last_fb = 0;
	bool any_data = false;
	std::vector<FsImage::TreeBlock> bad_ptrs;
	std::vector<std::string> bad_why;
	img_.walk_tree(ino, b, [&](const FsImage::TreeBlock &tb) {
		if (!claim(tb.blkno, kUsed, ino)) {
			r_.problem(PreenSafety::kNeedsOperator, "leave it", "inode %" PRIu64 ": block %"
			           PRIu64 " (level %u) is already in use by another file or structure",
			           ino, tb.blkno, tb.level);
			r_.repair_failed("duplicate block: resolve by hand (clusterfs_tool inode/blk)");
			return true;  // counted, but its subtree belongs to the first claimer
		}
		tree_blocks++;
		if (tb.level == height) {
			any_data = true;
			last_fb = std::max(last_fb, tb.file_block);
			if (jdata) {
				Block jb;
				MetaRead jr = img_.read_meta(tb.blkno, CFS_BT_JD, ino, &jb);
				if (!jr.valid) {
					bad_ptrs.push_back(tb);
					bad_why.push_back(jr.problem);
				}
			}
		}
		return true;
	}, [&](const FsImage::TreeBlock &tb, const std::string &why) {
		bad_ptrs.push_back(tb);
		bad_why.push_back(why);
	});
	for (size_t i = 0; i < bad_ptrs.size(); i++) {
		if (r_.problem(PreenSafety::kNeedsOperator, "cut the pointer (the range becomes a hole)",
		               "inode %" PRIu64 ": %s", ino, bad_why[i].c_str())) {
			zero_pointer(ino, bad_ptrs[i]);
			if (bad_ptrs[i].blkno < claims_.size() && claims_[bad_ptrs[i].blkno] == kUsed &&
			    !duplicates_.count(bad_ptrs[i].blkno) && bad_ptrs[i].level == height && jdata) {
				claims_[bad_ptrs[i].blkno] = kFree;
				tree_blocks--;
			}
		}
	}
	inodes_[ino].blocks_counted = 1 + tree_blocks;

	// The xattr block: verified (entries, order, ACL encoding) and counted; a bad one is
	// dropped (di_eattr cleared; pass 5 frees it unless it belongs to another file, pass
	// 4 corrects di_blocks).
	if (uint64_t eattr = from_le64(di->di_eattr)) {
		Block xb;
		MetaRead xr = img_.read_meta(eattr, CFS_BT_EA, ino, &xb);
		std::string why = xr.valid ? std::string() : xr.problem;
		if (why.empty() && !claim(eattr, kUsed, ino))
			why = fmt("block %" PRIu64 " is already in use by another file or structure", eattr);
		if (why.empty()) {
			inodes_[ino].blocks_counted++;
		} else if (r_.problem(PreenSafety::kNeedsOperator,
		                      "drop the xattr block (the file loses its extended attributes)",
		                      "inode %" PRIu64 ": xattr block: %s", ino, why.c_str())) {
			if (update_dinode(ino, [](cfs_dinode *d) { d->di_eattr = 0; }))
				r_.repaired();
		}
	}

	// Size against what the tree maps. A regular file may own zeroed blocks past EOF
	// (fallocate KEEP_SIZE, docs/format.md "Blocks past the end of a regular file");
	// a JDATA file (system files) never has any: its size is the end of its records.
	uint64_t size = from_le64(di->di_size);
	if (any_data && (rec.mode & kIfmt) == kIfreg && jdata) {
		uint64_t per = jdata ? img_.jd_payload() : img_.bsize();
		if (last_fb != UINT64_MAX && size <= last_fb * per &&
		    r_.problem(PreenSafety::kNeedsOperator, "extend the size to cover it",
		               "inode %" PRIu64 ": size %" PRIu64 " but file block %" PRIu64
		               " is mapped", ino, size, last_fb)) {
			uint64_t new_size = (last_fb + 1) * per;
			if (update_dinode(ino, [&](cfs_dinode *d) { d->di_size = to_le64(new_size); }))
				r_.repaired();
		}
	}

	if (!rec.is_dir)
		return;
	FsImage::DirWalk walk;
	std::vector<std::pair<uint64_t, std::string>> dir_problems;
	std::vector<FsImage::Dirent> found;
	img_.walk_dir(ino, b, [&](const FsImage::Dirent &d) {
		found.push_back(d);
		return true;
	}, [&](uint64_t blk, const std::string &why) { dir_problems.emplace_back(blk, why); }, &walk);
	if (!dir_problems.empty()) {
		std::string all;
		for (auto &p : dir_problems)
			all += "\n  " + p.second;
		if (r_.problem(PreenSafety::kNeedsOperator,
		               "empty the directory (its files go to lost+found)",
		               "directory %" PRIu64 " is damaged:%s", ino, all.c_str())) {
			// The tree (hash table) it had is released with it; pass 5 frees it.
			img_.walk_tree(ino, b, [&](const FsImage::TreeBlock &tb) {
				if (!duplicates_.count(tb.blkno) && claims_[tb.blkno] == kUsed)
					claims_[tb.blkno] = kFree;
				return true;
			}, [](const FsImage::TreeBlock &, const std::string &) {});
			uint64_t parent = rec.parent_field;
			reset_directory(ino, parent);
			return;
		}
	}
	for (uint64_t leaf : walk.leaves)
		if (!claim(leaf, kUsed, ino)) {
			r_.problem(PreenSafety::kNeedsOperator, "leave it", "directory %" PRIu64 ": leaf %"
			           PRIu64 " is also in use elsewhere", ino, leaf);
			r_.repair_failed("duplicate block: resolve by hand");
		} else {
			inodes_[ino].blocks_counted++;
		}
	inodes_[ino].entries_counted = walk.entries;
	for (FsImage::Dirent &d : found)
		entries_.push_back({ino, std::move(d)});
}

void Checker::pass1_dinodes()
{
	r_.info(1, "pass 1: dinodes and block trees");
	const cfs_sb &sb = img_.sb();
	uint64_t sys[] = {from_le64(sb.sb_master_addr), from_le64(sb.sb_root_addr),
	                  from_le64(sb.sb_rindex_addr), from_le64(sb.sb_jindex_addr),
	                  from_le64(sb.sb_statfs_addr)};
	for (uint64_t s : sys)
		system_inodes_.insert(s);
	for (const JournalInfo &j : img_.journals()) {
		system_inodes_.insert(j.entry.ji_journal_addr);
		system_inodes_.insert(j.entry.ji_statfs_addr);
	}
	// Units: dinodes checked. Each rgrp's share is its bitmap scan (1) plus the dinodes
	// and unlinked dinodes its header counts; a header that is wrong (pass 5 says so)
	// only makes that group's share move faster or jump at its end.
	auto rgrp_share = [](const RgrpInfo &rg) -> uint64_t {
		return 1 + (rg.header_ok ? uint64_t(rg.rg.dinodes) + rg.unlinked : 0);
	};
	uint64_t dinode_units = 0;
	for (const RgrpInfo &rg : img_.rgrps())
		dinode_units += rgrp_share(rg);
	PassProgress progress(progress_, "1", "dinodes and block trees",
	                      system_inodes_.size() + dinode_units);
	uint64_t done = 0;
	for (uint64_t s : system_inodes_) {
		check_dinode(s, true);
		progress.update(++done);
	}
	for (const JournalInfo &j : img_.journals()) {
		for (uint64_t s : {j.entry.ji_journal_addr, j.entry.ji_statfs_addr})
			if (inodes_.count(s))
				inodes_[s].jindex_only = true;
	}
	// Each journal file must map exactly its jindex extent, block k at first + k: the
	// log writer addresses the extent directly and the allocator trusts the file.
	for (const JournalInfo &j : img_.journals()) {
		uint64_t ino = j.entry.ji_journal_addr;
		Block jb;
		if (!inodes_.count(ino) || !img_.read_meta(ino, CFS_BT_DI, ino, &jb).valid)
			continue;  // reported above
		uint64_t mapped = 0, wrong = 0, first_wrong = 0;
		img_.walk_tree(ino, jb, [&](const FsImage::TreeBlock &tb) {
			if (tb.level != from_le16(as_dinode(jb)->di_height))
				return true;
			mapped++;
			if (tb.blkno != j.entry.ji_first_block + tb.file_block && !wrong++)
				first_wrong = tb.file_block;
			return true;
		}, [](const FsImage::TreeBlock &, const std::string &) {});
		uint64_t size = from_le64(as_dinode(jb)->di_size);
		if (wrong || mapped != j.entry.ji_blocks || size != j.entry.ji_blocks * img_.bsize()) {
			r_.problem(PreenSafety::kNeedsOperator, "leave it",
			           "journal %u (inode %" PRIu64 "): maps %" PRIu64 " blocks (%" PRIu64
			           " misplaced, first at file block %" PRIu64 "), size %" PRIu64
			           "; the jindex says %" PRIu64 " blocks from %" PRIu64, j.slot, ino, mapped,
			           wrong, first_wrong, size, j.entry.ji_blocks, j.entry.ji_first_block);
			r_.repair_failed("rebuilding a journal file is not supported by this version");
		}
	}
	for (const RgrpInfo &rg : img_.rgrps()) {
		uint64_t rgrp_start = done, share = rgrp_share(rg), checked = 0;
		progress.update(rgrp_start);
		done += share;
		std::vector<uint8_t> bits;
		std::vector<std::string> problems;
		if (!img_.read_bitmap(rg, &bits, &problems))
			continue;  // pass 5 reports and rewrites unreadable bitmaps
		for (uint32_t i = cfs::bitmap_find(bits.data(), 0, rg.rg.data, CFS_BLKST_DINODE);
		     i < rg.rg.data;) {
			check_dinode(rg.rg.data0 + i, false);
			progress.update(rgrp_start + std::min(++checked, share - 1));
			i = cfs::bitmap_find(bits.data(), i + 1, rg.rg.data, CFS_BLKST_DINODE);
		}
		for (uint32_t i = cfs::bitmap_find(bits.data(), 0, rg.rg.data, CFS_BLKST_UNLINKED);
		     i < rg.rg.data; i = cfs::bitmap_find(bits.data(), i + 1, rg.rg.data, CFS_BLKST_UNLINKED)) {
			uint64_t ino = rg.rg.data0 + i;
			if (inodes_.count(ino))
				continue;
			// Unlinked while open on a node that is gone: nobody can reach it any more.
			if (r_.problem(PreenSafety::kSafe, "free it", "inode %" PRIu64
			               " was unlinked while open and never freed", ino)) {
				r_.repaired();  // unclaimed: pass 5 frees the dinode and its blocks
				continue;
			}
			check_dinode(ino, false);
			progress.update(rgrp_start + std::min(++checked, share - 1));
			if (claims_[ino] == kDinode)
				claims_[ino] = kUnlinked;
		}
	}
}

// ---- pass 2 ------------------------------------------------------------------------

// Removes an entry in place: merged into the previous record of its chain, or made a
// free record when it is the first. Re-reads the block so earlier removals in the same
// block are taken into account.
bool Checker::remove_entry(const EntryRef &e, const char *why)
{
	bool in_dinode = e.d.block == e.dir;
	Block b;
	MetaRead mr = img_.read_meta(e.d.block, in_dinode ? CFS_BT_DI : CFS_BT_LF, e.dir, &b);
	if (!mr.valid) {
		r_.repair_failed("%s", mr.problem.c_str());
		return false;
	}
	uint32_t start = in_dinode ? CFS_DINODE_SIZE : CFS_LEAF_ENTRIES_OFFSET;
	uint32_t prev = FsImage::kNoPrev;
	for (uint32_t off = start; off + CFS_DIRENT_HEADER_SIZE <= img_.bsize();) {
		auto *de = reinterpret_cast<cfs_dirent *>(b.data() + off);
		uint16_t rec_len = from_le16(de->de_rec_len);
		if (rec_len == 0)
			break;
		if (off == e.d.offset) {
			if (prev == FsImage::kNoPrev) {
				de->de_inum = 0;
				de->de_generation = 0;
				de->de_hash = 0;
				de->de_type = 0;
			} else {
				auto *pd = reinterpret_cast<cfs_dirent *>(b.data() + prev);
				pd->de_rec_len = to_le16(from_le16(pd->de_rec_len) + rec_len);
			}
			if (!in_dinode) {
				auto *lf = reinterpret_cast<cfs_leaf *>(b.data());
				uint32_t n = from_le32(lf->lf_entries);
				lf->lf_entries = to_le32(n ? n - 1 : 0);
			} else {
				// A linear directory's count lives in the same block and must agree
				// with its chain for the dinode to verify.
				cfs_dinode *di = as_dinode(b);
				uint64_t n = from_le64(di->di_entries);
				di->di_entries = to_le64(n ? n - 1 : 0);
				inodes_[e.dir].entries_field = n ? n - 1 : 0;
			}
			std::string werr;
			if (!img_.write_meta(e.d.block, &b, &werr)) {
				r_.repair_failed("%s", werr.c_str());
				return false;
			}
			inodes_[e.dir].entries_counted--;
			return true;
		}
		prev = off;
		off += rec_len;
	}
	r_.repair_failed("entry '%s' (%s) no longer found in block %" PRIu64, e.d.name.c_str(), why,
	                 e.d.block);
	return false;
}

// Changes fields of one entry in place (hash of a linear directory, type, generation):
// nothing moves, so nothing else in the block is affected.
bool Checker::patch_entry(const EntryRef &e, const std::function<void(cfs_dirent *)> &change)
{
	bool in_dinode = e.d.block == e.dir;
	Block b;
	MetaRead mr = img_.read_meta(e.d.block, in_dinode ? CFS_BT_DI : CFS_BT_LF, e.dir, &b);
	if (!mr.valid) {
		r_.repair_failed("%s", mr.problem.c_str());
		return false;
	}
	if (e.d.offset + CFS_DIRENT_HEADER_SIZE > img_.bsize()) {
		r_.repair_failed("entry offset %u outside block %" PRIu64, e.d.offset, e.d.block);
		return false;
	}
	change(reinterpret_cast<cfs_dirent *>(b.data() + e.d.offset));
	std::string why;
	if (!img_.write_meta(e.d.block, &b, &why)) {
		r_.repair_failed("%s", why.c_str());
		return false;
	}
	return true;
}

void Checker::pass2_entries()
{
	r_.info(1, "pass 2: directory entries");
	PassProgress progress(progress_, "2", "directory entries", entries_.size());
	for (uint64_t ino : rebuilt_links_)
		if (inodes_.count(ino))
			inodes_[ino].links++;
	for (size_t i = 0; i < entries_.size(); i++) {
		progress.update(i);
		EntryRef &e = entries_[i];
		if (inodes_[e.dir].dir_reset) {
			e.removed = true;
			continue;
		}
		const char *name = e.d.name.c_str();
		auto it = inodes_.find(e.d.ino);
		std::string problem;
		if (it == inodes_.end() || claims_[e.d.ino] == kFree)
			problem = fmt("directory %" PRIu64 ": entry '%s' points to block %" PRIu64
			              ", which holds no valid dinode", e.dir, name, e.d.ino);
		else if (e.d.hash != cfs::dir_hash(img_.sb().sb_hash_key, name, e.d.name.size()))
			problem = fmt("directory %" PRIu64 ": entry '%s' has hash 0x%08x, its name hashes "
			              "to 0x%08x", e.dir, name, e.d.hash,
			              cfs::dir_hash(img_.sb().sb_hash_key, name, e.d.name.size()));
		else if (e.d.depth > 0 && ((e.d.hash >> (32 - e.d.depth)) < e.d.slot_first ||
		                           (e.d.hash >> (32 - e.d.depth)) >= e.d.slot_first + e.d.slot_count))
			problem = fmt("directory %" PRIu64 ": entry '%s' sits in the leaf of hash slots "
			              "%u..%u, its hash selects slot %u", e.dir, name, e.d.slot_first,
			              e.d.slot_first + e.d.slot_count - 1, e.d.hash >> (32 - e.d.depth));
		else if (!strcmp(name, ".") && e.d.ino != e.dir)
			problem = fmt("directory %" PRIu64 ": '.' points to %" PRIu64 ", not to itself",
			              e.dir, e.d.ino);
		else if (e.d.type != dtype_of_mode(it->second.mode))
			problem = fmt("directory %" PRIu64 ": entry '%s' has type %u, inode %" PRIu64
			              " is of type %u", e.dir, name, e.d.type, e.d.ino,
			              dtype_of_mode(it->second.mode));
		else if (e.d.generation != it->second.generation)
			problem = fmt("directory %" PRIu64 ": entry '%s' records generation %" PRIu64
			              ", inode %" PRIu64 " has %" PRIu64, e.dir, name, e.d.generation,
			              e.d.ino, it->second.generation);
		else if (it->second.is_dir && strcmp(name, ".") && strcmp(name, "..") &&
		         it->second.parent_found != 0)
			problem = fmt("directory %" PRIu64 " has a second name '%s' in directory %" PRIu64
			              " (first in %" PRIu64 ")", e.d.ino, name, e.dir,
			              it->second.parent_found);
		// Fields that do not decide where the entry lives are corrected in place: the
		// dinode is the authority on type and generation, the name on the hash of an
		// entry in a linear directory (where position does not depend on it).
		uint32_t name_hash = cfs::dir_hash(img_.sb().sb_hash_key, name, e.d.name.size());
		bool patchable = it != inodes_.end() && claims_[e.d.ino] != kFree &&
		                 (e.d.hash == name_hash || e.d.depth == 0) &&
		                 (e.d.depth == 0 || ((e.d.hash >> (32 - e.d.depth)) >= e.d.slot_first &&
		                                     (e.d.hash >> (32 - e.d.depth)) < e.d.slot_first + e.d.slot_count)) &&
		                 !(!strcmp(name, ".") && e.d.ino != e.dir) &&
		                 !(it->second.is_dir && strcmp(name, ".") && strcmp(name, "..") &&
		                   it->second.parent_found != 0);
		if (!problem.empty() && patchable) {
			if (r_.problem(PreenSafety::kSafe, "correct the entry", "%s", problem.c_str()) &&
			    patch_entry(e, [&](cfs_dirent *de) {
				    de->de_hash = to_le32(name_hash);
				    de->de_type = dtype_of_mode(it->second.mode);
				    de->de_generation = to_le64(it->second.generation);
			    }))
				r_.repaired();
			problem.clear();
		}
		if (!problem.empty()) {
			if (r_.problem(PreenSafety::kNeedsOperator, "remove the entry", "%s",
			               problem.c_str())) {
				if (remove_entry(e, problem.c_str())) {
					r_.repaired();
					e.removed = true;
					continue;
				}
			}
		}
		if (it == inodes_.end())
			continue;
		it->second.links++;
		if (!strcmp(name, ".."))
			inodes_[e.dir].dotdot = e.d.ino;
		else if (it->second.is_dir && strcmp(name, ".") && it->second.parent_found == 0)
			it->second.parent_found = e.dir;
	}
	// Directories missing "." or "..": repaired by rebuilding them empty would lose
	// entries; report, and let pass 4 fix the link counts that follow from them.
	for (auto &[ino, rec] : inodes_) {
		if (!rec.is_dir || rec.dir_reset)
			continue;
		if (rec.dotdot == 0 &&
		    r_.problem(PreenSafety::kNeedsOperator, "leave it", "directory %" PRIu64
		               " has no '..' entry", ino))
			r_.repair_failed("adding a missing '..' is not supported by this version");
	}
}

// ---- pass 5 ------------------------------------------------------------------------

void Checker::pass5_bitmaps()
{
	r_.info(1, "pass 5: bitmaps and resource-group counts");
	// Units: data blocks whose bitmap state is compared with pass 1's claims.
	uint64_t data_blocks = 0, done = 0;
	for (const RgrpInfo &rg : img_.rgrps())
		data_blocks += rg.rg.data;
	PassProgress progress(progress_, "5", "bitmaps and resource-group counts", data_blocks);
	for (RgrpInfo &rg : img_.rgrps()) {
		uint64_t rgrp_start = done;
		progress.update(rgrp_start);
		done += rg.rg.data;
		std::vector<uint8_t> bits;
		std::vector<std::string> problems;
		bool readable = img_.read_bitmap(rg, &bits, &problems);
		bool rewrite = false;
		for (const std::string &p : problems)
			if (r_.problem(PreenSafety::kNeedsOperator, "rewrite the bitmap block", "rgrp %u: %s",
			               rg.index, p.c_str()))
				rewrite = true;
		if (!readable)
			bits.assign(rg.rg.bitbytes, 0);
		// Compare every data block's state.
		uint64_t marked_free_but_used = 0, leaked = 0, wrong_kind = 0;
		uint64_t first_mfu = 0, first_leak = 0, first_kind = 0;
		std::vector<uint8_t> fixed = bits;
		for (uint32_t i = 0; i < rg.rg.data; i++) {
			if ((i & 4095) == 0)
				progress.update(rgrp_start + i);
			unsigned have = cfs::bitmap_get(bits.data(), i);
			unsigned want = claims_[rg.rg.data0 + i];
			if (have == want)
				continue;
			if (have == CFS_BLKST_FREE) {
				if (!marked_free_but_used++)
					first_mfu = rg.rg.data0 + i;
			} else if (want == CFS_BLKST_FREE) {
				if (!leaked++)
					first_leak = rg.rg.data0 + i;
			} else if (!wrong_kind++) {
				first_kind = rg.rg.data0 + i;
			}
			cfs::bitmap_set(fixed.data(), i, want);
		}
		bool fix_bits = false;
		bool had_bitmap_problem = marked_free_but_used || leaked || wrong_kind || !problems.empty();
		if (marked_free_but_used &&
		    r_.problem(PreenSafety::kSafe, "mark them in use",
		               "rgrp %u (block %" PRIu64 "): %" PRIu64 " blocks in use are marked free "
		               "(first: %" PRIu64 ")", rg.index, rg.rg.addr, marked_free_but_used, first_mfu))
			fix_bits = true;
		if (leaked &&
		    r_.problem(PreenSafety::kSafe, "free them",
		               "rgrp %u (block %" PRIu64 "): %" PRIu64 " blocks marked in use belong to "
		               "nothing (first: %" PRIu64 ")", rg.index, rg.rg.addr, leaked, first_leak))
			fix_bits = true;
		if (wrong_kind &&
		    r_.problem(PreenSafety::kSafe, "correct their state",
		               "rgrp %u (block %" PRIu64 "): %" PRIu64 " blocks have the wrong state "
		               "(dinode vs data; first: %" PRIu64 ")", rg.index, rg.rg.addr, wrong_kind,
		               first_kind))
			fix_bits = true;
		// The bitmap's first part lives in the header block: a header that fails its
		// verifier is rebuilt first (counts from the bitmap as read), or no bitmap repair
		// could be written; its counts are corrected below.
		if ((fix_bits || rewrite) && !rg.header_ok)
			fix_rgrp_header(rg, bits);
		if (fix_bits || rewrite) {
			std::string why;
			if (rewrite) {
				// Rebuild the headers of damaged bitmap blocks before resealing them.
				for (uint32_t k = 1; k < rg.rg.length; k++) {
					Block b;
					if (img_.read_meta(rg.rg.addr + k, CFS_BT_RB, 0, &b).valid)
						continue;
					img_.read_block(rg.rg.addr + k, &b);
					init_header(&b, rg.rg.addr + k, CFS_BT_RB, 0);
					if (!img_.write_meta(rg.rg.addr + k, &b, &why))
						r_.repair_failed("%s", why.c_str());
				}
			}
			std::vector<uint8_t> &use = fix_bits ? fixed : bits;
			if (img_.write_bitmap(rg, use, &why)) {
				if (fix_bits)
					bits = fixed;
				for (int n = (marked_free_but_used > 0) + (leaked > 0) + (wrong_kind > 0); n > 0; n--)
					r_.repaired();
				for (size_t n = 0; rewrite && n < problems.size(); n++)
					r_.repaired();
			} else {
				r_.repair_failed("rgrp %u: %s", rg.index, why.c_str());
				bitmaps_trusted_ = false;
			}
		} else if (had_bitmap_problem) {
			bitmaps_trusted_ = false;
		}

		// Header: counts from the bitmap as it now is, geometry from the rindex.
		fix_rgrp_header(rg, bits);
	}
}

// The resource group's header, checked against the bitmap `bits`: counts corrected, or
// rebuilt from the rindex when it failed its verifier.
void Checker::fix_rgrp_header(RgrpInfo &rg, const std::vector<uint8_t> &bits)
{
	uint32_t counts[4] = {};
	cfs::bitmap_count(bits.data(), rg.rg.data, counts);
	uint32_t want_free = counts[CFS_BLKST_FREE];
	uint32_t want_dinodes = counts[CFS_BLKST_DINODE] + counts[CFS_BLKST_UNLINKED];
	uint32_t want_unlinked = counts[CFS_BLKST_UNLINKED];
	std::string hdr_problem;
	if (!rg.header_ok)
		hdr_problem = rg.header_problem;
	else if (rg.rg.free != want_free || rg.rg.dinodes != want_dinodes ||
	         rg.unlinked != want_unlinked)
		hdr_problem = fmt("rgrp %u (block %" PRIu64 "): header counts free %u, dinodes %u, "
		                  "unlinked %u; the bitmap says %u, %u, %u", rg.index, rg.rg.addr,
		                  rg.rg.free, rg.rg.dinodes, rg.unlinked, want_free, want_dinodes,
		                  want_unlinked);
	if (hdr_problem.empty())
		return;
	PreenSafety safety = rg.header_ok ? PreenSafety::kSafe : PreenSafety::kNeedsOperator;
	if (!r_.problem(safety, rg.header_ok ? "correct the counts" : "rebuild the header", "%s",
	                hdr_problem.c_str()))
		return;
	Block b;
	img_.read_block(rg.rg.addr, &b);
	auto *h = reinterpret_cast<cfs_rgrp *>(b.data());
	if (!rg.header_ok) {
		init_header(&b, rg.rg.addr, CFS_BT_RG, 0);
		bool journal = false;
		for (const JournalInfo &j : img_.journals())
			journal |= j.entry.ji_first_block >= rg.rg.data0 &&
			           j.entry.ji_first_block < rg.rg.data0 + rg.rg.data;
		h->rg_flags = to_le32(journal ? CFS_RGF_JOURNAL : 0);
		h->rg_data0 = to_le64(rg.rg.data0);
		h->rg_data = to_le32(rg.rg.data);
		h->rg_bitbytes = to_le32(rg.rg.bitbytes);
		h->rg_length = to_le32(rg.rg.length);
		size_t next = rg.index + 1;
		h->rg_skip = to_le32(next < img_.rgrps().size()
		                             ? static_cast<uint32_t>(img_.rgrps()[next].rg.addr - rg.rg.addr)
		                             : 0);
		// Past every generation handed out here, so no (inode, generation) repeats.
		uint64_t gen = 1;
		for (auto &[ino, rec] : inodes_)
			if (ino >= rg.rg.data0 && ino < rg.rg.data0 + rg.rg.data)
				gen = std::max(gen, rec.generation + 1);
		h->rg_igeneration = to_le64(std::max<uint64_t>(gen, from_le64(h->rg_igeneration)));
		memset(h->rg_reserved, 0, sizeof h->rg_reserved);
		// The part of the bitmap in this block holds no state past rg_data.
		const uint32_t here = img_.bsize() - CFS_RG_BITMAP_OFFSET;
		if (rg.rg.bitbytes <= here) {
			uint8_t *bm = b.data() + CFS_RG_BITMAP_OFFSET;
			memset(bm + rg.rg.bitbytes, 0, here - rg.rg.bitbytes);
			uint32_t tail_bits = (rg.rg.data % CFS_NBBY) * CFS_BIT_SIZE;
			if (tail_bits && rg.rg.bitbytes)
				bm[rg.rg.bitbytes - 1] &= static_cast<uint8_t>((1u << tail_bits) - 1);
		}
	}
	h->rg_free = to_le32(want_free);
	h->rg_dinodes = to_le32(want_dinodes);
	h->rg_unlinked = to_le32(want_unlinked);
	std::string why;
	if (img_.write_meta(rg.rg.addr, &b, &why)) {
		r_.repaired();
		rg.header_ok = true;
		rg.rg.free = want_free;
		rg.rg.dinodes = want_dinodes;
		rg.unlinked = want_unlinked;
	} else {
		r_.repair_failed("%s", why.c_str());
	}
}

// ---- pass 3 ------------------------------------------------------------------------

void Checker::pass3_connectivity()
{
	r_.info(1, "pass 3: connectivity");
	// Units: dinodes reached by the walk from the root, the master directory and, for
	// orphans, from each orphan moved.
	PassProgress progress(progress_, "3", "connectivity", inodes_.size());
	uint64_t reached = 0;
	// Children of each directory, from the entries that survived pass 2.
	std::unordered_map<uint64_t, std::vector<uint64_t>> children;
	for (const EntryRef &e : entries_) {
		if (e.d.name == "." || e.d.name == ".." || e.removed)
			continue;
		if (inodes_.count(e.d.ino) && claims_[e.d.ino] != kFree)
			children[e.dir].push_back(e.d.ino);
	}
	auto reach_from = [&](uint64_t start) {
		std::deque<uint64_t> queue{start};
		while (!queue.empty()) {
			uint64_t ino = queue.front();
			queue.pop_front();
			auto it = inodes_.find(ino);
			if (it == inodes_.end() || it->second.reached)
				continue;
			it->second.reached = true;
			progress.update(++reached);
			for (uint64_t c : children[ino])
				queue.push_back(c);
		}
	};
	for (uint64_t s : system_inodes_)
		reach_from(s);

	// Orphans: valid dinodes nobody reaches. Only the top of an unreachable subtree is
	// moved (its descendants come with it).
	std::vector<uint64_t> orphans;
	for (auto &[ino, rec] : inodes_)
		if (!rec.reached && claims_[ino] == kDinode)
			orphans.push_back(ino);
	std::sort(orphans.begin(), orphans.end());
	std::vector<uint64_t> tops;
	for (uint64_t ino : orphans) {
		InodeRec &rec = inodes_[ino];
		if (rec.reached)
			continue;
		bool child_of_orphan = rec.parent_found && !inodes_[rec.parent_found].reached &&
		                       rec.parent_found != ino;
		if (child_of_orphan)
			continue;
		tops.push_back(ino);
		reach_from(ino);
	}
	// Orphans that are children of an orphan cycle (a → b → a) have no top: take them.
	for (uint64_t ino : orphans)
		if (!inodes_[ino].reached) {
			tops.push_back(ino);
			reach_from(ino);
		}
	if (tops.empty())
		return;

	std::vector<uint64_t> to_attach;
	for (uint64_t ino : tops)
		if (r_.problem(PreenSafety::kNeedsOperator, "move it to /lost+found",
		               "inode %" PRIu64 " (%s, %u links) is not reachable from the root", ino,
		               inodes_[ino].is_dir ? "directory" : "file", inodes_[ino].nlink))
			to_attach.push_back(ino);
		else
			inodes_[ino].reached = true;  // counted as is; do not also "fix" its links
	if (to_attach.empty())
		return;

	if (!bitmaps_trusted_) {
		// lib's allocator would take blocks the bitmaps wrongly call free.
		for (size_t n = 0; n < to_attach.size(); n++)
			r_.repair_failed("lost+found: the bitmaps were not repaired, so nothing may be "
			                 "allocated");
		return;
	}
	LibFs lib;
	std::string why;
	std::string path = "/proc/self/fd/" + std::to_string(target_.fd);
	if (!lib.open(path.c_str(), false, true, &why)) {
		for (size_t n = 0; n < to_attach.size(); n++)
			r_.repair_failed("lost+found: %s", why.c_str());
		return;
	}
	cfs::Fs *fs = lib.fs();
	uint64_t root = from_le64(img_.sb().sb_root_addr);
	cfs::Inode rootip{};
	if (int err = cfs::inode_get(fs, root, &rootip); err) {
		for (size_t n = 0; n < to_attach.size(); n++)
			r_.repair_failed("root directory unreadable: %s", strerror(-err));
		return;
	}
	auto lib_error = [&](const char *what, int err) {
		std::string s = std::string(what) + ": " + strerror(-err);
		for (const std::string &m : lib.take_messages())
			s += "; " + m;
		return s;
	};
	cfs::DirEntry lf_entry{};
	uint64_t lost_found = 0;
	int err = cfs::dir_lookup(fs, &rootip, kLostFound, sizeof kLostFound - 1, &lf_entry);
	if (err == 0 && lf_entry.type == CFS_DT_DIR) {
		lost_found = lf_entry.ino;
	} else if (err == -CFS_ENOENT) {
		cfs::Trans tr{};
		cfs::Inode lfip{};
		cfs::InodeInit init{};
		init.mode = kIfdir | 0700;
		init.parent = root;
		uint32_t budget = cfs::dir_add_max_bufs(fs, &rootip) + 16;
		err = cfs::trans_begin(fs, nullptr, budget, &tr);
		if (!err)
			err = cfs::inode_alloc(fs, &tr, root, &init, &lfip);
		if (!err) {
			cfs::DirEntry de{lfip.ino, cfs::inode_generation(&lfip), CFS_DT_DIR};
			err = cfs::inode_dirty(&tr, &rootip);
			if (!err)
				err = cfs::dir_add(fs, &tr, &rootip, kLostFound, sizeof kLostFound - 1, &de);
			if (!err)
				cfs::inode_set_nlink(&rootip, cfs::inode_nlink(&rootip) + 1);
			lost_found = lfip.ino;
			cfs::inode_put(fs, &lfip);
		}
		if (!err)
			err = cfs::trans_commit(&tr);
		else
			cfs::trans_cancel(&tr);
		if (err) {
			for (size_t n = 0; n < to_attach.size(); n++)
				r_.repair_failed("%s", lib_error("creating /lost+found", err).c_str());
			cfs::inode_put(fs, &rootip);
			return;
		}
		r_.info(1, "  created /lost+found (inode %" PRIu64 ")", lost_found);
		InodeRec lfrec;
		lfrec.mode = kIfdir | 0700;
		lfrec.is_dir = true;
		lfrec.reached = true;
		lfrec.nlink = 2;
		lfrec.links = 2;  // "." and root's entry; its ".." counts for the root
		lfrec.blocks_counted = lfrec.blocks_field = 1;
		lfrec.entries_counted = lfrec.entries_field = 2;
		lfrec.parent_field = lfrec.parent_found = lfrec.dotdot = root;
		inodes_[lost_found] = lfrec;
		inodes_[root].links++;
		inodes_[root].nlink++;
		inodes_[root].entries_counted++;
		inodes_[root].entries_field++;
	} else {
		for (size_t n = 0; n < to_attach.size(); n++)
			r_.repair_failed("%s", lib_error("/lost+found exists but is not a directory", err ? err : -CFS_ENOTDIR).c_str());
		cfs::inode_put(fs, &rootip);
		return;
	}
	cfs::inode_put(fs, &rootip);

	cfs::Inode lfip{};
	if ((err = cfs::inode_get(fs, lost_found, &lfip)) != 0) {
		for (size_t n = 0; n < to_attach.size(); n++)
			r_.repair_failed("%s", lib_error("reading /lost+found", err).c_str());
		return;
	}
	for (uint64_t ino : to_attach) {
		InodeRec &rec = inodes_[ino];
		std::string name = "#" + std::to_string(ino);
		cfs::DirEntry de{ino, rec.generation, dtype_of_mode(rec.mode)};
		cfs::Trans tr{};
		err = cfs::trans_begin(fs, nullptr, cfs::dir_add_max_bufs(fs, &lfip) + 8, &tr);
		if (!err)
			err = cfs::inode_dirty(&tr, &lfip);
		if (!err)
			err = cfs::dir_add(fs, &tr, &lfip, name.c_str(), static_cast<uint32_t>(name.size()), &de);
		if (!err && rec.is_dir) {
			// Its ".." now names lost+found, which gains a link from it.
			cfs::Inode child{};
			err = cfs::inode_get(fs, ino, &child);
			if (!err) {
				cfs::DirEntry parent{lost_found, cfs::inode_generation(&lfip), CFS_DT_DIR};
				err = cfs::inode_dirty(&tr, &child);
				if (!err)
					err = cfs::dir_replace(fs, &tr, &child, "..", 2, &parent, nullptr);
				if (err == -CFS_ENOENT)
					err = cfs::dir_add(fs, &tr, &child, "..", 2, &parent);
				if (!err)
					cfs::inode_set_parent(&child, lost_found);
				cfs::inode_put(fs, &child);
			}
			if (!err)
				cfs::inode_set_nlink(&lfip, cfs::inode_nlink(&lfip) + 1);
		}
		if (!err)
			err = cfs::trans_commit(&tr);
		else
			cfs::trans_cancel(&tr);
		if (err) {
			r_.repair_failed("%s", lib_error("linking into /lost+found", err).c_str());
			rec.reached = true;
			continue;
		}
		r_.repaired();
		r_.info(1, "  inode %" PRIu64 " is now /lost+found/%s", ino, name.c_str());
		rec.links++;
		rec.reached = true;
		InodeRec &lfrec = inodes_[lost_found];
		lfrec.entries_counted++;
		lfrec.entries_field++;
		if (rec.is_dir) {
			if (rec.dotdot && inodes_.count(rec.dotdot) && rec.dotdot != lost_found)
				inodes_[rec.dotdot].links--;
			if (!rec.dotdot)
				rec.entries_counted++;
			rec.dotdot = lost_found;
			rec.parent_found = lost_found;
			rec.parent_field = lost_found;
			lfrec.links++;
			lfrec.nlink++;
		}
	}
	cfs::inode_put(fs, &lfip);
	if (!lib.close(&why))
		r_.repair_failed("%s", why.c_str());
	// lib allocated blocks (the lost+found dinode, leaves): take the rgrp counts anew.
	img_.load_rgrps(&why);
	lost_found_ = lost_found;
}

// ---- pass 4 ------------------------------------------------------------------------

void Checker::pass4_counts()
{
	r_.info(1, "pass 4: link counts and dinode counters");
	std::vector<uint64_t> inos;
	for (auto &[ino, rec] : inodes_)
		if (claims_[ino] != kFree || ino == lost_found_)
			inos.push_back(ino);
	std::sort(inos.begin(), inos.end());
	PassProgress progress(progress_, "4", "link counts and dinode counters", inos.size());
	uint64_t done = 0;
	for (uint64_t ino : inos) {
		progress.update(done++);
		InodeRec &rec = inodes_[ino];
		uint32_t want_links = rec.jindex_only ? 1 : rec.links;
		if (rec.nlink != want_links &&
		    r_.problem(PreenSafety::kSafe, "set it", "inode %" PRIu64 ": link count %u, "
		               "should be %u", ino, rec.nlink, want_links)) {
			if (update_dinode(ino, [&](cfs_dinode *d) { d->di_nlink = to_le32(want_links); }))
				r_.repaired();
		}
		if (ino == lost_found_)
			continue;  // lib keeps its counters itself
		if (rec.blocks_field != rec.blocks_counted &&
		    r_.problem(PreenSafety::kSafe, "set it", "inode %" PRIu64 ": block count %" PRIu64
		               ", it owns %" PRIu64, ino, rec.blocks_field, rec.blocks_counted)) {
			if (update_dinode(ino, [&](cfs_dinode *d) { d->di_blocks = to_le64(rec.blocks_counted); }))
				r_.repaired();
		}
		if (!rec.is_dir)
			continue;
		if (rec.entries_field != rec.entries_counted &&
		    r_.problem(PreenSafety::kSafe, "set it", "directory %" PRIu64 ": entry count %" PRIu64
		               ", it holds %" PRIu64, ino, rec.entries_field, rec.entries_counted)) {
			if (update_dinode(ino, [&](cfs_dinode *d) { d->di_entries = to_le64(rec.entries_counted); }))
				r_.repaired();
		}
		if (rec.dotdot && rec.parent_field != rec.dotdot &&
		    r_.problem(PreenSafety::kSafe, "set it", "directory %" PRIu64 ": parent field %" PRIu64
		               ", its '..' names %" PRIu64, ino, rec.parent_field, rec.dotdot)) {
			if (update_dinode(ino, [&](cfs_dinode *d) { d->di_parent = to_le64(rec.dotdot); }))
				r_.repaired();
		}
	}
}

// ---- statfs ------------------------------------------------------------------------

void Checker::pass_statfs()
{
	r_.info(1, "pass S: statfs totals");
	// Units: the statfs files read, the global one and each journal's.
	PassProgress progress(progress_, "S", "statfs totals", 1 + img_.journals().size());
	uint64_t total = 0, free_blocks = 0, dinodes = 0;
	for (const RgrpInfo &rg : img_.rgrps()) {
		if (!rg.header_ok) {
			// Its counts are not known; the header problem is reported already.
			r_.info(1, "  statfs not checked: rgrp %u's header is not repaired", rg.index);
			return;
		}
		total += rg.rg.data;
		free_blocks += rg.rg.free;
		dinodes += rg.rg.dinodes;
	}
	uint64_t ino = from_le64(img_.sb().sb_statfs_addr);
	Block b;
	if (!img_.read_meta(ino, CFS_BT_DI, ino, &b).valid)
		return;  // reported in pass 1
	std::vector<uint8_t> rec;
	std::string why;
	if (!img_.read_file(ino, b, 0, sizeof(cfs_statfs), &rec, &why)) {
		r_.problem(PreenSafety::kNeedsOperator, "leave it", "statfs file: %s", why.c_str());
		r_.repair_failed("the statfs file has an unexpected layout");
		return;
	}
	// Deltas the nodes have not folded in yet count towards the global values.
	int64_t dfree = 0, ddinodes = 0;
	uint64_t files_read = 1;
	for (const JournalInfo &j : img_.journals()) {
		progress.update(files_read++);
		Block cb;
		std::vector<uint8_t> crec;
		if (img_.read_meta(j.entry.ji_statfs_addr, CFS_BT_DI, j.entry.ji_statfs_addr, &cb).valid &&
		    img_.read_file(j.entry.ji_statfs_addr, cb, 0, sizeof(cfs_statfs), &crec, &why)) {
			const auto *c = reinterpret_cast<const cfs_statfs *>(crec.data());
			dfree += static_cast<int64_t>(from_le64(c->sf_free));
			ddinodes += static_cast<int64_t>(from_le64(c->sf_dinodes));
		}
	}
	const auto *sf = reinterpret_cast<const cfs_statfs *>(rec.data());
	uint64_t have_total = from_le64(sf->sf_total);
	uint64_t have_free = from_le64(sf->sf_free) + static_cast<uint64_t>(dfree);
	uint64_t have_dinodes = from_le64(sf->sf_dinodes) + static_cast<uint64_t>(ddinodes);
	if (have_total == total && have_free == free_blocks && have_dinodes == dinodes)
		return;
	if (!r_.problem(PreenSafety::kSafe, "correct it",
	                "statfs: total %" PRIu64 ", free %" PRIu64 ", dinodes %" PRIu64
	                " (with node deltas); the resource groups say %" PRIu64 ", %" PRIu64 ", %" PRIu64,
	                have_total, have_free, have_dinodes, total, free_blocks, dinodes))
		return;
	// The global file takes the truth and every node's delta is folded (zeroed).
	if (from_le16(as_dinode(b)->di_height) != 0) {
		r_.repair_failed("statfs file is not stuffed");
		return;
	}
	bool ok = update_dinode(ino, [&](cfs_dinode *d) {
		auto *s = reinterpret_cast<cfs_statfs *>(reinterpret_cast<uint8_t *>(d) + CFS_DINODE_SIZE);
		s->sf_total = to_le64(total);
		s->sf_free = to_le64(free_blocks);
		s->sf_dinodes = to_le64(dinodes);
	});
	for (const JournalInfo &j : img_.journals()) {
		Block cb;
		if (img_.read_meta(j.entry.ji_statfs_addr, CFS_BT_DI, j.entry.ji_statfs_addr, &cb).valid &&
		    from_le16(as_dinode(cb)->di_height) == 0)
			ok &= update_dinode(j.entry.ji_statfs_addr, [&](cfs_dinode *d) {
				auto *s = reinterpret_cast<cfs_statfs *>(reinterpret_cast<uint8_t *>(d) + CFS_DINODE_SIZE);
				s->sf_free = 0;
				s->sf_dinodes = 0;
			});
	}
	if (ok)
		r_.repaired();
}

void Checker::run()
{
	if (!pass0_layout())
		return;
	pass_journals();
	if (r_.had_fatal())
		return;
	pass1_dinodes();
	pass2_entries();
	pass5_bitmaps();
	pass3_connectivity();
	pass4_counts();
	pass_statfs();
}

}  // namespace

void check_filesystem(const CheckTarget &target, Repairs &repairs, Progress *progress)
{
	Checker checker(target, repairs, progress);
	checker.run();
}

}  // namespace fsck
