// cfs_populate IMAGE [--files N] [--per-dir M] [--xattrs] [--mixed] [--name NAME] [--seed S]
//
// Fills an unmounted clusterfs image through lib (the same code the kernel runs), for
// the fsck round-trip tests and the fsck benchmark:
//   --files N    N empty regular files spread over directories of M entries each
//                (default M = 1000, so directories are hashed and split many times)
//   --xattrs     give each of those files a user.* xattr, every third one an ACL too
//   --mixed      also: files of many sizes (inline, one block, multi-level trees,
//                sparse with holes), symlinks, fifos, device nodes, a deep directory
//                chain, one directory of 3000 entries, and extended attributes
//                (user, trusted, an ACL) on the file "xattrs" and on "bigdir"
//   --name NAME  also an empty regular file /NAME (any bytes: non-ASCII names)
//   --crash-journaled SLOT NAME
//                last: create /NAME through journal SLOT, flush the log record and
//                stop as a crashed node would, before anything is written in place
//                (the journal is left dirty; replay must bring NAME in)
// Writes without a journal (as mkfs does) and leaves the statfs file equal to the
// resource-group totals, as a clean unmount would: fsck must find nothing to fix.
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dir.h"
#include "fs.h"
#include "inode.h"
#include "journal.h"
#include "rgrp.h"
#include "trans.h"
#include "xattr.h"
#include "user/fileio.h"
#include "user/host.h"

namespace {

cfs::Fs g_fs;
cfs::Journal *g_journal = nullptr;  // non-null: transactions go through this journal
uint32_t g_trans_bufs = 4096;

[[noreturn]] void die(const char *what, int err)
{
	fprintf(stderr, "cfs_populate: %s: %s\n", what, strerror(-err));
	exit(1);
}

void check(const char *what, int err)
{
	if (err)
		die(what, err);
}

// Creates `name` in directory `dir` with `mode`; returns its inode number.
uint64_t create(uint64_t dir, const std::string &name, uint32_t mode, uint32_t rdev_major = 0,
                uint32_t rdev_minor = 0)
{
	cfs::Trans tr{};
	check("trans_begin", cfs::trans_begin(&g_fs, g_journal, g_trans_bufs, &tr));
	cfs::Inode dip{}, ip{};
	check("inode_get(dir)", cfs::inode_get(&g_fs, dir, &dip));
	cfs::InodeInit init{};
	init.mode = mode;
	init.nlink = 1;
	init.parent = dir;
	init.rdev_major = rdev_major;
	init.rdev_minor = rdev_minor;
	check(("inode_alloc " + name).c_str(), cfs::inode_alloc(&g_fs, &tr, dir, &init, &ip));
	cfs::DirEntry de{ip.ino, cfs::inode_generation(&ip), cfs::dir_type_of_mode(mode)};
	check("inode_dirty(dir)", cfs::inode_dirty(&tr, &dip));
	check(("dir_add " + name).c_str(),
	      cfs::dir_add(&g_fs, &tr, &dip, name.data(), static_cast<uint32_t>(name.size()), &de));
	if ((mode & 0170000) == 0040000)
		cfs::inode_set_nlink(&dip, cfs::inode_nlink(&dip) + 1);
	uint64_t ino = ip.ino;
	cfs::inode_put(&g_fs, &ip);
	cfs::inode_put(&g_fs, &dip);
	check("trans_commit", cfs::trans_commit(&tr));
	return ino;
}

void write_file(uint64_t ino, uint64_t off, size_t len, uint8_t fill)
{
	std::vector<uint8_t> buf(len, fill);
	for (size_t done = 0; done < len;) {
		size_t n = std::min<size_t>(len - done, 1 << 20);
		cfs::Trans tr{};
		check("trans_begin", cfs::trans_begin(&g_fs, g_journal, g_trans_bufs, &tr));
		cfs::Inode ip{};
		check("inode_get", cfs::inode_get(&g_fs, ino, &ip));
		check("file_write", cfs::user::file_write(&g_fs, &tr, &ip, off + done, buf.data() + done, n));
		cfs::inode_put(&g_fs, &ip);
		check("trans_commit", cfs::trans_commit(&tr));
		done += n;
	}
}

void set_xattr(uint64_t ino, const char *full_name, const void *value, uint32_t len)
{
	cfs::XattrName name{};
	check("xattr_parse_name", cfs::xattr_parse_name(full_name, static_cast<uint32_t>(strlen(full_name)), &name));
	cfs::Trans tr{};
	check("trans_begin", cfs::trans_begin(&g_fs, g_journal, g_trans_bufs, &tr));
	cfs::Inode ip{};
	check("inode_get", cfs::inode_get(&g_fs, ino, &ip));
	check(full_name, cfs::xattr_set(&g_fs, &tr, &ip, name, value, len, 0));
	cfs::inode_put(&g_fs, &ip);
	check("trans_commit", cfs::trans_commit(&tr));
}

// user::rw- user:1234:r-- group::r-- mask::r-- other::--- in the Linux xattr encoding.
const uint8_t kSampleAcl[] = {2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 4, 0, 0xd2, 4, 0, 0,
                              4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
                              0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};

// The statfs file as a clean unmount leaves it: totals of every resource group.
void write_statfs()
{
	uint64_t total = 0, free_blocks = 0, dinodes = 0;
	for (uint32_t i = 0; i < g_fs.rgrps.count; i++) {
		cfs::Rgrp *rg = &g_fs.rgrps.rgrps[i];
		check("rgrp_refresh", cfs::rgrp_refresh(&g_fs, rg));
		total += rg->data;
		free_blocks += rg->free;
		dinodes += rg->dinodes;
	}
	cfs_statfs sf{};
	sf.sf_total = cfs::to_le64(total);
	sf.sf_free = cfs::to_le64(free_blocks);
	sf.sf_dinodes = cfs::to_le64(dinodes);
	cfs::Trans tr{};
	check("trans_begin", cfs::trans_begin(&g_fs, nullptr, 16, &tr));
	cfs::Inode ip{};
	check("inode_get(statfs)", cfs::inode_get(&g_fs, cfs::from_le64(g_fs.sb.sb_statfs_addr), &ip));
	check("inode_write_inline(statfs)", cfs::inode_write_inline(&g_fs, &tr, &ip, 0, &sf, sizeof sf));
	cfs::inode_put(&g_fs, &ip);
	check("trans_commit", cfs::trans_commit(&tr));
}

}  // namespace

int main(int argc, char **argv)
{
	const char *image = nullptr;
	uint64_t files = 0, per_dir = 1000;
	bool mixed = false, xattrs = false;
	unsigned seed = 1;
	long crash_slot = -1;
	const char *crash_name = nullptr;
	std::vector<std::string> names;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--files") && i + 1 < argc)
			files = strtoull(argv[++i], nullptr, 0);
		else if (!strcmp(argv[i], "--per-dir") && i + 1 < argc)
			per_dir = strtoull(argv[++i], nullptr, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = static_cast<unsigned>(strtoul(argv[++i], nullptr, 0));
		else if (!strcmp(argv[i], "--crash-journaled") && i + 2 < argc) {
			crash_slot = strtol(argv[++i], nullptr, 0);
			crash_name = argv[++i];
		} else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
			names.push_back(argv[++i]);
		} else if (!strcmp(argv[i], "--mixed"))
			mixed = true;
		else if (!strcmp(argv[i], "--xattrs"))
			xattrs = true;
		else if (!image && argv[i][0] != '-')
			image = argv[i];
		else {
			fprintf(stderr, "usage: cfs_populate IMAGE [--files N] [--per-dir M] [--xattrs] [--mixed] [--name NAME] [--seed S]\n");
			return 2;
		}
	}
	if (!image || per_dir == 0) {
		fprintf(stderr, "usage: cfs_populate IMAGE [--files N] [--per-dir M] [--xattrs] [--mixed] [--name NAME] [--seed S]\n");
		return 2;
	}
	cfs::user::HostOptions opts;
	cfs_host *host = nullptr;
	const char *why = nullptr;
	if (int err = cfs::user::host_open(image, opts, &host, &why); err) {
		fprintf(stderr, "cfs_populate: %s: %s\n", image, why ? why : strerror(-err));
		return 1;
	}
	bool ro = false;
	check("fs_open", cfs::fs_open(host, &g_fs, &ro));
	check("rgrp_table_load", cfs::rgrp_table_load(&g_fs));
	uint64_t root = cfs::from_le64(g_fs.sb.sb_root_addr);
	srand(seed);

	for (uint64_t made = 0, d = 0; made < files; d++) {
		uint64_t dir = create(root, "d" + std::to_string(d), 0040755);
		for (uint64_t k = 0; k < per_dir && made < files; k++, made++) {
			uint64_t ino = create(dir, "f" + std::to_string(k), 0100644);
			if (!xattrs)
				continue;
			std::string v = std::to_string(made);
			set_xattr(ino, "user.n", v.data(), static_cast<uint32_t>(v.size()));
			if (made % 3 == 0)
				set_xattr(ino, "system.posix_acl_access", kSampleAcl, sizeof kSampleAcl);
		}
	}

	for (const std::string &name : names)
		create(root, name, 0100644);

	if (mixed) {
		uint64_t top = create(root, "mixed", 0040755);
		uint32_t bs = g_fs.bsize;
		// Sizes around every boundary: inline, one block, height 1 → 2 → 3.
		uint64_t sizes[] = {0, 1, 100, bs - 256, bs - 255, bs, 3ull * bs + 7,
		                    uint64_t(CFS_DINODE_PTRS(bs)) * bs + 1,
		                    // height 3 at 1 KiB blocks; capped at 16 MiB (height 2) otherwise
		                    std::min<uint64_t>(uint64_t(CFS_DINODE_PTRS(bs)) * CFS_INDIRECT_PTRS(bs) * bs + 5,
		                                       16u << 20)};
		int n = 0;
		for (uint64_t s : sizes) {
			uint64_t ino = create(top, "size" + std::to_string(n++), 0100644);
			if (s)
				write_file(ino, 0, s, static_cast<uint8_t>(n));
		}
		// Sparse: one block far out, one near the start (holes between).
		uint64_t sparse = create(top, "sparse", 0100600);
		write_file(sparse, uint64_t(bs) * 5, bs, 0xaa);
		write_file(sparse, uint64_t(bs) * CFS_DINODE_PTRS(bs) * 3 + 17, 100, 0xbb);
		uint64_t link = create(top, "link", 0120777);
		write_file(link, 0, 11, 'x');
		create(top, "fifo", 0010644);
		create(top, "chr", 0020644, 1, 3);
		create(top, "blk", 0060644, 8, 0);
		create(top, "sock", 0140755);
		uint64_t deep = top;
		for (int lvl = 0; lvl < 20; lvl++)
			deep = create(deep, "level" + std::to_string(lvl), 0040700);
		uint64_t big = create(top, "bigdir", 0040755);
		for (int k = 0; k < 3000; k++)
			create(big, "entry-with-a-longer-name-" + std::to_string(k * 7919 % 100003), 0100644);
		uint64_t xf = create(top, "xattrs", 0100640);
		set_xattr(xf, "user.color", "blue", 4);
		set_xattr(xf, "trusted.t", "\0\1\2", 3);
		set_xattr(xf, "system.posix_acl_access", kSampleAcl, sizeof kSampleAcl);
		set_xattr(big, "user.dir", "d", 1);
	}

	write_statfs();
	check("sync", cfs_env_sync(host));
	if (crash_name) {
		cfs::JournalLoc loc{};
		check("journal_locate", cfs::journal_locate(&g_fs, static_cast<uint32_t>(crash_slot), &loc));
		check("journal_open", cfs::journal_open(&g_fs, &loc, &g_journal));
		g_trans_bufs = 64;
		create(root, crash_name, 0100644);
		check("journal_flush", cfs::journal_flush(g_journal));
		// The crash: the log record is on disk, nothing was written in place.
		cfs::journal_close(g_journal);
		cfs::fs_close(&g_fs);
		cfs::user::host_close(host);
		return 0;
	}
	cfs::fs_close(&g_fs);
	cfs::user::host_close(host);
	return 0;
}
