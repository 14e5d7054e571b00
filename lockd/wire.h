// Little-endian, bounds-checked byte encoding for lockd's internal messages (CPG
// batches, table snapshots). A Reader that runs past its end latches `ok() == false`
// and returns zeros, so decoders check once at the end instead of after every field.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace clusterfs::lockd::wire {

class Writer {
public:
	void u8(uint8_t v) { buf_.push_back(v); }
	void u16(uint16_t v) { put(v, 2); }
	void u32(uint32_t v) { put(v, 4); }
	void u64(uint64_t v) { put(v, 8); }
	void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
	void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
	void bytes(const void *p, size_t n)
	{
		const auto *b = static_cast<const uint8_t *>(p);
		buf_.insert(buf_.end(), b, b + n);
	}
	void str(const std::string &s)
	{
		u32(static_cast<uint32_t>(s.size()));
		bytes(s.data(), s.size());
	}
	// Overwrites 4 bytes at `at` (for lengths known only after the body).
	void patch_u32(size_t at, uint32_t v)
	{
		for (int i = 0; i < 4; i++)
			buf_[at + i] = static_cast<uint8_t>(v >> (8 * i));
	}
	size_t size() const { return buf_.size(); }
	const std::vector<uint8_t> &data() const { return buf_; }
	std::vector<uint8_t> take() { return std::move(buf_); }

private:
	void put(uint64_t v, int n)
	{
		for (int i = 0; i < n; i++)
			buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
	}
	std::vector<uint8_t> buf_;
};

class Reader {
public:
	Reader(const void *p, size_t n) : p_(static_cast<const uint8_t *>(p)), n_(n) {}
	uint8_t u8() { return static_cast<uint8_t>(get(1)); }
	uint16_t u16() { return static_cast<uint16_t>(get(2)); }
	uint32_t u32() { return static_cast<uint32_t>(get(4)); }
	uint64_t u64() { return get(8); }
	int32_t i32() { return static_cast<int32_t>(u32()); }
	int64_t i64() { return static_cast<int64_t>(u64()); }
	bool bytes(void *out, size_t n)
	{
		if (!take(n)) {
			memset(out, 0, n);
			return false;
		}
		memcpy(out, p_ + pos_ - n, n);
		return true;
	}
	std::string str(size_t max)
	{
		uint32_t len = u32();
		if (len > max || !take(len))
			return fail_str();
		return std::string(reinterpret_cast<const char *>(p_ + pos_ - len), len);
	}
	bool ok() const { return ok_; }
	bool at_end() const { return pos_ == n_; }
	size_t remaining() const { return ok_ ? n_ - pos_ : 0; }
	void fail() { ok_ = false; }

private:
	bool take(size_t n)
	{
		if (!ok_ || n > n_ - pos_) {
			ok_ = false;
			return false;
		}
		pos_ += n;
		return true;
	}
	uint64_t get(int n)
	{
		if (!take(n))
			return 0;
		uint64_t v = 0;
		for (int i = 0; i < n; i++)
			v |= static_cast<uint64_t>(p_[pos_ - n + i]) << (8 * i);
		return v;
	}
	std::string fail_str()
	{
		ok_ = false;
		return {};
	}
	const uint8_t *p_;
	size_t n_;
	size_t pos_ = 0;
	bool ok_ = true;
};

} // namespace clusterfs::lockd::wire
