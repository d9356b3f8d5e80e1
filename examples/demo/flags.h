#pragma once
// Command-line flags of leakwatch-demo: text -> DemoFlags, with every error naming the flag and the value.
//
// Thread-safety: pure functions.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch_demo {

// Upper bounds on the leak rates, so a typo cannot take the machine down in seconds.
inline constexpr double kMaxMemoryMibPerS = 1024;
inline constexpr double kMaxThreadsPerS = 1000;
inline constexpr double kMaxFdsPerS = 10000;

struct DemoFlags {
  double leak_memory_mib_per_s = 0;
  double leak_threads_per_s = 0;
  double leak_fds_per_s = 0;
  // Unset: the agent's default (AgentOptions::http.listen, 0.0.0.0:9860). LEAKWATCH_LISTEN still overrides.
  std::optional<std::string> metrics_listen;
  std::string control_listen = "127.0.0.1:9861";
  std::chrono::milliseconds period{1000};
  bool help = false;
};

// Parses argv[1..]. Accepts "--flag value" and "--flag=value".
leakwatch::Result<DemoFlags> ParseFlags(const std::vector<std::string>& args);

// The --help text.
std::string Usage();

// "1s", "200ms", "1.5s", "2m"; nullopt on anything else (no unit, negative, overflow).
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// A finite, non-negative decimal number no larger than `max`; nullopt otherwise.
std::optional<double> ParseRate(std::string_view text, double max);

// "HOST:PORT" where HOST is an IPv4 literal, "localhost" or empty (all interfaces) and PORT is 0..65535.
// Returns the civetweb form "IP:PORT" (or "PORT" for all interfaces); nullopt when malformed.
std::optional<std::string> ParseListen(std::string_view text);

}  // namespace leakwatch_demo
