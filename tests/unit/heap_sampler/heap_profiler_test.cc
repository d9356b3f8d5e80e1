// The agent's side of the heap sampler with injected hooks: its states and their reasons, the signals of a
// tick, the peak profile, and the pprof file made from the samples (decoded independently).
#include "agent/heap_sampler/heap_profiler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "agent/heap_sampler/sample_interval.h"
#include "agent/heap_sampler/sampled_profile.h"
#include "tests/support/recording_error_sink.h"
#include "tests/unit/profile/pprof_decoder.h"

namespace leakwatch::internal {
namespace {

HeapSamplerCore g_core;
const int kOwnMalloc = 0;  // stands for the hooks' malloc

HeapSamplerStartResult FakeStart(const HeapSamplerSettings& settings) {
  HeapSamplerStartResult r;
  r.ok = g_core.Start(settings);
  r.unwinder = "fake";
  return r;
}

const HeapSamplerHooks* FakeHooks(std::string*) {
  static const HeapSamplerHooks hooks = [] {
    HeapSamplerHooks h;
    h.core = &g_core;
    h.start = &FakeStart;
    h.own_malloc = &kOwnMalloc;
    h.real_malloc = [] { return static_cast<const void*>(&kOwnMalloc); };
    return h;
  }();
  return &hooks;
}

HeapProfiler::Environment FakeEnvironment(const void* process_malloc = &kOwnMalloc) {
  HeapProfiler::Environment env;
  env.find_hooks = &FakeHooks;
  env.process_malloc = [process_malloc] { return process_malloc; };
  env.object_name = [](const void* p) {
    return p == &kOwnMalloc ? std::string("libfake.so") : std::string("libother.so");
  };
  return env;
}

// Allocation sites: their addresses stand in for return addresses, so that the profile's locations fall in
// this test's own executable and get its function names.
__attribute__((noinline)) void LeakySite() { asm volatile(""); }
__attribute__((noinline)) void SteadySite() { asm volatile(""); }
__attribute__((noinline)) void ProfiledLeakySite() { asm volatile(""); }
uint64_t ReturnAddressIn(void (*f)()) { return reinterpret_cast<uint64_t>(f) + 1; }

class HeapProfilerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Leave nothing live for the next test.
    const SampledHeap h = g_core.Collect();
    (void)h;
    for (uint64_t i = 0; i < 4096; ++i) {
      const void* p = reinterpret_cast<const void*>(0x20000000 + i * 64);
      if (g_core.MightBeSampled(p)) g_core.RecordFree(p);
    }
    g_core.Stop();
  }
  static const void* At(uint64_t i) { return reinterpret_cast<const void*>(0x20000000 + i * 64); }
};

TEST_F(HeapProfilerTest, DisabledIsOffAndSaysSo) {
  HeapProfilerOptions o;
  o.enabled = false;
  HeapProfiler p(o, FakeEnvironment());
  p.Start();
  EXPECT_EQ(p.status().state, HeapProfilerState::kOff);
  EXPECT_NE(p.status().reason.find("LEAKWATCH_HEAP_SAMPLER=off"), std::string::npos);
  Snapshot s;
  p.ReadTick(&s);
  EXPECT_EQ(s.get(Signal::kHeapSamplerRunning), 0.0);
  EXPECT_FALSE(s.has(Signal::kHeapSampledInuseBytes));
  EXPECT_FALSE(p.CaptureNow().has_value());
  EXPECT_FALSE(g_core.running());
}

TEST_F(HeapProfilerTest, WithoutHooksItIsUnavailableAndSaysHowToGetThem) {
  HeapProfiler::Environment env = FakeEnvironment();
  env.find_hooks = [](std::string* problem) -> const HeapSamplerHooks* {
    *problem = "no allocation hooks in this process";
    return nullptr;
  };
  HeapProfiler p(HeapProfilerOptions{}, env);
  p.Start();
  const HeapProfilerStatus st = p.status();
  EXPECT_EQ(st.state, HeapProfilerState::kUnavailable);
  EXPECT_NE(st.reason.find("no allocation hooks"), std::string::npos) << st.reason;
  EXPECT_NE(st.reason.find("leakwatch run"), std::string::npos) << st.reason;
  EXPECT_FALSE(st.stats.has_value());
}

TEST_F(HeapProfilerTest, AMallocAheadOfTheHooksMakesItUnavailable) {
  static const int other = 0;
  HeapProfiler p(HeapProfilerOptions{}, FakeEnvironment(&other));
  p.Start();
  const HeapProfilerStatus st = p.status();
  EXPECT_EQ(st.state, HeapProfilerState::kUnavailable);
  EXPECT_NE(st.reason.find("libother.so"), std::string::npos) << st.reason;
  EXPECT_FALSE(g_core.running());
}

TEST_F(HeapProfilerTest, RunningTicksPublishTheSignalsAndKeepThePeak) {
  HeapProfilerOptions o;
  o.sampling_interval_bytes = 1;  // every sample weighs 1: figures are exact
  o.peak_growth = 0.10;
  o.peak_min_interval = std::chrono::milliseconds(0);
  HeapProfiler p(o, FakeEnvironment());
  p.Start();
  ASSERT_EQ(p.status().state, HeapProfilerState::kRunning);
  EXPECT_EQ(p.status().unwinder, "fake");
  EXPECT_EQ(p.status().real_allocator, "libfake.so");
  EXPECT_EQ(g_core.mean_interval_bytes(), 1u);

  const uint64_t leaky[] = {ReturnAddressIn(&LeakySite)};
  for (uint64_t i = 0; i < 10; ++i) g_core.RecordAllocation(At(i), 1000, leaky, 1);
  Snapshot s1;
  test_support::RecordingErrorSink errors;
  HeapSamplerReader(p).Read(TickKind::kRegular, &s1, errors);
  EXPECT_TRUE(errors.reports.empty());
  EXPECT_EQ(s1.get(Signal::kHeapSamplerRunning), 1.0);
  EXPECT_EQ(s1.get(Signal::kHeapSamplerIntervalBytes), 1.0);
  EXPECT_EQ(s1.get(Signal::kHeapSampledInuseBytes), 10000.0);
  EXPECT_EQ(s1.get(Signal::kHeapSampledInuseObjects), 10.0);
  EXPECT_EQ(s1.get(Signal::kHeapSamplerLiveSamples), 10.0);
  EXPECT_EQ(s1.get(Signal::kHeapSamplerSamplesTotal), 10.0);
  EXPECT_EQ(s1.get(Signal::kHeapSampledPeakInuseBytes), 10000.0);
  EXPECT_TRUE(s1.has(Signal::kHeapSamplerMemoryBytes));
  EXPECT_EQ(s1.get(Signal::kHeapSamplerDroppedLiveTotal), 0.0);
  auto first_peak = p.peak();
  ASSERT_NE(first_peak, nullptr);
  EXPECT_EQ(first_peak->heap.stats.inuse_bytes_estimate, 10000.0);

  // +5%: not a new peak; then everything freed: the peak stays.
  g_core.RecordAllocation(At(10), 500, leaky, 1);
  Snapshot s2;
  p.ReadTick(&s2);
  EXPECT_EQ(p.peak(), first_peak);
  for (uint64_t i = 0; i <= 10; ++i) g_core.RecordFree(At(i));
  Snapshot s3;
  p.ReadTick(&s3);
  EXPECT_EQ(s3.get(Signal::kHeapSampledInuseBytes), 0.0);
  EXPECT_EQ(s3.get(Signal::kHeapSampledPeakInuseBytes), 10000.0);
  EXPECT_EQ(p.peak(), first_peak);

  // Beyond +10%: a new peak.
  for (uint64_t i = 0; i < 12; ++i) g_core.RecordAllocation(At(100 + i), 1000, leaky, 1);
  Snapshot s4;
  p.ReadTick(&s4);
  ASSERT_NE(p.peak(), first_peak);
  EXPECT_EQ(p.peak()->heap.stats.inuse_bytes_estimate, 12000.0);
  EXPECT_EQ(s4.get(Signal::kHeapSampledPeakInuseBytes), 12000.0);
  for (uint64_t i = 0; i < 12; ++i) g_core.RecordFree(At(100 + i));

  p.Stop();
  EXPECT_EQ(p.status().state, HeapProfilerState::kStopped);
  EXPECT_FALSE(g_core.running());
}

// A growing heap is captured at most once per peak_min_interval: the growth in between shows in the peak
// signal at once, and its profile comes with the first tick after the interval.
TEST_F(HeapProfilerTest, ANewPeakIsCapturedAtMostOncePerMinimumInterval) {
  ManualClock clock;
  HeapProfilerOptions o;
  o.sampling_interval_bytes = 1;
  o.peak_growth = 0.10;
  o.peak_min_interval = std::chrono::seconds(10);
  HeapProfiler::Environment env = FakeEnvironment();
  env.clock = &clock;
  HeapProfiler p(o, env);
  p.Start();
  ASSERT_EQ(p.status().state, HeapProfilerState::kRunning);
  const uint64_t leaky[] = {ReturnAddressIn(&LeakySite)};
  uint64_t next = 200;
  const auto allocate = [&](int n) {
    for (int i = 0; i < n; ++i) g_core.RecordAllocation(At(next++), 1000, leaky, 1);
  };

  allocate(10);
  Snapshot s1;
  p.ReadTick(&s1);
  const auto first = p.peak();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->heap.stats.inuse_bytes_estimate, 10000.0);

  // +50% after 9 s: no capture yet, but the signal follows the heap.
  clock.Advance(std::chrono::seconds(9));
  allocate(5);
  Snapshot s2;
  p.ReadTick(&s2);
  EXPECT_EQ(p.peak(), first);
  EXPECT_EQ(p.status().peak_inuse_bytes, 10000.0);
  EXPECT_EQ(s2.get(Signal::kHeapSampledPeakInuseBytes), 15000.0);

  // 10 s after the capture: the new peak is captured.
  clock.Advance(std::chrono::seconds(1));
  Snapshot s3;
  p.ReadTick(&s3);
  ASSERT_NE(p.peak(), first);
  EXPECT_EQ(p.peak()->heap.stats.inuse_bytes_estimate, 15000.0);
  EXPECT_EQ(p.status().peak_inuse_bytes, 15000.0);

  // The interval restarts from that capture.
  const auto second = p.peak();
  clock.Advance(std::chrono::seconds(5));
  allocate(5);
  Snapshot s4;
  p.ReadTick(&s4);
  EXPECT_EQ(p.peak(), second);
  clock.Advance(std::chrono::seconds(5));
  Snapshot s5;
  p.ReadTick(&s5);
  EXPECT_EQ(p.peak()->heap.stats.inuse_bytes_estimate, 20000.0);

  for (uint64_t a = 200; a < next; ++a) g_core.RecordFree(At(a));
  p.Stop();
}

TEST_F(HeapProfilerTest, TheProfileHasTheFourSampleTypesUnbiasedValuesAndNamedFunctions) {
  HeapProfilerOptions o;
  o.sampling_interval_bytes = 4096;
  HeapProfiler p(o, FakeEnvironment());
  p.Start();
  ASSERT_EQ(p.status().state, HeapProfilerState::kRunning);
  // A site of its own: the core is shared with the other tests, and allocated totals never decrease.
  const uint64_t leaky[] = {ReturnAddressIn(&ProfiledLeakySite)};
  const uint64_t steady[] = {ReturnAddressIn(&SteadySite)};
  for (uint64_t i = 0; i < 30; ++i) g_core.RecordAllocation(At(i), 1024, leaky, 1);
  for (uint64_t i = 0; i < 20; ++i) {
    g_core.RecordAllocation(At(1000 + i), 8192, steady, 1);
    g_core.RecordFree(At(1000 + i));
  }
  auto capture = p.CaptureNow();
  ASSERT_TRUE(capture.has_value());
  EXPECT_FALSE(capture->mappings.empty()) << "the memory map is captured with the samples";
  auto encoded = EncodeSampledHeap(*capture, EncodeSampledHeapOptions{});
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  const PprofProfile decoded = testing_pprof::DecodeProfile(testing_pprof::Gunzip(encoded->pprof_gz));

  ASSERT_EQ(decoded.sample_types.size(), 4u);
  EXPECT_EQ(decoded.sample_types[0].type, "alloc_objects");
  EXPECT_EQ(decoded.sample_types[1].type, "alloc_space");
  EXPECT_EQ(decoded.sample_types[2].type, "inuse_objects");
  EXPECT_EQ(decoded.sample_types[3].type, "inuse_space");
  EXPECT_EQ(decoded.default_sample_type, "inuse_space");
  EXPECT_EQ(decoded.period, 4096);
  EXPECT_EQ(decoded.period_type.type, "space");
  ASSERT_GE(decoded.samples.size(), 2u);  // the earlier tests' stacks are in the shared core too
  const auto function_of = [&](const PprofSample& s) -> std::string {
    const uint64_t loc = s.location_ids.at(0);
    for (const auto& l : decoded.locations) {
      if (l.id != loc || l.lines.empty()) continue;
      for (const auto& f : decoded.functions) {
        if (f.id == l.lines[0].function_id) return f.name;
      }
    }
    return "";
  };
  const double w1024 = SampleWeight(1024, 4096), w8192 = SampleWeight(8192, 4096);
  bool saw_leaky = false, saw_steady = false;
  for (const auto& s : decoded.samples) {
    const std::string f = function_of(s);
    if (f.find("ProfiledLeakySite") != std::string::npos) {
      saw_leaky = true;
      EXPECT_NEAR(static_cast<double>(s.values[2]), 30 * w1024, 1.0);
      EXPECT_NEAR(static_cast<double>(s.values[3]), 30 * w1024 * 1024, 1.0);
      EXPECT_EQ(s.values[1], s.values[3]) << "nothing freed: allocated = in use";
    } else if (f.find("SteadySite") != std::string::npos) {
      saw_steady = true;
      EXPECT_NEAR(static_cast<double>(s.values[0]), 20 * w8192, 1.0);
      EXPECT_NEAR(static_cast<double>(s.values[1]), 20 * w8192 * 8192, 1.0);
      EXPECT_EQ(s.values[3], 0) << "all freed";
    }
  }
  EXPECT_TRUE(saw_leaky);
  EXPECT_TRUE(saw_steady);
  ASSERT_FALSE(decoded.mappings.empty());
  EXPECT_FALSE(decoded.mappings[0].build_id.empty()) << "the main executable's mapping carries its build id";
  EXPECT_NE(decoded.drop_frames.find("malloc"), std::string::npos);
  EXPECT_NEAR(encoded->inuse_bytes, 30 * w1024 * 1024, 1.0);
  p.Stop();
}

}  // namespace
}  // namespace leakwatch::internal
