#include "util.h"

#include <nlohmann/json.hpp>

#include <corosync/cmap.h>
#include <sys/random.h>
#include <syslog.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace clusterfs::lockd {

bool g_log_foreground = false;

void log_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[2048];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (g_log_foreground)
		fprintf(stderr, "clusterfs_lockd: %s\n", buf);
	else
		syslog(LOG_DAEMON | LOG_NOTICE, "%s", buf);
}

uint64_t random_u64()
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^ getpid();
	return v;
}

double now_seconds()
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The inside of a JSON string for `s`: valid UTF-8 (resource and lockspace names are
// arbitrary bytes) comes out as it is, an invalid byte as U+FFFD (nlohmann-json's
// replacing serializer; it escapes quotes, backslashes and control characters).
std::string json_escape(const std::string &s)
{
	std::string quoted = nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
	return quoted.substr(1, quoted.size() - 2);
}

std::string corosync_node_name(uint32_t node)
{
	std::string name = "node" + std::to_string(node);
	cmap_handle_t h;
	if (cmap_initialize(&h) != CS_OK)
		return name;
	for (unsigned i = 0; i < 1024; i++) {
		std::string prefix = "nodelist.node." + std::to_string(i) + ".";
		uint32_t id;
		if (cmap_get_uint32(h, (prefix + "nodeid").c_str(), &id) != CS_OK)
			break;
		if (id != node)
			continue;
		char *value = nullptr;
		if (cmap_get_string(h, (prefix + "name").c_str(), &value) == CS_OK ||
		    cmap_get_string(h, (prefix + "ring0_addr").c_str(), &value) == CS_OK) {
			name = value;
			free(value);
		}
		break;
	}
	cmap_finalize(h);
	return name;
}

std::string corosync_config_string(const char *key)
{
	std::string result;
	cmap_handle_t h;
	if (cmap_initialize(&h) != CS_OK)
		return result;
	char *value = nullptr;
	if (cmap_get_string(h, key, &value) == CS_OK) {
		result = value;
		free(value);
	}
	cmap_finalize(h);
	return result;
}

std::string corosync_cluster_name()
{
	return corosync_config_string("totem.cluster_name");
}

std::vector<uint32_t> corosync_nodelist()
{
	std::vector<uint32_t> ids;
	cmap_handle_t h;
	if (cmap_initialize(&h) != CS_OK)
		return ids;
	for (unsigned i = 0; i < 1024; i++) {
		uint32_t id;
		if (cmap_get_uint32(h, ("nodelist.node." + std::to_string(i) + ".nodeid").c_str(), &id) != CS_OK)
			break;
		ids.push_back(id);
	}
	cmap_finalize(h);
	return ids;
}

bool corosync_two_node()
{
	cmap_handle_t h;
	if (cmap_initialize(&h) != CS_OK)
		return false;
	// The key's integer width has varied between corosync versions.
	uint8_t v8 = 0;
	uint32_t v32 = 0;
	bool on = (cmap_get_uint8(h, "quorum.two_node", &v8) == CS_OK && v8) ||
		  (cmap_get_uint32(h, "quorum.two_node", &v32) == CS_OK && v32);
	cmap_finalize(h);
	return on;
}

} // namespace clusterfs::lockd
