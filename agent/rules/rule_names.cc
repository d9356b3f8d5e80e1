// Stable names of the rule enums, shared by config, metrics, JSON and logs.
#include <array>

#include "leakwatch/rules.h"

namespace leakwatch {
namespace {

constexpr std::array<std::string_view, 5> kKindNames = {"threshold", "growth", "spike", "time_to_limit",
                                                        "high_water"};
constexpr std::array<std::string_view, 2> kSeverityNames = {"warning", "critical"};
constexpr std::array<std::string_view, 3> kStateNames = {"ok", "pending", "firing"};
constexpr std::array<std::string_view, 10> kReasonNames = {
    "disabled",    "warming_up",      "no_data", "no_limit", "filling_window",
    "not_growing", "below_threshold", "breach",  "clearing", "held_by_hysteresis"};

}  // namespace

std::string_view RuleKindName(RuleKind kind) { return kKindNames.at(static_cast<size_t>(kind)); }

std::optional<RuleKind> FindRuleKind(std::string_view name) {
  for (size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<RuleKind>(i);
  }
  return std::nullopt;
}

std::string_view SeverityName(Severity severity) { return kSeverityNames.at(static_cast<size_t>(severity)); }

std::optional<Severity> FindSeverity(std::string_view name) {
  for (size_t i = 0; i < kSeverityNames.size(); ++i) {
    if (kSeverityNames[i] == name) return static_cast<Severity>(i);
  }
  return std::nullopt;
}

std::string_view RuleStateName(RuleState state) { return kStateNames.at(static_cast<size_t>(state)); }

std::string_view RuleReasonName(RuleReason reason) { return kReasonNames.at(static_cast<size_t>(reason)); }

std::optional<Signal> NaturalLimit(Signal signal) {
  switch (signal) {
    case Signal::kResidentMemoryBytes:
    case Signal::kRssAnonBytes:
    case Signal::kCgroupMemoryUsageBytes:
    case Signal::kCgroupMemoryWorkingSetBytes:
    case Signal::kCgroupMemoryAnonBytes:
    case Signal::kSmapsRssBytes:
    case Signal::kSmapsPssBytes:
    case Signal::kSmapsAnonymousBytes:
    case Signal::kHeapBytes:
    case Signal::kAllocatorAllocatedBytes:
    case Signal::kAllocatorActiveBytes:
    case Signal::kAllocatorResidentBytes:
      return Signal::kCgroupMemoryLimitBytes;
    case Signal::kOpenFds:
      return Signal::kMaxFds;
    case Signal::kThreads:
    case Signal::kCgroupPidsCurrent:
      return Signal::kCgroupPidsMax;
    default:
      return std::nullopt;
  }
}

}  // namespace leakwatch
