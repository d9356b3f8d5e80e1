#pragma once
// The compile step of the rules: RulesOptions (plain structs from the API or the config file) -> the
// validated, complete list the rule engine runs. The engine only ever sees compiled rules.
//
// Merge: with options.defaults the list starts as DefaultRules(); a user rule with the name of a default rule
// replaces it in place (keeping its position), other user rules are appended in their order. A user rule that
// names a default rule and sets nothing but `enabled = false` (and its origin) turns that default off: the
// compiled rule is the default with enabled = false.
//
// Kind defaults: window 0 -> growth 5m, time_to_limit 5m, spike 1m; warmup -1ms -> growth and spike their
// window, time_to_limit half its window, high_water 1m, threshold 0.
//
// Validation covers every field of every rule, disabled ones included, and reports every problem at once, one
// line each: `<origin>: rule "<name>": <field as written in YAML>: <value> <what is allowed>`, where origin
// is RuleSpec::origin or "rules[i]" (the index in options.rules) when that is empty, and the field is the
// YAML key
// (`for` for hold; `above` for above and above_limit_ratio; `step` for step and step_ratio).
//
// Thread-safety: a pure function.

#include <memory>
#include <string>
#include <vector>

#include "leakwatch/result.h"
#include "leakwatch/rules.h"

namespace leakwatch::internal {

struct CompiledRules {
  std::vector<std::shared_ptr<const RuleSpec>> rules;  // in evaluation order, kind defaults applied
};

// known_actions: the action names that exist (the agent's: KnownActionNames()).
Result<CompiledRules> CompileRules(const RulesOptions& options,
                                   const std::vector<std::string>& known_actions);

// The actions the agent runs: "log" (one structured log line) and "bundle" (an incident bundle).
const std::vector<std::string>& KnownActionNames();

}  // namespace leakwatch::internal
