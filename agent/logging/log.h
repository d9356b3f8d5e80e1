#pragma once
// The agent's logger: a named spdlog logger ("leakwatch"), never the default logger, never registered in
// spdlog's global registry (a host that uses spdlog itself keeps full control of its own loggers).
//
// Thread-safety: Log() may be called from any thread at any time, also before ConfigureLogging() (it then
// logs to stderr at info level). ConfigureLogging() swaps the logger atomically.

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "leakwatch/result.h"

namespace leakwatch::internal {

struct LogSettings {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string sink = "stderr";  // "stderr", "stdout", "off", or "file:<path>"
  bool json = false;            // one JSON object per line instead of text
};

// Validates the settings and installs a new logger; the old one stays in place on error.
Status ConfigureLogging(const LogSettings& settings);

// The current logger. Hold the shared_ptr for the duration of one log call only.
std::shared_ptr<spdlog::logger> Log();

// pthread_atfork handlers (agent/attach/fork_policy.h installs them): prepare takes the logger's locks,
// waiting at most ~20 ms for a write in progress, so that the child does not inherit them (or stdio's) held
// by an agent thread; parent and child release them (the child re-creates any it could not take).
void ForkPrepareLogging();
void ForkParentLogging();
void ForkChildLogging();

// One field of a structured event; monostate fields are left out.
struct LogField {
  std::string_view key;  // [a-z_]+
  std::variant<std::monostate, std::string_view, double, int64_t, bool> value;
};

// Logs a structured event: in text mode as `<event> key=value ...` (logfmt; strings quoted when needed), with
// log.json as top-level members of the line's JSON object next to "msg":"<event>". Non-finite doubles are
// written as strings ("+Inf", "NaN") so that the line stays valid JSON.
void LogEvent(spdlog::level::level_enum level, std::string_view event, const std::vector<LogField>& fields);

}  // namespace leakwatch::internal
