#include "agent/rules/sample_ring.h"

#include "agent/rules/robust_slope.h"

namespace leakwatch::internal {

SampleRing::SampleRing(size_t capacity) : samples_(std::max<size_t>(capacity, 2)) {
  scratch_.reserve(samples_.size());
}

void SampleRing::Add(TimePoint t, double value) {
  if (count_ == samples_.size()) {
    first_ = (first_ + 1) % samples_.size();
    --count_;
  }
  samples_[(first_ + count_) % samples_.size()] = Sample{t, value};
  ++count_;
}

std::optional<double> SampleRing::Baseline(BaselineKind kind, std::chrono::nanoseconds window,
                                           bool include_newest) {
  if (count_ == 0) return std::nullopt;
  const size_t newest = (first_ + count_ - 1) % samples_.size();
  const TimePoint oldest_allowed = samples_[newest].t - window;
  scratch_.clear();
  double sum = 0;
  const size_t n = include_newest ? count_ : count_ - 1;
  for (size_t i = 0; i < n; ++i) {
    const Sample& s = samples_[(first_ + i) % samples_.size()];
    if (s.t <= oldest_allowed) continue;
    scratch_.push_back(s.v);
    sum += s.v;
  }
  if (scratch_.empty()) return std::nullopt;
  if (kind == BaselineKind::kMean) return sum / static_cast<double>(scratch_.size());
  return MedianInPlace(scratch_);
}

}  // namespace leakwatch::internal
