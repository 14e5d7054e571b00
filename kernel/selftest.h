/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CLUSTERFS_SELFTEST_H
#define CLUSTERFS_SELFTEST_H
#ifdef __cplusplus
extern "C" {
#endif
/*
 * Exercises the C++ runtime inside the running kernel at module load: virtual dispatch
 * and sized delete through a base pointer, over-aligned allocation, nothrow arrays.
 * Returns 0, or a negative errno naming the first failure (-ENOMEM, -EINVAL).
 */
int clusterfs_cxx_selftest(void);
#ifdef __cplusplus
}
#endif
#endif
