// The SourceReaders over the fixture trees (cgroup-v1: files captured from a real kernel; cgroup-v2: the same
// formats with other values and a comm with spaces and parentheses), and their error policy.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/procfs/fd_type_reader.h"
#include "agent/procfs/proc_statm.h"
#include "agent/procfs/proc_status.h"
#include "agent/procfs/process_reader.h"
#include "agent/procfs/read_source.h"
#include "agent/procfs/smaps_rollup_reader.h"
#include "procfs_test_support.h"
#include "tests/support/recording_error_sink.h"

namespace leakwatch::internal {
namespace {

using test_support::RecordingErrorSink;
using testing::FixtureProcRoot;
using testing::TempProcTree;

constexpr double KiB = 1024.0;
constexpr double kUnlimited = 18446744073709551615.0;

// What each fixture tree holds (see tests/fixtures/procfs-capture.md).
struct TreeFacts {
  std::string tree;
  // status
  double rss, vm_size, hwm, rss_anon, rss_file, rss_shmem, swap;
  // stat
  double threads, utime_ticks, stime_ticks, starttime_ticks;
  double boot_time;
  // limits file
  double max_fds, max_fds_hard, address_space;
  // smaps_rollup
  double smaps[12];
};

// clang-format off
const TreeFacts kV1{"cgroup-v1",
                    62684 * KiB, 286964 * KiB, 62684 * KiB, 56096 * KiB, 6588 * KiB, 0, 0,
                    4, 46, 4, 53760,
                    1795315387,
                    20000, 20000, kUnlimited,
                    {62684 * KiB, 61304 * KiB, 56096 * KiB, 5208 * KiB, 0, 1640 * KiB, 0, 4948 * KiB,
                     56096 * KiB, 56096 * KiB, 0, 0}};
const TreeFacts kV2{"cgroup-v2",
                    524288 * KiB, 1048576 * KiB, 600000 * KiB, 500000 * KiB, 20000 * KiB, 4288 * KiB, 2048 * KiB,
                    17, 1234, 567, 987654,
                    1700000000,
                    1024, 1048576, 8589934592.0,
                    {524288 * KiB, 510000 * KiB, 499000 * KiB, 8000 * KiB, 3000 * KiB, 12000 * KiB, 2000 * KiB,
                     10288 * KiB, 500000 * KiB, 500000 * KiB, 2048 * KiB, 1024 * KiB}};
// clang-format on

// The process signals by source.
const std::vector<Signal> kStatmSignals{Signal::kResidentMemoryBytes, Signal::kVirtualMemoryBytes,
                                        Signal::kRssAnonBytes};
const std::vector<Signal> kThreadSignals{Signal::kThreads};
const std::vector<Signal> kCpuSignals{Signal::kCpuUserSecondsTotal, Signal::kCpuSystemSecondsTotal,
                                      Signal::kCpuSecondsTotal};
const std::vector<Signal> kStatusSignals{Signal::kResidentMemoryPeakBytes, Signal::kRssFileBytes,
                                         Signal::kRssShmemBytes, Signal::kSwapBytes};
const std::vector<Signal> kStatSignals{Signal::kStartTimeSeconds};
const std::vector<Signal> kLimitsSignals{Signal::kMaxFds, Signal::kMaxFdsHard,
                                         Signal::kVirtualMemoryMaxBytes};
const std::vector<Signal> kSmapsSignals{
    Signal::kSmapsRssBytes,         Signal::kSmapsPssBytes,          Signal::kSmapsPssAnonBytes,
    Signal::kSmapsPssFileBytes,     Signal::kSmapsPssShmemBytes,     Signal::kSmapsSharedCleanBytes,
    Signal::kSmapsSharedDirtyBytes, Signal::kSmapsPrivateCleanBytes, Signal::kSmapsPrivateDirtyBytes,
    Signal::kSmapsAnonymousBytes,   Signal::kSmapsSwapBytes,         Signal::kSmapsSwapPssBytes};
const std::vector<Signal> kFdTypeSignals{Signal::kOpenFdsSocket, Signal::kOpenFdsPipe,
                                         Signal::kOpenFdsFile,   Signal::kOpenFdsAnonInode,
                                         Signal::kOpenFdsOther,  Signal::kOpenFdsScanTruncated};

// fd symlinks for a copied tree: 2 sockets, 1 pipe, 2 files, 1 anon inode, 1 other.
const std::vector<std::string> kFdTargets{
    "/dev/null",        "pipe:[1001]",   "socket:[2001]", "anon_inode:[eventfd]",
    "/var/log/app.log", "/dev/shm/ring", "socket:[2002]"};

double TicksPerSecond() { return static_cast<double>(::sysconf(_SC_CLK_TCK)); }

// A snapshot where every signal holds a stale value, to prove a failing read clears what it owns.
Snapshot StaleSnapshot() {
  Snapshot snapshot;
  for (size_t i = 0; i < kSignalCount; ++i) snapshot.set(static_cast<Signal>(i), -1.0);
  return snapshot;
}

void ExpectAbsent(const Snapshot& snapshot, const std::vector<Signal>& signals) {
  for (Signal signal : signals) EXPECT_FALSE(snapshot.has(signal)) << GetSignalInfo(signal).key;
}

void ExpectPresent(const Snapshot& snapshot, const std::vector<Signal>& signals) {
  for (Signal signal : signals) EXPECT_TRUE(snapshot.has(signal)) << GetSignalInfo(signal).key;
}

void PrintTo(const TreeFacts& facts, std::ostream* out) { *out << facts.tree; }

class ProcfsReadersOnFixtures : public ::testing::TestWithParam<TreeFacts> {};

void ExpectStatusAndStat(const Snapshot& s, const TreeFacts& f) {
  EXPECT_EQ(s.get(Signal::kResidentMemoryBytes), f.rss);
  EXPECT_EQ(s.get(Signal::kVirtualMemoryBytes), f.vm_size);
  EXPECT_EQ(s.get(Signal::kResidentMemoryPeakBytes), f.hwm);
  EXPECT_EQ(s.get(Signal::kRssAnonBytes), f.rss_anon);
  EXPECT_EQ(s.get(Signal::kRssFileBytes), f.rss_file);
  EXPECT_EQ(s.get(Signal::kRssShmemBytes), f.rss_shmem);
  EXPECT_EQ(s.get(Signal::kSwapBytes), f.swap);
  const double hz = TicksPerSecond();
  EXPECT_EQ(s.get(Signal::kThreads), f.threads);
  EXPECT_DOUBLE_EQ(s.get(Signal::kCpuUserSecondsTotal).value_or(-1), f.utime_ticks / hz);
  EXPECT_DOUBLE_EQ(s.get(Signal::kCpuSystemSecondsTotal).value_or(-1), f.stime_ticks / hz);
  EXPECT_DOUBLE_EQ(s.get(Signal::kCpuSecondsTotal).value_or(-1), (f.utime_ticks + f.stime_ticks) / hz);
  EXPECT_DOUBLE_EQ(s.get(Signal::kStartTimeSeconds).value_or(-1), f.boot_time + f.starttime_ticks / hz);
}

TEST_P(ProcfsReadersOnFixtures, ProcessReaderReadsEverySignalOfTheTree) {
  const TreeFacts& facts = GetParam();
  ProcessReader reader(ProcessReaderOptions{
      .proc_root = FixtureProcRoot(facts.tree), .limits_from_syscall = false, .cpu_from_syscall = false});
  Snapshot snapshot;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);

  ExpectStatusAndStat(snapshot, facts);
  EXPECT_EQ(snapshot.get(Signal::kMaxFds), facts.max_fds);
  EXPECT_EQ(snapshot.get(Signal::kMaxFdsHard), facts.max_fds_hard);
  EXPECT_EQ(snapshot.get(Signal::kVirtualMemoryMaxBytes), facts.address_space);
  // The fixture trees hold no fd directory: exactly that source fails, once.
  EXPECT_FALSE(snapshot.has(Signal::kOpenFds));
  ASSERT_EQ(errors.reports.size(), 1u);
  EXPECT_EQ(errors.reports[0].first, Source::kOpenFds);
  EXPECT_EQ(errors.reports[0].second, FixtureProcRoot(facts.tree) + "/self/fd: No such file or directory");
  EXPECT_EQ(snapshot.present_count(), kStatmSignals.size() + kThreadSignals.size() + kCpuSignals.size() +
                                          kStatusSignals.size() + kStatSignals.size() +
                                          kLimitsSignals.size());
}

TEST_P(ProcfsReadersOnFixtures, ARegularTickReadsTheEveryTickSourcesOnly) {
  const TreeFacts& facts = GetParam();
  ProcessReader reader(ProcessReaderOptions{
      .proc_root = FixtureProcRoot(facts.tree), .limits_from_syscall = false, .cpu_from_syscall = false});
  Snapshot snapshot;
  RecordingErrorSink errors;
  reader.Read(TickKind::kRegular, &snapshot, errors);
  ExpectPresent(snapshot, kStatmSignals);
  ExpectPresent(snapshot, kThreadSignals);
  ExpectPresent(snapshot, kCpuSignals);
  ExpectPresent(snapshot, kLimitsSignals);
  ExpectAbsent(snapshot, kStatusSignals);
  ExpectAbsent(snapshot, kStatSignals);
  for (size_t i = 0; i < kSignalCount; ++i) {
    const auto signal = static_cast<Signal>(i);
    if (snapshot.has(signal)) {
      EXPECT_EQ(GetSignalInfo(signal).cadence, Cadence::kEveryTick) << GetSignalInfo(signal).key;
    }
  }
  for (const auto& [source, message] : errors.reports) {
    EXPECT_EQ(SourceCadence(source), Cadence::kEveryTick) << SourceName(source) << ": " << message;
  }
}

TEST_P(ProcfsReadersOnFixtures, StatmAgreesWithStatusAsTheKernelCountersDo) {
  const TreeFacts& facts = GetParam();
  const ProcStatus status = ParseProcStatus(testing::ReadFixture(facts.tree, "self/status"));
  const Result<ProcStatm> statm = ParseProcStatm(testing::ReadFixture(facts.tree, "self/statm"), 4096);
  ASSERT_TRUE(statm.ok()) << statm.error().message;
  EXPECT_EQ(statm->resident_bytes, status.vm_rss_bytes);
  EXPECT_EQ(statm->size_bytes, status.vm_size_bytes);
  EXPECT_EQ(statm->anon_bytes(), status.rss_anon_bytes);
  EXPECT_EQ(statm->shared_bytes, status.rss_file_bytes.value_or(0) + status.rss_shmem_bytes.value_or(0));
}

TEST_P(ProcfsReadersOnFixtures, ProcessReaderCountsFdsOfACopiedTreeOnBothPaths) {
  const TreeFacts& facts = GetParam();
  TempProcTree tree(facts.tree);
  tree.MakeFdDirectory("self", kFdTargets);
  for (bool force_getdents : {false, true}) {
    SCOPED_TRACE(force_getdents ? "getdents forced" : "default");
    ProcessReader reader(ProcessReaderOptions{.proc_root = tree.root(),
                                              .limits_from_syscall = false,
                                              .cpu_from_syscall = false,
                                              .force_getdents = force_getdents});
    // A copied tree is not procfs: its st_size is not an fd count, so the getdents path must be chosen.
    EXPECT_FALSE(reader.fd_counter().uses_stat_size());
    Snapshot snapshot;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snapshot, errors);
    EXPECT_TRUE(errors.reports.empty()) << errors.reports.front().second;
    EXPECT_EQ(snapshot.get(Signal::kOpenFds), 7.0);
    ExpectStatusAndStat(snapshot, facts);
    EXPECT_EQ(snapshot.present_count(), kStatmSignals.size() + kThreadSignals.size() + kCpuSignals.size() +
                                            kStatusSignals.size() + kStatSignals.size() +
                                            kLimitsSignals.size() + 1);
  }
}

TEST_P(ProcfsReadersOnFixtures, EachMissingFileClearsExactlyItsSourceAndReportsItOnce) {
  const TreeFacts& facts = GetParam();
  struct Case {
    std::string file;
    Source source;
    std::vector<Signal> signals;
  };
  const std::vector<Case> cases{{"self/statm", Source::kProcStatm, kStatmSignals},
                                {"self/task", Source::kThreads, kThreadSignals},
                                {"self/status", Source::kProcStatus, kStatusSignals},
                                {"self/limits", Source::kLimits, kLimitsSignals},
                                {"self/fd", Source::kOpenFds, {Signal::kOpenFds}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    TempProcTree tree(facts.tree);
    tree.MakeFdDirectory("self", kFdTargets);
    std::filesystem::remove_all(tree.root() + "/" + c.file);
    ProcessReader reader(ProcessReaderOptions{
        .proc_root = tree.root(), .limits_from_syscall = false, .cpu_from_syscall = false});
    Snapshot snapshot = StaleSnapshot();
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snapshot, errors);

    ASSERT_EQ(errors.reports.size(), 1u);
    EXPECT_EQ(errors.reports[0].first, c.source);
    EXPECT_EQ(errors.reports[0].second, tree.root() + "/" + c.file + ": No such file or directory");
    ExpectAbsent(snapshot, c.signals);
    for (const auto& others : {kStatmSignals, kThreadSignals, kCpuSignals, kStatusSignals, kStatSignals,
                               kLimitsSignals, std::vector<Signal>{Signal::kOpenFds}}) {
      if (others == c.signals) continue;
      for (Signal signal : others) {
        EXPECT_TRUE(snapshot.has(signal)) << GetSignalInfo(signal).key;
        EXPECT_NE(snapshot.get(signal), -1.0) << GetSignalInfo(signal).key << " kept its stale value";
      }
    }
  }
}

TEST_P(ProcfsReadersOnFixtures, AMissingStatFileFailsCpuEveryTickAndStartTimeOnSlowTicks) {
  const TreeFacts& facts = GetParam();
  TempProcTree tree(facts.tree);
  tree.MakeFdDirectory("self", kFdTargets);
  tree.Remove("self/stat");
  ProcessReader reader(ProcessReaderOptions{
      .proc_root = tree.root(), .limits_from_syscall = false, .cpu_from_syscall = false});
  for (TickKind tick : {TickKind::kRegular, TickKind::kSlow}) {
    Snapshot snapshot = StaleSnapshot();
    RecordingErrorSink errors;
    reader.Read(tick, &snapshot, errors);
    EXPECT_EQ(errors.Count(Source::kCpu), 1u);
    EXPECT_EQ(errors.Count(Source::kProcStat), tick == TickKind::kSlow ? 1u : 0u);
    EXPECT_EQ(errors.reports.size(), tick == TickKind::kSlow ? 2u : 1u);
    ExpectAbsent(snapshot, kCpuSignals);
    if (tick == TickKind::kSlow) ExpectAbsent(snapshot, kStatSignals);
    ExpectPresent(snapshot, kStatmSignals);
  }
}

TEST_P(ProcfsReadersOnFixtures, TheStartTimeIsReadOnceAndKept) {
  const TreeFacts& facts = GetParam();
  TempProcTree tree(facts.tree);
  tree.MakeFdDirectory("self", kFdTargets);
  ProcessReader reader(ProcessReaderOptions{
      .proc_root = tree.root(), .limits_from_syscall = false, .cpu_from_syscall = false});
  Snapshot first;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &first, errors);
  ASSERT_TRUE(first.has(Signal::kStartTimeSeconds));
  // Rewrite stat in place (the reader keeps it open) with other CPU times and another start time: the CPU
  // times follow, the start time does not.
  const std::string fake = "1 (x) S 0 0 0 0 0 0 0 0 0 0 700 300 0 0 0 0 1 0 5 4096 1\n";
  tree.Write("self/stat", fake);
  Snapshot second;
  reader.Read(TickKind::kSlow, &second, errors);
  EXPECT_TRUE(errors.reports.empty());
  EXPECT_DOUBLE_EQ(second.get(Signal::kCpuSecondsTotal).value_or(-1), 1000 / TicksPerSecond());
  EXPECT_EQ(second.get(Signal::kStartTimeSeconds), first.get(Signal::kStartTimeSeconds));
}

TEST_P(ProcfsReadersOnFixtures, ATruncatedStatFileIsOneErrorNamingPathAndField) {
  const TreeFacts& facts = GetParam();
  TempProcTree tree(facts.tree);
  tree.MakeFdDirectory("self", kFdTargets);
  // Keep the text up to field 13: the n-th space after the last ')' starts field n + 2.
  const std::string stat = testing::ReadFixture(facts.tree, "self/stat");
  size_t cut = stat.rfind(')');
  for (int space = 0; space < 12 && cut != std::string::npos; ++space) cut = stat.find(' ', cut + 1);
  ASSERT_NE(cut, std::string::npos);
  tree.Write("self/stat", stat.substr(0, cut));
  ProcessReader reader(ProcessReaderOptions{
      .proc_root = tree.root(), .limits_from_syscall = false, .cpu_from_syscall = false});
  Snapshot snapshot = StaleSnapshot();
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  ASSERT_EQ(errors.reports.size(), 2u);
  for (const auto& [source, message] : errors.reports) {
    EXPECT_TRUE(source == Source::kCpu || source == Source::kProcStat) << SourceName(source);
    EXPECT_EQ(message, tree.root() + "/self/stat: stat field 14 (utime) missing: the text is truncated");
  }
  ExpectAbsent(snapshot, kStatSignals);
  ExpectAbsent(snapshot, kCpuSignals);
  ExpectPresent(snapshot, kStatusSignals);
}

TEST_P(ProcfsReadersOnFixtures, MissingBootTimeLeavesOnlyStartTimeAbsentWithoutError) {
  const TreeFacts& facts = GetParam();
  TempProcTree tree(facts.tree);
  tree.MakeFdDirectory("self", kFdTargets);
  tree.Remove("stat");
  ProcessReader reader(ProcessReaderOptions{
      .proc_root = tree.root(), .limits_from_syscall = false, .cpu_from_syscall = false});
  Snapshot snapshot = StaleSnapshot();
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  EXPECT_TRUE(errors.reports.empty());
  EXPECT_FALSE(snapshot.has(Signal::kStartTimeSeconds));
  EXPECT_EQ(snapshot.get(Signal::kThreads), facts.threads);
  ExpectPresent(snapshot,
                {Signal::kCpuSecondsTotal, Signal::kCpuUserSecondsTotal, Signal::kCpuSystemSecondsTotal});
}

TEST_P(ProcfsReadersOnFixtures, AFileThatComesBackIsReadAgain) {
  const TreeFacts& facts = GetParam();
  TempProcTree tree(facts.tree);
  tree.MakeFdDirectory("self", kFdTargets);
  const std::string status = testing::ReadFixture(facts.tree, "self/status");
  tree.Remove("self/status");
  ProcessReader reader(ProcessReaderOptions{
      .proc_root = tree.root(), .limits_from_syscall = false, .cpu_from_syscall = false});
  Snapshot first;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &first, errors);
  EXPECT_EQ(errors.Count(Source::kProcStatus), 1u);
  tree.Write("self/status", status);
  Snapshot second;
  reader.Read(TickKind::kSlow, &second, errors);
  EXPECT_EQ(errors.reports.size(), 1u);
  EXPECT_EQ(second.get(Signal::kRssFileBytes), facts.rss_file);
}

TEST_P(ProcfsReadersOnFixtures, LimitsFromSyscallUseGetrlimitForSelf) {
  const TreeFacts& facts = GetParam();
  ProcessReader reader(
      ProcessReaderOptions{.proc_root = FixtureProcRoot(facts.tree)});  // limits_from_syscall
  Snapshot snapshot;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  struct rlimit open_files {};
  struct rlimit address_space {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &open_files), 0);
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &address_space), 0);
  EXPECT_EQ(snapshot.get(Signal::kMaxFds), static_cast<double>(open_files.rlim_cur));
  EXPECT_EQ(snapshot.get(Signal::kMaxFdsHard), static_cast<double>(open_files.rlim_max));
  EXPECT_EQ(snapshot.get(Signal::kVirtualMemoryMaxBytes), static_cast<double>(address_space.rlim_cur));
  EXPECT_EQ(errors.Count(Source::kLimits), 0u);
}

TEST_P(ProcfsReadersOnFixtures, OtherPidsReadTheLimitsFileEvenWithLimitsFromSyscall) {
  const TreeFacts& facts = GetParam();
  TempProcTree tree(facts.tree);
  std::filesystem::copy(tree.root() + "/self", tree.root() + "/12345",
                        std::filesystem::copy_options::recursive);
  tree.MakeFdDirectory("12345", kFdTargets);
  ProcessReader reader(
      ProcessReaderOptions{.proc_root = tree.root(), .pid = "12345", .limits_from_syscall = true});
  Snapshot snapshot;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  EXPECT_TRUE(errors.reports.empty());
  EXPECT_EQ(snapshot.get(Signal::kMaxFds), facts.max_fds);
  EXPECT_EQ(snapshot.get(Signal::kMaxFdsHard), facts.max_fds_hard);
  EXPECT_EQ(snapshot.get(Signal::kVirtualMemoryMaxBytes), facts.address_space);
  // Counting another pid's fds subtracts nothing.
  EXPECT_EQ(snapshot.get(Signal::kOpenFds), 7.0);
  EXPECT_EQ(snapshot.get(Signal::kResidentMemoryBytes), facts.rss);
}

TEST_P(ProcfsReadersOnFixtures, SmapsRollupReaderReadsEveryField) {
  const TreeFacts& facts = GetParam();
  SmapsRollupReader reader(FixtureProcRoot(facts.tree), "self");
  EXPECT_EQ(reader.path(), FixtureProcRoot(facts.tree) + "/self/smaps_rollup");
  Snapshot snapshot;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  EXPECT_TRUE(errors.reports.empty());
  for (size_t i = 0; i < kSmapsSignals.size(); ++i) {
    EXPECT_EQ(snapshot.get(kSmapsSignals[i]), facts.smaps[i]) << GetSignalInfo(kSmapsSignals[i]).key;
  }
  EXPECT_EQ(snapshot.present_count(), kSmapsSignals.size());
}

TEST_P(ProcfsReadersOnFixtures, SmapsRollupReaderMissingFile) {
  TempProcTree tree(GetParam().tree);
  tree.Remove("self/smaps_rollup");
  SmapsRollupReader reader(tree.root(), "self");
  Snapshot snapshot = StaleSnapshot();
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  ASSERT_EQ(errors.reports.size(), 1u);
  EXPECT_EQ(errors.reports[0].first, Source::kSmapsRollup);
  EXPECT_EQ(errors.reports[0].second, tree.root() + "/self/smaps_rollup: No such file or directory");
  ExpectAbsent(snapshot, kSmapsSignals);
  EXPECT_EQ(snapshot.present_count(), kSignalCount - kSmapsSignals.size());  // nothing else touched
}

TEST_P(ProcfsReadersOnFixtures, FdTypeReaderCountsTypesOfACopiedTree) {
  TempProcTree tree(GetParam().tree);
  tree.MakeFdDirectory("self", kFdTargets);
  FdTypeReader reader(tree.root(), "self");
  Snapshot snapshot;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  EXPECT_TRUE(errors.reports.empty());
  EXPECT_EQ(snapshot.get(Signal::kOpenFdsSocket), 2.0);
  EXPECT_EQ(snapshot.get(Signal::kOpenFdsPipe), 1.0);
  EXPECT_EQ(snapshot.get(Signal::kOpenFdsFile), 2.0);
  EXPECT_EQ(snapshot.get(Signal::kOpenFdsAnonInode), 1.0);
  EXPECT_EQ(snapshot.get(Signal::kOpenFdsOther), 1.0);
  EXPECT_EQ(snapshot.get(Signal::kOpenFdsScanTruncated), 0.0);
  EXPECT_EQ(snapshot.present_count(), kFdTypeSignals.size());
}

TEST_P(ProcfsReadersOnFixtures, FdTypeReaderCapSetsTruncated) {
  TempProcTree tree(GetParam().tree);
  tree.MakeFdDirectory("self", kFdTargets);
  FdTypeReader reader(tree.root(), "self", 4);
  Snapshot snapshot;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  EXPECT_TRUE(errors.reports.empty());
  EXPECT_EQ(snapshot.get(Signal::kOpenFdsScanTruncated), 1.0);
  double sum = 0;
  for (size_t i = 0; i + 1 < kFdTypeSignals.size(); ++i)
    sum += snapshot.get(kFdTypeSignals[i]).value_or(-100);
  EXPECT_EQ(sum, 4.0);
}

TEST_P(ProcfsReadersOnFixtures, FdTypeReaderMissingDirectory) {
  FdTypeReader reader(FixtureProcRoot(GetParam().tree), "self");
  Snapshot snapshot = StaleSnapshot();
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  ASSERT_EQ(errors.reports.size(), 1u);
  EXPECT_EQ(errors.reports[0].first, Source::kFdTypes);
  EXPECT_EQ(errors.reports[0].second,
            FixtureProcRoot(GetParam().tree) + "/self/fd: No such file or directory");
  ExpectAbsent(snapshot, kFdTypeSignals);
  EXPECT_EQ(snapshot.present_count(), kSignalCount - kFdTypeSignals.size());
}

INSTANTIATE_TEST_SUITE_P(Trees, ProcfsReadersOnFixtures, ::testing::Values(kV1, kV2),
                         [](const ::testing::TestParamInfo<TreeFacts>& info) {
                           return info.param.tree == "cgroup-v1" ? "CgroupV1" : "CgroupV2";
                         });

TEST(ProcfsReadSource, AnExceptionBecomesOneReportAndClearsTheSignals) {
  Snapshot snapshot;
  snapshot.set(Signal::kSmapsRssBytes, 5.0);
  snapshot.set(Signal::kOpenFds, 3.0);
  RecordingErrorSink errors;
  ReadSource(Source::kSmapsRollup, {Signal::kSmapsRssBytes, Signal::kSmapsPssBytes}, &snapshot, errors,
             [&]() -> Status {
               snapshot.set(Signal::kSmapsPssBytes, 1.0);
               throw std::runtime_error("boom");
             });
  ASSERT_EQ(errors.reports.size(), 1u);
  EXPECT_EQ(errors.reports[0].first, Source::kSmapsRollup);
  EXPECT_EQ(errors.reports[0].second, "unexpected exception: boom");
  EXPECT_FALSE(snapshot.has(Signal::kSmapsRssBytes));
  EXPECT_FALSE(snapshot.has(Signal::kSmapsPssBytes));
  EXPECT_EQ(snapshot.get(Signal::kOpenFds), 3.0);
}

TEST(ProcfsReadSource, SuccessReportsNothing) {
  Snapshot snapshot;
  RecordingErrorSink errors;
  ReadSource(Source::kLimits, {Signal::kMaxFds}, &snapshot, errors, [&]() -> Status {
    snapshot.set(Signal::kMaxFds, 7.0);
    return OkStatus();
  });
  EXPECT_TRUE(errors.reports.empty());
  EXPECT_EQ(snapshot.get(Signal::kMaxFds), 7.0);
}

}  // namespace
}  // namespace leakwatch::internal
