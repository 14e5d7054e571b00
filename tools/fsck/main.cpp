// fsck.clusterfs [-n|-y|-p] [-v] [-C fd] device: the command line. Everything that looks at
// the filesystem lives behind check_filesystem() (check.h).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <memory>
#include <fcntl.h>
#include <getopt.h>
#include <string>
#include <unistd.h>

#include "check.h"
#include "mounted.h"
#include "progress.h"
#include "repair.h"

namespace {

const char kUsage[] =
	"usage: fsck.clusterfs [-n|-y|-p] [-v] [-f] [-C fd] device\n"
	"  -n  check only: open read-only, repair nothing\n"
	"  -y  repair every problem found without asking\n"
	"  -p  preen: repair only what is safe unattended (counts, leaked blocks)\n"
	"      (-a is accepted as a synonym, as fsck(8) passes it)\n"
	"  -v  verbose: show each pass; -vv shows every object checked\n"
	"  -f  accepted for fsck(8) compatibility; the check is always complete\n"
	"  -C fd  progress: 0 draws a bar on standard output when it is a terminal;\n"
	"      fd > 0 gets lines \"pass current max device\" (as e2fsck -C writes them)\n"
	"  -V  print the version and exit\n"
	"exit status: 0 clean, 1 problems corrected, 4 problems left uncorrected,\n"
	"             8 operational error, 16 usage error, 32 cancelled by the user\n";

}  // namespace

int main(int argc, char **argv)
{
	using fsck::RepairMode;
	int mode_options = 0;
	RepairMode mode = RepairMode::kInteractive;
	int verbosity = 0;
	int progress_fd = -1;
	int opt;
	opterr = 0;
	while ((opt = getopt(argc, argv, "nyapvfVhC:")) != -1) {
		switch (opt) {
		case 'n':
			mode = RepairMode::kCheckOnly;
			mode_options++;
			break;
		case 'y':
			mode = RepairMode::kAssumeYes;
			mode_options++;
			break;
		case 'a':
		case 'p':
			mode = RepairMode::kPreen;
			mode_options++;
			break;
		case 'v':
			verbosity++;
			break;
		case 'f':
			break;
		case 'C': {
			char *end = nullptr;
			errno = 0;
			long fd = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || fd < 0 || fd > INT32_MAX) {
				fprintf(stderr, "fsck.clusterfs: -C wants a file descriptor number, "
				                "not '%s'\n%s", optarg, kUsage);
				return fsck::kExitUsage;
			}
			if (fd > 0 && fcntl(int(fd), F_GETFL) < 0) {
				fprintf(stderr, "fsck.clusterfs: -C %ld: file descriptor %ld is not open\n%s",
				        fd, fd, kUsage);
				return fsck::kExitUsage;
			}
			progress_fd = int(fd);
			break;
		}
		case 'V':
			printf("fsck.clusterfs (clusterfs) format v1\n");
			return fsck::kExitClean;
		case 'h':
			fputs(kUsage, stdout);
			return fsck::kExitClean;
		default:
			if (optopt == 'C')
				fprintf(stderr, "fsck.clusterfs: -C needs a file descriptor number\n%s",
				        kUsage);
			else
				fprintf(stderr, "fsck.clusterfs: unknown option -%c\n%s", optopt, kUsage);
			return fsck::kExitUsage;
		}
	}
	if (mode_options > 1) {
		fprintf(stderr, "fsck.clusterfs: -n, -y and -p exclude each other\n%s", kUsage);
		return fsck::kExitUsage;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "fsck.clusterfs: %s\n%s",
		        optind == argc ? "no device given" : "exactly one device expected", kUsage);
		return fsck::kExitUsage;
	}
	const char *device = argv[optind];
	if (mode == RepairMode::kInteractive && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "fsck.clusterfs: %s: no terminal to ask on: give -n, -y or -p\n",
		        device);
		return fsck::kExitUsage;
	}

	std::string mounted = fsck::local_mount_description(device);
	if (!mounted.empty()) {
		// Even a read-only check of a mounted filesystem reports phantom problems from
		// metadata still in the page cache or journal of the mounting node.
		fprintf(stderr, "fsck.clusterfs: %s is %s: unmount it on every node first\n",
		        device, mounted.c_str());
		return fsck::kExitOperational;
	}

	bool read_only = mode == RepairMode::kCheckOnly;
	// O_EXCL on a block device fails with EBUSY while anything here holds it open
	// exclusively (a mount, mkfs, another fsck); it has no effect on regular files.
	int fd = open(device, (read_only ? O_RDONLY : O_RDWR | O_EXCL) | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY)
			fprintf(stderr, "fsck.clusterfs: %s is in use on this machine "
			                "(mounted or open by another program)\n", device);
		else
			fprintf(stderr, "fsck.clusterfs: cannot open %s %s: %s\n", device,
			        read_only ? "for reading" : "for writing", strerror(errno));
		return fsck::kExitOperational;
	}

	fsck::Repairs repairs(mode, verbosity, stdout, stdin);
	std::unique_ptr<fsck::Progress> progress;
	if (progress_fd >= 0) {
		// A progress reader that goes away must not kill a check that may be repairing:
		// the write fails with EPIPE instead and the reports stop.
		if (progress_fd > 0)
			signal(SIGPIPE, SIG_IGN);
		progress = std::make_unique<fsck::Progress>(progress_fd, device);
		repairs.set_before_output([p = progress.get()] { p->clear(); });
	}
	fsck::check_filesystem({device, fd}, repairs, progress.get());
	progress.reset();  // erases the bar before the verdict
	if (!read_only && fsync(fd) != 0) {
		repairs.fatal("%s: flushing repairs failed: %s", device, strerror(errno));
	}
	close(fd);

	int status = repairs.exit_status();
	if (repairs.had_fatal())
		printf("%s: check stopped by an operational error\n", device);
	else if (repairs.found() == 0)
		printf("%s: clean\n", device);
	else
		printf("%s: %lu problem%s found, %lu corrected, %lu left uncorrected\n", device,
		       repairs.found(), repairs.found() == 1 ? "" : "s", repairs.corrected(),
		       repairs.uncorrected());
	return status;
}
