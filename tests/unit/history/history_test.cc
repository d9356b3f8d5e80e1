#include "leakwatch/history.h"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <thread>
#include <vector>

namespace leakwatch {
namespace {

using namespace std::chrono_literals;

// Builds a snapshot at steady time `t` with RSS = value (and threads absent when `with_threads` is false).
Snapshot At(std::chrono::steady_clock::time_point t, double rss, bool with_threads = true) {
  Snapshot s;
  s.steady_time = t;
  s.wall_time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(t.time_since_epoch()));
  s.set(Signal::kResidentMemoryBytes, rss);
  if (with_threads) s.set(Signal::kThreads, 7);
  return s;
}

TEST(History, DefaultsFitTheBudgetAndCoverFifteenMinutesAndSixHours) {
  auto h = History::Create(HistoryOptions{});
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_LE((*h)->memory_bytes(), 2u * 1024 * 1024);
  EXPECT_GE((*h)->full_resolution_coverage(), 15min);
  EXPECT_GE((*h)->downsampled_capacity() * 60, 6u * 3600);
}

TEST(History, ShortPeriodShrinksFullResolutionToTheBudgetInsteadOfExceedingIt) {
  auto h = History::Create(HistoryOptions{.period = 100ms});
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_LE((*h)->memory_bytes(), 2u * 1024 * 1024);
  EXPECT_LT((*h)->full_resolution_coverage(), 15min);
  EXPECT_GE((*h)->full_resolution_coverage(), 1min);
}

TEST(History, TooSmallBudgetIsAnErrorNamingTheNumbers) {
  auto h = History::Create(HistoryOptions{.budget_bytes = 1000});
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("1000 bytes"), std::string::npos) << h.error().message;
}

TEST(History, RecentReturnsTheWindowOldestFirstAndWrapsAround) {
  auto h = History::Create(HistoryOptions{.period = 1000ms, .full_resolution_window = 10s}).value();
  const auto t0 = std::chrono::steady_clock::time_point(1000h);
  for (int i = 0; i < 25; ++i) h->Append(At(t0 + std::chrono::seconds(i), i));
  EXPECT_EQ(h->full_resolution_capacity(), 10u);
  const auto all = h->Recent(Signal::kResidentMemoryBytes, 1h);
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all.front().value, 15);
  EXPECT_EQ(all.back().value, 24);
  const auto last3 = h->Recent(Signal::kResidentMemoryBytes, 2s);
  ASSERT_EQ(last3.size(), 3u);
  EXPECT_EQ(last3.front().value, 22);
  EXPECT_EQ(h->rows_appended(), 25u);
}

TEST(History, MissedTicksAndAbsentValuesAreMarkedAsGaps) {
  auto h = History::Create(HistoryOptions{.period = 1000ms}).value();
  const auto t0 = std::chrono::steady_clock::time_point(1000h);
  h->Append(At(t0, 1));
  h->Append(At(t0 + 1s, 2));
  h->Append(At(t0 + 1500ms + 1s, 3));  // exactly 1.5 periods later: not a gap
  h->Append(At(t0 + 5s, 4));           // 2.5 periods later: a gap
  h->Append(At(t0 + 6s, 5, /*with_threads=*/false));
  h->Append(At(t0 + 7s, 6));
  const auto rss = h->Recent(Signal::kResidentMemoryBytes, 1h);
  ASSERT_EQ(rss.size(), 6u);
  EXPECT_FALSE(rss[1].gap_before);
  EXPECT_FALSE(rss[2].gap_before);
  EXPECT_TRUE(rss[3].gap_before);
  EXPECT_FALSE(rss[4].gap_before);
  const auto threads = h->Recent(Signal::kThreads, 1h);
  ASSERT_EQ(threads.size(), 5u);           // absent at t0+6s
  EXPECT_TRUE(threads.back().gap_before);  // the row without the signal is a gap for it
  EXPECT_TRUE(h->Recent(Signal::kCgroupMemoryLimitBytes, 1h).empty());
}

TEST(History, DownsampledBucketsAggregateMinMaxMeanLast) {
  auto h = History::Create(HistoryOptions{.period = 1000ms, .bucket_width = 10s, .downsampled_window = 100s})
               .value();
  const auto t0 = std::chrono::steady_clock::time_point(1000h);
  for (int i = 0; i < 25; ++i) h->Append(At(t0 + std::chrono::seconds(i), 100 + (i % 10)));
  const auto b = h->Downsampled(Signal::kResidentMemoryBytes);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].count, 10u);
  EXPECT_EQ(b[0].min, 100);
  EXPECT_EQ(b[0].max, 109);
  EXPECT_DOUBLE_EQ(b[0].mean, 104.5);
  EXPECT_EQ(b[0].last, 109);
  EXPECT_EQ(b[2].count, 5u);  // the bucket in progress
  EXPECT_EQ(b[2].last, 104);
}

TEST(History, DownsampledRingKeepsOnlyItsCapacity) {
  auto h =
      History::Create(
          HistoryOptions{
              .period = 1000ms, .full_resolution_window = 60s, .bucket_width = 1s, .downsampled_window = 5s})
          .value();
  const auto t0 = std::chrono::steady_clock::time_point(1000h);
  for (int i = 0; i < 20; ++i) h->Append(At(t0 + std::chrono::seconds(i), i));
  const auto b = h->Downsampled(Signal::kResidentMemoryBytes);
  ASSERT_EQ(b.size(), h->downsampled_capacity());
  EXPECT_EQ(b.back().last, 19);
  EXPECT_EQ(b.front().last, 20 - static_cast<double>(h->downsampled_capacity()));
}

// --- chunked copies (the exporters' API) ---

std::unique_ptr<History> TenRows() {
  return History::Create(HistoryOptions{.period = 1000ms,
                                        .full_resolution_window = 10s,
                                        .bucket_width = 5s,
                                        .downsampled_window = 20s})
      .value();
}

const auto kT0 = std::chrono::steady_clock::time_point(1000h);

TEST(HistoryCopy, EmptyHistoryHasAnEmptySpanAndCopiesNothing) {
  auto h = TenRows();
  const auto span = h->full_resolution_rows();
  EXPECT_EQ(span.begin, 0u);
  EXPECT_EQ(span.end, 0u);
  std::vector<History::Row> rows(3);
  const auto info = h->CopyFullResolutionRows({0, 100}, 10, &rows);
  EXPECT_EQ(info.copied, 0u);
  EXPECT_EQ(info.skipped, 0u);
  EXPECT_EQ(info.next, 0u);  // nothing appended yet: stops at the current end
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(h->downsampled_buckets().size(), 0u);
}

TEST(HistoryCopy, RowsCarryStableNumbersTimesAndEverySignal) {
  auto h = TenRows();
  for (int i = 0; i < 3; ++i) h->Append(At(kT0 + std::chrono::seconds(i), 100 + i, /*with_threads=*/i != 1));
  std::vector<History::Row> rows;
  const auto info = h->CopyFullResolutionRows(h->full_resolution_rows(), 10, &rows);
  EXPECT_EQ(info.copied, 3u);
  EXPECT_EQ(info.next, 3u);
  ASSERT_EQ(rows.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[i].number, i);
    EXPECT_EQ(rows[i].steady_time, kT0 + std::chrono::seconds(i));
    EXPECT_EQ(rows[i].get(Signal::kResidentMemoryBytes), 100.0 + static_cast<double>(i));
  }
  EXPECT_EQ(rows[0].get(Signal::kThreads), 7.0);
  EXPECT_FALSE(rows[1].get(Signal::kThreads).has_value());  // absent, not 0
  EXPECT_FALSE(rows[1].present[static_cast<size_t>(Signal::kThreads)]);
  EXPECT_FALSE(rows[2].get(Signal::kCgroupMemoryLimitBytes).has_value());
}

TEST(HistoryCopy, ChunksContinueWhereTheyLeftOffWhileRowsAreAppendedAndStopAtTheCapturedEnd) {
  auto h = TenRows();
  int next_value = 0;
  const auto append = [&] {
    h->Append(At(kT0 + std::chrono::seconds(next_value), next_value));
    ++next_value;
  };
  for (int i = 0; i < 6; ++i) append();
  const History::Span span = h->full_resolution_rows();  // the extent of this export: rows 0..5
  ASSERT_EQ(span.begin, 0u);
  ASSERT_EQ(span.end, 6u);
  std::vector<History::Row> rows;
  std::vector<uint64_t> seen;
  for (uint64_t from = span.begin; from < span.end;) {
    const auto info = h->CopyFullResolutionRows({from, span.end}, 2, &rows);
    EXPECT_EQ(info.skipped, 0u);
    EXPECT_LE(info.copied, 2u);
    for (const auto& r : rows) {
      seen.push_back(r.number);
      EXPECT_EQ(r.get(Signal::kResidentMemoryBytes),
                static_cast<double>(r.number));  // the row of that number
    }
    from = info.next;
    append();  // the sampler keeps going between chunks (capacity 10: nothing of 0..5 is overwritten yet)
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5}));  // rows appended meanwhile are not copied
  EXPECT_EQ(h->full_resolution_rows().end, 9u);
}

TEST(HistoryCopy, OverwrittenRowsAreSkippedAndCounted) {
  auto h = TenRows();
  for (int i = 0; i < 25; ++i) h->Append(At(kT0 + std::chrono::seconds(i), i));
  const auto span = h->full_resolution_rows();
  EXPECT_EQ(span.begin, 15u);  // capacity 10
  EXPECT_EQ(span.end, 25u);

  std::vector<History::Row> rows;
  auto info = h->CopyFullResolutionRows({3, 25}, 4, &rows);  // 3..14 are gone
  EXPECT_EQ(info.skipped, 12u);
  EXPECT_EQ(info.copied, 4u);
  EXPECT_EQ(info.next, 19u);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows.front().number, 15u);
  EXPECT_EQ(rows.front().get(Signal::kResidentMemoryBytes), 15.0);

  // The writer falls behind: 12 more rows overwrite 19..26 before it continues.
  for (int i = 25; i < 37; ++i) h->Append(At(kT0 + std::chrono::seconds(i), i));
  info = h->CopyFullResolutionRows({info.next, 30}, 100, &rows);
  EXPECT_EQ(info.skipped, 8u);  // 19..26
  EXPECT_EQ(info.copied, 3u);   // 27..29
  EXPECT_EQ(info.next, 30u);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows.front().number, 27u);

  // A wanted span entirely overwritten: nothing copied, everything skipped, next at its end.
  info = h->CopyFullResolutionRows({0, 10}, 100, &rows);
  EXPECT_EQ(info.skipped, 10u);
  EXPECT_EQ(info.copied, 0u);
  EXPECT_EQ(info.next, 10u);
  EXPECT_TRUE(rows.empty());
}

TEST(HistoryCopy, ZeroMaxOrEmptySpanCopiesNothing) {
  auto h = TenRows();
  for (int i = 0; i < 5; ++i) h->Append(At(kT0 + std::chrono::seconds(i), i));
  std::vector<History::Row> rows;
  auto info = h->CopyFullResolutionRows({1, 5}, 0, &rows);
  EXPECT_EQ(info.copied, 0u);
  EXPECT_EQ(info.next, 1u);
  info = h->CopyFullResolutionRows({4, 2}, 10, &rows);
  EXPECT_EQ(info.copied, 0u);
  EXPECT_EQ(info.next, 4u);
  info = h->CopyFullResolutionRows({7, 9}, 10, &rows);  // not appended yet: not waited for
  EXPECT_EQ(info.copied, 0u);
  EXPECT_EQ(info.skipped, 0u);
  EXPECT_EQ(info.next, 7u);
}

TEST(HistoryCopy, GapsAreCopiedWithTheRowsAndBuckets) {
  auto h = TenRows();  // 5 s buckets
  h->Append(At(kT0, 1));
  h->Append(At(kT0 + 1s, 2));
  h->Append(At(kT0 + 4s, 3));  // 3 periods later: a gap
  h->Append(At(kT0 + 5s, 4));
  h->Append(At(kT0 + 6s, 5, /*with_threads=*/false));
  std::vector<History::Row> rows;
  h->CopyFullResolutionRows(h->full_resolution_rows(), 10, &rows);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_FALSE(rows[1].gap_before);
  EXPECT_TRUE(rows[2].gap_before);
  EXPECT_FALSE(rows[3].gap_before);
  EXPECT_FALSE(rows[4].gap_before);  // an absent signal is not a gap of the row

  const auto span = h->downsampled_buckets();
  EXPECT_EQ(span.begin, 0u);
  EXPECT_EQ(span.end, 2u);
  std::vector<History::BucketRow> buckets;
  const auto info = h->CopyDownsampledBuckets(span, 10, &buckets);
  EXPECT_EQ(info.copied, 2u);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_TRUE(buckets[0].gap);
  EXPECT_FALSE(buckets[0].in_progress);
  EXPECT_EQ(buckets[0].rows, 3u);
  const auto rss = buckets[0].get(Signal::kResidentMemoryBytes);
  ASSERT_TRUE(rss.has_value());
  EXPECT_EQ(rss->min, 1);
  EXPECT_EQ(rss->max, 3);
  EXPECT_EQ(rss->mean, 2);
  EXPECT_EQ(rss->last, 3);
  EXPECT_EQ(rss->count, 3u);
  EXPECT_FALSE(buckets[1].gap);
  EXPECT_TRUE(buckets[1].in_progress);
  EXPECT_EQ(buckets[1].number, 1u);
  EXPECT_EQ(buckets[1].rows, 2u);
  EXPECT_EQ(buckets[1].get(Signal::kThreads)->count, 1u);  // present in one of the two rows
  EXPECT_FALSE(buckets[1].get(Signal::kCgroupMemoryLimitBytes).has_value());
}

TEST(HistoryCopy, OverwrittenBucketsAreSkippedAndNumbersKeepCounting) {
  auto h =
      History::Create(
          HistoryOptions{
              .period = 1000ms, .full_resolution_window = 60s, .bucket_width = 1s, .downsampled_window = 5s})
          .value();
  for (int i = 0; i < 20; ++i) h->Append(At(kT0 + std::chrono::seconds(i), i));
  const auto span = h->downsampled_buckets();
  EXPECT_EQ(span.end, 20u);
  EXPECT_EQ(span.size(), h->downsampled_capacity());
  std::vector<History::BucketRow> buckets;
  const auto info = h->CopyDownsampledBuckets({0, span.end}, 100, &buckets);
  EXPECT_EQ(info.skipped, span.begin);
  ASSERT_EQ(buckets.size(), span.size());
  EXPECT_EQ(buckets.front().number, span.begin);
  EXPECT_EQ(buckets.front().get(Signal::kResidentMemoryBytes)->last, static_cast<double>(span.begin));
  EXPECT_EQ(buckets.back().number, 19u);
}

// Real concurrency: the sampler appends as fast as it can while a reader copies in small chunks. Every row
// copied must be the one its number names, and numbers must advance without repeats.
TEST(HistoryCopy, CopiesAreConsistentWhileAnotherThreadAppends) {
  auto h = TenRows();
  constexpr int kRows = 20000;
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    for (int i = 0; i < kRows; ++i) h->Append(At(kT0 + std::chrono::seconds(i), i));
    done = true;
  });
  std::vector<History::Row> rows;
  std::vector<History::BucketRow> buckets;
  uint64_t from = 0, copied = 0, skipped = 0;
  while (!done || from < h->full_resolution_rows().end) {
    const auto info = h->CopyFullResolutionRows({from, std::numeric_limits<uint64_t>::max()}, 3, &rows);
    uint64_t expect = from + info.skipped;
    for (const auto& r : rows) {
      ASSERT_EQ(r.number, expect++);
      ASSERT_EQ(r.get(Signal::kResidentMemoryBytes), static_cast<double>(r.number));
      ASSERT_EQ(r.steady_time, kT0 + std::chrono::seconds(r.number));
    }
    ASSERT_GE(info.next, from);
    copied += info.copied;
    skipped += info.skipped;
    from = info.next;
    h->CopyDownsampledBuckets(h->downsampled_buckets(), 2, &buckets);
    for (const auto& b : buckets) {
      ASSERT_EQ(b.steady_start, kT0 + std::chrono::seconds(5 * b.number));
    }
  }
  sampler.join();
  EXPECT_EQ(from, static_cast<uint64_t>(kRows));
  EXPECT_EQ(copied + skipped, static_cast<uint64_t>(kRows));
}

}  // namespace
}  // namespace leakwatch
