#include "config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace clusterfs::lockd {

namespace {

std::string trim(const std::string &s)
{
	size_t b = s.find_first_not_of(" \t\r");
	if (b == std::string::npos)
		return {};
	size_t e = s.find_last_not_of(" \t\r");
	return s.substr(b, e - b + 1);
}

} // namespace

bool load_config(const std::string &path, bool must_exist, Config *config, std::string *error)
{
	std::ifstream in(path);
	if (!in) {
		if (!must_exist && errno == ENOENT)
			return true;
		*error = path + ": " + strerror(errno);
		return false;
	}
	std::string line;
	for (int lineno = 1; std::getline(in, line); lineno++) {
		auto where = [&]() { return path + ":" + std::to_string(lineno) + ": "; };
		size_t hash = line.find('#');
		if (hash != std::string::npos)
			line.resize(hash);
		line = trim(line);
		if (line.empty())
			continue;
		size_t eq = line.find('=');
		if (eq == std::string::npos) {
			*error = where() + "expected `key = value`";
			return false;
		}
		std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
		if (key == "socket_path") {
			if (value.empty() || value[0] != '/') {
				*error = where() + "socket_path must be an absolute path";
				return false;
			}
			config->socket_path = value;
		} else if (key == "kernel_device") {
			if (!value.empty() && value[0] != '/') {
				*error = where() + "kernel_device must be an absolute path (or empty: do not serve the kernel)";
				return false;
			}
			config->kernel_device = value;
		} else if (key == "fence_command") {
			std::istringstream words(value);
			config->fence_command.clear();
			for (std::string w; words >> w;)
				config->fence_command.push_back(w);
		} else if (key == "fence_retry_seconds") {
			char *end;
			long v = strtol(value.c_str(), &end, 10);
			if (value.empty() || *end || v < 1 || v > 3600) {
				*error = where() + "fence_retry_seconds must be 1..3600";
				return false;
			}
			config->fence_retry_seconds = static_cast<int>(v);
		} else if (key == "lockspace_linger_seconds") {
			char *end;
			long v = strtol(value.c_str(), &end, 10);
			if (value.empty() || *end || v < 0 || v > 86400) {
				*error = where() + "lockspace_linger_seconds must be 0..86400";
				return false;
			}
			config->lockspace_linger_seconds = static_cast<int>(v);
		} else {
			*error = where() + "unknown key '" + key + "'";
			return false;
		}
	}
	return true;
}

} // namespace clusterfs::lockd
