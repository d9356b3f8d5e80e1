#include "cli/address.h"

#include "agent/common/text.h"

namespace leakwatch::cli {

std::string AgentAddress::str() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

Result<AgentAddress> ParseAgentAddress(std::string_view text) {
  const std::string what = "agent address \"" + std::string(text) + "\": ";
  if (text.rfind("https://", 0) == 0) {
    return Error{what +
                 "the agent serves plain HTTP only (TLS belongs in a proxy in front of it); use "
                 "http://host:port or host:port"};
  }
  if (text.rfind("http://", 0) == 0) {
    text.remove_prefix(7);
    if (!text.empty() && text.back() == '/') text.remove_suffix(1);
    if (text.find('/') != std::string_view::npos) {
      return Error{what + "expected no path, just http://host:port"};
    }
  }
  AgentAddress out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error{what + "expected [ipv6]:port"};
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return Error{what + "an IPv6 address needs brackets: [::1]:9860"};
    }
    port_text = text.substr(colon + 1);
  } else {
    port_text = text;
  }
  if (out.host.empty()) out.host = "127.0.0.1";
  for (const char c : out.host) {
    if (c == '/' || c == '@' || c == ' ' || c == '?' || c == '#') {
      return Error{what + "host \"" + out.host + "\" is not a host name or IP address"};
    }
  }
  const auto port = internal::ParseU64(port_text);
  if (!port || *port < 1 || *port > 65535 || port_text.size() > 5) {
    return Error{what + "port \"" + std::string(port_text) +
                 "\" is not a number in 1..65535; expected host:port, :port, port or http://host:port"};
  }
  out.port = static_cast<int>(*port);
  return out;
}

bool LooksLikeAddress(std::string_view text) {
  if (text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0) return true;
  if (text.find(':') != std::string_view::npos) return true;  // bundle names never hold ':'
  return !text.empty() && internal::ParseU64(text).has_value();
}

std::string DefaultAgentAddressText(const std::optional<std::string>& leakwatch_addr_env) {
  if (leakwatch_addr_env && !leakwatch_addr_env->empty()) return *leakwatch_addr_env;
  return kDefaultAgentAddress;
}

}  // namespace leakwatch::cli
