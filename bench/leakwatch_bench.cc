// leakwatch_bench: Google Benchmark suite for the agent's hot paths (docs/PERFORMANCE.md has the results).
//
//   Tick       TickCollector::Tick() with the every-tick readers only (ProcessReader + CgroupReader on
//              "self"), at 10 / 10,000 open fds x 10 / 1,000 threads.
//   Breakdown  each reader alone, and the pieces of each reader (the /proc and cgroup files read one by one).
//   Alt        cheaper sources for the same numbers, and a prototype parse (data for the proposals).
//   FdCount    FdCounter::Count() with the stat() fast path vs the getdents64 path, at 10 and 10,000 fds.
//   Slow       SmapsRollupReader and FdTypeReader (the slow-cadence readers).
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

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

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
  return readers;
}

void SetShapeCounters(benchmark::State& state, const Snapshot& snap, uint64_t errors) {
  // Only the readers that produce them set these (the cgroup and slow readers do not).
  if (auto fds = snap.get(Signal::kOpenFds)) state.counters["open_fds"] = *fds;
  if (auto threads = snap.get(Signal::kThreads)) state.counters["proc_threads"] = *threads;
  state.counters["signals"] = static_cast<double>(snap.present_count());
  state.counters["errors"] = static_cast<double>(errors);
}

// ---- one full tick (every-tick readers only) ------------------------------------------------------------

void BM_Tick(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  li::TickCollector collector(li::TickCollector::Options{.period = std::chrono::seconds(1), .slow_every = 0},
                              EveryTickReaders(), {}, li::SystemClock::Instance());
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
BENCHMARK(BM_Tick)
    ->ArgNames({"fds", "threads"})
    ->Args({10, 10})
    ->Args({10000, 10})
    ->Args({10, 1000})
    ->Args({10000, 1000});

// ---- each every-tick reader alone -----------------------------------------------------------------------

template <typename MakeReader>
void RunReader(benchmark::State& state, MakeReader make) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  auto reader = make();
  CountingSink sink;
  Snapshot snap;
  reader->Read(&snap, sink);
  for (auto _ : state) {
    reader->Read(&snap, sink);
    benchmark::ClobberMemory();
  }
  SetShapeCounters(state, snap, sink.errors);
}

void BM_ProcessReader(benchmark::State& state) {
  RunReader(state, [] { return std::make_unique<li::ProcessReader>(li::ProcessReaderOptions{}); });
}
BENCHMARK(BM_ProcessReader)
    ->ArgNames({"fds", "threads"})
    ->Args({10, 10})
    ->Args({10000, 10})
    ->Args({10, 1000})
    ->Args({10000, 1000});

void BM_CgroupReader(benchmark::State& state) {
  RunReader(state, [] { return std::make_unique<li::CgroupReader>(li::CgroupReaderOptions{}); });
}
BENCHMARK(BM_CgroupReader)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10000, 1000});

// ---- the pieces of ProcessReader (same calls as the reader, made one by one) ----------------------------

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

// ---- cheaper sources for the same numbers (data for the proposals; not used by the agent) ---------------

// /proc/self/statm: size and resident pages (no VmHWM, RssAnon/File/Shmem split or VmSwap).
void BM_Alt_ProcSelfStatm(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  li::ReusableFile file("/proc/self/statm");
  for (auto _ : state) {
    auto text = file.Read();
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_Alt_ProcSelfStatm)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10, 1000});

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

// The thread count in O(1): stat("/proc/self/task").st_nlink is 2 + the number of threads.
void BM_Alt_TaskDirNlink(benchmark::State& state) {
  if (!ShapeProcess(state, state.range(0), state.range(1))) return;
  struct stat info {};
  for (auto _ : state) {
    ::stat("/proc/self/task", &info);
    benchmark::DoNotOptimize(info.st_nlink);
  }
  state.counters["threads_from_nlink"] = static_cast<double>(info.st_nlink) - 2;
}
BENCHMARK(BM_Alt_TaskDirNlink)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10, 1000});

// Parsing the live memory.stat text (read once): the agent's ParseFlatKeyedFile vs a prototype single pass
// (below) that differs in two ways: whitespace is tested with a comparison instead of
// string_view::find_first_of(" \t\n") (one memchr call per character in libstdc++), and entries are appended
// without first searching the ones already parsed (a linear Get() per line makes the parse quadratic in the
// number of keys; FlatKeyedFile::Get() scans from the front, so the first of repeated keys still wins).
std::string MemoryStatText() {
  auto location = li::LocateCgroup(li::CgroupRoots{});
  if (!location.ok() || location->memory_dir.empty()) return {};
  auto text = li::ReadFile(li::JoinPath(location->memory_dir, "memory.stat"));
  return text.ok() ? *text : std::string();
}

void BM_Alt_ParseMemoryStat_Current(benchmark::State& state) {
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
BENCHMARK(BM_Alt_ParseMemoryStat_Current);

struct PrototypeFlat {
  std::vector<std::pair<std::string_view, uint64_t>> entries;
  size_t malformed = 0;
};

bool IsBlank(char ch) { return ch == ' ' || ch == '\t'; }

void PrototypeParseFlat(std::string_view text, PrototypeFlat* out) {
  out->entries.clear();
  out->malformed = 0;
  size_t pos = 0;
  const size_t n = text.size();
  while (pos < n) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = n;
    size_t i = pos;
    pos = end + 1;
    while (i < end && IsBlank(text[i])) ++i;
    if (i == end) continue;  // blank line
    const size_t key_start = i;
    while (i < end && !IsBlank(text[i])) ++i;
    const std::string_view key = text.substr(key_start, i - key_start);
    while (i < end && IsBlank(text[i])) ++i;
    const size_t value_start = i;
    while (i < end && !IsBlank(text[i])) ++i;
    const std::string_view value = text.substr(value_start, i - value_start);
    while (i < end && IsBlank(text[i])) ++i;
    const auto v = i == end && !value.empty() ? li::ParseU64(value) : std::nullopt;
    if (!v) {
      ++out->malformed;
      continue;
    }
    out->entries.emplace_back(key, *v);
  }
}

void BM_Alt_ParseMemoryStat_Prototype(benchmark::State& state) {
  const std::string text = MemoryStatText();
  if (text.empty()) {
    state.SkipWithError("no memory.stat");
    return;
  }
  PrototypeFlat flat;
  for (auto _ : state) {
    PrototypeParseFlat(text, &flat);
    benchmark::DoNotOptimize(flat.entries.size());
  }
  state.counters["keys"] = static_cast<double>(flat.entries.size());
}
BENCHMARK(BM_Alt_ParseMemoryStat_Prototype);

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
  RunReader(state, [] { return std::make_unique<li::SmapsRollupReader>(); });
}
BENCHMARK(BM_SmapsRollupReader)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10000, 1000});

void BM_FdTypeReader(benchmark::State& state) {
  RunReader(state, [] { return std::make_unique<li::FdTypeReader>(); });
}
BENCHMARK(BM_FdTypeReader)->ArgNames({"fds", "threads"})->Args({10, 10})->Args({10000, 10});

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
