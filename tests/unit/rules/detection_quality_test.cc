// Detection quality of the DEFAULT rules, on the simulated corpus (tests/support/rule_sim.h), at the default
// 1 s period. What the default rule set promises, and what these tests hold it to:
//
//   - No rule fires on the noise corpus (noisy steady states with outliers, GC-like sawtooths, start-up
//     growth, bursts that recover, gaps), over several simulated hours, for several noise seeds.
//   - A memory leak that takes >= 3 min from its baseline to the cgroup limit fires memory_time_to_limit
//     (critical) >= 60 s before the limit. Without sample noise this holds for every rate; with 0.5% noise it
//     holds while the leak's last horizon (10 min) of growth is well above the noise, i.e. for leaks reaching
//     the limit within ~2 h. Slower leaks are OOM-killed by a noise peak while the projection still says
//     "more than 10 min": no slope-based rule can see that coming, and memory_near_limit (85%) fires hours
//     before instead; that is asserted for them.
//   - A leak too fast for that (>= 10 s from its start to the limit, from any level) fires
//   memory_oom_imminent
//     (critical) >= 5 s before the limit, enough to write a bundle.
//   - A step that stays fires memory_growth, not memory_time_to_limit (steps of +20% from up to 50% of the
//     limit); a thread leak fires threads_spike (fast) or threads_growth (steady); an fd leak fires
//     fds_time_to_limit and fds_near_limit.
//   - Thresholds fire exactly `hold` after the crossing; a time_to_limit rule on a noise-free leak fires
//     horizon - hold (up to one bucket) before the limit.
//
// A failure prints every transition of the run (SimulationResult::Describe). If one of these fails after a
// change of the default rules, the change made detection worse: run bench/leakwatch_rules_quality for the
// whole picture rather than loosening a test.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <ostream>
#include <random>

#include "tests/support/rule_sim.h"

namespace leakwatch::sim {

// gtest prints parameters; a Scenario holds std::functions, so print its name.
void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr auto kPeriod = seconds(1);

const internal::CompiledRules& Rules() {
  static const internal::CompiledRules rules = DefaultCompiledRules();
  return rules;
}

const RuleSpec& Spec(std::string_view name) {
  for (const auto& spec : Rules().rules) {
    if (spec->name == name) return *spec;
  }
  ADD_FAILURE() << "no default rule " << name;
  std::abort();
}

double Seconds(std::chrono::milliseconds d) { return std::chrono::duration<double>(d).count(); }

std::string TestName(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

// ---- the simulator itself ---------------------------------------------------------------------------------

TEST(RuleSim, RandomNumbersAreTheStandardEngineThroughOurOwnTransforms) {
  // mt19937_64's output is fixed by the standard; Uniform() is its top 53 bits.
  Rng rng(5489);
  std::mt19937_64 reference(5489);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(rng.Uniform(), static_cast<double>(reference() >> 11) * 0x1.0p-53);

  Rng g(7);
  const int n = 200000;
  double sum = 0, squares = 0;
  int beyond_2_sigma = 0;
  for (int i = 0; i < n; ++i) {
    const double z = g.Gaussian();
    sum += z;
    squares += z * z;
    beyond_2_sigma += std::fabs(z) > 2 ? 1 : 0;
  }
  EXPECT_NEAR(sum / n, 0, 0.01);
  EXPECT_NEAR(squares / n, 1, 0.015);
  EXPECT_NEAR(static_cast<double>(beyond_2_sigma) / n, 0.0455, 0.002);
}

TEST(RuleSim, AGapSkipsTicksWithoutShiftingTheNoiseOfLaterTicks) {
  const Scenario plain = corpus::NoisySteady(kGiB, 0.5, 0.02, 0.01, 0.2);
  Scenario gapped = plain;
  gapped.gaps = {Interval{100, 30}};
  Sampler a(plain, kPeriod), b(gapped, kPeriod);
  for (int i = 0; i < 300; ++i) {
    const Sample x = a.Next(), y = b.Next();
    ASSERT_EQ(x.t, i);
    EXPECT_EQ(x.memory, y.memory) << i;
    EXPECT_EQ(x.threads, y.threads) << i;
    EXPECT_EQ(y.skipped, i >= 100 && i < 130) << i;
  }
  const SimulationResult r = Simulate(corpus::Gaps(kGiB), Rules(), kPeriod, hours(1));
  EXPECT_EQ(r.skipped_ticks, 5u * 30u + 1u);  // at 10, 20, 30, 40 and 50 min, and the last tick (60 min)
  EXPECT_EQ(r.ticks, 3601u - 151u);
}

TEST(RuleSim, SimulationIsDeterministicAndStopsAtTheLimit) {
  corpus::MemoryLeakParams p;
  p.limit_bytes = 256 * kMiB;
  p.rate_bytes_per_s = kMiB;
  const SimulationResult a = Simulate(corpus::MemoryLeak(p), Rules(), kPeriod, hours(1));
  const SimulationResult b = Simulate(corpus::MemoryLeak(p), Rules(), kPeriod, hours(1));
  EXPECT_EQ(a.Describe(), b.Describe());
  ASSERT_TRUE(a.memory_limit_reached_s.has_value());
  EXPECT_EQ(a.end_s, *a.memory_limit_reached_s);  // the process is OOM-killed there
  EXPECT_NEAR(*a.memory_limit_reached_s, corpus::MemoryLeakLimitTime(p), 5);
  EXPECT_FALSE(a.transitions.empty());
}

// ---- the noise corpus: nothing fires ----------------------------------------------------------------------

class NoiseCorpus : public ::testing::TestWithParam<Scenario> {};

TEST_P(NoiseCorpus, NoRuleFiresInSixHoursWithAnyOfThreeSeeds) {
  for (const uint64_t reseed : {0, 1000, 2000}) {
    Scenario s = GetParam();
    s.seed += reseed;
    const SimulationResult r = Simulate(s, Rules(), kPeriod, hours(6));
    EXPECT_FALSE(r.memory_limit_reached_s.has_value());
    EXPECT_THAT(r.Firings(), ::testing::IsEmpty()) << "seed " << s.seed << "\n" << r.Describe();
  }
}

INSTANTIATE_TEST_SUITE_P(DefaultRules, NoiseCorpus, ::testing::ValuesIn(corpus::NoiseCorpus(kGiB)),
                         [](const auto& info) { return TestName(info.param.name); });

// ---- memory leaks -----------------------------------------------------------------------------------------

struct LeakCase {
  double limit_bytes;
  double seconds_to_limit;  // from the leak's start (at 30% of the limit) to the limit
  double noise;
};

std::string LeakName(const LeakCase& c) {
  return TestName(FormatBytes(c.limit_bytes) + "_in_" + std::to_string(static_cast<int>(c.seconds_to_limit)) +
                  "s" + (c.noise > 0 ? "_noisy" : "_exact"));
}

corpus::MemoryLeakParams Params(const LeakCase& c) {
  corpus::MemoryLeakParams p;
  p.limit_bytes = c.limit_bytes;
  p.rate_bytes_per_s = (1 - p.base_ratio) * c.limit_bytes / c.seconds_to_limit;
  p.noise = c.noise;
  return p;
}

SimulationResult RunLeak(const corpus::MemoryLeakParams& p) {
  const auto duration = seconds(static_cast<int64_t>(corpus::MemoryLeakLimitTime(p)) + 600);
  return Simulate(corpus::MemoryLeak(p), Rules(), kPeriod, duration);
}

// Every leak of LeakCases(): memory_time_to_limit >= 60 s before the limit, nothing before the leak.
class MemoryLeak : public ::testing::TestWithParam<LeakCase> {};

TEST_P(MemoryLeak, TimeToLimitFiresAtLeastAMinuteBeforeTheLimit) {
  const corpus::MemoryLeakParams p = Params(GetParam());
  const SimulationResult r = RunLeak(p);
  ASSERT_TRUE(r.memory_limit_reached_s.has_value()) << r.Describe();
  const double limit_at = *r.memory_limit_reached_s;
  ASSERT_FALSE(r.Firings().empty()) << r.Describe();
  EXPECT_GE(r.Firings().front(), p.steady_s) << r.Describe();
  const std::optional<double> ttl = r.FirstFiring("memory_time_to_limit");
  ASSERT_TRUE(ttl.has_value()) << r.Describe();
  EXPECT_GE(limit_at - *ttl, 60) << r.Describe();
}

// Noise-free leaks: exact times.
class MemoryLeakExact : public ::testing::TestWithParam<LeakCase> {};

TEST_P(MemoryLeakExact, NearLimitFiresExactlyHoldAfterTheCrossing) {
  const corpus::MemoryLeakParams p = Params(GetParam());
  const SimulationResult r = RunLeak(p);
  const RuleSpec& near = Spec("memory_near_limit");
  // The first tick whose value is above 85% of the limit, then the hold.
  const double crossing =
      std::ceil(p.steady_s + (*near.above_limit_ratio - p.base_ratio) * p.limit_bytes / p.rate_bytes_per_s);
  const double expected = crossing + Seconds(near.hold);
  ASSERT_TRUE(r.memory_limit_reached_s.has_value());
  const std::optional<double> fired = r.FirstFiring("memory_near_limit");
  if (expected >= *r.memory_limit_reached_s) {
    EXPECT_FALSE(fired.has_value()) << r.Describe();
    return;
  }
  ASSERT_TRUE(fired.has_value()) << r.Describe();
  EXPECT_NEAR(*fired, expected, 1) << r.Describe();
}

TEST_P(MemoryLeakExact, SlowLeakTimeToLimitFiresHorizonMinusHoldBeforeTheLimit) {
  if (GetParam().seconds_to_limit < 1800) return;  // faster leaks fire as soon as the slope shows: see above
  const SimulationResult r = RunLeak(Params(GetParam()));
  const RuleSpec& ttl = Spec("memory_time_to_limit");
  const std::optional<double> fired = r.FirstFiring("memory_time_to_limit");
  ASSERT_TRUE(fired.has_value() && r.memory_limit_reached_s) << r.Describe();
  const double lead = *r.memory_limit_reached_s - *fired;
  // The projection crosses the horizon on time; the hold follows. The slope lags by at most one bucket of the
  // window (window / 16), and ticks are whole seconds.
  const double ideal = Seconds(ttl.horizon) - Seconds(ttl.hold);
  EXPECT_LE(lead, ideal + 1) << r.Describe();
  EXPECT_GE(lead, ideal - Seconds(ttl.window) / 16) << r.Describe();
}

// Leaks too slow for a 10 min projection to beat 0.5% noise: the OOM kill comes from a noise peak while the
// projection still says "more than the horizon". The threshold rule fires long before.
TEST(MemoryLeakNoisySlow, NearLimitFiresHoursBeforeANoisePeakKillsTheProcess) {
  for (const double hours_to_limit : {6.0, 24.0}) {
    const corpus::MemoryLeakParams p = Params(LeakCase{kGiB, hours_to_limit * 3600, 0.005});
    const SimulationResult r = RunLeak(p);
    ASSERT_TRUE(r.memory_limit_reached_s.has_value()) << r.Describe();
    const TransitionRecord* first = r.FirstFiringRecord();
    ASSERT_NE(first, nullptr) << r.Describe();
    EXPECT_EQ(first->rule, "memory_near_limit");
    EXPECT_GE(first->t, p.steady_s);
    // 85% -> 100% takes 15/70 of the leak; noise shortens it by a few percent.
    EXPECT_GE(*r.memory_limit_reached_s - first->t, 0.15 * hours_to_limit * 3600) << r.Describe();
  }
}

// 3 min to 24 h from 30% of the limit to the limit, on 256 MiB, 1 GiB and 8 GiB.
std::vector<LeakCase> ExactLeaks() {
  std::vector<LeakCase> out;
  for (const double limit : {256 * kMiB, kGiB, 8 * kGiB}) {
    for (const double t : {180.0, 240.0, 300.0, 600.0, 1800.0, 3600.0, 6 * 3600.0, 24 * 3600.0}) {
      out.push_back(LeakCase{limit, t, 0});
    }
  }
  return out;
}

// With 0.5% noise, up to 2 h to the limit.
std::vector<LeakCase> NoisyLeaks() {
  std::vector<LeakCase> out;
  for (const double limit : {256 * kMiB, 8 * kGiB}) {
    for (const double t : {180.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0})
      out.push_back(LeakCase{limit, t, 0.005});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Exact, MemoryLeak, ::testing::ValuesIn(ExactLeaks()),
                         [](const auto& info) { return LeakName(info.param); });
INSTANTIATE_TEST_SUITE_P(Noisy, MemoryLeak, ::testing::ValuesIn(NoisyLeaks()),
                         [](const auto& info) { return LeakName(info.param); });
INSTANTIATE_TEST_SUITE_P(DefaultRules, MemoryLeakExact, ::testing::ValuesIn(ExactLeaks()),
                         [](const auto& info) { return LeakName(info.param); });

// Leaks too fast for memory_time_to_limit (its 3 min window and 5 min warm-up): memory_oom_imminent fires at
// least 5 s before the limit for any leak that takes 10 s or more from its start to the limit, from any
// level, on any limit, with or without noise — the time the bundle has to be written.
TEST(FastMemoryLeak, OomImminentFiresFiveSecondsBeforeTheLimitOrEarlier) {
  for (const double limit : {256 * kMiB, kGiB, 8 * kGiB}) {
    for (const double base : {0.05, 0.3, 0.6}) {
      for (const double to_limit_s : {10.0, 15.0, 20.0, 30.0, 60.0, 120.0}) {
        for (const double noise : {0.0, 0.005}) {
          corpus::MemoryLeakParams p;
          p.limit_bytes = limit;
          p.base_ratio = base;
          p.rate_bytes_per_s = (1 - base) * limit / to_limit_s;
          p.noise = noise;
          p.steady_s = 600;
          const SimulationResult r = RunLeak(p);
          const std::string what = FormatBytes(limit) + " from " + std::to_string(base) + " in " +
                                   std::to_string(to_limit_s) + " s, noise " + std::to_string(noise);
          ASSERT_TRUE(r.memory_limit_reached_s.has_value()) << what;
          const std::optional<double> fired = r.FirstFiring("memory_oom_imminent");
          ASSERT_TRUE(fired.has_value()) << what << "\n" << r.Describe();
          EXPECT_GE(*fired, p.steady_s) << what;
          EXPECT_GE(*r.memory_limit_reached_s - *fired, 5) << what << "\n" << r.Describe();
        }
      }
    }
  }
}

TEST(MemoryLeakWithGaps, TwoMissedHalfMinutesDelayButDoNotPreventTheCriticalFiring) {
  const corpus::MemoryLeakParams p = Params(LeakCase{kGiB, 1800, 0.005});
  Scenario s = corpus::MemoryLeak(p);
  s.gaps = {Interval{p.steady_s + 600, 30}, Interval{p.steady_s + 1200, 30}};
  const SimulationResult r = RunLeak(p);
  const SimulationResult g =
      Simulate(s, Rules(), kPeriod, seconds(static_cast<int64_t>(corpus::MemoryLeakLimitTime(p))));
  ASSERT_TRUE(g.memory_limit_reached_s.has_value()) << g.Describe();
  EXPECT_EQ(g.skipped_ticks, 60u);
  const std::optional<double> ttl = g.FirstFiring("memory_time_to_limit");
  ASSERT_TRUE(ttl.has_value()) << g.Describe();
  EXPECT_GE(*g.memory_limit_reached_s - *ttl, 60) << g.Describe();
  EXPECT_GE(g.Firings().front(), p.steady_s) << g.Describe();
  // The gap restarted the windows: the firing is no earlier than without gaps.
  EXPECT_GE(*ttl, *r.FirstFiring("memory_time_to_limit"));
}

// ---- steps, threads, fds ----------------------------------------------------------------------------------

TEST(StepChange, FiresGrowthButNotTimeToLimitWhenFlatAfterwards) {
  const RuleSpec& growth = Spec("memory_growth");
  for (const double base : {0.3, 0.4, 0.5}) {
    const double at = 30 * 60;
    const SimulationResult r = Simulate(corpus::StepChange(kGiB, base, 0.2, at), Rules(), kPeriod, hours(3));
    const std::optional<double> fired = r.FirstFiring("memory_growth");
    ASSERT_TRUE(fired.has_value()) << r.Describe();
    // Theil–Sen sees the step as growth while it sits in the middle of the window: from about a quarter of
    // the window after the step, plus the hold.
    EXPECT_GT(*fired, at + Seconds(growth.hold)) << r.Describe();
    EXPECT_LT(*fired, at + Seconds(growth.window) / 2 + Seconds(growth.hold)) << r.Describe();
    EXPECT_EQ(r.Firings().size(), 1u) << r.Describe();  // growth only, and once
    // It resolves once the step has left the middle of the window.
    bool resolved = false;
    for (const auto& tr : r.transitions)
      resolved |= tr.rule == "memory_growth" && tr.from == RuleState::kFiring;
    EXPECT_TRUE(resolved) << r.Describe();
  }
}

TEST(ThreadLeak, FastLeakFiresThreadsSpikeHoldAfterTheCountTriples) {
  const RuleSpec& spike = Spec("threads_spike");
  for (const double rate : {5.0, 10.0}) {
    const Scenario s = corpus::ThreadLeak(20, rate);
    const SimulationResult r = Simulate(s, Rules(), kPeriod, hours(1));
    const std::optional<double> fired = r.FirstFiring("threads_spike");
    ASSERT_TRUE(fired.has_value()) << r.Describe();
    // max(3 x the 20-thread baseline, the floor of 50) = 60 threads, then the hold; +-1 thread of noise.
    const double crossing = *s.leak_start_s + (60 - 20) / rate;
    EXPECT_NEAR(*fired, crossing + Seconds(spike.hold), 3 / rate + 1) << r.Describe();
  }
}

TEST(ThreadLeak, SteadyLeakFiresThreadsGrowthWithinItsWindow) {
  const RuleSpec& growth = Spec("threads_growth");
  // From two threads a minute to two a second: the spike rule's 1 min median follows these ramps.
  for (const double rate : {2.0 / 60, 0.1, 1.0, 2.0}) {
    const Scenario s = corpus::ThreadLeak(20, rate);
    const SimulationResult r = Simulate(s, Rules(), kPeriod, hours(3));
    const std::optional<double> fired = r.FirstFiring("threads_growth");
    ASSERT_TRUE(fired.has_value()) << "rate " << rate << "/s\n" << r.Describe();
    EXPECT_GT(*fired, *s.leak_start_s + Seconds(growth.hold)) << r.Describe();
    // Within the window plus the hold once the leak is under way (the slope needs a third of the window to
    // turn).
    EXPECT_LT(*fired, *s.leak_start_s + Seconds(growth.window) + Seconds(growth.hold)) << r.Describe();
  }
}

TEST(FdLeak, FiresTimeToLimitAndNearLimitBeforeMaxFds) {
  struct Case {
    double max_fds, base, rate;
  };
  // 1024 (the common soft limit) at 1 fd/s (15 min to the limit) and 0.1 fd/s (2.5 h); 65536 at 10 fds/s.
  for (const Case c : {Case{1024, 100, 1}, Case{1024, 100, 0.1}, Case{65536, 1000, 10}}) {
    const Scenario s = corpus::FdLeak(c.max_fds, c.base, c.rate);
    const SimulationResult r = Simulate(s, Rules(), kPeriod, hours(30));
    ASSERT_TRUE(r.fds_limit_reached_s.has_value()) << r.Describe();
    const double limit_at = *r.fds_limit_reached_s;
    const std::optional<double> ttl = r.FirstFiring("fds_time_to_limit");
    const std::optional<double> near = r.FirstFiring("fds_near_limit");
    ASSERT_TRUE(ttl.has_value()) << r.Describe();
    ASSERT_TRUE(near.has_value()) << r.Describe();
    EXPECT_GE(limit_at - *ttl, 60) << r.Describe();
    EXPECT_LT(*near, limit_at) << r.Describe();
    EXPECT_GE(r.Firings().front(), *s.leak_start_s) << r.Describe();
    // The threshold: 90% of max_fds crossed, then the hold (+-2 fds of noise, a few crossings back and forth
    // for the slow leak).
    const RuleSpec& near_spec = Spec("fds_near_limit");
    const double crossing = *s.leak_start_s + (*near_spec.above_limit_ratio * c.max_fds - c.base) / c.rate;
    const double slack = 1 + 6 / c.rate;  // whole-second ticks
    EXPECT_GE(*near, crossing + Seconds(near_spec.hold) - slack) << r.Describe();
    EXPECT_LE(*near, crossing + Seconds(near_spec.hold) + slack) << r.Describe();
  }
}

}  // namespace
}  // namespace leakwatch::sim
