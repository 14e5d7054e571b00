// make_seed IMAGE SEED: writes the fuzz target's sparse input form of an image (see
// fsck_fuzz.cpp): its size in KiB, then every non-zero 512-byte sector with its number.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

static void put_le32(FILE *f, uint32_t v)
{
	unsigned char b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
	fwrite(b, 1, 4, f);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: make_seed IMAGE SEED\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "rb");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	struct stat st;
	if (fstat(fileno(in), &st) != 0 || st.st_size / 1024 > UINT32_MAX) {
		fprintf(stderr, "make_seed: %s: cannot size it\n", argv[1]);
		return 1;
	}
	FILE *out = fopen(argv[2], "wb");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	put_le32(out, uint32_t(st.st_size / 1024));
	unsigned char sector[512];
	static const unsigned char zero[512] = {};
	size_t kept = 0;
	for (uint32_t n = 0; fread(sector, 1, sizeof sector, in) == sizeof sector; n++) {
		if (!memcmp(sector, zero, sizeof sector))
			continue;
		put_le32(out, n);
		fwrite(sector, 1, sizeof sector, out);
		kept++;
	}
	if (fclose(out) != 0) {
		perror(argv[2]);
		return 1;
	}
	fclose(in);
	fprintf(stderr, "make_seed: %s: %zu non-zero sectors\n", argv[1], kept);
	return 0;
}
