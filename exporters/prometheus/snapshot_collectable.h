#pragma once
// SnapshotCollectable: the prometheus-cpp Collectable that renders a Snapshot and the signal catalogue as
// metric families. Internal to the Prometheus exporter (it exposes prometheus-cpp types); tests use it
// directly.
//
// What it emits, per scrape, from the snapshot the provider returns:
//   - one family per distinct catalogue family name, in catalogue order; rows with a label become metrics of
//   one
//     family; absent signals are not emitted and a family with no present signal is omitted;
//   - agent health: leakwatch_build_info, leakwatch_samples_total, leakwatch_missed_ticks_total,
//     leakwatch_source_errors_total{source} (every source, 0 included), leakwatch_sample_duration_seconds,
//     leakwatch_last_sample_timestamp_seconds, leakwatch_sample_period_seconds, leakwatch_cgroup_info (when a
//     memory cgroup was found) and leakwatch_exporter_collect_errors_total.
// Before the first tick (provider returns nullptr) only leakwatch_build_info and
// leakwatch_exporter_collect_errors_total are emitted; the same happens when rendering fails.
//
// Thread-safety: Collect() may run on several threads at once. It never throws: any exception is counted in
// leakwatch_exporter_collect_errors_total and logged at most once a minute.
// Cost: one provider call plus ~70 small allocations for a fully populated snapshot; the grouping of the
// catalogue into families is computed once per process.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "exporters/prometheus/prometheus_exporter.h"

namespace leakwatch::exporters {

class SnapshotCollectable final : public prometheus::Collectable {
 public:
  // REQUIRES: provider is non-empty (an empty one is treated as throwing: every scrape counts an error).
  explicit SnapshotCollectable(SnapshotProvider provider);

  std::vector<prometheus::MetricFamily> Collect() const override;

  uint64_t collect_errors() const { return collect_errors_.load(std::memory_order_relaxed); }

 private:
  std::vector<prometheus::MetricFamily> CollectOrThrow() const;
  std::vector<prometheus::MetricFamily> MinimalFamilies() const;
  void ReportError(const char* what) const;

  SnapshotProvider provider_;
  mutable std::atomic<uint64_t> collect_errors_{0};
  mutable std::atomic<int64_t> next_log_ns_{0};  // steady-clock time before which errors are not logged
};

}  // namespace leakwatch::exporters
