// Integration tests: the real leakwatch-demo runs as a child process; the test scrapes its /metrics over HTTP
// and checks the values against what it reads itself from /proc/<child pid>/... and the cgroup filesystem
// (proc_probe.h, code independent of leakwatch's readers). Every wait is bounded; every child is killed and
// reaped by its guard, also when an assertion fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <thread>

#include "tests/integration/demo_harness.h"
#include "tests/integration/proc_probe.h"
#include "tests/integration/scoped_cgroup.h"

namespace leakwatch::integration {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr double kMiB = 1024.0 * 1024.0;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif

#define ASSERT_OK_AND_ASSIGN(lhs, expr)                           \
  auto lhs##_result = (expr);                                     \
  ASSERT_TRUE(lhs##_result.ok()) << lhs##_result.error().message; \
  auto lhs = std::move(*lhs##_result)

bool WithinPercent(double actual, double expected, double percent) {
  return std::fabs(actual - expected) <= expected * percent / 100.0;
}

// A scraped metric compared with a value the test reads itself. The agent sampled its value up to one period
// before the scrape, and a scrape's own connection is an fd of the child while it is served: a comparison
// counts only when the scraped value matches the test's value read both just before and just after the scrape
// (for an exact match: all three are equal). Up to `attempts` tries.
struct Comparison {
  std::optional<double> scraped;
  std::optional<double> independent;
  bool matched = false;
};

Comparison CompareWhenStable(const RunningDemo& demo, std::string_view metric, const Labels& labels,
                             const std::function<std::optional<double>()>& read_independent,
                             const std::function<bool(double scraped, double independent)>& match,
                             int attempts = 30) {
  Comparison c;
  for (int i = 0; i < attempts; ++i) {
    const auto before = read_independent();
    c.scraped = demo.Metric(metric, labels);
    const auto after = read_independent();
    c.independent = after;
    if (before && after && c.scraped && match(*c.scraped, *before) && match(*c.scraped, *after)) {
      c.matched = true;
      return c;
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return c;
}

std::string Show(const std::optional<double>& v) { return v ? std::to_string(*v) : std::string("absent"); }

std::function<std::optional<double>()> DirCount(const std::string& dir) {
  return [dir]() -> std::optional<double> {
    const auto n = CountDirEntries(dir);
    if (!n) return std::nullopt;
    return static_cast<double>(*n);
  };
}

const auto kEqual = [](double a, double b) { return a == b; };

std::string ProcPath(const RunningDemo& demo, const char* leaf) {
  return "/proc/" + std::to_string(demo.pid) + "/" + leaf;
}

// Sets leak rates over the control API, waits until /status reports at least `min_count` of each kind, stops
// leaking and returns the final counts (threads, fds).
std::optional<std::pair<long long, long long>> LeakThreadsAndFds(const RunningDemo& demo,
                                                                 long long min_count) {
  if (!demo.Control("/leak/threads?per_s=20").ok() || !demo.Control("/leak/fds?per_s=20").ok())
    return std::nullopt;
  const bool reached = WaitUntil(
      [&] {
        const auto s = demo.Control("/status");
        if (!s) return false;
        const auto t = JsonField(*s, "leaked_threads");
        const auto f = JsonField(*s, "leaked_fds");
        return t && f && *t >= min_count && *f >= min_count;
      },
      seconds(15));
  // Once these return, no step is in progress and nothing more leaks (Leaker's contract).
  if (!demo.Control("/leak/threads?per_s=0").ok() || !demo.Control("/leak/fds?per_s=0").ok() || !reached) {
    return std::nullopt;
  }
  const auto s = demo.Control("/status");
  if (!s) return std::nullopt;
  const auto t = JsonField(*s, "leaked_threads");
  const auto f = JsonField(*s, "leaked_fds");
  if (!t || !f) return std::nullopt;
  return std::make_pair(*t, *f);
}

// --- process_* metrics against /proc/<pid> ---

TEST(DemoProcessMetrics, ResidentMemoryWithinFivePercentOfVmRss) {
  ASSERT_OK_AND_ASSIGN(demo, StartDemo());
  const auto c = CompareWhenStable(
      demo, "process_resident_memory_bytes", {},
      [&]() -> std::optional<double> {
        const auto rss = ReadVmRssBytes(demo.pid);
        if (!rss) return std::nullopt;
        return static_cast<double>(*rss);
      },
      [](double scraped, double vmrss) { return WithinPercent(scraped, vmrss, 5); }, 10);
  EXPECT_TRUE(c.matched) << "process_resident_memory_bytes " << Show(c.scraped) << " vs VmRSS "
                         << Show(c.independent);
}

TEST(DemoProcessMetrics, ThreadsAndOpenFdsEqualProcEntries) {
  ASSERT_OK_AND_ASSIGN(demo, StartDemo());
  const auto threads =
      CompareWhenStable(demo, "process_threads", {}, DirCount(ProcPath(demo, "task")), kEqual);
  EXPECT_TRUE(threads.matched) << "process_threads " << Show(threads.scraped) << " vs /proc/<pid>/task "
                               << Show(threads.independent);
  const auto fds = CompareWhenStable(demo, "process_open_fds", {}, DirCount(ProcPath(demo, "fd")), kEqual);
  EXPECT_TRUE(fds.matched) << "process_open_fds " << Show(fds.scraped) << " vs /proc/<pid>/fd "
                           << Show(fds.independent);
}

TEST(DemoProcessMetrics, LeakedThreadsAndFdsChangeTheMetricsByExactlyTheLeakedCount) {
  ASSERT_OK_AND_ASSIGN(demo, StartDemo());
  const auto threads0 =
      CompareWhenStable(demo, "process_threads", {}, DirCount(ProcPath(demo, "task")), kEqual);
  const auto fds0 = CompareWhenStable(demo, "process_open_fds", {}, DirCount(ProcPath(demo, "fd")), kEqual);
  ASSERT_TRUE(threads0.matched && fds0.matched)
      << "baseline: threads " << Show(threads0.scraped) << " vs " << Show(threads0.independent) << ", fds "
      << Show(fds0.scraped) << " vs " << Show(fds0.independent);

  const auto leaked = LeakThreadsAndFds(demo, 7);
  ASSERT_TRUE(leaked) << "the demo did not leak 7 threads and 7 fds within 15 s; stderr:\n"
                      << demo.child->Stderr();
  const auto [n_threads, n_fds] = *leaked;
  // A tick that began before the rates were set to 0 may publish old counts: wait for two more.
  ASSERT_TRUE(demo.WaitForNewSamples(2, seconds(10))) << "leakwatch_samples_total did not advance";

  const auto threads =
      CompareWhenStable(demo, "process_threads", {}, DirCount(ProcPath(demo, "task")), kEqual);
  EXPECT_TRUE(threads.matched) << "process_threads " << Show(threads.scraped) << " vs /proc "
                               << Show(threads.independent);
  EXPECT_EQ(threads.scraped, *threads0.scraped + static_cast<double>(n_threads))
      << "baseline " << *threads0.scraped << " + " << n_threads << " leaked threads";
  const auto fds = CompareWhenStable(demo, "process_open_fds", {}, DirCount(ProcPath(demo, "fd")), kEqual);
  EXPECT_TRUE(fds.matched) << "process_open_fds " << Show(fds.scraped) << " vs /proc "
                           << Show(fds.independent);
  EXPECT_EQ(fds.scraped, *fds0.scraped + static_cast<double>(n_fds))
      << "baseline " << *fds0.scraped << " + " << n_fds << " leaked fds";
}

TEST(DemoProcessMetrics, MaxFdsStartTimeAndCpuSeconds) {
  ASSERT_OK_AND_ASSIGN(demo, StartDemo());
  const auto nofile = ReadSoftNofile(demo.pid);
  ASSERT_TRUE(nofile);
  const auto max_fds = demo.Metric("process_max_fds");
  EXPECT_EQ(max_fds, static_cast<double>(*nofile)) << "process_max_fds " << Show(max_fds) << " vs soft "
                                                   << "RLIMIT_NOFILE " << *nofile;

  const auto start = ReadStartTimeSeconds(demo.pid);
  ASSERT_TRUE(start);
  const auto scraped_start = demo.Metric("process_start_time_seconds");
  ASSERT_TRUE(scraped_start);
  EXPECT_NEAR(*scraped_start, *start, 1.0);

  // CPU time is counted in clock ticks: wait (bounded) for the first one to show.
  std::optional<double> cpu;
  EXPECT_TRUE(WaitUntil(
      [&] {
        cpu = demo.Metric("process_cpu_seconds_total");
        return cpu && *cpu > 0;
      },
      seconds(10)))
      << "process_cpu_seconds_total " << Show(cpu);
  double previous = cpu.value_or(0);
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    const auto now = demo.Metric("process_cpu_seconds_total");
    ASSERT_TRUE(now);
    EXPECT_GE(*now, previous);
    previous = *now;
  }
}

// --- cgroup metrics against the cgroup files ---

// Compares the cgroup metrics with the files of `cg` (the child's memory cgroup).
void ExpectCgroupMetricsMatchFiles(const RunningDemo& demo, const MemoryCgroup& cg) {
  const std::string usage_file = cg.dir + (cg.version == 1 ? "/memory.usage_in_bytes" : "/memory.current");
  const std::string limit_file = cg.dir + (cg.version == 1 ? "/memory.limit_in_bytes" : "/memory.max");
  const std::string events_file = cg.dir + (cg.version == 1 ? "/memory.oom_control" : "/memory.events");

  std::optional<uint64_t> limit;
  ASSERT_TRUE(ReadCgroupLimit(limit_file, &limit)) << "cannot read " << limit_file;
  const auto scraped_limit = demo.Metric("leakwatch_cgroup_memory_limit_bytes");
  if (limit) {
    EXPECT_EQ(scraped_limit, static_cast<double>(*limit))
        << "leakwatch_cgroup_memory_limit_bytes " << Show(scraped_limit) << " vs " << limit_file << " "
        << *limit;
  } else {
    EXPECT_FALSE(scraped_limit) << limit_file << " says unlimited, yet the metric is " << Show(scraped_limit);
  }

  ASSERT_TRUE(ReadKeyedValue(events_file, "oom_kill")) << "no oom_kill line in " << events_file;
  const auto oom_kills = CompareWhenStable(
      demo, "leakwatch_cgroup_memory_events_total", {{"event", "oom_kill"}},
      [&]() -> std::optional<double> {
        const auto v = ReadKeyedValue(events_file, "oom_kill");
        if (!v) return std::nullopt;
        return static_cast<double>(*v);
      },
      kEqual, 5);
  EXPECT_TRUE(oom_kills.matched) << "leakwatch_cgroup_memory_events_total{event=\"oom_kill\"} "
                                 << Show(oom_kills.scraped) << " vs " << events_file << " "
                                 << Show(oom_kills.independent);

  const auto usage = CompareWhenStable(
      demo, "leakwatch_cgroup_memory_usage_bytes", {},
      [&]() -> std::optional<double> {
        const auto v = ReadU64File(usage_file);
        if (!v) return std::nullopt;
        return static_cast<double>(*v);
      },
      [](double scraped, double file) { return WithinPercent(scraped, file, 5); }, 50);
  EXPECT_TRUE(usage.matched) << "leakwatch_cgroup_memory_usage_bytes " << Show(usage.scraped) << " vs "
                             << usage_file << " " << Show(usage.independent);
}

TEST(DemoCgroupMetrics, EqualTheFilesOfTheChildsMemoryCgroup) {
  ASSERT_OK_AND_ASSIGN(demo, StartDemo());
  const auto cg = FindMemoryCgroup(demo.pid);
  if (!cg)
    GTEST_SKIP() << "no memory cgroup found for the child in /proc/<pid>/cgroup and /proc/self/mountinfo";
  SCOPED_TRACE("memory cgroup v" + std::to_string(cg->version) + " at " + cg->dir);
  ExpectCgroupMetricsMatchFiles(demo, *cg);
}

TEST(DemoCgroupMetrics, LimitOfADedicatedV1MemoryCgroupIsExact) {
  if (const auto why = ScopedV1MemoryCgroup::Unavailable()) GTEST_SKIP() << *why;
  auto cgroup = ScopedV1MemoryCgroup::Create("leakwatch-it-" + std::to_string(getpid()));
  if (!cgroup) GTEST_SKIP() << "cannot create a memory cgroup: " << cgroup.error().message;
  const std::string dir = (*cgroup)->dir();
  ASSERT_TRUE((*cgroup)->Write("memory.limit_in_bytes", "268435456"))
      << "cannot write " << dir << "/memory.limit_in_bytes";
  {
    // Declared after the cgroup guard: the child is killed and reaped before the cgroup is removed.
    DemoOptions options;
    options.cgroup_procs = (*cgroup)->procs();
    ASSERT_OK_AND_ASSIGN(demo, StartDemo(options));
    const auto cg = FindMemoryCgroup(demo.pid);
    ASSERT_TRUE(cg);
    ASSERT_EQ(cg->dir, dir);
    const auto limit = demo.Metric("leakwatch_cgroup_memory_limit_bytes");
    EXPECT_EQ(limit, 268435456.0) << "leakwatch_cgroup_memory_limit_bytes " << Show(limit);
    ExpectCgroupMetricsMatchFiles(demo, *cg);
  }
}

// --- leaks ---

TEST(DemoLeaks, MemoryLeakShowsInScrapedRssAndFreeReleasesIt) {
  DemoOptions options;
  options.args.insert(options.args.end(), {"--leak-memory", "20"});
  ASSERT_OK_AND_ASSIGN(demo, StartDemo(options));
  const auto base = demo.Metric("process_resident_memory_bytes");
  ASSERT_TRUE(base);
  // What the demo says it leaked (and wrote to), read from its own /status, independent of the agent.
  std::optional<double> leaked;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto status = demo.Control("/status");
        leaked = status.ok() ? JsonField(*status, "leaked_bytes") : std::nullopt;
        return leaked && *leaked >= 40 * kMiB;
      },
      seconds(20), milliseconds(200)))
      << "the demo leaked " << Show(leaked) << " bytes in 20 s at 20 MiB/s";
  ASSERT_TRUE(demo.Control("/leak/memory?mib_per_s=0").ok());
  const auto before_free = demo.Control("/status");
  ASSERT_TRUE(before_free.ok());
  leaked = JsonField(*before_free, "leaked_bytes");
  ASSERT_TRUE(leaked);
  // Every leaked byte was written, so the scraped RSS must grow by at least that much (more under sanitizers,
  // whose shadow memory grows too) once the agent has sampled after the leak.
  std::optional<double> rss;
  ASSERT_TRUE(WaitUntil(
      [&] {
        rss = demo.Metric("process_resident_memory_bytes");
        return rss && *rss >= *base + 0.95 * *leaked;
      },
      seconds(10), milliseconds(200)))
      << "scraped RSS went from " << *base << " to " << Show(rss) << " after leaking " << *leaked << " bytes";
  const auto freed = demo.Control("/free");
  ASSERT_TRUE(freed.ok()) << freed.error().message;
  EXPECT_EQ(JsonField(*freed, "freed_bytes"), leaked);
  const auto status = demo.Control("/status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(JsonField(*status, "leaked_bytes"), 0);
  if (!kAsan) {  // ASan quarantines freed memory instead of returning it
    const auto peak = *rss;
    EXPECT_TRUE(WaitUntil(
        [&] {
          rss = demo.Metric("process_resident_memory_bytes");
          return rss && *rss <= peak - 30 * kMiB;
        },
        seconds(10), milliseconds(200)))
        << "scraped RSS " << Show(rss) << " after /free (peak " << peak << ")";
  }
}

// --- allocator statistics, with the allocator the demo really runs on ---

// Leaks `mib` MiB at 20 MiB/s and returns what the demo says it leaked (its own /status, not the agent).
std::optional<double> LeakAndStop(const RunningDemo& demo, double mib) {
  if (!demo.Control("/leak/memory?mib_per_s=20").ok()) return std::nullopt;
  std::optional<double> leaked;
  WaitUntil(
      [&] {
        const auto status = demo.Control("/status");
        leaked = status.ok() ? JsonField(*status, "leaked_bytes") : std::nullopt;
        return leaked && *leaked >= mib * kMiB;
      },
      seconds(20), milliseconds(100));
  if (!demo.Control("/leak/memory?mib_per_s=0").ok()) return std::nullopt;
  const auto status = demo.Control("/status");
  return status.ok() ? JsonField(*status, "leaked_bytes") : std::nullopt;
}

// The heap metric follows what the demo leaked (within 5 % above, nothing below) and falls after /free.
void ExpectHeapFollowsTheLeak(const RunningDemo& demo) {
  ASSERT_TRUE(demo.WaitForNewSamples(2, seconds(10)));
  const auto base = demo.Metric("process_heap_bytes");
  ASSERT_TRUE(base) << "process_heap_bytes is absent";
  const auto leaked = LeakAndStop(demo, 32);
  ASSERT_TRUE(leaked && *leaked >= 32 * kMiB) << "the demo leaked " << Show(leaked);
  std::optional<double> heap;
  EXPECT_TRUE(WaitUntil(
      [&] {
        heap = demo.Metric("process_heap_bytes");
        return heap && *heap >= *base + *leaked && *heap <= *base + 1.05 * *leaked;
      },
      seconds(10), milliseconds(200)))
      << "process_heap_bytes went from " << *base << " to " << Show(heap) << " after leaking " << *leaked;
  ASSERT_TRUE(demo.Control("/free").ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        heap = demo.Metric("process_heap_bytes");
        return heap && *heap <= *base + 0.05 * *leaked;
      },
      seconds(10), milliseconds(200)))
      << "process_heap_bytes " << Show(heap) << " after /free (base " << *base << ")";
}

TEST(DemoAllocator, JemallocPreloadedIsDetectedAndItsHeapFollowsTheLeak) {
  if (kSanitizer) GTEST_SKIP() << "sanitizer build: another allocator cannot be LD_PRELOADed";
  const std::string jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
  if (::access(jemalloc.c_str(), R_OK) != 0)
    GTEST_SKIP() << "needs " << jemalloc << " (package libjemalloc2)";
  DemoOptions options;
  options.env.push_back({"LD_PRELOAD", jemalloc});
  ASSERT_OK_AND_ASSIGN(demo, StartDemo(options));
  const auto text = demo.Scrape();
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_NE(text->find("leakwatch_allocator_info{allocator=\"jemalloc\",profiling=\"inactive\""),
            std::string::npos)
      << *text;
  for (const char* name : {"leakwatch_allocator_resident_bytes", "leakwatch_allocator_active_bytes",
                           "leakwatch_allocator_mapped_bytes", "leakwatch_allocator_overhead_bytes",
                           "leakwatch_allocator_unexplained_anon_bytes"}) {
    EXPECT_TRUE(FindSample(*text, name)) << name << " is absent";
  }
  ExpectHeapFollowsTheLeak(demo);
}

TEST(DemoAllocator, GlibcFiguresOnlyWithMallinfoEnabled) {
  if (kSanitizer) GTEST_SKIP() << "sanitizer build: malloc is the sanitizer's, not glibc's";
  {
    ASSERT_OK_AND_ASSIGN(demo, StartDemo());
    const auto text = demo.Scrape();
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_NE(text->find("leakwatch_allocator_info{allocator=\"glibc\",profiling=\"unsupported\""),
              std::string::npos)
        << *text;
    EXPECT_FALSE(FindSample(*text, "process_heap_bytes")) << "mallinfo2 must be off by default";
  }
  const std::string config = ::testing::TempDir() + "/leakwatch-mallinfo.yml";
  std::ofstream(config) << "allocator:\n  glibc_mallinfo: true\n  glibc_mallinfo_period: 1s\n";
  DemoOptions options;
  options.env.push_back({"LEAKWATCH_CONFIG", config});
  ASSERT_OK_AND_ASSIGN(demo, StartDemo(options));
  EXPECT_TRUE(WaitUntil(
      [&] { return demo.Metric("leakwatch_allocator_mallinfo_duration_seconds").has_value(); }, seconds(10)));
  EXPECT_EQ(demo.Metric("leakwatch_allocator_mallinfo_period_seconds"), 1.0);
  ExpectHeapFollowsTheLeak(demo);
}

TEST(DemoAllocator, UnderAddressSanitizerNoAllocatorIsFoundAndItsFiguresAreAbsent) {
  if (!kAsan) GTEST_SKIP() << "only meaningful in the ASan build (malloc is then the sanitizer's)";
  ASSERT_OK_AND_ASSIGN(demo, StartDemo());
  const auto text = demo.Scrape();
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_NE(text->find("leakwatch_allocator_info{allocator=\"unknown\""), std::string::npos) << *text;
  EXPECT_EQ(text->find("process_heap_bytes "), std::string::npos);
  EXPECT_EQ(text->find("leakwatch_allocator_allocated_bytes "), std::string::npos);
}

std::string DescribeResult(const Result<std::string>& r) { return r.ok() ? *r : r.error().message; }

// --- rules, end to end: a real leaking process, the rule firing, seen on /metrics and /status ---

TEST(DemoRules, FdLeakFiresATimeToLimitRuleShownInMetricsStatusAndTheLog) {
  // A short window so the test takes seconds: the demo leaks 40 fds/s against a soft limit of thousands, so
  // the projected time to the limit is minutes, well under the 1 h horizon.
  const std::string path = ::testing::TempDir() + "leakwatch-it-" + std::to_string(getpid()) + "-rules.yaml";
  std::ofstream(path) << "default_rules: false\n"
                         "rules:\n"
                         "  - name: fd_leak\n"
                         "    kind: time_to_limit\n"
                         "    signal: open_fds\n"
                         "    limit: auto\n"
                         "    window: 10s\n"
                         "    horizon: 1h\n"
                         "    for: 1s\n"
                         "    severity: critical\n";
  DemoOptions options;
  options.args.insert(options.args.end(), {"--leak-fds", "40"});
  options.env = {{"LEAKWATCH_CONFIG", path}};
  ASSERT_OK_AND_ASSIGN(demo, StartDemo(options));
  const Labels firing{
      {"kind", "time_to_limit"}, {"rule", "fd_leak"}, {"severity", "critical"}, {"signal", "open_fds"}};
  const bool fired =
      WaitUntil([&] { return demo.Metric("leakwatch_rule_state", firing) == 2.0; }, seconds(30));
  unlink(path.c_str());
  ASSERT_TRUE(fired) << "the rule never fired; /status:\n"
                     << DescribeResult(demo.AgentGet("/status")) << "\nstderr:\n"
                     << demo.child->Stderr();
  EXPECT_EQ(demo.Metric("leakwatch_rule_fired_total", {{"rule", "fd_leak"}, {"severity", "critical"}}), 1.0);
  const auto slope = demo.Metric("leakwatch_signal_slope", {{"signal", "open_fds"}, {"window", "10s"}});
  ASSERT_TRUE(slope.has_value());
  EXPECT_TRUE(WithinPercent(*slope, 40, 25)) << *slope;
  EXPECT_TRUE(demo.Metric("leakwatch_signal_seconds_to_limit", {{"signal", "open_fds"}, {"window", "10s"}})
                  .has_value());
  const auto status = demo.AgentGet("/status");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_NE(status->find("\"state\": \"firing\""), std::string::npos) << *status;
  EXPECT_NE(status->find("limit "), std::string::npos) << *status;  // the description
  // The transition and the log action are structured log events on the demo's stderr.
  const std::string err = demo.child->Stderr();
  EXPECT_NE(err.find("rule_transition rule=fd_leak"), std::string::npos) << err;
  EXPECT_NE(err.find("to=firing"), std::string::npos) << err;
  EXPECT_NE(err.find("rule_action rule=fd_leak"), std::string::npos) << err;
}

// --- the agent must never take the host down ---

TEST(DemoRobustness, MetricsPortTakenLeavesTheHostRunning) {
  const int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  ASSERT_EQ(listen(holder, 4), 0);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{holder};

  DemoOptions options;
  options.args = {"--metrics-listen", "127.0.0.1:" + std::to_string(port),
                  "--control-listen", "127.0.0.1:0",
                  "--period",         "200ms"};
  ASSERT_OK_AND_ASSIGN(demo, StartDemo(options));
  EXPECT_EQ(demo.metrics_port, 0);
  // The demo prints the agent's error before its JSON line.
  EXPECT_NE(demo.child->Stderr().find("Address already in use"), std::string::npos) << demo.child->Stderr();
  EXPECT_NE(demo.child->Stderr().find(std::to_string(port)), std::string::npos) << demo.child->Stderr();
  std::this_thread::sleep_for(seconds(1));  // a few ticks
  ASSERT_TRUE(demo.child->Running()) << demo.child->Stderr();
  const auto status = demo.Control("/status");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(JsonField(*status, "pid"), demo.pid);
}

TEST(DemoRobustness, ListenOffInTheEnvironmentDisablesMetricsOnly) {
  DemoOptions options;  // the flags ask for 127.0.0.1:0; LEAKWATCH_LISTEN overrides them
  options.env = {{"LEAKWATCH_LISTEN", "off"}};
  ASSERT_OK_AND_ASSIGN(demo, StartDemo(options));
  EXPECT_EQ(demo.metrics_port, 0);
  const auto status = demo.Control("/status");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(JsonField(*status, "pid"), demo.pid);
}

TEST(DemoRobustness, ConfigFileWithUnknownKeyIsReportedAndTheDemoExits1) {
  const std::string path = ::testing::TempDir() + "leakwatch-it-" + std::to_string(getpid()) + "-bad.yaml";
  {
    std::ofstream f(path);
    f << "period: 1s\nno_such_key: 3\n";
  }
  DemoOptions options;
  options.env = {{"LEAKWATCH_CONFIG", path}};
  ASSERT_OK_AND_ASSIGN(child, SpawnDemo(options));
  const auto status = child->WaitExit(seconds(10));
  unlink(path.c_str());
  ASSERT_TRUE(status) << "the demo kept running with a bad config; stderr:\n" << child->Stderr();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << DescribeWaitStatus(*status);
  const std::string err = child->Stderr();
  EXPECT_NE(err.find(path + ":2:"), std::string::npos) << "file and line not named:\n" << err;
  EXPECT_NE(err.find("no_such_key"), std::string::npos) << "key not named:\n" << err;
}

TEST(DemoRobustness, BadFlagValueIsNamedAndTheDemoExits2) {
  DemoOptions options;
  options.args = {"--leak-memory", "lots"};
  ASSERT_OK_AND_ASSIGN(child, SpawnDemo(options));
  const auto status = child->WaitExit(seconds(10));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << DescribeWaitStatus(*status);
  EXPECT_NE(child->Stderr().find("--leak-memory"), std::string::npos) << child->Stderr();
  EXPECT_NE(child->Stderr().find("\"lots\""), std::string::npos) << child->Stderr();
}

// --- clean exit, with leaks in place (under ASan this also runs LeakSanitizer at exit) ---

TEST(DemoLifecycle, SigtermStopsTheAgentAndExits0) {
  DemoOptions options;
  options.args.insert(options.args.end(), {"--leak-threads", "20", "--leak-fds", "20", "--leak-memory", "5"});
  ASSERT_OK_AND_ASSIGN(demo, StartDemo(options));
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto s = demo.Control("/status");
        return s && JsonField(*s, "leaked_threads").value_or(0) >= 3;
      },
      seconds(10)));
  demo.child->Signal(SIGTERM);
  const auto status = demo.child->WaitExit(seconds(15));
  ASSERT_TRUE(status) << "still running 15 s after SIGTERM; stderr:\n" << demo.child->Stderr();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeWaitStatus(*status) << "; stderr:\n"
                                                               << demo.child->Stderr();
}

TEST(DemoLifecycle, QuitOverTheControlApiExits0) {
  ASSERT_OK_AND_ASSIGN(demo, StartDemo());
  const auto answer = demo.Control("/quit");
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  const auto status = demo.child->WaitExit(seconds(15));
  ASSERT_TRUE(status) << "still running 15 s after /quit; stderr:\n" << demo.child->Stderr();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeWaitStatus(*status) << "; stderr:\n"
                                                               << demo.child->Stderr();
}

// --- the helpers themselves ---

TEST(PromTextHelper, FindsSamplesByExactLabelSet) {
  const std::string text =
      "# HELP a_total help\n# TYPE a_total counter\na_total 3\n"
      "b{event=\"oom_kill\"} 7 1700000000000\nb{event=\"max\",x=\"q\\\"\"} 2.5e+06\nc Nan\n";
  EXPECT_EQ(FindSample(text, "a_total"), 3);
  EXPECT_EQ(FindSample(text, "b", {{"event", "oom_kill"}}), 7);
  EXPECT_EQ(FindSample(text, "b", {{"event", "max"}, {"x", "q\""}}), 2.5e6);
  EXPECT_FALSE(FindSample(text, "b", {{"event", "max"}}));
  EXPECT_FALSE(FindSample(text, "b"));
  EXPECT_FALSE(FindSample(text, "a"));
  EXPECT_TRUE(std::isnan(*FindSample(text, "c")));
}

}  // namespace
}  // namespace leakwatch::integration
