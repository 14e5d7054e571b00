// Small helpers shared by lib-algo's files (bmap, inode, dir, trans, journal): on-disk
// field access, memory, error reporting. Private to lib/.
#ifndef CLUSTERFS_LIB_ALGO_UTIL_H
#define CLUSTERFS_LIB_ALGO_UTIL_H

#include <cstddef>
#include <cstdint>

#include "fs.h"

namespace cfs::algo {

inline uint64_t load64(const cfs_le64 *p) { return from_le64(*p); }
inline void store64(cfs_le64 *p, uint64_t v) { *p = to_le64(v); }
inline uint32_t load32(const cfs_le32 *p) { return from_le32(*p); }
inline void store32(cfs_le32 *p, uint32_t v) { *p = to_le32(v); }
inline uint16_t load16(const cfs_le16 *p) { return from_le16(*p); }
inline void store16(cfs_le16 *p, uint16_t v) { *p = to_le16(v); }

// Memory inside a transaction may not recurse into filesystem reclaim.
inline void *mem_alloc(Fs *fs, size_t n)
{
	return cfs_env_alloc(fs->host, n, CFS_ALLOC_NOFS | (n > 4096 ? CFS_ALLOC_LARGE : 0u));
}
inline void mem_free(Fs *fs, void *p) { cfs_env_free(fs->host, p); }
inline void mem_copy(void *d, const void *s, size_t n) { __builtin_memcpy(d, s, n); }
inline void mem_move(void *d, const void *s, size_t n) { __builtin_memmove(d, s, n); }
inline void mem_zero(void *d, size_t n) { __builtin_memset(d, 0, n); }
inline bool mem_equal(const void *a, const void *b, size_t n)
{
	return __builtin_memcmp(a, b, n) == 0;
}

// Logs an error about block `blkno` and returns `err` unchanged.
inline int report(Fs *fs, int err, uint64_t blkno, const char *what)
{
	cfs_env_log(fs->host, CFS_LOG_ERR, "block %llu: %s", (unsigned long long)blkno, what);
	return err;
}

// Logs "what" about block `blkno` and returns -CFS_EUCLEAN: the structure is corrupt.
inline int corrupt(Fs *fs, uint64_t blkno, const char *what)
{
	return report(fs, -CFS_EUCLEAN, blkno, what);
}

inline cfs_dinode *dinode_of(Buf *bh) { return static_cast<cfs_dinode *>(buf_data(bh)); }
inline cfs_le64 *dinode_ptrs(Buf *bh)
{
	return reinterpret_cast<cfs_le64 *>(static_cast<uint8_t *>(buf_data(bh)) + CFS_DINODE_SIZE);
}
inline cfs_le64 *indirect_ptrs(Buf *bh)
{
	return reinterpret_cast<cfs_le64 *>(static_cast<uint8_t *>(buf_data(bh)) +
					    CFS_META_HEADER_SIZE);
}

// Sorts a[0..n) in place by `less` (heap sort: O(n log n), no recursion, no allocation).
template <class T, class Less>
void heap_sort(T *a, size_t n, Less less)
{
	auto sift_down = [&](size_t root, size_t end) {
		for (;;) {
			size_t child = 2 * root + 1;
			if (child >= end)
				return;
			if (child + 1 < end && less(a[child], a[child + 1]))
				child++;
			if (!less(a[root], a[child]))
				return;
			T tmp = a[root];
			a[root] = a[child];
			a[child] = tmp;
			root = child;
		}
	};
	for (size_t i = n / 2; i-- > 0;)
		sift_down(i, n);
	for (size_t end = n; end > 1; end--) {
		T tmp = a[0];
		a[0] = a[end - 1];
		a[end - 1] = tmp;
		sift_down(0, end - 1);
	}
}

}  // namespace cfs::algo

#endif
