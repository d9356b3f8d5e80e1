#include "agent/sampler/derived_signals.h"

#include <algorithm>

namespace leakwatch::internal {

void DeriveSignals(Snapshot* snapshot) {
  const auto peak = snapshot->get(Signal::kResidentMemoryPeakBytes);
  const auto rss = snapshot->get(Signal::kResidentMemoryBytes);
  if (peak && rss) snapshot->set(Signal::kResidentMemoryPeakBytes, std::max(*peak, *rss));

  const auto allocated = snapshot->get(Signal::kAllocatorAllocatedBytes);
  const auto resident = snapshot->get(Signal::kAllocatorResidentBytes);
  const auto rss_anon = snapshot->get(Signal::kRssAnonBytes);
  snapshot->clear(Signal::kAllocatorOverheadBytes);
  snapshot->clear(Signal::kAllocatorUnexplainedAnonBytes);
  if (resident && allocated) snapshot->set(Signal::kAllocatorOverheadBytes, *resident - *allocated);
  if (rss_anon && resident) snapshot->set(Signal::kAllocatorUnexplainedAnonBytes, *rss_anon - *resident);
}

}  // namespace leakwatch::internal
