// leakwatch_bench: Google Benchmark suite for the agent's hot paths (docs/PERFORMANCE.md has the results).
//
//   Tick       TickCollector::Tick() with ProcessReader + CgroupReader + AllocatorReader (the allocator
//              detected, glibc here, with mallinfo2 off as by default) on "self" (no smaps_rollup, no fds by
//              type), at 10 / 10,000 open fds x 10 / 1,000 threads: a regular tick (BM_Tick), a slow tick
//              (BM_TickSlow) and the mean over the default cycle of one slow tick in ten (BM_TickCycle).
//   Breakdown  each reader alone, and the pieces of each reader (the /proc and cgroup files read one by one).
//   Alt        other sources of the CPU time, measured and not used.
//   FdCount    FdCounter::Count() with the stat() fast path vs the getdents64 path, at 10 and 10,000 fds.
//   Slow       SmapsRollupReader and FdTypeReader (the slow-cadence readers).
//   Rules      RuleEngine::Evaluate() with the default rule set on a stream of snapshots whose values change
//              every tick (a noisy process with a GC sawtooth), every window full: the rules' cost per tick.
//   Scrape     SnapshotCollectable::Collect() + prometheus::TextSerializer over a snapshot with every signal
//              present; and one HTTP GET round trip over loopback against a started PrometheusExporter.
//
// The time reported as CPU is CLOCK_THREAD_CPUTIME_ID of the benchmark thread (Google Benchmark's default),
// which includes the kernel time of the syscalls the readers make. The HTTP benchmark instead measures the
// CPU of the whole process (client + civetweb threads, MeasureProcessCPUTime) and runs for a wall-time budget
// (UseRealTime): the work happens on the exporter's threads, so the calling thread's CPU alone would be
// meaningless.
//
// The process shapes itself before each benchmark (fds: pipes, socketpairs and /dev/null; idle threads
// blocked on a condition variable). The fds the readers keep open come on top of the requested count: the
// counters "open_fds" and "proc_threads" show what the tick itself measured.

#include <benchmark/benchmark.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/times.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "agent/allocator/allocator_reader.h"
#include "agent/allocator/detect.h"
#include "agent/cgroup/cgroup_location.h"
#include "agent/cgroup/cgroup_parse.h"
#include "agent/cgroup/cgroup_reader.h"
#include "agent/common/clock.h"
#include "agent/common/file_reader.h"
#include "agent/common/text.h"
#include "agent/logging/log.h"
#include "agent/procfs/fd_counter.h"
#include "agent/procfs/fd_type_reader.h"
#include "agent/procfs/proc_stat.h"
#include "agent/procfs/proc_status.h"
#include "agent/procfs/process_reader.h"
#include "agent/procfs/smaps_rollup_reader.h"
#include "agent/rules/rule_compiler.h"
#include "agent/rules/rule_engine.h"
#include "agent/sampler/tick_collector.h"
#include "bench/bench_support.h"
#include "exporters/prometheus/prometheus_exporter.h"
#include "exporters/prometheus/snapshot_collectable.h"

namespace {

namespace li = leakwatch::internal;
using leakwatch::Signal;
using leakwatch::Snapshot;
using leakwatch::Source;

leakwatch::bench::ProcessShape& Shape() {
  static leakwatch::bench::ProcessShape shape;
  return shape;
}

// Shapes the process; on failure marks the benchmark skipped and returns false.
bool ShapeProcess(benchmark::State& state, int64_t fds, int64_t threads) {
  if (!Shape().SetThreads(static_cast<uint64_t>(threads))) {
    state.SkipWithError("could not reach the requested thread count");
    return false;
  }
  if (!Shape().SetOpenFds(static_cast<uint64_t>(fds))) {
    state.SkipWithError("could not reach the requested fd count (RLIMIT_NOFILE?)");
    return false;
  }
  return true;
}

class CountingSink final : public li::ErrorSink {
 public:
  void Report(Source, const leakwatch::Error&) override { ++errors; }
  uint64_t errors = 0;
};

std::vector<std::unique_ptr<li::SourceReader>> EveryTickReaders() {
  std::vector<std::unique_ptr<li::SourceReader>> readers;
  readers.push_back(std::make_unique<li::ProcessReader>(li::ProcessReaderOptions{}));
  readers.push_back(std::make_unique<li::CgroupReader>(li::CgroupReaderOptions{}));
  readers.push_back(std::make_unique<li::AllocatorReader>(li::DetectAllocator()));  // as the agent does
  return readers;
}

void SetShapeCounters(benchmark::State& state, const Snapshot& snap, uint64_t errors) {
  // Only the readers that produce them set these (the cgroup and slow readers do not).
  if (auto fds = snap.get(Signal::kOpenFds)) state.counters["open_fds"] = *fds;
  if (auto threads = snap.get(Signal::kThreads)) state.counters["proc_threads"] = *threads;
  state.counters["signals"] = static_cast<double>(snap.present_count());
  state.counters["errors"] = static_cast<double>(errors);
}

// ---- one full tick (ProcessReader + CgroupReader) ---------------------------------------------------------

// slow_every: 0 = regular ticks only (after the first), 1 = every tick slow, 10 = the default cycle.
void RunTicks(benchmark::State& state, uint32_t slow_every) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  li::TickCollector collector(
      li::TickCollector::Options{.period = std::chrono::seconds(1), .slow_every = slow_every},
      EveryTickReaders(), li::SystemClock::Instance());
  collector.Tick(0);  // the first tick opens the files that later ticks re-read with pread()
  std::shared_ptr<Snapshot> last;
  for (auto _ : state) {
    last = collector.Tick(0);
    benchmark::DoNotOptimize(last.get());
  }
  uint64_t errors = 0;
  for (size_t i = 0; i < leakwatch::kSourceCount; ++i)
    errors += collector.error_count(static_cast<Source>(i));
  if (last) SetShapeCounters(state, *last, errors);
}

void BM_Tick(benchmark::State& state) { RunTicks(state, 0); }
void BM_TickSlow(benchmark::State& state) { RunTicks(state, 1); }
void BM_TickCycle(benchmark::State& state) { RunTicks(state, 10); }
BENCHMARK(BM_Tick)
    ->ArgNames({"fds", "threads"})
    ->Args({10, 10})
    ->Args({10000, 10})
    ->Args({10, 1000})
    ->Args({10000, 1000});
BENCHMARK(BM_TickSlow)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10000, 1000});
BENCHMARK(BM_TickCycle)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10000, 1000});

// ---- each every-tick reader alone -----------------------------------------------------------------------

template <typename MakeReader>
void RunReader(benchmark::State& state, MakeReader make, li::TickKind tick = li::TickKind::kRegular) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  auto reader = make();
  CountingSink sink;
  Snapshot snap;
  reader->Read(li::TickKind::kSlow, &snap, sink);
  for (auto _ : state) {
    reader->Read(tick, &snap, sink);
    benchmark::ClobberMemory();
  }
  SetShapeCounters(state, snap, sink.errors);
}

void BM_ProcessReader(benchmark::State& state, li::TickKind tick) {
  RunReader(
      state, [] { return std::make_unique<li::ProcessReader>(li::ProcessReaderOptions{}); }, tick);
}
BENCHMARK_CAPTURE(BM_ProcessReader, regular, li::TickKind::kRegular)
    ->ArgNames({"fds", "threads"})
    ->Args({10, 10})
    ->Args({10000, 10})
    ->Args({10, 1000})
    ->Args({10000, 1000});
BENCHMARK_CAPTURE(BM_ProcessReader, slow, li::TickKind::kSlow)
    ->ArgNames({"fds", "threads"})
    ->Args({10, 10})
    ->Args({10000, 1000});

void BM_CgroupReader(benchmark::State& state, li::TickKind tick) {
  RunReader(
      state, [] { return std::make_unique<li::CgroupReader>(li::CgroupReaderOptions{}); }, tick);
}
BENCHMARK_CAPTURE(BM_CgroupReader, regular, li::TickKind::kRegular)
    ->ArgNames({"fds", "threads"})
    ->Args({10, 10})
    ->Args({10000, 1000});
BENCHMARK_CAPTURE(BM_CgroupReader, slow, li::TickKind::kSlow)->ArgNames({"fds", "threads"})->Args({10, 10});

// ---- the pieces of ProcessReader (same calls as the reader, made one by one) ----------------------------
// Every tick: statm, the task link count, times(), the fd count (BM_FdCount), getrlimit. Slow ticks: stat
// (start time; its cost grows with the thread count) and status.

void BM_Part_ProcSelfStatm(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  li::ReusableFile file("/proc/self/statm");
  for (auto _ : state) {
    auto text = file.Read();
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_Part_ProcSelfStatm)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10, 1000});

// stat("/proc/self/task").st_nlink is 2 + the number of threads (ThreadCounter).
void BM_Part_TaskDirNlink(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  struct stat info {};
  for (auto _ : state) {
    ::stat("/proc/self/task", &info);
    benchmark::DoNotOptimize(info.st_nlink);
  }
  state.counters["threads_from_nlink"] = static_cast<double>(info.st_nlink) - 2;
}
BENCHMARK(BM_Part_TaskDirNlink)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10, 1000});

// times(2): user and system CPU of the process; the kernel sums every thread, so O(threads).
void BM_Part_Times(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  for (auto _ : state) {
    struct tms now {};
    benchmark::DoNotOptimize(::times(&now));
    benchmark::DoNotOptimize(now);
  }
}
BENCHMARK(BM_Part_Times)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10, 1000});

void BM_Part_ProcSelfStat(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  li::ReusableFile file("/proc/self/stat");
  for (auto _ : state) {
    auto text = file.Read();
    auto parsed = li::ParseProcStat(text.ok() ? *text : std::string_view());
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_Part_ProcSelfStat)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10, 1000});

void BM_Part_ProcSelfStatus(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  li::ReusableFile file("/proc/self/status");
  for (auto _ : state) {
    auto text = file.Read();
    auto parsed = li::ParseProcStatus(text.ok() ? *text : std::string_view());
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_Part_ProcSelfStatus)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10, 1000});

void BM_Part_Getrlimit(benchmark::State& state) {
  for (auto _ : state) {
    struct rlimit a {
    }, b{};
    ::getrlimit(RLIMIT_NOFILE, &a);
    ::getrlimit(RLIMIT_AS, &b);
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_Part_Getrlimit);

void BM_Part_SnapshotAlloc(benchmark::State& state) {
  for (auto _ : state) {
    auto snap = std::make_shared<Snapshot>();
    benchmark::DoNotOptimize(snap.get());
  }
}
BENCHMARK(BM_Part_SnapshotAlloc);

// ---- other sources of the CPU time, not used: both also sum every thread, and cost more than times()
// -------

// Process CPU time (user + system, not split) without formatting /proc/self/stat.
void BM_Alt_ClockProcessCputime(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  for (auto _ : state) benchmark::DoNotOptimize(leakwatch::bench::ProcessCpuNs());
}
BENCHMARK(BM_Alt_ClockProcessCputime)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10, 1000});

// getrusage(RUSAGE_SELF): user and system time of the process.
void BM_Alt_GetrusageSelf(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  for (auto _ : state) {
    struct rusage usage {};
    ::getrusage(RUSAGE_SELF, &usage);
    benchmark::DoNotOptimize(usage);
  }
}
BENCHMARK(BM_Alt_GetrusageSelf)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10, 1000});

// Parsing the live memory.stat text (read once): the user-space part of the cgroup reader's biggest cost.
std::string MemoryStatText() {
  auto location = li::LocateCgroup(li::CgroupRoots{});
  if (!location.ok() || location->memory_dir.empty()) return {};
  auto text = li::ReadFile(li::JoinPath(location->memory_dir, "memory.stat"));
  return text.ok() ? *text : std::string();
}

void BM_Part_ParseMemoryStat(benchmark::State& state) {
  const std::string text = MemoryStatText();
  if (text.empty()) {
    state.SkipWithError("no memory.stat");
    return;
  }
  li::FlatKeyedFile flat;
  for (auto _ : state) {
    li::ParseFlatKeyedFile(text, &flat);
    benchmark::DoNotOptimize(flat.size());
  }
  state.counters["keys"] = static_cast<double>(flat.size());
}
BENCHMARK(BM_Part_ParseMemoryStat);

// ---- fd count: stat() fast path vs getdents64 -----------------------------------------------------------

void BM_FdCount(benchmark::State& state, bool force_getdents) {
  if (!ShapeProcess(state, state.range(0), 10)) return;
  li::FdCounter counter(li::FdCounterOptions{.force_getdents = force_getdents});
  if (!force_getdents && !counter.uses_stat_size()) {
    state.SkipWithError("the stat() fast path is not available on this kernel");
    return;
  }
  uint64_t count = 0;
  for (auto _ : state) {
    auto n = counter.Count();
    count = n.ok() ? *n : 0;
    benchmark::DoNotOptimize(count);
  }
  state.counters["open_fds"] = static_cast<double>(count);
}
// Registered small-first: the kernel never shrinks a process's fd table, and listing /proc/self/fd walks the
// whole table, so getdents at 10 fds costs more once the process has had 10,000 fds open. bench/run_bench.sh
// runs these first in a fresh process (registration order), then again inside the interleaved full suite.
BENCHMARK_CAPTURE(BM_FdCount, stat, false)->ArgName("fds")->Arg(10);
BENCHMARK_CAPTURE(BM_FdCount, getdents, true)->ArgName("fds")->Arg(10);
BENCHMARK_CAPTURE(BM_FdCount, stat, false)->ArgName("fds")->Arg(10000);
BENCHMARK_CAPTURE(BM_FdCount, getdents, true)->ArgName("fds")->Arg(10000);

// ---- slow readers ---------------------------------------------------------------------------------------

void BM_SmapsRollupReader(benchmark::State& state) {
  RunReader(
      state, [] { return std::make_unique<li::SmapsRollupReader>(); }, li::TickKind::kSlow);
}
BENCHMARK(BM_SmapsRollupReader)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10000, 1000});

void BM_FdTypeReader(benchmark::State& state) {
  RunReader(
      state, [] { return std::make_unique<li::FdTypeReader>(); }, li::TickKind::kSlow);
}
BENCHMARK(BM_FdTypeReader)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10000, 10});

// ---- rules ----------------------------------------------------------------------------------------------

// The default rules evaluated once per tick, as the sampler thread does after each snapshot. The stream: a
// process at ~40% of a 1 GiB limit with a 2 min GC sawtooth of 10% and 0.5% noise, 20 +- 2 threads and
// 100 +- 3 fds, every value different each tick; 30 simulated minutes are fed first so every window (the
// longest, memory_growth's, is 20 min) is full and every rule evaluates (none fires). Includes publishing the
// status (one allocation per tick).
void BM_RuleEngineDefaultRules(benchmark::State& state) {
  auto compiled = li::CompileRules(leakwatch::RulesOptions{}, li::KnownActionNames());
  if (!compiled.ok()) {
    state.SkipWithError(compiled.error().message.c_str());
    return;
  }
  const size_t rules = compiled->rules.size();
  const auto period = std::chrono::seconds(1);
  li::RuleEngine engine(std::move(*compiled), period, nullptr, nullptr);

  // Precomputed noise, so the timed loop pays only for the engine.
  std::mt19937_64 rng(42);
  std::vector<double> noise(4093);  // prime: not a multiple of the sawtooth period
  for (double& n : noise) n = static_cast<double>(rng() >> 11) * 0x1.0p-53 * 2 - 1;
  const double limit = 1024.0 * 1024 * 1024;
  Snapshot snap;
  snap.period = period;
  snap.set(Signal::kCgroupMemoryLimitBytes, limit);
  snap.set(Signal::kMaxFds, 1024.0);
  int64_t tick = 0;
  const auto feed = [&] {
    const double n = noise[static_cast<size_t>(tick) % noise.size()];
    const double memory = limit * (0.4 + 0.1 * static_cast<double>(tick % 120) / 120) * (1 + 0.005 * n);
    snap.sequence = static_cast<uint64_t>(tick + 1);
    snap.steady_time = std::chrono::steady_clock::time_point(std::chrono::seconds(1000 + tick));
    snap.wall_time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000 + tick));
    snap.set(Signal::kResidentMemoryBytes, memory);
    snap.set(Signal::kCgroupMemoryWorkingSetBytes, memory);
    snap.set(Signal::kThreads, std::round(20 + 2 * n));
    snap.set(Signal::kOpenFds, std::round(100 + 3 * n));
    engine.Evaluate(snap);
    ++tick;
  };
  for (int i = 0; i < 30 * 60; ++i) feed();
  for (auto _ : state) feed();

  const auto status = engine.status();
  size_t evaluated = 0, firing = 0;
  for (const auto& rule : status->rules) {
    using leakwatch::RuleReason;
    switch (rule.reason) {
      case RuleReason::kBelowThreshold:
      case RuleReason::kNotGrowing:
      case RuleReason::kBreach:
      case RuleReason::kClearing:
      case RuleReason::kHeldByHysteresis:
        ++evaluated;
        break;
      default:
        break;
    }
    firing += rule.state == leakwatch::RuleState::kFiring ? 1 : 0;
  }
  state.counters["rules"] = static_cast<double>(rules);
  // Rules that compared a value in the last tick (all of them once the windows are full).
  state.counters["evaluated"] = static_cast<double>(evaluated);
  state.counters["firing"] = static_cast<double>(firing);
}
BENCHMARK(BM_RuleEngineDefaultRules);

// ---- scrape ---------------------------------------------------------------------------------------------

std::shared_ptr<const Snapshot> FullSnapshot() {
  auto snap = std::make_shared<Snapshot>();
  for (size_t i = 0; i < leakwatch::kSignalCount; ++i) {
    snap->set(static_cast<Signal>(i), 1000.0 + 17.5 * static_cast<double>(i));
  }
  snap->set(Signal::kOpenFdsScanTruncated, 0.0);
  snap->sequence = 4242;
  snap->slow_sequence = 4241;
  snap->samples_total = 4242;
  snap->missed_ticks_total = 3;
  snap->wall_time = std::chrono::system_clock::now();
  snap->steady_time = std::chrono::steady_clock::now();
  snap->sample_duration = std::chrono::microseconds(23);
  snap->period = std::chrono::seconds(1);
  snap->cgroup_version = 2;
  snap->cgroup_path =
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3c.slice/cri-containerd-9a1b.scope";
  for (size_t i = 0; i < leakwatch::kSourceCount; ++i) snap->source_errors_total[i] = i;
  return snap;
}

size_t CountSeries(const std::vector<prometheus::MetricFamily>& families) {
  size_t n = 0;
  for (const auto& family : families) n += family.metric.size();
  return n;
}

void BM_Scrape_CollectSerialize(benchmark::State& state) {
  const auto snap = FullSnapshot();
  leakwatch::exporters::SnapshotCollectable collectable([snap] { return snap; });
  const prometheus::TextSerializer serializer;
  size_t bytes = 0;
  size_t series = 0;
  for (auto _ : state) {
    const auto families = collectable.Collect();
    const std::string text = serializer.Serialize(families);
    bytes = text.size();
    series = CountSeries(families);
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["series"] = static_cast<double>(series);
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["collect_errors"] = static_cast<double>(collectable.collect_errors());
}
BENCHMARK(BM_Scrape_CollectSerialize);

void BM_Scrape_CollectOnly(benchmark::State& state) {
  const auto snap = FullSnapshot();
  leakwatch::exporters::SnapshotCollectable collectable([snap] { return snap; });
  for (auto _ : state) {
    auto families = collectable.Collect();
    benchmark::DoNotOptimize(families.data());
  }
}
BENCHMARK(BM_Scrape_CollectOnly);

void BM_Scrape_HttpLoopback(benchmark::State& state) {
  if (!ShapeProcess(state, 10, 10)) return;
  const auto snap = FullSnapshot();
  leakwatch::exporters::PrometheusExporterOptions options;
  options.listen = "127.0.0.1:0";
  auto exporter = leakwatch::exporters::PrometheusExporter::Start(options, [snap] { return snap; });
  if (!exporter) {
    state.SkipWithError(exporter.error().message.c_str());
    return;
  }
  const int port = (*exporter)->port();
  size_t bytes = 0;
  int status = leakwatch::bench::HttpGet(port, "/metrics", &bytes);  // warm-up (first request)
  uint64_t failures = 0;
  const int64_t server_cpu_before = leakwatch::bench::ThreadsCpuNs("civetweb");
  const int64_t client_cpu_before = leakwatch::bench::ThreadCpuNs();
  for (auto _ : state) {
    status = leakwatch::bench::HttpGet(port, "/metrics", &bytes);
    if (status != 200) ++failures;
  }
  const int64_t client_cpu = leakwatch::bench::ThreadCpuNs() - client_cpu_before;
  const int64_t server_cpu = leakwatch::bench::ThreadsCpuNs("civetweb") - server_cpu_before;
  // Split of the process CPU: civetweb's threads (the exporter's side of the scrape) vs this thread (the
  // client).
  state.counters["server_cpu_us"] =
      benchmark::Counter(static_cast<double>(server_cpu) / 1000.0, benchmark::Counter::kAvgIterations);
  state.counters["client_cpu_us"] =
      benchmark::Counter(static_cast<double>(client_cpu) / 1000.0, benchmark::Counter::kAvgIterations);
  state.counters["response_bytes"] = static_cast<double>(bytes);
  state.counters["non_200"] = static_cast<double>(failures);
  exporter->reset();  // joins civetweb's threads (up to ~2 s); the timed loop has ended
}
BENCHMARK(BM_Scrape_HttpLoopback)->UseRealTime()->MeasureProcessCPUTime();

// ---- the pieces of CgroupReader: each file it reads, read alone (pread on an open file) -----------------

void RegisterCgroupFileBenchmarks() {
  auto location = li::LocateCgroup(li::CgroupRoots{});
  if (!location.ok() || location->version == 0) {
    std::fprintf(stderr, "no memory cgroup found: per-file cgroup benchmarks not registered\n");
    return;
  }
  std::vector<std::string> files;
  const std::string& dir = location->memory_dir;
  if (location->version == 1) {
    for (const char* name : {"memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat",
                             "memory.failcnt", "memory.oom_control", "memory.memsw.usage_in_bytes",
                             "memory.kmem.usage_in_bytes", "memory.kmem.tcp.usage_in_bytes"}) {
      files.push_back(li::JoinPath(dir, name));
    }
  } else {
    for (const char* name : {"memory.current", "memory.max", "memory.high", "memory.stat", "memory.events",
                             "memory.swap.current"}) {
      files.push_back(li::JoinPath(dir, name));
    }
  }
  if (!location->pids_dir.empty()) {
    files.push_back(li::JoinPath(location->pids_dir, "pids.current"));
    files.push_back(li::JoinPath(location->pids_dir, "pids.max"));
  }
  if (!location->pressure_file.empty()) files.push_back(location->pressure_file);
  for (const std::string& path : files) {
    // The file name, or "pressure/memory" for the PSI file (whose own name is just "memory").
    const std::string base = path.substr(path.rfind('/') + 1);
    const std::string label = base == "memory" ? "pressure/memory" : base;
    const bool parse_flat = base == "memory.stat" || base == "memory.oom_control" || base == "memory.events";
    benchmark::RegisterBenchmark(("BM_Part_Cgroup/" + label).c_str(),
                                 [path, parse_flat](benchmark::State& state) {
                                   li::ReusableFile file(path);
                                   if (!file.Read().ok()) {
                                     state.SkipWithError(("cannot read " + path).c_str());
                                     return;
                                   }
                                   li::FlatKeyedFile flat;
                                   for (auto _ : state) {
                                     auto text = file.Read();
                                     if (parse_flat && text.ok()) li::ParseFlatKeyedFile(*text, &flat);
                                     benchmark::DoNotOptimize(text);
                                   }
                                 });
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // Readers log their set-up at info level; keep the benchmark output readable.
  (void)li::ConfigureLogging(li::LogSettings{.level = "warn"});
  const uint64_t nofile = leakwatch::bench::RaiseFdLimitToHard();
  benchmark::AddCustomContext("rlimit_nofile_soft", std::to_string(nofile));
  RegisterCgroupFileBenchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
