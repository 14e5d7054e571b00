// libFuzzer target: feeds mutated filesystem images to the fsck check in check-only
// mode (-n). The property under test: fsck never crashes, never reads or writes out of
// bounds (ASan/UBSan), never hangs (libFuzzer -timeout), never claims a repair under
// -n, never changes a byte of the image under -n, and stops with an operational error
// (exit 8) only for what damage cannot otherwise explain, whatever the image holds:
// no clusterfs superblock magic at all, or a superblock that claims more blocks than
// the device has (fsck cannot tell a damaged count from a truncated device). Any other
// operational error on an image that reads without I/O errors is a finding: every other
// inconsistency must be reported as a problem (exit 4), not stop the check.
//
// Input format (sparse, so the fuzzer mutates metadata rather than megabytes of zeros):
//   u32 le   image size in KiB (clamped to [64 KiB + 4 KiB, kMaxImageKiB])
//   then records: u32 le sector number, 512 bytes of sector contents
// Sectors not named are zero. tests/fuzz/make_seed.sh turns an mkfs image into this
// form; the committed corpus holds such seeds.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "clusterfs/format.h"
#include "endian.h"
#include "repair.h"

namespace {

constexpr uint32_t kSectorSize = 512;
constexpr uint32_t kMinImageKiB = 68;
constexpr uint32_t kMaxImageKiB = 256 * 1024;

uint32_t load_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// The image as a sealed-size memfd, so fsck reads it through the same pread path as
// a device. Returns -1 when the input cannot be laid out.
int build_image(const uint8_t *data, size_t size, uint64_t *image_bytes)
{
	if (size < 4)
		return -1;
	uint32_t kib = load_le32(data);
	if (kib < kMinImageKiB)
		kib = kMinImageKiB;
	if (kib > kMaxImageKiB)
		kib = kMaxImageKiB;
	*image_bytes = uint64_t(kib) * 1024;
	int fd = memfd_create("fsck-fuzz-image", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (ftruncate(fd, static_cast<off_t>(*image_bytes)) != 0)
		abort();
	for (size_t off = 4; off + 4 + kSectorSize <= size; off += 4 + kSectorSize) {
		uint64_t sector = load_le32(data + off);
		if ((sector + 1) * kSectorSize > *image_bytes)
			continue;
		if (pwrite(fd, data + off + 4, kSectorSize, static_cast<off_t>(sector * kSectorSize)) !=
		    kSectorSize)
			abort();
	}
	return fd;
}

// A digest of the image's non-zero 4 KiB pages and their offsets. Pages never written
// are holes of the memfd; reading them does not allocate them, and zero pages are
// skipped anyway, so only a write can change the digest.
uint64_t image_digest(int fd, uint64_t image_bytes)
{
	static uint8_t page[4096];
	static const uint8_t zero[4096] = {};
	uint64_t h = 1469598103934665603ull;  // FNV-1a
	auto mix = [&h](const void *p, size_t n) {
		for (size_t i = 0; i < n; i++)
			h = (h ^ static_cast<const uint8_t *>(p)[i]) * 1099511628211ull;
	};
	off_t pos = 0;
	while (static_cast<uint64_t>(pos) < image_bytes) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0)
			break;  // ENXIO: no data after pos
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			abort();
		for (off_t off = data & ~off_t(4095); off < hole; off += 4096) {
			ssize_t n = pread(fd, page, sizeof page, off);
			if (n < 0)
				abort();
			if (n > 0 && memcmp(page, zero, static_cast<size_t>(n)) != 0) {
				mix(&off, sizeof off);
				mix(page, static_cast<size_t>(n));
			}
		}
		pos = hole;
	}
	return h;
}

// Whether an operational error is what this image's superblock explains (see the top).
bool operational_error_explained(int fd, uint64_t image_bytes)
{
	cfs_sb sb{};
	if (pread(fd, &sb, sizeof sb, CFS_SB_OFFSET) != static_cast<ssize_t>(sizeof sb))
		abort();  // the image is always larger than the superblock's place
	if (cfs::from_le32(sb.sb_header.mh_magic) != CFS_META_MAGIC)
		return true;
	uint64_t bytes = 0;
	return __builtin_mul_overflow(cfs::from_le64(sb.sb_blocks), uint64_t(cfs::from_le32(sb.sb_bsize)), &bytes) ||
	       bytes > image_bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t image_bytes = 0;
	int fd = build_image(data, size, &image_bytes);
	if (fd < 0)
		return -1;  // not a usable input: keep it out of the corpus
	static FILE *sink = fopen("/dev/null", "we");
	// fsck gets the read-write descriptor: under -n it must not write, and the digest
	// below shows whether it did (a read-only one would turn a stray write into an
	// error return that fsck may well swallow).
	uint64_t before = image_digest(fd, image_bytes);

	fsck::Repairs repairs(fsck::RepairMode::kCheckOnly, 2, sink);
	fsck::check_filesystem({"fuzz-image", fd}, repairs);
	// Check-only never claims a correction.
	if (repairs.exit_status() & fsck::kExitCorrected)
		abort();
	if (image_digest(fd, image_bytes) != before) {
		fprintf(stderr, "fsck_fuzz: fsck -n changed the image\n");
		abort();
	}
	if (repairs.had_fatal() && !operational_error_explained(fd, image_bytes)) {
		fprintf(stderr, "fsck_fuzz: operational error (exit 8) on an image with a clusterfs "
		                "superblock that fits the device: damage must be a problem (exit 4)\n");
		abort();
	}
	close(fd);
	return 0;
}
