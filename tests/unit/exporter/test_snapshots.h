#pragma once
// Hand-built snapshots shared by the exporter tests.

#include <chrono>
#include <memory>

#include "leakwatch/signals.h"
#include "leakwatch/snapshot.h"

namespace leakwatch::exporters::testdata {

// Every catalogue signal present (value = 1000 + its index, 0/1 flags where that is the only sensible value),
// health fields and a cgroup set: every family the exporter can emit appears in its output.
inline std::shared_ptr<const Snapshot> FullSnapshot() {
  auto s = std::make_shared<Snapshot>();
  s->sequence = 42;
  s->slow_sequence = 40;
  s->wall_time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  s->sample_duration = std::chrono::microseconds(1500);
  s->period = std::chrono::seconds(5);
  s->samples_total = 42;
  s->missed_ticks_total = 1;
  for (size_t i = 0; i < kSourceCount; ++i) s->source_errors_total[i] = i;
  s->cgroup_version = 2;
  s->cgroup_path = "/kubepods/burstable/pod1234/abcd";
  for (size_t i = 0; i < kSignalCount; ++i) s->set(static_cast<Signal>(i), 1000.0 + static_cast<double>(i));
  s->set(Signal::kOpenFdsScanTruncated, 0.0);
  s->set(Signal::kMemoryPressureSomeAvg10, 0.25);
  return s;
}

}  // namespace leakwatch::exporters::testdata
