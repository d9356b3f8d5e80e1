#include "agent/rules/rule_engine.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <exception>

#include "agent/logging/log.h"

namespace leakwatch::internal {
namespace {

using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

double Seconds(std::chrono::nanoseconds d) { return duration<double>(d).count(); }
milliseconds Ms(std::chrono::nanoseconds d) { return duration_cast<milliseconds>(d); }

// The evaluated condition of one rule in one tick.
struct Evaluation {
  bool evaluated = false;
  RuleReason reason = RuleReason::kNoData;  // why not evaluated, when !evaluated
  bool breach = false;
  bool clear = true;
  std::optional<double> value, threshold, limit, slope, baseline, seconds_to_limit;
  milliseconds progress{0}, needed{0};
};

// "value above threshold" and its clear condition with the hysteresis margin.
void CompareAbove(double value, double threshold, double hysteresis, Evaluation& e) {
  e.evaluated = true;
  e.value = value;
  e.threshold = threshold;
  e.breach = value > threshold;
  e.clear = hysteresis > 0 ? value < threshold - hysteresis * std::fabs(threshold) : !e.breach;
}

// The tracker's slope, recorded in `e`; without one, `e` says how much of the window is filled.
std::optional<double> SlopeOrFilling(const SlopeTracker& tracker, Evaluation& e) {
  e.slope = tracker.slope();
  if (!e.slope) {
    e.reason = RuleReason::kFillingWindow;
    e.progress = tracker.covered();
    e.needed = tracker.needed();
  }
  return e.slope;
}

bool SameSpec(const RuleSpec& a, const RuleSpec& b) {
  const auto limit = [](const LimitSpec& l) { return std::tie(l.source, l.signal, l.value); };
  return a.name == b.name && a.kind == b.kind && a.signal == b.signal && a.severity == b.severity &&
         a.enabled == b.enabled && limit(a.limit) == limit(b.limit) && a.above == b.above &&
         a.above_limit_ratio == b.above_limit_ratio && a.window == b.window && a.rate == b.rate &&
         a.increase == b.increase && a.min_coverage == b.min_coverage && a.baseline == b.baseline &&
         a.baseline_includes_current == b.baseline_includes_current && a.factor == b.factor &&
         a.min_increase == b.min_increase && a.floor == b.floor && a.horizon == b.horizon &&
         a.step == b.step && a.step_ratio == b.step_ratio && a.hold == b.hold &&
         a.clear_after == b.clear_after && a.hysteresis == b.hysteresis && a.warmup == b.warmup &&
         a.actions == b.actions && a.cooldown == b.cooldown && a.max_actions == b.max_actions &&
         a.actions_window == b.actions_window;
}

}  // namespace

// The samples the engine keeps of one signal.
struct RuleEngine::Feed {
  Signal signal = Signal::kCount;
  bool seen = false;
  TimePoint last{};
  TimePoint restarted{};  // first sample after the start or the last gap
  std::unique_ptr<SampleRing> ring;
  std::chrono::nanoseconds ring_window{0};
  std::vector<SlopeTracker*> trackers;
};

// One rule and its state.
struct RuleEngine::Runtime {
  std::shared_ptr<const RuleSpec> spec;
  Feed* feed = nullptr;
  SlopeTracker* tracker = nullptr;
  RuleStatus status;
  bool loaded = false;  // loaded_at is set
  TimePoint loaded_at{};
  std::optional<TimePoint> pending_since;
  std::optional<TimePoint> clearing_since;
  std::optional<double> mark;  // high_water: the peak at the last firing (or over the warm-up)
  std::optional<TimePoint> last_action;
  std::deque<TimePoint> action_times;  // within actions_window
};

RuleEngine::RuleEngine(CompiledRules rules, std::chrono::nanoseconds period, RuleEventSink* events,
                       ActionRunner* actions)
    : period_(period.count() > 0 ? period : std::chrono::seconds(1)), events_(events), actions_(actions) {
  Build(std::move(rules), {});
  status_ = std::make_shared<RulesStatus>();
}

RuleEngine::~RuleEngine() = default;

void RuleEngine::Build(CompiledRules compiled, std::vector<std::unique_ptr<Runtime>> previous) {
  std::map<Signal, std::unique_ptr<Feed>> old_feeds = std::move(feeds_);
  std::map<TrackerKey, std::unique_ptr<SlopeTracker>> old_trackers = std::move(trackers_);
  feeds_.clear();
  trackers_.clear();
  rules_.clear();

  // Windows first: a feed per signal, a ring as long as the longest spike window, a tracker per key.
  std::map<Signal, std::chrono::nanoseconds> ring_windows;
  for (const auto& spec : compiled.rules) {
    if (spec->kind == RuleKind::kSpike) {
      auto& w = ring_windows[spec->signal];
      w = std::max<std::chrono::nanoseconds>(w, spec->window);
    }
  }
  const auto feed_for = [&](Signal s) -> Feed* {
    auto& slot = feeds_[s];
    if (!slot) {
      auto old = old_feeds.find(s);
      if (old != old_feeds.end()) {
        slot = std::move(old->second);
        slot->trackers.clear();
      } else {
        slot = std::make_unique<Feed>();
        slot->signal = s;
      }
      const auto rw = ring_windows.find(s);
      const std::chrono::nanoseconds want =
          rw == ring_windows.end() ? std::chrono::nanoseconds(0) : rw->second;
      if (want != slot->ring_window) {
        slot->ring_window = want;
        slot->ring = want.count() > 0 ? std::make_unique<SampleRing>(static_cast<size_t>(want / period_) + 2)
                                      : nullptr;
      }
    }
    return slot.get();
  };

  for (auto& spec : compiled.rules) {
    auto runtime = std::make_unique<Runtime>();
    runtime->feed = feed_for(spec->signal);
    if (spec->kind == RuleKind::kGrowth || spec->kind == RuleKind::kTimeToLimit) {
      const TrackerKey key{spec->signal, spec->window.count(), spec->min_coverage};
      auto& slot = trackers_[key];
      if (!slot) {
        auto old = old_trackers.find(key);
        slot = old != old_trackers.end()
                   ? std::move(old->second)
                   : std::make_unique<SlopeTracker>(spec->window, spec->min_coverage, period_);
        runtime->feed->trackers.push_back(slot.get());
      }
      runtime->tracker = slot.get();
    }
    // An unchanged rule keeps its state.
    for (auto& old : previous) {
      if (old && SameSpec(*old->spec, *spec)) {
        old->feed = runtime->feed;
        old->tracker = runtime->tracker;
        runtime = std::move(old);
        break;
      }
    }
    runtime->spec = spec;
    runtime->status.spec = spec;
    if (!spec->enabled) runtime->status.reason = RuleReason::kDisabled;
    rules_.push_back(std::move(runtime));
  }
}

void RuleEngine::Replace(CompiledRules rules) {
  std::vector<std::unique_ptr<Runtime>> previous = std::move(rules_);
  Build(std::move(rules), std::move(previous));
}

std::shared_ptr<const RulesStatus> RuleEngine::status() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

void RuleEngine::Evaluate(const Snapshot& snapshot) {
  try {
    FeedSignals(snapshot);
    for (auto& rule : rules_) EvaluateRule(*rule, snapshot);
    Publish(snapshot);
  } catch (const std::exception& e) {
    if (internal_errors_++ == 0)
      Log()->error("rules: evaluation failed (further failures not logged): {}", e.what());
  }
}

void RuleEngine::FeedSignals(const Snapshot& snapshot) {
  const TimePoint now = snapshot.steady_time;
  for (auto& [signal, feed] : feeds_) {
    const std::optional<double> value = snapshot.get(signal);
    if (!value || !std::isfinite(*value)) continue;
    if (feed->seen && now <= feed->last) continue;  // not in time order: ignore
    if (!feed->seen || now - feed->last > period_ * 3 / 2) {
      feed->restarted = now;
      if (feed->ring) feed->ring->Clear();
      for (SlopeTracker* t : feed->trackers) t->Restart();
    }
    feed->seen = true;
    feed->last = now;
    if (feed->ring) feed->ring->Add(now, *value);
    for (SlopeTracker* t : feed->trackers) t->Add(now, *value);
  }
}

void RuleEngine::EvaluateRule(Runtime& rule, const Snapshot& snapshot) {
  const RuleSpec& spec = *rule.spec;
  RuleStatus& st = rule.status;
  const TimePoint now = snapshot.steady_time;
  if (!spec.enabled) return;
  if (!rule.loaded) {
    rule.loaded = true;
    rule.loaded_at = now;
    st.since = now;
    st.since_wall = snapshot.wall_time;
  }

  const std::optional<double> value = snapshot.get(spec.signal);
  st.signal_value = value;
  Evaluation e;
  std::optional<double> limit;
  switch (spec.limit.source) {
    case LimitSource::kNone:
      break;
    case LimitSource::kAuto:
      if (const auto s = NaturalLimit(spec.signal)) limit = snapshot.get(*s);
      break;
    case LimitSource::kSignal:
      limit = snapshot.get(spec.limit.signal);
      break;
    case LimitSource::kValue:
      limit = spec.limit.value;
      break;
  }
  e.limit = limit;
  const bool fresh = value && rule.feed->seen && rule.feed->last == now;
  const std::chrono::nanoseconds age = now - rule.loaded_at;

  if (!fresh) {
    e.reason = RuleReason::kNoData;
  } else if (age < spec.warmup) {
    e.reason = RuleReason::kWarmingUp;
    e.progress = Ms(age);
    e.needed = spec.warmup;
    if (spec.kind == RuleKind::kHighWater) rule.mark = std::max(rule.mark.value_or(*value), *value);
  } else if (spec.limit.source != LimitSource::kNone && !limit) {
    e.reason = RuleReason::kNoLimit;
  } else {
    const double v = *value;
    switch (spec.kind) {
      case RuleKind::kThreshold: {
        const double threshold = spec.above ? *spec.above : *spec.above_limit_ratio * *limit;
        CompareAbove(v, threshold, spec.hysteresis, e);
        break;
      }
      case RuleKind::kGrowth: {
        const std::optional<double> slope = SlopeOrFilling(*rule.tracker, e);
        if (!slope) break;
        Evaluation by_rate, by_increase;
        bool breach = true, clear = false, ok = true;
        if (spec.rate) {
          CompareAbove(*slope, *spec.rate, spec.hysteresis, by_rate);
          breach = breach && by_rate.breach;
          clear = clear || by_rate.clear;
        }
        if (spec.increase) {
          const std::optional<double> level = rule.tracker->level_at_window_start();
          if (!level || *level <= 0) {
            ok = false;
          } else {
            e.baseline = level;
            CompareAbove(*slope * Seconds(spec.window) / *level, *spec.increase, spec.hysteresis,
                         by_increase);
            breach = breach && by_increase.breach;
            clear = clear || by_increase.clear;
          }
        }
        if (!ok) {
          e.reason = RuleReason::kNoData;
          break;
        }
        const Evaluation& shown = spec.increase ? by_increase : by_rate;
        e.evaluated = true;
        e.value = shown.value;
        e.threshold = shown.threshold;
        e.breach = breach;
        e.clear = clear;
        break;
      }
      case RuleKind::kTimeToLimit: {
        const std::optional<double> slope = SlopeOrFilling(*rule.tracker, e);
        if (!slope) break;
        const double horizon = Seconds(spec.horizon);
        e.evaluated = true;
        e.threshold = horizon;
        // The headroom is measured from the lower of the sample and the fitted level: a single high sample
        // (one outlier tick) must not shrink it, while a real rise shows in both.
        const double level = std::min(v, rule.tracker->level_now().value_or(v));
        if (v >= *limit) {
          e.seconds_to_limit = 0;
        } else if (*slope > 0) {
          e.seconds_to_limit = (*limit - level) / *slope;
        }
        if (!e.seconds_to_limit) break;  // not growing: no breach, clear
        e.value = e.seconds_to_limit;
        e.breach = *e.seconds_to_limit < horizon;
        e.clear = spec.hysteresis > 0 ? *e.seconds_to_limit > horizon * (1 + spec.hysteresis) : !e.breach;
        break;
      }
      case RuleKind::kSpike: {
        Feed& feed = *rule.feed;
        const std::chrono::nanoseconds covered = now - feed.restarted;
        const auto needed = std::chrono::nanoseconds(static_cast<int64_t>(
            static_cast<double>(std::chrono::nanoseconds(spec.window).count()) * spec.min_coverage));
        const std::optional<double> baseline =
            covered >= needed && feed.ring
                ? feed.ring->Baseline(spec.baseline, spec.window, spec.baseline_includes_current)
                : std::nullopt;
        if (!baseline) {
          e.reason = RuleReason::kFillingWindow;
          e.progress = Ms(std::min<std::chrono::nanoseconds>(covered, spec.window));
          e.needed = Ms(needed);
          break;
        }
        e.baseline = baseline;
        double threshold = *baseline * spec.factor.value_or(1);
        if (spec.floor) threshold = std::max(threshold, *spec.floor);
        if (spec.min_increase) threshold = std::max(threshold, *baseline + *spec.min_increase);
        CompareAbove(v, threshold, spec.hysteresis, e);
        break;
      }
      case RuleKind::kHighWater: {
        if (!rule.mark) rule.mark = v;
        const double threshold = spec.step ? *rule.mark + *spec.step : *rule.mark * (1 + *spec.step_ratio);
        e.baseline = rule.mark;
        CompareAbove(v, threshold, spec.hysteresis, e);
        break;
      }
    }
  }
  st.value = e.value;
  st.threshold = e.threshold;
  st.limit = e.limit;
  st.slope = e.slope;
  st.baseline = e.baseline;
  st.seconds_to_limit = e.seconds_to_limit;
  st.progress = e.progress;
  st.needed = e.needed;

  if (!e.evaluated) {
    st.reason = e.reason;
    if (st.state == RuleState::kPending) {
      rule.pending_since.reset();
      Transition(rule, RuleState::kOk, snapshot);
    }
    return;
  }
  // The reason shown when there is no breach.
  const RuleReason quiet = spec.kind == RuleKind::kTimeToLimit && !e.seconds_to_limit
                               ? RuleReason::kNotGrowing
                               : RuleReason::kBelowThreshold;

  switch (st.state) {
    case RuleState::kOk:
      if (!e.breach) {
        st.reason = quiet;
        break;
      }
      rule.pending_since = now;
      if (spec.hold.count() > 0) {
        st.reason = RuleReason::kBreach;
        st.progress = milliseconds(0);
        st.needed = spec.hold;
        Transition(rule, RuleState::kPending, snapshot);
        break;
      }
      st.reason = RuleReason::kBreach;
      Fire(rule, snapshot, RuleState::kOk, false);
      break;
    case RuleState::kPending:
      if (!e.breach) {
        rule.pending_since.reset();
        st.reason = quiet;
        Transition(rule, RuleState::kOk, snapshot);
        break;
      }
      st.reason = RuleReason::kBreach;
      st.progress = Ms(now - *rule.pending_since);
      st.needed = spec.hold;
      if (now - *rule.pending_since >= spec.hold) Fire(rule, snapshot, RuleState::kPending, false);
      break;
    case RuleState::kFiring:
      if (spec.kind == RuleKind::kHighWater && e.breach) {
        st.reason = RuleReason::kBreach;
        rule.clearing_since.reset();
        Fire(rule, snapshot, RuleState::kFiring, true);
        break;
      }
      if (e.clear) {
        if (!rule.clearing_since) rule.clearing_since = now;
        st.reason = RuleReason::kClearing;
        st.progress = Ms(now - *rule.clearing_since);
        st.needed = spec.clear_after;
        if (now - *rule.clearing_since >= spec.clear_after) {
          rule.clearing_since.reset();
          st.reason = quiet;
          st.progress = st.needed = milliseconds(0);
          Transition(rule, RuleState::kOk, snapshot);
        }
      } else {
        rule.clearing_since.reset();
        st.reason = e.breach ? RuleReason::kBreach : RuleReason::kHeldByHysteresis;
      }
      break;
  }
}

void RuleEngine::Transition(Runtime& rule, RuleState to, const Snapshot& snapshot) {
  const RuleState from = rule.status.state;
  rule.status.state = to;
  rule.status.since = snapshot.steady_time;
  rule.status.since_wall = snapshot.wall_time;
  if (events_ != nullptr)
    events_->OnTransition(RuleEvent{rule.status, from, to, false, ActionOutcome::kNone});
}

void RuleEngine::Fire(Runtime& rule, const Snapshot& snapshot, RuleState from, bool retrigger) {
  const RuleSpec& spec = *rule.spec;
  RuleStatus& st = rule.status;
  const TimePoint now = snapshot.steady_time;
  rule.pending_since.reset();
  ++st.fired_total;
  if (spec.kind == RuleKind::kHighWater) rule.mark = st.signal_value;
  st.state = RuleState::kFiring;
  if (!retrigger) {
    st.since = now;
    st.since_wall = snapshot.wall_time;
  }

  ActionOutcome outcome = ActionOutcome::kNone;
  if (!spec.actions.empty()) {
    while (!rule.action_times.empty() && now - rule.action_times.front() >= spec.actions_window) {
      rule.action_times.pop_front();
    }
    if (rule.last_action && now - *rule.last_action < spec.cooldown) {
      outcome = ActionOutcome::kSuppressedCooldown;
    } else if (rule.action_times.size() >= spec.max_actions) {
      outcome = ActionOutcome::kSuppressedMaxActions;
    } else {
      outcome = ActionOutcome::kRun;
      rule.last_action = now;
      rule.action_times.push_back(now);
    }
  }
  if (outcome == ActionOutcome::kRun) {
    ++st.actions_run_total;
  } else if (outcome != ActionOutcome::kNone) {
    ++st.actions_suppressed_total;
  }
  const RuleEvent event{st, from, RuleState::kFiring, retrigger, outcome};
  if (events_ != nullptr) events_->OnTransition(event);
  if (outcome == ActionOutcome::kRun && actions_ != nullptr) {
    for (const auto& action : spec.actions) {
      try {
        actions_->Run(action, event);
      } catch (const std::exception& ex) {
        Log()->error("rules: action {} of rule {} failed: {}", action, spec.name, ex.what());
      }
    }
  }
}

void RuleEngine::Publish(const Snapshot& snapshot) {
  auto status = std::make_shared<RulesStatus>();
  status->sequence = snapshot.sequence;
  status->wall_time = snapshot.wall_time;
  status->rules.reserve(rules_.size());
  for (const auto& rule : rules_) status->rules.push_back(rule->status);
  status->trends.reserve(trackers_.size());
  for (const auto& [key, tracker] : trackers_) {
    SignalTrend trend;
    trend.signal = std::get<0>(key);
    trend.window = tracker->window();
    trend.slope = tracker->slope();
    // The limit of the first time_to_limit rule on this tracker, else the signal's natural limit.
    bool from_rule = false;
    for (const auto& rule : rules_) {
      if (rule->tracker == tracker.get() && rule->spec->kind == RuleKind::kTimeToLimit &&
          rule->spec->enabled) {
        trend.limit = rule->status.limit;
        from_rule = true;
        break;
      }
    }
    if (!from_rule) {
      if (const auto natural = NaturalLimit(trend.signal)) trend.limit = snapshot.get(*natural);
    }
    const std::optional<double> value = snapshot.get(trend.signal);
    if (trend.limit && value && trend.slope) {
      if (*value >= *trend.limit) {
        trend.seconds_to_limit = 0;
      } else if (*trend.slope > 0) {
        trend.seconds_to_limit = (*trend.limit - *value) / *trend.slope;
      }
    }
    status->trends.push_back(trend);
  }
  std::lock_guard lock(status_mu_);
  status_ = std::move(status);
}

}  // namespace leakwatch::internal
