#include "exporters/prometheus/rules_collectable.h"

#include <chrono>
#include <exception>
#include <string>

#include "agent/logging/log.h"

namespace leakwatch::exporters {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void Add(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family.metric.push_back(std::move(m));
}

std::string Str(std::string_view s) { return std::string(s); }

}  // namespace

std::string WindowLabel(std::chrono::milliseconds window) {
  const int64_t ms = window.count();
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

RulesCollectable::RulesCollectable(RulesProvider provider) : provider_(std::move(provider)) {}

std::vector<MetricFamily> RulesCollectable::Collect() const {
  try {
    const RulesView view = provider_();
    std::vector<MetricFamily> out;
    if (view.rules) {
      auto state = Family("leakwatch_rule_state", "State of each leakwatch rule: 0 ok, 1 pending, 2 firing.",
                          MetricType::Gauge);
      auto value = Family("leakwatch_rule_value",
                          "The value the rule compared in its last evaluation (the signal, a slope, a growth "
                          "ratio or seconds to the limit, by kind).",
                          MetricType::Gauge);
      auto threshold =
          Family("leakwatch_rule_threshold", "What the rule's value was compared with.", MetricType::Gauge);
      auto fired = Family("leakwatch_rule_fired_total",
                          "Times the rule went to firing (and high-water rules found a new peak).",
                          MetricType::Counter);
      auto actions = Family("leakwatch_rule_actions_total",
                            "Firings whose actions ran, or were suppressed by cooldown or max_actions.",
                            MetricType::Counter);
      for (const RuleStatus& r : view.rules->rules) {
        if (!r.spec) continue;
        const std::string name = r.spec->name;
        const std::string severity = Str(SeverityName(r.spec->severity));
        Add(state,
            {{"kind", Str(RuleKindName(r.spec->kind))},
             {"rule", name},
             {"severity", severity},
             {"signal", Str(GetSignalInfo(r.spec->signal).key)}},
            static_cast<double>(r.state));
        if (r.value) Add(value, {{"rule", name}}, *r.value);
        if (r.threshold) Add(threshold, {{"rule", name}}, *r.threshold);
        Add(fired, {{"rule", name}, {"severity", severity}}, static_cast<double>(r.fired_total));
        Add(actions, {{"result", "run"}, {"rule", name}}, static_cast<double>(r.actions_run_total));
        Add(actions, {{"result", "suppressed"}, {"rule", name}},
            static_cast<double>(r.actions_suppressed_total));
      }
      auto slope = Family("leakwatch_signal_slope",
                          "Robust (Theil-Sen) slope of the signal over the window, in its unit per second.",
                          MetricType::Gauge);
      auto ttl =
          Family("leakwatch_signal_seconds_to_limit",
                 "Seconds until the signal reaches its limit at the current slope; absent when it is not "
                 "growing or has no limit.",
                 MetricType::Gauge);
      for (const SignalTrend& t : view.rules->trends) {
        const std::vector<ClientMetric::Label> labels{{"signal", Str(GetSignalInfo(t.signal).key)},
                                                      {"window", WindowLabel(t.window)}};
        if (t.slope) Add(slope, labels, *t.slope);
        if (t.seconds_to_limit) Add(ttl, labels, *t.seconds_to_limit);
      }
      for (auto* f : {&state, &value, &threshold, &fired, &actions, &slope, &ttl}) {
        if (!f->metric.empty()) out.push_back(std::move(*f));
      }
    }
    if (view.bundles) {
      const BundleStats& b = *view.bundles;
      auto written = Family("leakwatch_bundles_written_total", "Incident bundles written completely.",
                            MetricType::Counter);
      Add(written, {}, static_cast<double>(b.written_total));
      auto failed =
          Family("leakwatch_bundles_failed_total",
                 "Incident bundles that could not be written (the bundle directory could not be made or "
                 "renamed; see leakwatch's log).",
                 MetricType::Counter);
      Add(failed, {}, static_cast<double>(b.failed_total));
      auto suppressed =
          Family("leakwatch_bundles_suppressed_total",
                 "Bundle requests not written, by reason: rate_limit (max_per_window), queue_full, "
                 "min_free_disk, stopping.",
                 MetricType::Counter);
      for (const char* reason : {"min_free_disk", "queue_full", "rate_limit", "stopping"}) {
        const auto it = b.suppressed_total.find(reason);
        Add(suppressed, {{"reason", reason}},
            it == b.suppressed_total.end() ? 0.0 : static_cast<double>(it->second));
      }
      auto bytes =
          Family("leakwatch_bundles_disk_bytes",
                 "Bytes the incident bundles take in the bundle directory, after the last retention.",
                 MetricType::Gauge);
      Add(bytes, {}, static_cast<double>(b.bytes_on_disk));
      auto count = Family("leakwatch_bundles_on_disk", "Incident bundles kept in the bundle directory.",
                          MetricType::Gauge);
      Add(count, {}, static_cast<double>(b.bundles_on_disk));
      out.push_back(std::move(written));
      out.push_back(std::move(failed));
      out.push_back(std::move(suppressed));
      out.push_back(std::move(bytes));
      out.push_back(std::move(count));
      if (b.egress_configured) {
        auto egress =
            Family("leakwatch_bundle_egress_total",
                   "Runs of the bundle egress command by result: success, failure (non-zero exit, a "
                   "signal or not startable), timeout, cancelled (the agent stopped), dropped (the "
                   "queue of 4 was full).",
                   MetricType::Counter);
        for (const char* result : {"cancelled", "dropped", "failure", "success", "timeout"}) {
          const auto it = b.egress_total.find(result);
          Add(egress, {{"result", result}},
              it == b.egress_total.end() ? 0.0 : static_cast<double>(it->second));
        }
        out.push_back(std::move(egress));
      }
      if (b.written_total > 0) {
        auto last = Family("leakwatch_bundle_last_timestamp_seconds",
                           "Unix time the last bundle was completed.", MetricType::Gauge);
        Add(last, {}, std::chrono::duration<double>(b.last_written.time_since_epoch()).count());
        auto duration = Family("leakwatch_bundle_last_duration_seconds",
                               "How long the last bundle took to write.", MetricType::Gauge);
        Add(duration, {}, std::chrono::duration<double>(b.last_duration).count());
        out.push_back(std::move(last));
        out.push_back(std::move(duration));
      }
    }
    if (!view.debug_requests.empty()) {
      auto requests =
          Family("leakwatch_debug_requests_total",
                 "Answers of the operator endpoints (/debug/leakwatch/*) by endpoint and HTTP status "
                 "code: 401 is a missing or wrong token, 403 endpoints disabled, 429 rate-limited.",
                 MetricType::Counter);
      for (const auto& [key, n] : view.debug_requests) {
        Add(requests, {{"endpoint", key.first}, {"code", std::to_string(key.second)}},
            static_cast<double>(n));
      }
      out.push_back(std::move(requests));
    }
    if (!view.config.file.empty()) {
      auto ok = Family("leakwatch_config_last_reload_successful",
                       "Whether the last attempt to load the config file succeeded.", MetricType::Gauge);
      Add(ok, {}, view.config.last_load_ok ? 1 : 0);
      auto when = Family("leakwatch_config_last_reload_success_timestamp_seconds",
                         "Unix time of the last successful load of the config file.", MetricType::Gauge);
      Add(when, {}, std::chrono::duration<double>(view.config.last_success.time_since_epoch()).count());
      auto reloads = Family("leakwatch_config_reloads_total",
                            "Reloads of the config file after start-up, by result.", MetricType::Counter);
      Add(reloads, {{"result", "success"}}, static_cast<double>(view.config.reloads_total));
      Add(reloads, {{"result", "failure"}}, static_cast<double>(view.config.reload_failures_total));
      out.push_back(std::move(ok));
      out.push_back(std::move(when));
      out.push_back(std::move(reloads));
    }
    return out;
  } catch (const std::exception& e) {
    if (collect_errors_.fetch_add(1, std::memory_order_relaxed) == 0) {
      try {
        leakwatch::internal::Log()->error("prometheus exporter: rendering the rules failed: {}", e.what());
      } catch (...) {
      }
    }
  } catch (...) {
    collect_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  return {};
}

}  // namespace leakwatch::exporters
