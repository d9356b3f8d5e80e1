#pragma once
// Agent configuration: YAML text -> AgentOptions (a plain struct) -> one validating step.
//
// Precedence, lowest first: the AgentOptions the program passes, the file named by LEAKWATCH_CONFIG, then
// LEAKWATCH_LISTEN. Every error names the file, line and column, the field and the offending value, and all
// errors are reported together (one per line), not just the first.
//
// File format (every key optional; docs/CONFIGURATION.md):
//   period: 1s                 # 100ms .. 60s
//   slow_period: 10s           # 0 disables smaps_rollup and fds-by-type
//   fd_scan_limit: 10000
//   history_budget_bytes: 2097152
//   http:
//     listen: 0.0.0.0:9860     # or "off"
//     metrics_path: /metrics
//     request_timeout: 3s
//     threads: 4
//     web_config_file: /etc/leakwatch/web.yml
//   log:
//     level: info
//     sink: stderr             # stderr, stdout, off, file:<path>
//     json: false
//
// Thread-safety: pure functions (ApplyEnvironment reads the environment through the given lookup function).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "leakwatch/agent.h"
#include "leakwatch/result.h"

namespace leakwatch::internal {

// Parses "250ms", "1s", "1.5s", "2m", "1h", "0"; nullopt on anything else.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

struct ListenAddress {
  bool off = false;
  std::string host;  // IPv4 literal; "0.0.0.0" for all interfaces
  int port = 0;
};
// Parses "host:port", ":port" (all interfaces), "localhost:port" or "off".
Result<ListenAddress> ParseListen(std::string_view text);

// Applies the YAML config `text` (read from `file_name`, used in messages) over *options.
Status ApplyConfigText(std::string_view text, const std::string& file_name, AgentOptions* options);
Status ApplyConfigFile(const std::string& path, AgentOptions* options);

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
// The process environment.
std::optional<std::string> GetEnv(const char* name);
// Applies LEAKWATCH_CONFIG then LEAKWATCH_LISTEN.
Status ApplyEnvironment(const EnvLookup& env, AgentOptions* options);

// The compile step: checks every field and reports every problem at once.
Status ValidateOptions(const AgentOptions& options);

}  // namespace leakwatch::internal
