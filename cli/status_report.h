#pragma once
// The human summary of `leakwatch status`: the agent's /status document and its /metrics, side by side.
//
// Thread-safety: pure functions.

#include <nlohmann/json.hpp>
#include <string>

#include "cli/prom_text.h"

namespace leakwatch::cli {

// Rules in the /status document whose state is "firing".
int CountFiring(const nlohmann::json& status);

// The report: version, process, cgroup, allocator, config, then every rule (firing, pending, then the rest).
// `metrics` may be empty (then only what /status holds is shown).
std::string RenderStatusReport(const std::string& address, const nlohmann::json& status,
                               const PromSamples& metrics);

}  // namespace leakwatch::cli
