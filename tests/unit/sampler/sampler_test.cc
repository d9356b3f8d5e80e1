#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

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

// A reader of one source that sets its signal to a counter, throws or reports on demand. Like the real
// readers it reads its source only on the ticks that include the source's cadence.
class FakeReader : public SourceReader {
 public:
  enum class Mode { kOk, kFail, kThrow };
  explicit FakeReader(Signal signal, Source source, Mode* mode)
      : signal_(signal), source_(source), mode_(mode) {}
  void Read(TickKind tick, Snapshot* snap, ErrorSink& errors) override {
    ticks.push_back(tick);
    if (SourceCadence(source_) == Cadence::kSlow && tick != TickKind::kSlow) return;
    ++calls;
    switch (*mode_) {
      case Mode::kOk:
        snap->set(signal_, static_cast<double>(calls));
        break;
      case Mode::kFail:
        errors.Report(source_, Error{"fake failure"});
        break;
      case Mode::kThrow:
        throw std::runtime_error("boom");
    }
  }
  int calls = 0;
  std::vector<TickKind> ticks;

 private:
  Signal signal_;
  Source source_;
  Mode* mode_;
};

TEST(TickCollector, CountsErrorsPerSourceKeepsSignalsAbsentAndSurvivesExceptions) {
  ManualClock clock;
  FakeReader::Mode fast_mode = FakeReader::Mode::kOk;
  FakeReader::Mode slow_mode = FakeReader::Mode::kOk;
  std::vector<std::unique_ptr<SourceReader>> readers;
  readers.push_back(
      std::make_unique<FakeReader>(Signal::kResidentMemoryBytes, Source::kProcStatm, &fast_mode));
  auto* slow_reader = new FakeReader(Signal::kSmapsPssBytes, Source::kSmapsRollup, &slow_mode);
  readers.emplace_back(slow_reader);
  TickCollector c({.period = 1s, .slow_every = 3}, std::move(readers), clock);

  auto s1 = c.Tick(0);
  EXPECT_EQ(s1->sequence, 1u);
  EXPECT_EQ(s1->get(Signal::kResidentMemoryBytes), 1);
  EXPECT_EQ(s1->get(Signal::kSmapsPssBytes), 1);
  EXPECT_EQ(s1->slow_sequence, 1u);

  fast_mode = FakeReader::Mode::kFail;
  clock.Advance(1s);
  auto s2 = c.Tick(0);
  EXPECT_FALSE(s2->has(Signal::kResidentMemoryBytes));
  EXPECT_EQ(s2->source_errors_total[static_cast<size_t>(Source::kProcStatm)], 1u);
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
  EXPECT_EQ(s4->source_errors_total[static_cast<size_t>(Source::kProcStatm)], 1u);
  EXPECT_EQ(s4->source_errors_total[static_cast<size_t>(Source::kSmapsRollup)], 1u);
  EXPECT_EQ(slow_reader->ticks, (std::vector<TickKind>{TickKind::kSlow, TickKind::kRegular,
                                                       TickKind::kRegular, TickKind::kSlow}));

  // A failed slow source stays absent (and is not read, so not counted again) until the next slow tick.
  slow_mode = FakeReader::Mode::kOk;
  clock.Advance(1s);
  auto s5 = c.Tick(5);
  EXPECT_FALSE(s5->has(Signal::kSmapsPssBytes));
  EXPECT_EQ(s5->source_errors_total[static_cast<size_t>(Source::kSmapsRollup)], 1u);
  EXPECT_EQ(s5->slow_sequence, 4u);
}

TEST(TickCollector, SlowEveryZeroReadsTheSlowSignalsOnTheFirstTickOnly) {
  ManualClock clock;
  FakeReader::Mode mode = FakeReader::Mode::kOk;
  std::vector<std::unique_ptr<SourceReader>> readers;
  auto* reader = new FakeReader(Signal::kSmapsPssBytes, Source::kSmapsRollup, &mode);
  readers.emplace_back(reader);
  TickCollector c({.period = 1s, .slow_every = 0}, std::move(readers), clock);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c.Tick(0)->get(Signal::kSmapsPssBytes), 1);
  EXPECT_EQ(reader->calls, 1);
}

// Sets RSS every tick and VmHWM on slow ticks, to the values given.
class PeakReader : public SourceReader {
 public:
  void Read(TickKind tick, Snapshot* snap, ErrorSink&) override {
    snap->set(Signal::kResidentMemoryBytes, rss);
    if (tick == TickKind::kSlow) snap->set(Signal::kResidentMemoryPeakBytes, hwm);
  }
  double rss = 0;
  double hwm = 0;
};

TEST(TickCollector, PeakRssIsNeverBelowTheCurrentRss) {
  ManualClock clock;
  std::vector<std::unique_ptr<SourceReader>> readers;
  auto* reader = new PeakReader;
  readers.emplace_back(reader);
  TickCollector c({.period = 1s, .slow_every = 10}, std::move(readers), clock);
  reader->rss = 100;
  reader->hwm = 150;
  EXPECT_EQ(c.Tick(0)->get(Signal::kResidentMemoryPeakBytes), 150);  // slow tick: VmHWM
  reader->rss = 120;
  EXPECT_EQ(c.Tick(0)->get(Signal::kResidentMemoryPeakBytes), 150);  // carried
  reader->rss = 400;
  EXPECT_EQ(c.Tick(0)->get(Signal::kResidentMemoryPeakBytes), 400);  // RSS grew past the carried VmHWM
  reader->rss = 90;
  EXPECT_EQ(c.Tick(0)->get(Signal::kResidentMemoryPeakBytes), 150);  // carried value again: max with RSS 90
}

TEST(TickCollector, ReportsCountOncePerSourcePerTick) {
  ManualClock clock;
  FakeReader::Mode mode = FakeReader::Mode::kFail;
  std::vector<std::unique_ptr<SourceReader>> readers;
  readers.push_back(std::make_unique<FakeReader>(Signal::kResidentMemoryBytes, Source::kProcStatm, &mode));
  readers.push_back(std::make_unique<FakeReader>(Signal::kVirtualMemoryBytes, Source::kProcStatm, &mode));
  TickCollector c({.period = 1s, .slow_every = 0}, std::move(readers), clock);
  auto s = c.Tick(0);
  EXPECT_EQ(s->source_errors_total[static_cast<size_t>(Source::kProcStatm)], 1u);
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
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return ticks >= 3; }))
        << "scheduler did not tick 3 times in 10 s";
    EXPECT_NE(tick_thread, std::this_thread::get_id());
  }
  s.Stop();  // joins the thread
  s.Stop();
  EXPECT_TRUE(s.Start(std::chrono::steady_clock::now() + 1h).ok());  // restartable after Stop()
  s.Stop();
}

}  // namespace
}  // namespace leakwatch::internal
