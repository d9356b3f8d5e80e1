#pragma once
// The agent's read-only JSON status document (served at /status next to /metrics): every rule with its state
// and why, the trends the rules keep, and the config file's reload state. Field reference: docs/RULES.md.
//
// Thread-safety: a pure function of its arguments. Cost: ~2 µs per rule (string formatting); runs on an HTTP
// worker thread, never on the sampler's.

#include <string>

#include "leakwatch/rules.h"

namespace leakwatch::exporters {

// `rules` may be null (before the first tick): "rules" is then an empty list.
std::string RenderStatusJson(const RulesStatus* rules, const ConfigStatus& config);

}  // namespace leakwatch::exporters
