#include "agent/attach/preload_runtime.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <new>
#include <string>

#include "agent/attach/attach_settings.h"
#include "agent/attach/attached_agent.h"
#include "agent/attach/dependency_guard.h"
#include "agent/attach/fork_handlers.h"
#include "agent/logging/log.h"

namespace leakwatch::internal::preload {
namespace {

struct Runtime {
  bool loaded = false;
  AttachSettings settings;
  EnvLookup env;  // the LEAKWATCH_* variables as they were at load time
  std::mutex mu;  // start and stop; re-created in a forked child
  std::condition_variable exiting_cv;
  bool exiting = false;
  AttachedAgent* agent = nullptr;  // never deleted: stopped at exit, abandoned in forked children
  std::string listen;              // the main agent's listen address (children derive theirs from it)
};

Runtime& State() {
  static auto* runtime = new Runtime;  // leaked on purpose: used by the exit and fork handlers
  return *runtime;
}

void StartLocked(Runtime& r, const EnvLookup& env, const char* role) {
  auto started = AttachedAgent::Start(AgentOptions{}, env, r.settings, role);
  if (!started) {
    Log()->error("leakwatch: agent not started, the program runs without it: {}", started.error().message);
    r.settings.fork = ForkMode::kParent;  // children would fail the same way
    return;
  }
  r.agent = started->release();
  r.listen = r.agent->agent().options().http.listen;
}

void StopAtExit() {
  try {
    Runtime& r = State();
    std::lock_guard lock(r.mu);
    r.exiting = true;
    r.exiting_cv.notify_all();
    if (r.agent != nullptr && !r.agent->inherited()) r.agent->stop();
  } catch (...) {
  }
}

void* StartChildAgent(void*) {
  try {
    pthread_setname_np(pthread_self(), "leakwatch-fork");
    Runtime& r = State();
    std::unique_lock lock(r.mu);
    if (r.exiting_cv.wait_for(lock, r.settings.fork_delay, [&r] { return r.exiting; })) return nullptr;
    if (r.agent != nullptr) return nullptr;
    const std::string listen = ChildListenAddress(r.settings, r.listen);
    const EnvLookup parent_env = r.env;
    const EnvLookup env = [parent_env, listen](const char* name) -> std::optional<std::string> {
      if (std::string_view(name) == "LEAKWATCH_LISTEN") return listen;
      return parent_env(name);
    };
    StartLocked(r, env, "child");
  } catch (const std::exception& e) {
    try {
      Log()->error("leakwatch: the forked child's agent did not start: {}", e.what());
    } catch (...) {
    }
  } catch (...) {
  }
  return nullptr;
}

// In the child of fork(), after the logging and socket clean-up (fork_handlers.cc): one thread, and the
// parent's agent threads are gone.
void OnForkChild() {
  Runtime& r = State();
  new (&r.mu) std::mutex;
  new (&r.exiting_cv) std::condition_variable;
  r.agent = nullptr;  // the parent's: abandoned, never touched
  if (r.settings.fork != ForkMode::kChildren || r.exiting) return;
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);  // the starter and the agent's threads take no signals
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) == 0) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    (void)pthread_create(&thread, &attr, &StartChildAgent, nullptr);
    pthread_attr_destroy(&attr);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

// The process environment, read directly (FindInEnvironment says why).
std::optional<std::string> FromEnviron(const char* name) { return FindInEnvironment(environ, name); }

}  // namespace

void OnLoad(const char* library_path) {
  try {
    Runtime& r = State();
    if (r.loaded) return;
    r.loaded = true;
    r.env = CaptureEnvironment(&FromEnviron);
    auto settings = ReadAttachSettings(r.env);
    if (!settings) {
      r.settings.disabled = true;
      Log()->error("leakwatch: agent not started, the program runs without it:\n{}",
                   settings.error().message);
    } else {
      r.settings = *settings;
    }
    if (r.settings.exec == ExecMode::kClean && library_path != nullptr) {
      RemovePreloadFromEnvironment(environ, library_path);
    }
    if (r.settings.disabled) return;
    InstallForkHandlers();
    SetChildForkHook(&OnForkChild);
  } catch (...) {
    State().settings.disabled = true;
  }
}

void StartBeforeMain() {
  try {
    Runtime& r = State();
    if (!r.loaded || r.settings.disabled) return;
    if (auto deps = CheckDependencies(AgentDependencySymbols(), &LocateGlobalSymbol); !deps) {
      r.settings.disabled = true;
      Log()->error(
          "leakwatch: agent not started, the program runs without it: its libraries clash with the "
          "program's own copies:\n{}",
          deps.error().message);
      return;
    }
    {
      std::lock_guard lock(r.mu);
      StartLocked(r, r.env, "main");
    }
    atexit(&StopAtExit);
  } catch (const std::exception& e) {
    try {
      Log()->error("leakwatch: agent not started, the program runs without it: {}", e.what());
    } catch (...) {
    }
  } catch (...) {
  }
}

}  // namespace leakwatch::internal::preload
