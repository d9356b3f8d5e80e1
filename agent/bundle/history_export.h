#pragma once
// The metric history leading up to an incident, as two CSV files a person can plot (format: docs/BUNDLES.md,
// "History files"):
//   history.csv              one line per full-resolution row (tick), every signal present in the window;
//   history_downsampled.csv  one line per downsampled bucket, min/max/mean/last of every such signal.
//
// The extent is fixed when the call starts (History::full_resolution_rows() / downsampled_buckets()): rows
// the sampler appends meanwhile are not written. Each file is produced in two passes over the history, a
// chunk of `chunk_rows` rows (buckets) at a time: the first finds the signals present at least once (the
// columns), the second writes the lines. The history mutex is held only while a chunk is copied, never while
// formatting or writing, so the sampler's tick is not delayed by the disk.
//
// Thread-safety: the history may be appended to concurrently; the sinks are used by this call only.
// Cost: O(rows x signals) formatting. Memory: chunk_rows x (~0.6 KiB + ~3 KiB) for the copies plus one line.

#include <cstddef>
#include <cstdint>

#include "agent/bundle/text_sink.h"
#include "leakwatch/history.h"
#include "leakwatch/result.h"

namespace leakwatch::internal {

struct HistoryExportSummary {
  size_t rows = 0;         // lines written to history.csv, header excluded
  size_t buckets = 0;      // lines written to history_downsampled.csv, header excluded
  size_t signals = 0;      // distinct signals with columns in either file
  bool truncated = false;  // a sink refused a write (full or failed): that file ends early, maybe mid-line
  // Rows and buckets of the window overwritten by the sampler before they could be written (the export fell
  // more than a ring's length behind). A gap is marked where that happened mid-file.
  uint64_t overwritten = 0;
};

// Writes history.csv to `full` and history_downsampled.csv to `downsampled`. When one sink refuses a write,
// that file stops there (summary.truncated) and the other is still written. Fails only on invalid arguments
// (chunk_rows == 0); a full or failed sink is not an error here (the sink reports its own failure).
Result<HistoryExportSummary> WriteHistoryCsv(const History& history, TextSink& full, TextSink& downsampled,
                                             size_t chunk_rows = 64);

}  // namespace leakwatch::internal
