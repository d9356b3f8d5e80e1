#pragma once
// An agent attached to a process from outside its code (the preload library) or through the C API: an Agent
// plus what attaching adds — the discovery file, and knowledge of the process it belongs to.
//
// Fork: a forked child inherits this object's memory but none of the agent's threads, and possibly locks
// that those threads held. In a child every member function therefore sees `inherited()` and does nothing
// with the agent: stop() returns at once and the destructor leaks the Agent instead of joining threads that
// do not exist there. The child's copy of the listening socket is closed by the agent's fork handler
// (agent/attach/fork_handlers.h).
//
// Thread-safety: as Agent (start in Start(), stop() serialised by the Agent).

#include <sys/types.h>

#include <memory>
#include <string>

#include "agent/attach/attach_settings.h"
#include "agent/config/config.h"
#include "leakwatch/agent.h"

namespace leakwatch::internal {

class AttachedAgent {
 public:
  // Creates and starts the agent (options resolved through `env`), then writes the discovery file when
  // configured. `role`: "main" or "child" (a label in the discovery file). Fails when the configuration is
  // invalid or the agent cannot start; an HTTP bind failure is not a failure (sampling goes on; it is
  // logged).
  static Result<std::unique_ptr<AttachedAgent>> Start(AgentOptions options, const EnvLookup& env,
                                                      const AttachSettings& settings, std::string role);

  ~AttachedAgent();
  AttachedAgent(const AttachedAgent&) = delete;
  AttachedAgent& operator=(const AttachedAgent&) = delete;

  // Stops the agent and removes the discovery file. Idempotent; a no-op in a forked child.
  void stop();

  // True in a process forked from the one that started the agent.
  bool inherited() const { return getpid() != owner_; }

  // REQUIRES: !inherited().
  Agent& agent() { return *agent_; }

  int http_port() const { return http_port_; }

 private:
  AttachedAgent(std::unique_ptr<Agent> agent, pid_t owner) : agent_(std::move(agent)), owner_(owner) {}

  std::unique_ptr<Agent> agent_;
  const pid_t owner_;
  int http_port_ = 0;
  std::string discovery_file_;
  bool stopped_ = false;
};

}  // namespace leakwatch::internal
