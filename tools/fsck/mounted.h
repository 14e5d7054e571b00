// fsck.clusterfs: is the device (or the image file behind a loop device) in use here?
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace fsck {

struct MountEntry {
	std::string mount_point; // unescaped
	std::string fstype;
};

// The mounts in this mount namespace of the filesystem on device `dev`, in
// /proc/self/mountinfo's order (shared with clusterfs_tool glocks).
std::vector<MountEntry> mounts_of_device(dev_t dev);

// Returns an empty string when `path` is not mounted on this machine, otherwise a
// sentence naming where ("mounted on /mnt/a", "attached to /dev/loop3, which is
// mounted on /mnt/b"). Only this machine can be seen from here; other nodes' mounts
// show up as dirty journals, which the journal pass reports.
std::string local_mount_description(const char *path);

}  // namespace fsck
