#include "agent/rules/rule_compiler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace leakwatch::internal {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;

const std::vector<std::string> kActions = {"log", "bundle"};
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

RuleSpec Threshold(std::string name = "rss_high") {
  RuleSpec r;
  r.name = std::move(name);
  r.kind = RuleKind::kThreshold;
  r.signal = Signal::kResidentMemoryBytes;
  r.above = 1e9;
  return r;
}

RuleSpec Growth(std::string name = "rss_growth") {
  RuleSpec r;
  r.name = std::move(name);
  r.kind = RuleKind::kGrowth;
  r.signal = Signal::kResidentMemoryBytes;
  r.increase = 0.15;
  return r;
}

RuleSpec Spike(std::string name = "threads_jump") {
  RuleSpec r;
  r.name = std::move(name);
  r.kind = RuleKind::kSpike;
  r.signal = Signal::kThreads;
  r.factor = 3;
  return r;
}

RuleSpec TimeToLimit(std::string name = "ws_ttl") {
  RuleSpec r;
  r.name = std::move(name);
  r.kind = RuleKind::kTimeToLimit;
  r.signal = Signal::kCgroupMemoryWorkingSetBytes;
  r.limit.source = LimitSource::kAuto;
  r.horizon = 10min;
  return r;
}

RuleSpec HighWater(std::string name = "rss_peak") {
  RuleSpec r;
  r.name = std::move(name);
  r.kind = RuleKind::kHighWater;
  r.signal = Signal::kResidentMemoryBytes;
  r.step = 64 << 20;
  return r;
}

Result<CompiledRules> CompileUserRules(std::vector<RuleSpec> rules) {
  RulesOptions o;
  o.defaults = false;
  o.rules = std::move(rules);
  return CompileRules(o, kActions);
}

std::string ErrorOf(std::vector<RuleSpec> rules) {
  const auto compiled = CompileUserRules(std::move(rules));
  EXPECT_FALSE(compiled.ok());
  return compiled.ok() ? "" : compiled.error().message;
}

size_t Lines(const std::string& message) {
  return message.empty() ? 0 : 1 + static_cast<size_t>(std::count(message.begin(), message.end(), '\n'));
}

// The rule compiles to exactly one error line containing `expected`.
void ExpectOneError(const RuleSpec& rule, const std::string& expected) {
  const std::string m = ErrorOf({rule});
  EXPECT_THAT(m, HasSubstr(expected));
  EXPECT_EQ(Lines(m), 1u) << m;
}

std::vector<std::string> Names(const CompiledRules& c) {
  std::vector<std::string> out;
  for (const auto& r : c.rules) out.push_back(r->name);
  return out;
}

TEST(CompileRules, DefaultsOnlyGiveEightRulesWithKindDefaultsApplied) {
  const auto c = CompileRules(RulesOptions{}, kActions);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_THAT(Names(*c), ::testing::ElementsAre("memory_near_limit", "memory_time_to_limit",
                                                "memory_oom_imminent", "memory_growth", "threads_spike",
                                                "threads_growth", "fds_near_limit", "fds_time_to_limit"));
  const auto& r = c->rules;
  EXPECT_EQ(r[0]->window, 0ms);  // threshold: no window
  EXPECT_EQ(r[0]->warmup, 0ms);
  EXPECT_EQ(r[1]->window, 3min);
  EXPECT_EQ(r[1]->warmup, 5min);  // set explicitly by the default (the kind's default is half the window)
  EXPECT_EQ(r[2]->window, 10s);
  EXPECT_EQ(r[2]->warmup, 10s);
  EXPECT_EQ(r[2]->hold, 0ms);
  EXPECT_EQ(r[3]->window, 20min);
  EXPECT_EQ(r[3]->warmup, 20min);
  EXPECT_EQ(r[4]->window, 1min);
  EXPECT_EQ(r[4]->warmup, 1min);  // spike: its window
  EXPECT_EQ(r[5]->window, 10min);
  EXPECT_EQ(r[5]->warmup, 15min);
  EXPECT_EQ(r[6]->warmup, 0ms);
  EXPECT_EQ(r[7]->window, 2min);
  EXPECT_EQ(r[7]->warmup, 1min);  // time_to_limit: half its window
  for (const auto& rule : r) EXPECT_TRUE(rule->enabled) << rule->name;
}

TEST(CompileRules, KindDefaultsForWindowAndWarmup) {
  const auto c = CompileUserRules({Threshold(), Growth(), Spike(), TimeToLimit(), HighWater()});
  ASSERT_TRUE(c.ok()) << c.error().message;
  const auto& r = c->rules;
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0]->window, 0ms);
  EXPECT_EQ(r[0]->warmup, 0ms);
  EXPECT_EQ(r[1]->window, 5min);
  EXPECT_EQ(r[1]->warmup, 5min);
  EXPECT_EQ(r[2]->window, 1min);
  EXPECT_EQ(r[2]->warmup, 1min);
  EXPECT_EQ(r[3]->window, 5min);
  EXPECT_EQ(r[3]->warmup, 150s);
  EXPECT_EQ(r[4]->window, 0ms);
  EXPECT_EQ(r[4]->warmup, 1min);

  RuleSpec g = Growth();
  g.window = 20min;
  RuleSpec s = Spike();
  s.window = 30s;
  s.warmup = 0ms;  // explicit values are kept
  const auto c2 = CompileUserRules({g, s});
  ASSERT_TRUE(c2.ok()) << c2.error().message;
  EXPECT_EQ(c2->rules[0]->warmup, 20min);
  EXPECT_EQ(c2->rules[1]->window, 30s);
  EXPECT_EQ(c2->rules[1]->warmup, 0ms);
}

TEST(CompileRules, UserRuleReplacesDefaultInPlaceOthersAreAppended) {
  RulesOptions o;
  RuleSpec mine = Growth("memory_growth");
  mine.rate = 1 << 20;
  mine.origin = "a.yml:3:5";
  o.rules = {Threshold("extra_one"), mine, Spike("extra_two")};
  const auto c = CompileRules(o, kActions);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_THAT(Names(*c),
              ::testing::ElementsAre("memory_near_limit", "memory_time_to_limit", "memory_oom_imminent",
                                     "memory_growth", "threads_spike", "threads_growth", "fds_near_limit",
                                     "fds_time_to_limit", "extra_one", "extra_two"));
  EXPECT_EQ(c->rules[3]->origin, "a.yml:3:5");
  EXPECT_EQ(c->rules[3]->rate, 1 << 20);
  EXPECT_EQ(c->rules[3]->warmup, 5min);  // the user's rule, not the default's 20m
  EXPECT_EQ(c->rules[8]->origin, "rules[0]");
  EXPECT_EQ(c->rules[9]->origin, "rules[2]");
}

TEST(CompileRules, DefaultsOffKeepsOnlyUserRules) {
  const auto c = CompileUserRules({Growth("memory_growth")});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_THAT(Names(*c), ::testing::ElementsAre("memory_growth"));
}

TEST(CompileRules, DisabledRuleIsKept) {
  RulesOptions o;
  RuleSpec off = DefaultRules()[4];  // threads_spike
  off.enabled = false;
  off.origin.clear();
  o.rules = {off};
  const auto c = CompileRules(o, kActions);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->rules.size(), DefaultRules().size());
  EXPECT_EQ(c->rules[4]->name, "threads_spike");
  EXPECT_FALSE(c->rules[4]->enabled);
  EXPECT_EQ(c->rules[4]->origin, "rules[0]");
}

TEST(CompileRules, NameAndEnabledFalseAloneTurnADefaultOff) {
  RulesOptions o;
  RuleSpec off;
  off.name = "memory_growth";
  off.enabled = false;
  off.origin = "a.yml:2:5";
  o.rules = {off};
  const auto c = CompileRules(o, kActions);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->rules.size(), DefaultRules().size());
  const RuleSpec& r = *c->rules[3];
  EXPECT_EQ(r.name, "memory_growth");
  EXPECT_FALSE(r.enabled);
  EXPECT_EQ(r.kind, RuleKind::kGrowth);  // the default's spec
  EXPECT_EQ(r.increase, 0.15);
  EXPECT_EQ(r.origin, "a.yml:2:5");

  // The shorthand exists for defaults only: a bare disabled rule of another name is still checked.
  o.rules[0].name = "not_a_default";
  EXPECT_THAT(CompileRules(o, kActions).error().message, HasSubstr("signal: missing"));
}

TEST(CompileRules, DisabledRulesAreValidatedToo) {
  RuleSpec r = Growth();
  r.enabled = false;
  r.increase = -1;
  ExpectOneError(r, "rule \"rss_growth\": increase: -1 must be > 0");
}

TEST(CompileRules, DuplicateUserNamesNameBothOrigins) {
  RuleSpec a = Growth("dup");
  a.origin = "a.yml:3:5";
  RuleSpec b = Threshold("dup");
  b.origin = "a.yml:9:5";
  EXPECT_THAT(
      ErrorOf({a, b}),
      HasSubstr(
          "a.yml:9:5: rule \"dup\": name: duplicate; a rule of this name is also defined at a.yml:3:5"));
  // Also when both replace the same default, and with "rules[i]" origins.
  RulesOptions o;
  o.rules = {Growth("memory_growth"), Growth("memory_growth")};
  const auto c = CompileRules(o, kActions);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message,
              HasSubstr("rules[1]: rule \"memory_growth\": name: duplicate; a rule of this "
                        "name is also defined at rules[0]"));
}

TEST(CompileRules, Names) {
  ExpectOneError(Threshold(""), "rules[0]: rule \"\": name: missing");
  for (const std::string& bad :
       std::vector<std::string>{"Rss", "9rss", "rss-high", "rss high", "_rss", std::string(65, 'a')}) {
    ExpectOneError(Threshold(bad),
                   "name: \"" + bad + "\" must match [a-z][a-z0-9_]* and be at most 64 characters");
  }
  EXPECT_TRUE(CompileUserRules({Threshold(std::string(64, 'a'))}).ok());
  EXPECT_TRUE(CompileUserRules({Threshold("a1_b2")}).ok());
}

TEST(CompileRules, SignalIsRequired) {
  RuleSpec r = Threshold();
  r.signal = Signal::kCount;
  ExpectOneError(r, "rule \"rss_high\": signal: missing; set a signal key such as rss_bytes");
}

TEST(CompileRules, OriginPrefixesEveryLine) {
  RuleSpec r = Growth("rss_growth");
  r.origin = "leakwatch.yml:12:5";
  r.increase = -0.2;
  EXPECT_EQ(ErrorOf({r}), "leakwatch.yml:12:5: rule \"rss_growth\": increase: -0.2 must be > 0");
}

TEST(CompileRules, Threshold) {
  RuleSpec r = Threshold();
  r.above.reset();
  ExpectOneError(r, "above: missing; a threshold rule needs above");

  r = Threshold();
  r.limit.source = LimitSource::kAuto;
  r.above_limit_ratio = 0.85;
  ExpectOneError(
      r, "above: both an absolute value (1000000000) and a fraction of the limit (0.85 (85%)) are set");

  r = Threshold();
  r.above = -1;
  ExpectOneError(r, "above: -1 must be >= 0");

  r = Threshold();
  r.above.reset();
  r.limit.source = LimitSource::kAuto;
  for (const double bad : {0.0, -0.5, 10.5}) {
    r.above_limit_ratio = bad;
    ExpectOneError(r, "of the limit must be in (0, 10]");
  }
  r.above_limit_ratio = 10;
  EXPECT_TRUE(CompileUserRules({r}).ok());

  r.limit.source = LimitSource::kNone;
  r.above_limit_ratio = 0.85;
  ExpectOneError(r, "limit: none, but above 0.85 (85%) is a fraction of the limit; set limit: auto");
}

TEST(CompileRules, Growth) {
  RuleSpec r = Growth();
  r.increase.reset();
  ExpectOneError(r,
                 "rate: missing; a growth rule needs rate (e.g. 1MiB/min) or increase (e.g. 15%), or both");
  r.rate = 0;
  ExpectOneError(r, "rate: 0 units/s must be > 0");
  r.rate = 1000;
  r.increase = 0.1;  // both are fine
  EXPECT_TRUE(CompileUserRules({r}).ok());
  r.increase = 0;
  ExpectOneError(r, "increase: 0 must be > 0");
}

TEST(CompileRules, Spike) {
  RuleSpec r = Spike();
  r.factor.reset();
  ExpectOneError(r, "factor: missing; a spike rule needs factor > 1");
  r.factor = 1;
  ExpectOneError(r, "factor: 1 must be > 1");
  r = Spike();
  r.floor = -1;
  ExpectOneError(r, "floor: -1 must be >= 0");
  r = Spike();
  r.min_increase = -2;
  ExpectOneError(r, "min_increase: -2 must be >= 0");
  r = Spike();
  r.floor = 0;
  r.min_increase = 0;
  r.baseline = BaselineKind::kMean;
  r.baseline_includes_current = true;
  EXPECT_TRUE(CompileUserRules({r}).ok());
}

TEST(CompileRules, TimeToLimit) {
  RuleSpec r = TimeToLimit();
  r.horizon = 0ms;
  ExpectOneError(r, "horizon: missing; a time_to_limit rule needs horizon > 0");
  r.horizon = -1s;
  ExpectOneError(r, "horizon: -1s must be > 0");
  r = TimeToLimit();
  r.limit.source = LimitSource::kNone;
  ExpectOneError(r, "limit: none; a time_to_limit rule needs a limit");
}

TEST(CompileRules, HighWater) {
  RuleSpec r = HighWater();
  r.step.reset();
  ExpectOneError(r, "step: missing; a high_water rule needs step");
  r.step_ratio = 0.1;
  EXPECT_TRUE(CompileUserRules({r}).ok());
  r.step = 5;
  ExpectOneError(r, "step: both an absolute step (5) and a ratio (0.1 (10%)) are set; set exactly one");
  r.step_ratio.reset();
  r.step = 0;
  ExpectOneError(r, "step: 0 must be > 0");
  r.step.reset();
  r.step_ratio = -0.1;
  ExpectOneError(r, "step: -0.1 (-10%) must be > 0");
}

TEST(CompileRules, FieldsOfOtherKindsAreRejectedByName) {
  RuleSpec r = Threshold();
  r.horizon = 10min;
  ExpectOneError(r, "horizon: 10m is set on a threshold rule; it applies to time_to_limit rules only");
  r = Threshold();
  r.window = 5min;
  ExpectOneError(r, "window: 5m is set on a threshold rule; it applies to growth, spike and time_to_limit");
  r = HighWater();
  r.window = 5min;
  ExpectOneError(r, "window: 5m is set on a high_water rule");
  r = Growth();
  r.above = 5;
  ExpectOneError(r, "above: 5 is set on a growth rule; it applies to threshold rules only");
  r = Growth();
  r.above_limit_ratio = 0.5;
  ExpectOneError(r, "above: 0.5 (50%) is set on a growth rule");
  r = Growth();
  r.factor = 3;
  ExpectOneError(r, "factor: 3 is set on a growth rule; it applies to spike rules only");
  r = Growth();
  r.baseline = BaselineKind::kMean;
  ExpectOneError(r, "baseline: mean is set on a growth rule");
  r = Growth();
  r.baseline_includes_current = true;
  ExpectOneError(r, "baseline_includes_current: true is set on a growth rule");
  r = Threshold();
  r.floor = 1;
  ExpectOneError(r, "floor: 1 is set on a threshold rule");
  r = Threshold();
  r.min_increase = 1;
  ExpectOneError(r, "min_increase: 1 is set on a threshold rule");
  r = TimeToLimit();
  r.rate = 1;
  ExpectOneError(r, "rate: 1 units/s is set on a time_to_limit rule; it applies to growth rules only");
  r = TimeToLimit();
  r.increase = 0.1;
  ExpectOneError(r, "increase: 0.1 (10%) is set on a time_to_limit rule");
  r = Threshold();
  r.min_coverage = 0.9;
  ExpectOneError(
      r, "min_coverage: 0.9 (90%) is set on a threshold rule; it applies to growth, spike and time_to_limit");
  r = Spike();
  r.step = 1;
  ExpectOneError(r, "step: 1 is set on a spike rule; it applies to high_water rules only");
  r = Spike();
  r.step_ratio = 0.1;
  ExpectOneError(r, "step: 0.1 (10%) is set on a spike rule");
}

TEST(CompileRules, Window) {
  RuleSpec r = Growth();
  r.window = 5s;
  ExpectOneError(r, "window: 5s must be between 10s and 24h");
  r.window = 25h;
  ExpectOneError(r, "window: 25h must be between 10s and 24h");
  r = Spike();
  r.window = 1500ms;
  ExpectOneError(r, "window: 1500ms must be between 10s and 24h");
  r.window = 10s;
  EXPECT_TRUE(CompileUserRules({r}).ok());
  r = TimeToLimit();
  r.window = 24h;
  EXPECT_TRUE(CompileUserRules({r}).ok());
}

TEST(CompileRules, MinCoverage) {
  RuleSpec r = Growth();
  r.min_coverage = 0;
  ExpectOneError(r, "min_coverage: 0 (0%) must be in (0, 1]");
  r = TimeToLimit();
  r.min_coverage = 1.5;
  ExpectOneError(r, "min_coverage: 1.5 (150%) must be in (0, 1]");
  r.min_coverage = 1;
  EXPECT_TRUE(CompileUserRules({r}).ok());
}

TEST(CompileRules, CommonDurations) {
  RuleSpec r = Threshold();
  r.hold = 25h;
  ExpectOneError(r, "for: 25h must be between 0s and 24h");
  r = Threshold();
  r.clear_after = -1s;
  ExpectOneError(r, "clear_after: -1s must be between 0s and 24h");
  r = Threshold();
  r.cooldown = 48h;
  ExpectOneError(r, "cooldown: 2d must be between 0s and 24h");
  r = Threshold();
  r.actions_window = 0ms;
  ExpectOneError(r, "actions_window: 0s must be > 0s and at most 24h");
  r.actions_window = 90000s;
  ExpectOneError(r, "actions_window: 25h must be > 0s and at most 24h");
  r = Threshold();
  r.hold = 24h;
  r.clear_after = 0ms;
  r.cooldown = 0ms;
  r.actions_window = 24h;
  EXPECT_TRUE(CompileUserRules({r}).ok());
}

TEST(CompileRules, Warmup) {
  RuleSpec r = Threshold();
  r.warmup = -2ms;  // only -1ms means "the kind's default"
  ExpectOneError(r, "warmup: -2ms must be between 0s and 24h");
  r.warmup = 25h;
  ExpectOneError(r, "warmup: 25h must be between 0s and 24h");
  r = Growth();
  r.window = 24h;  // the default warm-up (the window) is still in range
  EXPECT_TRUE(CompileUserRules({r}).ok());
}

TEST(CompileRules, Hysteresis) {
  RuleSpec r = Threshold();
  r.hysteresis = 1;
  ExpectOneError(r, "hysteresis: 1 (100%) must be in [0, 1)");
  r.hysteresis = -0.1;
  ExpectOneError(r, "hysteresis: -0.1 (-10%) must be in [0, 1)");
  r.hysteresis = 0.99;
  EXPECT_TRUE(CompileUserRules({r}).ok());
}

TEST(CompileRules, Limits) {
  RuleSpec r = TimeToLimit();
  r.limit.source = LimitSource::kSignal;
  r.limit.signal = Signal::kCount;
  ExpectOneError(r, "limit: names no signal; set a signal key such as cgroup_memory_limit_bytes");
  r.limit.signal = Signal::kCgroupMemoryWorkingSetBytes;
  ExpectOneError(r, "limit: cgroup_memory_working_set_bytes is the rule's own signal");
  r.limit.signal = Signal::kCgroupMemoryHighBytes;
  EXPECT_TRUE(CompileUserRules({r}).ok());

  r.limit.source = LimitSource::kValue;
  r.limit.value = 0;
  ExpectOneError(r, "limit: 0 must be > 0");
  r.limit.value = -5;
  ExpectOneError(r, "limit: -5 must be > 0");
  r.limit.value = 2e9;
  EXPECT_TRUE(CompileUserRules({r}).ok());

  r = TimeToLimit();
  r.signal = Signal::kCpuSecondsTotal;
  const std::string m = ErrorOf({r});
  EXPECT_THAT(m,
              AllOf(HasSubstr("limit: auto, but cpu_seconds_total has no natural limit (signals with one: "),
                    HasSubstr("rss_bytes"), HasSubstr("open_fds"), HasSubstr("threads"),
                    HasSubstr("cgroup_memory_working_set_bytes")));
  EXPECT_EQ(Lines(m), 1u) << m;

  // A limit on a kind that does not need one is allowed (it is reported in the status).
  r = Threshold();
  r.limit.source = LimitSource::kAuto;
  EXPECT_TRUE(CompileUserRules({r}).ok());
}

TEST(CompileRules, Actions) {
  RuleSpec r = Threshold();
  r.actions = {"log", "page"};
  ExpectOneError(r, "actions: \"page\" is not a known action (known: log, bundle)");
  RulesOptions o;
  o.defaults = false;
  o.rules = {r};
  EXPECT_THAT(CompileRules(o, {"log", "dump"}).error().message,
              HasSubstr("actions: \"page\" is not a known action (known: log, dump)"));
  r.actions.clear();
  EXPECT_TRUE(CompileUserRules({r}).ok());
}

TEST(CompileRules, NonFiniteNumbers) {
  RuleSpec r = Threshold();
  r.above = kNan;
  ExpectOneError(r, "above: nan is not a finite number");
  r = Growth();
  r.rate = kInf;
  ExpectOneError(r, "rate: inf is not a finite number");
  r = Threshold();
  r.hysteresis = kNan;
  ExpectOneError(r, "hysteresis: nan is not a finite number");
  r = Spike();
  r.factor = -kInf;
  ExpectOneError(r, "factor: -inf is not a finite number");
  r = TimeToLimit();
  r.limit.source = LimitSource::kValue;
  r.limit.value = kInf;
  ExpectOneError(r, "limit: inf is not a finite number");
  r = TimeToLimit();
  r.min_coverage = kNan;
  ExpectOneError(r, "min_coverage: nan is not a finite number");
}

TEST(CompileRules, ReportsEveryProblemOfEveryRuleAtOnce) {
  RuleSpec a = Growth("Bad-Name");
  a.origin = "f.yml:2:5";
  a.increase = -1;
  a.horizon = 1min;
  RuleSpec b = TimeToLimit();
  b.limit.source = LimitSource::kNone;
  b.hysteresis = 2;
  b.actions = {"page"};
  RuleSpec c = Threshold();  // fine
  const std::string m = ErrorOf({a, b, c});
  EXPECT_THAT(m, AllOf(HasSubstr("f.yml:2:5: rule \"Bad-Name\": name: \"Bad-Name\" must match"),
                       HasSubstr("f.yml:2:5: rule \"Bad-Name\": increase: -1 must be > 0"),
                       HasSubstr("f.yml:2:5: rule \"Bad-Name\": horizon: 1m is set on a growth rule"),
                       HasSubstr("rules[1]: rule \"ws_ttl\": limit: none"),
                       HasSubstr("rules[1]: rule \"ws_ttl\": hysteresis: 2 (200%)"),
                       HasSubstr("rules[1]: rule \"ws_ttl\": actions: \"page\"")));
  EXPECT_EQ(Lines(m), 6u) << m;
}

}  // namespace
}  // namespace leakwatch::internal
