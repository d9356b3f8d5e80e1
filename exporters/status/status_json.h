#pragma once
// The agent's read-only JSON status document (served at /status next to /metrics): every rule with its state
// and why, the trends the rules keep, the config file's reload state and the heap profiler's state. Field
// reference: docs/RULES.md.
//
// Thread-safety: a pure function of its arguments. Cost: ~2 µs per rule (string formatting); runs on an HTTP
// worker thread, never on the sampler's.

#include <string>

#include "agent/heap_sampler/heap_profiler.h"
#include "leakwatch/rules.h"

namespace leakwatch::exporters {

// `rules` may be null (before the first tick): "rules" is then an empty list. `heap`, when given, becomes
// "heap_profiler": its state, why it is not running, the unwinder, the allocator under the hooks and its
// counters (docs/HEAP_PROFILER.md).
std::string RenderStatusJson(const RulesStatus* rules, const ConfigStatus& config,
                             const internal::HeapProfilerStatus* heap = nullptr);

}  // namespace leakwatch::exporters
