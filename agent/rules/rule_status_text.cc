// DescribeRuleStatus: the one-line "why" of a rule's state, for the status endpoint, logs and tests.
#include <cmath>
#include <cstdio>
#include <utility>

#include "leakwatch/rules.h"

namespace leakwatch {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

std::string Bytes(double v) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double x = std::fabs(v);
  size_t unit = 0;
  while (x >= 1024 && unit + 1 < std::size(kUnits)) {
    x /= 1024;
    ++unit;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%.4g %s", v < 0 ? "-" : "", x, kUnits[unit]);
  return buf;
}

std::string Duration(double seconds) {
  if (!std::isfinite(seconds)) return "never";
  const double s = std::fabs(seconds);
  char buf[64];
  // Whole days, hours or minutes read best as such: "1m", "10m", "1h".
  for (const auto& [unit, name] : {std::pair{86400.0, "d"}, std::pair{3600.0, "h"}, std::pair{60.0, "m"}}) {
    if (s >= unit && std::fmod(s, unit) == 0) {
      std::snprintf(buf, sizeof(buf), "%.0f%s", seconds / unit, name);
      return buf;
    }
  }
  if (s < 1) {
    std::snprintf(buf, sizeof(buf), "%.0fms", seconds * 1000);
  } else if (s < 120) {
    std::snprintf(buf, sizeof(buf), "%.3gs", seconds);
  } else if (s < 7200) {
    std::snprintf(buf, sizeof(buf), "%.3gm", seconds / 60);
  } else if (s < 172800) {
    std::snprintf(buf, sizeof(buf), "%.3gh", seconds / 3600);
  } else {
    std::snprintf(buf, sizeof(buf), "%.3gd", seconds / 86400);
  }
  return buf;
}

std::string Duration(std::chrono::milliseconds d) { return Duration(static_cast<double>(d.count()) / 1000); }

// A value in the signal's unit.
std::string InUnit(Signal signal, double v) {
  const std::string_view key = GetSignalInfo(signal).key;
  if (EndsWith(key, "_bytes")) return Bytes(v);
  if (EndsWith(key, "_seconds") || EndsWith(key, "_seconds_total")) return Duration(v);
  return Number(v);
}

std::string PerSecond(Signal signal, double rate) {
  const std::string_view key = GetSignalInfo(signal).key;
  if (EndsWith(key, "_bytes")) return Bytes(rate * 60) + "/min";
  return Number(rate * 60) + "/min";
}

std::string Percent(double ratio) { return Number(ratio * 100) + "%"; }

// "value 912 MiB > 870 MiB" and the like, by kind.
std::string Comparison(const RuleStatus& st) {
  const RuleSpec& spec = *st.spec;
  if (!st.value || !st.threshold) return "";
  const char* op = st.reason == RuleReason::kBreach ? " > " : " <= ";
  switch (spec.kind) {
    case RuleKind::kThreshold:
    case RuleKind::kSpike:
    case RuleKind::kHighWater: {
      std::string out = "value " + InUnit(spec.signal, *st.value) + op + InUnit(spec.signal, *st.threshold);
      if (spec.kind == RuleKind::kSpike && st.baseline)
        out += " (baseline " + InUnit(spec.signal, *st.baseline) + ")";
      if (spec.kind == RuleKind::kHighWater && st.baseline)
        out += " (previous peak " + InUnit(spec.signal, *st.baseline) + ")";
      return out;
    }
    case RuleKind::kGrowth:
      if (spec.increase)
        return "growth " + Percent(*st.value) + " per " + Duration(spec.window) + op + Percent(*st.threshold);
      return "slope " + PerSecond(spec.signal, *st.value) + op + PerSecond(spec.signal, *st.threshold);
    case RuleKind::kTimeToLimit: {
      const char* ttl_op = st.reason == RuleReason::kBreach ? " < " : " >= ";
      std::string out = "limit " + (st.limit ? InUnit(spec.signal, *st.limit) : std::string("?")) + " in " +
                        Duration(*st.value) + ttl_op + Duration(*st.threshold);
      if (st.slope) out += " at " + PerSecond(spec.signal, *st.slope);
      return out;
    }
  }
  return "";
}

}  // namespace

std::string DescribeRuleStatus(const RuleStatus& st) {
  if (!st.spec) return "unknown rule";
  const RuleSpec& spec = *st.spec;
  const std::string state(RuleStateName(st.state));
  const std::string comparison = Comparison(st);
  const auto with = [&](std::string text) { return comparison.empty() ? text : text + ": " + comparison; };
  switch (st.reason) {
    case RuleReason::kDisabled:
      return "disabled";
    case RuleReason::kWarmingUp:
      return state + ", warming up: " + Duration(st.progress) + " of " + Duration(st.needed);
    case RuleReason::kNoData:
      return state + ", no data: " + std::string(GetSignalInfo(spec.signal).key) + " absent";
    case RuleReason::kNoLimit: {
      std::string what = "the limit";
      if (spec.limit.source == LimitSource::kAuto) {
        if (const auto s = NaturalLimit(spec.signal)) what = std::string(GetSignalInfo(*s).key);
      } else if (spec.limit.source == LimitSource::kSignal) {
        what = std::string(GetSignalInfo(spec.limit.signal).key);
      }
      return state + ", no limit: " + what + " absent";
    }
    case RuleReason::kFillingWindow:
      return state + ", filling the window: " + Duration(st.progress) + " of " + Duration(st.needed) +
             " needed";
    case RuleReason::kNotGrowing:
      return state + ", not growing" +
             (st.slope ? " (slope " + PerSecond(spec.signal, *st.slope) + ")" : std::string());
    case RuleReason::kBelowThreshold:
      return with(state);
    case RuleReason::kBreach:
      if (st.state == RuleState::kPending)
        return with("pending for " + Duration(st.progress) + " of " + Duration(st.needed));
      return with(state);
    case RuleReason::kClearing:
      return with("firing, clearing for " + Duration(st.progress) + " of " + Duration(st.needed));
    case RuleReason::kHeldByHysteresis:
      return with("firing, held by the " + Percent(spec.hysteresis) + " hysteresis");
  }
  return state;
}

}  // namespace leakwatch
