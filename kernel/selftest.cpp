// SPDX-License-Identifier: GPL-2.0
// Load-time check that the C++ runtime of the module behaves as the compiler assumes.
#include <cstddef>
#include <cstdint>
#include <new>

#include "cxx_support.h"
#include "selftest.h"

namespace {
constexpr int kENOMEM = 12;
constexpr int kEINVAL = 22;

class Shape {
public:
	virtual ~Shape() = default;
	virtual std::uint64_t area() const = 0;
};

class Rectangle final : public Shape {
public:
	Rectangle(std::uint64_t w, std::uint64_t h) : width_(w), height_(h) {}
	std::uint64_t area() const override { return width_ * height_; }

private:
	std::uint64_t width_;
	std::uint64_t height_;
	std::uint8_t padding_[56] = {};  // 72 bytes: kmalloc-96, not naturally aligned
};

struct alignas(64) CacheLine {
	std::uint64_t words[8];
};

bool is_aligned(const void *ptr, std::size_t align)
{
	return (reinterpret_cast<std::uintptr_t>(ptr) & (align - 1)) == 0;
}
}  // namespace

extern "C" int clusterfs_cxx_selftest(void)
{
	Shape *shape = new Rectangle(6, 7);
	if (!shape)
		return -kENOMEM;
	const bool area_ok = shape->area() == 42;
	delete shape;  // virtual destructor: sized operator delete
	if (!area_ok) {
		clusterfs_cxx_log_error("C++ self-test: virtual dispatch returned a wrong value");
		return -kEINVAL;
	}

	for (int i = 0; i < 16; i++) {
		CacheLine *line = new CacheLine{};  // align_val_t operator new
		if (!line)
			return -kENOMEM;
		const bool aligned = is_aligned(line, alignof(CacheLine)) && line->words[7] == 0;
		delete line;
		if (!aligned) {
			clusterfs_cxx_log_error("C++ self-test: over-aligned new returned misaligned memory");
			return -kEINVAL;
		}
	}

	std::uint32_t *array = new (std::nothrow) std::uint32_t[300]();
	if (!array)
		return -kENOMEM;
	std::uint64_t sum = 0;
	for (int i = 0; i < 300; i++)
		sum += array[i];
	delete[] array;
	if (sum != 0) {
		clusterfs_cxx_log_error("C++ self-test: value-initialised array was not zeroed");
		return -kEINVAL;
	}
	return 0;
}
