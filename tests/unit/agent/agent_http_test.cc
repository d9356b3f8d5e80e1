// The agent's HTTP endpoint on 127.0.0.1 (port 0): the rule metrics on /metrics and the JSON status on
// /status.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "leakwatch/agent.h"
#include "tests/support/http_client.h"

namespace leakwatch {
namespace {

using namespace std::chrono_literals;

AgentOptions LoopbackOptions() {
  AgentOptions o;
  o.http.listen = "127.0.0.1:0";
  o.log.sink = "off";
  o.use_environment = false;
  o.period = 100ms;
  return o;
}

TEST(AgentHttp, StatusServesEveryRuleWithItsStateAndWhy) {
  auto agent = Agent::Create(LoopbackOptions()).value();
  const auto started = agent->start();
  ASSERT_TRUE(started.ok() && started->http_serving);
  const auto response = test_support::HttpGet(started->http_port, "/status");
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("Content-Type").value_or(""), "application/json; charset=utf-8");
  const auto doc = nlohmann::json::parse(response->body);
  ASSERT_EQ(doc["rules"].size(), DefaultRules().size());
  for (const auto& rule : doc["rules"]) {
    EXPECT_TRUE(rule.contains("state") && rule.contains("reason") && rule.contains("description")) << rule;
  }
  EXPECT_EQ(doc["rules"][0]["name"], "memory_near_limit");
  agent->stop();
}

TEST(AgentHttp, MetricsCarryTheRuleStateFamilies) {
  AgentOptions o = LoopbackOptions();
  RuleSpec r;
  r.name = "any_threads";
  r.kind = RuleKind::kThreshold;
  r.signal = Signal::kThreads;
  r.above = 0;
  r.severity = Severity::kCritical;
  o.rules.rules.push_back(r);
  auto agent = Agent::Create(o).value();
  const auto started = agent->start();
  ASSERT_TRUE(started.ok() && started->http_serving);
  const auto response = test_support::HttpGet(started->http_port, "/metrics");
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_NE(response->body.find(
                "leakwatch_rule_state{kind=\"threshold\",rule=\"any_threads\",severity=\"critical\","
                "signal=\"threads\"} 2"),
            std::string::npos)
      << response->body;
  EXPECT_NE(response->body.find("leakwatch_rule_fired_total{rule=\"any_threads\",severity=\"critical\"} 1"),
            std::string::npos);
  EXPECT_NE(response->body.find("process_resident_memory_bytes "), std::string::npos);
  agent->stop();
}

}  // namespace
}  // namespace leakwatch
