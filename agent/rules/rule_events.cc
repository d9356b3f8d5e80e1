#include "agent/rules/rule_events.h"

#include <array>
#include <cmath>

#include "agent/logging/log.h"

namespace leakwatch::internal {
namespace {

LogField Optional(std::string_view key, const std::optional<double>& v) {
  if (!v) return {key, std::monostate{}};
  return {key, *v};
}

std::vector<LogField> EventFields(const RuleEvent& event, std::string_view action) {
  const RuleStatus& st = event.status;
  const RuleSpec& spec = *st.spec;
  std::vector<LogField> fields{
      {"rule", std::string_view(spec.name)},
      {"kind", RuleKindName(spec.kind)},
      {"signal", GetSignalInfo(spec.signal).key},
      {"severity", SeverityName(spec.severity)},
      {"from", RuleStateName(event.from)},
      {"to", RuleStateName(event.to)},
      Optional("value", st.value),
      Optional("threshold", st.threshold),
      Optional("signal_value", st.signal_value),
      Optional("limit", st.limit),
      Optional("slope_per_second", st.slope),
      Optional("baseline", st.baseline),
      Optional("seconds_to_limit", st.seconds_to_limit),
      {"fired_total", static_cast<int64_t>(st.fired_total)},
  };
  if (event.retrigger) fields.push_back({"retrigger", true});
  if (event.actions != ActionOutcome::kNone) fields.push_back({"actions", ActionOutcomeName(event.actions)});
  if (!action.empty()) fields.push_back({"action", action});
  return fields;
}

}  // namespace

std::string_view ActionOutcomeName(ActionOutcome outcome) {
  static constexpr std::array<std::string_view, 4> kNames = {"none", "run", "suppressed_cooldown",
                                                             "suppressed_max_actions"};
  return kNames.at(static_cast<size_t>(outcome));
}

void LoggingEventSink::OnTransition(const RuleEvent& event) {
  spdlog::level::level_enum level = spdlog::level::info;
  if (event.to == RuleState::kFiring) {
    level = event.status.spec->severity == Severity::kCritical ? spdlog::level::err : spdlog::level::warn;
  }
  const std::string why = DescribeRuleStatus(event.status);
  std::vector<LogField> fields = EventFields(event, "");
  fields.push_back({"description", std::string_view(why)});
  LogEvent(level, "rule_transition", fields);
}

void LogActionRunner::Run(std::string_view action, const RuleEvent& event) {
  if (action != "log") return;
  LogEvent(spdlog::level::warn, "rule_action", EventFields(event, action));
}

}  // namespace leakwatch::internal
