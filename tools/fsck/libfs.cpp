// lib's view of the device for the offline tools: see libfs.h.
#include "libfs.h"

#include <cerrno>
#include <cstring>

#include "rgrp.h"
#include "user/host.h"

namespace fsck {

LibFs::~LibFs()
{
	std::string ignored;
	close(&ignored);
}

void LibFs::sink(void *ctx, int level, const char *message)
{
	static_cast<LibFs *>(ctx)->messages_.emplace_back(message);
}

bool LibFs::open(const char *path, bool read_only, bool load_rgrps, std::string *why)
{
	cfs::user::HostOptions opts;
	opts.read_only = read_only;
	const char *host_why = nullptr;
	int err = cfs::user::host_open(path, opts, &host_, &host_why);
	if (err) {
		*why = host_why ? host_why : strerror(-err);
		host_ = nullptr;
		return false;
	}
	read_only_ = read_only;
	cfs::user::host_set_log(host_, &LibFs::sink, this, CFS_LOG_DEBUG);
	bool ro_only = false;
	err = cfs::fs_open(host_, &fs_, &ro_only);
	bool fs_opened = err == 0;
	if (fs_opened && load_rgrps)
		err = cfs::rgrp_table_load(&fs_);
	if (err) {
		*why = std::string("lib could not open the filesystem: ") + strerror(-err);
		for (const std::string &m : messages_)
			*why += "; " + m;
		if (fs_opened)
			cfs::fs_close(&fs_);
		cfs::user::host_close(host_);
		host_ = nullptr;
		return false;
	}
	opened_ = true;
	return true;
}

bool LibFs::close(std::string *why)
{
	bool ok = true;
	if (opened_) {
		if (!read_only_) {
			int err = cfs_env_sync(host_);
			if (err) {
				*why = std::string("writing lib's changes failed: ") + strerror(-err);
				ok = false;
			}
		}
		cfs::fs_close(&fs_);
		opened_ = false;
	}
	if (host_) {
		cfs::user::host_close(host_);
		host_ = nullptr;
	}
	return ok;
}

std::vector<std::string> LibFs::take_messages()
{
	std::vector<std::string> out;
	out.swap(messages_);
	return out;
}

}  // namespace fsck
