#pragma once
// leakwatch::History: a bounded, in-memory record of every signal, for rules and incident bundles.
//
// Two tiers, both fixed-size rings allocated once:
//   * full resolution: one row per tick (every signal of the snapshot); capacity = enough rows for
//     `full_resolution_window` at the configured period, bounded by the memory budget;
//   * downsampled: one bucket per `bucket_width` (min, max, mean and last of every signal over the bucket);
//     capacity = `downsampled_window` / `bucket_width`.
// Append() is O(number of signals) and allocation-free; memory_bytes() is constant after construction.
// Gaps: a row whose tick came more than 1.5 periods after the previous one is marked `gap_before` (missed
// ticks, a stopped agent); a bucket containing such a row is marked too.
//
// Thread-safety: Append() is called by the sampler thread; all readers may be called from any thread at the
// same time (one mutex, held only to copy rows out). Readers return copies.
//
// Cost: ~0.5 KiB per full-resolution row and ~2 KiB per bucket with the current signal set; the defaults
// (1 s period, 15 min full resolution, 1 min buckets over 6 h 24 min) use ~1.6 MiB (74 signals).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "leakwatch/result.h"
#include "leakwatch/snapshot.h"

namespace leakwatch {

struct HistoryOptions {
  std::chrono::milliseconds period{1000};
  std::chrono::seconds full_resolution_window{15 * 60};
  std::chrono::seconds bucket_width{60};
  std::chrono::seconds downsampled_window{6 * 3600 + 24 * 60};
  size_t budget_bytes = 2 * 1024 * 1024;
};

class History {
 public:
  // One full-resolution value.
  struct Point {
    std::chrono::system_clock::time_point wall_time;
    std::chrono::steady_clock::time_point steady_time;
    double value = 0;
    bool gap_before = false;  // ticks were missed (or a row without this signal was skipped) just before it
  };
  // One downsampled bucket of a signal.
  struct Bucket {
    std::chrono::system_clock::time_point start;  // wall time of the first sample in the bucket
    std::chrono::steady_clock::time_point steady_start;
    double min = 0, max = 0, mean = 0, last = 0;
    uint32_t count = 0;  // samples in which the signal was present
    bool gap = false;    // the bucket contains a gap
  };

  // Sizes the rings from the options. Fails (naming the numbers) when the budget cannot hold even the
  // downsampled tier plus one minute of full resolution.
  static Result<std::unique_ptr<History>> Create(const HistoryOptions& options);
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Records one snapshot. Sampler thread only. O(signals), no allocation.
  void Append(const Snapshot& snapshot);

  // Full-resolution points of `signal` no older than `window` before the newest row, oldest first. Rows where
  // the signal was absent are skipped; the next present point then has gap_before = true.
  std::vector<Point> Recent(Signal signal, std::chrono::steady_clock::duration window) const;
  // Downsampled buckets of `signal`, oldest first, the bucket in progress last. Buckets in which the signal was
  // never present are omitted.
  std::vector<Bucket> Downsampled(Signal signal) const;

  size_t full_resolution_capacity() const;  // rows
  size_t downsampled_capacity() const;      // buckets
  std::chrono::seconds full_resolution_coverage() const;  // capacity x period
  size_t memory_bytes() const;                            // fixed after Create()
  uint64_t rows_appended() const;

 private:
  struct Impl;
  explicit History(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace leakwatch
