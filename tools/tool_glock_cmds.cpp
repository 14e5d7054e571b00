// The glocks command of clusterfs_tool: the kernel module's glock cache as its debugfs
// file /sys/kernel/debug/clusterfs/<s_id>/glocks shows it (cfs_glocks_show in
// kernel/glock.c), parsed, sorted and summed up, as GFS2's tools show its debugfs
// `glocks` file. One line per glock:
//
//   inode/1828 EX f:D h:2 SH,SH i:3 lk:17 ref:2
//
// type/number (hex), this node's state, f: flag letters, h: holder count then the
// holders' states, i: invalidation count, lk: lockd lock id, ref: references.
//
// Exit status: 0 success; 1 usage or environment error (no such file, not a clusterfs
// mount, debugfs not mounted, module not loaded); 2 some lines did not parse (each is
// named on stderr; the lines that parsed are still shown).
#include <getopt.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mounted.h"
#include "tool_commands.h"

namespace {

enum GlockStatus { kOk = 0, kEnvError = 1, kUnparsed = 2 };

const char kUsage[] = "[--json] [--summary] MOUNTPOINT|DEVICE|FILE";
const char kDebugfs[] = "/sys/kernel/debug";
const char kDebugfsDir[] = "/sys/kernel/debug/clusterfs";

// The kernel's glock types in their enum order (kernel/glock.c), which is the sort order.
const char *const kTypes[] = {"meta", "inode", "rgrp", "iopen", "journal", "flock"};
// The kernel's states in the order the summary's columns show them.
const char *const kStates[] = {"UN", "SH", "DF", "EX"};
// Flag letters in the order cfs_glocks_show prints them: R request pending, D demote
// wanted, p demote pending (minimum hold time), d demote running, I instantiate needed,
// L unused on the LRU.
const char kFlagLetters[] = "RDpdIL";

struct Glock {
	std::string type;
	uint64_t number = 0;
	std::string state;
	std::string flags;
	std::vector<std::string> holders;
	uint64_t invalidations = 0;
	uint64_t lock_id = 0;
	uint64_t refs = 0;

	bool has_flag(char c) const { return flags.find(c) != std::string::npos; }
	bool lru() const { return has_flag('L'); }
	bool demoting() const { return has_flag('D') || has_flag('p'); }
};

struct BadLine {
	unsigned line;
	std::string why;
	std::string text;
};

std::string hex(uint64_t v)
{
	char s[24];
	snprintf(s, sizeof s, "%" PRIx64, v);
	return s;
}

// The line as it can be shown on a terminal: bytes that are not printable ASCII as \xNN.
std::string printable(const std::string &s)
{
	std::string out;
	for (unsigned char c : s) {
		if (c >= 0x20 && c < 0x7f) {
			out += static_cast<char>(c);
		} else {
			char e[8];
			snprintf(e, sizeof e, "\\x%02x", c);
			out += e;
		}
	}
	return out;
}

// An unsigned number of `base` that is all digits (no sign, prefix or blanks) and fits.
bool parse_number(const std::string &s, int base, uint64_t *out)
{
	if (s.empty())
		return false;
	uint64_t v = 0;
	for (char c : s) {
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base))
			return false;
		v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
	}
	*out = v;
	return true;
}

std::vector<std::string> split(const std::string &s, const char *seps, bool keep_empty)
{
	std::vector<std::string> out;
	size_t i = 0;
	for (;;) {
		size_t j = s.find_first_of(seps, i);
		std::string part = s.substr(i, j == std::string::npos ? std::string::npos : j - i);
		if (keep_empty || !part.empty())
			out.push_back(part);
		if (j == std::string::npos)
			return out;
		i = j + 1;
	}
}

// A "key:value" token whose key is `key`: the value, else false.
bool keyed(const std::string &tok, const char *key, std::string *value)
{
	size_t n = strlen(key);
	if (tok.size() < n + 1 || tok.compare(0, n, key) || tok[n] != ':')
		return false;
	*value = tok.substr(n + 1);
	return true;
}

// Parses one line of the debugfs file; false with *why when it is not one.
// Types and states are taken as they come (a type this tool does not know still sorts,
// after the known ones; a state the kernel could not name prints as "??"); flag letters
// must be ones this tool can explain.
bool parse_line(const std::string &line, Glock *g, std::string *why)
{
	std::vector<std::string> t = split(line, " \t\r", false);
	size_t i = 0;
	auto next = [&](const char *what, std::string *tok) {
		if (i >= t.size()) {
			*why = std::string("missing ") + what;
			return false;
		}
		*tok = t[i++];
		return true;
	};
	std::string tok, v;

	if (!next("type/number", &tok))
		return false;
	size_t slash = tok.find('/');
	if (slash == std::string::npos || slash == 0) {
		*why = "'" + tok + "' is not type/number";
		return false;
	}
	g->type = tok.substr(0, slash);
	for (char c : g->type)
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
			*why = "'" + g->type + "' is not a glock type";
			return false;
		}
	if (!parse_number(tok.substr(slash + 1), 16, &g->number)) {
		*why = "'" + tok.substr(slash + 1) + "' is not a hex glock number";
		return false;
	}

	if (!next("state", &g->state))
		return false;
	if (g->state.find(':') != std::string::npos) {
		*why = "'" + g->state + "' is not a state";
		return false;
	}

	if (!next("f:", &tok))
		return false;
	if (!keyed(tok, "f", &g->flags)) {
		*why = "expected f:FLAGS, found '" + tok + "'";
		return false;
	}
	for (size_t k = 0; k < g->flags.size(); k++) {
		char c = g->flags[k];
		if (!strchr(kFlagLetters, c) || c == '\0') {
			*why = std::string("unknown flag '") + c + "' (known: " + kFlagLetters + ")";
			return false;
		}
		if (g->flags.find(c) != k) {
			*why = std::string("flag '") + c + "' twice";
			return false;
		}
	}

	uint64_t nholders;
	if (!next("h:", &tok))
		return false;
	if (!keyed(tok, "h", &v) || !parse_number(v, 10, &nholders)) {
		*why = "expected h:COUNT, found '" + tok + "'";
		return false;
	}
	if (nholders > 0) {
		if (!next("holder states", &tok))
			return false;
		if (tok.find(':') != std::string::npos) {
			*why = "h:" + v + " but no holder states before '" + tok + "'";
			return false;
		}
		g->holders = split(tok, ",", true);
		if (g->holders.size() != nholders) {
			*why = "h:" + v + " but " + std::to_string(g->holders.size()) + " holder states '" + tok + "'";
			return false;
		}
		for (const std::string &h : g->holders)
			if (h.empty()) {
				*why = "empty holder state in '" + tok + "'";
				return false;
			}
	}

	struct {
		const char *key;
		uint64_t *value;
	} const tail[] = {{"i", &g->invalidations}, {"lk", &g->lock_id}, {"ref", &g->refs}};
	for (const auto &f : tail) {
		std::string what = std::string(f.key) + ":";
		if (!next(what.c_str(), &tok))
			return false;
		if (!keyed(tok, f.key, &v) || !parse_number(v, 10, f.value)) {
			*why = "expected " + what + "NUMBER, found '" + tok + "'";
			return false;
		}
	}
	if (i != t.size()) {
		*why = "unexpected '" + t[i] + "' after ref:";
		return false;
	}
	return true;
}

// Known types in kernel order, then the others by name.
size_t type_rank(const std::string &type)
{
	for (size_t i = 0; i < sizeof kTypes / sizeof kTypes[0]; i++)
		if (type == kTypes[i])
			return i;
	return sizeof kTypes / sizeof kTypes[0];
}

bool glock_before(const Glock &a, const Glock &b)
{
	size_t ra = type_rank(a.type), rb = type_rank(b.type);
	if (ra != rb)
		return ra < rb;
	if (a.type != b.type)
		return a.type < b.type;
	return a.number < b.number;
}

// ---- where the glocks file is --------------------------------------------------------

using fsck::MountEntry;

// Of the mounts of one device, the one `path` is under (the longest mount point that is
// a prefix of its real path), else the first: what to name in a message.
const MountEntry &mount_holding(const std::vector<MountEntry> &mounts, const char *path)
{
	const MountEntry *best = &mounts[0];
	size_t best_len = 0;
	char *real = realpath(path, nullptr);
	if (!real)
		return *best;
	std::string r = real;
	free(real);
	for (const MountEntry &m : mounts) {
		const std::string &mp = m.mount_point;
		bool under = r.compare(0, mp.size(), mp) == 0 &&
			     (r.size() == mp.size() || mp == "/" || r[mp.size()] == '/');
		if (under && mp.size() > best_len) {
			best = &m;
			best_len = mp.size();
		}
	}
	return *best;
}

const MountEntry *clusterfs_mount(const std::vector<MountEntry> &mounts)
{
	for (const MountEntry &m : mounts)
		if (m.fstype == "clusterfs")
			return &m;
	return nullptr;
}

// The kernel's name of block device `dev` (sb->s_id: "vdb", "sda1", "dm-0"), from
// /sys/dev/block/MAJ:MIN/uevent's DEVNAME=; false with *why.
bool kernel_name(dev_t dev, std::string *name, std::string *why)
{
	char path[64];
	snprintf(path, sizeof path, "/sys/dev/block/%u:%u/uevent", major(dev), minor(dev));
	FILE *f = fopen(path, "re");
	if (!f) {
		*why = std::string("cannot read ") + path + ": " + strerror(errno);
		return false;
	}
	char line[512];
	name->clear();
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "DEVNAME=", 8))
			continue;
		*name = line + 8;
		while (!name->empty() && (name->back() == '\n' || name->back() == '\r'))
			name->pop_back();
		break;
	}
	fclose(f);
	if (name->empty()) {
		*why = std::string("no DEVNAME= in ") + path;
		return false;
	}
	// The kernel's name of a disk whose devnode has a '/' (cciss/c0d0) has '!' instead.
	std::replace(name->begin(), name->end(), '/', '!');
	return true;
}

// Why /sys/kernel/debug/clusterfs/<s_id>/glocks cannot be found, as a sentence that
// names the fix. `device_note` says what mountinfo knows of the device ("" if nothing).
std::string why_no_glocks(const std::string &s_id, const std::string &device_note)
{
	struct stat st;
	if (stat(kDebugfsDir, &st) < 0) {
		if (errno == EACCES || errno == EPERM)
			return std::string("cannot look into ") + kDebugfs + ": " + strerror(errno) + " (run as root)";
		struct statfs sf;
		if (statfs(kDebugfs, &sf) < 0 || sf.f_type != DEBUGFS_MAGIC)
			return std::string("debugfs is not mounted: mount -t debugfs none ") + kDebugfs;
		return std::string("the clusterfs module is not loaded (no ") + kDebugfsDir + ")";
	}
	std::string mounted;
	if (DIR *d = opendir(kDebugfsDir)) {
		while (const dirent *e = readdir(d)) {
			if (e->d_name[0] == '.')
				continue;
			mounted += mounted.empty() ? "" : ", ";
			mounted += e->d_name;
		}
		closedir(d);
	}
	// The module is loaded (it made the directory): the device is not mounted as clusterfs.
	std::string msg = std::string("no glocks directory for ") + s_id + " in " + kDebugfsDir +
			  ": it is not mounted as clusterfs";
	if (!device_note.empty())
		msg += " (" + device_note + ")";
	msg += mounted.empty() ? "; no clusterfs filesystem is mounted" : "; mounted: " + mounted;
	return msg;
}

struct Source {
	std::string path;   // the file read
	std::string device; // s_id, "" when a saved file was given
};

// Resolves MOUNTPOINT|DEVICE|FILE to the file to read. Prints why not and returns false.
bool resolve(const char *arg, Source *src)
{
	struct stat st;
	if (stat(arg, &st) < 0) {
		fprintf(stderr, "clusterfs_tool glocks: cannot open %s: %s\n", arg, strerror(errno));
		return false;
	}
	if (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)) {
		src->path = arg;
		return true;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISBLK(st.st_mode)) {
		fprintf(stderr,
			"clusterfs_tool glocks: %s is not a mount point, a block device or a saved glocks file\n", arg);
		return false;
	}
	dev_t dev = S_ISDIR(st.st_mode) ? st.st_dev : st.st_rdev;
	char devno[32];
	snprintf(devno, sizeof devno, "%u:%u", major(dev), minor(dev));
	std::vector<MountEntry> mounts = fsck::mounts_of_device(dev);
	const MountEntry *cfs = clusterfs_mount(mounts);
	std::string note;
	if (S_ISDIR(st.st_mode)) {
		if (!cfs) {
			if (mounts.empty())
				fprintf(stderr,
					"clusterfs_tool glocks: %s is not on a clusterfs filesystem (device %s is not in "
					"/proc/self/mountinfo)\n",
					arg, devno);
			else
				fprintf(stderr,
					"clusterfs_tool glocks: %s is not on a clusterfs filesystem (it is on %s, mounted "
					"on %s)\n",
					arg, mounts[0].fstype.c_str(), mount_holding(mounts, arg).mount_point.c_str());
			return false;
		}
	} else if (!cfs && !mounts.empty()) {
		fprintf(stderr, "clusterfs_tool glocks: %s is mounted as %s on %s, not as clusterfs\n", arg,
			mounts[0].fstype.c_str(), mounts[0].mount_point.c_str());
		return false;
	} else if (!cfs) {
		// Not mounted in this mount namespace; it may be in another, whose glocks are
		// in debugfs all the same.
		note = std::string(arg) + " is not mounted in this mount namespace";
	}
	std::string why;
	if (!kernel_name(dev, &src->device, &why)) {
		fprintf(stderr, "clusterfs_tool glocks: %s: %s\n", arg, why.c_str());
		return false;
	}
	src->path = std::string(kDebugfsDir) + "/" + src->device + "/glocks";
	if (access(src->path.c_str(), F_OK) < 0) {
		fprintf(stderr, "clusterfs_tool glocks: no glocks for %s (%s): %s\n", src->device.c_str(), arg,
			why_no_glocks(src->device, note).c_str());
		return false;
	}
	return true;
}

// ---- output --------------------------------------------------------------------------

struct Summary {
	std::vector<std::string> types;   // in sort order
	std::vector<std::string> states;  // UN SH DF EX, then any other seen, by name
	std::map<std::string, std::map<std::string, uint64_t>> by_type;
	std::map<std::string, uint64_t> by_state;
	uint64_t total = 0, lru = 0, demoting = 0;
};

Summary summarize(const std::vector<Glock> &glocks)
{
	Summary s;
	for (const char *st : kStates)
		s.states.push_back(st);
	std::vector<std::string> other_states;
	for (const Glock &g : glocks) {  // sorted: types come in order
		if (s.types.empty() || s.types.back() != g.type)
			s.types.push_back(g.type);
		if (std::find(s.states.begin(), s.states.end(), g.state) == s.states.end() &&
		    std::find(other_states.begin(), other_states.end(), g.state) == other_states.end())
			other_states.push_back(g.state);
		s.by_type[g.type][g.state]++;
		s.by_state[g.state]++;
		s.total++;
		s.lru += g.lru();
		s.demoting += g.demoting();
	}
	std::sort(other_states.begin(), other_states.end());
	s.states.insert(s.states.end(), other_states.begin(), other_states.end());
	return s;
}

std::string join(const std::vector<std::string> &v, const char *sep)
{
	std::string out;
	for (size_t i = 0; i < v.size(); i++)
		out += (i ? sep : "") + v[i];
	return out;
}

// Aligned columns: `right[i]` right-aligns column i; the last column is not padded.
void print_table(const std::vector<std::vector<std::string>> &rows, const std::vector<bool> &right)
{
	std::vector<size_t> width(right.size(), 0);
	for (const auto &r : rows)
		for (size_t i = 0; i < r.size(); i++)
			width[i] = std::max(width[i], r[i].size());
	for (const auto &r : rows) {
		std::string line;
		for (size_t i = 0; i < r.size(); i++) {
			if (i)
				line += "  ";
			std::string pad(width[i] - r[i].size(), ' ');
			if (right[i])
				line += pad + r[i];
			else
				line += i + 1 < r.size() ? r[i] + pad : r[i];
		}
		printf("%s\n", line.c_str());
	}
}

void print_text(const std::vector<Glock> &glocks)
{
	std::vector<std::vector<std::string>> rows = {
		{"TYPE", "NUMBER", "STATE", "FLAGS", "HOLDERS", "INVAL", "LKID", "REF"}};
	for (const Glock &g : glocks)
		rows.push_back({g.type, hex(g.number), g.state, g.flags.empty() ? "-" : g.flags,
				g.holders.empty() ? "-" : join(g.holders, ","), std::to_string(g.invalidations),
				std::to_string(g.lock_id), std::to_string(g.refs)});
	print_table(rows, {false, true, false, false, false, true, true, true});
}

void print_summary_text(const Summary &s, size_t unparsed)
{
	std::vector<std::vector<std::string>> rows;
	std::vector<std::string> head = {"TYPE"};
	head.insert(head.end(), s.states.begin(), s.states.end());
	head.push_back("TOTAL");
	rows.push_back(head);
	auto row = [&](const std::string &name, const std::map<std::string, uint64_t> &counts) {
		std::vector<std::string> r = {name};
		uint64_t total = 0;
		for (const std::string &st : s.states) {
			auto it = counts.find(st);
			uint64_t n = it == counts.end() ? 0 : it->second;
			r.push_back(std::to_string(n));
			total += n;
		}
		r.push_back(std::to_string(total));
		rows.push_back(r);
	};
	for (const std::string &t : s.types)
		row(t, s.by_type.at(t));
	row("total", s.by_state);
	std::vector<bool> right(head.size(), true);
	right[0] = false;
	print_table(rows, right);
	printf("on the LRU (L): %" PRIu64 "\n", s.lru);
	printf("demote wanted or pending (D or p): %" PRIu64 "\n", s.demoting);
	if (unparsed)
		printf("unparsed lines: %zu\n", unparsed);
}

nlohmann::ordered_json summary_json(const Summary &s, size_t unparsed)
{
	nlohmann::ordered_json j = nlohmann::ordered_json::object();
	j["total"] = s.total;
	nlohmann::ordered_json by_type = nlohmann::ordered_json::object();
	for (const std::string &t : s.types) {
		nlohmann::ordered_json states = nlohmann::ordered_json::object();
		for (const std::string &st : s.states)
			if (s.by_type.at(t).count(st))
				states[st] = s.by_type.at(t).at(st);
		by_type[t] = states;
	}
	j["by_type"] = by_type;
	nlohmann::ordered_json by_state = nlohmann::ordered_json::object();
	for (const std::string &st : s.states)
		if (s.by_state.count(st))
			by_state[st] = s.by_state.at(st);
	j["by_state"] = by_state;
	j["lru"] = s.lru;
	j["demote_wanted_or_pending"] = s.demoting;
	j["unparsed_lines"] = unparsed;
	return j;
}

void print_json(const Source &src, const std::vector<Glock> &glocks, const std::vector<BadLine> &bad,
		bool summary_only)
{
	nlohmann::ordered_json doc = nlohmann::ordered_json::object();
	doc["device"] = src.device.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(src.device);
	doc["source"] = src.path;
	if (!summary_only) {
		nlohmann::ordered_json list = nlohmann::ordered_json::array();
		for (const Glock &g : glocks) {
			nlohmann::ordered_json o = nlohmann::ordered_json::object();
			o["type"] = g.type;
			o["number"] = g.number;
			o["number_hex"] = hex(g.number);
			o["state"] = g.state;
			o["flags"] = g.flags;
			o["holders"] = g.holders;
			o["invalidations"] = g.invalidations;
			o["lock_id"] = g.lock_id;
			o["refs"] = g.refs;
			list.push_back(std::move(o));
		}
		doc["glocks"] = std::move(list);
	}
	doc["summary"] = summary_json(summarize(glocks), bad.size());
	nlohmann::ordered_json errors = nlohmann::ordered_json::array();
	for (const BadLine &b : bad)
		errors.push_back({{"line", b.line}, {"error", b.why}, {"text", b.text}});
	doc["unparsed"] = std::move(errors);
	// As ToolOutput::done: bytes that are not UTF-8 (in a garbled line) become U+FFFD.
	const std::string text = doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
	fputs(text.c_str(), stdout);
	fputc('\n', stdout);
}

void usage(FILE *out)
{
	fprintf(out, "usage: clusterfs_tool glocks %s\n", kUsage);
}

int cmd_glocks(int argc, char **argv)
{
	static const option longopts[] = {{"json", no_argument, nullptr, 'j'},
					  {"summary", no_argument, nullptr, 'S'},
					  {"help", no_argument, nullptr, 'h'},
					  {nullptr, 0, nullptr, 0}};
	bool json = false, summary = false;
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'S': summary = true; break;
		case 'h': usage(stdout); return kOk;
		default:
			fprintf(stderr, "clusterfs_tool glocks: unknown option %s\n", argv[optind - 1]);
			usage(stderr);
			return kEnvError;
		}
	}
	if (argc - optind != 1) {
		if (argc - optind > 1)
			fprintf(stderr, "clusterfs_tool glocks: one MOUNTPOINT, DEVICE or FILE, not %d arguments\n",
				argc - optind);
		usage(stderr);
		return kEnvError;
	}
	const char *arg = argv[optind];
	Source src;
	if (!resolve(arg, &src))
		return kEnvError;

	FILE *f = fopen(src.path.c_str(), "re");
	if (!f) {
		fprintf(stderr, "clusterfs_tool glocks: cannot open %s: %s%s\n", src.path.c_str(), strerror(errno),
			errno == EACCES ? " (debugfs is readable only by root)" : "");
		return kEnvError;
	}
	std::vector<Glock> glocks;
	std::vector<BadLine> bad;
	char *buf = nullptr;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	errno = 0;
	while ((len = getline(&buf, &cap, f)) >= 0) {
		lineno++;
		std::string line(buf, static_cast<size_t>(len));
		if (!line.empty() && line.back() == '\n')
			line.pop_back();
		if (line.find_first_not_of(" \t\r") == std::string::npos)
			continue;  // a blank line (a copy edited by hand) holds no glock
		Glock g;
		std::string why;
		if (parse_line(line, &g, &why))
			glocks.push_back(std::move(g));
		else
			bad.push_back({lineno, why, line});
	}
	int read_errno = ferror(f) ? errno : 0;
	free(buf);
	fclose(f);
	if (read_errno) {
		fprintf(stderr, "clusterfs_tool glocks: reading %s: %s\n", src.path.c_str(), strerror(read_errno));
		return kEnvError;
	}
	for (const BadLine &b : bad)
		fprintf(stderr, "clusterfs_tool glocks: %s:%u: cannot parse (%s): %s\n", src.path.c_str(), b.line,
			printable(b.why).c_str(), printable(b.text).c_str());
	std::stable_sort(glocks.begin(), glocks.end(), glock_before);

	if (json)
		print_json(src, glocks, bad, summary);
	else if (summary)
		print_summary_text(summarize(glocks), bad.size());
	else
		print_text(glocks);
	fflush(stdout);
	return bad.empty() ? kOk : kUnparsed;
}

} // namespace

const ToolCommand glock_tool_commands[] = {
	{"glocks", kUsage, "show the kernel module's glocks (debugfs) sorted, or --summary counts", cmd_glocks},
	{nullptr, nullptr, nullptr, nullptr},
};
