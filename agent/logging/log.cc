#include "agent/logging/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <mutex>
#include <new>
#include <thread>

namespace leakwatch::internal {
namespace {

constexpr const char* kLoggerName = "leakwatch";
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%fZ %l [%n] %v";
// A structured event's payload in JSON mode: kEventMark, the event name, kFieldsMark, then the fields already
// encoded as JSON members ("key":value,...). The JSON formatter splices them into the line's object.
constexpr char kEventMark = '\x1e';
constexpr char kFieldsMark = '\x1f';
std::atomic<bool> g_json{false};

// One JSON object per line: {"time":..., "level":..., "logger":"leakwatch", "pid":..., "thread":...,
// "msg":...}. Messages carry file paths and error texts from the kernel, so they are escaped here, not
// trusted.
void Append(spdlog::memory_buf_t& dest, std::string_view s) { dest.append(s.data(), s.data() + s.size()); }

class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto t = std::chrono::system_clock::to_time_t(msg.time);
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count() % 1000000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char when[96];
    std::snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(us));
    const auto level = spdlog::level::to_string_view(msg.level);
    fmt::format_to(
        std::back_inserter(dest), R"({{"time":"{}","level":"{}","logger":"{}","pid":{},"thread":{},"msg":")",
        when, std::string_view(level.data(), level.size()),
        std::string_view(msg.logger_name.data(), msg.logger_name.size()), ::getpid(), msg.thread_id);
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const size_t fields = payload.find(kFieldsMark);
    if (!payload.empty() && payload[0] == kEventMark && fields != std::string_view::npos) {
      AppendEscaped(payload.substr(1, fields - 1), dest);
      Append(dest, "\"");
      if (fields + 1 < payload.size()) {
        Append(dest, ",");
        Append(dest, payload.substr(fields + 1));
      }
      Append(dest, "}\n");
      return;
    }
    AppendEscaped(payload, dest);
    Append(dest, "\"}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonLineFormatter>(); }

 public:
  static void AppendEscaped(std::string_view s, spdlog::memory_buf_t& dest) {
    for (const char c : s) {
      switch (c) {
        case '"':
          Append(dest, "\\\"");
          break;
        case '\\':
          Append(dest, "\\\\");
          break;
        case '\n':
          Append(dest, "\\n");
          break;
        case '\r':
          Append(dest, "\\r");
          break;
        case '\t':
          Append(dest, "\\t");
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            fmt::format_to(std::back_inserter(dest), "\\u{:04x}", static_cast<int>(c));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
};

std::mutex& LoggerMutex() {
  static auto* mu = new std::mutex;  // leaked on purpose: usable during static destruction
  return *mu;
}

// Held around every write of the agent's log sinks. A pthread_atfork prepare handler takes it, so no agent
// thread is inside fwrite(stderr) when the host forks: the child would inherit stderr's stdio lock held by a
// thread that does not exist there, and the host's first fprintf(stderr) in the child would hang.
std::timed_mutex& SinkWriteGate() {
  static auto* mu = new std::timed_mutex;  // leaked on purpose: usable during static destruction
  return *mu;
}

// Forwards to a single-threaded sink under SinkWriteGate() (which also serialises the writers).
class GatedSink final : public spdlog::sinks::sink {
 public:
  explicit GatedSink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}
  void log(const spdlog::details::log_msg& msg) override {
    std::lock_guard lock(SinkWriteGate());
    inner_->log(msg);
  }
  void flush() override {
    std::lock_guard lock(SinkWriteGate());
    inner_->flush();
  }
  void set_pattern(const std::string& pattern) override {
    std::lock_guard lock(SinkWriteGate());
    inner_->set_pattern(pattern);
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    std::lock_guard lock(SinkWriteGate());
    inner_->set_formatter(std::move(formatter));
  }

 private:
  spdlog::sink_ptr inner_;
};

// What ForkPrepareLogging() holds, for the parent and child handlers to release: per thread, since two host
// threads may fork at once (the second waits for the first's fork to finish, or goes on without the locks).
thread_local bool t_fork_holds_gate = false;
thread_local bool t_fork_holds_logger = false;

std::shared_ptr<spdlog::logger>& CurrentLogger() {
  static auto* logger = new std::shared_ptr<spdlog::logger>([] {
    auto l = std::make_shared<spdlog::logger>(
        kLoggerName, std::make_shared<GatedSink>(std::make_shared<spdlog::sinks::stderr_sink_st>()));
    l->set_formatter(
        std::make_unique<spdlog::pattern_formatter>(kTextPattern, spdlog::pattern_time_type::utc));
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
      sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
    } else if (settings.sink == "stdout") {
      sink = std::make_shared<spdlog::sinks::stdout_sink_st>();
    } else if (settings.sink == "off") {
      sink = std::make_shared<spdlog::sinks::null_sink_st>();
    } else if (settings.sink.rfind("file:", 0) == 0 && settings.sink.size() > 5) {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(settings.sink.substr(5), /*truncate=*/false);
    } else {
      return Error{"log sink \"" + settings.sink + "\" is not one of stderr, stdout, off, file:<path>"};
    }
  } catch (const std::exception& e) {
    return Error{"log sink \"" + settings.sink + "\": " + e.what()};
  }
  auto logger = std::make_shared<spdlog::logger>(kLoggerName, std::make_shared<GatedSink>(std::move(sink)));
  if (settings.json) {
    logger->set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    logger->set_formatter(
        std::make_unique<spdlog::pattern_formatter>(kTextPattern, spdlog::pattern_time_type::utc));
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  std::lock_guard lock(LoggerMutex());
  CurrentLogger() = std::move(logger);
  g_json.store(settings.json, std::memory_order_relaxed);
  return OkStatus();
}

std::shared_ptr<spdlog::logger> Log() {
  std::lock_guard lock(LoggerMutex());
  return CurrentLogger();
}

void ForkPrepareLogging() {
  // Bounded: an agent thread stuck writing to a full stderr pipe must not hang the host's fork().
  t_fork_holds_gate = SinkWriteGate().try_lock_for(std::chrono::milliseconds(20));
  t_fork_holds_logger = LoggerMutex().try_lock();
  for (int i = 0; i < 100 && !t_fork_holds_logger; ++i) {
    std::this_thread::yield();
    t_fork_holds_logger = LoggerMutex().try_lock();
  }
}

void ForkParentLogging() {
  if (t_fork_holds_logger) LoggerMutex().unlock();
  if (t_fork_holds_gate) SinkWriteGate().unlock();
  t_fork_holds_gate = t_fork_holds_logger = false;
}

void ForkChildLogging() {
  // The child has one thread, the forking one: what the prepare handler holds it may release, and a lock
  // the prepare handler could not take is held by a thread that does not exist here, so it is made anew.
  if (t_fork_holds_logger) {
    LoggerMutex().unlock();
  } else {
    new (&LoggerMutex()) std::mutex;
  }
  if (t_fork_holds_gate) {
    SinkWriteGate().unlock();
  } else {
    new (&SinkWriteGate()) std::timed_mutex;
  }
  t_fork_holds_gate = t_fork_holds_logger = false;
}

void LogEvent(spdlog::level::level_enum level, std::string_view event, const std::vector<LogField>& fields) {
  auto logger = Log();
  if (!logger->should_log(level)) return;
  const bool json = g_json.load(std::memory_order_relaxed);
  spdlog::memory_buf_t out;
  if (json) {
    out.push_back(kEventMark);
    Append(out, event);
    out.push_back(kFieldsMark);
  } else {
    Append(out, event);
  }
  bool first = true;
  for (const LogField& f : fields) {
    if (std::holds_alternative<std::monostate>(f.value)) continue;
    if (json) {
      if (!first) out.push_back(',');
      fmt::format_to(std::back_inserter(out), "\"{}\":", f.key);
    } else {
      fmt::format_to(std::back_inserter(out), " {}=", f.key);
    }
    first = false;
    if (const auto* s = std::get_if<std::string_view>(&f.value)) {
      const bool quote = json || s->empty() || s->find_first_of(" =\"\\") != std::string_view::npos;
      if (quote) out.push_back('"');
      JsonLineFormatter::AppendEscaped(*s, out);
      if (quote) out.push_back('"');
    } else if (const auto* d = std::get_if<double>(&f.value)) {
      if (std::isfinite(*d)) {
        fmt::format_to(std::back_inserter(out), "{}", *d);
      } else {
        const char* text = std::isnan(*d) ? "NaN" : (*d > 0 ? "+Inf" : "-Inf");
        if (json) out.push_back('"');
        Append(out, text);
        if (json) out.push_back('"');
      }
    } else if (const auto* i = std::get_if<int64_t>(&f.value)) {
      fmt::format_to(std::back_inserter(out), "{}", *i);
    } else if (const auto* b = std::get_if<bool>(&f.value)) {
      Append(out, *b ? "true" : "false");
    }
  }
  logger->log(level, std::string_view(out.data(), out.size()));
}

}  // namespace leakwatch::internal
