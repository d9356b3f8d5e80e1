#include "tests/integration/demo_harness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "tests/support/http_client.h"

namespace leakwatch::integration {
namespace {

using std::chrono::milliseconds;
using test_support::HttpGet;

Result<std::string> GetBody(int port, std::string_view path) {
  test_support::HttpGetOptions options;
  options.timeout = milliseconds(5000);
  auto r = HttpGet(port, path, options);
  if (!r) return r.error();
  if (r->status != 200) {
    return Error{"GET " + std::string(path) + " answered " + std::to_string(r->status) + ": " + r->body};
  }
  return std::move(r->body);
}

std::string StderrPath() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "demo";
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return ::testing::TempDir() + "leakwatch-demo-" + std::to_string(getpid()) + "-" + name + "-" +
         std::to_string(counter++) + ".stderr";
}

}  // namespace

std::string DemoPath() { return LEAKWATCH_DEMO_PATH; }

std::vector<std::string> DefaultDemoArgs() {
  return {"--metrics-listen", "127.0.0.1:0", "--control-listen", "127.0.0.1:0", "--period", "200ms"};
}

Result<std::string> RunningDemo::Scrape() const {
  if (metrics_port == 0) return Error{"the demo has no metrics endpoint"};
  return GetBody(metrics_port, "/metrics");
}

Result<std::string> RunningDemo::AgentGet(std::string_view path) const {
  if (metrics_port == 0) return Error{"the demo has no metrics endpoint"};
  return GetBody(metrics_port, path);
}

Result<std::string> RunningDemo::Control(std::string_view path_and_query) const {
  return GetBody(control_port, path_and_query);
}

std::optional<double> RunningDemo::Metric(std::string_view name, const Labels& labels) const {
  const auto body = Scrape();
  if (!body) return std::nullopt;
  return FindSample(*body, name, labels);
}

bool RunningDemo::WaitForNewSamples(int ticks, milliseconds timeout) const {
  const auto start = Metric("leakwatch_samples_total");
  if (!start) return false;
  return WaitUntil(
      [&] {
        const auto now = Metric("leakwatch_samples_total");
        return now && *now >= *start + ticks;
      },
      timeout);
}

Result<std::unique_ptr<ChildProcess>> SpawnDemo(const DemoOptions& options) {
  ChildOptions co;
  co.argv.push_back(DemoPath());
  co.argv.insert(co.argv.end(), options.args.begin(), options.args.end());
  co.env = options.env;
  co.cgroup_procs = options.cgroup_procs;
  co.stderr_path = StderrPath();
  return ChildProcess::Spawn(co);
}

Result<RunningDemo> StartDemo(const DemoOptions& options) {
  auto child = SpawnDemo(options);
  if (!child) return child.error();
  RunningDemo demo;
  demo.child = std::move(*child);
  auto line = demo.child->ReadLine(milliseconds(10000));
  if (!line) return line.error();
  const auto pid = JsonField(*line, "pid");
  const auto metrics = JsonField(*line, "metrics_port");
  const auto control = JsonField(*line, "control_port");
  if (!pid || !metrics || !control) return Error{"unexpected start-up line from the demo: " + *line};
  demo.pid = static_cast<int>(*pid);
  demo.metrics_port = static_cast<int>(*metrics);
  demo.control_port = static_cast<int>(*control);
  return demo;
}

std::optional<long long> JsonField(std::string_view json, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":";
  const auto at = json.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + needle.size();
  while (i < json.size() && json[i] == ' ') ++i;
  const size_t begin = i;
  long long v = 0;
  while (i < json.size() && json[i] >= '0' && json[i] <= '9') v = v * 10 + (json[i++] - '0');
  if (i == begin) return std::nullopt;
  return v;
}

bool WaitUntil(const std::function<bool()>& condition, milliseconds timeout, milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace leakwatch::integration
