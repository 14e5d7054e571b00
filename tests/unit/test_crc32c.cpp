// CRC32C and SipHash against published check values.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "clusterfs/format.h"
#include "crc32c.h"
#include "env.h"
#include "siphash.h"

namespace {

uint32_t standard_crc(uint32_t (*fn)(uint32_t, const void *, size_t), const void *p, size_t n)
{
	return ~fn(~0u, p, n);
}

TEST(Crc32c, SoftwareMatchesTheStandardCheckValue)
{
	EXPECT_EQ(standard_crc(cfs::crc32c_sw, "123456789", 9), 0xE3069283u);
}

TEST(Crc32c, HostMatchesTheStandardCheckValue)
{
	EXPECT_EQ(standard_crc(cfs_env_crc32c, "123456789", 9), 0xE3069283u);
}

TEST(Crc32c, Rfc3720VectorsOf32Bytes)
{
	// iSCSI (RFC 3720 B.4): 32 bytes of zeros, of 0xff, and ascending 0..31.
	uint8_t buf[32];
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(standard_crc(cfs::crc32c_sw, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	EXPECT_EQ(standard_crc(cfs::crc32c_sw, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = uint8_t(i);
	EXPECT_EQ(standard_crc(cfs::crc32c_sw, buf, 32), 0x46DD794Eu);
}

TEST(Crc32c, SoftwareAndHostAgreeOnEveryLengthAndAlignment)
{
	std::vector<uint8_t> data(5000);
	for (size_t i = 0; i < data.size(); i++)
		data[i] = uint8_t(i * 131 + 7);
	for (size_t off = 0; off < 9; off++)
		for (size_t len : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 1000u, 4096u})
			ASSERT_EQ(cfs::crc32c_sw(0x12345678u, data.data() + off, len),
				  cfs_env_crc32c(0x12345678u, data.data() + off, len))
				<< "off " << off << " len " << len;
}

TEST(Crc32c, ChainingEqualsOneCall)
{
	const char *s = "clusterfs metadata block";
	size_t n = strlen(s);
	uint32_t whole = cfs::crc32c_sw(~0u, s, n);
	uint32_t part = cfs::crc32c_sw(cfs::crc32c_sw(~0u, s, 5), s + 5, n - 5);
	EXPECT_EQ(whole, part);
}

TEST(BlockCrc, IgnoresTheCrcFieldAndCatchesEveryFlippedBit)
{
	std::vector<uint8_t> block(1024);
	for (size_t i = 0; i < block.size(); i++)
		block[i] = uint8_t(i ^ 0x5a);
	cfs::block_crc_set(block.data(), 1024);
	EXPECT_TRUE(cfs::block_crc_ok(block.data(), 1024));
	// Recomputing over a block whose crc field holds the crc gives the same value.
	EXPECT_EQ(cfs::block_crc(block.data(), 1024),
		  reinterpret_cast<cfs_meta_header *>(block.data())->mh_crc);
	for (size_t bit = 0; bit < 1024 * 8; bit += 37) {
		block[bit / 8] ^= uint8_t(1u << (bit % 8));
		EXPECT_FALSE(cfs::block_crc_ok(block.data(), 1024)) << "bit " << bit;
		block[bit / 8] ^= uint8_t(1u << (bit % 8));
	}
}

TEST(SipHash, ReferenceVectors)
{
	// Key 00..0f, message 00..(n-1): vectors of the SipHash paper's reference code.
	uint8_t key[16], msg[64];
	for (int i = 0; i < 16; i++)
		key[i] = uint8_t(i);
	for (int i = 0; i < 64; i++)
		msg[i] = uint8_t(i);
	EXPECT_EQ(cfs::siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull);
	EXPECT_EQ(cfs::siphash24(key, msg, 1), 0x74f839c593dc67fdull);
	EXPECT_EQ(cfs::siphash24(key, msg, 7), 0xab0200f58b01d137ull);
	EXPECT_EQ(cfs::siphash24(key, msg, 8), 0x93f5f5799a932462ull);
	EXPECT_EQ(cfs::siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
	EXPECT_EQ(cfs::siphash24(key, msg, 63), 0x958a324ceb064572ull);
}

TEST(DirHash, IsTheLow32BitsAndDependsOnTheKey)
{
	uint8_t key[16] = {}, other[16] = {};
	other[15] = 1;
	EXPECT_EQ(cfs::dir_hash(key, "file", 4), uint32_t(cfs::siphash24(key, "file", 4)));
	EXPECT_NE(cfs::dir_hash(key, "file", 4), cfs::dir_hash(other, "file", 4));
	EXPECT_NE(cfs::dir_hash(key, "file", 4), cfs::dir_hash(key, "filf", 4));
}

}  // namespace
