#include "agent/config/config.h"

#include <arpa/inet.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "agent/bundle/egress_command.h"
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
    errors_.push_back(Where(node) + ": " + field + ": " + what);
  }
  // "file:line:col" of the node ("file" when yaml-cpp has no position for it).
  std::string Where(const YAML::Node& node) const {
    const auto mark = node.Mark();
    std::string where = file_;
    if (mark.line >= 0) where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    return where;
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

void ReadSize(const YAML::Node& map, const char* key, const std::string& field, uint64_t* out,
              ErrorList& errors) {
  const YAML::Node node = map[key];
  if (!node) return;
  const auto v = node.IsScalar() ? ParseSize(node.Scalar()) : std::nullopt;
  if (!v || *v > 1e18 || *v != std::floor(*v)) {
    errors.Add(node, field, "value " + Quoted(node) + " is not a size like 512MiB, 2GiB or 1000000");
    return;
  }
  *out = static_cast<uint64_t>(*v);
}

const std::set<std::string>& LogLevels() {
  static const auto* levels =
      new std::set<std::string>{"trace", "debug", "info", "warn", "error", "critical", "off"};
  return *levels;
}
constexpr const char* kLogLevelList = "trace, debug, info, warn, error, critical, off";

// Parses the text into its top level: a map, or a null node for an empty file. ApplyConfigText and
// ApplyRulesConfigText both read a file through this, so they accept and reject the same files alike.
Result<YAML::Node> LoadTopLevel(std::string_view text, const std::string& file_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error{file_name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                 ": not valid YAML: " + e.msg};
  }
  if (!root || root.IsNull()) return YAML::Node();  // an empty file changes nothing
  if (!root.IsMap()) {
    ErrorList errors(file_name);
    errors.Add(root, "(top level)", "expected a map of settings, got " + Quoted(root));
    return Error{errors.str()};
  }
  return root;
}

// ----- rules -----

constexpr const char* kSizeExample =
    "a number or size like 1000, 0.5, 512MiB or 1.5GiB (units B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)";
constexpr const char* kRatioExample = "a percentage like 15% or a fraction like 0.15";

const std::set<std::string>& RuleKeys() {
  // clang-format off
  static const auto* keys = new std::set<std::string>{
    "name", "kind", "signal", "severity", "enabled", "limit",                    // every kind
    "above",                                                                     // threshold
    "window",                                                                    // growth, spike, time_to_limit
    "rate", "increase",                                                          // growth
    "min_coverage",                                                              // growth, time_to_limit
    "baseline", "baseline_includes_current", "factor", "min_increase", "floor",  // spike
    "horizon",                                                                   // time_to_limit
    "step",                                                                      // high_water
    "for", "clear_after", "hysteresis", "warmup",                                // every kind
    "actions", "cooldown", "max_actions", "actions_window",                      // every kind
  };
  // clang-format on
  return *keys;
}

std::string SignalKeys() {
  std::string out;
  for (size_t i = 0; i < kSignalCount; ++i) {
    out += (out.empty() ? "" : ", ") + std::string(GetSignalInfo(static_cast<Signal>(i)).key);
  }
  return out;
}

std::optional<double> ParseRatio(std::string_view text) {
  if (auto p = ParsePercent(text)) return p;
  return ParseDecimal(text);
}

// Reads one rule's map into a RuleSpec; type and format errors only (CompileRules checks the values).
class RuleReader {
 public:
  RuleReader(const YAML::Node& map, size_t index, ErrorList& errors)
      : map_(map), path_("rules[" + std::to_string(index) + "]"), errors_(errors) {}

  void Read(RuleSpec* r) {
    r->origin = errors_.Where(map_);
    // The name first: every other message names the rule.
    if (const YAML::Node n = map_["name"]) {
      if (n.IsScalar()) {
        r->name = n.Scalar();
        name_ = r->name;
      } else {
        errors_.Add(n, Field("name"), "expected a name like rss_near_limit, got " + Quoted(n));
      }
    } else {
      errors_.Add(map_, Field("name"), "missing; every rule needs a name, e.g. name: rss_near_limit");
    }
    for (const auto& kv : map_) {
      const std::string key = kv.first.Scalar();
      r->field_origins[key] = errors_.Where(kv.second);
      if (RuleKeys().count(key)) continue;
      std::string list;
      for (const auto& a : RuleKeys()) list += (list.empty() ? "" : ", ") + a;
      errors_.Add(kv.first, Field(key), "unknown key (expected one of: " + list + ")");
    }
    Get("kind", FindRuleKind, "one of threshold, growth, spike, time_to_limit, high_water", &r->kind);
    Get("signal", FindSignal, "a signal key (one of: " + SignalKeys() + ")", &r->signal);
    Get("severity", FindSeverity, "one of warning, critical", &r->severity);
    Get("enabled", ParseBool, "true or false", &r->enabled);
    Get("limit", ParseLimit,
        "auto, none, a signal key (e.g. cgroup_memory_limit_bytes) or a number or size (e.g. 2GiB)",
        &r->limit);
    SizeOrPercent("above", "a percentage of the limit like 85%, or a number or size like 1000 or 2GiB",
                  &r->above, &r->above_limit_ratio);
    GetDuration("window", &r->window);
    Get("rate", ParseRate, "a rate like 1MiB/min, 10/s or 500kB/h (<number or size>/<s, m, min or h>)",
        &r->rate);
    Get("increase", ParseRatio, kRatioExample, &r->increase);
    Get("min_coverage", ParseRatio, kRatioExample, &r->min_coverage);
    Get("baseline", ParseBaseline, "one of median, mean", &r->baseline);
    Get("baseline_includes_current", ParseBool, "true or false", &r->baseline_includes_current);
    Get("factor", ParseDecimal, "a number like 3 or 1.5", &r->factor);
    Get("min_increase", ParseSize, kSizeExample, &r->min_increase);
    Get("floor", ParseSize, kSizeExample, &r->floor);
    GetDuration("horizon", &r->horizon);
    SizeOrPercent("step", "a number or size like 64MiB, or a percentage of the previous peak like 10%",
                  &r->step, &r->step_ratio);
    GetDuration("for", &r->hold);
    GetDuration("clear_after", &r->clear_after);
    Get("hysteresis", ParseRatio, "a percentage like 5% or a fraction like 0.05", &r->hysteresis);
    GetDuration("warmup", &r->warmup);
    GetActions(&r->actions);
    GetDuration("cooldown", &r->cooldown);
    Get("max_actions", ParseMaxActions, "an integer in 0 .. 4294967295 like 3", &r->max_actions);
    GetDuration("actions_window", &r->actions_window);
  }

 private:
  static std::optional<bool> ParseBool(std::string_view text) {
    if (text == "true") return true;
    if (text == "false") return false;
    return std::nullopt;
  }

  static std::optional<BaselineKind> ParseBaseline(std::string_view text) {
    if (text == "median") return BaselineKind::kMedian;
    if (text == "mean") return BaselineKind::kMean;
    return std::nullopt;
  }

  static std::optional<uint32_t> ParseMaxActions(std::string_view text) {
    const auto v = ParseU64(text);
    if (!v || *v > std::numeric_limits<uint32_t>::max()) return std::nullopt;
    return static_cast<uint32_t>(*v);
  }

  static std::optional<LimitSpec> ParseLimit(std::string_view text) {
    LimitSpec l;
    if (text == "none") return l;
    if (text == "auto") {
      l.source = LimitSource::kAuto;
    } else if (const auto s = FindSignal(text)) {
      l.source = LimitSource::kSignal;
      l.signal = *s;
    } else if (const auto v = ParseSize(text)) {
      l.source = LimitSource::kValue;
      l.value = *v;
    } else {
      return std::nullopt;
    }
    return l;
  }

  // "rules[2].above (rule \"rss_high\")"
  std::string Field(const std::string& key) const {
    return path_ + "." + key + (name_.empty() ? "" : " (rule \"" + name_ + "\")");
  }

  // Parses the scalar of `key` (when present) with `parse` into *out; reports anything it rejects.
  template <typename Parse, typename Out>
  void Get(const char* key, Parse parse, const std::string& expected, Out* out) {
    const YAML::Node node = map_[key];
    if (!node) return;
    const auto v = node.IsScalar() ? parse(node.Scalar()) : std::nullopt;
    if (!v) {
      errors_.Add(node, Field(key), "value " + Quoted(node) + " is not " + expected);
      return;
    }
    *out = *v;
  }

  void GetDuration(const char* key, std::chrono::milliseconds* out) {
    Get(key, ParseDuration, "a duration like 500ms, 30s, 5m, 1h or 1d", out);
  }

  // A percentage sets *ratio, a number or size *absolute.
  void SizeOrPercent(const char* key, const std::string& expected, std::optional<double>* absolute,
                     std::optional<double>* ratio) {
    const YAML::Node node = map_[key];
    if (!node) return;
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (const auto p = ParsePercent(text)) {
      *ratio = *p;
    } else if (const auto v = ParseSize(text)) {
      *absolute = *v;
    } else {
      errors_.Add(node, Field(key), "value " + Quoted(node) + " is not " + expected);
    }
  }

  void GetActions(std::vector<std::string>* out) {
    const YAML::Node node = map_["actions"];
    if (!node) return;
    if (!node.IsSequence()) {
      errors_.Add(node, Field("actions"),
                  "expected a list of action names like [log] ([] for none), got " + Quoted(node));
      return;
    }
    out->clear();
    size_t i = 0;
    for (const auto& item : node) {
      if (item.IsScalar()) {
        out->push_back(item.Scalar());
      } else {
        errors_.Add(item, Field("actions[" + std::to_string(i) + "]"),
                    "expected an action name like log, got " + Quoted(item));
      }
      ++i;
    }
  }

  const YAML::Node& map_;
  std::string path_;
  std::string name_;
  ErrorList& errors_;
};

// Reads `default_rules` and `rules` from the top-level map.
void ReadRulesConfig(const YAML::Node& root, ErrorList& errors, RulesOptions* out) {
  ReadBool(root, "default_rules", "default_rules", &out->defaults, errors);
  const YAML::Node list = root["rules"];
  if (!list) return;
  out->rules.clear();
  if (list.IsNull()) return;  // "rules:" with every entry commented out
  if (!list.IsSequence()) {
    errors.Add(list, "rules",
               "expected a list of rules (each a map like - name: rss_high), got " + Quoted(list));
    return;
  }
  size_t i = 0;
  for (const auto& item : list) {
    if (!item.IsMap()) {
      errors.Add(item, "rules[" + std::to_string(i) + "]",
                 "expected a map of rule settings (name, kind, signal, ...), got " + Quoted(item));
    } else {
      RuleSpec rule;
      RuleReader(item, i, errors).Read(&rule);
      out->rules.push_back(std::move(rule));
    }
    ++i;
  }
}

}  // namespace

std::optional<milliseconds> ParseDuration(std::string_view text) {
  text = TrimSpace(text);
  if (text == "0") return milliseconds(0);
  struct Unit {
    std::string_view suffix;
    double ms;
  };
  static constexpr Unit kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
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

std::optional<double> ParseSize(std::string_view text) {
  size_t split = 0;
  while (split < text.size() && ((text[split] >= '0' && text[split] <= '9') || text[split] == '.')) ++split;
  const auto number = ParseDecimal(text.substr(0, split));
  if (!number) return std::nullopt;
  struct Unit {
    std::string_view name;
    double factor;
  };
  static constexpr Unit kUnits[] = {{"", 1},         {"B", 1},        {"KiB", 0x1p10}, {"MiB", 0x1p20},
                                    {"GiB", 0x1p30}, {"TiB", 0x1p40}, {"kB", 1e3},     {"MB", 1e6},
                                    {"GB", 1e9},     {"TB", 1e12}};
  const std::string_view unit = text.substr(split);
  for (const auto& u : kUnits) {
    if (unit != u.name) continue;
    const double v = *number * u.factor;
    if (!std::isfinite(v)) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

std::optional<uint64_t> ParseSamplingInterval(std::string_view text) {
  if (text == "default") return uint64_t{512} << 10;
  if (text == "low-overhead") return uint64_t{2} << 20;
  const auto v = ParseSize(text);
  if (!v || *v < 0 || *v > 1e18 || *v != std::floor(*v)) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

std::optional<double> ParsePercent(std::string_view text) {
  if (text.empty() || text.back() != '%') return std::nullopt;
  const auto v = ParseDecimal(text.substr(0, text.size() - 1));
  if (!v) return std::nullopt;
  return *v / 100;
}

std::optional<double> ParseRate(std::string_view text) {
  const size_t slash = text.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto amount = ParseSize(text.substr(0, slash));
  const std::string_view unit = text.substr(slash + 1);
  double seconds = 0;
  if (unit == "s") {
    seconds = 1;
  } else if (unit == "m" || unit == "min") {
    seconds = 60;
  } else if (unit == "h") {
    seconds = 3600;
  }
  if (!amount || seconds == 0) return std::nullopt;
  return *amount / seconds;
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
  auto loaded = LoadTopLevel(text, file_name);
  if (!loaded) return loaded.error();
  const YAML::Node root = *loaded;
  if (root.IsNull()) return OkStatus();
  ErrorList errors(file_name);
  try {
    CheckKeys(
        root, "",
        {"period", "slow_period", "smaps_rollup", "fd_types", "fd_scan_limit", "history_budget_bytes", "http",
         "log", "allocator", "bundle", "heap_profiler", "default_rules", "rules", "config_check_period"},
        errors);
    ReadDuration(root, "config_check_period", "config_check_period", &options->config_check_period, errors);
    ReadRulesConfig(root, errors, &options->rules);
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
        CheckKeys(
            http, "http.",
            {"listen", "metrics_path", "request_timeout", "threads", "web_config_file", "debug_token_file"},
            errors);
        ReadString(http, "listen", "http.listen", &options->http.listen, errors);
        ReadString(http, "metrics_path", "http.metrics_path", &options->http.metrics_path, errors);
        milliseconds timeout(options->http.request_timeout_ms);
        ReadDuration(http, "request_timeout", "http.request_timeout", &timeout, errors);
        options->http.request_timeout_ms = static_cast<int>(std::min<int64_t>(timeout.count(), 1 << 30));
        ReadInteger(http, "threads", "http.threads", &options->http.threads, errors);
        ReadString(http, "web_config_file", "http.web_config_file", &options->http.web_config_file, errors);
        ReadString(http, "debug_token_file", "http.debug_token_file", &options->http.debug_token_file,
                   errors);
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
    if (const YAML::Node bundle = root["bundle"]) {
      if (!bundle.IsMap()) {
        errors.Add(bundle, "bundle", "expected a map, got " + Quoted(bundle));
      } else {
        BundleOptions& b = options->bundle;
        CheckKeys(bundle, "bundle.",
                  {"dir", "max_bundles", "max_bytes", "min_free_disk", "max_per_window", "window", "deadline",
                   "max_file_bytes", "low_headroom", "max_fds", "capture_signal", "egress"},
                  errors);
        ReadString(bundle, "dir", "bundle.dir", &b.dir, errors);
        ReadInteger(bundle, "max_bundles", "bundle.max_bundles", &b.max_bundles, errors);
        ReadSize(bundle, "max_bytes", "bundle.max_bytes", &b.max_bytes, errors);
        ReadSize(bundle, "min_free_disk", "bundle.min_free_disk", &b.min_free_disk_bytes, errors);
        ReadInteger(bundle, "max_per_window", "bundle.max_per_window", &b.max_per_window, errors);
        ReadDuration(bundle, "window", "bundle.window", &b.window, errors);
        ReadDuration(bundle, "deadline", "bundle.deadline", &b.deadline, errors);
        ReadSize(bundle, "max_file_bytes", "bundle.max_file_bytes", &b.max_file_bytes, errors);
        ReadSize(bundle, "low_headroom", "bundle.low_headroom", &b.low_headroom_bytes, errors);
        ReadInteger(bundle, "max_fds", "bundle.max_fds", &b.max_fds, errors);
        if (const YAML::Node sig = bundle["capture_signal"]) {
          const std::string text = sig.IsScalar() ? sig.Scalar() : "";
          if (text == "off") {
            b.capture_signal = 0;
          } else if (text == "SIGUSR1") {
            b.capture_signal = SIGUSR1;
          } else if (text == "SIGUSR2") {
            b.capture_signal = SIGUSR2;
          } else {
            errors.Add(sig, "bundle.capture_signal",
                       "value " + Quoted(sig) + " is not one of SIGUSR1, SIGUSR2, off");
          }
        }
        if (const YAML::Node egress = bundle["egress"]) {
          if (!egress.IsMap()) {
            errors.Add(egress, "bundle.egress",
                       "expected a map with command and timeout, got " + Quoted(egress));
          } else {
            CheckKeys(egress, "bundle.egress.", {"command", "timeout"}, errors);
            if (const YAML::Node command = egress["command"]) {
              if (!command.IsSequence()) {
                errors.Add(
                    command, "bundle.egress.command",
                    "expected a list like [/usr/local/bin/ship-bundle, --bucket, x] ([] for none), got " +
                        Quoted(command));
              } else {
                b.egress_command.clear();
                for (size_t i = 0; i < command.size(); ++i) {
                  const YAML::Node item = command[i];
                  if (!item.IsScalar()) {
                    errors.Add(item, "bundle.egress.command[" + std::to_string(i) + "]",
                               "expected a string, got " + Quoted(item));
                  } else {
                    b.egress_command.push_back(item.Scalar());
                  }
                }
              }
            }
            ReadDuration(egress, "timeout", "bundle.egress.timeout", &b.egress_timeout, errors);
          }
        }
      }
    }
    if (const YAML::Node heap = root["heap_profiler"]) {
      if (!heap.IsMap()) {
        errors.Add(heap, "heap_profiler", "expected a map, got " + Quoted(heap));
      } else {
        HeapProfilerOptions& h = options->heap_profiler;
        CheckKeys(heap, "heap_profiler.",
                  {"enabled", "sampling_interval", "max_live_samples", "max_stacks", "require_token",
                   "peak_growth", "peak_min_interval"},
                  errors);
        ReadBool(heap, "enabled", "heap_profiler.enabled", &h.enabled, errors);
        if (const YAML::Node interval = heap["sampling_interval"]) {
          const auto bytes = interval.IsScalar() ? ParseSamplingInterval(interval.Scalar()) : std::nullopt;
          if (!bytes) {
            errors.Add(interval, "heap_profiler.sampling_interval",
                       "value " + Quoted(interval) +
                           " is not a size like 512KiB or 2MiB, nor default or low-overhead");
          } else {
            h.sampling_interval_bytes = *bytes;
          }
        }
        ReadInteger(heap, "max_live_samples", "heap_profiler.max_live_samples", &h.max_live_samples, errors);
        ReadInteger(heap, "max_stacks", "heap_profiler.max_stacks", &h.max_stacks, errors);
        ReadBool(heap, "require_token", "heap_profiler.require_token", &h.require_token, errors);
        if (const YAML::Node growth = heap["peak_growth"]) {
          auto v = growth.IsScalar() ? ParsePercent(growth.Scalar()) : std::nullopt;
          if (!v && growth.IsScalar()) v = ParseSize(growth.Scalar());
          if (!v) {
            errors.Add(growth, "heap_profiler.peak_growth",
                       "value " + Quoted(growth) + " is not a percentage like 10% or a fraction like 0.1");
          } else {
            h.peak_growth = *v;
          }
        }
        ReadDuration(heap, "peak_min_interval", "heap_profiler.peak_min_interval", &h.peak_min_interval,
                     errors);
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

Status ApplyRulesConfigText(std::string_view text, const std::string& file_name, RulesOptions* rules) {
  auto loaded = LoadTopLevel(text, file_name);
  if (!loaded) return loaded.error();
  const YAML::Node root = *loaded;
  if (root.IsNull()) return OkStatus();
  ErrorList errors(file_name);
  RulesOptions parsed = *rules;
  try {
    ReadRulesConfig(root, errors, &parsed);
  } catch (const YAML::Exception& e) {
    return Error{file_name + ": " + e.what()};
  }
  if (!errors.empty()) return Error{errors.str()};
  *rules = std::move(parsed);
  return OkStatus();
}

std::optional<std::string> GetEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Status ApplyEnvironmentVariables(const EnvLookup& env, AgentOptions* options) {
  std::vector<std::string> errors;
  if (auto period = env("LEAKWATCH_PERIOD"); period && !period->empty()) {
    if (const auto d = ParseDuration(*period)) {
      options->period = *d;
    } else {
      errors.push_back("LEAKWATCH_PERIOD: value \"" + *period +
                       "\" is not a duration like 500ms, 1s or 5s (the period is 100ms .. 60s)");
    }
  }
  if (auto level = env("LEAKWATCH_LOG_LEVEL"); level && !level->empty()) {
    if (LogLevels().count(*level)) {
      options->log.level = *level;
    } else {
      errors.push_back("LEAKWATCH_LOG_LEVEL: value \"" + *level + "\" is not one of " + kLogLevelList);
    }
  }
  if (auto listen = env("LEAKWATCH_LISTEN"); listen && !listen->empty()) {
    if (auto parsed = ParseListen(*listen); !parsed) {
      errors.push_back("LEAKWATCH_LISTEN: " + parsed.error().message);
    } else {
      options->http.listen = *listen;
    }
  }
  if (auto token_file = env("LEAKWATCH_DEBUG_TOKEN_FILE"); token_file && !token_file->empty()) {
    options->http.debug_token_file = *token_file;
  }
  if (auto heap = env("LEAKWATCH_HEAP_SAMPLER"); heap && !heap->empty()) {
    if (*heap == "off") {
      options->heap_profiler.enabled = false;
    } else if (*heap == "on") {
      options->heap_profiler.enabled = true;
    } else if (const auto bytes = ParseSamplingInterval(*heap);
               bytes && *bytes >= 1 && *bytes <= (1ull << 30)) {
      options->heap_profiler.enabled = true;
      options->heap_profiler.sampling_interval_bytes = *bytes;
    } else {
      errors.push_back("LEAKWATCH_HEAP_SAMPLER: value \"" + *heap +
                       "\" is not off, on, default, low-overhead or a sampling interval like 512KiB or 2MiB "
                       "(1 .. 1GiB)");
    }
  }
  if (!errors.empty()) return Error{Join(errors)};
  return OkStatus();
}

Status ApplyEnvironment(const EnvLookup& env, AgentOptions* options) {
  std::vector<std::string> errors;
  if (auto path = env("LEAKWATCH_CONFIG"); path && !path->empty()) {
    if (auto st = ApplyConfigFile(*path, options); !st)
      errors.push_back("LEAKWATCH_CONFIG: " + st.error().message);
  }
  if (auto st = ApplyEnvironmentVariables(env, options); !st) errors.push_back(st.error().message);
  if (!errors.empty()) return Error{Join(errors)};
  return OkStatus();
}

EnvLookup CaptureEnvironment(const EnvLookup& env) {
  auto captured = std::make_shared<std::map<std::string, std::string>>();
  // The agent's variables, then the attach layer's (agent/attach/attach_settings.h).
  for (const char* name :
       {"LEAKWATCH_CONFIG", "LEAKWATCH_PERIOD", "LEAKWATCH_LOG_LEVEL", "LEAKWATCH_LISTEN",
        "LEAKWATCH_DEBUG_TOKEN_FILE", "LEAKWATCH_HEAP_SAMPLER", "LEAKWATCH_DISABLE", "LEAKWATCH_FORK",
        "LEAKWATCH_FORK_DELAY", "LEAKWATCH_CHILD_LISTEN", "LEAKWATCH_EXEC", "LEAKWATCH_DISCOVERY_DIR"}) {
    if (auto v = env(name)) (*captured)[name] = *v;
  }
  return [captured](const char* name) -> std::optional<std::string> {
    const auto it = captured->find(name);
    if (it == captured->end()) return std::nullopt;
    return it->second;
  };
}

Result<ResolvedConfig> ResolveConfig(const AgentOptions& program, const EnvLookup& env,
                                     const std::optional<std::string>& file_text,
                                     const std::vector<std::string>& known_actions) {
  ResolvedConfig out;
  out.options = program;
  std::vector<std::string> errors;
  if (program.use_environment) {
    if (auto path = env("LEAKWATCH_CONFIG"); path && !path->empty()) out.options.config_file = *path;
  }
  const std::string& path = out.options.config_file;
  if (!path.empty()) {
    const std::string layer = program.use_environment && env("LEAKWATCH_CONFIG") ? "LEAKWATCH_CONFIG: " : "";
    Status st =
        file_text ? ApplyConfigText(*file_text, path, &out.options) : ApplyConfigFile(path, &out.options);
    if (!st) errors.push_back(layer + st.error().message);
  }
  if (program.use_environment) {
    if (auto st = ApplyEnvironmentVariables(env, &out.options); !st) errors.push_back(st.error().message);
  }
  if (errors.empty() && !out.options.http.debug_token_file.empty()) {
    auto token = ReadDebugTokenFile(out.options.http.debug_token_file);
    if (token) {
      out.options.http.debug_token = std::move(*token);
    } else {
      errors.push_back("http.debug_token_file: " + token.error().message);
    }
  }
  if (errors.empty()) {
    if (auto st = ValidateOptions(out.options); !st) errors.push_back(st.error().message);
    auto rules = CompileRules(out.options.rules, known_actions);
    if (!rules) {
      errors.push_back(rules.error().message);
    } else {
      out.rules = std::move(*rules);
    }
  }
  if (!errors.empty()) return Error{Join(errors)};
  return out;
}

Status ValidateDebugToken(std::string_view token) {
  if (token.size() < 16 || token.size() > 4096) {
    return Error{"the token has " + std::to_string(token.size()) + " characters; use 16 to 4096 (e.g. " +
                 "the output of `openssl rand -hex 32`)"};
  }
  for (size_t i = 0; i < token.size(); ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return Error{"the token's character " + std::to_string(i + 1) +
                   " is not printable ASCII (spaces and control characters are not allowed)"};
    }
  }
  return OkStatus();
}

Result<std::string> ReadDebugTokenFile(const std::string& path) {
  auto text = ReadFile(path, 8192);
  if (!text) return text.error();
  std::string token = std::move(*text);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (auto st = ValidateDebugToken(token); !st) return Error{"\"" + path + "\": " + st.error().message};
  return token;
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
  const HeapProfilerOptions& heap = o.heap_profiler;
  if (heap.sampling_interval_bytes < 1 || heap.sampling_interval_bytes > (uint64_t{1} << 30)) {
    errors.push_back("heap_profiler.sampling_interval: " + std::to_string(heap.sampling_interval_bytes) +
                     " is outside 1 .. 1073741824 (1GiB)");
  }
  if (heap.max_live_samples < 1024 || heap.max_live_samples > (size_t{1} << 26)) {
    errors.push_back("heap_profiler.max_live_samples: " + std::to_string(heap.max_live_samples) +
                     " is outside 1024 .. 67108864");
  }
  if (heap.max_stacks < 64 || heap.max_stacks > (size_t{1} << 22)) {
    errors.push_back("heap_profiler.max_stacks: " + std::to_string(heap.max_stacks) +
                     " is outside 64 .. 4194304");
  }
  if (!(heap.peak_growth >= 0 && heap.peak_growth <= 10)) {
    errors.push_back("heap_profiler.peak_growth: " + std::to_string(heap.peak_growth) +
                     " is outside 0 .. 10 (0% .. 1000%)");
  }
  if (heap.peak_min_interval < milliseconds(0) || heap.peak_min_interval > milliseconds(86'400'000)) {
    errors.push_back("heap_profiler.peak_min_interval: " + ms(heap.peak_min_interval) +
                     " is outside 0 .. 1d");
  }
  if (o.http.metrics_path.empty() || o.http.metrics_path.front() != '/' ||
      o.http.metrics_path.find_first_of(" ?#") != std::string::npos) {
    errors.push_back("http.metrics_path: \"" + o.http.metrics_path +
                     "\" must start with / and hold no space, ? or #");
  }
  if (o.http.request_timeout_ms < 100 || o.http.request_timeout_ms > 120'000) {
    errors.push_back("http.request_timeout: " + std::to_string(o.http.request_timeout_ms) +
                     "ms is outside 100ms .. 120s");
  }
  if (!o.http.debug_token.empty()) {
    if (auto st = ValidateDebugToken(o.http.debug_token); !st)
      errors.push_back("http.debug_token: " + st.error().message);
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
  if (o.config_check_period.count() != 0 &&
      (o.config_check_period < milliseconds(1000) || o.config_check_period > milliseconds(3'600'000))) {
    errors.push_back("config_check_period: " + ms(o.config_check_period) + " must be 0 (never) or 1s .. 1h");
  }
  const BundleOptions& b = o.bundle;
  if (b.dir.empty()) errors.push_back("bundle.dir: must not be empty");
  if (b.max_bundles < 1 || b.max_bundles > 10000)
    errors.push_back("bundle.max_bundles: " + std::to_string(b.max_bundles) + " is outside 1 .. 10000");
  if (b.max_bytes < (1u << 20))
    errors.push_back("bundle.max_bytes: " + std::to_string(b.max_bytes) + " is below 1MiB");
  if (b.max_per_window < 1 || b.max_per_window > 1000)
    errors.push_back("bundle.max_per_window: " + std::to_string(b.max_per_window) + " is outside 1 .. 1000");
  if (b.window < milliseconds(1000) || b.window > milliseconds(86'400'000))
    errors.push_back("bundle.window: " + ms(b.window) + " is outside 1s .. 24h");
  if (b.deadline < milliseconds(100) || b.deadline > milliseconds(600'000))
    errors.push_back("bundle.deadline: " + ms(b.deadline) + " is outside 100ms .. 10m");
  if (b.max_file_bytes < 4096)
    errors.push_back("bundle.max_file_bytes: " + std::to_string(b.max_file_bytes) + " is below 4KiB");
  if (b.max_fds < 1 || b.max_fds > 10'000'000)
    errors.push_back("bundle.max_fds: " + std::to_string(b.max_fds) + " is outside 1 .. 10000000");
  if (!b.egress_command.empty()) {
    EgressCommand egress;
    egress.argv = b.egress_command;
    egress.timeout = b.egress_timeout;
    if (auto st = ValidateEgressCommand(egress, "bundle.egress"); !st) errors.push_back(st.error().message);
  }
  if (o.proc_root.empty()) errors.push_back("proc_root: must not be empty");
  if (o.pid != "self" && !ParseU64(o.pid))
    errors.push_back("pid: \"" + o.pid + "\" is neither self nor a number");
  if (!LogLevels().count(o.log.level)) {
    errors.push_back("log.level: \"" + o.log.level + "\" is not one of " + kLogLevelList);
  }
  const bool sink_ok = o.log.sink == "stderr" || o.log.sink == "stdout" || o.log.sink == "off" ||
                       (o.log.sink.rfind("file:", 0) == 0 && o.log.sink.size() > 5);
  if (!sink_ok)
    errors.push_back("log.sink: \"" + o.log.sink + "\" is not one of stderr, stdout, off, file:<path>");
  if (!errors.empty()) return Error{Join(errors)};
  return OkStatus();
}

}  // namespace leakwatch::internal
