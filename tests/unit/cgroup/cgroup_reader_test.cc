// CgroupReader over the fixture trees: exact values, missing files per source, no cgroup, relocation.
//
// Every expected number below was computed by hand from the fixture files (see
// tests/fixtures/cgroup-capture.md).

#include "agent/cgroup/cgroup_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/support/recording_error_sink.h"
#include "tests/unit/cgroup/cgroup_test_support.h"

namespace leakwatch::internal {
namespace {

using cgroup_test::kV1Memory;
using cgroup_test::kV1MemoryUnlimited;
using cgroup_test::kV1Pids;
using cgroup_test::kV2CgroupPath;
using cgroup_test::kV2PodDir;
using cgroup_test::RootsOf;
using cgroup_test::V2Dir;
using std::chrono::seconds;
using test_support::RecordingErrorSink;
using test_support::TempTree;
using ::testing::HasSubstr;
using S = Signal;

// Every signal the reader owns, with its expected value (nullopt: absent).
using Expected = std::map<Signal, std::optional<double>>;

const std::vector<Signal>& PsiSignals() {
  static const std::vector<Signal> k = {
      S::kMemoryPressureSomeAvg10,        S::kMemoryPressureSomeAvg60,       S::kMemoryPressureSomeAvg300,
      S::kMemoryPressureFullAvg10,        S::kMemoryPressureFullAvg60,       S::kMemoryPressureFullAvg300,
      S::kMemoryPressureSomeSecondsTotal, S::kMemoryPressureFullSecondsTotal};
  return k;
}

// tests/fixtures/cgroup-v1: captured on this project's build machine (kernel 6.18, cgroup v1 memory + pids).
Expected V1Expected() {
  return {
      {S::kCgroupMemoryUsageBytes, 36220928},        // memory.usage_in_bytes
      {S::kCgroupMemoryLimitBytes, 268435456},       // memory.limit_in_bytes (256 MiB)
      {S::kCgroupMemoryHighBytes, std::nullopt},     // v2 only
      {S::kCgroupMemoryWorkingSetBytes, 27828224},   // 36220928 - total_inactive_file 8392704
      {S::kCgroupMemoryAnonBytes, 25333760},         // total_rss
      {S::kCgroupMemoryFileBytes, 10489856},         // total_cache
      {S::kCgroupMemoryKernelBytes, 393216},         // memory.kmem.usage_in_bytes
      {S::kCgroupMemorySockBytes, 1073152},          // memory.kmem.tcp.usage_in_bytes
      {S::kCgroupMemoryShmemBytes, 2097152},         // total_shmem
      {S::kCgroupMemoryInactiveFileBytes, 8392704},  // total_inactive_file
      {S::kCgroupMemorySwapBytes, 0},                // memsw 36220928 - usage 36220928
      {S::kCgroupMemoryEventsLowTotal, std::nullopt},
      {S::kCgroupMemoryEventsHighTotal, std::nullopt},
      {S::kCgroupMemoryEventsMaxTotal, 36},  // memory.failcnt
      {S::kCgroupMemoryEventsOomTotal, std::nullopt},
      {S::kCgroupMemoryEventsOomKillTotal, 1},  // memory.oom_control oom_kill
      {S::kCgroupPidsCurrent, 2},
      {S::kCgroupPidsMax, 128},
      {S::kMemoryPressureSomeAvg10, 0.0},  // /proc/pressure/memory
      {S::kMemoryPressureSomeAvg60, 0.0},
      {S::kMemoryPressureSomeAvg300, 0.0},
      {S::kMemoryPressureFullAvg10, 0.0},
      {S::kMemoryPressureFullAvg60, 0.0},
      {S::kMemoryPressureFullAvg300, 0.0},
      {S::kMemoryPressureSomeSecondsTotal, 401 / 1e6},  // total=401 (microseconds)
      {S::kMemoryPressureFullSecondsTotal, 353 / 1e6},
  };
}

// tests/fixtures/cgroup-v2: written by hand to the formats of Documentation/admin-guide/cgroup-v2.rst.
Expected V2Expected() {
  return {
      {S::kCgroupMemoryUsageBytes, 230686720},  // memory.current
      {S::kCgroupMemoryLimitBytes,
       536870912},  // min(container max, burstable max, pod 512 MiB, kubepods 7.3 GiB)
      {S::kCgroupMemoryHighBytes, 402653184},        // memory.high (384 MiB)
      {S::kCgroupMemoryWorkingSetBytes, 197132288},  // 230686720 - inactive_file 33554432
      {S::kCgroupMemoryAnonBytes, 157286400},
      {S::kCgroupMemoryFileBytes, 62914560},
      {S::kCgroupMemoryKernelBytes, 9437184},
      {S::kCgroupMemorySockBytes, 1048576},
      {S::kCgroupMemoryShmemBytes, 4194304},
      {S::kCgroupMemoryInactiveFileBytes, 33554432},
      {S::kCgroupMemorySwapBytes, 4194304},  // memory.swap.current
      {S::kCgroupMemoryEventsLowTotal, 0},
      {S::kCgroupMemoryEventsHighTotal, 1843},
      {S::kCgroupMemoryEventsMaxTotal, 57},
      {S::kCgroupMemoryEventsOomTotal, 2},
      {S::kCgroupMemoryEventsOomKillTotal, 1},
      {S::kCgroupPidsCurrent, 37},
      {S::kCgroupPidsMax, std::nullopt},          // "max"
      {S::kMemoryPressureSomeAvg10, 2.04 / 100},  // the cgroup's memory.pressure
      {S::kMemoryPressureSomeAvg60, 1.17 / 100},
      {S::kMemoryPressureSomeAvg300, 0.31 / 100},
      {S::kMemoryPressureFullAvg10, 1.12 / 100},
      {S::kMemoryPressureFullAvg60, 0.64 / 100},
      {S::kMemoryPressureFullAvg300, 0.17 / 100},
      {S::kMemoryPressureSomeSecondsTotal, 7481263 / 1e6},
      {S::kMemoryPressureFullSecondsTotal, 4319877 / 1e6},
  };
}

// Checks every owned signal: those in `absent` must be absent, the others equal `expected` exactly.
void ExpectSignals(const Snapshot& snap, const Expected& expected, const std::set<Signal>& absent = {}) {
  ASSERT_EQ(expected.size(), 26u) << "every signal the reader owns must be listed";
  for (const auto& [signal, value] : expected) {
    const std::string_view key = GetSignalInfo(signal).key;
    if (absent.count(signal)) {
      EXPECT_FALSE(snap.has(signal)) << key << " should be absent, is " << *snap.get(signal);
    } else {
      EXPECT_EQ(snap.get(signal), value) << key;
    }
  }
}

// Sets every owned signal to -1 so a test sees whether Read() clears what it could not read.
void Prefill(Snapshot* snap, const Expected& expected) {
  for (const auto& entry : expected) snap->set(entry.first, -1.0);
}

// A manual clock for the relocation rate limit.
struct ManualClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
};

CgroupReaderOptions Options(const TempTree& tree, ManualClock* clock) {
  CgroupReaderOptions o;
  o.roots = RootsOf(tree);
  o.now = [clock] { return clock->now; };
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Both trees, everything present.

struct TreeCase {
  std::string fixture;
  int version;
  std::string path;
  Expected expected;
};

class CgroupReaderTreeTest : public ::testing::TestWithParam<TreeCase> {};

TEST_P(CgroupReaderTreeTest, ReadsExactValues) {
  const TreeCase& c = GetParam();
  TempTree tree(c.fixture);
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  EXPECT_EQ(reader.location().version, c.version);

  for (int tick = 0; tick < 3; ++tick) {  // the files stay open and are re-read
    Snapshot snap;
    Prefill(&snap, c.expected);
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
    EXPECT_EQ(snap.cgroup_version, c.version);
    EXPECT_EQ(snap.cgroup_path, c.path);
    ExpectSignals(snap, c.expected);
  }
}

TEST_P(CgroupReaderTreeTest, FollowsChangedFileContent) {
  const TreeCase& c = GetParam();
  TempTree tree(c.fixture);
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  const std::string usage_file =
      c.version == 1 ? std::string(kV1Memory) + "/memory.usage_in_bytes" : V2Dir() + "/memory.current";
  tree.Write(usage_file, "999997440\n");
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_EQ(snap.get(S::kCgroupMemoryUsageBytes), 999997440.0);
}

TEST_P(CgroupReaderTreeTest, ARegularTickReadsNoSlowFileAndSetsNoSlowSignal) {
  const TreeCase& c = GetParam();
  TempTree tree(c.fixture);
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  // Remove every slow file after locating: a regular tick must not notice.
  const std::string memory_dir = c.version == 1 ? std::string(kV1Memory) : V2Dir();
  const std::vector<std::string> slow_files =
      c.version == 1
          ? std::vector<std::string>{"memory.failcnt", "memory.oom_control", "memory.kmem.usage_in_bytes",
                                     "memory.kmem.tcp.usage_in_bytes", "memory.memsw.usage_in_bytes"}
          : std::vector<std::string>{"memory.events", "memory.swap.current", "memory.pressure"};
  for (const auto& name : slow_files) tree.Remove(memory_dir + "/" + name);
  if (c.version == 1) tree.Remove("proc/pressure/memory");

  Snapshot regular;
  RecordingErrorSink errors;
  reader.Read(TickKind::kRegular, &regular, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_TRUE(regular.has(S::kCgroupMemoryUsageBytes));
  EXPECT_TRUE(regular.has(S::kCgroupMemoryWorkingSetBytes));
  EXPECT_TRUE(regular.has(S::kCgroupPidsCurrent));
  for (size_t i = 0; i < kSignalCount; ++i) {
    const auto signal = static_cast<Signal>(i);
    if (regular.has(signal)) {
      EXPECT_EQ(GetSignalInfo(signal).cadence, Cadence::kEveryTick) << GetSignalInfo(signal).key;
    }
  }

  Snapshot slow;
  reader.Read(TickKind::kSlow, &slow, errors);
  EXPECT_EQ(errors.Count(Source::kCgroupMemoryDetail), 1u) << errors.Messages();
  EXPECT_EQ(errors.Count(Source::kPressure), 1u) << errors.Messages();
  EXPECT_EQ(errors.Count(Source::kCgroupMemory), 0u) << errors.Messages();
}

INSTANTIATE_TEST_SUITE_P(Trees, CgroupReaderTreeTest,
                         ::testing::Values(TreeCase{"cgroup-v1", 1, "/leakwatch-fixture/limited",
                                                    V1Expected()},
                                           TreeCase{"cgroup-v2", 2, kV2CgroupPath, V2Expected()}),
                         [](const ::testing::TestParamInfo<TreeCase>& info) {
                           return info.param.fixture == "cgroup-v1" ? "V1" : "V2";
                         });

// ---------------------------------------------------------------------------------------------------------------
// One file missing: exactly its signals absent, and (unless the kernel may lack the file) exactly one error
// per Read() for its source.
//
// kAfterLocate deletes the file after the reader was built (the cgroup was located with the file present) but
// before the first Read(): files open lazily, so the read fails as it does on a real kernel when the file
// goes away (a removed cgroup's open files return ENODEV; see the integration test). A regular file deleted
// while open would keep its content, so no case deletes a file the reader already opened.
enum class When { kAfterLocate, kBeforeConstruction, kUnreadable };

struct MissingCase {
  std::string name;
  std::string fixture;
  std::string file;  // relative to the tree
  When when;
  std::optional<Source> source;  // nullopt: no error expected (the kernel may lack the file)
  std::set<Signal> absent;
};

class CgroupReaderMissingFileTest : public ::testing::TestWithParam<MissingCase> {};

TEST_P(CgroupReaderMissingFileTest, SignalsAbsentAndOneErrorPerRead) {
  const MissingCase& c = GetParam();
  TempTree tree(c.fixture);
  ManualClock clock;
  const Expected expected = c.fixture == "cgroup-v1" ? V1Expected() : V2Expected();
  if (c.when == When::kBeforeConstruction) tree.Remove(c.file);
  if (c.when == When::kUnreadable) {
    // Present (so probed as available) but every read fails: a directory in its place (EISDIR).
    tree.Remove(c.file);
    std::filesystem::create_directory(tree.Path(c.file));
  }
  CgroupReader reader(Options(tree, &clock));
  if (c.when == When::kAfterLocate) tree.Remove(c.file);
  for (int tick = 0; tick < 3; ++tick) {
    clock.now += seconds(tick * 20);  // crosses the 30 s relocation interval once
    Snapshot snap;
    Prefill(&snap, expected);
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    ExpectSignals(snap, expected, c.absent);
    if (c.source) {
      ASSERT_EQ(errors.reports.size(), 1u) << errors.Messages();
      EXPECT_EQ(errors.reports[0].first, *c.source);
      const std::string name = c.file.substr(c.file.rfind('/') + 1);
      EXPECT_THAT(errors.reports[0].second, HasSubstr(name));
    } else {
      EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
    }
  }
}

std::set<Signal> PsiSet() { return {PsiSignals().begin(), PsiSignals().end()}; }

const std::string kV1M = kV1Memory;
const std::string kV2M = V2Dir();

INSTANTIATE_TEST_SUITE_P(
    Sources, CgroupReaderMissingFileTest,
    ::testing::Values(
        // --- v1 ---
        MissingCase{"V1Stat",
                    "cgroup-v1",
                    kV1M + "/memory.stat",
                    When::kAfterLocate,
                    Source::kCgroupMemory,
                    {S::kCgroupMemoryAnonBytes, S::kCgroupMemoryFileBytes, S::kCgroupMemoryShmemBytes,
                     S::kCgroupMemoryInactiveFileBytes, S::kCgroupMemoryWorkingSetBytes}},
        MissingCase{"V1Usage",
                    "cgroup-v1",
                    kV1M + "/memory.usage_in_bytes",
                    When::kAfterLocate,
                    Source::kCgroupMemory,
                    {S::kCgroupMemoryUsageBytes, S::kCgroupMemoryWorkingSetBytes, S::kCgroupMemorySwapBytes}},
        MissingCase{"V1Limit",
                    "cgroup-v1",
                    kV1M + "/memory.limit_in_bytes",
                    When::kAfterLocate,
                    Source::kCgroupMemory,
                    {S::kCgroupMemoryLimitBytes}},
        MissingCase{"V1OomControl",
                    "cgroup-v1",
                    kV1M + "/memory.oom_control",
                    When::kAfterLocate,
                    Source::kCgroupMemoryDetail,
                    {S::kCgroupMemoryEventsOomKillTotal}},
        MissingCase{"V1Failcnt",
                    "cgroup-v1",
                    kV1M + "/memory.failcnt",
                    When::kBeforeConstruction,
                    Source::kCgroupMemoryDetail,
                    {S::kCgroupMemoryEventsMaxTotal}},
        MissingCase{"V1Memsw",
                    "cgroup-v1",
                    kV1M + "/memory.memsw.usage_in_bytes",
                    When::kBeforeConstruction,
                    std::nullopt,
                    {S::kCgroupMemorySwapBytes}},
        MissingCase{"V1KmemTcp",
                    "cgroup-v1",
                    kV1M + "/memory.kmem.tcp.usage_in_bytes",
                    When::kBeforeConstruction,
                    std::nullopt,
                    {S::kCgroupMemorySockBytes}},
        MissingCase{"V1Kmem",
                    "cgroup-v1",
                    kV1M + "/memory.kmem.usage_in_bytes",
                    When::kAfterLocate,
                    Source::kCgroupMemoryDetail,
                    {S::kCgroupMemoryKernelBytes}},
        MissingCase{"V1PidsCurrent",
                    "cgroup-v1",
                    std::string(kV1Pids) + "/pids.current",
                    When::kAfterLocate,
                    Source::kCgroupPids,
                    {S::kCgroupPidsCurrent}},
        MissingCase{"V1PidsMax",
                    "cgroup-v1",
                    std::string(kV1Pids) + "/pids.max",
                    When::kAfterLocate,
                    Source::kCgroupPids,
                    {S::kCgroupPidsMax}},
        MissingCase{"V1PidsCurrentBeforeConstruction",
                    "cgroup-v1",
                    std::string(kV1Pids) + "/pids.current",
                    When::kBeforeConstruction,
                    Source::kCgroupPids,
                    {S::kCgroupPidsCurrent}},
        MissingCase{"V1StatBeforeConstruction",
                    "cgroup-v1",
                    kV1M + "/memory.stat",
                    When::kBeforeConstruction,
                    Source::kCgroupMemory,
                    {S::kCgroupMemoryAnonBytes, S::kCgroupMemoryFileBytes, S::kCgroupMemoryShmemBytes,
                     S::kCgroupMemoryInactiveFileBytes, S::kCgroupMemoryWorkingSetBytes}},
        MissingCase{"V1KmemUnreadable",
                    "cgroup-v1",
                    kV1M + "/memory.kmem.usage_in_bytes",
                    When::kUnreadable,
                    Source::kCgroupMemoryDetail,
                    {S::kCgroupMemoryKernelBytes}},
        MissingCase{"V1PressureUnreadable", "cgroup-v1", "proc/pressure/memory", When::kUnreadable,
                    Source::kPressure, PsiSet()},
        MissingCase{"V1Pressure", "cgroup-v1", "proc/pressure/memory", When::kAfterLocate, Source::kPressure,
                    PsiSet()},
        MissingCase{"V1NoPsiAtAll", "cgroup-v1", "proc/pressure/memory", When::kBeforeConstruction,
                    std::nullopt, PsiSet()},
        // --- v2 ---
        MissingCase{"V2Stat",
                    "cgroup-v2",
                    kV2M + "/memory.stat",
                    When::kAfterLocate,
                    Source::kCgroupMemory,
                    {S::kCgroupMemoryAnonBytes, S::kCgroupMemoryFileBytes, S::kCgroupMemoryKernelBytes,
                     S::kCgroupMemorySockBytes, S::kCgroupMemoryShmemBytes, S::kCgroupMemoryInactiveFileBytes,
                     S::kCgroupMemoryWorkingSetBytes}},
        MissingCase{"V2Current",
                    "cgroup-v2",
                    kV2M + "/memory.current",
                    When::kBeforeConstruction,
                    Source::kCgroupMemory,
                    {S::kCgroupMemoryUsageBytes, S::kCgroupMemoryWorkingSetBytes}},
        MissingCase{
            "V2Events",
            "cgroup-v2",
            kV2M + "/memory.events",
            When::kAfterLocate,
            Source::kCgroupMemoryDetail,
            {S::kCgroupMemoryEventsLowTotal, S::kCgroupMemoryEventsHighTotal, S::kCgroupMemoryEventsMaxTotal,
             S::kCgroupMemoryEventsOomTotal, S::kCgroupMemoryEventsOomKillTotal}},
        MissingCase{"V2High",
                    "cgroup-v2",
                    kV2M + "/memory.high",
                    When::kAfterLocate,
                    Source::kCgroupMemory,
                    {S::kCgroupMemoryHighBytes}},
        MissingCase{"V2AncestorMax",
                    "cgroup-v2",
                    std::string(kV2PodDir) + "/memory.max",
                    When::kAfterLocate,
                    Source::kCgroupMemory,
                    {S::kCgroupMemoryLimitBytes}},
        MissingCase{"V2SwapCurrent",
                    "cgroup-v2",
                    kV2M + "/memory.swap.current",
                    When::kBeforeConstruction,
                    std::nullopt,
                    {S::kCgroupMemorySwapBytes}},
        MissingCase{"V2SwapUnreadable",
                    "cgroup-v2",
                    kV2M + "/memory.swap.current",
                    When::kUnreadable,
                    Source::kCgroupMemoryDetail,
                    {S::kCgroupMemorySwapBytes}},
        MissingCase{"V2PidsMaxBeforeConstruction",
                    "cgroup-v2",
                    kV2M + "/pids.max",
                    When::kBeforeConstruction,
                    Source::kCgroupPids,
                    {S::kCgroupPidsMax}},
        MissingCase{"V2PressureUnreadable", "cgroup-v2", kV2M + "/memory.pressure", When::kUnreadable,
                    Source::kPressure, PsiSet()},
        MissingCase{"V2PidsCurrent",
                    "cgroup-v2",
                    kV2M + "/pids.current",
                    When::kAfterLocate,
                    Source::kCgroupPids,
                    {S::kCgroupPidsCurrent}},
        MissingCase{"V2Pressure", "cgroup-v2", kV2M + "/memory.pressure", When::kAfterLocate,
                    Source::kPressure, PsiSet()}),
    [](const ::testing::TestParamInfo<MissingCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------------------------
// Variants of the trees.

TEST(CgroupReader, V1UnlimitedChildTakesTheHierarchicalLimit) {
  // The captured `unlimited` sibling: memory.limit_in_bytes is 9223372036854771712, memory.stat says
  // hierarchical_memory_limit 536870912 (the parent's 512 MiB).
  TempTree tree("cgroup-v1");
  std::string text = tree.ReadText("proc/self/cgroup");
  const std::string from = "4:memory:/leakwatch-fixture/limited";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "4:memory:/leakwatch-fixture/unlimited");
  tree.Write("proc/self/cgroup", text);

  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  EXPECT_EQ(reader.location().memory_dir, tree.Path(kV1MemoryUnlimited));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_EQ(snap.cgroup_path, "/leakwatch-fixture/unlimited");
  EXPECT_EQ(snap.get(S::kCgroupMemoryLimitBytes), 536870912.0);
  EXPECT_EQ(snap.get(S::kCgroupMemoryUsageBytes), 18345984.0);
  EXPECT_EQ(snap.get(S::kCgroupMemoryWorkingSetBytes), 14147584.0);  // 18345984 - 4198400
  EXPECT_EQ(snap.get(S::kCgroupMemoryAnonBytes), 12754944.0);
  EXPECT_EQ(snap.get(S::kCgroupMemoryFileBytes), 5246976.0);
  EXPECT_EQ(snap.get(S::kCgroupMemoryKernelBytes), 225280.0);
  EXPECT_EQ(snap.get(S::kCgroupMemorySockBytes), 0.0);
  EXPECT_EQ(snap.get(S::kCgroupMemoryEventsMaxTotal), 0.0);
  EXPECT_EQ(snap.get(S::kCgroupMemoryEventsOomKillTotal), 0.0);
}

TEST(CgroupReader, V1UnlimitedEverywhereHasNoLimit) {
  TempTree tree("cgroup-v1");
  const std::string stat_file = std::string(kV1Memory) + "/memory.stat";
  std::string stat = tree.ReadText(stat_file);
  const std::string from = "hierarchical_memory_limit 268435456";
  ASSERT_NE(stat.find(from), std::string::npos);
  stat.replace(stat.find(from), from.size(), "hierarchical_memory_limit 9223372036854771712");
  tree.Write(stat_file, stat);
  tree.Write(std::string(kV1Memory) + "/memory.limit_in_bytes", "9223372036854771712\n");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_FALSE(snap.has(S::kCgroupMemoryLimitBytes));
  EXPECT_EQ(snap.get(S::kCgroupMemoryUsageBytes), 36220928.0);
}

TEST(CgroupReader, V1FallsBackToNonTotalKeys) {
  TempTree tree("cgroup-v1");
  const std::string stat_file = std::string(kV1Memory) + "/memory.stat";
  tree.Write(stat_file, "cache 4096\nrss 8192\nshmem 0\ninactive_file 4096\n");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_EQ(snap.get(S::kCgroupMemoryFileBytes), 4096.0);
  EXPECT_EQ(snap.get(S::kCgroupMemoryAnonBytes), 8192.0);
  EXPECT_EQ(snap.get(S::kCgroupMemoryShmemBytes), 0.0);
  EXPECT_EQ(snap.get(S::kCgroupMemoryWorkingSetBytes), 36220928.0 - 4096);
  EXPECT_EQ(snap.get(S::kCgroupMemoryLimitBytes), 268435456.0);  // from limit_in_bytes, not memory.stat
}

TEST(CgroupReader, WorkingSetIsClampedAtZero) {
  TempTree tree("cgroup-v2");
  tree.Write(V2Dir() + "/memory.current", "4096\n");  // less than inactive_file
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_EQ(snap.get(S::kCgroupMemoryWorkingSetBytes), 0.0);
}

TEST(CgroupReader, V1SwapIsMemswMinusUsageClampedAtZero) {
  TempTree tree("cgroup-v1");
  tree.Write(std::string(kV1Memory) + "/memory.memsw.usage_in_bytes", "37269504\n");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_EQ(snap.get(S::kCgroupMemorySwapBytes), 1048576.0);                          // 37269504 - 36220928
  tree.Write(std::string(kV1Memory) + "/memory.memsw.usage_in_bytes", "36212736\n");  // read a moment earlier
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_EQ(snap.get(S::kCgroupMemorySwapBytes), 0.0);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
}

TEST(CgroupReader, V2AncestorRule) {
  TempTree tree("cgroup-v2");
  ManualClock clock;
  {
    // The pod's limit lifted: kubepods.slice's node-allocatable limit (1904766 pages) is the smallest.
    tree.Write(std::string(kV2PodDir) + "/memory.max", "max\n");
    CgroupReader reader(Options(tree, &clock));
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
    EXPECT_EQ(snap.get(S::kCgroupMemoryLimitBytes), 7801921536.0);
  }
  {
    // The container's own limit is smaller than the pod's.
    tree.Write(std::string(kV2PodDir) + "/memory.max", "536870912\n");
    tree.Write(V2Dir() + "/memory.max", "268435456\n");
    CgroupReader reader(Options(tree, &clock));
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_EQ(snap.get(S::kCgroupMemoryLimitBytes), 268435456.0);
  }
  {
    // No limit anywhere: absent, not 0.
    tree.Write(V2Dir() + "/memory.max", "max\n");
    tree.Write(std::string(kV2PodDir) + "/memory.max", "max\n");
    tree.Write("sys/fs/cgroup/kubepods.slice/memory.max", "max\n");
    CgroupReader reader(Options(tree, &clock));
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
    EXPECT_FALSE(snap.has(S::kCgroupMemoryLimitBytes));
  }
}

TEST(CgroupReader, V2HighMaxIsAbsent) {
  TempTree tree("cgroup-v2");
  tree.Write(V2Dir() + "/memory.high", "max\n");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_FALSE(snap.has(S::kCgroupMemoryHighBytes));
}

TEST(CgroupReader, V2KernelKeyMissingOnOldKernelsIsAbsentWithoutError) {
  TempTree tree("cgroup-v2");
  const std::string stat_file = V2Dir() + "/memory.stat";
  std::string stat = tree.ReadText(stat_file);
  const std::string line = "kernel 9437184\n";
  ASSERT_NE(stat.find(line), std::string::npos);
  stat.erase(stat.find(line), line.size());
  tree.Write(stat_file, stat);
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  ExpectSignals(snap, V2Expected(), {S::kCgroupMemoryKernelBytes});
}

TEST(CgroupReader, V2PressureFallsBackToSystemPsi) {
  TempTree tree("cgroup-v2");
  tree.Remove(V2Dir() + "/memory.pressure");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  // tests/fixtures/cgroup-v2/proc/pressure/memory
  EXPECT_EQ(snap.get(S::kMemoryPressureSomeAvg10), 0.35 / 100);
  EXPECT_EQ(snap.get(S::kMemoryPressureSomeAvg300), 0.09 / 100);
  EXPECT_EQ(snap.get(S::kMemoryPressureFullAvg60), 0.08 / 100);
  EXPECT_EQ(snap.get(S::kMemoryPressureSomeSecondsTotal), 19234871 / 1e6);
  EXPECT_EQ(snap.get(S::kMemoryPressureFullSecondsTotal), 10845512 / 1e6);
}

TEST(CgroupReader, PsiWithOnlySomeLine) {
  TempTree tree("cgroup-v2");
  tree.Write(V2Dir() + "/memory.pressure", "some avg10=0.50 avg60=0.25 avg300=0.10 total=2500000\n");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_EQ(snap.get(S::kMemoryPressureSomeAvg10), 0.50 / 100);
  EXPECT_EQ(snap.get(S::kMemoryPressureSomeSecondsTotal), 2.5);
  EXPECT_FALSE(snap.has(S::kMemoryPressureFullAvg10));
  EXPECT_FALSE(snap.has(S::kMemoryPressureFullSecondsTotal));
}

TEST(CgroupReader, MalformedValuesAreErrorsNamingFileAndValue) {
  TempTree tree("cgroup-v2");
  tree.Write(V2Dir() + "/memory.current", "garbage\n");
  tree.Write(V2Dir() + "/pids.max", "lots\n");
  tree.Write(V2Dir() + "/memory.pressure", "some avg10=x avg60=0.00 avg300=0.00 total=1\n");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  ASSERT_EQ(errors.reports.size(), 3u) << errors.Messages();
  EXPECT_EQ(errors.Count(Source::kCgroupMemory), 1u);
  EXPECT_EQ(errors.Count(Source::kCgroupPids), 1u);
  EXPECT_EQ(errors.Count(Source::kPressure), 1u);
  for (const auto& [source, message] : errors.reports) {
    if (source == Source::kCgroupMemory) {
      EXPECT_THAT(message, HasSubstr(tree.Path(V2Dir() + "/memory.current")));
      EXPECT_THAT(message, HasSubstr("'garbage'"));
    }
    if (source == Source::kCgroupPids) {
      EXPECT_THAT(message, HasSubstr("pids.max: expected a number or 'max', got 'lots'"));
    }
    if (source == Source::kPressure) {
      EXPECT_THAT(message, HasSubstr("avg10='x'"));
    }
  }
  ExpectSignals(snap, V2Expected(),
                {S::kCgroupMemoryUsageBytes, S::kCgroupMemoryWorkingSetBytes, S::kCgroupPidsMax,
                 S::kMemoryPressureSomeAvg10, S::kMemoryPressureSomeAvg60, S::kMemoryPressureSomeAvg300,
                 S::kMemoryPressureFullAvg10, S::kMemoryPressureFullAvg60, S::kMemoryPressureFullAvg300,
                 S::kMemoryPressureSomeSecondsTotal, S::kMemoryPressureFullSecondsTotal});
}

TEST(CgroupReader, SeveralFailuresInOneSourceAreOneReport) {
  TempTree tree("cgroup-v2");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  tree.Remove(V2Dir() + "/memory.stat");
  tree.Remove(V2Dir() + "/memory.max");
  tree.Remove(V2Dir() + "/memory.high");
  tree.Remove(V2Dir() + "/memory.events");  // another source: reported on its own
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  ASSERT_EQ(errors.reports.size(), 2u) << errors.Messages();
  EXPECT_EQ(errors.Count(Source::kCgroupMemory), 1u);
  EXPECT_EQ(errors.Count(Source::kCgroupMemoryDetail), 1u);
  for (const auto& [source, message] : errors.reports) {
    if (source == Source::kCgroupMemory) {
      EXPECT_THAT(message, HasSubstr("and 2 more failure(s)"));
    }
  }
  EXPECT_EQ(snap.get(S::kCgroupMemoryUsageBytes), 230686720.0);
}

// ---------------------------------------------------------------------------------------------------------------
// No cgroup, no location.

TEST(CgroupReader, NoMemoryCgroupReportsNothing) {
  TempTree tree;
  tree.Write("proc/self/cgroup", "0::/\n");
  tree.Write("proc/self/mountinfo", "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  EXPECT_EQ(reader.location().version, 0);
  for (int tick = 0; tick < 3; ++tick) {
    clock.now += seconds(60);
    Snapshot snap;
    snap.cgroup_version = 7;
    snap.cgroup_path = "stale";
    Prefill(&snap, V2Expected());
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
    EXPECT_EQ(snap.cgroup_version, 0);
    EXPECT_EQ(snap.cgroup_path, "");
    EXPECT_EQ(snap.present_count(), 0u);
  }
}

TEST(CgroupReader, NoMemoryCgroupStillReadsSystemPsi) {
  TempTree tree;
  tree.Write("proc/self/cgroup", "0::/\n");
  tree.Write("proc/self/mountinfo", "");
  tree.Write("proc/pressure/memory",
             "some avg10=1.00 avg60=0.00 avg300=0.00 total=3000000\n"
             "full avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_EQ(snap.cgroup_version, 0);
  EXPECT_EQ(snap.get(S::kMemoryPressureSomeAvg10), 0.01);
  EXPECT_EQ(snap.get(S::kMemoryPressureSomeSecondsTotal), 3.0);
  EXPECT_EQ(snap.get(S::kMemoryPressureFullSecondsTotal), 1.0);
  EXPECT_EQ(snap.present_count(), 8u);
}

TEST(CgroupReader, LocationFailureIsReportedEveryReadAndRetried) {
  TempTree tree;  // no proc/self/cgroup yet
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  EXPECT_EQ(reader.location().version, 0);
  for (int tick = 0; tick < 2; ++tick) {
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    ASSERT_EQ(errors.reports.size(), 1u) << errors.Messages();
    EXPECT_EQ(errors.reports[0].first, Source::kCgroupMemory);
    EXPECT_THAT(errors.reports[0].second, HasSubstr("cannot locate the cgroup"));
    EXPECT_THAT(errors.reports[0].second, HasSubstr("proc/self/cgroup"));
    EXPECT_EQ(snap.present_count(), 0u);
  }
  // The files appear (a copy of the v2 tree); within the 30 s window nothing is retried...
  std::filesystem::copy(
      std::string(LEAKWATCH_FIXTURES_DIR) + "/cgroup-v2", tree.dir(),
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  {
    clock.now += seconds(10);
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_EQ(errors.reports.size(), 1u) << errors.Messages();
  }
  // ...after it, the reader locates the cgroup and reads it in the same tick.
  clock.now += seconds(30);
  Snapshot snap;
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snap, errors);
  EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
  EXPECT_EQ(reader.location().version, 2);
  ExpectSignals(snap, V2Expected());
}

// ---------------------------------------------------------------------------------------------------------------
// Following a process moved to another cgroup.

TEST(CgroupReader, FollowsAProcessMovedToAnotherCgroup) {
  // On a real kernel the files of a removed cgroup fail with ENODEV even while open (the integration test
  // shows it). Regular files keep their content when deleted while open, so here the first move happens
  // before the first Read() (files open lazily) and the second one is made visible by a read failure (a
  // corrupted value).
  TempTree tree("cgroup-v1");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  EXPECT_EQ(reader.location().path, "/leakwatch-fixture/limited");
  auto move_to = [&](const std::string& from, const std::string& to) {
    std::string text = tree.ReadText("proc/self/cgroup");
    ASSERT_NE(text.find(from), std::string::npos);
    text.replace(text.find(from), from.size(), to);
    tree.Write("proc/self/cgroup", text);
  };
  // Moved to the sibling, and the old cgroup removed: the first failed read relocates and re-reads at once.
  move_to("4:memory:/leakwatch-fixture/limited", "4:memory:/leakwatch-fixture/unlimited");
  tree.Remove(kV1Memory);
  {
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
    EXPECT_EQ(snap.cgroup_path, "/leakwatch-fixture/unlimited");
    EXPECT_EQ(reader.location().memory_dir, tree.Path(kV1MemoryUnlimited));
    EXPECT_EQ(snap.get(S::kCgroupMemoryUsageBytes), 18345984.0);
    EXPECT_EQ(snap.get(S::kCgroupPidsCurrent), 2.0);
  }
  // Moved again 10 s later: relocation is rate-limited to once per 30 s, so the failure is reported...
  move_to("4:memory:/leakwatch-fixture/unlimited", "4:memory:/leakwatch-fixture");
  tree.Write(std::string(kV1MemoryUnlimited) + "/memory.usage_in_bytes", "gone\n");
  {
    clock.now += seconds(10);
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    ASSERT_EQ(errors.reports.size(), 1u) << errors.Messages();
    EXPECT_EQ(errors.reports[0].first, Source::kCgroupMemory);
    EXPECT_EQ(snap.cgroup_path, "/leakwatch-fixture/unlimited");
    EXPECT_FALSE(snap.has(S::kCgroupMemoryUsageBytes));
    EXPECT_EQ(snap.get(S::kCgroupPidsCurrent), 2.0);  // other sources unaffected
  }
  {
    clock.now += seconds(19);
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_EQ(errors.reports.size(), 1u) << errors.Messages();
  }
  // ...and followed once the interval has passed.
  {
    clock.now += seconds(1);
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_TRUE(errors.reports.empty()) << errors.Messages();
    EXPECT_EQ(snap.cgroup_path, "/leakwatch-fixture");
    EXPECT_EQ(reader.location().memory_dir, tree.Path("sys/fs/cgroup/memory/leakwatch-fixture"));
    EXPECT_TRUE(snap.has(S::kCgroupMemoryUsageBytes));
    EXPECT_EQ(snap.get(S::kCgroupMemoryLimitBytes), 536870912.0);
  }
}

TEST(CgroupReader, ReadFailureInTheSameCgroupIsNotARelocation) {
  TempTree tree("cgroup-v2");
  ManualClock clock;
  CgroupReader reader(Options(tree, &clock));
  const CgroupLocation before = reader.location();
  tree.Remove(V2Dir() + "/memory.pressure");  // relocating would now pick /proc/pressure/memory
  tree.Remove(V2Dir() + "/pids.current");
  for (int tick = 0; tick < 3; ++tick) {
    clock.now += seconds(31);
    Snapshot snap;
    RecordingErrorSink errors;
    reader.Read(TickKind::kSlow, &snap, errors);
    EXPECT_EQ(errors.Count(Source::kPressure), 1u) << errors.Messages();
    EXPECT_EQ(errors.Count(Source::kCgroupPids), 1u) << errors.Messages();
    EXPECT_EQ(reader.location(), before);
  }
}

}  // namespace
}  // namespace leakwatch::internal
