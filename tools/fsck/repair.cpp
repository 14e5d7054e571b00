// fsck.clusterfs: problem reporting, the repair decision and the exit status.
#include "repair.h"

#include <cctype>
#include <cstring>

namespace fsck {

Repairs::Repairs(RepairMode mode, int verbosity, FILE *out, FILE *in)
	: mode_(mode), verbosity_(verbosity), out_(out), in_(in)
{
}

bool Repairs::problem(PreenSafety safety, const char *fix, const char *fmt, ...)
{
	found_++;
	before_output();
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out_, fmt, ap);
	va_end(ap);
	fputc('\n', out_);

	switch (mode_) {
	case RepairMode::kCheckOnly:
		if (verbosity_ > 0)
			fprintf(out_, "  %s? no\n", fix);
		return false;
	case RepairMode::kAssumeYes:
		fprintf(out_, "  %s: yes\n", fix);
		return true;
	case RepairMode::kPreen:
		if (safety == PreenSafety::kSafe && !preen_stopped_) {
			fprintf(out_, "  %s: fixed (preen)\n", fix);
			return true;
		}
		if (!preen_stopped_)
			fprintf(out_, "UNEXPECTED INCONSISTENCY; RUN fsck.clusterfs MANUALLY "
			              "(without -p); continuing read-only\n");
		preen_stopped_ = true;
		return false;
	case RepairMode::kInteractive:
		return ask(fix);
	}
	return false;
}

// Reads one answer: y, n, a (yes to all), q (no to all and stop repairing).
bool Repairs::ask(const char *fix)
{
	if (answer_all_yes_) {
		fprintf(out_, "  %s? yes (all)\n", fix);
		return true;
	}
	if (answer_all_no_ || cancelled_) {
		fprintf(out_, "  %s? no\n", fix);
		return false;
	}
	for (;;) {
		fprintf(out_, "  %s? [y]es, [n]o, [a]ll yes, [q]uit repairing: ", fix);
		fflush(out_);
		char line[64];
		if (!in_ || !fgets(line, sizeof line, in_)) {
			fprintf(out_, "\n  end of input: no further repairs\n");
			cancelled_ = true;
			return false;
		}
		switch (tolower(static_cast<unsigned char>(line[0]))) {
		case 'y':
			return true;
		case 'n':
			return false;
		case 'a':
			answer_all_yes_ = true;
			return true;
		case 'q':
			answer_all_no_ = true;
			cancelled_ = true;
			return false;
		default:
			break;
		}
	}
}

void Repairs::repaired()
{
	corrected_++;
}

void Repairs::repair_failed(const char *fmt, ...)
{
	before_output();
	fputs("  not repaired: ", out_);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out_, fmt, ap);
	va_end(ap);
	fputc('\n', out_);
}

void Repairs::info(int level, const char *fmt, ...)
{
	if (verbosity_ < level)
		return;
	before_output();
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out_, fmt, ap);
	va_end(ap);
	fputc('\n', out_);
}

void Repairs::fatal(const char *fmt, ...)
{
	fatal_ = true;
	before_output();
	fputs("fsck.clusterfs: ", out_);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out_, fmt, ap);
	va_end(ap);
	fputc('\n', out_);
}

int Repairs::exit_status() const
{
	int status = kExitClean;
	if (fatal_)
		status |= kExitOperational;
	if (uncorrected() > 0)
		status |= kExitUncorrected;
	if (corrected_ > 0)
		status |= kExitCorrected;
	if (cancelled_ && uncorrected() > 0)
		status |= kExitCancelled;
	return status;
}

}  // namespace fsck
