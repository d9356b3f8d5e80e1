#pragma once
// The agent's logger: a named spdlog logger ("leakwatch"), never the default logger, never registered in
// spdlog's global registry (a host that uses spdlog itself keeps full control of its own loggers).
//
// Thread-safety: Log() may be called from any thread at any time, also before ConfigureLogging() (it then logs
// to stderr at info level). ConfigureLogging() swaps the logger atomically.

#include <spdlog/logger.h>

#include <memory>
#include <string>

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

}  // namespace leakwatch::internal
