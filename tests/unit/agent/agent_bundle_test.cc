// Bundles through the Agent: a rule with the bundle action writes one on its own; capture() writes one on
// demand; both land in the configured directory with a manifest naming what triggered them.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "leakwatch/agent.h"
#include "tests/support/temp_tree.h"

namespace leakwatch {
namespace {

using namespace std::chrono_literals;

nlohmann::json Manifest(const std::string& bundle) {
  std::ifstream in(bundle + "/manifest.json");
  return nlohmann::json::parse(in);
}

TEST(AgentBundles, ARuleWithTheBundleActionAndCaptureBothWriteBundles) {
  test_support::TempTree tree;
  AgentOptions o;
  o.http.listen = "off";
  o.log.sink = "off";
  o.use_environment = false;
  o.period = 100ms;
  o.bundle.dir = tree.Path("bundles");
  o.bundle.min_free_disk_bytes = 0;
  o.rules.defaults = false;
  RuleSpec r;
  r.name = "any_threads";
  r.kind = RuleKind::kThreshold;
  r.signal = Signal::kThreads;
  r.above = 0;
  r.actions = {"log", "bundle"};
  o.rules.rules.push_back(r);
  auto agent = Agent::Create(o).value();
  ASSERT_TRUE(agent->start().ok());
  for (int i = 0; i < 1000 && agent->bundle_stats().written_total == 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(agent->bundle_stats().written_total, 1u) << agent->bundle_stats().last_error;
  const auto by_rule = Manifest(agent->bundle_stats().last_path);
  EXPECT_EQ(by_rule["trigger"]["source"], "rule");
  EXPECT_EQ(by_rule["trigger"]["rule"]["name"], "any_threads");
  EXPECT_EQ(agent->rules_status()->rules[0].actions_run_total, 1u);

  const auto path = agent->capture("the operator asked");
  ASSERT_TRUE(path.ok()) << path.error().message;
  EXPECT_EQ(std::filesystem::path(*path).parent_path(), std::filesystem::path(o.bundle.dir));
  const auto on_demand = Manifest(*path);
  EXPECT_EQ(on_demand["trigger"]["source"], "api");
  EXPECT_EQ(on_demand["trigger"]["reason"], "the operator asked");
  EXPECT_EQ(agent->bundle_stats().written_total, 2u);
  EXPECT_EQ(agent->bundle_stats().bundles_on_disk, 2u);
  agent->stop();
  const auto after = agent->capture("stopped");
  ASSERT_FALSE(after.ok());
  EXPECT_NE(after.error().message.find("stopping"), std::string::npos) << after.error().message;
}

std::atomic<int> g_previous_handler_calls{0};
void PreviousHandler(int) { g_previous_handler_calls.fetch_add(1); }

TEST(AgentBundles, TheCaptureSignalAsksForABundleAndChainsToThePreviousHandler) {
  struct sigaction previous {};
  previous.sa_handler = &PreviousHandler;
  sigemptyset(&previous.sa_mask);
  struct sigaction saved {};
  ASSERT_EQ(::sigaction(SIGUSR2, &previous, &saved), 0);

  test_support::TempTree tree;
  AgentOptions o;
  o.http.listen = "off";
  o.log.sink = "off";
  o.use_environment = false;
  o.period = 100ms;
  o.bundle.dir = tree.Path("bundles");
  o.bundle.min_free_disk_bytes = 0;
  o.bundle.capture_signal = SIGUSR2;
  auto agent = Agent::Create(o).value();
  ASSERT_TRUE(agent->start().ok());
  ASSERT_EQ(::raise(SIGUSR2), 0);
  EXPECT_EQ(g_previous_handler_calls.load(), 1);
  for (int i = 0; i < 1000 && agent->bundle_stats().written_total == 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(agent->bundle_stats().written_total, 1u) << agent->bundle_stats().last_error;
  EXPECT_EQ(Manifest(agent->bundle_stats().last_path)["trigger"]["source"], "signal");
  agent->stop();
  // The previous handler is back in place.
  struct sigaction now {};
  ASSERT_EQ(::sigaction(SIGUSR2, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, &PreviousHandler);
  ::sigaction(SIGUSR2, &saved, nullptr);
}

}  // namespace
}  // namespace leakwatch
