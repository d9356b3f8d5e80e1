#include "agent/bundle/history_export.h"

#include <algorithm>
#include <bitset>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "agent/common/text.h"
#include "leakwatch/signals.h"

namespace leakwatch::internal {
namespace {

using Columns = std::bitset<kSignalCount>;

// Integral values print as integers ("1048576", not "1048576.0" or "1.048576e+06"); others as the shortest
// text that reads back to the same double. Non-finite values print as "nan", "inf", "-inf".
void AppendNumber(std::string* out, double v) {
  char buf[32];
  std::to_chars_result r;
  // [-2^63, 2^63): every integral double in it converts to int64_t exactly.
  if (std::isfinite(v) && v == std::trunc(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0) {
    r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof(buf), v);
  }
  out->append(buf, r.ptr);
}

// "2024-05-01T12:00:00.123Z,1714564800.123": RFC 3339 UTC with milliseconds, then Unix seconds (the same
// millisecond, as a number).
void AppendTime(std::string* out, std::chrono::system_clock::time_point t) {
  out->append(FormatUtcMillis(t));
  out->push_back(',');
  const int64_t ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  // ms / 1000 is correctly rounded, so the shortest round-trip text is the exact decimal "s.mmm" (trailing
  // zeros dropped).
  AppendNumber(out, static_cast<double>(ms) / 1000);
}

// One output file: stops for good at the first refused write.
class CsvFile {
 public:
  explicit CsvFile(TextSink& sink) : sink_(sink) {}
  bool Line(const std::string& line) {
    if (stopped_) return false;
    stopped_ = !sink_.Write(line);
    return !stopped_;
  }
  bool stopped() const { return stopped_; }

 private:
  TextSink& sink_;
  bool stopped_ = false;
};

void WriteFull(const History& history, size_t chunk, CsvFile& file, HistoryExportSummary& summary,
               Columns& all_columns) {
  const History::Span span = history.full_resolution_rows();
  std::vector<History::Row> rows;

  // Pass 1: the columns. Rows overwritten before pass 2 reaches them can only remove signals, so a column may
  // end up empty but never missing.
  Columns columns;
  for (uint64_t from = span.begin; from < span.end;) {
    const auto info = history.CopyFullResolutionRows({from, span.end}, chunk, &rows);
    for (const auto& r : rows) columns |= r.present;
    if (info.next <= from) break;
    from = info.next;
  }
  all_columns |= columns;

  std::string line = "time,unix_seconds,gap_before";
  for (size_t i = 0; i < kSignalCount; ++i) {
    if (!columns[i]) continue;
    line += ',';
    line += GetSignalInfo(static_cast<Signal>(i)).key;
  }
  line += '\n';
  if (!file.Line(line)) return;

  // Pass 2: the lines.
  bool written_any = false;
  bool lost = false;
  for (uint64_t from = span.begin; from < span.end;) {
    const auto info = history.CopyFullResolutionRows({from, span.end}, chunk, &rows);
    summary.overwritten += info.skipped;
    // Rows lost mid-file are a gap for whoever plots it; lost at the start they just shorten the window.
    lost = lost || (info.skipped > 0 && written_any);
    for (const auto& r : rows) {
      line.clear();
      AppendTime(&line, r.wall_time);
      line += (r.gap_before || lost) ? ",1" : ",0";
      lost = false;
      for (size_t i = 0; i < kSignalCount; ++i) {
        if (!columns[i]) continue;
        line += ',';
        if (r.present[i]) AppendNumber(&line, r.values[i]);
      }
      line += '\n';
      if (!file.Line(line)) return;
      ++summary.rows;
      written_any = true;
    }
    if (info.next <= from) break;
    from = info.next;
  }
}

void WriteDownsampled(const History& history, size_t chunk, CsvFile& file, HistoryExportSummary& summary,
                      Columns& all_columns) {
  const History::Span span = history.downsampled_buckets();
  std::vector<History::BucketRow> buckets;

  Columns columns;
  for (uint64_t from = span.begin; from < span.end;) {
    const auto info = history.CopyDownsampledBuckets({from, span.end}, chunk, &buckets);
    for (const auto& b : buckets) {
      for (size_t i = 0; i < kSignalCount; ++i) {
        if (b.signals[i].count > 0) columns[i] = true;
      }
    }
    if (info.next <= from) break;
    from = info.next;
  }
  all_columns |= columns;

  std::string line = "time,unix_seconds,gap,count";
  for (size_t i = 0; i < kSignalCount; ++i) {
    if (!columns[i]) continue;
    const std::string_view key = GetSignalInfo(static_cast<Signal>(i)).key;
    for (const char* suffix : {"_min", "_max", "_mean", "_last"}) {
      line += ',';
      line += key;
      line += suffix;
    }
  }
  line += '\n';
  if (!file.Line(line)) return;

  bool written_any = false;
  bool lost = false;
  for (uint64_t from = span.begin; from < span.end;) {
    const auto info = history.CopyDownsampledBuckets({from, span.end}, chunk, &buckets);
    summary.overwritten += info.skipped;
    lost = lost || (info.skipped > 0 && written_any);
    for (const auto& b : buckets) {
      line.clear();
      AppendTime(&line, b.start);
      line += (b.gap || lost) ? ",1," : ",0,";
      lost = false;
      AppendNumber(&line, b.rows);
      for (size_t i = 0; i < kSignalCount; ++i) {
        if (!columns[i]) continue;
        const History::Aggregate& a = b.signals[i];
        if (a.count == 0) {
          line += ",,,,";
          continue;
        }
        for (const double v : {a.min, a.max, a.mean, a.last}) {
          line += ',';
          AppendNumber(&line, v);
        }
      }
      line += '\n';
      if (!file.Line(line)) return;
      ++summary.buckets;
      written_any = true;
    }
    if (info.next <= from) break;
    from = info.next;
  }
}

}  // namespace

Result<HistoryExportSummary> WriteHistoryCsv(const History& history, TextSink& full, TextSink& downsampled,
                                             size_t chunk_rows) {
  if (chunk_rows == 0) return Error{"history export: chunk_rows must be at least 1"};
  HistoryExportSummary summary;
  Columns all_columns;
  CsvFile full_file(full);
  CsvFile downsampled_file(downsampled);
  WriteFull(history, chunk_rows, full_file, summary, all_columns);
  WriteDownsampled(history, chunk_rows, downsampled_file, summary, all_columns);
  summary.signals = all_columns.count();
  summary.truncated = full_file.stopped() || downsampled_file.stopped();
  return summary;
}

}  // namespace leakwatch::internal
