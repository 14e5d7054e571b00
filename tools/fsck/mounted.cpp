// fsck.clusterfs: local mount detection. A block device is compared by device number
// with /proc/self/mountinfo; an image file is compared by inode with the backing file
// of every loop device, and that loop device is then looked up the same way.
#include "mounted.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace fsck {
namespace {

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string unescape_mountinfo(const std::string &s)
{
	std::string out;
	for (size_t i = 0; i < s.size(); i++) {
		if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			out += s[i];
		}
	}
	return out;
}

// Mount point of the filesystem whose source device is `rdev`, or empty.
std::string mount_point_of_device(dev_t rdev)
{
	std::vector<MountEntry> mounts = mounts_of_device(rdev);
	return mounts.empty() ? std::string() : mounts[0].mount_point;
}

// Mount point of a filesystem whose source string is exactly `source`, or empty
// (catches filesystems whose device number is anonymous).
std::string mount_point_of_source(const char *source)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	if (!f)
		return {};
	std::string found;
	char dev[2048], point[2048];
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%2047s %2047s", dev, point) == 2 && !strcmp(dev, source)) {
			found = point;
			break;
		}
	}
	fclose(f);
	return found;
}

}  // namespace

std::vector<MountEntry> mounts_of_device(dev_t dev)
{
	std::vector<MountEntry> out;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return out;
	char *buf = nullptr;
	size_t cap = 0;
	while (getline(&buf, &cap, f) > 0) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		std::istringstream in(buf);
		std::vector<std::string> fld;
		for (std::string w; in >> w;)
			fld.push_back(w);
		unsigned maj, min;
		if (fld.size() < 7 || sscanf(fld[2].c_str(), "%u:%u", &maj, &min) != 2 || makedev(maj, min) != dev)
			continue;
		auto dash = std::find(fld.begin() + 6, fld.end(), "-");
		if (dash == fld.end() || dash + 1 == fld.end())
			continue;
		out.push_back({unescape_mountinfo(fld[4]), *(dash + 1)});
	}
	free(buf);
	fclose(f);
	return out;
}

std::string local_mount_description(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return {};
	if (S_ISBLK(st.st_mode)) {
		std::string point = mount_point_of_device(st.st_rdev);
		return point.empty() ? point : "mounted on " + point;
	}
	if (!S_ISREG(st.st_mode))
		return {};
	std::string point = mount_point_of_source(path);
	if (!point.empty())
		return "mounted on " + point;

	DIR *d = opendir("/sys/block");
	if (!d)
		return {};
	std::string result;
	while (struct dirent *e = readdir(d)) {
		if (strncmp(e->d_name, "loop", 4) != 0)
			continue;
		std::string sys = std::string("/sys/block/") + e->d_name + "/loop/backing_file";
		FILE *f = fopen(sys.c_str(), "re");
		if (!f)
			continue;
		char backing[4096] = "";
		bool got = fgets(backing, sizeof backing, f) != nullptr;
		fclose(f);
		if (!got)
			continue;
		backing[strcspn(backing, "\n")] = '\0';
		struct stat bst;
		if (stat(backing, &bst) != 0 || bst.st_dev != st.st_dev || bst.st_ino != st.st_ino)
			continue;
		std::string loopdev = std::string("/dev/") + e->d_name;
		struct stat lst;
		if (stat(loopdev.c_str(), &lst) == 0 && S_ISBLK(lst.st_mode)) {
			point = mount_point_of_device(lst.st_rdev);
			if (!point.empty()) {
				result = "attached to " + loopdev + ", which is mounted on " + point;
				break;
			}
		}
	}
	closedir(d);
	return result;
}

}  // namespace fsck
