// AllocatorReader over a fake provider: figures to signals, errors and exceptions, the read period, info
// refresh; and the derived allocator signals.

#include "agent/allocator/allocator_reader.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "agent/sampler/derived_signals.h"
#include "tests/support/recording_error_sink.h"

namespace leakwatch::internal {
namespace {

using test_support::RecordingErrorSink;

class FakeProvider : public AllocatorStatsProvider {
 public:
  enum class Mode { kOk, kError, kThrow };
  AllocatorInfo Info() override {
    ++info_calls;
    if (throw_in_info) throw std::runtime_error("info broke");
    return info;
  }
  Result<AllocatorStats> Read() override {
    ++read_calls;
    switch (mode) {
      case Mode::kError:
        return Error{"mallctl(\"epoch\") failed"};
      case Mode::kThrow:
        throw std::runtime_error("read broke");
      case Mode::kOk:
        break;
    }
    return stats;
  }
  AllocatorInfo info{.name = "fakealloc", .version = "1.0"};
  AllocatorStats stats;
  Mode mode = Mode::kOk;
  bool throw_in_info = false;
  int info_calls = 0;
  int read_calls = 0;
};

AllocatorStats SomeStats() {
  AllocatorStats s;
  s.allocated_bytes = 1000;
  s.resident_bytes = 1500;
  s.mapped_bytes = 4000;
  s.arenas = 4;
  return s;
}

TEST(AllocatorReader, SetsEveryFigureItHasAndLeavesTheOthersAbsent) {
  auto provider = std::make_shared<FakeProvider>();
  provider->stats = SomeStats();
  AllocatorReader reader(provider);
  Snapshot snapshot;
  snapshot.set(Signal::kAllocatorRetainedBytes, -1);  // stale: must be cleared
  RecordingErrorSink errors;
  reader.Read(TickKind::kSlow, &snapshot, errors);
  EXPECT_TRUE(errors.reports.empty());
  EXPECT_EQ(snapshot.get(Signal::kHeapBytes), 1000);
  EXPECT_EQ(snapshot.get(Signal::kAllocatorAllocatedBytes), 1000);
  EXPECT_EQ(snapshot.get(Signal::kAllocatorResidentBytes), 1500);
  EXPECT_EQ(snapshot.get(Signal::kAllocatorMappedBytes), 4000);
  EXPECT_EQ(snapshot.get(Signal::kAllocatorArenas), 4);
  EXPECT_FALSE(snapshot.has(Signal::kAllocatorRetainedBytes));
  EXPECT_FALSE(snapshot.has(Signal::kAllocatorActiveBytes));
  EXPECT_FALSE(snapshot.has(Signal::kAllocatorMallinfoPeriodSeconds));  // not glibc
  ASSERT_NE(snapshot.allocator, nullptr);
  EXPECT_EQ(snapshot.allocator->name, "fakealloc");
}

TEST(AllocatorReader, AnErrorOrExceptionMakesTheFiguresAbsentAndIsReported) {
  auto provider = std::make_shared<FakeProvider>();
  provider->stats = SomeStats();
  AllocatorReader reader(provider);
  for (auto mode : {FakeProvider::Mode::kError, FakeProvider::Mode::kThrow}) {
    provider->mode = mode;
    Snapshot snapshot;
    snapshot.set(Signal::kHeapBytes, 7);
    RecordingErrorSink errors;
    reader.Read(TickKind::kRegular, &snapshot, errors);
    EXPECT_FALSE(snapshot.has(Signal::kHeapBytes));
    EXPECT_FALSE(snapshot.has(Signal::kAllocatorResidentBytes));
    ASSERT_EQ(errors.Count(Source::kAllocator), 1u);
    if (mode == FakeProvider::Mode::kError) {
      EXPECT_EQ(errors.reports[0].second, "unknown: mallctl(\"epoch\") failed");  // no slow tick yet: no info
    } else {
      EXPECT_EQ(errors.reports[0].second, "unexpected exception: read broke");
    }
  }
}

TEST(AllocatorReader, InfoIsRefreshedOnSlowTicksOnlyAndSharedWhileUnchanged) {
  auto provider = std::make_shared<FakeProvider>();
  AllocatorReader reader(provider);
  RecordingErrorSink errors;
  Snapshot a, b, c, d;
  reader.Read(TickKind::kSlow, &a, errors);
  reader.Read(TickKind::kRegular, &b, errors);
  reader.Read(TickKind::kSlow, &c, errors);
  EXPECT_EQ(provider->info_calls, 2);
  EXPECT_EQ(a.allocator, b.allocator);
  EXPECT_EQ(a.allocator, c.allocator);  // same object: nothing changed
  provider->info.profiling_active = true;
  reader.Read(TickKind::kSlow, &d, errors);
  EXPECT_NE(d.allocator, c.allocator);
  EXPECT_TRUE(d.allocator->profiling_active);
  provider->throw_in_info = true;
  Snapshot e;
  reader.Read(TickKind::kSlow, &e, errors);
  EXPECT_EQ(e.allocator, d.allocator);  // kept
  EXPECT_EQ(errors.Count(Source::kAllocator), 1u);
}

TEST(AllocatorReader, ReadEveryNTicksCarriesTheLastFigures) {
  auto provider = std::make_shared<FakeProvider>();
  provider->stats = SomeStats();
  AllocatorReader reader(provider, 3);
  RecordingErrorSink errors;
  std::vector<double> heap;
  for (int tick = 0; tick < 7; ++tick) {
    provider->stats.allocated_bytes = 1000 + tick;
    Snapshot snapshot;
    reader.Read(TickKind::kRegular, &snapshot, errors);
    heap.push_back(snapshot.get(Signal::kHeapBytes).value_or(-1));
  }
  EXPECT_EQ(provider->read_calls, 3);  // ticks 0, 3, 6
  EXPECT_EQ(heap, (std::vector<double>{1000, 1000, 1000, 1003, 1003, 1003, 1006}));

  provider->mode = FakeProvider::Mode::kError;  // tick 7 carries, tick 9 reads and fails
  for (int tick = 7; tick < 11; ++tick) {
    Snapshot snapshot;
    reader.Read(TickKind::kRegular, &snapshot, errors);
    EXPECT_EQ(snapshot.has(Signal::kHeapBytes), tick < 9) << tick;
  }
  EXPECT_EQ(errors.Count(Source::kAllocator), 1u);  // the carried failure is not reported again
}

TEST(DeriveSignals, AllocatorOverheadAndUnexplainedAnonNeedBothOperands) {
  Snapshot s;
  s.set(Signal::kAllocatorAllocatedBytes, 1000);
  s.set(Signal::kAllocatorResidentBytes, 1500);
  s.set(Signal::kRssAnonBytes, 1400);
  DeriveSignals(&s);
  EXPECT_EQ(s.get(Signal::kAllocatorOverheadBytes), 500);
  EXPECT_EQ(s.get(Signal::kAllocatorUnexplainedAnonBytes), -100);  // jemalloc's resident is an upper bound

  Snapshot glibc;  // glibc has no resident figure
  glibc.set(Signal::kAllocatorAllocatedBytes, 1000);
  glibc.set(Signal::kRssAnonBytes, 1400);
  glibc.set(Signal::kAllocatorOverheadBytes, 1);  // stale
  DeriveSignals(&glibc);
  EXPECT_FALSE(glibc.has(Signal::kAllocatorOverheadBytes));
  EXPECT_FALSE(glibc.has(Signal::kAllocatorUnexplainedAnonBytes));
}

}  // namespace
}  // namespace leakwatch::internal
