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

AgentOptions EgressOptions(const test_support::TempTree& tree, std::vector<std::string> command) {
  AgentOptions o;
  o.http.listen = "off";
  o.log.sink = "off";
  o.use_environment = false;
  o.period = 100ms;
  o.bundle.dir = tree.Path("bundles");
  o.bundle.min_free_disk_bytes = 0;
  o.bundle.egress_command = std::move(command);
  o.bundle.egress_timeout = 1s;
  o.rules.defaults = false;
  return o;
}

uint64_t EgressCount(const Agent& agent, const std::string& result) {
  const auto stats = agent.bundle_stats();
  const auto it = stats.egress_total.find(result);
  return it == stats.egress_total.end() ? 0 : it->second;
}

TEST(AgentBundles, TheEgressCommandGetsEachCompletedBundle) {
  test_support::TempTree tree;
  const std::string shipped = tree.Path("shipped.txt");
  auto agent = Agent::Create(EgressOptions(tree, {"/bin/sh", "-c",
                                                  "echo \"$1 $LEAKWATCH_BUNDLE\" >> " + shipped, "ship"}))
                   .value();
  ASSERT_TRUE(agent->start().ok());
  const auto path = agent->capture("egress test");
  ASSERT_TRUE(path.ok()) << path.error().message;
  for (int i = 0; i < 500 && EgressCount(*agent, "success") == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(EgressCount(*agent, "success"), 1u);
  EXPECT_EQ(tree.ReadText("shipped.txt"), *path + " " + *path + "\n");
  EXPECT_TRUE(agent->bundle_stats().egress_configured);
}

TEST(AgentBundles, AFailingOrHangingEgressIsCountedAndDelaysNoBundle) {
  test_support::TempTree tree;
  {
    auto agent =
        Agent::Create(EgressOptions(tree, {"/bin/sh", "-c", "echo upload failed >&2; exit 3"})).value();
    ASSERT_TRUE(agent->start().ok());
    ASSERT_TRUE(agent->capture("fails").ok());
    for (int i = 0; i < 500 && EgressCount(*agent, "failure") == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(EgressCount(*agent, "failure"), 1u);
  }
  {
    auto agent = Agent::Create(EgressOptions(tree, {"/bin/sh", "-c", "trap '' TERM; sleep 30"})).value();
    ASSERT_TRUE(agent->start().ok());
    ASSERT_TRUE(agent->capture("first").ok());
    // The egress of the first bundle hangs; the second bundle is written at once all the same.
    const auto before = std::chrono::steady_clock::now();
    ASSERT_TRUE(agent->capture("second", 5s).ok());
    EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
    for (int i = 0; i < 500 && EgressCount(*agent, "timeout") == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_GE(EgressCount(*agent, "timeout"), 1u);  // 1 s timeout, SIGKILL 2 s later
    // The second egress is running now: stop() cancels it instead of waiting for its timeout.
    const auto stopping = std::chrono::steady_clock::now();
    agent->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - stopping, 2s);
    EXPECT_EQ(EgressCount(*agent, "cancelled") + EgressCount(*agent, "timeout"), 2u);
  }
  {
    auto agent = Agent::Create(EgressOptions(tree, {"/nonexistent/ship-bundle"})).value();
    ASSERT_TRUE(agent->start().ok());
    ASSERT_TRUE(agent->capture("missing").ok());
    for (int i = 0; i < 500 && EgressCount(*agent, "failure") == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(EgressCount(*agent, "failure"), 1u);
    EXPECT_EQ(agent->bundle_stats().written_total, 1u);
  }
}

TEST(AgentBundles, AnUnusableBundleDirectoryFailsTheBundleNotTheAgent) {
  test_support::TempTree tree;
  tree.Write("not-a-directory", "a file where the bundle directory should be\n");
  AgentOptions o = EgressOptions(tree, {});
  o.bundle.dir = tree.Path("not-a-directory/bundles");
  auto agent = Agent::Create(o).value();
  ASSERT_TRUE(agent->start().ok());
  const auto path = agent->capture("unusable directory");
  ASSERT_FALSE(path.ok());
  EXPECT_NE(path.error().message.find(o.bundle.dir), std::string::npos) << path.error().message;
  const auto stats = agent->bundle_stats();
  EXPECT_EQ(stats.failed_total, 1u);
  EXPECT_EQ(stats.written_total, 0u);
  EXPECT_NE(stats.last_error.find(o.bundle.dir), std::string::npos) << stats.last_error;
  // Sampling goes on.
  const uint64_t before = agent->latest_snapshot()->sequence;
  for (int i = 0; i < 100 && agent->latest_snapshot()->sequence == before; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_GT(agent->latest_snapshot()->sequence, before);
}

TEST(AgentBundles, AnInvalidEgressCommandStopsCreate) {
  test_support::TempTree tree;
  auto relative = Agent::Create(EgressOptions(tree, {"ship-bundle"}));
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(
      relative.error().message.find("bundle.egress.command[0]: \"ship-bundle\" is not an absolute path"),
      std::string::npos)
      << relative.error().message;
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
