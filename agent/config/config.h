#pragma once
// Agent configuration: YAML text -> AgentOptions / RulesOptions (plain structs) -> one validating step
// (ValidateOptions; CompileRules in agent/rules/rule_compiler.h for the rules).
//
// Precedence, lowest first: the AgentOptions the program passes, the file named by LEAKWATCH_CONFIG, then
// LEAKWATCH_PERIOD, LEAKWATCH_LOG_LEVEL, LEAKWATCH_LISTEN, LEAKWATCH_DEBUG_TOKEN_FILE and LEAKWATCH_HEAP_SAMPLER
// (off, on, default, low-overhead, or a sampling interval such as 2MiB). Every error names
// the file, line and column, the field and the offending value, and all errors are reported together (one per
// line), not just the first.
//
// File format (every key optional; docs/CONFIG.md):
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
//     debug_token_file: /run/secrets/leakwatch-token   # enables the /debug/leakwatch/* endpoints
//   log:
//     level: info
//     sink: stderr             # stderr, stdout, off, file:<path>
//     json: false
//   heap_profiler:
//     enabled: true
//     sampling_interval: 512KiB  # 1 .. 1GiB, or default (512KiB), low-overhead (2MiB)
//     max_live_samples: 1048576
//     max_stacks: 65536
//     require_token: false     # GET /debug/pprof/heap behind the debug token
//     peak_growth: 10%         # a percentage or a fraction
//     peak_min_interval: 10s
//   default_rules: true        # rules: read by ApplyRulesConfigText, accepted and skipped by ApplyConfigText
//   rules: [...]
//
// Rules (ApplyRulesConfigText -> RulesOptions; leakwatch/rules.h has the meaning of every field):
//   default_rules: true        # false: only the rules below (RulesOptions::defaults)
//   rules:                     # a list of maps; when present it replaces RulesOptions::rules as a whole
//     - name: rss_near_limit   # required; [a-z][a-z0-9_]*. The name of a default rule replaces that rule;
//                              # `- {name: memory_growth, enabled: false}` alone turns that default off.
//       kind: threshold        # threshold (the default) | growth | spike | time_to_limit | high_water
//       signal: cgroup_memory_working_set_bytes   # a signal key (FindSignal in leakwatch/signals.h)
//       severity: warning      # warning (default) | critical
//       enabled: true
//       limit: auto            # auto | none | <signal key> | <number or size>
//       above: 85%             # threshold: a percentage -> above_limit_ratio; a number or size -> above
//       window: 5m             # growth, spike, time_to_limit
//       rate: 1MiB/min         # growth: "<number or size>/<s|m|min|h>" -> units per second
//       increase: 15%          # growth: a percentage or a fraction (0.15)
//       min_coverage: 50%      # growth, time_to_limit: a percentage or a fraction
//       baseline: median       # spike: median | mean
//       baseline_includes_current: false          # spike
//       factor: 3              # spike: a plain number
//       min_increase: 20       # spike: a number or size
//       floor: 50              # spike: a number or size
//       horizon: 10m           # time_to_limit
//       step: 64MiB            # high_water: a number or size -> step; a percentage -> step_ratio
//       for: 30s               # -> hold
//       clear_after: 1m
//       hysteresis: 5%         # a percentage or a fraction
//       warmup: 2m
//       actions: [log]         # a list of action names; [] for none
//       cooldown: 10m
//       max_actions: 3         # an integer
//       actions_window: 1h
// Values, parsed strictly (anything else is an error naming file:line:col, the field path such as
// `rules[2].above (rule "rss_near_limit")`, the value and an example of a valid one):
//   number      a non-negative decimal without exponent: 1000, 0.5
//   size        a number with a unit: binary B, KiB, MiB, GiB, TiB (1024^n) or decimal kB, MB, GB, TB
//   (1000^n),
//               no space: 512MiB, 1.5GiB, 100kB
//   percentage  a number followed by %: 85% -> 0.85
//   duration    ParseDuration: 250ms, 30s, 5m, 1h, 1d, 0
// Unknown keys inside a rule are errors. Each RuleSpec::origin is set to "<file>:<line>:<col>" of its map.
// Range and consistency checks (per kind, limits, actions) are CompileRules's job, not the parser's.
//
// Thread-safety: pure functions (ApplyEnvironment reads the environment through the given lookup function).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/rules/rule_compiler.h"
#include "leakwatch/agent.h"
#include "leakwatch/result.h"
#include "leakwatch/rules.h"

namespace leakwatch::internal {

// Parses "250ms", "1s", "1.5s", "2m", "1h", "1d", "0"; nullopt on anything else.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Parses a number ("1000", "0.5") or a size ("512MiB", "1.5GiB", "100kB"; units B, KiB, MiB, GiB, TiB, kB,
// MB, GB, TB) into base units; nullopt on anything else (signs, exponents, spaces, other units).
std::optional<double> ParseSize(std::string_view text);
// Parses a heap sampling interval: a size ("512KiB", "2MiB", "1") or a preset, "default" (512 KiB) or
// "low-overhead" (2 MiB); nullopt on anything else. The range is ValidateOptions's.
std::optional<uint64_t> ParseSamplingInterval(std::string_view text);
// Parses a percentage ("85%", "2.5%") into a fraction (0.85, 0.025).
std::optional<double> ParsePercent(std::string_view text);
// Parses "<number or size>/<s|m|min|h>" ("1MiB/min", "10/s") into units per second.
std::optional<double> ParseRate(std::string_view text);

struct ListenAddress {
  bool off = false;
  std::string host;  // IPv4 literal; "0.0.0.0" for all interfaces
  int port = 0;
};
// Parses "host:port", ":port" (all interfaces), "localhost:port" or "off".
Result<ListenAddress> ParseListen(std::string_view text);

// Applies the YAML config `text` (read from `file_name`, used in messages) over *options. The keys
// `default_rules` and `rules` are accepted and skipped: they are ApplyRulesConfigText's.
Status ApplyConfigText(std::string_view text, const std::string& file_name, AgentOptions* options);
Status ApplyConfigFile(const std::string& path, AgentOptions* options);

// Parses the `default_rules` and `rules` keys of a config file into *rules (other keys are ignored here); the
// caller compiles the result (CompileRules). *rules is left unchanged when the text has errors.
Status ApplyRulesConfigText(std::string_view text, const std::string& file_name, RulesOptions* rules);

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
// The process environment.
std::optional<std::string> GetEnv(const char* name);
// Applies LEAKWATCH_CONFIG, LEAKWATCH_PERIOD (a duration), LEAKWATCH_LOG_LEVEL, then LEAKWATCH_LISTEN; unset
// or empty variables change nothing. Every bad variable is reported (name and value), all at once.
Status ApplyEnvironment(const EnvLookup& env, AgentOptions* options);
// The same without LEAKWATCH_CONFIG.
Status ApplyEnvironmentVariables(const EnvLookup& env, AgentOptions* options);
// A lookup over the LEAKWATCH_* variables as they are now: the sampler thread re-resolves the configuration
// on a reload and must not call getenv() while the host may be calling setenv().
EnvLookup CaptureEnvironment(const EnvLookup& env);

// The configuration in force: the program's options with every layer applied, validated, rules compiled.
struct ResolvedConfig {
  AgentOptions options;  // options.config_file names the file that was applied (empty when none)
  CompiledRules rules;
};
// Applies, over `program`: the config file (LEAKWATCH_CONFIG when use_environment and set, else
// program.config_file) — its text is `file_text` when given (a reload), else read from disk — then the
// LEAKWATCH_* variables (when use_environment); validates the options and compiles the rules against
// `known_actions`. Every problem of every layer is reported at once.
Result<ResolvedConfig> ResolveConfig(const AgentOptions& program, const EnvLookup& env,
                                     const std::optional<std::string>& file_text,
                                     const std::vector<std::string>& known_actions);

// The operator endpoints' bearer token: 16..4096 printable ASCII characters, no space (HttpOptions).
Status ValidateDebugToken(std::string_view token);
// Reads a token file: its content without the trailing newline, validated. Errors name the file and why.
Result<std::string> ReadDebugTokenFile(const std::string& path);

// The compile step: checks every field and reports every problem at once.
Status ValidateOptions(const AgentOptions& options);

}  // namespace leakwatch::internal
