// The rule state as metrics (RulesCollectable) and as the /status JSON document (RenderStatusJson).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <nlohmann/json.hpp>

#include "exporters/prometheus/rules_collectable.h"
#include "exporters/status/status_json.h"

namespace leakwatch::exporters {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::shared_ptr<const RulesStatus> SampleStatus() {
  auto spec = std::make_shared<RuleSpec>();
  spec->name = "memory_time_to_limit";
  spec->kind = RuleKind::kTimeToLimit;
  spec->signal = Signal::kCgroupMemoryWorkingSetBytes;
  spec->severity = Severity::kCritical;
  spec->hold = std::chrono::seconds(15);
  spec->horizon = std::chrono::minutes(10);
  spec->origin = "default rule memory_time_to_limit";
  auto quiet = std::make_shared<RuleSpec>();
  quiet->name = "threads_spike";
  quiet->kind = RuleKind::kSpike;
  quiet->signal = Signal::kThreads;

  auto status = std::make_shared<RulesStatus>();
  status->sequence = 42;
  status->wall_time = std::chrono::system_clock::time_point(std::chrono::seconds(1'764'615'600));
  RuleStatus pending;
  pending.spec = spec;
  pending.state = RuleState::kPending;
  pending.reason = RuleReason::kBreach;
  pending.value = 420;
  pending.threshold = 600;
  pending.limit = 1073741824;
  pending.slope = 1048576;
  pending.seconds_to_limit = 420;
  pending.progress = std::chrono::seconds(5);
  pending.needed = std::chrono::seconds(15);
  pending.fired_total = 2;
  pending.actions_run_total = 1;
  pending.actions_suppressed_total = 1;
  status->rules.push_back(pending);
  RuleStatus warming;
  warming.spec = quiet;
  warming.reason = RuleReason::kWarmingUp;
  warming.progress = std::chrono::seconds(20);
  warming.needed = std::chrono::minutes(1);
  status->rules.push_back(warming);
  SignalTrend trend;
  trend.signal = Signal::kCgroupMemoryWorkingSetBytes;
  trend.window = std::chrono::minutes(2);
  trend.slope = 1048576;
  trend.limit = 1073741824;
  trend.seconds_to_limit = 420;
  status->trends.push_back(trend);
  SignalTrend flat;
  flat.signal = Signal::kOpenFds;
  flat.window = std::chrono::minutes(2);
  flat.slope = 0;
  status->trends.push_back(flat);
  return status;
}

TEST(RulesCollectable, RendersStateValuesCountersAndTrends) {
  RulesCollectable collectable([] { return RulesView{SampleStatus(), ConfigStatus{}, std::nullopt}; });
  const std::string text = prometheus::TextSerializer().Serialize(collectable.Collect());
  EXPECT_THAT(text, HasSubstr("leakwatch_rule_state{kind=\"time_to_limit\",rule=\"memory_time_to_limit\","
                              "severity=\"critical\",signal=\"cgroup_memory_working_set_bytes\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("leakwatch_rule_state{kind=\"spike\",rule=\"threads_spike\",severity=\"warning\","
                        "signal=\"threads\"} 0"));
  EXPECT_THAT(text, HasSubstr("leakwatch_rule_value{rule=\"memory_time_to_limit\"} 420"));
  EXPECT_THAT(text, HasSubstr("leakwatch_rule_threshold{rule=\"memory_time_to_limit\"} 600"));
  EXPECT_THAT(text, Not(HasSubstr("leakwatch_rule_value{rule=\"threads_spike\"}")));  // absent, not 0
  EXPECT_THAT(text,
              HasSubstr("leakwatch_rule_fired_total{rule=\"memory_time_to_limit\",severity=\"critical\"} 2"));
  EXPECT_THAT(text,
              HasSubstr("leakwatch_rule_actions_total{result=\"run\",rule=\"memory_time_to_limit\"} 1"));
  EXPECT_THAT(
      text, HasSubstr("leakwatch_rule_actions_total{result=\"suppressed\",rule=\"memory_time_to_limit\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("leakwatch_signal_slope{signal=\"cgroup_memory_working_set_bytes\",window=\"2m\"} "
                        "1048576"));
  EXPECT_THAT(text, HasSubstr("leakwatch_signal_slope{signal=\"open_fds\",window=\"2m\"} 0"));
  EXPECT_THAT(text, HasSubstr("leakwatch_signal_seconds_to_limit{signal=\"cgroup_memory_working_set_bytes\","
                              "window=\"2m\"} 420"));
  EXPECT_THAT(text, Not(HasSubstr("leakwatch_signal_seconds_to_limit{signal=\"open_fds\"")));
  EXPECT_THAT(text, Not(HasSubstr("leakwatch_config_")));  // no config file
}

TEST(RulesCollectable, ConfigReloadFamiliesWithAConfigFile) {
  ConfigStatus config;
  config.file = "/etc/leakwatch.yml";
  config.last_load_ok = false;
  config.last_success = std::chrono::system_clock::time_point(std::chrono::seconds(1'764'615'000));
  config.reloads_total = 3;
  config.reload_failures_total = 1;
  RulesCollectable collectable([config] { return RulesView{nullptr, config, std::nullopt}; });
  const std::string text = prometheus::TextSerializer().Serialize(collectable.Collect());
  EXPECT_THAT(text, HasSubstr("leakwatch_config_last_reload_successful 0"));
  EXPECT_THAT(text, HasSubstr("leakwatch_config_last_reload_success_timestamp_seconds 1764615000"));
  EXPECT_THAT(text, HasSubstr("leakwatch_config_reloads_total{result=\"success\"} 3"));
  EXPECT_THAT(text, HasSubstr("leakwatch_config_reloads_total{result=\"failure\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("leakwatch_rule_state")));  // before the first evaluation
}

TEST(RulesCollectable, AThrowingProviderIsCountedNotPropagated) {
  RulesCollectable collectable([]() -> RulesView { throw std::runtime_error("boom"); });
  EXPECT_TRUE(collectable.Collect().empty());
  EXPECT_EQ(collectable.collect_errors(), 1u);
}

TEST(WindowLabel, WholeUnits) {
  EXPECT_EQ(WindowLabel(std::chrono::minutes(2)), "2m");
  EXPECT_EQ(WindowLabel(std::chrono::seconds(90)), "90s");
  EXPECT_EQ(WindowLabel(std::chrono::hours(1)), "1h");
  EXPECT_EQ(WindowLabel(std::chrono::milliseconds(1500)), "1500ms");
}

TEST(StatusJson, RulesWithStateReasonDescriptionAndTrends) {
  ConfigStatus config;
  config.file = "/etc/leakwatch.yml";
  config.last_success = std::chrono::system_clock::time_point(std::chrono::seconds(1'764'615'000));
  const auto doc = nlohmann::json::parse(RenderStatusJson(SampleStatus().get(), config));
  EXPECT_EQ(doc["sequence"], 42);
  EXPECT_EQ(doc["time"], "2025-12-01T19:00:00.000Z");
  ASSERT_EQ(doc["rules"].size(), 2u);
  const auto& r = doc["rules"][0];
  EXPECT_EQ(r["name"], "memory_time_to_limit");
  EXPECT_EQ(r["kind"], "time_to_limit");
  EXPECT_EQ(r["severity"], "critical");
  EXPECT_EQ(r["state"], "pending");
  EXPECT_EQ(r["reason"], "breach");
  EXPECT_EQ(r["description"], "pending for 5s of 15s: limit 1 GiB in 7m < 10m at 60 MiB/min");
  EXPECT_EQ(r["value"], 420);
  EXPECT_EQ(r["progress_seconds"], 5);
  EXPECT_EQ(r["needed_seconds"], 15);
  EXPECT_EQ(r["for_seconds"], 15);
  EXPECT_EQ(r["actions"], nlohmann::json::array({"log"}));
  EXPECT_EQ(r["origin"], "default rule memory_time_to_limit");
  const auto& w = doc["rules"][1];
  EXPECT_EQ(w["state"], "ok");
  EXPECT_EQ(w["reason"], "warming_up");
  EXPECT_EQ(w["description"], "ok, warming up: 20s of 1m");
  EXPECT_FALSE(w.contains("value"));
  ASSERT_EQ(doc["trends"].size(), 2u);
  EXPECT_EQ(doc["trends"][0]["seconds_to_limit"], 420);
  EXPECT_FALSE(doc["trends"][1].contains("seconds_to_limit"));
  EXPECT_EQ(doc["config"]["file"], "/etc/leakwatch.yml");
  EXPECT_EQ(doc["config"]["last_load_ok"], true);
}

TEST(StatusJson, BeforeTheFirstTickRulesAreEmpty) {
  const auto doc = nlohmann::json::parse(RenderStatusJson(nullptr, ConfigStatus{}));
  EXPECT_TRUE(doc["rules"].empty());
  EXPECT_TRUE(doc.contains("leakwatch_version"));
}

}  // namespace
}  // namespace leakwatch::exporters
