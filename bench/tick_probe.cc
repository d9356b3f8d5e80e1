// leakwatch_tick_probe: the cost of leakwatch's every-tick readers pointed at another process.
//
//   leakwatch_tick_probe --pid PID [--iterations N] [--interval-us U] [--readers all|process]
//
// Builds the readers the agent runs on every tick (ProcessReader + CgroupReader; with --readers process only
// ProcessReader, for a like-for-like comparison with collectors that read no cgroup files) with pid = PID,
// runs one warm-up tick (it opens the files that later ticks re-read with pread()), then N ticks through
// TickCollector in the agent's default cycle (one slow tick in ten), timing each with CLOCK_THREAD_CPUTIME_ID
// (the CPU this thread spent, kernel time of the /proc reads included). For a pid other than "self" the
// limits come from /proc/PID/limits (no getrlimit for another process) and the fd count uses stat() st_size
// on Linux >= 6.2, as for "self".
//
// Prints one line of key=value pairs (CPU microseconds per tick: median, p90, mean, min, max; wall median;
// the reader errors and the open fds / threads the last tick saw). Exit status 1 on bad arguments, 2 when a
// tick reported a read error.

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/cgroup/cgroup_reader.h"
#include "agent/common/clock.h"
#include "agent/logging/log.h"
#include "agent/procfs/process_reader.h"
#include "agent/sampler/tick_collector.h"

namespace {

namespace li = leakwatch::internal;

int64_t Now(clockid_t clock) {
  struct timespec ts {};
  ::clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index =
      std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5));
  return values[index];
}

int Usage() {
  std::fprintf(
      stderr,
      "usage: leakwatch_tick_probe --pid PID [--iterations N] [--interval-us U] [--readers all|process]\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string pid;
  long iterations = 1000;
  long interval_us = 0;
  std::string which = "all";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return Usage();
    if (arg == "--pid")
      pid = argv[++i];
    else if (arg == "--iterations")
      iterations = std::strtol(argv[++i], nullptr, 10);
    else if (arg == "--readers")
      which = argv[++i];
    else if (arg == "--interval-us")
      interval_us = std::strtol(argv[++i], nullptr, 10);
    else
      return Usage();
  }
  if (pid.empty() || iterations <= 0 || interval_us < 0 || (which != "all" && which != "process"))
    return Usage();
  (void)li::ConfigureLogging(li::LogSettings{.level = "warn"});

  std::vector<std::unique_ptr<li::SourceReader>> readers;
  readers.push_back(std::make_unique<li::ProcessReader>(li::ProcessReaderOptions{.pid = pid}));
  if (which == "all") {
    li::CgroupReaderOptions cgroup_options;
    cgroup_options.roots.pid = pid;
    readers.push_back(std::make_unique<li::CgroupReader>(std::move(cgroup_options)));
  }
  // The agent's default cycle, one slow tick in ten: the median is a regular tick, the mean includes slow
  // ones.
  li::TickCollector collector(li::TickCollector::Options{.period = std::chrono::seconds(1), .slow_every = 10},
                              std::move(readers), li::SystemClock::Instance());
  auto last = collector.Tick(0);

  std::vector<double> cpu_us;
  std::vector<double> wall_us;
  cpu_us.reserve(static_cast<size_t>(iterations));
  wall_us.reserve(static_cast<size_t>(iterations));
  for (long i = 0; i < iterations; ++i) {
    const int64_t cpu0 = Now(CLOCK_THREAD_CPUTIME_ID);
    const int64_t wall0 = Now(CLOCK_MONOTONIC);
    last = collector.Tick(0);
    const int64_t cpu1 = Now(CLOCK_THREAD_CPUTIME_ID);
    const int64_t wall1 = Now(CLOCK_MONOTONIC);
    cpu_us.push_back(static_cast<double>(cpu1 - cpu0) / 1000.0);
    wall_us.push_back(static_cast<double>(wall1 - wall0) / 1000.0);
    if (interval_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(interval_us));
  }

  uint64_t errors = 0;
  for (size_t i = 0; i < leakwatch::kSourceCount; ++i)
    errors += collector.error_count(static_cast<leakwatch::Source>(i));
  double sum = 0;
  for (double v : cpu_us) sum += v;
  const auto get = [&](leakwatch::Signal s) { return last ? last->get(s).value_or(-1) : -1; };
  std::printf(
      "pid=%s readers=%s iterations=%ld cpu_median_us=%.2f cpu_p90_us=%.2f cpu_mean_us=%.2f cpu_min_us=%.2f "
      "cpu_max_us=%.2f "
      "wall_median_us=%.2f errors=%llu open_fds=%.0f threads=%.0f signals=%zu cgroup_version=%d\n",
      pid.c_str(), which.c_str(), iterations, Percentile(cpu_us, 0.5), Percentile(cpu_us, 0.9),
      sum / static_cast<double>(iterations), Percentile(cpu_us, 0.0), Percentile(cpu_us, 1.0),
      Percentile(wall_us, 0.5), static_cast<unsigned long long>(errors), get(leakwatch::Signal::kOpenFds),
      get(leakwatch::Signal::kThreads), last ? last->present_count() : size_t{0},
      last ? last->cgroup_version : -1);
  return errors == 0 ? 0 : 2;
}
