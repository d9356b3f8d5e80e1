#pragma once
// Starting leakwatch-demo for a test and talking to it: its start-up JSON line, its control API and its
// /metrics endpoint. Every wait is bounded.
//
// Thread-safety: none; one test thread owns a RunningDemo.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/result.h"
#include "tests/integration/child_process.h"
#include "tests/integration/prom_text.h"

namespace leakwatch::integration {

// Path of the leakwatch-demo binary under test (compiled in by CMake).
std::string DemoPath();

// The default flags: loopback, port 0 for both endpoints, 200 ms period.
std::vector<std::string> DefaultDemoArgs();

struct DemoOptions {
  // The demo's flags (append to the defaults to add one).
  std::vector<std::string> args = DefaultDemoArgs();
  std::vector<std::pair<std::string, std::string>> env;
  std::string cgroup_procs;  // see ChildOptions::cgroup_procs
};

struct RunningDemo {
  std::unique_ptr<ChildProcess> child;  // killed and reaped when the RunningDemo dies
  int pid = 0;                          // as printed by the demo
  int metrics_port = 0;                 // 0 when the metrics endpoint is off or failed
  int control_port = 0;

  // GET /metrics; the body of a 200 answer.
  Result<std::string> Scrape() const;
  // GET on the agent's endpoint (e.g. "/status"); the body of a 200 answer.
  Result<std::string> AgentGet(std::string_view path) const;
  // GET on the control API (e.g. "/leak/threads?per_s=5"); the body of a 200 answer.
  Result<std::string> Control(std::string_view path_and_query) const;
  // One sample of a fresh scrape (nullopt when absent or when the scrape failed).
  std::optional<double> Metric(std::string_view name, const Labels& labels = {}) const;
  // Waits until leakwatch_samples_total exceeds its current value by at least `ticks` (a sample taken
  // entirely after this call began when ticks >= 2). False on timeout.
  bool WaitForNewSamples(int ticks, std::chrono::milliseconds timeout) const;
};

// Spawns the demo with its stderr going to a file in the test's temp dir; does not wait for anything.
Result<std::unique_ptr<ChildProcess>> SpawnDemo(const DemoOptions& options = {});

// SpawnDemo(), then reads the demo's JSON start-up line (10 s at most).
Result<RunningDemo> StartDemo(const DemoOptions& options = {});

// An unsigned integer field of a flat JSON object: JsonField("{\"pid\":12}", "pid") == 12.
std::optional<long long> JsonField(std::string_view json, std::string_view key);

// Polls `condition` every `interval` until it holds or `timeout` passes; returns its last result.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(50));

}  // namespace leakwatch::integration
