#include "agent/rules/slope_tracker.h"

#include <algorithm>

namespace leakwatch::internal {
namespace {

constexpr size_t kMinPoints = 3;

}  // namespace

SlopeTracker::SlopeTracker(std::chrono::milliseconds window, double min_coverage,
                           std::chrono::nanoseconds period)
    : window_(window),
      min_coverage_(min_coverage),
      bucket_width_(std::max<std::chrono::nanoseconds>(window / static_cast<int>(kBuckets), period)) {
  const auto per_bucket =
      static_cast<size_t>(bucket_width_ / std::max(period, std::chrono::nanoseconds(1))) + 2;
  bucket_values_.reserve(per_bucket);
  scratch_.reserve(kBuckets * kBuckets);
}

void SlopeTracker::Restart() {
  started_ = false;
  bucket_values_.clear();
  bucket_time_sum_ = 0;
  first_ = 0;
  count_ = 0;
  has_fit_ = false;
}

void SlopeTracker::Add(TimePoint t, double value) {
  if (!started_) {
    started_ = true;
    origin_ = t;
    bucket_start_ = t;
  } else if (t - bucket_start_ >= bucket_width_) {
    CloseBucket();
    bucket_start_ = t;
  }
  last_ = t;
  if (bucket_values_.size() < bucket_values_.capacity()) {
    bucket_values_.push_back(value);
    bucket_time_sum_ += Seconds(t);
  }
}

void SlopeTracker::CloseBucket() {
  if (bucket_values_.empty()) return;
  const double mean_time = bucket_time_sum_ / static_cast<double>(bucket_values_.size());
  const TimedValue point{mean_time, MedianInPlace(bucket_values_)};
  bucket_values_.clear();
  bucket_time_sum_ = 0;
  if (count_ == points_.size()) {
    first_ = (first_ + 1) % points_.size();
    --count_;
  }
  points_[(first_ + count_) % points_.size()] = point;
  ++count_;
  // Points older than the window (measured from the newest sample) leave it.
  const double oldest_allowed = Seconds(last_) - std::chrono::duration<double>(window_).count();
  while (count_ > 0 && points_[first_].t < oldest_allowed) {
    first_ = (first_ + 1) % points_.size();
    --count_;
  }
  Refit();
}

void SlopeTracker::Refit() {
  has_fit_ = false;
  if (count_ < kMinPoints) return;
  std::array<TimedValue, kBuckets + 2> ordered;
  for (size_t i = 0; i < count_; ++i) ordered[i] = points_[(first_ + i) % points_.size()];
  const auto fit = TheilSen(std::span<const TimedValue>(ordered.data(), count_), scratch_);
  if (!fit) return;
  fit_ = *fit;
  has_fit_ = true;
}

std::optional<double> SlopeTracker::level_at_window_start() const {
  if (!available() || count_ == 0) return std::nullopt;
  return fit_.At(points_[first_].t);
}

std::optional<double> SlopeTracker::level_now() const {
  if (!available()) return std::nullopt;
  return fit_.At(Seconds(last_));
}

double SlopeTracker::coverage() const {
  if (!started_) return 0;
  const double covered_s = std::chrono::duration<double>(last_ - origin_).count();
  return std::clamp(covered_s / std::chrono::duration<double>(window_).count(), 0.0, 1.0);
}

std::chrono::milliseconds SlopeTracker::covered() const {
  if (!started_) return std::chrono::milliseconds(0);
  return std::min(window_, std::chrono::duration_cast<std::chrono::milliseconds>(last_ - origin_));
}

std::chrono::milliseconds SlopeTracker::needed() const {
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(window_.count()) * min_coverage_));
}

}  // namespace leakwatch::internal
