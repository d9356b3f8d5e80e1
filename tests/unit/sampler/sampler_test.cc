#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "agent/sampler/scheduler.h"
#include "agent/sampler/tick_collector.h"

namespace leakwatch::internal {
namespace {

using namespace std::chrono_literals;
using TP = std::chrono::steady_clock::time_point;

TEST(ComputeNextDeadline, OnTimeTickAdvancesByOnePeriod) {
  const TP t0(1h);
  const auto n = ComputeNextDeadline(t0, t0 + 3ms, 1s);
  EXPECT_EQ(n.deadline, t0 + 1s);
  EXPECT_EQ(n.missed, 0u);
}

TEST(ComputeNextDeadline, LateTickSkipsPassedDeadlinesAndStaysOnTheGrid) {
  const TP t0(1h);
  auto n = ComputeNextDeadline(t0, t0 + 1s, 1s);  // finished exactly at the next deadline: it is skipped
  EXPECT_EQ(n.deadline, t0 + 2s);
  EXPECT_EQ(n.missed, 1u);
  n = ComputeNextDeadline(t0, t0 + 3500ms, 1s);
  EXPECT_EQ(n.deadline, t0 + 4s);
  EXPECT_EQ(n.missed, 3u);
}

// A reader that sets RSS to a counter, throws or reports on demand.
class FakeReader : public SourceReader {
 public:
  enum class Mode { kOk, kFail, kThrow };
  explicit FakeReader(Signal signal, Source source, Mode* mode) : signal_(signal), source_(source), mode_(mode) {}
  void Read(Snapshot* snap, ErrorSink& errors) override {
    ++calls;
    switch (*mode_) {
      case Mode::kOk: snap->set(signal_, static_cast<double>(calls)); break;
      case Mode::kFail: errors.Report(source_, Error{"fake failure"}); break;
      case Mode::kThrow: throw std::runtime_error("boom");
    }
  }
  int calls = 0;

 private:
  Signal signal_;
  Source source_;
  Mode* mode_;
};

TEST(TickCollector, CountsErrorsPerSourceKeepsSignalsAbsentAndSurvivesExceptions) {
  ManualClock clock;
  FakeReader::Mode fast_mode = FakeReader::Mode::kOk;
  FakeReader::Mode slow_mode = FakeReader::Mode::kOk;
  std::vector<std::unique_ptr<SourceReader>> fast, slow;
  fast.push_back(std::make_unique<FakeReader>(Signal::kResidentMemoryBytes, Source::kProcStatus, &fast_mode));
  auto* slow_reader = new FakeReader(Signal::kSmapsPssBytes, Source::kSmapsRollup, &slow_mode);
  slow.emplace_back(slow_reader);
  TickCollector c({.period = 1s, .slow_every = 3}, std::move(fast), std::move(slow), clock);

  auto s1 = c.Tick(0);
  EXPECT_EQ(s1->sequence, 1u);
  EXPECT_EQ(s1->get(Signal::kResidentMemoryBytes), 1);
  EXPECT_EQ(s1->get(Signal::kSmapsPssBytes), 1);
  EXPECT_EQ(s1->slow_sequence, 1u);

  fast_mode = FakeReader::Mode::kFail;
  clock.Advance(1s);
  auto s2 = c.Tick(0);
  EXPECT_FALSE(s2->has(Signal::kResidentMemoryBytes));
  EXPECT_EQ(s2->source_errors_total[static_cast<size_t>(Source::kProcStatus)], 1u);
  EXPECT_EQ(s2->get(Signal::kSmapsPssBytes), 1);  // slow value carried over
  EXPECT_EQ(slow_reader->calls, 1);

  fast_mode = FakeReader::Mode::kThrow;
  clock.Advance(1s);
  auto s3 = c.Tick(5);
  EXPECT_FALSE(s3->has(Signal::kResidentMemoryBytes));
  EXPECT_EQ(s3->source_errors_total[static_cast<size_t>(Source::kInternal)], 1u);
  EXPECT_EQ(s3->missed_ticks_total, 5u);

  fast_mode = FakeReader::Mode::kOk;
  slow_mode = FakeReader::Mode::kFail;
  clock.Advance(1s);
  auto s4 = c.Tick(5);  // tick 4: a slow tick ((4-1) % 3 == 0)
  EXPECT_EQ(slow_reader->calls, 2);
  EXPECT_FALSE(s4->has(Signal::kSmapsPssBytes));  // failed slow source: absent, not the stale value
  EXPECT_EQ(s4->slow_sequence, 4u);
  EXPECT_EQ(s4->samples_total, 4u);
  EXPECT_EQ(s4->source_errors_total[static_cast<size_t>(Source::kProcStatus)], 1u);
  EXPECT_EQ(s4->source_errors_total[static_cast<size_t>(Source::kSmapsRollup)], 1u);
}

TEST(TickCollector, ReportsCountOncePerSourcePerTick) {
  ManualClock clock;
  FakeReader::Mode mode = FakeReader::Mode::kFail;
  std::vector<std::unique_ptr<SourceReader>> fast;
  fast.push_back(std::make_unique<FakeReader>(Signal::kThreads, Source::kProcStat, &mode));
  fast.push_back(std::make_unique<FakeReader>(Signal::kVirtualMemoryBytes, Source::kProcStat, &mode));
  TickCollector c({.period = 1s, .slow_every = 0}, std::move(fast), {}, clock);
  auto s = c.Tick(0);
  EXPECT_EQ(s->source_errors_total[static_cast<size_t>(Source::kProcStat)], 1u);
}

TEST(Scheduler, TicksOnItsOwnThreadAndStopsIdempotently) {
  std::mutex mu;
  std::condition_variable cv;
  int ticks = 0;
  std::thread::id tick_thread;
  Scheduler s(100ms, [&](uint64_t) {
    std::lock_guard lock(mu);
    ++ticks;
    tick_thread = std::this_thread::get_id();
    cv.notify_all();
  });
  ASSERT_TRUE(s.Start(std::chrono::steady_clock::now()).ok());
  EXPECT_FALSE(s.Start(std::chrono::steady_clock::now()).ok());  // already running
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return ticks >= 3; })) << "scheduler did not tick 3 times in 10 s";
    EXPECT_NE(tick_thread, std::this_thread::get_id());
  }
  s.Stop();  // joins the thread
  s.Stop();
  EXPECT_TRUE(s.Start(std::chrono::steady_clock::now() + 1h).ok());  // restartable after Stop()
  s.Stop();
}

}  // namespace
}  // namespace leakwatch::internal
