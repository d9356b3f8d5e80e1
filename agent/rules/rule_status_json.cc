#include "agent/rules/rule_status_json.h"

#include <cmath>

#include "agent/common/text.h"

namespace leakwatch::internal {
namespace {

using nlohmann::json;

double Seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000; }

void Optional(json& j, const char* key, const std::optional<double>& v) {
  if (v && std::isfinite(*v)) j[key] = *v;
}

}  // namespace

json RuleStatusJson(const RuleStatus& r) {
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
  j["since"] = r.since_wall.time_since_epoch().count() == 0 ? std::string() : FormatUtcMillis(r.since_wall);
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

}  // namespace leakwatch::internal
