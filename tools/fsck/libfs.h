// lib's own view of the device (lib/user host + cfs::Fs), for what the offline tools
// must do exactly as the kernel does: journal head search and replay, directory
// insertion (lost+found). Messages lib logs are collected instead of going to stderr,
// so fsck can print them in its own report.
#pragma once

#include <string>
#include <vector>

#include "fs.h"

namespace fsck {

class LibFs {
public:
	LibFs() = default;
	~LibFs();
	LibFs(const LibFs &) = delete;
	LibFs &operator=(const LibFs &) = delete;

	// Opens `path` through lib/user and reads the superblock with fs_open. On failure
	// returns false and *why says why. rgrps are loaded too when `load_rgrps`.
	bool open(const char *path, bool read_only, bool load_rgrps, std::string *why);
	// Syncs (when writable) and closes. Returns false with *why if the sync failed.
	bool close(std::string *why);

	cfs::Fs *fs() { return opened_ ? &fs_ : nullptr; }
	// Messages lib logged since the last call.
	std::vector<std::string> take_messages();

private:
	static void sink(void *ctx, int level, const char *message);
	cfs_host *host_ = nullptr;
	cfs::Fs fs_{};
	bool opened_ = false;
	bool read_only_ = true;
	std::vector<std::string> messages_;
};

}  // namespace fsck
