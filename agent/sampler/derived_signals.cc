#include "agent/sampler/derived_signals.h"

#include <algorithm>

namespace leakwatch::internal {

void DeriveSignals(Snapshot* snapshot) {
  const auto peak = snapshot->get(Signal::kResidentMemoryPeakBytes);
  const auto rss = snapshot->get(Signal::kResidentMemoryBytes);
  if (peak && rss) snapshot->set(Signal::kResidentMemoryPeakBytes, std::max(*peak, *rss));
}

}  // namespace leakwatch::internal
