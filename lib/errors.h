// Error numbers lib/ returns, negated (return -CFS_EIO). They are the Linux errno
// values, the same in the kernel and in glibc, so hosts pass them through unchanged.
// lib/ cannot include <errno.h> (freestanding), hence this list.
#ifndef CLUSTERFS_LIB_ERRORS_H
#define CLUSTERFS_LIB_ERRORS_H

#define CFS_ENOENT        2
#define CFS_EIO           5
#define CFS_E2BIG         7
#define CFS_EAGAIN       11
#define CFS_ENOMEM       12
#define CFS_EBUSY        16
#define CFS_EEXIST       17
#define CFS_ENOTDIR      20
#define CFS_EISDIR       21
#define CFS_EINVAL       22
#define CFS_EFBIG        27
#define CFS_ENOSPC       28
#define CFS_EROFS        30
#define CFS_EMLINK       31
#define CFS_ERANGE       34
#define CFS_EDEADLK      35   /* a resource group changed that the host did not lock */
#define CFS_ENAMETOOLONG 36
#define CFS_ENOTEMPTY    39
#define CFS_ENODATA      61
#define CFS_EBADMSG      74   /* a metadata block's CRC32C does not match (XFS: EFSBADCRC) */
#define CFS_EOVERFLOW    75
#define CFS_EOPNOTSUPP   95
#define CFS_ESTALE      116
#define CFS_EUCLEAN     117   /* structure is corrupted (XFS: EFSCORRUPTED) */
#define CFS_EFSCORRUPTED CFS_EUCLEAN
#define CFS_EFSBADCRC    CFS_EBADMSG

#endif
