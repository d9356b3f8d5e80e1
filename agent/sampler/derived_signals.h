#pragma once
// Signals computed from other signals of the same snapshot, once every source of a tick has been read.
//
// Thread-safety: pure function over the snapshot. Cost: a few comparisons.

#include "leakwatch/snapshot.h"

namespace leakwatch::internal {

// kResidentMemoryPeakBytes: VmHWM comes from the slow period, but the peak can never be below the RSS read in
// this tick, so the snapshot holds max(VmHWM of the last slow tick, RSS now); absent while VmHWM is absent.
// kAllocatorOverheadBytes = allocator resident - allocated bytes (absent unless both are present).
// kAllocatorUnexplainedAnonBytes = RssAnon - allocator resident bytes (absent unless both are present). It
// may be negative: jemalloc's resident figure is an upper bound (pages it touched, some since swapped out or
// reclaimed), and part of an allocator's memory can be file-backed or shared.
void DeriveSignals(Snapshot* snapshot);

}  // namespace leakwatch::internal
