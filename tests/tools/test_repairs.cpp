// Unit tests of fsck's decision and exit-status logic (tools/fsck/repair.h): what each
// mode answers, what it prints, and the fsck(8) status bits it ends with.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "repair.h"

namespace {

using fsck::PreenSafety;
using fsck::Repairs;
using fsck::RepairMode;

// Captures what Repairs prints, and feeds it answers.
struct Console {
	explicit Console(const char *answers = "")
	{
		out = open_memstream(&buf, &len);
		in = fmemopen(const_cast<char *>(answers), strlen(answers) + 1, "r");
	}
	~Console()
	{
		fclose(out);
		fclose(in);
		free(buf);
	}
	std::string text()
	{
		fflush(out);
		return std::string(buf, len);
	}
	FILE *out, *in;
	char *buf = nullptr;
	size_t len = 0;
};

TEST(Repairs, NoProblemIsExitZero)
{
	Console c;
	Repairs r(RepairMode::kCheckOnly, 0, c.out);
	EXPECT_EQ(r.exit_status(), fsck::kExitClean);
}

TEST(Repairs, CheckOnlyAnswersNoAndExitsFour)
{
	Console c;
	Repairs r(RepairMode::kCheckOnly, 0, c.out);
	EXPECT_FALSE(r.problem(PreenSafety::kSafe, "fix it", "rgrp %d is off", 3));
	EXPECT_FALSE(r.may_write());
	EXPECT_EQ(r.exit_status(), fsck::kExitUncorrected);
	EXPECT_NE(c.text().find("rgrp 3 is off"), std::string::npos);
}

TEST(Repairs, AssumeYesCorrectedIsExitOne)
{
	Console c;
	Repairs r(RepairMode::kAssumeYes, 0, c.out);
	ASSERT_TRUE(r.problem(PreenSafety::kNeedsOperator, "remove it", "bad entry"));
	r.repaired();
	EXPECT_EQ(r.exit_status(), fsck::kExitCorrected);
	EXPECT_NE(c.text().find("remove it: yes"), std::string::npos);
}

TEST(Repairs, FailedRepairKeepsTheUncorrectedBit)
{
	Console c;
	Repairs r(RepairMode::kAssumeYes, 0, c.out);
	ASSERT_TRUE(r.problem(PreenSafety::kSafe, "fix", "one"));
	r.repaired();
	ASSERT_TRUE(r.problem(PreenSafety::kSafe, "fix", "two"));
	r.repair_failed("disk said %s", "no");
	EXPECT_EQ(r.exit_status(), fsck::kExitCorrected | fsck::kExitUncorrected);
	EXPECT_EQ(r.corrected(), 1u);
	EXPECT_EQ(r.uncorrected(), 1u);
	EXPECT_NE(c.text().find("not repaired: disk said no"), std::string::npos);
}

TEST(Repairs, PreenFixesSafeProblemsOnly)
{
	Console c;
	Repairs r(RepairMode::kPreen, 0, c.out);
	ASSERT_TRUE(r.problem(PreenSafety::kSafe, "fix counts", "counts"));
	r.repaired();
	EXPECT_FALSE(r.problem(PreenSafety::kNeedsOperator, "remove entry", "entry"));
	// Once stopped, preen does not resume with later safe problems either.
	EXPECT_FALSE(r.problem(PreenSafety::kSafe, "fix counts", "more counts"));
	EXPECT_EQ(r.exit_status(), fsck::kExitCorrected | fsck::kExitUncorrected);
	EXPECT_NE(c.text().find("UNEXPECTED INCONSISTENCY"), std::string::npos);
}

TEST(Repairs, InteractiveFollowsAnswers)
{
	Console c("n\ny\nmaybe\ny\n");
	Repairs r(RepairMode::kInteractive, 0, c.out, c.in);
	EXPECT_FALSE(r.problem(PreenSafety::kSafe, "fix", "first"));
	EXPECT_TRUE(r.problem(PreenSafety::kSafe, "fix", "second"));
	EXPECT_TRUE(r.problem(PreenSafety::kSafe, "fix", "third"));  // "maybe" is asked again
}

TEST(Repairs, InteractiveAllYesAndQuit)
{
	Console c("a\n");
	Repairs r(RepairMode::kInteractive, 0, c.out, c.in);
	EXPECT_TRUE(r.problem(PreenSafety::kSafe, "fix", "one"));
	EXPECT_TRUE(r.problem(PreenSafety::kSafe, "fix", "two"));

	Console q("q\n");
	Repairs r2(RepairMode::kInteractive, 0, q.out, q.in);
	EXPECT_FALSE(r2.problem(PreenSafety::kSafe, "fix", "one"));
	EXPECT_FALSE(r2.problem(PreenSafety::kSafe, "fix", "two"));
	EXPECT_EQ(r2.exit_status(), fsck::kExitUncorrected | fsck::kExitCancelled);
}

TEST(Repairs, EndOfInputStopsRepairing)
{
	Console c("");
	Repairs r(RepairMode::kInteractive, 0, c.out, c.in);
	EXPECT_FALSE(r.problem(PreenSafety::kSafe, "fix", "one"));
	EXPECT_TRUE(r.cancelled());
}

TEST(Repairs, FatalIsExitEight)
{
	Console c;
	Repairs r(RepairMode::kAssumeYes, 0, c.out);
	r.fatal("cannot read %s", "it");
	EXPECT_TRUE(r.had_fatal());
	EXPECT_EQ(r.exit_status(), fsck::kExitOperational);
	EXPECT_NE(c.text().find("fsck.clusterfs: cannot read it"), std::string::npos);
}

TEST(Repairs, VerbosityGatesInfo)
{
	Console c;
	Repairs r(RepairMode::kCheckOnly, 1, c.out);
	r.info(1, "pass %d", 1);
	r.info(2, "detail");
	EXPECT_NE(c.text().find("pass 1"), std::string::npos);
	EXPECT_EQ(c.text().find("detail"), std::string::npos);
}

}  // namespace
