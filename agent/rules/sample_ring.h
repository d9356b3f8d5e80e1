#pragma once
// SampleRing: the raw samples of one signal over the longest baseline window any spike rule needs.
//
// Fixed capacity, allocated once; the oldest sample is overwritten when full. Baseline() computes the median
// or mean of the samples in (newest - window, newest], with or without the newest sample itself.
//
// Thread-safety: none; owned by the rule engine on the sampler thread. Cost: Add() O(1); Baseline() O(n) for
// the n samples in the window (a copy plus nth_element for the median: ~0.3 µs for 60 samples).

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "leakwatch/rules.h"

namespace leakwatch::internal {

class SampleRing {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit SampleRing(size_t capacity);

  void Add(TimePoint t, double value);
  void Clear() { count_ = 0; }
  size_t size() const { return count_; }
  // The time of the oldest sample kept; REQUIRES: size() > 0.
  TimePoint oldest_time() const { return samples_[first_].t; }

  // The baseline over the samples younger than `window` before the newest one; nullopt when there is none.
  std::optional<double> Baseline(BaselineKind kind, std::chrono::nanoseconds window, bool include_newest);

 private:
  struct Sample {
    TimePoint t{};
    double v = 0;
  };
  std::vector<Sample> samples_;
  size_t first_ = 0;
  size_t count_ = 0;
  std::vector<double> scratch_;
};

}  // namespace leakwatch::internal
