// fsck.clusterfs: how a found problem is reported, whether it gets repaired, and what
// exit status the run ends with (fsck(8): 0 clean, 1 corrected, 4 left uncorrected,
// 8 operational error, 16 usage error, 32 cancelled by the user).
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <utility>

namespace fsck {

enum ExitStatus : int {
	kExitClean = 0,
	kExitCorrected = 1,
	kExitUncorrected = 4,
	kExitOperational = 8,
	kExitUsage = 16,
	kExitCancelled = 32,
};

enum class RepairMode {
	kCheckOnly,    // -n: open read-only, answer "no" to everything
	kAssumeYes,    // -y: answer "yes" to everything
	kPreen,        // -p/-a: fix what is safe without asking, stop short of the rest
	kInteractive,  // no option and stdin is a terminal: ask
};

// Whether a problem's repair is safe to make unattended in preen mode (e2fsck's
// PR_PREEN_OK): it only brings summary information in line with what the structures
// say, and loses no user data.
enum class PreenSafety { kSafe, kNeedsOperator };

// One place that decides, counts and prints. Each check calls problem(); when it
// returns true the check makes the repair and calls repaired() or repair_failed().
class Repairs {
public:
	Repairs(RepairMode mode, int verbosity, FILE *out, FILE *in = nullptr);

	// Describes a problem ("rgrp 3 at block 65552: free count 100, bitmap says 98")
	// and returns whether to repair it. A problem that is not repaired counts as
	// uncorrected; one that is counts as corrected once repaired() is called.
	[[gnu::format(printf, 4, 5)]] bool problem(PreenSafety safety, const char *fix,
	                                           const char *fmt, ...);
	void repaired();
	// The repair was attempted and failed: the problem stays uncorrected.
	[[gnu::format(printf, 2, 3)]] void repair_failed(const char *fmt, ...);

	// Progress and detail lines, shown with -v (level 1) or -vv (level 2).
	[[gnu::format(printf, 3, 4)]] void info(int level, const char *fmt, ...);
	// A condition that stops the check (I/O error, no superblock): exit status 8.
	[[gnu::format(printf, 2, 3)]] void fatal(const char *fmt, ...);

	bool may_write() const { return mode_ != RepairMode::kCheckOnly; }
	RepairMode mode() const { return mode_; }
	bool cancelled() const { return cancelled_; }
	bool had_fatal() const { return fatal_; }
	unsigned long found() const { return found_; }
	unsigned long corrected() const { return corrected_; }
	unsigned long uncorrected() const { return found_ - corrected_; }

	int exit_status() const;

	// Called before anything is written to `out`: a progress bar on the same terminal
	// (fsck -C 0) erases itself there so that messages and prompts start on a clean line.
	void set_before_output(std::function<void()> hook) { before_output_ = std::move(hook); }

private:
	void before_output() const
	{
		if (before_output_)
			before_output_();
	}
	bool ask(const char *fix);

	RepairMode mode_;
	int verbosity_;
	FILE *out_;
	FILE *in_;
	unsigned long found_ = 0;
	unsigned long corrected_ = 0;
	bool answer_all_yes_ = false;
	bool answer_all_no_ = false;
	bool preen_stopped_ = false;
	bool cancelled_ = false;
	bool fatal_ = false;
	std::function<void()> before_output_;
};

}  // namespace fsck
