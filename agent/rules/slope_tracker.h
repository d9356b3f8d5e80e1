#pragma once
// SlopeTracker: the robust slope of one signal over a sliding window, cheap enough to update every tick.
//
// The window is summarised in kBuckets buckets of width max(window / kBuckets, period): each completed bucket
// becomes one point (mean time, median value), and the slope is the Theil–Sen fit of the points whose time
// lies within the window. Medians inside a bucket absorb single-sample outliers; Theil–Sen across buckets
// absorbs a few outlying buckets (a burst that recovers). The fit is recomputed only when a bucket completes,
// so the slope lags the data by up to one bucket (window / 16: 7.5 s for a 2 min window).
//
// Restarts: Restart() (called on a gap longer than 1.5 periods) forgets everything; the slope is absent again
// until the data since the restart covers `min_coverage` of the window and at least 3 buckets completed.
//
// Thread-safety: none; owned by the rule engine on the sampler thread. Cost: O(1) per sample, plus ~1 µs when
// a bucket completes; memory ~ (window / period / 16) doubles for the bucket in progress.

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "agent/rules/robust_slope.h"

namespace leakwatch::internal {

class SlopeTracker {
 public:
  static constexpr size_t kBuckets = 16;
  using TimePoint = std::chrono::steady_clock::time_point;

  // REQUIRES: window > 0, period > 0, 0 < min_coverage <= 1.
  SlopeTracker(std::chrono::milliseconds window, double min_coverage, std::chrono::nanoseconds period);

  // Adds one sample; samples must come in time order.
  void Add(TimePoint t, double value);
  // Forgets all samples; the next Add() starts a new window.
  void Restart();

  // Units per second; absent while the window is not covered enough.
  std::optional<double> slope() const {
    return available() ? std::optional<double>(fit_.slope) : std::nullopt;
  }
  // The fitted value at the start of the window (at the oldest point still in it); absent with the slope.
  std::optional<double> level_at_window_start() const;
  // The fitted value at the latest sample's time: the level with single-sample outliers removed (the fit
  // lags a real step by up to a bucket). Absent with the slope.
  std::optional<double> level_now() const;
  // Fraction of the window covered by samples since the last restart, as of the last sample, in [0, 1].
  double coverage() const;
  // Time covered so far and the time needed for the slope to be available.
  std::chrono::milliseconds covered() const;
  std::chrono::milliseconds needed() const;

  std::chrono::milliseconds window() const { return window_; }
  double min_coverage() const { return min_coverage_; }
  std::chrono::nanoseconds bucket_width() const { return bucket_width_; }

 private:
  bool available() const { return has_fit_ && coverage() >= min_coverage_; }
  double Seconds(TimePoint t) const { return std::chrono::duration<double>(t - origin_).count(); }
  void CloseBucket();
  void Refit();

  const std::chrono::milliseconds window_;
  const double min_coverage_;
  const std::chrono::nanoseconds bucket_width_;

  bool started_ = false;
  TimePoint origin_{};  // the first sample since the last restart
  TimePoint last_{};

  // The bucket in progress.
  TimePoint bucket_start_{};
  std::vector<double> bucket_values_;
  double bucket_time_sum_ = 0;

  // Completed buckets, oldest first, in a ring.
  std::array<TimedValue, kBuckets + 2> points_{};
  size_t first_ = 0;
  size_t count_ = 0;

  bool has_fit_ = false;
  LineFit fit_;
  std::vector<double> scratch_;
};

}  // namespace leakwatch::internal
