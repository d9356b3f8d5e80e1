#pragma once
// One rule's published status as a JSON object, shared by the /status document and the bundle manifest.
//
// Thread-safety: a pure function. Cost: a few dozen small allocations (the description string included).

#include <nlohmann/json.hpp>

#include "leakwatch/rules.h"

namespace leakwatch::internal {

// REQUIRES: status.spec. Absent or non-finite values are left out; "since" is "" when never set.
nlohmann::json RuleStatusJson(const RuleStatus& status);

}  // namespace leakwatch::internal
