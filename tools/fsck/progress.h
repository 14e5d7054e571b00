// fsck.clusterfs -C FD: progress of each pass, as e2fsck -C reports it.
//   FD 0: a bar with the pass name and a percentage on standard output when that is a
//         terminal (nothing otherwise), redrawn at most ten times a second, erased at
//         the end and before any other output.
//   FD>0: lines "PASS CURRENT MAX DEVICE" written to that descriptor, one whenever the
//         pass's completion changes by at least 0.1 % and at each pass's start and end.
// CURRENT counts the units of work of the pass (blocks, entries, inodes, journals; see
// docs/fsck.md) and never decreases within a pass nor exceeds MAX.
#pragma once

#include <cstdint>
#include <string>

namespace fsck {

class Progress {
public:
	Progress(int fd, const char *device);
	~Progress();
	Progress(const Progress &) = delete;
	Progress &operator=(const Progress &) = delete;

	// A pass starts: `pass` is its short name (0, J, 1, ...), `title` what it checks,
	// `max` its units of work.
	void begin(const char *pass, const char *title, uint64_t max);
	void update(uint64_t current);  // values above max count as max; lower ones are ignored
	void end();                     // the pass is over: current = max
	void clear();                   // erase the bar (fd 0) so other output can follow

private:
	void report(bool force);
	void draw();
	void emit_line();

	int fd_;
	bool bar_;  // fd 0 and stdout is a terminal
	std::string device_;
	std::string pass_, title_;
	uint64_t max_ = 0, current_ = 0;
	int permille_shown_ = -1;      // last per-mille reported for this pass
	uint64_t line_current_ = 0;    // CURRENT of the last line written (fd > 0)
	int64_t last_draw_ns_ = 0;     // monotonic time of the last bar drawing
	size_t drawn_width_ = 0;       // characters of the bar now on screen (0: none)
	bool active_ = false;
};

// A pass's progress for its lifetime: begin on construction, end on destruction, so a
// pass that returns early still reports itself complete. `progress` may be null.
class PassProgress {
public:
	PassProgress(Progress *progress, const char *pass, const char *title, uint64_t max)
		: p_(progress)
	{
		if (p_)
			p_->begin(pass, title, max);
	}
	~PassProgress()
	{
		if (p_)
			p_->end();
	}
	PassProgress(const PassProgress &) = delete;
	PassProgress &operator=(const PassProgress &) = delete;
	void update(uint64_t current)
	{
		if (p_)
			p_->update(current);
	}

private:
	Progress *p_;
};

}  // namespace fsck
