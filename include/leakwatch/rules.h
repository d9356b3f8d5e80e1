#pragma once
// leakwatch rules: thresholds, growth, spikes, time-to-limit and high-water marks over the sampled signals.
//
// A rule watches one signal of the Snapshot (leakwatch/signals.h) and is evaluated once per sampler tick, on
// the sampler thread, from the snapshot of that tick and the samples the rule engine kept of earlier ticks.
// Time is the snapshot's steady time: rules never read a clock of their own. The exact semantics of each kind
// and of the common fields are in docs/RULES.md; the YAML form of these structs is in docs/CONFIG.md.
//
// Life cycle of a rule (the same for every kind):
//
//   ok --breach--> pending --breach held for `hold`--> firing --clear held for `clear_after`--> ok
//        pending --no breach--> ok
//
// "breach" is the kind's condition (value above its threshold, time-to-limit below the horizon, ...); "clear"
// is the same condition turned around with the hysteresis margin applied, so a value hovering at the
// threshold does not flap. A rule that cannot be evaluated (warming up, signal absent, no limit) keeps its
// state and says why in RuleStatus::reason.
//
// Thread-safety: the structs here are plain values. RulesStatus objects are immutable once published.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/signals.h"

#pragma GCC visibility push(default)  // the public API: exported by libleakwatch.so
namespace leakwatch {

enum class RuleKind : uint8_t {
  kThreshold,  // value above an absolute number or a fraction of its limit
  kGrowth,     // robust slope over a window above a rate, or relative growth over the window above a ratio
  kSpike,      // value above the moving baseline (median or mean of a window) by a factor, and above a floor
  kTimeToLimit,  // projected seconds until the value reaches its limit, at the robust slope, below a horizon
  kHighWater,    // value above its previous peak by a step
};

enum class Severity : uint8_t { kWarning, kCritical };

// Where a rule's limit comes from.
enum class LimitSource : uint8_t {
  kNone,    // no limit
  kAuto,    // the signal's natural limit (NaturalLimit below)
  kSignal,  // another signal of the same snapshot, e.g. cgroup_memory_limit_bytes
  kValue,   // a configured number
};

struct LimitSpec {
  LimitSource source = LimitSource::kNone;
  Signal signal = Signal::kCount;  // kSignal
  double value = 0;                // kValue, in the signal's unit
};

enum class BaselineKind : uint8_t { kMedian, kMean };

// One rule, as configured. Fields that do not apply to the rule's kind must keep their defaults (the compile
// step rejects them, naming the field). Units: the signal's base unit (bytes, count, seconds); rates are
// units per second; ratios are fractions (0.85 = 85%).
struct RuleSpec {
  std::string name;  // [a-z][a-z0-9_]*, at most 64 characters; unique; the `rule` label of the rule's metrics
  RuleKind kind = RuleKind::kThreshold;
  Signal signal = Signal::kCount;
  Severity severity = Severity::kWarning;
  bool enabled = true;  // false: the rule is compiled and shown in the status, never evaluated
  LimitSpec limit;

  // --- threshold: exactly one of the two ---
  std::optional<double> above;              // absolute value
  std::optional<double> above_limit_ratio;  // fraction of the limit, (0, 10]

  // --- growth (at least one of rate / increase), spike and time_to_limit: the window ---
  // growth, time_to_limit: the slope window; spike: the baseline window. 0 = the kind's default (growth 5m,
  // time_to_limit 5m, spike 1m).
  std::chrono::milliseconds window{0};
  std::optional<double> rate;      // growth: slope above this many units per second
  std::optional<double> increase;  // growth: slope x window / level at the window's start above this ratio
  // growth, time_to_limit: the slope is computed once data covers this fraction of the window, (0, 1].
  double min_coverage = 0.5;

  // --- spike ---
  BaselineKind baseline = BaselineKind::kMedian;
  bool baseline_includes_current = false;  // whether the current sample is part of its own baseline
  std::optional<double> factor;            // value >= baseline x factor (> 1)
  std::optional<double> min_increase;      // and value - baseline >= this (absolute)
  std::optional<double> floor;             // and value >= this (absolute)

  // --- time_to_limit ---
  std::chrono::milliseconds horizon{0};  // fires when the projected time to the limit is below this

  // --- high_water ---
  std::optional<double> step;        // value >= previous peak + step (absolute) ...
  std::optional<double> step_ratio;  // ... or value >= previous peak x (1 + step_ratio)

  // --- every kind ---
  std::chrono::milliseconds hold{0};         // "for": the breach must last this long before firing
  std::chrono::milliseconds clear_after{0};  // the clear condition must last this long before resolving
  double hysteresis = 0;                     // clear only this fraction of the threshold past it, [0, 1)
  // No evaluation before the engine has run this long (since start or since the rule was loaded). -1 ms = the
  // kind's default: growth and spike their window, time_to_limit half its window, high_water 1m, threshold 0.
  std::chrono::milliseconds warmup{-1};
  std::vector<std::string> actions{"log"};                       // action names; "log" is always available
  std::chrono::milliseconds cooldown{std::chrono::minutes(10)};  // no actions within this after actions ran
  uint32_t max_actions = 3;  // at most this many action runs per actions_window (0 = never run actions)
  std::chrono::milliseconds actions_window{std::chrono::hours(1)};

  // Where the rule was defined, used in error messages: "leakwatch.yml:12:5" for a file, "rules[3]" for the
  // API. Set by the config loader; optional for programs.
  std::string origin;
  // Where each field's value was written, by YAML key ("window" -> "leakwatch.yml:14:13"), so an error about
  // one field points at its line. Set by the config loader; not part of the rule's identity.
  std::map<std::string, std::string> field_origins;
};

struct RulesOptions {
  // The default rule set (docs/RULES.md) is active unless this is false. A rule in `rules` with the name of a
  // default rule replaces that default (set `enabled: false` to turn one default off).
  bool defaults = true;
  std::vector<RuleSpec> rules;
};

// The default rule set, in the order documented in docs/RULES.md.
std::vector<RuleSpec> DefaultRules();

// The natural limit of a signal (LimitSource::kAuto): cgroup_memory_limit_bytes for memory signals,
// max_fds for open fds, cgroup_pids_max for threads; nullopt when the signal has none.
std::optional<Signal> NaturalLimit(Signal signal);

// Stable names used in config, metrics and JSON: "threshold", "growth", "spike", "time_to_limit",
// "high_water"; "warning", "critical"; "ok", "pending", "firing".
std::string_view RuleKindName(RuleKind kind);
std::optional<RuleKind> FindRuleKind(std::string_view name);
std::string_view SeverityName(Severity severity);
std::optional<Severity> FindSeverity(std::string_view name);

// ------------------------------------------------------------------------------------------------------------
// State, as published after every tick.

enum class RuleState : uint8_t { kOk = 0, kPending = 1, kFiring = 2 };
std::string_view RuleStateName(RuleState state);

// Why a rule is in its state, or why it could not be evaluated this tick.
enum class RuleReason : uint8_t {
  kDisabled,          // enabled: false
  kWarmingUp,         // engine younger than the warm-up
  kNoData,            // the signal is absent from the snapshot
  kNoLimit,           // the rule needs a limit and it is absent
  kFillingWindow,     // not enough of the window holds data (after start or a gap)
  kNotGrowing,        // time_to_limit: slope <= 0
  kBelowThreshold,    // evaluated, no breach
  kBreach,            // evaluated, breach (pending or firing)
  kClearing,          // firing, clear condition holding but not yet for clear_after
  kHeldByHysteresis,  // firing, below the threshold but not past the hysteresis margin
};

// "disabled", "warming_up", "no_data", "no_limit", "filling_window", "not_growing", "below_threshold",
// "breach", "clearing", "held_by_hysteresis".
std::string_view RuleReasonName(RuleReason reason);

struct RuleStatus {
  std::shared_ptr<const RuleSpec> spec;  // the rule as compiled (kind defaults applied)
  RuleState state = RuleState::kOk;
  RuleReason reason = RuleReason::kWarmingUp;
  // What was compared in the last evaluation (absent when not evaluated): for threshold the signal's value,
  // growth the rate (units/s) or the increase ratio, spike the value, time_to_limit the projected seconds,
  // high_water the value. `threshold` is what it was compared with.
  std::optional<double> value;
  std::optional<double> threshold;
  std::optional<double> signal_value;  // the signal in this tick
  std::optional<double> limit;
  std::optional<double> slope;                    // units per second (growth, time_to_limit)
  std::optional<double> baseline;                 // spike: the baseline; high_water: the previous peak
  std::optional<double> seconds_to_limit;         // at the slope; absent when not growing or no limit
  std::chrono::steady_clock::time_point since{};  // when the rule entered its state (or the condition began)
  std::chrono::system_clock::time_point since_wall{};
  std::chrono::milliseconds progress{0};  // warm-up / window filled / pending / clearing time so far
  std::chrono::milliseconds needed{0};    // ... and the time needed
  uint64_t fired_total = 0;               // transitions to firing (and high-water re-triggers)
  uint64_t actions_run_total = 0;         // times the actions ran
  uint64_t actions_suppressed_total = 0;  // firings whose actions were held back by cooldown or max_actions
};

// The slope the engine keeps of a signal over a window (shared by the rules that use the same pair).
struct SignalTrend {
  Signal signal = Signal::kCount;
  std::chrono::milliseconds window{0};
  std::optional<double> slope;             // units per second
  std::optional<double> limit;             // the limit used for seconds_to_limit
  std::optional<double> seconds_to_limit;  // absent when not growing or no limit
};

struct RulesStatus {
  uint64_t sequence = 0;  // the snapshot sequence evaluated
  std::chrono::system_clock::time_point wall_time{};
  std::vector<RuleStatus> rules;
  std::vector<SignalTrend> trends;
};

// The configuration file the rules came from, and its reloads (the agent checks the file on its ticks).
struct ConfigStatus {
  std::string file;  // empty when the agent runs without a config file
  bool last_load_ok = true;
  std::string last_error;  // why the last failed reload was rejected (the running configuration stayed)
  std::chrono::system_clock::time_point last_success{};  // start-up or the last successful reload
  uint64_t reloads_total = 0;                            // successful reloads (start-up not counted)
  uint64_t reload_failures_total = 0;                    // rejected reloads
};

// A one-line human description of the state, e.g. "pending for 20s of 30s: value 912 MiB > 870 MiB",
// "warming up: 40s of 5m", "no data: cgroup_memory_limit_bytes absent".
std::string DescribeRuleStatus(const RuleStatus& status);

}  // namespace leakwatch

#pragma GCC visibility pop
