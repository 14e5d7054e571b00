// mkfs.clusterfs: make an empty clusterfs on a block device or image file.
//
//   mkfs.clusterfs -t cluster:fsname -j N [-b 1024|2048|4096] [-J journal-MiB]
//                  [-r rgrp-MiB] [-p lock_cluster|lock_nolock] [-L label] [-U uuid] [-O]
//                  [-q] [-V]
//                  device
//
// Exit status: 0 made; 1 bad usage or refused (existing filesystem, device too small);
// 2 I/O error while writing.
#include <blkid/blkid.h>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <getopt.h>
#include <string>
#include <sys/random.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "clusterfs/format.h"
#include "endian.h"
#include "layout.h"
#include "user/host.h"

#ifndef CLUSTERFS_VERSION
#define CLUSTERFS_VERSION "0.1"
#endif

namespace {

const char *prog = "mkfs.clusterfs";

void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [options] device\n"
		"  -t cluster:fsname  lock table (required with lock_cluster)\n"
		"  -j N               number of journals, one per node that mounts (default 1)\n"
		"  -b bytes           block size: 1024, 2048 or 4096 (default 4096)\n"
		"  -J MiB             journal size, %u..%u (default %u, less on small devices)\n"
		"  -r MiB             resource group size, %u..%u (default %u, less on small devices)\n"
		"  -p protocol        lock_cluster (default) or lock_nolock (single node)\n"
		"  -L label           volume label, at most %u bytes (default: none)\n"
		"  -U uuid            filesystem UUID (default: random)\n"
		"  -O                 overwrite an existing filesystem or partition table\n"
		"  -q                 quiet: print nothing but errors\n"
		"  -V                 print the version and exit\n",
		prog, CFS_MIN_JOURNAL_MB, CFS_MAX_JOURNAL_MB, CFS_DEFAULT_JOURNAL_MB, CFS_MIN_RGRP_MB,
		CFS_MAX_RGRP_MB, CFS_DEFAULT_RGRP_MB, CFS_LABEL_LEN - 1);
}

[[noreturn]] void die(int status, const std::string &msg)
{
	fprintf(stderr, "%s: %s\n", prog, msg.c_str());
	exit(status);
}

bool parse_u32(const char *s, uint32_t *out)
{
	if (!*s)
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX || s[0] == '-')
		return false;
	*out = uint32_t(v);
	return true;
}

uint32_t number_option(char opt, const char *arg)
{
	uint32_t v;
	if (!parse_u32(arg, &v))
		die(1, std::string("-") + opt + ": '" + arg + "' is not a number");
	return v;
}

// What is on the device already, in words ("an ext4 filesystem"); empty if nothing.
std::string existing_content(const char *path)
{
	// Our own superblock first: libblkid does not know clusterfs.
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		cfs_meta_header h{};
		if (pread(fd, &h, sizeof(h), CFS_SB_OFFSET) == ssize_t(sizeof(h)) &&
		    cfs::from_le32(h.mh_magic) == CFS_META_MAGIC && cfs::from_le16(h.mh_type) == CFS_BT_SB) {
			close(fd);
			return "a clusterfs filesystem";
		}
		close(fd);
	}
	blkid_probe pr = blkid_new_probe_from_filename(path);
	if (!pr)
		return "";
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 1);
	std::string what;
	int rc = blkid_do_safeprobe(pr);
	const char *value = nullptr;
	if (rc == -2) {
		what = "several conflicting filesystem signatures";
	} else if (rc == 0) {
		if (blkid_probe_lookup_value(pr, "TYPE", &value, nullptr) == 0 && value) {
			what = std::string("an ") + value + " filesystem";
			if (!strchr("aeiou", value[0]))
				what = std::string("a ") + value + " filesystem";
			const char *label = nullptr;
			if (blkid_probe_lookup_value(pr, "LABEL", &label, nullptr) == 0 && label)
				what += std::string(" labelled '") + label + "'";
		} else if (blkid_probe_lookup_value(pr, "PTTYPE", &value, nullptr) == 0 && value) {
			what = std::string("a ") + value + " partition table";
		}
	}
	blkid_free_probe(pr);
	return what;
}

// Erases every signature libblkid finds (like wipefs -a), so the old filesystem is not
// detected next to the new one.
void wipe_signatures(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	blkid_probe pr = blkid_new_probe();
	if (pr && blkid_probe_set_device(pr, fd, 0, 0) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC);
		blkid_probe_enable_partitions(pr, 1);
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
		while (blkid_do_probe(pr) == 0)
			if (blkid_do_wipe(pr, 0) != 0)
				break;
	}
	if (pr)
		blkid_free_probe(pr);
	fsync(fd);
	close(fd);
}

std::string human_size(uint64_t bytes)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = double(bytes);
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	char buf[32];
	snprintf(buf, sizeof(buf), u ? "%.2f %s" : "%.0f %s", v, units[u]);
	return buf;
}

}  // namespace

int main(int argc, char **argv)
{
	cfs::mkfs::Params p;
	bool overwrite = false, quiet = false, have_uuid = false, have_table = false;
	int opt;
	opterr = 0;
	while ((opt = getopt(argc, argv, ":t:j:b:J:r:p:L:U:OqVh")) != -1) {
		switch (opt) {
		case 't': p.locktable = optarg; have_table = true; break;
		case 'j': p.journals = number_option('j', optarg); break;
		case 'b': p.bsize = number_option('b', optarg); break;
		case 'J': p.journal_mb = number_option('J', optarg); break;
		case 'r': p.rgrp_mb = number_option('r', optarg); break;
		case 'p': p.lockproto = optarg; break;
		case 'L': p.label = optarg; break;
		case 'U':
			if (uuid_parse(optarg, p.uuid) != 0)
				die(1, std::string("-U: '") + optarg + "' is not a UUID");
			have_uuid = true;
			break;
		case 'O': overwrite = true; break;
		case 'q': quiet = true; break;
		case 'V': printf("%s %s (format version %u)\n", prog, CLUSTERFS_VERSION, CFS_FORMAT_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		case ':': die(1, std::string("option -") + char(optopt) + " needs a value");
		default: usage(stderr); die(1, std::string("unknown option -") + char(optopt));
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		die(1, optind >= argc ? "no device given" : "more than one device given");
	}
	const char *device = argv[optind];

	if (p.bsize != 1024 && p.bsize != 2048 && p.bsize != 4096)
		die(1, "-b: the block size must be 1024, 2048 or 4096");
	if (long page = sysconf(_SC_PAGESIZE); page > 0 && p.bsize > uint64_t(page))
		die(1, "-b: the block size cannot exceed the page size (" + std::to_string(page) + ")");
	if (p.lockproto != CFS_LOCKPROTO_CLUSTER && p.lockproto != CFS_LOCKPROTO_NOLOCK)
		die(1, "-p: the lock protocol must be lock_cluster or lock_nolock");
	if (p.lockproto == CFS_LOCKPROTO_CLUSTER && !have_table)
		die(1, "lock_cluster needs a lock table: -t cluster:fsname (or -p lock_nolock)");
	if (p.locktable.size() >= CFS_LOCKNAME_LEN)
		die(1, "-t: the lock table is longer than 63 characters");
	// sb_label is NUL-terminated in 32 bytes; the length counts bytes, not characters
	// (a UTF-8 label of 31 bytes may hold fewer letters).
	if (p.label.size() >= CFS_LABEL_LEN)
		die(1, "-L: the label '" + p.label + "' is " + std::to_string(p.label.size()) +
			       " bytes long; at most " + std::to_string(CFS_LABEL_LEN - 1) + " are allowed");
	for (unsigned char c : p.label)
		if (c < 0x20 || c == 0x7f)
			die(1, "-L: the label contains a control character");

	const std::string found = existing_content(device);
	if (!found.empty() && !overwrite)
		die(1, std::string(device) + " contains " + found + "; use -O to overwrite it");

	cfs::user::HostOptions hopts;
	hopts.exclusive = true;
	hopts.cache_blocks = 64;
	cfs_host *host = nullptr;
	const char *why = nullptr;
	int err = cfs::user::host_open(device, hopts, &host, &why);
	if (err)
		die(1, std::string("cannot use ") + device + ": " + (why ? why : "") + " (" +
			       strerror(-err) + ")");
	p.dev_bytes = cfs_env_dev_size(host);

	if (!have_uuid)
		uuid_generate(p.uuid);
	if (getrandom(p.hash_key, sizeof(p.hash_key), 0) != ssize_t(sizeof(p.hash_key)))
		die(2, std::string("cannot get random bytes: ") + strerror(errno));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	p.now_sec = now.tv_sec;
	p.now_nsec = uint32_t(now.tv_nsec);

	cfs::mkfs::Plan plan;
	std::string error;
	if (!cfs::mkfs::plan(p, &plan, &error)) {
		cfs::user::host_close(host);
		die(1, std::string(device) + ": " + error);
	}
	if (!found.empty())
		wipe_signatures(device);
	err = cfs::mkfs::write(host, p, plan, &error);
	cfs::user::host_close(host);
	if (err)
		die(2, std::string(device) + ": " + error);

	if (!quiet) {
		char uuid_text[37];
		uuid_unparse_lower(p.uuid, uuid_text);
		const uint32_t ordinary = uint32_t(plan.rgrps.size()) - p.journals;
		printf("Device:            %s\n", device);
		printf("Block size:        %u\n", p.bsize);
		printf("Device size:       %s (%" PRIu64 " blocks)\n", human_size(p.dev_bytes).c_str(),
		       plan.blocks);
		printf("Filesystem size:   %s (%" PRIu64 " data blocks, %" PRIu64 " free)\n",
		       human_size(plan.total_data * p.bsize).c_str(), plan.total_data, plan.free_data);
		printf("Journals:          %u x %u MiB\n", p.journals, plan.journal_mb);
		printf("Resource groups:   %u (%u MiB nominal) + %u journal groups\n", ordinary,
		       plan.rgrp_mb, p.journals);
		printf("Locking protocol:  %s\n", p.lockproto.c_str());
		printf("Lock table:        %s\n", p.locktable.empty() ? "(none)" : p.locktable.c_str());
		printf("Label:             %s\n", p.label.empty() ? "(none)" : p.label.c_str());
		printf("UUID:              %s\n", uuid_text);
	}
	return 0;
}
