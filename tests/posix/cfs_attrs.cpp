// cfs_attrs apply DIR | cfs_attrs verify DIR      (root: chown, device nodes, trusted.*)
// cfs_attrs stamps DIR [ROUNDS] | atime DIR MODE | atime-verify DIR MODE
// cfs_attrs keep DIR | keep-verify DIR crash|remount
//
// stamps, atime and keep check timestamps (see each below; docs/kernel.md "Timestamps"):
// one time per creating or relinking operation, the atime rules of each atime mount mode,
// and the times of a data change kept, in memory and on disk, by the operations after it.
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

#include <dirent.h>
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
#include <cstdlib>
#include <cstring>
#include <functional>
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


// ---- Timestamps: one time per operation, atime rules, times that must survive ------------

// statx's four times of a path (not following a symlink).
struct Times {
	timespec b{}, a{}, m{}, c{};
	bool ok = false;
};

Times times_of(const std::string& path) {
	struct statx sx;
	Times t;
	if (statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) != 0 ||
	    !(sx.stx_mask & STATX_BTIME))
		return t;
	auto conv = [](const struct statx_timestamp& s) { return timespec{(time_t)s.tv_sec, (long)s.tv_nsec}; };
	t.b = conv(sx.stx_btime);
	t.a = conv(sx.stx_atime);
	t.m = conv(sx.stx_mtime);
	t.c = conv(sx.stx_ctime);
	t.ok = true;
	return t;
}

std::string show_times(const Times& t) {
	return "b=" + show_ts(t.b) + " a=" + show_ts(t.a) + " m=" + show_ts(t.m) + " c=" + show_ts(t.c);
}

// Counts violations per check over many repetitions and reports each check once: a race
// with the clock tick shows in a few of them only. The first violation is kept as the
// example.
struct Tally {
	std::map<std::string, std::pair<int, int>> counts;  // name -> (runs, violations)
	std::map<std::string, std::string> example;
	void check(const std::string& name, bool good, const std::string& what) {
		auto& c = counts[name];
		c.first++;
		if (!good && c.second++ == 0)
			example[name] = what;
	}
	void report_all() {
		for (const auto& [name, c] : counts)
			report.truth(name, c.second == 0, "holds in all " + std::to_string(c.first) + " runs",
				     "violated in " + std::to_string(c.second) + " of " + std::to_string(c.first) + ": " +
					     example[name]);
	}
};

// A default ACL (user 1234 r-x) in system.posix_acl_default's format: a file created in
// the directory inherits it, which clusterfs writes as xattrs in the create's transaction.
bool set_default_acl(const std::string& path) {
	struct Entry {
		uint16_t tag, perm;
		uint32_t id;
	};
	const uint32_t undefined = 0xffffffffu;
	const Entry entries[] = {{0x01, 7, undefined}, {0x02, 5, 1234}, {0x04, 5, undefined},
				 {0x10, 5, undefined}, {0x20, 5, undefined}};
	std::string value(4, '\0');
	const uint32_t version = 2;
	std::memcpy(&value[0], &version, 4);  // little-endian hosts only, as the VMs
	for (const Entry& e : entries)
		value.append(reinterpret_cast<const char*>(&e), sizeof(e));
	return setxattr(path.c_str(), "system.posix_acl_default", value.data(), value.size(), 0) == 0;
}

void pause_ms(long ms) {
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&t, nullptr);
}

// stamps: every operation that creates or relinks an inode stamps all the times it sets
// with one reading of the clock. For a new inode, as ext4: birth, access, modification and
// change time are equal; the parent's mtime equals its ctime. clusterfs's rule beyond that
// (docs/kernel.md "Timestamps"): every inode an operation changes gets the same time, the
// new inode's and its parent's, the moved inode's and both directories'. A clock tick
// between two readings shows in a few percent of the operations: each is repeated.
int stamps(int rounds) {
	if (mkdir(dir.c_str(), 0755) != 0) {
		std::fprintf(stderr, "cfs_attrs: mkdir %s: %s (it must not exist)\n", dir.c_str(), strerror(errno));
		return 2;
	}
	std::vector<std::string> parents = {"plain"};
	if (mkdir(at("acl").c_str(), 0755) == 0 && set_default_acl(at("acl")))
		parents.push_back("acl");
	else
		report.skip("stamps.acl", std::string("no default ACL: ") + strerror(errno));
	mkdir(at("plain").c_str(), 0755);
	mkdir(at("other").c_str(), 0755);
	Tally tally;
	auto created = [&](const std::string& op, const std::string& parent, const std::string& path) {
		Times t = times_of(at(path)), p = times_of(at(parent));
		const std::string pre = "stamps." + parent + "." + op;
		if (!t.ok || !p.ok) {
			tally.check(pre + ".statx", false, "statx failed");
			return;
		}
		tally.check(pre + ".new-inode-btime=atime=mtime=ctime",
			    ts_eq(t.b, t.a) && ts_eq(t.b, t.m) && ts_eq(t.b, t.c), show_times(t));
		tally.check(pre + ".parent-mtime=ctime", ts_eq(p.m, p.c), show_times(p));
		tally.check(pre + ".parent-time=new-inode-time", ts_eq(p.c, t.c),
			    "parent " + show_times(p) + ", new " + show_times(t));
	};
	for (int i = 0; i < rounds; i++) {
		for (const std::string& parent : parents) {
			const std::string base = parent + "/" + std::to_string(i);
			int fd = open(at(base + ".f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
			if (!act("stamps.creat", fd))
				return 0;
			close(fd);
			created("creat", parent, base + ".f");
			if (!act("stamps.mkdir", mkdir(at(base + ".d").c_str(), 0755)))
				return 0;
			created("mkdir", parent, base + ".d");
			if (!act("stamps.mknod-fifo", mknod(at(base + ".p").c_str(), S_IFIFO | 0644, 0)))
				return 0;
			created("mknod-fifo", parent, base + ".p");
			if (!act("stamps.symlink", symlink("target", at(base + ".s").c_str())))
				return 0;
			created("symlink", parent, base + ".s");
		}
		// link: the inode's ctime and the directory's mtime and ctime are one time;
		// its other times stay.
		const std::string f = "plain/" + std::to_string(i) + ".f";
		Times before = times_of(at(f));
		if (!act("stamps.link", link(at(f).c_str(), at("other/" + std::to_string(i) + ".l").c_str())))
			return 0;
		Times t = times_of(at(f)), d = times_of(at("other"));
		tally.check("stamps.link.inode-keeps-btime-atime-mtime",
			    ts_eq(t.b, before.b) && ts_eq(t.a, before.a) && ts_eq(t.m, before.m),
			    "before " + show_times(before) + ", after " + show_times(t));
		tally.check("stamps.link.dir-mtime=ctime", ts_eq(d.m, d.c), show_times(d));
		tally.check("stamps.link.dir-time=inode-ctime", ts_eq(d.c, t.c),
			    "dir " + show_times(d) + ", inode " + show_times(t));
		// rename across directories over an existing name: the moved inode's ctime, the
		// replaced inode's ctime and both directories' mtime and ctime are one time.
		const std::string moved = "plain/" + std::to_string(i) + ".p";
		const std::string victim = "other/" + std::to_string(i) + ".l";  // the link above
		before = times_of(at(moved));
		if (!act("stamps.rename", rename(at(moved).c_str(), at(victim).c_str())))
			return 0;
		Times mv = times_of(at(victim)), rest = times_of(at(f)), from = times_of(at("plain")),
		      to = times_of(at("other"));
		tally.check("stamps.rename.inode-keeps-btime-atime-mtime",
			    ts_eq(mv.b, before.b) && ts_eq(mv.a, before.a) && ts_eq(mv.m, before.m),
			    "before " + show_times(before) + ", after " + show_times(mv));
		tally.check("stamps.rename.dirs-mtime=ctime", ts_eq(from.m, from.c) && ts_eq(to.m, to.c),
			    "from " + show_times(from) + ", to " + show_times(to));
		tally.check("stamps.rename.one-time",
			    ts_eq(mv.c, from.c) && ts_eq(mv.c, to.c) && ts_eq(mv.c, rest.c),
			    "moved c=" + show_ts(mv.c) + " replaced c=" + show_ts(rest.c) + " from c=" +
				    show_ts(from.c) + " to c=" + show_ts(to.c));
	}
	tally.report_all();
	return 0;
}

// The atime rules of the mount's mode, which statvfs must report (a remount switching
// modes must take effect): noatime never updates; strictatime on every access;
// relatime when atime <= mtime or ctime, or atime is a day old; nodiratime (with
// strictatime) never on directories. Buffered and O_DIRECT reads, readdir, readlink.
// Writes DIR/MODE/expected (the atimes, for verify-times after a remount).
int atime_rules(const std::string& mode) {
	struct statvfs vfs;
	if (statvfs(dir.c_str(), &vfs) != 0) {
		report.fail("atime.statvfs", "success", "-1", errno);
		return 0;
	}
	const bool noatime = vfs.f_flag & ST_NOATIME, relatime = vfs.f_flag & ST_RELATIME,
		   nodiratime = vfs.f_flag & ST_NODIRATIME;
	const std::string pre = "atime-" + mode;
	const bool flags_ok = mode == "noatime"       ? noatime
			      : mode == "relatime"    ? relatime && !noatime && !nodiratime
			      : mode == "strictatime" ? !relatime && !noatime && !nodiratime
			      : mode == "nodiratime"  ? nodiratime && !relatime && !noatime
						      : false;
	if (!report.truth(pre + ".mount-flags", flags_ok, "the mount in mode " + mode,
			  std::string(noatime ? "noatime " : "") + (relatime ? "relatime " : "") +
				  (nodiratime ? "nodiratime" : "") + " (statvfs)"))
		return 0;
	const std::string sub = mode;
	const std::string f = sub + "/f", d = sub + "/d", s = sub + "/s";
	mkdir(at(sub).c_str(), 0755);
	{
		int fd = open(at(f).c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
		std::string bytes(3 * 4096, 'a');
		if (!act(pre + ".setup", fd < 0 ? -1 : pwrite(fd, bytes.data(), bytes.size(), 0)))
			return 0;
		fsync(fd);
		close(fd);
	}
	mkdir(at(d).c_str(), 0755);
	close(open(at(d + "/entry").c_str(), O_CREAT | O_WRONLY, 0644));
	unlink(at(s).c_str());
	symlink("f", at(s).c_str());

	const time_t now = time(nullptr);
	// old: atime before mtime (relatime updates). day: atime after mtime, 2 days ago, and
	// before the ctime utimensat itself sets (relatime updates too).
	const struct timespec old[2] = {{1000000000, 0}, {1000000100, 0}};
	const struct timespec day[2] = {{now - 2 * 86400, 0}, {now - 3 * 86400, 0}};
	auto reset = [&](const std::string& p, const struct timespec* t) {
		return utimensat(AT_FDCWD, at(p).c_str(), t, AT_SYMLINK_NOFOLLOW) == 0;
	};
	auto read_buffered = [&]() {
		int fd = open(at(f).c_str(), O_RDONLY);
		char buf[4096];
		bool ok = fd >= 0 && pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf);
		if (fd >= 0)
			close(fd);
		return ok;
	};
	auto read_direct = [&]() {
		int fd = open(at(f).c_str(), O_RDONLY | O_DIRECT);
		void* buf = nullptr;
		bool ok = fd >= 0 && posix_memalign(&buf, 4096, 4096) == 0 && pread(fd, buf, 4096, 4096) == 4096;
		free(buf);
		if (fd >= 0)
			close(fd);
		return ok;
	};
	auto list_dir = [&]() {
		DIR* dp = opendir(at(d).c_str());
		if (!dp)
			return false;
		while (readdir(dp)) {
		}
		closedir(dp);
		return true;
	};
	auto read_link = [&]() {
		char buf[64];
		return readlink(at(s).c_str(), buf, sizeof(buf)) > 0;
	};
	// One access: sets the times, waits past a clock tick, accesses, and says whether
	// atime moved. Expectation per mode: `file` for regular files and symlinks, `dir`.
	auto access = [&](const std::string& name, const std::string& path, const struct timespec* t,
			  const std::function<bool()>& how, bool expect_update) {
		if (t && !reset(path, t)) {
			report.fail(pre + "." + name + ".utimensat", "success", "-1", errno);
			return;
		}
		pause_ms(30);
		Times before = times_of(at(path));
		if (!how()) {
			report.fail(pre + "." + name, "the access works", "failed", errno);
			return;
		}
		Times after = times_of(at(path));
		const bool updated = !ts_eq(before.a, after.a);
		report.truth(pre + "." + name + (expect_update ? ".updates-atime" : ".keeps-atime"),
			     updated == expect_update, expect_update ? "atime after " + show_ts(before.a) : show_ts(before.a),
			     show_ts(after.a));
	};
	const bool files_update = !noatime;  // first access with atime <= mtime, or strict
	const bool strict = !noatime && !relatime;
	access("read-after-modification", f, old, read_buffered, files_update);
	access("read-again", f, nullptr, read_buffered, strict);
	access("odirect-read-after-modification", f, old, read_direct, files_update);
	access("odirect-read-again", f, nullptr, read_direct, strict);
	access("read-atime-after-mtime-before-ctime", f, day, read_buffered, files_update);
	access("readlink-after-modification", s, old, read_link, files_update);
	access("readlink-again", s, nullptr, read_link, strict);
	access("readdir-after-modification", d, old, list_dir, files_update && !nodiratime);
	access("readdir-again", d, nullptr, list_dir, strict && !nodiratime);

	std::ofstream out(at(sub + "/expected"));
	for (const std::string& p : {f, d, s}) {
		Times t = times_of(at(p));
		out << p << ' ' << t.a.tv_sec << ' ' << t.a.tv_nsec << ' ' << t.m.tv_sec << ' ' << t.m.tv_nsec << '\n';
	}
	out.close();
	report.truth(pre + ".expected-saved", !out.fail(), "DIR/" + sub + "/expected written", "write error");
	return 0;
}

// keep: a data change sets mtime and ctime without a transaction of its own (an overwrite
// of allocated blocks, an inline file's overwrite, an mmap store with or without msync).
// The next operation on the file (rename, chmod, link, xattr change) must keep them, in
// memory and on disk: a crash after that operation is durable must not bring back the
// older mtime (keep-verify, after a remount or a crash). Writes DIR/expected: path, atime,
// mtime of every file that must come back, fsync'ed (which flushes the journal).
int keep() {
	if (mkdir(dir.c_str(), 0755) != 0) {
		std::fprintf(stderr, "cfs_attrs: mkdir %s: %s (it must not exist)\n", dir.c_str(), strerror(errno));
		return 2;
	}
	const struct timespec old[2] = {{1000000000, 0}, {1000000001, 0}};
	const std::vector<std::string> hows = {"write", "inline-write", "mmap-msync", "mmap"};
	const std::vector<std::string> ops = {"mv", "chmod", "link", "xattr", "none"};
	struct Case {
		std::string how, op, path;
		Times set;  // after the data change
	};
	std::vector<Case> cases;
	for (const std::string& how : hows)
		for (const std::string& op : ops) {
			Case c{how, op, how + "." + op, {}};
			const size_t size = how == "inline-write" ? 100 : 3 * 4096;
			int fd = open(at(c.path).c_str(), O_CREAT | O_EXCL | O_RDWR, 0644);
			std::string bytes(size, 'k');
			bool ok = fd >= 0 && pwrite(fd, bytes.data(), size, 0) == (ssize_t)size && fsync(fd) == 0 &&
				  futimens(fd, old) == 0 && fsync(fd) == 0;
			if (fd >= 0)
				close(fd);
			if (act("keep-setup." + c.path, ok ? 0 : -1))
				cases.push_back(c);
		}
	sync();  // nothing pending: the data changes below are all there is
	pause_ms(30);
	for (Case& c : cases) {
		const std::string p = at(c.path);
		int fd = open(p.c_str(), O_RDWR);
		bool ok = fd >= 0;
		if (ok && (c.how == "write" || c.how == "inline-write")) {
			ok = pwrite(fd, "W", 1, 50) == 1;  // inside the first block: no allocation
		} else if (ok) {
			const size_t size = 3 * 4096;
			void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			ok = m != MAP_FAILED;
			if (ok) {
				static_cast<char*>(m)[4096 + 7] = 'M';
				if (c.how == "mmap-msync")
					ok = msync(m, size, MS_SYNC) == 0;
				munmap(m, size);
			}
		}
		if (fd >= 0)
			close(fd);
		if (!act("keep." + c.path + ".data-change", ok ? 0 : -1))
			continue;
		c.set = times_of(p);
		report.truth("keep." + c.path + ".data-change-sets-mtime", c.set.ok && ts_lt(old[1], c.set.m),
			     "mtime after " + show_ts(old[1]), show_ts(c.set.m));
	}
	for (Case& c : cases) {
		const std::string p = at(c.path);
		long rc = 0;
		if (c.op == "mv") {
			rc = rename(p.c_str(), (p + ".moved").c_str());
			if (rc == 0)
				c.path += ".moved";
		} else if (c.op == "chmod") {
			rc = chmod(p.c_str(), 0600);
		} else if (c.op == "link") {
			rc = link(p.c_str(), (p + ".link").c_str());
		} else if (c.op == "xattr") {
			rc = setxattr(p.c_str(), "user.kept", "1", 1, 0);
		}
		if (!act("keep." + c.path + "." + c.op, rc))
			continue;
		Times t = times_of(at(c.path));
		report.truth("keep." + c.path + ".mtime-after-" + c.op, ts_eq(t.m, c.set.m),
			     show_ts(c.set.m) + " (the data change's)", show_ts(t.m));
		report.truth("keep." + c.path + ".atime-after-" + c.op, ts_eq(t.a, c.set.a), show_ts(c.set.a),
			     show_ts(t.a));
	}
	// Durable from here on: every operation above (fsync flushes the whole journal). A
	// file no operation touched ("none") may lose its times in a crash: remount only.
	int fd = open(at("expected").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
	std::string lines;
	for (const Case& c : cases)
		lines += c.path + ' ' + (c.op == "none" ? "remount" : "always") + ' ' + std::to_string(c.set.a.tv_sec) +
			 ' ' + std::to_string(c.set.a.tv_nsec) + ' ' + std::to_string(c.set.m.tv_sec) + ' ' +
			 std::to_string(c.set.m.tv_nsec) + '\n';
	bool saved = fd >= 0 && write(fd, lines.data(), lines.size()) == (ssize_t)lines.size() && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	report.truth("keep.expected-saved", saved, "DIR/expected written and fsync'ed", "write error");
	return 0;
}

// keep-verify DIR crash|remount, verify-times DIR: the times written by keep / atime.
int verify_times(const std::string& file, const std::string& after) {
	std::ifstream in(at(file));
	if (!in) {
		report.fail("verify-times.expected", "DIR/" + file + " readable", "missing", errno);
		return 0;
	}
	std::string line;
	int n = 0;
	while (std::getline(in, line)) {
		std::istringstream s(line);
		std::string path, when = "always";
		timespec a{}, m{};
		s >> path;
		if (file == "expected" && after.size())
			s >> when;
		s >> a.tv_sec >> a.tv_nsec >> m.tv_sec >> m.tv_nsec;
		if (!s) {
			report.fail("verify-times.expected-line", "path [when] atime mtime", line, 0);
			continue;
		}
		n++;
		if (when == "remount" && after == "crash")
			continue;
		const std::string name = "verify-times-" + (after.empty() ? "remount" : after) + "." + path;
		Times t = times_of(at(path));
		if (!t.ok) {
			report.fail(name + ".exists", "the file (its operation was durable)", "statx failed", errno);
			continue;
		}
		report.truth(name + ".mtime", ts_eq(t.m, m), show_ts(m), show_ts(t.m));
		report.truth(name + ".atime", ts_eq(t.a, a), show_ts(a), show_ts(t.a));
	}
	report.truth("verify-times.lines", n > 0, "at least one file", "none");
	return 0;
}

}  // namespace

int main(int argc, char** argv) {
	const std::string cmd = argc >= 3 ? argv[1] : "";
	const bool known = (argc == 3 && (cmd == "apply" || cmd == "verify" || cmd == "keep")) ||
			   (argc == 3 && cmd == "stamps") || (argc == 4 && cmd == "stamps") ||
			   (argc == 4 && (cmd == "atime" || cmd == "atime-verify" || cmd == "keep-verify"));
	if (!known) {
		std::fprintf(stderr, "usage: cfs_attrs apply|verify|keep DIR\n"
				     "       cfs_attrs stamps DIR [ROUNDS]\n"
				     "       cfs_attrs atime|atime-verify DIR noatime|relatime|strictatime|nodiratime\n"
				     "       cfs_attrs keep-verify DIR crash|remount\n");
		return 2;
	}
	if (geteuid() != 0) {
		std::fprintf(stderr, "cfs_attrs: needs root (chown, device nodes, trusted.* xattrs)\n");
		return 2;
	}
	dir = argv[2];
	int rc;
	if (cmd == "apply")
		rc = apply();
	else if (cmd == "verify")
		rc = verify();
	else if (cmd == "stamps")
		rc = stamps(argc == 4 ? std::atoi(argv[3]) : 100);
	else if (cmd == "atime")
		rc = atime_rules(argv[3]);
	else if (cmd == "atime-verify")
		rc = verify_times(std::string(argv[3]) + "/expected", "");
	else if (cmd == "keep")
		rc = keep();
	else
		rc = verify_times("expected", argv[3]);
	if (rc)
		return rc;
	report.summary();
	return report.failed() ? 1 : 0;
}
