#include "config.h"

#include <cerrno>
#include <cstring>
#include <fstream>

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

// The part of a config line before a `#` that is outside quotes.
std::string strip_comment(const std::string &line)
{
	char quote = 0;
	for (size_t i = 0; i < line.size(); i++) {
		char c = line[i];
		if (quote) {
			if (c == quote)
				quote = 0;
			else if (quote == '"' && c == '\\')
				i++;
		} else if (c == '\\') {
			i++;
		} else if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == '#') {
			return line.substr(0, i);
		}
	}
	return line;
}

bool parse_int(const std::string &value, long lo, long hi, int *out)
{
	char *end;
	long v = strtol(value.c_str(), &end, 10);
	if (value.empty() || *end || v < lo || v > hi)
		return false;
	*out = static_cast<int>(v);
	return true;
}

} // namespace

bool split_command(const std::string &line, std::vector<std::string> *words, std::string *error)
{
	words->clear();
	std::string word;
	bool in_word = false;
	for (size_t i = 0; i < line.size(); i++) {
		char c = line[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word)
				words->push_back(word);
			word.clear();
			in_word = false;
			continue;
		}
		in_word = true;
		if (c == '\\') {
			if (++i == line.size()) {
				*error = "trailing backslash";
				return false;
			}
			word += line[i];
		} else if (c == '\'') {
			size_t end = line.find('\'', i + 1);
			if (end == std::string::npos) {
				*error = "unterminated single quote";
				return false;
			}
			word += line.substr(i + 1, end - i - 1);
			i = end;
		} else if (c == '"') {
			for (i++;; i++) {
				if (i == line.size()) {
					*error = "unterminated double quote";
					return false;
				}
				if (line[i] == '"')
					break;
				if (line[i] == '\\' && i + 1 < line.size() &&
				    (line[i + 1] == '\\' || line[i + 1] == '"' || line[i + 1] == '$' || line[i + 1] == '`'))
					i++;
				word += line[i];
			}
		} else {
			word += c;
		}
	}
	if (in_word)
		words->push_back(word);
	return true;
}

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
		line = trim(strip_comment(line));
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
			std::string problem;
			if (!split_command(value, &config->fence_command, &problem)) {
				*error = where() + "fence_command: " + problem;
				return false;
			}
		} else if (key == "fence_retry_seconds") {
			if (!parse_int(value, 1, 3600, &config->fence_retry_seconds)) {
				*error = where() + "fence_retry_seconds must be 1..3600";
				return false;
			}
		} else if (key == "client_backlog_kib") {
			if (!parse_int(value, 64, 1048576, &config->client_backlog_kib)) {
				*error = where() + "client_backlog_kib must be 64..1048576";
				return false;
			}
		} else if (key == "lockspace_linger_seconds") {
			if (!parse_int(value, 0, 86400, &config->lockspace_linger_seconds)) {
				*error = where() + "lockspace_linger_seconds must be 0..86400";
				return false;
			}
		} else if (key == "startup_fencing") {
			int v;
			if (!parse_int(value, 0, 1, &v)) {
				*error = where() + "startup_fencing must be 0 or 1";
				return false;
			}
			config->startup_fencing = v;
		} else if (key == "require_crypto") {
			int v;
			if (!parse_int(value, 0, 1, &v)) {
				*error = where() + "require_crypto must be 0 or 1";
				return false;
			}
			config->require_crypto = v;
		} else if (key == "startup_fencing_delay") {
			if (!parse_int(value, 0, 3600, &config->startup_fencing_delay)) {
				*error = where() + "startup_fencing_delay must be 0..3600";
				return false;
			}
		} else {
			*error = where() + "unknown key '" + key + "'";
			return false;
		}
	}
	return true;
}

} // namespace clusterfs::lockd
