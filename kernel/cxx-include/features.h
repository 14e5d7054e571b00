/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for glibc's <features.h>: libstdc++'s os_defines.h includes it even in
 * freestanding mode. The kernel build of lib/ has no libc, so no glibc feature exists.
 */
#ifndef CLUSTERFS_CXX_FEATURES_H
#define CLUSTERFS_CXX_FEATURES_H
#define __GLIBC_PREREQ(maj, min) 0
#endif
