// The default rule set. docs/RULES.md explains each rule (what, why, how to tune) in this order; the
// detection figures there were measured with bench/rules_quality on exactly these specs.
#include "leakwatch/rules.h"

namespace leakwatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

RuleSpec Base(std::string name, RuleKind kind, Signal signal, Severity severity) {
  RuleSpec r;
  r.name = std::move(name);
  r.kind = kind;
  r.signal = signal;
  r.severity = severity;
  r.origin = "default rule " + r.name;
  return r;
}

}  // namespace

std::vector<RuleSpec> DefaultRules() {
  std::vector<RuleSpec> rules;

  // The OOM killer compares the cgroup's charge with its limit; the working set is the part the kernel
  // cannot simply drop (what kubelet evicts on and cAdvisor calls memory).
  RuleSpec memory_high = Base("memory_near_limit", RuleKind::kThreshold, Signal::kCgroupMemoryWorkingSetBytes,
                              Severity::kWarning);
  memory_high.limit.source = LimitSource::kAuto;
  memory_high.above_limit_ratio = 0.85;
  memory_high.hold = seconds(30);
  memory_high.clear_after = minutes(1);
  memory_high.hysteresis = 0.05;
  rules.push_back(std::move(memory_high));

  RuleSpec memory_ttl = Base("memory_time_to_limit", RuleKind::kTimeToLimit,
                             Signal::kCgroupMemoryWorkingSetBytes, Severity::kCritical);
  memory_ttl.limit.source = LimitSource::kAuto;
  memory_ttl.horizon = minutes(10);
  // Measured with bench/rules_quality on the simulated corpus (tests/support/rule_sim.h). A 3 min window
  // spans at least 1.5 periods of a 2 min GC sawtooth (with 2 min, a lopsided window saw only the rising
  // edge and projected the limit in 4-5 min), and a 30 s hold outlasts the slope a 60 s burst or a +20% step
  // (from <= 50% of the limit) leaves in the window; together they still fire >= 75 s before the limit for a
  // leak taking 3 min from 30% of the limit to the limit. The 5 min warm-up covers start-up growth (caches
  // and pools filling for ~3 min after exec, which the in-process agent sees from its first tick).
  memory_ttl.window = minutes(3);
  memory_ttl.hold = seconds(30);
  memory_ttl.warmup = minutes(5);
  memory_ttl.clear_after = minutes(2);
  memory_ttl.hysteresis = 0.5;
  // The evidence is written while there is still room to write it.
  memory_ttl.actions = {"log", "bundle"};
  rules.push_back(std::move(memory_ttl));

  // The last chance: a leak fast enough to reach the limit within a minute or two outruns the 3 min window
  // above (and its 5 min warm-up). A 10 s window (the shortest a rule takes) sees it 5 s after it starts,
  // whatever its rate; the 30 s horizon keeps sawtooths, bursts and start-up growth (whose projections are
  // minutes away) from reaching it, and the headroom is measured from the fitted level, so one outlying
  // sample near the limit does not count as the limit coming. Measured with the simulator: no firing on the
  // noise corpus over 10 seeds x 6 h on two limits; a leak taking 10 s from any level to the limit fires 5 s
  // before it. No hold: the bundle must be written while the process still lives.
  RuleSpec memory_imminent = Base("memory_oom_imminent", RuleKind::kTimeToLimit,
                                  Signal::kCgroupMemoryWorkingSetBytes, Severity::kCritical);
  memory_imminent.limit.source = LimitSource::kAuto;
  memory_imminent.window = seconds(10);
  memory_imminent.min_coverage = 0.5;
  memory_imminent.horizon = seconds(30);
  memory_imminent.hold = seconds(0);
  memory_imminent.warmup = seconds(10);
  memory_imminent.clear_after = minutes(1);
  memory_imminent.hysteresis = 0.5;
  memory_imminent.actions = {"log", "bundle"};
  rules.push_back(std::move(memory_imminent));

  RuleSpec memory_growth =
      Base("memory_growth", RuleKind::kGrowth, Signal::kResidentMemoryBytes, Severity::kWarning);
  // The window spans four periods of a 5 min GC sawtooth: over a shorter one the robust slope follows the
  // rising edges (Theil-Sen discards the drops as outliers) and a 10-20% sawtooth read as +25-45%. The
  // warm-up is the window, so the first evaluation sees a full window, not the two sawtooth periods that
  // half of it would hold.
  memory_growth.window = minutes(20);
  memory_growth.increase = 0.15;
  memory_growth.warmup = minutes(20);
  memory_growth.hold = minutes(1);
  memory_growth.clear_after = minutes(5);
  memory_growth.hysteresis = 0.2;
  rules.push_back(std::move(memory_growth));

  RuleSpec threads = Base("threads_spike", RuleKind::kSpike, Signal::kThreads, Severity::kWarning);
  threads.window = minutes(1);
  threads.baseline = BaselineKind::kMedian;
  threads.factor = 3;
  threads.floor = 50;
  threads.hold = seconds(30);
  threads.clear_after = minutes(1);
  rules.push_back(std::move(threads));

  // A steady thread leak (one per request that never ends) is not a spike: a 1 min median follows a ramp of
  // +1 thread/s closely enough that the count never triples it. This catches what the spike rule cannot:
  // +1 thread/min or more, sustained, and at least +25% over 10 min. The warm-up is start-up (pools filling)
  // plus one window.
  RuleSpec threads_growth = Base("threads_growth", RuleKind::kGrowth, Signal::kThreads, Severity::kWarning);
  threads_growth.window = minutes(10);
  threads_growth.rate = 1.0 / 60;
  threads_growth.increase = 0.25;
  threads_growth.warmup = minutes(15);
  threads_growth.hold = minutes(1);
  threads_growth.clear_after = minutes(5);
  threads_growth.hysteresis = 0.2;
  rules.push_back(std::move(threads_growth));

  RuleSpec fds_high = Base("fds_near_limit", RuleKind::kThreshold, Signal::kOpenFds, Severity::kWarning);
  fds_high.limit.source = LimitSource::kAuto;
  fds_high.above_limit_ratio = 0.9;
  fds_high.hold = seconds(15);
  fds_high.clear_after = minutes(1);
  fds_high.hysteresis = 0.05;
  rules.push_back(std::move(fds_high));

  RuleSpec fds_ttl = Base("fds_time_to_limit", RuleKind::kTimeToLimit, Signal::kOpenFds, Severity::kCritical);
  fds_ttl.limit.source = LimitSource::kAuto;
  fds_ttl.horizon = minutes(10);
  fds_ttl.window = minutes(2);
  fds_ttl.hold = seconds(15);
  fds_ttl.clear_after = minutes(2);
  fds_ttl.hysteresis = 0.5;
  rules.push_back(std::move(fds_ttl));

  return rules;
}

}  // namespace leakwatch
