// ThreadCounter and ProcessReader on this test process's own /proc/self: the every-tick sources (task link
// count, times(2), statm) must agree with the files they replace (task listing, stat, status).

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>
#include <vector>

#include "agent/common/file_reader.h"
#include "agent/procfs/proc_stat.h"
#include "agent/procfs/proc_status.h"
#include "agent/procfs/process_reader.h"
#include "agent/procfs/thread_counter.h"
#include "tests/support/recording_error_sink.h"

namespace leakwatch::internal {
namespace {

using test_support::RecordingErrorSink;

uint64_t ListedThreads() {
  uint64_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Threads that park until the object is destroyed.
class ParkedThreads {
 public:
  explicit ParkedThreads(int n) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this] {
        ++started_;
        while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      });
    }
    while (started_ < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ParkedThreads() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> started_{0};
  std::vector<std::thread> threads_;
};

// The link count and the task listing are read one after the other, and a joined thread can stay listed for a
// moment after pthread_join returns (the kernel wakes the joiner before it releases the task): compare them
// until they agree, within a bound.
uint64_t CountAgreeingWithListing(const ThreadCounter& counter) {
  uint64_t counted = 0;
  uint64_t listed = 0;
  for (int attempt = 0; attempt < 200; ++attempt) {
    const Result<uint64_t> count = counter.Count();
    EXPECT_TRUE(count.ok()) << count.error().message;
    if (!count.ok()) return 0;
    counted = *count;
    listed = ListedThreads();
    if (counted == listed) return counted;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "link count " << counted << " never agreed with the task listing " << listed;
  return counted;
}

TEST(ThreadCounterLive, LinkCountOfProcSelfTaskCountsThreadsExactly) {
  ThreadCounter counter("/proc", "self");
  ASSERT_TRUE(counter.uses_link_count()) << "this kernel's /proc/self/task link count does not count threads";
  const uint64_t before = CountAgreeingWithListing(counter);
  uint64_t during = 0;
  {
    ParkedThreads threads(7);
    during = CountAgreeingWithListing(counter);
    // A sanitizer runtime may start its own helper thread with the first pthread_create.
    EXPECT_GE(during, before + 7);
    EXPECT_LE(during, before + 8);
  }
  EXPECT_EQ(CountAgreeingWithListing(counter), during - 7);
}

TEST(ProcessReaderLive, EveryTickSourcesAgreeWithStatAndStatus) {
  ParkedThreads threads(3);
  // Burn a little CPU so that the CPU times are not all zero.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;

  ProcessReader reader;
  Snapshot snapshot;
  RecordingErrorSink errors;
  reader.Read(TickKind::kRegular, &snapshot, errors);
  ASSERT_TRUE(errors.reports.empty()) << errors.reports.front().second;

  const Result<ProcStat> stat = ParseProcStat(ReadFile("/proc/self/stat").value());
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  const ProcStatus status = ParseProcStatus(ReadFile("/proc/self/status").value());
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));

  EXPECT_EQ(snapshot.get(Signal::kThreads), static_cast<double>(stat->num_threads));
  // times(2) and /proc/self/stat sum the same per-thread counters; the test runs between the two reads.
  const double cpu_from_stat = static_cast<double>(stat->utime_ticks + stat->stime_ticks) / hz;
  EXPECT_NEAR(snapshot.get(Signal::kCpuSecondsTotal).value_or(-1), cpu_from_stat, 0.05);
  EXPECT_GT(snapshot.get(Signal::kCpuSecondsTotal).value_or(0), 0.0);
  const double rss = static_cast<double>(status.vm_rss_bytes.value());
  EXPECT_NEAR(snapshot.get(Signal::kResidentMemoryBytes).value_or(0), rss, rss * 0.05);
  const double anon = static_cast<double>(status.rss_anon_bytes.value());
  EXPECT_NEAR(snapshot.get(Signal::kRssAnonBytes).value_or(0), anon, anon * 0.05);
  const double vsize = static_cast<double>(stat->vsize_bytes);
  EXPECT_NEAR(snapshot.get(Signal::kVirtualMemoryBytes).value_or(0), vsize, vsize * 0.05);
  // Slow signals are not read on a regular tick.
  EXPECT_FALSE(snapshot.has(Signal::kResidentMemoryPeakBytes));
  EXPECT_FALSE(snapshot.has(Signal::kStartTimeSeconds));
}

}  // namespace
}  // namespace leakwatch::internal
