// fsck.clusterfs: the check itself, independent of the command line so that the fuzz
// target and the tests drive exactly the code the binary runs.
#pragma once

#include "progress.h"
#include "repair.h"

namespace fsck {

struct CheckTarget {
	const char *name;  // for messages: the device path
	int fd;            // open O_RDONLY under -n, O_RDWR otherwise
};

// Runs every pass over the filesystem on `target`. Problems, repairs and fatal errors
// are recorded in `repairs`, whose exit_status() is the run's result. Never writes when
// repairs.may_write() is false. Each pass reports its progress to `progress` (fsck -C)
// unless it is null.
void check_filesystem(const CheckTarget &target, Repairs &repairs,
                      Progress *progress = nullptr);

}  // namespace fsck
