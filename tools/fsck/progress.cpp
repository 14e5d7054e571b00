// fsck.clusterfs: the -C progress reports (progress.h).
#include "progress.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <string>
#include <sys/ioctl.h>
#include <unistd.h>

namespace fsck {
namespace {

constexpr int64_t kRedrawNs = 100'000'000;  // the bar: at most ten drawings a second

int64_t now_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Writes all of `s`; false when the descriptor refuses (closed pipe, bad fd).
bool write_all(int fd, const std::string &s)
{
	size_t done = 0;
	while (done < s.size()) {
		ssize_t n = write(fd, s.data() + done, s.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += size_t(n);
	}
	return true;
}

}  // namespace

Progress::Progress(int fd, const char *device)
	: fd_(fd), bar_(fd == 0 && isatty(STDOUT_FILENO)), device_(device)
{
}

Progress::~Progress()
{
	clear();
}

void Progress::begin(const char *pass, const char *title, uint64_t max)
{
	pass_ = pass;
	title_ = title;
	max_ = max;
	current_ = 0;
	permille_shown_ = -1;
	line_current_ = UINT64_MAX;
	active_ = true;
	report(true);
}

void Progress::update(uint64_t current)
{
	if (!active_)
		return;
	if (current > max_)
		current = max_;
	if (current <= current_)
		return;
	current_ = current;
	report(false);
}

void Progress::end()
{
	if (!active_)
		return;
	current_ = max_;
	report(true);
	active_ = false;
}

void Progress::report(bool force)
{
	int permille = max_ ? int(current_ * 1000 / max_) : 1000;
	if (fd_ > 0) {
		if (permille == permille_shown_ && !(force && current_ != line_current_))
			return;
		permille_shown_ = permille;
		line_current_ = current_;
		emit_line();
		return;
	}
	if (permille == permille_shown_)
		return;
	if (!bar_)
		return;
	// The bar is throttled even at a pass's start and end: passes that take
	// milliseconds would otherwise flicker past.
	int64_t now = now_ns();
	if (now - last_draw_ns_ < kRedrawNs)
		return;
	last_draw_ns_ = now;
	permille_shown_ = permille;
	draw();
}

void Progress::emit_line()
{
	char line[128];
	snprintf(line, sizeof line, "%s %" PRIu64 " %" PRIu64 " ", pass_.c_str(), current_, max_);
	// A reader that went away (closed pipe) ends the reports, not the check.
	if (!write_all(fd_, line + device_ + "\n"))
		fd_ = -1;
}

void Progress::draw()
{
	unsigned width = 80;
	winsize ws{};
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		width = ws.ws_col;
	uint64_t permille = max_ ? current_ * 1000 / max_ : 1000;
	char pct[16];
	snprintf(pct, sizeof pct, " %3u.%u%%", unsigned(permille / 10), unsigned(permille % 10));
	std::string label = "pass " + pass_ + ": " + title_ + " ";
	// The bar takes what is left of the line after the label and the percentage
	// (the last column stays empty: writing it makes some terminals wrap).
	size_t room = width - 1;
	size_t fixed = label.size() + 2 + std::string(pct).size();
	if (fixed + 10 > room)
		label = "pass " + pass_ + " ";
	fixed = label.size() + 2 + std::string(pct).size();
	size_t bar_len = room > fixed ? room - fixed : 0;
	size_t filled = size_t(bar_len * permille / 1000);
	std::string text = label + "|" + std::string(filled, '=') +
	                   std::string(bar_len - filled, ' ') + "|" + pct;
	std::string out = "\r" + text;
	if (drawn_width_ > text.size())
		out += std::string(drawn_width_ - text.size(), ' ');
	fflush(stdout);  // what stdio holds goes first
	write_all(STDOUT_FILENO, out);
	drawn_width_ = text.size();
}

void Progress::clear()
{
	if (!bar_ || drawn_width_ == 0)
		return;
	fflush(stdout);
	write_all(STDOUT_FILENO, "\r" + std::string(drawn_width_, ' ') + "\r");
	drawn_width_ = 0;
	// The next drawing waits for the throttle again: a message just printed stays
	// readable rather than being chased by the bar.
	last_draw_ns_ = now_ns();
}

}  // namespace fsck
