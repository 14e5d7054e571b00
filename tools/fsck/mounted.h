// fsck.clusterfs: is the device (or the image file behind a loop device) in use here?
#pragma once

#include <string>

namespace fsck {

// Returns an empty string when `path` is not mounted on this machine, otherwise a
// sentence naming where ("mounted on /mnt/a", "attached to /dev/loop3, which is
// mounted on /mnt/b"). Only this machine can be seen from here; other nodes' mounts
// show up as dirty journals, which the journal pass reports.
std::string local_mount_description(const char *path);

}  // namespace fsck
