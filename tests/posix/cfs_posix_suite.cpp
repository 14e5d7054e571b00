// cfs_posix_suite DIR [--skip FEATURE...] [--only FEATURE...] [--bigdir [N]] [--keep] [--list]
//
// Checks the results and errno of every POSIX operation clusterfs serves (issue 3, item 3)
// on the filesystem that holds DIR. Each check prints "ok NAME" or
// "FAIL NAME: expected X got Y (errno E)"; the run ends with "N passed, M failed, K skipped"
// and exits 0 only if nothing failed. Validated on ext4 and tmpfs (make test-posix-selftest),
// so a failure on clusterfs is a clusterfs bug, not a test bug.
//
// Everything happens under DIR/cfs_posix.<pid>/<feature>/, removed at the end unless a
// check failed or --keep was given.

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <grp.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "report.h"

using cfs_posix::errno_name;
using cfs_posix::Reporter;

namespace {

constexpr off_t KiB = 1024;
constexpr off_t MiB = 1024 * KiB;
constexpr off_t GiB = 1024 * MiB;

Reporter R;
bool is_root = false;
long block_size = 4096;  // f_bsize of the filesystem under test

long fs_block_size() { return block_size; }

// ---- small helpers ---------------------------------------------------------------------

// Deterministic bytes: a position-dependent pattern so misplaced data is detected.
std::string pattern(size_t len, unsigned seed) {
	std::string s(len, '\0');
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; ++i) {
		x = x * 1103515245u + 12345u;
		s[i] = static_cast<char>((x >> 16) & 0xff);
	}
	return s;
}

bool write_all(int fd, const std::string& data, off_t off) {
	size_t done = 0;
	while (done < data.size()) {
		ssize_t n = pwrite(fd, data.data() + done, data.size() - done, off + done);
		if (n <= 0)
			return false;
		done += n;
	}
	return true;
}

// Reads up to len bytes at off (short only at EOF); returns "" and sets ok=false on error.
std::string read_at(int fd, off_t off, size_t len, bool* ok = nullptr) {
	std::string s(len, '\0');
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, s.data() + done, len - done, off + done);
		if (n < 0) {
			if (ok)
				*ok = false;
			return "";
		}
		if (n == 0)
			break;
		done += n;
	}
	s.resize(done);
	if (ok)
		*ok = true;
	return s;
}

bool make_file(const std::string& path, const std::string& data, mode_t mode = 0644) {
	int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, mode);
	if (fd < 0)
		return false;
	bool ok = write_all(fd, data, 0);
	return close(fd) == 0 && ok;
}

std::string slurp(const std::string& path) {
	int fd = open(path.c_str(), O_RDONLY);
	if (fd < 0)
		return "<open failed: " + errno_name(errno) + ">";
	struct stat st;
	fstat(fd, &st);
	std::string s = read_at(fd, 0, st.st_size);
	close(fd);
	return s;
}

// Describes where two byte strings first differ, for a FAIL line.
std::string first_difference(const std::string& want, const std::string& got) {
	if (want == got)
		return "identical";
	size_t i = 0;
	while (i < want.size() && i < got.size() && want[i] == got[i])
		++i;
	char buf[160];
	std::snprintf(buf, sizeof buf, "length %zu, first difference at offset %zu (want 0x%02x got 0x%02x)",
		      got.size(), i, i < want.size() ? (unsigned char)want[i] : 0,
		      i < got.size() ? (unsigned char)got[i] : 0);
	return buf;
}

bool same_bytes(const std::string& name, const std::string& want, const std::string& got) {
	return R.truth(name, want == got, std::to_string(want.size()) + " expected bytes",
		       first_difference(want, got));
}

bool all_zero(const std::string& s) { return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; }); }

std::string nonzero_at(const std::string& s) {
	for (size_t i = 0; i < s.size(); ++i)
		if (s[i])
			return "nonzero byte at offset " + std::to_string(i);
	return "all zero";
}

struct stat stat_of(const std::string& path, bool follow = false) {
	struct stat st {};
	if ((follow ? stat(path.c_str(), &st) : lstat(path.c_str(), &st)) != 0)
		st.st_ino = 0;  // callers compare inode numbers; 0 never matches a real one
	return st;
}

bool exists(const std::string& path) {
	struct stat st;
	return lstat(path.c_str(), &st) == 0;
}

// Sleep past the coarse timestamp granularity so a changed time is observable.
void tick() {
	struct timespec ts = {0, 25 * 1000 * 1000};
	nanosleep(&ts, nullptr);
}

bool ts_after(const struct timespec& a, const struct timespec& b) {
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

std::string ts_str(const struct timespec& t) {
	char buf[64];
	std::snprintf(buf, sizeof buf, "%lld.%09ld", (long long)t.tv_sec, t.tv_nsec);
	return buf;
}

// Sets both times of path to a fixed old value so a later update is unmistakable.
void age(const std::string& path) {
	struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
	utimensat(AT_FDCWD, path.c_str(), old, AT_SYMLINK_NOFOLLOW);
}

bool mtime_updated(const std::string& name, const std::string& path) {
	struct stat st = stat_of(path);
	struct timespec old = {1000000000, 0};
	return R.truth(name, ts_after(st.st_mtim, old) && ts_after(st.st_ctim, old),
		       "mtime and ctime after " + ts_str(old),
		       "mtime " + ts_str(st.st_mtim) + " ctime " + ts_str(st.st_ctim));
}

int renameat2_(const std::string& from, const std::string& to, unsigned flags) {
	return static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags));
}

int remove_entry(const char* path, const struct stat*, int, struct FTW*) { return remove(path); }

void remove_tree(const std::string& path) { nftw(path.c_str(), remove_entry, 64, FTW_DEPTH | FTW_PHYS); }

// ---- the checks, one function per feature ------------------------------------------------

void test_lookup(const std::string& d) {
	make_file(d + "/f", "x");
	mkdir((d + "/sub").c_str(), 0755);
	struct stat st;
	R.ok("lookup.existing", stat((d + "/f").c_str(), &st));
	R.err("lookup.missing-ENOENT", stat((d + "/nope").c_str(), &st), ENOENT);
	R.err("lookup.through-file-ENOTDIR", stat((d + "/f/x").c_str(), &st), ENOTDIR);
	R.err("lookup.missing-parent-ENOENT", stat((d + "/nope/x").c_str(), &st), ENOENT);
	R.err("lookup.open-dir-for-write-EISDIR", open((d + "/sub").c_str(), O_WRONLY), EISDIR);
	R.err("lookup.o_directory-on-file-ENOTDIR", open((d + "/f").c_str(), O_RDONLY | O_DIRECTORY), ENOTDIR);
	struct stat dot = stat_of(d + "/sub/.", true), sub = stat_of(d + "/sub", true);
	struct stat dotdot = stat_of(d + "/sub/..", true), parent = stat_of(d, true);
	R.eq("lookup.dot-is-self", (unsigned long)sub.st_ino, (unsigned long)dot.st_ino);
	R.eq("lookup.dotdot-is-parent", (unsigned long)parent.st_ino, (unsigned long)dotdot.st_ino);
}

void test_create(const std::string& d) {
	std::string p = d + "/new";
	age(d);
	tick();
	int fd = open(p.c_str(), O_CREAT | O_EXCL | O_RDWR, 0640);
	if (!R.ok("create.o_excl-new", fd))
		return;
	struct stat st;
	fstat(fd, &st);
	close(fd);
	R.eq("create.is-regular", true, S_ISREG(st.st_mode));
	R.eq("create.mode", 0640u, (unsigned)(st.st_mode & 07777));
	R.eq("create.nlink", 1ul, (unsigned long)st.st_nlink);
	R.eq("create.size-zero", 0l, (long)st.st_size);
	R.eq("create.owner-uid", (unsigned)geteuid(), (unsigned)st.st_uid);
	R.eq("create.owner-gid", (unsigned)getegid(), (unsigned)st.st_gid);
	mtime_updated("create.parent-mtime-ctime-updated", d);
	R.err("create.o_excl-existing-EEXIST", open(p.c_str(), O_CREAT | O_EXCL | O_RDWR, 0640), EEXIST);
	R.ok("create.o_creat-existing-opens", fd = open(p.c_str(), O_CREAT | O_RDWR, 0600));
	if (fd >= 0)
		close(fd);
	R.eq("create.o_creat-existing-keeps-mode", 0640u, (unsigned)(stat_of(p).st_mode & 07777));
	make_file(p, "0123456789");
	fd = open(p.c_str(), O_RDWR | O_TRUNC);
	R.ok("create.o_trunc-opens", fd);
	if (fd >= 0) {
		fstat(fd, &st);
		R.eq("create.o_trunc-size-zero", 0l, (long)st.st_size);
		close(fd);
	}
	R.err("create.in-missing-dir-ENOENT", open((d + "/nope/x").c_str(), O_CREAT | O_RDWR, 0644), ENOENT);
	symlink("dangling-target", (d + "/sl").c_str());
	R.err("create.o_excl-on-symlink-EEXIST", open((d + "/sl").c_str(), O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
	R.eq("create.o_excl-on-symlink-did-not-follow", false, exists(d + "/dangling-target"));
}

void test_mkdir(const std::string& d) {
	struct stat parent_before = stat_of(d);
	age(d);
	tick();
	std::string p = d + "/dir";
	if (!R.ok("mkdir.new", mkdir(p.c_str(), 0751)))
		return;
	struct stat st = stat_of(p);
	R.eq("mkdir.is-directory", true, S_ISDIR(st.st_mode));
	R.eq("mkdir.mode", 0751u, (unsigned)(st.st_mode & 07777));
	R.eq("mkdir.nlink-2", 2ul, (unsigned long)st.st_nlink);
	R.eq("mkdir.parent-nlink+1", (unsigned long)parent_before.st_nlink + 1, (unsigned long)stat_of(d).st_nlink);
	mtime_updated("mkdir.parent-mtime-ctime-updated", d);
	R.err("mkdir.existing-EEXIST", mkdir(p.c_str(), 0755), EEXIST);
	make_file(d + "/file", "");
	R.err("mkdir.over-file-EEXIST", mkdir((d + "/file").c_str(), 0755), EEXIST);
	R.err("mkdir.missing-parent-ENOENT", mkdir((d + "/a/b").c_str(), 0755), ENOENT);
	R.ok("mkdir.nested", mkdir((p + "/child").c_str(), 0755));
	R.eq("mkdir.nested-parent-nlink-3", 3ul, (unsigned long)stat_of(p).st_nlink);
	DIR* dir = opendir(p.c_str());
	std::multiset<std::string> names;
	if (dir) {
		while (struct dirent* e = readdir(dir))
			names.insert(e->d_name);
		closedir(dir);
	}
	R.truth("mkdir.readdir-dot-dotdot-child",
		names == std::multiset<std::string>{".", "..", "child"}, "{., .., child}",
		std::to_string(names.size()) + " entries");
}

void test_rmdir(const std::string& d) {
	std::string p = d + "/dir";
	mkdir(p.c_str(), 0755);
	make_file(p + "/f", "");
	struct stat parent_before = stat_of(d);
	R.err("rmdir.non-empty-ENOTEMPTY", rmdir(p.c_str()), ENOTEMPTY);
	unlink((p + "/f").c_str());
	mkdir((p + "/sub").c_str(), 0755);
	R.err("rmdir.non-empty-subdir-ENOTEMPTY", rmdir(p.c_str()), ENOTEMPTY);
	rmdir((p + "/sub").c_str());
	make_file(d + "/file", "");
	R.err("rmdir.on-file-ENOTDIR", rmdir((d + "/file").c_str()), ENOTDIR);
	R.err("rmdir.dot-EINVAL", rmdir((p + "/.").c_str()), EINVAL);
	R.err("rmdir.missing-ENOENT", rmdir((d + "/nope").c_str()), ENOENT);
	int dirfd = open(p.c_str(), O_RDONLY | O_DIRECTORY);
	age(d);
	tick();
	R.ok("rmdir.empty", rmdir(p.c_str()));
	R.eq("rmdir.gone", false, exists(p));
	R.eq("rmdir.parent-nlink-1", (unsigned long)parent_before.st_nlink - 1, (unsigned long)stat_of(d).st_nlink);
	mtime_updated("rmdir.parent-mtime-ctime-updated", d);
	if (dirfd >= 0) {
		struct stat st;
		fstat(dirfd, &st);
		R.eq("rmdir.open-dir-nlink-0", 0ul, (unsigned long)st.st_nlink);
		R.err("rmdir.create-in-removed-dir-ENOENT", openat(dirfd, "x", O_CREAT | O_RDWR, 0644), ENOENT);
		close(dirfd);
	}
}

void test_unlink(const std::string& d) {
	std::string p = d + "/f";
	std::string data = pattern(10000, 1);
	make_file(p, data);
	int fd = open(p.c_str(), O_RDONLY);
	age(d);
	tick();
	R.ok("unlink.file", unlink(p.c_str()));
	R.eq("unlink.gone", false, exists(p));
	mtime_updated("unlink.parent-mtime-ctime-updated", d);
	R.err("unlink.again-ENOENT", unlink(p.c_str()), ENOENT);
	mkdir((d + "/dir").c_str(), 0755);
	R.err("unlink.directory-EISDIR", unlink((d + "/dir").c_str()), EISDIR);
	if (fd >= 0) {
		struct stat st;
		fstat(fd, &st);
		R.eq("unlink.open-file-nlink-0", 0ul, (unsigned long)st.st_nlink);
		same_bytes("unlink.open-file-still-readable", data, read_at(fd, 0, data.size()));
		close(fd);
	}
	symlink("f2", (d + "/sl").c_str());
	make_file(d + "/f2", "keep");
	R.ok("unlink.symlink", unlink((d + "/sl").c_str()));
	R.eq("unlink.symlink-target-kept", std::string("keep"), slurp(d + "/f2"));
}

void test_rename(const std::string& d) {
	std::string a = d + "/a", b = d + "/b";
	mkdir(a.c_str(), 0755);
	mkdir(b.c_str(), 0755);

	make_file(a + "/f", "one");
	ino_t ino = stat_of(a + "/f").st_ino;
	R.ok("rename.same-dir", rename((a + "/f").c_str(), (a + "/g").c_str()));
	R.eq("rename.same-dir-old-gone", false, exists(a + "/f"));
	R.eq("rename.same-dir-same-inode", (unsigned long)ino, (unsigned long)stat_of(a + "/g").st_ino);

	age(a);
	age(b);
	tick();
	R.ok("rename.across-dirs", rename((a + "/g").c_str(), (b + "/g").c_str()));
	R.eq("rename.across-dirs-same-inode", (unsigned long)ino, (unsigned long)stat_of(b + "/g").st_ino);
	R.eq("rename.across-dirs-content", std::string("one"), slurp(b + "/g"));
	mtime_updated("rename.source-dir-mtime-updated", a);
	mtime_updated("rename.target-dir-mtime-updated", b);

	make_file(a + "/target", "old target");
	int target_fd = open((a + "/target").c_str(), O_RDONLY);
	R.ok("rename.over-existing-file", rename((b + "/g").c_str(), (a + "/target").c_str()));
	R.eq("rename.over-existing-content", std::string("one"), slurp(a + "/target"));
	R.eq("rename.over-existing-inode", (unsigned long)ino, (unsigned long)stat_of(a + "/target").st_ino);
	if (target_fd >= 0) {
		struct stat st;
		fstat(target_fd, &st);
		R.eq("rename.replaced-file-nlink-0", 0ul, (unsigned long)st.st_nlink);
		R.eq("rename.replaced-file-still-readable", std::string("old target"), read_at(target_fd, 0, 100));
		close(target_fd);
	}

	// Directory moves: nlink of both parents and the moved directory's "..".
	mkdir((a + "/d").c_str(), 0755);
	make_file(a + "/d/inside", "in");
	unsigned long a_links = stat_of(a).st_nlink, b_links = stat_of(b).st_nlink;
	R.ok("rename.dir-across-dirs", rename((a + "/d").c_str(), (b + "/d").c_str()));
	R.eq("rename.dir-source-parent-nlink-1", a_links - 1, (unsigned long)stat_of(a).st_nlink);
	R.eq("rename.dir-target-parent-nlink+1", b_links + 1, (unsigned long)stat_of(b).st_nlink);
	R.eq("rename.dir-dotdot-updated", (unsigned long)stat_of(b).st_ino,
	     (unsigned long)stat_of(b + "/d/..", true).st_ino);
	R.eq("rename.dir-content-moved", std::string("in"), slurp(b + "/d/inside"));

	mkdir((a + "/empty").c_str(), 0755);
	ino_t dino = stat_of(b + "/d").st_ino;
	a_links = stat_of(a).st_nlink;
	R.ok("rename.dir-over-empty-dir", rename((b + "/d").c_str(), (a + "/empty").c_str()));
	R.eq("rename.dir-over-empty-dir-inode", (unsigned long)dino, (unsigned long)stat_of(a + "/empty").st_ino);
	R.eq("rename.dir-over-empty-dir-target-nlink", a_links, (unsigned long)stat_of(a).st_nlink);

	mkdir((b + "/full").c_str(), 0755);
	make_file(b + "/full/x", "");
	mkdir((b + "/src").c_str(), 0755);
	R.err("rename.dir-over-nonempty-dir-ENOTEMPTY", rename((b + "/src").c_str(), (b + "/full").c_str()),
	      ENOTEMPTY);
	R.eq("rename.failed-rename-kept-source", true, exists(b + "/src"));
	make_file(b + "/file", "");
	R.err("rename.file-over-dir-EISDIR", rename((b + "/file").c_str(), (b + "/src").c_str()), EISDIR);
	R.err("rename.dir-over-file-ENOTDIR", rename((b + "/src").c_str(), (b + "/file").c_str()), ENOTDIR);
	R.err("rename.into-path-through-file-ENOTDIR", rename((b + "/full").c_str(), (b + "/full/x/y").c_str()),
	      ENOTDIR);  // x is a file: ENOTDIR wins over the loop check
	mkdir((b + "/full/sub").c_str(), 0755);
	R.err("rename.dir-into-own-descendant-EINVAL",
	      rename((b + "/full").c_str(), (b + "/full/sub/moved").c_str()), EINVAL);
	R.err("rename.missing-source-ENOENT", rename((b + "/nope").c_str(), (b + "/nope2").c_str()), ENOENT);
	R.ok("rename.onto-itself", rename((b + "/file").c_str(), (b + "/file").c_str()));
	R.eq("rename.onto-itself-kept", true, exists(b + "/file"));
	link((b + "/file").c_str(), (b + "/hard").c_str());
	R.ok("rename.onto-own-hardlink-noop", rename((b + "/file").c_str(), (b + "/hard").c_str()));
	R.eq("rename.onto-own-hardlink-both-kept", true, exists(b + "/file") && exists(b + "/hard"));
}

void test_rename_noreplace(const std::string& d) {
	make_file(d + "/x", "x");
	make_file(d + "/y", "y");
	R.err("rename-noreplace.existing-EEXIST", renameat2_(d + "/x", d + "/y", RENAME_NOREPLACE), EEXIST);
	R.truth("rename-noreplace.both-unchanged", slurp(d + "/x") == "x" && slurp(d + "/y") == "y",
		"x=x y=y", "x=" + slurp(d + "/x") + " y=" + slurp(d + "/y"));
	R.ok("rename-noreplace.new-name", renameat2_(d + "/x", d + "/z", RENAME_NOREPLACE));
	R.truth("rename-noreplace.moved", !exists(d + "/x") && slurp(d + "/z") == "x", "x gone, z=x",
		exists(d + "/x") ? "x still present" : "z=" + slurp(d + "/z"));
}

void test_rename_exchange(const std::string& d) {
	std::string a = d + "/a", b = d + "/b";
	mkdir(a.c_str(), 0755);
	mkdir(b.c_str(), 0755);
	make_file(a + "/f", "file");
	make_file(a + "/g", "gee");
	ino_t fi = stat_of(a + "/f").st_ino, gi = stat_of(a + "/g").st_ino;
	R.ok("rename-exchange.files", renameat2_(a + "/f", a + "/g", RENAME_EXCHANGE));
	R.truth("rename-exchange.files-swapped",
		stat_of(a + "/f").st_ino == gi && stat_of(a + "/g").st_ino == fi && slurp(a + "/f") == "gee",
		"f<->g swapped", "f=" + slurp(a + "/f") + " g=" + slurp(a + "/g"));

	// A file and a directory in different parents: both parents' nlink change by one.
	mkdir((b + "/dir").c_str(), 0755);
	make_file(b + "/dir/inside", "in");
	unsigned long a_links = stat_of(a).st_nlink, b_links = stat_of(b).st_nlink;
	R.ok("rename-exchange.file-and-dir-across-dirs", renameat2_(a + "/f", b + "/dir", RENAME_EXCHANGE));
	R.truth("rename-exchange.types-swapped",
		S_ISDIR(stat_of(a + "/f").st_mode) && S_ISREG(stat_of(b + "/dir").st_mode),
		"a/f dir, b/dir file", "other");
	R.eq("rename-exchange.dir-content-follows", std::string("in"), slurp(a + "/f/inside"));
	R.eq("rename-exchange.dir-dotdot-updated", (unsigned long)stat_of(a).st_ino,
	     (unsigned long)stat_of(a + "/f/..", true).st_ino);
	R.eq("rename-exchange.gaining-parent-nlink+1", a_links + 1, (unsigned long)stat_of(a).st_nlink);
	R.eq("rename-exchange.losing-parent-nlink-1", b_links - 1, (unsigned long)stat_of(b).st_nlink);
	R.err("rename-exchange.missing-target-ENOENT", renameat2_(a + "/g", a + "/nope", RENAME_EXCHANGE), ENOENT);
	R.err("rename-exchange.with-noreplace-EINVAL",
	      renameat2_(a + "/g", b + "/dir", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
}

void test_link(const std::string& d) {
	std::string f = d + "/f";
	make_file(f, "linked");
	struct stat before = stat_of(f);
	tick();
	if (!R.ok("link.new", link(f.c_str(), (d + "/l1").c_str())))
		return;
	R.eq("link.nlink-2", 2ul, (unsigned long)stat_of(f).st_nlink);
	R.eq("link.same-inode", (unsigned long)before.st_ino, (unsigned long)stat_of(d + "/l1").st_ino);
	R.truth("link.ctime-updated", ts_after(stat_of(f).st_ctim, before.st_ctim), "ctime after " + ts_str(before.st_ctim),
		ts_str(stat_of(f).st_ctim));
	mkdir((d + "/sub").c_str(), 0755);
	R.ok("link.across-dirs", link(f.c_str(), (d + "/sub/l2").c_str()));
	R.eq("link.nlink-3", 3ul, (unsigned long)stat_of(f).st_nlink);
	R.eq("link.content-through-link", std::string("linked"), slurp(d + "/sub/l2"));
	R.ok("link.unlink-original", unlink(f.c_str()));
	R.eq("link.nlink-after-unlink-2", 2ul, (unsigned long)stat_of(d + "/l1").st_nlink);
	R.err("link.existing-target-EEXIST", link((d + "/l1").c_str(), (d + "/sub/l2").c_str()), EEXIST);
	R.err("link.directory-EPERM", link((d + "/sub").c_str(), (d + "/dirlink").c_str()), EPERM);
	R.err("link.missing-source-ENOENT", link((d + "/nope").c_str(), (d + "/x").c_str()), ENOENT);
	if (is_root) {
		// Linking an unlinked (nlink 0) inode back is refused unless it came from O_TMPFILE.
		int fd = open((d + "/unlinked-src").c_str(), O_CREAT | O_RDWR, 0644);
		unlink((d + "/unlinked-src").c_str());
		R.err("link.unlinked-inode-ENOENT", linkat(fd, "", AT_FDCWD, (d + "/revived").c_str(), AT_EMPTY_PATH),
		      ENOENT);
		close(fd);
	}
}

void test_symlink(const std::string& d) {
	struct Case {
		const char* name;
		std::string target;
	};
	std::string long_target;
	for (int i = 0; long_target.size() < 1000; ++i)
		long_target += "component" + std::to_string(i) + "/";
	long_target.resize(1000);
	// Longer than a dinode's inline area, so block-backed: 4000 bytes, or one block less a
	// byte where blocks are smaller (ext4's limit; a page-sized target needs 4 KiB blocks).
	std::string page_target(std::min<long>(4000, fs_block_size() - 1), 'p');
	for (size_t i = 100; i < page_target.size(); i += 100)
		page_target[i] = '/';
	for (const Case& c : {Case{"short", "target-short"}, Case{"1000-byte", long_target},
			      Case{"block-backed", page_target}}) {
		std::string n = std::string("symlink.") + c.name;
		std::string link_path = d + "/sl-" + c.name;
		if (!R.ok(n, symlink(c.target.c_str(), link_path.c_str())))
			continue;
		struct stat st = stat_of(link_path);
		R.eq(n + "-is-symlink", true, S_ISLNK(st.st_mode));
		R.eq(n + "-size", (long)c.target.size(), (long)st.st_size);
		std::string buf(8192, '\0');
		ssize_t len = readlink(link_path.c_str(), buf.data(), buf.size());
		buf.resize(len < 0 ? 0 : len);
		same_bytes(n + "-readlink", c.target, buf);
		char small[8];
		len = readlink(link_path.c_str(), small, sizeof small);
		R.truth(n + "-readlink-truncates", len == 8 && memcmp(small, c.target.data(), 8) == 0,
			"8 leading bytes", std::to_string(len));
	}
	make_file(d + "/target", "through");
	symlink("target", (d + "/rel").c_str());
	R.eq("symlink.follow-relative", std::string("through"), slurp(d + "/rel"));
	symlink("missing", (d + "/dangling").c_str());
	struct stat st;
	R.err("symlink.dangling-stat-ENOENT", stat((d + "/dangling").c_str(), &st), ENOENT);
	R.ok("symlink.dangling-lstat", lstat((d + "/dangling").c_str(), &st));
	R.err("symlink.o_nofollow-ELOOP", open((d + "/rel").c_str(), O_RDONLY | O_NOFOLLOW), ELOOP);
	R.err("symlink.existing-EEXIST", symlink("x", (d + "/rel").c_str()), EEXIST);
	char buf[16];
	R.err("symlink.readlink-on-file-EINVAL", readlink((d + "/target").c_str(), buf, sizeof buf), EINVAL);
	symlink("loop2", (d + "/loop1").c_str());
	symlink("loop1", (d + "/loop2").c_str());
	R.err("symlink.loop-ELOOP", open((d + "/loop1").c_str(), O_RDONLY), ELOOP);
	R.err("symlink.empty-target-ENOENT", symlink("", (d + "/empty").c_str()), ENOENT);
}

void test_mknod_fifo(const std::string& d) {
	std::string p = d + "/fifo";
	if (!R.ok("mknod-fifo.create", mknod(p.c_str(), S_IFIFO | 0640, 0)))
		return;
	struct stat st = stat_of(p);
	R.eq("mknod-fifo.is-fifo", true, S_ISFIFO(st.st_mode));
	R.eq("mknod-fifo.mode", 0640u, (unsigned)(st.st_mode & 07777));
	int rfd = open(p.c_str(), O_RDONLY | O_NONBLOCK);
	int wfd = open(p.c_str(), O_WRONLY | O_NONBLOCK);
	R.truth("mknod-fifo.opens-both-ends", rfd >= 0 && wfd >= 0, "two fds", errno_name(errno));
	if (rfd >= 0 && wfd >= 0) {
		ssize_t w = write(wfd, "pipe", 4);
		char buf[8] = {};
		ssize_t r = read(rfd, buf, sizeof buf);
		R.truth("mknod-fifo.passes-data", w == 4 && r == 4 && memcmp(buf, "pipe", 4) == 0, "\"pipe\"",
			std::string(buf, r > 0 ? r : 0));
		R.eq("mknod-fifo.size-stays-0", 0l, (long)stat_of(p).st_size);
	}
	if (rfd >= 0)
		close(rfd);
	if (wfd >= 0)
		close(wfd);
	R.ok("mkfifo.create", mkfifo((d + "/fifo2").c_str(), 0600));
	R.err("mknod-fifo.existing-EEXIST", mknod(p.c_str(), S_IFIFO | 0640, 0), EEXIST);
}

void test_mknod_socket(const std::string& d) {
	std::string p = d + "/sock";
	if (!R.ok("mknod-socket.create", mknod(p.c_str(), S_IFSOCK | 0600, 0)))
		return;
	struct stat st = stat_of(p);
	R.eq("mknod-socket.is-socket", true, S_ISSOCK(st.st_mode));
	R.eq("mknod-socket.mode", 0600u, (unsigned)(st.st_mode & 07777));
	R.ok("mknod-socket.unlink", unlink(p.c_str()));
}

void test_mknod_dev(const std::string& d) {
	if (!is_root) {
		R.skip("mknod-dev", "creating device nodes needs root");
		return;
	}
	struct Case {
		const char* name;
		mode_t type;
		dev_t dev;
	};
	// 259:131072 needs more than 16 bits of minor; 4000:1000000 the whole Linux range
	// (12-bit major, 20-bit minor), which XFS for one cannot store.
	for (const Case& c : {Case{"char", S_IFCHR, makedev(1, 3)}, Case{"block", S_IFBLK, makedev(259, 131072)},
			      Case{"char-wide", S_IFCHR, makedev(4000, 1000000)}}) {
		std::string n = std::string("mknod-dev.") + c.name;
		std::string p = d + "/" + c.name;
		if (!R.ok(n, mknod(p.c_str(), c.type | 0660, c.dev)))
			continue;
		struct stat st = stat_of(p);
		R.eq(n + "-type", (unsigned)c.type, (unsigned)(st.st_mode & S_IFMT));
		R.truth(n + "-rdev", st.st_rdev == c.dev,
			std::to_string(major(c.dev)) + ":" + std::to_string(minor(c.dev)),
			std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev)));
		R.eq(n + "-size-0", 0l, (long)st.st_size);
	}
	R.err("mknod-dev.existing-EEXIST", mknod((d + "/char").c_str(), S_IFCHR | 0600, makedev(1, 3)),
	      EEXIST);
}

void test_chmod(const std::string& d) {
	std::string p = d + "/f";
	make_file(p, "");
	struct stat before = stat_of(p);
	tick();
	R.ok("chmod.0755", chmod(p.c_str(), 0755));
	struct stat st = stat_of(p);
	R.eq("chmod.mode-0755", 0755u, (unsigned)(st.st_mode & 07777));
	R.truth("chmod.ctime-updated", ts_after(st.st_ctim, before.st_ctim), "after " + ts_str(before.st_ctim),
		ts_str(st.st_ctim));
	R.eq("chmod.type-kept", true, S_ISREG(st.st_mode));
	R.ok("chmod.setuid-setgid-sticky", chmod(p.c_str(), 07755));
	R.eq("chmod.mode-07755", 07755u, (unsigned)(stat_of(p).st_mode & 07777));
	R.ok("chmod.0", chmod(p.c_str(), 0));
	R.eq("chmod.mode-0", 0u, (unsigned)(stat_of(p).st_mode & 07777));
	int fd = open(p.c_str(), O_RDONLY);  // root bypasses permissions; others get EACCES
	if (is_root)
		R.ok("chmod.root-opens-mode-0", fd);
	else
		R.err("chmod.mode-0-open-EACCES", fd, EACCES);
	if (fd >= 0) {
		R.ok("fchmod.0604", fchmod(fd, 0604));
		R.eq("fchmod.mode-0604", 0604u, (unsigned)(stat_of(p).st_mode & 07777));
		close(fd);
	}
	symlink("f", (d + "/sl").c_str());
	R.ok("chmod.through-symlink", chmod((d + "/sl").c_str(), 0600));
	R.eq("chmod.through-symlink-changes-target", 0600u, (unsigned)(stat_of(p).st_mode & 07777));
	mkdir((d + "/dir").c_str(), 0755);
	R.ok("chmod.directory", chmod((d + "/dir").c_str(), 01777));
	R.eq("chmod.directory-mode", 01777u, (unsigned)(stat_of(d + "/dir").st_mode & 07777));
	R.err("chmod.missing-ENOENT", chmod((d + "/nope").c_str(), 0644), ENOENT);
}

void test_chown(const std::string& d) {
	std::string p = d + "/f";
	make_file(p, "");
	if (!is_root) {
		R.ok("chown.to-self", chown(p.c_str(), geteuid(), getegid()));
		R.err("chown.to-root-EPERM", chown(p.c_str(), 0, 0), EPERM);
		R.skip("chown.other-owner", "changing ownership needs root");
		return;
	}
	struct stat before = stat_of(p);
	tick();
	R.ok("chown.1234:5678", chown(p.c_str(), 1234, 5678));
	struct stat st = stat_of(p);
	R.eq("chown.uid", 1234u, (unsigned)st.st_uid);
	R.eq("chown.gid", 5678u, (unsigned)st.st_gid);
	R.truth("chown.ctime-updated", ts_after(st.st_ctim, before.st_ctim), "after " + ts_str(before.st_ctim),
		ts_str(st.st_ctim));
	R.ok("chown.uid-only", chown(p.c_str(), 4321, (gid_t)-1));
	R.truth("chown.uid-only-kept-gid", stat_of(p).st_uid == 4321 && stat_of(p).st_gid == 5678, "4321:5678",
		std::to_string(stat_of(p).st_uid) + ":" + std::to_string(stat_of(p).st_gid));
	R.ok("chown.large-ids", chown(p.c_str(), 3000000000u, 3000000001u));
	R.truth("chown.large-ids-stored", stat_of(p).st_uid == 3000000000u && stat_of(p).st_gid == 3000000001u,
		"3000000000:3000000001",
		std::to_string(stat_of(p).st_uid) + ":" + std::to_string(stat_of(p).st_gid));
	chmod(p.c_str(), 06755);
	R.ok("chown.setuid-file", chown(p.c_str(), 1000, 1000));
	R.eq("chown.clears-setuid-setgid", 0755u, (unsigned)(stat_of(p).st_mode & 07777));
	symlink("f", (d + "/sl").c_str());
	R.ok("lchown.symlink", lchown((d + "/sl").c_str(), 77, 88));
	R.truth("lchown.changes-link-not-target", stat_of(d + "/sl").st_uid == 77 && stat_of(p).st_uid == 1000,
		"link 77, target 1000",
		"link " + std::to_string(stat_of(d + "/sl").st_uid) + ", target " + std::to_string(stat_of(p).st_uid));
}

void test_utimens(const std::string& d) {
	std::string p = d + "/f";
	make_file(p, "");
	struct timespec t[2] = {{1234567890, 123456789}, {1500000000, 987654321}};
	struct stat before = stat_of(p);
	tick();
	if (!R.ok("utimens.set-ns", utimensat(AT_FDCWD, p.c_str(), t, 0)))
		return;
	struct stat st = stat_of(p);
	R.eq("utimens.atime-exact", ts_str(t[0]), ts_str(st.st_atim));
	R.eq("utimens.mtime-exact", ts_str(t[1]), ts_str(st.st_mtim));
	R.truth("utimens.ctime-updated", ts_after(st.st_ctim, before.st_ctim), "after " + ts_str(before.st_ctim),
		ts_str(st.st_ctim));
	struct timespec omit[2] = {{0, UTIME_OMIT}, {2000000000, 5}};
	R.ok("utimens.omit-atime", utimensat(AT_FDCWD, p.c_str(), omit, 0));
	st = stat_of(p);
	R.truth("utimens.omit-kept-atime",
		ts_str(st.st_atim) == ts_str(t[0]) && ts_str(st.st_mtim) == "2000000000.000000005",
		ts_str(t[0]) + " / 2000000000.000000005", ts_str(st.st_atim) + " / " + ts_str(st.st_mtim));
	struct timespec pre = {0, 0};
	clock_gettime(CLOCK_REALTIME_COARSE, &pre);
	pre.tv_sec -= 1;
	struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	R.ok("utimens.now", utimensat(AT_FDCWD, p.c_str(), now, 0));
	st = stat_of(p);
	R.truth("utimens.now-is-current", ts_after(st.st_mtim, pre) && st.st_mtim.tv_sec < pre.tv_sec + 60,
		"within a minute of now", ts_str(st.st_mtim));
	struct timespec old[2] = {{-1, 500000000}, {0, 0}};  // before the epoch
	R.ok("utimens.pre-epoch", utimensat(AT_FDCWD, p.c_str(), old, 0));
	R.eq("utimens.pre-epoch-atime", ts_str(old[0]), ts_str(stat_of(p).st_atim));
	struct timespec far[2] = {{4102444800, 1}, {4102444800, 999999999}};  // 2100-01-01: past 2038
	R.ok("utimens.after-2038", utimensat(AT_FDCWD, p.c_str(), far, 0));
	R.eq("utimens.after-2038-mtime", ts_str(far[1]), ts_str(stat_of(p).st_mtim));
	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	R.err("utimens.bad-nsec-EINVAL", utimensat(AT_FDCWD, p.c_str(), bad, 0), EINVAL);
	symlink("f", (d + "/sl").c_str());
	R.ok("utimens.symlink-nofollow", utimensat(AT_FDCWD, (d + "/sl").c_str(), t, AT_SYMLINK_NOFOLLOW));
	R.truth("utimens.symlink-nofollow-changes-link-only",
		ts_str(stat_of(d + "/sl").st_mtim) == ts_str(t[1]) && ts_str(stat_of(p).st_mtim) == ts_str(far[1]),
		"link " + ts_str(t[1]) + " target " + ts_str(far[1]),
		"link " + ts_str(stat_of(d + "/sl").st_mtim) + " target " + ts_str(stat_of(p).st_mtim));
}

// Drops the file's cached pages after making them durable, so the next read comes from the
// disk: partial-block zeroing must be on disk, not only in the page cache.
void flush_and_drop(int fd) {
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

void test_truncate(const std::string& d) {
	std::string p = d + "/f";
	std::string data(10000, '\xab');
	make_file(p, data);
	int fd = open(p.c_str(), O_RDWR);
	if (!R.ok("truncate.open", fd))
		return;
	flush_and_drop(fd);
	struct stat before;
	fstat(fd, &before);
	age(p);
	R.ok("truncate.down-5000", truncate(p.c_str(), 5000));
	struct stat st;
	fstat(fd, &st);
	R.eq("truncate.down-size", 5000l, (long)st.st_size);
	mtime_updated("truncate.down-mtime-ctime-updated", p);
	R.ok("truncate.up-12000", ftruncate(fd, 12000));
	fstat(fd, &st);
	R.eq("truncate.up-size", 12000l, (long)st.st_size);
	same_bytes("truncate.kept-prefix", data.substr(0, 5000), read_at(fd, 0, 5000));
	std::string tail = read_at(fd, 5000, 7000);
	R.truth("truncate.partial-block-zeroed", tail.size() == 7000 && all_zero(tail), "7000 zero bytes",
		std::to_string(tail.size()) + " bytes, " + nonzero_at(tail));
	flush_and_drop(fd);
	tail = read_at(fd, 5000, 7000);
	R.truth("truncate.partial-block-zeroed-on-disk", tail.size() == 7000 && all_zero(tail), "7000 zero bytes",
		std::to_string(tail.size()) + " bytes, " + nonzero_at(tail));

	// Same with the old data only on disk (not cached) when truncating.
	std::string data2(3 * 4096, '\xcd');
	write_all(fd, data2, 0);
	flush_and_drop(fd);
	R.ok("truncate.down-uncached", ftruncate(fd, 4096 + 100));
	R.ok("truncate.up-uncached", ftruncate(fd, 3 * 4096));
	flush_and_drop(fd);
	std::string got = read_at(fd, 0, 3 * 4096);
	std::string want = data2.substr(0, 4096 + 100) + std::string(3 * 4096 - 4196, '\0');
	same_bytes("truncate.uncached-partial-block-zeroed", want, got);
	R.ok("truncate.to-zero", ftruncate(fd, 0));
	fstat(fd, &st);
	// st_blocks may still count the inode's own block (GFS2 and clusterfs dinodes do).
	R.truth("truncate.to-zero-frees-blocks", st.st_size == 0 && st.st_blocks * 512 <= fs_block_size(),
		"size 0, at most one block", "size " + std::to_string(st.st_size) + " blocks " + std::to_string(st.st_blocks));
	R.ok("truncate.beyond-4GiB-sparse", ftruncate(fd, 5 * GiB));
	fstat(fd, &st);
	R.truth("truncate.beyond-4GiB-size", st.st_size == 5 * GiB && st.st_blocks * 512 < MiB, "5 GiB, sparse",
		"size " + std::to_string(st.st_size) + " blocks " + std::to_string(st.st_blocks));
	R.err("truncate.negative-EINVAL", ftruncate(fd, -1), EINVAL);
	close(fd);
	fd = open(p.c_str(), O_RDONLY);
	R.err("truncate.read-only-fd-EINVAL", ftruncate(fd, 0), EINVAL);
	close(fd);
	mkdir((d + "/dir").c_str(), 0755);
	R.err("truncate.directory-EISDIR", truncate((d + "/dir").c_str(), 0), EISDIR);
}

void test_rw(const std::string& d) {
	std::string p = d + "/f";
	int fd = open(p.c_str(), O_CREAT | O_RDWR, 0644);
	if (!R.ok("rw.open", fd))
		return;
	std::string data = pattern(100000, 7);
	ssize_t n = write(fd, data.data(), data.size());
	R.eq("rw.write-returns-length", (long)data.size(), (long)n);
	R.eq("rw.write-advances-offset", (long)data.size(), (long)lseek(fd, 0, SEEK_CUR));
	lseek(fd, 0, SEEK_SET);
	std::string got(data.size(), '\0');
	n = read(fd, got.data(), got.size());
	R.eq("rw.read-returns-length", (long)data.size(), (long)n);
	same_bytes("rw.read-back", data, got);
	char c;
	R.eq("rw.read-at-eof-0", 0l, (long)read(fd, &c, 1));

	lseek(fd, 123, SEEK_SET);
	std::string patch = pattern(5000, 8);
	R.eq("rw.pwrite-length", 5000l, (long)pwrite(fd, patch.data(), patch.size(), 4090));
	R.eq("rw.pwrite-keeps-offset", 123l, (long)lseek(fd, 0, SEEK_CUR));
	std::string want = data;
	want.replace(4090, 5000, patch);
	same_bytes("rw.pread-after-pwrite", want, read_at(fd, 0, want.size()));
	R.eq("rw.pread-keeps-offset", 123l, (long)lseek(fd, 0, SEEK_CUR));
	std::string short_read = read_at(fd, data.size() - 10, 100);
	R.eq("rw.short-read-at-eof", 10l, (long)short_read.size());

	// Writing past EOF leaves a hole that reads as zeros.
	R.eq("rw.pwrite-past-eof", 3l, (long)pwrite(fd, "end", 3, 200000));
	struct stat st;
	fstat(fd, &st);
	R.eq("rw.size-after-pwrite-past-eof", 200003l, (long)st.st_size);
	std::string gap = read_at(fd, data.size(), 200000 - data.size());
	R.truth("rw.gap-reads-zero", gap.size() == 100000 && all_zero(gap), "100000 zero bytes", nonzero_at(gap));
	flush_and_drop(fd);
	want.resize(200000, '\0');
	want += "end";
	same_bytes("rw.read-back-from-disk", want, read_at(fd, 0, 300000));

	// Unaligned small writes that straddle block boundaries, read back uncached.
	for (off_t off : {4095l, 8191l, 65535l, 1l}) {
		std::string bit = pattern(3, off);
		pwrite(fd, bit.data(), 3, off);
		want.replace(off, 3, bit);
	}
	flush_and_drop(fd);
	same_bytes("rw.straddling-writes", want, read_at(fd, 0, 300000));
	close(fd);
	fd = open(p.c_str(), O_RDONLY);
	R.err("rw.write-on-read-only-EBADF", write(fd, "x", 1), EBADF);
	close(fd);
	int dfd = open(d.c_str(), O_RDONLY | O_DIRECTORY);
	R.err("rw.read-directory-EISDIR", read(dfd, &c, 1), EISDIR);
	close(dfd);
	fd = open(p.c_str(), O_RDWR);
	R.err("rw.pwrite-negative-offset-EINVAL", pwrite(fd, "x", 1, -1), EINVAL);
	close(fd);
}

// Small files: on clusterfs a buffered write that fits the dinode's inline area stays
// there (journaled with the dinode); growing past it moves the bytes to a block. Every
// step is read back from the disk.
void test_small_files(const std::string& d) {
	std::string p = d + "/small";
	int fd = open(p.c_str(), O_CREAT | O_RDWR, 0644);
	if (!R.ok("small.open", fd))
		return;
	std::string want = pattern(100, 21);
	R.eq("small.write", 100l, (long)pwrite(fd, want.data(), want.size(), 0));
	flush_and_drop(fd);
	same_bytes("small.read-back", want, read_at(fd, 0, 4096));
	struct statfs sfs;
	fstatfs(fd, &sfs);
	struct stat st;
	fstat(fd, &st);
	if (sfs.f_type == 0x53464c43) {  // CFS_META_MAGIC: the stuffed layout is clusterfs's
		R.eq("small.stays-in-dinode-blocks", (long)(st.st_blksize / 512), (long)st.st_blocks);
	}
	// A gap inside the inline area reads as zeros.
	std::string tail = pattern(50, 22);
	R.eq("small.pwrite-gap", 50l, (long)pwrite(fd, tail.data(), tail.size(), 1000));
	want.resize(1000, '\0');
	want += tail;
	flush_and_drop(fd);
	same_bytes("small.gap-reads-zero", want, read_at(fd, 0, 4096));
	// Appends, one small write each.
	int afd = open(p.c_str(), O_WRONLY | O_APPEND);
	for (int i = 0; i < 40; i++) {
		std::string bit = pattern(37, 100 + i);
		write(afd, bit.data(), bit.size());
		want += bit;
	}
	close(afd);
	flush_and_drop(fd);
	same_bytes("small.appends", want, read_at(fd, 0, 8192));
	// Truncate down, then write past the new end: the cut bytes must not come back.
	R.ok("small.truncate-down", ftruncate(fd, 10));
	want.resize(10);
	R.eq("small.write-after-truncate", 3l, (long)pwrite(fd, "abc", 3, 20));
	want.resize(20, '\0');
	want += "abc";
	flush_and_drop(fd);
	same_bytes("small.truncate-then-write", want, read_at(fd, 0, 8192));
	// Growing past any inline area in one write, then in a second write from inside it.
	std::string big = pattern(3000, 23);
	R.eq("small.grow-inside", 3000l, (long)pwrite(fd, big.data(), big.size(), 500));
	want.resize(500, '\0');
	want.replace(500, std::string::npos, big);
	std::string across = pattern(2000, 24);
	R.eq("small.grow-across", 2000l, (long)pwrite(fd, across.data(), across.size(), 3000));
	want.resize(3000);
	want += across;
	flush_and_drop(fd);
	same_bytes("small.grown-past-inline", want, read_at(fd, 0, 16384));
	close(fd);
	// A shared mapping of a small file, changed and msync'ed.
	std::string q = d + "/small-mmap";
	fd = open(q.c_str(), O_CREAT | O_RDWR, 0644);
	std::string m = pattern(200, 25);
	pwrite(fd, m.data(), m.size(), 0);
	void *map = mmap(nullptr, 200, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (R.truth("small.mmap", map != MAP_FAILED, "a mapping", std::strerror(errno))) {
		std::memcpy(static_cast<char *>(map) + 50, "MAPPED", 6);
		R.ok("small.msync", msync(map, 200, MS_SYNC));
		munmap(map, 200);
		m.replace(50, 6, "MAPPED");
		flush_and_drop(fd);
		same_bytes("small.mmap-write-on-disk", m, read_at(fd, 0, 4096));
	}
	close(fd);
}

void test_append(const std::string& d) {
	std::string p = d + "/f";
	make_file(p, "start|");
	int a = open(p.c_str(), O_WRONLY | O_APPEND);
	int b = open(p.c_str(), O_WRONLY | O_APPEND);
	if (!R.truth("append.open-two-fds", a >= 0 && b >= 0, "two fds", errno_name(errno)))
		return;
	std::string want = "start|";
	for (int i = 0; i < 50; ++i) {
		std::string s = (i % 2 ? "b" : "a") + std::to_string(i) + ";";
		if (write(i % 2 ? b : a, s.data(), s.size()) != (ssize_t)s.size())
			break;
		want += s;
	}
	same_bytes("append.interleaved-writers", want, slurp(p));
	lseek(a, 0, SEEK_SET);
	write(a, "END", 3);
	want += "END";
	same_bytes("append.ignores-lseek", want, slurp(p));
	R.eq("append.offset-at-end-after-write", (long)want.size(), (long)lseek(a, 0, SEEK_CUR));
	close(a);
	close(b);
	// A big append across many blocks from an offset that is not block aligned.
	int fd = open(p.c_str(), O_WRONLY | O_APPEND);
	std::string big = pattern(300000, 3);
	write_all(fd, big, want.size());  // pwrite with O_APPEND appends on Linux, offset is ignored
	close(fd);
	fd = open(p.c_str(), O_RDONLY);
	flush_and_drop(fd);
	close(fd);
	same_bytes("append.large-append", want + big, slurp(p));
}

// Misaligned O_DIRECT is refused by block filesystems (tmpfs accepts it: it has no device).
void test_odirect_alignment(const std::string& d) {
	int fd = open((d + "/f").c_str(), O_CREAT | O_RDWR | O_DIRECT, 0644);
	if (!R.ok("odirect-alignment.open", fd))
		return;
	void* mem = nullptr;
	if (posix_memalign(&mem, 4096, 8192) != 0) {
		close(fd);
		return;
	}
	char* buf = static_cast<char*>(mem);
	memset(buf, 'a', 8192);
	R.err("odirect-alignment.misaligned-offset-EINVAL", pwrite(fd, buf, 4096, 1), EINVAL);
	R.err("odirect-alignment.misaligned-buffer-EINVAL", pwrite(fd, buf + 1, 4096, 0), EINVAL);
	R.err("odirect-alignment.misaligned-length-EINVAL", pwrite(fd, buf, 1000, 0), EINVAL);
	R.eq("odirect-alignment.aligned-still-works", 4096l, (long)pwrite(fd, buf, 4096, 0));
	free(mem);
	close(fd);
}

void test_odirect(const std::string& d) {
	std::string p = d + "/f";
	int fd = open(p.c_str(), O_CREAT | O_RDWR | O_DIRECT, 0644);
	if (!R.ok("odirect.open", fd))
		return;
	const size_t len = 256 * KiB;
	void* mem = nullptr;
	if (posix_memalign(&mem, 4096, len) != 0) {
		R.fail("odirect.alloc", "aligned buffer", "none", ENOMEM);
		close(fd);
		return;
	}
	char* buf = static_cast<char*>(mem);
	std::string data = pattern(len, 11);
	memcpy(buf, data.data(), len);
	// Allocating write into a hole in the middle, then at the start, then extending.
	R.eq("odirect.allocating-write-in-hole", (long)len, (long)pwrite(fd, buf, len, 1 * MiB));
	R.eq("odirect.allocating-write-at-0", (long)len, (long)pwrite(fd, buf, len, 0));
	struct stat st;
	fstat(fd, &st);
	R.eq("odirect.size", (long)(1 * MiB + len), (long)st.st_size);
	memset(buf, 0, len);
	R.eq("odirect.read", (long)len, (long)pread(fd, buf, len, 1 * MiB));
	same_bytes("odirect.read-back-direct", data, std::string(buf, len));
	int bfd = open(p.c_str(), O_RDONLY);
	same_bytes("odirect.read-back-buffered", data, read_at(bfd, 1 * MiB, len));
	std::string hole = read_at(bfd, len, 1 * MiB - len);
	R.truth("odirect.hole-between-reads-zero", all_zero(hole), "zeros", nonzero_at(hole));
	// Buffered write then direct read: the direct read must see it (cache flushed first).
	std::string patch = pattern(4096, 12);
	int wfd = open(p.c_str(), O_WRONLY);
	pwrite(wfd, patch.data(), patch.size(), 8192);
	close(wfd);
	pread(fd, buf, 4096, 8192);
	same_bytes("odirect.sees-buffered-write", patch, std::string(buf, 4096));
	// Direct write then buffered read: the page cache must be invalidated.
	read_at(bfd, 0, 4096);  // populate the cache
	memcpy(buf, patch.data(), 4096);
	pwrite(fd, buf, 4096, 0);
	same_bytes("odirect.buffered-sees-direct-write", patch, read_at(bfd, 0, 4096));
	R.ok("odirect.fsync", fsync(fd));
	close(bfd);
	close(fd);
	free(mem);
}

sigjmp_buf sigbus_jump;
void on_sigbus(int) { siglongjmp(sigbus_jump, 1); }

void test_mmap(const std::string& d) {
	std::string p = d + "/f";
	const size_t len = 3 * 4096 + 100;
	std::string data = pattern(len, 21);
	make_file(p, data);
	int fd = open(p.c_str(), O_RDWR);
	void* mem = mmap(nullptr, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!R.truth("mmap.shared-rw", mem != MAP_FAILED, "mapping", errno_name(errno))) {
		close(fd);
		return;
	}
	char* m = static_cast<char*>(mem);
	same_bytes("mmap.reads-file", data, std::string(m, len));
	std::string tail(m + len, 4096 - 100);
	R.truth("mmap.past-eof-in-last-page-zero", all_zero(tail), "zeros", nonzero_at(tail));
	std::string patch = pattern(5000, 22);
	memcpy(m + 3000, patch.data(), patch.size());
	R.ok("mmap.msync", msync(m, 4 * 4096, MS_SYNC));
	std::string want = data;
	want.replace(3000, patch.size(), patch);
	same_bytes("mmap.store-visible-to-pread", want, read_at(fd, 0, len));
	pwrite(fd, "WRITE", 5, 10);
	want.replace(10, 5, "WRITE");
	R.truth("mmap.pwrite-visible-in-mapping", memcmp(m + 10, "WRITE", 5) == 0, "WRITE", std::string(m + 10, 5));
	munmap(mem, 4 * 4096);
	// Unmapped and written back, the pages can be dropped: the next read comes from disk.
	flush_and_drop(fd);
	same_bytes("mmap.stores-read-back-from-disk", want, slurp(p));
	// A private mapping's stores never reach the file.
	mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (mem != MAP_FAILED) {
		static_cast<char*>(mem)[0] = '#';
		munmap(mem, 4096);
		R.truth("mmap.private-store-not-in-file", read_at(fd, 0, 1) != "#", "original byte", read_at(fd, 0, 1));
	}
	close(fd);
	fd = open(p.c_str(), O_RDONLY);
	R.err("mmap.shared-write-on-read-only-fd-EACCES",
	      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0, EACCES);
	close(fd);
}

// The page that holds EOF: stores past EOF never reach the file, an extension shows zeros
// there (tmpfs keeps the stale bytes), and pages wholly past EOF raise SIGBUS.
void test_mmap_eof(const std::string& d) {
	std::string p = d + "/f";
	const size_t len = 3 * 4096 + 100;
	make_file(p, pattern(len, 23));
	int fd = open(p.c_str(), O_RDWR);
	void* mem = mmap(nullptr, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!R.truth("mmap-eof.map", mem != MAP_FAILED, "mapping", errno_name(errno))) {
		close(fd);
		return;
	}
	char* m = static_cast<char*>(mem);
	// Stores beyond EOF in the last page are not written back.
	m[len + 5] = 'x';
	msync(m, 4 * 4096, MS_SYNC);
	struct stat st;
	fstat(fd, &st);
	R.eq("mmap-eof.store-past-eof-keeps-size", (long)len, (long)st.st_size);
	// Extending the file makes the rest of the mapping valid.
	ftruncate(fd, 4 * 4096);
	m[4 * 4096 - 1] = 'z';
	msync(m, 4 * 4096, MS_SYNC);
	R.eq("mmap-eof.store-after-extend", std::string("z"), read_at(fd, 4 * 4096 - 1, 1));
	std::string zeroed = read_at(fd, len, 100);
	R.truth("mmap-eof.extend-zeroes-old-eof-tail", all_zero(zeroed), "zeros (old store past EOF discarded)",
		nonzero_at(zeroed));
	// Truncate down: touching the page past the new EOF raises SIGBUS.
	ftruncate(fd, 4096);
	struct sigaction sa {}, old {};
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, &old);
	volatile bool faulted = false;
	if (sigsetjmp(sigbus_jump, 1) == 0) {
		volatile char c = m[2 * 4096];
		(void)c;
	} else {
		faulted = true;
	}
	sigaction(SIGBUS, &old, nullptr);
	R.eq("mmap-eof.access-past-eof-SIGBUS", true, (bool)faulted);
	munmap(mem, 4 * 4096);
	close(fd);
}

void test_fsync(const std::string& d) {
	std::string p = d + "/f";
	int fd = open(p.c_str(), O_CREAT | O_RDWR, 0644);
	std::string data = pattern(1 * MiB + 17, 31);
	write_all(fd, data, 0);
	R.ok("fsync.file", fsync(fd));
	pwrite(fd, "dd", 2, 5);
	data.replace(5, 2, "dd");
	R.ok("fdatasync.file", fdatasync(fd));
	int dfd = open(d.c_str(), O_RDONLY | O_DIRECTORY);
	R.ok("fsync.directory", fsync(dfd));
	R.ok("syncfs", syncfs(dfd));
	close(dfd);
	int rfd = open(p.c_str(), O_RDONLY);
	R.ok("fsync.read-only-fd", fsync(rfd));
	posix_fadvise(rfd, 0, 0, POSIX_FADV_DONTNEED);
	same_bytes("fsync.data-read-back-from-disk", data, read_at(rfd, 0, data.size() + 10));
	close(rfd);
	close(fd);
	R.err("fsync.closed-fd-EBADF", fsync(fd), EBADF);
	int sfd = open(p.c_str(), O_WRONLY | O_SYNC);
	R.eq("fsync.o_sync-write", 4l, (long)pwrite(sfd, "sync", 4, 0));
	close(sfd);
	R.eq("fsync.o_sync-data", std::string("sync"), slurp(p).substr(0, 4));
}

void test_sparse(const std::string& d) {
	std::string p = d + "/f";
	int fd = open(p.c_str(), O_CREAT | O_RDWR, 0644);
	std::string data = pattern(4096, 41);
	write_all(fd, data, 1 * MiB);
	ftruncate(fd, 2 * MiB);
	fsync(fd);
	struct stat st;
	fstat(fd, &st);
	R.truth("sparse.few-blocks-allocated", st.st_blocks * 512 <= 64 * KiB, "<= 64 KiB allocated",
		std::to_string(st.st_blocks * 512) + " bytes");
	std::string hole = read_at(fd, 0, 1 * MiB);
	R.truth("sparse.hole-reads-zero", hole.size() == (size_t)MiB && all_zero(hole), "zeros", nonzero_at(hole));
	R.eq("sparse.seek-hole-at-0", 0l, (long)lseek(fd, 0, SEEK_HOLE));
	R.eq("sparse.seek-data-from-0", (long)(1 * MiB), (long)lseek(fd, 0, SEEK_DATA));
	R.eq("sparse.seek-data-inside-data", (long)(1 * MiB + 100), (long)lseek(fd, 1 * MiB + 100, SEEK_DATA));
	R.eq("sparse.seek-hole-after-data", (long)(1 * MiB + 4096), (long)lseek(fd, 1 * MiB, SEEK_HOLE));
	R.err("sparse.seek-data-in-trailing-hole-ENXIO", lseek(fd, 1 * MiB + 4096, SEEK_DATA), ENXIO);
	R.err("sparse.seek-data-at-eof-ENXIO", lseek(fd, 2 * MiB, SEEK_DATA), ENXIO);
	R.err("sparse.seek-hole-at-eof-ENXIO", lseek(fd, 2 * MiB, SEEK_HOLE), ENXIO);
	R.eq("sparse.seek-hole-in-trailing-hole", (long)(1 * MiB + 8192), (long)lseek(fd, 1 * MiB + 8192, SEEK_HOLE));
	// A file that ends in data: the implicit hole at EOF.
	ftruncate(fd, 1 * MiB + 4096);
	R.eq("sparse.seek-hole-implicit-at-eof", (long)(1 * MiB + 4096), (long)lseek(fd, 1 * MiB, SEEK_HOLE));
	// Buffered (not yet written back) data counts as data too.
	pwrite(fd, "dirty", 5, 3 * MiB);
	R.eq("sparse.seek-data-finds-dirty-page", (long)(3 * MiB), (long)lseek(fd, 1 * MiB + 4096, SEEK_DATA));
	close(fd);
}

// ---- fiemap ------------------------------------------------------------------------------

constexpr unsigned long kClusterfsMagic = 0x53464c43;  // CFS_META_MAGIC, the f_type of clusterfs
constexpr unsigned kDinodeHeaderBytes = 256;             // CFS_DINODE_SIZE: inline data follows

unsigned long statfs_type(const std::string& path) {
	struct statfs sfs;
	return statfs(path.c_str(), &sfs) == 0 ? (unsigned long)sfs.f_type : 0;
}

struct FiemapResult {
	int rc = -1;
	int err = 0;
	uint32_t mapped = 0;  // fm_mapped_extents
	std::vector<struct fiemap_extent> extents;
};

FiemapResult fiemap(int fd, uint64_t start, uint64_t length, uint32_t flags, uint32_t max_extents) {
	std::vector<char> buf(sizeof(struct fiemap) + max_extents * sizeof(struct fiemap_extent));
	auto* fm = reinterpret_cast<struct fiemap*>(buf.data());
	fm->fm_start = start;
	fm->fm_length = length;
	fm->fm_flags = flags;
	fm->fm_extent_count = max_extents;
	FiemapResult r;
	r.rc = ioctl(fd, FS_IOC_FIEMAP, fm);
	r.err = errno;
	if (r.rc == 0) {
		r.mapped = fm->fm_mapped_extents;
		for (uint32_t i = 0; i < std::min(fm->fm_mapped_extents, max_extents); ++i)
			r.extents.push_back(fm->fm_extents[i]);
	}
	return r;
}

std::string describe_extents(const std::vector<struct fiemap_extent>& extents) {
	std::string s;
	for (const auto& e : extents)
		s += "[" + std::to_string(e.fe_logical) + "+" + std::to_string(e.fe_length) + "@" +
		     std::to_string(e.fe_physical) + " f=0x" + [&] {
			     char h[16];
			     std::snprintf(h, sizeof h, "%x", e.fe_flags);
			     return std::string(h);
		     }() + "]";
	return s.empty() ? "none" : s;
}

// The block device holding `st_dev` (root, devtmpfs): -1 when it cannot be opened.
int open_backing_device(dev_t dev) {
	std::string uevent = "/sys/dev/block/" + std::to_string(major(dev)) + ":" + std::to_string(minor(dev)) + "/uevent";
	std::string text = slurp(uevent);
	size_t at = text.find("DEVNAME=");
	if (at == std::string::npos)
		return -1;
	std::string name = text.substr(at + 8, text.find('\n', at) - at - 8);
	return open(("/dev/" + name).c_str(), O_RDONLY | O_DIRECT);
}

// Reads `len` bytes at `off` of a device opened O_DIRECT (block-aligned offsets).
std::string read_device(int dev_fd, off_t off, size_t len) {
	void* buf = aligned_alloc(4096, (len + 4095) / 4096 * 4096);
	ssize_t n = pread(dev_fd, buf, (len + 4095) / 4096 * 4096, off);
	std::string s = n >= (ssize_t)len ? std::string(static_cast<char*>(buf), len) : std::string();
	free(buf);
	return s;
}

void test_fiemap(const std::string& d) {
	const off_t bs = fs_block_size();
	std::string p = d + "/sparse";
	int fd = open(p.c_str(), O_CREAT | O_RDWR, 0644);
	// Data in file blocks 0-1 and 10-12, a hole between: the known layout.
	std::string head = pattern(2 * bs, 91), tail = pattern(3 * bs, 92);
	write_all(fd, head, 0);
	write_all(fd, tail, 10 * bs);
	FiemapResult all = fiemap(fd, 0, FIEMAP_MAX_OFFSET, FIEMAP_FLAG_SYNC, 32);
	if (all.rc != 0 && all.err == EOPNOTSUPP) {
		R.skip("fiemap", "FS_IOC_FIEMAP not supported here");
		close(fd);
		return;
	}
	if (!R.ok("fiemap.sync", all.rc)) {
		close(fd);
		return;
	}
	// Which file blocks the extents cover (extents past EOF, preallocation, ignored).
	std::set<off_t> mapped;
	bool aligned = true, clean_flags = true;
	for (const auto& e : all.extents) {
		aligned &= e.fe_logical % bs == 0 && e.fe_physical % bs == 0 && e.fe_length % bs == 0 &&
			   e.fe_physical != 0;
		clean_flags &= !(e.fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
					       FIEMAP_EXTENT_DATA_INLINE));
		if (e.fe_flags & FIEMAP_EXTENT_UNWRITTEN)
			continue;
		for (uint64_t b = e.fe_logical / bs; b < (e.fe_logical + e.fe_length) / bs && b < 13; ++b)
			mapped.insert(b);
	}
	R.eq("fiemap.mapped-blocks", std::string("0 1 10 11 12"), [&] {
		std::string s;
		for (off_t b : mapped)
			s += (s.empty() ? "" : " ") + std::to_string(b);
		return s;
	}());
	R.truth("fiemap.extents-block-aligned", aligned, "block-aligned, physical != 0", describe_extents(all.extents));
	R.truth("fiemap.no-delalloc-after-sync", clean_flags, "no UNKNOWN/DELALLOC/INLINE", describe_extents(all.extents));
	R.truth("fiemap.last-flag", !all.extents.empty() && (all.extents.back().fe_flags & FIEMAP_EXTENT_LAST),
		"FIEMAP_EXTENT_LAST on the last extent", describe_extents(all.extents));
	if (statfs_type(d) == kClusterfsMagic)
		// The allocator gives a fresh file contiguous blocks: exactly two extents.
		R.truth("fiemap.clusterfs-two-extents",
			all.extents.size() == 2 && all.extents[0].fe_logical == 0 &&
				all.extents[0].fe_length == (uint64_t)(2 * bs) &&
				all.extents[1].fe_logical == (uint64_t)(10 * bs) &&
				all.extents[1].fe_length == (uint64_t)(3 * bs),
			"[0+2 blocks] [10+3 blocks]", describe_extents(all.extents));

	// The physical addresses hold the file's bytes (read from the device, bypassing caches).
	struct stat st;
	fstat(fd, &st);
	int dev_fd = is_root ? open_backing_device(st.st_dev) : -1;
	if (dev_fd < 0) {
		R.skip("fiemap.physical-holds-data", "backing device not readable (needs root)");
	} else {
		std::string file = read_at(fd, 0, 13 * bs), mismatch;
		for (const auto& e : all.extents) {
			if (e.fe_flags & FIEMAP_EXTENT_UNWRITTEN || e.fe_logical >= (uint64_t)(13 * bs))
				continue;
			uint64_t len = std::min<uint64_t>(e.fe_length, 13 * bs - e.fe_logical);
			if (read_device(dev_fd, e.fe_physical, len) != file.substr(e.fe_logical, len))
				mismatch += "extent at " + std::to_string(e.fe_logical) + " ";
		}
		R.truth("fiemap.physical-holds-data", mismatch.empty(), "device bytes at fe_physical == file bytes",
			mismatch);
		close(dev_fd);
	}

	FiemapResult count = fiemap(fd, 0, FIEMAP_MAX_OFFSET, 0, 0);
	R.truth("fiemap.count-only", count.rc == 0 && count.mapped == all.mapped,
		std::to_string(all.mapped) + " extents counted",
		count.rc == 0 ? std::to_string(count.mapped) : "rc " + std::to_string(count.rc));
	// A range starting in the hole: only extents overlapping it.
	FiemapResult part = fiemap(fd, 5 * bs, 100 * bs, 0, 32);
	bool overlap = part.rc == 0 && !part.extents.empty();
	for (const auto& e : part.extents)
		overlap &= e.fe_logical + e.fe_length > (uint64_t)(5 * bs);
	R.truth("fiemap.range-from-hole", overlap && part.extents.front().fe_logical <= (uint64_t)(10 * bs),
		"extents from block 10 on", describe_extents(part.extents));
	FiemapResult bad = fiemap(fd, 0, FIEMAP_MAX_OFFSET, 0x40000000, 1);
	errno = bad.err;
	R.err("fiemap.unknown-flag-EBADR", bad.rc, EBADR);
	close(fd);

	std::string e = d + "/empty";
	int efd = open(e.c_str(), O_CREAT | O_RDWR, 0644);
	FiemapResult none = fiemap(efd, 0, FIEMAP_MAX_OFFSET, FIEMAP_FLAG_SYNC, 4);
	R.truth("fiemap.empty-file-no-extents", none.rc == 0 && none.mapped == 0, "0 extents",
		describe_extents(none.extents));
	if (statfs_type(d) == kClusterfsMagic) {
		// Growing an empty file within the dinode keeps it stuffed: its bytes are inline.
		ftruncate(efd, 100);
		FiemapResult in = fiemap(efd, 0, FIEMAP_MAX_OFFSET, FIEMAP_FLAG_SYNC, 4);
		fstat(efd, &st);
		const uint32_t want = FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_LAST;
		R.truth("fiemap.clusterfs-stuffed-inline",
			in.rc == 0 && in.extents.size() == 1 && in.extents[0].fe_logical == 0 &&
				in.extents[0].fe_length == 100 && (in.extents[0].fe_flags & want) == want &&
				in.extents[0].fe_physical == (uint64_t)st.st_ino * bs + kDinodeHeaderBytes,
			"one extent 0+100 @ino*bs+256 INLINE|NOT_ALIGNED|LAST (ino " + std::to_string(st.st_ino) + ")",
			describe_extents(in.extents));
		// A small write stays inline too; reading it back gives the bytes.
		std::string small = d + "/small", bytes = pattern(300, 96);
		make_file(small, bytes);
		int sfd = open(small.c_str(), O_RDONLY);
		FiemapResult sm = fiemap(sfd, 0, FIEMAP_MAX_OFFSET, FIEMAP_FLAG_SYNC, 4);
		fstat(sfd, &st);
		R.truth("fiemap.clusterfs-small-file-inline",
			sm.rc == 0 && sm.extents.size() == 1 && sm.extents[0].fe_length == 300 &&
				(sm.extents[0].fe_flags & want) == want &&
				sm.extents[0].fe_physical == (uint64_t)st.st_ino * bs + kDinodeHeaderBytes,
			"one inline extent of 300 bytes in dinode " + std::to_string(st.st_ino),
			describe_extents(sm.extents));
		same_bytes("fiemap.clusterfs-small-file-reads-back", bytes, read_at(sfd, 0, 400));
		close(sfd);
	}
	close(efd);
}

void test_fallocate(const std::string& d) {
	std::string p = d + "/f";
	int fd = open(p.c_str(), O_CREAT | O_RDWR, 0644);
	struct stat st;
	if (!R.ok("fallocate.mode-0", fallocate(fd, 0, 0, 1 * MiB))) {
		close(fd);
		return;
	}
	fstat(fd, &st);
	R.eq("fallocate.mode-0-extends-size", (long)(1 * MiB), (long)st.st_size);
	R.truth("fallocate.mode-0-allocates", st.st_blocks * 512 >= 1 * MiB, ">= 1 MiB allocated",
		std::to_string(st.st_blocks * 512));
	std::string got = read_at(fd, 0, 1 * MiB);
	R.truth("fallocate.mode-0-reads-zero", got.size() == (size_t)MiB && all_zero(got), "zeros", nonzero_at(got));
	blkcnt_t blocks = st.st_blocks;
	R.ok("fallocate.keep-size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 * MiB, 1 * MiB));
	fstat(fd, &st);
	R.eq("fallocate.keep-size-size-unchanged", (long)(1 * MiB), (long)st.st_size);
	R.truth("fallocate.keep-size-allocates", st.st_blocks * 512 >= blocks * 512 + 1 * MiB,
		">= " + std::to_string(blocks * 512 + MiB), std::to_string(st.st_blocks * 512));
	// Extending over preallocated blocks beyond EOF reads zeros, not stale data.
	ftruncate(fd, 2 * MiB);
	got = read_at(fd, 1 * MiB, 1 * MiB);
	R.truth("fallocate.keep-size-region-reads-zero", all_zero(got), "zeros", nonzero_at(got));
	// Writes into preallocated (unwritten) space.
	std::string data = pattern(2 * MiB, 51);
	write_all(fd, data, 0);
	flush_and_drop(fd);
	same_bytes("fallocate.write-into-preallocated", data, read_at(fd, 0, 2 * MiB));
	fstat(fd, &st);
	blocks = st.st_blocks;
	R.ok("fallocate.punch-hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 256 * KiB, 256 * KiB));
	fstat(fd, &st);
	R.eq("fallocate.punch-hole-size-unchanged", (long)(2 * MiB), (long)st.st_size);
	R.truth("fallocate.punch-hole-frees-blocks", st.st_blocks * 512 <= blocks * 512 - 256 * KiB,
		"<= " + std::to_string(blocks * 512 - 256 * KiB), std::to_string(st.st_blocks * 512));
	std::string want = data;
	std::fill(want.begin() + 256 * KiB, want.begin() + 512 * KiB, '\0');
	same_bytes("fallocate.punch-hole-zeroes-range", want, read_at(fd, 0, 2 * MiB));
	R.eq("fallocate.punch-hole-seek-hole", (long)(256 * KiB), (long)lseek(fd, 0, SEEK_HOLE));
	R.eq("fallocate.punch-hole-seek-data", (long)(512 * KiB), (long)lseek(fd, 256 * KiB, SEEK_DATA));
	// Unaligned punch: the partial blocks at both ends are zeroed, neighbours intact.
	R.ok("fallocate.punch-partial-blocks",
	     fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 * MiB + 1000, 10000));
	std::fill(want.begin() + 1 * MiB + 1000, want.begin() + 1 * MiB + 11000, '\0');
	same_bytes("fallocate.punch-partial-cached", want, read_at(fd, 0, 2 * MiB));
	flush_and_drop(fd);
	same_bytes("fallocate.punch-partial-on-disk", want, read_at(fd, 0, 2 * MiB));
	R.ok("fallocate.punch-past-eof", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 3 * MiB, MiB));
	fstat(fd, &st);
	R.eq("fallocate.punch-past-eof-size-unchanged", (long)(2 * MiB), (long)st.st_size);
	R.err("fallocate.punch-without-keep-size-EOPNOTSUPP", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096),
	      EOPNOTSUPP);
	R.err("fallocate.zero-length-EINVAL", fallocate(fd, 0, 0, 0), EINVAL);
	R.err("fallocate.negative-offset-EINVAL", fallocate(fd, 0, -4096, 4096), EINVAL);
	close(fd);
	fd = open(p.c_str(), O_RDONLY);
	R.err("fallocate.read-only-fd-EBADF", fallocate(fd, 0, 0, 4096), EBADF);
	close(fd);
}

void test_statfs(const std::string& d) {
	struct statfs s;
	if (!R.ok("statfs.call", statfs(d.c_str(), &s)))
		return;
	R.truth("statfs.bsize", s.f_bsize >= 512 && (s.f_bsize & (s.f_bsize - 1)) == 0, "power of two >= 512",
		std::to_string(s.f_bsize));
	R.truth("statfs.blocks-consistent", s.f_blocks > 0 && s.f_bfree <= s.f_blocks && s.f_bavail <= s.f_bfree,
		"0 < blocks, bavail <= bfree <= blocks",
		std::to_string(s.f_bavail) + " / " + std::to_string(s.f_bfree) + " / " + std::to_string(s.f_blocks));
	R.truth("statfs.files-consistent", s.f_ffree <= s.f_files, "ffree <= files",
		std::to_string(s.f_ffree) + " / " + std::to_string(s.f_files));
	R.truth("statfs.namelen", s.f_namelen >= 255, ">= 255", std::to_string(s.f_namelen));
	// Usage must follow writes and unlinks, within slack for metadata and delayed frees.
	const off_t len = 16 * MiB;
	std::string p = d + "/f";
	int fd = open(p.c_str(), O_CREAT | O_RDWR, 0644);
	std::string data = pattern(len, 61);
	write_all(fd, data, 0);
	fsync(fd);
	close(fd);
	int dfd = open(d.c_str(), O_RDONLY);
	syncfs(dfd);
	struct statfs after_write;
	statfs(d.c_str(), &after_write);
	long used_bytes = ((long)s.f_bfree - (long)after_write.f_bfree) * (long)s.f_bsize;
	R.truth("statfs.write-consumes-space", used_bytes >= len / 2 && used_bytes <= len * 2,
		"about " + std::to_string(len) + " bytes", std::to_string(used_bytes));
	unlink(p.c_str());
	// Freeing an unlinked inode's blocks may be deferred (XFS inodegc, GFS2's delayed
	// dealloc): wait for it, bounded to 5 s.
	long freed_bytes = 0;
	for (int tries = 0; tries < 50 && freed_bytes < len / 2; ++tries) {
		if (tries)
			usleep(100 * 1000);
		syncfs(dfd);
		struct statfs after_unlink;
		statfs(d.c_str(), &after_unlink);
		freed_bytes = ((long)after_unlink.f_bfree - (long)after_write.f_bfree) * (long)s.f_bsize;
	}
	close(dfd);
	R.truth("statfs.unlink-frees-space", freed_bytes >= len / 2, ">= " + std::to_string(len / 2),
		std::to_string(freed_bytes));
	struct statfs fs;
	int ffd = open(d.c_str(), O_RDONLY);
	R.ok("fstatfs", fstatfs(ffd, &fs));
	close(ffd);
	R.eq("fstatfs.same-type", (long)s.f_type, (long)fs.f_type);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

void test_readdir_insert(const std::string& d) {
	const int initial = 3000, per_step = 15;
	std::set<std::string> before;
	for (int i = 0; i < initial; ++i) {
		std::string n = "old-" + std::to_string(i * 7919 % 100003);
		if (!make_file(d + "/" + n, "")) {
			R.fail("readdir-insert.setup", "files created", n, errno);
			return;
		}
		before.insert(n);
	}
	int fd = open(d.c_str(), O_RDONLY | O_DIRECTORY);
	if (!R.ok("readdir-insert.open", fd))
		return;
	// A small buffer forces one getdents64 call per few entries, with inserts in between,
	// so the directory grows (and a hashed one splits leaves) under the open cursor.
	std::multiset<std::string> seen;
	std::set<std::string> added;
	alignas(8) char buf[1024];
	int calls = 0, created = 0;
	bool types_ok = true;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n < 0) {
			R.fail("readdir-insert.getdents64", "success", "-1", errno);
			close(fd);
			return;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			auto* e = reinterpret_cast<linux_dirent64*>(buf + off);
			seen.insert(e->d_name);
			if (e->d_type != DT_REG && e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
				types_ok = false;
			off += e->d_reclen;
		}
		++calls;
		for (int i = 0; i < per_step && created < 4 * initial; ++i, ++created) {
			std::string nm = "new-" + std::to_string(created * 104729 % 1000003);
			make_file(d + "/" + nm, "");
			added.insert(nm);
		}
	}
	close(fd);
	std::string repeated, missing, unknown;
	int repeats = 0, missed = 0, strangers = 0;
	for (auto it = seen.begin(); it != seen.end(); it = seen.upper_bound(*it))
		if (seen.count(*it) > 1 && repeats++ == 0)
			repeated = *it;
	for (const std::string& n : before)
		if (!seen.count(n) && missed++ == 0)
			missing = n;
	for (const std::string& n : seen)
		if (n != "." && n != ".." && !before.count(n) && !added.count(n) && strangers++ == 0)
			unknown = n;
	R.truth("readdir-insert.no-entry-repeated", repeats == 0, "0 repeated",
		std::to_string(repeats) + " repeated, e.g. " + repeated);
	R.truth("readdir-insert.all-prior-entries-seen", missed == 0, "all " + std::to_string(initial) + " seen",
		std::to_string(missed) + " missing, e.g. " + missing);
	R.truth("readdir-insert.no-unknown-names", strangers == 0, "only created names",
		std::to_string(strangers) + " unknown, e.g. " + unknown);
	R.truth("readdir-insert.dot-and-dotdot", seen.count(".") == 1 && seen.count("..") == 1, "once each",
		std::to_string(seen.count(".")) + " / " + std::to_string(seen.count("..")));
	R.eq("readdir-insert.d_type-valid", true, types_ok);
	R.truth("readdir-insert.interleaved", calls > 20 && created > 0, "> 20 getdents64 calls with inserts",
		std::to_string(calls) + " calls, " + std::to_string(created) + " inserts");
	// A fresh pass sees every entry exactly once.
	DIR* dir = opendir(d.c_str());
	size_t count = 0;
	while (struct dirent* e = dir ? readdir(dir) : nullptr)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			++count;
	if (dir)
		closedir(dir);
	R.eq("readdir-insert.final-count", before.size() + added.size(), count);
	// Deleting while reading: entries not yet deleted must still be returned once.
	dir = opendir(d.c_str());
	std::set<std::string> seen2;
	int dups = 0;
	while (struct dirent* e = dir ? readdir(dir) : nullptr) {
		if (!seen2.insert(e->d_name).second)
			++dups;
		if (strncmp(e->d_name, "old-", 4) == 0)
			unlinkat(dirfd(dir), e->d_name, 0);
	}
	if (dir)
		closedir(dir);
	R.eq("readdir-delete.no-entry-repeated", 0, dups);
	R.eq("readdir-delete.all-seen", before.size() + added.size() + 2, seen2.size());
}

// The largest size the filesystem accepts (s_maxbytes, the format's limit), found with
// ftruncate, must be fully usable: its last byte written and read back, one byte further
// refused with EFBIG (EINVAL when the limit is the off_t maximum: the end would overflow).
void test_file_size_limit(const std::string& d) {
	std::string p = d + "/limit";
	int fd = open(p.c_str(), O_CREAT | O_RDWR, 0644);
	off_t ok = 0, bad = std::numeric_limits<off_t>::max();  // ok: accepted; above bad: refused
	bool odd_errno = false;
	while (ok < bad) {
		off_t mid = ok + (bad - ok) / 2 + 1;
		if (ftruncate(fd, mid) == 0) {
			ok = mid;
		} else {
			odd_errno |= errno != EFBIG && errno != EINVAL;
			bad = mid - 1;
		}
	}
	const off_t limit = ok;
	const bool at_off_t_max = limit == std::numeric_limits<off_t>::max();
	std::printf("# maximum file size %lld bytes\n", (long long)limit);
	R.eq("large-file.limit-refusals-EFBIG-or-EINVAL", false, odd_errno);
	R.truth("large-file.limit-at-least-1TiB", limit >= 1024 * GiB, ">= 1 TiB", std::to_string(limit));
	ftruncate(fd, 0);
	if (!R.eq("large-file.write-last-byte", 1l, (long)pwrite(fd, "L", 1, limit - 1))) {
		close(fd);
		unlink(p.c_str());
		return;
	}
	struct stat st;
	fstat(fd, &st);
	R.eq("large-file.size-at-limit", (long long)limit, (long long)st.st_size);
	flush_and_drop(fd);
	R.eq("large-file.read-last-byte", std::string("L"), read_at(fd, limit - 1, 1));
	std::string before = read_at(fd, limit - 4097, 4096);
	R.truth("large-file.hole-before-last-byte-zero", before.size() == 4096 && all_zero(before), "4096 zeros",
		nonzero_at(before));
	R.err("large-file.write-at-limit-refused", pwrite(fd, "X", 1, limit), at_off_t_max ? EINVAL : EFBIG);
	if (!at_off_t_max) {
		R.eq("large-file.write-across-limit-short", 1l, (long)pwrite(fd, "MN", 2, limit - 1));
		R.err("large-file.truncate-past-limit-EFBIG", ftruncate(fd, limit + 1), EFBIG);
	}
	R.ok("large-file.truncate-from-limit-to-0", ftruncate(fd, 0));
	fstat(fd, &st);
	R.truth("large-file.truncate-from-limit-frees", st.st_blocks * 512 <= fs_block_size(), "at most one block",
		std::to_string(st.st_blocks * 512));
	close(fd);
	R.ok("large-file.unlink-at-limit", unlink(p.c_str()));
}

void test_large_file(const std::string& d) {
	std::string p = d + "/f";
	int fd = open(p.c_str(), O_CREAT | O_RDWR, 0644);
	std::string data = pattern(8192, 71);
	off_t across = 4 * GiB - 4096;  // straddles the 4 GiB boundary
	if (!R.eq("large-file.write-across-4GiB", (long)data.size(), (long)pwrite(fd, data.data(), data.size(), across))) {
		close(fd);
		return;
	}
	R.eq("large-file.write-at-17GiB", 4l, (long)pwrite(fd, "tail", 4, 17 * GiB));
	struct stat st;
	fstat(fd, &st);
	R.eq("large-file.size", (long)(17 * GiB + 4), (long)st.st_size);
	R.truth("large-file.sparse", st.st_blocks * 512 < 1 * MiB, "< 1 MiB allocated", std::to_string(st.st_blocks * 512));
	flush_and_drop(fd);
	same_bytes("large-file.read-across-4GiB", data, read_at(fd, across, data.size()));
	R.eq("large-file.read-at-17GiB", std::string("tail"), read_at(fd, 17 * GiB, 100));
	std::string hole = read_at(fd, 8 * GiB, 65536);
	R.truth("large-file.hole-reads-zero", hole.size() == 65536 && all_zero(hole), "zeros", nonzero_at(hole));
	R.eq("large-file.seek-data-past-4GiB", (long)(4 * GiB - 4096), (long)lseek(fd, 1 * GiB, SEEK_DATA));
	R.eq("large-file.seek-data-17GiB", (long)(17 * GiB), (long)lseek(fd, 5 * GiB, SEEK_DATA));
	R.ok("large-file.truncate-down-across-4GiB", ftruncate(fd, 4 * GiB + 1000));
	std::string kept = read_at(fd, across, 8192);
	std::string want = data.substr(0, 4096 + 1000);
	same_bytes("large-file.truncate-kept-prefix", want, kept);
	close(fd);
	fd = open(p.c_str(), O_RDWR);
	R.eq("large-file.lseek-end", (long)(4 * GiB + 1000), (long)lseek(fd, 0, SEEK_END));
	close(fd);
	test_file_size_limit(d);
}

void test_bigdir(const std::string& d, int entries) {
	int dfd = open(d.c_str(), O_RDONLY | O_DIRECTORY);
	int made = 0;
	for (; made < entries; ++made) {
		int fd = openat(dfd, ("entry-" + std::to_string(made)).c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			break;
		close(fd);
	}
	int err = errno;
	if (!R.truth("bigdir.create-" + std::to_string(entries), made == entries, std::to_string(entries) + " created",
		     std::to_string(made) + " (" + errno_name(err) + ")")) {
		close(dfd);
		return;
	}
	struct stat st;
	int missing = 0;
	for (int i = 0; i < entries; i += 97)
		if (fstatat(dfd, ("entry-" + std::to_string(i)).c_str(), &st, 0) != 0)
			++missing;
	R.eq("bigdir.lookup-sample", 0, missing);
	R.err("bigdir.lookup-missing-ENOENT", fstatat(dfd, "entry-x", &st, 0), ENOENT);
	DIR* dir = fdopendir(dup(dfd));
	std::set<std::string> names;
	int dups = 0;
	while (struct dirent* e = dir ? readdir(dir) : nullptr)
		if (!names.insert(e->d_name).second)
			++dups;
	if (dir)
		closedir(dir);
	R.eq("bigdir.readdir-count", (size_t)entries + 2, names.size());
	R.eq("bigdir.readdir-no-repeats", 0, dups);
	int unlinked = 0;
	for (int i = 0; i < entries; ++i)
		if (unlinkat(dfd, ("entry-" + std::to_string(i)).c_str(), 0) == 0)
			++unlinked;
	R.eq("bigdir.unlink-all", entries, unlinked);
	dir = fdopendir(dup(dfd));
	int left = 0;
	while (struct dirent* e = dir ? readdir(dir) : nullptr)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			++left;
	if (dir)
		closedir(dir);
	R.eq("bigdir.empty-after-unlink", 0, left);
	close(dfd);
	R.ok("bigdir.rmdir", rmdir(d.c_str()));
}

void xattr_checks(const std::string& d, const std::string& ns) {
	std::string f = d + "/f-" + ns;
	make_file(f, "");
	std::string n = "xattr-" + ns + ".";
	std::string key = ns + ".cfs_test";
	if (!R.ok(n + "set", setxattr(f.c_str(), key.c_str(), "value1", 6, 0)))
		return;
	char buf[8192];
	ssize_t len = getxattr(f.c_str(), key.c_str(), buf, sizeof buf);
	R.eq(n + "get", std::string("value1"), std::string(buf, len > 0 ? len : 0));
	R.eq(n + "size-query", 6l, (long)getxattr(f.c_str(), key.c_str(), nullptr, 0));
	R.err(n + "small-buffer-ERANGE", getxattr(f.c_str(), key.c_str(), buf, 3), ERANGE);
	R.err(n + "create-existing-EEXIST", setxattr(f.c_str(), key.c_str(), "v", 1, XATTR_CREATE), EEXIST);
	R.err(n + "replace-missing-ENODATA", setxattr(f.c_str(), (key + "2").c_str(), "v", 1, XATTR_REPLACE), ENODATA);
	R.ok(n + "replace", setxattr(f.c_str(), key.c_str(), "v2", 2, XATTR_REPLACE));
	len = getxattr(f.c_str(), key.c_str(), buf, sizeof buf);
	R.eq(n + "replaced-value", std::string("v2"), std::string(buf, len > 0 ? len : 0));
	R.ok(n + "empty-value", setxattr(f.c_str(), (key + ".empty").c_str(), "", 0, 0));
	R.eq(n + "empty-value-size", 0l, (long)getxattr(f.c_str(), (key + ".empty").c_str(), buf, sizeof buf));
	// As large as fits beside the others in one block of the smallest block size in use.
	std::string big = pattern(std::min<long>(3000, fs_block_size() - 256), 81);
	R.ok(n + "large-value", setxattr(f.c_str(), (key + ".big").c_str(), big.data(), big.size(), 0));
	len = getxattr(f.c_str(), (key + ".big").c_str(), buf, sizeof buf);
	same_bytes(n + "large-value-read", big, std::string(buf, len > 0 ? len : 0));
	len = listxattr(f.c_str(), buf, sizeof buf);
	std::set<std::string> names;
	for (ssize_t off = 0; len > 0 && off < len; off += strlen(buf + off) + 1)
		names.insert(buf + off);
	R.truth(n + "list", names.count(key) && names.count(key + ".empty") && names.count(key + ".big"),
		"3 names listed", std::to_string(names.size()) + " names");
	R.ok(n + "remove", removexattr(f.c_str(), key.c_str()));
	R.err(n + "get-removed-ENODATA", getxattr(f.c_str(), key.c_str(), buf, sizeof buf), ENODATA);
	R.err(n + "remove-missing-ENODATA", removexattr(f.c_str(), key.c_str()), ENODATA);
	mkdir((d + "/dir-" + ns).c_str(), 0755);
	R.ok(n + "on-directory", setxattr((d + "/dir-" + ns).c_str(), key.c_str(), "d", 1, 0));
	R.err(n + "name-too-long-ERANGE", setxattr(f.c_str(), (ns + "." + std::string(256, 'n')).c_str(), "v", 1, 0),
	      ERANGE);
	// Survives the inode leaving the cache: fsync, then read via a new lookup after a rename.
	int fd = open(f.c_str(), O_RDONLY);
	fsync(fd);
	close(fd);
	rename(f.c_str(), (f + ".moved").c_str());
	len = getxattr((f + ".moved").c_str(), (key + ".big").c_str(), buf, sizeof buf);
	same_bytes(n + "kept-across-rename", big, std::string(buf, len > 0 ? len : 0));
}

void test_xattr_user(const std::string& d) {
	xattr_checks(d, "user");
	// user.* is only allowed on regular files and directories.
	symlink("x", (d + "/sl").c_str());
	R.err("xattr-user.on-symlink-EPERM", lsetxattr((d + "/sl").c_str(), "user.a", "v", 1, 0), EPERM);
	R.err("xattr-user.unknown-namespace-EOPNOTSUPP", setxattr((d + "/f-user.moved").c_str(), "bogus.a", "v", 1, 0),
	      EOPNOTSUPP);
	// Filling a file's xattr space: a filesystem with a bounded space (ext4, clusterfs: one
	// block) refuses with ENOSPC (E2BIG on some), and a refused set loses nothing.
	std::string full = d + "/f-user-full";
	make_file(full, "");
	const std::string chunk = pattern(1000, 82);
	int stored = 0, refused_errno = 0;
	for (; stored < 256; ++stored) {
		std::string key = "user.fill" + std::to_string(stored);
		if (setxattr(full.c_str(), key.c_str(), chunk.data(), chunk.size(), XATTR_CREATE) != 0) {
			refused_errno = errno;
			break;
		}
	}
	R.truth("xattr-user.full-ENOSPC", refused_errno == 0 || refused_errno == ENOSPC || refused_errno == E2BIG,
		"ENOSPC (or no limit within 256 KB)", std::string(strerror(refused_errno)));
	int intact = 0;
	char fbuf[2048];
	for (int i = 0; i < stored; ++i) {
		ssize_t len = getxattr(full.c_str(), ("user.fill" + std::to_string(i)).c_str(), fbuf, sizeof fbuf);
		intact += len == (ssize_t)chunk.size() && memcmp(fbuf, chunk.data(), chunk.size()) == 0;
	}
	R.eq("xattr-user.full-keeps-stored-values", stored, intact);
	if (stored > 0)
		R.ok("xattr-user.full-remove-makes-room",
		     removexattr(full.c_str(), "user.fill0") == 0 &&
				     setxattr(full.c_str(), "user.after", chunk.data(), chunk.size(), 0) == 0
			     ? 0
			     : -1);
}

void test_xattr_trusted(const std::string& d) {
	if (!is_root) {
		R.skip("xattr-trusted", "trusted.* needs CAP_SYS_ADMIN");
		return;
	}
	xattr_checks(d, "trusted");
}

void test_xattr_security(const std::string& d) {
	if (!is_root) {
		R.skip("xattr-security", "security.* without an LSM needs CAP_SYS_ADMIN");
		return;
	}
	xattr_checks(d, "security");
}

// ---- POSIX ACLs through their xattr representation (no libacl: static, and the raw form
// is what the filesystem stores) ----------------------------------------------------------

struct AclEntry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
	bool operator==(const AclEntry& o) const { return tag == o.tag && perm == o.perm && id == o.id; }
};
constexpr uint16_t kAclUserObj = 0x01, kAclUser = 0x02, kAclGroupObj = 0x04, kAclMask = 0x10, kAclOther = 0x20;
constexpr uint32_t kAclNoId = 0xffffffffu;

std::string acl_xattr(const std::vector<AclEntry>& entries) {
	std::string s;
	uint32_t version = 2;  // POSIX_ACL_XATTR_VERSION, little-endian on the wire (x86 host)
	s.append(reinterpret_cast<const char*>(&version), 4);
	for (const AclEntry& e : entries)
		s.append(reinterpret_cast<const char*>(&e), sizeof e);
	return s;
}

std::vector<AclEntry> read_acl(const std::string& path, const char* name) {
	char buf[1024];
	ssize_t len = getxattr(path.c_str(), name, buf, sizeof buf);
	std::vector<AclEntry> out;
	for (ssize_t off = 4; len > 0 && off + (ssize_t)sizeof(AclEntry) <= len; off += sizeof(AclEntry)) {
		AclEntry e;
		memcpy(&e, buf + off, sizeof e);
		if (e.tag != kAclUser && e.tag != 0x08)
			e.id = kAclNoId;  // ids of the *_OBJ, MASK and OTHER entries carry no meaning
		out.push_back(e);
	}
	return out;
}

std::string describe_acl(const std::vector<AclEntry>& acl) {
	std::string s;
	for (const AclEntry& e : acl)
		s += std::to_string(e.tag) + ":" + (e.id == kAclNoId ? "" : std::to_string(e.id)) + ":" +
		     std::to_string(e.perm) + " ";
	return s.empty() ? "none" : s;
}

uint16_t acl_perm(const std::vector<AclEntry>& acl, uint16_t tag) {
	for (const AclEntry& e : acl)
		if (e.tag == tag)
			return e.perm;
	return 0xffff;
}

// Runs `fn` as uid/gid `id` in a child; returns fn's result (an errno or 0), -1 on trouble.
int as_user(uid_t id, const std::function<int()>& fn) {
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, nullptr) != 0 || setresgid(id, id, id) != 0 || setresuid(id, id, id) != 0)
			_exit(255);
		_exit(fn());
	}
	int status = 0;
	for (int waited = 0; waited < 100; ++waited) {  // bounded: 10 s
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) != 255 ? WEXITSTATUS(status) : -1;
		usleep(100 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

// Buffer boundaries of every call that fills a caller's buffer: the kernel must never write
// (or report) more than the size passed, a list or value that does not fit gives ERANGE,
// size 0 gives the exact length. The buffer carries a guard pattern past the size passed.
namespace xattr_bounds {

constexpr unsigned char kGuard = 0xa5;

// Calls fill(buf, size) on a guarded buffer; returns its result and whether every byte
// past `size` kept the guard.
template <typename Fill>
std::pair<long, bool> guarded(size_t size, Fill fill) {
	size = std::min<size_t>(size, XATTR_LIST_MAX);  // the largest size any caller passes
	std::vector<unsigned char> buf(size + 256, kGuard);
	// A size-0 probe passes a real buffer too: the call must not write to it.
	long rc = fill(reinterpret_cast<char*>(buf.data()), size);
	int saved = errno;
	bool guard_intact = std::all_of(buf.begin() + size, buf.end(), [](unsigned char c) { return c == kGuard; });
	errno = saved;
	return {rc, guard_intact};
}

// One boundary: size 0, exact, one short, one over, 1 byte, the VFS maximum.
template <typename Fill>
void check_sizes(const std::string& n, long exact, size_t vfs_max, Fill fill) {
	auto [probe, probe_guard] = guarded(0, fill);
	R.eq(n + ".size-0-exact-length", exact, probe);
	R.truth(n + ".size-0-nothing-written", probe_guard, "buffer untouched", "written with size 0");
	struct Case {
		const char* name;
		size_t size;
		bool fits;
	};
	const Case cases[] = {
		{"exact", (size_t)exact, true},
		{"one-short", (size_t)exact - 1, false},
		{"one-over", (size_t)exact + 1, true},
		{"one-byte", 1, exact <= 1},
		{"vfs-max", vfs_max, true},
	};
	for (const Case& c : cases) {
		if (c.size == 0)
			continue;
		auto [rc, guard_intact] = guarded(c.size, fill);
		if (c.fits)
			R.eq(n + "." + c.name, exact, rc);
		else
			R.err(n + "." + c.name + "-ERANGE", rc, ERANGE);
		R.truth(n + "." + c.name + "-nothing-past-size", guard_intact, "bytes past the size untouched",
			"written past the caller's size");
	}
}

}  // namespace xattr_bounds

void test_xattr_bounds(const std::string& d) {
	using xattr_bounds::check_sizes;
	chmod(d.c_str(), 0755);
	std::string f = d + "/f";
	make_file(f, "");
	// Names of several lengths so that a short buffer cuts one in the middle.
	const char* names[] = {"user.a", "user.bounds-name-of-medium-length", "user.x"};
	for (const char* name : names)
		if (!R.ok(std::string("xattr-bounds.set-") + name, setxattr(f.c_str(), name, "0123456789", 10, 0)))
			return;
	if (is_root)
		R.ok("xattr-bounds.set-trusted", setxattr(f.c_str(), "trusted.hidden-from-users", "t", 1, 0));
	long list_len = 0;
	for (const char* name : names)
		list_len += strlen(name) + 1;
	if (is_root)
		list_len += strlen("trusted.hidden-from-users") + 1;
	check_sizes("xattr-bounds.listxattr", list_len, XATTR_LIST_MAX,
		    [&](char* buf, size_t size) -> long { return listxattr(f.c_str(), buf, size); });
	check_sizes("xattr-bounds.flistxattr", list_len, XATTR_LIST_MAX, [&](char* buf, size_t size) -> long {
		int fd = open(f.c_str(), O_RDONLY);
		long rc = flistxattr(fd, buf, size);
		int saved = errno;
		close(fd);
		errno = saved;
		return rc;
	});
	check_sizes("xattr-bounds.getxattr", 10, XATTR_SIZE_MAX, [&](char* buf, size_t size) -> long {
		return getxattr(f.c_str(), "user.bounds-name-of-medium-length", buf, size);
	});
	// The largest value one block holds, read back through every boundary.
	std::string big = pattern(std::min<long>(3000, fs_block_size() - 256), 83);
	if (R.ok("xattr-bounds.set-large", setxattr(f.c_str(), "user.large", big.data(), big.size(), 0)))
		check_sizes("xattr-bounds.getxattr-large", (long)big.size(), XATTR_SIZE_MAX,
			    [&](char* buf, size_t size) -> long { return getxattr(f.c_str(), "user.large", buf, size); });
	list_len += strlen("user.large") + 1;
	// An ACL is produced by the filesystem's get_acl and encoded by the VFS.
	std::string acl = acl_xattr({{kAclUserObj, 6, kAclNoId},
				     {kAclUser, 4, 65534},
				     {kAclGroupObj, 4, kAclNoId},
				     {kAclMask, 4, kAclNoId},
				     {kAclOther, 4, kAclNoId}});
	if (R.ok("xattr-bounds.set-acl", setxattr(f.c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0))) {
		check_sizes("xattr-bounds.get-acl", (long)acl.size(), XATTR_SIZE_MAX, [&](char* buf, size_t size) -> long {
			return getxattr(f.c_str(), "system.posix_acl_access", buf, size);
		});
		list_len += strlen("system.posix_acl_access") + 1;
	}
	if (!is_root)
		return;
	// An unprivileged caller does not see trusted.* names: its probe and its list agree,
	// and every boundary holds for its shorter list.
	long user_len = list_len - (long)(strlen("trusted.hidden-from-users") + 1);
	// Through a descriptor opened here: the work directory may not be searchable by nobody.
	int fd = open(f.c_str(), O_RDONLY);
	pid_t pid = fork();
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
			_exit(3);
		Reporter child;
		std::swap(child, R);
		check_sizes("xattr-bounds.unprivileged-flistxattr", user_len, XATTR_LIST_MAX,
			    [&](char* buf, size_t size) -> long { return flistxattr(fd, buf, size); });
		std::vector<char> buf(XATTR_LIST_MAX);
		long len = flistxattr(fd, buf.data(), buf.size());
		bool hidden = true;
		for (long off = 0; len > 0 && off < len; off += strlen(buf.data() + off) + 1)
			hidden &= strncmp(buf.data() + off, "trusted.", 8) != 0;
		R.truth("xattr-bounds.unprivileged-trusted-hidden", hidden, "no trusted.* name", "a trusted.* name listed");
		_exit(R.failed() ? 1 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	close(fd);
	R.truth("xattr-bounds.unprivileged", WIFEXITED(status) && WEXITSTATUS(status) == 0,
		"every unprivileged check passed", "exit status " + std::to_string(status));
}

void test_acl(const std::string& d) {
	std::string f = d + "/f";
	make_file(f, "acl", 0640);
	const std::vector<AclEntry> access = {{kAclUserObj, 6, kAclNoId}, {kAclUser, 4, 1234},
					      {kAclGroupObj, 4, kAclNoId}, {kAclMask, 6, kAclNoId},
					      {kAclOther, 0, kAclNoId}};
	std::string raw = acl_xattr(access);
	if (!R.ok("acl.set-access", setxattr(f.c_str(), "system.posix_acl_access", raw.data(), raw.size(), 0)))
		return;
	std::vector<AclEntry> got = read_acl(f, "system.posix_acl_access");
	R.truth("acl.get-access", got == access, describe_acl(access), describe_acl(got));
	R.eq("acl.mode-group-bits-are-mask", 0660u, (unsigned)(stat_of(f).st_mode & 0777));
	R.ok("acl.chmod", chmod(f.c_str(), 0640));
	got = read_acl(f, "system.posix_acl_access");
	R.truth("acl.chmod-sets-mask-keeps-user", acl_perm(got, kAclMask) == 4 && got.size() == 5 && got[1].id == 1234,
		"mask r, user 1234 kept", describe_acl(got));
	std::vector<AclEntry> no_mask = {{kAclUserObj, 6, kAclNoId}, {kAclUser, 4, 1234},
					 {kAclGroupObj, 4, kAclNoId}, {kAclOther, 0, kAclNoId}};
	raw = acl_xattr(no_mask);
	R.err("acl.named-user-without-mask-EINVAL",
	      setxattr(f.c_str(), "system.posix_acl_access", raw.data(), raw.size(), 0), EINVAL);

	if (is_root) {
		int dfd = open(d.c_str(), O_RDONLY | O_DIRECTORY);
		R.eq("acl.named-user-may-read", 0, as_user(1234, [&] {
			     int fd = openat(dfd, "f", O_RDONLY);
			     return fd >= 0 ? 0 : errno;
		     }));
		R.eq("acl.named-user-may-not-write-EACCES", EACCES, as_user(1234, [&] {
			     int fd = openat(dfd, "f", O_WRONLY);
			     return fd >= 0 ? 0 : errno;
		     }));
		R.eq("acl.other-user-EACCES", EACCES, as_user(4321, [&] {
			     int fd = openat(dfd, "f", O_RDONLY);
			     return fd >= 0 ? 0 : errno;
		     }));
		close(dfd);
	} else {
		R.skip("acl.enforcement", "switching users needs root");
	}

	// Default ACLs: inherited by new files (as access ACL, umask ignored) and directories.
	std::string dir = d + "/inherit";
	mkdir(dir.c_str(), 0755);
	const std::vector<AclEntry> def = {{kAclUserObj, 7, kAclNoId}, {kAclUser, 7, 1234},
					   {kAclGroupObj, 5, kAclNoId}, {kAclMask, 7, kAclNoId},
					   {kAclOther, 0, kAclNoId}};
	raw = acl_xattr(def);
	if (!R.ok("acl.set-default", setxattr(dir.c_str(), "system.posix_acl_default", raw.data(), raw.size(), 0)))
		return;
	mode_t old_umask = umask(077);  // a default ACL replaces the umask
	int fd = open((dir + "/child").c_str(), O_CREAT | O_RDWR, 0666);
	mkdir((dir + "/subdir").c_str(), 0777);
	umask(old_umask);
	if (fd >= 0)
		close(fd);
	R.eq("acl.inherited-file-mode", 0660u, (unsigned)(stat_of(dir + "/child").st_mode & 0777));
	got = read_acl(dir + "/child", "system.posix_acl_access");
	R.truth("acl.inherited-file-access-acl", got.size() == 5 && got[1].id == 1234 && acl_perm(got, kAclMask) == 6,
		"user 1234 and mask rw", describe_acl(got));
	got = read_acl(dir + "/subdir", "system.posix_acl_default");
	R.truth("acl.inherited-dir-default-acl", got == def, describe_acl(def), describe_acl(got));
	R.eq("acl.inherited-dir-mode", 0770u, (unsigned)(stat_of(dir + "/subdir").st_mode & 0777));

	R.ok("acl.remove-access", removexattr(f.c_str(), "system.posix_acl_access"));
	char buf[64];
	R.err("acl.removed-ENODATA", getxattr(f.c_str(), "system.posix_acl_access", buf, sizeof buf), ENODATA);
	R.eq("acl.removed-keeps-mode", 0640u, (unsigned)(stat_of(f).st_mode & 0777));
}

// Several processes appending to one file: every record whole, none lost or duplicated,
// each writer's records in its order (O_APPEND positions atomically).
void test_append_concurrent(const std::string& d) {
	const int writers = 4, records = 2000;
	const size_t record_len = 100;
	std::string p = d + "/log";
	make_file(p, "");
	std::vector<pid_t> pids;
	for (int w = 0; w < writers; ++w) {
		pid_t pid = fork();
		if (pid == 0) {
			int fd = open(p.c_str(), O_WRONLY | O_APPEND);
			for (int i = 0; i < records; ++i) {
				std::string rec = "writer " + std::to_string(w) + " record " + std::to_string(i) + " ";
				rec.resize(record_len - 1, '.');
				rec += '\n';
				if (write(fd, rec.data(), record_len) != (ssize_t)record_len)
					_exit(1);
			}
			_exit(0);
		}
		pids.push_back(pid);
	}
	int failed_writers = 0;
	for (pid_t pid : pids) {
		int status = 0;
		int waited = 0;
		while (waitpid(pid, &status, WNOHANG) != pid && waited++ < 600)  // bounded: 60 s
			usleep(100 * 1000);
		if (waited > 600) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			++failed_writers;
	}
	R.eq("append-concurrent.writers-succeeded", 0, failed_writers);
	std::string log = slurp(p);
	R.eq("append-concurrent.size", (size_t)writers * records * record_len, log.size());
	std::vector<int> next(writers, 0);
	int bad = 0;
	size_t first_bad = 0;
	for (size_t off = 0; off + record_len <= log.size(); off += record_len) {
		int w = -1, i = -1;
		if (std::sscanf(log.c_str() + off, "writer %d record %d", &w, &i) != 2 || w < 0 || w >= writers ||
		    i != next[w] || log[off + record_len - 1] != '\n') {
			if (bad++ == 0)
				first_bad = off;
			continue;
		}
		++next[w];
	}
	R.truth("append-concurrent.records-whole-and-ordered", bad == 0, "no torn or reordered record",
		std::to_string(bad) + " bad, first at offset " + std::to_string(first_bad));
}

// Readers that map the file (SEEK_DATA/SEEK_HOLE, FIEMAP, O_DIRECT reads) racing writers
// and hole punches on the same file for a few seconds: every process must finish (a lock
// order inversion between i_rwsem and a filesystem lock shows up as processes stuck).
void test_map_vs_write(const std::string& d) {
	const off_t bs = fs_block_size();
	std::string p = d + "/f";
	std::string init = pattern(64 * bs, 95);
	make_file(p, init);
	auto* stop = static_cast<volatile int*>(
		mmap(nullptr, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	*stop = 0;
	auto spawn = [&](int role) {
		pid_t pid = fork();
		if (pid != 0)
			return pid;
		int fd = open(p.c_str(), role == 2 ? O_RDONLY | O_DIRECT : O_RDWR);
		void* buf = aligned_alloc(4096, bs);
		unsigned x = 12345 + role;
		while (!*stop && fd >= 0) {
			x = x * 1103515245u + 12345u;
			off_t off = (x >> 8) % 64 * bs;
			switch (role) {
			case 0:  // writer: overwrite, extend and shrink, punch
				pwrite(fd, init.data(), bs, off);
				if (x % 7 == 0)
					fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, bs);
				if (x % 11 == 0)
					ftruncate(fd, 64 * bs - (x % 3) * bs);
				break;
			case 1:  // seeker and fiemap
				lseek(fd, off, x % 2 ? SEEK_DATA : SEEK_HOLE);
				fiemap(fd, 0, FIEMAP_MAX_OFFSET, 0, 8);
				break;
			case 2:  // direct reader
				pread(fd, buf, bs, off);
				break;
			}
		}
		_exit(fd >= 0 ? 0 : 1);
	};
	std::vector<pid_t> pids = {spawn(0), spawn(0), spawn(1), spawn(1), spawn(2)};
	sleep(3);
	*stop = 1;
	int stuck = 0, failed = 0;
	for (pid_t pid : pids) {
		int status = 0, waited = 0;
		while (waitpid(pid, &status, WNOHANG) != pid && waited++ < 300)  // bounded: 30 s
			usleep(100 * 1000);
		if (waited > 300) {
			++stuck;
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			++failed;
		}
	}
	munmap((void*)stop, sizeof(int));
	R.eq("map-vs-write.no-process-stuck", 0, stuck);
	R.eq("map-vs-write.all-opened", 0, failed);
}

void test_names(const std::string& d) {
	std::string n255(255, 'n'), n256(256, 'n');
	n255[0] = 'A';
	n255[254] = 'Z';
	int fd = open((d + "/" + n255).c_str(), O_CREAT | O_EXCL | O_RDWR, 0644);
	if (R.ok("names.create-255-bytes", fd))
		close(fd);
	R.eq("names.stat-255-bytes", true, exists(d + "/" + n255));
	R.err("names.create-256-ENAMETOOLONG", open((d + "/" + n256).c_str(), O_CREAT | O_RDWR, 0644), ENAMETOOLONG);
	R.err("names.mkdir-256-ENAMETOOLONG", mkdir((d + "/" + n256).c_str(), 0755), ENAMETOOLONG);
	R.err("names.symlink-256-ENAMETOOLONG", symlink("x", (d + "/" + n256).c_str()), ENAMETOOLONG);
	R.err("names.link-256-ENAMETOOLONG", link((d + "/" + n255).c_str(), (d + "/" + n256).c_str()), ENAMETOOLONG);
	R.err("names.rename-to-256-ENAMETOOLONG", rename((d + "/" + n255).c_str(), (d + "/" + n256).c_str()),
	      ENAMETOOLONG);
	R.err("names.lookup-256-ENAMETOOLONG", open((d + "/" + n256).c_str(), O_RDONLY), ENAMETOOLONG);
	std::string d255(255, 'd');
	R.ok("names.mkdir-255-bytes", mkdir((d + "/" + d255).c_str(), 0755));
	R.ok("names.rename-255-to-255", rename((d + "/" + n255).c_str(), (d + "/" + d255 + "/" + n255).c_str()));
	// Every byte value except '/' and NUL, including high bytes and spaces.
	std::string odd;
	for (int c = 1; c < 256; ++c)
		if (c != '/')
			odd += static_cast<char>(c);
	fd = open((d + "/" + odd).c_str(), O_CREAT | O_RDWR, 0644);
	R.ok("names.all-byte-values", fd);
	if (fd >= 0)
		close(fd);
	std::set<std::string> listed;
	DIR* dir = opendir(d.c_str());
	while (struct dirent* e = dir ? readdir(dir) : nullptr)
		listed.insert(e->d_name);
	if (dir)
		closedir(dir);
	R.eq("names.readdir-returns-exact-bytes", true, listed.count(odd) == 1 && listed.count(d255) == 1);
	make_file(d + "/Case", "upper");
	make_file(d + "/case", "lower");
	R.truth("names.case-distinct", slurp(d + "/Case") == "upper" && slurp(d + "/case") == "lower",
		"two files", slurp(d + "/Case") + "/" + slurp(d + "/case"));
}

// ---- whole-tree checks -------------------------------------------------------------------

// Writes back everything and evicts clean pages, inodes and dentries (system-wide), so what
// follows is read from the disk: a dinode or directory block that an earlier feature
// damaged (a double allocation, say) shows up as an error instead of hiding in the cache.
bool drop_all_caches(const std::string& work) {
	int fd = open(work.c_str(), O_RDONLY | O_DIRECTORY);
	if (fd < 0 || syncfs(fd) != 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	int ctl = open("/proc/sys/vm/drop_caches", O_WRONLY);
	bool ok = ctl >= 0 && write(ctl, "3", 1) == 1;
	if (ctl >= 0)
		close(ctl);
	return ok;
}

int walk_errors = 0;
std::string walk_first_error;
long walk_entries = 0;

int walk_entry(const char* path, const struct stat* st, int type, struct FTW*) {
	++walk_entries;
	auto error = [&](const std::string& what) {
		if (walk_errors++ == 0)
			walk_first_error = std::string(path) + ": " + what + " (" + errno_name(errno) + ")";
	};
	if (type == FTW_NS || type == FTW_DNR) {
		error(type == FTW_NS ? "stat failed" : "directory unreadable");
	} else if (type == FTW_F && S_ISREG(st->st_mode)) {
		// Read the data, skipping holes, so a sparse 17 GiB file costs nothing.
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return error("open failed"), 0;
		std::string buf(1 << 20, '\0');
		for (off_t off = lseek(fd, 0, SEEK_DATA); off >= 0 && off < st->st_size;) {
			off_t hole = lseek(fd, off, SEEK_HOLE);
			if (hole < 0)
				break;
			size_t len = std::min<off_t>(hole - off, buf.size());
			if (pread(fd, buf.data(), len, off) < 0) {
				error("read failed at offset " + std::to_string(off));
				break;
			}
			off = len < (size_t)(hole - off) ? off + len : lseek(fd, hole, SEEK_DATA);
		}
		close(fd);
	} else if (type == FTW_SL) {
		char target[4096];
		if (readlink(path, target, sizeof target) < 0)
			error("readlink failed");
	}
	return 0;
}

// Every entry the features left behind can still be looked up, listed and read.
void walk_work_tree(const std::string& work) {
	// nftw itself gives up (-1) on a stat or readdir error other than EACCES/ENOENT.
	if (nftw(work.c_str(), walk_entry, 64, FTW_PHYS) != 0 && walk_errors++ == 0)
		walk_first_error = "tree walk stopped: " + errno_name(errno) + " after " + std::to_string(walk_entries) +
				   " entries";
	R.truth("suite.work-tree-readable", walk_errors == 0, "every entry readable",
		std::to_string(walk_errors) + " errors of " + std::to_string(walk_entries) + " entries, first " +
			walk_first_error);
}

// ---- driver --------------------------------------------------------------------------------

struct Feature {
	const char* name;
	const char* what;
	std::function<void(const std::string&)> run;
	bool optional = false;  // only with an explicit flag (slow)
};

void usage(const std::vector<Feature>& features) {
	std::fprintf(stderr,
		     "usage: cfs_posix_suite DIR [--skip FEATURE]... [--only FEATURE]... [--bigdir [N]] [--drop-caches]\n"
		     "                       [--keep] [--list]\n"
		     "  Runs POSIX behaviour checks in a new directory under DIR.\n"
		     "  --skip F   report F (and every F-* feature) as skipped; repeatable. F may also name\n"
		     "             checks: --skip rename.dir-over-nonempty-dir-ENOTEMPTY\n"
		     "  --only F   run only F (and F-*); repeatable\n"
		     "  --bigdir N also run the 100000-entry directory check (N entries, default 100000)\n"
		     "  --keep     keep the work directory even when everything passed\n"
		     "  --drop-caches  after each feature, sync and drop the kernel's page, inode and dentry\n"
		     "             caches (root; system-wide) so later features and the final walk read\n"
		     "             metadata back from the disk\n"
		     "features:\n");
	for (const Feature& f : features)
		std::fprintf(stderr, "  %-20s %s%s\n", f.name, f.what, f.optional ? " (only with --bigdir)" : "");
}

bool matches(const std::string& feature, const std::vector<std::string>& patterns) {
	for (const std::string& p : patterns)
		if (feature == p || feature.rfind(p + "-", 0) == 0)
			return true;
	return false;
}

}  // namespace

int main(int argc, char** argv) {
	int bigdir_entries = 0;
	std::vector<Feature> features = {
		{"lookup", "lookup, ENOENT/ENOTDIR/EISDIR, . and ..", test_lookup},
		{"create", "create, O_EXCL/EEXIST, mode, owner, parent times", test_create},
		{"mkdir", "mkdir, nlink, EEXIST", test_mkdir},
		{"rmdir", "rmdir, ENOTEMPTY, ENOTDIR, EINVAL", test_rmdir},
		{"unlink", "unlink, open-unlinked file, EISDIR", test_unlink},
		{"rename", "rename same/across dirs, over file/dir, ENOTEMPTY, EINVAL", test_rename},
		{"rename-noreplace", "renameat2 RENAME_NOREPLACE", test_rename_noreplace},
		{"rename-exchange", "renameat2 RENAME_EXCHANGE", test_rename_exchange},
		{"link", "hard links, nlink counts, EPERM on directories", test_link},
		{"symlink", "short, 1000-byte and block-backed symlinks, readlink, ELOOP", test_symlink},
		{"mknod-fifo", "mknod fifo", test_mknod_fifo},
		{"mknod-socket", "mknod socket", test_mknod_socket},
		{"mknod-dev", "mknod char and block devices (root)", test_mknod_dev},
		{"chmod", "chmod/fchmod, ctime", test_chmod},
		{"chown", "chown/lchown, setuid cleared (root)", test_chown},
		{"utimens", "utimensat with ns, UTIME_NOW/OMIT, pre-1970, post-2038", test_utimens},
		{"truncate", "truncate up/down, partial blocks zeroed in cache and on disk", test_truncate},
		{"rw", "read/write/pread/pwrite, holes past EOF", test_rw},
		{"small-files", "small files: inline writes, gaps, appends, growth, mmap", test_small_files},
		{"append", "O_APPEND with two writers", test_append},
		{"odirect", "O_DIRECT aligned I/O and cache coherency", test_odirect},
		{"odirect-alignment", "misaligned O_DIRECT refused with EINVAL", test_odirect_alignment},
		{"mmap", "shared and private mmap, msync, coherency with pread/pwrite", test_mmap},
		{"mmap-eof", "mmap at EOF: tail zeroing on extend, SIGBUS past EOF", test_mmap_eof},
		{"fsync", "fsync/fdatasync/syncfs/O_SYNC", test_fsync},
		{"sparse", "sparse files, SEEK_HOLE/SEEK_DATA", test_sparse},
		{"fallocate", "fallocate 0, KEEP_SIZE, PUNCH_HOLE", test_fallocate},
		{"fiemap", "FS_IOC_FIEMAP: extents of a sparse file, their physical bytes, inline data", test_fiemap},
		{"statfs", "statfs sanity and usage accounting", test_statfs},
		{"readdir-insert", "readdir stable under concurrent inserts/deletes", test_readdir_insert},
		{"large-file", "files beyond 4 GiB (sparse, 17 GiB) and at the size limit", test_large_file},
		{"bigdir", "directory with 100000 entries",
		 [&](const std::string& d) { test_bigdir(d, bigdir_entries); }, true},
		{"xattr-user", "user.* xattrs", test_xattr_user},
		{"xattr-trusted", "trusted.* xattrs (root)", test_xattr_trusted},
		{"xattr-security", "security.* xattrs", test_xattr_security},
		{"acl", "POSIX ACLs: access, mask, default inheritance, enforcement", test_acl},
		{"xattr-bounds", "short and exact buffers for listxattr, getxattr and ACLs", test_xattr_bounds},
		{"append-concurrent", "O_APPEND from 4 processes at once", test_append_concurrent},
		{"map-vs-write", "SEEK_DATA/HOLE, FIEMAP, O_DIRECT reads racing writes and punches", test_map_vs_write},
		{"names", "255-byte names, ENAMETOOLONG at 256, all byte values", test_names},
	};

	std::string base;
	std::vector<std::string> skips, onlies;
	bool keep = false;
	bool drop_caches = false;
	for (int i = 1; i < argc; ++i) {
		std::string a = argv[i];
		if ((a == "--skip" || a == "--only") && i + 1 < argc) {
			std::string f = argv[++i];
			// A feature (or feature prefix), or for --skip a check name "feature.check".
			std::string feature = a == "--skip" ? f.substr(0, f.find('.')) : f;
			bool known = false;
			for (const Feature& ft : features)
				known |= matches(ft.name, {feature});
			if (!known) {
				std::fprintf(stderr, "cfs_posix_suite: unknown feature '%s' (see --list)\n", feature.c_str());
				return 2;
			}
			(a == "--skip" ? skips : onlies).push_back(f);
		} else if (a == "--bigdir") {
			bigdir_entries = 100000;
			if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
				bigdir_entries = std::atoi(argv[++i]);
			if (bigdir_entries <= 0) {
				std::fprintf(stderr, "cfs_posix_suite: --bigdir needs a positive entry count\n");
				return 2;
			}
		} else if (a == "--drop-caches") {
			drop_caches = true;
		} else if (a == "--keep") {
			keep = true;
		} else if (a == "--list") {
			usage(features);
			return 0;
		} else if (a == "-h" || a == "--help") {
			usage(features);
			return 0;
		} else if (a[0] == '-' || !base.empty()) {
			usage(features);
			return 2;
		} else {
			base = a;
		}
	}
	if (base.empty()) {
		usage(features);
		return 2;
	}
	struct stat bst;
	if (stat(base.c_str(), &bst) != 0 || !S_ISDIR(bst.st_mode)) {
		std::fprintf(stderr, "cfs_posix_suite: %s is not a directory\n", base.c_str());
		return 2;
	}
	R.skip_checks(skips);
	is_root = geteuid() == 0;
	if (drop_caches && !is_root) {
		std::fprintf(stderr, "cfs_posix_suite: --drop-caches needs root\n");
		return 2;
	}
	umask(0);
	signal(SIGPIPE, SIG_IGN);
	std::string work = base + "/cfs_posix." + std::to_string(getpid());
	if (mkdir(work.c_str(), 0755) != 0) {
		std::fprintf(stderr, "cfs_posix_suite: cannot create %s: %s\n", work.c_str(), strerror(errno));
		return 2;
	}
	struct statfs sfs;
	statfs(base.c_str(), &sfs);
	block_size = sfs.f_bsize;
	std::printf("# cfs_posix_suite on %s (f_type 0x%lx, block size %ld), work dir %s\n", base.c_str(),
		    (unsigned long)sfs.f_type, block_size, work.c_str());
	for (const Feature& f : features) {
		if (!onlies.empty() && !matches(f.name, onlies)) {
			R.skip(f.name, "not selected by --only");
			continue;
		}
		if (matches(f.name, skips)) {
			R.skip(f.name, "skipped by --skip");
			continue;
		}
		if (f.optional && bigdir_entries == 0) {
			R.skip(f.name, "slow; enable with --bigdir");
			continue;
		}
		std::string d = work + "/" + f.name;
		if (mkdir(d.c_str(), 0755) != 0) {
			R.fail(std::string(f.name) + ".setup", "work directory created", "-1", errno);
			continue;
		}
		f.run(d);
		if (drop_caches && !drop_all_caches(work))
			R.fail(std::string(f.name) + ".drop-caches", "caches dropped", "-1", errno);
	}
	walk_work_tree(work);
	if (R.failed() == 0 && !keep)
		remove_tree(work);
	else
		std::printf("# work directory kept: %s\n", work.c_str());
	R.summary();
	return R.failed() == 0 ? 0 : 1;
}
