// The Agent facade over the fixture trees: one tick read end to end, degraded sources, lifecycle.
#include "leakwatch/agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "leakwatch/history.h"
#include "leakwatch/rules.h"

namespace leakwatch {
namespace {

using namespace std::chrono_literals;

struct TreeCase {
  const char* tree;
  double rss_bytes;
  int cgroup_version;
  double limit_bytes;
};

void PrintTo(const TreeCase& c, std::ostream* os) { *os << c.tree; }

class AgentOnFixtureTree : public ::testing::TestWithParam<TreeCase> {
 protected:
  AgentOptions Options() const {
    const std::string root = std::string(LEAKWATCH_FIXTURES_DIR) + "/" + GetParam().tree;
    AgentOptions o;
    o.proc_root = root + "/proc";
    o.cgroup_mount_prefix = root;
    o.http.listen = "off";
    o.log.sink = "off";
    o.use_environment = false;
    return o;
  }
};

TEST_P(AgentOnFixtureTree, FirstSampleIsTakenInStartAndReadsTheTree) {
  auto agent = Agent::Create(Options());
  ASSERT_TRUE(agent.ok()) << agent.error().message;
  EXPECT_EQ((*agent)->latest_snapshot(), nullptr);
  auto started = (*agent)->start();
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_FALSE(started->http_serving);
  EXPECT_FALSE(started->http_error.has_value());

  const auto snap = (*agent)->latest_snapshot();
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->sequence, 1u);
  EXPECT_EQ(snap->period, 1s);
  EXPECT_EQ(snap->get(Signal::kResidentMemoryBytes), GetParam().rss_bytes);
  EXPECT_EQ(snap->cgroup_version, GetParam().cgroup_version);
  EXPECT_EQ(snap->get(Signal::kCgroupMemoryLimitBytes), GetParam().limit_bytes);
  EXPECT_TRUE(snap->has(Signal::kSmapsPssBytes));  // slow readers run on the first tick
  // The fixture tree has no fd directory: that source fails alone, its signal is absent, the error counted.
  EXPECT_FALSE(snap->has(Signal::kOpenFds));
  EXPECT_EQ(snap->source_errors_total[static_cast<size_t>(Source::kOpenFds)], 1u);
  EXPECT_EQ(snap->source_errors_total[static_cast<size_t>(Source::kProcStatus)], 0u);
  EXPECT_EQ((*agent)->history().rows_appended(), 1u);
  (*agent)->stop();
}

TEST_P(AgentOnFixtureTree, SmapsRollupAndFdTypesCanBeTurnedOff) {
  AgentOptions options = Options();
  options.smaps_rollup = false;
  options.fd_types = false;
  auto agent = Agent::Create(options);
  ASSERT_TRUE(agent.ok()) << agent.error().message;
  ASSERT_TRUE((*agent)->start().ok());
  const auto snap = (*agent)->latest_snapshot();
  EXPECT_FALSE(snap->has(Signal::kSmapsPssBytes));
  EXPECT_FALSE(snap->has(Signal::kOpenFdsSocket));
  EXPECT_TRUE(snap->has(Signal::kResidentMemoryPeakBytes));  // the other slow signals are still read
  EXPECT_EQ(snap->source_errors_total[static_cast<size_t>(Source::kFdTypes)], 0u);
  (*agent)->stop();
}

// An application's own provider replaces detection and is read every tick.
class FixedHeapProvider : public AllocatorStatsProvider {
 public:
  AllocatorInfo Info() override { return AllocatorInfo{.name = "app-arena", .version = "7"}; }
  Result<AllocatorStats> Read() override {
    AllocatorStats stats;
    stats.allocated_bytes = 123456;
    stats.resident_bytes = 200000;
    return stats;
  }
};

TEST_P(AgentOnFixtureTree, AnApplicationsAllocatorProviderIsRead) {
  AgentOptions options = Options();
  options.allocator.provider = std::make_shared<FixedHeapProvider>();
  auto agent = Agent::Create(options);
  ASSERT_TRUE(agent.ok()) << agent.error().message;
  ASSERT_TRUE((*agent)->start().ok());
  const auto snap = (*agent)->latest_snapshot();
  EXPECT_EQ(snap->get(Signal::kHeapBytes), 123456);
  EXPECT_EQ(snap->get(Signal::kAllocatorOverheadBytes), 200000 - 123456);
  ASSERT_NE(snap->allocator, nullptr);
  EXPECT_EQ(snap->allocator->name, "app-arena");
  (*agent)->stop();
}

INSTANTIATE_TEST_SUITE_P(Trees, AgentOnFixtureTree,
                         ::testing::Values(TreeCase{"cgroup-v1", 62684.0 * 1024, 1, 268435456},
                                           TreeCase{"cgroup-v2", 524288.0 * 1024, 2, 536870912}),
                         [](const auto& info) {
                           return std::string(info.param.tree) == "cgroup-v1" ? "v1" : "v2";
                         });

AgentOptions QuietSelfOptions() {
  AgentOptions o;
  o.http.listen = "off";
  o.log.sink = "off";
  o.use_environment = false;
  o.period = 100ms;
  return o;
}

TEST(Agent, LifecycleStartTwiceFailsStopIsIdempotentAndRestartWorks) {
  auto agent = Agent::Create(QuietSelfOptions()).value();
  ASSERT_TRUE(agent->start().ok());
  EXPECT_FALSE(agent->start().ok());
  agent->stop();
  agent->stop();
  const auto before = agent->latest_snapshot();
  ASSERT_TRUE(agent->start().ok());
  EXPECT_NE(agent->latest_snapshot(), before);  // a fresh first sample
}

TEST(Agent, SamplesOwnProcessOnItsTimer) {
  auto agent = Agent::Create(QuietSelfOptions()).value();
  ASSERT_TRUE(agent->start().ok());
  // Bounded wait for the timer's ticks (period 100 ms): at most 5 s.
  for (int i = 0; i < 500 && agent->latest_snapshot()->sequence < 3; ++i) std::this_thread::sleep_for(10ms);
  const auto snap = agent->latest_snapshot();
  ASSERT_GE(snap->sequence, 3u);
  EXPECT_GT(snap->get(Signal::kResidentMemoryBytes).value_or(0), 0);
  EXPECT_GE(snap->get(Signal::kThreads).value_or(0), 2);  // this thread and the sampler
  EXPECT_GT(snap->get(Signal::kOpenFds).value_or(0), 0);
  agent->stop();
}

// SigBlk of each thread of this process, from /proc/self/task/<tid>/status, keyed by tid.
std::map<std::string, uint64_t> BlockedSignalsByThread() {
  std::map<std::string, uint64_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(entry.path() / "status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("SigBlk:", 0) == 0)
        out[entry.path().filename()] = std::stoull(line.substr(7), nullptr, 16);
    }
  }
  return out;
}

TEST(Agent, AgentThreadsBlockEverySignalSoTheHostsHandlersRunOnHostThreads) {
  AgentOptions o = QuietSelfOptions();
  o.http.listen = "127.0.0.1:0";
  auto agent = Agent::Create(o).value();
  const auto before = BlockedSignalsByThread();
  auto started = agent->start();
  ASSERT_TRUE(started.ok() && started->http_serving);
  int agent_threads = 0;
  for (const auto& [tid, blocked] : BlockedSignalsByThread()) {
    if (before.count(tid)) continue;  // a host (test) thread
    ++agent_threads;
    for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGCHLD, SIGPIPE}) {
      EXPECT_TRUE(blocked & (uint64_t{1} << (sig - 1)))
          << "agent thread " << tid << " does not block signal " << sig;
    }
  }
  EXPECT_GE(agent_threads, 1 + 1 + o.http.threads) << "sampler + HTTP listener + workers";
  agent->stop();
}

TEST(Agent, CreateReportsEveryInvalidOptionAtOnce) {
  AgentOptions o = QuietSelfOptions();
  o.period = 10ms;
  o.http.listen = "nowhere";
  auto agent = Agent::Create(o);
  ASSERT_FALSE(agent.ok());
  EXPECT_NE(agent.error().message.find("period"), std::string::npos);
  EXPECT_NE(agent.error().message.find("http.listen"), std::string::npos);
}

TEST(Agent, UnreadableWebConfigIsACreateError) {
  AgentOptions o = QuietSelfOptions();
  o.http.web_config_file = "/nonexistent/web.yml";
  auto agent = Agent::Create(o);
  ASSERT_FALSE(agent.ok());
  EXPECT_NE(agent.error().message.find("/nonexistent/web.yml"), std::string::npos) << agent.error().message;
}

// --- rules and the config file ---

const RuleStatus* FindRule(const RulesStatus& status, const std::string& name) {
  for (const auto& r : status.rules) {
    if (r.spec->name == name) return &r;
  }
  return nullptr;
}

// Waits (bounded: 10 s) until `pred` holds.
template <typename Pred>
bool WaitFor(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

TEST(AgentRules, DefaultRulesAreEvaluatedFromTheFirstTick) {
  auto agent = Agent::Create(QuietSelfOptions()).value();
  EXPECT_EQ(agent->rules_status(), nullptr);
  ASSERT_TRUE(agent->start().ok());
  const auto status = agent->rules_status();
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->sequence, agent->latest_snapshot()->sequence);
  ASSERT_EQ(status->rules.size(), DefaultRules().size());
  const RuleStatus* threads = FindRule(*status, "threads_spike");
  ASSERT_NE(threads, nullptr);
  EXPECT_EQ(threads->state, RuleState::kOk);
  EXPECT_EQ(threads->reason, RuleReason::kWarmingUp);
  EXPECT_EQ(agent->config_status().file, "");
  agent->stop();
}

TEST(AgentRules, InvalidRulesFromTheApiAreACreateError) {
  AgentOptions o = QuietSelfOptions();
  RuleSpec r;
  r.name = "Bad Name";
  r.kind = RuleKind::kGrowth;
  r.signal = Signal::kResidentMemoryBytes;
  o.rules.rules.push_back(r);
  auto agent = Agent::Create(o);
  ASSERT_FALSE(agent.ok());
  EXPECT_NE(agent.error().message.find("Bad Name"), std::string::npos) << agent.error().message;
}

class ConfigFile {
 public:
  ConfigFile()
      : path_(::testing::TempDir() + "/leakwatch-agent-test-" + std::to_string(::getpid()) + ".yml") {}
  ~ConfigFile() { std::filesystem::remove(path_); }
  // Replaces the file (write a temporary, rename over it), as editors and ConfigMap updates do.
  void Write(const std::string& text) const {
    const std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(AgentRules, ConfigFileRulesReloadWhenTheFileChangesAndABadFileKeepsTheRunningOnes) {
  ConfigFile file;
  file.Write(
      "default_rules: false\n"
      "config_check_period: 1s\n"
      "rules:\n"
      "  - name: many_threads\n"
      "    kind: threshold\n"
      "    signal: threads\n"
      "    above: 0\n");
  AgentOptions o = QuietSelfOptions();
  o.config_file = file.path();
  auto agent = Agent::Create(o).value();
  ASSERT_TRUE(agent->start().ok());
  ASSERT_EQ(agent->rules_status()->rules.size(), 1u);
  EXPECT_EQ(agent->rules_status()->rules[0].state, RuleState::kFiring)
      << DescribeRuleStatus(agent->rules_status()->rules[0]);
  EXPECT_EQ(agent->config_status().file, file.path());

  file.Write(
      "default_rules: false\n"
      "config_check_period: 1s\n"
      "rules:\n"
      "  - name: many_threads\n"
      "    kind: threshold\n"
      "    signal: threads\n"
      "    above: 100000\n"
      "  - name: many_fds\n"
      "    kind: threshold\n"
      "    signal: open_fds\n"
      "    above: 1\n");
  ASSERT_TRUE(WaitFor([&] { return agent->config_status().reloads_total == 1; }));
  ASSERT_TRUE(WaitFor([&] { return agent->rules_status()->rules.size() == 2; }));
  ASSERT_TRUE(WaitFor([&] { return agent->rules_status()->rules[1].state == RuleState::kFiring; }));
  EXPECT_EQ(agent->rules_status()->rules[0].state, RuleState::kOk);
  EXPECT_TRUE(agent->config_status().last_load_ok);

  file.Write("rules:\n  - name: broken\n    kind: sometimes\n");
  ASSERT_TRUE(WaitFor([&] { return agent->config_status().reload_failures_total == 1; }));
  const ConfigStatus config = agent->config_status();
  EXPECT_FALSE(config.last_load_ok);
  EXPECT_NE(config.last_error.find(file.path() + ":3:11"), std::string::npos) << config.last_error;
  EXPECT_NE(config.last_error.find("sometimes"), std::string::npos) << config.last_error;
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(agent->rules_status()->rules.size(), 2u);  // the running rules stay
  EXPECT_EQ(agent->rules_status()->rules[1].spec->name, "many_fds");
  agent->stop();
}

TEST(AgentRules, InvalidConfigFileAtStartIsACreateErrorNamingFileAndLine) {
  ConfigFile file;
  file.Write("rules:\n  - name: x\n    kind: threshold\n    signal: threads\n    above: lots\n");
  AgentOptions o = QuietSelfOptions();
  o.config_file = file.path();
  auto agent = Agent::Create(o);
  ASSERT_FALSE(agent.ok());
  EXPECT_NE(agent.error().message.find(file.path() + ":5:12"), std::string::npos) << agent.error().message;
}

}  // namespace
}  // namespace leakwatch
