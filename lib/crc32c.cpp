// CRC32C, slice-by-8. Tables are computed at compile time (constexpr): no static
// constructor, read-only data only, as the kernel build requires.
#include "crc32c.h"

#include "clusterfs/format.h"
#include "endian.h"
#include "env.h"

namespace cfs {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // Castagnoli, reflected

struct Tables {
	uint32_t t[8][256];
};

constexpr Tables make_tables()
{
	Tables tb{};
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
		tb.t[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int s = 1; s < 8; s++)
			tb.t[s][i] = (tb.t[s - 1][i] >> 8) ^ tb.t[0][tb.t[s - 1][i] & 0xff];
	return tb;
}

constexpr Tables kTables = make_tables();

}  // namespace

uint32_t crc32c_sw(uint32_t crc, const void *p, size_t len)
{
	const uint8_t *b = static_cast<const uint8_t *>(p);
	const auto &t = kTables.t;
	while (len && (reinterpret_cast<uintptr_t>(b) & 7)) {
		crc = (crc >> 8) ^ t[0][(crc ^ *b++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint32_t lo, hi;
		__builtin_memcpy(&lo, b, 4);
		__builtin_memcpy(&hi, b + 4, 4);
		lo = from_le32(lo) ^ crc;
		hi = from_le32(hi);
		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
		      t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		      t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
		b += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ t[0][(crc ^ *b++) & 0xff];
	return crc;
}

uint32_t block_crc(const void *block, uint32_t bsize)
{
	static constexpr uint8_t kZero[4] = {0, 0, 0, 0};
	const uint8_t *b = static_cast<const uint8_t *>(block);
	uint32_t crc = cfs_env_crc32c(~0u, b, CFS_META_CRC_OFFSET);
	crc = cfs_env_crc32c(crc, kZero, 4);
	crc = cfs_env_crc32c(crc, b + CFS_META_CRC_OFFSET + 4, bsize - CFS_META_CRC_OFFSET - 4);
	return ~crc;
}

void block_crc_set(void *block, uint32_t bsize)
{
	auto *h = static_cast<cfs_meta_header *>(block);
	h->mh_crc = to_le32(block_crc(block, bsize));
}

bool block_crc_ok(const void *block, uint32_t bsize)
{
	const auto *h = static_cast<const cfs_meta_header *>(block);
	return from_le32(h->mh_crc) == block_crc(block, bsize);
}

}  // namespace cfs
