#pragma once
// The preload library's agent: one per process, started from the environment before the host's main() runs
// and stopped at exit. docs/ATTACH.md describes the behaviour; agent/attach/attach_settings.h the variables.
//
//   OnLoad()          from the ELF constructor: single-threaded and before main(), so it only reads the
//                     environment, removes the library from LD_PRELOAD (unless LEAKWATCH_EXEC=inherit) and
//                     installs the fork handlers. No thread, no socket, no file.
//   StartBeforeMain() from the wrapped main(): all constructors have run and libc is fully up. Checks the
//                     dependencies (agent/attach/dependency_guard.h), starts the agent, registers the exit
//                     handler. Any failure is one log line on stderr; the host then runs without the agent.
//   At exit           the agent is stopped (sampler, bundle worker and HTTP server joined: tens of ms) and
//   its
//                     discovery file removed.
//   On fork           the child never runs the parent's agent. With LEAKWATCH_FORK=children, a child still
//                     alive after LEAKWATCH_FORK_DELAY starts its own agent on LEAKWATCH_CHILD_LISTEN.
//
// Thread-safety: OnLoad before any thread exists; the rest from any thread. Nothing here throws.

namespace leakwatch::internal::preload {

// `library_path`: this library's path as the dynamic loader loaded it (for LD_PRELOAD clean-up).
void OnLoad(const char* library_path);

void StartBeforeMain();

}  // namespace leakwatch::internal::preload
