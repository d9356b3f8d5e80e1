// The OOM race: the demo leaks inside a real memory cgroup (v1, 256 MiB limit) under the default rules until
// the kernel OOM-kills it. For leaks that take 10 s or more from the start of growth to the limit, a complete
// incident bundle (manifest, history, allocator statistics and, under jemalloc with profiling, a heap profile
// that names the leaking function) must exist before the kill, in every run. The margin (kill time minus the
// bundle's completion) is printed per run; docs/PERFORMANCE.md records it.
//
// The leak starts once the rules are past their warm-up (15 s after start): a process that leaks fast from
// its very first seconds is outside what the default rules promise (docs/RULES.md).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/demo_harness.h"
#include "tests/integration/proc_probe.h"
#include "tests/integration/scoped_cgroup.h"
#include "tests/support/temp_tree.h"

namespace leakwatch::integration {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kLimitBytes = 256 * kMiB;

std::string JemallocPath() {
  const std::string path = std::string("/usr/lib/") + LEAKWATCH_LIBRARY_ARCH + "/libjemalloc.so.2";
  return std::filesystem::exists(path) ? path : "";
}

bool HaveGo() { return std::system("go version > /dev/null 2>&1") == 0; }

// `go tool pprof -top` of a profile against the demo binary: its output, bounded by 120 s.
std::string PprofTop(const std::string& profile, const std::string& scratch) {
  const std::string command =
      "cd " + scratch + " && HOME=" + scratch + " GOCACHE=" + scratch + "/gocache PPROF_TMPDIR=" + scratch +
      " timeout 120 go tool pprof -top -sample_index=inuse_space " + DemoPath() + " " + profile + " 2>&1";
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
    ::pclose(p);
  }
  return out;
}

// The first function line of `pprof -top` (the largest flat in-use space).
std::string TopFunction(const std::string& top) {
  std::istringstream in(top);
  std::string line;
  bool table = false;
  while (std::getline(in, line)) {
    if (line.find("flat%") != std::string::npos) {
      table = true;
      continue;
    }
    if (table && !line.empty()) return line;
  }
  return "";
}

std::optional<Clock::time_point> ModifiedAt(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

struct RunResult {
  double leak_mib_per_s = 0;
  double growth_to_kill_s = 0;  // from the leak's start to the kill
  double margin_s = 0;          // kill time - bundle completion
  double bundle_s = 0;          // the bundle's own duration
  bool heap_profile = false;
};

// One run: a fresh cgroup and demo; the leak set to reach the limit `seconds_to_limit` after it starts.
void RunOnce(double seconds_to_limit, int index, std::vector<RunResult>* results) {
  test_support::TempTree tree;
  const std::string bundles = tree.Path("bundles");
  tree.Write("leakwatch.yaml", "bundle:\n  dir: " + bundles + "\n  min_free_disk: 0\n");
  auto cgroup =
      ScopedV1MemoryCgroup::Create("leakwatch-oom-" + std::to_string(getpid()) + "-" + std::to_string(index));
  ASSERT_TRUE(cgroup.ok()) << cgroup.error().message;
  ASSERT_TRUE((*cgroup)->Write("memory.limit_in_bytes", std::to_string(static_cast<long long>(kLimitBytes))));
  // No swap: the kill must come at the limit, not after a slow spill.
  (*cgroup)->Write("memory.swappiness", "0");
  (*cgroup)->Write("memory.memsw.limit_in_bytes", std::to_string(static_cast<long long>(kLimitBytes)));

  const std::string jemalloc = JemallocPath();
  DemoOptions options;
  // The production defaults: a 1 s period.
  options.args = {"--metrics-listen", "127.0.0.1:0", "--control-listen", "127.0.0.1:0", "--period", "1s"};
  options.env = {{"LEAKWATCH_CONFIG", tree.Path("leakwatch.yaml")}};
  if (!jemalloc.empty()) {
    options.env.emplace_back("LD_PRELOAD", jemalloc);
    options.env.emplace_back("MALLOC_CONF", "prof:true,lg_prof_sample:19");
  }
  options.cgroup_procs = (*cgroup)->procs();
  auto started = StartDemo(options);
  ASSERT_TRUE(started.ok()) << started.error().message;
  RunningDemo& demo = *started;

  // Past the warm-up of memory_oom_imminent (10 s) with a full window of flat samples.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto n = demo.Metric("leakwatch_samples_total");
        return n && *n >= 16;
      },
      40s, 250ms));
  const auto working_set = demo.Metric("leakwatch_cgroup_memory_working_set_bytes");
  ASSERT_TRUE(working_set.has_value());
  const double rate = (kLimitBytes - *working_set) / seconds_to_limit / kMiB;
  const auto leak_started = Clock::now();
  ASSERT_TRUE(demo.Control("/leak/memory?mib_per_s=" + std::to_string(rate)).ok());

  const auto status = demo.child->WaitExit(
      std::chrono::milliseconds(static_cast<int64_t>(1000 * (seconds_to_limit * 3 + 30))));
  ASSERT_TRUE(status.has_value()) << "the demo was not killed " << seconds_to_limit * 3 + 30
                                  << " s after the leak began at " << rate << " MiB/s";
  const auto killed_at = Clock::now();
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << DescribeWaitStatus(*status);
  EXPECT_GE((*cgroup)->OomKills().value_or(1), 1) << "memory.oom_control counts no OOM kill";

  std::vector<std::string> complete;
  for (const auto& entry : std::filesystem::directory_iterator(bundles)) {
    const std::string name = entry.path().filename();
    if (name.rfind(".tmp-", 0) != 0) complete.push_back(entry.path());
  }
  ASSERT_FALSE(complete.empty()) << "no complete bundle before the OOM kill at " << rate
                                 << " MiB/s; demo log:\n"
                                 << demo.child->Stderr();
  std::sort(complete.begin(), complete.end());
  const std::string bundle = complete.front();
  std::ifstream in(bundle + "/manifest.json");
  const auto manifest = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(manifest.is_object()) << bundle;
  EXPECT_EQ(manifest["trigger"]["source"], "rule");
  EXPECT_EQ(manifest["trigger"]["rule"]["severity"], "critical") << manifest["trigger"].dump();
  std::map<std::string, uint64_t> files;
  for (const auto& f : manifest["files"]) files[f["name"]] = f["bytes"];
  for (const char* needed : {"history.csv", "allocator.json", "proc_status.txt", "snapshot.json"}) {
    ASSERT_TRUE(files.count(needed)) << needed << " missing from " << bundle << ": " << manifest.dump();
    EXPECT_EQ(std::filesystem::file_size(bundle + "/" + needed), files[needed]) << needed;
  }
  EXPECT_GT(files["history.csv"], 100u);

  RunResult r;
  r.leak_mib_per_s = rate;
  r.growth_to_kill_s = std::chrono::duration<double>(killed_at - leak_started).count();
  const auto completed = ModifiedAt(bundle + "/manifest.json");
  ASSERT_TRUE(completed.has_value());
  r.margin_s = std::chrono::duration<double>(killed_at - *completed).count();
  r.bundle_s = manifest.value("duration_seconds", 0.0);
  EXPECT_GT(r.margin_s, 0);

  if (!jemalloc.empty()) {
    const auto& heap = manifest["heap_profile"];
    EXPECT_EQ(heap.value("written", false), true) << heap.dump();
    r.heap_profile = heap.value("written", false);
    if (r.heap_profile && HaveGo()) {
      std::string pprof;
      for (const auto& f : heap["files"]) {
        const std::string name = f.is_string() ? f.get<std::string>() : f.value("name", "");
        if (name.size() > 6 && name.substr(name.size() - 6) == ".pb.gz") pprof = bundle + "/" + name;
      }
      ASSERT_FALSE(pprof.empty()) << heap.dump();
      const std::string top = PprofTop(pprof, tree.Path(""));
      EXPECT_NE(TopFunction(top).find("leak_memory"), std::string::npos) << top;
    }
  }
  results->push_back(r);
}

// `runs` runs of a leak reaching the limit `seconds_to_limit` after it starts; LEAKWATCH_OOM_RACE_RUNS
// multiplies the runs (for the figures in docs/PERFORMANCE.md).
void RunRace(double seconds_to_limit, int runs) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the OOM race is measured without sanitizers: their shadow memory is charged to the cgroup "
                  "and their slowdown changes the race";
#endif
  if (const auto why = ScopedV1MemoryCgroup::Unavailable()) GTEST_SKIP() << *why;
  if (JemallocPath().empty()) {
    std::printf(
        "[ NOTE     ] libjemalloc2 is not installed: the runs use glibc malloc, without a heap profile\n");
  } else if (!HaveGo()) {
    std::printf("[ NOTE     ] go is not installed: the heap profiles are not read back with go tool pprof\n");
  }
  const char* env = std::getenv("LEAKWATCH_OOM_RACE_RUNS");
  const int total = runs * (env != nullptr ? std::max(1, std::atoi(env)) : 1);
  std::vector<RunResult> results;
  for (int i = 0; i < total; ++i) {
    SCOPED_TRACE("leak reaching the limit in " + std::to_string(seconds_to_limit) + " s, run " +
                 std::to_string(i + 1));
    ASSERT_NO_FATAL_FAILURE(
        RunOnce(seconds_to_limit, static_cast<int>(seconds_to_limit) * 1000 + i, &results));
  }
  std::printf("leak MiB/s | growth to kill s | bundle s | margin s | heap profile\n");
  for (const auto& r : results) {
    std::printf("%10.1f | %16.1f | %8.2f | %8.2f | %s\n", r.leak_mib_per_s, r.growth_to_kill_s, r.bundle_s,
                r.margin_s, r.heap_profile ? "yes" : "no");
  }
}

TEST(OomRace, LeakReachingTheLimitIn10s) { RunRace(10, 3); }
TEST(OomRace, LeakReachingTheLimitIn20s) { RunRace(20, 1); }
TEST(OomRace, LeakReachingTheLimitIn40s) { RunRace(40, 1); }

}  // namespace
}  // namespace leakwatch::integration
