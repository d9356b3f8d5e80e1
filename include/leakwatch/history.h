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
// Row numbers: every full-resolution row gets a number when it is appended (0 for the first Append(), then +1
// per Append()); every bucket likewise (0 for the first bucket). Numbers never change and are never reused,
// so a reader can copy the history a chunk at a time (CopyFullResolutionRows(), CopyDownsampledBuckets()) and
// continue where it left off while the sampler keeps appending; rows overwritten in between are skipped and
// counted.
//
// Thread-safety: Append() is called by the sampler thread; all readers may be called from any thread at the
// same time (one mutex, held only to copy rows out; never while the caller formats or writes them). Readers
// return copies.
//
// Cost: ~0.5 KiB per full-resolution row and ~2 KiB per bucket with the current signal set; the defaults
// (1 s period, 15 min full resolution, 1 min buckets over 6 h 24 min) use ~1.6 MiB (74 signals).

#include <array>
#include <bitset>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "leakwatch/result.h"
#include "leakwatch/snapshot.h"

#pragma GCC visibility push(default)  // the public API: exported by libleakwatch.so
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

  // One full-resolution row: everything one tick recorded, for exporters.
  struct Row {
    uint64_t number = 0;  // stable row number (see above)
    std::chrono::system_clock::time_point wall_time;
    std::chrono::steady_clock::time_point steady_time;
    bool gap_before = false;  // ticks were missed just before this row
    std::bitset<kSignalCount> present;
    std::array<double, kSignalCount> values{};  // values[i] is meaningful only when present[i]

    std::optional<double> get(Signal s) const {
      const auto i = static_cast<size_t>(s);
      if (i >= kSignalCount || !present[i]) return std::nullopt;
      return values[i];
    }
  };
  // One signal over one bucket; count == 0 means the signal was never present in the bucket (the other fields
  // are then 0 and meaningless).
  struct Aggregate {
    double min = 0, max = 0, mean = 0, last = 0;
    uint32_t count = 0;
  };
  // One downsampled bucket with every signal, for exporters.
  struct BucketRow {
    uint64_t number = 0;                          // stable bucket number (see above)
    std::chrono::system_clock::time_point start;  // wall time of the first row in the bucket
    std::chrono::steady_clock::time_point steady_start;
    bool gap = false;          // the bucket contains a gap
    bool in_progress = false;  // the newest bucket: rows appended later may still change it
    uint32_t rows = 0;         // rows (ticks) aggregated so far
    std::array<Aggregate, kSignalCount> signals{};

    std::optional<Aggregate> get(Signal s) const {
      const auto i = static_cast<size_t>(s);
      if (i >= kSignalCount || signals[i].count == 0) return std::nullopt;
      return signals[i];
    }
  };
  // A half-open range [begin, end) of row or bucket numbers.
  struct Span {
    uint64_t begin = 0;
    uint64_t end = 0;
    uint64_t size() const { return end > begin ? end - begin : 0; }
  };
  // What one Copy*() call did.
  struct CopyInfo {
    // Elements now in *out.
    size_t copied = 0;
    // Elements of the wanted span, before the first one copied, that were already overwritten.
    uint64_t skipped = 0;
    // Pass as `wanted.begin` of the next call to continue; == wanted.end when done.
    uint64_t next = 0;
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
  // Downsampled buckets of `signal`, oldest first, the bucket in progress last. Buckets in which the signal
  // was never present are omitted.
  std::vector<Bucket> Downsampled(Signal signal) const;

  // The rows (buckets) retained right now: [oldest, newest + 1). Capture this once to fix the extent of an
  // export: rows appended later then have numbers >= end and are not copied. O(1), takes the mutex.
  Span full_resolution_rows() const;
  Span downsampled_buckets() const;  // the last one is in progress

  // Replaces *out with copies of the retained rows numbered in `wanted`, oldest first, at most `max_rows` of
  // them; rows of `wanted` that were already overwritten are skipped (CopyInfo::skipped). Loop with
  // `wanted.begin = info.next` until info.next == wanted.end. Rows never yet appended are not waited for:
  // numbers >= the current end are not copied and `next` stops there.
  // Cost: holds the mutex for O(max_rows x signals), a copy of ~0.6 KiB per row (*out is sized before the
  // mutex is taken: no allocation under it, none at all once *out has the capacity); the sampler's Append()
  // waits meanwhile, so keep max_rows small (tens to hundreds) and do the slow work (formatting, disk)
  // between calls, without the mutex.
  CopyInfo CopyFullResolutionRows(Span wanted, size_t max_rows, std::vector<Row>* out) const;
  // The same for buckets (~3 KiB per bucket; means are computed during the copy). The newest bucket is copied
  // as it is at the time of the call (in_progress = true).
  CopyInfo CopyDownsampledBuckets(Span wanted, size_t max_buckets, std::vector<BucketRow>* out) const;

  size_t full_resolution_capacity() const;                // rows
  size_t downsampled_capacity() const;                    // buckets
  std::chrono::seconds full_resolution_coverage() const;  // capacity x period
  size_t memory_bytes() const;                            // fixed after Create()
  uint64_t rows_appended() const;

 private:
  struct Impl;
  explicit History(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace leakwatch

#pragma GCC visibility pop
