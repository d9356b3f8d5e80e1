// The rule engine driven by synthetic snapshots: time is the snapshots' steady time, so hold, clear, warm-up,
// gaps, cooldowns and windows are tested without sleeping.

#include "agent/rules/rule_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace leakwatch::internal {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr double kMiB = 1024.0 * 1024.0;

struct Transition {
  std::string rule;
  RuleState from, to;
  bool retrigger;
  ActionOutcome actions;
};

class RecordingSink final : public RuleEventSink {
 public:
  void OnTransition(const RuleEvent& e) override {
    events.push_back({e.status.spec->name, e.from, e.to, e.retrigger, e.actions});
  }
  std::vector<Transition> events;
};

class RecordingRunner final : public ActionRunner {
 public:
  std::vector<std::string> names() const override { return {"log", "bundle"}; }
  void Run(std::string_view action, const RuleEvent& e) override {
    runs.push_back(e.status.spec->name + ":" + std::string(action));
  }
  std::vector<std::string> runs;
};

RuleSpec Rule(std::string name, RuleKind kind, Signal signal) {
  RuleSpec r;
  r.name = std::move(name);
  r.kind = kind;
  r.signal = signal;
  r.warmup = milliseconds(0);
  r.cooldown = milliseconds(0);
  r.max_actions = 1000;
  return r;
}

// Drives an engine with one snapshot per period.
class Driver {
 public:
  explicit Driver(std::vector<RuleSpec> specs, milliseconds period = seconds(1)) : period_(period) {
    CompiledRules compiled;
    for (auto& s : specs) compiled.rules.push_back(std::make_shared<const RuleSpec>(std::move(s)));
    engine_ = std::make_unique<RuleEngine>(std::move(compiled), period, &sink, &runner);
  }

  // One tick `period` after the previous one (or `gap` when given) with these values.
  const RulesStatus& Tick(const std::map<Signal, double>& values, milliseconds gap = milliseconds(0)) {
    now_ += gap.count() > 0 ? gap : period_;
    Snapshot s;
    s.sequence = ++sequence_;
    s.steady_time = std::chrono::steady_clock::time_point(now_);
    s.wall_time = std::chrono::system_clock::time_point(std::chrono::hours(480000) + now_);
    s.period = period_;
    for (const auto& [signal, v] : values) s.set(signal, v);
    engine_->Evaluate(s);
    status_ = engine_->status();
    return *status_;
  }
  const RuleStatus& rule(size_t i = 0) const { return status_->rules.at(i); }
  RuleEngine& engine() { return *engine_; }
  std::chrono::seconds elapsed() const { return std::chrono::duration_cast<std::chrono::seconds>(now_); }

  RecordingSink sink;
  RecordingRunner runner;

 private:
  milliseconds period_;
  std::chrono::nanoseconds now_{0};
  uint64_t sequence_ = 0;
  std::unique_ptr<RuleEngine> engine_;
  std::shared_ptr<const RulesStatus> status_;
};

RuleSpec Threshold(double above) {
  RuleSpec r = Rule("rss_high", RuleKind::kThreshold, Signal::kResidentMemoryBytes);
  r.above = above;
  return r;
}

TEST(RuleEngineThreshold, FiresAfterHoldAndResolvesAfterClearAfter) {
  RuleSpec r = Threshold(100);
  r.hold = seconds(3);
  r.clear_after = seconds(2);
  Driver d({r});
  d.Tick({{Signal::kResidentMemoryBytes, 50}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_EQ(d.rule().reason, RuleReason::kBelowThreshold);
  d.Tick({{Signal::kResidentMemoryBytes, 101}});  // t=2: pending
  EXPECT_EQ(d.rule().state, RuleState::kPending);
  EXPECT_EQ(DescribeRuleStatus(d.rule()), "pending for 0ms of 3s: value 101 B > 100 B");
  d.Tick({{Signal::kResidentMemoryBytes, 120}});
  d.Tick({{Signal::kResidentMemoryBytes, 120}});
  EXPECT_EQ(d.rule().state, RuleState::kPending);
  d.Tick({{Signal::kResidentMemoryBytes, 120}});  // 3 s after the breach began
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  EXPECT_EQ(d.rule().fired_total, 1u);
  d.Tick({{Signal::kResidentMemoryBytes, 90}});  // clear begins
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  EXPECT_EQ(d.rule().reason, RuleReason::kClearing);
  d.Tick({{Signal::kResidentMemoryBytes, 90}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  d.Tick({{Signal::kResidentMemoryBytes, 90}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  ASSERT_EQ(d.sink.events.size(), 3u);
  EXPECT_EQ(d.sink.events[0].to, RuleState::kPending);
  EXPECT_EQ(d.sink.events[1].to, RuleState::kFiring);
  EXPECT_EQ(d.sink.events[1].actions, ActionOutcome::kRun);
  EXPECT_EQ(d.sink.events[2].from, RuleState::kFiring);
  EXPECT_EQ(d.sink.events[2].to, RuleState::kOk);
  EXPECT_EQ(d.runner.runs, std::vector<std::string>{"rss_high:log"});
}

TEST(RuleEngineThreshold, PendingThatEndsBeforeHoldNeverFires) {
  RuleSpec r = Threshold(100);
  r.hold = seconds(5);
  Driver d({r});
  for (int i = 0; i < 4; ++i) d.Tick({{Signal::kResidentMemoryBytes, 150}});
  EXPECT_EQ(d.rule().state, RuleState::kPending);
  d.Tick({{Signal::kResidentMemoryBytes, 99}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_EQ(d.rule().fired_total, 0u);
  EXPECT_TRUE(d.runner.runs.empty());
}

TEST(RuleEngineThreshold, HoldZeroFiresOnTheFirstBreachWithOneEvent) {
  Driver d({Threshold(100)});
  d.Tick({{Signal::kResidentMemoryBytes, 101}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  ASSERT_EQ(d.sink.events.size(), 1u);
  EXPECT_EQ(d.sink.events[0].from, RuleState::kOk);
}

TEST(RuleEngineThreshold, ValueEqualToTheThresholdIsNotABreach) {
  Driver d({Threshold(100)});
  d.Tick({{Signal::kResidentMemoryBytes, 100}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
}

TEST(RuleEngineThreshold, HysteresisKeepsAHoveringValueFromFlapping) {
  RuleSpec r = Threshold(100);
  r.hysteresis = 0.1;  // clears below 90
  Driver d({r});
  const double hovering[] = {101, 99, 101, 95, 100.5, 91, 99};
  for (double v : hovering) {
    d.Tick({{Signal::kResidentMemoryBytes, v}});
    EXPECT_EQ(d.rule().state, RuleState::kFiring) << v;
  }
  EXPECT_EQ(d.rule().reason, RuleReason::kHeldByHysteresis);
  EXPECT_THAT(DescribeRuleStatus(d.rule()), HasSubstr("held by the 10% hysteresis"));
  d.Tick({{Signal::kResidentMemoryBytes, 89}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_EQ(d.rule().fired_total, 1u);
  EXPECT_EQ(d.sink.events.size(), 2u);
}

TEST(RuleEngineThreshold, FractionOfTheNaturalLimit) {
  RuleSpec r = Rule("ws_high", RuleKind::kThreshold, Signal::kCgroupMemoryWorkingSetBytes);
  r.above_limit_ratio = 0.85;
  r.limit.source = LimitSource::kAuto;
  Driver d({r});
  d.Tick({{Signal::kCgroupMemoryWorkingSetBytes, 800}});
  EXPECT_EQ(d.rule().reason, RuleReason::kNoLimit);
  EXPECT_EQ(DescribeRuleStatus(d.rule()), "ok, no limit: cgroup_memory_limit_bytes absent");
  d.Tick({{Signal::kCgroupMemoryWorkingSetBytes, 800}, {Signal::kCgroupMemoryLimitBytes, 1000}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_DOUBLE_EQ(d.rule().threshold.value(), 850);
  d.Tick({{Signal::kCgroupMemoryWorkingSetBytes, 851}, {Signal::kCgroupMemoryLimitBytes, 1000}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
}

TEST(RuleEngineThreshold, ConfiguredAndSignalLimits) {
  RuleSpec by_value = Threshold(0);
  by_value.above.reset();
  by_value.above_limit_ratio = 0.5;
  by_value.limit = LimitSpec{LimitSource::kValue, Signal::kCount, 1000};
  RuleSpec by_signal = by_value;
  by_signal.name = "by_signal";
  by_signal.limit = LimitSpec{LimitSource::kSignal, Signal::kVirtualMemoryBytes, 0};
  Driver d({by_value, by_signal});
  d.Tick({{Signal::kResidentMemoryBytes, 600}, {Signal::kVirtualMemoryBytes, 2000}});
  EXPECT_EQ(d.rule(0).state, RuleState::kFiring);
  EXPECT_EQ(d.rule(1).state, RuleState::kOk);
  EXPECT_DOUBLE_EQ(d.rule(1).threshold.value(), 1000);
}

TEST(RuleEngine, WarmUpDelaysEvaluation) {
  RuleSpec r = Threshold(100);
  r.warmup = seconds(10);
  Driver d({r});
  for (int i = 0; i < 10; ++i) {
    d.Tick({{Signal::kResidentMemoryBytes, 500}});
    EXPECT_EQ(d.rule().state, RuleState::kOk) << i;
    EXPECT_EQ(d.rule().reason, RuleReason::kWarmingUp);
  }
  EXPECT_EQ(DescribeRuleStatus(d.rule()), "ok, warming up: 9s of 10s");
  d.Tick({{Signal::kResidentMemoryBytes, 500}});  // 10 s after the first tick
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
}

TEST(RuleEngine, AbsentSignalCancelsPendingButKeepsFiring) {
  RuleSpec r = Threshold(100);
  r.hold = seconds(2);
  Driver d({r});
  d.Tick({{Signal::kResidentMemoryBytes, 200}});
  EXPECT_EQ(d.rule().state, RuleState::kPending);
  d.Tick({});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_EQ(d.rule().reason, RuleReason::kNoData);
  EXPECT_EQ(DescribeRuleStatus(d.rule()), "ok, no data: rss_bytes absent");
  for (int i = 0; i < 3; ++i) d.Tick({{Signal::kResidentMemoryBytes, 200}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  d.Tick({});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
}

TEST(RuleEngine, DisabledRuleIsNeverEvaluated) {
  RuleSpec r = Threshold(1);
  r.enabled = false;
  Driver d({r});
  d.Tick({{Signal::kResidentMemoryBytes, 500}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_EQ(d.rule().reason, RuleReason::kDisabled);
  EXPECT_EQ(DescribeRuleStatus(d.rule()), "disabled");
}

TEST(RuleEngineActions, CooldownSuppressesActionsButNotFirings) {
  RuleSpec r = Threshold(100);
  r.cooldown = minutes(10);
  r.actions = {"log", "bundle"};
  Driver d({r});
  d.Tick({{Signal::kResidentMemoryBytes, 200}});  // fires, actions run
  d.Tick({{Signal::kResidentMemoryBytes, 50}});   // resolves
  d.Tick({{Signal::kResidentMemoryBytes, 200}});  // fires again 2 s later: cooldown
  EXPECT_EQ(d.rule().fired_total, 2u);
  EXPECT_EQ(d.rule().actions_run_total, 1u);
  EXPECT_EQ(d.rule().actions_suppressed_total, 1u);
  EXPECT_EQ(d.runner.runs, (std::vector<std::string>{"rss_high:log", "rss_high:bundle"}));
  EXPECT_EQ(d.sink.events.back().actions, ActionOutcome::kSuppressedCooldown);
  d.Tick({{Signal::kResidentMemoryBytes, 50}});
  d.Tick({{Signal::kResidentMemoryBytes, 50}}, minutes(10));
  d.Tick({{Signal::kResidentMemoryBytes, 200}});  // > 10 min after the first run
  EXPECT_EQ(d.rule().actions_run_total, 2u);
}

TEST(RuleEngineActions, MaxActionsPerWindow) {
  RuleSpec r = Threshold(100);
  r.max_actions = 2;
  r.actions_window = minutes(1);
  Driver d({r});
  std::vector<ActionOutcome> outcomes;
  for (int i = 0; i < 4; ++i) {  // fire, resolve: 4 firings within 8 s
    d.Tick({{Signal::kResidentMemoryBytes, 200}});
    outcomes.push_back(d.sink.events.back().actions);
    d.Tick({{Signal::kResidentMemoryBytes, 50}});
  }
  EXPECT_EQ(outcomes, (std::vector<ActionOutcome>{ActionOutcome::kRun, ActionOutcome::kRun,
                                                  ActionOutcome::kSuppressedMaxActions,
                                                  ActionOutcome::kSuppressedMaxActions}));
  d.Tick({{Signal::kResidentMemoryBytes, 50}}, minutes(1));
  d.Tick({{Signal::kResidentMemoryBytes, 200}});
  EXPECT_EQ(d.sink.events.back().actions, ActionOutcome::kRun);
  EXPECT_EQ(d.rule().actions_run_total, 3u);
}

TEST(RuleEngineActions, MaxActionsZeroNeverRuns) {
  RuleSpec r = Threshold(100);
  r.max_actions = 0;
  Driver d({r});
  d.Tick({{Signal::kResidentMemoryBytes, 200}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  EXPECT_TRUE(d.runner.runs.empty());
  EXPECT_EQ(d.rule().actions_suppressed_total, 1u);
}

RuleSpec Growth() {
  RuleSpec r = Rule("rss_growth", RuleKind::kGrowth, Signal::kResidentMemoryBytes);
  r.window = minutes(5);
  r.increase = 0.15;
  return r;
}

TEST(RuleEngineGrowth, RelativeIncreaseOverTheWindow) {
  Driver d({Growth()});
  // Steady 100 MiB for 6 minutes: no growth.
  for (int i = 0; i < 360; ++i) d.Tick({{Signal::kResidentMemoryBytes, 100 * kMiB}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_NEAR(d.rule().value.value(), 0, 1e-9);
  // Then +1 MiB per 50 s: 6 MiB per 5 min on ~110 MiB, about 5.5%: not enough.
  double v = 100 * kMiB;
  for (int i = 0; i < 600; ++i) d.Tick({{Signal::kResidentMemoryBytes, v += kMiB / 50}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_NEAR(d.rule().slope.value(), kMiB / 50, kMiB / 5000);
  // The rise over the window relative to the fitted level at the window's start.
  EXPECT_NEAR(d.rule().value.value(), 6 * kMiB / (v - 6 * kMiB), 0.003);
  // +1 MiB per second: far above 15% per 5 minutes.
  int fired_at = -1;
  for (int i = 0; i < 300 && fired_at < 0; ++i) {
    d.Tick({{Signal::kResidentMemoryBytes, v += kMiB}});
    if (d.rule().state == RuleState::kFiring) fired_at = i;
  }
  ASSERT_GE(fired_at, 0);
  EXPECT_LT(fired_at, 180);  // Theil–Sen turns once about a third of the window grows fast
  EXPECT_THAT(DescribeRuleStatus(d.rule()), HasSubstr("growth"));
}

TEST(RuleEngineGrowth, RateCondition) {
  RuleSpec r = Growth();
  r.increase.reset();
  r.rate = kMiB / 60;  // 1 MiB/min
  r.window = minutes(1);
  Driver d({r});
  double v = 0;
  for (int i = 0; i < 120; ++i) d.Tick({{Signal::kResidentMemoryBytes, v += kMiB / 30}});  // 2 MiB/min
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  EXPECT_NEAR(d.rule().value.value(), kMiB / 30, 1);
  EXPECT_EQ(DescribeRuleStatus(d.rule()), "firing: slope 2 MiB/min > 1 MiB/min");
}

TEST(RuleEngineGrowth, BothConditionsMustHold) {
  RuleSpec r = Growth();
  r.window = minutes(1);
  r.rate = 10;       // units/s
  r.increase = 0.5;  // and +50% per window
  Driver d({r});
  double v = 100000;
  for (int i = 0; i < 120; ++i) d.Tick({{Signal::kResidentMemoryBytes, v += 20}});  // rate yes, increase no
  EXPECT_EQ(d.rule().state, RuleState::kOk);
}

TEST(RuleEngineGrowth, OutliersDoNotTiltTheSlope) {
  RuleSpec r = Growth();
  r.window = minutes(2);
  r.increase.reset();
  r.rate = 1;
  Driver d({r});
  // Flat with a huge one-sample spike every 13 s and a burst of 8 s: least squares would see growth.
  for (int i = 0; i < 240; ++i) {
    double v = 1000;
    if (i % 13 == 0) v = 1e6;
    if (i >= 200 && i < 208) v = 5e5;
    d.Tick({{Signal::kResidentMemoryBytes, v}});
    EXPECT_EQ(d.rule().state, RuleState::kOk) << i;
  }
  EXPECT_NEAR(d.rule().slope.value(), 0, 1e-9);
}

TEST(RuleEngineGrowth, WindowMustBeCoveredAfterAGap) {
  RuleSpec r = Growth();
  r.window = minutes(2);
  r.increase.reset();
  r.rate = 1;
  Driver d({r});
  double v = 0;
  for (int i = 0; i < 59; ++i) {
    d.Tick({{Signal::kResidentMemoryBytes, v += 10}});
    EXPECT_EQ(d.rule().reason, RuleReason::kFillingWindow) << i;
  }
  EXPECT_EQ(DescribeRuleStatus(d.rule()), "ok, filling the window: 58s of 1m needed");
  for (int i = 0; i < 10; ++i) d.Tick({{Signal::kResidentMemoryBytes, v += 10}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  // A gap of 1.6 periods restarts the window: no slope until half of it is covered again.
  d.Tick({{Signal::kResidentMemoryBytes, v += 10}}, milliseconds(1600));
  EXPECT_EQ(d.rule().reason, RuleReason::kFillingWindow);
  EXPECT_FALSE(d.rule().slope.has_value());
  EXPECT_EQ(d.rule().state, RuleState::kFiring);  // firing holds until it can clear
  // 1.5 periods exactly is not a gap.
  for (int i = 0; i < 70; ++i) d.Tick({{Signal::kResidentMemoryBytes, v += 10}});
  d.Tick({{Signal::kResidentMemoryBytes, v += 15}}, milliseconds(1500));
  EXPECT_TRUE(d.rule().slope.has_value());
}

RuleSpec TimeToLimit() {
  RuleSpec r = Rule("ws_ttl", RuleKind::kTimeToLimit, Signal::kCgroupMemoryWorkingSetBytes);
  r.limit.source = LimitSource::kAuto;
  r.window = minutes(2);
  r.horizon = minutes(10);
  return r;
}

TEST(RuleEngineTimeToLimit, LinearLeakFiresWithinTheHorizon) {
  Driver d({TimeToLimit()});
  const double limit = 1024 * kMiB;
  double v = 200 * kMiB;
  const double rate = kMiB / 2;  // 30 MiB/min: 824 MiB of headroom last ~27 min
  int fired_at = -1;
  for (int i = 0; i < 1800 && fired_at < 0; ++i) {
    d.Tick({{Signal::kCgroupMemoryWorkingSetBytes, v += rate}, {Signal::kCgroupMemoryLimitBytes, limit}});
    if (d.rule().state == RuleState::kFiring) fired_at = i;
  }
  ASSERT_GE(fired_at, 0);
  const double left = (limit - v) / rate;
  EXPECT_NEAR(d.rule().seconds_to_limit.value(), left, 10);
  EXPECT_LE(left, 600);
  EXPECT_GE(left, 590);
  EXPECT_NEAR(d.rule().slope.value(), rate, rate * 0.01);
  ASSERT_EQ(d.engine().status()->trends.size(), 1u);
  EXPECT_NEAR(d.engine().status()->trends[0].seconds_to_limit.value(), left, 10);
  EXPECT_THAT(DescribeRuleStatus(d.rule()), HasSubstr("limit 1 GiB in"));
}

TEST(RuleEngineTimeToLimit, FlatOrShrinkingIsNotGrowingAndClears) {
  RuleSpec r = TimeToLimit();
  r.clear_after = seconds(5);
  r.hysteresis = 0.5;
  Driver d({r});
  const double limit = 1000;
  double v = 900;
  for (int i = 0; i < 120; ++i)
    d.Tick({{Signal::kCgroupMemoryWorkingSetBytes, v += 0.5}, {Signal::kCgroupMemoryLimitBytes, limit}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  for (int i = 0; i < 200; ++i)
    d.Tick({{Signal::kCgroupMemoryWorkingSetBytes, v -= 0.1}, {Signal::kCgroupMemoryLimitBytes, limit}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_EQ(d.rule().reason, RuleReason::kNotGrowing);
  EXPECT_FALSE(d.rule().seconds_to_limit.has_value());
  EXPECT_THAT(DescribeRuleStatus(d.rule()), HasSubstr("not growing"));
}

TEST(RuleEngineTimeToLimit, AtOrOverTheLimitIsZeroSeconds) {
  Driver d({TimeToLimit()});
  for (int i = 0; i < 70; ++i)
    d.Tick({{Signal::kCgroupMemoryWorkingSetBytes, 1000}, {Signal::kCgroupMemoryLimitBytes, 1000}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  EXPECT_EQ(d.rule().seconds_to_limit.value(), 0);
}

RuleSpec Spike() {
  RuleSpec r = Rule("threads_spike", RuleKind::kSpike, Signal::kThreads);
  r.window = seconds(10);
  r.factor = 3;
  r.floor = 20;
  r.min_coverage = 1;
  return r;
}

TEST(RuleEngineSpike, FactorOverTheMedianBaselineAndFloor) {
  Driver d({Spike()});
  for (int i = 0; i < 9; ++i) d.Tick({{Signal::kThreads, 8}});
  EXPECT_EQ(d.rule().reason, RuleReason::kFillingWindow);
  d.Tick({{Signal::kThreads, 8}});
  d.Tick({{Signal::kThreads, 8}});
  EXPECT_EQ(d.rule().reason, RuleReason::kBelowThreshold);
  EXPECT_DOUBLE_EQ(d.rule().threshold.value(), 24);  // max(3 x 8, floor 20)
  d.Tick({{Signal::kThreads, 25}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  EXPECT_DOUBLE_EQ(d.rule().baseline.value(), 8);
  EXPECT_EQ(DescribeRuleStatus(d.rule()), "firing: value 25 > 24 (baseline 8)");
}

TEST(RuleEngineSpike, FloorStopsSmallNumbersFromFiring) {
  Driver d({Spike()});
  for (int i = 0; i < 12; ++i) d.Tick({{Signal::kThreads, 2}});
  d.Tick({{Signal::kThreads, 19}});  // 9.5x the baseline but below the floor
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_DOUBLE_EQ(d.rule().threshold.value(), 20);
}

TEST(RuleEngineSpike, WhetherTheCurrentSampleIsInTheBaseline) {
  // 10 s window at 1 s: the baseline holds the 9 previous samples (excluded) or the last 10 (included).
  RuleSpec excluded = Spike();
  excluded.baseline = BaselineKind::kMean;
  excluded.floor.reset();
  RuleSpec included = excluded;
  included.name = "included";
  included.baseline_includes_current = true;
  Driver d({excluded, included});
  for (int i = 0; i < 12; ++i) d.Tick({{Signal::kThreads, 10}});
  d.Tick({{Signal::kThreads, 100}});
  EXPECT_DOUBLE_EQ(d.rule(0).baseline.value(), 10);
  EXPECT_DOUBLE_EQ(d.rule(1).baseline.value(), (9 * 10 + 100) / 10.0);
  EXPECT_EQ(d.rule(0).state, RuleState::kFiring);  // 100 > 30
  EXPECT_EQ(d.rule(1).state, RuleState::kFiring);  // 100 > 57
}

TEST(RuleEngineSpike, SustainedLevelBecomesTheBaselineAndClears) {
  Driver d({Spike()});
  for (int i = 0; i < 12; ++i) d.Tick({{Signal::kThreads, 10}});
  d.Tick({{Signal::kThreads, 40}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  for (int i = 0; i < 10; ++i) d.Tick({{Signal::kThreads, 40}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_DOUBLE_EQ(d.rule().baseline.value(), 40);
}

TEST(RuleEngineSpike, MinIncrease) {
  RuleSpec r = Spike();
  r.floor.reset();
  r.min_increase = 100;
  Driver d({r});
  for (int i = 0; i < 12; ++i) d.Tick({{Signal::kThreads, 10}});
  d.Tick({{Signal::kThreads, 100}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_DOUBLE_EQ(d.rule().threshold.value(), 110);
  d.Tick({{Signal::kThreads, 111}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
}

TEST(RuleEngineHighWater, FiresOnEachNewPeakByAStep) {
  RuleSpec r = Rule("heap_peak", RuleKind::kHighWater, Signal::kHeapBytes);
  r.step = 100;
  r.warmup = seconds(5);
  r.clear_after = seconds(0);
  Driver d({r});
  for (double v : {500.0, 700.0, 650.0, 600.0, 600.0}) d.Tick({{Signal::kHeapBytes, v}});  // warm-up peak 700
  d.Tick({{Signal::kHeapBytes, 790}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  EXPECT_DOUBLE_EQ(d.rule().baseline.value(), 700);
  d.Tick({{Signal::kHeapBytes, 801}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
  EXPECT_EQ(d.rule().fired_total, 1u);
  d.Tick({{Signal::kHeapBytes, 850}});  // below the new mark (801) + step
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  d.Tick({{Signal::kHeapBytes, 902}});
  EXPECT_EQ(d.rule().fired_total, 2u);
  d.Tick({{Signal::kHeapBytes, 1100}});  // while firing: a re-trigger
  EXPECT_EQ(d.rule().fired_total, 3u);
  EXPECT_TRUE(d.sink.events.back().retrigger);
  EXPECT_EQ(d.runner.runs.size(), 3u);
}

TEST(RuleEngineHighWater, StepRatio) {
  RuleSpec r = Rule("heap_peak", RuleKind::kHighWater, Signal::kHeapBytes);
  r.step_ratio = 0.25;
  Driver d({r});
  d.Tick({{Signal::kHeapBytes, 400}});
  d.Tick({{Signal::kHeapBytes, 500}});
  EXPECT_EQ(d.rule().state, RuleState::kOk);
  d.Tick({{Signal::kHeapBytes, 501}});
  EXPECT_EQ(d.rule().state, RuleState::kFiring);
}

TEST(RuleEngine, ReplaceKeepsUnchangedRulesAndRestartsChangedOnes) {
  RuleSpec keep = Threshold(100);
  RuleSpec change = Threshold(100);
  change.name = "changed";
  Driver d({keep, change});
  d.Tick({{Signal::kResidentMemoryBytes, 200}});
  EXPECT_EQ(d.rule(0).state, RuleState::kFiring);
  EXPECT_EQ(d.rule(1).state, RuleState::kFiring);
  RuleSpec changed = change;
  changed.above = 300;
  changed.warmup = seconds(5);
  CompiledRules next;
  next.rules = {std::make_shared<const RuleSpec>(keep), std::make_shared<const RuleSpec>(changed)};
  d.engine().Replace(std::move(next));
  d.Tick({{Signal::kResidentMemoryBytes, 200}});
  EXPECT_EQ(d.rule(0).state, RuleState::kFiring);
  EXPECT_EQ(d.rule(0).fired_total, 1u);
  EXPECT_EQ(d.rule(1).state, RuleState::kOk);
  EXPECT_EQ(d.rule(1).reason, RuleReason::kWarmingUp);
  EXPECT_EQ(d.rule(1).fired_total, 0u);
}

TEST(RuleEngine, ThrowingActionIsContained) {
  class Throwing final : public ActionRunner {
   public:
    std::vector<std::string> names() const override { return {"log"}; }
    void Run(std::string_view, const RuleEvent&) override { throw std::runtime_error("disk full"); }
  } runner;
  CompiledRules rules;
  rules.rules = {std::make_shared<const RuleSpec>(Threshold(100))};
  RuleEngine engine(std::move(rules), seconds(1), nullptr, &runner);
  Snapshot s;
  s.sequence = 1;
  s.period = seconds(1);
  s.set(Signal::kResidentMemoryBytes, 500);
  engine.Evaluate(s);
  EXPECT_EQ(engine.status()->rules.at(0).state, RuleState::kFiring);
}

}  // namespace
}  // namespace leakwatch::internal
