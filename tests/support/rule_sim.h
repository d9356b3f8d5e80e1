#pragma once
// The detection-quality simulator: a synthetic process (a Scenario) sampled once per period and fed to a
// RuleEngine, with every rule transition recorded in simulated time.
// tests/unit/rules/detection_quality_test.cc asserts on it; bench/rules_quality.cc prints detection times and
// false-firing rates from it.
//
// A Scenario is data: one SignalModel per signal (a deterministic shape of time plus seeded noise), the
// limits, and the gaps in which the agent takes no sample. Memory drives rss_bytes, cgroup_memory_usage_bytes
// and cgroup_memory_working_set_bytes with the same value (the rules watch the working set and RSS; a
// simulated process has no page cache). The corpus (namespace corpus) holds the named scenarios with
// realistic parameters; the comments on each say why those values.
//
// Determinism: everything random comes from std::mt19937_64 (whose output the standard fixes) through the
// transforms in Rng, written here because std::uniform_real_distribution and std::normal_distribution are
// implementation-defined. The noise of a tick is drawn whether or not the tick is skipped by a gap, so a gap
// does not change the later samples. Only libm's log/sqrt/cos enter the Gaussian transform.
//
// Time: tick k is at k x period seconds after the start (t = 0 is the first sample, and the engine's start);
// the snapshot's steady_time is a fixed origin plus that. The simulation stops at `duration`, or at the first
// tick whose memory reaches the cgroup limit (the kernel OOM-kills the process there) or whose open fds reach
// max_fds (every open() fails with EMFILE from then on), unless stop_at_limit is false.
//
// Thread-safety: plain values and pure functions; Simulate() may run on several threads at once.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "agent/rules/rule_compiler.h"
#include "leakwatch/rules.h"

namespace leakwatch::sim {

inline constexpr double kKiB = 1024.0;
inline constexpr double kMiB = 1024.0 * kKiB;
inline constexpr double kGiB = 1024.0 * kMiB;
inline constexpr double kPageBytes = 4096.0;

// Deterministic random numbers, identical with every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1), from the top 53 bits of one draw.
  double Uniform();
  // Standard normal, by the Box–Muller transform (two draws give two values; the second is kept).
  double Gaussian();

 private:
  std::mt19937_64 engine_;
  std::optional<double> spare_;
};

// A deterministic function of time (seconds since the start) giving a signal's level.
using Shape = std::function<double(double t)>;

struct Interval {
  double start_s = 0;
  double length_s = 0;
  bool Contains(double t) const { return t >= start_s && t < start_s + length_s; }
};

// --- shapes ---
Shape Constant(double value);
// `from` until start_s, then linear to `to` at end_s, then `to`.
Shape Ramp(double from, double to, double start_s, double end_s);
// `base` until start_s, then growing by rate_per_s without bound (the limit clamps it).
Shape Linear(double base, double start_s, double rate_per_s);
// `before` until at_s, then `after`.
Shape Step(double before, double at_s, double after);
// A GC-like sawtooth: rises linearly from `low` to `high` over each period, then drops back at once.
Shape Sawtooth(double low, double high, double period_s);
// `base` multiplied by `factor` inside each interval (sorted by start, not overlapping).
Shape Pulses(Shape base, std::vector<Interval> intervals, double factor);

// How one signal is sampled: shape + sigma x N(0,1) with sigma = noise x shape + noise_absolute; occasionally
// a single-sample outlier (x (1 +- outlier_ratio), sign at random); rounded to `quantum` and clamped to
// [minimum, the signal's limit].
struct SignalModel {
  Shape shape = Constant(0);
  double noise = 0;           // relative standard deviation (memory: proportional to the level)
  double noise_absolute = 0;  // absolute standard deviation (counts: a few threads or fds of churn)
  double outlier_rate = 0;    // probability per sample
  double outlier_ratio = 0;   // relative size of an outlier
  double quantum = 1;         // a page for memory, 1 for counts
  double minimum = 0;
};

struct Scenario {
  std::string name;                          // stable id, e.g. "memory_leak/1GiB/10MiB_per_min"
  std::string description;                   // one line: what it models
  SignalModel memory;                        // bytes; rss_bytes, cgroup memory usage and working set
  std::optional<double> memory_limit_bytes;  // cgroup_memory_limit_bytes; absent: no cgroup limit
  SignalModel threads;
  SignalModel open_fds;
  double max_fds = 1024;       // RLIMIT_NOFILE soft (max_fds)
  std::vector<Interval> gaps;  // no sample is taken in these
  uint64_t seed = 1;
  std::optional<double> leak_start_s;  // leaks: when the leak begins
};

// One tick's values.
struct Sample {
  double t = 0;
  bool skipped = false;  // in a gap
  double memory = 0;
  std::optional<double> memory_limit;
  double threads = 0;
  double open_fds = 0;
  double max_fds = 0;
};

// Draws the samples of `scenario` for t = 0, period, 2 x period, ... (call Next() once per tick, in order).
// `scenario` must outlive the sampler.
class Sampler {
 public:
  Sampler(const Scenario& scenario, std::chrono::nanoseconds period);
  Sample Next();

 private:
  double Draw(const SignalModel& model, double t, std::optional<double> upper);

  const Scenario& scenario_;
  const std::chrono::nanoseconds period_;
  uint64_t tick_ = 0;
  Rng rng_;
};

struct SimulationOptions {
  std::chrono::nanoseconds period = std::chrono::seconds(1);
  std::chrono::nanoseconds duration = std::chrono::hours(1);
  bool stop_at_limit = true;
};

struct TransitionRecord {
  std::string rule;
  Severity severity = Severity::kWarning;
  RuleState from = RuleState::kOk;
  RuleState to = RuleState::kOk;
  double t = 0;                     // seconds since the start
  std::optional<double> value;      // what the rule compared (RuleStatus::value) ...
  std::optional<double> threshold;  // ... with this
  std::optional<double> signal_value;
};

struct SimulationResult {
  std::string scenario;
  std::vector<TransitionRecord> transitions;     // in order
  std::optional<double> memory_limit_reached_s;  // first tick with memory >= the cgroup limit
  std::optional<double> fds_limit_reached_s;     // first tick with open fds >= max_fds
  double end_s = 0;                              // the last tick simulated (sampled or skipped)
  uint64_t ticks = 0;                            // snapshots evaluated
  uint64_t skipped_ticks = 0;                    // ticks in gaps

  // Times at which `rule` went to firing (all rules when empty).
  std::vector<double> Firings(std::string_view rule = {}) const;
  std::optional<double> FirstFiring(std::string_view rule) const;
  // The first transition to firing of any rule (of `severity` when given); null when none.
  const TransitionRecord* FirstFiringRecord(std::optional<Severity> severity = std::nullopt) const;
  // Every transition, one per line ("t=123s memory_growth ok->pending value=... threshold=..."; at most 400,
  // then a count of the rest), and the limit times: for failure messages.
  std::string Describe() const;
};

SimulationResult Simulate(const Scenario& scenario, const internal::CompiledRules& rules,
                          const SimulationOptions& options);
SimulationResult Simulate(const Scenario& scenario, const internal::CompiledRules& rules,
                          std::chrono::nanoseconds period, std::chrono::nanoseconds duration);

// The default rule set as the agent runs it (CompileRules with defaults on and the "log" action). Aborts if
// the defaults do not compile (a bug the rule_compiler tests report first).
internal::CompiledRules DefaultCompiledRules();

// "256MiB", "1GiB", "0.1MiB/min", ...: for scenario names and tables.
std::string FormatBytes(double bytes);

// -----------------------------------------------------------------------------------------------------------
// The corpus. Every memory scenario is relative to a cgroup limit; threads and fds idle at 20 threads and 100
// of 1024 fds with a little noise unless the scenario is about them.
namespace corpus {

// The idle level of threads and fds used by the memory scenarios.
SignalModel IdleThreads();
SignalModel IdleFds();

struct MemoryLeakParams {
  double limit_bytes = kGiB;
  double rate_bytes_per_s = kMiB / 60;
  double base_ratio = 0.3;    // the steady level before the leak, as a fraction of the limit
  double steady_s = 15 * 60;  // the leak starts after this
  double noise = 0.005;       // sample noise, fraction of the level
  uint64_t seed = 1;
};
// Steady at base_ratio x limit, then a linear leak until the limit (the OOM kill).
Scenario MemoryLeak(const MemoryLeakParams& params);
// When the (noise-free) leak reaches the limit, in seconds since the start.
double MemoryLeakLimitTime(const MemoryLeakParams& params);

// Steady at base_ratio x limit, then at at_s a jump by `step` (relative) that stays.
Scenario StepChange(double limit_bytes, double base_ratio, double step = 0.2, double at_s = 30 * 60,
                    double noise = 0.005, uint64_t seed = 2);

// A GC-like sawtooth from base_ratio to base_ratio + amplitude_ratio of the limit.
Scenario Sawtooth(double limit_bytes, double period_s, double amplitude_ratio, double base_ratio = 0.4,
                  double noise = 0.005, uint64_t seed = 3);

// Steady at level_ratio x limit with Gaussian noise and single-sample outliers.
Scenario NoisySteady(double limit_bytes, double level_ratio, double noise, double outlier_rate,
                     double outlier_ratio, uint64_t seed = 4);

// Start-up: memory climbs linearly from from_ratio to to_ratio of the limit over the first over_s seconds
// (caches, pools, JIT), threads from 4 to 40 in the first 20 s; then flat.
Scenario StartupGrowth(double limit_bytes, double from_ratio = 0.05, double to_ratio = 0.5,
                       double over_s = 180, uint64_t seed = 5);

// Memory bursts that recover: x (1 + burst) for each length in `lengths_s`, in turn, one every every_s.
Scenario MemoryBursts(double limit_bytes, double base_ratio = 0.4, double burst = 0.25,
                      std::vector<double> lengths_s = {20, 40, 60}, double every_s = 10 * 60,
                      double duration_s = 24 * 3600, uint64_t seed = 6);

// Thread bursts that recover: threads x factor for length_s, one every every_s (memory steady).
Scenario ThreadBursts(double limit_bytes, double base_threads = 20, double factor = 4, double length_s = 10,
                      double every_s = 5 * 60, double duration_s = 24 * 3600, uint64_t seed = 7);

// The agent misses gap_s seconds every every_s on an otherwise noisy steady process.
Scenario Gaps(double limit_bytes, double level_ratio = 0.5, double gap_s = 30, double every_s = 10 * 60,
              double duration_s = 24 * 3600, uint64_t seed = 8);

// Open fds steady at base_fds, then a leak of rate_per_s until max_fds (memory and threads idle).
Scenario FdLeak(double max_fds = 1024, double base_fds = 100, double rate_per_s = 1,
                double steady_s = 15 * 60, uint64_t seed = 9);

// Threads steady at base_threads, then +rate_per_s without bound (memory and fds idle).
Scenario ThreadLeak(double base_threads = 20, double rate_per_s = 1, double steady_s = 15 * 60,
                    uint64_t seed = 10);

// Every scenario on which no default rule may fire, on `limit_bytes`: noisy steady states (with outliers),
// sawtooths (30 s, 2 min, 5 min periods x 10% and 20% amplitude), start-up growth, bursts that recover and
// gaps.
std::vector<Scenario> NoiseCorpus(double limit_bytes = kGiB);

}  // namespace corpus
}  // namespace leakwatch::sim
