// Filesystem commands of clusterfs_tool: read-only diagnostics of an unmounted (or
// mounted: the tool only reads) device. Every command takes [--json] DEVICE first.
//
// Exit status: 0 success; 1 the device cannot be used (cannot be opened, no clusterfs
// superblock, damaged superblock or rindex); 2 usage error; 3 the object asked about
// is damaged (fails its verifier) or does not exist; what was readable is still shown.
#include <cerrno>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <map>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "crc32c.h"
#include "endian.h"
#include "fsimage.h"
#include "journal.h"
#include "libfs.h"
#include "rgrp.h"
#include "tool_commands.h"
#include "tool_output.h"
#include "xattr.h"

namespace {

using cfs::from_le16;
using cfs::from_le32;
using cfs::from_le64;
using fsck::Block;
using fsck::FsImage;
using fsck::MetaRead;

enum ToolStatus { kOk = 0, kDeviceError = 1, kUsage = 2, kObjectDamaged = 3 };

// Arguments common to every command: [--json] DEVICE [ARGS...].
struct Invocation {
	const char *command;
	bool json = false;
	const char *device = nullptr;
	std::vector<const char *> args;
};

bool parse_invocation(int argc, char **argv, size_t nargs, const char *usage, Invocation *inv)
{
	inv->command = argv[0];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			inv->json = true;
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "clusterfs_tool %s: unknown option %s\nusage: clusterfs_tool %s %s\n",
			        inv->command, argv[i], inv->command, usage);
			return false;
		} else if (!inv->device)
			inv->device = argv[i];
		else
			inv->args.push_back(argv[i]);
	}
	if (!inv->device || inv->args.size() != nargs) {
		fprintf(stderr, "usage: clusterfs_tool %s %s\n", inv->command, usage);
		return false;
	}
	return true;
}

bool parse_u64(const char *s, uint64_t *out)
{
	if (!*s)
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || s[0] == '-')
		return false;
	*out = v;
	return true;
}

// Opens the device read-only and reads its superblock; prints why not and returns
// false when it cannot be used.
bool open_image(const Invocation &inv, int *fd, FsImage **img)
{
	*fd = open(inv.device, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		fprintf(stderr, "clusterfs_tool %s: cannot open %s: %s\n", inv.command, inv.device,
		        strerror(errno));
		return false;
	}
	*img = new FsImage(*fd, false);
	std::string why;
	if (!(*img)->open_superblock(&why)) {
		fprintf(stderr, "clusterfs_tool %s: %s: %s\n", inv.command, inv.device, why.c_str());
		return false;  // the caller's OpenedImage releases both
	}
	return true;
}

struct OpenedImage {
	int fd = -1;
	FsImage *img = nullptr;
	~OpenedImage()
	{
		delete img;
		if (fd >= 0)
			close(fd);
	}
};

std::string uuid_string(const uint8_t *u)
{
	char s[40];
	snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
	         u[13], u[14], u[15]);
	return s;
}

std::string fixed_string(const char *field, size_t len)
{
	return std::string(field, strnlen(field, len));
}

std::string human_bytes(uint64_t bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = static_cast<double>(bytes);
	unsigned u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	char s[32];
	snprintf(s, sizeof s, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return s;
}

const char *file_type_name(uint32_t mode)
{
	switch (mode & 0170000) {
	case 0100000: return "regular";
	case 0040000: return "directory";
	case 0120000: return "symlink";
	case 0020000: return "char-device";
	case 0060000: return "block-device";
	case 0010000: return "fifo";
	case 0140000: return "socket";
	default: return "invalid";
	}
}

const char *dirent_type_name(uint8_t t)
{
	switch (t) {
	case CFS_DT_FIFO: return "fifo";
	case CFS_DT_CHR: return "char-device";
	case CFS_DT_DIR: return "directory";
	case CFS_DT_BLK: return "block-device";
	case CFS_DT_REG: return "regular";
	case CFS_DT_LNK: return "symlink";
	case CFS_DT_SOCK: return "socket";
	default: return "unknown";
	}
}

std::string dinode_flag_names(uint32_t flags)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {{CFS_DIF_SYSTEM, "system"},       {CFS_DIF_JDATA, "jdata"},
	             {CFS_DIF_EXHASH, "exhash"},       {CFS_DIF_XATTR, "xattr"},
	             {CFS_DIF_IMMUTABLE, "immutable"}, {CFS_DIF_APPENDONLY, "appendonly"},
	             {CFS_DIF_NOATIME, "noatime"},     {CFS_DIF_SYNC, "sync"}};
	std::string s;
	for (const auto &n : names)
		if (flags & n.bit)
			s += (s.empty() ? "" : ",") + std::string(n.name);
	return s.empty() ? "-" : s;
}

std::string time_string(int64_t sec, uint32_t nsec)
{
	time_t t = static_cast<time_t>(sec);
	struct tm tm;
	char s[64];
	if (!gmtime_r(&t, &tm) || !strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm))
		return std::to_string(sec);
	char full[96];
	snprintf(full, sizeof full, "%s.%09uZ", s, nsec);
	return full;
}

void print_header(ToolOutput &out, const cfs_meta_header *mh, const uint8_t *block, uint32_t bsize)
{
	out.begin_object("header");
	out.u64_fmt("magic", from_le32(mh->mh_magic), "0x%08" PRIx64);
	out.str("type", fsck::type_name(from_le16(mh->mh_type)));
	out.u64("type_number", from_le16(mh->mh_type));
	out.u64("format", from_le16(mh->mh_format));
	out.u64("blkno", from_le64(mh->mh_blkno));
	out.u64("owner", from_le64(mh->mh_owner));
	out.u64("lsn", from_le64(mh->mh_lsn));
	out.str("uuid", uuid_string(mh->mh_uuid));
	out.u64_fmt("crc", from_le32(mh->mh_crc), "0x%08" PRIx64);
	out.boolean("crc_ok", cfs::block_crc_ok(block, bsize));
	out.end_object();
}

// ---- sb ------------------------------------------------------------------------------

int cmd_sb(int argc, char **argv)
{
	Invocation inv;
	if (!parse_invocation(argc, argv, 0, "[--json] DEVICE", &inv))
		return kUsage;
	OpenedImage oi;
	if (!open_image(inv, &oi.fd, &oi.img))
		return kDeviceError;
	const cfs_sb &sb = oi.img->sb();
	ToolOutput out(inv.json);
	out.begin_object();
	out.str("device", inv.device);
	out.u64("format_version", from_le16(sb.sb_header.mh_format));
	out.str("uuid", uuid_string(sb.sb_header.mh_uuid));
	out.u64("block_size", oi.img->bsize());
	out.u64("blocks", oi.img->blocks());
	out.u64("size_bytes", oi.img->blocks() * oi.img->bsize());
	out.u64("superblock_block", oi.img->sb_blkno());
	out.str("lock_protocol", fixed_string(sb.sb_lockproto, sizeof sb.sb_lockproto));
	out.str("lock_table", fixed_string(sb.sb_locktable, sizeof sb.sb_locktable));
	out.str("label", fixed_string(sb.sb_label, sizeof sb.sb_label));
	out.u64("journals", from_le32(sb.sb_journals));
	out.u64("rgrps", from_le32(sb.sb_rgrps));
	out.u64("rgrp_blocks", from_le32(sb.sb_rgrp_blocks));
	out.u64("master_inode", from_le64(sb.sb_master_addr));
	out.u64("root_inode", from_le64(sb.sb_root_addr));
	out.u64("rindex_inode", from_le64(sb.sb_rindex_addr));
	out.u64("jindex_inode", from_le64(sb.sb_jindex_addr));
	out.u64("statfs_inode", from_le64(sb.sb_statfs_addr));
	out.u64_fmt("flags", from_le32(sb.sb_flags), "0x%" PRIx64);
	out.u64_fmt("features_compat", from_le64(sb.sb_features_compat), "0x%" PRIx64);
	out.u64_fmt("features_ro_compat", from_le64(sb.sb_features_ro_compat), "0x%" PRIx64);
	out.u64_fmt("features_incompat", from_le64(sb.sb_features_incompat), "0x%" PRIx64);
	out.str("mkfs_time", time_string(static_cast<int64_t>(from_le64(sb.sb_mkfs_time)), 0));
	out.end_object();
	out.done();
	return kOk;
}

// ---- rgrps ---------------------------------------------------------------------------

int cmd_rgrps(int argc, char **argv)
{
	Invocation inv;
	if (!parse_invocation(argc, argv, 0, "[--json] DEVICE", &inv))
		return kUsage;
	OpenedImage oi;
	if (!open_image(inv, &oi.fd, &oi.img))
		return kDeviceError;
	std::string why;
	if (!oi.img->load_rgrps(&why)) {
		fprintf(stderr, "clusterfs_tool rgrps: %s: %s\n", inv.device, why.c_str());
		return kDeviceError;
	}
	int status = kOk;
	ToolOutput out(inv.json);
	out.begin_object();
	out.u64("count", oi.img->rgrps().size());
	if (out.json())
		out.begin_array("rgrps");
	else
		printf("%5s %12s %4s %12s %10s %-8s %10s %9s %9s %10s %s\n", "INDEX", "ADDRESS", "LEN",
		       "DATA0", "DATA", "FLAGS", "FREE", "DINODES", "UNLINKED", "BM_FREE", "STATE");
	for (const fsck::RgrpInfo &r : oi.img->rgrps()) {
		if (!out.json()) {
			std::vector<uint8_t> bits;
			std::vector<std::string> problems;
			bool bitmap_ok = oi.img->read_bitmap(r, &bits, &problems) && problems.empty();
			uint32_t counts[4] = {};
			if (!bits.empty())
				cfs::bitmap_count(bits.data(), r.rg.data, counts);
			const char *flags = r.rg.flags & CFS_RGF_JOURNAL ? "journal"
			                    : r.rg.flags & CFS_RGF_NOALLOC ? "noalloc" : "-";
			printf("%5u %12" PRIu64 " %4u %12" PRIu64 " %10u %-8s %10u %9u %9u %10u %s\n", r.index,
			       r.rg.addr, r.rg.length, r.rg.data0, r.rg.data, flags, r.rg.free, r.rg.dinodes,
			       r.unlinked, counts[CFS_BLKST_FREE], r.header_ok && bitmap_ok ? "ok" : "DAMAGED");
			if (!r.header_ok)
				printf("      %s\n", r.header_problem.c_str());
			for (const std::string &p : problems)
				printf("      %s\n", p.c_str());
			if (!r.header_ok || !bitmap_ok)
				status = kObjectDamaged;
			continue;
		}
		out.begin_object();
		out.u64("index", r.index);
		out.u64("address", r.rg.addr);
		out.u64("length", r.rg.length);
		out.u64("data0", r.rg.data0);
		out.u64("data", r.rg.data);
		out.u64("bitbytes", r.rg.bitbytes);
		std::string flags;
		if (r.rg.flags & CFS_RGF_JOURNAL)
			flags += "journal";
		if (r.rg.flags & CFS_RGF_NOALLOC)
			flags += flags.empty() ? "noalloc" : ",noalloc";
		out.str("flags", flags.empty() ? "-" : flags);
		out.u64("free", r.rg.free);
		out.u64("dinodes", r.rg.dinodes);
		out.u64("unlinked", r.unlinked);
		out.u64("next_generation", r.igeneration);
		out.u64("skip", r.skip);
		// What the bitmap itself says, so a count mismatch is visible here.
		std::vector<uint8_t> bits;
		std::vector<std::string> problems;
		bool bitmap_ok = oi.img->read_bitmap(r, &bits, &problems) && problems.empty();
		uint32_t counts[4] = {};
		if (!bits.empty())
			cfs::bitmap_count(bits.data(), r.rg.data, counts);
		out.u64("bitmap_free", counts[CFS_BLKST_FREE]);
		out.u64("bitmap_used", counts[CFS_BLKST_USED]);
		out.u64("bitmap_dinodes", counts[CFS_BLKST_DINODE] + counts[CFS_BLKST_UNLINKED]);
		out.boolean("ok", r.header_ok && bitmap_ok);
		if (!r.header_ok || !bitmap_ok) {
			std::string p = r.header_problem;
			for (const std::string &s : problems)
				p += (p.empty() ? "" : "; ") + s;
			out.str("problem", p);
			status = kObjectDamaged;
		}
		out.end_object();
	}
	if (out.json())
		out.end_array();
	out.end_object();
	out.done();
	return status;
}

// ---- journals ------------------------------------------------------------------------

// Who holds each journal, as the local clusterfs_lockd sees it: the mounts of the
// lockspace named by the superblock's lock table, each with the journal it owns.
struct JournalHolders {
	bool known = false;                  // the lockd answered for this lockspace
	std::map<uint64_t, uint32_t> node;   // journal slot -> node id
	struct Recovery {
		uint32_t dead_node;
		std::optional<uint32_t> assigned_node;  // the mount told to replay it, if any yet
	};
	std::map<uint64_t, Recovery> recovery;  // journals of dead nodes awaiting replay
	std::string summary;                 // the "lockd:" line
	std::string socket;
	bool reachable = false;
};

JournalHolders ask_lockd_for_holders(const cfs_sb &sb, const std::string &socket)
{
	JournalHolders h;
	std::string proto_name = fixed_string(sb.sb_lockproto, sizeof sb.sb_lockproto);
	std::string table = fixed_string(sb.sb_locktable, sizeof sb.sb_locktable);
	if (proto_name != CFS_LOCKPROTO_CLUSTER) {
		h.summary = "not asked: a " + proto_name + " filesystem has no cluster journal holders";
		return h;
	}
	// The kernel joins the lockspace named by the lock table (unless a locktable= mount
	// option overrode it, which this cannot see).
	LockdReply r = lockd_cluster_dump(socket, table, 5000);
	h.socket = r.socket;
	h.reachable = r.reachable;
	if (!r.reachable) {
		h.summary = "not reachable at " + r.socket + ": holders unknown";
		return h;
	}
	if (!r.answered) {
		h.summary = "at " + r.socket + ": " + r.error + ": holders unknown";
		return h;
	}
	nlohmann::json dump = nlohmann::json::parse(r.text, nullptr, false);
	const nlohmann::json *ls = nullptr;
	if (dump.is_object() && dump.contains("lockspaces") && dump["lockspaces"].is_array())
		for (const nlohmann::json &l : dump["lockspaces"])
			if (l.is_object() && l.value("name", "") == table)
				ls = &l;
	if (!dump.is_object() || !dump.contains("lockspaces")) {
		h.summary = "at " + r.socket + ": unreadable cluster dump: holders unknown";
		return h;
	}
	if (!ls) {
		// lockd knows the mounts of a lockspace only while this node is a member.
		h.summary = "reachable at " + r.socket + ", but this node has not joined lockspace " +
		            table + ": holders unknown";
		return h;
	}
	if (ls->contains("mounts") && (*ls)["mounts"].is_array())
		for (const nlohmann::json &m : (*ls)["mounts"])
			if (m.is_object() && m.contains("journal") && m["journal"].is_number_unsigned() &&
			    m.contains("node") && m["node"].is_number_unsigned())
				h.node[m["journal"].get<uint64_t>()] = m["node"].get<uint32_t>();
	// A dead node's mount stays listed (its journal lock orphaned) until its journal is
	// replayed; the recoveries say so.
	if (ls->contains("recoveries") && (*ls)["recoveries"].is_array())
		for (const nlohmann::json &r : (*ls)["recoveries"])
			if (r.is_object() && r.contains("journal") && r["journal"].is_number_unsigned() &&
			    r.contains("dead_node") && r["dead_node"].is_number_unsigned()) {
				JournalHolders::Recovery rec{r["dead_node"].get<uint32_t>(), std::nullopt};
				if (r.contains("assigned_node") && r["assigned_node"].is_number_unsigned())
					rec.assigned_node = r["assigned_node"].get<uint32_t>();
				h.recovery[r["journal"].get<uint64_t>()] = rec;
			}
	h.known = true;
	h.summary = "reachable at " + r.socket + ": lockspace " + table + ", " +
	            std::to_string(h.node.size()) + " journal" + (h.node.size() == 1 ? "" : "s") +
	            " held";
	return h;
}

int cmd_journals(int argc, char **argv)
{
	// -s/--socket SOCKET names the lockd to ask; the other arguments are the common ones.
	std::string socket;
	std::vector<char *> rest;
	for (int i = 0; i < argc; i++) {
		if (i > 0 && (!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket"))) {
			if (i + 1 >= argc) {
				fprintf(stderr, "clusterfs_tool journals: %s needs a socket path\n", argv[i]);
				return kUsage;
			}
			socket = argv[++i];
		} else if (i > 0 && !strncmp(argv[i], "--socket=", 9)) {
			socket = argv[i] + 9;
		} else {
			rest.push_back(argv[i]);
		}
	}
	Invocation inv;
	if (!parse_invocation(static_cast<int>(rest.size()), rest.data(), 0,
	                      "[--json] [-s SOCKET] DEVICE", &inv))
		return kUsage;
	OpenedImage oi;
	if (!open_image(inv, &oi.fd, &oi.img))
		return kDeviceError;
	std::string why;
	if (!oi.img->load_journals(&why)) {
		fprintf(stderr, "clusterfs_tool journals: %s: %s\n", inv.device, why.c_str());
		return kDeviceError;
	}
	// The head search is lib's, so the tool reports exactly what mount would find.
	fsck::LibFs lib;
	bool have_lib = lib.open(inv.device, true, false, &why);
	int status = kOk;
	ToolOutput out(inv.json);
	out.begin_object();
	JournalHolders holders = ask_lockd_for_holders(oi.img->sb(), socket);
	out.u64("count", oi.img->journals().size());
	if (out.json()) {
		out.begin_object("lockd");
		if (holders.socket.empty())
			out.field("socket", nullptr, "socket", "");  // not asked
		else
			out.str("socket", holders.socket);
		out.boolean("reachable", holders.reachable);
		out.boolean("holders_known", holders.known);
		out.str("message", holders.summary);
		out.end_object();
	} else {
		out.str("lockd", holders.summary);
	}
	out.begin_array("journals");
	for (const fsck::JournalInfo &j : oi.img->journals()) {
		out.begin_object();
		out.u64("slot", j.slot);
		auto held = holders.node.find(j.slot);
		auto rec = holders.recovery.find(j.slot);
		std::string recovering;
		if (rec != holders.recovery.end())
			recovering = ", which died: awaiting recovery" +
			             (rec->second.assigned_node
			                      ? " by node " + std::to_string(*rec->second.assigned_node)
			                      : std::string());
		if (held != holders.node.end())
			out.field("holder_node", held->second, "holder",
			          "held by node " + std::to_string(held->second) + recovering);
		else
			out.field("holder_node", nullptr, "holder", holders.known ? "not held" : "unknown");
		if (rec != holders.recovery.end()) {
			out.begin_object("recovery");
			out.u64("dead_node", rec->second.dead_node);
			if (rec->second.assigned_node)
				out.u64("assigned_node", *rec->second.assigned_node);
			else
				out.field("assigned_node", nullptr, "assigned_node", "none yet");
			out.end_object();
		}
		out.u64("inode", j.entry.ji_journal_addr);
		out.u64("first_block", j.entry.ji_first_block);
		out.u64("blocks", j.entry.ji_blocks);
		out.u64("size_bytes", j.entry.ji_blocks * oi.img->bsize());
		out.u64("statfs_change_inode", j.entry.ji_statfs_addr);
		if (!have_lib) {
			out.str("state", "unknown");
			out.str("problem", why);
			status = kObjectDamaged;
		} else if (j.entry.ji_blocks > UINT32_MAX ||
		           j.entry.ji_first_block + j.entry.ji_blocks > oi.img->blocks()) {
			out.str("state", "damaged");
			out.str("problem", "journal extent lies outside the filesystem");
			status = kObjectDamaged;
		} else {
			cfs::JournalLoc loc{j.entry.ji_journal_addr, j.entry.ji_first_block,
			                    static_cast<uint32_t>(j.entry.ji_blocks)};
			cfs::JournalHead head{};
			int err = cfs::journal_find_head(lib.fs(), &loc, &head);
			if (err) {
				out.str("state", "damaged");
				std::string p = strerror(-err);
				for (const std::string &m : lib.take_messages())
					p += "; " + m;
				out.str("problem", p);
				status = kObjectDamaged;
			} else {
				out.str("state", head.empty ? "empty" : head.clean ? "clean" : "dirty");
				out.boolean("unmounted", head.unmounted);
				out.u64("sequence", head.sequence);
				out.u64("head", head.head);
				out.u64("tail", head.tail);
			}
		}
		out.end_object();
	}
	out.end_array();
	out.end_object();
	out.done();
	return status;
}

// ---- inode ---------------------------------------------------------------------------

void print_dinode(ToolOutput &out, const FsImage &img, uint64_t ino, const Block &b)
{
	const cfs_dinode *di = fsck::as_dinode(b);
	uint32_t mode = from_le32(di->di_mode);
	out.u64("inode", ino);
	out.str("type", file_type_name(mode));
	out.u64_fmt("mode", mode, "0%" PRIo64);
	out.u64("uid", from_le32(di->di_uid));
	out.u64("gid", from_le32(di->di_gid));
	out.u64("nlink", from_le32(di->di_nlink));
	out.u64("size", from_le64(di->di_size));
	out.u64("blocks", from_le64(di->di_blocks));
	out.u64("generation", from_le64(di->di_generation));
	out.str("flags", dinode_flag_names(from_le32(di->di_flags)));
	out.u64("height", from_le16(di->di_height));
	out.u64("depth", from_le16(di->di_depth));
	out.u64("entries", from_le64(di->di_entries));
	out.u64("parent", from_le64(di->di_parent));
	out.u64("rdev_major", from_le32(di->di_rdev_major));
	out.u64("rdev_minor", from_le32(di->di_rdev_minor));
	out.u64("xattr_block", from_le64(di->di_eattr));
	out.u64("goal_meta", from_le64(di->di_goal_meta));
	out.u64("goal_data", from_le64(di->di_goal_data));
	out.str("atime", time_string(static_cast<int64_t>(from_le64(di->di_atime)), from_le32(di->di_atime_nsec)));
	out.str("mtime", time_string(static_cast<int64_t>(from_le64(di->di_mtime)), from_le32(di->di_mtime_nsec)));
	out.str("ctime", time_string(static_cast<int64_t>(from_le64(di->di_ctime)), from_le32(di->di_ctime_nsec)));
	out.str("crtime", time_string(static_cast<int64_t>(from_le64(di->di_crtime)), from_le32(di->di_crtime_nsec)));
	if ((mode & 0170000) == 0120000 && from_le16(di->di_height) == 0) {
		uint64_t len = std::min<uint64_t>(from_le64(di->di_size), CFS_INLINE_SIZE(img.bsize()));
		out.str("target", std::string(reinterpret_cast<const char *>(b.data() + CFS_DINODE_SIZE), len));
	}
}

// The names and value sizes of an inode's extended attributes (a verified block only).
bool print_xattrs(ToolOutput &out, const FsImage &img, uint64_t ino, uint64_t eattr)
{
	Block xb;
	MetaRead xr = img.read_meta(eattr, CFS_BT_EA, ino, &xb);
	if (!xr.valid) {
		out.str("xattr_problem", xr.problem);
		return false;
	}
	const auto *hdr = reinterpret_cast<const cfs_xattr_block *>(xb.data());
	const uint32_t end = CFS_XATTR_ENTRIES_OFFSET + from_le32(hdr->xb_used);
	out.begin_array("xattrs");
	for (uint32_t pos = CFS_XATTR_ENTRIES_OFFSET; pos < end;) {
		const auto *xe = reinterpret_cast<const cfs_xattr_entry *>(xb.data() + pos);
		const uint32_t value_len = from_le16(xe->xe_value_len);
		const char *prefix = cfs::xattr_prefix(xe->xe_namespace);
		out.begin_object(nullptr);
		out.str("name", std::string(prefix ? prefix : "?") +
		                    std::string(reinterpret_cast<const char *>(xe + 1), xe->xe_name_len));
		out.u64("value_bytes", value_len);
		out.end_object();
		pos += CFS_XATTR_ENTRY_SIZE(xe->xe_name_len, value_len);
	}
	out.end_array();
	return true;
}

int cmd_inode(int argc, char **argv)
{
	Invocation inv;
	if (!parse_invocation(argc, argv, 1, "[--json] DEVICE INODE", &inv))
		return kUsage;
	uint64_t ino;
	if (!parse_u64(inv.args[0], &ino)) {
		fprintf(stderr, "clusterfs_tool inode: '%s' is not an inode number\n", inv.args[0]);
		return kUsage;
	}
	OpenedImage oi;
	if (!open_image(inv, &oi.fd, &oi.img))
		return kDeviceError;
	Block b;
	MetaRead r = oi.img->read_meta(ino, CFS_BT_DI, ino, &b);
	if (!r.io_ok) {
		fprintf(stderr, "clusterfs_tool inode: %s: %s\n", inv.device, r.problem.c_str());
		return kObjectDamaged;
	}
	ToolOutput out(inv.json);
	out.begin_object();
	out.boolean("valid", r.valid);
	if (!r.valid)
		out.str("problem", r.problem);
	print_dinode(out, *oi.img, ino, b);
	// The pointer tree, summarised per level.
	unsigned height = from_le16(fsck::as_dinode(b)->di_height);
	if (r.valid && height > 0) {
		std::vector<uint64_t> per_level(height + 1, 0);
		std::vector<std::string> tree_problems;
		// Data blocks as runs contiguous both in the file and on disk (the walk visits
		// pointers in file order): what FS_IOC_FIEMAP on the mounted file must report.
		struct Extent {
			uint64_t file_block, disk_block, blocks;
		};
		std::vector<Extent> extents;
		oi.img->walk_tree(ino, b, [&](const FsImage::TreeBlock &tb) {
			per_level[tb.level]++;
			if (tb.level == height) {
				Extent *last = extents.empty() ? nullptr : &extents.back();
				if (last && last->file_block + last->blocks == tb.file_block &&
				    last->disk_block + last->blocks == tb.blkno)
					last->blocks++;
				else
					extents.push_back({tb.file_block, tb.blkno, 1});
			}
			return true;
		}, [&](const FsImage::TreeBlock &, const std::string &why) { tree_problems.push_back(why); });
		out.u64("indirect_blocks", [&] {
			uint64_t n = 0;
			for (unsigned l = 1; l < height; l++)
				n += per_level[l];
			return n;
		}());
		out.u64("data_blocks", per_level[height]);
		out.begin_array("extents");
		for (const Extent &e : extents) {
			out.begin_object();
			out.u64("file_block", e.file_block);
			out.u64("disk_block", e.disk_block);
			out.u64("blocks", e.blocks);
			out.end_object();
		}
		out.end_array();
		if (!tree_problems.empty()) {
			out.begin_array("tree_problems");
			for (const std::string &p : tree_problems)
				out.str(nullptr, p);
			out.end_array();
		}
	}
	bool xattrs_ok = true;
	if (uint64_t eattr = r.valid ? from_le64(fsck::as_dinode(b)->di_eattr) : 0)
		xattrs_ok = print_xattrs(out, *oi.img, ino, eattr);
	out.end_object();
	out.done();
	return r.valid && xattrs_ok ? kOk : kObjectDamaged;
}

// ---- dir -----------------------------------------------------------------------------

// Resolves an absolute path from the root directory (or a number: an inode). Sets
// *why and returns 0 when a component is missing or not a directory.
uint64_t resolve(const FsImage &img, const char *spec, std::string *why)
{
	uint64_t ino;
	if (spec[0] != '/' && parse_u64(spec, &ino))
		return ino;
	if (spec[0] != '/') {
		*why = std::string("'") + spec + "' is neither an absolute path nor an inode number";
		return 0;
	}
	ino = from_le64(img.sb().sb_root_addr);
	std::string path(spec);
	size_t pos = 0;
	while (pos < path.size()) {
		size_t next = path.find('/', pos);
		if (next == std::string::npos)
			next = path.size();
		std::string comp = path.substr(pos, next - pos);
		pos = next + 1;
		if (comp.empty())
			continue;
		Block b;
		MetaRead r = img.read_meta(ino, CFS_BT_DI, ino, &b);
		if (!r.valid) {
			*why = r.problem;
			return 0;
		}
		if ((from_le32(fsck::as_dinode(b)->di_mode) & 0170000) != 0040000) {
			*why = "inode " + std::to_string(ino) + " on the path is not a directory";
			return 0;
		}
		uint64_t found = 0;
		FsImage::DirWalk walk;
		img.walk_dir(ino, b, [&](const FsImage::Dirent &d) {
			if (d.name == comp) {
				found = d.ino;
				return false;
			}
			return true;
		}, [](uint64_t, const std::string &) {}, &walk);
		if (!found) {
			*why = "no entry '" + comp + "' in directory inode " + std::to_string(ino);
			return 0;
		}
		ino = found;
	}
	return ino;
}

int cmd_dir(int argc, char **argv)
{
	Invocation inv;
	if (!parse_invocation(argc, argv, 1, "[--json] DEVICE PATH|INODE", &inv))
		return kUsage;
	OpenedImage oi;
	if (!open_image(inv, &oi.fd, &oi.img))
		return kDeviceError;
	std::string why;
	uint64_t ino = resolve(*oi.img, inv.args[0], &why);
	if (!ino) {
		fprintf(stderr, "clusterfs_tool dir: %s: %s\n", inv.device, why.c_str());
		return kObjectDamaged;
	}
	Block b;
	MetaRead r = oi.img->read_meta(ino, CFS_BT_DI, ino, &b);
	if (!r.valid) {
		fprintf(stderr, "clusterfs_tool dir: %s: %s\n", inv.device, r.problem.c_str());
		return kObjectDamaged;
	}
	const cfs_dinode *di = fsck::as_dinode(b);
	if ((from_le32(di->di_mode) & 0170000) != 0040000) {
		fprintf(stderr, "clusterfs_tool dir: %s: inode %" PRIu64 " is a %s, not a directory\n",
		        inv.device, ino, file_type_name(from_le32(di->di_mode)));
		return kObjectDamaged;
	}
	ToolOutput out(inv.json);
	out.begin_object();
	out.u64("inode", ino);
	out.str("format", from_le32(di->di_flags) & CFS_DIF_EXHASH ? "hashed" : "linear");
	out.u64("depth", from_le16(di->di_depth));
	out.u64("entries_recorded", from_le64(di->di_entries));
	std::vector<std::string> problems;
	FsImage::DirWalk walk;
	// Text: one line per entry, like ls -i; JSON: one object per entry.
	if (!out.json())
		printf("entries:\n  %-12s %-13s %-10s %-12s %-6s %s\n", "INODE", "TYPE", "HASH", "BLOCK",
		       "OFFSET", "NAME");
	else
		out.begin_array("entries");
	oi.img->walk_dir(ino, b, [&](const FsImage::Dirent &d) {
		if (!out.json()) {
			printf("  %-12" PRIu64 " %-13s 0x%08x %-12" PRIu64 " %-6u %s\n", d.ino,
			       dirent_type_name(d.type), d.hash, d.block, d.offset, d.name.c_str());
			return true;
		}
		out.begin_object();
		out.str("name", d.name);
		out.u64("inode", d.ino);
		out.str("type", dirent_type_name(d.type));
		out.u64("generation", d.generation);
		out.u64_fmt("hash", d.hash, "0x%08" PRIx64);
		out.u64("block", d.block);
		out.u64("offset", d.offset);
		out.end_object();
		return true;
	}, [&](uint64_t, const std::string &p) { problems.push_back(p); }, &walk);
	if (out.json())
		out.end_array();
	out.u64("entries_found", walk.entries);
	out.u64("leaf_blocks", walk.leaves.size());
	if (!problems.empty()) {
		out.begin_array("problems");
		for (const std::string &p : problems)
			out.str(nullptr, p);
		out.end_array();
	}
	out.end_object();
	out.done();
	return problems.empty() ? kOk : kObjectDamaged;
}

// ---- blk -----------------------------------------------------------------------------

int cmd_blk(int argc, char **argv)
{
	Invocation inv;
	if (!parse_invocation(argc, argv, 1, "[--json] DEVICE BLOCK", &inv))
		return kUsage;
	uint64_t blkno;
	if (!parse_u64(inv.args[0], &blkno)) {
		fprintf(stderr, "clusterfs_tool blk: '%s' is not a block number\n", inv.args[0]);
		return kUsage;
	}
	OpenedImage oi;
	if (!open_image(inv, &oi.fd, &oi.img))
		return kDeviceError;
	Block b;
	if (blkno >= oi.img->blocks() || !oi.img->read_block(blkno, &b)) {
		fprintf(stderr, "clusterfs_tool blk: %s: block %" PRIu64 " is %s\n", inv.device, blkno,
		        blkno >= oi.img->blocks() ? "past the end of the filesystem" : "unreadable");
		return kObjectDamaged;
	}
	const auto *mh = reinterpret_cast<const cfs_meta_header *>(b.data());
	bool meta = from_le32(mh->mh_magic) == CFS_META_MAGIC;
	int status = kOk;
	ToolOutput out(inv.json);
	out.begin_object();
	out.u64("block", blkno);
	out.u64("byte_offset", blkno * oi.img->bsize());
	out.boolean("metadata", meta);
	// Which rgrp it belongs to and what the bitmap says about it.
	int rgi = -1;
	std::string why;
	if (oi.img->load_rgrps(&why) && (rgi = oi.img->rgrp_index_of(blkno)) >= 0) {
		const fsck::RgrpInfo &rg = oi.img->rgrps()[rgi];
		std::vector<uint8_t> bits;
		std::vector<std::string> ignored;
		out.u64("rgrp", rg.index);
		if (oi.img->read_bitmap(rg, &bits, &ignored)) {
			static const char *const states[] = {"free", "used", "unlinked", "dinode"};
			out.str("bitmap_state",
			        states[cfs::bitmap_get(bits.data(), static_cast<uint32_t>(blkno - rg.rg.data0))]);
		}
	}
	if (meta) {
		print_header(out, mh, b.data(), oi.img->bsize());
		uint16_t type = from_le16(mh->mh_type);
		MetaRead r = oi.img->read_meta(blkno, type, 0, &b);
		out.boolean("valid", r.valid);
		if (!r.valid) {
			out.str("problem", r.problem);
			status = kObjectDamaged;
		}
		if (type == CFS_BT_DI) {
			out.begin_object("dinode");
			print_dinode(out, *oi.img, blkno, b);
			out.end_object();
		} else if (type == CFS_BT_RG) {
			const auto *rg = reinterpret_cast<const cfs_rgrp *>(b.data());
			out.begin_object("rgrp");
			out.u64("flags", from_le32(rg->rg_flags));
			out.u64("free", from_le32(rg->rg_free));
			out.u64("dinodes", from_le32(rg->rg_dinodes));
			out.u64("unlinked", from_le32(rg->rg_unlinked));
			out.u64("data0", from_le64(rg->rg_data0));
			out.u64("data", from_le32(rg->rg_data));
			out.u64("length", from_le32(rg->rg_length));
			out.u64("skip", from_le32(rg->rg_skip));
			out.end_object();
		} else if (type == CFS_BT_LF) {
			const auto *lf = reinterpret_cast<const cfs_leaf *>(b.data());
			out.begin_object("leaf");
			out.u64("depth", from_le16(lf->lf_depth));
			out.u64("entries", from_le32(lf->lf_entries));
			out.u64("next", from_le64(lf->lf_next));
			out.end_object();
		} else if (type == CFS_BT_LH) {
			const auto *lh = reinterpret_cast<const cfs_log_header *>(b.data());
			out.begin_object("log_header");
			out.u64("sequence", from_le64(lh->lh_sequence));
			out.u64("flags", from_le32(lh->lh_flags));
			out.u64("tail", from_le32(lh->lh_tail));
			out.u64("journal_block", from_le32(lh->lh_blkno));
			out.end_object();
		} else if (type == CFS_BT_LD) {
			const auto *ld = reinterpret_cast<const cfs_log_desc *>(b.data());
			out.begin_object("log_descriptor");
			out.u64("sequence", from_le64(ld->ld_sequence));
			out.str("kind", from_le32(ld->ld_type) == CFS_LD_METADATA ? "metadata"
			                : from_le32(ld->ld_type) == CFS_LD_REVOKE ? "revoke" : "invalid");
			out.u64("entries", from_le32(ld->ld_entries));
			out.end_object();
		}
	}
	if (out.json()) {
		static const char hex[] = "0123456789abcdef";
		std::string s;
		s.reserve(b.size() * 2);
		for (uint8_t c : b) {
			s += hex[c >> 4];
			s += hex[c & 15];
		}
		out.str("hex", s);
	} else {
		out.raw_text("contents", fsck::hexdump(b.data(), b.size()));
	}
	out.end_object();
	out.done();
	return status;
}

// ---- df ------------------------------------------------------------------------------

int cmd_df(int argc, char **argv)
{
	Invocation inv;
	if (!parse_invocation(argc, argv, 0, "[--json] DEVICE", &inv))
		return kUsage;
	OpenedImage oi;
	if (!open_image(inv, &oi.fd, &oi.img))
		return kDeviceError;
	std::string why;
	if (!oi.img->load_rgrps(&why)) {
		fprintf(stderr, "clusterfs_tool df: %s: %s\n", inv.device, why.c_str());
		return kDeviceError;
	}
	// Free space counts only rgrps open to allocation (journal rgrps are full by design).
	uint64_t data = 0, free_blocks = 0, dinodes = 0, journal_blocks = 0;
	for (const fsck::RgrpInfo &r : oi.img->rgrps()) {
		dinodes += r.rg.dinodes;
		if (r.rg.flags & CFS_RGF_JOURNAL) {
			journal_blocks += r.rg.data;
			continue;
		}
		data += r.rg.data;
		free_blocks += r.rg.free;
	}
	uint64_t bs = oi.img->bsize();
	ToolOutput out(inv.json);
	out.begin_object();
	out.u64("block_size", bs);
	out.u64("data_blocks", data);
	out.u64("free_blocks", free_blocks);
	out.u64("used_blocks", data - std::min(data, free_blocks));
	out.u64("dinodes", dinodes);
	out.u64("journal_blocks", journal_blocks);
	out.str("size", human_bytes(data * bs));
	out.str("free", human_bytes(free_blocks * bs));
	out.str("used", human_bytes((data - std::min(data, free_blocks)) * bs));
	out.u64("use_percent", data ? (data - std::min(data, free_blocks)) * 100 / data : 0);
	// The global statfs file, as the kernel will report it (before folding node deltas).
	uint64_t sf_ino = from_le64(oi.img->sb().sb_statfs_addr);
	Block b;
	std::vector<uint8_t> rec;
	int status = kOk;
	if (oi.img->read_meta(sf_ino, CFS_BT_DI, sf_ino, &b).valid &&
	    oi.img->read_file(sf_ino, b, 0, sizeof(cfs_statfs), &rec, &why)) {
		const auto *sf = reinterpret_cast<const cfs_statfs *>(rec.data());
		out.begin_object("statfs_file");
		out.u64("total", from_le64(sf->sf_total));
		out.u64("free", from_le64(sf->sf_free));
		out.u64("dinodes", from_le64(sf->sf_dinodes));
		out.end_object();
	} else {
		out.str("statfs_file", "unreadable");
		status = kObjectDamaged;
	}
	out.end_object();
	out.done();
	return status;
}

}  // namespace

const ToolCommand fs_tool_commands[] = {
	{"sb", "[--json] DEVICE", "show the superblock", cmd_sb},
	{"rgrps", "[--json] DEVICE", "list resource groups with header and bitmap counts", cmd_rgrps},
	{"journals", "[--json] [-s SOCKET] DEVICE",
	 "list journals, whether each is clean and, from lockd, which node holds it", cmd_journals},
	{"inode", "[--json] DEVICE INODE", "show a dinode and its block tree", cmd_inode},
	{"dir", "[--json] DEVICE PATH|INODE", "list a directory's entries", cmd_dir},
	{"blk", "[--json] DEVICE BLOCK", "decode a block's header and hexdump it", cmd_blk},
	{"df", "[--json] DEVICE", "show space and dinode usage", cmd_df},
	{nullptr, nullptr, nullptr, nullptr},
};
