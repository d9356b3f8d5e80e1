#include "examples/demo/flags.h"

#include <arpa/inet.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace leakwatch_demo {
namespace {

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  // strtod also accepts hex floats and leading blanks; a rate is a plain decimal.
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
      return std::nullopt;
  }
  return v;
}

leakwatch::Error BadValue(std::string_view flag, std::string_view value, std::string_view expected) {
  return leakwatch::Error{"invalid value \"" + std::string(value) + "\" for " + std::string(flag) +
                          ": expected " + std::string(expected)};
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  double scale = 0;
  std::string_view number;
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    scale = 1;
    number = text.substr(0, text.size() - 2);
  } else if (text.size() > 1 && text.back() == 's') {
    scale = 1000;
    number = text.substr(0, text.size() - 1);
  } else if (text.size() > 1 && text.back() == 'm') {
    scale = 60000;
    number = text.substr(0, text.size() - 1);
  } else {
    return std::nullopt;
  }
  const auto v = ParseNumber(number);
  if (!v || *v < 0 || *v * scale > 86400000.0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(*v * scale)));
}

std::optional<double> ParseRate(std::string_view text, double max) {
  const auto v = ParseNumber(text);
  if (!v || *v < 0 || *v > max) return std::nullopt;
  return *v;
}

std::optional<std::string> ParseListen(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  int port = -1;
  const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 0 ||
      port > 65535) {
    return std::nullopt;
  }
  if (host == "localhost") host = "127.0.0.1";
  if (host.empty() || host == "0.0.0.0") return std::to_string(port);
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return std::nullopt;
  return host + ":" + std::to_string(port);
}

std::string Usage() {
  return R"(usage: leakwatch-demo [flags]

A small service with the leakwatch agent inside that leaks memory, threads or file descriptors on purpose.

  --leak-memory MIB_PER_S    leak this many MiB per second (resident: every page is written); default 0
  --leak-threads PER_S       leak this many threads per second (blocked forever, named "leaky-thread"); default 0
  --leak-fds PER_S           leak this many file descriptors (pipe ends) per second; default 0
  --metrics-listen HOST:PORT where the agent serves /metrics (port 0: any free port; "off": no endpoint);
                             default: the agent's default 0.0.0.0:9860. LEAKWATCH_LISTEN overrides it.
  --control-listen HOST:PORT where the control API listens (port 0: any free port); default 127.0.0.1:9861
  --period DURATION          agent sampling period, 100ms..60s (e.g. 1s, 200ms); default 1s
  --help                     print this text and exit

Rates may be fractional (0.5 = one every two seconds) and are applied in 10 steps per second.
On start one JSON line is printed on stdout: {"pid":P,"metrics_port":M,"control_port":C}.
Control API (GET or POST): /status, /leak/memory?mib_per_s=X, /leak/threads?per_s=X, /leak/fds?per_s=X,
/free, /quit. See examples/demo/README.md.
Exit status: 0 on SIGINT, SIGTERM or /quit; 1 when the agent or the control server cannot start; 2 on bad flags.
)";
}

leakwatch::Result<DemoFlags> ParseFlags(const std::vector<std::string>& args) {
  DemoFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (name == "--help" || name == "-h") {
      flags.help = true;
      continue;
    }
    if (name.rfind("--", 0) != 0)
      return leakwatch::Error{"unexpected argument \"" + name + "\" (see --help)"};
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const bool known = name == "--leak-memory" || name == "--leak-threads" || name == "--leak-fds" ||
                       name == "--metrics-listen" || name == "--control-listen" || name == "--period";
    if (!known) return leakwatch::Error{"unknown flag " + name + " (see --help)"};
    if (!value) {
      if (i + 1 >= args.size()) return leakwatch::Error{"flag " + name + " needs a value"};
      value = args[++i];
    }
    const std::string& v = *value;
    if (name == "--leak-memory") {
      const auto r = ParseRate(v, kMaxMemoryMibPerS);
      if (!r) return BadValue(name, v, "MiB per second, a number in 0..1024");
      flags.leak_memory_mib_per_s = *r;
    } else if (name == "--leak-threads") {
      const auto r = ParseRate(v, kMaxThreadsPerS);
      if (!r) return BadValue(name, v, "threads per second, a number in 0..1000");
      flags.leak_threads_per_s = *r;
    } else if (name == "--leak-fds") {
      const auto r = ParseRate(v, kMaxFdsPerS);
      if (!r) return BadValue(name, v, "fds per second, a number in 0..10000");
      flags.leak_fds_per_s = *r;
    } else if (name == "--metrics-listen") {
      if (v != "off" && !ParseListen(v))
        return BadValue(name, v, "HOST:PORT (IPv4 host, port 0..65535) or off");
      flags.metrics_listen = v;
    } else if (name == "--control-listen") {
      if (!ParseListen(v)) return BadValue(name, v, "HOST:PORT (IPv4 host, port 0..65535)");
      flags.control_listen = v;
    } else if (name == "--period") {
      const auto d = ParseDuration(v);
      if (!d || *d < std::chrono::milliseconds(100) || *d > std::chrono::milliseconds(60000)) {
        return BadValue(name, v, "a duration from 100ms to 60s, e.g. 1s or 200ms");
      }
      flags.period = *d;
    }
  }
  return flags;
}

}  // namespace leakwatch_demo
