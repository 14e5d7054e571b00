// cfs_poke: damages a clusterfs image on purpose, for the corruption tests.
//   cfs_poke IMAGE u8|u16|u32|u64 BLOCK OFFSET VALUE   store a little-endian field, reseal CRC
//   cfs_poke IMAGE flip BLOCK OFFSET                   invert one byte, CRC left stale
//   cfs_poke IMAGE state BLOCK STATE                   set BLOCK's 2-bit bitmap state
//                                                      (0 free 1 used 2 unlinked 3 dinode),
//                                                      reseal, rgrp counts left as they were
// Resealing makes the damage semantic (CRC valid, content wrong), so fsck's structural
// checks are what must catch it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

#include "clusterfs/format.h"
#include "crc32c.h"
#include "endian.h"
#include "rgrp.h"

namespace {

int g_fd;
uint32_t g_bsize;

std::vector<uint8_t> read_block(uint64_t b)
{
	std::vector<uint8_t> v(g_bsize);
	if (pread(g_fd, v.data(), g_bsize, off_t(b) * g_bsize) != ssize_t(g_bsize)) {
		perror("cfs_poke: read");
		exit(1);
	}
	return v;
}

void write_block(uint64_t b, std::vector<uint8_t> &v, bool reseal)
{
	if (reseal)
		cfs::block_crc_set(v.data(), g_bsize);
	if (pwrite(g_fd, v.data(), g_bsize, off_t(b) * g_bsize) != ssize_t(g_bsize)) {
		perror("cfs_poke: write");
		exit(1);
	}
}

[[noreturn]] void usage()
{
	fprintf(stderr, "usage: cfs_poke IMAGE u8|u16|u32|u64 BLOCK OFFSET VALUE\n"
	                "       cfs_poke IMAGE flip BLOCK OFFSET\n"
	                "       cfs_poke IMAGE state BLOCK STATE\n");
	exit(2);
}

}  // namespace

int main(int argc, char **argv)
{
	if (argc < 5)
		usage();
	g_fd = open(argv[1], O_RDWR);
	if (g_fd < 0) {
		perror(argv[1]);
		return 1;
	}
	cfs_sb sb;
	if (pread(g_fd, &sb, sizeof sb, CFS_SB_OFFSET) != ssize_t(sizeof sb)) {
		perror("cfs_poke: superblock");
		return 1;
	}
	g_bsize = cfs::from_le32(sb.sb_bsize);
	if (g_bsize != 1024 && g_bsize != 2048 && g_bsize != 4096) {
		fprintf(stderr, "cfs_poke: no usable superblock\n");
		return 1;
	}
	const char *op = argv[2];
	uint64_t blk = strtoull(argv[3], nullptr, 0);
	if (!strcmp(op, "flip")) {
		uint32_t off = static_cast<uint32_t>(strtoul(argv[4], nullptr, 0));
		auto v = read_block(blk);
		v.at(off) ^= 0xff;
		write_block(blk, v, false);
		return 0;
	}
	if (!strcmp(op, "state")) {
		unsigned state = static_cast<unsigned>(strtoul(argv[4], nullptr, 0)) & 3;
		// Find the rgrp by walking rg_skip from the first header after the superblock.
		uint64_t addr = CFS_SB_OFFSET / g_bsize + 1;
		for (;;) {
			auto h = read_block(addr);
			const auto *rg = reinterpret_cast<const cfs_rgrp *>(h.data());
			uint64_t data0 = cfs::from_le64(rg->rg_data0);
			uint32_t data = cfs::from_le32(rg->rg_data);
			if (blk >= data0 && blk < data0 + data) {
				uint32_t byte = static_cast<uint32_t>((blk - data0) / 4), bi, off;
				cfs::rgrp_bitmap_locate(g_bsize, byte, &bi, &off);
				auto b = read_block(addr + bi);
				unsigned shift = 2 * ((blk - data0) % 4);
				b[off] = static_cast<uint8_t>((b[off] & ~(3u << shift)) | (state << shift));
				write_block(addr + bi, b, true);
				return 0;
			}
			uint32_t skip = cfs::from_le32(rg->rg_skip);
			if (!skip) {
				fprintf(stderr, "cfs_poke: block %llu is in no resource group\n",
				        (unsigned long long)blk);
				return 1;
			}
			addr += skip;
		}
	}
	if (argc < 6)
		usage();
	uint32_t off = static_cast<uint32_t>(strtoul(argv[4], nullptr, 0));
	uint64_t value = strtoull(argv[5], nullptr, 0);
	unsigned width = !strcmp(op, "u8") ? 1 : !strcmp(op, "u16") ? 2 : !strcmp(op, "u32") ? 4
	                 : !strcmp(op, "u64") ? 8 : 0;
	if (!width || off + width > g_bsize)
		usage();
	auto v = read_block(blk);
	for (unsigned i = 0; i < width; i++)
		v[off + i] = static_cast<uint8_t>(value >> (8 * i));
	write_block(blk, v, true);
	return 0;
}
