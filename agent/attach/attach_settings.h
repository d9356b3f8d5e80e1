#pragma once
// How an attached agent (the LD_PRELOAD library or the C API) behaves around fork() and exec(), read from the
// environment. Parsing is pure (the environment comes in as a lookup); docs/ATTACH.md is the user's
// reference.
//
//   LEAKWATCH_DISABLE=1            the preload library does nothing at all (a kill switch)
//   LEAKWATCH_FORK=parent          (default) the agent stays in the process it started in; forked children
//                                  run without one
//   LEAKWATCH_FORK=children        every forked child that lives longer than LEAKWATCH_FORK_DELAY starts its
//                                  own agent, listening on LEAKWATCH_CHILD_LISTEN
//   LEAKWATCH_FORK_DELAY=1s        0 .. 1h; a child that exec()s or exits sooner never starts one
//   LEAKWATCH_CHILD_LISTEN=ADDR    default: the parent's host with port 0 (an ephemeral port per child)
//   LEAKWATCH_EXEC=clean           (default) the preload library is removed from LD_PRELOAD at start-up, so
//                                  programs this one exec()s run without the agent
//   LEAKWATCH_EXEC=inherit         exec()'d programs keep LD_PRELOAD and start their own agent
//   LEAKWATCH_DISCOVERY_DIR=DIR    every agent writes DIR/leakwatch-<pid>.json (a Prometheus file_sd file)
//                                  once its endpoint is bound, and removes it when it stops
//
// Thread-safety: pure functions.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "agent/config/config.h"
#include "leakwatch/result.h"

namespace leakwatch::internal {

enum class ForkMode { kParent, kChildren };
enum class ExecMode { kClean, kInherit };

struct AttachSettings {
  bool disabled = false;
  ForkMode fork = ForkMode::kParent;
  std::chrono::milliseconds fork_delay{1000};
  std::string child_listen;  // empty: the parent's host, port 0
  ExecMode exec = ExecMode::kClean;
  std::string discovery_dir;  // empty: no discovery file
};

// Reads the variables above; every bad one is reported (name and value), all at once.
Result<AttachSettings> ReadAttachSettings(const EnvLookup& env);

// `ld_preload` (entries separated by spaces or colons, as ld.so accepts) without the entries whose file name
// is that of `library_path` ("libleakwatch_preload.so", "/opt/lib/libleakwatch_preload.so" and a relative
// "lib/libleakwatch_preload.so" all go). The other entries keep their order, joined by spaces.
std::string RemovePreloadEntry(std::string_view ld_preload, std::string_view library_path);

// Reads `name` from an environment array (NAME=value entries, null-terminated) without getenv(): a host may
// interpose getenv/setenv/unsetenv with its own (bash does, for its shell variables), and before its main()
// runs those do not see the process environment yet.
std::optional<std::string> FindInEnvironment(char* const* environment, std::string_view name);

// Removes `library_path` from the LD_PRELOAD entry of `environment`, in place (RemovePreloadEntry): the entry
// is re-pointed at a new string (leaked: the environment owns it from then on), or removed when nothing is
// left. No setenv()/unsetenv(), for the reason above. Returns whether the array changed.
bool RemovePreloadFromEnvironment(char** environment, std::string_view library_path);

// The listen address of a forked child: `child_listen` when set, else the host of `parent_listen` with port
// 0. "off" stays "off".
std::string ChildListenAddress(const AttachSettings& settings, std::string_view parent_listen);

}  // namespace leakwatch::internal
