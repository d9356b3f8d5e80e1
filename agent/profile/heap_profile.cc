#include "agent/profile/heap_profile.h"

#include <cmath>

namespace leakwatch::internal {

HeapEstimate UnbiasHeapCounts(const HeapCounts& counts, HeapSampling sampling, uint64_t sampling_rate) {
  if (counts.objects == 0 || counts.bytes == 0) return {};
  const double objects = static_cast<double>(counts.objects);
  const double bytes = static_cast<double>(counts.bytes);
  if (sampling != HeapSampling::kPoisson || sampling_rate <= 1) return {objects, bytes};
  const double mean_size = bytes / objects;
  const double scale = 1.0 / (1.0 - std::exp(-mean_size / static_cast<double>(sampling_rate)));
  return {objects * scale, bytes * scale};
}

}  // namespace leakwatch::internal
