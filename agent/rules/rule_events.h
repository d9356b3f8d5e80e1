#pragma once
// What the rule engine tells the rest of the agent: transitions (to log and count) and action runs.
//
// Thread-safety: the engine calls both interfaces on the sampler thread, inside the tick; implementations
// must return quickly (an action that does real work hands it to a worker of its own) and must not throw (the
// engine catches and counts a throw, but the action is then lost).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/rules.h"

namespace leakwatch::internal {

// What happened to the actions of a firing.
enum class ActionOutcome : uint8_t {
  kNone,                  // no firing in this event, or the rule has no actions
  kRun,                   // the actions were started
  kSuppressedCooldown,    // within `cooldown` of the last run
  kSuppressedMaxActions,  // `max_actions` runs already in the last `actions_window`
};
std::string_view ActionOutcomeName(ActionOutcome outcome);

struct RuleEvent {
  const RuleStatus& status;  // the rule's status after the transition
  RuleState from = RuleState::kOk;
  RuleState to = RuleState::kOk;
  bool retrigger = false;  // high_water: a new peak while already firing
  ActionOutcome actions = ActionOutcome::kNone;
};

class RuleEventSink {
 public:
  virtual ~RuleEventSink() = default;
  virtual void OnTransition(const RuleEvent& event) = 0;
};

class ActionRunner {
 public:
  virtual ~ActionRunner() = default;
  // Action names this runner knows (the compile step rejects others).
  virtual std::vector<std::string> names() const = 0;
  // Starts `action` for the firing described by `event`. Returns quickly; never blocks on I/O.
  virtual void Run(std::string_view action, const RuleEvent& event) = 0;
};

// Logs every transition as one structured event (logfmt text, or a JSON object with log.json).
class LoggingEventSink final : public RuleEventSink {
 public:
  void OnTransition(const RuleEvent& event) override;
};

// The actions available before incident bundles exist: "log" writes one line naming the rule and its values.
class LogActionRunner final : public ActionRunner {
 public:
  std::vector<std::string> names() const override { return {"log"}; }
  void Run(std::string_view action, const RuleEvent& event) override;
};

}  // namespace leakwatch::internal
