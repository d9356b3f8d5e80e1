#include "agent/rules/rule_compiler.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

namespace leakwatch::internal {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr milliseconds kMaxDuration = hours(24);
constexpr size_t kMaxNameLength = 64;
constexpr size_t kKindCount = 5;

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Whole numbers as written in a config file (1000000000, not 1e+09).
  if (v == std::trunc(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "?";
  return std::string(buf, end);
}

// "0.85 (85%)": the API sets fractions, the config file usually writes percentages.
std::string FormatRatio(double v) {
  if (!std::isfinite(v)) return FormatNumber(v);
  char percent[64];
  std::snprintf(percent, sizeof(percent), "%.6g", v * 100);
  return FormatNumber(v) + " (" + percent + "%)";
}

// In the largest unit that divides the duration exactly, as the config file would write it.
std::string FormatDuration(milliseconds d) {
  const int64_t ms = d.count();
  if (ms == 0) return "0s";
  struct Unit {
    int64_t ms;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
  for (const auto& u : kUnits) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool ValidSignal(Signal s) { return static_cast<size_t>(s) < kSignalCount; }

std::string SignalKey(Signal s) { return ValidSignal(s) ? std::string(GetSignalInfo(s).key) : "?"; }

std::string KindName(RuleKind kind) {
  return static_cast<size_t>(kind) < kKindCount ? std::string(RuleKindName(kind)) : "unknown";
}

// The keys of the signals that have a natural limit (for the limit: auto error).
std::string SignalsWithNaturalLimit() {
  std::string out;
  for (size_t i = 0; i < kSignalCount; ++i) {
    const auto s = static_cast<Signal>(i);
    if (NaturalLimit(s)) out += (out.empty() ? "" : ", ") + SignalKey(s);
  }
  return out;
}

// A rule that sets nothing but its name, enabled = false and its origin: turns the default of that name off.
bool IsBareDisable(const RuleSpec& r) {
  const RuleSpec d;
  return !r.enabled && r.kind == d.kind && r.signal == d.signal && r.severity == d.severity &&
         r.limit.source == d.limit.source && r.limit.signal == d.limit.signal &&
         r.limit.value == d.limit.value && !r.above && !r.above_limit_ratio && r.window == d.window &&
         !r.rate && !r.increase && r.min_coverage == d.min_coverage && r.baseline == d.baseline &&
         r.baseline_includes_current == d.baseline_includes_current && !r.factor && !r.min_increase &&
         !r.floor && r.horizon == d.horizon && !r.step && !r.step_ratio && r.hold == d.hold &&
         r.clear_after == d.clear_after && r.hysteresis == d.hysteresis && r.warmup == d.warmup &&
         r.actions == d.actions && r.cooldown == d.cooldown && r.max_actions == d.max_actions &&
         r.actions_window == d.actions_window;
}

// Returns whether the warm-up was defaulted (it is then derived from the window, which is checked itself).
bool ApplyKindDefaults(RuleSpec* r) {
  if (r->window == milliseconds(0)) {
    switch (r->kind) {
      case RuleKind::kGrowth:
      case RuleKind::kTimeToLimit:
        r->window = minutes(5);
        break;
      case RuleKind::kSpike:
        r->window = minutes(1);
        break;
      default:
        break;
    }
  }
  if (r->warmup != milliseconds(-1)) return false;
  switch (r->kind) {
    case RuleKind::kGrowth:
    case RuleKind::kSpike:
      r->warmup = r->window;
      break;
    case RuleKind::kTimeToLimit:
      r->warmup = r->window / 2;
      break;
    case RuleKind::kHighWater:
      r->warmup = minutes(1);
      break;
    case RuleKind::kThreshold:
      r->warmup = milliseconds(0);
      break;
  }
  return true;
}

// Checks one rule (kind defaults applied) and appends one line per problem to *errors.
class RuleChecker {
 public:
  RuleChecker(const RuleSpec& rule, bool warmup_defaulted, const std::vector<std::string>& known_actions,
              std::vector<std::string>* errors)
      : r_(rule),
        warmup_defaulted_(warmup_defaulted),
        known_actions_(known_actions),
        errors_(errors),
        prefix_(rule.origin + ": rule \"" + rule.name + "\": ") {}

  void Run() {
    CheckName();
    const bool kind_ok = static_cast<size_t>(r_.kind) < kKindCount;
    if (!kind_ok) {
      Add("kind", std::to_string(static_cast<int>(r_.kind)) +
                      " is not one of threshold, growth, spike, time_to_limit, high_water");
    }
    if (!ValidSignal(r_.signal)) {
      Add("signal", r_.signal == Signal::kCount
                        ? "missing; set a signal key such as rss_bytes or cgroup_memory_working_set_bytes"
                        : std::to_string(static_cast<int>(r_.signal)) + " is not a known signal");
    }
    if (static_cast<size_t>(r_.severity) > static_cast<size_t>(Severity::kCritical)) {
      Add("severity", std::to_string(static_cast<int>(r_.severity)) + " is not one of warning, critical");
    }
    CheckLimit();
    if (kind_ok) {
      CheckApplicability();
      switch (r_.kind) {
        case RuleKind::kThreshold:
          CheckThreshold();
          break;
        case RuleKind::kGrowth:
          CheckGrowth();
          break;
        case RuleKind::kSpike:
          CheckSpike();
          break;
        case RuleKind::kTimeToLimit:
          CheckTimeToLimit();
          break;
        case RuleKind::kHighWater:
          CheckHighWater();
          break;
      }
    }
    CheckCommon();
  }

 private:
  // Located at the field's value when the config loader recorded it, else at the rule.
  void Add(std::string_view field, const std::string& what) {
    const auto at = r_.field_origins.find(std::string(field));
    if (at != r_.field_origins.end()) {
      errors_->push_back(at->second + ": rule \"" + r_.name + "\": " + std::string(field) + ": " + what);
      return;
    }
    errors_->push_back(prefix_ + std::string(field) + ": " + what);
  }

  // The value when it is set and finite; reports a non-finite value.
  std::optional<double> Finite(std::string_view field, std::optional<double> v) {
    if (!v) return std::nullopt;
    if (!std::isfinite(*v)) {
      Add(field, FormatNumber(*v) + " is not a finite number");
      return std::nullopt;
    }
    return v;
  }

  void CheckName() {
    if (r_.name.empty()) {
      Add("name", "missing; every rule needs a name matching [a-z][a-z0-9_]* (at most 64 characters)");
    } else if (!ValidName(r_.name)) {
      Add("name",
          "\"" + r_.name + "\" must match [a-z][a-z0-9_]* and be at most 64 characters (e.g. rss_growth)");
    }
  }

  void CheckLimit() {
    const LimitSpec& l = r_.limit;
    switch (l.source) {
      case LimitSource::kNone:
        return;
      case LimitSource::kAuto:
        if (ValidSignal(r_.signal) && !NaturalLimit(r_.signal)) {
          Add("limit", "auto, but " + SignalKey(r_.signal) + " has no natural limit (signals with one: " +
                           SignalsWithNaturalLimit() + "); set limit to a signal key or a value instead");
        }
        return;
      case LimitSource::kSignal:
        if (!ValidSignal(l.signal)) {
          Add("limit", "names no signal; set a signal key such as cgroup_memory_limit_bytes");
        } else if (l.signal == r_.signal) {
          Add("limit",
              SignalKey(l.signal) + " is the rule's own signal; use another signal, auto or a value");
        }
        return;
      case LimitSource::kValue:
        if (const auto v = Finite("limit", l.value); v && !(*v > 0)) {
          Add("limit", FormatNumber(*v) + " must be > 0");
        }
        return;
    }
    Add("limit", "source " + std::to_string(static_cast<int>(l.source)) +
                     " is not one of auto, none, a signal key or a value");
  }

  // Fields that do not apply to the rule's kind must keep their defaults.
  void CheckApplicability() {
    const RuleKind k = r_.kind;
    const std::string on = " is set on a " + KindName(k) + " rule; it applies to ";
    const RuleSpec d;
    if (k != RuleKind::kThreshold) {
      if (r_.above) Add("above", FormatNumber(*r_.above) + on + "threshold rules only");
      if (r_.above_limit_ratio)
        Add("above", FormatRatio(*r_.above_limit_ratio) + on + "threshold rules only");
    }
    if (k != RuleKind::kGrowth && k != RuleKind::kSpike && k != RuleKind::kTimeToLimit &&
        r_.window != d.window) {
      Add("window", FormatDuration(r_.window) + on + "growth, spike and time_to_limit rules only");
    }
    if (k != RuleKind::kGrowth) {
      if (r_.rate) Add("rate", FormatNumber(*r_.rate) + " units/s" + on + "growth rules only");
      if (r_.increase) Add("increase", FormatRatio(*r_.increase) + on + "growth rules only");
    }
    if (k != RuleKind::kGrowth && k != RuleKind::kSpike && k != RuleKind::kTimeToLimit &&
        r_.min_coverage != d.min_coverage) {
      Add("min_coverage", FormatRatio(r_.min_coverage) + on + "growth, spike and time_to_limit rules only");
    }
    if (k != RuleKind::kSpike) {
      if (r_.baseline != d.baseline) Add("baseline", "mean" + on + "spike rules only");
      if (r_.baseline_includes_current != d.baseline_includes_current) {
        Add("baseline_includes_current", "true" + on + "spike rules only");
      }
      if (r_.factor) Add("factor", FormatNumber(*r_.factor) + on + "spike rules only");
      if (r_.min_increase) Add("min_increase", FormatNumber(*r_.min_increase) + on + "spike rules only");
      if (r_.floor) Add("floor", FormatNumber(*r_.floor) + on + "spike rules only");
    }
    if (k != RuleKind::kTimeToLimit && r_.horizon != d.horizon) {
      Add("horizon", FormatDuration(r_.horizon) + on + "time_to_limit rules only");
    }
    if (k != RuleKind::kHighWater) {
      if (r_.step) Add("step", FormatNumber(*r_.step) + on + "high_water rules only");
      if (r_.step_ratio) Add("step", FormatRatio(*r_.step_ratio) + on + "high_water rules only");
    }
  }

  void CheckWindow() {
    if (r_.window < seconds(10) || r_.window > kMaxDuration) {
      Add("window", FormatDuration(r_.window) + " must be between 10s and 24h");
    }
  }

  void CheckMinCoverage() {
    if (const auto v = Finite("min_coverage", r_.min_coverage); v && !(*v > 0 && *v <= 1)) {
      Add("min_coverage", FormatRatio(*v) + " must be in (0, 1]: above 0% and at most 100%");
    }
  }

  void CheckThreshold() {
    const auto above = Finite("above", r_.above);
    const auto ratio = Finite("above", r_.above_limit_ratio);
    if (!r_.above && !r_.above_limit_ratio) {
      Add("above",
          "missing; a threshold rule needs above: a number or size (e.g. 2GiB) or a percentage of its limit "
          "(e.g. 85%)");
    } else if (r_.above && r_.above_limit_ratio) {
      Add("above", "both an absolute value (" + FormatNumber(*r_.above) + ") and a fraction of the limit (" +
                       FormatRatio(*r_.above_limit_ratio) + ") are set; set exactly one");
    }
    if (above && *above < 0) Add("above", FormatNumber(*above) + " must be >= 0");
    if (ratio) {
      if (!(*ratio > 0 && *ratio <= 10)) {
        Add("above", FormatRatio(*ratio) + " of the limit must be in (0, 10]: above 0% and at most 1000%");
      }
      if (r_.limit.source == LimitSource::kNone) {
        Add("limit", "none, but above " + FormatRatio(*ratio) +
                         " is a fraction of the limit; set limit: auto, a signal key or a value");
      }
    }
  }

  void CheckGrowth() {
    CheckWindow();
    CheckMinCoverage();
    if (!r_.rate && !r_.increase) {
      Add("rate", "missing; a growth rule needs rate (e.g. 1MiB/min) or increase (e.g. 15%), or both");
    }
    if (const auto v = Finite("rate", r_.rate); v && !(*v > 0)) {
      Add("rate", FormatNumber(*v) + " units/s must be > 0");
    }
    if (const auto v = Finite("increase", r_.increase); v && !(*v > 0)) {
      Add("increase", FormatNumber(*v) + " must be > 0");
    }
  }

  void CheckSpike() {
    CheckWindow();
    CheckMinCoverage();
    if (!r_.factor) {
      Add("factor", "missing; a spike rule needs factor > 1 (e.g. 3: the value at 3 times its baseline)");
    } else if (const auto v = Finite("factor", r_.factor); v && !(*v > 1)) {
      Add("factor", FormatNumber(*v) + " must be > 1");
    }
    if (const auto v = Finite("min_increase", r_.min_increase); v && *v < 0) {
      Add("min_increase", FormatNumber(*v) + " must be >= 0");
    }
    if (const auto v = Finite("floor", r_.floor); v && *v < 0)
      Add("floor", FormatNumber(*v) + " must be >= 0");
  }

  void CheckTimeToLimit() {
    CheckWindow();
    CheckMinCoverage();
    if (r_.horizon == milliseconds(0)) {
      Add("horizon", "missing; a time_to_limit rule needs horizon > 0 (e.g. 10m)");
    } else if (r_.horizon < milliseconds(0)) {
      Add("horizon", FormatDuration(r_.horizon) + " must be > 0");
    }
    if (r_.limit.source == LimitSource::kNone) {
      Add("limit", "none; a time_to_limit rule needs a limit: auto, a signal key or a value");
    }
  }

  void CheckHighWater() {
    const auto step = Finite("step", r_.step);
    const auto ratio = Finite("step", r_.step_ratio);
    if (!r_.step && !r_.step_ratio) {
      Add("step",
          "missing; a high_water rule needs step: a number or size (e.g. 64MiB) or a percentage (e.g. 10%)");
    } else if (r_.step && r_.step_ratio) {
      Add("step", "both an absolute step (" + FormatNumber(*r_.step) + ") and a ratio (" +
                      FormatRatio(*r_.step_ratio) + ") are set; set exactly one");
    }
    if (step && !(*step > 0)) Add("step", FormatNumber(*step) + " must be > 0");
    if (ratio && !(*ratio > 0)) Add("step", FormatRatio(*ratio) + " must be > 0");
  }

  void CheckDuration(std::string_view field, milliseconds d, bool allow_zero) {
    if (d < milliseconds(0) || d > kMaxDuration || (!allow_zero && d == milliseconds(0))) {
      Add(field,
          FormatDuration(d) + (allow_zero ? " must be between 0s and 24h" : " must be > 0s and at most 24h"));
    }
  }

  void CheckCommon() {
    CheckDuration("for", r_.hold, true);
    CheckDuration("clear_after", r_.clear_after, true);
    if (!warmup_defaulted_) CheckDuration("warmup", r_.warmup, true);
    CheckDuration("cooldown", r_.cooldown, true);
    CheckDuration("actions_window", r_.actions_window, false);
    if (const auto v = Finite("hysteresis", r_.hysteresis); v && !(*v >= 0 && *v < 1)) {
      Add("hysteresis", FormatRatio(*v) + " must be in [0, 1): at least 0% and below 100%");
    }
    for (const auto& action : r_.actions) {
      if (std::find(known_actions_.begin(), known_actions_.end(), action) != known_actions_.end()) continue;
      std::string known;
      for (const auto& a : known_actions_) known += (known.empty() ? "" : ", ") + a;
      Add("actions",
          "\"" + action + "\" is not a known action (known: " + (known.empty() ? "none" : known) + ")");
    }
  }

  const RuleSpec& r_;
  const bool warmup_defaulted_;
  const std::vector<std::string>& known_actions_;
  std::vector<std::string>* errors_;
  std::string prefix_;
};

}  // namespace

Result<CompiledRules> CompileRules(const RulesOptions& options,
                                   const std::vector<std::string>& known_actions) {
  std::vector<RuleSpec> merged;
  if (options.defaults) merged = DefaultRules();
  const auto defaults_end = static_cast<std::ptrdiff_t>(merged.size());
  std::vector<RuleSpec> rejected;  // duplicates: validated for their own problems, never compiled
  std::vector<std::string> errors;
  std::map<std::string, std::string> user_origins;  // name -> origin
  for (size_t i = 0; i < options.rules.size(); ++i) {
    RuleSpec rule = options.rules[i];
    if (rule.origin.empty()) rule.origin = "rules[" + std::to_string(i) + "]";
    if (!rule.name.empty()) {
      const auto [it, inserted] = user_origins.emplace(rule.name, rule.origin);
      if (!inserted) {
        errors.push_back(rule.origin + ": rule \"" + rule.name +
                         "\": name: duplicate; a rule of this name is also defined at " + it->second);
        rejected.push_back(std::move(rule));
        continue;
      }
    }
    const auto def = std::find_if(merged.begin(), merged.begin() + defaults_end,
                                  [&](const RuleSpec& d) { return d.name == rule.name; });
    if (def == merged.begin() + defaults_end) {
      merged.push_back(std::move(rule));
    } else if (IsBareDisable(rule)) {
      def->enabled = false;
      def->origin = std::move(rule.origin);
    } else {
      *def = std::move(rule);
    }
  }

  for (auto* list : {&merged, &rejected}) {
    for (auto& rule : *list) {
      const bool warmup_defaulted = ApplyKindDefaults(&rule);
      RuleChecker(rule, warmup_defaulted, known_actions, &errors).Run();
    }
  }
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "\n") + e;
    return Error{std::move(message)};
  }
  CompiledRules out;
  out.rules.reserve(merged.size());
  for (auto& rule : merged) out.rules.push_back(std::make_shared<const RuleSpec>(std::move(rule)));
  return out;
}

const std::vector<std::string>& KnownActionNames() {
  static const auto* names = new std::vector<std::string>{"log", "bundle"};
  return *names;
}

}  // namespace leakwatch::internal
