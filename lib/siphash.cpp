// SipHash-2-4, written from the paper (Aumasson & Bernstein, "SipHash: a fast
// short-input PRF", 2012); checked against the paper's test vectors in the unit tests.
#include "siphash.h"

#include "endian.h"

namespace cfs {
namespace {

constexpr uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
	uint64_t v0, v1, v2, v3;

	void round()
	{
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
	}
	void compress(uint64_t m)
	{
		v3 ^= m;
		round();
		round();
		v0 ^= m;
	}
};

}  // namespace

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
		   k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
	const uint8_t *p = static_cast<const uint8_t *>(data);
	size_t left = len;
	for (; left >= 8; p += 8, left -= 8)
		s.compress(load_le64(p));
	uint64_t last = static_cast<uint64_t>(len & 0xff) << 56;
	for (size_t i = 0; i < left; i++)
		last |= static_cast<uint64_t>(p[i]) << (8 * i);
	s.compress(last);
	s.v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		s.round();
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace cfs
