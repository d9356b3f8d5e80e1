// The C API (include/leakwatch/leakwatch.h) over AttachedAgent. No exception crosses into C.
#include <cstring>
#include <exception>
#include <string>

#include "agent/attach/attach_settings.h"
#include "agent/attach/attached_agent.h"
#include "leakwatch/leakwatch.h"
#include "leakwatch/signals.h"
#include "leakwatch/version.h"

struct leakwatch_agent {
  std::unique_ptr<leakwatch::internal::AttachedAgent> attached;
};

namespace {

void CopyOut(const std::string& text, char* out, size_t size) {
  if (out == nullptr || size == 0) return;
  const size_t n = std::min(text.size(), size - 1);
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

}  // namespace

extern "C" {

leakwatch_agent* leakwatch_start(const char* config_path, char* error, size_t error_size) {
  using namespace leakwatch;
  try {
    const internal::EnvLookup env = internal::CaptureEnvironment(internal::GetEnv);
    auto settings = internal::ReadAttachSettings(env);
    if (!settings) {
      CopyOut(settings.error().message, error, error_size);
      return nullptr;
    }
    AgentOptions options;
    if (config_path != nullptr) options.config_file = config_path;
    auto attached = internal::AttachedAgent::Start(std::move(options), env, *settings, "main");
    if (!attached) {
      CopyOut(attached.error().message, error, error_size);
      return nullptr;
    }
    return new leakwatch_agent{std::move(*attached)};
  } catch (const std::exception& e) {
    CopyOut(std::string("leakwatch_start failed: ") + e.what(), error, error_size);
  } catch (...) {
    CopyOut("leakwatch_start failed: unknown exception", error, error_size);
  }
  return nullptr;
}

void leakwatch_stop(leakwatch_agent* agent) {
  if (agent == nullptr) return;
  try {
    delete agent;  // ~AttachedAgent stops the agent, or leaves it alone in a forked child
  } catch (...) {
  }
}

int leakwatch_read(const leakwatch_agent* agent, const char* signal, double* value) {
  if (agent == nullptr || signal == nullptr || value == nullptr || agent->attached->inherited()) {
    return LEAKWATCH_ERROR;
  }
  const auto found = leakwatch::FindSignal(signal);
  if (!found) return LEAKWATCH_ERROR;
  const auto snapshot = agent->attached->agent().latest_snapshot();
  const auto v = snapshot ? snapshot->get(*found) : std::nullopt;
  if (!v) return LEAKWATCH_ABSENT;
  *value = *v;
  return LEAKWATCH_OK;
}

int leakwatch_capture(leakwatch_agent* agent, const char* reason, int timeout_ms, char* out,
                      size_t out_size) {
  if (agent == nullptr) {
    CopyOut("no agent (NULL handle)", out, out_size);
    return LEAKWATCH_ERROR;
  }
  if (agent->attached->inherited()) {
    CopyOut("this handle belongs to the parent process: the agent does not run in a forked child", out,
            out_size);
    return LEAKWATCH_ERROR;
  }
  try {
    auto written = agent->attached->agent().capture(reason != nullptr && reason[0] != '\0' ? reason : "C API",
                                                    std::chrono::milliseconds(std::max(0, timeout_ms)));
    if (!written) {
      CopyOut(written.error().message, out, out_size);
      return LEAKWATCH_ERROR;
    }
    CopyOut(*written, out, out_size);
    return LEAKWATCH_OK;
  } catch (const std::exception& e) {
    CopyOut(std::string("capture failed: ") + e.what(), out, out_size);
  } catch (...) {
    CopyOut("capture failed: unknown exception", out, out_size);
  }
  return LEAKWATCH_ERROR;
}

int leakwatch_http_port(const leakwatch_agent* agent) {
  if (agent == nullptr || agent->attached->inherited()) return 0;
  return agent->attached->http_port();
}

const char* leakwatch_version(void) { return LEAKWATCH_VERSION; }

}  // extern "C"
