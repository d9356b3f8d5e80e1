#include "agent/config/config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>
#include <vector>

#include "agent/common/file_reader.h"
#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

using std::chrono::milliseconds;

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

// Collects errors located in one YAML file.
class ErrorList {
 public:
  explicit ErrorList(std::string file) : file_(std::move(file)) {}
  void Add(const YAML::Node& node, const std::string& field, const std::string& what) {
    const auto mark = node.Mark();
    std::string where = file_;
    if (mark.line >= 0) where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    errors_.push_back(where + ": " + field + ": " + what);
  }
  bool empty() const { return errors_.empty(); }
  std::string str() const { return Join(errors_); }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

std::string Quoted(const YAML::Node& node) {
  if (node.IsScalar()) return "\"" + node.Scalar() + "\"";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  return "nothing";
}

void CheckKeys(const YAML::Node& map, const std::string& prefix, const std::set<std::string>& allowed,
               ErrorList& errors) {
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    if (!allowed.count(key)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      errors.Add(kv.first, prefix + key, "unknown key (expected one of: " + list + ")");
    }
  }
}

void ReadDuration(const YAML::Node& map, const char* key, const std::string& field, milliseconds* out,
                  ErrorList& errors) {
  const YAML::Node node = map[key];
  if (!node) return;
  const auto d = node.IsScalar() ? ParseDuration(node.Scalar()) : std::nullopt;
  if (!d) {
    errors.Add(node, field, "value " + Quoted(node) + " is not a duration like 500ms, 1s, 2m");
    return;
  }
  *out = *d;
}

template <typename Int>
void ReadInteger(const YAML::Node& map, const char* key, const std::string& field, Int* out,
                 ErrorList& errors) {
  const YAML::Node node = map[key];
  if (!node) return;
  const auto v = node.IsScalar() ? ParseU64(node.Scalar()) : std::nullopt;
  if (!v) {
    errors.Add(node, field, "value " + Quoted(node) + " is not a non-negative integer");
    return;
  }
  *out = static_cast<Int>(*v);
}

void ReadString(const YAML::Node& map, const char* key, const std::string& field, std::string* out,
                ErrorList& errors) {
  const YAML::Node node = map[key];
  if (!node) return;
  if (!node.IsScalar()) {
    errors.Add(node, field, "expected a string, got " + Quoted(node));
    return;
  }
  *out = node.Scalar();
}

void ReadBool(const YAML::Node& map, const char* key, const std::string& field, bool* out,
              ErrorList& errors) {
  const YAML::Node node = map[key];
  if (!node) return;
  if (node.IsScalar() && (node.Scalar() == "true" || node.Scalar() == "false")) {
    *out = node.Scalar() == "true";
    return;
  }
  errors.Add(node, field, "value " + Quoted(node) + " is not true or false");
}

}  // namespace

std::optional<milliseconds> ParseDuration(std::string_view text) {
  text = TrimSpace(text);
  if (text == "0") return milliseconds(0);
  struct Unit {
    std::string_view suffix;
    double ms;
  };
  static constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  for (const auto& u : kUnits) {
    if (text.size() > u.suffix.size() && text.substr(text.size() - u.suffix.size()) == u.suffix) {
      const auto number = text.substr(0, text.size() - u.suffix.size());
      const auto v = ParseDecimal(number);
      if (!v || *v < 0 || *v * u.ms > 1e15) return std::nullopt;
      return milliseconds(static_cast<int64_t>(std::llround(*v * u.ms)));
    }
  }
  return std::nullopt;
}

Result<ListenAddress> ParseListen(std::string_view text) {
  const std::string listen(text);
  const std::string what = "listen address \"" + listen + "\": ";
  if (listen == "off") return ListenAddress{true, "", 0};
  constexpr const char* kNoIpv6 =
      "IPv6 is not supported (civetweb in Debian's prometheus-cpp is compiled without IPv6); use an IPv4 "
      "address such as 127.0.0.1:9860";
  if (!listen.empty() && listen[0] == '[') return Error{what + kNoIpv6};
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Error{what + "expected host:port, e.g. 127.0.0.1:9860 (or :9860 for all interfaces), or off"};
  }
  const std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (host.find(':') != std::string::npos) return Error{what + kNoIpv6};
  ListenAddress out;
  if (host.empty() || host == "0.0.0.0") {
    out.host = "0.0.0.0";
  } else if (host == "localhost") {
    out.host = "127.0.0.1";
  } else {
    in_addr addr{};
    if (::inet_pton(AF_INET, host.c_str(), &addr) != 1) {
      return Error{what + "host \"" + host +
                   "\" is not an IPv4 address; use a dotted quad (127.0.0.1), localhost, or nothing for all "
                   "interfaces (host names are not resolved)"};
    }
    out.host = host;
  }
  const auto port = ParseU64(port_text);
  if (port_text.size() > 5 || !port || *port > 65535) {
    return Error{what + "port \"" + port_text + "\" is not a number in 0..65535 (0 picks a free port)"};
  }
  out.port = static_cast<int>(*port);
  return out;
}

Status ApplyConfigText(std::string_view text, const std::string& file_name, AgentOptions* options) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error{file_name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                 ": not valid YAML: " + e.msg};
  }
  if (!root || root.IsNull()) return OkStatus();  // an empty file changes nothing
  ErrorList errors(file_name);
  if (!root.IsMap()) {
    errors.Add(root, "(top level)", "expected a map of settings, got " + Quoted(root));
    return Error{errors.str()};
  }
  try {
    CheckKeys(root, "",
              {"period", "slow_period", "smaps_rollup", "fd_types", "fd_scan_limit", "history_budget_bytes",
               "http", "log", "allocator"},
              errors);
    ReadDuration(root, "period", "period", &options->period, errors);
    ReadDuration(root, "slow_period", "slow_period", &options->slow_period, errors);
    ReadBool(root, "smaps_rollup", "smaps_rollup", &options->smaps_rollup, errors);
    ReadBool(root, "fd_types", "fd_types", &options->fd_types, errors);
    ReadInteger(root, "fd_scan_limit", "fd_scan_limit", &options->fd_scan_limit, errors);
    ReadInteger(root, "history_budget_bytes", "history_budget_bytes", &options->history_budget_bytes, errors);
    if (const YAML::Node http = root["http"]) {
      if (!http.IsMap()) {
        errors.Add(http, "http", "expected a map, got " + Quoted(http));
      } else {
        CheckKeys(http, "http.", {"listen", "metrics_path", "request_timeout", "threads", "web_config_file"},
                  errors);
        ReadString(http, "listen", "http.listen", &options->http.listen, errors);
        ReadString(http, "metrics_path", "http.metrics_path", &options->http.metrics_path, errors);
        milliseconds timeout(options->http.request_timeout_ms);
        ReadDuration(http, "request_timeout", "http.request_timeout", &timeout, errors);
        options->http.request_timeout_ms = static_cast<int>(std::min<int64_t>(timeout.count(), 1 << 30));
        ReadInteger(http, "threads", "http.threads", &options->http.threads, errors);
        ReadString(http, "web_config_file", "http.web_config_file", &options->http.web_config_file, errors);
      }
    }
    if (const YAML::Node allocator = root["allocator"]) {
      if (!allocator.IsMap()) {
        errors.Add(allocator, "allocator", "expected a map, got " + Quoted(allocator));
      } else {
        AllocatorOptions& a = options->allocator;
        CheckKeys(allocator, "allocator.",
                  {"period", "glibc_mallinfo", "glibc_mallinfo_period", "glibc_mallinfo_budget",
                   "glibc_mallinfo_max_period"},
                  errors);
        ReadDuration(allocator, "period", "allocator.period", &a.period, errors);
        ReadBool(allocator, "glibc_mallinfo", "allocator.glibc_mallinfo", &a.glibc_mallinfo, errors);
        ReadDuration(allocator, "glibc_mallinfo_period", "allocator.glibc_mallinfo_period",
                     &a.glibc_mallinfo_period, errors);
        ReadDuration(allocator, "glibc_mallinfo_budget", "allocator.glibc_mallinfo_budget",
                     &a.glibc_mallinfo_budget, errors);
        ReadDuration(allocator, "glibc_mallinfo_max_period", "allocator.glibc_mallinfo_max_period",
                     &a.glibc_mallinfo_max_period, errors);
      }
    }
    if (const YAML::Node log = root["log"]) {
      if (!log.IsMap()) {
        errors.Add(log, "log", "expected a map, got " + Quoted(log));
      } else {
        CheckKeys(log, "log.", {"level", "sink", "json"}, errors);
        ReadString(log, "level", "log.level", &options->log.level, errors);
        ReadString(log, "sink", "log.sink", &options->log.sink, errors);
        ReadBool(log, "json", "log.json", &options->log.json, errors);
      }
    }
  } catch (const YAML::Exception& e) {
    return Error{file_name + ": " + e.what()};
  }
  if (!errors.empty()) return Error{errors.str()};
  return OkStatus();
}

Status ApplyConfigFile(const std::string& path, AgentOptions* options) {
  auto text = ReadFile(path, 4 << 20);
  if (!text) return Error{"cannot read config file " + text.error().message};
  return ApplyConfigText(*text, path, options);
}

std::optional<std::string> GetEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Status ApplyEnvironment(const EnvLookup& env, AgentOptions* options) {
  std::vector<std::string> errors;
  if (auto path = env("LEAKWATCH_CONFIG"); path && !path->empty()) {
    if (auto st = ApplyConfigFile(*path, options); !st)
      errors.push_back("LEAKWATCH_CONFIG: " + st.error().message);
  }
  if (auto listen = env("LEAKWATCH_LISTEN"); listen && !listen->empty()) {
    if (auto parsed = ParseListen(*listen); !parsed) {
      errors.push_back("LEAKWATCH_LISTEN: " + parsed.error().message);
    } else {
      options->http.listen = *listen;
    }
  }
  if (!errors.empty()) return Error{Join(errors)};
  return OkStatus();
}

Status ValidateOptions(const AgentOptions& o) {
  std::vector<std::string> errors;
  const auto ms = [](milliseconds d) { return std::to_string(d.count()) + "ms"; };
  if (o.period < milliseconds(100) || o.period > milliseconds(60'000)) {
    errors.push_back("period: " + ms(o.period) + " is outside 100ms .. 60s");
  }
  if (o.slow_period < o.period || o.slow_period > milliseconds(3'600'000)) {
    errors.push_back("slow_period: " + ms(o.slow_period) + " must be between the period (" + ms(o.period) +
                     ") and 1h (to turn the costly scans off, set smaps_rollup: false or fd_types: false)");
  }
  if (o.fd_scan_limit < 1 || o.fd_scan_limit > 10'000'000) {
    errors.push_back("fd_scan_limit: " + std::to_string(o.fd_scan_limit) + " is outside 1 .. 10000000");
  }
  if (o.history_budget_bytes < 64 * 1024 || o.history_budget_bytes > (size_t{1} << 30)) {
    errors.push_back("history_budget_bytes: " + std::to_string(o.history_budget_bytes) +
                     " is outside 65536 .. 1073741824");
  }
  if (auto listen = ParseListen(o.http.listen); !listen)
    errors.push_back("http.listen: " + listen.error().message);
  if (o.http.metrics_path.empty() || o.http.metrics_path.front() != '/' ||
      o.http.metrics_path.find_first_of(" ?#") != std::string::npos) {
    errors.push_back("http.metrics_path: \"" + o.http.metrics_path +
                     "\" must start with / and hold no space, ? or #");
  }
  if (o.http.request_timeout_ms < 100 || o.http.request_timeout_ms > 120'000) {
    errors.push_back("http.request_timeout: " + std::to_string(o.http.request_timeout_ms) +
                     "ms is outside 100ms .. 120s");
  }
  if (o.http.threads < 1 || o.http.threads > 64) {
    errors.push_back("http.threads: " + std::to_string(o.http.threads) + " is outside 1 .. 64");
  }
  const AllocatorOptions& a = o.allocator;
  if (a.period.count() != 0 && (a.period < o.period || a.period > milliseconds(3'600'000))) {
    errors.push_back("allocator.period: " + ms(a.period) + " must be 0 (every tick) or between the period (" +
                     ms(o.period) + ") and 1h");
  }
  if (a.glibc_mallinfo_period < milliseconds(1000) || a.glibc_mallinfo_period > milliseconds(86'400'000)) {
    errors.push_back("allocator.glibc_mallinfo_period: " + ms(a.glibc_mallinfo_period) +
                     " is outside 1s .. 24h");
  }
  if (a.glibc_mallinfo_budget < milliseconds(1) || a.glibc_mallinfo_budget > milliseconds(10'000)) {
    errors.push_back("allocator.glibc_mallinfo_budget: " + ms(a.glibc_mallinfo_budget) +
                     " is outside 1ms .. 10s");
  }
  if (a.glibc_mallinfo_max_period < a.glibc_mallinfo_period ||
      a.glibc_mallinfo_max_period > milliseconds(86'400'000)) {
    errors.push_back("allocator.glibc_mallinfo_max_period: " + ms(a.glibc_mallinfo_max_period) +
                     " must be between allocator.glibc_mallinfo_period (" + ms(a.glibc_mallinfo_period) +
                     ") and 24h");
  }
  if (o.proc_root.empty()) errors.push_back("proc_root: must not be empty");
  if (o.pid != "self" && !ParseU64(o.pid))
    errors.push_back("pid: \"" + o.pid + "\" is neither self nor a number");
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (!kLevels.count(o.log.level)) {
    errors.push_back("log.level: \"" + o.log.level +
                     "\" is not one of trace, debug, info, warn, error, critical, off");
  }
  const bool sink_ok = o.log.sink == "stderr" || o.log.sink == "stdout" || o.log.sink == "off" ||
                       (o.log.sink.rfind("file:", 0) == 0 && o.log.sink.size() > 5);
  if (!sink_ok)
    errors.push_back("log.sink: \"" + o.log.sink + "\" is not one of stderr, stdout, off, file:<path>");
  if (!errors.empty()) return Error{Join(errors)};
  return OkStatus();
}

}  // namespace leakwatch::internal
