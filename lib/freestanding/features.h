/* Stub of glibc's <features.h> for freestanding builds of lib/ (-nostdinc with GCC's
 * and libstdc++'s include directories): libstdc++'s os_defines.h includes it and only
 * needs __GLIBC_PREREQ. Nothing else from libc is reachable. */
#ifndef CLUSTERFS_FREESTANDING_FEATURES_H
#define CLUSTERFS_FREESTANDING_FEATURES_H
#define __GLIBC_PREREQ(maj, min) 0
#endif
