// Result reporting shared by the POSIX behaviour programs: one line per check
// ("ok NAME", "FAIL NAME: expected X got Y (errno E)", "skip NAME: why") and a summary.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace cfs_posix {

// Symbolic errno name ("ENOENT"), falling back to the number for unknown values.
inline std::string errno_name(int err) {
	if (err == 0)
		return "0";
	const char* name = strerrorname_np(err);
	return name ? name : std::to_string(err);
}

class Reporter {
public:
	// Checks named P, or P-..., or P.... are reported as skipped instead of judged.
	void skip_checks(const std::vector<std::string>& patterns) { skip_patterns_ = patterns; }

	bool skipped_by_request(const std::string& name) const {
		for (const std::string& p : skip_patterns_)
			if (name == p || (name.size() > p.size() && name.compare(0, p.size(), p) == 0 &&
					  (name[p.size()] == '-' || name[p.size()] == '.')))
				return true;
		return false;
	}

	// Each returns whether the check passed; a skipped check counts as not passed so that
	// checks depending on it do not run.
	bool pass(const std::string& name) {
		if (skipped_by_request(name))
			return skip(name, "skipped by --skip");
		++passed_;
		std::printf("ok %s\n", name.c_str());
		std::fflush(stdout);
		return true;
	}
	bool fail(const std::string& name, const std::string& expected, const std::string& got, int err) {
		if (skipped_by_request(name))
			return skip(name, "skipped by --skip");
		++failed_;
		std::printf("FAIL %s: expected %s got %s (errno %s)\n", name.c_str(), expected.c_str(),
			    got.c_str(), errno_name(err).c_str());
		std::fflush(stdout);
		return false;
	}
	bool skip(const std::string& name, const std::string& why) {
		++skipped_;
		std::printf("skip %s: %s\n", name.c_str(), why.c_str());
		std::fflush(stdout);
		return false;
	}

	// rc >= 0 is success; on failure errno tells why.
	bool ok(const std::string& name, long rc) {
		int err = errno;
		if (rc >= 0)
			return pass(name);
		return fail(name, "success", std::to_string(rc), err);
	}
	// The call must fail with exactly `expected_errno`.
	bool err(const std::string& name, long rc, int expected_errno) {
		int err = errno;
		if (rc == -1 && err == expected_errno)
			return pass(name);
		return fail(name, "-1/" + errno_name(expected_errno),
			    rc == -1 ? "-1/" + errno_name(err) : std::to_string(rc) + " (success)", rc == -1 ? err : 0);
	}
	template <typename A, typename B>
	bool eq(const std::string& name, const A& expected, const B& got) {
		if (expected == got)
			return pass(name);
		return fail(name, show(expected), show(got), 0);
	}
	bool truth(const std::string& name, bool cond, const std::string& expected, const std::string& got) {
		if (cond)
			return pass(name);
		return fail(name, expected, got, 0);
	}

	int passed() const { return passed_; }
	int failed() const { return failed_; }
	int skipped() const { return skipped_; }
	void summary() const { std::printf("%d passed, %d failed, %d skipped\n", passed_, failed_, skipped_); }

private:
	static std::string show(const std::string& s) { return "\"" + s + "\""; }
	static std::string show(const char* s) { return show(std::string(s)); }
	template <typename T>
	static std::string show(const T& v) {
		return std::to_string(v);
	}

	std::vector<std::string> skip_patterns_;
	int passed_ = 0;
	int failed_ = 0;
	int skipped_ = 0;
};

}  // namespace cfs_posix
