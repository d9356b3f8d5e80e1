#pragma once
// Agent::Create with the environment passed in: the attach layer (agent/attach) captures the LEAKWATCH_*
// variables once, before the host's main() runs, and adds its own overrides (a forked child's listen address)
// without calling setenv() in a running host.

#include <memory>

#include "agent/config/config.h"
#include "leakwatch/agent.h"

namespace leakwatch::internal {

// As Agent::Create, reading the LEAKWATCH_* variables through `env` (when options.use_environment).
Result<std::unique_ptr<Agent>> CreateAgent(AgentOptions options, EnvLookup env);

}  // namespace leakwatch::internal
