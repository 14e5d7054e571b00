/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of the C++ runtime of clusterfs.ko: allocation and fatal-error hooks that
 * kernel/cxx_runtime.cpp (operator new/delete) calls. Plain C, included by both languages.
 */
#ifndef CLUSTERFS_CXX_SUPPORT_H
#define CLUSTERFS_CXX_SUPPORT_H

#ifdef __cplusplus
#include <cstddef>
extern "C" {
#else
#include <linux/types.h>
#endif

/*
 * Returns memory for a C++ object of @size bytes aligned to @align (a power of two,
 * at most PAGE_SIZE), or NULL. Allocates with GFP_NOFS: C++ objects are created inside
 * filesystem operations, where reclaim must not recurse into the filesystem.
 */
void *clusterfs_cxx_alloc(size_t size, size_t align);
void clusterfs_cxx_free(void *ptr);

/* printk at KERN_INFO / KERN_ERR with the module prefix; for C++ code. */
void clusterfs_cxx_log_info(const char *msg);
void clusterfs_cxx_log_error(const char *msg);

/* Runtime entry points the compiler emits calls to; programming errors, never disk input. */
void __cxa_pure_virtual(void);
void __cxa_deleted_virtual(void);

#ifdef __cplusplus
}
#endif
#endif
