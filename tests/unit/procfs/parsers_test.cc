// The pure /proc parsers, on the captured fixture files and on inline edge cases.

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

#include "agent/procfs/boot_time.h"
#include "agent/procfs/fd_counter.h"
#include "agent/procfs/fd_type.h"
#include "agent/procfs/kib_lines.h"
#include "agent/procfs/proc_limits.h"
#include "agent/procfs/proc_stat.h"
#include "agent/procfs/proc_statm.h"
#include "agent/procfs/proc_status.h"
#include "agent/procfs/smaps_rollup.h"
#include "procfs_test_support.h"

namespace leakwatch::internal {
namespace {

using testing::ReadFixture;

constexpr uint64_t KiB = 1024;

// ----------------------------------------------------------------------------------------------
// /proc/<pid>/stat

// A complete stat line (52 fields, as Linux 6.x writes) with `comm` and the given fields (1-based) replaced.
std::string StatLine(const std::string& comm, const std::map<int, std::string>& overrides = {}) {
  std::map<int, std::string> fields;
  for (int i = 3; i <= 52; ++i) fields[i] = std::to_string(i * 10);
  fields[3] = "S";
  for (const auto& [number, value] : overrides) fields[number] = value;
  std::string line = (overrides.contains(1) ? overrides.at(1) : "77") + " (" + comm + ")";
  for (int i = 3; i <= 52; ++i) line += " " + fields[i];
  return line + "\n";
}

// The same line cut right after field `last`.
std::string StatLineUpTo(int last) {
  std::string line = "77 (x)";
  for (int i = 3; i <= last; ++i) line += " " + std::string(i == 3 ? "R" : std::to_string(i));
  return line;
}

TEST(ProcStatParse, CapturedFixtureV1) {
  Result<ProcStat> stat = ParseProcStat(ReadFixture("cgroup-v1", "self/stat"));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->pid, 4798u);
  EXPECT_EQ(stat->comm, "python3");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->utime_ticks, 46u);
  EXPECT_EQ(stat->stime_ticks, 4u);
  EXPECT_EQ(stat->num_threads, 4u);
  EXPECT_EQ(stat->starttime_ticks, 53760u);
  EXPECT_EQ(stat->vsize_bytes, 293851136u);
  EXPECT_EQ(stat->rss_pages, 15602u);
}

TEST(ProcStatParse, FixtureV2WithSpacesAndParensInComm) {
  Result<ProcStat> stat = ParseProcStat(ReadFixture("cgroup-v2", "self/stat"));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->pid, 12345u);
  EXPECT_EQ(stat->comm, "my (weird) proc");
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->utime_ticks, 1234u);
  EXPECT_EQ(stat->stime_ticks, 567u);
  EXPECT_EQ(stat->num_threads, 17u);
  EXPECT_EQ(stat->starttime_ticks, 987654u);
  EXPECT_EQ(stat->vsize_bytes, 1073741824u);
  EXPECT_EQ(stat->rss_pages, 131072u);
}

TEST(ProcStatParse, TakesCommUpToTheLastParenthesis) {
  // A comm that looks like the end of comm followed by fields must not shift the field numbers.
  Result<ProcStat> stat = ParseProcStat(StatLine("a) R 1 2 3 (b", {{14, "111"}, {20, "9"}, {24, "5"}}));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->comm, "a) R 1 2 3 (b");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->utime_ticks, 111u);
  EXPECT_EQ(stat->stime_ticks, 150u);
  EXPECT_EQ(stat->num_threads, 9u);
  EXPECT_EQ(stat->starttime_ticks, 220u);
  EXPECT_EQ(stat->vsize_bytes, 230u);
  EXPECT_EQ(stat->rss_pages, 5u);
}

TEST(ProcStatParse, AcceptsEmptyCommAndMissingTrailingNewline) {
  std::string line = StatLine("");
  line.pop_back();
  Result<ProcStat> stat = ParseProcStat(line);
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->comm, "");
  EXPECT_EQ(stat->rss_pages, 240u);
}

TEST(ProcStatParse, OnlyTheFirst24FieldsAreNeeded) {
  Result<ProcStat> stat = ParseProcStat(StatLineUpTo(24));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->rss_pages, 24u);
  EXPECT_EQ(stat->num_threads, 20u);
}

TEST(ProcStatParse, TruncatedTextNamesTheFirstMissingField) {
  Result<ProcStat> stat = ParseProcStat(StatLineUpTo(23));
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().message, "stat field 24 (rss) missing: the text is truncated");

  stat = ParseProcStat(StatLineUpTo(19));
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().message, "stat field 20 (num_threads) missing: the text is truncated");

  stat = ParseProcStat(StatLineUpTo(13));
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().message, "stat field 14 (utime) missing: the text is truncated");

  stat = ParseProcStat("77 (x)");
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().message, "stat field 3 (state) missing: the text is truncated");
}

TEST(ProcStatParse, GarbageNumbersNameFieldAndValue) {
  Result<ProcStat> stat = ParseProcStat(StatLine("x", {{14, "4x6"}}));
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().message, "stat field 14 (utime) is not a number: \"4x6\"");

  stat = ParseProcStat(StatLine("x", {{24, "-1"}}));
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().message, "stat field 24 (rss) is not a number: \"-1\"");

  stat = ParseProcStat(StatLine("x", {{22, "99999999999999999999999"}}));
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().message, "stat field 22 (starttime) is not a number: \"99999999999999999999999\"");

  stat = ParseProcStat(StatLine("x", {{1, "pid"}}));
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().message, "stat field 1 (pid) is not a number: \"pid\"");

  stat = ParseProcStat(StatLine("x", {{3, "Sleeping"}}));
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().message, "stat field 3 (state) is not one letter: \"Sleeping\"");
}

TEST(ProcStatParse, FieldsWeDoNotUseMayBeAnything) {
  Result<ProcStat> stat = ParseProcStat(StatLine("x", {{13, "junk"}, {21, "-5"}, {25, "x"}}));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->utime_ticks, 140u);
}

TEST(ProcStatParse, EmptyOrCommlessTextIsAnError) {
  Result<ProcStat> stat = ParseProcStat("");
  ASSERT_FALSE(stat.ok());
  EXPECT_NE(stat.error().message.find("field 2 (comm)"), std::string::npos) << stat.error().message;

  stat = ParseProcStat("77 x S 1 2 3");
  ASSERT_FALSE(stat.ok());
  EXPECT_NE(stat.error().message.find("field 2 (comm)"), std::string::npos) << stat.error().message;

  stat = ParseProcStat("77 )x( S");
  ASSERT_FALSE(stat.ok());
  EXPECT_NE(stat.error().message.find("field 2 (comm)"), std::string::npos) << stat.error().message;
}

// --------------------------------------------------------------------------------------------
// /proc/<pid>/status

TEST(ProcStatusParse, CapturedFixtureV1InBytes) {
  const ProcStatus status = ParseProcStatus(ReadFixture("cgroup-v1", "self/status"));
  EXPECT_EQ(status.vm_peak_bytes, 286964 * KiB);
  EXPECT_EQ(status.vm_size_bytes, 286964 * KiB);
  EXPECT_EQ(status.vm_hwm_bytes, 62684 * KiB);
  EXPECT_EQ(status.vm_rss_bytes, 62684 * KiB);
  EXPECT_EQ(status.rss_anon_bytes, 56096 * KiB);
  EXPECT_EQ(status.rss_file_bytes, 6588 * KiB);
  EXPECT_EQ(status.rss_shmem_bytes, 0u);  // present and zero, not absent
  EXPECT_EQ(status.vm_swap_bytes, 0u);
  EXPECT_EQ(status.threads, 4u);
}

TEST(ProcStatusParse, FixtureV2InBytes) {
  const ProcStatus status = ParseProcStatus(ReadFixture("cgroup-v2", "self/status"));
  EXPECT_EQ(status.vm_peak_bytes, 1100000 * KiB);
  EXPECT_EQ(status.vm_size_bytes, 1048576 * KiB);
  EXPECT_EQ(status.vm_hwm_bytes, 600000 * KiB);
  EXPECT_EQ(status.vm_rss_bytes, 524288 * KiB);
  EXPECT_EQ(status.rss_anon_bytes, 500000 * KiB);
  EXPECT_EQ(status.rss_file_bytes, 20000 * KiB);
  EXPECT_EQ(status.rss_shmem_bytes, 4288 * KiB);
  EXPECT_EQ(status.vm_swap_bytes, 2048 * KiB);
  EXPECT_EQ(status.threads, 17u);
}

TEST(ProcStatusParse, KernelThreadHasNoMemoryLines) {
  const ProcStatus status =
      ParseProcStatus("Name:\tkthreadd\nUmask:\t0000\nState:\tS (sleeping)\nThreads:\t1\n");
  EXPECT_EQ(status.vm_peak_bytes, std::nullopt);
  EXPECT_EQ(status.vm_size_bytes, std::nullopt);
  EXPECT_EQ(status.vm_hwm_bytes, std::nullopt);
  EXPECT_EQ(status.vm_rss_bytes, std::nullopt);
  EXPECT_EQ(status.rss_anon_bytes, std::nullopt);
  EXPECT_EQ(status.rss_file_bytes, std::nullopt);
  EXPECT_EQ(status.rss_shmem_bytes, std::nullopt);
  EXPECT_EQ(status.vm_swap_bytes, std::nullopt);
  EXPECT_EQ(status.threads, 1u);
}

TEST(ProcStatusParse, GarbageValuesAreAbsentNotZero) {
  const ProcStatus status = ParseProcStatus(
      "VmRSS:\t   12x kB\nVmSize:\t  100 MB\nVmHWM:\t  100\nVmSwap:\t18446744073709551615 kB\n"
      "RssAnon:\t5 kB trailing\nRssFile:\t kB\nThreads:\tmany\nVmPeak:\t-4 kB\nRssShmem:\t7 kB");
  EXPECT_EQ(status.vm_rss_bytes, std::nullopt);
  EXPECT_EQ(status.vm_size_bytes, std::nullopt);  // unit other than kB
  EXPECT_EQ(status.vm_hwm_bytes, std::nullopt);   // no unit
  EXPECT_EQ(status.vm_swap_bytes, std::nullopt);  // bytes overflow 64 bits
  EXPECT_EQ(status.rss_anon_bytes, std::nullopt);
  EXPECT_EQ(status.rss_file_bytes, std::nullopt);
  EXPECT_EQ(status.threads, std::nullopt);
  EXPECT_EQ(status.vm_peak_bytes, std::nullopt);
  EXPECT_EQ(status.rss_shmem_bytes, 7 * KiB);  // the last line has no newline
}

TEST(ProcStatusParse, ANameThatLooksLikeAKeyIsIgnored) {
  const ProcStatus status = ParseProcStatus("Name:\tVmRSS: 5 kB\nVmRSS:\t  8 kB\n");
  EXPECT_EQ(status.vm_rss_bytes, 8 * KiB);
}

TEST(ProcStatusParse, EmptyTextHasEverythingAbsent) {
  const ProcStatus status = ParseProcStatus("");
  EXPECT_EQ(status.vm_rss_bytes, std::nullopt);
  EXPECT_EQ(status.threads, std::nullopt);
}

// --------------------------------------------------------------------------------------------
// /proc/<pid>/limits

TEST(ProcStatmParse, FixturesInBytes) {
  const Result<ProcStatm> v1 = ParseProcStatm("71741 15671 1647 1 0 20530 0\n", 4096);
  ASSERT_TRUE(v1.ok()) << v1.error().message;
  EXPECT_EQ(v1->size_bytes, 286964u * 1024);
  EXPECT_EQ(v1->resident_bytes, 62684u * 1024);
  EXPECT_EQ(v1->shared_bytes, 6588u * 1024);
  EXPECT_EQ(v1->anon_bytes(), 56096u * 1024);
}

TEST(ProcStatmParse, UsesThePageSizeGivenAndNeedsOnlyThreeFields) {
  const Result<ProcStatm> statm = ParseProcStatm("10 4 1", 65536);
  ASSERT_TRUE(statm.ok()) << statm.error().message;
  EXPECT_EQ(statm->size_bytes, 10u * 65536);
  EXPECT_EQ(statm->resident_bytes, 4u * 65536);
  EXPECT_EQ(statm->anon_bytes(), 3u * 65536);
}

TEST(ProcStatmParse, SharedAboveResidentGivesZeroAnonNotAWrappedNumber) {
  const Result<ProcStatm> statm = ParseProcStatm("10 4 6 0 0 0 0", 4096);
  ASSERT_TRUE(statm.ok());
  EXPECT_EQ(statm->anon_bytes(), 0u);
}

TEST(ProcStatmParse, ErrorsNameTheFieldAndValue) {
  EXPECT_EQ(ParseProcStatm("", 4096).error().message, "statm field 1 (size) missing: the text is truncated");
  EXPECT_EQ(ParseProcStatm("71741 15671", 4096).error().message,
            "statm field 3 (shared) missing: the text is truncated");
  EXPECT_EQ(ParseProcStatm("71741 -5 1", 4096).error().message,
            "statm field 2 (resident) is not a number: \"-5\"");
  EXPECT_EQ(ParseProcStatm("18446744073709551615 1 1", 4096).error().message,
            "statm field 1 (size) is out of range: 18446744073709551615 pages");
}

TEST(ProcLimitsParse, CapturedFixtureV1) {
  const ProcLimits limits = ParseProcLimits(ReadFixture("cgroup-v1", "self/limits"));
  ASSERT_TRUE(limits.open_files.has_value());
  EXPECT_EQ(limits.open_files->soft, 20000u);
  EXPECT_EQ(limits.open_files->hard, 20000u);
  ASSERT_TRUE(limits.address_space.has_value());
  EXPECT_EQ(limits.address_space->soft, kRLimitUnlimited);
  EXPECT_EQ(limits.address_space->hard, kRLimitUnlimited);
}

TEST(ProcLimitsParse, FixtureV2) {
  const ProcLimits limits = ParseProcLimits(ReadFixture("cgroup-v2", "self/limits"));
  ASSERT_TRUE(limits.open_files.has_value());
  EXPECT_EQ(limits.open_files->soft, 1024u);
  EXPECT_EQ(limits.open_files->hard, 1048576u);
  ASSERT_TRUE(limits.address_space.has_value());
  EXPECT_EQ(limits.address_space->soft, 8589934592u);
  EXPECT_EQ(limits.address_space->hard, kRLimitUnlimited);
}

TEST(ProcLimitsParse, UnlimitedIsTheMaximumValue) {
  const ProcLimits limits =
      ParseProcLimits("Max open files            unlimited            unlimited            files     \n");
  ASSERT_TRUE(limits.open_files.has_value());
  EXPECT_EQ(limits.open_files->soft, UINT64_MAX);
  EXPECT_EQ(limits.open_files->hard, UINT64_MAX);
  EXPECT_EQ(limits.address_space, std::nullopt);
}

TEST(ProcLimitsParse, MissingOrBrokenLinesAreAbsent) {
  const std::string header =
      "Limit                     Soft Limit           Hard Limit           Units     \n";
  EXPECT_EQ(ParseProcLimits("").open_files, std::nullopt);
  EXPECT_EQ(ParseProcLimits(header).open_files, std::nullopt);
  EXPECT_EQ(ParseProcLimits(header).address_space, std::nullopt);
  EXPECT_EQ(ParseProcLimits("Max open files            1024\n").open_files, std::nullopt);  // truncated
  EXPECT_EQ(ParseProcLimits("Max open files            abc                  1024                 files\n")
                .open_files,
            std::nullopt);
  EXPECT_EQ(ParseProcLimits("Max address space         -1                   unlimited            bytes\n")
                .address_space,
            std::nullopt);
  // Other limits whose names start alike must not be taken for these.
  EXPECT_EQ(ParseProcLimits("Max open filesystems      5                    5                    files\n")
                .open_files,
            std::nullopt);
}

TEST(ProcLimitsParse, OneBrokenLimitDoesNotHideTheOther) {
  const ProcLimits limits = ParseProcLimits(
      "Max open files            x                    1024                 files     \n"
      "Max address space         4096                 8192                 bytes     ");
  EXPECT_EQ(limits.open_files, std::nullopt);
  ASSERT_TRUE(limits.address_space.has_value());
  EXPECT_EQ(limits.address_space->soft, 4096u);
  EXPECT_EQ(limits.address_space->hard, 8192u);
}

// ------------------------------------------------------------------------------------------------ /proc/stat
// btime

TEST(BootTimeParse, CapturedFixtures) {
  EXPECT_EQ(ParseBootTime(ReadFixture("cgroup-v1", "stat")), 1795315387u);
  EXPECT_EQ(ParseBootTime(ReadFixture("cgroup-v2", "stat")), 1700000000u);
}

TEST(BootTimeParse, MissingOrBrokenIsAbsent) {
  EXPECT_EQ(ParseBootTime(""), std::nullopt);
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nctxt 5\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime("btime\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime("btime abc\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime("btime 12 13\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime("btimex 12\n"), std::nullopt);
  EXPECT_EQ(ParseBootTime("ctxt 1\nbtime 1700000000"), 1700000000u);
}

// ------------------------------------------------------------------------------------------
// /proc/<pid>/smaps_rollup

TEST(SmapsRollupParse, CapturedFixtureV1InBytes) {
  const SmapsRollup rollup = ParseSmapsRollup(ReadFixture("cgroup-v1", "self/smaps_rollup"));
  EXPECT_EQ(rollup.rss_bytes, 62684 * KiB);
  EXPECT_EQ(rollup.pss_bytes, 61304 * KiB);
  EXPECT_EQ(rollup.pss_anon_bytes, 56096 * KiB);
  EXPECT_EQ(rollup.pss_file_bytes, 5208 * KiB);
  EXPECT_EQ(rollup.pss_shmem_bytes, 0u);
  EXPECT_EQ(rollup.shared_clean_bytes, 1640 * KiB);
  EXPECT_EQ(rollup.shared_dirty_bytes, 0u);
  EXPECT_EQ(rollup.private_clean_bytes, 4948 * KiB);
  EXPECT_EQ(rollup.private_dirty_bytes, 56096 * KiB);
  EXPECT_EQ(rollup.anonymous_bytes, 56096 * KiB);
  EXPECT_EQ(rollup.swap_bytes, 0u);
  EXPECT_EQ(rollup.swap_pss_bytes, 0u);
}

TEST(SmapsRollupParse, FixtureV2InBytes) {
  const SmapsRollup rollup = ParseSmapsRollup(ReadFixture("cgroup-v2", "self/smaps_rollup"));
  EXPECT_EQ(rollup.rss_bytes, 524288 * KiB);
  EXPECT_EQ(rollup.pss_bytes, 510000 * KiB);
  EXPECT_EQ(rollup.pss_anon_bytes, 499000 * KiB);
  EXPECT_EQ(rollup.pss_file_bytes, 8000 * KiB);
  EXPECT_EQ(rollup.pss_shmem_bytes, 3000 * KiB);
  EXPECT_EQ(rollup.shared_clean_bytes, 12000 * KiB);
  EXPECT_EQ(rollup.shared_dirty_bytes, 2000 * KiB);
  EXPECT_EQ(rollup.private_clean_bytes, 10288 * KiB);
  EXPECT_EQ(rollup.private_dirty_bytes, 500000 * KiB);
  EXPECT_EQ(rollup.anonymous_bytes, 500000 * KiB);
  EXPECT_EQ(rollup.swap_bytes, 2048 * KiB);
  EXPECT_EQ(rollup.swap_pss_bytes, 1024 * KiB);
}

TEST(SmapsRollupParse, OldKernelWithoutPssBreakdown) {
  const SmapsRollup rollup = ParseSmapsRollup(
      "00400000-7ffc5c1ba000 ---p 00000000 00:00 0                          [rollup]\n"
      "Rss:                 884 kB\n"
      "Pss:                 134 kB\n"
      "Swap:                  0 kB\n");
  EXPECT_EQ(rollup.rss_bytes, 884 * KiB);
  EXPECT_EQ(rollup.pss_bytes, 134 * KiB);
  EXPECT_EQ(rollup.swap_bytes, 0u);
  EXPECT_EQ(rollup.pss_anon_bytes, std::nullopt);
  EXPECT_EQ(rollup.pss_file_bytes, std::nullopt);
  EXPECT_EQ(rollup.pss_shmem_bytes, std::nullopt);
  EXPECT_EQ(rollup.swap_pss_bytes, std::nullopt);
  EXPECT_EQ(rollup.anonymous_bytes, std::nullopt);
}

TEST(SmapsRollupParse, HeaderOnlyEmptyAndGarbageAreAbsent) {
  const SmapsRollup header_only =
      ParseSmapsRollup("00400000-7ffc5c1ba000 ---p 00000000 00:00 0                          [rollup]\n");
  EXPECT_EQ(header_only.rss_bytes, std::nullopt);
  EXPECT_EQ(header_only.pss_bytes, std::nullopt);
  EXPECT_EQ(ParseSmapsRollup("").rss_bytes, std::nullopt);
  const SmapsRollup garbage = ParseSmapsRollup("Rss: lots kB\nPss: 5 pages\nSwap: 3 kB");
  EXPECT_EQ(garbage.rss_bytes, std::nullopt);
  EXPECT_EQ(garbage.pss_bytes, std::nullopt);
  EXPECT_EQ(garbage.swap_bytes, 3 * KiB);
}

TEST(KibLines, ParsesKibibytesAsBytes) {
  EXPECT_EQ(ParseKibibytesAsBytes("0 kB"), 0u);
  EXPECT_EQ(ParseKibibytesAsBytes("3 kB"), 3 * KiB);
  EXPECT_EQ(ParseKibibytesAsBytes("   3    kB  "), 3 * KiB);
  EXPECT_EQ(ParseKibibytesAsBytes("18014398509481983 kB"), 18014398509481983u * KiB);  // largest that fits
  EXPECT_EQ(ParseKibibytesAsBytes("18014398509481984 kB"), std::nullopt);
  EXPECT_EQ(ParseKibibytesAsBytes("3"), std::nullopt);
  EXPECT_EQ(ParseKibibytesAsBytes("3 KB"), std::nullopt);
  EXPECT_EQ(ParseKibibytesAsBytes("kB"), std::nullopt);
  EXPECT_EQ(ParseKibibytesAsBytes(""), std::nullopt);
}

TEST(KibLines, SplitsKeyAndTrimmedValue) {
  std::string_view key;
  std::string_view value;
  ASSERT_TRUE(SplitKeyValue("VmRSS:\t   1724 kB", &key, &value));
  EXPECT_EQ(key, "VmRSS");
  EXPECT_EQ(value, "1724 kB");
  EXPECT_FALSE(SplitKeyValue("no colon here", &key, &value));
}

// --------------------------------------------------------------------------------------------------- fd
// targets

TEST(FdTypeClassify, RecognisesTheKernelsTargetForms) {
  EXPECT_EQ(ClassifyFdTarget("socket:[123456]"), FdType::kSocket);
  EXPECT_EQ(ClassifyFdTarget("pipe:[98765]"), FdType::kPipe);
  EXPECT_EQ(ClassifyFdTarget("anon_inode:[eventfd]"), FdType::kAnonInode);
  EXPECT_EQ(ClassifyFdTarget("anon_inode:inotify"), FdType::kAnonInode);
  EXPECT_EQ(ClassifyFdTarget("anon_inode:[eventpoll]"), FdType::kAnonInode);
  EXPECT_EQ(ClassifyFdTarget("anon_inode:[timerfd]"), FdType::kAnonInode);
  EXPECT_EQ(ClassifyFdTarget("/var/lib/app/data.db"), FdType::kFile);
  EXPECT_EQ(ClassifyFdTarget("/var/lib/app"), FdType::kFile);  // directory
  EXPECT_EQ(ClassifyFdTarget("/tmp/x (deleted)"), FdType::kFile);
  EXPECT_EQ(ClassifyFdTarget("/memfd:jit (deleted)"), FdType::kFile);
  EXPECT_EQ(ClassifyFdTarget("/dev/shm/sem.lock"), FdType::kFile);
  EXPECT_EQ(ClassifyFdTarget("/dev/shm"), FdType::kFile);
  EXPECT_EQ(ClassifyFdTarget("/dev/null"), FdType::kOther);
  EXPECT_EQ(ClassifyFdTarget("/dev/pts/0"), FdType::kOther);
  EXPECT_EQ(ClassifyFdTarget("/dev"), FdType::kOther);
  EXPECT_EQ(ClassifyFdTarget("/devices.txt"), FdType::kFile);
  EXPECT_EQ(ClassifyFdTarget("/dev/shmem-not-shm"), FdType::kOther);
  EXPECT_EQ(ClassifyFdTarget("net:[4026531840]"), FdType::kOther);
  EXPECT_EQ(ClassifyFdTarget("relative/path"), FdType::kOther);
  EXPECT_EQ(ClassifyFdTarget("socket"), FdType::kOther);
  EXPECT_EQ(ClassifyFdTarget(""), FdType::kOther);
}

TEST(FdTypeClassify, Names) {
  EXPECT_EQ(FdTypeName(FdType::kSocket), "socket");
  EXPECT_EQ(FdTypeName(FdType::kPipe), "pipe");
  EXPECT_EQ(FdTypeName(FdType::kFile), "file");
  EXPECT_EQ(FdTypeName(FdType::kAnonInode), "anon_inode");
  EXPECT_EQ(FdTypeName(FdType::kOther), "other");
}

// ---------------------------------------------------------------------------------------------- kernel
// release

TEST(KernelRelease, ComparesMajorAndMinor) {
  EXPECT_TRUE(KernelReleaseAtLeast("6.2.0", 6, 2));
  EXPECT_TRUE(KernelReleaseAtLeast("6.18.44-fc-v769", 6, 2));
  EXPECT_TRUE(KernelReleaseAtLeast("7.0.1", 6, 2));
  EXPECT_TRUE(KernelReleaseAtLeast("10.1", 6, 2));
  EXPECT_TRUE(KernelReleaseAtLeast("6.10-rc1", 6, 2));
  EXPECT_FALSE(KernelReleaseAtLeast("6.1.99", 6, 2));
  EXPECT_FALSE(KernelReleaseAtLeast("5.15.0-91-generic", 6, 2));
  EXPECT_FALSE(KernelReleaseAtLeast("4.19.0", 6, 2));
  EXPECT_FALSE(KernelReleaseAtLeast("", 6, 2));
  EXPECT_FALSE(KernelReleaseAtLeast("abc", 6, 2));
  EXPECT_FALSE(KernelReleaseAtLeast("6", 6, 2));
  EXPECT_FALSE(KernelReleaseAtLeast("6.x", 6, 2));
}

}  // namespace
}  // namespace leakwatch::internal
