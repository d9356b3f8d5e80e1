#include "exporters/status/status_json.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "agent/common/text.h"
#include "agent/rules/rule_status_json.h"
#include "leakwatch/version.h"

namespace leakwatch::exporters {
namespace {

using nlohmann::json;

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  return internal::FormatUtcMillis(t);
}

double Seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000; }

void Optional(json& j, const char* key, const std::optional<double>& v) {
  if (v && std::isfinite(*v)) j[key] = *v;
}

json HeapProfilerJson(const internal::HeapProfilerStatus& h) {
  json j;
  j["state"] = std::string(internal::HeapProfilerStateName(h.state));
  if (!h.reason.empty()) j["reason"] = h.reason;
  if (!h.unwinder.empty()) j["unwinder"] = h.unwinder;
  if (!h.real_allocator.empty()) j["allocator"] = h.real_allocator;
  if (h.stats) {
    const internal::HeapSamplerStats& s = *h.stats;
    j["sampling_interval_bytes"] = s.mean_interval_bytes;
    j["samples_total"] = s.samples_total;
    j["live_samples"] = s.live_samples;
    j["estimated_inuse_bytes"] = std::llround(s.inuse_bytes_estimate);
    j["estimated_inuse_objects"] = std::llround(s.inuse_objects_estimate);
    j["stacks"] = s.stacks;
    j["memory_bytes"] = s.memory_bytes;
    j["dropped_live_table_full"] = s.dropped_live_table_full;
    j["dropped_stack_table_full"] = s.dropped_stack_table_full;
    j["replaced_samples"] = s.replaced_samples;
    j["untracked_frees"] = s.untracked_frees;
    j["filter_slots"] = s.filter_slots;
    j["hook_seconds"] = static_cast<double>(s.hook_nanoseconds) * 1e-9;
  }
  if (h.peak_time.time_since_epoch().count() != 0) {
    j["peak"] = {{"time", Rfc3339(h.peak_time)}, {"estimated_inuse_bytes", std::llround(h.peak_inuse_bytes)}};
  }
  return j;
}

}  // namespace

std::string RenderStatusJson(const RulesStatus* rules, const ConfigStatus& config,
                             const internal::HeapProfilerStatus* heap) {
  json doc;
  doc["leakwatch_version"] = LEAKWATCH_VERSION;
  doc["rules"] = json::array();
  doc["trends"] = json::array();
  if (rules != nullptr) {
    doc["sequence"] = rules->sequence;
    doc["time"] = Rfc3339(rules->wall_time);
    for (const RuleStatus& r : rules->rules) {
      if (r.spec) doc["rules"].push_back(internal::RuleStatusJson(r));
    }
    for (const SignalTrend& t : rules->trends) {
      json j;
      j["signal"] = std::string(GetSignalInfo(t.signal).key);
      j["window_seconds"] = Seconds(t.window);
      Optional(j, "slope_per_second", t.slope);
      Optional(j, "limit", t.limit);
      Optional(j, "seconds_to_limit", t.seconds_to_limit);
      doc["trends"].push_back(std::move(j));
    }
  }
  json c;
  c["file"] = config.file;
  c["last_load_ok"] = config.last_load_ok;
  if (!config.last_error.empty()) c["last_error"] = config.last_error;
  c["last_success"] = Rfc3339(config.last_success);
  c["reloads_total"] = config.reloads_total;
  c["reload_failures_total"] = config.reload_failures_total;
  doc["config"] = std::move(c);
  if (heap != nullptr) doc["heap_profiler"] = HeapProfilerJson(*heap);
  // Replace invalid UTF-8 (paths and kernel texts) rather than throw.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace leakwatch::exporters
