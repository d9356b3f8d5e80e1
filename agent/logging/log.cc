#include "agent/logging/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <mutex>

namespace leakwatch::internal {
namespace {

constexpr const char* kLoggerName = "leakwatch";
// JSON lines: the message is escaped by the %v flag below only for quotes and backslashes written by leakwatch
// itself; leakwatch never logs raw multi-line text.
constexpr const char* kJsonPattern =
    R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","pid":%P,"thread":%t,"msg":"%v"})";
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%fZ %l [%n] %v";

std::mutex& LoggerMutex() {
  static auto* mu = new std::mutex;  // leaked on purpose: usable during static destruction
  return *mu;
}

std::shared_ptr<spdlog::logger>& CurrentLogger() {
  static auto* logger = new std::shared_ptr<spdlog::logger>(
      [] {
        auto l = std::make_shared<spdlog::logger>(kLoggerName, std::make_shared<spdlog::sinks::stderr_sink_mt>());
        l->set_formatter(std::make_unique<spdlog::pattern_formatter>(kTextPattern, spdlog::pattern_time_type::utc));
        l->set_level(spdlog::level::info);
        return l;
      }());
  return *logger;
}

}  // namespace

Status ConfigureLogging(const LogSettings& settings) {
  const auto level = spdlog::level::from_str(settings.level);
  if (level == spdlog::level::off && settings.level != "off") {
    return Error{"log level \"" + settings.level +
                 "\" is not one of trace, debug, info, warn, error, critical, off"};
  }
  spdlog::sink_ptr sink;
  try {
    if (settings.sink == "stderr") {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else if (settings.sink == "stdout") {
      sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    } else if (settings.sink == "off") {
      sink = std::make_shared<spdlog::sinks::null_sink_mt>();
    } else if (settings.sink.rfind("file:", 0) == 0 && settings.sink.size() > 5) {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(settings.sink.substr(5), /*truncate=*/false);
    } else {
      return Error{"log sink \"" + settings.sink + "\" is not one of stderr, stdout, off, file:<path>"};
    }
  } catch (const std::exception& e) {
    return Error{"log sink \"" + settings.sink + "\": " + e.what()};
  }
  auto logger = std::make_shared<spdlog::logger>(kLoggerName, std::move(sink));
  logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      settings.json ? kJsonPattern : kTextPattern, spdlog::pattern_time_type::utc));
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  std::lock_guard lock(LoggerMutex());
  CurrentLogger() = std::move(logger);
  return OkStatus();
}

std::shared_ptr<spdlog::logger> Log() {
  std::lock_guard lock(LoggerMutex());
  return CurrentLogger();
}

}  // namespace leakwatch::internal
