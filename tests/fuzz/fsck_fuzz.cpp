// libFuzzer target: feeds mutated filesystem images to the fsck check in check-only
// mode (-n). The property under test: fsck never crashes, never reads or writes out of
// bounds (ASan/UBSan), never hangs (libFuzzer -timeout) and never claims a repair under
// -n, whatever the image holds.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t image_bytes = 0;
	int fd = build_image(data, size, &image_bytes);
	if (fd < 0)
		return -1;  // not a usable input: keep it out of the corpus
	static FILE *sink = fopen("/dev/null", "we");
	// fsck gets a read-only descriptor, as under -n on a device: a stray write fails
	// with EBADF and shows up as an operational error instead of going unnoticed.
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int ro_fd = open(path, O_RDONLY | O_CLOEXEC);
	close(fd);
	if (ro_fd < 0)
		abort();

	fsck::Repairs repairs(fsck::RepairMode::kCheckOnly, 2, sink);
	fsck::check_filesystem({"fuzz-image", ro_fd}, repairs);
	// Check-only never claims a correction.
	if (repairs.exit_status() & fsck::kExitCorrected)
		abort();
	close(ro_fd);
	return 0;
}
