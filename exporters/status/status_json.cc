#include "exporters/status/status_json.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "leakwatch/version.h"

namespace leakwatch::exporters {
namespace {

using nlohmann::json;

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

double Seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000; }

void Optional(json& j, const char* key, const std::optional<double>& v) {
  if (v && std::isfinite(*v)) j[key] = *v;
}

json RuleJson(const RuleStatus& r) {
  const RuleSpec& spec = *r.spec;
  json j;
  j["name"] = spec.name;
  j["kind"] = std::string(RuleKindName(spec.kind));
  j["signal"] = std::string(GetSignalInfo(spec.signal).key);
  j["severity"] = std::string(SeverityName(spec.severity));
  j["enabled"] = spec.enabled;
  j["state"] = std::string(RuleStateName(r.state));
  j["reason"] = std::string(RuleReasonName(r.reason));
  j["description"] = DescribeRuleStatus(r);
  j["since"] = Rfc3339(r.since_wall);
  Optional(j, "value", r.value);
  Optional(j, "threshold", r.threshold);
  Optional(j, "signal_value", r.signal_value);
  Optional(j, "limit", r.limit);
  Optional(j, "slope_per_second", r.slope);
  Optional(j, "baseline", r.baseline);
  Optional(j, "seconds_to_limit", r.seconds_to_limit);
  if (r.needed.count() > 0) {
    j["progress_seconds"] = Seconds(r.progress);
    j["needed_seconds"] = Seconds(r.needed);
  }
  j["for_seconds"] = Seconds(spec.hold);
  j["clear_after_seconds"] = Seconds(spec.clear_after);
  j["fired_total"] = r.fired_total;
  j["actions"] = spec.actions;
  j["actions_run_total"] = r.actions_run_total;
  j["actions_suppressed_total"] = r.actions_suppressed_total;
  j["origin"] = spec.origin;
  return j;
}

}  // namespace

std::string RenderStatusJson(const RulesStatus* rules, const ConfigStatus& config) {
  json doc;
  doc["leakwatch_version"] = LEAKWATCH_VERSION;
  doc["rules"] = json::array();
  doc["trends"] = json::array();
  if (rules != nullptr) {
    doc["sequence"] = rules->sequence;
    doc["time"] = Rfc3339(rules->wall_time);
    for (const RuleStatus& r : rules->rules) {
      if (r.spec) doc["rules"].push_back(RuleJson(r));
    }
    for (const SignalTrend& t : rules->trends) {
      json j;
      j["signal"] = std::string(GetSignalInfo(t.signal).key);
      j["window_seconds"] = Seconds(t.window);
      Optional(j, "slope_per_second", t.slope);
      Optional(j, "limit", t.limit);
      Optional(j, "seconds_to_limit", t.seconds_to_limit);
      doc["trends"].push_back(std::move(j));
    }
  }
  json c;
  c["file"] = config.file;
  c["last_load_ok"] = config.last_load_ok;
  if (!config.last_error.empty()) c["last_error"] = config.last_error;
  c["last_success"] = Rfc3339(config.last_success);
  c["reloads_total"] = config.reloads_total;
  c["reload_failures_total"] = config.reload_failures_total;
  doc["config"] = std::move(c);
  // Replace invalid UTF-8 (paths and kernel texts) rather than throw.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace leakwatch::exporters
