#include "leakwatch/history.h"

#include <gtest/gtest.h>

namespace leakwatch {
namespace {

using namespace std::chrono_literals;

// Builds a snapshot at steady time `t` with RSS = value (and threads absent when `with_threads` is false).
Snapshot At(std::chrono::steady_clock::time_point t, double rss, bool with_threads = true) {
  Snapshot s;
  s.steady_time = t;
  s.wall_time = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      t.time_since_epoch()));
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
  auto h = History::Create(HistoryOptions{.period = 1000ms, .full_resolution_window = 60s, .bucket_width = 1s,
                                          .downsampled_window = 5s})
               .value();
  const auto t0 = std::chrono::steady_clock::time_point(1000h);
  for (int i = 0; i < 20; ++i) h->Append(At(t0 + std::chrono::seconds(i), i));
  const auto b = h->Downsampled(Signal::kResidentMemoryBytes);
  ASSERT_EQ(b.size(), h->downsampled_capacity());
  EXPECT_EQ(b.back().last, 19);
  EXPECT_EQ(b.front().last, 20 - static_cast<double>(h->downsampled_capacity()));
}

}  // namespace
}  // namespace leakwatch
