// SipHash-2-4 (Aumasson & Bernstein, 2012) and the directory name hash built on it.
#ifndef CLUSTERFS_LIB_SIPHASH_H
#define CLUSTERFS_LIB_SIPHASH_H

#include <cstddef>
#include <cstdint>

namespace cfs {

// SipHash-2-4 of `len` bytes with a 128-bit key (16 bytes, k0 = bytes 0..7 little-endian,
// k1 = bytes 8..15), as in the reference implementation.
uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

// The directory entry hash (de_hash): low 32 bits of SipHash-2-4 keyed with the
// superblock's sb_hash_key over the name's bytes (no terminating NUL).
inline uint32_t dir_hash(const uint8_t key[16], const void *name, size_t len)
{
	return static_cast<uint32_t>(siphash24(key, name, len));
}

}  // namespace cfs

#endif
