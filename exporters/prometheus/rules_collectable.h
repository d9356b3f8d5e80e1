#pragma once
// RulesCollectable: renders the rule engine's published status (leakwatch/rules.h) as metric families.
// Internal to the Prometheus exporter; reads only RulesStatus / ConfigStatus values, never rule objects.
//
// Families (absent values are not emitted, never 0):
//   leakwatch_rule_state{rule,kind,severity,signal}        0 ok, 1 pending, 2 firing
//   leakwatch_rule_value{rule}, leakwatch_rule_threshold{rule}   what the rule compared in its last
//   evaluation leakwatch_rule_fired_total{rule,severity}              transitions to firing (and high-water
//   re-triggers) leakwatch_rule_actions_total{rule,result}              result: run | suppressed
//   leakwatch_signal_slope{signal,window}                  robust slope in units per second
//   leakwatch_signal_seconds_to_limit{signal,window}       absent when not growing or without a limit
//   leakwatch_config_last_reload_successful, leakwatch_config_last_reload_success_timestamp_seconds,
//   leakwatch_config_reloads_total{result}                 when the agent has a config file
//
// Thread-safety: Collect() may run on several threads at once; it never throws (a failure is counted and the
// families are left out). Cost: ~6 series per rule plus 2 per tracked signal.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <functional>
#include <memory>

#include "exporters/prometheus/prometheus_exporter.h"
#include "leakwatch/rules.h"

namespace leakwatch::exporters {

class RulesCollectable final : public prometheus::Collectable {
 public:
  explicit RulesCollectable(RulesProvider provider);
  std::vector<prometheus::MetricFamily> Collect() const override;
  uint64_t collect_errors() const { return collect_errors_.load(std::memory_order_relaxed); }

 private:
  RulesProvider provider_;
  mutable std::atomic<uint64_t> collect_errors_{0};
};

// "10s", "2m", "1h": the window label value.
std::string WindowLabel(std::chrono::milliseconds window);

}  // namespace leakwatch::exporters
