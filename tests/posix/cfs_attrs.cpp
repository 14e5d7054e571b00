// cfs_attrs apply DIR | cfs_attrs verify DIR      (root: chown, device nodes, trusted.*)
//
// Inode attributes across every operation that rewrites a dinode, for every inode type.
// Needs a relatime (default) or noatime mount.
//
// apply (DIR must not exist) creates a regular file, a directory, a symlink, a fifo, a
// socket and a char and a block device, and changes each attribute that applies: owner
// (lchown), mode (chmod; not on a symlink), size (truncate; regular files), an xattr
// (user.* on files and directories, trusted.* elsewhere), atime and mtime (utimensat with
// AT_SYMLINK_NOFOLLOW). Then it renames each inode within its directory and across
// directories, links it and unlinks that other link (not directories); then it sets an
// xattr, changes owner, mode and times again, renames each inode back and sets another
// xattr.
// After every step it compares every inode's attributes with what they must be: mode,
// owner, size, nlink, rdev, atime and mtime to the nanosecond, ctime never going back,
// xattrs, symlink target.
//
// It also checks the times a data change sets without setattr, which a filesystem may
// write back later: a store through a shared writable mmap plus msync must change mtime and
// ctime (on an inline file and on a block-mapped one); the times of a write() and the atime
// of a read must survive a rename, link and unlink that follow before any write-back.
//
// Every attribute ends up in DIR/expected; `sync` makes it all durable. verify, after a
// remount or a crash and journal replay, compares every inode with DIR/expected, ctime
// included, exactly. One line per check (report.h); exit 0 only if all passed, 1 if
// anything failed, 2 on bad usage.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "report.h"

using cfs_posix::Reporter;

namespace {

Reporter report;

// What an inode must look like; the xattrs by name.
struct Expect {
	std::string path;  // relative to DIR
	mode_t mode = 0;
	uid_t uid = 0;
	gid_t gid = 0;
	off_t size = 0;
	nlink_t nlink = 0;
	dev_t rdev = 0;
	timespec atime{}, mtime{}, ctime{};
	std::map<std::string, std::string> xattrs;
	std::string target;   // symlinks
	uint64_t content = 0; // regular files: FNV-1a of the bytes
};

std::string dir;  // DIR

std::string at(const std::string& rel) { return dir + "/" + rel; }

std::string show_ts(const timespec& t) {
	char buf[48];
	std::snprintf(buf, sizeof(buf), "%lld.%09ld", (long long)t.tv_sec, t.tv_nsec);
	return buf;
}

bool ts_eq(const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }
bool ts_lt(const timespec& a, const timespec& b) {
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

uint64_t fnv1a(const std::string& bytes) {
	uint64_t h = 1469598103934665603ull;
	for (unsigned char c : bytes)
		h = (h ^ c) * 1099511628211ull;
	return h;
}

// Reads a regular file without touching its atime (root may use O_NOATIME on any file).
bool content_hash(const std::string& path, uint64_t* out) {
	int fd = open(path.c_str(), O_RDONLY | O_NOATIME);
	if (fd < 0)
		return false;
	std::string bytes;
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		bytes.append(buf, n);
	close(fd);
	if (n < 0)
		return false;
	*out = fnv1a(bytes);
	return true;
}

// Compares one inode with what it must be. `ctime_exact`: after a remount; otherwise ctime
// must only not have gone back (operations set it to "now").
void check_inode(const std::string& step, Expect& e, bool ctime_exact) {
	const std::string name = step + "." + e.path;
	struct stat st;
	if (lstat(at(e.path).c_str(), &st) != 0) {
		report.fail(name + ".lstat", "success", "-1", errno);
		return;
	}
	bool good = true;
	auto field = [&](const std::string& what, bool same, const std::string& want, const std::string& got) {
		if (!same) {
			report.fail(name + "." + what, want, got, 0);
			good = false;
		}
	};
	char buf[64];
	auto oct = [&](unsigned v) { std::snprintf(buf, sizeof(buf), "0%o", v); return std::string(buf); };
	field("mode", st.st_mode == e.mode, oct(e.mode), oct(st.st_mode));
	field("owner", st.st_uid == e.uid && st.st_gid == e.gid,
	      std::to_string(e.uid) + ":" + std::to_string(e.gid),
	      std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid));
	if (!S_ISDIR(e.mode))  // a directory's size is the filesystem's business
		field("size", st.st_size == e.size, std::to_string(e.size), std::to_string(st.st_size));
	field("nlink", st.st_nlink == e.nlink, std::to_string(e.nlink), std::to_string(st.st_nlink));
	if (S_ISCHR(e.mode) || S_ISBLK(e.mode))
		field("rdev", st.st_rdev == e.rdev, std::to_string(e.rdev), std::to_string(st.st_rdev));
	field("atime", ts_eq(st.st_atim, e.atime), show_ts(e.atime), show_ts(st.st_atim));
	field("mtime", ts_eq(st.st_mtim, e.mtime), show_ts(e.mtime), show_ts(st.st_mtim));
	if (ctime_exact)
		field("ctime", ts_eq(st.st_ctim, e.ctime), show_ts(e.ctime), show_ts(st.st_ctim));
	else
		field("ctime", !ts_lt(st.st_ctim, e.ctime), ">= " + show_ts(e.ctime), show_ts(st.st_ctim));
	e.ctime = st.st_ctim;
	for (const auto& [xname, value] : e.xattrs) {
		char vbuf[256];
		ssize_t n = lgetxattr(at(e.path).c_str(), xname.c_str(), vbuf, sizeof(vbuf));
		std::string got = n < 0 ? std::string("error ") + cfs_posix::errno_name(errno) : std::string(vbuf, n);
		field("xattr-" + xname, got == value, value, got);
	}
	if (S_ISLNK(e.mode)) {
		char tbuf[4096];
		ssize_t n = readlink(at(e.path).c_str(), tbuf, sizeof(tbuf));
		std::string got = n < 0 ? "error" : std::string(tbuf, n);
		field("target", got == e.target, e.target, got);
		// readlink may itself set the atime (relatime, until utimensat sets one ahead).
		if (lstat(at(e.path).c_str(), &st) == 0)
			e.atime = st.st_atim;
	}
	if (S_ISREG(e.mode) && e.content) {
		uint64_t h = 0;
		field("content", content_hash(at(e.path), &h) && h == e.content, std::to_string(e.content),
		      std::to_string(h));
	}
	if (good)
		report.pass(name);
}

// Runs `rc` as a step's action: a failed action is one FAIL line.
bool act(const std::string& name, long rc) {
	if (rc >= 0)
		return true;
	report.fail(name, "success", std::to_string(rc), errno);
	return false;
}

// The attribute matrix: one inode of each type, every attribute, every rewriting operation.
struct Node {
	Expect e;
	std::string type;
};

void check_all(const std::string& step, std::vector<Node>& nodes) {
	for (Node& n : nodes)
		check_inode(step, n.e, false);
}

// Reads what the filesystem says now (times the step set as "now") into the expectation.
void take_times(Expect& e, bool atime, bool mtime) {
	struct stat st;
	if (lstat(at(e.path).c_str(), &st) == 0) {
		if (atime)
			e.atime = st.st_atim;
		if (mtime)
			e.mtime = st.st_mtim;
	}
}

void set_owner(std::vector<Node>& nodes, uid_t uid, gid_t gid) {
	for (Node& n : nodes)
		if (act("lchown." + n.type, fchownat(AT_FDCWD, at(n.e.path).c_str(), uid, gid, AT_SYMLINK_NOFOLLOW))) {
			n.e.uid = uid;
			n.e.gid = gid;
		}
	check_all("lchown-" + std::to_string(uid), nodes);
}

void set_mode(std::vector<Node>& nodes, bool second) {
	for (Node& n : nodes) {
		if (n.type == "symlink")
			continue;  // a symlink's mode is always 0777
		mode_t perm = n.type == "dir" ? 0751 : n.type == "reg" ? 0604 : 0640;
		if (second)
			perm = n.type == "dir" ? 0705 : 0460;
		if (act("chmod." + n.type, chmod(at(n.e.path).c_str(), perm)))
			n.e.mode = (n.e.mode & S_IFMT) | perm;
	}
	check_all(second ? "chmod-again" : "chmod", nodes);
}

void set_times(std::vector<Node>& nodes, const struct timespec times[2]) {
	for (Node& n : nodes)
		if (act("utimensat." + n.type, utimensat(AT_FDCWD, at(n.e.path).c_str(), times, AT_SYMLINK_NOFOLLOW))) {
			n.e.atime = times[0];
			n.e.mtime = times[1];
		}
	check_all("utimensat-" + std::to_string(times[1].tv_sec), nodes);
}

// user.* on files and directories, trusted.* elsewhere (user.* is for those only).
void set_xattr(std::vector<Node>& nodes, const std::string& key, const std::string& value) {
	for (Node& n : nodes) {
		std::string name = (n.type == "reg" || n.type == "dir" ? "user." : "trusted.") + key;
		if (act("setxattr-" + key + "." + n.type,
			lsetxattr(at(n.e.path).c_str(), name.c_str(), value.data(), value.size(), 0)))
			n.e.xattrs[name] = value;
	}
	check_all("setxattr-" + key, nodes);
}

// Moves every inode to directory `to`. A directory's ".." changes: its mtime may be set to
// the time of the rename (GFS2 does; ext4 and XFS keep it), never to anything else.
void rename_across(std::vector<Node>& nodes, const std::string& to, const std::string& step) {
	for (Node& n : nodes) {
		std::string dest = to + n.type;
		if (!act(step + "." + n.type, rename(at(n.e.path).c_str(), at(dest).c_str())))
			continue;
		n.e.path = dest;
		struct stat st;
		if (n.type == "dir" && lstat(at(dest).c_str(), &st) == 0 && !ts_eq(st.st_mtim, n.e.mtime) &&
		    !ts_lt(st.st_mtim, n.e.ctime))
			n.e.mtime = st.st_mtim;
	}
	check_all(step, nodes);
}

void matrix(std::vector<Node>& nodes) {
	const uid_t uid = 65534;
	const gid_t gid = 65533;
	// An atime a day ahead: relatime then leaves it alone when readlink touches the symlink.
	struct timespec times[2] = {{time(nullptr) + 86400, 111111111}, {1100000000, 222222222}};
	const std::vector<std::string> types = {"reg", "dir", "symlink", "fifo", "sock", "chr", "blk"};

	for (const std::string& t : types) {
		Node n;
		n.type = t;
		n.e.path = "a/" + t;
		const std::string p = at(n.e.path);
		long rc;
		if (t == "reg") {
			int fd = open(p.c_str(), O_CREAT | O_WRONLY | O_EXCL, 0644);
			rc = fd < 0 ? -1 : pwrite(fd, "0123456789", 10, 0);
			if (fd >= 0)
				close(fd);
			n.e.mode = S_IFREG | 0644;
			n.e.size = 10;
		} else if (t == "dir") {
			rc = mkdir(p.c_str(), 0755);
			n.e.mode = S_IFDIR | 0755;
		} else if (t == "symlink") {
			n.e.target = "target-of-the-symlink";
			rc = symlink(n.e.target.c_str(), p.c_str());
			n.e.mode = S_IFLNK | 0777;
			n.e.size = n.e.target.size();
		} else {
			mode_t type = t == "fifo" ? S_IFIFO : t == "sock" ? S_IFSOCK : t == "chr" ? S_IFCHR : S_IFBLK;
			n.e.rdev = t == "chr" ? makedev(250, 0x3f321) : t == "blk" ? makedev(7, 70000) : 0;
			rc = mknod(p.c_str(), type | 0644, n.e.rdev);
			n.e.mode = type | 0644;
		}
		if (!act("create." + t, rc))
			continue;
		struct stat st;
		lstat(p.c_str(), &st);
		n.e.nlink = st.st_nlink;
		n.e.uid = st.st_uid;
		n.e.gid = st.st_gid;
		n.e.atime = st.st_atim;
		n.e.mtime = st.st_mtim;
		n.e.ctime = st.st_ctim;
		nodes.push_back(n);
	}
	check_all("created", nodes);

	// Round 1: owner, mode, size, times (setattr only: no xattr write carries them to
	// the disk on the side), then the operations that rewrite the dinode, none of which may
	// change them.
	set_owner(nodes, uid, gid);
	set_mode(nodes, false);
	for (Node& n : nodes) {
		if (n.type != "reg")
			continue;
		// Past the inline area of a 4 KiB dinode: the file becomes block-mapped.
		if (act("truncate.reg", truncate(at(n.e.path).c_str(), 5000))) {
			n.e.size = 5000;
			take_times(n.e, false, true);
		}
	}
	check_all("truncate", nodes);
	set_times(nodes, times);

	for (Node& n : nodes) {
		std::string to = n.e.path + ".r";
		if (act("rename-in-dir." + n.type, rename(at(n.e.path).c_str(), at(to).c_str())))
			n.e.path = to;
	}
	check_all("rename-in-dir", nodes);
	rename_across(nodes, "b/", "rename-across-dirs");

	for (Node& n : nodes) {
		if (n.type == "dir")
			continue;  // no hard links to directories
		if (act("link." + n.type, link(at(n.e.path).c_str(), at(n.e.path + ".l").c_str())))
			n.e.nlink++;
	}
	check_all("link", nodes);

	for (Node& n : nodes) {
		if (n.type == "dir")
			continue;
		if (act("unlink-other-link." + n.type, unlink(at(n.e.path + ".l").c_str())))
			n.e.nlink--;
	}
	check_all("unlink-other-link", nodes);

	// Round 2: an xattr, then every attribute again with other values, then a rename
	// back and an xattr change.
	set_xattr(nodes, "color", "blue");
	set_owner(nodes, gid, uid);
	set_mode(nodes, true);
	times[0].tv_nsec = 333333333;
	times[1] = {1200000000, 444444444};
	set_times(nodes, times);
	rename_across(nodes, "a/", "rename-back");
	set_xattr(nodes, "shape", "round");
}

// Times set by data changes (no setattr) must be there at once and survive the dinode
// rewrites of rename/link/unlink that follow before any write-back.
void data_times(std::vector<Node>& nodes, bool atime_updates) {
	const struct timespec old_times[2] = {{1000000000, 0}, {1000000001, 0}};
	struct File {
		std::string name;
		size_t size;
		std::string how;  // mmap, write, read
	};
	const std::vector<File> files = {
		{"m-inline", 100, "mmap"}, {"m-blocks", 3 * 4096, "mmap"}, {"w", 3 * 4096, "write"}, {"r", 3 * 4096, "read"}};
	std::vector<Node> data;
	for (const File& f : files) {
		Node n;
		n.type = f.how;
		n.e.path = "d/" + f.name;
		int fd = open(at(n.e.path).c_str(), O_CREAT | O_RDWR | O_EXCL, 0644);
		std::string bytes(f.size, 'x');
		bool ok = fd >= 0 && pwrite(fd, bytes.data(), bytes.size(), 0) == (ssize_t)bytes.size() &&
			  fsync(fd) == 0 && futimens(fd, old_times) == 0;
		if (fd >= 0)
			close(fd);
		if (!act("data-setup." + f.name, ok ? 0 : -1))
			continue;
		struct stat st;
		lstat(at(n.e.path).c_str(), &st);
		n.e.mode = st.st_mode;
		n.e.uid = st.st_uid;
		n.e.gid = st.st_gid;
		n.e.size = st.st_size;
		n.e.nlink = 1;
		n.e.atime = st.st_atim;
		n.e.mtime = st.st_mtim;
		n.e.ctime = st.st_ctim;
		data.push_back(n);
	}
	// Past the clock tick (coarse or not) of the futimens: a change must be visible.
	struct timespec pause = {1, 200000000};
	nanosleep(&pause, nullptr);

	for (Node& n : data) {
		const std::string p = at(n.e.path);
		const std::string what = "data-times." + n.e.path.substr(2);
		struct stat before;
		lstat(p.c_str(), &before);
		if (n.type == "mmap") {
			int fd = open(p.c_str(), O_RDWR);
			void* m = fd < 0 ? MAP_FAILED : mmap(nullptr, n.e.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			bool ok = m != MAP_FAILED;
			if (ok) {
				static_cast<char*>(m)[10] = 'M';
				ok = msync(m, n.e.size, MS_SYNC) == 0;
				munmap(m, n.e.size);
			}
			if (fd >= 0)
				close(fd);
			if (!act(what + ".mmap-store-msync", ok ? 0 : -1))
				continue;
		} else if (n.type == "write") {
			int fd = open(p.c_str(), O_WRONLY);
			bool ok = fd >= 0 && pwrite(fd, "W", 1, 4100) == 1;
			if (fd >= 0)
				close(fd);
			if (!act(what + ".write", ok ? 0 : -1))
				continue;
		} else {
			if (!atime_updates) {
				report.skip(what + ".read-sets-atime", "mounted noatime");
				continue;
			}
			int fd = open(p.c_str(), O_RDONLY);
			char c;
			bool ok = fd >= 0 && pread(fd, &c, 1, 0) == 1;
			if (fd >= 0)
				close(fd);
			if (!act(what + ".read", ok ? 0 : -1))
				continue;
		}
		struct stat after;
		lstat(p.c_str(), &after);
		if (n.type == "read") {
			// relatime too updates an atime older than the mtime.
			report.truth(what + ".read-sets-atime", ts_lt(before.st_atim, after.st_atim),
				     "atime after " + show_ts(before.st_atim), show_ts(after.st_atim));
			n.e.atime = after.st_atim;
		} else {
			report.truth(what + ".mtime-changed", ts_lt(before.st_mtim, after.st_mtim),
				     "mtime after " + show_ts(before.st_mtim), show_ts(after.st_mtim));
			report.truth(what + ".ctime-changed", ts_lt(before.st_ctim, after.st_ctim),
				     "ctime after " + show_ts(before.st_ctim), show_ts(after.st_ctim));
			n.e.mtime = after.st_mtim;
			n.e.ctime = after.st_ctim;
		}
		n.e.atime = after.st_atim;
		content_hash(p, &n.e.content);
	}
	check_all("data-times", data);

	// No fsync/sync in between: the new times may exist only in the VFS inode.
	for (Node& n : data) {
		std::string to = n.e.path + ".r";
		if (act("data-rename." + n.type, rename(at(n.e.path).c_str(), at(to).c_str())))
			n.e.path = to;
	}
	check_all("data-rename", data);
	for (Node& n : data)
		if (act("data-link." + n.type, link(at(n.e.path).c_str(), at(n.e.path + ".l").c_str())))
			n.e.nlink++;
	check_all("data-link", data);
	for (Node& n : data)
		if (act("data-unlink-other-link." + n.type, unlink(at(n.e.path + ".l").c_str())))
			n.e.nlink--;
	check_all("data-unlink-other-link", data);
	for (Node& n : data)
		nodes.push_back(n);
}

// DIR/expected: one line per inode, fields separated by spaces (no path has one).
bool save(const std::vector<Node>& nodes) {
	std::ofstream out(at("expected"));
	for (const Node& n : nodes) {
		const Expect& e = n.e;
		out << e.path << ' ' << e.mode << ' ' << e.uid << ' ' << e.gid << ' ' << e.size << ' ' << e.nlink << ' '
		    << e.rdev << ' ' << e.atime.tv_sec << ' ' << e.atime.tv_nsec << ' ' << e.mtime.tv_sec << ' '
		    << e.mtime.tv_nsec << ' ' << e.ctime.tv_sec << ' ' << e.ctime.tv_nsec << ' ' << e.content << ' '
		    << (e.target.empty() ? "-" : e.target) << ' ' << e.xattrs.size();
		for (const auto& [name, value] : e.xattrs)
			out << ' ' << name << ' ' << value;
		out << '\n';
	}
	out.close();
	return !out.fail();
}

bool load(std::vector<Expect>* all) {
	std::ifstream in(at("expected"));
	if (!in)
		return false;
	std::string line;
	while (std::getline(in, line)) {
		std::istringstream s(line);
		Expect e;
		unsigned long long mode, uid, gid, nlink, rdev;
		size_t nx = 0;
		s >> e.path >> mode >> uid >> gid >> e.size >> nlink >> rdev >> e.atime.tv_sec >> e.atime.tv_nsec >>
			e.mtime.tv_sec >> e.mtime.tv_nsec >> e.ctime.tv_sec >> e.ctime.tv_nsec >> e.content >> e.target >> nx;
		for (size_t i = 0; i < nx; i++) {
			std::string name, value;
			s >> name >> value;
			e.xattrs[name] = value;
		}
		if (!s)
			return false;
		e.mode = mode;
		e.uid = uid;
		e.gid = gid;
		e.nlink = nlink;
		e.rdev = rdev;
		if (e.target == "-")
			e.target.clear();
		all->push_back(e);
	}
	return !all->empty();
}

int apply() {
	if (mkdir(dir.c_str(), 0755) != 0) {
		std::fprintf(stderr, "cfs_attrs: mkdir %s: %s (it must not exist)\n", dir.c_str(), strerror(errno));
		return 2;
	}
	for (const char* sub : {"a", "b", "d"})
		if (mkdir(at(sub).c_str(), 0755) != 0) {
			std::fprintf(stderr, "cfs_attrs: mkdir %s: %s\n", at(sub).c_str(), strerror(errno));
			return 2;
		}
	struct statvfs vfs;
	bool atime_updates = statvfs(dir.c_str(), &vfs) == 0 && !(vfs.f_flag & ST_NOATIME);
	std::vector<Node> nodes;
	matrix(nodes);
	data_times(nodes, atime_updates);
	// Final state as the filesystem reports it, for verify: ctime exactly from here on.
	for (Node& n : nodes) {
		if (S_ISREG(n.e.mode) && !n.e.content)
			content_hash(at(n.e.path), &n.e.content);
		check_inode("final", n.e, false);
	}
	report.truth("expected-saved", save(nodes), "DIR/expected written", "write error");
	sync();
	return 0;
}

int verify() {
	std::vector<Expect> all;
	if (!load(&all)) {
		report.fail("expected-loaded", "DIR/expected readable", "missing or damaged", errno);
		return 0;
	}
	for (Expect& e : all)
		check_inode("verify", e, true);
	return 0;
}

}  // namespace

int main(int argc, char** argv) {
	if (argc != 3 || (std::strcmp(argv[1], "apply") && std::strcmp(argv[1], "verify"))) {
		std::fprintf(stderr, "usage: cfs_attrs apply|verify DIR\n");
		return 2;
	}
	if (geteuid() != 0) {
		std::fprintf(stderr, "cfs_attrs: needs root (chown, device nodes, trusted.* xattrs)\n");
		return 2;
	}
	dir = argv[2];
	int rc = std::strcmp(argv[1], "apply") == 0 ? apply() : verify();
	if (rc)
		return rc;
	report.summary();
	return report.failed() ? 1 : 0;
}
