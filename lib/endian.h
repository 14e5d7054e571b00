// Little-endian load/store of on-disk fields. format.h declares fields as cfs_le16/32/64
// (plain unsigned integers in C++); these convert between disk and CPU order. The names
// avoid the kernel's le32_to_cpu macros so kernel-side C++ can include both.
#ifndef CLUSTERFS_LIB_ENDIAN_H
#define CLUSTERFS_LIB_ENDIAN_H

#include <cstdint>

namespace cfs {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr uint16_t from_le16(uint16_t v) { return __builtin_bswap16(v); }
constexpr uint32_t from_le32(uint32_t v) { return __builtin_bswap32(v); }
constexpr uint64_t from_le64(uint64_t v) { return __builtin_bswap64(v); }
#else
constexpr uint16_t from_le16(uint16_t v) { return v; }
constexpr uint32_t from_le32(uint32_t v) { return v; }
constexpr uint64_t from_le64(uint64_t v) { return v; }
#endif
constexpr uint16_t to_le16(uint16_t v) { return from_le16(v); }
constexpr uint32_t to_le32(uint32_t v) { return from_le32(v); }
constexpr uint64_t to_le64(uint64_t v) { return from_le64(v); }

// Unaligned little-endian access to raw bytes (bitmaps, records inside a payload).
inline uint64_t load_le64(const void *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, sizeof(v));
	return from_le64(v);
}
inline void store_le64(void *p, uint64_t v)
{
	v = to_le64(v);
	__builtin_memcpy(p, &v, sizeof(v));
}

}  // namespace cfs

#endif
