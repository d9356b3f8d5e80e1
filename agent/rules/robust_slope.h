#pragma once
// Outlier-resistant line fitting for the growth and time-to-limit rules.
//
// Theil–Sen: the slope is the median of the slopes between every pair of points with distinct times; the
// intercept is the median of v - slope * t. Up to ~29% of the points can be arbitrary outliers without moving
// the estimate far, unlike least squares where one spike tilts the line.
//
// Thread-safety: pure functions. Cost: O(n^2) for n points (the rules call it on at most 16 bucket medians:
// 120 pair slopes, ~1 µs), no allocation beyond growing the caller's scratch vector once.

#include <optional>
#include <span>
#include <vector>

namespace leakwatch::internal {

struct TimedValue {
  double t = 0;  // seconds, relative to any fixed origin
  double v = 0;
};

struct LineFit {
  double slope = 0;      // units per second
  double intercept = 0;  // the fitted value at t = 0
  double At(double t) const { return intercept + slope * t; }
};

// The median of `values`, reordering them. Even counts take the mean of the two middle values.
// REQUIRES: !values.empty().
double MedianInPlace(std::span<double> values);

// Theil–Sen fit; nullopt when fewer than two points have distinct times. `scratch` is reused between calls.
std::optional<LineFit> TheilSen(std::span<const TimedValue> points, std::vector<double>& scratch);

}  // namespace leakwatch::internal
