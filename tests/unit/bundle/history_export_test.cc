#include "agent/bundle/history_export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "leakwatch/history.h"

namespace leakwatch::internal {
namespace {

using namespace std::chrono_literals;

const auto kSteady0 = std::chrono::steady_clock::time_point(1000h);
// 2024-05-01T12:00:00Z
const auto kWall0 = std::chrono::system_clock::time_point(std::chrono::seconds(1714564800));

Snapshot At(std::chrono::milliseconds offset) {
  Snapshot s;
  s.steady_time = kSteady0 + offset;
  s.wall_time = kWall0 + offset;
  return s;
}

std::unique_ptr<History> MakeHistory(std::chrono::seconds full_window, std::chrono::seconds bucket_width,
                                     std::chrono::seconds downsampled_window) {
  auto h = History::Create(HistoryOptions{.period = 1000ms,
                                          .full_resolution_window = full_window,
                                          .bucket_width = bucket_width,
                                          .downsampled_window = downsampled_window});
  EXPECT_TRUE(h.ok()) << h.error().message;
  return std::move(h).value();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

size_t Fields(const std::string& line) {
  return static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1;
}

// Five ticks of three signals: threads absent in the third, a gap (3.25 s) before the fourth; 3 s buckets.
std::unique_ptr<History> Small() {
  auto h = MakeHistory(60s, 3s, 60s);
  struct Tick {
    std::chrono::milliseconds at;
    double rss;
    std::optional<double> threads;
    double cpu;
  };
  for (const Tick& t :
       {Tick{0ms, 1048576, 7, 0.25}, Tick{1000ms, 1052672, 8, 0.5}, Tick{2000ms, 1056768, std::nullopt, 0.75},
        Tick{5250ms, 2097152, 8, 1.1}, Tick{6250ms, 2101248, 9, 1.35}}) {
    Snapshot s = At(t.at);
    s.set(Signal::kResidentMemoryBytes, t.rss);
    s.set(Signal::kThreads, t.threads);
    s.set(Signal::kCpuSecondsTotal, t.cpu);
    h->Append(s);
  }
  return h;
}

constexpr std::string_view kSmallFull =
    "time,unix_seconds,gap_before,rss_bytes,threads,cpu_seconds_total\n"
    "2024-05-01T12:00:00.000Z,1714564800,0,1048576,7,0.25\n"
    "2024-05-01T12:00:01.000Z,1714564801,0,1052672,8,0.5\n"
    "2024-05-01T12:00:02.000Z,1714564802,0,1056768,,0.75\n"
    "2024-05-01T12:00:05.250Z,1714564805.25,1,2097152,8,1.1\n"
    "2024-05-01T12:00:06.250Z,1714564806.25,0,2101248,9,1.35\n";

constexpr std::string_view kSmallDownsampled =
    "time,unix_seconds,gap,count,rss_bytes_min,rss_bytes_max,rss_bytes_mean,rss_bytes_last,threads_min,"
    "threads_max,threads_mean,threads_last,cpu_seconds_total_min,cpu_seconds_total_max,cpu_seconds_total_"
    "mean,"
    "cpu_seconds_total_last\n"
    "2024-05-01T12:00:00.000Z,1714564800,0,3,1048576,1056768,1052672,1056768,7,8,7.5,8,0.25,0.75,0.5,0.75\n"
    "2024-05-01T12:00:05.250Z,1714564805.25,1,2,2097152,2101248,2099200,2101248,8,9,8.5,9,1.1,1.35,1.225,1."
    "35\n";

TEST(HistoryExport, SmallHistoryIsWrittenExactly) {
  auto h = Small();
  StringSink full, down;
  auto r = WriteHistoryCsv(*h, full, down);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(full.text(), kSmallFull);
  EXPECT_EQ(down.text(), kSmallDownsampled);
  EXPECT_EQ(r->rows, 5u);
  EXPECT_EQ(r->buckets, 2u);
  EXPECT_EQ(r->signals, 3u);
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(r->overwritten, 0u);
}

TEST(HistoryExport, OutputDoesNotDependOnTheChunkSize) {
  auto h = Small();
  for (size_t chunk : {1u, 2u, 3u, 1000u}) {
    StringSink full, down;
    ASSERT_TRUE(WriteHistoryCsv(*h, full, down, chunk).ok());
    EXPECT_EQ(full.text(), kSmallFull) << chunk;
    EXPECT_EQ(down.text(), kSmallDownsampled) << chunk;
  }
  StringSink full, down;
  EXPECT_FALSE(WriteHistoryCsv(*h, full, down, 0).ok());
}

TEST(HistoryExport, EmptyHistoryWritesHeadersOnly) {
  auto h = MakeHistory(60s, 60s, 600s);
  StringSink full, down;
  auto r = WriteHistoryCsv(*h, full, down);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(full.text(), "time,unix_seconds,gap_before\n");
  EXPECT_EQ(down.text(), "time,unix_seconds,gap,count\n");
  EXPECT_EQ(r->rows, 0u);
  EXPECT_EQ(r->signals, 0u);
}

TEST(HistoryExport, NumbersAreExactIntegersWithoutFractionAndShortestRoundTripOtherwise) {
  auto h = MakeHistory(60s, 60s, 600s);
  // In catalogue (= column) order.
  const std::vector<std::pair<Signal, double>> values = {
      {Signal::kResidentMemoryBytes, 4294967296.0},              // 2^32
      {Signal::kVirtualMemoryMaxBytes, 18446744073709551615.0},  // RLIM_INFINITY as a double: 2^64, exactly
      {Signal::kThreads, -0.0},
      {Signal::kOpenFds, 1e6},  // "1000000", not to_chars' shorter "1e+06"
      {Signal::kCpuSecondsTotal, 0.1 + 0.2},
      {Signal::kStartTimeSeconds, 1714564800.5},
      {Signal::kMemoryPressureSomeAvg10, 1e-7},
      {Signal::kSmapsRssBytes, 1e20},
      {Signal::kAllocatorUnexplainedAnonBytes, -12288},
  };
  Snapshot s = At(123ms);
  for (const auto& [signal, v] : values) s.set(signal, v);
  h->Append(s);
  StringSink full, down;
  ASSERT_TRUE(WriteHistoryCsv(*h, full, down).ok());
  const auto lines = Lines(full.text());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(
      lines[0],
      "time,unix_seconds,gap_before,rss_bytes,virtual_memory_max_bytes,threads,open_fds,cpu_seconds_total,"
      "start_time_seconds,memory_pressure_some_avg10,smaps_rss_bytes,allocator_unexplained_anon_bytes");
  EXPECT_EQ(lines[1],
            "2024-05-01T12:00:00.123Z,1714564800.123,0,4294967296,18446744073709551616,0,1000000,"
            "0.30000000000000004,1714564800.5,1e-07,1e+20,-12288");
  // Every number reads back to the value stored.
  size_t pos = 0;
  for (int skip = 0; skip < 3; ++skip) pos = lines[1].find(',', pos) + 1;
  for (const auto& [signal, v] : values) {
    size_t end = lines[1].find(',', pos);
    if (end == std::string::npos) end = lines[1].size();
    EXPECT_EQ(std::stod(lines[1].substr(pos, end - pos)), v) << GetSignalInfo(signal).key;
    pos = end + 1;
  }
}

TEST(HistoryExport, OnlySignalsPresentInTheWindowGetColumnsPerFile) {
  // Full resolution keeps 3 rows; buckets (1 s) keep 60 s.
  auto h = MakeHistory(3s, 1s, 60s);
  for (int i = 0; i < 6; ++i) {
    Snapshot s = At(std::chrono::seconds(i));
    s.set(Signal::kResidentMemoryBytes, 100 + i);
    if (i == 0) s.set(Signal::kSwapBytes, 4096);  // only in a row already overwritten
    if (i == 4) s.set(Signal::kOpenFds, 12);      // only in one retained row
    h->Append(s);
  }
  StringSink full, down;
  auto r = WriteHistoryCsv(*h, full, down);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(full.text(),
            "time,unix_seconds,gap_before,rss_bytes,open_fds\n"
            "2024-05-01T12:00:03.000Z,1714564803,0,103,\n"
            "2024-05-01T12:00:04.000Z,1714564804,0,104,12\n"
            "2024-05-01T12:00:05.000Z,1714564805,0,105,\n");
  const auto lines = Lines(down.text());
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(
      lines[0],
      "time,unix_seconds,gap,count,rss_bytes_min,rss_bytes_max,rss_bytes_mean,rss_bytes_last,swap_bytes_min,"
      "swap_bytes_max,swap_bytes_mean,swap_bytes_last,open_fds_min,open_fds_max,open_fds_mean,open_fds_last");
  EXPECT_EQ(lines[1], "2024-05-01T12:00:00.000Z,1714564800,0,1,100,100,100,100,4096,4096,4096,4096,,,,");
  EXPECT_EQ(lines[2], "2024-05-01T12:00:01.000Z,1714564801,0,1,101,101,101,101,,,,,,,,");
  EXPECT_EQ(r->signals, 3u);  // rss, swap, open_fds: the union of both files
}

TEST(HistoryExport, AFullSinkStopsItsFileOnlyAndIsReported) {
  auto h = Small();
  const std::string header = std::string(kSmallFull.substr(0, kSmallFull.find('\n') + 1));
  const auto full_lines = Lines(std::string(kSmallFull));
  const size_t cap = header.size() + full_lines[1].size() + 1 + full_lines[2].size() + 1 + 5;
  StringSink full(cap), down;
  auto r = WriteHistoryCsv(*h, full, down);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->rows, 2u);  // the third line did not fit
  EXPECT_EQ(full.text(), kSmallFull.substr(0, cap));
  EXPECT_EQ(down.text(), kSmallDownsampled);  // the other file is complete
  EXPECT_EQ(r->buckets, 2u);

  StringSink none(0), down2(10);
  r = WriteHistoryCsv(*h, none, down2);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->rows, 0u);
  EXPECT_EQ(r->buckets, 0u);
  EXPECT_EQ(none.text(), "");
  EXPECT_EQ(down2.text(), kSmallDownsampled.substr(0, 10));
}

// A sink that lets the sampler run on while the exporter writes: every Write appends `per_write` rows. This
// would deadlock if the history mutex were held while writing.
class AppendingSink final : public TextSink {
 public:
  AppendingSink(History& h, int next, int per_write) : h_(h), next_(next), per_write_(per_write) {}
  bool Write(std::string_view text) override {
    for (int i = 0; i < per_write_; ++i, ++next_) {
      Snapshot s = At(std::chrono::seconds(next_));
      s.set(Signal::kResidentMemoryBytes, next_);
      h_.Append(s);
    }
    return inner_.Write(text);
  }
  size_t bytes() const override { return inner_.bytes(); }
  const std::string& text() const { return inner_.text(); }

 private:
  History& h_;
  int next_;
  int per_write_;
  StringSink inner_;
};

TEST(HistoryExport, RowsOverwrittenWhileWritingAreSkippedCountedAndMarkedAsAGap) {
  auto h = MakeHistory(10s, 60s, 3600s);  // 10 rows
  for (int i = 0; i < 10; ++i) {
    Snapshot s = At(std::chrono::seconds(i));
    s.set(Signal::kResidentMemoryBytes, i);
    h->Append(s);
  }
  // Two rows appended per line written, chunks of two: the writer falls behind the ring.
  AppendingSink full(*h, 10, 2);
  StringSink down;
  auto r = WriteHistoryCsv(*h, full, down, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(
      full.text(),
      "time,unix_seconds,gap_before,rss_bytes\n"
      "2024-05-01T12:00:02.000Z,1714564802,0,2\n"  // 0 and 1 were overwritten while the header was written
      "2024-05-01T12:00:03.000Z,1714564803,0,3\n"
      "2024-05-01T12:00:06.000Z,1714564806,1,6\n"    // 4 and 5 lost mid-file: a gap
      "2024-05-01T12:00:07.000Z,1714564807,0,7\n");  // 8 and 9 lost; rows 10.. are after the window
  EXPECT_EQ(r->rows, 4u);
  EXPECT_EQ(r->overwritten, 6u);
  EXPECT_FALSE(r->truncated);
}

TEST(HistoryExport, EveryLineHasAsManyFieldsAsTheHeader) {
  // Many signals coming and going, gaps, and both rings wrapped around.
  auto h = MakeHistory(60s, 5s, 120s);
  int64_t t_ms = 0;
  for (int i = 0; i < 400; ++i) {
    t_ms += (i % 37 == 0) ? 4000 : 1000;
    Snapshot s = At(std::chrono::milliseconds(t_ms));
    for (size_t k = 0; k < kSignalCount; ++k) {
      if ((i + k) % (k % 5 + 2) == 0) s.set(static_cast<Signal>(k), static_cast<double>(i) * 1.5 - k);
    }
    h->Append(s);
  }
  StringSink full, down;
  auto r = WriteHistoryCsv(*h, full, down, 7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows, h->full_resolution_capacity());
  EXPECT_EQ(r->buckets, h->downsampled_capacity());
  for (const std::string* text : {&full.text(), &down.text()}) {
    ASSERT_FALSE(text->empty());
    EXPECT_EQ(text->back(), '\n');
    const auto lines = Lines(*text);
    ASSERT_GT(lines.size(), 1u);
    const size_t fields = Fields(lines[0]);
    for (size_t i = 1; i < lines.size(); ++i)
      ASSERT_EQ(Fields(lines[i]), fields) << "line " << i << ": " << lines[i];
  }
  EXPECT_EQ(Fields(Lines(full.text())[0]), 3 + r->signals);
  EXPECT_EQ(Fields(Lines(down.text())[0]), 4 + 4 * r->signals);
}

}  // namespace
}  // namespace leakwatch::internal
