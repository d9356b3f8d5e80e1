#pragma once
// TickCollector: runs the readers of one tick and assembles one coherent Snapshot.
//
// Every reader runs inside its own catch-all, so nothing thrown in a tick escapes. Read failures are counted
// per source and logged: the first failure of a source at once, later ones at most once per minute per source
// (with the number suppressed meanwhile), and the recovery of a failing source once (the next time the source
// is read without failing: a slow source on the next slow tick).
//
// Slow ticks: the first tick and then one every `slow_every` ticks read every signal; the other ticks read
// the every-tick signals only and carry the slow signals of the last slow tick. After that, derived signals
// are computed from the complete snapshot (see DeriveSignals).
//
// Thread-safety: not thread-safe; the sampler thread owns it (start() runs the first tick before that thread
// exists). Cost: the readers' cost plus ~1 KiB allocation for the snapshot.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "agent/common/clock.h"
#include "agent/sampler/source_reader.h"
#include "leakwatch/snapshot.h"

namespace leakwatch::internal {

class TickCollector {
 public:
  struct Options {
    std::chrono::nanoseconds period{std::chrono::seconds(1)};
    // The first tick is slow, then one every `slow_every` ticks; 0: only the first one.
    uint32_t slow_every = 10;
  };

  TickCollector(Options options, std::vector<std::unique_ptr<SourceReader>> readers, const Clock& clock);

  // Runs one tick. `missed_ticks_total` is the scheduler's running count of skipped deadlines. Never throws.
  std::shared_ptr<Snapshot> Tick(uint64_t missed_ticks_total);

  uint64_t error_count(Source s) const { return errors_.counts[static_cast<size_t>(s)]; }

 private:
  class CountingErrorSink final : public ErrorSink {
   public:
    explicit CountingErrorSink(const Clock& clock) : clock_(clock) {}
    void Report(Source source, const Error& error) override;
    // Called after each tick: logs recoveries of sources that failed before, were read in this tick and did
    // not fail.
    void EndTick(TickKind tick);

    std::array<uint64_t, kSourceCount> counts{};

   private:
    const Clock& clock_;
    std::array<bool, kSourceCount> failed_this_tick_{};
    std::array<bool, kSourceCount> failing_{};
    std::array<std::chrono::steady_clock::time_point, kSourceCount> last_logged_{};
    std::array<uint64_t, kSourceCount> suppressed_{};
  };

  void RunReaders(TickKind tick, Snapshot* snapshot);

  Options options_;
  std::vector<std::unique_ptr<SourceReader>> readers_;
  const Clock& clock_;
  CountingErrorSink errors_;
  uint64_t sequence_ = 0;
  // The slow-cadence signals of the last slow tick, carried into every snapshot until the next one.
  Snapshot slow_values_;
};

}  // namespace leakwatch::internal
