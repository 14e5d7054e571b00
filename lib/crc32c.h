// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) and the metadata block checksum.
#ifndef CLUSTERFS_LIB_CRC32C_H
#define CLUSTERFS_LIB_CRC32C_H

#include <cstddef>
#include <cstdint>

struct cfs_host;

namespace cfs {

// Portable table-driven CRC32C (slice-by-8) with the kernel's crc32c() convention: it
// continues the raw register `crc`, without inversion. The standard CRC-32C of a buffer
// is ~crc32c_sw(~0u, p, len) (0xE3069283 for "123456789"). The userspace host
// implements cfs_env_crc32c with it; the kernel host uses the kernel's crc32c().
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t len);

// The checksum stored in mh_crc of a metadata block of `bsize` bytes: the standard
// CRC-32C of the block with its 4 mh_crc bytes taken as zero. Uses cfs_env_crc32c.
uint32_t block_crc(const void *block, uint32_t bsize);

// Stores block_crc() in the block's mh_crc.
void block_crc_set(void *block, uint32_t bsize);

// Whether the block's mh_crc matches its contents.
bool block_crc_ok(const void *block, uint32_t bsize);

}  // namespace cfs

#endif
