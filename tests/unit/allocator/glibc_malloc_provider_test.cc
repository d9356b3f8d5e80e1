// The glibc provider: mallinfo2 -> figures, the back-off rule, and the guard's worker thread driven by a fake
// mallinfo2 that waits at a gate until the test lets each call complete, and that "takes" as long as the test
// says on a fake clock (so over-budget calls need no real slowness).

#include "agent/allocator/glibc_malloc_provider.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/allocator/mallinfo_backoff.h"
#include "tests/unit/allocator/fake_process.h"

namespace leakwatch::internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::steady_clock;
using ::testing::HasSubstr;

constexpr GlibcMallinfo2 kSample = {
    /*arena=*/1000000, /*ordblks=*/10,      /*smblks=*/2,        /*hblks=*/3,
    /*hblkhd=*/300000, /*usmblks=*/0,
    /*fsmblks=*/64,    /*uordblks=*/700000, /*fordblks=*/300000, /*keepcost=*/4096};

TEST(GlibcStatsFromMallinfo2, MapsTheFields) {
  const AllocatorStats s = StatsFromMallinfo2(kSample);
  EXPECT_EQ(s.allocated_bytes, 700000u + 300000u);  // uordblks + hblkhd
  EXPECT_EQ(s.mapped_bytes, 1000000u + 300000u);    // arena + hblkhd
  EXPECT_EQ(s.free_bytes, 300000u);                 // fordblks
  EXPECT_EQ(s.active_bytes, std::nullopt);
  EXPECT_EQ(s.resident_bytes, std::nullopt);
  EXPECT_EQ(s.retained_bytes, std::nullopt);
  EXPECT_EQ(s.metadata_bytes, std::nullopt);
  EXPECT_EQ(s.arenas, std::nullopt);
}

GlibcMallinfoOptions Options(milliseconds period, milliseconds budget, milliseconds max_period) {
  GlibcMallinfoOptions o;
  o.enabled = true;
  o.period = period;
  o.budget = budget;
  o.max_period = max_period;
  return o;
}

TEST(GlibcMallinfoOptions, DefaultsAreValidAndOff) {
  const GlibcMallinfoOptions o;
  EXPECT_FALSE(o.enabled);
  EXPECT_EQ(o.period, milliseconds(60000));
  EXPECT_EQ(o.budget, milliseconds(50));
  EXPECT_EQ(o.max_period, milliseconds(3600000));
  EXPECT_TRUE(ValidateGlibcMallinfoOptions(o).ok());
}

TEST(GlibcMallinfoOptions, ValidationNamesTheField) {
  auto s = ValidateGlibcMallinfoOptions(Options(milliseconds(0), milliseconds(50), milliseconds(100)));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "glibc mallinfo period 0 ms is below 1 ms");
  s = ValidateGlibcMallinfoOptions(Options(milliseconds(10), milliseconds(0), milliseconds(100)));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "glibc mallinfo budget 0 ms is below 1 ms");
  s = ValidateGlibcMallinfoOptions(Options(milliseconds(10), milliseconds(5), milliseconds(9)));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "glibc mallinfo max_period 9 ms is below the period 10 ms");
}

TEST(MallinfoBackoff, DoublesOverBudgetUpToTheMaximumAndHalvesBack) {
  using Change = MallinfoBackoff::Change;
  MallinfoBackoff b(Options(milliseconds(60000), milliseconds(50), milliseconds(300000)));
  EXPECT_EQ(b.period(), milliseconds(60000));
  EXPECT_EQ(b.Record(milliseconds(3)), Change::kNone);
  EXPECT_EQ(b.period(), milliseconds(60000));
  EXPECT_EQ(b.Record(milliseconds(50)), Change::kNone);  // exactly the budget is within it
  EXPECT_EQ(b.Record(milliseconds(800)), Change::kOverBudget);
  EXPECT_EQ(b.period(), milliseconds(120000));
  EXPECT_EQ(b.Record(milliseconds(900)), Change::kNone);  // still over: no second log line
  EXPECT_EQ(b.period(), milliseconds(240000));
  EXPECT_EQ(b.Record(milliseconds(900)), Change::kNone);
  EXPECT_EQ(b.period(), milliseconds(300000));  // capped
  EXPECT_EQ(b.Record(milliseconds(900)), Change::kNone);
  EXPECT_EQ(b.period(), milliseconds(300000));
  EXPECT_EQ(b.backoffs_total(), 4u);
  EXPECT_TRUE(b.over_budget());
  EXPECT_EQ(b.Record(milliseconds(2)), Change::kRecovered);
  EXPECT_EQ(b.period(), milliseconds(150000));
  EXPECT_EQ(b.Record(milliseconds(2)), Change::kNone);
  EXPECT_EQ(b.period(), milliseconds(75000));
  EXPECT_EQ(b.Record(milliseconds(2)), Change::kNone);
  EXPECT_EQ(b.period(), milliseconds(60000));  // never below the configured period
  EXPECT_EQ(b.calls_total(), 9u);
  EXPECT_EQ(b.backoffs_total(), 4u);
  EXPECT_EQ(b.last_duration(), milliseconds(2));
}

TEST(MallinfoBackoff, TheVeryFirstCallOverBudgetIsReported) {
  MallinfoBackoff b(Options(milliseconds(10), milliseconds(5), milliseconds(10)));
  EXPECT_EQ(b.Record(milliseconds(6)), MallinfoBackoff::Change::kOverBudget);
  EXPECT_EQ(b.period(), milliseconds(10));  // max_period == period: nothing to double into
  EXPECT_EQ(b.backoffs_total(), 1u);
}

TEST(MallinfoBackoff, NeverOverflowsNearTheMaximum) {
  const auto huge = milliseconds::max() / 3 * 2;
  MallinfoBackoff b(Options(huge, milliseconds(1), milliseconds::max()));
  b.Record(milliseconds(2));
  EXPECT_EQ(b.period(), milliseconds::max());
}

// The fake mallinfo2 and its clock. One FakeGlibc at a time (the fixture's).
struct FakeGlibc {
  std::mutex mu;
  std::condition_variable cv;
  int permits = 0;           // calls allowed to complete
  bool release_all = false;  // teardown: let every call complete
  nanoseconds duration{0};   // how long each call "takes" on the fake clock
  GlibcMallinfo2 value = kSample;
  int started = 0;
  std::atomic<int64_t> clock_ns{1'000'000'000};
};
FakeGlibc* fake = nullptr;

GlibcMallinfo2 FakeMallinfo2() {
  std::unique_lock lock(fake->mu);
  ++fake->started;
  fake->cv.notify_all();
  fake->cv.wait(lock, [] { return fake->permits > 0 || fake->release_all; });
  if (fake->permits > 0) --fake->permits;
  fake->clock_ns += fake->duration.count();
  return fake->value;
}

const char* FakeLibcVersion() { return "2.36"; }

steady_clock::time_point FakeNow() { return steady_clock::time_point(nanoseconds(fake->clock_ns.load())); }

class GlibcGuardTest : public ::testing::Test {
 protected:
  void SetUp() override { fake = &state_; }
  void TearDown() override {
    {
      std::lock_guard lock(state_.mu);
      state_.release_all = true;
    }
    state_.cv.notify_all();
    provider_.reset();  // joins the worker
    fake = nullptr;
  }

  void Start(const GlibcMallinfoOptions& options) {
    provider_ = std::make_unique<GlibcMallocProvider>(FakeLibcVersion, FakeMallinfo2, options, FakeNow);
  }

  // Lets one call complete, "taking" `duration`, and waits (bounded) until the provider has recorded it.
  void Step(nanoseconds duration) {
    const uint64_t before = provider_->guard_state().calls_total;
    {
      std::lock_guard lock(state_.mu);
      state_.duration = duration;
      ++state_.permits;
    }
    state_.cv.notify_all();
    const auto deadline = steady_clock::now() + std::chrono::seconds(10);
    while (provider_->guard_state().calls_total == before) {
      ASSERT_LT(steady_clock::now(), deadline) << "the worker did not complete a call within 10 s";
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  // Waits (bounded) until the worker has entered its n-th call.
  void WaitStarted(int n) {
    std::unique_lock lock(state_.mu);
    ASSERT_TRUE(state_.cv.wait_for(lock, std::chrono::seconds(10), [&] { return state_.started >= n; }))
        << "the worker did not start call " << n;
  }

  FakeGlibc state_;
  std::unique_ptr<GlibcMallocProvider> provider_;
};

TEST_F(GlibcGuardTest, DisabledByDefaultIdentifiesGlibcAndReportsNoFigures) {
  Start(GlibcMallinfoOptions{});
  const AllocatorInfo info = provider_->Info();
  EXPECT_EQ(info.name, "glibc");
  EXPECT_EQ(info.version, "2.36");
  EXPECT_FALSE(info.profiling_supported);
  auto stats = provider_->Read();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->allocated_bytes, std::nullopt);
  EXPECT_EQ(stats->mapped_bytes, std::nullopt);
  const GlibcGuardState s = provider_->guard_state();
  EXPECT_FALSE(s.enabled);
  EXPECT_EQ(s.calls_total, 0u);
  EXPECT_EQ(state_.started, 0);  // no thread, no call
}

TEST_F(GlibcGuardTest, InvalidOptionsLeaveTheGuardDisabled) {
  Start(Options(milliseconds(0), milliseconds(5), milliseconds(10)));
  EXPECT_FALSE(provider_->guard_state().enabled);
  EXPECT_EQ(state_.started, 0);
}

TEST_F(GlibcGuardTest, WithoutMallinfo2TheGuardStaysDisabled) {
  provider_ = std::make_unique<GlibcMallocProvider>(
      FakeLibcVersion, nullptr, Options(milliseconds(1), milliseconds(5), milliseconds(8)), FakeNow);
  EXPECT_FALSE(provider_->guard_state().enabled);
  auto stats = provider_->Read();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->allocated_bytes, std::nullopt);
}

TEST_F(GlibcGuardTest, ReadNeverWaitsForACallInProgress) {
  Start(Options(milliseconds(1), milliseconds(50), milliseconds(8)));
  EXPECT_TRUE(provider_->guard_state().enabled);
  WaitStarted(1);
  // The first call is in progress (held at the gate): Read() answers at once, with nothing yet.
  auto before = provider_->Read();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->allocated_bytes, std::nullopt);
  EXPECT_EQ(provider_->guard_state().calls_total, 0u);

  Step(milliseconds(1));
  auto first = provider_->Read();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->allocated_bytes, 1000000u);
  EXPECT_EQ(first->mapped_bytes, 1300000u);
  EXPECT_EQ(first->free_bytes, 300000u);

  // The second call is held at the gate with new figures: Read() keeps returning the completed ones.
  {
    std::lock_guard lock(state_.mu);
    state_.value.uordblks = 5;
  }
  WaitStarted(2);
  auto during = provider_->Read();
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during->allocated_bytes, 1000000u);
  Step(milliseconds(1));
  EXPECT_EQ(provider_->Read()->allocated_bytes, 300005u);
}

TEST_F(GlibcGuardTest, BacksOffOverBudgetAndRecovers) {
  Start(Options(milliseconds(1), milliseconds(5), milliseconds(8)));
  Step(milliseconds(2));
  GlibcGuardState s = provider_->guard_state();
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.period, milliseconds(1));
  EXPECT_EQ(s.last_duration, milliseconds(2));
  EXPECT_EQ(s.backoffs_total, 0u);
  ASSERT_TRUE(s.last_completed.has_value());

  const milliseconds expected[] = {milliseconds(2), milliseconds(4), milliseconds(8), milliseconds(8)};
  for (const auto period : expected) {
    Step(milliseconds(30));
    s = provider_->guard_state();
    EXPECT_EQ(s.period, period);
    EXPECT_EQ(s.last_duration, milliseconds(30));
  }
  EXPECT_EQ(s.backoffs_total, 4u);
  EXPECT_EQ(s.calls_total, 5u);

  const milliseconds recovering[] = {milliseconds(4), milliseconds(2), milliseconds(1), milliseconds(1)};
  for (const auto period : recovering) {
    Step(milliseconds(1));
    EXPECT_EQ(provider_->guard_state().period, period);
  }
  s = provider_->guard_state();
  EXPECT_EQ(s.backoffs_total, 4u);
  EXPECT_EQ(s.calls_total, 9u);
}

TEST_F(GlibcGuardTest, DestructionJoinsTheWorker) {
  Start(Options(milliseconds(1), milliseconds(5), milliseconds(8)));
  Step(milliseconds(1));
  {
    std::lock_guard lock(state_.mu);
    state_.release_all = true;
  }
  state_.cv.notify_all();
  provider_.reset();  // returns only once the worker has stopped
  const int started = state_.started;
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(state_.started, started);
}

TEST_F(GlibcGuardTest, FindUsesOnlyGlibcsOwnMallinfo2) {
  using allocator_test::FakeProcess;
  using allocator_test::kLibcObject;
  using allocator_test::kOtherObject;
  const auto options = Options(milliseconds(1), milliseconds(5), milliseconds(8));
  EXPECT_EQ(
      GlibcMallocProvider::Find(FakeProcess().Add("mallinfo2", FakeMallinfo2, kLibcObject).Lookup(), options),
      nullptr);

  auto foreign = GlibcMallocProvider::Find(FakeProcess()
                                               .Add("gnu_get_libc_version", FakeLibcVersion, kLibcObject)
                                               .Add("mallinfo2", FakeMallinfo2, kOtherObject)
                                               .Lookup(),
                                           options, FakeNow);
  ASSERT_NE(foreign, nullptr);
  EXPECT_FALSE(foreign->guard_state().enabled);
  EXPECT_EQ(foreign->Info().name, "glibc");

  provider_ = GlibcMallocProvider::Find(FakeProcess()
                                            .Add("gnu_get_libc_version", FakeLibcVersion, kLibcObject)
                                            .Add("mallinfo2", FakeMallinfo2, kLibcObject)
                                            .Lookup(),
                                        options, FakeNow);
  ASSERT_NE(provider_, nullptr);
  EXPECT_TRUE(provider_->guard_state().enabled);
  Step(milliseconds(1));
  EXPECT_EQ(provider_->Read()->allocated_bytes, 1000000u);
}

}  // namespace
}  // namespace leakwatch::internal
