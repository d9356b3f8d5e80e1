#include "tests/support/rule_sim.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numbers>
#include <utility>

#include "agent/rules/rule_engine.h"
#include "leakwatch/snapshot.h"

namespace leakwatch::sim {

// ---- Rng --------------------------------------------------------------------------------------------------

double Rng::Uniform() {
  // 53 random bits scaled into [0, 1): exact in a double, the same on every platform.
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double Rng::Gaussian() {
  if (spare_) {
    const double z = *spare_;
    spare_.reset();
    return z;
  }
  // Box–Muller: u1 in (0, 1] so that log(u1) is finite.
  const double u1 = 1.0 - Uniform();
  const double u2 = Uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(angle);
  return r * std::cos(angle);
}

// ---- shapes -----------------------------------------------------------------------------------------------

Shape Constant(double value) {
  return [value](double) { return value; };
}

Shape Ramp(double from, double to, double start_s, double end_s) {
  return [=](double t) {
    if (t <= start_s) return from;
    if (t >= end_s) return to;
    return from + (to - from) * (t - start_s) / (end_s - start_s);
  };
}

Shape Linear(double base, double start_s, double rate_per_s) {
  return [=](double t) { return t <= start_s ? base : base + rate_per_s * (t - start_s); };
}

Shape Step(double before, double at_s, double after) {
  return [=](double t) { return t < at_s ? before : after; };
}

Shape Sawtooth(double low, double high, double period_s) {
  return [=](double t) {
    const double phase = std::fmod(t, period_s) / period_s;
    return low + (high - low) * phase;
  };
}

Shape Pulses(Shape base, std::vector<Interval> intervals, double factor) {
  return [base = std::move(base), intervals = std::move(intervals), factor](double t) {
    const double v = base(t);
    // Intervals are few and sorted; a binary search keeps long corpora cheap.
    auto it = std::upper_bound(intervals.begin(), intervals.end(), t,
                               [](double x, const Interval& i) { return x < i.start_s; });
    if (it != intervals.begin() && std::prev(it)->Contains(t)) return v * factor;
    return v;
  };
}

// ---- Sampler ----------------------------------------------------------------------------------------------

Sampler::Sampler(const Scenario& scenario, std::chrono::nanoseconds period)
    : scenario_(scenario), period_(period), rng_(scenario.seed) {}

double Sampler::Draw(const SignalModel& model, double t, std::optional<double> upper) {
  // Always the same number of draws per signal and tick, whatever the model, so one signal's parameters do
  // not shift another signal's noise.
  const double g = rng_.Gaussian();
  const double u_outlier = rng_.Uniform();
  const double u_sign = rng_.Uniform();
  const double level = model.shape(t);
  double v = level + (model.noise * level + model.noise_absolute) * g;
  if (u_outlier < model.outlier_rate) v *= 1.0 + (u_sign < 0.5 ? -1.0 : 1.0) * model.outlier_ratio;
  if (model.quantum > 0) v = std::round(v / model.quantum) * model.quantum;
  v = std::max(v, model.minimum);
  if (upper) v = std::min(v, *upper);
  return v;
}

Sample Sampler::Next() {
  Sample s;
  s.t = std::chrono::duration<double>(period_ * static_cast<int64_t>(tick_)).count();
  ++tick_;
  s.skipped = std::any_of(scenario_.gaps.begin(), scenario_.gaps.end(),
                          [&](const Interval& gap) { return gap.Contains(s.t); });
  s.memory_limit = scenario_.memory_limit_bytes;
  s.max_fds = scenario_.max_fds;
  s.memory = Draw(scenario_.memory, s.t, s.memory_limit);
  s.threads = Draw(scenario_.threads, s.t, std::nullopt);
  s.open_fds = Draw(scenario_.open_fds, s.t, s.max_fds);
  return s;
}

// ---- Simulate ---------------------------------------------------------------------------------------------

namespace {

class RecordingSink final : public internal::RuleEventSink {
 public:
  explicit RecordingSink(std::vector<TransitionRecord>* out) : out_(out) {}
  void OnTransition(const internal::RuleEvent& e) override {
    out_->push_back(TransitionRecord{e.status.spec->name, e.status.spec->severity, e.from, e.to, now_s,
                                     e.status.value, e.status.threshold, e.status.signal_value});
  }
  double now_s = 0;

 private:
  std::vector<TransitionRecord>* out_;
};

std::string Num(std::optional<double> v) {
  if (!v) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6g", *v);
  return buf;
}

}  // namespace

SimulationResult Simulate(const Scenario& scenario, const internal::CompiledRules& rules,
                          const SimulationOptions& options) {
  SimulationResult result;
  result.scenario = scenario.name;
  RecordingSink sink(&result.transitions);
  internal::RuleEngine engine(rules, options.period, &sink, nullptr);
  Sampler sampler(scenario, options.period);

  // An arbitrary non-zero origin: nothing may depend on the clock's epoch.
  const std::chrono::steady_clock::time_point steady_origin{std::chrono::hours(1000)};
  const std::chrono::system_clock::time_point wall_origin{std::chrono::hours(480000)};
  Snapshot snap;
  snap.period = options.period;
  snap.cgroup_version = scenario.memory_limit_bytes ? 2 : 0;
  uint64_t missed = 0;
  for (int64_t k = 0; options.period * k <= options.duration; ++k) {
    const Sample s = sampler.Next();
    result.end_s = s.t;
    if (s.skipped) {
      ++result.skipped_ticks;
      ++missed;
      continue;
    }
    if (s.memory_limit && s.memory >= *s.memory_limit && !result.memory_limit_reached_s) {
      result.memory_limit_reached_s = s.t;
      if (options.stop_at_limit) break;  // OOM-killed: this tick is never sampled
    }
    if (s.open_fds >= s.max_fds && !result.fds_limit_reached_s) {
      result.fds_limit_reached_s = s.t;
      if (options.stop_at_limit) break;
    }
    const auto offset = options.period * k;
    snap.sequence = ++result.ticks;
    snap.samples_total = result.ticks;
    snap.missed_ticks_total = missed;
    snap.steady_time = steady_origin + offset;
    snap.wall_time = wall_origin + std::chrono::duration_cast<std::chrono::system_clock::duration>(offset);
    snap.set(Signal::kResidentMemoryBytes, s.memory);
    snap.set(Signal::kCgroupMemoryUsageBytes, s.memory);
    snap.set(Signal::kCgroupMemoryWorkingSetBytes, s.memory);
    snap.set(Signal::kCgroupMemoryLimitBytes, s.memory_limit);
    snap.set(Signal::kThreads, s.threads);
    snap.set(Signal::kOpenFds, s.open_fds);
    snap.set(Signal::kMaxFds, s.max_fds);
    sink.now_s = s.t;
    engine.Evaluate(snap);
  }
  return result;
}

SimulationResult Simulate(const Scenario& scenario, const internal::CompiledRules& rules,
                          std::chrono::nanoseconds period, std::chrono::nanoseconds duration) {
  return Simulate(scenario, rules, SimulationOptions{.period = period, .duration = duration});
}

std::vector<double> SimulationResult::Firings(std::string_view rule) const {
  std::vector<double> out;
  for (const auto& tr : transitions) {
    if (tr.to == RuleState::kFiring && (rule.empty() || tr.rule == rule)) out.push_back(tr.t);
  }
  return out;
}

std::optional<double> SimulationResult::FirstFiring(std::string_view rule) const {
  for (const auto& tr : transitions) {
    if (tr.to == RuleState::kFiring && tr.rule == rule) return tr.t;
  }
  return std::nullopt;
}

const TransitionRecord* SimulationResult::FirstFiringRecord(std::optional<Severity> severity) const {
  for (const auto& tr : transitions) {
    if (tr.to == RuleState::kFiring && (!severity || tr.severity == *severity)) return &tr;
  }
  return nullptr;
}

std::string SimulationResult::Describe() const {
  std::string out = "scenario " + scenario + ": " + std::to_string(ticks) + " ticks (" +
                    std::to_string(skipped_ticks) + " skipped) to t=" + Num(end_s) + "s";
  if (memory_limit_reached_s) out += ", memory limit reached at t=" + Num(memory_limit_reached_s) + "s";
  if (fds_limit_reached_s) out += ", fd limit reached at t=" + Num(fds_limit_reached_s) + "s";
  out += "\n";
  constexpr size_t kMaxLines = 400;
  for (size_t i = 0; i < transitions.size(); ++i) {
    if (i == kMaxLines) {
      out += "  ... " + std::to_string(transitions.size() - kMaxLines) + " more\n";
      break;
    }
    const TransitionRecord& tr = transitions[i];
    out += "  t=" + Num(tr.t) + "s " + tr.rule + " " + std::string(RuleStateName(tr.from)) + "->" +
           std::string(RuleStateName(tr.to)) + " value=" + Num(tr.value) + " threshold=" + Num(tr.threshold) +
           " signal=" + Num(tr.signal_value) + "\n";
  }
  return out;
}

internal::CompiledRules DefaultCompiledRules() {
  auto compiled = internal::CompileRules(RulesOptions{.defaults = true, .rules = {}}, internal::KnownActionNames());
  if (!compiled.ok()) {
    std::fprintf(stderr, "the default rules do not compile: %s\n", compiled.error().message.c_str());
    std::abort();
  }
  return std::move(compiled).value();
}

std::string FormatBytes(double bytes) {
  char buf[48];
  if (bytes >= kGiB) {
    std::snprintf(buf, sizeof buf, "%gGiB", bytes / kGiB);
  } else if (bytes >= kMiB / 10) {
    std::snprintf(buf, sizeof buf, "%gMiB", bytes / kMiB);
  } else {
    std::snprintf(buf, sizeof buf, "%gKiB", bytes / kKiB);
  }
  return buf;
}

// ---- corpus -----------------------------------------------------------------------------------------------

namespace corpus {
namespace {

// Memory noise: 0.5% of the level per sample. A real service's RSS sampled every second moves by a few pages
// to a few MiB between samples (allocator caches, request buffers); 0.5% of a 300 MiB process is 1.5 MiB.
constexpr double kMemoryNoise = 0.005;

SignalModel Memory(Shape shape, double noise) {
  SignalModel m;
  m.shape = std::move(shape);
  m.noise = noise;
  m.quantum = kPageBytes;
  m.minimum = kPageBytes;
  return m;
}

SignalModel Count(Shape shape, double noise_absolute, double minimum) {
  SignalModel m;
  m.shape = std::move(shape);
  m.noise_absolute = noise_absolute;
  m.quantum = 1;
  m.minimum = minimum;
  return m;
}

Scenario Base(std::string name, std::string description, double limit_bytes, uint64_t seed) {
  Scenario s;
  s.name = std::move(name);
  s.description = std::move(description);
  s.memory_limit_bytes = limit_bytes;
  s.threads = IdleThreads();
  s.open_fds = IdleFds();
  s.seed = seed;
  return s;
}

std::string Percent(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gpct", ratio * 100);
  return buf;
}

std::string Seconds(double s) {
  char buf[32];
  if (s >= 60 && std::fmod(s, 60) == 0) {
    std::snprintf(buf, sizeof buf, "%gmin", s / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%gs", s);
  }
  return buf;
}

std::string Rate(double bytes_per_s) {
  char buf[48];
  if (bytes_per_s >= kMiB) {
    std::snprintf(buf, sizeof buf, "%gMiB_per_s", bytes_per_s / kMiB);
  } else {
    std::snprintf(buf, sizeof buf, "%gMiB_per_min", bytes_per_s * 60 / kMiB);
  }
  return buf;
}

}  // namespace

// A service idling with 20 threads (a small pool whose workers come and go: sigma 1 thread) and 100 open fds
// (connections opening and closing: sigma 2 fds). Counts churn by a few units whatever their level, so their
// noise is absolute.
SignalModel IdleThreads() { return Count(Constant(20), 1, 1); }
SignalModel IdleFds() { return Count(Constant(100), 2, 3); }

Scenario MemoryLeak(const MemoryLeakParams& p) {
  Scenario s =
      Base("memory_leak/" + FormatBytes(p.limit_bytes) + "/" + Rate(p.rate_bytes_per_s),
           "steady at " + Percent(p.base_ratio) + " of the limit, then a linear leak until the limit",
           p.limit_bytes, p.seed);
  s.memory = Memory(Linear(p.base_ratio * p.limit_bytes, p.steady_s, p.rate_bytes_per_s), p.noise);
  s.leak_start_s = p.steady_s;
  return s;
}

double MemoryLeakLimitTime(const MemoryLeakParams& p) {
  return p.steady_s + (1 - p.base_ratio) * p.limit_bytes / p.rate_bytes_per_s;
}

Scenario StepChange(double limit_bytes, double base_ratio, double step, double at_s, double noise,
                    uint64_t seed) {
  Scenario s = Base("step/" + Percent(base_ratio) + "+" + Percent(step),
                    "steady, then one jump that stays (a cache filled, a bigger pool)", limit_bytes, seed);
  s.memory = Memory(Step(base_ratio * limit_bytes, at_s, base_ratio * (1 + step) * limit_bytes), noise);
  return s;
}

Scenario Sawtooth(double limit_bytes, double period_s, double amplitude_ratio, double base_ratio,
                  double noise, uint64_t seed) {
  Scenario s = Base("sawtooth/" + Seconds(period_s) + "/" + Percent(amplitude_ratio),
                    "a garbage-collected heap: rises linearly, drops back each period", limit_bytes, seed);
  s.memory = Memory(
      sim::Sawtooth(base_ratio * limit_bytes, (base_ratio + amplitude_ratio) * limit_bytes, period_s), noise);
  return s;
}

Scenario NoisySteady(double limit_bytes, double level_ratio, double noise, double outlier_rate,
                     double outlier_ratio, uint64_t seed) {
  Scenario s = Base("steady/" + Percent(level_ratio) + "/noise_" + Percent(noise),
                    "steady with Gaussian noise and single-sample outliers", limit_bytes, seed);
  s.memory = Memory(Constant(level_ratio * limit_bytes), noise);
  s.memory.outlier_rate = outlier_rate;
  s.memory.outlier_ratio = outlier_ratio;
  return s;
}

Scenario StartupGrowth(double limit_bytes, double from_ratio, double to_ratio, double over_s, uint64_t seed) {
  Scenario s = Base("startup/" + Percent(from_ratio) + "_to_" + Percent(to_ratio) + "_in_" + Seconds(over_s),
                    "start-up: caches and pools fill, then flat", limit_bytes, seed);
  s.memory = Memory(Ramp(from_ratio * limit_bytes, to_ratio * limit_bytes, 0, over_s), kMemoryNoise);
  s.threads = Count(Ramp(4, 40, 0, 20), 1, 1);
  return s;
}

namespace {

std::vector<Interval> Every(double every_s, double duration_s, const std::vector<double>& lengths_s) {
  std::vector<Interval> out;
  size_t i = 0;
  for (double start = every_s; start < duration_s; start += every_s, ++i) {
    out.push_back(Interval{start, lengths_s[i % lengths_s.size()]});
  }
  return out;
}

}  // namespace

Scenario MemoryBursts(double limit_bytes, double base_ratio, double burst, std::vector<double> lengths_s,
                      double every_s, double duration_s, uint64_t seed) {
  Scenario s = Base("memory_bursts/" + Percent(base_ratio) + "+" + Percent(burst),
                    "a batch or a large request: memory up for 20-60 s, then back", limit_bytes, seed);
  s.memory =
      Memory(Pulses(Constant(base_ratio * limit_bytes), Every(every_s, duration_s, lengths_s), 1 + burst),
             kMemoryNoise);
  return s;
}

Scenario ThreadBursts(double limit_bytes, double base_threads, double factor, double length_s, double every_s,
                      double duration_s, uint64_t seed) {
  Scenario s = Base("thread_bursts/x" + Num(factor) + "_for_" + Seconds(length_s),
                    "a pool grows for a burst of work, then shrinks", limit_bytes, seed);
  s.memory = Memory(Constant(0.4 * limit_bytes), kMemoryNoise);
  s.threads = Count(Pulses(Constant(base_threads), Every(every_s, duration_s, {length_s}), factor), 1, 1);
  return s;
}

Scenario Gaps(double limit_bytes, double level_ratio, double gap_s, double every_s, double duration_s,
              uint64_t seed) {
  Scenario s = Base("gaps/" + Seconds(gap_s) + "_every_" + Seconds(every_s),
                    "the agent misses ticks (a stopped process, an overloaded host)", limit_bytes, seed);
  s.memory = Memory(Constant(level_ratio * limit_bytes), 0.01);
  s.gaps = Every(every_s, duration_s, {gap_s});
  return s;
}

Scenario FdLeak(double max_fds, double base_fds, double rate_per_s, double steady_s, uint64_t seed) {
  Scenario s = Base("fd_leak/" + Num(max_fds) + "/" + Num(rate_per_s) + "_per_s",
                    "open fds steady, then a leak until max_fds", 512 * kMiB, seed);
  s.memory = Memory(Constant(0.3 * 512 * kMiB), kMemoryNoise);
  s.open_fds = Count(Linear(base_fds, steady_s, rate_per_s), 2, 3);
  s.max_fds = max_fds;
  s.leak_start_s = steady_s;
  return s;
}

Scenario ThreadLeak(double base_threads, double rate_per_s, double steady_s, uint64_t seed) {
  Scenario s = Base("thread_leak/" + Num(base_threads) + "+" + Num(rate_per_s) + "_per_s",
                    "threads steady, then one more every 1/rate seconds", 512 * kMiB, seed);
  s.memory = Memory(Constant(0.3 * 512 * kMiB), kMemoryNoise);
  s.threads = Count(Linear(base_threads, steady_s, rate_per_s), 1, 1);
  s.leak_start_s = steady_s;
  return s;
}

std::vector<Scenario> NoiseCorpus(double limit_bytes) {
  std::vector<Scenario> out;
  // Noisy steady states at 50% and 75% of the limit; outliers: one sample in 10 (5) minutes off by 10-20%
  // (a sample read while a large buffer is mapped; at 75% + 20% the outlier itself crosses the 85%
  // threshold).
  out.push_back(NoisySteady(limit_bytes, 0.5, 0.01, 1.0 / 600, 0.1, 41));
  out.push_back(NoisySteady(limit_bytes, 0.5, 0.02, 1.0 / 600, 0.2, 42));
  out.push_back(NoisySteady(limit_bytes, 0.75, 0.02, 1.0 / 300, 0.2, 43));
  // Garbage-collected heaps: 40% of the limit plus a 10% or 20% sawtooth at 30 s, 2 min and 5 min.
  uint64_t seed = 50;
  for (const double period : {30.0, 120.0, 300.0}) {
    for (const double amplitude : {0.1, 0.2})
      out.push_back(Sawtooth(limit_bytes, period, amplitude, 0.4, 0.005, ++seed));
  }
  out.push_back(StartupGrowth(limit_bytes));
  out.push_back(MemoryBursts(limit_bytes));
  out.push_back(ThreadBursts(limit_bytes));
  out.push_back(Gaps(limit_bytes));
  return out;
}

}  // namespace corpus
}  // namespace leakwatch::sim
