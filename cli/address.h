#pragma once
// The address of a running agent, as the operator types it: "host:port", ":port", "port",
// "http://host:port[/]", "[::1]:port". Host names are kept (resolved when connecting).
//
// Thread-safety: pure functions.

#include <optional>
#include <string>
#include <string_view>

#include "leakwatch/result.h"

namespace leakwatch::cli {

inline constexpr const char* kDefaultAgentAddress = "127.0.0.1:9860";

struct AgentAddress {
  std::string host;  // without brackets; "127.0.0.1" when none was given
  int port = 0;      // 1..65535

  // "host:port", "[v6]:port".
  std::string str() const;
};

Result<AgentAddress> ParseAgentAddress(std::string_view text);

// True when `text` has the shape of an address (used to tell `incidents ADDR` from `incidents BUNDLE`).
bool LooksLikeAddress(std::string_view text);

// LEAKWATCH_ADDR when set and non-empty, else kDefaultAgentAddress.
std::string DefaultAgentAddressText(const std::optional<std::string>& leakwatch_addr_env);

}  // namespace leakwatch::cli
